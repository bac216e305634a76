"""Training speed on one process against two torchrun processes (DistributedDataParallel, gloo on CPU).

    python benchmarks/ddp_speed.py                         # conv VAE, 6,000 MNIST images, 2 epochs, each layout
    python benchmarks/ddp_speed.py --train-limit 2000 --epochs 1

Runs `python -m training train` (and `torchrun --nproc_per_node 2 -m training train`) on the same settings and prints
the training images per second of each layout, from history.json's per-epoch seconds (data loading, process start
and evaluation excluded; the first epoch is dropped when there are more):
  1 process x 1 thread      the reference: one core
  1 process x 2 threads     what a plain run uses on a 2-core machine (torch's intra-op threads)
  2 processes x 1 thread    torchrun: each process takes half of every global batch, DDP averages the gradients
The global batch (--batch-size) is the same in every layout, so each does the same optimisation.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def run(procs: int, threads: int, args, out: Path) -> float:
    """Images per second over the timed epochs of one layout."""
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
                if procs > 1 else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [*launcher, "-m", "training", "train", "--dataset", "mnist", "--data-dir", args.data_dir,
           "--train-limit", str(args.train_limit), "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
           "--arch", args.arch, "--no-eval", "--device", "cpu", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())["epochs"]
    timed = history[1:] if len(history) > 1 else history
    return args.train_limit * len(timed) / sum(h["seconds"] for h in timed)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data" / "mnist"))
    p.add_argument("--train-limit", type=int, default=6000)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--arch", default="conv", choices=("conv", "mlp"))
    args = p.parse_args(argv)
    print(f"{args.arch} VAE, {args.train_limit} MNIST images, global batch {args.batch_size}, {os.cpu_count()} CPUs")
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for procs, threads in ((1, 1), (1, 2), (2, 1)):
            rates[(procs, threads)] = run(procs, threads, args, Path(tmp) / f"p{procs}t{threads}")
            print(f"  {procs} process{'es' if procs > 1 else ''} x {threads} thread{'s' if threads > 1 else ''}: "
                  f"{rates[(procs, threads)]:8.0f} images/s  ({rates[(procs, threads)] / rates[(1, 1)]:.2f}x one core)")
    print(f"2 processes over 1 process x 2 threads: {rates[(2, 1)] / rates[(1, 2)]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
