"""The decoder the page runs in the browser (onnxruntime-web): a model folder's decoder.onnx, checked, or made.

    browser_decoder(folder, latent_dim, num_classes, image_shape)
        -> {"path", "latent_dim", "num_classes", "shape", "sha256"}   a valid, current decoder.onnx to serve
        -> {"reason"}                                                 one line: why the server decodes instead

The file's contract is training/export.py's. A folder's decoder.onnx is used when it parses as an ONNX model of that
contract whose inputs and outputs fit the model (latent size, classes, image shape) and whose recorded
weights_sha256 is that of the folder's model.safetensors. Otherwise (missing, stale after a retrain, corrupt, made
for another model) it is exported again from the folder's weights, since it is derived from them and nothing else:
into the folder when the folder is writable (atomically), else into a cache,
$XDG_CACHE_HOME/latent-explorer/decoders/<weights sha256>.onnx (default ~/.cache), leaving the folder's file alone.
Only when no export can be made (no onnx package, an unwritable cache, an export that fails its check) is the answer
a reason, naming what is wrong with the folder's file and the fix.

Results are kept per folder and the sizes and mtimes of its weights and decoder.onnx, so a second call costs two
stat calls. torch (training.export) is imported only to export; checking a file needs only onnx.
"""
from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

log = logging.getLogger(__name__)

DECODER_NAME = "decoder.onnx"     # training.export.DECODER_NAME (not imported here: that imports torch)
WEIGHTS_NAME = "model.safetensors"
EXPORT_HINT = "python -m training export-decoder"

_results: dict[tuple, dict] = {}
_lock = threading.Lock()


def cache_dir() -> Path:
    """Where exports for read-only model folders go: $XDG_CACHE_HOME/latent-explorer/decoders (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "latent-explorer" / "decoders"


def _writable(folder: Path) -> bool:
    """Whether a file can be created in `folder` (tried, not guessed from permission bits: root ignores them)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(probe)
    return True


def _stat(path: Path) -> tuple | None:
    try:
        s = path.stat()
    except OSError:
        return None
    return (s.st_size, s.st_mtime_ns, s.st_ino)


def _key(folder: Path, latent_dim: int, num_classes: int, hw: tuple) -> tuple:
    return (str(folder), latent_dim, num_classes, hw, _stat(folder / WEIGHTS_NAME), _stat(folder / DECODER_NAME))


def cached(results: dict, key, describe) -> dict:
    """results[key()], made by describe() when missing or when the file it names has since been deleted. key()
    names the folder's files as they are (sizes, mtimes), so a changed file is described anew. One export at a
    time, image or text: a caller that waited for the lock then finds the first one's result."""
    def usable(hit):
        return hit is not None and not ("path" in hit and not Path(hit["path"]).is_file())

    hit = results.get(key())
    if not usable(hit):
        with _lock:
            hit = results.get(key())
            if not usable(hit):
                hit = describe()
                results[key()] = hit  # the files as they are now
    return hit


def browser_decoder(folder, latent_dim: int, num_classes: int, image_shape) -> dict:
    """The page's description of this model folder's decoder.onnx, or {"reason": ...}. Never raises."""
    try:
        folder = Path(folder).resolve()
        shape = tuple(int(s) for s in tuple(image_shape))      # the explorer's (H, W) or (H, W, 3)
        hw = shape if len(shape) == 2 else (shape[2], shape[0], shape[1])   # decoder.onnx's (H, W) or (C, H, W)
        latent_dim, num_classes = int(latent_dim), int(num_classes)
        hit = cached(_results, lambda: _key(folder, latent_dim, num_classes, hw),
                     lambda: _describe(folder, latent_dim, num_classes, hw))
        return {k: list(v) if isinstance(v, list) else v for k, v in hit.items()}  # the caller's own copy
    except Exception as e:  # noqa: BLE001 - the page decodes on the server and shows this
        log.exception("browser decoder of %s", folder)
        return {"reason": f"its decoder could not be prepared for the browser ({type(e).__name__}: {e})."}


def _description(path: Path, latent_dim: int, num_classes: int, hw: tuple) -> dict:
    from training.files import file_sha256

    return {"path": str(path), "latent_dim": latent_dim, "num_classes": num_classes, "shape": list(hw[-2:]),
            "channels": 1 if len(hw) == 2 else hw[0], "sha256": file_sha256(path)}


def _describe(folder: Path, latent_dim: int, num_classes: int, hw: tuple) -> dict:
    weights = folder / WEIGHTS_NAME
    local = folder / DECODER_NAME
    if not weights.is_file():
        return {"reason": f"{folder} has no {WEIGHTS_NAME}, so there is no decoder to run in the browser."}
    try:
        import onnx  # noqa: F401 - checking (and writing) decoder.onnx needs it
    except ImportError:
        return {"reason": "the onnx package is not installed, so decoder.onnx cannot be checked or exported: "
                          "`pip install onnx==1.19.1` (requirements.txt)."}
    from training.export import check_decoder_file
    from training.files import file_sha256

    sha = file_sha256(weights)
    problem = check_decoder_file(local, latent_dim, num_classes, hw, sha)
    if problem is None:
        return _description(local, latent_dim, num_classes, hw)
    if _writable(folder):
        target = local
    else:
        target = cache_dir() / f"{sha}.onnx"
        if check_decoder_file(target, latent_dim, num_classes, hw, sha) is None:
            log.info("%s %s; using the export cached in %s", local, problem, target)
            return _description(target, latent_dim, num_classes, hw)
    error = _export(folder, target)
    if error is None:
        after = check_decoder_file(target, latent_dim, num_classes, hw, sha)
        if after is None:
            if problem != "is missing":
                log.warning("%s %s; exported it again from %s into %s", local, problem, WEIGHTS_NAME, target)
            return _description(target, latent_dim, num_classes, hw)
        # The folder's weights now describe another model than the one loaded (retrained with other settings).
        return {"reason": f"{local} {problem}; exported again from {folder}'s weights, it still {after}: the "
                          "folder has changed since the model was loaded. Restart the explorer to load it anew."}
    where = "" if target == local else f" into the cache {target.parent} ({folder} is read-only)"
    return {"reason": f"{local} {problem}, and a new one could not be exported{where}: {error.rstrip('.')}. "
                      f"Fix: `{EXPORT_HINT} {folder}` where the folder is writable."}


def _export(folder: Path, target: Path) -> str | None:
    """Export the folder's decoder to `target`; None when done, else what went wrong (one line)."""
    try:
        from training.export import export_folder

        target.parent.mkdir(parents=True, exist_ok=True)
        r = export_folder(folder, target)
    except Exception as e:  # noqa: BLE001 - ModelLoadError, ExportError, OSError, ...: the reason names it
        text = str(e).splitlines()[0] if str(e) else ""
        return f"{type(e).__name__}: {text}" if text else type(e).__name__
    log.info("exported %s (%d bytes) in %.1fs", target, r["bytes"], r["seconds"])
    return None


__all__ = ["browser_decoder", "cache_dir", "DECODER_NAME"]
