"""What a map of every image costs at build time: the latent map of the test split alone against the map of the test
and training splits together, for the same model folder, in one run.

    python benchmarks/map_build.py                               # assets/fashion-mnist-ae: 10,000 vs 70,000 points
    python benchmarks/map_build.py assets/mnist-vae --threads 2

Each map is built as `train`, `evaluate --map` and `add-train` build it (training/evaluate.py's build_latent_map:
codes, 2-D PCA, t-SNE, UMAP, then the 3-D PCA and UMAP), in memory: nothing in the folder is written. umap-learn
compiles its numba code the first time it runs in a process; that is timed first, on its own, so that neither map
pays it. The figure the issue sets is the difference: what the training images add to the model's build.

Then what the stored map costs the explorer at start-up: loading the folder's latent_map.npz with its image files
(the explorer's ModelRegistry.get, as the app does for each model: weights and map), against a 10,000-point map of the test split
alone (--reference, a GAN folder by default), each in a new process so that no cache helps.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def build(model, data, train, label: str) -> float:
    from training.evaluate import build_latent_map

    steps = []
    t0 = time.perf_counter()
    arrays = build_latent_map(model, data.test, train=data.train if train else None,
                              log=lambda name, sec: steps.append(f"{name} {sec:.1f}s"))
    total = time.perf_counter() - t0
    print(f"{label}: {len(arrays['mu']):,} points in {total:.1f} s ({', '.join(steps)})", flush=True)
    return total


LOAD = """
import sys, time
from pathlib import Path
import torch  # noqa: F401  (imported before the clock starts: the app imports it once, for every model)
import explorer.backends  # noqa: F401
from explorer import ModelRegistry
folder = Path(sys.argv[1])
reg = ModelRegistry.discover(folder.parent)
t0 = time.perf_counter()
m = reg.get(folder.name)
print(f"{m.latent_map.n} {time.perf_counter() - t0:.3f}")
"""


def load_seconds(folder: Path) -> tuple[int, float]:
    import subprocess
    out = subprocess.run([sys.executable, "-c", LOAD, str(folder)], check=True, capture_output=True, text=True,
                         cwd=REPO).stdout.split()
    return int(out[0]), float(out[1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folder", nargs="?", type=Path, default=REPO / "assets" / "fashion-mnist-ae")
    p.add_argument("--threads", type=int, default=2, help="torch threads (numba and openTSNE use every core)")
    p.add_argument("--reference", type=Path, default=REPO / "assets" / "fashion-mnist-gan",
                   help="a 10,000-point map to load beside the folder's")
    p.add_argument("--load-only", action="store_true", help="only time loading the stored maps")
    args = p.parse_args(argv)
    for folder in (args.folder, args.reference):
        loads = [load_seconds(folder) for _ in range(3)]
        n = loads[0][0]
        files = sorted(folder.glob("latent_map*.npz"))
        size = sum(f.stat().st_size for f in files) / 1e6
        print(f"loading {folder.name}'s map ({n:,} points; {len(files)} file(s), {size:.1f} MB): "
              + " / ".join(f"{sec * 1000:.0f}" for _, sec in loads) + " ms (3 new processes)")
    if args.load_only:
        return 0
    import torch

    from training.__main__ import _folder_model_and_data
    from training.evaluate import umap_available

    torch.set_num_threads(args.threads)
    model, data = _folder_model_and_data(args.folder)
    print(f"{args.folder.name}: {len(data.test):,} test and {len(data.train):,} training images, "
          f"{torch.get_num_threads()} torch threads")
    if umap_available():
        import umap
        t0 = time.perf_counter()
        umap.UMAP(n_components=2, random_state=0).fit_transform(np.random.default_rng(0).normal(size=(300, 8)))
        print(f"umap-learn's numba compilation, once per process: {time.perf_counter() - t0:.1f} s")
    test_only = build(model, data, False, "test split alone (the reference)")
    both = build(model, data, True, "test and training splits")
    print(f"the training images add {both - test_only:.1f} s ({(both - test_only) / 60:.1f} min) to the build")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
