"""The backends of the training package's models (training.LatentModel): TorchBackend has what every model of the
package does (decode, sample, generate), AutoencoderBackend adds an AE / VAE / CVAE's encoder; the GAN's is in gan.py.

Numpy in, numpy out: every call is one small forward pass under torch.inference_mode(), on codes and images that
the tools have already checked (explorer.validation). Shapes: z (N, D) float32; images (N, H, W) float32 in [0, 1]
for a grayscale model (the channel of the model's (N, 1, H, W) is dropped here, where the image shape is known) and
(N, H, W, 3) for a colour one (channels last, as PIL and the latent map store them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .base import Capabilities


def to_images(x: torch.Tensor) -> torch.Tensor:
    """The model's (N, C, H, W) -> the explorer's images: (N, H, W) for one channel, (N, H, W, 3) for three."""
    return x[:, 0] if x.shape[1] == 1 else x.permute(0, 2, 3, 1)


def to_model_input(images) -> torch.Tensor:
    """The explorer's images (N, H, W) or (N, H, W, 3), float in [0, 1] -> the model's (N, C, H, W) float32."""
    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))
    return x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2).contiguous()


def image_shape(config) -> tuple:
    """A model config's (C, H, W) -> one explorer image's shape: (H, W) grayscale, (H, W, 3) colour."""
    c, h, w = config.image_shape
    return (h, w) if c == 1 else (h, w, c)


class TorchBackend:
    """A training.LatentModel in eval mode: decoding, prior samples and labelled data sets. Subclasses set
    `capabilities` in `_capabilities` from what the model is."""

    def __init__(self, model):
        self.model = model
        self.capabilities = self._capabilities(model)
        self.latent_dim = model.latent_dim
        self.num_classes = model.num_classes
        self.class_names = list(model.class_names)
        self.output_shape = image_shape(model.config)           # (28, 28) grayscale; (32, 32, 3) colour

    @staticmethod
    def _capabilities(model) -> Capabilities:
        raise NotImplementedError

    @classmethod
    def load(cls, folder: str | Path) -> "TorchBackend":
        """Load config.json + model.safetensors (training.load_model: checked, never unpickled)."""
        from training import load_model

        # These models are tiny: one thread decodes fastest (two threads measured ~50x slower on a busy 2-core
        # machine, from thread hand-offs) and leaves the other core to the web server.
        torch.set_num_threads(1)
        return cls(load_model(folder))

    @classmethod
    def untrained(cls, seed: int, **kwargs) -> "TorchBackend":
        """An untrained model of the training package (training.create_model(**kwargs)), its weights initialised
        from `seed`, in eval mode: the tiny synthetic folders of explorer.testing."""
        from training import create_model

        torch.manual_seed(seed)
        return cls(create_model(**kwargs).eval())

    def _labels(self, labels, n: int) -> torch.Tensor | None:
        """None for an unconditional model; else (n,) class ids from one id or a sequence of n."""
        if not self.num_classes:
            return None
        if np.ndim(labels) == 0:  # one class for the whole batch (the slider's decode)
            return torch.full((n,), int(labels), dtype=torch.long)
        return torch.from_numpy(np.broadcast_to(np.asarray(labels, dtype=np.int64), (n,)).copy())

    def decode(self, zs, labels=None) -> np.ndarray:
        """(N, D) codes -> (N, *output_shape) float32 pixel probabilities, in one forward pass."""
        zs = np.ascontiguousarray(zs, dtype=np.float32)
        with torch.inference_mode():
            x = self.model.decode(torch.from_numpy(zs), self._labels(labels, zs.shape[0]))  # (N, C, H, W)
        return to_images(x).float().numpy()

    def sample(self, n: int, seed: int) -> np.ndarray:
        """(n, D) float32 codes z ~ N(0, I) from a torch generator seeded with `seed` (same seed, same codes)."""
        g = torch.Generator().manual_seed(seed)
        return torch.randn(n, self.latent_dim, generator=g).numpy()

    def generate(self, labels, seed: int, batch: int, progress=None) -> np.ndarray:
        """Prior samples decoded as the given classes: labels (N,) -> (N, 28, 28) uint8.

        One generator seeded with `seed` draws the codes batch by batch (`batch` at a time, so memory stays
        bounded); progress(done, total) is called after each batch."""
        labels = torch.as_tensor(np.asarray(labels, dtype=np.int64))
        n = labels.shape[0]
        g = torch.Generator().manual_seed(seed)
        out = np.empty((n, *self.output_shape), np.uint8)
        with torch.inference_mode():
            for start in range(0, n, batch):
                stop = min(n, start + batch)
                z = torch.randn(stop - start, self.latent_dim, generator=g)
                x = self.model.decode(z, labels[start:stop] if self.num_classes else None)  # (B, 1, 28, 28)
                out[start:stop] = to_images(x).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
                if progress is not None:
                    progress(stop, n)
        return out


class AutoencoderBackend(TorchBackend):
    """An AE, VAE or CVAE (a training.LatentModel with an encoder) behind the Backend protocol (backends.base)."""

    @staticmethod
    def _capabilities(model) -> Capabilities:
        return Capabilities(encode=True, prior=model.stochastic, conditional=model.conditional, kl=model.stochastic,
                            modality="image")

    def _posterior(self, images, labels):
        """(N, 28, 28) float in [0, 1] -> the model's Posterior (mu, logvar) as tensors; call under inference_mode."""
        x = to_model_input(images)                                                    # (N, C, H, W)
        return self.model.encode(x, self._labels(labels, x.shape[0]))

    def encode(self, images, labels=None) -> tuple[np.ndarray, np.ndarray | None]:
        """(N, 28, 28) float in [0, 1] -> (mu (N, D), logvar (N, D) or None for an AE)."""
        with torch.inference_mode():
            mu, logvar = self._posterior(images, labels)
        return mu.float().numpy(), None if logvar is None else logvar.float().numpy()

    def encode_mean(self, images, labels=None) -> np.ndarray:
        """(N, 28, 28) -> (N, D) posterior means (the codes of an AE)."""
        return self.encode(images, labels)[0]

    def kl_per_dim(self, images, labels=None) -> np.ndarray:
        """Average KL(q(z | x) || N(0, I)) of each latent dimension over the images: (D,) float64 nats."""
        from training.losses import kl_per_dim

        with torch.inference_mode():
            return kl_per_dim(*self._posterior(images, labels)).mean(0).double().numpy()

    def class_elbo(self, image) -> tuple[np.ndarray, np.ndarray]:
        """One image (28, 28) in [0, 1] encoded and decoded as every class of a conditional model, at the posterior
        mean: (reconstruction BCE (C,), KL (C,)) in nats; their sum is the -ELBO of the image under each class."""
        from training.losses import kl_per_image, recon_nll

        n = self.num_classes
        x = to_model_input(np.asarray(image)[None]).expand(n, -1, -1, -1)              # (C, channels, H, W)
        y = torch.arange(n)
        with torch.inference_mode():
            mu, logvar = self.model.encode(x, y)
            # The model's own likelihood (Bernoulli BCE, or a Gaussian's with one seeded dequantisation).
            recon = recon_nll(self.model, self.model.decode_logits(mu, y), x,
                              torch.Generator().manual_seed(0))                             # (C,)
            kl = kl_per_image(mu, logvar) if logvar is not None else torch.zeros(n)        # (C,)
        return recon.float().numpy(), kl.float().numpy()
