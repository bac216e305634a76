"""Which model folders the explorer offers, and loading them on first use.

    model folder --read_info (JSON only)--> ModelInfo --load_folder--> LoadedModel(backend, modality, latent_map)

Discovery reads only each folder's small `config.json` and `metrics.json`, so start-up stays fast and imports no
torch; a ModelInfo already knows its kind's Capabilities (explorer.backends). The weights and the latent map are
loaded the first time a model is picked and then kept (six shipped models fit easily in memory).

An extra entry may be a Hugging Face Hub repo id ("owner/name", not a folder here): discovery downloads the repo's
model files once into the Hugging Face cache (training.hub.resolve) and serves that folder, named by the id. Offline,
a repo downloaded before is served from the cache with a one-line warning; one never downloaded is listed with the
reason and the fix, and every other model still works.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.figures import METRICS_NAME  # imports no torch
from training.hub import HubError, is_repo_id, resolve as resolve_source  # imports no torch either

from .backends import Backend, Capabilities, backend_spec
from .modalities import ImageModality, TextModality, modality_for
from .validation import InputError, shown
from .latent_map import MAP_NAME, LatentMap, MapLoadError, latent_ranges, load_latent_map

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parent.parent / "assets"
ENV_MODEL_DIRS = "EXPLORER_MODEL_DIRS"  # extra model folders, separated like PATH (":" on Linux)
ENV_ASSETS_DIR = "EXPLORER_ASSETS_DIR"  # replaces assets/ (tests, or a copy of the models elsewhere)
PREFERRED_DEFAULT = "mnist-vae"
WARM_QUIET_S = 0.05    # the warm-up starts its next step only after this long without a request...
WARM_MAX_WAIT_S = 1.0  # ...or after waiting this long, so that it ends even while requests keep coming


@dataclass(frozen=True)
class ModelInfo:
    """What the page says about a model before (and without) loading it."""
    name: str
    folder: Path
    kind: str | None
    dataset: str | None
    latent_dim: int | None
    arch: str | None
    class_names: tuple
    metrics: dict | None
    error: str | None = None  # set when config.json cannot be read; picking the model then shows this message
    modality: str = "image"   # config.json's model.modality: "image" (absent in image folders) or "text"

    @property
    def capabilities(self) -> Capabilities:
        """What the kind can do (explorer.backends' table); nothing for an unreadable folder or an unknown kind."""
        spec = backend_spec(self.kind, self.modality)
        return spec.capabilities if spec and not self.error else Capabilities(modality=self.modality)

    @property
    def kind_label(self) -> str:
        spec = backend_spec(self.kind, self.modality)
        return spec.label if spec else (self.kind or "unknown kind")


@dataclass(frozen=True, eq=False)
class LoadedModel:
    info: ModelInfo
    backend: Backend          # the only object here that touches torch (explorer.backends)
    modality: "ImageModality | TextModality"  # how its outputs are shown (explorer.modalities)
    latent_map: LatentMap
    slider_range: np.ndarray  # (D,) half-width of each slider
    code_mean: np.ndarray     # (D,) mean of the stored codes (used to sample from an AE, which has no prior)
    code_std: np.ndarray      # (D,)

    @property
    def capabilities(self) -> Capabilities:
        return self.backend.capabilities

    @property
    def latent_dim(self) -> int:
        return self.backend.latent_dim

    @property
    def num_classes(self) -> int:
        """Classes the decoder takes (0 for an unconditional model; its map may still have classes)."""
        return self.backend.num_classes

    @property
    def class_names(self) -> list[str]:
        return self.backend.class_names

    @property
    def browser_decoder(self) -> dict:
        """The decoder.onnx the page can run itself, {"path", "latent_dim", "num_classes", "shape", "sha256"}, or
        {"reason"} when the server must decode (explorer.backends.browser_decoder: checked, exported on first use
        when missing or stale, then cached per folder and file mtimes). Never raises."""
        if self.capabilities.modality != "image":  # decoder.onnx makes images; a sentence is decoded on the server
            return {"reason": f"a {self.capabilities.modality} model is decoded on the server (the page's own "
                              "decoder makes images only)."}
        from .backends.browser_decoder import browser_decoder
        return browser_decoder(self.info.folder, self.latent_dim, self.num_classes, self.backend.output_shape)


class ModelRegistry:
    """An ordered set of model folders, keyed by a display name (the folder's name)."""

    def __init__(self, folders: "list[str | Path | ModelInfo]", default: str | None = None):
        self._infos: dict[str, ModelInfo] = {}
        for folder in folders:
            info = folder if isinstance(folder, ModelInfo) else read_info(Path(folder))
            name, k = info.name, 2
            while name in self._infos:  # two folders with the same name in different places
                name, k = f"{info.name} ({k})", k + 1
            self._infos[name] = ModelInfo(**{**info.__dict__, "name": name})
        self._loaded: dict[str, LoadedModel] = {}
        # One lock per model: a request for a model that is not loaded yet loads it at once, instead of waiting
        # behind the background warm-up's load of another one.
        self._locks = {name: threading.Lock() for name in self._infos}
        self._last_request = 0.0  # time.monotonic() of the last get() outside the warm-up (it yields to them)
        self._warm = threading.local()
        self.warm_log: list[dict] = []  # what warm_up has done so far: {"step", "seconds", "at", "error"}
        self.warming = False            # True while warm_up runs
        names = self.names()
        if default and default in self._infos:
            self.default = default
        else:
            self.default = PREFERRED_DEFAULT if PREFERRED_DEFAULT in self._infos else (names[0] if names else None)

    @classmethod
    def discover(cls, assets_dir: str | Path | None = None, extra: list[str | Path] | None = None) -> "ModelRegistry":
        """Every folder under `assets_dir` that holds a config.json, then the `extra` folders or Hub repo ids (the
        first extra one becomes the default: someone who passes their own model wants to see it)."""
        assets_dir = Path(assets_dir or os.environ.get(ENV_ASSETS_DIR) or ASSETS_DIR)
        shipped = sorted(p.parent for p in assets_dir.glob("*/config.json")) if assets_dir.is_dir() else []
        extra = [hub_entry(p) if is_repo_id(p) else Path(p).expanduser().resolve() for p in (extra or [])]
        taken = {e.folder.resolve() if isinstance(e, ModelInfo) else e for e in extra}
        shipped = [p for p in shipped if p.resolve() not in taken]
        reg = cls(shipped + extra)
        readable_extra = [n for n in list(reg._infos)[len(shipped):] if not reg._infos[n].error]
        if readable_extra:
            reg.default = readable_extra[0]
        return reg

    def names(self) -> list[str]:
        return list(self._infos)

    def info(self, name: str) -> ModelInfo:
        if not isinstance(name, str) or name not in self._infos:  # a dict or list from a script is not hashable
            if not self._infos:
                raise InputError("no models to show: the assets folder has no model folders. Build them with "
                                 "`python -m training build-assets`, or pass your own with --model-dir DIR.")
            raise InputError(f"unknown model {shown(name)}. Available models: {', '.join(self._infos)}.")
        return self._infos[name]

    def get(self, name: str) -> LoadedModel:
        """Load (once) and return a model with its latent map. Raises InputError for an unknown name and
        training.ModelLoadError / MapLoadError (ValueErrors with the fix in the message) for a broken folder."""
        info = self.info(name)
        if not getattr(self._warm, "active", False):
            self._last_request = time.monotonic()
        loaded = self._loaded.get(name)
        if loaded is not None:
            return loaded
        with self._locks[name]:
            if name not in self._loaded:
                self._loaded[name] = load_folder(info)
            return self._loaded[name]

    def is_loaded(self, name: str) -> bool:
        return name in self._loaded

    def warm_order(self) -> list[str]:
        """The models in the order the warm-up loads them: the default (the page opens on it), then the model
        picker's order; unreadable folders are left out (picking one shows its error)."""
        names = [n for n in self.names() if not self._infos[n].error]
        return sorted(names, key=lambda n: n != self.default)  # stable: the picker's order after the default

    def warm_up(self, steps=None, quiet_s: float = WARM_QUIET_S, max_wait_s: float = WARM_MAX_WAIT_S) -> list[dict]:
        """Do the first-use work now, in the background, so that the first requests find it done.

        steps: (label, callable) pairs run in order; by default, load every model in warm_order(). The app passes
        its whole plan (explorer.ui.api.warm_plan: each model, its first decode and map, then each tool's first
        call). Before each step the warm-up waits while requests are coming in (a get() less than `quiet_s` ago,
        at most `max_wait_s` per step), so it takes the CPU only between them; a request for a model not loaded
        yet loads it itself (one lock per model). Errors are only logged: the request that meets them shows them.
        Returns one {"step", "seconds", "at" (seconds since the warm-up began, at its end), "error"} per step, in
        the order run.
        """
        if steps is None:
            steps = [(f"load {n}", functools.partial(self.get, n)) for n in self.warm_order()]
        done = self.warm_log = []
        self._warm.active = self.warming = True
        t0 = time.perf_counter()
        try:
            for label, fn in steps:
                waited = time.monotonic()
                while (time.monotonic() - self._last_request < quiet_s
                       and time.monotonic() - waited < max_wait_s):
                    time.sleep(quiet_s / 2)
                t = time.perf_counter()
                error = None
                try:
                    fn()
                except Exception as e:  # noqa: BLE001 - shown to whoever asks for it
                    error = f"{type(e).__name__}: {e}"
                    log.warning("warm-up step %r failed: %s", label, error)
                done.append({"step": label, "seconds": time.perf_counter() - t, "at": time.perf_counter() - t0,
                             "error": error})
        finally:
            self._warm.active = self.warming = False
        return done

    def describe(self) -> list[dict]:
        """JSON-able summary of every model, for the list_models endpoint."""
        return [{"name": i.name, "kind": i.kind, "dataset": i.dataset, "latent_dim": i.latent_dim,
                 "num_classes": len(i.class_names) if i.capabilities.conditional else 0, "modality": i.modality,
                 "class_names": list(i.class_names), "metrics": i.metrics,
                 **({"error": i.error} if i.error else {})} for i in self._infos.values()]


def hub_entry(repo_id: str) -> ModelInfo:
    """The ModelInfo of a Hub repo id, named by the id: its snapshot in the Hugging Face cache, downloaded now if
    it is not there (training.hub.resolve), or the reason it cannot be had (offline and never downloaded, no such
    repo), which picking it shows. Never raises; a copy served from the cache because the Hub cannot be reached is
    logged in one line."""
    try:
        where = resolve_source(repo_id)
    except (HubError, OSError) as e:  # OSError: a cache that cannot be written, a download that broke off
        error = str(e) if isinstance(e, HubError) else f"{repo_id} could not be had from the Hugging Face Hub ({e})."
        log.warning(error)
        return ModelInfo(name=repo_id, folder=Path(repo_id), kind=None, dataset=None, latent_dim=None, arch=None,
                         class_names=(), metrics=None, error=error)
    if where.note:
        log.warning(where.note)
    return ModelInfo(**{**read_info(where.folder).__dict__, "name": repo_id})


def read_info(folder: Path) -> ModelInfo:
    """Read config.json and metrics.json of a folder; never raises (an unreadable folder records its error)."""
    name = folder.name
    if not (folder / "config.json").is_file():
        what = "has no config.json" if folder.is_dir() else "is not a folder"
        error = (f"{folder} {what}. A model folder holds config.json, model.safetensors and latent_map.npz; "
                 "check the path given with --model-dir or EXPLORER_MODEL_DIRS (a Hugging Face Hub model is given "
                 "by its repo id, owner/name).")
        log.warning(error)
        return ModelInfo(name=name, folder=folder, kind=None, dataset=None, latent_dim=None, arch=None,
                         class_names=(), metrics=None, error=error)
    # Plain JSON reading: importing training (and torch) here would slow start-up by seconds. load_model checks
    # the folder fully when the model is first picked.
    try:
        try:
            cfg = json.loads((folder / "config.json").read_text())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"{folder / 'config.json'} is not valid JSON ({e}). Restore it from the training "
                             "output, or retrain with `python -m training train --out DIR`.") from None
        m = cfg.get("model") or {}
        if not isinstance(m, dict) or "kind" not in m:
            raise ValueError(f"{folder / 'config.json'} has no 'model' section with a 'kind'; it was not written "
                             "by the training package.")
        modality = m.get("modality") or "image"
        if not isinstance(modality, str):
            raise ValueError(f"{folder / 'config.json'}: model.modality is {shown(modality)}; it must be \"image\" "
                             "or \"text\" (or absent, for an image model).")
        spec = backend_spec(m.get("kind"), modality)
        if spec is not None and spec.unusable:  # listed with its kind, modality and the reason it cannot be explored
            log.warning("model folder %s cannot be explored: %s", folder, spec.unusable)
            return ModelInfo(name=name, folder=folder, kind=m.get("kind"), dataset=(cfg.get("data") or {}).get(
                "dataset"), latent_dim=None, arch=None, class_names=(), metrics=None, error=spec.unusable,
                modality=modality)
        lacking = [k for k in (spec.config_keys if spec else ()) if k not in m]
        if lacking:
            raise ValueError(f"{folder / 'config.json'} lacks {', '.join(lacking)} in its 'model' section, which a "
                             f"{m.get('kind')} needs to rebuild its network; copy config.json from the training run "
                             "that made model.safetensors.")
        metrics = _read_json(folder / METRICS_NAME)
        return ModelInfo(name=name, folder=folder, kind=m.get("kind"), dataset=(cfg.get("data") or {}).get("dataset"),
                         latent_dim=m.get("latent_dim"), arch=m.get("arch"),
                         class_names=tuple(m.get("class_names") or ()), metrics=metrics, modality=modality)
    except (OSError, ValueError, AttributeError) as e:
        log.warning("model folder %s cannot be read: %s", folder, e)
        return ModelInfo(name=name, folder=folder, kind=None, dataset=None, latent_dim=None, arch=None,
                         class_names=(), metrics=None, error=str(e))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def load_folder(info: ModelInfo) -> LoadedModel:
    """Load the backend (weights) and the latent map of one folder (both checked; errors say what to fix)."""
    if info.error:
        raise InputError(f"model {info.name!r} cannot be used: {info.error}")
    spec = backend_spec(info.kind, info.modality)
    if spec is None:
        raise InputError(f"model {info.name!r} is of kind {shown(info.kind)} ({info.modality}), which the explorer "
                         "has no backend for; register one with explorer.backends.register_backend (see "
                         "docs/adding-a-model.md).")
    backend = spec.load(info.folder)
    lmap = load_latent_map(info.folder / MAP_NAME, backend.latent_dim, list(backend.class_names),
                           image_shape=tuple(backend.output_shape), modality=backend.capabilities.modality)
    return LoadedModel(info=info, backend=backend,
                       modality=modality_for(backend.capabilities.modality, backend.output_shape), latent_map=lmap,
                       slider_range=latent_ranges(lmap, per_dimension=not backend.capabilities.prior),
                       code_mean=lmap.mu.mean(axis=0), code_std=lmap.mu.std(axis=0) + 1e-6)


__all__ = ["ModelRegistry", "ModelInfo", "LoadedModel", "MapLoadError", "read_info", "hub_entry", "load_folder"]
