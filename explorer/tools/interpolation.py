"""Interpolation: decode the codes on the path between two points of the latent space.

Plain functions on a LoadedModel (explorer.registry) and plain values: the tab in explorer.ui.tabs.interpolation and
the /interpolate endpoint call them, and tests call them without a server. A mistake raises InputError whose message
names the problem and the fix.

Shapes: z is (D,) float32; a batch of codes is (N, D); decoded outputs are (N, H, W) float32 in [0, 1] (a text
model's: (N,) sentences, the homotopy of Bowman et al. 2016). The whole path decodes in one forward pass.
"""
from __future__ import annotations

import numpy as np

from ..latent_map import LatentMap, check_index, nearest_index
from ..modalities.image import labelled_sheet
from ..registry import LoadedModel
from ..validation import InputError, choice, shown, validate_label, validate_z, whole

MIN_STEPS, MAX_STEPS = 2, 32
MODES = ("linear", "slerp")
CLASS_MODES = ("fixed", "sweep")   # a conditional model's class along the path: A's class throughout, or A's then B's


def check_steps(steps) -> int:
    """The number of images of an interpolation strip, A and B included: a whole number in 2..32."""
    if whole(steps, MIN_STEPS, MAX_STEPS) is None:
        raise InputError(f"steps must be a whole number from {MIN_STEPS} to {MAX_STEPS} (the images in the strip, "
                         f"A and B included), got {shown(steps)}.")
    return int(steps)


def check_mode(mode) -> str:
    return choice(mode, MODES, "interpolation mode")


def check_class_mode(class_mode) -> str:
    return choice(class_mode, CLASS_MODES, "class mode")


def point_from_index(loaded: LoadedModel, index) -> dict:
    """An end of an interpolation: test image `index`, with its stored latent mean and class.

    Returns {"index", "z" (list of D floats), "label" (its class), "name"}."""
    lmap = loaded.latent_map
    i = check_index(lmap, index)
    label = int(lmap.labels[i])
    name = (f"test image #{i} ({lmap.class_names[label]})" if lmap.texts is None else
            f"definition #{i} of \u201c{lmap.headwords[i]}\u201d ({lmap.class_names[label]})")
    return {"index": i, "z": [float(v) for v in lmap.mu[i]], "label": label, "name": name}


def point_from_z(loaded: LoadedModel, z, label=None) -> dict:
    """An end of an interpolation from a free z (the sliders), with the class it is decoded as (CVAE)."""
    z = validate_z(z, loaded.latent_dim)
    lab = validate_label(label, loaded.num_classes)
    if loaded.num_classes and lab is None:
        lab = 0
    name = "the current z" + (f" as {loaded.class_names[lab]}" if lab is not None else "")
    return {"index": None, "z": [float(v) for v in z], "label": lab, "name": name}


def check_point(loaded: LoadedModel, value, which: str) -> dict:
    """A point as the page or a script sends it: {"index": i} or {"z": [...], "label": c}. InputError otherwise."""
    if value is None or value == {} or value == "":
        raise InputError(f"point {which} is not set: click a point on the map and press \"Set {which}\", or turn "
                         f"on \"pick A and B on the map\" and click two points.")
    if not isinstance(value, dict):
        raise InputError(f"point {which} must be {{\"index\": a test image}} or {{\"z\": a list of numbers}}, "
                         f"got {shown(value)}.")
    if value.get("index") is not None:
        return point_from_index(loaded, value["index"])
    if "z" in value:
        return point_from_z(loaded, value["z"], value.get("label"))
    raise InputError(f"point {which} must hold \"index\" (a test image) or \"z\" (a list of numbers), "
                     f"got {shown(value)}.")


def interpolation_codes(za, zb, steps: int, mode: str) -> tuple[np.ndarray, str]:
    """`steps` codes from za to zb, both ends included: (steps, D) float32, and a note on how.

    linear: (1 - t) a + t b. slerp (spherical): along the great circle, sin((1-t) W)/sin W a + sin(t W)/sin W b,
    W the angle between a and b; it keeps the norm near that of the ends, where a Gaussian prior puts its mass,
    instead of cutting through the low-density middle. Near-parallel or opposite ends fall back to linear.
    """
    a, b = np.asarray(za, np.float64), np.asarray(zb, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    note = "linear: straight line from A to B"
    if mode == "slerp":
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        if na > 1e-8 and nb > 1e-8:
            omega = np.arccos(np.clip(a @ b / (na * nb), -1.0, 1.0))
            so = np.sin(omega)
            if so > 1e-4:
                return (np.sin((1 - t) * omega) / so * a + np.sin(t * omega) / so * b).astype(np.float32), \
                    f"slerp: along the great circle through A and B (angle {np.degrees(omega):.0f}°)"
        note = "slerp falls back to linear: A or B is at the origin, or they point the same or opposite ways"
    return ((1 - t) * a + t * b).astype(np.float32), note


def path_on_map(lmap: LatentMap, zs: np.ndarray) -> dict:
    """Where a batch of codes falls on each stored projection: {"pca": {"x", "y"}, "tsne": {"x", "y"}, ...}.

    PCA is exact (the stored basis). t-SNE (and any other stored non-linear projection) cannot place new points, so
    each code goes to the position of the stored test code nearest to it, as the current-z marker does."""
    zs = np.asarray(zs, np.float32)
    idx = [nearest_index(lmap, z) for z in zs]
    out = {}
    for key, coords in lmap.coords.items():
        xy = (zs - lmap.pca_mean) @ lmap.pca_components.T if key == "pca" else coords[idx]  # (N, 2)
        out[key] = {"x": np.round(xy[:, 0].astype(np.float64), 4).tolist(),
                    "y": np.round(xy[:, 1].astype(np.float64), 4).tolist()}
    return out


PATH_NOTE = ("The black line on the map is the path: exact on PCA; t-SNE and UMAP cannot place new points, so there "
             "it joins the test images whose codes are nearest to each step.")


def interpolate_points(loaded: LoadedModel, a: dict, b: dict, steps, mode="linear", class_mode="fixed") -> dict:
    """Decode the path between two points (from check_point / point_from_index / point_from_z).

    CVAE: class_mode "fixed" decodes every step as A's class; "sweep" as A's class for the first half of the path
    and B's class for the second (the class is a discrete input of the decoder).
    Returns {"images" (steps, 28, 28), "z" (steps lists of D floats), "t", "labels" (None for unconditional
    models), "captions", "path" (see path_on_map), "a", "b" (the points), "note"}.
    """
    steps, mode = check_steps(steps), check_mode(mode)
    class_mode = check_class_mode(class_mode)
    conditional = bool(loaded.num_classes)
    za, zb = np.asarray(a["z"], np.float32), np.asarray(b["z"], np.float32)
    same_z = np.allclose(za, zb, atol=1e-6)
    same_class = (a.get("label") == b.get("label")) or not conditional or class_mode == "fixed"
    if (a.get("index") is not None and a.get("index") == b.get("index")) or (same_z and same_class):
        raise InputError(f"A and B are the same point ({a['name']}); pick a different point as B.")
    zs, note = interpolation_codes(za, zb, steps, mode)
    t = np.linspace(0.0, 1.0, steps)
    labels = None
    if conditional:
        la, lb = a["label"], b["label"]
        labels = [la] * steps if class_mode == "fixed" else [la if ti < 0.5 else lb for ti in t]
        note += (f"; every step decoded as class {loaded.class_names[la]} (A's class)" if class_mode == "fixed"
                 else f"; class {loaded.class_names[la]} for the first half, "
                      f"{loaded.class_names[lb]} for the second")
    imgs = loaded.backend.decode(zs, labels)
    names = loaded.class_names
    captions = [("A" if i == 0 else "B" if i == steps - 1 else f"{ti:.2f}")
                + (f" · {names[labels[i]]}" if labels else "") for i, ti in enumerate(t)]
    return {"images": imgs, "z": zs.tolist(), "t": t.tolist(), "labels": labels, "captions": captions,
            "path": path_on_map(loaded.latent_map, zs), "a": a, "b": b, "note": note + "."}


def interpolate(loaded: LoadedModel, index_a, index_b, steps=8, mode="linear", class_mode="fixed") -> dict:
    """Interpolate between test images `index_a` and `index_b` (the /interpolate API); see interpolate_points."""
    return interpolate_points(loaded, point_from_index(loaded, index_a), point_from_index(loaded, index_b),
                              steps, mode, class_mode)


def strip_text(result: dict) -> str:
    """A text model's interpolation as plain text, one line per step ("A: ...", "0.14: ...", "B: ..."): the homotopy
    the API returns where an image model returns its strip."""
    return "\n".join(f"{c}: {t}" for c, t in zip(result["captions"], result["images"]))


def strip_image(result: dict, scale: int = 4) -> np.ndarray:
    """An interpolation as one labelled uint8 strip (A ... B), for the PNG download and the API."""
    imgs = result["images"]
    return labelled_sheet(imgs[None], [""], result["captions"], scale=scale,
                          title=f"A: {result['a']['name']}   B: {result['b']['name']}   ({result['note']})")
