"""Gaussian against Bernoulli likelihood: two conv VAEs on Fashion-MNIST, the same network, data and epochs.

    python benchmarks/likelihood.py                       # 10 epochs each, both judges
    python benchmarks/likelihood.py --epochs 3 --judges smallcnn
    python benchmarks/likelihood.py --quick               # a smoke test of the script (tiny settings)

Trains (or reuses, from benchmarks/.cache/likelihood/, when a folder of the same settings is complete) a conv VAE
with `--likelihood bernoulli` and one with `--likelihood gaussian` (one learned global sigma), through the training
package, and prints for each:
  - the sample Fréchet distance (FD) of 10,000 prior samples against the test images, in the features of each judge
    of benchmarks/quality.py (training/judge.py: smallcnn, the judge the targets were set with, and widecnn, a second
    design), beside the FD floor (real training images against the test images: what a perfect generator scores);
  - the test -ELBO and IWAE bound in nats per image and, for the Gaussian, bits per dimension. The Gaussian's figure
    is the NLL of the 8-bit image (the dequantised density plus D log 256); the Bernoulli's is the BCE of grayscale
    pixels, which is not a likelihood of 8-bit data, so the two columns of nats are not comparable: FD is the common
    measure.
The samples are decoded means (sigmoid of the decoder output) for both, as the explorer shows them. It saves 64
samples of each side by side as docs/likelihood-samples.png and the figures as benchmarks/results/likelihood.json.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from torchvision.utils import make_grid

from training import ModelConfig, TrainConfig, load_dataset, load_model
from training.checkpoint import ModelLoadError
from training.evaluate import METRICS_NAME, evaluate
from training.judge import fd_floor, frechet_distance, judge, sample_features, classify
from training.recipes import RECIPES

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "benchmarks" / ".cache" / "likelihood"
LIKELIHOODS = ("bernoulli", "gaussian")


def settings(likelihood: str, epochs: int, train_limit: int | None, data_dir: str) -> tuple[ModelConfig, TrainConfig]:
    """The shipped fashion-mnist-vae recipe's network and training, with this likelihood and epoch count."""
    model_kw, train_kw = RECIPES["fashion-mnist-vae"]
    mcfg = ModelConfig(**{**model_kw, "likelihood": likelihood, "num_classes": 0})
    tcfg = TrainConfig(**{**train_kw, "epochs": epochs, "train_limit": train_limit, "data_dir": data_dir,
                          "device": "cpu", "precision": "fp32"})
    return mcfg, tcfg


def trained(mcfg: ModelConfig, tcfg: TrainConfig, folder: Path, data, log=print):
    """The model of these settings: the cached folder when its config matches and it finished, else trained."""
    from training.train import train
    try:
        saved = json.loads((folder / "config.json").read_text())
        history = json.loads((folder / "history.json").read_text())["epochs"]
        if saved["model"] == mcfg.to_dict() and saved["train"] == tcfg.to_dict() and len(history) == tcfg.epochs:
            log(f"reusing {folder}")
            return load_model(folder), sum(h["seconds"] for h in history)
    except (OSError, KeyError, ValueError, ModelLoadError):
        pass
    t0 = time.time()
    model = train(mcfg, tcfg, folder, data=data, progress=False, log=log)
    return model, time.time() - t0


def labelled_grid(images: dict[str, torch.Tensor], path: Path, scale: int = 2) -> None:
    """64 samples of each model as an 8x8 grid (torchvision's make_grid), side by side, each titled."""
    tiles = []
    for name, x in images.items():
        grid = make_grid(x[:64], nrow=8, padding=2, pad_value=1.0)                   # (3, H, W) in [0, 1]
        tile = Image.fromarray((grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
        tile = tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)
        canvas = Image.new("RGB", (tile.width, tile.height + 24), "white")
        canvas.paste(tile, (0, 24))
        ImageDraw.Draw(canvas).text((6, 6), name, fill="black")
        tiles.append(canvas)
    out = Image.new("RGB", (sum(t.width for t in tiles) + 16 * (len(tiles) - 1), tiles[0].height), "white")
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + 16
    path.parent.mkdir(parents=True, exist_ok=True)
    out.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist",
                   help="Fashion-MNIST IDX folder (apt-get install dataset-fashion-mnist)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--samples", type=int, default=10_000, help="prior samples per model for the FD")
    p.add_argument("--judges", nargs="+", default=["smallcnn", "widecnn"], choices=["smallcnn", "widecnn"])
    p.add_argument("--k", type=int, default=64, help="importance samples of the IWAE bound")
    p.add_argument("--quick", action="store_true", help="1 epoch on 2,000 images, 1,000 samples: a smoke test")
    p.add_argument("--picture", default=str(REPO / "docs" / "likelihood-samples.png"))
    p.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "likelihood.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(min(2, torch.get_num_threads()))
    train_limit = None
    if args.quick:
        args.epochs, args.samples, train_limit, args.k = 1, 1000, 2000, 4
        args.picture = str(CACHE / "quick-samples.png")
        args.json = str(CACHE / "quick.json")
    data = load_dataset("fashion-mnist", args.data_dir, train_limit=train_limit)
    judges = {w: judge("fashion-mnist", data, which=w, epochs=1 if args.quick else None) for w in args.judges}
    results: dict = {"epochs": args.epochs, "samples": args.samples, "train_images": len(data.train),
                     "test_images": len(data.test), "floor": {}, "models": {}}
    test_feats = {}
    for w, j in judges.items():
        _, test_feats[w] = classify(j, data.test.float_images())
        results["floor"][w] = fd_floor(j, data)
    pictures = {}
    for likelihood in LIKELIHOODS:
        mcfg, tcfg = settings(likelihood, args.epochs, train_limit, args.data_dir)
        folder = CACHE / (f"{likelihood}-e{args.epochs}" + ("-quick" if args.quick else ""))
        model, seconds = trained(mcfg, tcfg, folder, data)
        model.eval()
        metrics = evaluate(model, data.test, data.train, k=args.k, seed=0)
        (folder / METRICS_NAME).write_text(json.dumps(metrics, indent=2))
        row = {"train_seconds": round(seconds, 1), "sigma": model.sigma, "neg_elbo": metrics["neg_elbo"],
               f"iwae_k{args.k}": metrics[f"iwae_k{args.k}"], "knn5_accuracy": metrics["knn5_accuracy"],
               "units": metrics["units"], "fd": {}}
        for key in ("bits_per_dim_neg_elbo", f"bits_per_dim_iwae_k{args.k}"):
            if key in metrics:
                row[key] = metrics[key]
        for w, j in judges.items():
            _, feats = sample_features(model, j, args.samples, seed=0)
            row["fd"][w] = frechet_distance(feats, test_feats[w])
        results["models"][likelihood] = row
        with torch.no_grad():
            pictures[f"{likelihood} (FD {row['fd'][args.judges[0]]:.1f})"] = model.sample(
                64, generator=torch.Generator().manual_seed(0)).clamp(0, 1)
    labelled_grid(pictures, Path(args.picture))

    print(f"Fashion-MNIST, conv VAE (the fashion-mnist-vae recipe's network), {args.epochs} epochs, "
          f"{len(data.train)} training images; FD of {args.samples} prior samples vs the {len(data.test)} test images")
    head = f"{'likelihood':<11}" + "".join(f"{'FD ' + w:>14}" for w in args.judges) + \
        f"{'-ELBO':>10}{f'IWAE k={args.k}':>12}{'bits/dim':>10}{'sigma':>8}{'5-NN':>7}{'train s':>9}"
    print(head)
    for likelihood, row in results["models"].items():
        bpd = row.get(f"bits_per_dim_iwae_k{args.k}")
        print(f"{likelihood:<11}" + "".join(f"{row['fd'][w]:>14.2f}" for w in args.judges)
              + f"{row['neg_elbo']:>10.1f}{row[f'iwae_k{args.k}']:>12.1f}"
              + (f"{bpd:>10.3f}" if bpd is not None else f"{'-':>10}")
              + (f"{row['sigma']:>8.4f}" if row["sigma"] is not None else f"{'-':>8}")
              + f"{row['knn5_accuracy']:>7.3f}{row['train_seconds']:>9.0f}")
    print(f"{'floor':<11}" + "".join(f"{results['floor'][w]:>14.2f}" for w in args.judges)
          + "   (real training images vs test images)")
    print("Nats: Bernoulli = BCE of grayscale pixels; Gaussian = NLL of the 8-bit image (dequantised density + "
          "D log 256). Not comparable with each other; FD is.")
    print(f"samples: {args.picture}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
