"""Model folders on the Hugging Face Hub: save_pretrained / push_to_hub on every model, and Hub repo ids wherever a
model folder is taken (training.load_model, the explorer's --model-dir).

    model.save_pretrained(dir)          the folder training.load_model reads (checkpoint.save_folder)
    model.push_to_hub("owner/name")     that folder, staged in a temporary directory, uploaded in one commit
    training.load_model("owner/name")   snapshot_download of HUB_FILES only, into the Hugging Face cache (once)

Every model kind (training.models.LatentModel, training.text_models.TextModel) has HubModelMixin among its bases,
huggingface_hub's ModelHubMixin with this package's folder format. The mixin writes a config.json of its own from
the __init__ arguments unless the model's `_save_pretrained` wrote one; ours writes checkpoint.py's config.json, so
the mixin's is never written, and `from_pretrained` is training.load_model (so it checks the folder and never
unpickles). A repo is downloaded with allow_patterns=HUB_FILES, the exact file names a folder holds: a
`pytorch_model.bin`, `.pt` or `.pkl` in a repo is never even downloaded, and in a local folder never read.

A Hub repo id is a str "owner/name" that is not an existing folder. Offline (HF_HUB_OFFLINE=1, or a Hub that
cannot be reached), a repo downloaded before loads from the cache, and `resolve` returns a one-line note saying
so; one that was never downloaded raises HubError naming the id and the fix.

This module imports no torch (the explorer resolves its --model-dir entries at start-up); huggingface_hub's own
modules are imported where they are used, except the mixin, which the model classes need at definition time.
"""
from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import NamedTuple

from huggingface_hub import ModelHubMixin

# The files of a model folder, as training/checkpoint.py, evaluate.py, model_card.py, tokenizer.py, export.py and
# explorer/backends/browser_text_decoder.py name them (spelled out here: those modules import torch). Only these are
# uploaded from a folder's companions and downloaded from a repo; train_state.* (the resume state) never travels.
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
TOKENIZER_NAME = "tokenizer.json"
COMPANION_FILES = ("README.md", "metrics.json", "history.json", "latent_map.npz", "decoder.onnx",
                   "text_decoder.safetensors")
HUB_FILES = (CONFIG_NAME, WEIGHTS_NAME, TOKENIZER_NAME) + COMPANION_FILES
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")

LIBRARY_NAME = "latent-space-explorer"
HUB_TAGS = ["latent-space-explorer", "pytorch"]

# "owner/name": one slash, letters, digits, '-', '_' and '.' (the Hub's own rule, huggingface_hub's
# validate_repo_id, also applies). A bare "name" is taken for a folder: a mistyped folder should not go to the Hub.
_OWNER_NAME = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
REPO_ID_HELP = ("a Hugging Face Hub repo id is owner/name (letters, digits, '-', '_', '.'), e.g. "
                "someone/mnist-vae")


class HubError(ValueError):
    """A Hub repo id that cannot be loaded (offline and not cached, no such repo, not a model folder of this
    package) or a string that is neither a folder nor a repo id; the message names the id and the fix.
    training.load_model raises it as a ModelLoadError."""


class Resolved(NamedTuple):
    folder: Path               # a local model folder: the one given, or the repo's snapshot in the Hugging Face cache
    repo_id: str | None        # the Hub repo id it came from; None for a local folder
    note: str | None           # one line to show when the copy came from the cache because the Hub was not reachable


def is_repo_id(source) -> bool:
    """True for a str of the form owner/name that huggingface_hub accepts as a repo id and that is not a folder
    here (an existing folder always wins)."""
    if not isinstance(source, str) or not _OWNER_NAME.fullmatch(source) or Path(source).expanduser().exists():
        return False
    from huggingface_hub.utils import HFValidationError, validate_repo_id
    try:
        validate_repo_id(source)
    except HFValidationError:
        return False
    return True


def resolve(source, *, revision: str | None = None, cache_dir: str | Path | None = None,
            token: str | bool | None = None, local_files_only: bool = False,
            force_download: bool = False) -> Resolved:
    """Where the model folder `source` is on disk: a local folder as it is; a Hub repo id downloaded (our files
    only, HUB_FILES) into the Hugging Face cache, or found there when offline.

    A Path, or a str that is neither an existing folder nor a repo id, comes back as a folder for the caller to
    check, except a str that cannot be a repo id and names no folder: HubError says it is neither.
    """
    if isinstance(source, str) and not Path(source).expanduser().exists() and not is_repo_id(source):
        raise HubError(f"{source!r} is neither a model folder (no such folder) nor a Hub repo id: {REPO_ID_HELP}. "
                       "Pass the path of a folder holding config.json and model.safetensors, or a repo id.")
    if not is_repo_id(source):
        return Resolved(Path(source).expanduser(), None, None)
    return _download(source, revision=revision, cache_dir=cache_dir, token=token,
                     local_files_only=local_files_only, force_download=force_download)


def _download(repo_id: str, *, revision, cache_dir, token, local_files_only, force_download) -> Resolved:
    from huggingface_hub import HfApi, constants, snapshot_download
    from huggingface_hub.errors import (HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    unreachable = None   # why the Hub is not asked: then the cached copy, if any, is used
    if local_files_only:
        unreachable = "local_files_only=True was passed"
    elif constants.HF_HUB_OFFLINE:
        unreachable = "HF_HUB_OFFLINE is set"
    else:
        # One look first: whether the Hub answers (snapshot_download falls back on the cache without saying so),
        # and whether the repo holds a model of ours, before anything is downloaded.
        try:
            info = HfApi(token=token).repo_info(repo_id, revision=revision, token=token)
        except (RepositoryNotFoundError, RevisionNotFoundError) as e:
            what = f"revision {revision!r} of {repo_id}" if isinstance(e, RevisionNotFoundError) else repo_id
            raise HubError(f"the Hugging Face Hub has no model repo {what} (or it is private or gated: log in with "
                           "`hf auth login` or pass token=). Check the id; a local folder of that name "
                           "does not exist here either.") from None
        except HfHubHTTPError as e:
            if e.response is None or e.response.status_code < 500:
                raise HubError(f"the Hugging Face Hub refused {repo_id}: {e}") from None
            unreachable = f"the Hugging Face Hub answered {e.response.status_code}"
        except (OfflineModeIsEnabled, *_transport_errors()) as e:
            unreachable = f"the Hugging Face Hub cannot be reached ({type(e).__name__}: {e})"
        else:
            files = {s.rfilename for s in (info.siblings or [])}
            if CONFIG_NAME not in files or WEIGHTS_NAME not in files:
                pickles = sorted(f for f in files if f.endswith(PICKLE_SUFFIXES))
                hint = (f" It holds {', '.join(pickles[:4])}, but pickled checkpoints are never downloaded or "
                        "loaded (they can run code)." if pickles else "")
                raise HubError(f"{repo_id} on the Hugging Face Hub is not a model folder of this package: it lacks "
                               f"{' and '.join(n for n in (CONFIG_NAME, WEIGHTS_NAME) if n not in files)}.{hint} "
                               "Push one with model.push_to_hub(repo_id), which uploads config.json and "
                               "model.safetensors.")
    try:
        folder = snapshot_download(repo_id, revision=revision, cache_dir=cache_dir, token=token,
                                   allow_patterns=list(HUB_FILES), local_files_only=unreachable is not None,
                                   force_download=force_download and unreachable is None)
    except _transport_errors() as e:   # the Hub answered, then the download broke off: the cache keeps no half file
        raise HubError(f"downloading {repo_id} from the Hugging Face Hub broke off ({type(e).__name__}: {e}); "
                       "try again.") from None
    except LocalEntryNotFoundError:
        if unreachable is None:
            raise
        raise HubError(
            f"{repo_id} is a Hugging Face Hub repo id, but {unreachable} and it is not in the Hugging Face cache "
            f"({cache_dir or constants.HF_HUB_CACHE}). Load it once online (it is cached then), or download it "
            f"where you are online with `hf download {repo_id} --local-dir DIR` and pass the folder "
            "DIR instead, or pass a local model folder.") from None
    note = None if unreachable is None else f"{repo_id}: {unreachable}; using the copy cached at {folder}."
    return Resolved(Path(folder), repo_id, note)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The exceptions of a request that never got an answer (refused, timed out, no route), from the HTTP client
    huggingface_hub uses (httpx2 in 2.x, httpx in 1.x)."""
    errors = []
    for name in ("httpx2", "httpx"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except (ImportError, AttributeError):
            pass
    return tuple(errors)


class HubModelMixin(ModelHubMixin, library_name=LIBRARY_NAME, tags=list(HUB_TAGS)):  # a copy: the mixin appends
    """save_pretrained, push_to_hub and from_pretrained for every model kind, in this package's folder format.

    save_pretrained(dir) writes what training.load_model(dir) reads: config.json, model.safetensors (and a text
    model's tokenizer.json), and the README.md model card, with the Hub's metadata block added. A model loaded from a
    folder (or returned by training, which saved it into its --out folder) also brings that folder's companion
    files, metrics.json, history.json, latent_map.npz, decoder.onnx, text_decoder.safetensors and its own model card,
    as long as its weights are still those of the folder: they were computed from them. A model whose weights have
    changed since, or that was never saved (training.create_model), has none of those to bring: it gets a model card
    written from its config and no map, so the explorer cannot show it until `python -m training evaluate DIR --map`
    makes one. See checkpoint.save_folder.
    """

    def _save_pretrained(self, save_directory: Path) -> None:
        from .checkpoint import save_folder

        save_folder(self, save_directory, card_metadata=self._hub_mixin_info.model_card_data.to_dict())

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, force_download: bool = False,
                        token: str | bool | None = None, cache_dir: str | Path | None = None,
                        local_files_only: bool = False, revision: str | None = None, device="cpu", **model_kwargs):
        """training.load_model of a folder or a Hub repo id, checked to be of this class (VAE.from_pretrained of a
        cvae's repo is refused; training.load_model takes any kind)."""
        from .checkpoint import ModelLoadError, load_model

        if model_kwargs:
            raise TypeError(f"from_pretrained takes no model arguments ({', '.join(model_kwargs)}): the "
                            "architecture is read from the folder's config.json.")
        model = load_model(pretrained_model_name_or_path, device=device, revision=revision, cache_dir=cache_dir,
                           token=token, local_files_only=local_files_only, force_download=force_download)
        if not isinstance(model, cls):
            raise ModelLoadError(f"{pretrained_model_name_or_path} holds a {type(model).__name__} (kind "
                                 f"{model.kind!r}), not a {cls.__name__}; load it with training.load_model, which "
                                 "returns whichever kind a folder holds.")
        return model
