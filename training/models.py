"""Encoders, decoders and the model kinds (AE, VAE, CVAE, GAN, CGAN), with MODEL_KINDS, the one table of kinds.

Every model maps a latent code (B, latent_dim) to Bernoulli logits (B, C, H, W) (`decode_logits`; `decode` gives
probabilities), the config's image_shape: 1x28x28 for MNIST, C = 1 or 3 and H = W = 28, 32 or 64 for an image folder.
The conv networks have one stride-2 stage per entry of conv_channels, one more per doubling of the image side
(config.IMAGE_STAGES). The autoencoders also map images x (B, C, H, W) in [0, 1] to codes; a GAN has a generator only
(its discriminator is a training-time network, kept in the resume state, never in model.safetensors).
`forward` returns named tensors and computes no loss: `losses.py` (and gan.py for the GAN) does that.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn
import torch.nn.functional as F

from .config import IMAGE_STAGES, ModelConfig, stage_channels
from .hub import HubModelMixin


INITIAL_SIGMA = 0.2   # a learned Gaussian sigma starts here (pixels are in [0, 1]; it falls as the decoder improves)


class Posterior(NamedTuple):
    mu: torch.Tensor                  # (B, latent_dim)
    logvar: torch.Tensor | None       # (B, latent_dim); None for a deterministic AE


class ModelOutput(NamedTuple):
    logits: torch.Tensor              # (B, C, H, W) Bernoulli logits of the reconstruction
    mu: torch.Tensor                  # (B, latent_dim)
    logvar: torch.Tensor | None       # (B, latent_dim) or None (AE)
    z: torch.Tensor                   # (B, latent_dim) the code that was decoded


# ---------------------------------------------------------------------------------------------------------------
# Building blocks. `cond` is the size of an extra vector (one-hot label) concatenated before the dense layers.

def _with_label(h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """(B, F) features, and a cvae's one-hot label (B, cond) appended: (B, F + cond); unchanged without one."""
    return h if c is None else torch.cat([h, c], dim=1)


class MLPEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig, out_dim: int, cond: int = 0):
        super().__init__()
        n_pix = cfg.image_shape[0] * cfg.image_shape[1] * cfg.image_shape[2]
        self.hidden = nn.Linear(n_pix + cond, cfg.mlp_hidden)
        self.out = nn.Linear(cfg.mlp_hidden, out_dim)

    def forward(self, x, c=None):
        h = _with_label(x.flatten(1), c)                           # (B, C * H * W + cond)
        return self.out(F.relu(self.hidden(h)))


class MLPDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig, cond: int = 0):
        super().__init__()
        self.image_shape = cfg.image_shape
        n_pix = cfg.image_shape[0] * cfg.image_shape[1] * cfg.image_shape[2]
        self.hidden = nn.Linear(cfg.latent_dim + cond, cfg.mlp_hidden)
        self.out = nn.Linear(cfg.mlp_hidden, n_pix)

    def forward(self, z, c=None):
        return self.out(F.relu(self.hidden(_with_label(z, c)))).view(-1, *self.image_shape)


def _norm(cfg: ModelConfig, channels: int) -> nn.Module:
    return nn.BatchNorm2d(channels) if cfg.batch_norm else nn.Identity()


def _bottom_side(cfg: ModelConfig) -> int:
    """The side of the smallest feature map: the image side halved once per stage (28 -> 7, 32 -> 8, 64 -> 8)."""
    return cfg.image_shape[-1] >> len(cfg.conv_channels)


class ConvEncoder(nn.Module):
    def __init__(self, cfg: ModelConfig, out_dim: int, cond: int = 0):
        super().__init__()
        layers: list[nn.Module] = []
        # One stride-2 conv per stage, each halving the side: 1x28x28 -> (c1, 14, 14) -> (c2, 7, 7). The layer list,
        # and so the state_dict's names, is the one the shipped two-stage folders were saved with.
        for n_in, n_out in zip((cfg.image_shape[0], *cfg.conv_channels[:-1]), cfg.conv_channels):
            layers += [nn.Conv2d(n_in, n_out, 4, stride=2, padding=1), _norm(cfg, n_out), nn.ReLU()]
        self.convs = nn.Sequential(*layers)
        side = _bottom_side(cfg)
        self.hidden = nn.Linear(cfg.conv_channels[-1] * side * side + cond, cfg.conv_hidden)
        self.out = nn.Linear(cfg.conv_hidden, out_dim)

    def forward(self, x, c=None):
        h = _with_label(self.convs(x).flatten(1), c)              # (B, c_last * side * side + cond)
        return self.out(F.relu(self.hidden(h)))


class ConvDecoder(nn.Module):
    def __init__(self, cfg: ModelConfig, cond: int = 0):
        super().__init__()
        self.c_last, self.side = cfg.conv_channels[-1], _bottom_side(cfg)
        # dense_batch_norm (a GAN's generator, as in DCGAN): BatchNorm after each dense layer too. Without it the
        # layer list (and so the state_dict's names) is the one the shipped VAE folders were saved with.
        dense: list[nn.Module] = []
        for n_in, n_out in ((cfg.latent_dim + cond, cfg.conv_hidden), (cfg.conv_hidden, self.c_last * self.side ** 2)):
            dense.append(nn.Linear(n_in, n_out))
            if cfg.dense_batch_norm:
                dense.append(nn.BatchNorm1d(n_out))
            dense.append(nn.ReLU())
        self.dense = nn.Sequential(*dense)
        # The encoder's stages in reverse, each doubling the side: (c2, 7, 7) -> (c1, 14, 14) -> (C, 28, 28) logits.
        ups: list[nn.Module] = []
        widths = cfg.conv_channels[::-1]
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            ups += [nn.ConvTranspose2d(n_in, n_out, 4, stride=2, padding=1), _norm(cfg, n_out), nn.ReLU()]
        ups.append(nn.ConvTranspose2d(widths[-1], cfg.image_shape[0], 4, stride=2, padding=1))
        self.deconvs = nn.Sequential(*ups)
        # A transposed convolution shares one bias over all pixels; a per-pixel one holds the mean image, so the
        # layers above spend their capacity on what varies.
        self.pixel_bias = nn.Parameter(torch.zeros(cfg.image_shape)) if cfg.pixel_bias else None

    def forward(self, z, c=None):
        out = self.deconvs(self.dense(_with_label(z, c)).view(-1, self.c_last, self.side, self.side))
        return out if self.pixel_bias is None else out + self.pixel_bias


ARCHITECTURES = {"mlp": (MLPEncoder, MLPDecoder), "conv": (ConvEncoder, ConvDecoder)}


class SampleClassifier(nn.Module):
    """The auxiliary classifier of `--classifier-weight` (train.py): it learns the classes from the real training
    images while a cvae trains, and its cross-entropy on decoded prior samples tells the decoder which details make
    a sample of class c look like a c (the classifier loss of CVAE-GAN, Bao et al. 2017). Used in training only:
    it is kept in the resumable training state, never in model.safetensors.
    One stride-2 convolution per stage of the image size (32, 64, then 128 channels: 1x28x28 -> (32, 14, 14) ->
    (64, 7, 7)) and two dense layers; no batch norm or dropout, so it behaves the same on real images and on
    samples."""

    def __init__(self, num_classes: int, image_shape: tuple = (1, 28, 28)):
        super().__init__()
        widths = stage_channels((32, 64), IMAGE_STAGES[image_shape[-1]])
        layers: list[nn.Module] = []
        for n_in, n_out in zip((image_shape[0], *widths[:-1]), widths):
            layers += [nn.Conv2d(n_in, n_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        side = image_shape[-1] >> len(widths)
        self.net = nn.Sequential(
            *layers, nn.Flatten(), nn.Linear(widths[-1] * side * side, 128), nn.LeakyReLU(0.2),
            nn.Linear(128, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> class logits (B, num_classes)."""
        return self.net(x)


class Discriminator(nn.Module):
    """A GAN's critic (DCGAN): strided convolutions with LeakyReLU(0.2), batch norm on every conv layer but the
    first (Radford et al. 2016), then a dense layer (disc_hidden units; 0: none, DCGAN's own design) to one logit,
    "real". A cgan's one-hot class joins the features before the dense layers, as the CVAE's encoder takes it.
    disc_minibatch_std adds one feature, the standard deviation of the conv features across the batch (Karras et al.
    2018): a batch of near-identical samples stands out, which discourages mode collapse.
    Training only: it is kept in the resume state (train_state.safetensors), never in model.safetensors."""

    def __init__(self, cfg: ModelConfig, cond: int = 0):
        super().__init__()
        widths = cfg.disc_channels
        # One stride-2 conv per stage (1x28x28 -> (c1, 14, 14) -> (c2, 7, 7)), batch norm on all but the first
        # (none with batch_norm=False, as in the generator; the layer names stay the same).
        layers: list[nn.Module] = [nn.Conv2d(cfg.image_shape[0], widths[0], 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(n_in, n_out, 4, stride=2, padding=1), _norm(cfg, n_out), nn.LeakyReLU(0.2)]
        self.convs = nn.Sequential(*layers)
        self.minibatch_std = cfg.disc_minibatch_std
        side = cfg.image_shape[-1] >> len(widths)
        n_feat = widths[-1] * side * side + cond + int(self.minibatch_std)
        self.hidden = nn.Linear(n_feat, cfg.disc_hidden) if cfg.disc_hidden else None
        self.out = nn.Linear(cfg.disc_hidden or n_feat, 1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] (and a cgan's one-hot c) -> (B,) logits of "x is a real image"."""
        h = self.convs(x).flatten(1)                                                  # (B, c_last * side * side)
        if self.minibatch_std:
            spread = h.std(0, correction=0).mean() if h.shape[0] > 1 else h.new_zeros(())
            h = torch.cat([h, spread.expand(h.shape[0], 1)], dim=1)
        h = _with_label(h, c)
        if self.hidden is not None:
            h = F.leaky_relu(self.hidden(h), 0.2)
        return self.out(h).squeeze(1)


# ---------------------------------------------------------------------------------------------------------------
# The model kinds. What the rest of the package asks of a kind is a class attribute here, so a check reads
# `model.conditional` (or MODEL_KINDS[kind].conditional before there is a model), never `kind == "cvae"`.

class CodeAndClasses:
    """What every model kind, image or text, says of its code and its classes (self.config and self.conditional
    come from the model): latent_dim, num_classes, class_names, and the one-hot of the labels a conditional kind
    takes."""

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    @property
    def num_classes(self) -> int:
        return self.config.num_classes if self.conditional else 0

    @property
    def class_names(self) -> list[str]:
        return list(self.config.class_names)

    def _condition(self, y: torch.Tensor | None, batch: int, device) -> torch.Tensor | None:
        """One-hot (B, num_classes) for a cvae; None otherwise. y is a LongTensor of class ids."""
        if not self.conditional:
            return None
        if y is None:
            raise ValueError(f"a {self.kind} needs class labels: pass y, a LongTensor of class ids.")
        y = torch.as_tensor(y, device=device).long().reshape(-1)
        if y.numel() == 1 and batch > 1:
            y = y.expand(batch)
        if y.numel() != batch:
            raise ValueError(f"got {y.numel()} labels for a batch of {batch}.")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"class ids must be in 0..{self.num_classes - 1}, got {y.tolist()[:8]}.")
        return F.one_hot(y, self.num_classes).to(torch.get_default_dtype())


class LatentModel(CodeAndClasses, HubModelMixin, nn.Module):
    """Shared machinery; subclasses set `kind`, `stochastic`, `conditional` and `description`. HubModelMixin
    (training/hub.py) adds save_pretrained, push_to_hub and from_pretrained."""

    kind = ""                 # the config's "kind" and the key in MODEL_KINDS
    stochastic = False        # a Gaussian posterior (mu, logvar) and a KL term; False: a deterministic code (AE)
    conditional = False       # encoder and decoder take a class label (one-hot); the config then has num_classes
    adversarial = False       # a GAN: a generator (self.decoder) and no encoder; trained by gan.py
    description = ""          # what the model is, for its model card: "a variational autoencoder (...)"

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.kind != self.kind:
            raise ValueError(f"{type(self).__name__} needs kind={self.kind!r}, got {config.kind!r}.")
        self.config = config
        enc_cls, dec_cls = ARCHITECTURES[config.arch]
        cond = config.num_classes if self.conditional else 0
        out_dim = 2 * config.latent_dim if self.stochastic else config.latent_dim
        self.encoder = None if self.adversarial else enc_cls(config, out_dim, cond)
        self.decoder = dec_cls(config, cond)
        # --likelihood gaussian: one global log standard deviation of the pixels, learned (a parameter saved with
        # the weights) or fixed (a buffer); losses.recon_nll reads it. Bernoulli models have neither, so their
        # state_dicts are unchanged.
        if getattr(config, "likelihood", "bernoulli") == "gaussian":
            if config.gaussian_sigma:
                self.register_buffer("log_sigma", torch.tensor(math.log(config.gaussian_sigma)))
            else:
                self.log_sigma = nn.Parameter(torch.tensor(math.log(INITIAL_SIGMA)))

    @property
    def sigma(self) -> float | None:
        """The Gaussian likelihood's pixel standard deviation; None for a Bernoulli model."""
        log_sigma = getattr(self, "log_sigma", None)
        return None if log_sigma is None else float(log_sigma.detach().exp())

    @property
    def has_encoder(self) -> bool:
        return self.encoder is not None

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> Posterior:
        """x (B, C, H, W) in [0, 1] -> Posterior(mu (B, D), logvar (B, D) or None)."""
        if self.encoder is None:
            raise TypeError(f"a {self.kind} has no encoder; training.inversion.invert finds the code of an image "
                            "by optimisation instead.")
        h = self.encoder(x, self._condition(y, x.shape[0], x.device))
        if not self.stochastic:
            return Posterior(h, None)
        mu, logvar = h.chunk(2, dim=1)
        return Posterior(mu, logvar.clamp(-30.0, 20.0))  # keeps exp(logvar) finite

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) -> Bernoulli logits (B, C, H, W)."""
        return self.decoder(z, self._condition(y, z.shape[0], z.device))

    def decode(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """z (B, D) -> pixel probabilities (B, C, H, W) in [0, 1]."""
        return torch.sigmoid(self.decode_logits(z, y))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None, *, sample: bool = True,
                generator: torch.Generator | None = None, eps: torch.Tensor | None = None) -> ModelOutput:
        """Encode, draw z (or take the mean when sample=False or the model is an AE), decode. eps (B, D): the
        standard normal noise of the draw, given (a process's rows of a global batch's noise under torchrun)."""
        mu, logvar = self.encode(x, y)
        z = self.draw(mu, logvar, generator, eps=eps) if self.stochastic and sample else mu
        return ModelOutput(self.decode_logits(z, y), mu, logvar, z)

    @staticmethod
    def draw(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None = None,
             samples: int | None = None, eps: torch.Tensor | None = None) -> torch.Tensor:
        """z ~ N(mu, exp(logvar)) as mu + eps * sigma (the reparameterisation: gradients reach mu and logvar).

        mu, logvar (B, D) -> z (B, D); with samples=k, k independent draws for every row: (k, B, D).
        """
        if eps is None:
            shape = mu.shape if samples is None else (samples, *mu.shape)
            eps = torch.randn(shape, generator=generator, device=mu.device, dtype=mu.dtype)
        return mu + eps * torch.exp(0.5 * logvar)

    def reconstruct(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Decode the posterior mean: (B, C, H, W) probabilities."""
        return self.decode(self.encode(x, y).mu, y)

    def sample(self, n: int, y: torch.Tensor | None = None, *, generator: torch.Generator | None = None):
        """Decode n codes drawn from the prior N(0, I): (n, C, H, W) probabilities."""
        device = next(self.parameters()).device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.decode(z, y)


class AE(LatentModel):
    kind = "ae"
    description = ("a deterministic autoencoder (reconstruction loss only; its latent space is not shaped to N(0, I), "
                   "so decoding random vectors gives poor images)")


class VAE(LatentModel):
    kind = "vae"
    stochastic = True
    description = "a variational autoencoder (Gaussian posterior, Bernoulli decoder, loss = BCE + beta * KL)"


class CVAE(LatentModel):
    kind = "cvae"
    stochastic = True
    conditional = True
    description = "a conditional VAE (the class label enters both the encoder and the decoder)"


class GAN(LatentModel):
    kind = "gan"
    adversarial = True
    description = ("a DCGAN generator (trained against a discriminator with the non-saturating loss; it has no "
                   "encoder, so the codes of real images are found by optimisation: GAN inversion)")

    def discriminator(self) -> Discriminator:
        """A new, untrained discriminator for this generator (training only)."""
        return Discriminator(self.config, self.config.num_classes if self.conditional else 0)


class CGAN(GAN):
    kind = "cgan"
    conditional = True
    description = ("a conditional DCGAN generator (the class label enters both the generator and the "
                   "discriminator; no encoder: codes of real images come from GAN inversion)")


# kind -> class, in the order the CLI and the errors list them. config.py reads it lazily (config.model_kind).
MODEL_KINDS: dict[str, type[LatentModel]] = {cls.kind: cls for cls in (AE, VAE, CVAE, GAN, CGAN)}


def build_model(config: ModelConfig) -> LatentModel:
    return MODEL_KINDS[config.kind](config)


def create_model(kind: str = "vae", arch: str = "conv", latent_dim: int = 16, num_classes: int = 0,
                 class_names: list[str] | None = None, **kwargs) -> LatentModel:
    """Build an untrained model; class_names defaults to "0".."num_classes-1"."""
    if class_names is None:
        class_names = [str(i) for i in range(num_classes)]
    if kind in MODEL_KINDS and MODEL_KINDS[kind].conditional and not num_classes:
        num_classes = len(class_names)
    cfg = ModelConfig(kind=kind, arch=arch, latent_dim=latent_dim, num_classes=num_classes,
                      class_names=list(class_names), **kwargs)
    return build_model(cfg)
