"""AE vs VAE vs CVAE vs GAN: the same 80 prior codes decoded by the models trained on one dataset, with their maps
and test figures side by side (a plain AE cannot sample while a VAE can; a GAN's samples are sharper, but it has no
encoder, so the code of a real image has to be searched for).

The figures under each grid come from the folder's metrics.json, written when the model was evaluated
(`python -m training evaluate`); nothing is computed at request time, and a figure a folder lacks shows as "—"."""
from __future__ import annotations

import math

import numpy as np

from training.figures import FIGURES

from ..latent_map import CLASS_COLORS, LatentMap
from ..modalities.image import sheet
from ..registry import LoadedModel, ModelInfo, ModelRegistry
from ..validation import InputError, shown, validate_seed

KINDS = ("ae", "vae", "cvae", "gan")  # the kinds this lesson puts side by side, in page order (its kind table)
WHY_AE_DEGRADES = ("The AE's random samples degrade because nothing in its training shaped its latent space to "
                   "N(0, I): its codes sit wherever the encoder put them (the coloured points), so most draws from "
                   "N(0, I) (the black crosses) land where the decoder has never been.")
LESSON = ("A VAE and a GAN both turn random codes into new pictures, and the GAN's are sharper, but a GAN has no "
          "encoder, so its reconstruction of a real picture comes from an optimiser searching for a code, which is "
          "slower and worse than an encoder's, while a plain AE has an encoder but cannot make new pictures from "
          "random codes at all.")
SOURCE = ("Figures from each model's metrics.json, computed when the model was evaluated (`python -m training "
          "evaluate`), none at request time; \"—\": the folder has no such figure. Fréchet distance: between a "
          "judge CNN's features of the model's prior samples and of the test images (lower is closer; \"real\": "
          "real training images against the test images, the floor). Mode coverage: the smallest and largest share "
          "of the samples that the judge puts in one class (even coverage gives every class 1/C). Reconstruction: "
          "nats per test image, through the encoder, or for a GAN through inversion (an optimiser's code).")
COMPARE_ROWS, COMPARE_COLS = 10, 8
CODE_WIDTH = 32  # the codes are drawn this wide (the training package's largest latent_dim) and each model takes
                 # its first D coordinates, so models of different latent sizes get the same codes, cut to size
DASH = "—"


def dataset_key(name) -> str:
    return str(name or "").strip().lower().replace("_", "-")


def comparison_datasets(registry: ModelRegistry) -> list[str]:
    """Datasets with at least one model of the comparison's KINDS, in registry order."""
    out = []
    for name in registry.names():
        info = registry.info(name)
        key = dataset_key(info.dataset)
        if info.kind in KINDS and info.modality == "image" and not info.error and key and key not in out:
            out.append(key)
    return out


def models_for_dataset(registry: ModelRegistry, dataset: str) -> dict[str, str]:
    """{kind: model name} of the first readable model of each kind trained on `dataset` (the shipped
    "<dataset>-<kind>" folder when there is one)."""
    if isinstance(dataset, str) and dataset_key(dataset) not in comparison_datasets(registry) and any(
            registry.info(n).modality != "image" and dataset_key(registry.info(n).dataset) == dataset_key(dataset)
            for n in registry.names()):
        raise InputError(f"{shown(dataset)} holds text models: the AE / VAE / CVAE / GAN comparison puts image "
                         "sample grids side by side, so it is for image datasets only; pick one of: "
                         f"{', '.join(comparison_datasets(registry)) or 'none (no image models)'}.")
    if not isinstance(dataset, str) or dataset_key(dataset) not in comparison_datasets(registry):
        raise InputError(f"unknown dataset {shown(dataset)}; pick one of: "
                         f"{', '.join(comparison_datasets(registry)) or 'none (no models)'}.")
    key = dataset_key(dataset)
    found: dict[str, str] = {}
    for name in registry.names():
        info = registry.info(name)
        if info.error or dataset_key(info.dataset) != key or info.kind not in KINDS or info.modality != "image":
            continue
        if info.kind not in found or name == f"{key}-{info.kind}":
            found[info.kind] = name
    return {k: found[k] for k in KINDS if k in found}


def prior_codes(seed: int, latent_dim: int, n: int = COMPARE_ROWS * COMPARE_COLS) -> np.ndarray:
    """The n codes z ~ N(0, I) every model of the comparison decodes: (n, latent_dim) float32, the first
    latent_dim coordinates of n codes CODE_WIDTH wide drawn with `seed` (numpy's default generator). The same seed
    gives every model the same codes, a model of a smaller latent size the same codes cut to its size."""
    width = max(CODE_WIDTH, int(latent_dim))
    return np.random.default_rng(validate_seed(seed)).standard_normal((n, width)).astype(np.float32)[:, :latent_dim]


def prior_grid(loaded: LoadedModel, seed: int, rows: int = COMPARE_ROWS, cols: int = COMPARE_COLS):
    """rows x cols images decoded from the prior codes of `seed` (prior_codes; a conditional model: row r is class
    r mod C).

    A plain AE is sampled the same way on purpose: that is the lesson. Returns (grid (H, W) uint8 from
    torchvision's make_grid, z (rows*cols, D)).
    """
    z = prior_codes(seed, loaded.latent_dim, rows * cols)                            # (N, D)
    y = (np.arange(rows * cols) // cols) % loaded.num_classes if loaded.num_classes else None
    return sheet(loaded.backend.decode(z, y), nrow=cols, padding=2), z


def _share(v) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def mode_coverage(metrics: dict | None, num_classes: int = 0) -> dict | None:
    """How evenly a model's samples cover the classes, from metrics.json: {"min", "max" (the smallest and largest
    share of the samples that the judge puts in one class, 0..1), "classes"}. The evaluation's own
    `mode_coverage_min` / `mode_coverage_max` when there are both, else the min and max of `class_histogram`
    (samples per class, as counts or shares); None where metrics.json has neither."""
    m = metrics or {}
    hist = m.get("class_histogram")
    if isinstance(hist, dict):
        hist = list(hist.values())
    counts = [_share(v) for v in hist] if isinstance(hist, list) else []
    if not (counts and all(c is not None and c >= 0 for c in counts) and sum(counts) > 0):
        counts = []
    classes = len(counts) or num_classes or None
    lo, hi = _share(m.get("mode_coverage_min")), _share(m.get("mode_coverage_max"))
    if lo is not None and hi is not None:
        return {"min": lo, "max": hi, "classes": classes}
    if counts:
        total = sum(counts)
        return {"min": min(counts) / total, "max": max(counts) / total, "classes": classes}
    return None


def model_figures(info: ModelInfo) -> dict:
    """The figures shown under a model's grid, from its metrics.json (None where it has none): {"fd", "fd_floor",
    "mode_coverage" (mode_coverage), "recon" (nats per test image), "recon_via" ("encoder", "inversion" for a
    model whose codes of pictures come from an optimiser, or None for a model with neither)}."""
    m = info.metrics or {}
    caps = info.capabilities
    return {"fd": _share(m.get("fd")), "fd_floor": _share(m.get("fd_floor")),
            "mode_coverage": mode_coverage(m, len(info.class_names)), "recon": _share(m.get("recon")),
            "recon_via": "encoder" if caps.encode else ("inversion" if caps.invert else None)}


def figures_markdown(fig: dict) -> str:
    """The three lines under a grid: Fréchet distance, mode coverage and reconstruction error ("—" when missing)."""
    fd = DASH if fig["fd"] is None else f"**{fig['fd']:.1f}**" + (
        f" (real: {fig['fd_floor']:.1f})" if fig["fd_floor"] is not None else "")
    cov = fig["mode_coverage"]
    if cov is None:
        share = DASH
    else:
        share = f"**{cov['min']:.0%}–{cov['max']:.0%}** of samples per class" + (
            f" (even: {1 / cov['classes']:.0%})" if cov["classes"] else "")
    if fig["recon"] is None:
        recon = DASH
    else:
        recon = f"**{fig['recon']:.1f}** nats" + (" *through inversion*" if fig["recon_via"] == "inversion" else "")
    return f"Fréchet distance: {fd}  \nMode coverage: {share}  \nReconstruction: {recon}"


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
    """Markdown table of the metrics.json figures of each model, one column per model (a GAN's reconstruction
    labelled as through inversion)."""
    names = list(infos)
    lines = ["| figure | " + " | ".join(f"{infos[n].kind.upper()} ({n})" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    inverted = {n for n in names if infos[n].capabilities.invert and not infos[n].capabilities.encode}
    for f in FIGURES:
        cells = [f.format((infos[n].metrics or {}).get(f.key)) for n in names]
        if f.key == "recon":  # a GAN's reconstruction is of the codes an optimiser found
            cells = [c + (" (through inversion)" if n in inverted and c != "n/a" else "") for n, c in zip(names, cells)]
        lines.append(f"| {f.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_models(registry: ModelRegistry, dataset: str, seed=0) -> dict:
    """AE, VAE, CVAE and GAN of one dataset side by side, each decoding the same 80 prior codes (prior_codes).

    Returns {"dataset", "seed", "models": {kind: {"name", "grid" (uint8 image), "map" (RGB uint8 image),
    "metrics" (metrics.json or {}), "figures" (model_figures)}}, "missing": [kinds with no model], "table":
    markdown, "why": sentence, "lesson": sentence, "source": where the figures come from}.
    """
    seed = validate_seed(seed)
    found = models_for_dataset(registry, dataset)
    out = {}
    for kind, name in found.items():
        loaded = registry.get(name)
        grid, z = prior_grid(loaded, seed)
        out[kind] = {"name": name, "grid": grid, "map": map_thumbnail(loaded.latent_map, z),
                     "metrics": loaded.info.metrics or {}, "figures": model_figures(loaded.info)}
    return {"dataset": dataset_key(dataset), "seed": seed, "models": out,
            "missing": [k for k in KINDS if k not in found],
            "table": metrics_table({found[k]: registry.info(found[k]) for k in found}), "why": WHY_AE_DEGRADES,
            "lesson": LESSON, "source": SOURCE}


def compare_summary(result: dict) -> dict:
    """The JSON part of compare_models for the API: names, metrics, the figures under each grid and what is
    missing."""
    return {"dataset": result["dataset"], "seed": result["seed"], "why": result["why"], "lesson": result["lesson"],
            "missing": result["missing"],
            "models": {k: {"name": v["name"], "metrics": v["metrics"], "figures": v["figures"]}
                       for k, v in result["models"].items()}}
