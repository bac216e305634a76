"""Backends: the only explorer code that imports torch (explorer.backends.base has the protocol and the table).

The table below is read without torch; `load` imports the backend module when a model is first picked.
"""
from __future__ import annotations

from pathlib import Path

from .base import BACKENDS, Backend, BackendSpec, Capabilities, backend_spec, reason, register_backend


def _autoencoder(folder: Path) -> Backend:
    from .autoencoder import AutoencoderBackend  # imports torch and training
    return AutoencoderBackend.load(folder)


# The explorer's kind table: what each kind of the training package can do.
register_backend(BackendSpec("ae", "autoencoder (AE)", Capabilities(encode=True), _autoencoder))
register_backend(BackendSpec("vae", "variational autoencoder (VAE)",
                             Capabilities(encode=True, prior=True, kl=True), _autoencoder))
register_backend(BackendSpec("cvae", "conditional VAE (CVAE)",
                             Capabilities(encode=True, prior=True, conditional=True, kl=True), _autoencoder))

__all__ = ["BACKENDS", "Backend", "BackendSpec", "Capabilities", "backend_spec", "reason", "register_backend"]
