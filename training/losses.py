"""Reconstruction and KL terms as pure functions. All values are in nats, summed over pixels / dimensions."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bce_per_image(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood, summed over pixels: (B,). x may be grayscale in [0, 1]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


LOG_256 = math.log(256.0)


def dequantize(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """8-bit images x = k / 255 in [0, 1] -> uniformly dequantised y = (k + u) / 256, u ~ U[0, 1) per pixel.

    A density on [0, 1)^D then gives each 8-bit image the probability of its bins, P(k) = integral of p over the
    bin, whose width is 1/256 per pixel; -log P(k) <= E_u[-log p(y)] + D log 256 (Theis et al. 2016), so the
    dequantised density's NLL plus D log 256 is an upper bound on the 8-bit image's NLL in nats."""
    k = torch.round(x * 255.0)
    u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (k + u) / 256.0


def gaussian_nll_per_image(mean: torch.Tensor, y: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    """-log N(y; mean, sigma^2 I), summed over pixels: (B,). log_sigma is a scalar (one global sigma) or
    broadcastable to mean. The tutorial's MSE loss is this up to a scale and a constant: 0.5 * sum((y - mean)^2) /
    sigma^2 + D log sigma + D/2 log 2 pi."""
    log_sigma = torch.as_tensor(log_sigma, dtype=mean.dtype, device=mean.device)
    per_pixel = 0.5 * ((y - mean) * torch.exp(-log_sigma)).pow(2) + log_sigma + 0.5 * math.log(2 * math.pi)
    return per_pixel.expand_as(mean).flatten(1).sum(1)


def is_gaussian(model) -> bool:
    """The model's decoder is a Gaussian (--likelihood gaussian); False for Bernoulli ones and old configs."""
    return getattr(model.config, "likelihood", "bernoulli") == "gaussian"


def recon_target(model, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """What `model`'s likelihood scores: x itself (Bernoulli), or x dequantised (Gaussian; `dequantize`). An IWAE
    bound dequantises once and scores every sample against the same target (recon_nll(..., dequantized=True))."""
    return dequantize(x, generator) if is_gaussian(model) else x


def recon_nll(model, logits: torch.Tensor, x: torch.Tensor, generator: torch.Generator | None = None,
              dequantized: bool = False) -> torch.Tensor:
    """The reconstruction term -log p(x|z) of `model`'s likelihood, nats per image: (B,).

    bernoulli: the binary cross-entropy of the logits (bce_per_image), as the tutorials' VAE.
    gaussian: the mean is sigmoid(logits) (so the image the explorer shows is the same function of the logits),
    the standard deviation the model's global sigma (model.log_sigma); x is dequantised (`dequantize`, with
    `generator`) and D log 256 added, so the figure is the NLL of the 8-bit image in nats (an upper bound).
    Bernoulli nats on grayscale pixels are not a likelihood of the 8-bit data (the target is not binary), so the two
    are not comparable as numbers; bits per dimension of the Gaussian are nats / (D ln 2). dequantized=True: x is
    already recon_target's output (the same noise for several samples)."""
    if not is_gaussian(model):
        return bce_per_image(logits, x)
    y = x if dequantized else dequantize(x, generator)
    nll = gaussian_nll_per_image(torch.sigmoid(logits), y, model.log_sigma)
    return nll + x[0].numel() * LOG_256


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
