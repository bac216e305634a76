"""Nearest neighbours: the map's images (a text model: the test definitions) whose latent means are nearest to a
code."""
from __future__ import annotations

import numpy as np

from ..registry import LoadedModel
from ..validation import InputError, shown, validate_z, whole

N_NEIGHBOURS, MAX_NEIGHBOURS = 8, 64


def nearest_neighbours(loaded: LoadedModel, z, k=N_NEIGHBOURS) -> list[dict]:
    """The k map images (test, and training where the map holds them) whose latent means are nearest to z
    (Euclidean), nearest first.

    Returns [{"index", "split", "label", "class_name", "distance", "image" (28x28 uint8)}]; a text model's map: "image" is
    the test definition, with "text", "headword" and "category" too (a reverse dictionary: the words whose
    definitions lie nearest)."""
    lmap = loaded.latent_map
    z = validate_z(z, loaded.latent_dim)
    kk = whole(k, 1, MAX_NEIGHBOURS)
    if kk is None:
        raise InputError(f"k must be a whole number from 1 to {MAX_NEIGHBOURS}, got {shown(k)}.")
    k = min(kk, lmap.n)
    diff = lmap.mu - z
    d2 = np.einsum("nd,nd->n", diff, diff)  # (N,)
    idx = np.argpartition(d2, k - 1)[:k]
    idx = idx[np.argsort(d2[idx], kind="stable")]
    out = [{"index": int(i), "split": lmap.split_of(int(i)), "label": int(lmap.labels[i]), "class_name": lmap.class_names[int(lmap.labels[i])],
            "distance": round(float(np.sqrt(d2[i])), 4), "image": lmap.images[i]} for i in idx]
    if lmap.texts is not None:
        for n in out:
            n.update(text=str(lmap.texts[n["index"]]), headword=str(lmap.headwords[n["index"]]),
                     category=str(lmap.categories[n["index"]]))
    return out


def neighbours_text(found: list[dict]) -> str:
    """A text model's neighbours as plain text, nearest first: "headword: definition (distance)" a line."""
    return "\n".join(f"{n['headword']}: {n['text']} ({n['distance']:.2f})" for n in found)
