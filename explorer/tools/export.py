"""Export: the latent map as CSV, and a labelled synthetic data set decoded from a conditional model's prior (a CVAE's
decoder or a conditional GAN's generator)."""
from __future__ import annotations

import csv
import math
import re
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from ..backends import reason
from ..latent_map import PROJECTIONS, LatentMap
from ..modalities.image import png_bytes, sheet
from ..registry import ModelRegistry
from ..validation import InputError, shown, to_float, validate_seed

EXPORT_DIR = Path(tempfile.gettempdir()) / "latent-explorer-exports"
EXPORT_MAX_AGE_S = 3600  # exports older than an hour are deleted when the next one is written
MAX_PER_CLASS = 5000     # 10 classes x 5,000 = 50,000 images (39 MB of pixels): a data set as big as
                         # Fashion-MNIST's training set, made in under a minute; more would hold a worker that long
NEEDS = ("conditional", "prior")  # generate_dataset: prior samples, each with its class
SHEET_PER_CLASS = 16     # the PNG sheet shows the first 16 samples of each class, one row per class
DATASET_BATCH = 1000


def safe_filename(name: str, limit: int = 80) -> str:
    """A file name made of letters, digits, '.', '_' and '-' only (model names come from folder names)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", str(name))[:limit] or "model"


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
    return folder / safe_filename(filename)


def map_rows(lmap: LatentMap) -> tuple[list[str], list[list]]:
    """Header and rows of the map as a table: index, label, class_name, then x and y of every stored projection,
    and on a map of both splits each row's split and its index within it."""
    keys = [k for k in PROJECTIONS if k in lmap.coords]
    header = ["index", "label", "class_name"] + [f"{k}_{a}" for k in keys for a in ("x", "y")]
    coords = np.concatenate([lmap.coords[k] for k in keys], axis=1) if keys else np.zeros((lmap.n, 0))
    rows = [[i, int(lab), lmap.class_names[int(lab)], *(float(f"{v:.5g}") for v in c)]
            for i, (lab, c) in enumerate(zip(lmap.labels.tolist(), coords.tolist()))]
    if lmap.texts is not None:  # a text map: the headword, fine category and definition of each row too
        header = header[:3] + ["headword", "category", "text"] + header[3:]
        rows = [r[:3] + [str(lmap.headwords[i]), str(lmap.categories[i]), str(lmap.texts[i])] + r[3:]
                for i, r in enumerate(rows)]
    if lmap.split is not None:  # a map of both splits: which one each row is, and its number there
        header = header + ["split", "split_index"]
        names = [lmap.split_of(i) for i in range(lmap.n)]
        rows = [r + [names[i], lmap.index_in_split(i)] for i, r in enumerate(rows)]
    return header, rows


def export_map_csv(registry: ModelRegistry, model: str) -> Path:
    """The export_map_csv API: a CSV file of the model's map (one row per map point) and its path."""
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


TEXT_FORMATS = ("csv", "jsonl")
MAX_TEXT_PER_CLASS = 2000  # a sentence is decoded word by word: 2,000 x 10 category groups take about a minute
TEXT_SHEET_PER_CLASS = 3   # the sentences of each class shown beside the file


def generate_text_dataset(loaded, per_class: int, seed: int, fmt="csv", progress=None) -> dict:
    """A text CVAE's labelled synthetic sentences: per_class prior samples decoded (greedy) as each category group,
    written as CSV (text, label, class_name) or JSONL ({"text", "label", "class_name"} a line). Returns
    {"file", "sample_text" (a few sentences per class, one a line), "n", "per_class", "classes", "seconds",
    "images_per_second" (sentences per second)}."""
    import json

    fmt = str(fmt).strip().lower() if isinstance(fmt, str) else fmt
    if fmt not in TEXT_FORMATS:
        raise InputError(f"format must be \"csv\" or \"jsonl\", got {shown(fmt)}.")
    if per_class > MAX_TEXT_PER_CLASS:
        raise InputError(f"per_class = {per_class:,} is out of range for a text model: ask for 1 to "
                         f"{MAX_TEXT_PER_CLASS:,} sentences per class (each is decoded word by word).")
    t0 = time.perf_counter()
    n_cls = loaded.num_classes
    n = per_class * n_cls
    labels = np.repeat(np.arange(n_cls), per_class)
    report = None if progress is None else (lambda done, total: progress(done / total,
                                                                         f"decoded {done:,} of {total:,} sentences"))
    texts = loaded.backend.generate(labels, seed, DATASET_BATCH, report)            # (N,) str
    names = [str(c) for c in loaded.class_names[:n_cls]]
    path = export_path(f"{loaded.info.name}-synthetic-{per_class}x{n_cls}-seed{seed}.{fmt}")
    with open(path, "w", newline="", encoding="utf-8") as f:
        if fmt == "csv":
            w = csv.writer(f)
            w.writerow(["text", "label", "class_name"])
            w.writerows([str(t), int(y), names[y]] for t, y in zip(texts, labels))
        else:
            for t, y in zip(texts, labels):
                f.write(json.dumps({"text": str(t), "label": int(y), "class_name": names[y]}, ensure_ascii=False)
                        + "\n")
    k = min(per_class, TEXT_SHEET_PER_CLASS)
    sample = "\n".join(f"{names[c]}: {texts[c * per_class + j]}" for c in range(n_cls) for j in range(k))
    seconds = time.perf_counter() - t0
    return {"file": path, "sample_text": sample, "n": n, "per_class": per_class, "classes": names,
            "seconds": seconds, "images_per_second": n / seconds if seconds > 0 else float("inf")}


def generate_dataset(registry: ModelRegistry, model: str, per_class, seed=0, progress=None, fmt="csv") -> dict:
    """A labelled synthetic data set from a conditional model: per_class prior samples of every class. A text CVAE
    writes sentences instead (generate_text_dataset; fmt "csv" or "jsonl"), and returns {"file", "sample_text", ...}.

    z ~ N(0, I) (seeded), decoded as class c for per_class codes per class, in batches of DATASET_BATCH;
    progress(fraction, desc) is called after each batch. Writes an .npz (images uint8 (N, 28, 28), labels int64
    (N,), class_names, model, seed) and a PNG sheet (the first SHEET_PER_CLASS samples of each class, one row per
    class, torchvision's make_grid). Returns {"npz", "sheet" (paths), "sheet_image" (uint8), "n", "per_class",
    "classes", "seconds", "images_per_second"}.
    """
    loaded = registry.get(model)
    why = reason(loaded.capabilities, *NEEDS)
    if why:
        # A GAN's own kind has a conditional twin (a cgan); an autoencoder's, the cvae.
        wanted = "a conditional GAN (cgan)" if loaded.capabilities.invert else "a conditional model (a cvae or a cgan)"
        raise InputError(f"{loaded.info.name} is a {loaded.info.kind}: generate_dataset needs {wanted}, so that every "
                         "sample comes with its class. Pick "
                         + (", ".join(n for n in registry.names() if not registry.info(n).capabilities.lacks(*NEEDS))
                            or "a cgan or cvae model") + ".")
    per_class = validate_per_class(per_class)
    seed = validate_seed(seed)
    if loaded.capabilities.modality == "text":
        return generate_text_dataset(loaded, per_class, seed, fmt, progress)
    t0 = time.perf_counter()
    n_cls = loaded.num_classes
    n = per_class * n_cls
    labels = np.repeat(np.arange(n_cls), per_class)                                  # (N,) class-major order
    report = None if progress is None else (lambda done, total: progress(done / total,
                                                                         f"decoded {done:,} of {total:,} images"))
    out = loaded.backend.generate(labels, seed, DATASET_BATCH, report)               # (N, H, W) uint8
    names = [str(c) for c in loaded.class_names[:n_cls]]
    npz = export_path(f"{loaded.info.name}-synthetic-{per_class}x{n_cls}-seed{seed}.npz")
    np.savez_compressed(npz, images=out, labels=labels.astype(np.int64), class_names=np.array(names),
                        model=np.array(loaded.info.name), seed=np.array(seed, np.int64))
    k = min(per_class, SHEET_PER_CLASS)
    pick = (np.arange(n_cls)[:, None] * per_class + np.arange(k)[None, :]).ravel()   # first k of each class
    grid = sheet(out[pick].astype(np.float32) / 255, nrow=k, padding=2)
    png = npz.with_name(npz.stem + "-sheet.png")
    png.write_bytes(png_bytes(grid))
    seconds = time.perf_counter() - t0
    return {"npz": npz, "sheet": png, "sheet_image": grid, "n": n, "per_class": per_class, "classes": names,
            "seconds": seconds, "images_per_second": n / seconds if seconds > 0 else float("inf")}


def dataset_summary(result: dict) -> dict:
    """The JSON part of generate_dataset for the API."""
    return {k: result[k] for k in ("n", "per_class", "classes")} | {
        "seconds": round(result["seconds"], 3), "images_per_second": round(result["images_per_second"])}
