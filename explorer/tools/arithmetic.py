"""Attribute arithmetic: move a code along the difference of two classes' mean codes (the map's codes: latent means,
or for a GAN the codes GAN inversion found for the test images)."""
from __future__ import annotations

import functools

import numpy as np

from ..registry import LoadedModel
from ..validation import InputError, check_number, shown, validate_z, whole
from .explore import slider_values

MAX_STRENGTH = 3.0


def check_class(loaded: LoadedModel, value, what: str = "class") -> int:
    """A class id of the model's latent map (0..C-1), for unconditional models too (their test images have
    classes)."""
    n = len(loaded.latent_map.class_names)
    c = whole(value, 0, n - 1)
    if c is None:
        names = ", ".join(f"{i} = {c}" for i, c in enumerate(loaded.latent_map.class_names[:12]))
        raise InputError(f"{what} must be a class id from 0 to {n - 1} ({names}), got {shown(value)}.")
    return c


@functools.lru_cache(maxsize=16)
def class_means(loaded: LoadedModel) -> np.ndarray:
    """(C, D) mean code of each class's test images, from the map (a GAN's: its inverted codes); NaN row for a class
    with no test image."""
    lmap = loaded.latent_map
    out = np.full((len(lmap.class_names), lmap.latent_dim), np.nan, np.float64)
    for c, idx in lmap.by_class.items():
        if idx.size:
            out[c] = lmap.mu[idx].mean(axis=0)
    return out


CVAE_ARITHMETIC = ("A conditional model (a CVAE or a CGAN) takes the class as a separate input of its decoder, so "
                   "its z holds the style (slant, thickness) and not the class: to turn this image into another class, pick "
                   "that class with the class picker above; the same z is decoded as the new class.")


def move_towards(loaded: LoadedModel, z, from_class, to_class, strength=1.0, preview: int = 7) -> dict:
    """"Move this <from> towards <to>": z + s * (mean_to - mean_from), class means over the test codes.

    Returns {"z" (the moved z as slider values), "direction" (D floats), "images" (preview, 28, 28): z moved by
    s * k / (preview - 1) for k = 0..preview-1, the last one being the result, "strengths", "note"}.
    For unconditional models only (a CVAE: InputError explaining that its class picker does this)."""
    if loaded.num_classes:
        raise InputError(CVAE_ARITHMETIC)
    z = validate_z(z, loaded.latent_dim).astype(np.float64)
    f = check_class(loaded, from_class, "the class to move from")
    t = check_class(loaded, to_class, "the class to move towards")
    if f == t:
        raise InputError("pick two different classes: moving a class towards itself changes nothing.")
    s = check_number(strength, -MAX_STRENGTH, MAX_STRENGTH, "strength")
    means = class_means(loaded)
    names = loaded.latent_map.class_names
    for c in (f, t):
        if np.isnan(means[c]).any():
            raise InputError(f"class {names[c]} has no test image in this model's latent map, so it has no mean; "
                             "pick another class.")
    direction = means[t] - means[f]
    strengths = np.linspace(0.0, s, max(int(preview), 2))
    zs = z[None] + strengths[:, None] * direction[None]
    moved = slider_values(loaded, zs[-1])
    imgs = loaded.backend.decode(np.vstack([zs[:-1], np.asarray(moved)[None]]))
    note = (f"z + {s:g} × (mean of the {names[t]}s − mean of the {names[f]}s): the difference of the two classes' "
            f"average codes over the test images (its length is {np.linalg.norm(direction):.2f}).")
    return {"z": moved, "direction": direction.tolist(), "images": imgs, "strengths": strengths.tolist(),
            "note": note}
