"""GAN inversion: the code z whose decoded image is closest to a given image, found by optimisation.

A GAN has no encoder, so the code of a real image is searched for (Zhu et al. 2016, "Generative visual manipulation
on the natural image manifold"; Creswell & Bharath 2018): minimise the Bernoulli reconstruction error of decode(z)
against the image, plus a small prior penalty prior_weight * ||z||^2 / 2 that keeps z where N(0, I) puts its mass
(where the generator was trained, and where the explorer's sliders reach), by Adam on z, from several starts.

    invert(model, images, labels=None, ...) -> Inversion(z (N, D), bce (N,))

How it is made fast on a CPU:
- the starts are not random draws but the best of a pool of random codes: the pool is decoded once per model (per
  class, for a conditional model) and kept with it, and the error of every image against every pooled image is one
  matrix product, BCE(x, l) = sum softplus(l) - x . l; a request then picks its starts from 8,192 decoded codes in
  a few milliseconds;
- every start of every image in a batch is one row of one tensor: one decoder pass per Adam step for all of them;
- after the first `explore_steps` steps only the best start of each image goes on (the others rarely catch up);
- the learning rate decays on a cosine to lr_min_ratio * lr, so the last steps settle instead of jittering;
- only the code gets gradients (torch.autograd.grad with respect to z): the decoder's weights get none;
- where the CPU (or GPU) has bfloat16 arithmetic, the search runs a bfloat16 copy of the decoder (precision "auto").
  It reaches the same error as float32 (the mean over 256 MNIST test images differs by 0.1 nats) in less time.

Works for any training.models.LatentModel (a gan or cgan's generator, or an autoencoder's decoder); the model is
used in eval mode (batch norm with its running statistics, so every image is independent of the others in its
batch). The errors returned are recomputed with the float32 decoder at the end, whatever the search ran in.
"""
from __future__ import annotations

import copy
import math
import threading
import weakref
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch.optim.adam import adam

from .losses import bce_per_image
from .models import LatentModel


class Inversion(NamedTuple):
    z: torch.Tensor      # (N, D) float32 codes, on the CPU
    bce: torch.Tensor    # (N,) float32: Bernoulli reconstruction error of decode(z) against each image, nats


# Adam's moment decays for z, measured on an MNIST GAN's first 256 test images at SPLIT_SETTINGS (mean BCE): a lower
# beta2 than the usual 0.999 lets the step size follow the gradient's scale as z moves, and beta1 0.7 sits between
# too little momentum and too much: (0.7, 0.9) 77.3 nats, (0.5, 0.999) 79.9, (0.9, 0.999) 80.3 (and on an earlier
# checkpoint of that GAN, with lr_min_ratio 0.2: (0.7, 0.9) 82.2, (0.8, 0.9) 82.5, (0.9, 0.9) 84.5, (0.8, 0.95) 83.9).
ADAM_BETAS = (0.7, 0.9)
PRECISIONS = ("auto", "fp32", "bf16")

# What evaluate.py and the latent map use for a whole test split: one start per image from the 8,192-code pool and 50
# steps (10,000 MNIST test images in 91 s on two threads, Fashion-MNIST in 123 s, 160 s on one; benchmarks/
# inversion_speed.py). invert()'s own defaults are for one picture at a time, while someone waits: 4 starts and 100
# steps, a median 194 ms (MNIST) and 320 ms (Fashion-MNIST) on one thread, 2 to 4 nats lower.
SPLIT_SETTINGS = {"steps": 50, "starts": 1, "pool": 8192, "batch_size": 500}


def _runner(model: LatentModel, precision: str):
    """decode(z (B, D) float32, c (B, C) one-hot or None) -> float32 logits (B, C, H, W), differentiable in z.

    "bf16" runs a bfloat16 copy of the decoder (made once per model, _cached): faster than the float32 decoder on
    a CPU with bf16 arithmetic, and than autocast, which casts every weight again at every step (for a batch of
    one image that copying is most of a step)."""
    if precision != "bf16":
        return model.decoder
    dec = _cached(model, ("bf16-decoder",), lambda: _bf16_copy(model.decoder))
    return lambda z, c=None: dec(z.to(torch.bfloat16), None if c is None else c.to(torch.bfloat16)).float()


def _bf16_copy(decoder: torch.nn.Module) -> torch.nn.Module:
    dec = copy.deepcopy(decoder).to(torch.bfloat16).eval()
    for p in dec.parameters():
        p.requires_grad_(False)
    return dec


class _Pool:
    """`size` random codes from N(0, I) (seeded), decoded once and kept (_cached), so that every batch of images,
    and every later call, picks its starts without decoding them again. A conditional model decodes
    size // num_classes of them (at least `starts`) as each class, when an image of that class first asks: as many
    codes of each class as an unconditional model has of a class in its pool, and the same memory.
    It keeps no reference to the model (the cache is weakly keyed by it)."""

    def __init__(self, model: LatentModel, size: int, seed: int):
        self.device = next(model.parameters()).device
        self.z = torch.randn(size, model.latent_dim, generator=torch.Generator().manual_seed(seed)).to(self.device)
        self.sq = 0.5 * self.z.pow(2).sum(1)                                               # (P,) ||z||^2 / 2
        self._decoded: dict = {}                                                           # class -> logits, softplus

    @torch.no_grad()
    def decoded(self, model: LatentModel, decode, c: int | None, starts: int) -> tuple[torch.Tensor, torch.Tensor,
                                                                                        torch.Tensor]:
        """The pool's codes for class c (None: unconditional) (P, D), their logits (P, pixels) and the sum of
        softplus of each logit row (P,); decode is _runner's."""
        n = self.z.shape[0] if c is None else max(starts, self.z.shape[0] // model.num_classes)
        if c not in self._decoded or self._decoded[c][0].shape[0] < n:
            cond = None if c is None else model._condition(torch.full((n,), c, device=self.device), n, self.device)
            logits = torch.cat([decode(self.z[i:i + 1024][:n - i], None if cond is None else cond[i:i + 1024])
                                .flatten(1) for i in range(0, n, 1024)])
            self._decoded[c] = (logits, F.softplus(logits).sum(1))
        logits, soft = self._decoded[c]
        return self.z[:n], logits[:n], soft[:n]

    @torch.no_grad()
    def best(self, model: LatentModel, decode, x: torch.Tensor, y: torch.Tensor | None, starts: int,
             prior_weight: float) -> torch.Tensor:
        """The `starts` codes of the pool that score best on each image (BCE plus the prior penalty): (B, S, D).

        x (B, pixels) flattened images in [0, 1]; y (B,) class ids of a conditional model, else None.
        BCE(x, l) = sum_j softplus(l_j) - x_j l_j, so the table of every image against every pooled code is one
        matrix product."""
        out = torch.empty(x.shape[0], starts, self.z.shape[1], device=x.device)
        groups = [(None, torch.arange(x.shape[0], device=x.device))] if y is None else \
            [(int(c), (y == c).nonzero().squeeze(1)) for c in torch.unique(y)]
        for c, rows in groups:
            z, logits, soft = self.decoded(model, decode, c, starts)
            scores = torch.addmm(soft + prior_weight * self.sq[:len(z)], x[rows], logits.T, alpha=-1)  # (rows, P)
            out[rows] = z[scores.topk(starts, dim=1, largest=False).indices]
        return out


_CACHE: "weakref.WeakKeyDictionary[LatentModel, dict]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.RLock()


def _cached(model: LatentModel, key: tuple, make):
    """make(), made once per model and key and kept while the model lives: an explorer request then scores its
    picture against thousands of decoded codes in a few milliseconds. A change to the weights (an optimizer step,
    load_state_dict: both bump the tensors' version counters) makes it again."""
    versions = tuple(t._version for t in model.state_dict().values())
    with _CACHE_LOCK:
        entries = _CACHE.setdefault(model, {})
        made = entries.get(key)
        if made is None or made[0] != versions:
            made = entries[key] = (versions, make())
        return made[1]


def _pool_for(model: LatentModel, size: int, seed: int, precision: str) -> _Pool:
    """The model's start pool of this size and seed, decoded in this precision."""
    return _cached(model, ("pool", size, seed, precision), lambda: _Pool(model, size, seed))


def _cosine(lr: float, lr_min_ratio: float, t: int, steps: int) -> float:
    lo = lr * lr_min_ratio
    return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * t / max(steps - 1, 1)))


def _search(decode, x: torch.Tensor, cond: torch.Tensor | None, z0: torch.Tensor, *, steps: int,
            explore_steps: int, lr: float, lr_min_ratio: float, prior_weight: float) -> torch.Tensor:
    """Adam on the codes of one batch. decode is _runner's; x (B, C, H, W); cond (B, C) one-hot or None; z0
    (B, S, D) starts.

    All B * S codes step together; after explore_steps steps the best start of each image (lowest BCE at that
    step) goes on alone, with its Adam moments. Returns the final codes (B, D).

    torch.optim.adam.adam is Adam's update as a function: the moments are plain tensors here (so the best start's
    rows are simply kept), and unlike torch.optim.Adam's constructor it does not import torch._dynamo (seconds, the
    first time in a process: an explorer request would wait for it)."""
    b, s, d = z0.shape
    z = z0.reshape(b * s, d).clone()
    exp_avg, exp_avg_sq, step = torch.zeros_like(z), torch.zeros_like(z), torch.zeros(())
    xs = x.repeat_interleave(s, 0)
    cs = None if cond is None else cond.repeat_interleave(s, 0)
    for t in range(steps):
        z.requires_grad_(True)
        bce = bce_per_image(decode(z, cs), xs)                               # (rows,)
        (grad,) = torch.autograd.grad(bce.sum() + prior_weight * 0.5 * z.pow(2).sum(), [z])
        z = z.detach()
        if s > 1 and t == explore_steps:                                     # keep the best start of each image
            keep = bce.detach().view(b, s).argmin(1) + torch.arange(b, device=x.device) * s   # (B,) rows
            z, grad, exp_avg, exp_avg_sq = z[keep], grad[keep], exp_avg[keep], exp_avg_sq[keep]
            s, xs, cs = 1, x, cond
        adam([z], [grad], [exp_avg], [exp_avg_sq], [], [step], foreach=False, capturable=False,
             differentiable=False, fused=None, grad_scale=None, found_inf=None, has_complex=False, amsgrad=False,
             beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], lr=_cosine(lr, lr_min_ratio, t, steps), weight_decay=0.0,
             eps=1e-8, maximize=False)
    if s > 1:   # explore_steps >= steps: choose among the starts at the end
        with torch.no_grad():
            bce = bce_per_image(decode(z, cs), xs).view(b, s)
        z = z.view(b, s, d)[torch.arange(b, device=x.device), bce.argmin(1)]
    return z


def invert(model: LatentModel, images: torch.Tensor, labels: torch.Tensor | None = None, *, steps: int = 100,
           starts: int = 4, explore_steps: int = 15, pool: int = 8192, prior_weight: float = 0.1, lr: float = 0.2,
           lr_min_ratio: float = 0.5, seed: int = 0, batch_size: int = 500, precision: str = "auto",
           progress=None) -> Inversion:
    """Find codes z (N, D) whose decoded images best match `images` (N, C, H, W) float in [0, 1].

    labels (N,) class ids, required for a conditional model (each image is inverted as its own class).
    steps: Adam steps per image; starts: how many of the `pool` random codes that score best on an image are
    optimised (for explore_steps steps; then the best of them alone); prior_weight: weight of ||z||^2 / 2 in the
    objective (1 would be the MAP code under N(0, I)); lr: Adam's learning rate, cosine-decayed to
    lr * lr_min_ratio; batch_size: images per optimisation batch (each holds batch_size * starts codes);
    precision: "bf16" searches with a bfloat16 copy of the decoder, "fp32" with the decoder itself, "auto" (the
    default) bf16 where the device has bfloat16 arithmetic; seed: the pool's random codes; progress(done, total)
    is called after each batch. The same images, settings and seed give the same codes.

    Returns Inversion(z (N, D) float32, bce (N,) float32 nats per image: the Bernoulli error of decode(z), in
    float32), on the CPU.
    """
    if images.dim() != 4 or tuple(images.shape[1:]) != tuple(model.config.image_shape):
        raise ValueError(f"images must be (N, {', '.join(map(str, model.config.image_shape))}) floats in [0, 1], "
                         f"got shape {tuple(images.shape)}.")
    if images.numel() and not (torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1):
        raise ValueError("images must be floats in [0, 1] (pixel intensities divided by 255), without NaN.")
    if model.conditional and labels is None:
        raise ValueError(f"a {model.kind} inverts each image as its class: pass labels, (N,) class ids.")
    if steps < 0 or starts < 1 or pool < starts or batch_size < 1:
        raise ValueError(f"need steps >= 0, 1 <= starts <= pool and batch_size >= 1; got steps={steps}, "
                         f"starts={starts}, pool={pool}, batch_size={batch_size}.")
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r} must be one of {', '.join(PRECISIONS)}.")
    device = next(model.parameters()).device
    if precision == "auto":
        from .train import bf16_is_native
        precision = "bf16" if bf16_is_native(device) else "fp32"
    was_training = model.training
    model.eval()
    n = images.shape[0]
    y_all = None if not model.conditional else torch.as_tensor(labels).long().reshape(-1).to(device)
    if y_all is not None and y_all.numel() != n:
        raise ValueError(f"got {y_all.numel()} labels for {n} images.")
    zs, bces = [], []
    try:
        codes = _pool_for(model, pool, seed, precision)
        decode = _runner(model, precision)
        for i in range(0, n, batch_size):
            x = images[i:i + batch_size].to(device=device, dtype=torch.float32)
            y = None if y_all is None else y_all[i:i + batch_size]
            cond = None if y is None else model._condition(y, x.shape[0], device)
            z0 = codes.best(model, decode, x.flatten(1), y, starts, prior_weight)
            z = _search(decode, x, cond, z0, steps=steps, explore_steps=explore_steps, lr=lr,
                        lr_min_ratio=lr_min_ratio, prior_weight=prior_weight)
            with torch.no_grad():
                bces.append(bce_per_image(model.decoder(z, cond).float(), x).cpu())
            zs.append(z.cpu())
            if progress is not None:
                progress(min(i + batch_size, n), n)
    finally:
        model.train(was_training)
    if not zs:
        return Inversion(torch.zeros(0, model.latent_dim), torch.zeros(0))
    return Inversion(torch.cat(zs).float(), torch.cat(bces).float())


def invert_split(model: LatentModel, split, *, seed: int = 0, progress=None, **settings) -> Inversion:
    """Invert every image of a data split (training.data.Split: uint8 images, labels) at SPLIT_SETTINGS, which
    keywords override; a conditional model inverts each image as its own label. What evaluate.py's figures and
    the latent map of a GAN are made from."""
    labels = split.labels if model.conditional else None
    return invert(model, split.float_images(), labels, seed=seed, progress=progress, **{**SPLIT_SETTINGS, **settings})
