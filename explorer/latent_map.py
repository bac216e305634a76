"""The latent map of a model: stored projections of the test set, point lookup and the plotly figure.

Everything comes from the model folder's `latent_map.npz`, written once by training; nothing is projected or
fitted here. The only maths done live is cheap: projecting the current z onto the stored PCA plane and finding
the stored point nearest to it.

npz arrays (N test images, D latent dimensions):
    mu (N, D) float32, labels (N,) int64, images (N, H, W) uint8 (the model's output shape, 28 x 28 for
    MNIST), pca (N, 2), tsne (N, 2),
    pca_mean (D,), pca_components (2, D)   so that pca ~= (mu - pca_mean) @ pca_components.T
    umap (N, 2)                           optional: maps made where umap-learn is installed have it
    pca3 (N, 3), pca3_components (3, D)  optional, the 3-D view: pca3 ~= (mu - pca_mean) @ pca3_components.T
    umap3 (N, 3)                          optional, the 3-D UMAP (`python -m training add-3d` adds both)
    split (N,) uint8                      optional: 0 a test image, 1 a training image (absent: all test images)
    image_files (K,) str, images_sha ()   instead of `images`, for a map of more than 12,000 images: the images
                                          are in the K files named (latent_map_images-SHA-NN.npz, each under 10 MB)

A text model's map (training.text_evaluate.build_text_map) holds sentences instead of images:
    texts (N,) str, headwords (N,) str, categories (N,) str (the fine WordNet lexname), labels (N,) the category
    group (an index into the model's class_names); mu, pca, pca_mean, pca_components as above; tsne and umap optional.
Its LatentMap keeps the sentences as `images` too ("the stored test outputs", in the modality's own form), so point
lookup and the tools work unchanged, and `texts` / `headwords` / `categories` for the text views.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .validation import InputError, shown, to_float, validate_z

MAP_NAME = "latent_map.npz"
PROJECTIONS = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}  # key in the npz -> label shown to people
OPTIONAL_PROJECTIONS = ("umap",)  # older maps (and machines without umap-learn) lack these
PROJECTIONS_3D = ("pca", "umap")  # the views a map may store in 3-D too (t-SNE is 2-D only)
NO_3D = ("This model's map has no 3-D coordinates: add them with `python -m training add-3d {folder}` (no "
         "retraining).")

# Tableau 10: distinct, colour-blind-friendlier than most; more classes cycle through a second palette.
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
                "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173",
                "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]
MARKER_COLOR = "#111111"
MARKER_FILL = "#ffd700"
TSNE_NOTE = ("t-SNE has no formula for placing a new point, so on this view the yellow dot sits on the map's point "
             "whose latent mean is nearest to the current z.")
UMAP_NOTE = ("The stored UMAP layout cannot place a new point, so on this view the yellow dot sits on the map's point "
             "whose latent mean is nearest to the current z.")
PCA_NOTE = "The yellow dot is the current slider vector, projected onto the same PCA plane as the map's points."


SPLIT_NAMES = ("test", "train")   # the map's split codes (training.evaluate.SPLIT_NAMES)
SPLIT_CHOICES = ("both", "test", "train")    # what the map's split switch shows
ONE_SPLIT = ("This model's map holds its test images only: add the training images with "
             "`python -m training add-train {folder}` (no retraining).")

# Images shared by several maps (the models of one dataset), kept once in memory: images_sha -> (N, ...) uint8.
_SHARED_IMAGES: dict[str, np.ndarray] = {}


class MapLoadError(ValueError):
    """A latent_map.npz that is missing or malformed; the message names the file and the fix."""


@dataclass(frozen=True, eq=False)
class LatentMap:
    mu: np.ndarray              # (N, D) float32 posterior means (codes for an AE)
    labels: np.ndarray          # (N,) int64 class ids
    images: np.ndarray          # (N, H, W) uint8 test images
    coords: dict                # projection key -> (N, 2) float32
    pca_mean: np.ndarray        # (D,)
    pca_components: np.ndarray  # (2, D)
    class_names: list
    by_class: dict = field(default_factory=dict)  # class id -> indices, so the figure has one trace per class
    texts: np.ndarray | None = None       # (N,) str: a text map's test sentences (None for an image map)
    headwords: np.ndarray | None = None   # (N,) str: the word each sentence defines ("" where none)
    categories: np.ndarray | None = None  # (N,) str: the fine category (a WordNet lexname, "noun.animal")
    coords3: dict = field(default_factory=dict)  # projection key -> (N, 3) float32: the 3-D views it stores
    pca3_components: np.ndarray | None = None    # (3, D): the 3-D PCA's basis (on pca_mean)
    split: np.ndarray | None = None              # (N,) uint8, 0 test / 1 train (None: every point is a test one)
    split_pos: np.ndarray | None = None          # (N,) int64: each point's index within its split

    @property
    def n(self) -> int:
        return int(self.labels.shape[0])

    @property
    def splits(self) -> tuple[str, ...]:
        """The splits the map holds, ("test",) or ("test", "train")."""
        if self.split is None:
            return ("test",)
        return tuple(SPLIT_NAMES[c] for c in range(len(SPLIT_NAMES)) if (self.split == c).any())

    def split_of(self, i: int) -> str:
        return "test" if self.split is None else SPLIT_NAMES[int(self.split[i])]

    def index_in_split(self, i: int) -> int:
        """Point i's index within its own split (the dataset's numbering): the map stores test images first."""
        return int(i) if self.split_pos is None else int(self.split_pos[i])

    def describe(self, i: int) -> str:
        """"test image #12" / "training image #3,401": how the page names point i."""
        return f"{'training' if self.split_of(i) == 'train' else 'test'} image #{self.index_in_split(i)}"

    @property
    def latent_dim(self) -> int:
        return int(self.mu.shape[1])


def load_latent_map(path: str | Path, latent_dim: int, class_names: list[str] | None = None,
                    image_shape: tuple = (28, 28), modality: str = "image") -> LatentMap:
    """Read and check a latent_map.npz written by training against the model's latent size, class names and output
    shape (modality "text": a map of sentences, see the module's docstring). Raises MapLoadError with the fix on
    any problem."""
    path = Path(path)
    text = modality == "text"
    regen = f"regenerate it with `python -m training evaluate {path.parent} --map`"
    if not path.is_file():
        raise MapLoadError(f"{path} is missing. The explorer needs the latent map of the test set; make it with "
                           f"`python -m training evaluate {path.parent} --map`.")
    want = (["mu", "labels", "texts", "headwords", "categories", "pca", "pca_mean", "pca_components"] if text else
            ["mu", "labels", "images", "pca", "tsne", "pca_mean", "pca_components"])
    optional = ("tsne", "umap") if text else OPTIONAL_PROJECTIONS
    try:
        with np.load(path, allow_pickle=False) as f:
            files = set(f.files)
            if not text and "images" not in files and "image_files" in files:
                want = [k for k in want if k != "images"] + ["image_files", "images_sha"]
            missing = [k for k in want if k not in files]
            if missing:
                raise MapLoadError(f"{path} lacks the arrays {missing}; {regen}.")
            a = {k: f[k] for k in want + [k for k in (*optional, "pca3", "pca3_components", "umap3", "split")
                                              if k in files]}
            if text:
                a["images"] = a["texts"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        if isinstance(e, MapLoadError):
            raise
        raise MapLoadError(f"{path} is not a readable .npz file ({e}); {regen}.") from e
    if "image_files" in a:
        a["images"] = _read_image_files(path, a["image_files"], str(a["images_sha"]), regen)

    n = a["labels"].shape[0] if a["labels"].ndim == 1 else -1
    checks = [
        (a["mu"].ndim == 2 and a["mu"].shape == (n, latent_dim), "mu", f"({n}, {latent_dim})"),
        (a["labels"].ndim == 1 and n > 0, "labels", "(N,) with N > 0"),
        *([(a[k].shape == (n,), k, f"({n},)") for k in ("texts", "headwords", "categories")] if text else
          [(a["images"].shape == (n, *image_shape), "images", str((n, *image_shape)))]),
        (a["pca"].shape == (n, 2), "pca", f"({n}, 2)"),
        *[(a[k].shape == (n, 2), k, f"({n}, 2)") for k in ("tsne", *optional) if k in a],
        (a["pca_mean"].shape == (latent_dim,), "pca_mean", f"({latent_dim},)"),
        (a["pca_components"].shape == (2, latent_dim), "pca_components", f"(2, {latent_dim})"),
        *[(a[k].shape == (n, 3), k, f"({n}, 3)") for k in ("pca3", "umap3") if k in a],
        *([(a["pca3_components"].shape == (3, latent_dim), "pca3_components", f"(3, {latent_dim})")]
          if "pca3_components" in a else []),
        *([(a["split"].shape == (n,) and np.isin(a["split"], (0, 1)).all(), "split", f"({n},) of 0 and 1")]
          if "split" in a else []),
    ]
    for ok, key, shape in checks:
        if not ok:
            raise MapLoadError(f"{path}: array '{key}' has shape {list(a[key].shape)}, expected {shape}. "
                               f"The map does not belong to this model; {regen}.")
    labels = a["labels"].astype(np.int64)
    if not class_names:  # a user's model without names: call the classes by their ids
        class_names = [str(i) for i in range(int(max(labels.max(), 0)) + 1)]
    if labels.min() < 0 or labels.max() >= max(len(class_names), 1):
        raise MapLoadError(f"{path}: labels run from {labels.min()} to {labels.max()} but the model has "
                           f"{len(class_names)} class names; the map and config.json disagree.")
    by_class = {c: np.flatnonzero(labels == c) for c in range(len(class_names))}
    if text:
        texts, heads, cats = (np.array([str(t) for t in a[k]], dtype=object)
                              for k in ("texts", "headwords", "categories"))
        images = texts
    else:
        texts = heads = cats = None
        images = a["images"] if a["images"].dtype == np.uint8 else \
            (np.clip(a["images"], 0, 1) * 255).astype(np.uint8)
    return LatentMap(mu=a["mu"].astype(np.float32), labels=labels, images=images,
                     coords={k: a[k].astype(np.float32) for k in PROJECTIONS if k in a},
                     pca_mean=a["pca_mean"].astype(np.float32),
                     pca_components=a["pca_components"].astype(np.float32),
                     class_names=list(class_names), by_class=by_class, texts=texts, headwords=heads,
                     categories=cats,
                     # the 3-D PCA needs its basis too, so that the current z goes on it exactly
                     coords3={k: a[f"{k}3"].astype(np.float32) for k in PROJECTIONS_3D if f"{k}3" in a
                              and (k != "pca" or "pca3_components" in a)},
                     pca3_components=a["pca3_components"].astype(np.float32) if "pca3_components" in a else None,
                     split=a["split"].astype(np.uint8) if "split" in a else None,
                     split_pos=_split_positions(a["split"]) if "split" in a else None)


def _split_positions(split: np.ndarray) -> np.ndarray:
    pos = np.zeros(split.shape, np.int64)
    for c in np.unique(split):
        m = split == c
        pos[m] = np.arange(int(m.sum()))
    return pos


def _read_image_files(path: Path, names, sha: str, regen: str) -> np.ndarray:
    """A large map's images from the files it names (kept once in memory for maps that share them)."""
    if sha in _SHARED_IMAGES:
        return _SHARED_IMAGES[sha]
    parts = []
    for name in (str(x) for x in np.atleast_1d(names)):
        file = path.parent / name
        if Path(name).name != name or not file.is_file():
            raise MapLoadError(f"{file} is missing: the map keeps its images in {len(np.atleast_1d(names))} files "
                               f"beside it; copy the whole model folder, or {regen}.")
        try:
            with np.load(file, allow_pickle=False) as f:
                parts.append(f["images"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise MapLoadError(f"{file} is not a readable image file of this map ({e}); {regen}.") from e
    images = np.concatenate(parts) if len({p.shape[1:] for p in parts}) == 1 else np.zeros((0,))
    _SHARED_IMAGES[sha] = images
    return images


# ---------------------------------------------------------------------------------------------------------------
# Lookups

def _numbering(lmap: LatentMap) -> str:
    """How the map's points are numbered, for messages: "test images, numbered 0 to 9999", or, with a training
    split, where each split's points lie."""
    if lmap.split is None or len(lmap.splits) < 2:
        return f"test images, numbered 0 to {lmap.n - 1}"
    n_test = int((lmap.split == 0).sum())
    return (f"points, numbered 0 to {lmap.n - 1} (0 to {n_test - 1} are the test images, {n_test} to {lmap.n - 1} "
            f"the training images)")


def check_index(lmap: LatentMap, index) -> int:
    """A map point index as an int in 0..N-1, or InputError saying the valid range."""
    try:
        f = to_float(index)
    except (TypeError, ValueError):
        raise InputError(f"the point index must be a whole number from 0 to {lmap.n - 1}, "
                         f"got {shown(index)}.") from None
    if isinstance(index, bool) or not np.isfinite(f) or f != int(f) or not 0 <= f < lmap.n:
        raise InputError(f"point index {shown(index)} is out of range: this map has {lmap.n} "
                         f"{_numbering(lmap)}.")
    return int(f)


@dataclass(frozen=True)
class Point:
    index: int
    image: np.ndarray  # (H, W) uint8
    label: int
    class_name: str
    mu: np.ndarray     # (D,) float32


def lookup_point(lmap: LatentMap, index) -> Point:
    """The stored test image, class and latent mean at `index` (InputError when out of range)."""
    i = check_index(lmap, index)
    label = int(lmap.labels[i])
    return Point(i, lmap.images[i], label, lmap.class_names[label], lmap.mu[i])


def project_pca(lmap: LatentMap, z) -> tuple[float, float]:
    """Place any z on the stored PCA plane: (z - pca_mean) @ pca_components.T."""
    z = validate_z(z, lmap.latent_dim)
    xy = (z - lmap.pca_mean) @ lmap.pca_components.T  # (2,)
    return float(xy[0]), float(xy[1])


def nearest_index(lmap: LatentMap, z) -> int:
    """Index of the stored latent mean nearest to z (Euclidean). (N, D) <= (10000, 32): well under a millisecond."""
    z = validate_z(z, lmap.latent_dim)
    d = lmap.mu - z
    return int(np.einsum("nd,nd->n", d, d).argmin())


def marker_position(lmap: LatentMap, z, projection: str) -> dict:
    """Where the current-z marker goes on a projection: {"x", "y", "index", "note", "projection"}, with "xyz" where
    the map has the projection in 3-D and "views" (marker_views: the same z on every stored view).

    PCA is a linear map, so z is projected exactly. t-SNE has no map for new points, so the marker sits on the
    stored point whose latent mean is nearest to z, and the note says so.
    """
    projection = check_projection(projection)
    check_stored(lmap, projection)
    views, nearest = _marker_views(lmap, z)
    x, y = views[projection]
    note = {"pca": PCA_NOTE, "tsne": TSNE_NOTE}.get(projection, UMAP_NOTE)
    out = {"x": x, "y": y, "index": None if projection == "pca" else nearest, "note": note,
           "projection": projection}      # the page draws a new view before its marker comes: it checks this
    if projection + "3" in views:
        out["xyz"] = views[projection + "3"]     # the same z in the 3-D view, for the page's 3-D switch
    out["views"] = views
    return out


def marker_views(lmap: LatentMap, z) -> dict:
    """The current z's marker on every stored view, {"pca": [x, y], "tsne": [x, y], ..., "pca3": [x, y, z], ...}:
    the page switches views in place (static/latent_map.js) and draws the new one with its marker already on it.
    PCA exact, the others at the nearest stored point."""
    return _marker_views(lmap, z)[0]


def _marker_views(lmap: LatentMap, z) -> tuple[dict, int | None]:
    """marker_views, and the index of the stored point nearest to z (None where only PCA is stored): one search."""
    zz = validate_z(z, lmap.latent_dim)
    needs_nearest = any(key != "pca" for key in (*lmap.coords, *lmap.coords3))
    i = nearest_index(lmap, zz) if needs_nearest else None
    views: dict = {}
    for key, xy in lmap.coords.items():
        views[key] = list(project_pca(lmap, zz)) if key == "pca" else [float(xy[i, 0]), float(xy[i, 1])]
    for key, xyz in lmap.coords3.items():
        p = (zz - lmap.pca_mean) @ lmap.pca3_components.T if key == "pca" else xyz[i]
        views[key + "3"] = [float(c) for c in p]
    return views, i


def check_projection(projection: str) -> str:
    key = {"pca": "pca", "tsne": "tsne", "t-sne": "tsne", "umap": "umap"}.get(str(projection).strip().lower())
    if key is None:
        raise InputError(f"unknown projection {shown(projection)}; use 'pca', 'tsne' or 'umap'.")
    return key


def check_stored(lmap: LatentMap, projection: str) -> np.ndarray:
    """The (N, 2) coordinates of a projection the map stores, or InputError saying how to add it."""
    xy = lmap.coords.get(projection)
    if xy is None:
        raise InputError(f"this model's latent map has no {PROJECTIONS[projection]} coordinates; pick "
                         f"{' or '.join(PROJECTIONS[k] for k in lmap.coords)}, or add them with "
                         "`python -m training add-umap MODEL_FOLDER`.")
    return xy


def projection_choices(lmap: LatentMap) -> list[tuple[str, str]]:
    """(label, key) of every projection the map stores, e.g. PCA, t-SNE and UMAP (UMAP only where it was made)."""
    return [(label, key) for key, label in PROJECTIONS.items() if key in lmap.coords]


def latent_ranges(lmap: LatentMap, minimum: float = 3.0, per_dimension: bool = False) -> np.ndarray:
    """Half-width of each slider, (D,) float: at least `minimum` and far enough that every stored code fits, so
    clicking any point loads a z the sliders can hold.

    One width for all dimensions suits a VAE, whose prior N(0, I) treats them alike; `per_dimension=True` suits a
    plain AE, whose dimensions can have very different scales.
    """
    reach = np.ceil(np.abs(lmap.mu).max(axis=0))  # (D,)
    if not per_dimension:
        reach = np.full_like(reach, reach.max())
    return np.maximum(reach, minimum).astype(np.float64)


# ---------------------------------------------------------------------------------------------------------------
# The figure

def build_figure(lmap: LatentMap, projection: str, marker: dict | None = None, *, title: str = "") -> dict:
    """A plotly figure (plain JSON-able dict) of every test image on a stored projection.

    One WebGL (`scattergl`) trace per class, so the legend lists class names and a click on the legend hides a
    class. Each point carries its test-image index in `customdata`: the browser sends it back on click. The last
    marker for the current z is `layout.shapes[0]`, a fixed-size circle anchored at the data point.
    """
    projection = check_projection(projection)
    xy = check_stored(lmap, projection)
    xy = np.round(xy.astype(np.float64), 3)  # 3 decimals is far finer than a pixel; halves the JSON
    data = _class_traces(lmap, "scattergl", xy, {"size": 4, "opacity": 0.65})
    # The current-z marker is a layout shape of fixed pixel size anchored at (x, y): moving it is a cheap relayout,
    # whereas restyling a trace would redraw all 10,000 WebGL points. A legend-only trace explains it.
    m = marker or {}
    data.append({
        "type": "scatter", "mode": "markers", "name": "current z", "x": [None], "y": [None],
        "marker": {"size": 14, "color": MARKER_FILL, "line": {"width": 3, "color": MARKER_COLOR}},
        "hoverinfo": "skip",
    })
    shape = {"type": "circle", "xref": "x", "yref": "y", "xsizemode": "pixel", "ysizemode": "pixel",
             "x0": -8, "x1": 8, "y0": -8, "y1": 8, "xanchor": m.get("x", 0.0), "yanchor": m.get("y", 0.0),
             "fillcolor": MARKER_FILL, "line": {"width": 3, "color": MARKER_COLOR}, "layer": "above",
             "visible": "x" in m}
    axis = {"showgrid": False, "zeroline": False, "showticklabels": False, "ticks": ""}
    label = PROJECTIONS[projection]
    layout = {
        "title": {"text": title, "font": {"size": 14}} if title else None,
        "xaxis": {**axis, "title": {"text": f"{label} 1"}},
        "yaxis": {**axis, "title": {"text": f"{label} 2"}},
        "legend": {"itemsizing": "constant", "title": {"text": "category" if lmap.texts is not None else "class"}},
        "margin": {"l": 30, "r": 10, "t": 30 if title else 10, "b": 30},
        "hovermode": "closest", "dragmode": "pan",
        "plot_bgcolor": "#ffffff", "paper_bgcolor": "rgba(0,0,0,0)",
        "uirevision": f"{projection}",  # keep zoom while only the marker moves
        "shapes": [shape],
    }
    return {"data": data, "layout": {k: v for k, v in layout.items() if v is not None},
            "projection": projection, "n": lmap.n, "thumbnails": lmap.texts is None,  # a text map has no images
            "splits": list(lmap.splits)}


def build_figure_3d(lmap: LatentMap, projection: str, marker: dict | None = None) -> dict:
    """The 3-D view of a projection the map stores in 3-D (PCA, UMAP): one WebGL scatter3d trace per class, the
    test-image index in customdata (a click sends it back, as in 2-D), and the current z as the last trace, one
    point (moved with a restyle of that trace alone)."""
    projection = check_projection(projection)
    xyz = lmap.coords3.get(projection)
    if xyz is None:
        raise InputError(f"this model's map has no 3-D {PROJECTIONS[projection]} coordinates; add them with "
                         "`python -m training add-3d MODEL_FOLDER`, or pick " +
                         (" or ".join(PROJECTIONS[k] for k in lmap.coords3) if lmap.coords3 else "the 2-D view") + ".")
    xyz = np.round(xyz.astype(np.float64), 3)
    data = _class_traces(lmap, "scatter3d", xyz, {"size": 2, "opacity": 0.7})
    m = marker or {}
    data.append({"type": "scatter3d", "mode": "markers", "name": "current z", "x": [m.get("x")], "y": [m.get("y")],
                 "z": [m.get("z")], "hoverinfo": "skip",
                 "marker": {"size": 7, "color": MARKER_FILL, "line": {"width": 2, "color": MARKER_COLOR}}})
    label = PROJECTIONS[projection]
    axis = {"showticklabels": False, "showspikes": False, "backgroundcolor": "#ffffff"}
    layout = {"scene": {"xaxis": {**axis, "title": {"text": f"{label} 1"}},
                        "yaxis": {**axis, "title": {"text": f"{label} 2"}},
                        "zaxis": {**axis, "title": {"text": f"{label} 3"}}, "dragmode": "turntable"},
              "legend": {"itemsizing": "constant",
                         "title": {"text": "category" if lmap.texts is not None else "class"}},
              "margin": {"l": 0, "r": 0, "t": 10, "b": 0}, "hovermode": "closest",
              "paper_bgcolor": "rgba(0,0,0,0)", "uirevision": f"3d-{projection}"}
    return {"data": data, "layout": layout, "projection": projection, "n": lmap.n, "dims": 3, "thumbnails": False,
            "splits": list(lmap.splits)}


def _class_traces(lmap: LatentMap, kind: str, coords: np.ndarray, marker: dict) -> list[dict]:
    """The points as traces of `kind` (scattergl, scatter3d), each point's map index in customdata.

    A map of one split: one trace per class, so the legend lists class names and a click on the legend hides a
    class. A map of test and training images: one trace per class and split ("xp_split": the page's split switch
    shows or hides them, static/latent_map.js) and, per class, a legend-only trace of its legend group, so the legend
    still colours and hides by class whichever splits are shown. Training points come first: test points draw on top.
    """
    cols = "xyz"[:coords.shape[1]]
    split = lmap.split if lmap.split is not None and len(lmap.splits) > 1 else None
    data, legend = [], []
    for s in ((1, 0) if split is not None else (None,)):
        for c, idx in lmap.by_class.items():
            if s is not None:
                idx = idx[split[idx] == s]
            if idx.size == 0:
                continue
            name = lmap.class_names[c]
            color = CLASS_COLORS[c % len(CLASS_COLORS)]
            what = "training image" if s == 1 else "test image"
            trace = {"type": kind, "mode": "markers", "name": name,
                     **{k: coords[idx, j].tolist() for j, k in enumerate(cols)}, "customdata": idx.tolist(),
                     "marker": {**marker, "color": color},
                     "hovertemplate": f"<b>{_escape(name)}</b><br>{what} · point #%{{customdata}}<extra></extra>"
                     if s is not None else f"<b>{_escape(name)}</b><br>test image #%{{customdata}}<extra></extra>"}
            if lmap.texts is not None:  # a text map: hover shows the headword and its definition
                trace["text"] = [hover_text(lmap, i) for i in idx]
                trace["hovertemplate"] = f"%{{text}}<br><i>{_escape(name)}</i> · #%{{customdata}}<extra></extra>"
            if s is not None:
                trace.update(legendgroup=f"class-{c}", showlegend=False, xp_split=SPLIT_NAMES[s])
                if c not in {t["xp_class"] for t in legend}:
                    legend.append({"type": kind, "mode": "markers", "name": name, "legendgroup": f"class-{c}",
                                   "legendrank": c, "xp_class": c, "xp_legend": True, "hoverinfo": "skip",
                                   **{k: [None] for k in cols}, "marker": {**marker, "color": color}})
            data.append(trace)
    return data + sorted(legend, key=lambda t: t["xp_class"])


HOVER_CHARS = 90  # a definition longer than this is cut in the hover box (the click shows it whole)


def hover_text(lmap: LatentMap, i: int) -> str:
    """The hover box of text point i: "<b>headword</b>: definition", HTML-escaped, the definition cut to HOVER_CHARS."""
    text = str(lmap.texts[i])
    text = text if len(text) <= HOVER_CHARS else text[:HOVER_CHARS - 1] + "…"
    head = str(lmap.headwords[i]) if lmap.headwords is not None else ""
    return (f"<b>{_escape(head)}</b>: " if head else "") + _escape(text)


def _escape(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
