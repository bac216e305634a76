"""AE vs VAE vs CVAE: the same prior codes decoded by the three models trained on one dataset, with their maps and
test figures side by side (why a plain AE cannot sample, while a VAE can)."""
from __future__ import annotations

import numpy as np

from training.figures import FIGURES

from ..latent_map import CLASS_COLORS, LatentMap
from ..modalities.image import sheet
from ..registry import LoadedModel, ModelInfo, ModelRegistry
from ..validation import InputError, shown, validate_seed

KINDS = ("ae", "vae", "cvae")  # the kinds this lesson puts side by side, in page order (its kind table)
WHY_AE_DEGRADES = ("The AE's random samples degrade because nothing in its training shaped its latent space to "
                   "N(0, I): its codes sit wherever the encoder put them (the coloured points), so most draws from "
                   "N(0, I) (the black crosses) land where the decoder has never been.")
COMPARE_ROWS, COMPARE_COLS = 10, 8


def dataset_key(name) -> str:
    return str(name or "").strip().lower().replace("_", "-")


def comparison_datasets(registry: ModelRegistry) -> list[str]:
    """Datasets with at least one AE, VAE or CVAE, in registry order."""
    out = []
    for name in registry.names():
        info = registry.info(name)
        key = dataset_key(info.dataset)
        if info.kind in KINDS and not info.error and key and key not in out:
            out.append(key)
    return out


def models_for_dataset(registry: ModelRegistry, dataset: str) -> dict[str, str]:
    """{kind: model name} of the first readable model of each kind trained on `dataset` (the shipped
    "<dataset>-<kind>" folder when there is one)."""
    if not isinstance(dataset, str) or dataset_key(dataset) not in comparison_datasets(registry):
        raise InputError(f"unknown dataset {shown(dataset)}; pick one of: "
                         f"{', '.join(comparison_datasets(registry)) or 'none (no models)'}.")
    key = dataset_key(dataset)
    found: dict[str, str] = {}
    for name in registry.names():
        info = registry.info(name)
        if info.error or dataset_key(info.dataset) != key or info.kind not in KINDS:
            continue
        if info.kind not in found or name == f"{key}-{info.kind}":
            found[info.kind] = name
    return {k: found[k] for k in KINDS if k in found}


def prior_grid(loaded: LoadedModel, seed: int, rows: int = COMPARE_ROWS, cols: int = COMPARE_COLS):
    """rows x cols images decoded from z ~ N(0, I) drawn with `seed` (a conditional model: row r is class r mod C).

    The same seed gives the same z for every model of the same latent size. A plain AE is sampled the same way
    on purpose: that is the lesson. Returns (grid (H, W) uint8 from torchvision's make_grid, z (rows*cols, D)).
    """
    z = loaded.backend.sample(rows * cols, validate_seed(seed))                      # (N, D)
    y = (np.arange(rows * cols) // cols) % loaded.num_classes if loaded.num_classes else None
    return sheet(loaded.backend.decode(z, y), nrow=cols, padding=2), z


def _hex_rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def map_thumbnail(lmap: LatentMap, samples: np.ndarray | None = None, size: int = 240) -> np.ndarray:
    """A small static picture of the PCA map: (size, size, 3) uint8, test points coloured by class and the
    rows of `samples` (latent vectors, (N, D)) projected onto the same plane as black crosses. The view covers
    both, so samples that fall far from the data show as such."""
    xy = (lmap.mu - lmap.pca_mean) @ lmap.pca_components.T                          # (N, 2), = the stored PCA
    pts = [xy] if samples is None else [xy, (np.asarray(samples) - lmap.pca_mean) @ lmap.pca_components.T]
    allp = np.concatenate(pts)
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = float(max(hi - lo)) or 1.0
    centre = (lo + hi) / 2
    margin = 6

    def to_px(p):  # (N, 2) plane coordinates -> pixel columns and rows (y up), kept off the border
        q = np.round((p - centre) / span * (size - 2 * margin) + size / 2).astype(int)
        return np.clip(q[:, 0], 1, size - 2), np.clip(size - q[:, 1], 1, size - 2)

    img = np.full((size, size, 3), 255, np.uint8)
    px, py = to_px(xy)
    colours = np.array([_hex_rgb(CLASS_COLORS[c % len(CLASS_COLORS)]) for c in range(max(len(lmap.class_names), 1))],
                       np.uint8)
    col = colours[lmap.labels % len(colours)]
    for dy in (0, 1):  # 2 x 2 dots
        for dx in (0, 1):
            img[np.clip(py + dy, 0, size - 1), np.clip(px + dx, 0, size - 1)] = col
    if samples is not None:
        sx, sy = to_px(pts[1])
        for d in (-2, -1, 0, 1, 2):  # a 5-px cross per sample
            img[np.clip(sy + d, 0, size - 1), sx] = 0
            img[sy, np.clip(sx + d, 0, size - 1)] = 0
    return img


def metrics_table(infos: dict[str, ModelInfo]) -> str:
    """Markdown table of the metrics.json figures of each model, one column per model."""
    names = list(infos)
    lines = ["| figure | " + " | ".join(f"{infos[n].kind.upper()} ({n})" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    for f in FIGURES:
        cells = [f.format((infos[n].metrics or {}).get(f.key)) for n in names]
        lines.append(f"| {f.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_models(registry: ModelRegistry, dataset: str, seed=0) -> dict:
    """AE, VAE and CVAE of one dataset side by side.

    Returns {"dataset", "seed", "models": {kind: {"name", "grid" (uint8 image), "map" (RGB uint8 image),
    "metrics" (metrics.json or {})}}, "missing": [kinds with no model], "table": markdown, "why": sentence}.
    """
    seed = validate_seed(seed)
    found = models_for_dataset(registry, dataset)
    out = {}
    for kind, name in found.items():
        loaded = registry.get(name)
        grid, z = prior_grid(loaded, seed)
        out[kind] = {"name": name, "grid": grid, "map": map_thumbnail(loaded.latent_map, z),
                     "metrics": loaded.info.metrics or {}}
    return {"dataset": dataset_key(dataset), "seed": seed, "models": out,
            "missing": [k for k in KINDS if k not in found],
            "table": metrics_table({found[k]: registry.info(found[k]) for k in found}), "why": WHY_AE_DEGRADES}


def compare_summary(result: dict) -> dict:
    """The JSON part of compare_models for the API: names, metrics and what is missing."""
    return {"dataset": result["dataset"], "seed": result["seed"], "why": result["why"],
            "missing": result["missing"],
            "models": {k: {"name": v["name"], "metrics": v["metrics"]} for k, v in result["models"].items()}}
