"""The backend of the training package's GAN and CGAN (a generator and no encoder).

Decoding, prior samples and a cgan's labelled data sets are TorchBackend's (explorer.backends.autoencoder). A GAN
has no encoder, so the code of a picture is found by optimisation (GAN inversion, training.inversion.invert): the
backend offers `invert` and no `encode_mean`, and its Capabilities say so (encode=False, invert=True). Tools that need
the code of a picture ask for either capability and call `encode_mean` or `invert` accordingly
(explorer.tools.explore.code_of).

Shapes: z (N, D) float32; images (N, 28, 28) float32 in [0, 1].
"""
from __future__ import annotations

import numpy as np
import torch

from .autoencoder import TorchBackend
from .base import Capabilities

# The inversion of a picture a person sends, while they wait: few starts and steps, so that one image takes well
# under 500 ms on one core with the shipped generator (benchmarks/gan_latency.py measures it). The test images'
# codes in latent_map.npz come from the build-time inversion (training.evaluate), which searches much longer.
REQUEST_STEPS = 60
REQUEST_STARTS = 4
REQUEST_LR = 0.1
REQUEST_SEED = 0


class GanBackend(TorchBackend):
    """A training.models.GAN / CGAN generator in eval mode behind the Backend protocol, with `invert`."""

    def __init__(self, model):
        super().__init__(model)
        # Inversion differentiates through the generator with respect to z only: the weights need no gradients.
        for p in self.model.parameters():
            p.requires_grad_(False)

    @staticmethod
    def _capabilities(model) -> Capabilities:
        return Capabilities(encode=False, prior=True, conditional=model.conditional, kl=False, invert=True,
                            modality="image")

    def invert(self, images, labels=None, *, steps: int = REQUEST_STEPS, starts: int = REQUEST_STARTS,
               lr: float = REQUEST_LR, seed: int = REQUEST_SEED) -> tuple[np.ndarray, np.ndarray]:
        """The codes whose generated images best match the pictures (training.inversion.invert, at the request-time
        settings above): images (N, 28, 28) float in [0, 1], labels None, one class id or (N,) ids (a cgan) ->
        (z* (N, D) float32, bce (N,) float32: the Bernoulli reconstruction error of G(z*) in nats per image).
        Deterministic: the same picture, settings and seed give the same code."""
        from training.inversion import invert

        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32))[:, None]  # (N, 1, 28, 28)
        y = self._labels(labels, x.shape[0])
        res = invert(self.model, x, y, steps=steps, starts=starts, lr=lr, seed=seed)
        return res.z.detach().float().numpy(), res.bce.detach().float().numpy()
