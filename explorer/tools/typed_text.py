"""Your own text: a sentence a person types, encoded by a text model (the text counterpart of drawing.py).

    encode_typed_text(loaded, text) -> its code (for the sliders and the map), its greedy reconstruction, the
                                       nearest test definitions with their headwords (a reverse dictionary) and,
                                       for a text CVAE, every category group ranked by -ELBO

Plain values in and out; explorer.modalities.text prepares the text (empty, too long, control characters).
"""
from __future__ import annotations

from ..modalities.text import prepare_text
from ..registry import LoadedModel, ModelRegistry
from ..validation import InputError
from .drawing import rank_classes
from .explore import decode, is_text, slider_values
from .neighbours import N_NEIGHBOURS, nearest_neighbours

NEEDS = ("text", "encode")  # a text model with an encoder


def token_notes(loaded: LoadedModel, text: str) -> list[str]:
    """What the tokenizer will do to `text`: words past max_len cut, words outside its vocabulary read as <unk>."""
    tok = loaded.backend.tokenizer
    notes = []
    n = tok.count(text)
    if n > loaded.backend.max_len:
        notes.append(f"The model reads at most {loaded.backend.max_len} tokens; the text has {n}, so only the first "
                     f"{loaded.backend.max_len} were encoded.")
    rate = tok.unk_rate([text])
    unk = round(rate["unk_tokens"] * rate["tokens_per_text"])
    if unk:
        notes.append(f"{unk} token{'s' if unk != 1 else ''} of the text {'are' if unk != 1 else 'is'} outside the "
                     "model's vocabulary and read as <unk>.")
    return notes


def encode_typed_text(loaded: LoadedModel, text, k=N_NEIGHBOURS) -> dict:
    """Encode a typed sentence. Returns {"text" (as encoded), "notes" (what was changed), "z" (slider values),
    "mu" (the exact posterior mean), "label" (the best category group of a CVAE, else None), "reconstruction" (the
    greedy decode of z), "ranking" ([{"class_id", "class_name", "neg_elbo", "recon", "kl", "prob"}] best first,
    a CVAE only), "neighbours" (nearest_neighbours of the mean: test definitions with "headword", "text")}.
    InputError for an image model or for text with nothing in it."""
    if not is_text(loaded):
        raise InputError(f"{loaded.info.name} is an image model: it encodes pictures, not text. Pick a text model, "
                         "or send a picture to /encode_image.")
    prepared, notes = prepare_text(text)
    notes += token_notes(loaded, prepared)
    ranking = rank_classes(loaded, prepared) if loaded.capabilities.conditional else []
    label = ranking[0]["class_id"] if ranking else None
    mu = loaded.backend.encode_texts([prepared], label)[0]
    z = slider_values(loaded, mu)
    return {"text": prepared, "notes": notes, "z": z, "mu": [float(v) for v in mu], "label": label,
            "reconstruction": str(decode(loaded, z, label)), "ranking": ranking,
            "neighbours": nearest_neighbours(loaded, mu, k)}


def encode_text(registry: ModelRegistry, model: str, text, k=N_NEIGHBOURS) -> tuple:
    """The encode_text API: (reconstruction (str), z (list of floats), ranking (list, [] for a text VAE),
    {"text", "notes", "label", "class_name", "neighbours": [{index, headword, text, category, distance}]})."""
    loaded = registry.get(model)
    out = encode_typed_text(loaded, text, k)
    lab = out["label"]
    info = {"text": out["text"], "notes": out["notes"], "label": lab,
            "class_name": None if lab is None else loaded.class_names[lab],
            "neighbours": [{key: n[key] for key in ("index", "headword", "text", "category", "distance")}
                           for n in out["neighbours"]]}
    return out["reconstruction"], out["z"], out["ranking"], info
