"""Train, evaluate and load AE / VAE / CVAE and GAN / CGAN models for the latent-space explorer.

Public API:
    load_model(folder)            -> model in eval mode (config.json + model.safetensors; never unpickles); folder may
                                     be a Hugging Face Hub repo id "owner/name", downloaded once into the HF cache
    save_model(model, folder)     -> writes config.json + model.safetensors atomically
    model.save_pretrained(dir)    -> a complete folder to share, model card and map included (training/hub.py);
    model.push_to_hub(repo_id)       the same folder uploaded to the Hub
    create_model(kind, arch, ...) -> an untrained model
    ModelLoadError                -> raised for a folder that cannot be loaded, with the fix in the message

A GAN (kinds gan, cgan: training.models.GAN, CGAN) loads the same way and has a generator and no encoder;
training.inversion.invert finds the code of an image by optimisation instead.

The names are imported on first use (PEP 562), so `import training.figures` or `import training.config` does not
import torch (seconds of start-up), while `from training import load_model` works as it always has.
"""
import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

# name -> the module of this package that defines it, in the order of __all__
_SOURCES = {
    "load_model": "checkpoint", "save_model": "checkpoint", "read_config": "checkpoint", "create_model": "models",
    "ModelLoadError": "checkpoint", "OutputError": "checkpoint", "ConfigError": "config", "DataError": "data",
    "ModelConfig": "config", "TrainConfig": "config", "LatentModel": "models", "AE": "models", "VAE": "models",
    "CVAE": "models", "MODEL_KINDS": "models", "Posterior": "models", "load_dataset": "data",
}
__all__ = list(_SOURCES)


def __getattr__(name: str):
    """Import the module that defines `name` when it is first asked for, and keep the name here."""
    if name not in _SOURCES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f".{_SOURCES[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if _TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports these
    from .checkpoint import ModelLoadError, OutputError, load_model, read_config, save_model
    from .config import ConfigError, ModelConfig, TrainConfig
    from .data import DataError, load_dataset
    from .models import AE, CVAE, MODEL_KINDS, VAE, LatentModel, Posterior, create_model
