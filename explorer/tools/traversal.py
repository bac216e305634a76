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


@functools.lru_cache(maxsize=16)
def dimension_scores(loaded: LoadedModel) -> tuple[np.ndarray, str, str]:
    """How much each latent dimension is used: ((D,) scores, measure, where from).

    VAE / CVAE: the average KL per dimension, from metrics.json (`kl_per_dim`, over the test set) or, when that is
    missing, estimated by encoding up to 1,000 stored test images. AE (no KL): the variance of the test codes."""
    d = loaded.latent_dim
    lmap = loaded.latent_map
    if not loaded.capabilities.kl:
        return lmap.mu.var(axis=0).astype(np.float64), "variance", \
            "a plain autoencoder has no KL term, so rows are ordered by the variance of the test codes"
    kl = (loaded.info.metrics or {}).get("kl_per_dim")
    if isinstance(kl, list) and len(kl) == d and all(isinstance(v, (int, float)) for v in kl):
        return np.asarray(kl, np.float64), "KL", "KL per dimension over the test set, from metrics.json"
    n = min(lmap.n, KL_IMAGES)
    kl = loaded.backend.kl_per_dim(lmap.images[:n].astype(np.float32) / 255.0,
                                   lmap.labels[:n] if loaded.num_classes else None)
    return kl, "KL", f"KL per dimension estimated on {n} test images (metrics.json has no kl_per_dim)"


def _fmt(score: float) -> str:
    """2 decimals, or 2 significant digits below 0.1: 0.0098 must not read as the 0.01 threshold it is under."""
    return f"{score:.2f}" if abs(score) >= 0.1 else f"{score:.2g}"


def traverse(loaded: LoadedModel, z, label=None) -> dict:
    """The traversal grid (the /traverse API): one row per latent dimension, 9 columns where that dimension takes
    the values -3 .. 3 (the rest of z held), rows ordered by how much the model uses the dimension.

    An AE's dimensions have their own scales, so its rows sweep mean ± 3 standard deviations of that dimension's
    test codes instead. Returns {"images" (D, 9, 28, 28), "rows" [{"dim", "name", "score", "active", "values"}],
    "measure" ("KL" or "variance"), "note"}.
    """
    z = validate_z(z, loaded.latent_dim)
    lab = needs_label(loaded, label)
    d = loaded.latent_dim
    scores, measure, source = dimension_scores(loaded)
    order = np.argsort(-scores, kind="stable")
    if measure == "variance":
        values = loaded.code_mean[:, None] + SWEEP[None, :] * loaded.code_std[:, None]  # (D, 9)
        active = scores > ACTIVE_UNIT_CUTOFF
    else:
        values = np.broadcast_to(SWEEP, (d, SWEEP.size))
        active = scores > ACTIVE_UNIT_CUTOFF
    zs = np.repeat(z[None, None, :], SWEEP.size, axis=1).repeat(d, axis=0)  # (D, 9, D)
    for r, dim in enumerate(order):
        zs[r, :, dim] = values[dim]
    imgs = loaded.backend.decode(zs.reshape(-1, d), lab)
    imgs = imgs.reshape(d, SWEEP.size, *imgs.shape[-2:])  # (D, 9, 28, 28)
    unit = " nats" if measure == "KL" else ""
    rows = [{"dim": int(k), "name": f"z{k + 1}", "score": float(scores[k]), "active": bool(active[k]),
             "values": [round(float(v), 3) for v in values[k]],
             "label": f"z{k + 1} · {measure} {_fmt(scores[k])}{unit}" + ("" if active[k] else " · unused")}
            for k in order]
    n_active = int(active.sum())
    cut = f"{ACTIVE_UNIT_CUTOFF} nats" if measure == "KL" else f"{ACTIVE_UNIT_CUTOFF}"
    sweep = ("each row sweeps its dimension from -3 to 3" if measure == "KL" else
             "each row sweeps its dimension over mean ± 3 standard deviations of its test codes")
    note = (f"Rows ordered by {measure}, largest first ({source}); {sweep}, the other values of z held. "
            f"{n_active} of {d} dimensions are in use; the {d - n_active} with {measure} below {cut} are marked "
            f"unused: the decoder ignores them, so their rows are flat.")
    return {"images": imgs, "rows": rows, "measure": measure, "note": note}


def traversal_image(result: dict, scale: int = 2) -> np.ndarray:
    """The traversal grid as one labelled uint8 sheet, for the PNG download and the API."""
    cols = ["-3", "-2.25", "-1.5", "-0.75", "0", "0.75", "1.5", "2.25", "3"] if result["measure"] == "KL" else \
        ["-3σ", "", "", "", "mean", "", "", "", "+3σ"]
    return labelled_sheet(result["images"], [r["label"] for r in result["rows"]], cols, scale=scale)
