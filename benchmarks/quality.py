"""Quality of the shipped models against their targets, on the official test split (nats per image).

    python benchmarks/quality.py                       # both datasets, shipped assets in assets/
    python benchmarks/quality.py --datasets mnist      # one dataset
    python benchmarks/quality.py --reevaluate          # recompute -ELBO / IWAE / 5-NN (a GAN's inversion error)
    python benchmarks/quality.py --quick               # tiny settings: a smoke test of the script itself
    python benchmarks/quality.py --update-cards        # also write each model's figures into its model card

Prints, per dataset, a table of figures with their targets and PASS/FAIL, and writes every figure as JSON
(default benchmarks/results/quality.json). A script that prints figures, not a pass/fail test; it exits 0 either way.

Two judges (training/judge.py) measure every figure that needs one, on the same samples, side by side:
  smallcnn    a small CNN (conv 32-64, max pooling; 128 features) trained on the real training images: the judge
              the targets were set with, so the verdicts are its
  widecnn     a CNN of another design (conv 64-128-256-256 with batch norm, strided rather than pooled, global
              average pooling; 256 features), trained on the same images: a second opinion; the table's last
              column says where its verdict differs
Each labels prior samples and gives the features (its penultimate layer) for the Fréchet distance (FD) between
samples and test images. They are cached in the training package's cache (<VAE_EXPLORER_CACHE or
~/.cache/vae-explorer>/judges, see --judge-cache), where `python -m training evaluate` finds the same weights, so a
GAN's metrics.json and this table give the same FD. The tutorial baseline is trained and cached here
(benchmarks/.cache/, gitignored):
  baseline    the tutorial VAE, trained through the training package on the same data: 784-400-20 MLP, BCE+KL,
              Adam 1e-3, batch 128, 20 epochs
Diagnostics printed beside the targets (informative, no verdict):
  each judge's accuracy on real test images blurred by a Gaussian of sigma 0.5 and 1 pixel (how sharp a
  sample must be to be recognised), the FD floor (real training images vs the test images: what a perfect
  generator scores), and the CVAE's reconstructions of the test images, each decoded with its own label, labelled
  by the judges (what its decoder reaches on codes the encoder made)
Targets:
  conv VAE    IWAE(k=64) <= 95 (MNIST) / 234 (Fashion), i.e. 10 / 6 nats better than the tutorial baseline;
              5-NN accuracy on the posterior means >= 0.95 / 0.83
  conv CVAE   the judge labels prior samples decoded with class c as c >= 97% / 90% of the time;
              Fréchet distance (samples vs test images) <= half the baseline's
  GAN         FD of 10,000 prior samples <= 0.3 x the shipped conv VAE's (the floor printed beside it); mode
              coverage: every class's share of the prior samples, as the judge labels them, between 6% and 14%.
              Beside them: its reconstruction error through inversion (metrics.json's `recon`, or recomputed with
              --reevaluate) next to the conv VAE's. A <dataset>-cgan folder, where there is one, is judged the same
              way on samples balanced over the classes, with how often they are labelled as their class.
"""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from training import ConfigError, ModelConfig, ModelLoadError, TrainConfig, load_dataset, load_model
from training import checkpoint as ckpt
from training.data import Dataset, Split
from training.evaluate import METRICS_NAME, _batches, evaluate
from training.judge import (SmallCNN, accuracy, classify, default_epochs, fd_floor,  # noqa: F401
                            frechet_distance, frechet_from_stats, judge, judges_dir, sample_features)
from training.models import LatentModel

REPO = Path(__file__).resolve().parents[1]

DATASETS = ("mnist", "fashion-mnist")
KINDS = ("ae", "vae", "cvae", "gan", "cgan")
OPTIONAL_KINDS = ("cgan",)  # judged when its folder exists, else left out without a row
# The judges (training/judge.py), each measuring every sample figure on the same samples. The first is the one the
# targets were set with: the table's verdicts are its; the second, of another design, is a cross-check.
JUDGE_NAMES = ("smallcnn", "widecnn")
JUDGE_DESCRIPTIONS = {"smallcnn": "a small CNN, conv 32-64, max pooling, 128 features",
                      "widecnn": "a wider CNN, conv 64-128-256-256 with batch norm, strided, global average pooling, "
                                 "256 features"}
K = 64  # importance samples of the IWAE bound

# The targets. "tutorial" = what the tutorial VAE roughly scores (trained on all 60,000 images).
TARGETS = {
    "mnist":         {"iwae_max": 95.0, "iwae_gain_min": 10.0, "knn5_min": 0.95, "sample_acc_min": 0.97,
                      "fd_ratio_max": 0.5, "classifier_expected": 0.99, "gan_fd_ratio_vae_max": 0.3,
                      "coverage": (0.06, 0.14),
                      "tutorial": {"neg_elbo": 110.0, "iwae": 105.0, "knn5": 0.93}},
    "fashion-mnist": {"iwae_max": 234.0, "iwae_gain_min": 6.0, "knn5_min": 0.83, "sample_acc_min": 0.90,
                      "fd_ratio_max": 0.5, "classifier_expected": 0.91, "gan_fd_ratio_vae_max": 0.3,
                      "coverage": (0.06, 0.14),
                      "tutorial": {"neg_elbo": 243.0, "iwae": 240.0, "knn5": 0.80}},
}


# ---------------------------------------------------------------------------------------------------------------
# The measures: plain functions on tensors (tests/test_quality_bench.py calls them).

# frechet_distance, frechet_from_stats and the prior samples' features are training.judge's, so that
# `python -m training evaluate` measures the same distances; prior_sample_features is the name used here.
prior_sample_features = sample_features


def sample_accuracy(model: LatentModel, classifier: SmallCNN, n_per_class: int, *, seed: int = 0,
                    batch_size: int = 1000) -> dict:
    """How often the classifier labels a cvae's prior sample decoded with class c as c.

    Returns {"per_class": [acc_c], "overall": float, "features": (C * n_per_class, F) float64 tensor}; the samples
    are balanced over the classes, n_per_class each, z ~ N(0, I) from a generator seeded with `seed`.
    """
    if not model.conditional:
        raise ValueError(f"sample accuracy needs a cvae (a model that takes class labels), got kind={model.kind!r}.")
    labels = torch.arange(model.num_classes).repeat_interleave(n_per_class)    # (C * n_per_class,)
    preds, feats = prior_sample_features(model, classifier, len(labels), labels, seed=seed, batch_size=batch_size)
    return {**_per_class_hits(preds, labels, model.num_classes), "features": feats}


@torch.inference_mode()
def reconstruction_accuracy(model: LatentModel, classifier: SmallCNN, split: Split, *,
                            batch_size: int = 1000) -> dict:
    """How often the classifier labels a cvae's reconstructions of real images (posterior mean decoded with the
    image's own label) as that label: per class and overall.

    What the decoder reaches on codes the encoder produced; prior samples, whose codes the encoder may never have
    produced, seldom do better, so this shows how much of a shortfall is the decoder's blur.
    """
    if not model.conditional:
        raise ValueError(f"reconstruction accuracy needs a cvae (a model that takes class labels), "
                         f"got kind={model.kind!r}.")
    model.eval()
    device = next(model.parameters()).device
    preds = [classify(classifier, model.reconstruct(x, y).float().cpu(), batch_size)[0]
             for x, y in _batches(split, batch_size, device)]
    return _per_class_hits(torch.cat(preds), split.labels, model.num_classes)


@torch.inference_mode()
def blurred_accuracy(classifier: SmallCNN, split: Split, sigma: float, *, num_classes: int,
                     batch_size: int = 1000) -> dict:
    """The classifier's accuracy on real images after a Gaussian blur of `sigma` pixels (0: unblurred).

    How sharp a sample has to be for the judge: a Bernoulli decoder's mean image is blurred by what its code
    does not say.
    """
    from torchvision.transforms.functional import gaussian_blur

    images = split.float_images()
    if sigma > 0:
        size = 2 * math.ceil(3 * sigma) + 1                                     # covers +-3 sigma
        images = torch.cat([gaussian_blur(images[i:i + batch_size], [size, size], [sigma, sigma])
                            for i in range(0, len(images), batch_size)])
    return _per_class_hits(classify(classifier, images, batch_size)[0], split.labels, num_classes)


def _per_class_hits(preds: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """{"per_class": [accuracy of class c, or None when the split has none], "overall": float}."""
    hit = (preds == labels).double()
    per_class = [float(hit[labels == c].mean()) if (labels == c).any() else None for c in range(num_classes)]
    return {"per_class": per_class, "overall": float(hit.mean())}


# ---------------------------------------------------------------------------------------------------------------
# Reference points: the tutorial baseline and the classifier, trained once and cached.

def baseline_configs(data: Dataset, data_dir: str, epochs: int) -> tuple[ModelConfig, TrainConfig]:
    """The tutorial's settings, every one spelled out: the package's defaults (the shipped recipe) may change."""
    return (ModelConfig(kind="vae", arch="mlp", latent_dim=20, mlp_hidden=400, class_names=data.class_names),
            TrainConfig(dataset=data.name, data_dir=str(data_dir), epochs=epochs, batch_size=128, lr=1e-3,
                        lr_min_ratio=1.0, beta=1.0, kl_warmup_epochs=0, seed=0, device="cpu", resize=False,
                        train_limit=data.provenance.get("train_limit")))


def _finished(folder: Path, mcfg: ModelConfig, tcfg: TrainConfig) -> bool:
    """True when `folder` holds a model trained to the end with these settings.

    The saved settings are read back through the config classes, so a key added later with a default (the saved
    file lacks it) still matches; a key that was removed or renamed means "retrain".
    """
    try:
        saved = ckpt.read_config(folder)
        same = (ModelConfig.from_dict(saved.get("model", {})).to_dict() == mcfg.to_dict()
                and TrainConfig.from_dict(saved.get("train", {})).to_dict() == tcfg.to_dict())
    except (ModelLoadError, ConfigError, TypeError):
        return False
    history = ckpt.read_json(folder / "history.json", {"epochs": []})["epochs"]
    return same and len(history) == tcfg.epochs and (folder / ckpt.WEIGHTS_NAME).is_file()


def baseline(data: Dataset, data_dir: str, cache: Path, *, epochs: int, k: int, eval_test: Split,
             log=print) -> tuple[LatentModel, dict]:
    """The tutorial VAE on this data, trained through training.train (or loaded from the cache), and its figures."""
    from training.train import train

    folder = cache / f"baseline-{data.name}"
    mcfg, tcfg = baseline_configs(data, data_dir, epochs)
    metrics_path = folder / "quality_metrics.json"
    if _finished(folder, mcfg, tcfg):
        model = load_model(folder)
        log(f"  baseline: cached in {folder}")
    else:
        log(f"  baseline: training the tutorial VAE (784-400-20 MLP, {epochs} epochs) into {folder}")
        metrics_path.unlink(missing_ok=True)
        t0 = time.time()
        model = train(mcfg, tcfg, folder, data=data, progress=False, log=lambda s: log("    " + s))
        log(f"  baseline: trained in {time.time() - t0:.0f}s")
    key = {"k": k, "n_test": len(eval_test), "train_images": len(data.train)}
    metrics = ckpt.read_json(metrics_path)
    if not metrics or metrics.get("_key") != key:
        log(f"  baseline: evaluating (-ELBO, IWAE k={k}, 5-NN)")
        metrics = {**evaluate(model, eval_test, data.train, k=k), "_key": key}
        ckpt.write_json(metrics_path, metrics)
    return model, metrics


# ---------------------------------------------------------------------------------------------------------------
# One dataset. Every figure that needs a judge is measured by each of JUDGE_NAMES on the same samples; the table's
# verdict is the first judge's (the one the targets were set with), and a column says where the other disagrees.

def _text(value, fmt: str) -> str:
    return "n/a" if value is None else (fmt.format(value) if isinstance(value, (int, float)) else str(value))


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("PASS" if ok else "FAIL")


def _row(name: str, value, target: str = "", ok: bool | None = None, fmt: str = "{:.2f}") -> dict:
    """A figure that needs no judge: one value."""
    return {"name": name, "value": value, "text": _text(value, fmt), "target": target, "verdict": _verdict(ok)}


def _jrow(name: str, values: dict, target: str = "", oks: dict | None = None, fmt: str = "{:.2f}") -> dict:
    """A figure measured by every judge: values {judge: value}, oks {judge: bool or None} (None: no target).

    "value", "text" and "verdict" are the first judge's; "values", "texts" and "verdicts" every judge's;
    "disagree" names the judges whose verdict differs from the first's.
    """
    first = next(iter(values))
    verdicts = {j: _verdict(None if oks is None else oks.get(j)) for j in values}
    row = _row(name, values[first], target, None if oks is None else oks.get(first), fmt)
    row.update(values=dict(values), texts={j: _text(v, fmt) for j, v in values.items()}, verdicts=verdicts,
               disagree=[j for j, v in verdicts.items() if v and verdicts[first] and v != verdicts[first]])
    return row


def _per_judge(judged: dict, key: str) -> dict:
    return {j: f[key] for j, f in judged.items()}


def _ok(values: dict, test, applies: bool = True) -> dict | None:
    """{judge: test(value)}, or None when the target does not apply (or a value is missing)."""
    if not applies:
        return None
    return {j: None if v is None else bool(test(v)) for j, v in values.items()}


@torch.inference_mode()
def judged_samples(model: LatentModel, judges: dict, n: int, labels: torch.Tensor | None = None, *, seed: int = 0,
                   batch_size: int = 1000) -> dict:
    """Decode n prior samples once (as training.judge.sample_features does, same seed -> same images) and let every
    judge label them: {judge name: (predicted class (n,), features (n, F) float64)}."""
    model.eval()
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    out = {j: ([], []) for j in judges}
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        images = model.sample(m, None if labels is None else labels[i:i + m], generator=gen).float().cpu()
        for j, clf in judges.items():
            p, f = classify(clf, images, batch_size)
            out[j][0].append(p)
            out[j][1].append(f)
    return {j: (torch.cat(p), torch.cat(f)) for j, (p, f) in out.items()}


def class_shares(preds: torch.Tensor, num_classes: int) -> list[float]:
    """The share of samples the judge put in each class: (num_classes,) floats summing to 1 (mode coverage)."""
    return (torch.bincount(preds, minlength=num_classes).double() / max(len(preds), 1)).tolist()


def inversion_recon(model: LatentModel, split: Split, log=print) -> float | None:
    """Mean Bernoulli reconstruction error (nats per image) of the split through GAN inversion, as
    `python -m training evaluate` measures it (training.inversion.invert_split, seed 0), or None when the package
    has no inversion."""
    try:
        from training.inversion import invert_split
    except ImportError as e:
        log(f"  no GAN inversion in the training package ({e}); reconstruction error not measured")
        return None
    return float(invert_split(model, split, seed=0).bce.double().mean())


def run_dataset(name: str, data_dir: str, args, log=print) -> dict:
    q = args.settings
    t0 = time.time()
    data_dir = str(Path(data_dir).resolve())  # the baseline cache compares it with the saved config
    data = load_dataset(name, data_dir, train_limit=q["train_limit"])
    test = data.test if q["n_test"] is None else Split(data.test.images[:q["n_test"]], data.test.labels[:q["n_test"]])
    log(f"\n=== {name}: {len(data.train)} training images, {len(test)} test images ({data_dir})")
    tg = TARGETS[name]
    num_classes = len(data.class_names)
    res: dict = {"dataset": name, "data_dir": str(data_dir), "train_images": len(data.train), "test_images": len(test),
                 "judge_names": list(JUDGE_NAMES)}
    rows: list[dict] = []

    # The judges, and the features of the real test images every FD compares against.
    judges, test_feats, res["judges"] = {}, {}, {}
    for j in JUDGE_NAMES:
        epochs = q["judge_epochs"][j][name]
        judges[j] = judge(name, data, which=j, cache_dir=args.judge_cache, epochs=epochs, log=log)
        preds, test_feats[j] = classify(judges[j], test.float_images())
        blur = {s: blurred_accuracy(judges[j], test, s, num_classes=num_classes) for s in BLUR_SIGMAS}
        res["judges"][j] = {"test_accuracy": float((preds == test.labels).double().mean()),
                            "fd_train_vs_test": fd_floor(judges[j], data, test), "epochs": epochs,
                            "features": int(test_feats[j].shape[1]),
                            "blurred_test_accuracy": {str(s): b for s, b in blur.items()}}
    jf = res["judges"]
    res["classifier"] = jf[JUDGE_NAMES[0]]    # the first judge, under the name earlier results used
    n_ref = min(len(test), len(data.train))
    rows.append(_jrow("judge test accuracy", _per_judge(jf, "test_accuracy"),
                      f"~{tg['classifier_expected']} expected", None, "{:.4f}"))
    rows.append(_jrow(f"FD real train vs test ({n_ref}) (floor)", _per_judge(jf, "fd_train_vs_test"), "informative"))
    for s in BLUR_SIGMAS:
        rows.append(_jrow(f"judge on test images blurred, sigma {s} px",
                          {j: f["blurred_test_accuracy"][str(s)]["overall"] for j, f in jf.items()},
                          "informative", None, "{:.4f}"))

    # The tutorial baseline.
    base_model, bm = baseline(data, data_dir, args.cache, epochs=q["baseline_epochs"], k=q["k"], eval_test=test,
                              log=log)
    base_judged = judged_samples(base_model, judges, q["n_samples"], seed=args.seed)
    base_fd = {j: frechet_distance(f, test_feats[j]) for j, (_, f) in base_judged.items()}
    iwae_key = f"iwae_k{q['k']}"
    res["baseline"] = {"neg_elbo": bm["neg_elbo"], "iwae": bm[iwae_key], "knn5_accuracy": bm["knn5_accuracy"],
                       "fd": base_fd[JUDGE_NAMES[0]], "fd_by_judge": base_fd, "epochs": q["baseline_epochs"]}
    tut = tg["tutorial"]
    rows.append(_row("baseline -ELBO", bm["neg_elbo"], f"tutorial ~{tut['neg_elbo']:.0f}"))
    rows.append(_row(f"baseline IWAE(k={q['k']})", bm[iwae_key], f"tutorial ~{tut['iwae']:.0f}"))
    rows.append(_row("baseline 5-NN accuracy", bm["knn5_accuracy"], f"tutorial ~{tut['knn5']:.2f}", None, "{:.4f}"))
    rows.append(_jrow(f"baseline FD (prior samples, {q['n_samples']})", base_fd, "reference"))

    # The shipped models.
    res["models"] = {}
    ctx = {"name": name, "data": data, "test": test, "judges": judges, "test_feats": test_feats, "base_fd": base_fd,
           "bm": bm, "iwae_key": iwae_key, "tg": tg, "args": args, "log": log,
           "floors": _per_judge(jf, "fd_train_vs_test")}
    for kind in KINDS:
        folder = args.assets / f"{name}-{kind}"
        if kind in OPTIONAL_KINDS and not folder.exists():
            continue
        if not (folder / ckpt.CONFIG_NAME).is_file():
            log(f"  {folder}: not found, skipped")
            res["models"][kind] = None
            rows.append(_row(f"{kind}: (no model in {folder})", None))
            continue
        try:
            model = load_model(folder)
        except ModelLoadError as e:
            log(f"  {folder}: cannot be loaded, skipped: {e}")
            res["models"][kind] = {"folder": str(folder), "error": str(e)}
            rows.append(_row(f"{kind}: (cannot load {folder}; see above)", None))
            continue
        info, model_rows = judge_model(model, kind, folder, ctx, res["models"])
        res["models"][kind] = info
        rows += model_rows
    res["rows"] = rows
    res["seconds"] = round(time.time() - t0, 1)
    log(format_table(name, rows))
    for kind, info in res["models"].items():
        if not info or "error" in info:
            continue
        for j, fig in info["judges"].items():
            if fig.get("sample_accuracy_per_class"):
                log(f"  {kind} samples labelled as their class by {j}, per class: " +
                    ", ".join(f"{c} {a:.3f}" for c, a in fig["sample_accuracy_per_class"].items()))
            if fig.get("reconstruction_accuracy_per_class"):
                log(f"  {kind} reconstructions labelled as their class by {j}, per class: " +
                    ", ".join(f"{c} {a:.3f}" for c, a in fig["reconstruction_accuracy_per_class"].items()
                              if a is not None))
            if info.get("adversarial") and fig.get("class_share"):
                log(f"  {kind} prior samples per class as {j} labels them: " +
                    ", ".join(f"{c} {s:.3f}" for c, s in fig["class_share"].items()))
    return res


def judge_model(model: LatentModel, kind: str, folder: Path, ctx: dict, done: dict) -> tuple[dict, list[dict]]:
    """Every figure of one model folder, under every judge: (info for the JSON, rows of the table).

    `done` holds the infos of the kinds judged before (a GAN's FD is compared with the conv VAE's)."""
    q, args, log, test, data, tg = ctx["args"].settings, ctx["args"], ctx["log"], ctx["test"], ctx["data"], ctx["tg"]
    judges, base_fd, bm, iwae_key = ctx["judges"], ctx["base_fd"], ctx["bm"], ctx["iwae_key"]
    adversarial = bool(getattr(model, "adversarial", False))
    arch = model.config.arch
    tag = f"{arch} {kind}"
    m = ckpt.read_json(folder / METRICS_NAME)
    source = "metrics.json"
    same_test = bool(m) and m.get("n_test") == len(test)
    if adversarial:
        # A GAN has no encoder: its only test-set figure is the reconstruction error through inversion.
        recon = m.get("recon") if same_test and not args.reevaluate else None
        if recon is None:
            log(f"  {folder.name}: inverting {len(test)} test images (reconstruction error)" +
                ("" if args.reevaluate else f" because {METRICS_NAME} has none for this test set"))
            recon = inversion_recon(model, test, log=log)
            source = "re-evaluated"
        m = {**(m or {}), "recon": recon}
    else:
        stale = not same_test or (model.stochastic and m.get(iwae_key) is None)
        if args.reevaluate or stale:
            log(f"  {folder.name}: evaluating (-ELBO, IWAE k={q['k']}, 5-NN)" +
                ("" if args.reevaluate else f" because {METRICS_NAME} is missing or was made on another test set"))
            m = evaluate(model, test, data.train, k=q["k"])
            source = "re-evaluated"
    saved = ckpt.read_config(folder)
    saved_data = saved.get("data", {})
    done_epochs = len(ckpt.read_json(folder / "history.json", {"epochs": []})["epochs"])
    planned = saved.get("train", {}).get("epochs")
    if planned and done_epochs < planned:
        log(f"  warning: {folder.name} has {done_epochs} of {planned} epochs (training unfinished or in progress)")
        tag += f" [{done_epochs}/{planned} epochs]"
    info = {"folder": str(folder), "arch": arch, "kind": kind, "adversarial": adversarial,
            "latent_dim": model.latent_dim, "metrics_source": source,
            "neg_elbo": m.get("neg_elbo"), "iwae": m.get(iwae_key), "knn5_accuracy": m.get("knn5_accuracy"),
            "recon": m.get("recon"), "active_units": m.get("active_units"),
            "trained_on_images": saved_data.get("train_images"), "epochs_done": done_epochs,
            "epochs_planned": planned}
    if saved_data.get("train_images") not in (None, len(data.train)):
        log(f"  note: {folder.name} was trained on {saved_data['train_images']} images; "
            f"this run's training split has {len(data.train)}")

    # The samples, judged: balanced over the classes for a conditional model, else n_samples prior samples; a
    # GAN's drawn as `python -m training evaluate` draws them (classes in turn for a cgan), so with the same number
    # and seed its metrics.json has the same FD.
    C = model.num_classes if model.conditional else len(data.class_names)
    labels = None
    if model.conditional:
        labels = (torch.arange(C * q["n_per_class"]) % C if adversarial else
                  torch.arange(C).repeat_interleave(q["n_per_class"]))
    n = q["n_samples"] if labels is None else len(labels)
    judged = judged_samples(model, judges, n, labels, seed=args.seed)
    vae = done.get("vae") if done.get("vae") and "error" not in done["vae"] else None
    figs = {}
    for j, (preds, feats) in judged.items():
        fd = frechet_distance(feats, ctx["test_feats"][j])
        f = {"fd": fd, "fd_ratio_to_baseline": fd / base_fd[j]}
        if model.conditional:
            sa = _per_class_hits(preds, labels, C)
            f["sample_accuracy"] = sa
            f["sample_accuracy_per_class"] = dict(zip(data.class_names, sa["per_class"]))
        if kind == "cvae":
            ra = reconstruction_accuracy(model, judges[j], test)
            f["reconstruction_accuracy"] = ra
            f["reconstruction_accuracy_per_class"] = dict(zip(data.class_names, ra["per_class"]))
        shares = class_shares(preds, len(data.class_names))
        f["class_share"] = dict(zip(data.class_names, shares))
        f["class_share_min"], f["class_share_max"] = min(shares), max(shares)
        if adversarial:
            f["fd_floor"] = ctx["floors"][j]
            vfd = None if vae is None else vae["judges"][j]["fd"]
            f["fd_ratio_to_vae"] = None if not vfd else fd / vfd
        figs[j] = f
    info["judges"] = figs
    first = figs[JUDGE_NAMES[0]]
    # The first judge's figures under the names earlier results used.
    for key in ("fd", "fd_ratio_to_baseline", "sample_accuracy", "sample_accuracy_per_class",
                "reconstruction_accuracy", "reconstruction_accuracy_per_class"):
        if key in first:
            info[key] = first[key]
    if adversarial:
        info["fd_ratio_to_vae"] = first["fd_ratio_to_vae"]
        info["vae_recon"] = None if vae is None else vae.get("recon")
        info["vae_arch"] = None if vae is None else vae.get("arch")
        info["metrics_json_fd"] = (ckpt.read_json(folder / METRICS_NAME) or {}).get("fd")

    # Rows: targets for the conv models, everything else informative.
    conv = arch == "conv"
    rows = []
    per = lambda key: {j: f.get(key) for j, f in figs.items()}  # noqa: E731
    if model.stochastic:
        rows.append(_row(f"{tag}: -ELBO", info["neg_elbo"], f"baseline {bm['neg_elbo']:.2f}"))
    if kind == "vae":
        iw = info["iwae"]
        rows.append(_row(f"{tag}: IWAE(k={q['k']})", iw, f"<= {tg['iwae_max']:.0f}",
                         None if iw is None or not conv else iw <= tg["iwae_max"]))
        gain = None if iw is None else bm[iwae_key] - iw
        rows.append(_row(f"{tag}: IWAE gain over measured baseline", gain, f">= {tg['iwae_gain_min']:.0f} nats",
                         None if gain is None or not conv else gain >= tg["iwae_gain_min"]))
        rows.append(_row(f"{tag}: 5-NN accuracy", info["knn5_accuracy"], f">= {tg['knn5_min']:.2f}",
                         info["knn5_accuracy"] >= tg["knn5_min"] if conv else None, "{:.4f}"))
    elif not adversarial:
        if model.stochastic:
            rows.append(_row(f"{tag}: IWAE(k={q['k']})", info["iwae"], "informative"))
        rows.append(_row(f"{tag}: 5-NN accuracy", info["knn5_accuracy"], "informative", None, "{:.4f}"))
    if kind == "cvae":
        acc = {j: f["sample_accuracy"]["overall"] for j, f in figs.items()}
        rows.append(_jrow(f"{tag}: samples labelled as their class", acc, f">= {tg['sample_acc_min']:.2f}",
                          _ok(acc, lambda a: a >= tg["sample_acc_min"], conv), "{:.4f}"))
        rows.append(_jrow(f"{tag}:   reconstructions labelled as their class",
                          {j: f["reconstruction_accuracy"]["overall"] for j, f in figs.items()}, "informative", None,
                          "{:.4f}"))
        worst = {j: min(f["sample_accuracy_per_class"].items(), key=lambda kv: kv[1]) for j, f in figs.items()}
        rows.append(_jrow(f"{tag}:   worst class", {j: f"{a:.4f} {c}" for j, (c, a) in worst.items()},
                          "informative"))
        rows.append(_jrow(f"{tag}: FD / baseline FD", per("fd_ratio_to_baseline"), f"<= {tg['fd_ratio_max']:.1f}",
                          _ok(per("fd_ratio_to_baseline"), lambda r: r <= tg["fd_ratio_max"], conv), "{:.3f}"))
        rows.append(_jrow(f"{tag}: FD (prior samples)", per("fd"), "informative"))
    elif adversarial:
        rows += gan_rows(tag, info, figs, ctx, conv)
    else:
        rows.append(_jrow(f"{tag}: FD (prior samples)", per("fd"), "informative"))
        rows.append(_jrow(f"{tag}: FD / baseline FD", per("fd_ratio_to_baseline"), "informative", None, "{:.3f}"))
        rows.append(_jrow(f"{tag}: smallest class share of prior samples", per("class_share_min"), "informative",
                          None, "{:.3f}"))
        rows.append(_jrow(f"{tag}: largest class share of prior samples", per("class_share_max"), "informative",
                          None, "{:.3f}"))
    return info, rows


def gan_rows(tag: str, info: dict, figs: dict, ctx: dict, conv: bool) -> list[dict]:
    """A GAN's rows: FD, FD / the conv VAE's (target), the floor beside it, FD / baseline, mode coverage (targets:
    every class's share of the prior samples within COVERAGE), a cgan's samples labelled as their class, and the
    reconstruction error through inversion beside the VAE's."""
    tg, q = ctx["tg"], ctx["args"].settings
    lo, hi = tg["coverage"]
    per = lambda key: {j: f.get(key) for j, f in figs.items()}  # noqa: E731
    conditional = "sample_accuracy" in figs[JUDGE_NAMES[0]]
    n = f"{q['n_per_class']} per class" if conditional else q["n_samples"]
    rows = [_jrow(f"{tag}: FD (prior samples, {n})", per("fd"), "informative")]
    ratio = per("fd_ratio_to_vae")
    vae = f"{info.get('vae_arch') or 'conv'} VAE's"
    rows.append(_jrow(f"{tag}: FD / {vae} FD", ratio, f"<= {tg['gan_fd_ratio_vae_max']:.1f}",
                      None if any(r is None for r in ratio.values()) or not conv else
                      _ok(ratio, lambda r: r <= tg["gan_fd_ratio_vae_max"]), "{:.3f}"))
    rows.append(_jrow(f"{tag}:   FD floor (real train vs test)", per("fd_floor"), "informative"))
    rows.append(_jrow(f"{tag}: FD / baseline FD", per("fd_ratio_to_baseline"), "informative", None, "{:.3f}"))
    if info.get("metrics_json_fd") is not None:
        rows.append(_row(f"{tag}:   FD in {METRICS_NAME} ({JUDGE_NAMES[0]})", info["metrics_json_fd"], "informative"))
    rows.append(_jrow(f"{tag}: smallest class share of prior samples", per("class_share_min"), f">= {lo:.2f}",
                      _ok(per("class_share_min"), lambda s: s >= lo, conv), "{:.3f}"))
    rows.append(_jrow(f"{tag}: largest class share of prior samples", per("class_share_max"), f"<= {hi:.2f}",
                      _ok(per("class_share_max"), lambda s: s <= hi, conv), "{:.3f}"))
    if conditional:
        acc = {j: f["sample_accuracy"]["overall"] for j, f in figs.items()}
        rows.append(_jrow(f"{tag}: samples labelled as their class", acc, "informative", None, "{:.4f}"))
    vr = info.get("vae_recon")
    rows.append(_row(f"{tag}: reconstruction BCE through inversion", info.get("recon"),
                     "informative" if vr is None else f"{vae} {vr:.2f}"))
    return rows


# Model cards: the figures above, per model, in a section of the folder's README.md that a later run replaces.
CARD_BEGIN = "<!-- benchmarks/quality.py: begin -->"
CARD_END = "<!-- benchmarks/quality.py: end -->"


def card_section(dataset: dict, kind: str, command: str) -> str:
    """Markdown for one model's card: its rows of the table (figure, each judge's value, target, verdict) and what
    judged them."""
    info = dataset["models"][kind]
    tag = f"{info['arch']} {kind}"
    jf = dataset.get("judges") or {JUDGE_NAMES[0]: dataset["classifier"]}     # results of one judge: "classifier"
    names = dataset.get("judge_names") or list(jf)
    described = "; ".join(f"{j} ({JUDGE_DESCRIPTIONS.get(j, j)}), test accuracy {jf[j]['test_accuracy']:.4f}"
                          for j in names)
    lines = [CARD_BEGIN, "## Against the project's targets", "",
             f"Measured by `{command}` on the {dataset['test_images']:,} official test images. Samples are judged by "
             f"{len(names)} CNN{'s' if len(names) > 1 else ''} trained on the {dataset['train_images']:,} real "
             f"training images: {described}. The verdict is the first judge's. The baseline is the tutorial VAE "
             f"(784-400-20 MLP, 20 epochs) trained here on the same data: IWAE {dataset['baseline']['iwae']:.2f}, "
             f"Fréchet distance of its prior samples {dataset['baseline']['fd']:.2f}.", ""]
    if info.get("adversarial"):
        lines += [f"A GAN's Fréchet distance is compared with the shipped conv VAE's, and with the floor a perfect "
                  f"generator would score (real training images against the test images); mode coverage is each "
                  f"class's share of the prior samples as the judge labels them.", ""]
    lines += ["| figure | " + " | ".join(names) + " | target | verdict |",
              "|---|" + "---|" * len(names) + "---|---|"]
    for r in dataset["rows"]:
        if not r["name"].startswith(tag + ":") and not r["name"].startswith(tag + " ["):
            continue
        texts = r.get("texts") or {names[0]: r["text"]}
        verdict = r["verdict"] + "".join(f" ({j}: {r['verdicts'][j]})" for j in r.get("disagree", []))
        lines.append(f"| {r['name'].split(':', 1)[1].strip()} | " + " | ".join(texts.get(j, "") for j in names) +
                     f" | {r['target']} | {verdict} |")
    for j in names:
        fig = info.get("judges", {}).get(j) or (info if j == names[0] else {})
        if fig.get("sample_accuracy_per_class"):
            lines += ["", f"Prior samples labelled as their class by {j}, per class: " +
                      ", ".join(f"{c} {a:.3f}" for c, a in fig["sample_accuracy_per_class"].items()) + "."]
        if info.get("adversarial") and fig.get("class_share"):
            lines += ["", f"Prior samples per class as {j} labels them: " +
                      ", ".join(f"{c} {s:.3f}" for c, s in fig["class_share"].items()) + "."]
    return "\n".join(lines + [CARD_END])


def update_card(folder: str | Path, section: str) -> bool:
    """Put `section` into folder/README.md: in place of the previous one, else at the end. False if no card."""
    path = Path(folder) / "README.md"
    if not path.is_file():
        return False
    text = path.read_text()
    start, end = text.find(CARD_BEGIN), text.find(CARD_END)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(CARD_END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    ckpt.write_text(path, text)
    return True


def format_table(name: str, rows: list[dict]) -> str:
    """The rows as text: one column per judge (a figure that needs no judge has its value in the first), the
    target, the first judge's verdict, and where another judge's verdict differs, that judge's."""
    names = next((list(r["texts"]) for r in rows if r.get("texts")), [JUDGE_NAMES[0]])
    w = max(len(r["name"]) for r in rows) + 2
    vw = max(10, *(len(t) + 2 for r in rows for t in (r.get("texts") or {"": r["text"]}).values()))
    head = "".join(f"{j:>{vw}}" for j in names)
    lines = [f"\n{name}", f"  {'figure':<{w}}{head}   {'target':<28}{'verdict':<9}judges",
             "  " + "-" * (w + vw * len(names) + 48)]
    for r in rows:
        texts = r.get("texts") or {names[0]: r["text"]}
        cells = "".join(f"{texts.get(j, ''):>{vw}}" for j in names)
        note = ("disagree: " + ", ".join(f"{j} {r['verdicts'][j]}" for j in r["disagree"])) if r.get("disagree") \
            else ""
        lines.append(f"  {r['name']:<{w}}{cells}   {r['target']:<28}{r['verdict']:<9}{note}".rstrip())
    lines.append(f"  (one value: a figure that needs no judge; the verdict is {names[0]}'s)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------

# Blurs (Gaussian sigma, pixels) of real test images that the judge is shown: how sharp samples must be.
BLUR_SIGMAS = (0.5, 1.0)

# Judge epochs: their recipes in training/judge.py (the smallcnn: 15 on MNIST's 15,604 images here, 10 on
# Fashion-MNIST's 60,000), the same that `python -m training evaluate` trains, so both use one cached judge.
FULL = {"train_limit": None, "n_test": None, "k": K, "baseline_epochs": 20,
        "judge_epochs": {j: {d: default_epochs(j, d) for d in DATASETS} for j in JUDGE_NAMES},
        "n_per_class": 1000, "n_samples": 10_000}
QUICK = {"train_limit": 2000, "n_test": 500, "k": 4, "baseline_epochs": 1,
         "judge_epochs": {j: {d: 1 for d in DATASETS} for j in JUDGE_NAMES},
         "n_per_class": 50, "n_samples": 500}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnist-dir", default=str(REPO.parent / "shared" / "data" / "mnist"),
                   help="IDX folder for MNIST (default %(default)s)")
    p.add_argument("--fashion-mnist-dir", default="/usr/share/datasets/fashion-mnist",
                   help="IDX folder for Fashion-MNIST (default %(default)s)")
    p.add_argument("--assets", default="assets", help="folder holding <dataset>-<kind>/ model folders")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--reevaluate", action="store_true",
                   help="recompute -ELBO / IWAE / 5-NN (a GAN's reconstruction error through inversion), ignoring "
                        "metrics.json")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings (2,000 training images, 500 test images, k=4, 1 epoch): a smoke test")
    p.add_argument("--cache", default=str(REPO / "benchmarks" / ".cache"),
                   help="where the baseline is cached (default %(default)s)")
    p.add_argument("--judge-cache", default=None,
                   help="where the judges are cached (default: the training package's, %s, which "
                        "`python -m training evaluate` reads too; with --quick, <cache>/quick/judges)" % judges_dir())
    p.add_argument("--json", default=None, help="write the figures here (default benchmarks/results/quality.json; "
                                                "with --quick, <cache>/quick/quality.json); '' to skip")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior samples")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--update-cards", action="store_true",
                   help="also write each judged model's figures into its model card (<folder>/README.md), in a "
                        "section that the next run replaces")
    args = p.parse_args(argv)
    if args.quick and args.update_cards:
        p.error("--update-cards needs the full settings: --quick's figures mean nothing, so they stay out of the cards")
    from training.malloc import keep_freed_memory
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.settings = QUICK if args.quick else FULL
    args.cache = Path(args.cache) / ("quick" if args.quick else "")
    args.assets = Path(args.assets)
    args.judge_cache = (Path(args.judge_cache) if args.judge_cache else
                        args.cache / "judges" if args.quick else judges_dir())
    if args.json is None:
        args.json = str(args.cache / "quality.json") if args.quick else str(REPO / "benchmarks" / "results" /
                                                                              "quality.json")
    command = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(sys.argv[1:] if argv is None else argv)])
    print(command)
    t0 = time.time()
    dirs = {"mnist": args.mnist_dir, "fashion-mnist": args.fashion_mnist_dir}
    results = {"command": command, "settings": args.settings, "targets": TARGETS, "datasets": {}}
    for name in args.datasets:
        results["datasets"][name] = run_dataset(name, dirs[name], args)
    results["wall_seconds"] = round(time.time() - t0, 1)
    judged = [r for d in results["datasets"].values() for r in d["rows"] if r["verdict"]]
    verdicts = [r["verdict"] for r in judged]
    disagree = sum(bool(r.get("disagree")) for r in judged)
    print(f"\n{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL ({JUDGE_NAMES[0]}'s verdicts; "
          f"{disagree} where {', '.join(JUDGE_NAMES[1:])} disagrees)"
          + ("  (--quick: tiny settings, the verdicts mean nothing)" if args.quick else ""))
    print(f"wall time {results['wall_seconds']:.0f}s ({torch.get_num_threads()} thread(s))")
    if args.update_cards:
        for dataset in results["datasets"].values():
            for kind, info in dataset["models"].items():
                if info and "error" not in info and update_card(info["folder"], card_section(dataset, kind, command)):
                    print(f"figures written into {info['folder']}/README.md")
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        ckpt.write_json(out, results)
        print(f"figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
