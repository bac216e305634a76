"""Decoding in the browser: what the page needs to run a model's decoder itself (explorer/static/decoder.js).

An image model: the page decodes every slider move with onnxruntime-web's WebAssembly backend, vendored from its npm
package in explorer/static/vendor/onnxruntime-web (scripts/vendor_onnxruntime_web.sh), running the model folder's
exported decoder.onnx (training/export.py; explorer.backends.browser_decoder finds, checks or makes it).

A text model (a text VAE or CVAE with the GRU decoder): the page runs the greedy decoder in plain JavaScript
(explorer/static/text_decoder.js) on text_decoder.safetensors, the decoder's weights and the tokenizer's token table
(explorer.backends.browser_text_decoder finds, checks or makes it). The server's sentences for a few codes (`probes`)
go with it; the page uses its decoder only when it writes exactly those.

The server learns the final z when a slider is released. Where in-page decoding cannot work the page decodes on the
server, as before, and says why in one line (#decode-mode): no WebAssembly in the browser (an image model), no usable
decoder file, a decoder that disagrees with the server, or a model of another modality.

    page_decoder(name, loaded) -> the #decode-mode component's `decoder` prop: {model, url, ...} or {model, reason}
    RUNTIME                    -> its `runtime` prop: the URLs of the vendored runtime files
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from ..registry import LoadedModel
from .style import STATIC

log = logging.getLogger("explorer.ui")

VENDOR = STATIC / "vendor" / "onnxruntime-web"
RUNTIME_FILES = ("ort.wasm.bundle.min.mjs", "ort-wasm-simd-threaded.wasm.gz")
_served: set[Path] = set()
_lock = threading.Lock()


def file_url(path: Path, version: str | None = None) -> str:
    """The app's URL of a local file it serves (gradio's file route); `version` busts the browser's cache."""
    return f"/gradio_api/file={path}" + (f"?v={version}" if version else "")


def serve(path: Path) -> None:
    """Let gradio's file route serve this one file as it is, without copying it (gr.set_static_paths)."""
    path = Path(path).resolve()
    with _lock:
        if path not in _served:
            _served.add(path)
            gr.set_static_paths([str(path)])


def runtime() -> dict:
    """The #decode-mode component's `runtime` prop; the vendored files are served from where they lie."""
    for name in RUNTIME_FILES:
        serve(VENDOR / name)
    return {"module": file_url(VENDOR / RUNTIME_FILES[0]), "wasm": file_url(VENDOR / RUNTIME_FILES[1])}


def page_decoder(name: str, loaded: LoadedModel) -> dict:
    """What the page needs to decode this model itself, or the one-line reason it cannot (then the page decodes on
    the server). Never raises: any problem becomes the reason."""
    if loaded.capabilities.modality == "text":
        try:
            return _text_decoder(name, loaded)
        except Exception as e:  # noqa: BLE001 - the page falls back and says why
            log.exception("browser text decoder of %s", name)
            return {"model": name, "reason": f"its decoder could not be prepared for the browser "
                                             f"({type(e).__name__}: {e})."}
    if loaded.capabilities.modality != "image":
        return {"model": name, "reason": f"{name} is a {loaded.capabilities.modality} model; its outputs are made "
                                         "on the server."}
    missing = [n for n in RUNTIME_FILES if not (VENDOR / n).is_file()]
    if missing:
        return {"model": name, "reason": f"the browser runtime is missing ({', '.join(missing)} in {VENDOR}); "
                                         "run `bash scripts/vendor_onnxruntime_web.sh`."}
    try:
        d = loaded.browser_decoder
    except Exception as e:  # noqa: BLE001 - the page falls back and says why
        log.exception("browser decoder of %s", name)
        d = {"reason": f"its decoder could not be exported ({type(e).__name__}: {e})."}
    if "reason" in d:
        return {"model": name, "reason": d["reason"]}
    path = Path(d["path"])
    serve(path)
    return {"model": name, "url": file_url(path, d["sha256"][:16]), "sha256": d["sha256"],
            "latent_dim": int(d["latent_dim"]), "num_classes": int(d["num_classes"]),
            "shape": [int(s) for s in d["shape"]], "channels": int(d.get("channels", 1)), **_pca(loaded)}


def _pca(loaded: LoadedModel) -> dict:
    """The map's PCA basis, with which the page moves the current-z marker itself."""
    lmap = loaded.latent_map
    return {"pca_mean": [float(v) for v in lmap.pca_mean], "pca_components": lmap.pca_components.tolist()}


_probes: dict[tuple, list] = {}
PROBE_SEED = 20240613


def probes(loaded: LoadedModel) -> list[dict]:
    """The server's sentences for a few codes, which the page's decoder must reproduce before it is used: z = 0 and
    two seeded draws from N(0, I) (a CVAE's as its first and last class). Kept per loaded model."""
    key = (id(loaded.backend), loaded.info.folder)
    if key not in _probes:
        b, d, c = loaded.backend, loaded.latent_dim, loaded.num_classes
        zs = np.concatenate([np.zeros((1, d), np.float32),
                             np.random.default_rng(PROBE_SEED).standard_normal((2, d)).astype(np.float32)])
        labels = [0, 0, c - 1] if c else [None] * 3
        _probes[key] = [{"z": [float(v) for v in z], "label": lab, "text": str(b.decode(z[None], lab)[0])}
                        for z, lab in zip(zs, labels)]
    return _probes[key]


def _text_decoder(name: str, loaded: LoadedModel) -> dict:
    """A text model's in-page decoder (explorer.backends.browser_text_decoder), or the reason there is none."""
    from ..backends.browser_text_decoder import TENSORS, browser_text_decoder
    from ..modalities.text import EMPTY_SENTENCE

    model = getattr(loaded.backend, "model", None)
    config = getattr(model, "config", None)
    if config is None or not hasattr(model, "state_dict"):
        return {"model": name, "reason": f"{name}'s backend is not a training text model, so the page has no "
                                         "decoder for it."}
    expected = {"latent_dim": loaded.latent_dim, "num_classes": loaded.num_classes,
                "vocab_size": config.vocab_size, "max_len": config.max_len, "embed_dim": config.embed_dim,
                "dec_hidden": config.dec_hidden, "decoder": getattr(config, "decoder", "gru")}

    def reference() -> dict:  # the loaded model's own tensors: the page's must be these
        state = model.state_dict()
        return {k: state[k].detach().float().cpu().numpy() for k in TENSORS if k in state}

    d = browser_text_decoder(loaded.info.folder, expected, reference)
    if "reason" in d:
        return {"model": name, "reason": d["reason"]}
    path = Path(d["path"])
    serve(path)
    return {"model": name, "kind": "text", "url": file_url(path, d["sha256"][:16]), "sha256": d["sha256"],
            "bytes": int(d["bytes"]), "latent_dim": int(d["latent_dim"]), "num_classes": int(d["num_classes"]),
            "empty": EMPTY_SENTENCE, "probes": probes(loaded), **_pca(loaded)}
