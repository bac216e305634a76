"""Write a synthetic colour image folder: coloured shapes of a few classes, for training a colour model.

    python scripts/make_shapes.py --out data/shapes32 --size 32 --per-class 1000 --classes 5
    python -m training train --dataset folder --data-dir data/shapes32 --channels 3 --image-size 32 --out runs/shapes

The folder has torchvision's ImageFolder layout, one sub-folder per class (circle, square, triangle, cross, star,
diamond), each holding PNGs of that shape on a black background. Each image's colour (a saturated hue), size,
position and rotation are drawn from a seeded generator, so the same arguments always write the same pixels.
Shapes are drawn with PIL's ImageDraw at four times the size and downscaled (LANCZOS), so their edges are smooth.
The folder is written under a temporary name and renamed when complete: a stopped run leaves nothing half-written.
"""
from __future__ import annotations

import argparse
import colorsys
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "square", "triangle", "cross", "star", "diamond")
SIZES = (28, 32, 64)
SUPERSAMPLE = 4


def _polygon(cx: float, cy: float, radius: float, angle: float, radii: list[float]) -> list[tuple[float, float]]:
    """Vertices at evenly spaced angles from `angle`, at radius * radii[i] from (cx, cy)."""
    n = len(radii)
    return [(cx + radius * r * math.cos(angle + 2 * math.pi * i / n), cy + radius * r * math.sin(angle + 2 * math.pi * i / n))
            for i, r in enumerate(radii)]


def draw_shape(shape: str, size: int, rng: np.random.Generator) -> Image.Image:
    """One RGB image (size x size) of `shape` with a random hue, radius (18-40% of the side), centre and rotation."""
    big = size * SUPERSAMPLE
    hue, sat, val = rng.uniform(0, 1), rng.uniform(0.6, 1.0), rng.uniform(0.7, 1.0)
    colour = tuple(int(round(255 * c)) for c in colorsys.hsv_to_rgb(hue, sat, val))
    radius = rng.uniform(0.18, 0.40) * big
    cx, cy = rng.uniform(radius, big - radius, size=2)     # the whole shape stays inside the image
    angle = rng.uniform(0, 2 * math.pi)
    img = Image.new("RGB", (big, big))
    d = ImageDraw.Draw(img)
    if shape == "circle":
        d.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill=colour)
    elif shape == "square":
        d.polygon(_polygon(cx, cy, radius, angle, [1.0] * 4), fill=colour)
    elif shape == "triangle":
        d.polygon(_polygon(cx, cy, radius, angle, [1.0] * 3), fill=colour)
    elif shape == "diamond":
        d.polygon(_polygon(cx, cy, radius, angle, [1.0, 0.55, 1.0, 0.55]), fill=colour)
    elif shape == "star":
        d.polygon(_polygon(cx, cy, radius, angle, [1.0, 0.42] * 5), fill=colour)
    elif shape == "cross":
        width = radius * 0.38
        for a in (angle, angle + math.pi / 2):
            dx, dy = math.cos(a) * radius, math.sin(a) * radius
            d.line([(cx - dx, cy - dy), (cx + dx, cy + dy)], fill=colour, width=int(round(width)))
    else:
        raise ValueError(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}.")
    return img.resize((size, size), Image.Resampling.LANCZOS)


def make_shapes(out: str | Path, *, size: int = 32, per_class: int = 200, classes: int = 5, seed: int = 0) -> Path:
    """Write `classes` sub-folders of `per_class` PNGs each (size x size RGB) under `out`, which must not exist yet
    or be empty. Returns `out`. ValueError for a size, count or folder that cannot work (nothing is written)."""
    out = Path(out)
    if size not in SIZES:
        raise ValueError(f"size={size} is not one the models take; use one of {', '.join(map(str, SIZES))}.")
    if not 2 <= classes <= len(SHAPES):
        raise ValueError(f"classes={classes}: use 2 to {len(SHAPES)} (the shapes are {', '.join(SHAPES)}).")
    if per_class < 1:
        raise ValueError(f"per_class={per_class} must be at least 1.")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out} already exists and is not an empty folder; choose a new --out or remove it.")
    rng = np.random.default_rng(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for shape in SHAPES[:classes]:
            (tmp / shape).mkdir()
            for i in range(per_class):
                draw_shape(shape, size, rng).save(tmp / shape / f"{i:05d}.png")
        if out.exists():
            out.rmdir()                                         # empty, checked above
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="the folder to write (must not exist, or be empty)")
    p.add_argument("--size", type=int, default=32, help=f"image side in pixels: {'|'.join(map(str, SIZES))}")
    p.add_argument("--per-class", type=int, default=200, help="images per class")
    p.add_argument("--classes", type=int, default=5, help=f"how many of {', '.join(SHAPES)} (in that order)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    try:
        out = make_shapes(args.out, size=args.size, per_class=args.per_class, classes=args.classes, seed=args.seed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.classes} x {args.per_class} {args.size}x{args.size} images to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
