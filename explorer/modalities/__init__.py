"""Modalities: how a model's outputs are shown and a person's inputs prepared (image.py, text.py)."""
from __future__ import annotations

from .image import ImageModality
from .text import TextModality

MODALITIES = {"image": ImageModality, "text": TextModality}


def modality_for(name: str, shape) -> ImageModality | TextModality:
    """The renderer of a backend's outputs: `name` from its Capabilities, `shape` its output_shape."""
    if name not in MODALITIES:
        raise ValueError(f"no modality {name!r}; the explorer knows {', '.join(MODALITIES)}.")
    return MODALITIES[name](shape)


__all__ = ["MODALITIES", "ImageModality", "TextModality", "modality_for"]
