"""Does torchrun train as one process does? 2 processes of half the batch against 1 process of the whole batch.

    python benchmarks/ddp_equality.py                  # an MLP VAE and a cgan on MNIST, a text CVAE on WordNet
    python benchmarks/ddp_equality.py --only vae

For each model, `python -m training train` (1 process, --batch-size B) and `torchrun --nproc_per_node 2 -m training
train` (2 processes of B / 2) run on the same data and seed, and the script prints the largest difference between
the two runs' weights (model.safetensors; a GAN's discriminator too, from train_state.safetensors) and between
their last epoch's figures. Two references beside it:
  - one process of batch B / 2: what the run would be if each process stepped on its own half, the size of a real
    change in the optimisation;
  - for the GAN, the split done in one process (`--split-in-one-process`: gan_step replaced by one that averages the
    two halves' gradients, as DDP does): a GAN's gradients are small enough that Adam turns the float32 rounding of
    a split sum into visible weight differences, and this run shows how much of the difference is that.
The GAN runs without batch norm (--no-batch-norm): on CPU each process normalises its own rows, which no single
process does.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

REPO = Path(__file__).resolve().parent.parent
MNIST = REPO.parent / "shared" / "data" / "mnist"
WORDNET = Path("/usr/share/wordnet")


def models(args) -> dict[str, list[str]]:
    image = ["--dataset", "mnist", "--data-dir", str(args.data_dir), "--train-limit", str(args.train_limit)]
    return {
        "vae": [*image, "--kind", "vae", "--arch", "mlp", "--batch-size", "128"],
        "cgan": [*image, "--kind", "cgan", "--no-batch-norm", "--batch-size", "128"],
        "text-cvae": ["--dataset", "wordnet", "--data-dir", str(args.wordnet_dir), "--kind", "cvae",
                      "--train-limit", str(args.text_limit), "--batch-size", "128", "--word-dropout", "0.25"],
    }


def train(argv: list[str], out: Path, procs: int, split: bool = False) -> None:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs)]
                if procs > 1 else [sys.executable, __file__, "--split-in-one-process"] if split else [sys.executable])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [*launcher, *([] if split else ["-m", "training"]), "train", *argv, "--no-eval", "--device", "cpu", "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")


def weights(folder: Path) -> dict[str, np.ndarray]:
    w = {f"model.{k}": v for k, v in load_file(str(folder / "model.safetensors")).items()}
    w.update({k: v for k, v in load_file(str(folder / "train_state.safetensors")).items() if k.startswith("disc.")})
    return {k: v.astype(np.float64) for k, v in w.items() if v.dtype.kind == "f"}


def largest(a: dict, b: dict) -> tuple[float, str, float]:
    """(largest absolute difference, the tensor it is in, largest weight magnitude)."""
    worst = max(a, key=lambda k: float(np.abs(a[k] - b[k]).max()))
    return float(np.abs(a[worst] - b[worst]).max()), worst, max(float(np.abs(a[k]).max()) for k in a)


def last_figures(folder: Path) -> dict:
    last = json.loads((folder / "history.json").read_text())["epochs"][-1]
    return {k: v for k, v in last.items() if k.endswith(("loss", "recon", "kl", "real", "fake"))}


def split_gan_step(model, disc, g_opt, d_opt, x, y, *, precision="fp32", hinge=False, generator=None, check=None,
                   z=None, g_net=None, d_net=None):
    """gan.gan_step as two processes of DDP compute it, in one process: each half of the batch (rows r::2, with
    its rows of the batch's codes) gives its gradients, and each step takes their mean (fp32 only)."""
    from training.gan import discriminator_loss, generator_loss

    import torch
    z = torch.randn(x.shape[0], model.latent_dim, generator=generator, device=x.device) if z is None else z
    halves = [torch.arange(r, x.shape[0], 2) for r in (0, 1)]
    conds = [model._condition(y[h], len(h), x.device) if model.conditional else None for h in halves]
    fakes = [torch.sigmoid(model.decoder(z[h], c)) for h, c in zip(halves, conds)]
    d_losses = [discriminator_loss(disc(x[h], c), disc(f.detach(), c), hinge) for h, c, f in zip(halves, conds, fakes)]
    for p, *gs in zip(disc.parameters(), *(torch.autograd.grad(l, list(disc.parameters())) for l in d_losses)):
        p.grad = (gs[0] + gs[1]) / 2
    d_opt.step()
    g_losses = [generator_loss(disc(f, c), hinge) for f, c in zip(fakes, conds)]
    params = list(model.decoder.parameters())
    for p, *gs in zip(params, *(torch.autograd.grad(l, params) for l in g_losses)):
        p.grad = (gs[0] + gs[1]) / 2
    g_opt.step()
    return tuple(float(sum(v) / 2) for v in (d_losses, g_losses, (0, 0), (0, 0)))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--split-in-one-process"]:     # a child of train(split=True): the training CLI, patched
        import training.gan
        from training.__main__ import main as training_main
        training.gan.gan_step = split_gan_step
        return training_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", type=Path, default=MNIST)
    p.add_argument("--wordnet-dir", type=Path, default=WORDNET)
    p.add_argument("--train-limit", type=int, default=650, help="MNIST training images")
    p.add_argument("--text-limit", type=int, default=2000, help="WordNet training definitions")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--only", nargs="*", help="vae, cgan, text-cvae")
    args = p.parse_args(argv)
    todo = {k: v for k, v in models(args).items() if not args.only or k in args.only}
    if "text-cvae" in todo and not (args.wordnet_dir / "data.noun").is_file():
        print(f"text-cvae left out: no WordNet in {args.wordnet_dir} (apt-get install -y wordnet-base)")
        todo.pop("text-cvae")
    print(f"{args.epochs} epochs each, 1 process of batch 128 against 2 processes of 64, one thread a process")
    with tempfile.TemporaryDirectory() as tmp:
        for name, a in todo.items():
            a = [*a, "--epochs", str(args.epochs), "--seed", "0"]
            one, two, half = (Path(tmp) / f"{name}-{x}" for x in ("one", "two", "half"))
            train(a, one, 1)
            train(a, two, 2)
            train([*a, "--batch-size", "64"], half, 1)
            diff, where, size = largest(weights(one), weights(two))
            ref, _, _ = largest(weights(one), weights(half))
            f1, f2 = last_figures(one), last_figures(two)
            figs = max(abs(f1[k] - f2[k]) / max(abs(f1[k]), 1e-9) for k in f1)
            print(f"  {name:10s} weights: largest difference {diff:.2e} (in {where}; largest weight {size:.2f}); "
                  f"1 process of batch 64 instead: {ref:.2e}.  Last epoch's figures: largest relative difference "
                  f"{figs:.1e}")
            if name == "cgan":
                split = Path(tmp) / "cgan-split"
                train(a, split, 1, split=True)
                print(f"  {'':10s} the same split in one process: {largest(weights(one), weights(split))[0]:.2e} "
                      f"from the one-process run, {largest(weights(two), weights(split))[0]:.2e} from the two "
                      "processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
