"""Preparing images for the screen: crisp nearest-neighbour upscaling and PNG data URIs (numpy + PIL only).

Shapes: images are (H, W) arrays, float in [0, 1] or uint8 in [0, 255].
"""
from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image

DISPLAY_SCALE = 10  # 28 px -> 280 px, nearest neighbour so every pixel stays a crisp square



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
