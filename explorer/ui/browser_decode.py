"""Decoding in the browser: what the page needs to run a model's decoder itself (explorer/static/decoder.js).

The page decodes every slider move with onnxruntime-web's WebAssembly backend, vendored from its npm package in
explorer/static/vendor/onnxruntime-web (scripts/vendor_onnxruntime_web.sh), running the model folder's exported
decoder.onnx (training/export.py; explorer.backends.browser_decoder finds, checks or makes it). The server learns the
final z when a slider is released. Where that cannot work the page decodes on the server, as before, and says why in
one line (#decode-mode): no WebAssembly in the browser, no usable exported decoder, or a model that is not an image
model.

    page_decoder(loaded)  -> the #decode-mode component's `decoder` prop: {model, url, ...} or {model, reason}
    RUNTIME               -> its `runtime` prop: the URLs of the vendored runtime files
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path

import gradio as gr

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
    lmap = loaded.latent_map
    return {"model": name, "url": file_url(path, d["sha256"][:16]), "sha256": d["sha256"],
            "latent_dim": int(d["latent_dim"]), "num_classes": int(d["num_classes"]),
            "shape": [int(s) for s in d["shape"]],
            "pca_mean": [float(v) for v in lmap.pca_mean], "pca_components": lmap.pca_components.tolist()}
