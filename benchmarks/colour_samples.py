"""A colour model's picture and figures: test images, their reconstructions and prior samples as one grid.

    python scripts/make_shapes.py --out data/shapes32 --size 32 --per-class 1000 --classes 5
    python -m training train --dataset folder --data-dir data/shapes32 --channels 3 --image-size 32 --epochs 30 \\
        --out runs/shapes32-vae
    python benchmarks/colour_samples.py runs/shapes32-vae

Writes docs/colour-samples.png (three rows of 16: test images, the decoded posterior means, decoded N(0, I) samples;
torchvision's make_grid) and prints the folder's test figures from metrics.json, beside the reference figures
measured for docs/results.md. The figures do not depend on the machine (the run is seeded), but another torch
version or CPU may round differently.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from torchvision.utils import make_grid, save_image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training import load_model  # noqa: E402
from training.checkpoint import read_config  # noqa: E402
from training.data import load_dataset, unit_images  # noqa: E402

# The 30-epoch run of the docstring's commands (docs/results.md, "A colour model").
REFERENCE = {"neg_elbo": 392.7, "recon": 369.4, "kl": 23.3, "iwae_k64": 387.4, "active_units": 16,
             "knn5_accuracy": 0.864}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder", help="a trained colour model folder")
    p.add_argument("--data-dir", help="its image folder (default: the one in its config.json)")
    p.add_argument("--picture", default=str(REPO / "docs" / "colour-samples.png"))
    p.add_argument("-n", type=int, default=16, help="images per row")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    torch.set_num_threads(1)
    model = load_model(args.folder).eval()
    t = read_config(args.folder).get("train", {})
    data = load_dataset("folder", args.data_dir or t.get("data_dir"), resize=t.get("resize", False),
                        seed=t.get("seed", 0), image_shape=model.config.image_shape)
    x = unit_images(data.test.images[:args.n])                                       # (n, C, H, W)
    y = data.test.labels[:args.n] if model.conditional else None
    with torch.no_grad():
        rows = torch.cat([x, model.reconstruct(x, y), model.sample(args.n, y, generator=torch.Generator().manual_seed(
            args.seed))])                                                              # (3n, C, H, W)
    Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
    save_image(make_grid(rows, nrow=args.n, padding=2, pad_value=1.0), args.picture)
    print(f"wrote {args.picture}: test images, reconstructions, prior samples ({args.n} each)")

    metrics = json.loads((Path(args.folder) / "metrics.json").read_text())
    print(f"{'test figure':<16}{'this run':>12}{'reference':>12}")
    for key, ref in REFERENCE.items():
        value = metrics.get(key)
        shown = "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{key:<16}{shown:>12}{ref:>12}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
