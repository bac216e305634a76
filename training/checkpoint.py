"""The one place that writes and reads a model folder.

A model folder holds `config.json` (JSON) and `model.safetensors` (weights only), plus the files that training and
evaluation add (`history.json`, `metrics.json`, `latent_map.npz`, `README.md`). Every file is written to a temporary
name and renamed into place, so a kill never leaves a half-written file. Nothing here ever unpickles.

A text model's folder (model section "modality": "text") also holds `tokenizer.json`, its tokenizer.

Resumable training state (optimizer moments, RNG states) lives in `train_state.safetensors` + `train_state.json`.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, ModelConfig, TextModelConfig, is_adversarial
from .files import atomic_write as _atomic_write  # export.py, evaluate.py and the tests call it by this name
from .models import LatentModel, build_model

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "train_state.safetensors"
STATE_JSON = "train_state.json"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1_000_000


class ModelLoadError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the fix."""


class OutputError(OSError):
    """An output folder that cannot be written."""


# ---------------------------------------------------------------------------------------------------------------
# Atomic writes

def write_json(path: Path, obj: Any) -> None:
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def write_text(path: Path, text: str) -> None:
    _atomic_write(Path(path), lambda tmp: Path(tmp).write_text(text))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    _atomic_write(Path(path), lambda tmp: save_file(tensors, tmp, metadata=metadata))


def ensure_writable(folder: str | Path) -> Path:
    """Create `folder` if needed and prove a file can be written there, before any training time is spent."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        try:
            os.write(fd, b"\0" * 65536)  # a few blocks, so a full disk shows up now
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as e:
        raise OutputError(f"cannot write to output folder {folder}: {e.strerror or e}. "
                          "Choose a folder you can write to (--out DIR), or free some disk space.") from e
    return folder


# ---------------------------------------------------------------------------------------------------------------
# Model folders

def save_model(model: LatentModel, folder: str | Path, *, train: dict | None = None,
               data: dict | None = None, half: bool = False) -> Path:
    """Write config.json and model.safetensors into `folder` (created if needed).

    half=True stores floating-point tensors as float16 (half the size; loading casts back to float32).
    """
    folder = ensure_writable(folder)
    if train is None or data is None:  # keep what an earlier save recorded
        old = read_config(folder) if (folder / CONFIG_NAME).is_file() else {}
        train = old.get("train", {}) if train is None else train
        data = old.get("data", {}) if data is None else data
    config = {"format_version": FORMAT_VERSION, "model": model.config.to_dict(), "data": data, "train": train}
    if getattr(model, "modality", "image") == "text" and getattr(model, "tokenizer", None) is not None:
        model.tokenizer.save(folder)   # before the config: a folder whose config exists has its tokenizer
    state = {k: v.half() if half and v.is_floating_point() else v for k, v in model.state_dict().items()}
    # Weights first, config second: a folder whose config exists always has matching weights.
    save_tensors(folder / WEIGHTS_NAME, state, metadata={"kind": model.kind, "format": "pt"})
    write_json(folder / CONFIG_NAME, config)
    return folder


def read_config(folder: str | Path) -> dict:
    """Parse config.json of a model folder, with clear errors."""
    path = Path(folder) / CONFIG_NAME
    if not Path(folder).is_dir():
        raise ModelLoadError(f"{folder}: no such model folder. A model folder holds {CONFIG_NAME} and {WEIGHTS_NAME}.")
    if not path.is_file():
        raise ModelLoadError(f"{path} is missing. A model folder holds {CONFIG_NAME} and {WEIGHTS_NAME}; "
                             "make one with `python -m training train --out DIR`.")
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise ModelLoadError(f"{path} is {path.stat().st_size} bytes, far too large for a config; is it the right file?")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelLoadError(f"{path} is not valid JSON ({e}). Restore it from the training output.") from e
    if not isinstance(config, dict) or "model" not in config:
        raise ModelLoadError(f"{path} has no 'model' section; it was not written by this package.")
    return config


# The keys of a GAN's model section that fix its generator's shapes. ModelConfig fills a missing key with its default,
# which for these is another generator than the one trained (an autoencoder's decoder has no batch norm after its
# dense layers, for one), so a GAN's config.json must have them.
GENERATOR_KEYS = ("latent_dim", "conv_channels", "conv_hidden", "dense_batch_norm")


def _check_generator_shapes(folder: Path, model_section) -> None:
    """A GAN's config.json names its generator's shapes: ModelLoadError naming the missing keys, else nothing."""
    if not isinstance(model_section, dict) or not is_adversarial(model_section.get("kind")):
        return
    missing = [key for key in GENERATOR_KEYS if key not in model_section]
    if missing:
        raise ModelLoadError(
            f"{folder / CONFIG_NAME}: the model section of this {model_section['kind']} lacks {', '.join(missing)}, "
            "the generator's shapes, so its weights cannot be rebuilt. Copy config.json from the training run that "
            "wrote model.safetensors (training.save_model writes every key), or add the missing keys with the "
            "values it was trained with.")


def load_model(folder: str | Path, *, device: str | torch.device = "cpu") -> LatentModel:
    """Load a model folder (config.json + model.safetensors) and return the model in eval mode.

    Raises ModelLoadError with a message naming the file and the fix for a missing, corrupt, pickled or
    mismatched checkpoint. Only safetensors weights are read: nothing is ever unpickled.
    """
    folder = Path(folder)
    config = read_config(folder)
    _check_generator_shapes(folder, config["model"])
    text = isinstance(config["model"], dict) and config["model"].get("modality") == "text"
    try:
        model_config = (TextModelConfig if text else ModelConfig).from_dict(config["model"])
    except (ConfigError, TypeError) as e:
        raise ModelLoadError(f"{folder / CONFIG_NAME}: {e}") from e
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        others = sorted(p.name for p in folder.glob("*.pt*")) + sorted(p.name for p in folder.glob("*.bin"))
        hint = f" Found {', '.join(others)}, but pickled checkpoints are never loaded (they can run code)." if others else ""
        raise ModelLoadError(f"{weights} is missing.{hint} Save weights with training.save_model, which writes safetensors.")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise ModelLoadError(f"{weights} is not a readable safetensors file ({e}). It may be truncated or a pickled "
                             "PyTorch file renamed; re-save it with training.save_model.") from e
    if text:
        from .text_models import build_text_model
        from .tokenizer import TextTokenizer
        model = build_text_model(model_config)
        try:
            model.tokenizer = TextTokenizer.load(folder)
        except ValueError as e:
            raise ModelLoadError(str(e)) from e
        if model.tokenizer.vocab_size != model_config.vocab_size:
            raise ModelLoadError(f"{folder}/tokenizer.json has {model.tokenizer.vocab_size} tokens but config.json "
                                 f"says vocab_size={model_config.vocab_size}; copy both from the same training run.")
    else:
        model = build_model(model_config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k}: file {tuple(state[k].shape)} vs config {tuple(v.shape)}"
             for k, v in expected.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        details = "; ".join(filter(None, [
            f"missing tensors {missing[:4]}" if missing else "",
            f"unexpected tensors {unexpected[:4]}" if unexpected else "",
            f"shape mismatch {wrong[:3]}" if wrong else ""]))
        raise ModelLoadError(f"{weights} does not match {folder / CONFIG_NAME} ({details}). The config and weights "
                             "come from different models; copy both files from the same training run.")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model.to(device).eval()


def read_json(path: str | Path, default: Any = None) -> Any:
    path = Path(path)
    if not path.is_file():
        return default
    return json.loads(path.read_text())
