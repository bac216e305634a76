"""A selection of map points (the map's lasso or box, or a list of indices through /select): what it holds.

The summary says how many points, how many of each class, and the selection's mean code, which the page loads into
the sliders as the current z. The grid shows the selected items (the first MAX_GRID of them), and the CSV lists
every selected point: index, split, label, class name and its coordinates on every stored projection.
"""
from __future__ import annotations

import csv
import math

import numpy as np

from ..latent_map import PROJECTIONS
from ..registry import LoadedModel
from ..validation import InputError, shown
from .export import export_path, safe_filename

MAX_GRID = 100          # items drawn in the selection's grid (10 x 10); the counts and the CSV cover all of it


def check_indices(loaded: LoadedModel, indices) -> np.ndarray:
    """The selection as sorted, distinct point indices of the model's map, or InputError naming the problem."""
    n = loaded.latent_map.n
    how = "Select points on the map with the lasso or box tool, or pass a list of point indices"
    if isinstance(indices, (str, bytes, dict)) or not hasattr(indices, "__len__"):
        raise InputError(f"the selection must be a list of point indices (0..{n - 1}), got {shown(indices)}.")
    if len(indices) == 0:
        raise InputError(f"the selection is empty. {how} (0..{n - 1}).")
    if len(indices) > n:   # checked before looking at the values: 10^6 of them are refused at once
        raise InputError(f"the selection has {len(indices):,} indices, more than the {n:,} points of "
                         f"{loaded.info.name}'s map. {how}, each at most once.")
    picked = []
    for i in indices:
        if isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)):
            v = int(i)                      # a Python int of any size: compared as it is, never cast
        elif isinstance(i, (float, np.floating)) and math.isfinite(i) and float(i).is_integer():
            v = int(i)
        else:
            raise InputError(f"point indices are whole numbers from 0 to {n - 1}; {shown(i)} is not one.")
        if not 0 <= v < n:
            raise InputError(f"point index {shown(v)} is out of range: {loaded.info.name}'s map has {n:,} points, "
                             f"0 to {n - 1}.")
        picked.append(v)
    idx = np.asarray(picked, dtype=np.int64)
    return np.unique(idx)


def summarize(loaded: LoadedModel, indices) -> dict:
    """{count, class_counts [{label, class_name, count}] (most first), mean_z (the mean of the selected codes, a
    latent_dim list), indices (sorted, distinct), split ("test", "train" or "both": where the points come from),
    split_counts {"test": n, "train": m}}."""
    lmap = loaded.latent_map
    idx = check_indices(loaded, indices)
    counts = np.bincount(lmap.labels[idx], minlength=len(lmap.class_names))
    order = sorted(np.flatnonzero(counts), key=lambda c: (-counts[c], c))
    n_train = 0 if lmap.split is None else int(np.count_nonzero(lmap.split[idx] == 1))
    split_counts = {"test": int(idx.size) - n_train, "train": n_train}
    return {"count": int(idx.size), "split": "both" if 0 < n_train < idx.size else "train" if n_train else "test",
            "split_counts": split_counts,
            "class_counts": [{"label": int(c), "class_name": lmap.class_names[c], "count": int(counts[c])}
                             for c in order],
            "mean_z": [round(float(v), 5) for v in lmap.mu[idx].astype(np.float64).mean(axis=0)],
            "indices": idx.tolist()}


def counts_line(summary: dict) -> str:
    """The summary in one line: "312 points: 3 ×140, 5 ×98, 8 ×74"."""
    parts = ", ".join(f"{c['class_name']} ×{c['count']}" for c in summary["class_counts"])
    sc = summary.get("split_counts") or {}
    where = (f" ({sc['train']:,} training, {sc['test']:,} test)" if summary.get("split") == "both" else
             " (training images)" if summary.get("split") == "train" else "")
    return f"{summary['count']:,} point{'s' if summary['count'] != 1 else ''} selected{where}: {parts}."


def grid_items(loaded: LoadedModel, summary: dict) -> np.ndarray:
    """The stored items of the first MAX_GRID selected points: (k, H, W[, 3]) uint8 images (a text map: sentences)."""
    return loaded.latent_map.images[np.asarray(summary["indices"][:MAX_GRID], dtype=np.int64)]


def selection_csv(loaded: LoadedModel, summary: dict):
    """A CSV file of the selection and its path: index (the map's point index, as /select takes it), split, its
    index within that split (the dataset's numbering), label, class_name, x and y of every stored projection; a
    text map's headword and definition too."""
    lmap = loaded.latent_map
    keys = [k for k in PROJECTIONS if k in lmap.coords]
    header = ["index", "split", "split_index", "label", "class_name"] + [f"{k}_{a}" for k in keys
                                                                          for a in ("x", "y")]
    text = lmap.texts is not None
    if text:
        header[5:5] = ["headword", "text"]
    path = export_path(f"{safe_filename(loaded.info.name)}-selection-{summary['count']}.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for i in summary["indices"]:
            lab = int(lmap.labels[i])
            row = [i, lmap.split_of(i), lmap.index_in_split(i), lab, lmap.class_names[lab]]
            if text:
                row += [str(lmap.headwords[i]), str(lmap.texts[i])]
            row += [float(f"{v:.5g}") for k in keys for v in lmap.coords[k][i]]
            w.writerow(row)
    return path
