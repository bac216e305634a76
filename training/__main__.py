"""Command line: python -m training {train, evaluate, build-assets, export-decoder, ...} ...  (see --help of each)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .checkpoint import ModelLoadError, OutputError
from .config import (ARCHS, DEVICES, GAN_LOSSES, IMAGE_CHANNELS, IMAGE_STAGES, LIKELIHOODS, PRECISIONS,
                     TEXT_DECODERS, TEXT_KIND_NAMES, ConfigError, ModelConfig, TextModelConfig, TrainConfig,
                     check_image_shape, stage_channels)
from .data import DATASETS, DataError, check_dataset_shape
from .export import ExportError
from .models import MODEL_KINDS
from .train import ProcessLost, TrainingDiverged

EXIT_CODES = {DataError: 3, ModelLoadError: 4, OutputError: 5, ConfigError: 2, TrainingDiverged: 6, ExportError: 7, ProcessLost: 8}


# What a GAN kind (gan, cgan) trains with when the command line does not say: DCGAN's Adam learning rate, held
# constant, and no weight decay (gan.py's Adam has none); the generator has batch norm after its dense layers too,
# with the shapes of the shipped GAN folders.
GAN_TRAIN_DEFAULTS = {"lr": 2e-4, "lr_min_ratio": 1.0, "weight_decay": 0.0, "gan_loss": "ns"}
GAN_MODEL_DEFAULTS = {"dense_batch_norm": True, "conv_channels": (64, 128), "conv_hidden": 256,
                      "disc_channels": (32, 64), "disc_hidden": 512}


# What a text model (--modality text) trains with when the command line does not say (the shipped wordnet-vae's
# recipe, training/recipes.py): Adam at 2e-3 decayed to a tenth, batch 128, free bits of 0.5 nats per dimension
# against posterior collapse, no word dropout, a 4,000-token BPE tokenizer, the encoder's mean+max pooling and a
# bag-of-words head from z (weight 1).
TEXT_TRAIN_DEFAULTS = {"lr": 2e-3, "lr_min_ratio": 0.1, "weight_decay": 0.0, "gan_loss": "ns", "batch_size": 128,
                       "free_bits": 0.5, "word_dropout": 0.0, "tokenizer": "bpe", "vocab_size": 4000,
                       "latent_dim": 32, "bow_weight": 1.0, "enc_pool": "meanmax"}
TEXT_DATASETS = ("wordnet", "text-file")
TOKENIZER_KINDS = ("bpe", "word", "char")


def _modality(args) -> str:
    """--modality, or when resuming without it the modality saved in --out (else image)."""
    if args.modality is not None:
        return args.modality
    if args.resume and (Path(args.out) / "config.json").is_file():
        from .checkpoint import read_config
        return read_config(args.out)["model"].get("modality", "image")
    return "text" if args.dataset in TEXT_DATASETS else "image"


def _image_shape(args) -> tuple[int, int, int]:
    """(C, H, W) from --channels and --image-size; when resuming without them, the shape saved in --out (else
    1x28x28). ConfigError for a shape no model takes, DataError for one the dataset does not have (--channels 3 on
    MNIST), both before anything is written."""
    saved = None
    if args.resume and (Path(args.out) / "config.json").is_file():
        from .checkpoint import read_config
        saved = read_config(args.out)["model"].get("image_shape")
    channels, size = (saved[0], saved[-1]) if saved else (1, 28)
    shape = (args.channels or channels, args.image_size or size, args.image_size or size)
    check_image_shape(shape)
    check_dataset_shape(args.dataset, shape)
    return shape


def _kind(args) -> str:
    """--kind, or when resuming without it the kind of the run saved in --out (else the default, vae)."""
    if args.kind is not None:
        return args.kind
    if args.resume and (Path(args.out) / "config.json").is_file():
        from .checkpoint import read_config
        kind = read_config(args.out)["model"].get("kind")
        if kind in MODEL_KINDS or kind in TEXT_KIND_NAMES:
            return kind
    return "vae"


def _text_train_settings(args) -> dict:
    """A text model's training settings: the command line's, else TEXT_TRAIN_DEFAULTS."""
    if args.gan_loss is not None:
        raise ConfigError(f"--gan-loss {args.gan_loss} is a GAN setting; a text model has no discriminator.")
    given = {"lr": args.lr, "lr_min_ratio": args.lr_min_ratio, "weight_decay": args.weight_decay,
             "batch_size": args.batch_size, "free_bits": args.free_bits, "word_dropout": args.word_dropout,
             "tokenizer": args.tokenizer, "vocab_size": args.vocab_size, "bow_weight": args.bow_weight}
    return {name: TEXT_TRAIN_DEFAULTS[name] if value is None else value for name, value in given.items()}


def _train_settings(args, kind: str) -> dict:
    """The training settings the command line gave, with the kind's defaults for the ones it left out."""
    if kind not in MODEL_KINDS:
        raise ConfigError(f"--kind {kind} is a text model kind; add --modality text (and a text --dataset).")
    for flag, value in (("--free-bits", args.free_bits), ("--word-dropout", args.word_dropout),
                        ("--tokenizer", args.tokenizer), ("--vocab-size", args.vocab_size),
                        ("--data-file", args.data_file), ("--decoder", args.decoder), ("--max-len", args.max_len),
                        ("--bow-weight", args.bow_weight), ("--enc-pool", args.enc_pool)):
        if value is not None:
            raise ConfigError(f"{flag} is a text model setting; add --modality text, or drop {flag}.")
    adversarial = MODEL_KINDS[kind].adversarial
    if adversarial and args.weight_decay:
        raise ConfigError(f"--weight-decay {args.weight_decay}: a {kind} trains with Adam and no weight decay "
                          "(gan.py); drop --weight-decay.")
    if not adversarial and args.gan_loss is not None:
        raise ConfigError(f"--gan-loss {args.gan_loss} is a GAN setting; a {kind} has no discriminator. Drop it, or "
                          "train a gan (--kind gan).")
    given = {"lr": args.lr, "lr_min_ratio": args.lr_min_ratio, "weight_decay": args.weight_decay,
             "gan_loss": args.gan_loss, "batch_size": args.batch_size}
    defaults = {**{name: getattr(TrainConfig, name) for name in given}, **(GAN_TRAIN_DEFAULTS if adversarial else {})}
    return {name: defaults[name] if value is None else value for name, value in given.items()}


def _train(args) -> None:
    from .recipes import finish_folder
    from .checkpoint import ensure_writable
    from .data import load_dataset
    from .train import train

    kind = _kind(args)
    text = _modality(args) == "text"
    if text and (args.dataset not in TEXT_DATASETS or kind not in TEXT_KIND_NAMES):
        raise ConfigError(f"--modality text trains a {'/'.join(TEXT_KIND_NAMES)} on a text dataset "
                          f"({', '.join(TEXT_DATASETS)}); got --kind {kind} --dataset {args.dataset}. For example: "
                          "--modality text --dataset wordnet --kind vae.")
    if not text and args.dataset in TEXT_DATASETS:
        raise ConfigError(f"--dataset {args.dataset} is a text corpus: add --modality text.")
    if text and (args.image_size or args.channels):
        raise ConfigError("--image-size and --channels are image settings; a text model has neither.")
    if text and (args.classifier_weight or args.class_mmd):
        raise ConfigError("--classifier-weight and --class-mmd are image cvae settings; a text model has neither.")
    if text and (args.likelihood or args.gaussian_sigma):
        raise ConfigError("--likelihood and --gaussian-sigma are image settings: a text model's decoder is a "
                          "softmax over tokens. Drop them.")
    tcfg = TrainConfig(dataset=args.dataset, data_dir=args.data_dir, epochs=args.epochs,
                       beta=args.beta, kl_warmup_epochs=args.kl_warmup, beta_start=args.beta_start, seed=args.seed,
                       ema=args.ema, class_mmd=args.class_mmd, classifier_weight=args.classifier_weight,
                       precision=args.precision, device=args.device, resize=args.resize,
                       train_limit=args.train_limit, data_file=args.data_file,
                       **(_text_train_settings(args) if text else _train_settings(args, kind)))
    if text:
        mcfg = TextModelConfig(kind=kind, latent_dim=args.latent_dim or TEXT_TRAIN_DEFAULTS["latent_dim"],
                               num_classes=2 if kind == "cvae" else 0, decoder=args.decoder or "gru",
                               max_len=args.max_len or TextModelConfig.max_len,
                               enc_pool=args.enc_pool or TEXT_TRAIN_DEFAULTS["enc_pool"],
                               bow=(TEXT_TRAIN_DEFAULTS["bow_weight"] if args.bow_weight is None else args.bow_weight) > 0)
    else:
        image_shape = _image_shape(args)
        nets = GAN_MODEL_DEFAULTS if MODEL_KINDS[kind].adversarial else {}
        stages = IMAGE_STAGES[image_shape[-1]]   # the GAN's widths, one per stage: (64, 128) -> (64, 128, 256) at 64
        nets = {k: stage_channels(v, stages) if k.endswith("_channels") else v for k, v in nets.items()}
        mcfg = ModelConfig(kind=kind, arch=args.arch, latent_dim=args.latent_dim or ModelConfig.latent_dim,
                           pixel_bias=args.pixel_bias, image_shape=image_shape,
                           likelihood=args.likelihood or "bernoulli", gaussian_sigma=args.gaussian_sigma or 0.0,
                           num_classes=2 if MODEL_KINDS[kind].conditional else 0,  # the real count: from the data
                           **{**nets, **({"batch_norm": False, "dense_batch_norm": False} if args.no_batch_norm
                                         else {})})
    tcfg.validate(mcfg.kind)
    t0 = time.time()
    ensure_writable(args.out)  # before the data is read, let alone trained on
    if text:
        from .text_evaluate import finish_text_folder
        from .text_train import load_training_text
        data = load_training_text(tcfg)
        model = train(mcfg, tcfg, args.out, resume=args.resume, data=data)
        if not args.no_eval and int(os.environ.get("RANK", "0")) == 0:   # under torchrun, rank 0 alone finishes
            finish_text_folder(model, args.out, data, tsne=not args.no_tsne, umap=not args.no_umap,
                               command="python -m training " + " ".join(sys.argv[1:]), wall_start=t0)
        return
    data = load_dataset(tcfg.dataset, tcfg.data_dir, resize=tcfg.resize, train_limit=tcfg.train_limit, seed=tcfg.seed,
                        image_shape=mcfg.image_shape)
    model = train(mcfg, tcfg, args.out, resume=args.resume, data=data)
    if not args.no_eval and int(os.environ.get("RANK", "0")) == 0:   # under torchrun, rank 0 alone finishes
        command = "python -m training " + " ".join(sys.argv[1:])
        finish_folder(model, args.out, data, k=args.k, tsne=not args.no_tsne, umap=not args.no_umap,
                      command=command, wall_start=t0, map_split=getattr(args, "map_split", None))


def _evaluate(args) -> None:
    from . import checkpoint as ckpt
    from .recipes import finish_folder
    from .evaluate import MAP_NAME, evaluate, load_latent_map
    from .figures import METRICS_NAME
    from .map_quality import map_quality

    model, data = _folder_model_and_data(args.folder, args.dataset, args.data_dir)
    if args.map:
        metrics = finish_folder(model, args.folder, data, k=args.k, tsne=not args.no_tsne, umap=not args.no_umap,
                                map_split=args.map_split, log=lambda *a: print(*a, file=sys.stderr))
    else:
        metrics = evaluate(model, data.test, data.train, k=args.k, dataset_name=data.name,
                           class_names=data.class_names, log=lambda *a: print(*a, file=sys.stderr))
        if (Path(args.folder) / MAP_NAME).is_file():    # each stored 2-D view's trustworthiness and 5-NN
            metrics.update(map_quality(load_latent_map(args.folder)))
        ckpt.write_json(f"{args.folder}/{METRICS_NAME}", metrics)
    print(json.dumps(metrics, indent=2))


def _folder_model_and_data(folder, dataset=None, data_dir=None):
    """An image model folder's model and the dataset it was trained on (config.json's, or the one given)."""
    from . import checkpoint as ckpt
    from .data import load_dataset

    model = ckpt.load_model(folder)
    if getattr(model.config, "modality", "image") == "text":
        raise ConfigError(f"{folder} is a text model: its map holds the test sentences; this command maps images.")
    t = ckpt.read_config(folder).get("train", {})
    data = load_dataset(dataset or t.get("dataset", "mnist"), data_dir or t.get("data_dir"),
                        resize=t.get("resize", False), train_limit=t.get("train_limit"), seed=t.get("seed", 0),
                        image_shape=getattr(model.config, "image_shape", (1, 28, 28)))
    return model, data


def _add_train(args) -> None:
    from . import checkpoint as ckpt
    from .figures import METRICS_NAME
    from .map_quality import map_quality
    from .recipes import build_map

    for folder in args.folders:
        t0 = time.time()
        model, data = _folder_model_and_data(folder, args.dataset, args.data_dir)
        arrays = build_map(model, folder, data, map_split="both", tsne=not args.no_tsne, umap=not args.no_umap,
                           log=lambda *a: print(*a, file=sys.stderr, flush=True))
        metrics_path = Path(folder) / METRICS_NAME
        metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
        metrics.update(map_quality(arrays))
        ckpt.write_json(metrics_path, metrics)
        n_train = int((arrays.get("split", []) == 1).sum()) if "split" in arrays else 0
        print(f"{folder}: map of {len(arrays['mu'])} images ({len(arrays['mu']) - n_train} test, {n_train} "
              f"training) in {time.time() - t0:.0f}s", flush=True)


def _map_quality(args) -> None:
    from .evaluate import MAP_NAME
    from .map_quality import add_map_quality

    out = {}
    for folder in args.folders:
        if not (Path(folder) / MAP_NAME).is_file():
            raise ModelLoadError(f"{folder} has no {MAP_NAME}; make it with `python -m training evaluate {folder} --map`.")
        out[folder] = add_map_quality(folder)
    print(json.dumps(out, indent=2))


def _build_assets(args) -> None:
    from .recipes import build_assets

    dirs = {"mnist": args.mnist_dir, "fashion-mnist": args.fashion_mnist_dir, "wordnet": args.wordnet_dir}
    build_assets(args.out, dirs, names=args.only, device=args.device, epochs_scale=args.epochs_scale,
                 resume=args.resume, jobs=args.jobs)


def _add_3d(args) -> None:
    from .evaluate import add_3d, umap_available

    missing = [f for f in args.folders if not (Path(f) / "latent_map.npz").is_file()]
    if missing:
        raise ConfigError(f"no latent_map.npz in {', '.join(missing)}; make one with "
                          "`python -m training evaluate FOLDER --map`.")
    if not umap_available():
        print("umap-learn is not installed: adding the 3-D PCA only (`pip install umap-learn` for the 3-D UMAP).",
              file=sys.stderr)
    for folder in args.folders:
        t0 = time.time()
        done = add_3d(folder, seed=args.seed, force=args.force)
        print(f"{folder}: " + (f"3-D views added in {time.time() - t0:.1f}s" if done else
                               "already has its 3-D views (--force recomputes them)"))


def _add_umap(args) -> None:
    from .evaluate import add_umap, umap_available

    if not umap_available():
        raise ConfigError("umap-learn is not installed: `pip install umap-learn` (it needs numba), then run again.")
    missing = [f for f in args.folders if not (Path(f) / "latent_map.npz").is_file()]
    if missing:
        raise ConfigError(f"no latent_map.npz in {', '.join(missing)}; make one with "
                          "`python -m training evaluate FOLDER --map`.")
    for folder in args.folders:
        t0 = time.time()
        done = add_umap(folder, seed=args.seed, force=args.force)
        print(f"{folder}: " + (f"UMAP added in {time.time() - t0:.1f}s" if done else
                               "already has UMAP coordinates (--force recomputes them)"), flush=True)


def _export_decoder(args) -> None:
    from .export import export_folder

    for folder in args.folders:
        r = export_folder(folder)
        diff = "not checked (onnxruntime is not installed)" if r["max_abs_diff"] is None else \
            f"onnxruntime within {r['max_abs_diff']:.1e} of torch"
        print(f"{r['path']}: {r['bytes'] / 1e6:.1f} MB in {r['seconds']:.1f}s, {diff}", flush=True)


def _table(args) -> None:
    from .model_card import models_table

    print(models_table(args.root))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one model into a folder (then evaluate it and build its latent map)")
    t.add_argument("--kind", choices=tuple(dict.fromkeys((*MODEL_KINDS, *TEXT_KIND_NAMES))),
                   help="the model kind (default vae; with --resume, the kind saved in --out; lm: a text model's "
                        "decoder alone, the reference language model)")
    t.add_argument("--modality", choices=("image", "text"),
                   help="image (default) or text (a text dataset implies it; with --resume, the saved one)")
    t.add_argument("--arch", choices=ARCHS, default="conv")
    t.add_argument("--latent-dim", type=int,
                   help=f"at most 32 (default {ModelConfig.latent_dim}; text: {TEXT_TRAIN_DEFAULTS['latent_dim']})")
    t.add_argument("--no-batch-norm", action="store_true",
                   help="conv: no batch norm in any network (encoder, decoder, a GAN's generator and discriminator); "
                        "under torchrun on CPU each process's batch norm sees only its rows, and without it N "
                        "processes train as one process does")
    t.add_argument("--pixel-bias", action="store_true",
                   help="conv: give the decoder a learned logit offset per output pixel")
    t.add_argument("--likelihood", choices=LIKELIHOODS,
                   help="image autoencoders: the decoder's p(x|z), bernoulli (default; BCE) or gaussian (mean "
                        "sigmoid(output), one global sigma; pixels dequantised, figures in nats per 8-bit image)")
    t.add_argument("--gaussian-sigma", type=float,
                   help="with --likelihood gaussian: a fixed pixel standard deviation (on the [0, 1] scale) instead "
                        "of the learned one")
    t.add_argument("--dataset", choices=DATASETS + TEXT_DATASETS, default="mnist",
                   help="mnist, fashion-mnist, folder (images); wordnet, text-file (text)")
    t.add_argument("--data-file", help="text-file: a UTF-8 file, one sentence a line, optionally TAB and a label")
    t.add_argument("--tokenizer", choices=TOKENIZER_KINDS,
                   help="text: bpe (subwords, no unknown words; default), word (a fixed vocabulary) or char (one "
                        "token a character: poems)")
    t.add_argument("--vocab-size", type=int,
                   help=f"text: the tokenizer's vocabulary (default {TEXT_TRAIN_DEFAULTS['vocab_size']})")
    t.add_argument("--free-bits", type=float,
                   help="text: nats per latent dimension the KL term does not push below (default "
                        f"{TEXT_TRAIN_DEFAULTS['free_bits']}; 0 = off, and the decoder learns to ignore z)")
    t.add_argument("--word-dropout", type=float,
                   help=f"text: share of the decoder's input words hidden (default {TEXT_TRAIN_DEFAULTS['word_dropout']})")
    t.add_argument("--bow-weight", type=float,
                   help="text: weight on predicting the sentence's bag of words from z alone (Zhao et al. 2017; "
                        f"default {TEXT_TRAIN_DEFAULTS['bow_weight']}; 0 = off): z must carry the content words")
    t.add_argument("--enc-pool", choices=("mean", "meanmax"),
                   help=f"text: the encoder's pooling (default {TEXT_TRAIN_DEFAULTS['enc_pool']})")
    t.add_argument("--decoder", choices=TEXT_DECODERS,
                   help="text: gru (autoregressive, default) or positional (every position at once)")
    t.add_argument("--max-len", type=int,
                   help=f"text: tokens per sentence, longer ones cut (default {TextModelConfig.max_len})")
    t.add_argument("--data-dir", help="folder with the four IDX .gz files, or (dataset folder) an image folder "
                                      "with one sub-folder per class; default: download with torchvision")
    t.add_argument("--resize", action="store_true",
                   help="image folders: resize and centre-crop every image to --image-size, in --channels' mode")
    t.add_argument("--image-size", type=int, help=f"image folders: {'|'.join(map(str, IMAGE_STAGES))} pixels square "
                   "(default 28); the conv networks get one more stride-2 stage per doubling")
    t.add_argument("--channels", type=int, help=f"image folders: {'|'.join(map(str, IMAGE_CHANNELS))}, grayscale or "
                   "RGB (default 1)")
    t.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    t.add_argument("--batch-size", type=int,
                   help=f"default {TrainConfig.batch_size}; text: {TEXT_TRAIN_DEFAULTS['batch_size']}")
    t.add_argument("--lr", type=float,
                   help=f"learning rate (default {TrainConfig.lr}; a gan or cgan: {GAN_TRAIN_DEFAULTS['lr']})")
    t.add_argument("--lr-min-ratio", type=float,
                   help="cosine-decay lr to lr*ratio (1 = constant; default "
                        f"{TrainConfig.lr_min_ratio}; a gan or cgan: {GAN_TRAIN_DEFAULTS['lr_min_ratio']})")
    t.add_argument("--weight-decay", type=float,
                   help=f"AdamW weight decay (0 = plain Adam; default {TrainConfig.weight_decay}; a gan or cgan has "
                        "none)")
    t.add_argument("--gan-loss", choices=GAN_LOSSES,
                   help="gan / cgan: ns, the non-saturating -log D(G(z)) (default), or hinge")
    t.add_argument("--beta", type=float, default=1.0, help="weight on the KL term (1 = VAE; other = beta-VAE)")
    t.add_argument("--kl-warmup", type=int, default=0,
                   help="epochs over which beta moves linearly from --beta-start to --beta (0 = constant beta)")
    t.add_argument("--beta-start", type=float, default=0.0, help="beta at epoch 0 of the warm-up (default 0)")
    t.add_argument("--ema", type=float, default=0.0,
                   help="save a moving average of the weights with this decay per step, e.g. 0.999 (default: off)")
    t.add_argument("--class-mmd", type=float, default=0.0,
                   help="cvae: weight on each class's codes filling N(0, I) (MMD), e.g. 100 (default: off)")
    t.add_argument("--classifier-weight", type=float, default=0.0,
                   help="cvae: weight on an auxiliary classifier's cross-entropy for prior samples decoded with a "
                        "random class, e.g. 5; the classifier learns the classes from the real images alongside, "
                        "and samples become recognisable as their class (default: off; about 2x the time a step)")
    t.add_argument("--precision", choices=PRECISIONS, default="fp32",
                   help="bf16: run the layers under bfloat16 autocast while training (about 1.4x faster on CPUs "
                        "with AVX512-BF16 or AMX, and on recent GPUs; losses, evaluation and saved weights stay "
                        "float32; default %(default)s)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", choices=DEVICES, default="auto")
    t.add_argument("--train-limit", type=int, help="use only the first N training images")
    t.add_argument("--out", required=True, help="model folder to write (created if needed)")
    t.add_argument("--resume", action="store_true", help="continue from the last completed epoch in --out")
    t.add_argument("--no-eval", action="store_true", help="skip evaluation, latent map and model card")
    t.add_argument("--no-tsne", action="store_true", help="skip the t-SNE projection of the latent map")
    t.add_argument("--no-umap", action="store_true",
                   help="skip the UMAP projection (made only when umap-learn is installed)")
    t.add_argument("-k", type=int, default=64, help="importance samples for the IWAE bound")
    t.add_argument("--map-split", choices=("test", "both"),
                   help="the latent map's images: the test set, or the training set too (default: both for an "
                        "autoencoder, test for a GAN, whose codes come from inversion)")
    t.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="print test figures as JSON and write metrics.json")
    e.add_argument("folder")
    e.add_argument("--dataset", choices=DATASETS)
    e.add_argument("--data-dir")
    e.add_argument("-k", type=int, default=64)
    e.add_argument("--map", action="store_true", help="also rebuild latent_map.npz and the model card")
    e.add_argument("--no-tsne", action="store_true", help="--map: skip the t-SNE projection")
    e.add_argument("--no-umap", action="store_true", help="--map: skip the UMAP projection")
    e.add_argument("--map-split", choices=("test", "both"),
                   help="--map: map the test images, or the training images too (default: both for an autoencoder, "
                        "test for a GAN, whose codes come from inversion)")
    e.set_defaults(func=_evaluate)

    at = sub.add_parser("add-train", help="rebuild latent maps with the training images beside the test images "
                                          "(no retraining; every projection is refitted on all of them)")
    at.add_argument("folders", nargs="+", help="image model folders")
    at.add_argument("--dataset", choices=DATASETS)
    at.add_argument("--data-dir")
    at.add_argument("--no-tsne", action="store_true")
    at.add_argument("--no-umap", action="store_true")
    at.set_defaults(func=_add_train)

    q = sub.add_parser("map-quality", help="add each 2-D view's trustworthiness (k = 10) and 5-NN accuracy to "
                                            "metrics.json, from the folder's latent_map.npz")
    q.add_argument("folders", nargs="+")
    q.set_defaults(func=_map_quality)

    b = sub.add_parser("build-assets", help="train, evaluate and map the six shipped models")
    b.add_argument("--mnist-dir", help="IDX folder for MNIST (default: torchvision download)")
    b.add_argument("--fashion-mnist-dir", help="IDX folder for Fashion-MNIST (default: torchvision download)")
    b.add_argument("--wordnet-dir", help="WordNet 3.0's dict folder (default /usr/share/wordnet: apt-get install -y "
                                         "wordnet-base)")
    b.add_argument("--out", default="assets")
    b.add_argument("--only", nargs="+", help="build only these folders, e.g. mnist-vae")
    b.add_argument("--device", choices=DEVICES, default="auto")
    b.add_argument("--epochs-scale", type=float, default=1.0, help="multiply every recipe's epochs (quick checks)")
    b.add_argument("--resume", action="store_true")
    b.add_argument("--jobs", type=int, default=2, help="processes (one per dataset, one thread each)")
    b.set_defaults(func=_build_assets)

    d3 = sub.add_parser("add-3d", help="add the 3-D PCA and UMAP views to existing latent maps (no retraining)")
    d3.add_argument("folders", nargs="+", help="model folders holding a latent_map.npz")
    d3.add_argument("--seed", type=int, default=0)
    d3.add_argument("--force", action="store_true", help="recompute when the map already has them")
    d3.set_defaults(func=_add_3d)

    u = sub.add_parser("add-umap", help="add UMAP coordinates to existing latent maps (no retraining)")
    u.add_argument("folders", nargs="+", help="model folders holding a latent_map.npz")
    u.add_argument("--seed", type=int, default=0)
    u.add_argument("--force", action="store_true", help="recompute when the map already has UMAP coordinates")
    u.set_defaults(func=_add_umap)

    x = sub.add_parser("export-decoder", help="write FOLDER/decoder.onnx, the decoder the page runs in the browser")
    x.add_argument("folders", nargs="+", help="model folders (config.json + model.safetensors)")
    x.set_defaults(func=_export_decoder)

    tb = sub.add_parser("table", help="print a markdown table of the model folders under a folder")
    tb.add_argument("root", nargs="?", default="assets")
    tb.set_defaults(func=_table)

    args = p.parse_args(argv)
    from .malloc import keep_freed_memory
    keep_freed_memory()  # large tensors without a page fault each time (the IWAE evaluation ~40 % faster)
    try:
        args.func(args)
    except tuple(EXIT_CODES) as err:
        code = next(c for cls, c in EXIT_CODES.items() if isinstance(err, cls))
        print(f"error: {err}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("interrupted; the last completed epoch is saved, continue with --resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
