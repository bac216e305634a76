"""Small helpers shared by the explorer's test files (plain functions, no fixtures): reading the images the app
makes, drawing a test digit, and finding a page event's handler."""
from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

HUGE = "x" * 100_000  # a value anyone can send; messages must not echo it whole
Z32 = [0.0] * 32      # what the page sends for the sliders: all MAX_SLIDERS of them
FAKE_LATENT_DIM = 4   # the latent size of conftest's `registry` (fake-ae, fake-vae, fake-cvae)


def decode_uri(uri: str) -> np.ndarray:
    """The pixels of a `data:image/png;base64,...` URI."""
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


def read_png(path) -> np.ndarray:
    """A PNG file the app wrote (an API output), as grayscale pixels."""
    return np.asarray(Image.open(path).convert("L"))


def digit(size=(200, 260), dark_on_light=True, stroke=22) -> Image.Image:
    """A hand-drawn-like "7" (grayscale PIL image), ink dark on light or light on dark."""
    bg, ink = (240, 15) if dark_on_light else (10, 250)
    im = Image.new("L", size, bg)
    d = ImageDraw.Draw(im)
    w, h = size
    d.line([(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.45 * w, 0.85 * h)], fill=ink, width=stroke)
    return im


def png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries no pixel data: what a decompression bomb's header
    looks like to a reader that checks sizes before decoding."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def event(demo, name):
    """The function behind the page event whose handler is called `name` (e.g. "on_interpolate")."""
    fns = [fn.fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == name]
    assert fns, f"no event handler named {name}"
    return fns[0]


def assets_with_history(root, latent_dim: int = 4, n_points: int = 120):
    """explorer.testing.make_assets, plus a 5-epoch history.json in each folder (an AE's with no KL) and a known
    kl_per_dim in fake-vae's metrics.json ([1.5, 0.001, 2.0, 0.0]: two dimensions in use)."""
    import json

    from explorer.testing import make_assets

    root = make_assets(root, latent_dim=latent_dim, n_points=n_points)
    history = {"epochs": [{"epoch": e, "train_loss": 200 - 10 * e, "train_recon": 190 - 12 * e,
                           "train_kl": 10 + 2 * e, "test_recon": 195 - 11 * e, "test_kl": 9 + 2 * e, "beta": 1.0}
                          for e in range(1, 6)]}
    for kind in ("ae", "vae", "cvae"):
        h = json.loads(json.dumps(history))
        if kind == "ae":
            for r in h["epochs"]:
                r["train_kl"] = r["test_kl"] = 0.0
        (root / f"fake-{kind}" / "history.json").write_text(json.dumps(h))
    m = json.loads((root / "fake-vae" / "metrics.json").read_text())
    m["kl_per_dim"] = [1.5, 0.001, 2.0, 0.0]
    (root / "fake-vae" / "metrics.json").write_text(json.dumps(m))
    return root


def api_refuses(client, endpoint: str, kwargs: dict, words: str) -> None:
    """A named endpoint answers bad input with a message holding `words` (no traceback), and the app serves on."""
    import pytest

    with pytest.raises(Exception) as e:
        client.predict(**kwargs, api_name=endpoint)
    assert words in str(e.value) and "Traceback" not in str(e.value)
    assert client.predict(api_name="/list_models")  # still serving


def event_refuses(demo, name: str, args: tuple, words: str) -> None:
    """A page event called with junk raises a short gr.Error holding `words`, never "something went wrong"."""
    import gradio as gr
    import pytest

    with pytest.raises(gr.Error) as e:
        event(demo, name)(*args)
    assert words in e.value.message and "went wrong" not in e.value.message and len(e.value.message) < 400
