"""Plain functions behind every action of the explorer: decode, reconstruct, sample, prepare images.

Nothing here knows about Gradio. Inputs from people (a z vector, a class id) are checked here and a mistake raises
`InputError`, whose message says what to do; the UI shows that message as it is.

Shapes: z is a float32 vector (D,); images are (28, 28) arrays, float in [0, 1] or uint8 in [0, 255].
"""
from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

DISPLAY_SCALE = 10  # 28 px -> 280 px, nearest neighbour so every pixel stays a crisp square
MAX_ABS_Z = 1e4     # beyond this no decoder has seen anything; almost surely a typo


class InputError(ValueError):
    """A value a person supplied (z, class id, index, model name) that cannot be used; the message says the fix."""


# ---------------------------------------------------------------------------------------------------------------
# Checking what people send

def validate_z(z, latent_dim: int) -> np.ndarray:
    """Turn a list of numbers into a float32 vector (latent_dim,), or raise InputError saying what is wrong."""
    if isinstance(z, (str, bytes)) or z is None:
        raise InputError(f"z must be a list of {latent_dim} numbers, got {type(z).__name__}.")
    try:
        arr = np.asarray(z, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"z must be a list of {latent_dim} numbers; some entries are not numbers.") from None
    if arr.ndim != 1:
        raise InputError(f"z must be a flat list of {latent_dim} numbers, got an array of shape {list(arr.shape)}.")
    if arr.shape[0] != latent_dim:
        raise InputError(f"z has {arr.shape[0]} values but this model has {latent_dim} latent dimensions; "
                         f"send exactly {latent_dim} numbers.")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"z[{int(bad[0])}] is {arr[bad[0]]}; every value of z must be a finite number "
                         "(no NaN or infinity).")
    if np.abs(arr).max() > MAX_ABS_Z:
        i = int(np.abs(arr).argmax())
        raise InputError(f"z[{i}] = {arr[i]:g} is far outside the latent space; keep values within about -5..5.")
    return arr.astype(np.float32)


def validate_label(label, num_classes: int) -> int | None:
    """Check a class id for a model with `num_classes` classes (0 = unconditional).

    Returns the id as an int for a conditional model, None for an unconditional one (whose label is ignored;
    -1 or None mean "no class"). Raises InputError for an id that is out of range or not a whole number.
    """
    if label is None:
        label = -1
    if isinstance(label, bool) or not isinstance(label, (int, float, np.integer, np.floating)):
        raise InputError(f"label must be a whole number (a class id, or -1 for none), got {label!r}.")
    if not math.isfinite(float(label)) or float(label) != int(label):
        raise InputError(f"label must be a whole number (a class id, or -1 for none), got {label!r}.")
    label = int(label)
    if num_classes == 0:
        if label != -1 and label < 0:
            raise InputError(f"label {label} is not valid; use -1 (no class) for this unconditional model.")
        return None
    if not 0 <= label < num_classes:
        raise InputError(f"class id {label} is out of range: this conditional model knows classes "
                         f"0..{num_classes - 1}. Pick one of those.")
    return label


# ---------------------------------------------------------------------------------------------------------------
# Model calls (one small forward pass each; no autograd)

def _labels(label: int | None, n: int) -> torch.Tensor | None:
    return None if label is None else torch.full((n,), label, dtype=torch.long)


def decode(model, z, label: int | None = None) -> np.ndarray:
    """Decode one latent vector: z (D,) -> pixel probabilities (28, 28) float32 in [0, 1].

    `label` is a class id for a conditional model and is ignored (may be None) otherwise.
    """
    z = validate_z(z, model.latent_dim)
    label = validate_label(label, model.num_classes)
    if model.num_classes and label is None:
        raise InputError("this conditional model needs a class id; pick a class.")
    with torch.inference_mode():
        x = model.decode(torch.from_numpy(z)[None], _labels(label, 1))  # (1, 1, 28, 28)
    return x[0, 0].float().numpy()


def decode_all_classes(model, z) -> np.ndarray:
    """Decode one z under every class of a conditional model: (num_classes, 28, 28) float32 in [0, 1]."""
    if not model.num_classes:
        raise InputError("only conditional (cvae) models decode a z as every class.")
    z = validate_z(z, model.latent_dim)
    n = model.num_classes
    with torch.inference_mode():
        x = model.decode(torch.from_numpy(z)[None].expand(n, -1), torch.arange(n))  # (C, 1, 28, 28)
    return x[:, 0].float().numpy()


def encode_mean(model, image, label: int | None = None) -> np.ndarray:
    """Posterior mean (the code for an AE) of one image (28, 28), uint8 or float in [0, 1]: (D,) float32."""
    x = torch.from_numpy(as_unit_float(image))[None, None]  # (1, 1, 28, 28)
    with torch.inference_mode():
        mu = model.encode(x, _labels(label, 1)).mu
    return mu[0].float().numpy()


def reconstruct(model, image, label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode an image to its posterior mean and decode that mean.

    image (28, 28) uint8 or float in [0, 1]; label its class id (needed by a cvae, ignored otherwise).
    Returns (reconstruction (28, 28) float32 in [0, 1], z (D,) float32).
    """
    label = label if model.num_classes else None
    z = encode_mean(model, image, label)
    return decode(model, z, label), z


def sample_z(latent_dim: int, seed: int, mean=None, std=None) -> np.ndarray:
    """Draw z ~ N(mean, diag(std^2)) with a seeded generator: (latent_dim,) float32.

    With mean and std left out this is the prior N(0, I) of a VAE. The same seed always gives the same z.
    """
    seed = validate_seed(seed)
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(latent_dim, generator=g).numpy()
    if std is not None:
        z = z * np.asarray(std, dtype=np.float32)
    if mean is not None:
        z = z + np.asarray(mean, dtype=np.float32)
    return z.astype(np.float32)


def validate_seed(seed) -> int:
    if seed is None:
        return 0
    try:
        f = float(seed)
    except (TypeError, ValueError):
        raise InputError(f"the seed must be a whole number, got {seed!r}.") from None
    if not math.isfinite(f) or f != int(f) or not 0 <= f < 2**63:
        raise InputError(f"the seed must be a whole number from 0 to 2^63-1, got {seed!r}.")
    return int(f)


# ---------------------------------------------------------------------------------------------------------------
# Images for the screen

def as_unit_float(image) -> np.ndarray:
    """(H, W) uint8 0..255 or float 0..1 -> float32 0..1."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return np.clip(a.astype(np.float32), 0.0, 1.0)


def to_uint8(image) -> np.ndarray:
    """(H, W) float in [0, 1] or uint8 -> uint8 (H, W)."""
    a = np.asarray(image)
    if a.dtype == np.uint8:
        return a
    return (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def to_display_image(image, scale: int = DISPLAY_SCALE) -> np.ndarray:
    """Upscale a small grayscale image by an integer factor with nearest neighbour: (H, W) -> (H*s, W*s) uint8.

    Each source pixel becomes an s x s block, so the digit stays crisp instead of a blurred 28-pixel speck.
    """
    a = to_uint8(image)
    if a.ndim != 2:
        raise ValueError(f"expected a (H, W) grayscale image, got shape {a.shape}")
    return np.repeat(np.repeat(a, scale, axis=0), scale, axis=1)


def image_row(images: Sequence[np.ndarray] | np.ndarray, scale: int = 3, gap: int = 2) -> np.ndarray:
    """Lay out N small images side by side with a white gap: (N, H, W) -> (H*s, N*W*s + (N-1)*gap) uint8."""
    tiles = [to_display_image(im, scale) for im in images]
    h = tiles[0].shape[0]
    spacer = np.full((h, gap), 255, dtype=np.uint8)
    parts = []
    for i, t in enumerate(tiles):
        if i:
            parts.append(spacer)
        parts.append(t)
    return np.concatenate(parts, axis=1)


def png_bytes(image_u8: np.ndarray) -> bytes:
    """Encode a uint8 grayscale image as PNG (fast settings: these images are tiny and flat)."""
    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def png_data_uri(image_u8: np.ndarray) -> str:
    """A `data:image/png;base64,...` URI, so the browser shows the image without a second request."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(image_u8)).decode("ascii")


def to_pil(image, scale: int = DISPLAY_SCALE) -> Image.Image:
    """(28, 28) float/uint8 -> upscaled PIL image, for the API endpoints."""
    return Image.fromarray(to_display_image(image, scale))
