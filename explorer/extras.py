"""Plain functions behind four tool tabs: your own drawing (encode_image), AE vs VAE vs CVAE side by side, training
dynamics, and export (the map as CSV, a synthetic labelled data set from a CVAE: generate_dataset).

Like explorer.actions, they take a ModelRegistry or LoadedModel plus plain values and return plain values (numpy
images, data URIs, dicts, file paths); tests call them without a browser. A person's mistake raises InputError with
the fix in its message. torch, scipy and torchvision are imported on first use, so the page answers sooner.

Shapes: images are (28, 28) arrays, uint8 0..255 or float 0..1; z is a list of latent_dim floats.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import images
from .actions import slider_values
from .checks import InputError, shown, to_float, validate_seed
from .latent_map import CLASS_COLORS, PROJECTIONS, LatentMap
from .registry import LoadedModel, ModelInfo, ModelRegistry

# ---------------------------------------------------------------------------------------------------------------
# 1. Your own input: read an image a person sends and prepare it the way MNIST was made

# 4096 x 4096 (16.8 megapixels) covers a 12-megapixel phone photo. The limit is checked on the header, before any
# pixel is decoded: a 10,000 x 10,000 PNG of a few hundred KB would otherwise take 400 MB of memory (RGBA: 100
# million pixels x 4 bytes) and seconds of CPU, whatever the upload size limit says.
MAX_INPUT_SIDE = 4096
MAX_INPUT_PIXELS = MAX_INPUT_SIDE * MAX_INPUT_SIDE
MAX_INPUT_BYTES = 10 * 1024 * 1024  # the app's upload limit (explorer.ui.MAX_UPLOAD)
WORK_SIDE = 1024    # larger images are shrunk to this first: the result is 28 x 28, and it keeps the work bounded
BOX = 20            # MNIST: the digit's longer side is scaled to 20 px...
CANVAS = 28         # ...and pasted into 28 x 28 with its centre of mass at the centre
MIN_CONTRAST = 0.15  # the ink must stand out from the background by 15 % of the range, or the image counts as empty
INK = 0.1           # after normalising, pixels below this are background (JPEG noise, paper texture)


def _empty_message(what: str) -> str:
    if what == "drawing":
        return "The sketchpad is empty: draw something first (a digit or a garment, filling most of the pad)."
    return (f"The {what} looks blank: nothing stands out from its background. Upload a picture of one digit or "
            "one garment on a plain background.")


def open_image(source) -> Image.Image:
    """A PIL image from a file path, bytes, a numpy array or a PIL image, checked for size before decoding.

    Raises InputError for a file that is not an image, is damaged, or has more than MAX_INPUT_PIXELS pixels.
    """
    if isinstance(source, Image.Image):
        im = source
    elif isinstance(source, np.ndarray):
        a = source
        if a.ndim not in (2, 3) or a.size == 0 or (a.ndim == 3 and a.shape[2] not in (1, 3, 4)):
            raise InputError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got shape {list(a.shape)}.")
        _check_size(a.shape[1], a.shape[0])
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[:, :, 0]
        if a.dtype == np.bool_:
            a = a.astype(np.uint8) * 255
        elif a.dtype.kind == "f":
            a = np.nan_to_num(a.astype(np.float32))
            if a.ndim == 2:
                return Image.fromarray(a)  # mode F; to_gray scales 0..1 or 0..255
            a = (np.clip(a / (1.0 if a.max() <= 1.0 else 255.0), 0, 1) * 255 + 0.5).astype(np.uint8)
        elif a.dtype != np.uint8 and not (a.dtype == np.uint16 and a.ndim == 2):
            a = a.astype(np.int64)
            a = (np.clip(a, 0, 65535).astype(np.uint16) if a.ndim == 2 and a.max() > 255
                 else np.clip(a, 0, 255).astype(np.uint8))
        return Image.fromarray(a)
    else:
        if isinstance(source, (bytes, bytearray, memoryview)):
            if len(source) > MAX_INPUT_BYTES:
                raise InputError(f"the image is {len(source) / 2**20:.1f} MB; the limit is "
                                 f"{MAX_INPUT_BYTES // 2**20} MB. Send a smaller file.")
            fp = io.BytesIO(bytes(source))
        elif isinstance(source, (str, Path)):
            path = Path(source)
            if not path.is_file():
                raise InputError("the image file was not found on the server; upload it again.")
            if path.stat().st_size > MAX_INPUT_BYTES:
                raise InputError(f"the image file is {path.stat().st_size / 2**20:.1f} MB; the limit is "
                                 f"{MAX_INPUT_BYTES // 2**20} MB. Send a smaller file.")
            fp = path
        else:
            raise InputError(f"expected an image (a file upload or a drawing), got {type(source).__name__}.")
        try:
            with warnings.catch_warnings():
                # PIL warns from 89 M pixels and refuses from 179 M; the size check below is stricter anyway.
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                im = Image.open(fp)  # lazy: reads the header only
        except UnidentifiedImageError:
            raise InputError("this file is not an image the app can read. Upload a PNG, JPEG, GIF, BMP, WebP or "
                             "TIFF picture.") from None
        except Image.DecompressionBombError:
            raise InputError(f"the image is far too large (over {2 * Image.MAX_IMAGE_PIXELS / 1e6:.0f} megapixels); "
                             f"the limit is {MAX_INPUT_PIXELS / 1e6:.1f} megapixels (e.g. {MAX_INPUT_SIDE} x "
                             f"{MAX_INPUT_SIDE}). Scale it down first.") from None
        except OSError:
            raise InputError("this file could not be read as an image (damaged or not an image). Upload a PNG, "
                             "JPEG, GIF, BMP, WebP or TIFF picture.") from None
    _check_size(*im.size)
    return im


def _check_size(width: int, height: int) -> None:
    if width * height > MAX_INPUT_PIXELS:
        raise InputError(f"the image is {width:,} x {height:,} pixels; the limit is {MAX_INPUT_PIXELS / 1e6:.1f} "
                         f"megapixels (e.g. {MAX_INPUT_SIDE} x {MAX_INPUT_SIDE}). Scale it down or crop it to the "
                         "digit or garment first.")
    if width < 1 or height < 1:
        raise InputError("the image has no pixels.")


def to_gray(im: Image.Image) -> tuple[np.ndarray, list[str]]:
    """Any PIL image -> (H, W) float32 in [0, 1] (bright = 1), plus notes on what was done.

    16-bit images are scaled from their full range; transparent pixels are composited onto a background that
    contrasts with the ink (so black strokes on a transparent canvas and white strokes on one both survive);
    CMYK, palette, YCbCr and 1-bit images go through PIL's own conversions.
    """
    notes: list[str] = []
    if im.format == "JPEG" and max(im.size) > 2 * WORK_SIDE:
        im.draft(im.mode, (WORK_SIDE, WORK_SIDE))  # decode a big photo at 1/2, 1/4 or 1/8 scale: much faster
    try:
        im.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise InputError("the image file is damaged or truncated and could not be decoded. Upload it again "
                         "or save it as a PNG.") from None
    if getattr(im, "n_frames", 1) > 1:
        notes.append("used the first frame")
    im = ImageOps.exif_transpose(im)  # photos taken sideways carry their rotation in EXIF
    if max(im.size) > WORK_SIDE and im.mode not in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = im.copy()
        im.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im).astype(np.float32)
        top = float(a.max()) if a.size else 0.0
        if mode.startswith("I;16") or 255 < top <= 65535:
            scale = 65535.0
            notes.append("16-bit image scaled from 0..65535")
        elif top > 65535:
            scale = top
            notes.append("32-bit image scaled by its maximum")
        elif mode == "F" and top <= 1.0:
            scale = 1.0
        else:
            scale = 255.0
        a = np.clip(a / scale, 0.0, 1.0)
        if max(a.shape) > WORK_SIDE:
            f = Image.fromarray(a)
            f.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
            a = np.asarray(f)
        return a.astype(np.float32), notes
    has_alpha = "A" in im.getbands() or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA")).astype(np.float32) / 255.0
        alpha = rgba[:, :, 3]
        lum = rgba[:, :, :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha.min() < 0.999:
            solid = alpha > 0.5
            if not solid.any():
                return np.zeros(alpha.shape, np.float32), notes + ["fully transparent"]
            ink_dark = float(np.average(lum[solid], weights=alpha[solid])) < 0.5
            background = 1.0 if ink_dark else 0.0
            notes.append("transparent pixels composited onto " + ("white" if ink_dark else "black"))
            return (lum * alpha + background * (1.0 - alpha)).astype(np.float32), notes
        return lum.astype(np.float32), notes
    try:
        gray = im.convert("L")
    except ValueError:  # e.g. LAB, which PIL cannot convert: its first band is the lightness
        gray = im.getchannel(0)
        notes.append(f"{mode} image: used its first band ({im.getbands()[0]})")
    return np.asarray(gray).astype(np.float32) / 255.0, notes


def prepare_like_mnist(gray: np.ndarray, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """(H, W) float in [0, 1] -> (28, 28) uint8 prepared as MNIST digits were, plus notes.

    Light ink on a dark background (the border decides: a light border means dark ink, which is inverted); the
    background is subtracted and the ink stretched to full range; the ink's bounding box is scaled (anti-aliased,
    aspect kept) so that its longer side is 20 px, and pasted into 28 x 28 with its centre of mass at the centre.
    Raises InputError when nothing stands out from the background.
    """
    a = np.asarray(gray, dtype=np.float32)
    notes: list[str] = []
    h, w = a.shape
    k = max(1, round(0.02 * min(h, w)))  # the outer 2 % on each side
    border = np.concatenate([a[:k].ravel(), a[-k:].ravel(), a[:, :k].ravel(), a[:, -k:].ravel()])
    background = float(np.median(border))
    if background > 0.5:
        a, background = 1.0 - a, 1.0 - background
        notes.append("inverted (dark ink on a light background)")
    contrast = float(a.max()) - background
    if contrast < MIN_CONTRAST:
        raise InputError(_empty_message(what))
    ink = np.clip((a - background) / contrast, 0.0, 1.0)
    ink[ink < INK] = 0.0
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    ch, cw = crop.shape
    s = BOX / max(ch, cw)
    size = (max(1, round(cw * s)), max(1, round(ch * s)))  # PIL sizes are (width, height)
    small = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
    small = np.clip(small, 0.0, 1.0)
    # Thin strokes of a large picture fade when scaled down; MNIST's strokes reach full white, so stretch again.
    small = small / small.max() if small.max() > 0 else np.ones_like(small)
    cy, cx = _centre_of_mass(small)
    sh, sw = small.shape
    centre = (CANVAS - 1) / 2  # 13.5: between the two middle pixels, in pixel-index coordinates
    top = int(np.clip(round(centre - cy), 0, CANVAS - sh))
    left = int(np.clip(round(centre - cx), 0, CANVAS - sw))
    out = np.zeros((CANVAS, CANVAS), np.float32)
    out[top:top + sh, left:left + sw] = small
    return images.to_uint8(out), notes


def _centre_of_mass(a: np.ndarray) -> tuple[float, float]:
    try:
        from scipy import ndimage  # installed with scikit-learn
        cy, cx = ndimage.center_of_mass(a)
    except ImportError:
        ys, xs = np.indices(a.shape)
        total = a.sum()
        cy, cx = (ys * a).sum() / total, (xs * a).sum() / total
    return float(cy), float(cx)


def prepare_image(source, what: str = "image") -> tuple[np.ndarray, list[str]]:
    """Any image source (path, bytes, array, PIL image) -> ((28, 28) uint8 prepared like MNIST, notes)."""
    gray, notes = to_gray(open_image(source))
    prepared, more = prepare_like_mnist(gray, what)
    return prepared, notes + more


def image_from_payload(payload, what: str = "image", upload_root: str | Path | None = None, blobs=None):
    """The image inside a raw gradio value: a FileData dict ({"path": ...}) from gr.Image, or the sketchpad's
    {"background", "layers", "composite"} / {"id"} (its strokes sent ahead as blobs). Returns bytes or a path.

    upload_root: only files under this folder are read (gradio's upload folder); anything else a caller names
    is refused, so nobody can make the server read its own files. blobs: the sketchpad's blob storage
    (a dict id -> EditorDataBlobs, entries are removed once read).
    """
    if payload is None or payload == {} or payload == []:
        raise InputError(_empty_message(what) if what == "drawing" else "no image: upload a picture first.")
    if isinstance(payload, str):
        raise InputError("send the image as a file (with gradio_client: handle_file('digit.png')), "
                         "not as a path or URL string.")
    if not isinstance(payload, dict):
        raise InputError(f"expected an image file, got {shown(payload)}.")
    if payload.get("id") is not None and not any(payload.get(k) for k in ("composite", "background", "layers")):
        stored = blobs.pop(payload["id"], None) if isinstance(blobs, dict) and isinstance(payload["id"], str) else None
        if stored is None:
            raise InputError("the drawing did not reach the server; draw a stroke and try again.")
        parts = [getattr(stored, "composite", None)] + list(getattr(stored, "layers", None) or []) \
            + [getattr(stored, "background", None)]
        data = next((p for p in parts if p), None)
        if data is None:
            raise InputError(_empty_message(what))
        return bytes(data)
    if any(k in payload for k in ("composite", "background", "layers")):  # the sketchpad's files
        layers = payload.get("layers") or []
        for part in [payload.get("composite"), *(layers if isinstance(layers, list) else []),
                     payload.get("background")]:
            if isinstance(part, dict) and part.get("path"):
                return _uploaded_path(part, upload_root)
        raise InputError(_empty_message(what))
    if "path" in payload or "url" in payload:
        return _uploaded_path(payload, upload_root)
    raise InputError(f"expected an image file ({{'path': ...}} from an upload), got {shown(payload)}.")


def _uploaded_path(filedata: dict, upload_root) -> Path:
    path = filedata.get("path")
    if not isinstance(path, str) or not path or re.match(r"^[a-z][a-z0-9+.-]*://", path, re.I):
        raise InputError("send the image file itself (upload it); URLs are not fetched.")
    p = Path(path).resolve()
    if upload_root is not None:
        root = Path(upload_root).resolve()
        if root not in p.parents:
            raise InputError("that file was not uploaded to this app; upload the image itself.")
    return p


# ---------------------------------------------------------------------------------------------------------------
# Encoding it: reconstruction, z for the sliders and, for a CVAE, the classes ranked by how well they explain it

def _torch():
    import torch
    return torch


def rank_classes(model, image) -> list[dict]:
    """For a conditional model: every class ranked by -ELBO of the image encoded and decoded as that class.

    -ELBO(x | c) = BCE(x, decode(mu_c, c)) + KL(q(z | x, c) || N(0, I)) at the posterior mean mu_c, in nats; the
    lowest is the class under which the model finds the image most likely ("a classifier for free"). prob is
    softmax(-ELBO) over the classes: p(c | x) under equal class priors, with the bound in place of log p(x | c).
    Returns [{"class_id", "class_name", "neg_elbo", "recon", "kl", "prob"}], best first.
    """
    torch = _torch()
    from training.losses import bce_per_image, kl_per_image

    n = model.num_classes
    x = torch.from_numpy(images.as_unit_float(image))[None, None].expand(n, 1, 28, 28)  # (C, 1, 28, 28)
    y = torch.arange(n)
    with torch.inference_mode():
        mu, logvar = model.encode(x, y)
        recon = bce_per_image(model.decode_logits(mu, y), x)                          # (C,)
        kl = kl_per_image(mu, logvar) if logvar is not None else torch.zeros(n)        # (C,)
        neg_elbo = recon + kl
        prob = torch.softmax(-neg_elbo.double(), 0)
    names = model.class_names
    rows = [{"class_id": c, "class_name": names[c] if c < len(names) else str(c), "neg_elbo": float(neg_elbo[c]),
             "recon": float(recon[c]), "kl": float(kl[c]), "prob": float(prob[c])} for c in range(n)]
    return sorted(rows, key=lambda r: r["neg_elbo"])


def encode_prepared(loaded: LoadedModel, prepared: np.ndarray) -> dict:
    """Encode a prepared (28, 28) image with a loaded model.

    Returns {"z": slider values (the posterior mean, rounded and kept inside the sliders' range), "label": the
    best class (CVAE) or None, "reconstruction": (28, 28) float decoded from that z, "ranking": rank_classes(...)
    or []}.
    """
    from . import inference as inf

    model = loaded.model
    ranking = rank_classes(model, prepared) if model.num_classes else []
    label = ranking[0]["class_id"] if ranking else None
    z = slider_values(loaded, inf.encode_mean(model, prepared, label))
    return {"z": z, "label": label, "reconstruction": inf.decode(model, z, label), "ranking": ranking}


def encode_image(registry: ModelRegistry, model: str, image, what: str = "image", upload_root=None) -> tuple:
    """The encode_image API: prepare an image like MNIST and encode it with `model`.

    image: a raw gradio file value ({"path": ...}), a path, bytes, an array or a PIL image.
    Returns (prepared (280, 280) uint8, reconstruction (280, 280) uint8, z (list of floats), ranking (list of
    dicts, best class first; [] for an unconditional model)).
    """
    loaded = registry.get(model)
    source = image_from_payload(image, what, upload_root) if isinstance(image, (dict, str, type(None))) else image
    prepared, _ = prepare_image(source, what)
    out = encode_prepared(loaded, prepared)
    return (images.to_display_image(prepared), images.to_display_image(out["reconstruction"]), out["z"],
            out["ranking"])


def ranking_rows(ranking: list[dict], top: int = 10) -> list[dict]:
    """The ranking as rows for the page's bar list: name, -ELBO text, bar width in % (probability)."""
    return [{"name": r["class_name"], "nats": f"{r['neg_elbo']:.1f}",
             "pct": f"{100 * r['prob']:.1f}" if r["prob"] >= 0.0005 else "<0.1",
             "width": f"{max(1.0, 100 * r['prob']):.1f}", "best": i == 0} for i, r in enumerate(ranking[:top])]


# ---------------------------------------------------------------------------------------------------------------
# 2. AE vs VAE vs CVAE on one dataset

KINDS = ("ae", "vae", "cvae")
WHY_AE_DEGRADES = ("The AE's random samples degrade because nothing in its training shaped its latent space to "
                   "N(0, I): its codes sit wherever the encoder put them (the coloured points), so most draws from "
                   "N(0, I) (the black crosses) land where the decoder has never been.")
COMPARE_ROWS, COMPARE_COLS = 10, 8
METRIC_LABELS = [("neg_elbo", "−ELBO (nats)", "{:.1f}"), ("iwae_k64", "IWAE-64 bound (nats)", "{:.1f}"),
                 ("recon", "reconstruction (nats)", "{:.1f}"), ("kl", "KL (nats)", "{:.1f}"),
                 ("active_units", "active units", "{}"), ("knn5_accuracy", "5-NN accuracy", "{:.3f}")]


def _dataset_key(name) -> str:
    return str(name or "").strip().lower().replace("_", "-")


def comparison_datasets(registry: ModelRegistry) -> list[str]:
    """Datasets with at least one AE, VAE or CVAE, in registry order."""
    out = []
    for name in registry.names():
        info = registry.info(name)
        key = _dataset_key(info.dataset)
        if info.kind in KINDS and not info.error and key and key not in out:
            out.append(key)
    return out


def models_for_dataset(registry: ModelRegistry, dataset: str) -> dict[str, str]:
    """{kind: model name} of the first readable model of each kind trained on `dataset` (the shipped
    "<dataset>-<kind>" folder when there is one)."""
    if not isinstance(dataset, str) or _dataset_key(dataset) not in comparison_datasets(registry):
        raise InputError(f"unknown dataset {shown(dataset)}; pick one of: "
                         f"{', '.join(comparison_datasets(registry)) or 'none (no models)'}.")
    key = _dataset_key(dataset)
    found: dict[str, str] = {}
    for name in registry.names():
        info = registry.info(name)
        if info.error or _dataset_key(info.dataset) != key or info.kind not in KINDS:
            continue
        if info.kind not in found or name == f"{key}-{info.kind}":
            found[info.kind] = name
    return {k: found[k] for k in KINDS if k in found}


def prior_grid(loaded: LoadedModel, seed: int, rows: int = COMPARE_ROWS, cols: int = COMPARE_COLS):
    """rows x cols images decoded from z ~ N(0, I) drawn with `seed` (a CVAE: row r is class r mod C).

    The same seed gives the same z for every model of the same latent size. A plain AE is sampled the same way
    on purpose: that is the lesson. Returns (grid (H, W) uint8 from torchvision's make_grid, z (rows*cols, D)).
    """
    torch = _torch()
    from torchvision.utils import make_grid

    model = loaded.model
    g = torch.Generator().manual_seed(validate_seed(seed))
    z = torch.randn(rows * cols, model.latent_dim, generator=g)                      # (N, D)
    y = (torch.arange(rows * cols) // cols) % model.num_classes if model.num_classes else None
    with torch.inference_mode():
        x = model.decode(z, y)                                                       # (N, 1, 28, 28)
    grid = make_grid(x, nrow=cols, padding=2, pad_value=1.0)                         # (3, H, W) in [0, 1]
    return images.to_uint8(grid[0].numpy()), z.numpy()


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def map_thumbnail(lmap: LatentMap, samples: np.ndarray | None = None, size: int = 240) -> np.ndarray:
    """A small static picture of the PCA map: (size, size, 3) uint8, test points coloured by class and the
    rows of `samples` (latent vectors, (N, D)) projected onto the same plane as black crosses. The view covers
    both, so samples that fall far from the data show as such."""
    xy = (lmap.mu - lmap.pca_mean) @ lmap.pca_components.T                          # (N, 2), = the stored PCA
    pts = [xy] if samples is None else [xy, (np.asarray(samples) - lmap.pca_mean) @ lmap.pca_components.T]
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    centre = (lo + hi) / 2
    margin = 6

    def to_px(p):  # (N, 2) plane coordinates -> pixel columns and rows (y up), kept off the border
        q = np.round((p - centre) / span * (size - 2 * margin) + size / 2).astype(int)
        return np.clip(q[:, 0], 1, size - 2), np.clip(size - q[:, 1], 1, size - 2)

    img = np.full((size, size, 3), 255, np.uint8)
    px, py = to_px(xy)
    colours = np.array([_hex_rgb(CLASS_COLORS[c % len(CLASS_COLORS)]) for c in range(max(len(lmap.class_names), 1))],
                       np.uint8)
    col = colours[lmap.labels % len(colours)]
    for dy in (0, 1):  # 2 x 2 dots
        for dx in (0, 1):
            img[np.clip(py + dy, 0, size - 1), np.clip(px + dx, 0, size - 1)] = col
    if samples is not None:
        sx, sy = to_px(pts[1])
        for d in (-2, -1, 0, 1, 2):  # a 5-px cross per sample
            img[np.clip(sy + d, 0, size - 1), sx] = 0
            img[sy, np.clip(sx + d, 0, size - 1)] = 0
    return img


def metrics_table(infos: dict[str, ModelInfo]) -> str:
    """Markdown table of the metrics.json figures of each model, one column per model."""
    names = list(infos)
    lines = ["| figure | " + " | ".join(f"{infos[n].kind.upper()} ({n})" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for key, label, fmt in METRIC_LABELS:
        cells = []
        for n in names:
            v = (infos[n].metrics or {}).get(key)
            cells.append("n/a" if v is None else fmt.format(v))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_models(registry: ModelRegistry, dataset: str, seed=0) -> dict:
    """AE, VAE and CVAE of one dataset side by side.

    Returns {"dataset", "seed", "models": {kind: {"name", "grid" (uint8 image), "map" (RGB uint8 image),
    "metrics" (metrics.json or {})}}, "missing": [kinds with no model], "table": markdown, "why": sentence}.
    """
    seed = validate_seed(seed)
    found = models_for_dataset(registry, dataset)
    out = {}
    for kind, name in found.items():
        loaded = registry.get(name)
        grid, z = prior_grid(loaded, seed)
        out[kind] = {"name": name, "grid": grid, "map": map_thumbnail(loaded.latent_map, z),
                     "metrics": loaded.info.metrics or {}}
    return {"dataset": _dataset_key(dataset), "seed": seed, "models": out,
            "missing": [k for k in KINDS if k not in found],
            "table": metrics_table({found[k]: registry.info(found[k]) for k in found}), "why": WHY_AE_DEGRADES}


def compare_summary(result: dict) -> dict:
    """The JSON part of compare_models for the API: names, metrics and what is missing."""
    return {"dataset": result["dataset"], "seed": result["seed"], "why": result["why"],
            "missing": result["missing"],
            "models": {k: {"name": v["name"], "metrics": v["metrics"]} for k, v in result["models"].items()}}


# ---------------------------------------------------------------------------------------------------------------
# 3. Training dynamics: loss terms per epoch (history.json) and KL per latent dimension (metrics.json)

HISTORY_NAME = "history.json"
COLLAPSED_KL = 0.01  # nats: a dimension whose average KL is below this carries (almost) no information
HISTORY_SERIES = [("train_recon", "train reconstruction", "y", "#1f77b4", "solid"),
                  ("test_recon", "test reconstruction", "y", "#1f77b4", "dot"),
                  ("train_kl", "train KL", "y2", "#d62728", "solid"),
                  ("test_kl", "test KL", "y2", "#d62728", "dot")]


def read_history(info: ModelInfo) -> list[dict]:
    """The per-epoch rows of a model folder's history.json (InputError naming the file when it is unusable)."""
    path = Path(info.folder) / HISTORY_NAME
    if not path.is_file():
        raise InputError(f"{info.name} has no {HISTORY_NAME}, so there is no training history to plot; models "
                         "trained with `python -m training train` write one.")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path} is not valid JSON ({e}); retrain or restore the file.") from None
    rows = data.get("epochs") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise InputError(f"{path} has no list of epochs ({{\"epochs\": [...]}}); it was not written by the "
                         "training package.")
    return rows


def _num(v):
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def training_history(registry: ModelRegistry, model: str) -> dict:
    """The training_history API: {"model", "kind", "epochs": [{"epoch", "train_recon", "train_kl", "test_recon",
    "test_kl", "beta"}], "kl_per_dim": list or None, "active_units"}. Reads only the JSON files."""
    info = registry.info(model)
    if info.error:
        raise InputError(f"model {info.name!r} cannot be used: {info.error}")
    rows = read_history(info)
    keys = ["epoch", "train_recon", "train_kl", "test_recon", "test_kl", "beta"]
    epochs = [{k: _num(r.get(k)) for k in keys} for r in rows]
    m = info.metrics or {}
    kl = m.get("kl_per_dim")
    kl = [_num(v) for v in kl] if isinstance(kl, list) and info.kind != "ae" else None  # an AE has no KL term
    return {"model": info.name, "kind": info.kind, "epochs": epochs, "kl_per_dim": kl,
            "active_units": m.get("active_units")}


def history_figure(hist: dict) -> dict:
    """Plotly figure (JSON dict): reconstruction (left axis) and KL (right axis) per epoch, train and test."""
    ep = hist["epochs"]
    x = [r["epoch"] if r["epoch"] is not None else i + 1 for i, r in enumerate(ep)]
    stochastic = hist["kind"] != "ae"
    data = []
    for key, name, axis, color, dash in HISTORY_SERIES:
        if axis == "y2" and not stochastic:
            continue
        data.append({"type": "scatter", "mode": "lines+markers" if len(ep) < 25 else "lines", "name": name,
                     "x": x, "y": [r[key] for r in ep], "yaxis": axis,
                     "line": {"color": color, "dash": dash, "width": 2}, "marker": {"size": 5},
                     "hovertemplate": f"{name}<br>epoch %{{x}}: %{{y:.2f}} nats<extra></extra>"})
    layout = {
        "title": {"text": "Reconstruction vs KL per epoch" if stochastic else "Reconstruction per epoch",
                  "font": {"size": 14}},
        "xaxis": {"title": {"text": "epoch"}, "dtick": max(1, len(ep) // 10)},
        "yaxis": {"title": {"text": "reconstruction (nats / image)", "font": {"color": "#1f77b4"}}},
        "legend": {"orientation": "h", "y": -0.25},
        "margin": {"l": 60, "r": 60, "t": 40, "b": 40}, "hovermode": "x unified",
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)",
    }
    if stochastic:
        layout["yaxis2"] = {"title": {"text": "KL (nats / image)", "font": {"color": "#d62728"}},
                            "overlaying": "y", "side": "right", "showgrid": False, "tickmode": "auto"}
    return {"data": data, "layout": layout}


def kl_figure(hist: dict) -> dict | None:
    """Plotly bar chart of the average KL of each latent dimension (None for a model without KL, e.g. an AE).
    Dimensions below COLLAPSED_KL are grey: the model does not use them."""
    kl = hist["kl_per_dim"]
    if not kl:
        return None
    vals = [v or 0.0 for v in kl]
    colors = ["#4c6ef5" if v >= COLLAPSED_KL else "#adb5bd" for v in vals]
    return {"data": [{"type": "bar", "x": [f"z{i + 1}" for i in range(len(vals))], "y": vals,
                      "marker": {"color": colors},
                      "hovertemplate": "%{x}: %{y:.3f} nats<extra></extra>"}],
            "layout": {"title": {"text": "Average KL per latent dimension (grey: unused, < 0.01 nats)",
                                 "font": {"size": 14}},
                       "yaxis": {"title": {"text": "KL (nats / image)"}},
                       "margin": {"l": 60, "r": 20, "t": 40, "b": 40}, "showlegend": False,
                       "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)"}}


def dynamics_note(hist: dict) -> str:
    """One paragraph on what the plots show for this model."""
    ep = hist["epochs"]
    if not ep:
        return f"**{hist['model']}** has an empty training history (no epochs recorded)."
    first, last = ep[0], ep[-1]
    parts = [f"**{hist['model']}**, {len(ep)} epochs."]
    if hist["kind"] == "ae":
        parts.append("A plain autoencoder has no KL term: it only lowers the reconstruction loss, and nothing pulls "
                     "its codes towards N(0, I).")
    else:
        if first["test_recon"] is not None and last["test_recon"] is not None and last["test_kl"] is not None:
            parts.append(f"Test reconstruction went from {first['test_recon']:.1f} to {last['test_recon']:.1f} "
                         f"nats while KL went from {first['test_kl']:.1f} to {last['test_kl']:.1f}: the encoder "
                         "spends nats of KL (information about each image) to buy better reconstructions. "
                         "That is the tug-of-war of the ELBO.")
        kl = hist["kl_per_dim"]
        if kl:
            used = sum(1 for v in kl if (v or 0) >= COLLAPSED_KL)
            parts.append(f"{used} of {len(kl)} latent dimensions carry KL above {COLLAPSED_KL} nats; the others "
                         "collapsed to the prior and their sliders change nothing.")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# 4. Export: the map as CSV, and a synthetic labelled data set from a CVAE

EXPORT_DIR = Path(tempfile.gettempdir()) / "latent-explorer-exports"
EXPORT_MAX_AGE_S = 3600  # exports older than an hour are deleted when the next one is written
MAX_PER_CLASS = 5000     # 10 classes x 5,000 = 50,000 images (39 MB of pixels): a data set as big as
                         # Fashion-MNIST's training set, made in under a minute; more would hold a worker that long
SHEET_PER_CLASS = 16     # the PNG sheet shows the first 16 samples of each class, one row per class
DATASET_BATCH = 1000


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name))[:80] or "model"


def export_path(filename: str) -> Path:
    """A fresh path for an export file (in its own folder, so names never clash); removes exports older than
    EXPORT_MAX_AGE_S, so a public app does not fill its disk."""
    EXPORT_DIR.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in EXPORT_DIR.glob("*/*"):
        try:
            if now - old.stat().st_mtime > EXPORT_MAX_AGE_S:
                old.unlink()
                old.parent.rmdir()
        except OSError:
            pass
    folder = EXPORT_DIR / uuid.uuid4().hex[:12]
    folder.mkdir()
    return folder / _safe(filename)


def map_rows(lmap: LatentMap) -> tuple[list[str], list[list]]:
    """Header and rows of the map as a table: index, label, class_name, then x and y of every stored projection."""
    keys = [k for k in PROJECTIONS if k in lmap.coords]
    header = ["index", "label", "class_name"] + [f"{k}_{a}" for k in keys for a in ("x", "y")]
    coords = np.concatenate([lmap.coords[k] for k in keys], axis=1) if keys else np.zeros((lmap.n, 0))
    rows = [[i, int(lab), lmap.class_names[int(lab)], *(float(f"{v:.5g}") for v in c)]
            for i, (lab, c) in enumerate(zip(lmap.labels.tolist(), coords.tolist()))]
    return header, rows


def export_map_csv(registry: ModelRegistry, model: str) -> Path:
    """The export_map_csv API: a CSV file of the model's map (one row per test image) and its path."""
    loaded = registry.get(model)
    header, rows = map_rows(loaded.latent_map)
    path = export_path(f"{loaded.info.name}-latent-map.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def validate_per_class(per_class) -> int:
    if isinstance(per_class, bool) or not isinstance(per_class, (int, float, np.integer, np.floating, str)):
        raise InputError(f"per_class must be a whole number from 1 to {MAX_PER_CLASS:,}, got {shown(per_class)}.")
    try:
        f = to_float(per_class)
    except ValueError:
        raise InputError(f"per_class must be a whole number from 1 to {MAX_PER_CLASS:,}, "
                         f"got {shown(per_class)}.") from None
    if not math.isfinite(f) or f != int(f):
        raise InputError(f"per_class must be a whole number from 1 to {MAX_PER_CLASS:,}, got {shown(per_class)}.")
    if not 1 <= f <= MAX_PER_CLASS:
        asked = f"{int(f):,}" if abs(f) < 1e15 else shown(per_class)
        raise InputError(f"per_class = {asked} is out of range: ask for 1 to {MAX_PER_CLASS:,} samples per class "
                         f"(at most {MAX_PER_CLASS:,} x classes images, so one request cannot hold the server for "
                         "minutes or fill its disk).")
    return int(f)


def generate_dataset(registry: ModelRegistry, model: str, per_class, seed=0, progress=None) -> dict:
    """A labelled synthetic data set from a conditional model: per_class prior samples of every class.

    z ~ N(0, I) (seeded), decoded as class c for per_class codes per class, in batches of DATASET_BATCH;
    progress(fraction, desc) is called after each batch. Writes an .npz (images uint8 (N, 28, 28), labels int64
    (N,), class_names, model, seed) and a PNG sheet (the first SHEET_PER_CLASS samples of each class, one row per
    class, torchvision's make_grid). Returns {"npz", "sheet" (paths), "sheet_image" (uint8), "n", "per_class",
    "classes", "seconds", "images_per_second"}.
    """
    torch = _torch()
    from torchvision.utils import make_grid

    loaded = registry.get(model)
    m = loaded.model
    if not m.num_classes:
        raise InputError(f"{loaded.info.name} is a {loaded.info.kind}: generate_dataset needs a conditional model "
                         "(cvae), so that every sample comes with its class. Pick "
                         + (", ".join(n for n in registry.names() if registry.info(n).kind == "cvae")
                            or "a cvae model") + ".")
    per_class = validate_per_class(per_class)
    seed = validate_seed(seed)
    t0 = time.perf_counter()
    n_cls = m.num_classes
    n = per_class * n_cls
    labels = torch.arange(n_cls).repeat_interleave(per_class)                        # (N,) class-major order
    g = torch.Generator().manual_seed(seed)
    out = np.empty((n, 28, 28), np.uint8)
    with torch.inference_mode():
        for start in range(0, n, DATASET_BATCH):
            stop = min(n, start + DATASET_BATCH)
            z = torch.randn(stop - start, m.latent_dim, generator=g)
            x = m.decode(z, labels[start:stop])                                      # (B, 1, 28, 28)
            out[start:stop] = x[:, 0].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
            if progress is not None:
                progress(stop / n, f"decoded {stop:,} of {n:,} images")
    names = [str(c) for c in m.class_names[:n_cls]]
    npz = export_path(f"{loaded.info.name}-synthetic-{per_class}x{n_cls}-seed{seed}.npz")
    np.savez_compressed(npz, images=out, labels=labels.numpy().astype(np.int64), class_names=np.array(names),
                        model=np.array(loaded.info.name), seed=np.array(seed, np.int64))
    k = min(per_class, SHEET_PER_CLASS)
    pick = (np.arange(n_cls)[:, None] * per_class + np.arange(k)[None, :]).ravel()   # first k of each class
    sheet_t = make_grid(torch.from_numpy(out[pick]).float().div(255)[:, None], nrow=k, padding=2, pad_value=1.0)
    sheet = images.to_uint8(sheet_t[0].numpy())
    png = npz.with_name(npz.stem + "-sheet.png")
    png.write_bytes(images.png_bytes(sheet))
    seconds = time.perf_counter() - t0
    return {"npz": npz, "sheet": png, "sheet_image": sheet, "n": n, "per_class": per_class, "classes": names,
            "seconds": seconds, "images_per_second": n / seconds if seconds > 0 else float("inf")}


def dataset_summary(result: dict) -> dict:
    """The JSON part of generate_dataset for the API."""
    return {k: result[k] for k in ("n", "per_class", "classes")} | {
        "seconds": round(result["seconds"], 3), "images_per_second": round(result["images_per_second"])}


# ---------------------------------------------------------------------------------------------------------------
# 5. Projections a model's map offers (UMAP only where latent_map.npz has it)

def projection_choices(loaded: LoadedModel) -> list[tuple[str, str]]:
    """(label, key) of every stored projection of the model's map, e.g. PCA, t-SNE and UMAP."""
    return [(label, key) for key, label in PROJECTIONS.items() if key in loaded.latent_map.coords]


__all__ = ["open_image", "to_gray", "prepare_like_mnist", "prepare_image", "image_from_payload", "rank_classes",
           "encode_prepared", "encode_image", "compare_models", "training_history", "export_map_csv",
           "generate_dataset", "projection_choices"]
