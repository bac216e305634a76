"""The main view's actions: decode the slider vector, sample, reset, click a map point, describe a model.

Plain functions on a LoadedModel (or the ModelRegistry) and plain values; they return data (arrays, lists, dicts),
and the page renders the images through the model's modality. A person's mistake raises InputError (or the loaders'
ModelLoadError / MapLoadError), whose message the UI shows as it is.

Shapes: z is a float32 vector (D,); images are (H, W) arrays (28 x 28 for MNIST), float in [0, 1] or uint8.
"""
from __future__ import annotations

import numpy as np

from ..backends import reason
from ..latent_map import (NO_3D, ONE_SPLIT, build_figure, build_figure_3d, lookup_point, marker_position,
                          projection_choices)
from ..modalities.image import as_unit_float, png_data_uri
from ..registry import LoadedModel, ModelInfo, ModelRegistry
from ..validation import InputError, validate_label, validate_seed, validate_z

SLIDER_STEP = 0.01
DATASET_NAMES = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothing",
                 "fashion_mnist": "Fashion-MNIST clothing", "wordnet": "WordNet definitions"}


def is_text(loaded) -> bool:
    """Whether the model's outputs are sentences (Capabilities.modality "text") rather than images."""
    return loaded.capabilities.modality == "text"


# ---------------------------------------------------------------------------------------------------------------
# Checked decoding and encoding of single values

def label_for(loaded: LoadedModel, label) -> int | None:
    """The class id to decode with: checked for a conditional model, None for others (their label is ignored)."""
    return validate_label(label, loaded.num_classes)


def needs_label(loaded: LoadedModel, label) -> int | None:
    """The class to decode with: required (0..C-1) for a conditional model, None for unconditional ones."""
    lab = label_for(loaded, label)
    if loaded.num_classes and lab is None:
        raise InputError(f"model {loaded.info.name!r} is conditional: pass a class id from 0 to "
                         f"{loaded.num_classes - 1} as label.")
    return lab


def decode(loaded: LoadedModel, z, label: int | None = None) -> np.ndarray:
    """Decode one latent vector: z (D,) -> one output, an image (H, W) float32 in [0, 1].

    `label` is a class id for a conditional model and is ignored (may be None) otherwise."""
    z = validate_z(z, loaded.latent_dim)
    label = label_for(loaded, label)
    if loaded.num_classes and label is None:
        raise InputError("this conditional model needs a class id; pick a class.")
    return loaded.backend.decode(z[None], label)[0]


def decode_all_classes(loaded: LoadedModel, z) -> np.ndarray:
    """Decode one z under every class of a conditional model: (num_classes, H, W) float32 in [0, 1]."""
    if not loaded.num_classes:
        raise InputError("only conditional (cvae) models decode a z as every class.")
    z = validate_z(z, loaded.latent_dim)
    n = loaded.num_classes
    return loaded.backend.decode(np.repeat(z[None], n, axis=0), np.arange(n))


def encode_mean(loaded: LoadedModel, image, label: int | None = None) -> np.ndarray:
    """Posterior mean (the code for an AE) of one image (H, W), uint8 or float in [0, 1] (a text model: of one
    sentence, a str): (D,) float32."""
    why = reason(loaded.capabilities, "encode")
    if why:
        raise InputError(why)
    label = label if loaded.num_classes else None
    if is_text(loaded):
        if loaded.num_classes and label is None:
            label = 0
        return loaded.backend.encode_texts([str(image)], label)[0]
    return loaded.backend.encode_mean(as_unit_float(image)[None], label)[0]


INVERSION_SOURCE = "inversion"   # code_of's "source": an optimiser searched for the code (a GAN)
ENCODER_SOURCE = "encoder"       # ... the encoder gave it in one pass (an AE, VAE, CVAE)


def code_of(loaded: LoadedModel, image, label: int | None = None) -> dict:
    """The code of one picture (H, W), uint8 or float in [0, 1]: the encoder's posterior mean where the model has an
    encoder, else the code an optimiser finds (GAN inversion at the request-time settings: the backend's `invert`).

    Returns {"z" (D,) float32, "bce" (nats of decode(z) against the picture, or None: an encoder's code is not
    scored here), "source" ("encoder" or "inversion")}. InputError for a model that can do neither."""
    caps = loaded.capabilities
    label = label if loaded.num_classes else None
    if caps.encode:
        return {"z": encode_mean(loaded, image, label), "bce": None, "source": ENCODER_SOURCE}
    why = reason(caps, "code_of_picture")
    if why:
        raise InputError(why)
    if loaded.num_classes and label is None:
        raise InputError("this conditional model inverts a picture as one class; pick a class.")
    z, bce = loaded.backend.invert(as_unit_float(image)[None], label)
    return {"z": z[0], "bce": float(bce[0]), "source": INVERSION_SOURCE}


def bce_nats(image, probs) -> float:
    """The Bernoulli reconstruction error of pixel probabilities `probs` (H, W) against `image` (H, W, uint8 or
    float in [0, 1]): -sum x log p + (1 - x) log(1 - p), in nats (the training package's reconstruction figure)."""
    x = as_unit_float(image).astype(np.float64)
    p = np.clip(np.asarray(probs, np.float64), 1e-7, 1 - 1e-7)
    return float(-(x * np.log(p) + (1 - x) * np.log1p(-p)).sum())


def reconstruct(loaded: LoadedModel, image, label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Find the code of an image (encoder or inversion, see code_of) and decode it.

    image (H, W) uint8 or float in [0, 1]; label its class id (needed by a conditional model, ignored otherwise).
    Returns (reconstruction (H, W) float32 in [0, 1], z (D,) float32).
    """
    label = label if loaded.num_classes else None
    z = code_of(loaded, image, label)["z"]
    return decode(loaded, z, label), z


def slider_values(loaded: LoadedModel, z) -> list[float]:
    """z as the sliders will hold it: rounded to the slider step and kept inside each slider's range.

    The image is decoded from these same values, so what is on screen always matches the sliders.
    """
    z = validate_z(z, loaded.latent_dim).astype(np.float64)
    r = loaded.slider_range
    return [round(float(v), 2) for v in np.clip(np.round(z / SLIDER_STEP) * SLIDER_STEP, -r, r)]


def class_choices(loaded: LoadedModel) -> list[tuple[str, int]]:
    return [(name, i) for i, name in enumerate(loaded.class_names[:loaded.num_classes])]


# ---------------------------------------------------------------------------------------------------------------
# Describing a model

def describe_model(info: ModelInfo) -> str:
    """Markdown: what the model is and its key test-set figures from metrics.json."""
    from training.figures import FIGURES  # names, labels and formats of metrics.json (imports no torch)

    if info.error:
        return f"**{info.name}** cannot be loaded: {info.error}"
    kind = info.kind_label
    dataset = DATASET_NAMES.get(str(info.dataset).lower(), info.dataset or "unknown dataset")
    article = "an" if kind[0] in "aeiou" else "a"
    caps = info.capabilities
    if caps.modality == "text":
        return _describe_text(info, kind, dataset, article)
    parts = (f"{info.arch} encoder and decoder" if caps.encode else
             f"{info.arch} generator, no encoder: codes of pictures are found by GAN inversion" if caps.invert else
             f"{info.arch} decoder, no encoder")
    lines = [f"**{info.name}**: {article} {kind} trained on {dataset}, with a {info.latent_dim}-dimensional "
             f"latent space ({parts})."]
    m = info.metrics or {}
    figs = [f.phrase.format(m[f.key], latent_dim=info.latent_dim) for f in FIGURES if m.get(f.key) is not None]
    if figs:
        n = f" ({m['n_test']:,} test images)" if m.get("n_test") else ""
        lines.append("Test set" + n + ": " + " · ".join(figs) + ". Lower nats are better.")
    else:
        lines.append("No metrics.json in this folder.")
    return "\n\n".join(lines)


def _describe_text(info: ModelInfo, kind: str, dataset: str, article: str) -> str:
    """describe_model of a text model: what it is and its figures in nats per sentence."""
    lines = [f"**{info.name}**: {article} {kind} trained on {dataset}, with a {info.latent_dim}-dimensional latent "
             "space (a gated-convolution encoder reads a sentence; a GRU decoder writes one, word by word, from z)."]
    m = info.metrics or {}
    figs = [(k, label, fmt) for k, label, fmt in (
        ("neg_elbo", "−ELBO", "{:.1f} nats"), ("recon", "reconstruction", "{:.1f} nats"), ("kl", "KL", "{:.1f} nats"),
        ("active_units", "active units", "{}/" + str(info.latent_dim)),
        ("greedy_token_accuracy", "greedy reconstruction", "{:.0%} of tokens"),
        ("knn5_accuracy", "5-NN category accuracy", "{:.2f}")) if m.get(k) is not None]
    if figs:
        n = f" ({m['n_test']:,} test sentences)" if m.get("n_test") else ""
        lines.append("Test set" + n + ", per sentence: " + " · ".join(f"{label} {fmt.format(m[k])}"
                                                                     for k, label, fmt in figs) + ".")
    else:
        lines.append("No metrics.json in this folder.")
    return "\n\n".join(lines)


def list_models(registry: ModelRegistry) -> list[dict]:
    """Every model the app offers: name, kind, dataset, latent_dim, num_classes, class_names, metrics."""
    return registry.describe()


# ---------------------------------------------------------------------------------------------------------------
# Decoding the slider vector

def decoded_view(loaded: LoadedModel, z, label, projection: str) -> dict:
    """Everything that changes when z moves: the output, the every-class row (conditional) and the map marker.

    Returns {"output": (H, W) float32, "row": [{"output", "name", "current"}] or [], "marker": {"x", "y", ...}}.
    """
    label = label_for(loaded, label)
    if loaded.num_classes and label is None:
        label = 0
    out = decode(loaded, z, label)
    row = []
    if loaded.num_classes:
        outs = decode_all_classes(loaded, z)
        row = [{"output": o, "name": name, "current": i == label}
               for i, (o, (name, _)) in enumerate(zip(outs, class_choices(loaded)))]
    return {"output": out, "row": row, "marker": marker_position(loaded.latent_map, z, projection)}


def decode_image(registry: ModelRegistry, model: str, z, label=-1) -> np.ndarray | str:
    """The decode API: z decoded by `model` (label: class id, or -1 for none), as its modality's array (an image:
    (280, 280) uint8; a text model: the greedy sentence, a str)."""
    loaded = registry.get(model)
    lab = needs_label(loaded, label)
    return loaded.modality.array(decode(loaded, z, lab))


# ---------------------------------------------------------------------------------------------------------------
# New z from the buttons

def sample_z(loaded: LoadedModel, seed) -> np.ndarray:
    """A z drawn with `seed`: (D,) float32. The prior N(0, I) of a model that has one; a plain AE has none, so its z
    comes from a Gaussian fitted to the test-set codes (otherwise most draws would decode to noise)."""
    z = loaded.backend.sample(1, validate_seed(seed))[0]
    if not loaded.capabilities.prior:
        z = z * loaded.code_std.astype(np.float32) + loaded.code_mean.astype(np.float32)
    return z.astype(np.float32)


def random_z(loaded: LoadedModel, seed) -> tuple[list[float], str]:
    """A z drawn with `seed`, as slider values, and a sentence saying where it came from."""
    seed = validate_seed(seed)
    z = sample_z(loaded, seed)
    if loaded.capabilities.prior:
        how = f"z drawn from the prior N(0, I) with seed {seed}."
    else:
        how = (f"z drawn with seed {seed} from a Gaussian fitted to the test-set codes (a plain autoencoder "
               "has no prior to sample from).")
    return slider_values(loaded, z), how


def zero_z(loaded: LoadedModel) -> list[float]:
    return [0.0] * loaded.latent_dim


# ---------------------------------------------------------------------------------------------------------------
# Clicking a point of the map

def event_index(data):
    """The test-image index carried by a map click's event data, {"index": i, "value": ...} (i may be [i]).

    Raises InputError when the payload has no index; check_index (in select_point) then checks the value.
    """
    index = data.get("index") if isinstance(data, dict) else None
    if isinstance(index, (list, tuple)):
        index = index[0] if index else None
    if index is None:
        raise InputError('a click on the map must carry the index of a test image, e.g. {"index": 12}.')
    return index


INVERTED_MAP_NOTE = ("The codes on this map were found by an optimiser (GAN inversion: Adam on z until G(z) matched "
                     "each test image), not by an encoder: a GAN has none.")


def map_source_note(loaded: LoadedModel) -> str:
    """One line on where the map's codes come from, for a model without an encoder ('' for one with)."""
    caps = loaded.capabilities
    if caps.encode:
        return ""
    if caps.invert:
        return INVERTED_MAP_NOTE
    return reason(caps, "code_of_picture") + " Clicking a point shows nothing new here."


def projection_trust(loaded: LoadedModel) -> str:
    """One line on how far to trust each stored 2-D view, from metrics.json (training/map_quality.py): the share of
    latent neighbours each view keeps (trustworthiness, k = 10) and its 5-NN class accuracy in the plane. '' for a
    folder made before these figures."""
    metrics = loaded.info.metrics or {}
    parts = []
    for label, key in projection_choices(loaded.latent_map):
        trust, knn = metrics.get(f"map_trustworthiness_{key}"), metrics.get(f"map_knn5_{key}")
        if isinstance(trust, (int, float)) and isinstance(knn, (int, float)):
            parts.append(f"{label} {trust:.3f} / {knn:.2f}")
    if not parts:
        return ""
    return ("Neighbours kept (trustworthiness, k = 10; 1 = all) / 5-NN class accuracy in the plane: "
            + ", ".join(parts) + ".")


def stored_code(loaded: LoadedModel, index) -> tuple:
    """The map's code of test image `index` as (Point, z as slider values, source): a GAN's map stores the codes the
    build-time inversion found (much longer searched than a request-time one), so they are used as they are; a
    model with an encoder encodes the image again."""
    point = lookup_point(loaded.latent_map, index)
    label = point.label if loaded.num_classes else None
    if loaded.capabilities.encode:
        return point, slider_values(loaded, encode_mean(loaded, point.image, label)), ENCODER_SOURCE
    if not loaded.capabilities.invert:
        raise InputError(reason(loaded.capabilities, "code_of_picture"))
    return point, slider_values(loaded, point.mu), INVERSION_SOURCE


def select_point(loaded: LoadedModel, index) -> dict:
    """A test image, its reconstruction and its code.

    Returns {"index", "label", "class_name", "original" (H, W) uint8, "reconstruction" (H, W) float32,
    "z" (slider values), "source" ("encoder": the latent mean; "inversion": the map's inverted code z*, whose
    decode is G(z*)), "bce" (nats of the reconstruction against the image)}. The reconstruction is decoded from the
    same rounded z that the sliders get.
    """
    point, z, source = stored_code(loaded, index)
    label = point.label if loaded.num_classes else None
    recon = decode(loaded, z, label)
    lmap = loaded.latent_map
    out = {"index": point.index, "label": point.label, "class_name": point.class_name,
           "split": lmap.split_of(point.index), "what": lmap.describe(point.index), "original": point.image, "reconstruction": recon, "z": z, "source": source,
           "bce": None if is_text(loaded) else bce_nats(point.image, recon)}
    if is_text(loaded):  # a definition: its headword and fine category too
        lmap = loaded.latent_map
        out.update(headword=str(lmap.headwords[point.index]), category=str(lmap.categories[point.index]))
    return out


def companion_vae(registry: ModelRegistry, loaded: LoadedModel) -> str | None:
    """For a model without an encoder (a GAN): the name of a VAE trained on the same dataset among the registry's
    models (an unconditional model with an encoder and a KL term; readable), so that the page can show its
    reconstruction of a test image beside the GAN's best one. None when there is none or the model has an encoder."""
    if loaded.capabilities.encode:
        return None
    dataset = str(loaded.info.dataset or "").lower().replace("_", "-")
    for name in registry.names():
        info = registry.info(name)
        caps = info.capabilities
        if (not info.error and caps.encode and caps.kl and not caps.conditional
                and str(info.dataset or "").lower().replace("_", "-") == dataset):
            return name
    return None


def compare_reconstruction(registry: ModelRegistry, loaded: LoadedModel, sel: dict) -> dict | None:
    """The companion VAE's reconstruction of the selected test image (select_point's result), beside the GAN's:
    {"model", "reconstruction" (H, W) float32, "bce", "caption"} (the caption says what the difference is), or None
    when the registry has no VAE of the same dataset or it cannot be loaded (the page then hides that image)."""
    name = companion_vae(registry, loaded)
    if name is None:
        return None
    try:
        vae = registry.get(name)
        recon, _ = reconstruct(vae, sel["original"])
    except ValueError:  # a broken VAE folder: the GAN's view stays as it is
        return None
    bce = bce_nats(sel["original"], recon)
    gan = sel["bce"]
    better = "closer to" if bce < gan else "further from"
    caption = (f"{name}, one encoder pass: {bce:.0f} nats ({better} the test image than G(z*), {gan:.0f} nats). "
               "The VAE was trained to reconstruct test-like images; the GAN only to make images a critic believes, "
               "so even its best code can miss details of a real one.")
    return {"model": name, "reconstruction": recon, "bce": bce, "caption": caption}


def reconstruct_point(registry: ModelRegistry, model: str, index) -> tuple:
    """The reconstruct API: (original (280, 280) uint8, reconstruction (280, 280) uint8, z as a list of floats,
    {"source", "bce", "note"}: where the code came from (the encoder, or for a GAN the build-time inversion stored
    in the map), the reconstruction's error in nats, one line saying so)."""
    loaded = registry.get(model)
    point = lookup_point(loaded.latent_map, index)
    label = point.label if loaded.num_classes else None
    if loaded.capabilities.encode:
        recon, z = reconstruct(loaded, point.image, label)
        note = "z is the encoder's posterior mean of the test image; the reconstruction decodes it."
    else:
        _, z, _ = stored_code(loaded, point.index)
        z = np.asarray(z, np.float32)
        recon = decode(loaded, z, label)
        note = ("z comes from GAN inversion, not an encoder: an optimiser searched for the code whose generated "
                "image G(z) best matches the test image (stored in the model's latent map); the reconstruction is "
                "G(z).")
    source = ENCODER_SOURCE if loaded.capabilities.encode else INVERSION_SOURCE
    if is_text(loaded):
        lmap = loaded.latent_map
        note = "z is the encoder's posterior mean of the test definition; the reconstruction is its greedy decode."
        return (loaded.modality.array(point.image), loaded.modality.array(recon), [float(v) for v in z],
                {"source": source, "bce": None, "headword": str(lmap.headwords[point.index]),
                 "category": str(lmap.categories[point.index]), "note": note})
    return (loaded.modality.array(point.image), loaded.modality.array(recon), [float(v) for v in z],
            {"source": source, "bce": round(bce_nats(point.image, recon), 2), "note": note})


# ---------------------------------------------------------------------------------------------------------------
# The map

def figure_for(registry: ModelRegistry, model: str, projection: str, dims=2) -> dict:
    """The plotly figure of a model's latent map on a projection, in 2-D or (dims 3, where the map stores it) 3-D;
    the marker is placed separately."""
    lmap = registry.get(model).latent_map
    if str(dims) == "3":
        fig = build_figure_3d(lmap, projection)
    elif dims not in (2, "2", None):
        raise InputError(f"dims must be 2 or 3, got {str(dims)[:20]!r}.")
    else:
        fig = build_figure(lmap, projection)
    # plotly keeps the user's zoom, pan and tool while uirevision stays the same: per model too, so that another
    # model's map opens fitted to its own points, not at the zoom of the last one
    fig["layout"]["uirevision"] = f"{model}|{fig['layout']['uirevision']}"
    return fig


def views_3d(loaded: LoadedModel) -> list[tuple[str, str]]:
    """(label, key) of the projections the model's map stores in 3-D (PCA, UMAP), [] for a map made before them."""
    return [(label, key) for label, key in projection_choices(loaded.latent_map) if key in loaded.latent_map.coords3]


def one_split_reason(loaded: LoadedModel) -> str:
    """'' when the map holds training and test images; else the one line that says why the split switch is off."""
    if len(loaded.latent_map.splits) > 1:
        return ""
    if is_text(loaded):
        return "This text model's map holds its test sentences only."
    if not loaded.capabilities.encode:
        return ("This GAN's map holds its test images only: each code is found by inversion, about 40 ms an image, "
                f"so `python -m training add-train {loaded.info.folder}` adds the training images in about 40 min.")
    return ONE_SPLIT.format(folder=loaded.info.folder)


def no_3d_reason(loaded: LoadedModel) -> str:
    """'' when the map has a 3-D view; else the one line that says why the 3-D switch is off, and the fix."""
    return "" if views_3d(loaded) else NO_3D.format(folder=loaded.info.folder)


MAX_THUMBS = 2000   # the map draws the images themselves once the view holds at most this many points


def thumbnails_for(registry: ModelRegistry, model: str, indices) -> dict:
    """The stored images of up to MAX_THUMBS map points as one sprite, for the map to draw them at their positions
    when zoomed in: {"sprite": PNG data URI, "cols", "h", "w", "indices"}; image i of `indices` (sorted, distinct)
    is the cell at row i // cols, column i % cols. A text map has no images: InputError."""
    from .selection import check_indices

    loaded = registry.get(model)
    if is_text(loaded):
        raise InputError(f"{loaded.info.name}'s map holds sentences, not images: it has no thumbnails.")
    if hasattr(indices, "__len__") and not isinstance(indices, (str, bytes, dict)) and len(indices) > MAX_THUMBS:
        raise InputError(f"at most {MAX_THUMBS:,} thumbnails at a time; {len(indices):,} were asked for. Zoom in further.")
    idx = check_indices(loaded, indices)
    images = loaded.latent_map.images[idx]                                   # (N, H, W[, 3]) uint8
    n, h, w = images.shape[:3]
    cols = int(np.ceil(np.sqrt(n)))
    rows = -(-n // cols)
    pad = np.zeros((rows * cols - n, *images.shape[1:]), np.uint8)
    tiles = np.concatenate([images, pad]).reshape(rows, cols, *images.shape[1:])
    sprite = tiles.swapaxes(1, 2).reshape(rows * h, cols * w, *images.shape[3:])
    return {"sprite": png_data_uri(sprite), "cols": cols, "h": int(h), "w": int(w), "indices": idx.tolist()}


def marker_for(loaded: LoadedModel, z, projection: str) -> dict:
    """Where the current-z marker goes, with the note that explains it: {"x", "y", "index", "note"}."""
    return marker_position(loaded.latent_map, z, projection)
