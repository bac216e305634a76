"""The backend of the training package's text models (training.text_models: a text VAE or CVAE).

Strings in, strings out: `decode` turns codes into greedy sentences, `encode_texts` sentences into posterior means.
Like the image backends, every call is one small forward pass under torch.inference_mode() on values the tools
have already checked (explorer.validation, explorer.modalities.text). Shapes: z (N, D) float32; outputs (N,) str.

A text `lm` (the language model a text VAE is measured against) has no latent space: its folder is listed, and
picking it says so (explorer.backends' table loads it with `load_lm`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import Capabilities

NO_LATENT = ("a language model has no latent space to explore: kind 'lm' is the text VAE's decoder with no code "
             "(the reference its -ELBO is measured against). Pick a text VAE or CVAE folder instead.")


class TextBackend:
    """A training.text_models.TextVAE / TextCVAE in eval mode behind the Backend protocol (backends.base)."""

    def __init__(self, model):
        if not model.has_latent:
            raise ValueError(NO_LATENT)
        self.model = model
        self.capabilities = Capabilities(encode=True, prior=True, conditional=model.conditional, kl=True,
                                         modality="text")
        self.latent_dim = model.latent_dim
        self.num_classes = model.num_classes
        self.class_names = list(model.class_names)
        self.output_shape = ()                 # one output is one sentence (a str)
        self.max_len = model.config.max_len    # words (tokens) the decoder writes at most
        self.tokenizer = model.tokenizer

    @classmethod
    def load(cls, folder: str | Path) -> "TextBackend":
        """config.json + model.safetensors + tokenizer.json (training.load_model: checked, never unpickled)."""
        from training import load_model

        torch.set_num_threads(1)  # tiny models: one thread is fastest on a busy machine (see autoencoder.py)
        return cls(load_model(folder))

    @classmethod
    def untrained(cls, seed: int, tokenizer, scale: float = 1.0, **config) -> "TextBackend":
        """An untrained text model (training.text_models.build_text_model(TextModelConfig(**config))) with `tokenizer`
        attached, its weights initialised from `seed` and multiplied by `scale` (> 1 makes greedy decodes differ from
        code to code, as a trained decoder's do), in eval mode: the tiny folders of explorer.testing."""
        from training.config import TextModelConfig
        from training.text_models import build_text_model

        torch.manual_seed(seed)
        model = build_text_model(TextModelConfig(vocab_size=tokenizer.vocab_size, **config))
        model.tokenizer = tokenizer
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(scale)
        return cls(model.eval()) if model.has_latent else model.eval()

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        """None for an unconditional model; else (n,) class ids from one id or a sequence of n."""
        if not self.num_classes:
            return None
        if labels is None:
            raise ValueError("this text CVAE needs a class id for every sentence.")
        if np.ndim(labels) == 0:
            return torch.full((n,), int(labels), dtype=torch.long)
        return torch.from_numpy(np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,)).copy())

    def decode(self, zs, labels=None) -> np.ndarray:
        """(N, D) codes -> (N,) greedy sentences (numpy array of str), in one batch."""
        zs = np.ascontiguousarray(zs, dtype=np.float32).reshape(-1, self.latent_dim)
        with torch.inference_mode():
            texts = self.model.decode_text(torch.from_numpy(zs), self._labels(labels, zs.shape[0]))
        return np.array(texts, dtype=object)

    def encode(self, texts, labels=None) -> tuple[np.ndarray, np.ndarray]:
        """N strings -> (mu (N, D), logvar (N, D)) float32."""
        texts = [str(t) for t in texts]
        with torch.inference_mode():
            mu, logvar = self.model.encode_text(texts, self._labels(labels, len(texts)))
        return mu.float().numpy(), logvar.float().numpy()

    def encode_texts(self, texts, labels=None) -> np.ndarray:
        """N strings -> (N, D) posterior means."""
        return self.encode(texts, labels)[0]

    def sample(self, n: int, seed: int) -> np.ndarray:
        """(n, D) float32 codes z ~ N(0, I) from a torch generator seeded with `seed`."""
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.latent_dim, generator=g).numpy()

    def kl_per_dim(self, texts, labels=None) -> np.ndarray:
        """Average KL(q(z | x) || N(0, I)) of each latent dimension over the sentences: (D,) float64 nats."""
        mu, logvar = self.encode(texts, labels)
        kl = 0.5 * (mu.astype(np.float64) ** 2 + np.exp(logvar) - 1 - logvar)  # (N, D)
        return kl.mean(0)

    def class_elbo(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """One sentence encoded and decoded (teacher forced, at the posterior mean) as every class of a text CVAE:
        (reconstruction cross-entropy (C,), KL (C,)) in nats per sentence; their sum is its -ELBO under each class."""
        from training.text_evaluate import class_elbo_parts

        with torch.inference_mode():
            recon, kl = class_elbo_parts(self.model, *self.model.encode_batch([str(text)]))
            recon, kl = recon[0], kl[0]                                                      # (C,) each
        return recon.double().numpy(), kl.double().numpy()

    def generate(self, labels, seed: int, batch: int, progress=None) -> np.ndarray:
        """Prior samples decoded as the given classes: labels (N,) -> (N,) sentences. One generator seeded with
        `seed` draws the codes batch by batch; progress(done, total) after each batch."""
        labels = np.asarray(labels, dtype=np.int64)
        n = labels.shape[0]
        g = torch.Generator().manual_seed(seed)
        out = np.empty(n, dtype=object)
        for start in range(0, n, batch):
            stop = min(n, start + batch)
            z = torch.randn(stop - start, self.latent_dim, generator=g).numpy()
            out[start:stop] = self.decode(z, labels[start:stop] if self.num_classes else None)
            if progress is not None:
                progress(stop, n)
        return out
