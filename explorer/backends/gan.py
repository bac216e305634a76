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

from .autoencoder import TorchBackend, to_model_input
from .base import Capabilities

# The inversion of a picture a person sends, while they wait: training.inversion.invert's request-time defaults
# (4 starts from its decoded pool) with 60 Adam steps instead of its 100, so that the whole API call, upload, PNGs
# and gradio included, stays within 500 ms. On assets/mnist-gan, one thread, an idle 2-core machine (/tmp script of
# 30 test digits): 100 steps 229 ms and 71.8 nats mean BCE, 60 steps 122 ms and 73.1 nats; through the app
# (benchmarks/gan_latency.py) /encode_image took 629 ms at 100 steps. The test images' codes in latent_map.npz come
# from the build-time inversion (training.inversion.SPLIT_SETTINGS).
REQUEST_SETTINGS: dict = {"steps": 60}


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

    def settle_untrained(self, seed: int, n: int = 512) -> None:
        """Make an untrained generator (the synthetic folders of explorer.testing) give each code a visibly different
        image instead of near-uniform grey: batch-norm statistics of its own activations on n codes z ~ N(0, I) (as
        training leaves them) and a steeper last layer. Changes the weights in place; eval mode after."""
        model = self.model
        g = torch.Generator().manual_seed(seed)
        norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
        with torch.no_grad():
            model.decoder.deconvs[-1].weight.mul_(4.0)
            model.train()
            for m in norms:
                m.reset_running_stats()
                m.momentum = None  # a cumulative average over the pass below
            y = torch.randint(0, self.num_classes, (n,), generator=g) if self.num_classes else None
            model.decode(torch.randn(n, self.latent_dim, generator=g), y)
            for m in norms:
                m.momentum = 0.1
            model.eval()

    def invert(self, images, labels=None, **settings) -> tuple[np.ndarray, np.ndarray]:
        """The codes whose generated images best match the pictures (training.inversion.invert at the request-time
        settings, REQUEST_SETTINGS, or `settings`): images (N, H, W) or (N, H, W, 3) float in [0, 1], labels None, one class id or
        (N,) ids (a cgan) -> (z* (N, D) float32, bce (N,) float32: the Bernoulli reconstruction error of G(z*) in
        nats per image). Deterministic: the same picture, settings and seed give the same code."""
        from training.inversion import invert

        x = to_model_input(images)                                                    # (N, C, H, W)
        res = invert(self.model, x, self._labels(labels, x.shape[0]), **{**REQUEST_SETTINGS, **settings})
        return res.z.float().numpy(), res.bce.float().numpy()
