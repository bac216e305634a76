"""Quality of the shipped models against their targets, on the official test split (nats per image).

    python benchmarks/quality.py                       # both datasets, shipped assets in assets/
    python benchmarks/quality.py --datasets mnist      # one dataset
    python benchmarks/quality.py --reevaluate          # recompute -ELBO / IWAE / 5-NN instead of reading metrics.json
    python benchmarks/quality.py --quick               # tiny settings: a smoke test of the script itself
    python benchmarks/quality.py --update-cards        # also write each model's figures into its model card

Prints, per dataset, a table of figures with their targets and PASS/FAIL, and writes every figure as JSON
(default benchmarks/results/quality.json). A script that prints figures, not a pass/fail test; it exits 0 either way.

Reference points, trained and cached here (benchmarks/.cache/, gitignored):
  baseline    the tutorial VAE, trained through the training package on the same data: 784-400-20 MLP, BCE+KL,
              Adam 1e-3, batch 128, 20 epochs
  classifier  a small CNN trained on the real training images; it labels prior samples of the CVAE and gives the
              features (penultimate layer) for the Fréchet distance between samples and test images
Diagnostics printed beside the targets (informative, no verdict):
  the classifier's accuracy on real test images blurred by a Gaussian of sigma 0.5 and 1 pixel (how sharp a
  sample must be to be recognised), and the CVAE's reconstructions of the test images, each decoded with its own
  label, labelled by the classifier (what its decoder reaches on codes the encoder made)
Targets:
  conv VAE    IWAE(k=64) <= 95 (MNIST) / 234 (Fashion), i.e. 10 / 6 nats better than the tutorial baseline;
              5-NN accuracy on the posterior means >= 0.95 / 0.83
  conv CVAE   classifier labels prior samples decoded with class c as c >= 97% / 90% of the time;
              Fréchet distance (samples vs test images) <= half the baseline's
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
from training.judge import (SmallCNN, accuracy, classify, fd_floor, frechet_distance,  # noqa: F401
                            frechet_from_stats, judge, judges_dir, sample_features)
from training.models import LatentModel

REPO = Path(__file__).resolve().parents[1]

DATASETS = ("mnist", "fashion-mnist")
KINDS = ("ae", "vae", "cvae")
K = 64  # importance samples of the IWAE bound

# The targets. "tutorial" = what the tutorial VAE roughly scores (trained on all 60,000 images).
TARGETS = {
    "mnist":         {"iwae_max": 95.0, "iwae_gain_min": 10.0, "knn5_min": 0.95, "sample_acc_min": 0.97,
                      "fd_ratio_max": 0.5, "classifier_expected": 0.99,
                      "tutorial": {"neg_elbo": 110.0, "iwae": 105.0, "knn5": 0.93}},
    "fashion-mnist": {"iwae_max": 234.0, "iwae_gain_min": 6.0, "knn5_min": 0.83, "sample_acc_min": 0.90,
                      "fd_ratio_max": 0.5, "classifier_expected": 0.91,
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
# One dataset

def _row(name: str, value, target: str = "", ok: bool | None = None, fmt: str = "{:.2f}") -> dict:
    text = "n/a" if value is None else (fmt.format(value) if isinstance(value, (int, float)) else str(value))
    return {"name": name, "value": value, "text": text, "target": target,
            "verdict": "" if ok is None else ("PASS" if ok else "FAIL")}


def run_dataset(name: str, data_dir: str, args, log=print) -> dict:
    q = args.settings
    t0 = time.time()
    data_dir = str(Path(data_dir).resolve())  # the baseline cache compares it with the saved config
    data = load_dataset(name, data_dir, train_limit=q["train_limit"])
    test = data.test if q["n_test"] is None else Split(data.test.images[:q["n_test"]], data.test.labels[:q["n_test"]])
    log(f"\n=== {name}: {len(data.train)} training images, {len(test)} test images ({data_dir})")
    tg = TARGETS[name]
    res: dict = {"dataset": name, "data_dir": str(data_dir), "train_images": len(data.train), "test_images": len(test)}
    rows: list[dict] = []

    # The classifier, and the features of the real test images every FD compares against.
    clf = judge(name, data, which="smallcnn", cache_dir=args.judge_cache, epochs=q["clf_epochs"][name], log=log)
    clf_acc = accuracy(clf, test)
    _, test_feats = classify(clf, test.float_images())
    n_ref = min(len(test), len(data.train))
    fd_real = fd_floor(clf, data, test)
    res["classifier"] = {"test_accuracy": clf_acc, "fd_train_vs_test": fd_real, "epochs": q["clf_epochs"][name]}
    rows.append(_row("classifier test accuracy", clf_acc, f"~{tg['classifier_expected']} expected", None, "{:.4f}"))
    rows.append(_row(f"FD real train vs test ({n_ref}) (floor)", fd_real, "informative"))
    blur = {s: blurred_accuracy(clf, test, s, num_classes=len(data.class_names)) for s in BLUR_SIGMAS}
    res["classifier"]["blurred_test_accuracy"] = {str(s): b for s, b in blur.items()}
    for s, b in blur.items():
        rows.append(_row(f"classifier on test images blurred, sigma {s} px", b["overall"], "informative", None,
                         "{:.4f}"))

    # The tutorial baseline.
    base_model, bm = baseline(data, data_dir, args.cache, epochs=q["baseline_epochs"], k=q["k"], eval_test=test,
                              log=log)
    _, base_feats = prior_sample_features(base_model, clf, q["n_samples"], seed=args.seed)
    base_fd = frechet_distance(base_feats, test_feats)
    iwae_key = f"iwae_k{q['k']}"
    res["baseline"] = {"neg_elbo": bm["neg_elbo"], "iwae": bm[iwae_key], "knn5_accuracy": bm["knn5_accuracy"],
                       "fd": base_fd, "epochs": q["baseline_epochs"]}
    tut = tg["tutorial"]
    rows.append(_row("baseline -ELBO", bm["neg_elbo"], f"tutorial ~{tut['neg_elbo']:.0f}"))
    rows.append(_row(f"baseline IWAE(k={q['k']})", bm[iwae_key], f"tutorial ~{tut['iwae']:.0f}"))
    rows.append(_row("baseline 5-NN accuracy", bm["knn5_accuracy"], f"tutorial ~{tut['knn5']:.2f}", None, "{:.4f}"))
    rows.append(_row(f"baseline FD (prior samples, {q['n_samples']})", base_fd, "reference"))

    # The shipped models.
    res["models"] = {}
    for kind in KINDS:
        folder = args.assets / f"{name}-{kind}"
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
        arch = model.config.arch
        tag = f"{arch} {kind}"
        m = ckpt.read_json(folder / METRICS_NAME)
        source = "metrics.json"
        stale = not m or m.get("n_test") != len(test) or (model.stochastic and m.get(iwae_key) is None)
        if args.reevaluate or stale:
            log(f"  {folder.name}: evaluating (-ELBO, IWAE k={q['k']}, 5-NN)" +
                ("" if args.reevaluate else f" because {METRICS_NAME} is missing or was made on another test set"))
            m = evaluate(model, test, data.train, k=q["k"])
            source = "re-evaluated"
        saved = ckpt.read_config(folder)
        saved_data = saved.get("data", {})
        done = len(ckpt.read_json(folder / "history.json", {"epochs": []})["epochs"])
        planned = saved.get("train", {}).get("epochs")
        if planned and done < planned:
            log(f"  warning: {folder.name} has {done} of {planned} epochs (training unfinished or in progress)")
            tag += f" [{done}/{planned} epochs]"
        info = {"folder": str(folder), "arch": arch, "latent_dim": model.latent_dim, "metrics_source": source,
                "neg_elbo": m.get("neg_elbo"), "iwae": m.get(iwae_key), "knn5_accuracy": m.get("knn5_accuracy"),
                "recon": m.get("recon"), "active_units": m.get("active_units"),
                "trained_on_images": saved_data.get("train_images"), "epochs_done": done, "epochs_planned": planned}
        if saved_data.get("train_images") not in (None, len(data.train)):
            log(f"  note: {folder.name} was trained on {saved_data['train_images']} images; "
                f"this run's training split has {len(data.train)}")

        if kind == "cvae":
            sa = sample_accuracy(model, clf, q["n_per_class"], seed=args.seed)
            feats = sa.pop("features")
            info["sample_accuracy"] = sa
            info["sample_accuracy_per_class"] = dict(zip(data.class_names, sa["per_class"]))
            ra = reconstruction_accuracy(model, clf, test)
            info["reconstruction_accuracy"] = ra
            info["reconstruction_accuracy_per_class"] = dict(zip(data.class_names, ra["per_class"]))
        else:
            _, feats = prior_sample_features(model, clf, q["n_samples"], seed=args.seed)
        fd = frechet_distance(feats, test_feats)
        info["fd"] = fd
        info["fd_ratio_to_baseline"] = fd / base_fd
        res["models"][kind] = info

        # Rows: targets for the conv VAE and conv CVAE, everything else informative.
        conv = arch == "conv"
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
        else:
            if model.stochastic:
                rows.append(_row(f"{tag}: IWAE(k={q['k']})", info["iwae"], "informative"))
            rows.append(_row(f"{tag}: 5-NN accuracy", info["knn5_accuracy"], "informative", None, "{:.4f}"))
        if kind == "cvae":
            sa = info["sample_accuracy"]
            rows.append(_row(f"{tag}: samples labelled as their class", sa["overall"],
                             f">= {tg['sample_acc_min']:.2f}", sa["overall"] >= tg["sample_acc_min"] if conv else None,
                             "{:.4f}"))
            rows.append(_row(f"{tag}:   reconstructions labelled as their class",
                             info["reconstruction_accuracy"]["overall"], "informative", None, "{:.4f}"))
            worst = int(np.argmin(sa["per_class"]))
            rows.append(_row(f"{tag}:   worst class ({data.class_names[worst]})", sa["per_class"][worst],
                             "informative", None, "{:.4f}"))
            rows.append(_row(f"{tag}: FD / baseline FD", fd / base_fd, f"<= {tg['fd_ratio_max']:.1f}",
                             fd / base_fd <= tg["fd_ratio_max"] if conv else None, "{:.3f}"))
            rows.append(_row(f"{tag}: FD (prior samples)", fd, "informative"))
        else:
            rows.append(_row(f"{tag}: FD (prior samples)", fd, "informative"))
            rows.append(_row(f"{tag}: FD / baseline FD", fd / base_fd, "informative", None, "{:.3f}"))
    res["rows"] = rows
    res["seconds"] = round(time.time() - t0, 1)
    log(format_table(name, rows))
    if res["models"].get("cvae"):
        per = res["models"]["cvae"]["sample_accuracy_per_class"]
        log("  cvae samples labelled as their class, per class: " +
            ", ".join(f"{c} {a:.3f}" for c, a in per.items()))
        rec = res["models"]["cvae"]["reconstruction_accuracy_per_class"]
        log("  cvae reconstructions labelled as their class, per class: " +
            ", ".join(f"{c} {a:.3f}" for c, a in rec.items() if a is not None))
    return res


# Model cards: the figures above, per model, in a section of the folder's README.md that a later run replaces.
CARD_BEGIN = "<!-- benchmarks/quality.py: begin -->"
CARD_END = "<!-- benchmarks/quality.py: end -->"


def card_section(dataset: dict, kind: str, command: str) -> str:
    """Markdown for one model's card: its rows of the table (figure, value, target, verdict) and what judged them."""
    info = dataset["models"][kind]
    tag = f"{info['arch']} {kind}"
    clf = dataset["classifier"]
    lines = [CARD_BEGIN, "## Against the project's targets", "",
             f"Measured by `{command}` on the {dataset['test_images']:,} official test images. Samples are judged by a "
             f"small CNN trained on the {dataset['train_images']:,} real training images (test accuracy "
             f"{clf['test_accuracy']:.4f}); the baseline is the tutorial VAE (784-400-20 MLP, 20 epochs) trained here "
             f"on the same data: IWAE {dataset['baseline']['iwae']:.2f}, Fréchet distance of its prior samples "
             f"{dataset['baseline']['fd']:.2f}.", "",
             "| figure | value | target | verdict |", "|---|---|---|---|"]
    for r in dataset["rows"]:
        if r["name"].startswith(tag):
            lines.append(f"| {r['name'].split(':', 1)[1].strip()} | {r['text']} | {r['target']} | {r['verdict']} |")
    if info.get("sample_accuracy_per_class"):
        lines += ["", "Prior samples labelled as their class, per class: " +
                  ", ".join(f"{c} {a:.3f}" for c, a in info["sample_accuracy_per_class"].items()) + "."]
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
    w = max(len(r["name"]) for r in rows) + 2
    lines = [f"\n{name}", f"  {'figure':<{w}}{'value':>10}   {'target':<28}verdict", "  " + "-" * (w + 48)]
    for r in rows:
        lines.append(f"  {r['name']:<{w}}{r['text']:>10}   {r['target']:<28}{r['verdict']}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------

# Blurs (Gaussian sigma, pixels) of real test images that the judge is shown: how sharp samples must be.
BLUR_SIGMAS = (0.5, 1.0)

# Classifier epochs: MNIST here is 15,604 images, so more passes; Fashion-MNIST's 60,000 need fewer.
FULL = {"train_limit": None, "n_test": None, "k": K, "baseline_epochs": 20,
        "clf_epochs": {"mnist": 15, "fashion-mnist": 10},
        "n_per_class": 1000, "n_samples": 10_000}
QUICK = {"train_limit": 2000, "n_test": 500, "k": 4, "baseline_epochs": 1,
         "clf_epochs": {"mnist": 1, "fashion-mnist": 1},
         "n_per_class": 50, "n_samples": 500}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mnist-dir", default=str(REPO.parent / "shared" / "data" / "mnist"),
                   help="IDX folder for MNIST (default %(default)s)")
    p.add_argument("--fashion-mnist-dir", default="/usr/share/datasets/fashion-mnist",
                   help="IDX folder for Fashion-MNIST (default %(default)s)")
    p.add_argument("--assets", default="assets", help="folder holding <dataset>-<kind>/ model folders")
    p.add_argument("--datasets", nargs="+", choices=DATASETS, default=list(DATASETS))
    p.add_argument("--reevaluate", action="store_true", help="recompute -ELBO / IWAE / 5-NN, ignoring metrics.json")
    p.add_argument("--quick", action="store_true",
                   help="tiny settings (2,000 training images, 500 test images, k=4, 1 epoch): a smoke test")
    p.add_argument("--cache", default=str(REPO / "benchmarks" / ".cache"),
                   help="where the baseline and classifier are cached (default %(default)s)")
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
    verdicts = [r["verdict"] for d in results["datasets"].values() for r in d["rows"] if r["verdict"]]
    print(f"\n{verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL"
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
