"""One plain function per thing a person (or a script) can do; the UI and the API endpoints call these.

They take a ModelRegistry plus plain values and return plain values (data URIs, dicts, lists), so tests call
them without a browser. User mistakes raise InputError (or the loaders' ModelLoadError / MapLoadError), whose
messages the UI shows as they are.
"""
from __future__ import annotations

import numpy as np

from . import images
from .checks import InputError, validate_label, validate_seed, validate_z
from .latent_map import build_figure, lookup_point, marker_position
from .registry import LoadedModel, ModelRegistry

SLIDER_STEP = 0.01


def _inference():
    """explorer.inference imports torch (about 2 s of CPU); importing it on first use lets the page answer sooner."""
    from . import inference
    return inference

KIND_NAMES = {"ae": "autoencoder (AE)", "vae": "variational autoencoder (VAE)",
              "cvae": "conditional VAE (CVAE)"}
DATASET_NAMES = {"mnist": "MNIST digits", "fashion-mnist": "Fashion-MNIST clothing",
                 "fashion_mnist": "Fashion-MNIST clothing"}


# ---------------------------------------------------------------------------------------------------------------
# Small helpers

def label_for(loaded: LoadedModel, label) -> int | None:
    """The class id to decode with: checked for a cvae, None for unconditional models (their label is ignored)."""
    return validate_label(label, loaded.model.num_classes)


def slider_values(loaded: LoadedModel, z) -> list[float]:
    """z as the sliders will hold it: rounded to the slider step and kept inside each slider's range.

    The image is decoded from these same values, so what is on screen always matches the sliders.
    """
    z = validate_z(z, loaded.model.latent_dim).astype(np.float64)
    r = loaded.slider_range
    return [round(float(v), 2) for v in np.clip(np.round(z / SLIDER_STEP) * SLIDER_STEP, -r, r)]


def class_choices(loaded: LoadedModel) -> list[tuple[str, int]]:
    return [(name, i) for i, name in enumerate(loaded.model.class_names[:loaded.model.num_classes])]


# ---------------------------------------------------------------------------------------------------------------
# Describing a model

def describe_model(info) -> str:
    """Markdown: what the model is and its key test-set figures from metrics.json."""
    if info.error:
        return f"**{info.name}** cannot be loaded: {info.error}"
    kind = KIND_NAMES.get(info.kind, info.kind or "unknown kind")
    dataset = DATASET_NAMES.get(str(info.dataset).lower(), info.dataset or "unknown dataset")
    article = "an" if kind[0] in "aeiou" else "a"
    lines = [f"**{info.name}**: {article} {kind} trained on {dataset}, with a {info.latent_dim}-dimensional "
             f"latent space ({info.arch} encoder and decoder)."]
    m = info.metrics or {}
    figs = []
    if m.get("neg_elbo") is not None:
        figs.append(f"−ELBO {m['neg_elbo']:.1f} nats")
    if m.get("iwae_k64") is not None:
        figs.append(f"IWAE-64 bound {m['iwae_k64']:.1f} nats")
    if m.get("recon") is not None:
        figs.append(f"reconstruction {m['recon']:.1f} nats")
    if m.get("kl") is not None:
        figs.append(f"KL {m['kl']:.1f} nats")
    if m.get("active_units") is not None:
        figs.append(f"{m['active_units']} of {info.latent_dim} latent units active")
    if m.get("knn5_accuracy") is not None:
        figs.append(f"5-NN class accuracy in latent space {100 * m['knn5_accuracy']:.1f}%")
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
    """Everything that changes when z moves: the large image, the every-class row (cvae) and the map marker.

    Returns {"image": data URI (280x280 PNG), "row": [{"src", "name"}] or [], "marker": {"x", "y", ...}}.
    """
    inf, model = _inference(), loaded.model
    label = label_for(loaded, label)
    if model.num_classes and label is None:
        label = 0
    img = inf.decode(model, z, label)
    row = []
    if model.num_classes:
        imgs = inf.decode_all_classes(model, z)
        names = [name for name, _ in class_choices(loaded)]
        # 28x28 PNGs: the page scales them up crisply (CSS image-rendering: pixelated); fewer bytes per move
        row = [{"src": images.png_data_uri(images.to_uint8(im)), "name": name, "current": i == label}
               for i, (im, name) in enumerate(zip(imgs, names))]
    return {"image": images.png_data_uri(images.to_display_image(img)), "row": row,
            "marker": marker_position(loaded.latent_map, z, projection)}


def decode_image(registry: ModelRegistry, model: str, z, label=-1) -> np.ndarray:
    """The decode API: (280, 280) uint8 image of z decoded by `model` (label: class id, or -1 for none)."""
    inf, loaded = _inference(), registry.get(model)
    lab = label_for(loaded, label)
    if loaded.model.num_classes and lab is None:
        raise InputError(f"model {loaded.info.name!r} is conditional: pass a class id from 0 to "
                         f"{loaded.model.num_classes - 1} as label.")
    return images.to_display_image(inf.decode(loaded.model, z, lab))


# ---------------------------------------------------------------------------------------------------------------
# New z from the buttons

def random_z(loaded: LoadedModel, seed) -> tuple[list[float], str]:
    """A z drawn with `seed`, as slider values, and a sentence saying where it came from.

    VAE / CVAE: the prior N(0, I). A plain AE has no prior, so its z comes from a Gaussian fitted to the
    test-set codes (otherwise most draws would decode to noise).
    """
    inf, seed = _inference(), validate_seed(seed)
    d = loaded.model.latent_dim
    if loaded.info.kind == "ae":
        z = inf.sample_z(d, seed, mean=loaded.code_mean, std=loaded.code_std)
        how = (f"z drawn with seed {seed} from a Gaussian fitted to the test-set codes (a plain autoencoder "
               "has no prior to sample from).")
    else:
        z = inf.sample_z(d, seed)
        how = f"z drawn from the prior N(0, I) with seed {seed}."
    return slider_values(loaded, z), how


def zero_z(loaded: LoadedModel) -> list[float]:
    return [0.0] * loaded.model.latent_dim


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

    Returns {"index", "label", "class_name", "original", "reconstruction" (data URIs), "z" (slider values)}.
    The reconstruction is decoded from the same rounded z that the sliders get.
    """
    inf, point = _inference(), lookup_point(loaded.latent_map, index)
    label = point.label if loaded.model.num_classes else None
    mu = inf.encode_mean(loaded.model, point.image, label)
    z = slider_values(loaded, mu)
    recon = inf.decode(loaded.model, z, label)
    return {"index": point.index, "label": point.label, "class_name": point.class_name,
            "original": images.png_data_uri(images.to_display_image(point.image)),
            "reconstruction": images.png_data_uri(images.to_display_image(recon)), "z": z}


def reconstruct_point(registry: ModelRegistry, model: str, index) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The reconstruct API: (original (280, 280) uint8, reconstruction (280, 280) uint8, z as a list of floats)."""
    inf, loaded = _inference(), registry.get(model)
    point = lookup_point(loaded.latent_map, index)
    label = point.label if loaded.model.num_classes else None
    recon, z = inf.reconstruct(loaded.model, point.image, label)
    return images.to_display_image(point.image), images.to_display_image(recon), [float(v) for v in z]


# ---------------------------------------------------------------------------------------------------------------
# The map

def figure_for(registry: ModelRegistry, model: str, projection: str) -> dict:
    """The plotly figure of a model's latent map on a projection (the marker is placed separately)."""
    return build_figure(registry.get(model).latent_map, projection)


def marker_for(loaded: LoadedModel, z, projection: str) -> dict:
    """Where the current-z marker goes, with the note that explains it: {"x", "y", "index", "note"}."""
    return marker_position(loaded.latent_map, z, projection)
