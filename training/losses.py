"""Reconstruction and KL terms as pure functions. All values are in nats, summed over pixels / dimensions."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bce_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood, summed over pixels: (B,). x may be grayscale in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def kl_per_dim(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per latent dimension: (B, D)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def kl_per_image(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL summed over latent dimensions: (B,)."""
    return kl_per_dim(mu, logvar).sum(1)


def log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag(exp(logvar))), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_std_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (math.log(2 * math.pi) + z.pow(2)).sum(-1)


def class_mmd(z: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Maximum mean discrepancy between each class's codes and N(0, I), averaged over the classes in the batch.

    The KL term pulls every single posterior towards the prior but says nothing about where a class's codes lie
    together; when they gather in one corner, a prior code decoded with that label lands where the decoder never
    saw the class (InfoVAE, Zhao et al. 2017, matches the whole batch; a CVAE needs each class to fill the prior).
    Unbiased estimator, inverse multiquadric kernels at several scales (as in WAE, Tolstikhin et al. 2018).
    z: (B, D) posterior samples; y: (B,) class ids. Returns a scalar (0 when no class has two codes).
    """
    b, d = z.shape
    p = torch.randn(z.shape, generator=generator, device=z.device, dtype=z.dtype)   # one prior code per row

    def kernel(a, c):
        sq = torch.cdist(a, c).pow(2)
        return sum(s * 2 * d / (s * 2 * d + sq) for s in (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0))

    same = (y[:, None] == y[None, :]).to(z.dtype)                                   # (B, B) same-class pairs
    off = same * (1 - torch.eye(b, device=z.device, dtype=z.dtype))
    counts = same.sum(1)                                                             # n_c for each row's class
    ok = counts > 1
    if not ok.any():
        return z.new_zeros(())
    # Per row i: sums over the other codes of i's class; dividing by n_c (n_c - 1) and summing the rows of a class
    # gives that class's estimate; dividing by n_c once more weights rows so that each class counts once.
    w = torch.where(ok, 1.0 / (counts * (counts - 1).clamp(min=1)), torch.zeros_like(counts))
    zz = (kernel(z, z) * off).sum(1) * w
    pp = (kernel(p, p) * off).sum(1) * w
    zp = (kernel(z, p) * same).sum(1) / counts ** 2
    per_row = zz + pp - 2 * zp * ok
    n_classes = (ok / counts).sum()
    return per_row.sum() / n_classes
