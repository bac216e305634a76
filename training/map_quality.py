"""How far to trust each 2-D view of a latent map: how well it keeps the latent space's neighbourhoods.

For every projection a map stores (PCA, t-SNE, UMAP):
  map_trustworthiness_<key>   scikit-learn's trustworthiness (Venna & Kaski 2001) with k = 10: 1 when every point's
                              10 nearest neighbours in the plane are among its nearest in the latent space, lower as
                              the plane brings in points from afar. Measured on a fixed, seeded sample of 5,000
                              points: 1-1.5 s a view, against 10-16 s on all 10,000, which read 0.002-0.017 higher
                              on t-SNE and UMAP (benchmarks/map_quality.py --full).
  map_knn5_<key>              the 5-NN class accuracy in the plane, leave-one-out over every point: how well the view
                              separates the classes, beside knn5_accuracy, the same vote in the latent space itself.
`evaluate` (with or without --map) and `build-assets` write these into metrics.json; `python -m training
map-quality FOLDER...` adds them to folders made before, from their latent_map.npz alone.
"""
from __future__ import annotations

import numpy as np

PROJECTION_KEYS = ("pca", "tsne", "umap")
TRUST_K = 10
TRUST_SAMPLE = 5000


def map_quality(arrays: dict, *, k: int = TRUST_K, sample: int = TRUST_SAMPLE, seed: int = 0) -> dict:
    """The figures above, from a latent map's arrays (mu, labels and the projections it has)."""
    from sklearn.manifold import trustworthiness

    from .evaluate import knn5_leave_one_out

    mu, labels = np.asarray(arrays["mu"], dtype=np.float64), np.asarray(arrays["labels"])
    n = len(mu)
    if n < 7:              # the 5-NN vote needs 6 neighbours, trustworthiness k < n / 2: a toy map gets none
        return {"map_quality_protocol": {"skipped": f"{n} points, fewer than 7"}}
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:sample]) if n > sample else np.arange(n)
    k_used = min(k, max((len(rows) - 1) // 2, 1))   # trustworthiness needs k < n / 2
    out: dict = {}
    for key in PROJECTION_KEYS:
        if key not in arrays:
            continue
        xy = np.asarray(arrays[key], dtype=np.float64)
        out[f"map_trustworthiness_{key}"] = round(float(trustworthiness(mu[rows], xy[rows], n_neighbors=k_used)), 4)
        out[f"map_knn5_{key}"] = round(knn5_leave_one_out(xy, labels), 4)
    out["map_quality_protocol"] = {"trustworthiness_k": k_used, "trustworthiness_points": int(len(rows)),
                                   "sample_seed": seed, "knn5_points": int(n)}
    return out


def add_map_quality(folder) -> dict:
    """Merge map_quality of FOLDER/latent_map.npz into FOLDER/metrics.json (atomically); returns the new figures."""
    from pathlib import Path

    from . import checkpoint as ckpt
    from .evaluate import load_latent_map
    from .figures import METRICS_NAME

    folder = Path(folder)
    figures = map_quality(load_latent_map(folder))
    metrics = ckpt.read_json(folder / METRICS_NAME, {})
    ckpt.write_json(folder / METRICS_NAME, {**metrics, **figures})
    return figures
