"""Model calls behind the explorer's actions: decode, decode as every class, encode, reconstruct, sample.

Plain functions on a loaded model (training.LatentModel); nothing here knows about Gradio. Every call is one small
forward pass under torch.inference_mode(). Values from people are checked first (explorer.checks) and a mistake
raises InputError with the fix in its message.

Shapes: z is a float32 vector (D,); images are (28, 28) arrays, float in [0, 1] or uint8 in [0, 255].
The checking and image helpers are re-exported here, so `explorer.inference` is the one module to import.
"""
from __future__ import annotations

import numpy as np
import torch

from .checks import InputError, validate_label, validate_seed, validate_z
from .images import (DISPLAY_SCALE, as_unit_float, image_row, png_bytes, png_data_uri, to_display_image, to_pil,
                     to_uint8)

__all__ = ["InputError", "validate_z", "validate_label", "validate_seed", "decode", "decode_all_classes",
           "encode_mean", "reconstruct", "sample_z", "DISPLAY_SCALE", "as_unit_float", "to_uint8",
           "to_display_image", "image_row", "png_bytes", "png_data_uri", "to_pil"]



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
