"""The traversal grid: one row per latent dimension, that dimension swept while the rest of z is held.

Plain functions on a LoadedModel and plain values (see explorer.tools); the grid decodes in one forward pass (a
32 x 9 grid is 288 images, about 40 ms).
"""
from __future__ import annotations

import functools

import numpy as np

from training.figures import ACTIVE_UNIT_CUTOFF

from ..modalities.image import labelled_sheet
from ..registry import LoadedModel
from ..validation import validate_z
from .explore import needs_label

SWEEP = np.linspace(-3.0, 3.0, 9)  # traversal columns: the values one dimension takes (N(0, 1) puts 99.7% inside)
KL_IMAGES = 1000                   # test images that estimate the KL per dimension when metrics.json lacks it
PIXEL_CUTOFF = 0.002               # mean absolute pixel change per column (0..1, half a grey level) under which a row
                                   # is flat: its image does not visibly change along the sweep (a GAN's unused rule)
KL_COLUMNS = ["-3", "-2.25", "-1.5", "-0.75", "0", "0.75", "1.5", "2.25", "3"]
SIGMA_COLUMNS = ["-3σ", "", "", "", "mean", "", "", "", "+3σ"]


def ranking(capabilities) -> str:
    """What orders the rows of a model with these Capabilities: "KL" (a KL term per dimension: VAE, CVAE),
    "pixel change" (a prior but no KL: a GAN; measured on the grid itself) or "variance" (neither: a plain AE)."""
    if capabilities.kl:
        return "KL"
    return "pixel change" if capabilities.prior else "variance"


@functools.lru_cache(maxsize=16)
def dimension_scores(loaded: LoadedModel) -> tuple[np.ndarray, str, str]:
    """How much each latent dimension is used, for models whose ranking does not depend on z: ((D,) scores,
    measure, where from).

    VAE / CVAE: the average KL per dimension, from metrics.json (`kl_per_dim`, over the test set) or, when that is
    missing, estimated by encoding up to 1,000 stored test images. AE (no KL, no prior): the variance of the test
    codes. A model with a prior and no KL (a GAN) is ranked on the grid itself (pixel_change), not here."""
    d = loaded.latent_dim
    lmap = loaded.latent_map
    measure = ranking(loaded.capabilities)
    if measure == "pixel change":
        raise ValueError("a model without a KL term but with a prior is ranked by traversal.pixel_change")
    if measure == "variance":
        return lmap.mu.var(axis=0).astype(np.float64), "variance", \
            "a plain autoencoder has no KL term, so rows are ordered by the variance of the test codes"
    kl = (loaded.info.metrics or {}).get("kl_per_dim")
    if isinstance(kl, list) and len(kl) == d and all(isinstance(v, (int, float)) for v in kl):
        return np.asarray(kl, np.float64), "KL", "KL per dimension over the test set, from metrics.json"
    n = min(lmap.n, KL_IMAGES)
    labels = lmap.labels[:n] if loaded.num_classes else None
    if lmap.texts is not None:  # a text model: its test sentences
        kl = loaded.backend.kl_per_dim([str(t) for t in lmap.texts[:n]], labels)
        return kl, "KL", f"KL per dimension estimated on {n} test sentences (metrics.json has no kl_per_dim)"
    kl = loaded.backend.kl_per_dim(lmap.images[:n].astype(np.float32) / 255.0, labels)
    return kl, "KL", f"KL per dimension estimated on {n} test images (metrics.json has no kl_per_dim)"


def pixel_change(images: np.ndarray) -> np.ndarray:
    """How much each row of a traversal changes the image: images (D, 9, H, W) in [0, 1] -> (D,) float64, the mean
    absolute pixel change between neighbouring columns (0: the row is flat; 1: every pixel flips at every step)."""
    steps = np.abs(np.diff(images.astype(np.float64), axis=1))  # (D, 8, H, W)
    return steps.reshape(steps.shape[0], -1).mean(axis=1)


def _fmt(score: float) -> str:
    """2 decimals, or 2 significant digits below 0.1: 0.0098 must not read as the 0.01 threshold it is under."""
    return f"{score:.2f}" if abs(score) >= 0.1 else f"{score:.2g}"


def traverse(loaded: LoadedModel, z, label=None) -> dict:
    """The traversal grid (the /traverse API): one row per latent dimension, 9 columns where that dimension takes
    the values -3 .. 3 (the rest of z held), rows ordered by how much the model uses the dimension (`ranking`).

    A model with a KL term (VAE, CVAE) is ordered by its KL per dimension. A model with a prior and no KL (a GAN)
    is ordered by how much each dimension changes the image: the mean absolute pixel change between neighbouring
    columns of its own row of this grid (pixel_change), so the order is that of what the grid shows at this z. An
    AE's dimensions have their own scales, so its rows sweep mean ± 3 standard deviations of that dimension's test
    codes instead, ordered by their variance. Returns {"images" (D, 9, 28, 28), "rows" [{"dim", "name", "score",
    "active", "values", "label"}], "measure" ("KL", "pixel change" or "variance"), "columns" (9 column labels),
    "note"}.
    """
    z = validate_z(z, loaded.latent_dim)
    lab = needs_label(loaded, label)
    d = loaded.latent_dim
    measure = ranking(loaded.capabilities)
    if measure == "variance":
        values = loaded.code_mean[:, None] + SWEEP[None, :] * loaded.code_std[:, None]  # (D, 9)
    else:
        values = np.broadcast_to(SWEEP, (d, SWEEP.size))
    zs = np.repeat(z[None, None, :], SWEEP.size, axis=1).repeat(d, axis=0)  # (D, 9, D): row k sweeps dimension k
    for k in range(d):
        zs[k, :, k] = values[k]
    imgs = loaded.backend.decode(zs.reshape(-1, d), lab)
    imgs = imgs.reshape(d, SWEEP.size, *loaded.backend.output_shape)  # (D, 9, 28, 28); a text model's (D, 9) str
    if measure == "pixel change":
        scores = pixel_change(imgs)
        active = scores > PIXEL_CUTOFF
    else:
        scores, measure, source = dimension_scores(loaded)
        active = scores > ACTIVE_UNIT_CUTOFF
    order = np.argsort(-scores, kind="stable")
    unit = " nats" if measure == "KL" else ""
    short = "change" if measure == "pixel change" else measure
    rows = [{"dim": int(k), "name": f"z{k + 1}", "score": float(scores[k]), "active": bool(active[k]),
             "values": [round(float(v), 3) for v in values[k]],
             "label": f"z{k + 1} · {short} {_fmt(scores[k])}{unit}" + ("" if active[k] else " · unused")}
            for k in order]
    n_active = int(active.sum())
    if measure == "pixel change":
        note = (f"Rows ordered by how much each dimension changes the image, largest first: the mean absolute pixel "
                f"change between neighbouring columns of its row (pixels from 0 to 1), measured on this grid. This "
                f"model has no KL term to rank its dimensions by, so the ranking is read off the pictures, at this z "
                f"(another z can reorder the rows). Each row sweeps its dimension from -3 to 3, the other values of z "
                "held. " + (f"All {d} dimensions visibly change the image." if n_active == d else
                            f"{n_active} of {d} dimensions visibly change the image; the {d - n_active} with a change "
                            f"below {PIXEL_CUTOFF} per column are marked unused here: their rows look flat."))
    else:
        cut = f"{ACTIVE_UNIT_CUTOFF} nats" if measure == "KL" else f"{ACTIVE_UNIT_CUTOFF}"
        sweep = ("each row sweeps its dimension from -3 to 3" if measure == "KL" else
                 "each row sweeps its dimension over mean ± 3 standard deviations of its test codes")
        note = (f"Rows ordered by {measure}, largest first ({source}); {sweep}, the other values of z held. "
                f"{n_active} of {d} dimensions are in use; the {d - n_active} with {measure} below {cut} are marked "
                f"unused: the decoder ignores them, so their rows are flat.")
    return {"images": imgs[order], "rows": rows, "measure": measure,
            "columns": SIGMA_COLUMNS if measure == "variance" else KL_COLUMNS, "note": note}


def traversal_text(result: dict) -> str:
    """A text model's traversal grid as plain text: for each row (dimension, by KL) its 9 sentences, one a line."""
    blocks = []
    for r, texts in zip(result["rows"], result["images"]):
        blocks.append(r["label"] + "\n" + "\n".join(f"  {v:+.2f}: {t}" for v, t in zip(r["values"], texts)))
    return "\n\n".join(blocks)


def traversal_image(result: dict, scale: int = 2) -> np.ndarray:
    """The traversal grid as one labelled uint8 sheet, for the PNG download and the API."""
    return labelled_sheet(result["images"], [r["label"] for r in result["rows"]], result["columns"], scale=scale)
