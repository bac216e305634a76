"""Backends: the only explorer code that imports torch (explorer.backends.base has the protocol and the table).

The table below is read without torch; `load` imports the backend module when a model is first picked.
"""
from __future__ import annotations

from pathlib import Path

from .base import BACKENDS, Backend, BackendSpec, Capabilities, backend_spec, reason, register_backend


def _autoencoder(folder: Path) -> Backend:
    from .autoencoder import AutoencoderBackend  # imports torch and training
    return AutoencoderBackend.load(folder)


def _gan(folder: Path) -> Backend:
    from .gan import GanBackend  # imports torch and training
    return GanBackend.load(folder)


def _text(folder: Path) -> Backend:
    from .text import TextBackend  # imports torch and training
    return TextBackend.load(folder)


# What a GAN folder's config.json must say for its generator to be rebuilt (training.models.ConvDecoder): without
# these the defaults would build another network, and the weights would not fit it.
GENERATOR_KEYS = ("arch", "latent_dim", "conv_channels", "conv_hidden", "dense_batch_norm")

# The explorer's kind table: what each kind of the training package can do.
register_backend(BackendSpec("ae", "autoencoder (AE)", Capabilities(encode=True), _autoencoder))
register_backend(BackendSpec("vae", "variational autoencoder (VAE)",
                             Capabilities(encode=True, prior=True, kl=True), _autoencoder))
register_backend(BackendSpec("cvae", "conditional VAE (CVAE)",
                             Capabilities(encode=True, prior=True, conditional=True, kl=True), _autoencoder))
register_backend(BackendSpec("gan", "generative adversarial network (GAN)",
                             Capabilities(encode=False, prior=True, kl=False, invert=True), _gan, GENERATOR_KEYS))
register_backend(BackendSpec("cgan", "conditional GAN (CGAN)",
                             Capabilities(encode=False, prior=True, conditional=True, kl=False, invert=True), _gan,
                             GENERATOR_KEYS + ("num_classes",)))
# Text models (training.text_models): the same kind names, told apart by config.json's model.modality.
TEXT_KEYS = ("latent_dim", "vocab_size", "max_len")
register_backend(BackendSpec("vae", "text VAE", Capabilities(encode=True, prior=True, kl=True, modality="text"),
                             _text, TEXT_KEYS, modality="text"))
register_backend(BackendSpec("cvae", "category-conditioned text VAE (CVAE)",
                             Capabilities(encode=True, prior=True, conditional=True, kl=True, modality="text"),
                             _text, TEXT_KEYS + ("num_classes",), modality="text"))
register_backend(BackendSpec("lm", "text language model (no latent space)", Capabilities(modality="text"), _text,
                             modality="text", unusable="a language model has no latent space to explore (kind 'lm' "
                             "is a text VAE's decoder without a code, kept as the reference for its -ELBO); pick a "
                             "text VAE or CVAE folder instead."))

__all__ = ["BACKENDS", "GENERATOR_KEYS", "TEXT_KEYS", "Backend", "BackendSpec", "Capabilities", "backend_spec",
           "reason", "register_backend"]
