"""What every backend offers the explorer, and the (modality, kind) -> backend table.

A backend wraps one trained model behind numpy in, numpy out methods; it is the only explorer code that imports
torch. Tabs and tools never ask for a kind by name: they ask the model's `Capabilities`, which this table gives
from config.json alone (its model.modality, "image" when absent, and model.kind), before any weights are loaded and
without importing torch: an image VAE and a text VAE are both kind "vae", told apart by their modality.

    register_backend(BackendSpec("my-gan", "GAN", Capabilities(encode=False, prior=True, invert=True),
                                 load=my_loader))

adds a kind; docs/adding-a-model.md walks through one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Capabilities:
    """What a model can do, so that a tab can say why it is off instead of failing."""
    encode: bool = False       # an encoder: map clicks reconstruct, your own picture gets a code
    prior: bool = False        # z ~ N(0, I) decodes to a typical output (a plain AE has no prior)
    conditional: bool = False  # the decoder takes a class id (the class picker)
    kl: bool = False           # a KL term per latent dimension (how much each one is used; per-class ELBO)
    invert: bool = False       # no encoder, but the code of a picture can be found by optimisation (GAN inversion)
    modality: str = "image"    # what the decoder makes: explorer.modalities has its renderer

    def lacks(self, *needs: str) -> list[str]:
        """The names in `needs` this model does not have, e.g. lacks("encode") -> ["encode"] for a GAN."""
        return [n for n in needs if not getattr(self, n)]

    @property
    def code_of_picture(self) -> bool:
        """A picture can be given a code: by the encoder, or by inversion (a GAN)."""
        return self.encode or self.invert

    @property
    def image(self) -> bool:
        """The decoder makes images (pixel grids, sketchpads and PNG sheets apply)."""
        return self.modality == "image"

    @property
    def text(self) -> bool:
        """The decoder writes sentences (explorer.modalities.text)."""
        return self.modality == "text"


# Why a tab or action is off, per missing capability: one line the page shows in its place.
REASONS = {
    "encode": "this model has no encoder, so it cannot turn a picture into a code",
    "prior": "this model has no prior to sample from",
    "conditional": "this model takes no class",
    "kl": "this model has no KL term",
    "invert": "this model cannot search for the code of a picture (it has no generator to invert)",
    "code_of_picture": "this model has no encoder and cannot be inverted, so it cannot turn a picture into a code",
    "image": "this is a text model: it reads and writes sentences, not pictures (type your own text in the \"Your "
             "own text\" tab)",
    "text": "this is an image model: it reads pictures, not typed text (draw in the \"Your drawing\" tab)",
}


def reason(capabilities: Capabilities, *needs: str) -> str | None:
    """A sentence saying which of `needs` the model lacks, or None when it has them all."""
    missing = capabilities.lacks(*needs)
    return "; ".join(REASONS.get(n, f"this model lacks '{n}'") for n in missing).capitalize() + "." if missing \
        else None


@runtime_checkable
class Backend(Protocol):
    """A loaded model. Shapes: z (N, D) float32; outputs as its modality holds them (image: (N, H, W) in [0, 1])."""
    capabilities: Capabilities
    latent_dim: int
    num_classes: int           # 0 for an unconditional model
    class_names: list[str]
    output_shape: tuple        # one output, e.g. (28, 28) for a grayscale image

    def decode(self, zs: np.ndarray, labels=None) -> np.ndarray:
        """(N, D) codes -> (N, *output_shape); labels: None, one class id for all, or (N,) ids (conditional)."""

    def sample(self, n: int, seed: int) -> np.ndarray:
        """(n, D) codes from N(0, I), drawn with a generator seeded by `seed`."""


@dataclass(frozen=True)
class BackendSpec:
    kind: str                          # config.json's model.kind
    label: str                         # what the page calls it, e.g. "variational autoencoder (VAE)"
    capabilities: Capabilities
    load: Callable[[Path], Backend]    # model folder -> backend; imports torch (and training) only when called
    config_keys: tuple = ()            # keys config.json's "model" section must hold (else the folder is listed with
                                       # an error, before any loading): e.g. a generator's layer sizes
    modality: str = "image"            # config.json's model.modality ("image" when absent, as in every image folder)
    unusable: str | None = None        # set for a kind the explorer lists but cannot explore (a text language model
                                       # has no latent): the folder is listed with this as its error


BACKENDS: dict[tuple[str, str], BackendSpec] = {}


def register_backend(spec: BackendSpec) -> BackendSpec:
    """Add (or replace) the backend of a (modality, kind). Returns the spec."""
    BACKENDS[(spec.modality, spec.kind)] = spec
    return spec


def backend_spec(kind, modality: str | None = "image") -> BackendSpec | None:
    """The backend of config.json's model.kind and model.modality (None or absent: "image")."""
    if not isinstance(kind, str) or not isinstance(modality or "image", str):
        return None
    return BACKENDS.get((modality or "image", kind))
