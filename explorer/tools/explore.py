"""The main view's actions: decode the slider vector, sample, reset, click a map point, describe a model.

Plain functions on a LoadedModel (or the ModelRegistry) and plain values; they return data (arrays, lists, dicts),
and the page renders the images through the model's modality. A person's mistake raises InputError (or the loaders'
ModelLoadError / MapLoadError), whose message the UI shows as it is.

Shapes: z is a float32 vector (D,); images are (H, W) arrays (28 x 28 for MNIST), float in [0, 1] or uint8.
"""
from __future__ import annotations

import numpy as np

from ..backends import reason
from ..latent_map import build_figure, lookup_point, marker_position
from ..modalities.image import as_unit_float
from ..registry import LoadedModel, ModelInfo, ModelRegistry
from ..validation import InputError, validate_label, validate_seed, validate_z

SLIDER_STEP = 0.01
DATASET_NAMES = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothing",
                 "fashion_mnist": "Fashion-MNIST clothing"}


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
    """Posterior mean (the code for an AE) of one image (H, W), uint8 or float in [0, 1]: (D,) float32."""
    why = reason(loaded.capabilities, "encode")
    if why:
        raise InputError(why)
    return loaded.backend.encode_mean(as_unit_float(image)[None], label if loaded.num_classes else None)[0]


def reconstruct(loaded: LoadedModel, image, label: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode an image to its posterior mean and decode that mean.

    image (H, W) uint8 or float in [0, 1]; label its class id (needed by a cvae, ignored otherwise).
    Returns (reconstruction (H, W) float32 in [0, 1], z (D,) float32).
    """
    label = label if loaded.num_classes else None
    z = encode_mean(loaded, image, label)
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
    lines = [f"**{info.name}**: {article} {kind} trained on {dataset}, with a {info.latent_dim}-dimensional "
             f"latent space ({info.arch} encoder and decoder)."]
    m = info.metrics or {}
    figs = [f.phrase.format(m[f.key], latent_dim=info.latent_dim) for f in FIGURES if m.get(f.key) is not None]
    if figs:
        n = f" ({m['n_test']:,} test images)" if m.get("n_test") else ""
        lines.append("Test set" + n + ": " + " · ".join(figs) + ". Lower nats are better.")
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


def decode_image(registry: ModelRegistry, model: str, z, label=-1) -> np.ndarray:
    """The decode API: z decoded by `model` (label: class id, or -1 for none), as its modality's array (an image:
    (280, 280) uint8)."""
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


def select_point(loaded: LoadedModel, index) -> dict:
    """A test image, its reconstruction and its latent mean.

    Returns {"index", "label", "class_name", "original" (H, W) uint8, "reconstruction" (H, W) float32,
    "z" (slider values)}. The reconstruction is decoded from the same rounded z that the sliders get.
    """
    point = lookup_point(loaded.latent_map, index)
    label = point.label if loaded.num_classes else None
    z = slider_values(loaded, encode_mean(loaded, point.image, label))
    return {"index": point.index, "label": point.label, "class_name": point.class_name,
            "original": point.image, "reconstruction": decode(loaded, z, label), "z": z}


def reconstruct_point(registry: ModelRegistry, model: str, index) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The reconstruct API: (original (280, 280) uint8, reconstruction (280, 280) uint8, z as a list of floats)."""
    loaded = registry.get(model)
    point = lookup_point(loaded.latent_map, index)
    recon, z = reconstruct(loaded, point.image, point.label)
    return loaded.modality.array(point.image), loaded.modality.array(recon), [float(v) for v in z]


# ---------------------------------------------------------------------------------------------------------------
# The map

def figure_for(registry: ModelRegistry, model: str, projection: str) -> dict:
    """The plotly figure of a model's latent map on a projection (the marker is placed separately)."""
    return build_figure(registry.get(model).latent_map, projection)


def marker_for(loaded: LoadedModel, z, projection: str) -> dict:
    """Where the current-z marker goes, with the note that explains it: {"x", "y", "index", "note"}."""
    return marker_position(loaded.latent_map, z, projection)
