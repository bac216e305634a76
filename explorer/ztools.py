"""Tools that move through the latent space: interpolation, traversal grid, nearest neighbours, attribute arithmetic.

Plain functions on a LoadedModel (explorer.registry) and plain values, like explorer.actions: the tabs in
explorer.ui_ztools and the API endpoints call them, and tests call them without a server. A mistake raises
InputError whose message names the problem and the fix.

Shapes: z is (D,) float32; a batch of codes is (N, D); decoded images are (N, 28, 28) float32 in [0, 1].
Every tool decodes its whole batch in one forward pass (a 32 x 9 traversal grid is 288 images, about 40 ms).
"""
from __future__ import annotations

import functools
import html
import io

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import images
from .checks import InputError, shown, to_float, validate_label, validate_z
from .latent_map import LatentMap, check_index, nearest_index
from .registry import LoadedModel

MIN_STEPS, MAX_STEPS = 2, 32
MODES = ("linear", "slerp")
CLASS_MODES = ("fixed", "sweep")   # a CVAE's class along an interpolation: A's class throughout, or A's then B's
SWEEP = np.linspace(-3.0, 3.0, 9)  # traversal columns: the values one dimension takes (N(0, 1) puts 99.7% inside)
INACTIVE_KL = 0.01                 # nats; below this a dimension carries (almost) nothing: its row is flat
INACTIVE_VAR = 0.01                # an AE's dimension whose codes vary less than this (the "active units" rule)
N_NEIGHBOURS, MAX_NEIGHBOURS = 8, 64
MAX_STRENGTH = 3.0


def _torch():
    import torch  # imported on first use, as explorer.actions does: the page answers before torch is loaded
    return torch


# ---------------------------------------------------------------------------------------------------------------
# Checks of the tools' own values

def _number(value) -> float:
    """A number sent by the page or a script as a float; NaN (refused by every check) for anything else: text,
    true/false, lists, None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        return float("nan")
    return to_float(value)


def _whole(value, lo: int, hi: int) -> int | None:
    """value as an int when it is a whole number in lo..hi, else None."""
    f = _number(value)
    return int(f) if np.isfinite(f) and f == int(f) and lo <= f <= hi else None


def check_steps(steps) -> int:
    """The number of images of an interpolation strip, A and B included: a whole number in 2..32."""
    if _whole(steps, MIN_STEPS, MAX_STEPS) is None:
        raise InputError(f"steps must be a whole number from {MIN_STEPS} to {MAX_STEPS} (the images in the strip, "
                         f"A and B included), got {shown(steps)}.")
    return int(steps)


def _choice(value, allowed: tuple, what: str) -> str:
    key = str(value).strip().lower() if isinstance(value, str) else None
    if key not in allowed:
        raise InputError(f"unknown {what} {shown(value)}; use {' or '.join(repr(a) for a in allowed)}.")
    return key


def check_mode(mode) -> str:
    return _choice(mode, MODES, "interpolation mode")


def check_class_mode(class_mode) -> str:
    return _choice(class_mode, CLASS_MODES, "class mode")


def check_class(loaded: LoadedModel, value, what: str = "class") -> int:
    """A class id of the model's latent map (0..C-1), for unconditional models too (their test images have
    classes)."""
    n = len(loaded.latent_map.class_names)
    c = _whole(value, 0, n - 1)
    if c is None:
        names = ", ".join(f"{i} = {c}" for i, c in enumerate(loaded.latent_map.class_names[:12]))
        raise InputError(f"{what} must be a class id from 0 to {n - 1} ({names}), got {shown(value)}.")
    return c


def check_number(value, lo: float, hi: float, what: str) -> float:
    f = _number(value)
    if not np.isfinite(f) or not lo <= f <= hi:
        raise InputError(f"{what} must be a number from {lo:g} to {hi:g}, got {shown(value)}.")
    return f


def _needs_label(loaded: LoadedModel, label) -> int | None:
    """The class to decode with: required (0..C-1) for a CVAE, None for unconditional models."""
    lab = validate_label(label, loaded.model.num_classes)
    if loaded.model.num_classes and lab is None:
        raise InputError(f"model {loaded.info.name!r} is conditional: pass a class id from 0 to "
                         f"{loaded.model.num_classes - 1} as label.")
    return lab


# ---------------------------------------------------------------------------------------------------------------
# Shared helpers: decoding a batch, sheets of images

def decode_batch(loaded: LoadedModel, zs: np.ndarray, labels=None) -> np.ndarray:
    """Decode N codes in one forward pass: zs (N, D) -> (N, 28, 28) float32 in [0, 1].

    labels: None (unconditional), one class id for all, or a sequence of N class ids (a CVAE needs them).
    """
    torch = _torch()
    zs = np.ascontiguousarray(zs, dtype=np.float32)
    y = None
    if loaded.model.num_classes:
        y = torch.as_tensor(np.broadcast_to(np.asarray(labels, dtype=np.int64), (zs.shape[0],)).copy())
    with torch.inference_mode():
        x = loaded.model.decode(torch.from_numpy(zs), y)  # (N, 1, 28, 28)
    return x[:, 0].float().numpy()


def sheet(imgs: np.ndarray, nrow: int, scale: int = 1, padding: int = 2) -> np.ndarray:
    """Tile images (N, H, W) in [0, 1] into one uint8 sheet, `nrow` per row, white gaps (torchvision's make_grid),
    then upscale by `scale` with nearest neighbour."""
    from torchvision.utils import make_grid

    torch = _torch()
    grid = make_grid(torch.from_numpy(np.asarray(imgs, np.float32))[:, None], nrow=nrow, padding=padding,
                     pad_value=1.0)  # (3, H', W'), the channel repeated
    return images.to_display_image(grid[0].numpy(), scale)


def png(image_u8: np.ndarray) -> bytes:
    return images.png_bytes(image_u8)


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one fixed-size bitmap font
        return ImageFont.load_default()


def labelled_sheet(rows: np.ndarray, row_labels: list[str], col_labels: list[str] | None = None, scale: int = 2,
                   title: str = "") -> np.ndarray:
    """rows (R, C, 28, 28) in [0, 1] -> uint8 sheet with a label left of each row and one above each column."""
    r, c = rows.shape[:2]
    grid = sheet(rows.reshape(r * c, *rows.shape[2:]), nrow=c, scale=scale)
    cell = (rows.shape[2] + 2) * scale
    font = _font(max(11, 6 * scale))
    left = max(8 + int(max((font.getlength(t) for t in row_labels), default=0)), 40)
    top = (cell // 2 + 4 if col_labels else 4) + (22 if title else 0)
    canvas = Image.new("L", (left + grid.shape[1] + 4, top + grid.shape[0] + 4), 255)
    canvas.paste(Image.fromarray(grid), (left, top))
    draw = ImageDraw.Draw(canvas)
    if title:
        draw.text((4, 4), title, fill=0, font=font)
    anchors = isinstance(font, ImageFont.FreeTypeFont)  # the old bitmap fallback font takes no anchor
    for i, t in enumerate(row_labels):
        draw.text((4, top + i * cell + cell // 2), t, fill=0, font=font, anchor="lm" if anchors else None)
    for j, t in enumerate(col_labels or []):
        draw.text((left + j * cell + cell // 2, top - 4), t, fill=0, font=font, anchor="mb" if anchors else None)
    return np.asarray(canvas)


# ---------------------------------------------------------------------------------------------------------------
# 1. Interpolation

def point_from_index(loaded: LoadedModel, index) -> dict:
    """An end of an interpolation: test image `index`, with its stored latent mean and class.

    Returns {"index", "z" (list of D floats), "label" (its class), "name"}."""
    lmap = loaded.latent_map
    i = check_index(lmap, index)
    label = int(lmap.labels[i])
    return {"index": i, "z": [float(v) for v in lmap.mu[i]], "label": label,
            "name": f"test image #{i} ({lmap.class_names[label]})"}


def point_from_z(loaded: LoadedModel, z, label=None) -> dict:
    """An end of an interpolation from a free z (the sliders), with the class it is decoded as (CVAE)."""
    z = validate_z(z, loaded.model.latent_dim)
    lab = validate_label(label, loaded.model.num_classes)
    if loaded.model.num_classes and lab is None:
        lab = 0
    name = "the current z" + (f" as {loaded.model.class_names[lab]}" if lab is not None else "")
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
    conditional = bool(loaded.model.num_classes)
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
        note += (f"; every step decoded as class {loaded.model.class_names[la]} (A's class)" if class_mode == "fixed"
                 else f"; class {loaded.model.class_names[la]} for the first half, "
                      f"{loaded.model.class_names[lb]} for the second")
    imgs = decode_batch(loaded, zs, labels)
    names = loaded.model.class_names
    captions = [("A" if i == 0 else "B" if i == steps - 1 else f"{ti:.2f}")
                + (f" · {names[labels[i]]}" if labels else "") for i, ti in enumerate(t)]
    return {"images": imgs, "z": zs.tolist(), "t": t.tolist(), "labels": labels, "captions": captions,
            "path": path_on_map(loaded.latent_map, zs), "a": a, "b": b, "note": note + "."}


def interpolate(loaded: LoadedModel, index_a, index_b, steps=8, mode="linear", class_mode="fixed") -> dict:
    """Interpolate between test images `index_a` and `index_b` (the /interpolate API); see interpolate_points."""
    return interpolate_points(loaded, point_from_index(loaded, index_a), point_from_index(loaded, index_b),
                              steps, mode, class_mode)


def strip_image(result: dict, scale: int = 4) -> np.ndarray:
    """An interpolation as one labelled uint8 strip (A ... B), for the PNG download and the API."""
    imgs = result["images"]
    return labelled_sheet(imgs[None], [""], result["captions"], scale=scale,
                          title=f"A: {result['a']['name']}   B: {result['b']['name']}   ({result['note']})")


# ---------------------------------------------------------------------------------------------------------------
# 2. Traversal grid

@functools.lru_cache(maxsize=16)
def dimension_scores(loaded: LoadedModel) -> tuple[np.ndarray, str, str]:
    """How much each latent dimension is used: ((D,) scores, measure, where from).

    VAE / CVAE: the average KL per dimension, from metrics.json (`kl_per_dim`, over the test set) or, when that is
    missing, estimated by encoding up to 1,000 stored test images. AE (no KL): the variance of the test codes."""
    d = loaded.model.latent_dim
    lmap = loaded.latent_map
    if loaded.info.kind == "ae" or not getattr(loaded.model, "stochastic", True):
        return lmap.mu.var(axis=0).astype(np.float64), "variance", \
            "a plain autoencoder has no KL term, so rows are ordered by the variance of the test codes"
    kl = (loaded.info.metrics or {}).get("kl_per_dim")
    if isinstance(kl, list) and len(kl) == d and all(isinstance(v, (int, float)) for v in kl):
        return np.asarray(kl, np.float64), "KL", "KL per dimension over the test set, from metrics.json"
    torch = _torch()
    n = min(lmap.n, 1000)
    x = torch.from_numpy(lmap.images[:n].astype(np.float32) / 255.0)[:, None]
    y = torch.from_numpy(lmap.labels[:n]) if loaded.model.num_classes else None
    with torch.inference_mode():
        mu, logvar = loaded.model.encode(x, y)
    kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).mean(0).double().numpy()
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
    z = validate_z(z, loaded.model.latent_dim)
    lab = _needs_label(loaded, label)
    d = loaded.model.latent_dim
    scores, measure, source = dimension_scores(loaded)
    order = np.argsort(-scores, kind="stable")
    if measure == "variance":
        values = loaded.code_mean[:, None] + SWEEP[None, :] * loaded.code_std[:, None]  # (D, 9)
        active = scores > INACTIVE_VAR
    else:
        values = np.broadcast_to(SWEEP, (d, SWEEP.size))
        active = scores > INACTIVE_KL
    zs = np.repeat(z[None, None, :], SWEEP.size, axis=1).repeat(d, axis=0)  # (D, 9, D)
    for r, dim in enumerate(order):
        zs[r, :, dim] = values[dim]
    imgs = decode_batch(loaded, zs.reshape(-1, d), lab)
    imgs = imgs.reshape(d, SWEEP.size, *imgs.shape[-2:])  # (D, 9, 28, 28)
    unit = " nats" if measure == "KL" else ""
    rows = [{"dim": int(k), "name": f"z{k + 1}", "score": float(scores[k]), "active": bool(active[k]),
             "values": [round(float(v), 3) for v in values[k]],
             "label": f"z{k + 1} · {measure} {_fmt(scores[k])}{unit}" + ("" if active[k] else " · unused")}
            for k in order]
    n_active = int(active.sum())
    cut = f"{INACTIVE_KL} nats" if measure == "KL" else f"{INACTIVE_VAR}"
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


# ---------------------------------------------------------------------------------------------------------------
# 6. Nearest neighbours

def nearest_neighbours(loaded: LoadedModel, z, k=N_NEIGHBOURS) -> list[dict]:
    """The k test images whose latent means are nearest to z (Euclidean), nearest first.

    Returns [{"index", "label", "class_name", "distance", "image" (28x28 uint8)}]."""
    lmap = loaded.latent_map
    z = validate_z(z, loaded.model.latent_dim)
    kk = _whole(k, 1, MAX_NEIGHBOURS)
    if kk is None:
        raise InputError(f"k must be a whole number from 1 to {MAX_NEIGHBOURS}, got {shown(k)}.")
    k = min(kk, lmap.n)
    diff = lmap.mu - z
    d2 = np.einsum("nd,nd->n", diff, diff)  # (N,)
    idx = np.argpartition(d2, k - 1)[:k]
    idx = idx[np.argsort(d2[idx], kind="stable")]
    return [{"index": int(i), "label": int(lmap.labels[i]), "class_name": lmap.class_names[int(lmap.labels[i])],
             "distance": round(float(np.sqrt(d2[i])), 4), "image": lmap.images[i]} for i in idx]


# ---------------------------------------------------------------------------------------------------------------
# 7. Attribute arithmetic

@functools.lru_cache(maxsize=16)
def class_means(loaded: LoadedModel) -> np.ndarray:
    """(C, D) mean latent code of each class's test images (NaN row for a class with no test image)."""
    lmap = loaded.latent_map
    out = np.full((len(lmap.class_names), lmap.latent_dim), np.nan, np.float64)
    for c, idx in lmap.by_class.items():
        if idx.size:
            out[c] = lmap.mu[idx].mean(axis=0)
    return out


CVAE_ARITHMETIC = ("A conditional VAE takes the class as a separate input of its decoder, so its z holds the style "
                   "(slant, thickness) and not the class: to turn this image into another class, pick that class "
                   "with the class picker above; the same z is decoded as the new class.")


def move_towards(loaded: LoadedModel, z, from_class, to_class, strength=1.0, preview: int = 7) -> dict:
    """"Move this <from> towards <to>": z + s * (mean_to - mean_from), class means over the test codes.

    Returns {"z" (the moved z as slider values), "direction" (D floats), "images" (preview, 28, 28): z moved by
    s * k / (preview - 1) for k = 0..preview-1, the last one being the result, "strengths", "note"}.
    For unconditional models only (a CVAE: InputError explaining that its class picker does this)."""
    from .actions import slider_values

    if loaded.model.num_classes:
        raise InputError(CVAE_ARITHMETIC)
    z = validate_z(z, loaded.model.latent_dim).astype(np.float64)
    f = check_class(loaded, from_class, "the class to move from")
    t = check_class(loaded, to_class, "the class to move towards")
    if f == t:
        raise InputError("pick two different classes: moving a class towards itself changes nothing.")
    s = check_number(strength, -MAX_STRENGTH, MAX_STRENGTH, "strength")
    means = class_means(loaded)
    names = loaded.latent_map.class_names
    for c in (f, t):
        if np.isnan(means[c]).any():
            raise InputError(f"class {names[c]} has no test image in this model's latent map, so it has no mean; "
                             "pick another class.")
    direction = means[t] - means[f]
    strengths = np.linspace(0.0, s, max(int(preview), 2))
    zs = z[None] + strengths[:, None] * direction[None]
    moved = slider_values(loaded, zs[-1])
    imgs = decode_batch(loaded, np.vstack([zs[:-1], np.asarray(moved)[None]]))
    note = (f"z + {s:g} × (mean of the {names[t]}s − mean of the {names[f]}s): the difference of the two classes' "
            f"average codes over the test images (its length is {np.linalg.norm(direction):.2f}).")
    return {"z": moved, "direction": direction.tolist(), "images": imgs, "strengths": strengths.tolist(),
            "note": note}


# ---------------------------------------------------------------------------------------------------------------
# HTML for the page (escaped; images as 28x28 PNG data URIs that the page scales up crisply)

def figure_row(imgs, captions: list[str], css_class: str = "zt-row") -> str:
    figs = "".join(f'<figure><img src="{images.png_data_uri(images.to_uint8(im))}" alt="{html.escape(c)}">'
                   f"<figcaption>{html.escape(c)}</figcaption></figure>" for im, c in zip(imgs, captions))
    return f'<div class="{css_class}">{figs}</div>'


def traversal_html(result: dict) -> str:
    """One table row per dimension: its label and its 9 images as one PNG (fewer, larger images are faster)."""
    cols = "".join(f"<th>{v}</th>" for v in (["-3", "", "", "", "0", "", "", "", "3"]
                                              if result["measure"] == "KL" else
                                              ["-3σ", "", "", "", "mean", "", "", "", "+3σ"]))
    body = []
    for row, imgs in zip(result["rows"], result["images"]):
        uri = images.png_data_uri(sheet(imgs, nrow=len(imgs), padding=2))
        cls = "" if row["active"] else ' class="unused"'
        body.append(f'<tr{cls} data-dim="{row["dim"]}"><th scope="row">{html.escape(row["label"])}</th>'
                    f'<td colspan="9"><img src="{uri}" alt="traversal of {row["name"]}"></td></tr>')
    return (f'<table class="zt-grid"><thead><tr><th></th>{cols}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table>")


def neighbours_html(found: list[dict]) -> str:
    captions = [f"#{n['index']} · {n['class_name']} · d {n['distance']:.2f}" for n in found]
    return figure_row([n["image"] for n in found], captions, "zt-row zt-neighbours")


def png_file_bytes(image_u8: np.ndarray) -> bytes:
    """PNG bytes at full compression, for downloads (the page's previews use the fast setting)."""
    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="PNG", optimize=True)
    return buf.getvalue()
