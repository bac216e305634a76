"""Recipes for the shipped models and the step that turns a trained model into a complete folder."""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from . import checkpoint as ckpt
from .model_card import write_model_card
from .config import ConfigError, ModelConfig, TrainConfig
from .data import Dataset, load_dataset
from .evaluate import build_latent_map, evaluate, save_latent_map
from .map_quality import PROJECTION_KEYS, map_quality
from .figures import METRICS_NAME, iwae_key
from .models import MODEL_KINDS, LatentModel

# The GANs (training/gan.py): a DCGAN generator on the conv decoder's layers (channels 64-128, dense layers with batch
# norm) and a discriminator of two stride-2 convolutions (32-64) and a dense layer of 512. Adam(betas 0.5, 0.999) at
# a constant lr, an EMA of the generator's weights (decay 0.999; at MNIST's epoch 11 its samples' Frechet distance was
# 70.8 against 83.7 for the raw weights). Fashion-MNIST's 60,000 images give 5,600 steps in 6 epochs at DCGAN's own
# lr 2e-4; MNIST's 15,604 give 7,290 in 30 epochs, and there lr 5e-4 converges about twice as fast (Frechet distance
# 39.1 at epoch 10 against 70.8 at 2e-4, epoch 11; 22.7 at epoch 20, 16.8 at epoch 30, where the second judge's
# ratio to the VAE falls from 0.329 to 0.223) and the discriminator's minibatch-spread feature keeps its rarest class
# (the 4, which the generator draws too seldom) nearer its share. Measured by benchmarks/quality.py's
# first judge; docs/results.md has both judges' figures.
_GAN_NETS = {"conv_channels": [64, 128], "conv_hidden": 256, "dense_batch_norm": True, "disc_channels": [32, 64],
             "disc_hidden": 512}
_GAN_TRAIN = {"lr": 2e-4, "lr_min_ratio": 1.0, "weight_decay": 0.0, "ema": 0.999}

# The text VAE (training/text_train.py) on WordNet's definitions: a 4,000-token BPE tokenizer, batch 128 of sentences
# of about one length, Adam at 2e-3 decayed to a tenth, a KL warm-up over the first epoch and free bits of 0.5 nats a
# dimension (a KL floor of 16 nats, against posterior collapse), under bf16 autocast where the CPU has it. The encoder
# pools the gated convolutions by their mean and their max, and a bag-of-words head (Zhao et al. 2017) predicts the
# sentence's tokens from z alone, so z carries the content words and not only the frame ("of or relating to"): the
# model without it kept no more KL than its floor, reconstructed 16.4% of tokens and placed neighbours by category
# less well than TF-IDF. Two-epoch trials without the head (test -ELBO / KL / greedy token accuracy; an LM alike at
# lr 1e-3: 73.05): free bits 0.5, word dropout 0.3, lr 1e-3: 81.84 / 16.5 / 13.0%; free bits 1.0, word dropout 0.5,
# lr 2e-3: 84.90 / 31.8 / 17.8%; free bits 0.4, no word dropout, lr 2e-3: 71.22 / 13.5 / 12.7%. Word dropout costs
# -ELBO and buys little reconstruction here, so it is off (--word-dropout turns it on); docs/results.md has the
# figures. The text CVAE is the same recipe, the category fed to the encoder and to every decoder step.
_TEXT_MODEL = {"modality": "text", "enc_pool": "meanmax", "bow": True}
_TEXT_TRAIN = {"epochs": 4, "batch_size": 128, "lr": 2e-3, "lr_min_ratio": 0.1, "weight_decay": 0.0,
               "kl_warmup_epochs": 1, "free_bits": 0.5, "word_dropout": 0.0, "bow_weight": 1.0, "tokenizer": "bpe",
               "vocab_size": 4000, "seed": 0, "precision": "bf16"}

# name -> (model settings, training settings). Epochs are set so that the image models build in under 30 minutes on a
# 2-core CPU; the figures they reach are in each model card and in benchmarks/quality.py.
RECIPES: dict[str, tuple[dict, dict]] = {
    "mnist-ae":           ({"kind": "ae"},   {"dataset": "mnist", "epochs": 6}),
    "mnist-vae":          ({"kind": "vae"},  {"dataset": "mnist", "epochs": 40, "ema": 0.999, "weight_decay": 0.1}),
    "mnist-cvae":         ({"kind": "cvae", "latent_dim": 8}, {"dataset": "mnist", "epochs": 12, "beta": 2.5,
                                                               "precision": "fp32"}),
    "fashion-mnist-ae":   ({"kind": "ae"},   {"dataset": "fashion-mnist", "epochs": 2}),
    "fashion-mnist-vae":  ({"kind": "vae", "pixel_bias": True}, {"dataset": "fashion-mnist", "epochs": 40, "ema": 0.999}),
    "fashion-mnist-cvae": ({"kind": "cvae", "latent_dim": 8}, {"dataset": "fashion-mnist", "epochs": 10, "beta": 2.0,
                                                               "classifier_weight": 20.0}),
    "mnist-gan":          ({"kind": "gan", **_GAN_NETS, "disc_minibatch_std": True},
                           {"dataset": "mnist", "epochs": 30, **_GAN_TRAIN, "lr": 5e-4}),
    "fashion-mnist-gan":  ({"kind": "gan", **_GAN_NETS}, {"dataset": "fashion-mnist", "epochs": 6, **_GAN_TRAIN}),
    "wordnet-vae":        ({**_TEXT_MODEL, "kind": "vae"}, {"dataset": "wordnet", **_TEXT_TRAIN}),
    "wordnet-cvae":       ({**_TEXT_MODEL, "kind": "cvae"}, {"dataset": "wordnet", **_TEXT_TRAIN}),
}
# Why the CVAEs differ: with latent 16 and beta 1 the encoder kept class information in z (5-NN 0.81 on its means), so
# a z drawn from the prior often sat where only one class's codes lie and the decoder drew that class whatever label
# it was given (MNIST: 62% of prior samples recognised as their label). A smaller code under more KL pressure
# (latent 8, beta 2.5: each class's codes fill the same N(0, I)) gives 97.7% with sharper samples (Frechet distance
# 121 vs 189), for 12 nats of ELBO. On Fashion-MNIST that alone stalls near 0.84 (beta 2, 20 epochs: a Bernoulli
# decoder averages a sandal's straps or a shirt's placket into a grey shoe or a pullover), so its CVAE also trains an
# auxiliary classifier on the real images and adds its cross-entropy on decoded prior samples to the loss
# (--classifier-weight 20; CVAE-GAN's classifier loss). A step costs about twice as much, so it trains 10 epochs
# instead of 20 in about the same time. Measured by benchmarks/quality.py's classifier; what else was tried is in
# docs/results.md.
# Why the VAEs differ: MNIST trains on 15,604 images and overfits (train -ELBO 93.5 vs test 99.6 at epoch 40), so
# stronger weight decay (0.1) and an average of the weights (EMA) bring its IWAE bound from 95.34 to 94.47;
# Fashion-MNIST's 60,000 images do not overfit (weight decay 0.1 was worse), and there the EMA (-0.09 nats), a
# per-pixel decoder bias (-0.27) and epochs (30: 233.92, 40: 233.62) close the gap.
# All train under bfloat16 autocast where the hardware has bf16 arithmetic (1.4x faster on a 2-core AVX512-BF16 CPU;
# figures within run-to-run noise: MNIST VAE IWAE 94.47 vs 94.46 in fp32, Fashion-MNIST CVAE at 16 epochs 0.835 vs
# 0.841 of samples recognised); elsewhere the build falls back to fp32. The MNIST CVAE
# (90 s of training) stays in fp32: trained in bf16 its samples of the digit 1 were recognised 0.879 of the time
# instead of 0.981 (0.972 overall instead of 0.979), too close to the 0.97 target.
COMMON_TRAIN = {"batch_size": 64, "lr": 2e-3, "lr_min_ratio": 0.1, "weight_decay": 0.02, "seed": 0,
                "precision": "bf16"}


def finish_folder(model: LatentModel, folder: str | Path, data: Dataset, *, k: int = 64, tsne: bool = True,
                  command: str | None = None, wall_start: float | None = None, half: bool = False,
                  umap: bool = True, map_split: str | None = None, log=print) -> dict:
    """Evaluate on the test split, store the latent map, and write metrics.json, the model card and decoder.onnx.

    map_split: "test" maps the test images, "both" the training images beside them (default_map_split: both for
    an autoencoder, test for a GAN, whose codes come from inversion, about 40 ms an image on 2 cores).

    half=True first rounds the weights to float16 and saves them so: the figures describe the file that ships.
    """
    folder = Path(folder)
    if half:
        model.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                               for k, v in model.state_dict().items()})
        ckpt.save_model(model, folder, half=True)
    t0 = time.time()
    inversion = inversion_seconds = None
    if not model.has_encoder:   # a GAN: the test images' codes come from inversion, found once for both uses
        from .inversion import invert_split

        inversion = invert_split(model, data.test)
        inversion_seconds = round(time.time() - t0, 1)
        log(f"{folder.name}: {len(data.test)} test images inverted in {inversion_seconds:.0f}s, mean BCE "
            f"{inversion.bce.double().mean():.2f} nats")
    metrics = evaluate(model, data.test, data.train, k=k, inversion=inversion, dataset_name=data.name,
                       class_names=data.class_names, log=log)
    if inversion is not None:
        metrics["inversion"]["seconds"] = inversion_seconds
    ckpt.write_json(folder / METRICS_NAME, metrics)
    log(f"{folder.name}: evaluated in {time.time() - t0:.0f}s  " + _summary(metrics, k))
    t1 = time.time()
    arrays = build_map(model, folder, data, map_split=map_split, tsne=tsne, umap=umap, inversion=inversion, log=log)
    log(f"{folder.name}: latent map of {len(arrays['mu'])} images in {time.time() - t1:.0f}s")
    t2 = time.time()
    metrics.update(map_quality(arrays))    # how far to trust each 2-D view (map_quality.py)
    ckpt.write_json(folder / METRICS_NAME, metrics)
    log(f"{folder.name}: map trustworthiness " + ", ".join(
        f"{key} {metrics[f'map_trustworthiness_{key}']:.3f}" for key in PROJECTION_KEYS
        if f"map_trustworthiness_{key}" in metrics) + f" in {time.time() - t2:.0f}s")
    write_model_card(folder, command=command, wall_seconds=None if wall_start is None else time.time() - wall_start)
    write_decoder(folder, log=log)
    return metrics


def default_map_split(model: LatentModel) -> str:
    """What a map holds when nobody says: every image for an autoencoder (its encoder maps 70,000 images in
    seconds), the test images for a GAN (each code is an optimisation; --map-split both maps the rest)."""
    return "both" if model.has_encoder else "test"


def build_map(model: LatentModel, folder: str | Path, data: Dataset, *, map_split: str | None = None,
              tsne: bool = True, umap: bool = True, inversion=None, log=print) -> dict:
    """Build and save FOLDER's latent map of the test images, or of the test and training images (map_split
    "both"); the step times go to `log`. Returns the arrays."""
    from .evaluate import MAP_SPLITS

    map_split = map_split or default_map_split(model)
    if map_split not in MAP_SPLITS:
        raise ConfigError(f"--map-split {map_split!r}: use one of {', '.join(MAP_SPLITS)}.")
    train = data.train if map_split == "both" else None
    steps = []
    arrays = build_latent_map(model, data.test, train=train, tsne=tsne, umap=umap, inversion=inversion,
                              log=lambda name, sec: steps.append(f"{name} {sec:.0f}s"))
    save_latent_map(folder, arrays)
    log(f"{Path(folder).name}: map steps " + ", ".join(steps))
    return arrays


def _summary(metrics: dict, k: int) -> str:
    """The log line's figures: an autoencoder's bounds, or a GAN's sample and inversion figures."""
    if metrics.get("fd") is not None:
        return (f"FD {metrics['fd']:.2f} (floor {metrics['fd_floor']:.2f})  classes "
                f"{metrics['mode_coverage_min']:.1%}-{metrics['mode_coverage_max']:.1%}  inversion BCE "
                f"{metrics['recon']:.2f}  5-NN {metrics['knn5_accuracy']:.3f}")
    return (f"-ELBO {metrics['neg_elbo']}  IWAE {metrics.get(iwae_key(k))}  "
            f"5-NN {metrics['knn5_accuracy']:.3f}")


def write_decoder(folder: str | Path, log=print) -> None:
    """FOLDER/decoder.onnx from the folder's weights (training/export.py), for the page to decode in the browser.
    Without the onnx package it is skipped with a note: the explorer then decodes that model on the server."""
    import importlib.util

    from .export import DECODER_NAME, export_folder

    folder = Path(folder)
    if importlib.util.find_spec("onnx") is None:
        log(f"{folder.name}: {DECODER_NAME} not written: the onnx package is not installed "
            f"(`pip install onnx`, then `python -m training export-decoder {folder}`)")
        return
    r = export_folder(folder)
    log(f"{folder.name}: {DECODER_NAME} ({r['bytes'] / 1e6:.1f} MB) in {r['seconds']:.1f}s")


def build_assets(out_root: str | Path, data_dirs: dict[str, str | None], names: list[str] | None = None,
                 device: str = "auto", epochs_scale: float = 1.0, resume: bool = False, jobs: int = 1,
                 log=print) -> dict:
    """Train, evaluate and map every recipe into out_root/<name>/; returns {name: metrics}.

    jobs=2 builds the two datasets in two processes with one thread each: on a 2-core CPU that keeps both cores
    busier than one process with two threads, because these small layers parallelise poorly inside one process.
    """
    out_root = ckpt.ensure_writable(out_root)
    names = names or list(RECIPES)
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ValueError(f"unknown asset name(s) {unknown}; choose from {list(RECIPES)}.")
    if jobs > 1:
        import concurrent.futures as cf
        import multiprocessing as mp

        # Longest jobs first (by images seen in training, a step with an auxiliary classifier counting about two),
        # so neither process sits idle at the end.
        # A WordNet epoch (95,817 sentences) takes about 30 MNIST epochs.
        order = sorted(names, key=lambda n: -RECIPES[n][1]["epochs"] * (4 if "fashion" in n else 1)
                       * (2 if RECIPES[n][1].get("classifier_weight") else 1)
                       * (30 if RECIPES[n][0].get("modality") == "text" else 1))
        t_all, results = time.time(), {}
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
            futures = {pool.submit(_build_one_process, str(out_root), data_dirs, name, device, epochs_scale,
                                   resume): name for name in order}
            for f in cf.as_completed(futures):
                results.update(f.result())
        log(f"built {len(names)} model folder(s) in {time.time() - t_all:.0f}s with {jobs} processes")
        return {n: results[n] for n in names}
    return _build_serial(out_root, data_dirs, names, device, epochs_scale, resume, log)


def _build_one_process(out_root, data_dirs, name, device, epochs_scale, resume) -> dict:
    import torch

    from .malloc import keep_freed_memory
    torch.set_num_threads(1)
    keep_freed_memory()
    return _build_serial(Path(out_root), data_dirs, [name], device, epochs_scale, resume,
                         log=lambda msg: print(f"[{name}] {msg}", flush=True))


def _build_serial(out_root: Path, data_dirs, names, device, epochs_scale, resume, log) -> dict:
    from .train import bf16_is_native, pick_device, train
    datasets: dict[str, Dataset] = {}
    results, t_all = {}, time.time()
    command = "python -m training " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    for name in names:
        t0 = time.time()
        model_kw, train_kw = RECIPES[name]
        if model_kw.get("modality") == "text":
            results[name] = _build_text(out_root, data_dirs, name, device, epochs_scale, resume, command, log)
            log(f"== {name}: done in {time.time() - t0:.0f}s (total so far {time.time() - t_all:.0f}s)")
            continue
        ds_name = train_kw["dataset"]
        if ds_name not in datasets:
            datasets[ds_name] = load_dataset(ds_name, data_dirs.get(ds_name))
        data = datasets[ds_name]
        tcfg = TrainConfig(**{**COMMON_TRAIN, **train_kw, "device": device, "data_dir": data_dirs.get(ds_name)})
        tcfg.epochs = max(1, round(tcfg.epochs * epochs_scale))
        if tcfg.precision == "bf16" and not bf16_is_native(pick_device(tcfg.device)):
            tcfg.precision = "fp32"   # bf16 autocast would be slower here; fp32 figures are within run-to-run noise
            log(f"{name}: this device has no native bfloat16 arithmetic, so it trains in fp32 (slower build)")
        conditional = MODEL_KINDS[model_kw["kind"]].conditional
        mcfg = ModelConfig(**model_kw, num_classes=len(data.class_names) if conditional else 0,
                           class_names=data.class_names)
        log(f"== {name}: {mcfg.kind} {mcfg.arch}, latent {mcfg.latent_dim}, {tcfg.epochs} epochs on "
            f"{len(data.train)} images")
        model = train(mcfg, tcfg, out_root / name, data=data, resume=resume and (out_root / name / ckpt.STATE_JSON).exists(),
                      log=log, progress=sys.stderr.isatty())
        results[name] = finish_folder(model, out_root / name, data, command=command, wall_start=t0, half=True,
                                      log=log)
        log(f"== {name}: done in {time.time() - t0:.0f}s (total so far {time.time() - t_all:.0f}s)")
    log(f"built {len(names)} model folder(s) in {time.time() - t_all:.0f}s")
    return results


def _build_text(out_root: Path, data_dirs, name: str, device, epochs_scale, resume, command, log) -> dict:
    """Train, evaluate and map one text recipe (training/text_train.py, text_evaluate.py)."""
    from .config import TextModelConfig
    from .text_evaluate import finish_text_folder
    from .text_train import load_training_text
    from .train import bf16_is_native, pick_device, train

    t0 = time.time()
    model_kw, train_kw = RECIPES[name]
    tcfg = TrainConfig(**{**train_kw, "device": device, "data_dir": data_dirs.get(train_kw["dataset"])})
    tcfg.epochs = max(1, round(tcfg.epochs * epochs_scale))
    if tcfg.precision == "bf16" and not bf16_is_native(pick_device(tcfg.device)):
        tcfg.precision = "fp32"
        log(f"{name}: this device has no native bfloat16 arithmetic, so it trains in fp32 (slower build)")
    data = load_training_text(tcfg)
    mcfg = TextModelConfig(**model_kw, num_classes=len(data.class_names) if model_kw["kind"] == "cvae" else 0,
                           class_names=data.class_names)
    log(f"== {name}: text {mcfg.kind}, latent {mcfg.latent_dim}, {tcfg.epochs} epochs on {len(data.train)} sentences")
    model = train(mcfg, tcfg, out_root / name, data=data, log=log, progress=sys.stderr.isatty(),
                  resume=resume and (out_root / name / ckpt.STATE_JSON).exists())
    return finish_text_folder(model, out_root / name, data, command=command, wall_start=t0, log=log)
