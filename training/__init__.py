"""Train, evaluate and load AE / VAE / CVAE models for the latent-space explorer.

Public API:
    load_model(folder)            -> model in eval mode (config.json + model.safetensors; never unpickles)
    save_model(model, folder)     -> writes config.json + model.safetensors atomically
    create_model(kind, arch, ...) -> an untrained model
    ModelLoadError                -> raised for a folder that cannot be loaded, with the fix in the message
"""
from .checkpoint import ModelLoadError, OutputError, load_model, read_config, save_model
from .config import ConfigError, ModelConfig, TrainConfig
from .data import DataError, load_dataset
from .models import AE, CVAE, MODEL_KINDS, VAE, LatentModel, Posterior, create_model

__all__ = ["load_model", "save_model", "read_config", "create_model", "ModelLoadError", "OutputError", "ConfigError",
           "DataError", "ModelConfig", "TrainConfig", "LatentModel", "AE", "VAE", "CVAE", "MODEL_KINDS",
           "Posterior", "load_dataset"]
