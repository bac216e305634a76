"""Modalities: how a model's outputs are shown and a person's inputs prepared (image today; text next)."""
from __future__ import annotations

from .image import ImageModality

MODALITIES = {"image": ImageModality}


def modality_for(name: str, shape) -> ImageModality:
    """The renderer of a backend's outputs: `name` from its Capabilities, `shape` its output_shape."""
    if name not in MODALITIES:
        raise ValueError(f"no modality {name!r}; the explorer knows {', '.join(MODALITIES)}.")
    return MODALITIES[name](shape)


__all__ = ["MODALITIES", "ImageModality", "modality_for"]
