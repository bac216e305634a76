"""How fast, and how well, GAN inversion (training/inversion.py) finds the codes of test images on this CPU.

    python benchmarks/inversion_speed.py --gan assets/mnist-gan --data-dir /work/shared/data/mnist
    python benchmarks/inversion_speed.py --gan runs/my-gan --split-images 2000       # a quicker look at the split

Prints, for one thread (what the explorer uses: torch.set_num_threads(1)) and for two:
  request   one test image at a time, at invert()'s defaults (what the explorer does with a picture someone sent):
            the first call in the process (it decodes the model's start pool and warms autograd up), then the
            median and 90th percentile of --requests more images, wall milliseconds, and their mean BCE
  split     the first --split-images test images at SPLIT_SETTINGS (what `evaluate --map` stores on the latent map),
            wall and CPU seconds, images per second and the time the whole test split would take at that rate, and
            the mean BCE reached
  precision the mean BCE of the first --precision-images images searched in float32 and in bfloat16 (one thread)
and, as a reference on the same images, the reconstruction BCE of a VAE (--vae, default assets/mnist-vae): its
decoder on its encoder's posterior means. BCE is the Bernoulli reconstruction error in nats per image (lower is
better). The load average is printed before and after: other processes on the machine slow every figure down.
A script that prints figures, not a pass/fail test; targets: a request within 500 ms on one thread, the 10,000-image
split within about 3 minutes on two cores.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from training import load_dataset, load_model  # noqa: E402
from training.inversion import SPLIT_SETTINGS, invert  # noqa: E402
from training.losses import bce_per_image  # noqa: E402


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def request_times(model, x: torch.Tensor, y: torch.Tensor | None, n: int) -> dict:
    """Invert x[0], then x[1..n] one image per call, at invert()'s defaults: wall ms of each and the mean BCE."""
    label = (lambda i: None) if y is None else (lambda i: y[i:i + 1])
    t = time.perf_counter()
    first = invert(model, x[:1], label(0))
    first_ms = (time.perf_counter() - t) * 1e3
    times, bces = [], [float(first.bce[0])]
    for i in range(1, n + 1):
        t = time.perf_counter()
        res = invert(model, x[i:i + 1], label(i))
        times.append((time.perf_counter() - t) * 1e3)
        bces.append(float(res.bce[0]))
    times.sort()
    return {"first_ms": first_ms, "median_ms": statistics.median(times),
            "p90_ms": times[min(len(times) - 1, int(0.9 * len(times)))], "max_ms": times[-1],
            "mean_bce": statistics.fmean(bces), "images": n + 1}


def split_time(model, x: torch.Tensor, y: torch.Tensor | None, total: int) -> dict:
    """Invert x at SPLIT_SETTINGS (after a small warm-up that decodes the pool): wall and CPU seconds, mean BCE."""
    invert(model, x[:2], None if y is None else y[:2], **{**SPLIT_SETTINGS, "steps": 1})
    t, c = time.perf_counter(), time.process_time()
    res = invert(model, x, y, **SPLIT_SETTINGS)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    return {"images": len(x), "wall_s": wall, "cpu_s": cpu, "images_per_s": len(x) / wall,
            "whole_split_s": total * wall / len(x), "mean_bce": float(res.bce.double().mean()),
            "median_bce": float(res.bce.median()), "mean_z_norm": float(res.z.norm(dim=1).mean())}


@torch.inference_mode()
def vae_reference(folder: str, x: torch.Tensor, y: torch.Tensor) -> float | None:
    """Mean BCE of a VAE's reconstructions (its decoder on its posterior means) of x, nats per image."""
    if not (Path(folder) / "config.json").is_file():
        return None
    vae = load_model(folder)
    labels = y if vae.conditional else None
    total = 0.0
    for i in range(0, len(x), 1000):
        xb = x[i:i + 1000]
        yb = None if labels is None else labels[i:i + 1000]
        total += float(bce_per_image(vae.decode_logits(vae.encode(xb, yb).mu, yb), xb).double().sum())
    return total / len(x)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gan", default=str(REPO / "assets" / "mnist-gan"), help="GAN model folder (default %(default)s)")
    p.add_argument("--vae", default=str(REPO / "assets" / "mnist-vae"),
                   help="VAE folder of the same dataset, the reference (default %(default)s; '' to skip)")
    p.add_argument("--dataset", help="default: the GAN's config.json")
    p.add_argument("--data-dir", help="default: the GAN's config.json")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch threads to measure (default 1 2)")
    p.add_argument("--requests", type=int, default=30, help="single-image inversions timed per thread count")
    p.add_argument("--split-images", type=int, default=10_000, help="test images inverted at SPLIT_SETTINGS")
    p.add_argument("--split-threads", type=int, nargs="+", default=[2],
                   help="thread counts for the split (default 2: the build's)")
    p.add_argument("--precision-images", type=int, default=256,
                   help="images inverted in fp32 and in bf16, to compare the errors they reach (0 to skip)")
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)

    from training import read_config
    cfg = read_config(args.gan)
    t = cfg.get("train", {})
    data = load_dataset(args.dataset or t.get("dataset", "mnist"), args.data_dir or t.get("data_dir"))
    model = load_model(args.gan)
    n = min(args.split_images, len(data.test))
    x = data.test.float_images()[:n]
    y = data.test.labels[:n] if model.conditional else None
    print(f"{args.gan}: {model.kind}, latent {model.latent_dim}; {len(data.test)} test images; load average {_load()}")
    print(f"request settings: invert() defaults; split settings: {json.dumps(SPLIT_SETTINGS)}")
    out = {"gan": args.gan, "split_settings": SPLIT_SETTINGS, "load_before": _load(), "request": {}, "split": {}}
    for threads in args.threads:
        torch.set_num_threads(threads)
        fresh = load_model(args.gan)       # a new model object: its first call decodes its pool, as in the app
        r = request_times(fresh, x, None if y is None else y, min(args.requests, n - 1))
        out["request"][threads] = r
        print(f"request, {threads} thread(s): first call {r['first_ms']:.0f} ms, then median {r['median_ms']:.0f} ms, "
              f"p90 {r['p90_ms']:.0f} ms, max {r['max_ms']:.0f} ms over {r['images'] - 1} images; "
              f"mean BCE {r['mean_bce']:.2f}", flush=True)
    for threads in args.split_threads:
        torch.set_num_threads(threads)
        s = split_time(model, x, y, len(data.test))
        out["split"][threads] = s
        print(f"split, {threads} thread(s): {s['images']} images in {s['wall_s']:.1f} s wall ({s['cpu_s']:.1f} s CPU), "
              f"{s['images_per_s']:.1f} images/s -> {s['whole_split_s']:.0f} s for all {len(data.test)}; "
              f"mean BCE {s['mean_bce']:.2f} (median {s['median_bce']:.2f}), mean |z| {s['mean_z_norm']:.2f}",
              flush=True)
    if args.precision_images:
        torch.set_num_threads(1)
        m = min(args.precision_images, n)
        check = {}
        for precision in ("fp32", "bf16"):
            t0 = time.process_time()
            res = invert(model, x[:m], None if y is None else y[:m], **{**SPLIT_SETTINGS, "precision": precision})
            check[precision] = {"mean_bce": float(res.bce.double().mean()), "cpu_s": time.process_time() - t0}
        out["precision_check"] = check
        print(f"precision, {m} images at SPLIT_SETTINGS on one thread: fp32 mean BCE {check['fp32']['mean_bce']:.2f} "
              f"({check['fp32']['cpu_s']:.1f} s CPU), bf16 search {check['bf16']['mean_bce']:.2f} "
              f"({check['bf16']['cpu_s']:.1f} s CPU)", flush=True)
    if args.vae:
        ref = vae_reference(args.vae, x, data.test.labels[:n])
        out["vae_reference_bce"] = ref
        print(f"reference: {args.vae} reconstructs the same {n} images at "
              + ("(not found)" if ref is None else f"{ref:.2f} nats mean BCE (decoder on the posterior means)"))
    out["load_after"] = _load()
    print(f"load average after: {out['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
