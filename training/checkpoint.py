"""The one place that writes and reads a model folder.

A model folder holds `config.json` (JSON) and `model.safetensors` (weights only), plus the files that training and
evaluation add (`history.json`, `metrics.json`, `latent_map.npz`, `README.md`). Every file is written to a temporary
name and renamed into place, so a kill never leaves a half-written file. Nothing here ever unpickles.

A text model's folder (model section "modality": "text") also holds `tokenizer.json`, its tokenizer.

Resumable training state (optimizer moments, RNG states) lives in `train_state.safetensors` + `train_state.json`.

load_model also takes a Hugging Face Hub repo id ("owner/name"; training/hub.py downloads our file names only, so a
pickle in a repo is never even fetched), and save_folder writes a complete folder to share (model.save_pretrained).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .config import ConfigError, ModelConfig, TextModelConfig, is_adversarial
from .files import atomic_write as _atomic_write  # export.py, evaluate.py and the tests call it by this name
from .hub import COMPANION_FILES, PICKLE_SUFFIXES, TOKENIZER_NAME, HubError, resolve
from .models import LatentModel, build_model

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATE_NAME = "train_state.safetensors"
STATE_JSON = "train_state.json"
FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 1_000_000

log = logging.getLogger(__name__)


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
    config = _folder_config(model, train, data)
    if getattr(model, "modality", "image") == "text" and getattr(model, "tokenizer", None) is not None:
        model.tokenizer.save(folder)   # before the config: a folder whose config exists has its tokenizer
    state = {k: v.half() if half and v.is_floating_point() else v for k, v in model.state_dict().items()}
    # Weights first, config second: a folder whose config exists always has matching weights.
    save_tensors(folder / WEIGHTS_NAME, state, metadata={"kind": model.kind, "format": "pt"})
    write_json(folder / CONFIG_NAME, config)
    _remember_folder(model, folder, config)
    return folder


def _folder_config(model, train: dict, data: dict) -> dict:
    return {"format_version": FORMAT_VERSION, "model": model.config.to_dict(), "data": data, "train": train}


def _remember_folder(model, folder: Path, config: dict) -> None:
    """Note on the model the folder it was loaded from or last saved to, and that folder's config.json, so that
    save_folder (model.save_pretrained) can bring the folder's companion files and its data and train sections."""
    model.source_folder = Path(folder).resolve()
    model.source_config = config


def _weights_match(model, weights: Path) -> bool:
    """Whether `weights` (a safetensors file) holds exactly the model's tensors, up to the file's precision: a
    float16 file loads as float32, and those float32 values are what is compared."""
    try:
        saved = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError):
        return False
    state = model.state_dict()
    return set(saved) == set(state) and all(
        saved[k].shape == v.shape and torch.equal(saved[k].to(v.dtype), v.detach().cpu()) for k, v in state.items())


def _copy(src: Path, dst: Path) -> None:
    _atomic_write(dst, lambda tmp: shutil.copyfile(src, tmp))   # follows links: the Hub cache's files are links


def save_folder(model, folder: str | Path, *, card_metadata: dict | None = None) -> Path:
    """Write a complete model folder to share: what load_model reads, the model card, and the companion files
    (hub.COMPANION_FILES: metrics.json, history.json, latent_map.npz, decoder.onnx, text_decoder.safetensors) of
    the folder the model came from. This is model.save_pretrained(folder) (training.hub.HubModelMixin).

    A model loaded from a folder (load_model, a Hub repo included) or saved into one (save_model: training returns
    a model saved into its --out folder) remembers that folder. While its weights are still those of that folder's
    model.safetensors, the folder's files describe it: its model.safetensors and tokenizer.json are copied byte for
    byte (so decoder.onnx, which records the weights' sha256, stays current; a float16 folder stays float16), and its
    companions come along with its README.md. A model whose weights differ from its folder's, or one that was never
    saved (create_model), has only its config and weights: they are saved with the folder's data and train sections
    (empty for a new model), any companion file of the same name already in `folder` is removed (it describes other
    weights), and the model card is written from config.json. Each file is written atomically, and config.json after
    the weights and companions (an old one in `folder` is removed first), so a kill part-way leaves no folder that
    loads with files of two models. `card_metadata` (the Hub's library_name, tags...) becomes the card's YAML block.
    """
    folder = ensure_writable(folder)
    source = getattr(model, "source_folder", None)
    config = getattr(model, "source_config", None) or {}
    try:
        _write_folder(model, folder, source, config)
    finally:  # the model still remembers the folder it came from, not this one (push_to_hub's is a temporary one)
        if source is not None:
            _remember_folder(model, source, config)
        else:
            model.source_folder = model.source_config = None
    if card_metadata is not None:
        _add_card_metadata(folder / "README.md", card_metadata, model)
    return folder


def _write_folder(model, folder: Path, source: Path | None, config: dict) -> None:
    """save_folder's files: companions, weights and config.json, then the model card (it reads config.json)."""
    train, data = config.get("train", {}), config.get("data", {})
    keep = source is not None and _weights_match(model, Path(source) / WEIGHTS_NAME)
    same = source is not None and Path(source).resolve() == folder.resolve()
    brought = [n for n in COMPANION_FILES if keep and (Path(source) / n).is_file()]
    if not same:
        # Another model's folder being overwritten is not a model folder until the new config.json is written last,
        # so a kill part-way never leaves its config and weights beside this model's map (the mixin does the same).
        (folder / CONFIG_NAME).unlink(missing_ok=True)
        for name in brought:
            _copy(Path(source) / name, folder / name)
    for name in COMPANION_FILES:
        if name not in brought:
            (folder / name).unlink(missing_ok=True)
    if keep:
        if not same:
            if (Path(source) / TOKENIZER_NAME).is_file():
                _copy(Path(source) / TOKENIZER_NAME, folder / TOKENIZER_NAME)
            _copy(Path(source) / WEIGHTS_NAME, folder / WEIGHTS_NAME)
        write_json(folder / CONFIG_NAME, _folder_config(model, train, data))
    else:
        save_model(model, folder, train=train, data=data)
    if "README.md" in brought:
        return
    if not train:   # never trained here (create_model): no data, settings or figures to write a card from
        write_text(folder / "README.md", _untrained_card(folder, model))
    elif getattr(model, "modality", "image") == "text":
        from .text_evaluate import write_text_model_card
        write_text_model_card(folder)
    else:
        from .model_card import write_model_card
        write_model_card(folder)


def _untrained_card(folder: Path, model) -> str:
    """The model card of a model with no training record: what it is, and how to load it."""
    description = type(model).description
    return (f"# {folder.name}\n\nA {model.kind.upper()} with a {model.latent_dim}-dimensional latent space"
            + (f": {description}" if description else "") + ".\n\n"
            "Load it with `training.load_model(\"<this folder or repo id>\")`. Weights are `model.safetensors`; the "
            "architecture is in `config.json`. It was saved with no training record: no data, training settings, "
            "figures or latent map (train one with `python -m training train --out DIR`).\n")


def _add_card_metadata(path: Path, metadata: dict, model) -> None:
    """Give the model card the YAML block the Hub reads (library_name, tags; the model's kind and modality added to
    the tags), keeping any the card has."""
    from huggingface_hub import ModelCard, ModelCardData

    text = path.read_text()
    card = ModelCard(text) if text.startswith("---") else None  # (ModelCard warns of a card without a block)
    own, body = (card.data.to_dict(), card.text) if card is not None else ({}, text)
    tags = sorted(set(metadata.get("tags") or []) | set(own.get("tags") or [])
                  | {model.kind, getattr(model, "modality", "image")})
    block = ModelCardData(**{**metadata, **own, "tags": tags}).to_yaml()
    write_text(path, f"---\n{block}\n---\n{body}")


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


def load_model(folder: str | Path, *, device: str | torch.device = "cpu", revision: str | None = None,
               cache_dir: str | Path | None = None, token: str | bool | None = None, local_files_only: bool = False,
               force_download: bool = False) -> LatentModel:
    """Load a model folder (config.json + model.safetensors) and return the model in eval mode.

    `folder` may also be a Hugging Face Hub repo id, a str "owner/name" that is not a folder here: the repo's model
    files (hub.HUB_FILES, nothing else) are downloaded once into the Hugging Face cache (`cache_dir`, default
    HF_HUB_CACHE) at `revision` (default main) and loaded from there; offline (HF_HUB_OFFLINE=1 or no network) a
    repo downloaded before loads from the cache, with a warning saying so. `token`, `local_files_only` and
    `force_download` are huggingface_hub's.

    Raises ModelLoadError with a message naming the file and the fix for a missing, corrupt, pickled or
    mismatched checkpoint, an unknown or uncached repo, or a string that is neither. Only safetensors weights are
    read: nothing is ever unpickled, wherever the folder came from.
    """
    try:
        where = resolve(folder, revision=revision, cache_dir=cache_dir, token=token,
                        local_files_only=local_files_only, force_download=force_download)
    except HubError as e:
        raise ModelLoadError(str(e)) from None
    if where.note:
        log.warning(where.note)
    folder = where.folder
    config = read_config(folder)
    _check_generator_shapes(folder, config["model"])
    text = isinstance(config["model"], dict) and config["model"].get("modality") == "text"
    try:
        model_config = (TextModelConfig if text else ModelConfig).from_dict(config["model"])
    except (ConfigError, TypeError) as e:
        raise ModelLoadError(f"{folder / CONFIG_NAME}: {e}") from e
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        others = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
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
    _remember_folder(model, folder, config)
    return model.to(device).eval()


def read_json(path: str | Path, default: Any = None) -> Any:
    path = Path(path)
    if not path.is_file():
        return default
    return json.loads(path.read_text())
