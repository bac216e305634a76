"""Speed of generate_dataset (explorer.tools.export): labelled synthetic images per second from each conditional model.

    python benchmarks/generate_speed.py                       # every cvae in assets/ (fake ones if there are none)
    python benchmarks/generate_speed.py --per-class 100 1000 5000 --repeats 3

Times the whole action as the app runs it (one torch thread, as explorer.registry sets): prior samples decoded in
batches of 1,000, the .npz written (compressed) and the PNG sheet made. Prints images per second, median of
`repeats`, and the part spent decoding. Target: 1,000 images per second or more. A script that prints
figures, not a pass/fail test; timings are distorted while other jobs use the CPU, so say so when reporting them.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--per-class", type=int, nargs="+", default=[100, 1000, 5000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--model", nargs="+", help="cvae model names (default: every cvae)")
    args = p.parse_args(argv)

    import torch

    from explorer.testing.browser import shipped_assets_present
    from explorer import ModelRegistry
    from explorer.tools import export

    torch.set_num_threads(1)  # as the app does
    tmp = tempfile.TemporaryDirectory(prefix="generate-speed-")
    if shipped_assets_present():
        assets = REPO / "assets"
    else:
        from explorer.testing import make_assets
        assets = make_assets(Path(tmp.name) / "assets", latent_dim=16, n_points=200)
        print(f"fake models in {assets}: assets/ has no shipped models")
    export.EXPORT_DIR = Path(tmp.name) / "exports"  # keep the benchmark's files out of the app's export folder
    reg = ModelRegistry.discover(assets)
    names = args.model or [n for n in reg.names() if not reg.info(n).capabilities.lacks(*export.NEEDS)]
    print(f"{'model':<22} {'per class':>9} {'images':>8} {'median s':>9} {'images/s':>9} {'decode s':>9} "
          f"{'npz MB':>7}  (n={args.repeats}, target >= 1,000 images/s)")
    try:
        for name in names:
            loaded = reg.get(name)
            export.generate_dataset(reg, name, 10)  # warm-up: imports, first allocations
            for per_class in args.per_class:
                runs = []
                for r in range(args.repeats):
                    stamps = []
                    t0 = time.perf_counter()
                    res = export.generate_dataset(reg, name, per_class, seed=r,
                                                  progress=lambda f, d: stamps.append((f, time.perf_counter())))
                    runs.append((time.perf_counter() - t0, stamps[-1][1] - t0, res))
                total, decode, res = sorted(runs, key=lambda x: x[0])[len(runs) // 2]
                n = per_class * loaded.num_classes
                flag = "" if n / total >= 1000 else "  under target"
                print(f"{name:<22} {per_class:>9,} {n:>8,} {total:>9.2f} {n / total:>9,.0f} {decode:>9.2f} "
                      f"{res['npz'].stat().st_size / 1e6:>7.1f}{flag}", flush=True)
    finally:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
