"""Your own input: read the image a person sends (upload or sketchpad), prepare it like MNIST and find its code: the
encoder's posterior mean, or for a GAN (no encoder) the code an optimiser finds, GAN inversion. A conditional VAE also
ranks every class by how well it explains the picture.

Plain functions (see explorer.tools); the preparation itself is the image modality's (explorer.modalities.image).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..backends import reason
from ..modalities.image import _empty_message, as_unit_float
from ..registry import LoadedModel, ModelRegistry
from ..validation import InputError, shown
from .explore import INVERSION_SOURCE, bce_nats, code_of, decode, slider_values

# What a model must have for this tool (explorer.backends.Capabilities): an encoder, or a generator to invert.
NEEDS = ("image", "code_of_picture")  # a picture model: an encoder, or a generator to invert


def image_from_payload(payload, what: str = "image", upload_root: str | Path | None = None, blobs=None):
    """The image inside a raw gradio value: a FileData dict ({"path": ...}) from gr.Image, or the sketchpad's
    {"background", "layers", "composite"} / {"id"} (its strokes sent ahead as blobs). Returns bytes or a path.

    upload_root: only files under this folder are read (gradio's upload folder); anything else a caller names
    is refused, so nobody can make the server read its own files. blobs: the sketchpad's blob storage
    (a dict id -> EditorDataBlobs, entries are removed once read).
    """
    if payload is None or payload == {} or payload == []:
        raise InputError(_empty_message(what) if what == "drawing" else "no image: upload a picture first.")
    if isinstance(payload, str):
        raise InputError("send the image as a file (with gradio_client: handle_file('digit.png')), "
                         "not as a path or URL string.")
    if not isinstance(payload, dict):
        raise InputError(f"expected an image file, got {shown(payload)}.")
    if payload.get("id") is not None and not any(payload.get(k) for k in ("composite", "background", "layers")):
        stored = blobs.pop(payload["id"], None) if isinstance(blobs, dict) and isinstance(payload["id"], str) else None
        if stored is None:
            raise InputError("the drawing did not reach the server; draw a stroke and try again.")
        parts = [getattr(stored, "composite", None)] + list(getattr(stored, "layers", None) or []) \
            + [getattr(stored, "background", None)]
        data = next((p for p in parts if p), None)
        if data is None:
            raise InputError(_empty_message(what))
        return bytes(data)
    if any(k in payload for k in ("composite", "background", "layers")):  # the sketchpad's files
        layers = payload.get("layers") or []
        for part in [payload.get("composite"), *(layers if isinstance(layers, list) else []),
                     payload.get("background")]:
            if isinstance(part, dict) and part.get("path"):
                return _uploaded_path(part, upload_root)
        raise InputError(_empty_message(what))
    if "path" in payload or "url" in payload:
        return _uploaded_path(payload, upload_root)
    raise InputError(f"expected an image file ({{'path': ...}} from an upload), got {shown(payload)}.")


def _uploaded_path(filedata: dict, upload_root) -> Path:
    path = filedata.get("path")
    if not isinstance(path, str) or not path or re.match(r"^[a-z][a-z0-9+.-]*://", path, re.I):
        raise InputError("send the image file itself (upload it); URLs are not fetched.")
    p = Path(path).resolve()
    if upload_root is not None:
        root = Path(upload_root).resolve()
        if root not in p.parents:
            raise InputError("that file was not uploaded to this app; upload the image itself.")
    return p


def rank_classes(loaded: LoadedModel, image) -> list[dict]:
    """For a conditional model: every class ranked by -ELBO of the image encoded and decoded as that class.

    -ELBO(x | c) = BCE(x, decode(mu_c, c)) + KL(q(z | x, c) || N(0, I)) at the posterior mean mu_c, in nats; the
    lowest is the class under which the model finds the image most likely ("a classifier for free"). prob is
    softmax(-ELBO) over the classes: p(c | x) under equal class priors, with the bound in place of log p(x | c).
    Returns [{"class_id", "class_name", "neg_elbo", "recon", "kl", "prob"}], best first.
    """
    # (C,), (C,): an image in [0, 1], or a text model's sentence as it is
    recon, kl = loaded.backend.class_elbo(image if loaded.capabilities.modality == "text" else as_unit_float(image))
    neg_elbo = recon + kl
    e = -neg_elbo.astype(np.float64)
    prob = np.exp(e - e.max())
    prob /= prob.sum()
    names = loaded.class_names
    rows = [{"class_id": c, "class_name": names[c] if c < len(names) else str(c), "neg_elbo": float(neg_elbo[c]),
             "recon": float(recon[c]), "kl": float(kl[c]), "prob": float(prob[c])} for c in range(len(recon))]
    return sorted(rows, key=lambda r: r["neg_elbo"])


def encode_prepared(loaded: LoadedModel, prepared: np.ndarray, label=None) -> dict:
    """Find the code of a prepared (H, W) image with a loaded model (explore.code_of: the encoder, or inversion).

    label: the class a conditional GAN inverts the picture as (a CVAE finds the best class itself; None: class 0).
    Returns {"z": slider values (the code, rounded and kept inside the sliders' range), "label": the class decoded
    with (conditional) or None, "reconstruction": (H, W) float decoded from that z, "ranking": rank_classes(...) for
    a conditional model with a KL term, else [], "source": "encoder" or "inversion", "bce": nats of the
    reconstruction against the picture}.
    """
    why = reason(loaded.capabilities, *NEEDS)
    if why:
        raise InputError(why)
    caps = loaded.capabilities
    ranking = rank_classes(loaded, prepared) if caps.conditional and caps.kl else []
    if ranking:
        label = ranking[0]["class_id"]
    elif loaded.num_classes:
        label = 0 if label is None else label
    else:
        label = None
    code = code_of(loaded, prepared, label)
    z = slider_values(loaded, code["z"])
    recon = decode(loaded, z, label)
    return {"z": z, "label": label, "reconstruction": recon, "ranking": ranking, "source": code["source"],
            "bce": bce_nats(prepared, recon)}


def code_note(out: dict, what: str = "image") -> str:
    """One line on where encode_prepared's code came from, with its reconstruction error."""
    if out["source"] == INVERSION_SOURCE:
        return (f"The code of your {what} comes from GAN inversion, not an encoder: an optimiser searched for the z "
                f"whose generated image G(z) best matches it (reconstruction error {out['bce']:.1f} nats).")
    return f"The code of your {what} is the encoder's posterior mean (reconstruction error {out['bce']:.1f} nats)."


def check_image_model(loaded: LoadedModel) -> LoadedModel:
    """loaded, or InputError when it is not an image model (a text model reads typed text, not pictures)."""
    if loaded.capabilities.modality != "image":
        raise InputError(f"{loaded.info.name} is a {loaded.capabilities.modality} model: it reads typed text, not "
                         "pictures. Type the text in 'Your own text' (or send it to /encode_text) instead.")
    return loaded


def encode_image(registry: ModelRegistry, model: str, image, what: str = "image", upload_root=None) -> tuple:
    """The encode_image API: prepare an image like MNIST and find its code with `model` (its encoder, or inversion).

    image: a raw gradio file value ({"path": ...}), a path, bytes, an array or a PIL image.
    Returns (prepared (280, 280) uint8, reconstruction (280, 280) uint8, z (list of floats), ranking (list of
    dicts, best class first; [] for a model without a class ranking), {"source": "encoder" or "inversion", "bce",
    "label", "note"}).
    """
    loaded = check_image_model(registry.get(model))
    source = image_from_payload(image, what, upload_root) if isinstance(image, (dict, str, type(None))) else image
    prepared, _ = loaded.modality.prepare(source, what)
    out = encode_prepared(loaded, prepared)
    info = {"source": out["source"], "bce": round(out["bce"], 2), "label": out["label"], "note": code_note(out, what)}
    if loaded.num_classes and not out["ranking"]:
        info["note"] += f" Inverted as class {loaded.class_names[out['label']]} (class 0)."
    return (loaded.modality.array(prepared), loaded.modality.array(out["reconstruction"]), out["z"],
            out["ranking"], info)


def ranking_rows(ranking: list[dict], top: int = 10) -> list[dict]:
    """The ranking as rows for the page's bar list: name, -ELBO text, bar width in % (probability)."""
    return [{"name": r["class_name"], "nats": f"{r['neg_elbo']:.1f}",
             "pct": f"{100 * r['prob']:.1f}" if r["prob"] >= 0.0005 else "<0.1",
             "width": f"{max(1.0, 100 * r['prob']):.1f}", "best": i == 0} for i, r in enumerate(ranking[:top])]
