"""How far to trust each 2-D view of the shipped models' latent maps (training/map_quality.py).

    python benchmarks/map_quality.py                  # every folder in assets/ with a latent map
    python benchmarks/map_quality.py --full           # also trustworthiness on all points, against the 5,000 sample

For each model and each stored projection: trustworthiness (k = 10, the fixed 5,000-point sample) and the 5-NN
class accuracy in the plane, beside the 5-NN accuracy in the latent space itself (metrics.json's knn5_accuracy).
Two references in the same run: a random 2-D layout of the same points (what a view that keeps nothing scores),
and the latent space's own first two coordinates. With --full, trustworthiness on every point too, to show what
the sample changes, and how long each takes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from training.evaluate import MAP_NAME, load_latent_map  # noqa: E402
from training.map_quality import PROJECTION_KEYS, map_quality  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assets", type=Path, default=REPO / "assets")
    p.add_argument("--full", action="store_true")
    args = p.parse_args(argv)
    from sklearn.manifold import trustworthiness

    folders = sorted(f for f in args.assets.iterdir() if (f / MAP_NAME).is_file())
    print("model | view | trustworthiness (k=10, 5,000 points) | 5-NN in the plane | 5-NN in the latent space"
          + (" | trustworthiness on all points (seconds: sample / all)" if args.full else ""))
    for folder in folders:
        arrays = load_latent_map(folder)
        knn_latent = json.loads((folder / "metrics.json").read_text()).get("knn5_accuracy")
        rng = np.random.default_rng(0)
        refs = {"random layout": rng.normal(size=(len(arrays["mu"]), 2)).astype(np.float32),
                "first 2 latent dims": arrays["mu"][:, :2]}
        q = map_quality(arrays)
        ref_q = {name: map_quality({"mu": arrays["mu"], "labels": arrays["labels"], "pca": v})
                 for name, v in refs.items()}
        for key in PROJECTION_KEYS:
            if key not in arrays:
                continue
            line = (f"{folder.name} | {key} | {q[f'map_trustworthiness_{key}']:.4f} | {q[f'map_knn5_{key}']:.3f} | "
                    f"{knn_latent if knn_latent is None else f'{knn_latent:.3f}'}")
            if args.full:
                t0 = time.time()
                map_quality({"mu": arrays["mu"], "labels": arrays["labels"], key: arrays[key]})
                t_sample = time.time() - t0
                t0 = time.time()
                full = trustworthiness(arrays["mu"].astype(np.float64), arrays[key].astype(np.float64), n_neighbors=10)
                line += f" | {full:.4f} ({t_sample:.1f} / {time.time() - t0:.1f})"
            print(line)
        for name, r in ref_q.items():
            print(f"{folder.name} | reference: {name} | {r['map_trustworthiness_pca']:.4f} | {r['map_knn5_pca']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
