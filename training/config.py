"""Dataclass configs, JSON in and out.

`ModelConfig` is everything needed to rebuild a network; `TrainConfig` is everything needed to repeat a run.
Both round-trip through plain dicts, so `config.json` in a model folder is human-readable and never pickled.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

MAX_LATENT_DIM = 32  # the app shows one slider per dimension
MAX_CLASSES = 1000
ARCHS = ("mlp", "conv")
PRECISIONS = ("fp32", "bf16")
GAN_LOSSES = ("ns", "hinge")
LIKELIHOODS = ("bernoulli", "gaussian")
DEVICES = ("auto", "cpu", "cuda")
IMAGE_CHANNELS = (1, 3)               # grayscale or RGB
# Image side -> stride-2 stages of the conv networks: one more down/up stage per doubling, so the smallest
# feature map is 7x7 (28) or 8x8 (32, 64).
IMAGE_STAGES = {28: 2, 32: 2, 64: 3}
DEFAULT_CONV_CHANNELS = (32, 64)      # the autoencoders' first two stages; each further stage doubles the last
DEFAULT_DISC_CHANNELS = (64, 128)


class ConfigError(ValueError):
    """A config value that cannot work; the message says which key and how to fix it."""


def model_kinds() -> dict:
    """models.MODEL_KINDS, the one table of model kinds: kind -> class, whose `stochastic`, `conditional` and
    `description` say what the kind is. Imported when first needed, not at the top: models.py imports this module,
    and torch, which `import training.config` must not."""
    from .models import MODEL_KINDS
    return MODEL_KINDS


def is_conditional(kind: str | None) -> bool:
    """True for a kind whose models take a class label (a cvae); False for any other, known or not."""
    cls = model_kinds().get(kind)
    return cls is not None and cls.conditional


def is_adversarial(kind: str | None) -> bool:
    """True for a GAN kind (gan, cgan): a generator trained against a discriminator, with no encoder."""
    cls = model_kinds().get(kind)
    return cls is not None and cls.adversarial


@dataclass
class ModelConfig:
    kind: str = "vae"                 # a key of models.MODEL_KINDS
    arch: str = "conv"                # "mlp" | "conv"
    latent_dim: int = 16
    image_shape: tuple = (1, 28, 28)  # (C, H, W): C in IMAGE_CHANNELS, H = W in IMAGE_STAGES
    num_classes: int = 0              # > 0 only for a conditional kind (cvae)
    class_names: list = field(default_factory=list)
    mlp_hidden: int = 400             # the tutorial's 784-400-20 design
    conv_channels: tuple = ()         # one per stride-2 stage (28: 28 -> 14 -> 7); () = stage_channels' default
    conv_hidden: int = 256            # fully connected layer between the conv stack and the latent
    batch_norm: bool = True           # conv only: BatchNorm after each hidden conv layer (trains faster)
    pixel_bias: bool = False          # conv only: a learned logit offset per output pixel (the last layer has one bias)
    dense_batch_norm: bool = False    # conv only: BatchNorm after the decoder's dense layers too (a GAN's generator)
    disc_channels: tuple = ()         # gan / cgan: the discriminator's stride-2 convs, one per stage (training only)
    disc_hidden: int = 1024           # gan / cgan: the discriminator's dense layer (0: none, conv features -> logit)
    disc_minibatch_std: bool = False  # gan / cgan: the discriminator also sees the batch's feature spread
    likelihood: str = "bernoulli"     # the decoder's p(x|z): "bernoulli" (logits) | "gaussian" (mean sigmoid(logits))
    gaussian_sigma: float = 0.0       # gaussian: the pixels' fixed standard deviation; 0 = one learned global sigma

    def __post_init__(self):
        self.image_shape = tuple(int(s) for s in self.image_shape)
        stages = IMAGE_STAGES.get(self.image_shape[-1], 2) if self.image_shape else 2
        self.conv_channels = tuple(int(c) for c in self.conv_channels or stage_channels(DEFAULT_CONV_CHANNELS, stages))
        self.disc_channels = tuple(int(c) for c in self.disc_channels or stage_channels(DEFAULT_DISC_CHANNELS, stages))
        self.class_names = [str(c) for c in self.class_names]
        if not self.conditional and self.num_classes:
            self.num_classes = 0  # unconditional models ignore labels
        self.validate()

    def validate(self) -> None:
        if self.kind not in model_kinds():
            raise ConfigError(f"kind={self.kind!r} is unknown; use one of {', '.join(model_kinds())}.")
        if self.arch not in ARCHS:
            raise ConfigError(f"arch={self.arch!r} is unknown; use one of {', '.join(ARCHS)}.")
        if not isinstance(self.latent_dim, int) or not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ConfigError(
                f"latent_dim={self.latent_dim!r} is out of range; use an integer from 1 to {MAX_LATENT_DIM} "
                "(the app shows one slider per dimension).")
        check_image_shape(self.image_shape)
        if self.adversarial and self.arch != "conv":
            raise ConfigError(f"a {self.kind} is a DCGAN: its generator is the conv decoder, so use arch='conv' "
                              f"(--arch conv), not {self.arch!r}.")
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood={self.likelihood!r} is unknown; use one of {', '.join(LIKELIHOODS)}.")
        if self.adversarial and self.likelihood != "bernoulli":
            raise ConfigError(f"a {self.kind} has no likelihood: its generator is trained against a discriminator, "
                              "not by p(x|z). Drop --likelihood (or train a vae / ae / cvae).")
        if not (isinstance(self.gaussian_sigma, (int, float)) and 0 <= self.gaussian_sigma <= 10):
            raise ConfigError(f"gaussian_sigma={self.gaussian_sigma!r} must be a number from 0 to 10 (the pixels' "
                              "standard deviation on the [0, 1] scale; 0 learns it).")
        if self.gaussian_sigma and self.likelihood != "gaussian":
            raise ConfigError(f"gaussian_sigma={self.gaussian_sigma} is a setting of the Gaussian likelihood; add "
                              "--likelihood gaussian, or drop --gaussian-sigma.")
        if self.conditional and not 2 <= self.num_classes <= MAX_CLASSES:
            raise ConfigError(f"a {self.kind} needs num_classes between 2 and {MAX_CLASSES}, got {self.num_classes!r}.")
        if self.class_names and self.conditional and len(self.class_names) != self.num_classes:
            raise ConfigError(f"class_names has {len(self.class_names)} names but num_classes={self.num_classes}.")
        for name, value, hi in (("mlp_hidden", self.mlp_hidden, 8192), ("conv_hidden", self.conv_hidden, 8192),
                                ("disc_hidden", self.disc_hidden, 8192)):
            if not isinstance(value, int) or not (0 if name == "disc_hidden" else 1) <= value <= hi:
                raise ConfigError(f"{name}={value!r} is out of range; use an integer from 1 to {hi}.")
        size, stages = self.image_shape[-1], self.stages
        for name, value in (("conv_channels", self.conv_channels), ("disc_channels", self.disc_channels)):
            if len(value) != stages or not all(1 <= c <= 1024 for c in value):
                raise ConfigError(f"{name}={list(value)} must be {stages} integers from 1 to 1024, one per stride-2 "
                                  f"stage of a {size}x{size} image (e.g. {list(stage_channels(value, stages))}).")

    @property
    def stages(self) -> int:
        """The conv networks' stride-2 stages for this image size (IMAGE_STAGES): 2 for 28 and 32, 3 for 64."""
        return IMAGE_STAGES[self.image_shape[-1]]

    @property
    def conditional(self) -> bool:
        """The kind takes a class label (models.MODEL_KINDS[kind].conditional); False for an unknown kind."""
        return is_conditional(self.kind)

    @property
    def adversarial(self) -> bool:
        """The kind is a GAN (models.MODEL_KINDS[kind].adversarial): a generator and no encoder."""
        return is_adversarial(self.kind)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["image_shape"] = list(self.image_shape)
        d["conv_channels"] = list(self.conv_channels)
        d["disc_channels"] = list(self.disc_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        return cls(**_known_keys(cls, d, "model"))


TEXT_KIND_NAMES = ("vae", "cvae", "lm")   # text_models.TEXT_KINDS (lm: the decoder alone, no code)
TEXT_DECODERS = ("gru", "positional")


@dataclass
class TextModelConfig:
    """A text model (text_models.py): everything needed to rebuild it; the tokenizer is tokenizer.json beside it."""
    kind: str = "vae"                 # "vae" | "cvae" | "lm"
    modality: str = "text"
    latent_dim: int = 32
    num_classes: int = 0              # > 0 only for a cvae (the category groups)
    class_names: list = field(default_factory=list)
    vocab_size: int = 4000            # the tokenizer's, with its 4 special tokens
    max_len: int = 32                 # tokens per sentence, without <bos> / <eos>; longer ones are cut
    embed_dim: int = 128              # token embedding, shared by the encoder and both ends of the decoder
    enc_channels: int = 128           # the gated convolutions' width
    enc_layers: int = 4
    enc_kernel: int = 3
    decoder: str = "gru"              # "gru" (autoregressive) | "positional" (every position at once)
    dec_hidden: int = 256             # the GRU's state
    enc_pool: str = "mean"            # "mean" | "meanmax": the masked mean of the convolutions, or it and the max
    bow: bool = False                 # a bag-of-words head from z (Zhao et al. 2017), trained with TrainConfig.bow_weight

    def __post_init__(self):
        self.class_names = [str(c) for c in self.class_names]
        if self.kind != "cvae" and self.num_classes:
            self.num_classes = 0
        self.validate()

    @property
    def conditional(self) -> bool:
        return self.kind == "cvae"

    @property
    def adversarial(self) -> bool:
        return False

    def validate(self) -> None:
        if self.kind not in TEXT_KIND_NAMES:
            raise ConfigError(f"kind={self.kind!r} has no text model; use one of {', '.join(TEXT_KIND_NAMES)}.")
        if self.modality != "text":
            raise ConfigError(f"modality={self.modality!r}: a TextModelConfig is for modality 'text'.")
        if self.enc_pool not in ("mean", "meanmax"):
            raise ConfigError(f"enc_pool={self.enc_pool!r} is unknown; use 'mean' or 'meanmax'.")
        if self.decoder not in TEXT_DECODERS:
            raise ConfigError(f"decoder={self.decoder!r} is unknown; use one of {', '.join(TEXT_DECODERS)}.")
        if not isinstance(self.latent_dim, int) or not 1 <= self.latent_dim <= MAX_LATENT_DIM:
            raise ConfigError(f"latent_dim={self.latent_dim!r} is out of range; use an integer from 1 to "
                              f"{MAX_LATENT_DIM} (the app shows one slider per dimension).")
        for name, lo, hi in (("vocab_size", 5, 200_000), ("max_len", 1, 512), ("embed_dim", 1, 4096),
                             ("enc_channels", 1, 4096), ("enc_layers", 0, 32), ("enc_kernel", 1, 15),
                             ("dec_hidden", 1, 8192)):
            value = getattr(self, name)
            if not isinstance(value, int) or not lo <= value <= hi:
                raise ConfigError(f"{name}={value!r} is out of range; use an integer from {lo} to {hi}.")
        if self.enc_kernel % 2 == 0:
            raise ConfigError(f"enc_kernel={self.enc_kernel} must be odd (the convolutions keep the length).")
        if self.conditional and not 2 <= self.num_classes <= MAX_CLASSES:
            raise ConfigError(f"a text cvae needs num_classes between 2 and {MAX_CLASSES}, got {self.num_classes!r}.")
        if self.class_names and self.conditional and len(self.class_names) != self.num_classes:
            raise ConfigError(f"class_names has {len(self.class_names)} names but num_classes={self.num_classes}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TextModelConfig":
        return cls(**_known_keys(cls, d, "model"))


@dataclass
class TrainConfig:
    dataset: str = "mnist"            # "mnist" | "fashion-mnist" | "folder"; text: "wordnet" | "text-file"
    data_dir: str | None = None       # IDX folder or image folder; None = torchvision download
    epochs: int = 20
    batch_size: int = 64
    lr: float = 2e-3
    lr_min_ratio: float = 0.1         # cosine decay to lr * lr_min_ratio; 1.0 keeps lr constant
    weight_decay: float = 0.02        # AdamW's decoupled weight decay; curbs overfitting on small training sets
    beta: float = 1.0                 # weight on the KL term; 1 = VAE, other values = beta-VAE
    kl_warmup_epochs: int = 0         # beta moves linearly from beta_start to beta over this many epochs (0 = none)
    beta_start: float = 0.0           # 0 = the usual KL warm-up; > beta anneals down (a cvae then learns to use y)
    ema: float = 0.0                  # > 0: save an exponential moving average of the weights, this decay per step
    class_mmd: float = 0.0            # cvae: weight (nats) on each class's codes matching N(0, I) (losses.class_mmd)
    classifier_weight: float = 0.0    # cvae: weight on an auxiliary classifier's cross-entropy for decoded prior samples
    gan_loss: str = "ns"              # gan / cgan: "ns" (non-saturating, -log D(G(z))) | "hinge"
    disc_lr_ratio: float = 1.0        # gan / cgan: the discriminator's lr is lr * this (TTUR, Heusel et al. 2017)
    precision: str = "fp32"           # "fp32" | "bf16": run the network's layers under bfloat16 autocast (losses stay fp32)
    seed: int = 0
    device: str = "auto"              # "auto" | "cpu" | "cuda"
    resize: bool = False              # image folders: resize and centre-crop images to the model's size
    train_limit: int | None = None    # use only the first N training images (quick runs, tests)
    history_test_images: int = 2000   # size of the fixed random test subset scored after every epoch
    # text models (--modality text)
    data_file: str | None = None      # dataset "text-file": one sentence a line, an optional TAB and a label
    tokenizer: str = "bpe"            # "bpe" | "word" | "char" (training/tokenizer.py), trained on the corpus
    vocab_size: int = 4000            # the tokenizer's vocabulary, special tokens included
    free_bits: float = 0.0            # nats per latent dimension the KL term does not push below (Kingma et al. 2016)
    word_dropout: float = 0.0         # share of the decoder's input words replaced by <unk> while training
    bow_weight: float = 0.0           # text: weight on predicting the sentence's bag of words from z (needs bow)

    def validate(self, kind: str | None = None) -> None:
        """Raise ConfigError for a value that cannot work; kind (the model's) checks the cvae-only settings."""
        if self.epochs < 1:
            raise ConfigError(f"epochs={self.epochs} must be at least 1.")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size={self.batch_size} must be at least 1.")
        if not self.lr > 0:
            raise ConfigError(f"lr={self.lr} must be positive.")
        if self.weight_decay < 0:
            raise ConfigError(f"weight_decay={self.weight_decay} must be >= 0.")
        if self.beta < 0 or self.beta_start < 0:
            raise ConfigError(f"beta={self.beta} must be >= 0.")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema={self.ema} must be in [0, 1): the decay per step (0.999 is typical), or 0 for none.")
        if not self.class_mmd >= 0:
            raise ConfigError(f"class_mmd={self.class_mmd} must be >= 0.")
        if not self.classifier_weight >= 0:
            raise ConfigError(f"classifier_weight={self.classifier_weight} must be >= 0 (0 turns it off).")
        if self.classifier_weight and kind is not None and not is_conditional(kind):
            raise ConfigError(f"classifier_weight={self.classifier_weight} makes prior samples recognisable as the "
                              f"class they were decoded with, so it needs a cvae (got kind={kind!r}); drop it "
                              "(--classifier-weight 0) or train a cvae (--kind cvae).")
        if not self.disc_lr_ratio > 0:
            raise ConfigError(f"disc_lr_ratio={self.disc_lr_ratio} must be positive.")
        if self.gan_loss not in GAN_LOSSES:
            raise ConfigError(f"gan_loss={self.gan_loss!r} must be one of {', '.join(GAN_LOSSES)}.")
        if kind is not None and is_adversarial(kind):
            for name in ("beta", "class_mmd", "classifier_weight"):
                default = TrainConfig.__dataclass_fields__[name].default
                if getattr(self, name) != default:
                    raise ConfigError(f"{name}={getattr(self, name)} is an autoencoder setting; a {kind} has no KL "
                                      f"term or encoder. Drop --{name.replace('_', '-')}.")
        if not self.free_bits >= 0:
            raise ConfigError(f"free_bits={self.free_bits} must be >= 0 (nats per latent dimension; 0 turns it off).")
        if not self.bow_weight >= 0:
            raise ConfigError(f"bow_weight={self.bow_weight} must be >= 0 (0 turns the bag-of-words loss off).")
        if not 0 <= self.word_dropout < 1:
            raise ConfigError(f"word_dropout={self.word_dropout} must be in [0, 1).")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision={self.precision!r} must be one of {', '.join(PRECISIONS)}.")
        if self.device not in DEVICES:
            raise ConfigError(f"device={self.device!r} must be auto, cpu or cuda.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        return cls(**_known_keys(cls, d, "train"))


def check_image_shape(image_shape) -> None:
    """ConfigError unless image_shape is (C, H, W) with C in IMAGE_CHANNELS and H = W in IMAGE_STAGES."""
    shape = tuple(image_shape)
    sizes = "|".join(map(str, IMAGE_STAGES))
    if len(shape) != 3 or shape[0] not in IMAGE_CHANNELS or shape[1] != shape[2] or shape[1] not in IMAGE_STAGES:
        raise ConfigError(f"image_shape={list(shape)} is not supported; use (C, H, W) with C = 1 (grayscale) or 3 "
                          f"(RGB) and square images of {sizes} pixels (--channels 1|3 --image-size {sizes}; "
                          "--resize resizes other images on load).")


def stage_channels(channels, stages: int) -> tuple:
    """The first `stages` of `channels`, each stage past the given ones doubling the last: ((32, 64), 3) ->
    (32, 64, 128). The default channels for an image size; a given list of the wrong length is refused instead."""
    out = [int(c) for c in channels][:stages]
    while len(out) < stages:
        out.append(min(2 * out[-1], 1024))
    return tuple(out)


def _known_keys(cls, d: dict[str, Any], section: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise ConfigError(f"the {section!r} section of config.json must be an object, got {type(d).__name__}.")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        raise ConfigError(f"unknown key(s) {unknown} in the {section!r} section of config.json; "
                          f"known keys are {sorted(names)}.")
    return dict(d)
