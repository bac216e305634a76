"""Fuzz every endpoint and UI event of the running app with hostile inputs and count what happens.

    python benchmarks/fuzz.py                   # every generated case once (4,950 on the six shipped models)
    python benchmarks/fuzz.py --cases 600       # a seeded subset (or, above the generated count, repeats on top)
    python benchmarks/fuzz.py --fake --cases 60 # tiny synthetic models (tests/test_hostile_inputs.py runs this)
    python benchmarks/fuzz.py --fake --models fake-gan,fake-cgan   # only the GANs' cases

The models are those /list_models names (--models: a comma-separated subset); every per-model case runs on each of
them, so a GAN (no encoder: /reconstruct, /encode_image and the drawing tab find codes by inversion; no
generate_dataset without classes) gets every case a VAE gets. The synthetic set (--fake) has fake-ae, fake-vae,
fake-cvae, fake-gan, fake-cgan and the text models fake-text-vae and fake-text-cvae (their hostile text: /encode_text,
the text tab, /generate_text_dataset).

What is covered comes from the app itself: the list of events is read from the page's /config (its
"dependencies"), and the run prints one line per dependency (named endpoint or UI event) with its case counts. A
full run fails if any dependency that runs a function got no hand-written case, so a new tab's events cannot be
missed silently (tests/test_hostile_inputs.py checks the same without a server). Every dependency also gets generic
cases derived from its inputs in /config (the page's default values with too few or too many of them, all nulls, or
one input replaced by a wrong-typed value for its component type).

Hand-written cases per endpoint and event:
* the named API (/decode, /reconstruct, /list_models, /interpolate, /traverse, /neighbours, /move_towards,
  /encode_image, /compare_models, /training_history, /export_map_csv, /generate_dataset) through gradio_client
  and as raw JSON (NaN, Infinity and integers beyond 1e308 that gradio_client cannot send);
* every UI event by fn_index, exactly as the page sends it (gradio_client refuses these private events, a browser
  and any script do not), with its event data where it has some (map clicks);
* the map's server function get_figure and the sketchpad's accept_blobs (the strokes a browser sends ahead of
  the "Encode drawing" event, multipart);
* images (1x1, 10,000x10,000, a header claiming 100,000x100,000, RGBA, 16-bit, palette, CMYK, 1-bit, float TIFF,
  an animated GIF, truncated, empty, a text file, an SVG and a Python file renamed .png; flat ones and ones with a
  drawn digit) uploaded through gradio's /gradio_api/upload and sent to the image inputs (/encode_image, also
  through gradio_client's handle_file; the upload event; the sketchpad event as files and as blobs), and in place of
  other values; plus references to files never uploaded (/etc/passwd, the repo's app.py, a NUL byte in the path).

Each case ends as one of:
    clear-error   a message for a person (the app's gr.Error, or gradio refusing a value with a message / a 4xx)
    clamped-ok    the call succeeded with a sane value
    refused-empty a malformed request refused by gradio before the app runs, with an empty message (the app
                  launches with show_error=False): fewer inputs than the endpoint has, or a file reference to a
                  file that was never uploaded (/etc/passwd, the repo's app.py, a path that is not text or holds
                  a NUL byte); only these cases may end so
    server-error  any other error with no message (or a bare "Internal Server Error"), or the app's "Something went
                  wrong" catch-all (a bug)
    crash         no answer / the server died
A response that shows a traceback or a server file path is counted as a leak. Exit status 1 on any crash, leak
or server-error, if the server is no longer answering at the end, or (full runs) if a dependency got no case.
"""
from __future__ import annotations

import argparse
import io
import json
import random
import struct
import sys
import tempfile
import time
import uuid
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

from explorer.testing.apphost import REPO, AppServer, EventCaller, alive, component_id, rss_mb

LEAK_MARKERS = ["Traceback", 'File "/', str(REPO), "site-packages", ".py\", line", "root:x:0:0"]
GENERIC = "Something went wrong"
OUTCOMES = ["clear-error", "clamped-ok", "refused-empty", "server-error", "crash"]
N_SLIDERS = 32
BIG_INT = 10 ** 400  # a JSON integer beyond float range (Python's json reads it as an int)


# ---------------------------------------------------------------------------------------------------------------
# Hostile values

def long_string(n=100_000):
    return "x" * n


def bad_names(rng=None):
    return ["", "no-such-model", long_string(), "../../etc/passwd", "/etc/passwd", "mnist-vae\x00", " ",
            "<script>alert(1)</script>", 123, None, [], {"a": 1}, "MNIST-VAE", "fake-vae/../fake-ae"]


def bad_numbers():
    # as JSON can carry them (gradio_client would refuse NaN; the raw sender keeps them)
    return [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 1e5, -1e5, 2 ** 63, -2 ** 63, 2 ** 100, 3.5,
            -1, -2 ** 31, 0, "5", "abc", "", None, True, [], {}, [1, 2], long_string(10_000), BIG_INT, -BIG_INT]


def bad_z(rng, d):
    ok = [round(rng.uniform(-3, 3), 2) for _ in range(d)]
    return [
        [float("nan")] + ok[1:], [float("inf")] + ok[1:], [1e308] * d, [-1e308] * d, [1e5] * d,
        ok[:-1], ok + [0.0], [], [0.0] * 1000, [0.0] * 100_000, ok * 2,
        "0, 0", "", long_string(), None, 5, True, {"z": ok}, [[0.0] * d], [ok, ok],
        ["a"] * d, [None] * d, [True] * d, [{}] * d, [[0.0]] * d, ["nan"] * d, ["1e308"] * d, [1e-320] * d,
        [BIG_INT] + ok[1:],
    ]


def digit(size=28, ink=255, bg=0, mode="L", width=None) -> Image.Image:
    """A hand-drawn-looking "7": one stroke of `ink` on `bg`."""
    im = Image.new(mode, (size, size), bg)
    s = size / 28
    ImageDraw.Draw(im).line([(6 * s, 6 * s), (21 * s, 6 * s), (11 * s, 23 * s)], fill=ink,
                            width=width or max(1, round(3 * s)))
    return im


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def image_files(tmp: Path) -> dict[str, Path]:
    """The image files every image input is tried with, written once."""
    out = {}

    def save(name, img, **kw):
        p = tmp / name
        img.save(p, **kw)
        out[name] = p

    def write(name, data: bytes):
        (tmp / name).write_bytes(data)
        out[name] = tmp / name

    save("1x1.png", Image.new("L", (1, 1), 128))
    # 10,000 x 10,000: 100 MP (above PIL's decompression-bomb warning); flat, so the file itself is small
    save("10000x10000.png", Image.new("L", (10_000, 10_000), 0), optimize=False, compress_level=9)
    # a header that claims 100,000 x 100,000 with one row of data (a decompression bomb)
    write("header-100000x100000.png", b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000,
          100_000, 8, 0, 0, 0, 0)) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100_001)) + _png_chunk(b"IEND", b""))
    save("4096x4096-digit.png", digit(4096), optimize=False, compress_level=9)  # at the size limit
    save("digit.png", digit())
    save("digit-dark-on-light.jpg", digit(56, ink=0, bg=255), quality=90)
    save("rgba.png", Image.new("RGBA", (28, 28), (255, 0, 0, 128)))
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste(digit(64, ink=255, bg=0).convert("RGBA"), mask=digit(64))
    save("rgba-digit.png", rgba)
    save("16bit.png", Image.fromarray(np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 60))
    save("16bit-digit.png", Image.fromarray((np.asarray(digit()).astype(np.uint16) * 257)))
    save("palette.png", Image.new("P", (28, 28), 3))
    save("palette-digit.png", digit(40).convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=4))
    save("cmyk.jpg", Image.new("CMYK", (28, 28), (0, 255, 0, 0)))
    save("cmyk-digit.jpg", digit(40, ink=0, bg=255).convert("RGB").convert("CMYK"))
    save("1bit-digit.png", digit(28).convert("1"))
    save("float-digit.tif", Image.fromarray(np.asarray(digit(), np.float32) / 255.0))
    frames = [digit(28), digit(28, ink=128)]
    frames[0].save(tmp / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    out["animated.gif"] = tmp / "animated.gif"
    full = io.BytesIO()
    digit().save(full, format="PNG")
    write("truncated.png", full.getvalue()[: len(full.getvalue()) // 2])
    write("empty.png", b"")
    write("not-an-image.png", b"this is a text file, not a PNG\n" * 10)
    write("svg.png", b'<svg xmlns="http://www.w3.org/2000/svg" width="28" height="28"><path d="M6 6H21L11 23"/></svg>')
    write("python.png", b"import os\nos.system('echo hi')\n")
    return out


class FileArg(str):
    """A local file that a gradio_client case sends with handle_file (gradio_client uploads it itself)."""


# ---------------------------------------------------------------------------------------------------------------
# Outcomes

def classify(res: dict, kind: str = "") -> str:
    if res.get("crash"):
        return "crash"
    if res["ok"]:
        return "clamped-ok"
    err = res.get("error")
    status = res.get("status")
    if isinstance(status, int) and 400 <= status < 500:
        return "clear-error"
    if not err or GENERIC in err or err.strip() in ("Error", "None", "Internal Server Error"):
        return "refused-empty" if kind.startswith("malformed-") and not err else "server-error"
    return "clear-error"


def leaked(res: dict, case=None) -> str | None:
    text = (res.get("error") or "") + "\n" + (res.get("body") or "")
    sent = repr(case)
    # file outputs legitimately carry gradio's cache path (/tmp/gradio/...); look only for our own paths, and not
    # for a path the request itself carried (a message may quote the value it refuses)
    for m in LEAK_MARKERS:
        if m in text and m not in sent:
            return m
    return None


# ---------------------------------------------------------------------------------------------------------------
# The app's dependencies, from /config

def dep_key(dep: dict) -> str:
    """The row a dependency is counted under: "/name" for a named (public) endpoint, its api_name for an event."""
    name = dep.get("api_name") or f"fn_{dep['id']}"
    return "/" + name if dep.get("api_visibility", "public") == "public" else name


def describe_deps(config: dict) -> dict[str, str]:
    """{dep_key: what triggers it}, e.g. "on_slide": "z-0.input (+31 more)"."""
    comps = {c["id"]: c for c in config["components"]}
    names = {d["id"]: dep_key(d) for d in config["dependencies"]}

    def comp(i):
        if i is None or i not in comps:
            return "page"
        c = comps.get(i, {})
        p = c.get("props", {})
        return p.get("elem_id") or p.get("label") or f"{c.get('type', '?')}#{i}"

    out = {}
    for d in config["dependencies"]:
        if d.get("trigger_after") is not None:
            what = ["after " + names.get(d["trigger_after"], "?") + (" succeeds" if d.get("trigger_only_on_success")
                                                                       else "")]
        else:
            what = [f"{comp(t[0])}.{t[1]}" for t in d["targets"]]
        if dep_key(d).startswith("/"):
            what = ["named API"]
        out[dep_key(d)] = ", ".join(what[:3]) + (f" (+{len(what) - 3} more)" if len(what) > 3 else "")
    return out


def runnable_deps(config: dict) -> list[dict]:
    return [d for d in config["dependencies"] if d.get("backend_fn")]


JUNK_BY_TYPE = {
    "number": [float("nan"), "abc", BIG_INT, -1e308, [1], {"a": 1}],
    "slider": [float("inf"), "abc", BIG_INT, None, [0.5], {}],
    "textbox": [long_string(), 5, {"a": 1}, ["x"], None],
    "dropdown": [long_string(), 5, {"a": 1}, ["x"], 1e308],
    "radio": [long_string(), 5, {"a": 1}, ["x"], -1],
    "checkbox": ["yes", 2, {"a": 1}, None],
    "json": ["x", [[1]], {"z": None}, 1e308, long_string()],
    "image": ["abc", 5, {"path": 5}, [1, 2], {"a": 1}, {"path": "x.png"}],
    "imageeditor": ["abc", 5, {"background": 5}, [1, 2], {"layers": "x"}, {"id": 5}],
}


def generic_cases(config: dict, rng: random.Random, per_dep: int = 10) -> list:
    """Cases derived from /config alone, for every dependency: its inputs at the page's default values, with too
    few or too many values, all nulls, or one input replaced by a wrong-typed value for its component type."""
    comps = {c["id"]: c for c in config["components"]}
    cases = []
    for d in runnable_deps(config):
        key, name = dep_key(d), d.get("api_name")
        types = [comps.get(i, {}).get("type", "") for i in d["inputs"]]
        default = [comps.get(i, {}).get("props", {}).get("value") for i in d["inputs"]]
        variants = [("generic", [None] * len(default)), ("generic", default + [0, "extra"])]
        if default:
            variants.append(("malformed-generic", default[:-1]))  # fewer inputs than the event has
        picks = [i for i in range(len(default)) if types[i] in JUNK_BY_TYPE]
        rng.shuffle(picks)
        for i in picks:
            junk = rng.choice(JUNK_BY_TYPE[types[i]])
            variants.append(("generic", default[:i] + [junk] + default[i + 1:]))
            if len(variants) >= per_dep:
                break
        for kind, data in variants:
            if key.startswith("/"):
                cases.append((key, kind + "-raw", (name, data)))
            else:
                cases.append((key, kind + "-event", (name, data, None)))
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Hand-written cases: (row, kind, args)

def make_cases(n: int, seed: int, models: list[dict], uploads: dict[str, dict], files: dict[str, Path] | None = None,
               config: dict | None = None):
    """A seeded, shuffled list of (row, kind, args); run_case executes them. models: /list_models entries; uploads:
    {image case name: file reference from /gradio_api/upload}, "ref:..." names for files never uploaded; files:
    {image case name: local path} for gradio_client's own uploads; config: the app's /config (generic cases)."""
    rng = random.Random(seed)
    names = [m["name"] for m in models]
    dims = {m["name"]: m["latent_dim"] for m in models}
    ncls = {m["name"]: m["num_classes"] for m in models}
    nmap = {m["name"]: len(m.get("class_names") or []) or 10 for m in models}  # classes of the latent map
    cvaes = [m["name"] for m in models if m["num_classes"]] or names[:1]
    uncond = [m["name"] for m in models if not m["num_classes"]] or names[:1]
    datasets = sorted({str(m.get("dataset") or "").strip().lower().replace("_", "-") for m in models} - {""})
    files = files or {}
    cases = []

    def model():
        return rng.choice(names)

    def label_for(name):
        return rng.randrange(ncls[name]) if ncls[name] else -1

    def z_ok(name):
        return [round(rng.uniform(-3, 3), 2) for _ in range(dims[name])]

    def slider_vals(name, bad=None, pos=None):
        v = [0.0] * N_SLIDERS
        for i in range(dims[name]):
            v[i] = round(rng.uniform(-3, 3), 2)
        if bad is not None:
            v[pos if pos is not None else rng.randrange(N_SLIDERS)] = bad
        return v

    def ev(row, api, data, event_data=None, kind="event"):
        cases.append((row, kind, (api, data, event_data)))

    def raw(api, data, kind="raw"):
        cases.append(("/" + api, kind, (api, data)))

    def client(api, **kwargs):
        cases.append(("/" + api, "client", (api, kwargs)))

    proj_bad = ["umap", "UMAP", "t-SNE", "", None, 5, long_string(), "PCA", ["pca"], "../pca"]
    idx_bad = bad_numbers() + [10_000, 9_999, 10 ** 18, -10_000, [5], [], {"i": 1}]

    # ---- the original endpoints -----------------------------------------------------------------------------
    # /decode through gradio_client (JSON-safe values) and raw JSON (NaN, Infinity, 1e999)
    for name in names:
        d = dims[name]
        for z in bad_z(rng, d):
            raw("decode", [name, z, label_for(name)])
        for lab in bad_numbers():
            raw("decode", [name, [0.0] * d, lab])
    for bad in bad_names():
        client("decode", model=bad, z=[0.0] * 4, label=-1)
    for name in names:
        client("decode", model=name, z=[0.5] * dims[name], label=label_for(name))
        client("decode", model=name, z=[1e6] * dims[name], label=label_for(name))
        client("decode", model=name, z=[0.0] * (dims[name] + 3), label=-1)
    for body in ['{"data": ["%s"]}', '{"data": []}']:  # fewer inputs than the endpoint has
        for name in names[:2]:
            cases.append(("/decode", "malformed-rawbody", ("/gradio_api/call/decode", body.replace("%s", name))))
    for body in ['{"data": ["%s", [NaN, 0, 0, 0], -1]}', '{"data": ["%s", [1e999, 0], -1]}',
                 '{"data": ["%s", [-Infinity], -1]}', '{"data": "%s"}',
                 '{"data": ["%s", [0, 0], -1, 5, 6]}', '{"nope": 1}', 'not json', '{"data": ["%s", ' + '[' * 5000
                 + ']' * 5000 + ', -1]}', '', '{"data": ["%s", [0, 0], ' + "9" * 5000 + ']}']:
        for name in names[:2]:
            cases.append(("/decode", "rawbody", ("/gradio_api/call/decode", body.replace("%s", name))))

    # /reconstruct
    for name in names:
        for idx in idx_bad[:-3]:
            raw("reconstruct", [name, idx])
    for bad in bad_names():
        client("reconstruct", model=bad, index=0)

    # /list_models with junk arguments
    for junk in ['{"data": [1, 2, 3]}', '{"data": null}', '{"data": ["x"]}']:
        cases.append(("/list_models", "rawbody", ("/gradio_api/call/list_models", junk)))

    # the main view's events: model picker (page load and change), sliders, class picker, random, reset,
    # projection (UMAP included), map click
    for name in names:
        for bad in bad_numbers() + ["nan", "inf", "-1e308"]:
            ev("on_slide", "on_slide", [name, label_for(name), "pca", *slider_vals(name, bad)])
        for lab in bad_numbers():
            ev("on_slide_1", "on_slide_1", [name, lab, "tsne", *slider_vals(name)])
        for seed_v in bad_numbers():
            ev("on_random", "on_random", [name, label_for(name), "pca", seed_v])
        for p in proj_bad:
            ev("on_projection", "on_projection", [name, p, *slider_vals(name)])
            ev("on_reset", "on_reset", [name, label_for(name), p])
        for idx in idx_bad:
            ev("on_select", "on_select", [name, label_for(name), rng.choice(["pca", "umap"])],
               {"index": idx, "value": None})
        ev("on_select", "on_select", [name, label_for(name), "pca"], None)
        ev("on_select", "on_select", [name, label_for(name), "pca"], "junk")
        ev("on_slide", "on_slide", [name, label_for(name), "pca"], kind="malformed-event")  # too few
        ev("on_slide", "on_slide", [name, label_for(name), "pca", *slider_vals(name), 1, 2])  # too many
    for bad in bad_names():
        ev("on_model", "on_model", [bad, "pca"])
        ev("on_model_1", "on_model_1", [bad, "umap"])
        ev("on_slide", "on_slide", [bad, -1, "pca", *([0.0] * N_SLIDERS)])
        ev("on_random", "on_random", [bad, -1, "pca", 0])
        ev("on_reset", "on_reset", [bad, -1, "pca"])
        ev("on_select", "on_select", [bad, -1, "pca"], {"index": 1})
        ev("on_projection", "on_projection", [bad, "pca", *([0.0] * N_SLIDERS)])
    for name in names:
        for p in proj_bad:
            ev(rng.choice(["on_model", "on_model_1"]), None, [name, p])
    # the 2-D / 3-D switch (the fake maps have no 3-D arrays: the switch refuses)
    for name in names:
        for view in ["3", "2", 3, "4", "", None, "3-D", ["3"], long_string()]:
            ev("on_dims", "on_dims", [name, rng.choice(proj_bad), view, *slider_vals(name)])
        ev("on_dims", "on_dims", [name, "pca", "3", *slider_vals(name, float("nan"))])
    for bad in bad_names():
        ev("on_dims", "on_dims", [bad, "pca", "3", *([0.0] * N_SLIDERS)])

    # the map's server function
    for spec in [{"model": names[0], "projection": "pca", "dims": 3}, {"model": names[0], "projection": "tsne",
                                                                      "dims": "3"},
                 {"model": names[0], "projection": "pca", "dims": "x"}, {"model": names[0], "projection": "pca",
                                                                         "dims": [3]},
                 {"model": names[0], "projection": "pca"}, {"model": names[0], "projection": "umap"},
                 {"model": names[-1], "projection": "UMAP"}, {"model": "nope", "projection": "pca"}, {}, None,
                 "pca", [1, 2], 5, {"model": long_string()}, {"model": names[-1], "projection": None},
                 {"model": ["a"], "projection": {"x": 1}}, {"model": names[0], "projection": long_string()}]:
        cases.append(("get_figure", "server_fn", ("get_figure", spec)))
    for spec in [{"model": names[0], "indices": [0, 1, 2]}, {"model": names[0], "indices": list(range(2001))},
                 {"model": names[0], "indices": []}, {"model": names[0], "indices": [10 ** 9]},
                 {"model": names[-1], "indices": [BIG_INT]}, {"model": names[0], "indices": "0,1"},
                 {"model": names[0], "indices": [1.5, None]}, {"model": "nope", "indices": [0]}, {}, None, 5,
                 {"model": names[0], "indices": [float("nan")]}, {"model": long_string(), "indices": [0]}]:
        cases.append(("get_thumbs", "server_fn", ("get_thumbs", spec)))

    # ---- interpolation ------------------------------------------------------------------------------------
    steps_bad = bad_numbers() + [1, 33, 2, 32, 8.0, "8", 10 ** 9]
    modes = ["linear", "slerp", "SLERP", " linear ", "spherical", "", None, 5, long_string(), ["linear"]]
    class_modes = ["fixed", "sweep", "SWEEP", "", "random", None, 3, long_string(), {"a": 1}]
    for st in steps_bad:
        raw("interpolate", [model(), 0, 1, st, "linear", "fixed"])
    for idx in idx_bad:
        raw("interpolate", [model(), idx, 1, 8, "linear", "fixed"])
        raw("interpolate", [model(), 2, idx, 5, "slerp", "sweep"])
    for m_ in modes:
        raw("interpolate", [model(), 3, 4, 6, m_, "fixed"])
    for cm in class_modes:
        raw("interpolate", [rng.choice(cvaes), 3, 4, 6, "slerp", cm])
    for name in names:
        raw("interpolate", [name, 7, 7, 8, "linear", "fixed"])  # A and B the same
        raw("interpolate", [name, 0, 9, 32, "slerp", "sweep"])
        client("interpolate", model=name, index_a=1, index_b=2, steps=4, mode="slerp", class_mode="sweep")
    for bad in bad_names():
        client("interpolate", model=bad, index_a=0, index_b=1, steps=8, mode="linear", class_mode="fixed")
    raw("interpolate", [names[0], 0, 1], kind="malformed-raw")  # fewer inputs than the endpoint has

    def points(name):
        d = dims[name]
        return [None, {}, "", "junk", [1, 2], 5, {"foo": 1}, {"index": 3}, {"index": -1}, {"index": BIG_INT},
                {"index": "abc"}, {"index": [1]}, {"z": z_ok(name), "label": label_for(name)}, {"z": z_ok(name)},
                {"z": [float("nan")] * d}, {"z": [1e308] * d}, {"z": "0,0"}, {"z": [0.0] * (d + 1)},
                {"z": z_ok(name), "label": 99}, {"z": z_ok(name), "label": "x"}, {"index": None, "z": None},
                {"index": 10 ** 9}, {"z": [BIG_INT] * d}]

    interp_events = ["on_interpolate", "on_interpolate_auto", "on_interpolate_auto_1", "on_interpolate_auto_2"]
    for name in names:
        pts = points(name)
        for p in pts:
            api = rng.choice(interp_events)
            ev(api, api, [name, p, {"index": 1}, 8, "linear", "fixed"])
            api = rng.choice(interp_events)
            ev(api, api, [name, {"index": 2}, p, 5, "slerp", "sweep"])
        for st in rng.sample(steps_bad, 10):
            api = rng.choice(interp_events)
            ev(api, api, [name, {"index": 0}, {"index": 1}, st, "linear", "fixed"])
        same = {"z": z_ok(name), "label": label_for(name)}
        for api in interp_events:
            ev(api, api, [name, same, dict(same), 8, "linear", "fixed"])  # A and B the same point
            ev(api, api, [name, {"index": 4}, {"index": 4}, 8, "slerp", "sweep"])
            ev(api, api, [name, {"index": 1}, {"index": 6}, 8, rng.choice(modes), rng.choice(class_modes)])
            ev(api, api, [name, {"z": [0.0] * dims[name]}, {"z": z_ok(name)}, 8, "slerp", "fixed"])  # origin
    for bad in bad_names():
        api = rng.choice(interp_events)
        ev(api, api, [bad, {"index": 0}, {"index": 1}, 8, "linear", "fixed"])

    # Set A / Set B: [model, class, last clicked test image, *sliders]
    for name in names:
        for clicked in rng.sample(idx_bad, 12) + [None, 0, 5]:
            api = rng.choice(["on_set_a", "on_set_b"])
            ev(api, api, [name, label_for(name), clicked, *slider_vals(name)])
        for bad in rng.sample(bad_numbers(), 8):
            api = rng.choice(["on_set_a", "on_set_b"])
            ev(api, api, [name, label_for(name), None, *slider_vals(name, bad, rng.randrange(dims[name]))])
            api = rng.choice(["on_set_a", "on_set_b"])
            ev(api, api, [name, bad, None, *slider_vals(name)])
        ev("on_set_a", "on_set_a", [name, label_for(name), None], kind="malformed-event")
    for bad in rng.sample(bad_names(), 6):
        ev("on_set_b", "on_set_b", [bad, -1, None, *([0.0] * N_SLIDERS)])

    # map click in pick mode: [model, pick on map, next pick] + event data; then on_picked
    for name in names:
        for picking, nxt in [(True, "A"), (True, "B"), (False, "A"), ("yes", "A"), (None, None), (1, "C"),
                             (True, long_string()), (True, 5), ([True], "B")]:
            ev("on_map_click", "on_map_click", [name, picking, nxt], {"index": rng.randrange(40), "value": None})
        for idx in rng.sample(idx_bad, 10) + [None]:
            ev("on_map_click", "on_map_click", [name, True, "A"], {"index": idx} if idx is not None else "junk")
        for picking in [True, False, "true", None, 1]:
            ev("on_picked", "on_picked", [picking, name, {"index": 0}, {"index": 3}, 8, "linear", "fixed"])
        for p in rng.sample(points(name), 6):
            ev("on_picked", "on_picked", [True, name, p, {"index": 3}, 8, "slerp", "fixed"])
    for bad in rng.sample(bad_names(), 5):
        ev("on_map_click", "on_map_click", [bad, True, "A"], {"index": 1})

    # ---- traversal grid -----------------------------------------------------------------------------------
    for name in names:
        for z in rng.sample(bad_z(rng, dims[name]), 8):
            raw("traverse", [name, z, label_for(name)])
        for lab in rng.sample(bad_numbers(), 8) + [-1, 0, 9, 10, None]:
            raw("traverse", [name, z_ok(name), lab])
        client("traverse", model=name, z=z_ok(name), label=label_for(name))
        for bad in rng.sample(bad_numbers(), 5):
            ev("on_traverse", "on_traverse", [name, label_for(name), *slider_vals(name, bad, rng.randrange(
                dims[name]))])
        for lab in rng.sample(bad_numbers(), 4) + [None]:
            ev("on_traverse", "on_traverse", [name, lab, *slider_vals(name)])
        ev("on_traverse", "on_traverse", [name, label_for(name), *slider_vals(name)])
        ev("on_traverse", "on_traverse", [name], kind="malformed-event")
    for bad in bad_names():
        client("traverse", model=bad, z=[0.0] * 4, label=-1)
        ev("on_traverse", "on_traverse", [bad, -1, *([0.0] * N_SLIDERS)])

    # ---- nearest neighbours -------------------------------------------------------------------------------
    k_bad = bad_numbers() + [65, 64, 1, 8, "8", 10 ** 6, 10_000]
    for name in names:
        for k in rng.sample(k_bad, 12):
            raw("neighbours", [name, z_ok(name), k])
        for z in rng.sample(bad_z(rng, dims[name]), 6):
            raw("neighbours", [name, z, 8])
        client("neighbours", model=name, z=z_ok(name), k=rng.choice([1, 8, 64]))
        for bad in rng.sample(bad_numbers(), 6):
            ev("on_neighbours", "on_neighbours", [name, *slider_vals(name, bad, rng.randrange(dims[name]))])
        ev("on_neighbours", "on_neighbours", [name, *slider_vals(name)])
        for s in rng.sample(bad_numbers(), 8):
            ev("on_neighbours_random", "on_neighbours_random", [name, s])
        ev("on_neighbours_reset", "on_neighbours_reset", [name])
        ev("on_neighbours_reset", "on_neighbours_reset", [name, "extra", 1])
    for bad in bad_names():
        client("neighbours", model=bad, z=[0.0] * 4, k=8)
        ev("on_neighbours", "on_neighbours", [bad, *([0.0] * N_SLIDERS)])
        ev("on_neighbours_random", "on_neighbours_random", [bad, 0])
        ev("on_neighbours_reset", "on_neighbours_reset", [bad])

    # ---- attribute arithmetic -----------------------------------------------------------------------------
    cls_bad = bad_numbers() + [10, 11, 99, -10]
    strength_bad = [float("nan"), float("inf"), float("-inf"), 1e308, 3.0001, -3.5, 100, "1", "abc", None, True,
                    [1], BIG_INT, 0, 3, -3, 0.5]
    for name in names:
        c = nmap[name]
        for f in rng.sample(cls_bad, 8):
            raw("move_towards", [name, z_ok(name), f, rng.randrange(c), 1.0])
        for s in rng.sample(strength_bad, 8):
            raw("move_towards", [name, z_ok(name), 1, 7, s])
        raw("move_towards", [name, z_ok(name), 4, 4, 1.0])  # from = to
        raw("move_towards", [name, rng.choice(bad_z(rng, dims[name])), 1, 7, 1.0])
        client("move_towards", model=name, z=z_ok(name), from_class=3, to_class=8, strength=1.5)
        for f in rng.sample(cls_bad, 6):
            ev("on_arith_preview", "on_arith_preview", [name, f, 8, 1.0, *slider_vals(name)])
            ev("on_arith_apply", "on_arith_apply", [name, label_for(name), "pca", 3, f, 1.0, *slider_vals(name)])
        for s in rng.sample(strength_bad, 6):
            ev("on_arith_preview", "on_arith_preview", [name, 3, 8, s, *slider_vals(name)])
            ev("on_arith_apply", "on_arith_apply", [name, label_for(name), rng.choice(["pca", "umap", "x"]), 3, 8, s,
                                                    *slider_vals(name)])
        ev("on_arith_preview", "on_arith_preview", [name, 5, 5, 1.0, *slider_vals(name)])
        ev("on_arith_apply", "on_arith_apply", [name, label_for(name), "pca", 2, 2, 1.0, *slider_vals(name)])
        ev("on_arith_apply", "on_arith_apply", [name, label_for(name), "tsne", 1, 7, 2.0,
                                                *slider_vals(name, float("nan"), 0)])
    for bad in bad_names():
        client("move_towards", model=bad, z=[0.0] * 4, from_class=3, to_class=8, strength=1.0)
        ev("on_arith_preview", "on_arith_preview", [bad, 3, 8, 1.0, *([0.0] * N_SLIDERS)])
        ev("on_arith_apply", "on_arith_apply", [bad, -1, "pca", 3, 8, 1.0, *([0.0] * N_SLIDERS)])

    # ---- the tools' model change ----------------------------------------------------------------------------
    for bad in bad_names():
        ev("on_model_tools", "on_model_tools", [bad])
    for name in names:
        ev("on_model_tools", "on_model_tools", [name])
        ev("on_model_tools", "on_model_tools", [name, "extra"])
    ev("on_model_tools", "on_model_tools", [], kind="malformed-event")

    # ---- page load: the background torchvision import -------------------------------------------------------
    for data in ([], [1, 2], [None], [long_string()]):
        ev("_warm_torchvision", "_warm_torchvision", data)

    # ---- your drawing / upload: the image cases -------------------------------------------------------------
    for fname, ref in uploads.items():
        never = fname.startswith("ref:")  # a file never uploaded: gradio refuses it before the app runs
        r_kind, e_kind = ("malformed-raw", "malformed-event") if never else ("raw", "event")
        editor = {"background": None, "layers": [], "composite": ref}
        for name in (names if not never else rng.sample(names, 2)):
            raw("encode_image", [name, ref], kind=r_kind)
        for _ in range(2):
            name = model()
            ev("on_encode_image", "on_encode_image", [name, label_for(name), rng.choice(["pca", "umap"]), ref],
               kind=e_kind)
            ev("on_encode_drawing", "on_encode_drawing", [name, label_for(name), "pca", editor], kind=e_kind)
        name = model()
        ev("on_encode_drawing", "on_encode_drawing", [name, -1, "tsne", {"background": ref, "layers": [ref],
                                                                        "composite": None}], kind=e_kind)
        # the same files where values are expected
        name = model()
        raw("decode", [name, ref, -1], kind=r_kind)
        raw("reconstruct", [name, ref], kind=r_kind)
        raw("interpolate", [name, ref, 1, 8, "linear", "fixed"], kind=r_kind)
        raw("traverse", [ref, [0.0] * dims[name], -1], kind=r_kind)
        raw("neighbours", [name, ref, 8], kind=r_kind)
        raw("move_towards", [name, [0.0] * dims[name], ref, 2, 1.0], kind=r_kind)
        raw("compare_models", [ref, 0], kind=r_kind)
        raw("generate_dataset", [rng.choice(cvaes), ref, 0], kind=r_kind)
        raw("training_history", [ref], kind=r_kind)
        raw("export_map_csv", [ref], kind=r_kind)
        ev("on_slide", "on_slide", [name, -1, "pca", *slider_vals(name, ref)], kind=e_kind)
        ev("on_model", "on_model", [ref, "pca"], kind=e_kind)
        ev("on_select", "on_select", [name, -1, "pca"], {"index": ref}, kind=e_kind)
        ev("on_set_a", "on_set_a", [name, -1, ref, *slider_vals(name)], kind=e_kind)
        ev("on_interpolate", "on_interpolate", [name, ref, {"index": 1}, 8, "linear", "fixed"], kind=e_kind)
        ev("on_generate", "on_generate", [rng.choice(cvaes), ref, 0], kind=e_kind)
        ev("on_compare", "on_compare", [ref, 0], kind=e_kind)
    for fname, path in files.items():  # gradio_client uploads the file itself (handle_file)
        client("encode_image", model=model(), image=FileArg(path))
    # the drawing as its strokes, sent ahead to the sketchpad's accept_blobs (as a browser does), then encoded
    for fname, path in files.items():
        name = model()
        cases.append(("on_encode_drawing", "blob-then-encode", (fname, str(path), name, label_for(name))))
    image_junk = ["abc", "", 5, None, [], {}, [1, 2], {"path": 5}, {"path": ""}, {"a": 1}, long_string(),
                  {"url": "http://127.0.0.1:1/x.png", "path": None, "meta": {"_type": "gradio.FileData"}},
                  "/etc/passwd", "data:image/png;base64,iVBORw0KGgo=", {"path": None, "meta": 5}]
    editor_junk = image_junk + [{"id": "never-sent"}, {"id": 5}, {"id": None}, {"background": None, "layers": [],
                                "composite": None}, {"layers": "x"}, {"layers": [None]}, {"background": 5},
                                {"composite": {"path": 5}}, {"id": long_string()}]
    for junk in image_junk:
        raw("encode_image", [model(), junk])
        name = model()
        ev("on_encode_image", "on_encode_image", [name, label_for(name), "pca", junk])
    for junk in editor_junk:
        name = model()
        ev("on_encode_drawing", "on_encode_drawing", [name, label_for(name), "pca", junk])
    for bad in rng.sample(bad_names(), 8):
        ref = uploads.get("digit.png") or next(iter(uploads.values()), None)
        raw("encode_image", [bad, ref])
        ev("on_encode_image", "on_encode_image", [bad, None, "pca", ref])
    for label, proj in [("x", "pca"), (99, "pca"), (None, "nope"), (BIG_INT, "umap"), ([1], "tsne")]:
        ref = uploads.get("digit.png") or next(iter(uploads.values()), None)
        ev("on_encode_image", "on_encode_image", [model(), label, proj, ref])
    # the sketchpad's accept_blobs server function with junk
    for fields, payload in [({"type": "layer", "index": str(10 ** 9)}, b"x"), ({"type": "layer", "index": "-1"}, b"x"),
                            ({"type": "layer", "index": "abc"}, b"x"), ({"type": "layer", "index": "null"}, b"x"),
                            ({"type": "nope", "index": "null"}, b"x"), ({"type": "composite"}, None),
                            ({"index": "null"}, b"x"), ({"type": "composite", "index": "null", "id": ""}, b"x"),
                            ({"type": "composite", "index": "null", "id": long_string(1000)}, b"x" * 1000),
                            ({"type": "layer", "index": "3"}, b"\x89PNG junk"), ({"type": "background"}, b""),
                            ({"type": "composite", "index": "1e400"}, b"x")]:
        cases.append(("accept_blobs", "blob", (fields, payload)))
    cases.append(("accept_blobs", "server_fn-accept_blobs", ("accept_blobs", {"type": "composite"})))  # JSON body

    # ---- AE vs VAE vs CVAE ----------------------------------------------------------------------------------
    ds_bad = ["", "MNIST", " mnist ", "fashion_mnist", "cifar10", "../mnist", long_string(), None, 5, ["mnist"],
              {"a": 1}, "mnist\x00", "synthetic"]
    for ds in datasets + ds_bad:
        raw("compare_models", [ds, 0])
        for api in ("on_compare", "on_compare_1"):
            ev(api, api, [ds, rng.choice([0, 1, 7])])
    for s in bad_numbers():
        ds = rng.choice(datasets or ["mnist"])
        raw("compare_models", [ds, s])
        ev(rng.choice(["on_compare", "on_compare_1"]), None, [ds, s])
        ev("on_next_seed", "on_next_seed", [s])
    for ds in datasets:
        client("compare_models", dataset=ds, seed=3)
    for bad in rng.sample(ds_bad, 5):
        client("compare_models", dataset=bad, seed=0)

    # ---- training dynamics, map CSV ----------------------------------------------------------------------
    for bad in bad_names():
        raw("training_history", [bad])
        raw("export_map_csv", [bad])
        ev("on_dynamics", "on_dynamics", [bad])
        ev("on_csv", "on_csv", [bad])
    for name in names:
        client("training_history", model=name)
        client("export_map_csv", model=name)
        ev("on_dynamics", "on_dynamics", [name])
        ev("on_csv", "on_csv", [name])
        ev("on_dynamics", "on_dynamics", [name, "extra"])
    for bad in rng.sample(bad_names(), 4):
        client("training_history", model=bad)
        client("export_map_csv", model=bad)

    # ---- the map's selection (lasso / box, /select) ---------------------------------------------------------
    sel_bad = [[], list(range(10 ** 6)), [0, 10 ** 9], [-1], [2.5], ["7"], [True], [None], [[1]], "0,1", None, 5,
               {"indices": [1]}, [float("nan")], [float("inf")], [BIG_INT], long_string()]
    for name in names:
        for bad in sel_bad:
            raw("select", [name, bad])
            ev("on_selected", "on_selected", [name], {"indices": bad})
        raw("select", [name, [0, 1, 2, 1]])
        client("select", model=name, indices=[3, 4])
        for payload in (None, "junk", {}, {"index": 3}, {"indices": [0, 5, 9]}, {"indices": []}):
            ev("on_selected", "on_selected", [name], payload)
        summary = {"count": 2, "mean_z": z_ok(name), "indices": [0, 1]}
        for state in (None, {}, summary, {"mean_z": [1e400] * dims[name]}, {"mean_z": "x", "count": 1},
                      {"mean_z": [0.0] * (dims[name] + 2), "count": 1}, [1, 2], "junk"):
            ev("on_use", "on_use", [name, label_for(name), rng.choice(["pca", "umap", None]), state])
    for bad in bad_names():
        raw("select", [bad, [0]])
        ev("on_selected", "on_selected", [bad], {"indices": [0]})
        ev("on_use", "on_use", [bad, -1, "pca", {"mean_z": [0.0], "count": 1}])

    # ---- synthetic data set from a CVAE -------------------------------------------------------------------
    per_class = [0, -1, 10 ** 7, 3.5, "abc", "", None, True, float("nan"), float("inf"), 1e308, BIG_INT, -BIG_INT,
                 [5], {}, "5", " 7 ", "1e3", "1e400", 5001, 2.0, 1, 2, 16, long_string(10_000)]
    for pc in per_class:
        raw("generate_dataset", [rng.choice(cvaes), pc, 0])
        ev("on_generate", "on_generate", [rng.choice(cvaes), pc, rng.randrange(100)])
    for s in bad_numbers():
        raw("generate_dataset", [rng.choice(cvaes), 2, s])
        ev("on_generate", "on_generate", [rng.choice(cvaes), 2, s])
    for name in uncond[:3] + bad_names():  # an unconditional model, or no model at all
        raw("generate_dataset", [name, 2, 0])
        ev("on_generate", "on_generate", [name, 2, 0])
    for name in cvaes:
        client("generate_dataset", model=name, per_class=3, seed=1)
    raw("generate_dataset", [cvaes[0], 5000, 0])  # the largest allowed: 5,000 per class

    # ---- text models: your own text, a text CVAE's sentences ------------------------------------------------
    # (an image model gets the same calls: each must say it reads no text / makes no sentences)
    texts = [m["name"] for m in models if m.get("modality") == "text"] or names[:1]
    text_cvaes = [m["name"] for m in models if m.get("modality") == "text" and m["num_classes"]] or cvaes[:1]
    hostile_text = ["", "   ", "\n\t", None, 5, 1.5, True, [], {}, ["a cat"], {"text": "a cat"}, long_string(),
                    "\x00\x01\x02\x1b[31m", "🐱" * 300, "a red cat that runs", "<eos> <pad> <unk>", "${alert(1)}",
                    "`x` {{y}}", "\ud800 lone surrogate", "a\u202eb\u200b", "ｆｕｌｌ ｗｉｄｔｈ", "x" * 2001]
    for text in hostile_text:
        raw("encode_text", [rng.choice(texts), text])
        ev("on_encode_text", "on_encode_text", [rng.choice(texts), None, rng.choice(["pca", "tsne"]), text])
    for bad in bad_names():
        raw("encode_text", [bad, "a cat"])
        ev("on_encode_text", "on_encode_text", [bad, None, "pca", "a cat"])
    for name in names:
        client("encode_text", model=name, text="a small domesticated animal")
        ev("on_encode_text", "on_encode_text", [name, label_for(name), "pca", "a small domesticated animal"])
    for fmt in ["csv", "jsonl", "JSONL", " csv ", "xml", "", None, 5, [], long_string(1000)]:
        raw("generate_text_dataset", [rng.choice(text_cvaes), 2, 0, fmt])
    for pc in [0, -1, 2001, 3.5, "abc", None, True, float("nan"), 1e308, BIG_INT, [5], 1]:
        raw("generate_text_dataset", [rng.choice(text_cvaes), pc, 0, "csv"])
    for name in uncond[:3] + bad_names():
        raw("generate_text_dataset", [name, 2, 0, "csv"])
    for name in text_cvaes:
        client("generate_text_dataset", model=name, per_class=2, seed=1, format="jsonl")

    if config is not None:
        cases += generic_cases(config, rng)

    rng.shuffle(cases)
    if n <= 0:  # every generated case once
        return cases
    if n < len(cases):  # a seeded subset (the CI test runs about 60)
        return cases[:n]
    pool = list(cases)  # top up with repeats of random cases (sessions and seeds differ)
    while len(cases) < n:
        cases.append(rng.choice(pool))
    return cases


def to_ref(upload_path: str) -> dict:
    return {"path": upload_path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(upload_path).name}


# ---------------------------------------------------------------------------------------------------------------
# Running a case

class Runner:
    def __init__(self, caller: EventCaller, client, figure_component: int, sketch_component: int | None,
                 sessions: dict):
        self.caller, self.client, self.fig, self.sketch, self.sessions = caller, client, figure_component, \
            sketch_component, sessions

    def session_for(self, data) -> str | None:
        """A page session whose model was already picked (so the class picker has its choices), as in a browser."""
        key = data[0] if data and isinstance(data[0], str) and data[0] in self.sessions else \
            next(iter(self.sessions), None)
        return self.sessions.get(key)

    def run(self, case) -> dict:
        """The case's result; a connection the server dropped counts as a crash only if it happens again."""
        res = self._run(case)
        if res.get("crash") and alive(self.caller.base):  # e.g. a pooled keep-alive connection the server closed
            res = self._run(case)
        return res

    def _run(self, case) -> dict:
        endpoint, kind, args = case
        kind = kind.removeprefix("malformed-").removeprefix("generic-")
        try:
            if kind == "client":
                return self._client(*args)
            if kind == "raw":
                api, data = args
                return _call_named_raw(self.caller, api, data)
            if kind == "rawbody":
                path, body = args
                return _post_raw(self.caller, path, body)
            if kind == "event":
                api, data, event_data = args
                return self.caller.call(api or endpoint, data, event_data, session_hash=self.session_for(data))
            if kind == "server_fn":
                fn, spec = args
                return self._server_fn(self.fig, fn, spec)
            if kind == "server_fn-accept_blobs":
                fn, spec = args
                return self._server_fn(self.sketch, fn, spec)
            if kind == "blob":
                fields, payload = args
                return self._blob(fields, payload)
            if kind == "blob-then-encode":
                fname, path, name, label = args
                blob_id = uuid.uuid4().hex
                sent = self._blob({"type": "composite", "index": "null", "id": blob_id}, Path(path).read_bytes())
                if not sent["ok"]:
                    return sent
                return self.caller.call("on_encode_drawing", [name, label, "pca", {"id": blob_id, "background": None,
                                        "layers": [], "composite": None}], session_hash=self.session_for([name]))
        except httpx.TransportError as e:
            return {"ok": False, "crash": True, "error": repr(e), "body": ""}
        raise ValueError(kind)

    def _client(self, api, kwargs) -> dict:
        from gradio_client import handle_file
        kwargs = {k: handle_file(str(v)) if isinstance(v, FileArg) else v for k, v in kwargs.items()}
        try:
            self.client.predict(**kwargs, api_name="/" + api)
            return {"ok": True, "status": 200, "error": None, "body": ""}
        except httpx.TransportError:
            raise
        except Exception as e:  # gradio_client raises AppError / ValueError with the server's message
            return {"ok": False, "status": "client", "error": str(e) or None, "body": ""}

    def _server_fn(self, component: int | None, fn: str, spec) -> dict:
        r = self.caller.server_function(component, fn, spec)
        ok = r.status_code == 200
        try:
            js = r.json()
        except ValueError:
            js = None
        if ok and isinstance(js, dict) and "error" in js:
            return {"ok": False, "status": 200, "error": js["error"], "body": r.text[:20000]}
        return {"ok": ok, "status": r.status_code, "error": None if ok else r.text[:500], "body": r.text[:20000]}

    def _blob(self, fields: dict, payload: bytes | None) -> dict:
        """The sketchpad's accept_blobs, as the browser's client sends it: multipart form, the stroke image as a
        file, its kind, layer index and drawing id as fields."""
        data = {"id": uuid.uuid4().hex, **fields, "component_id": str(self.sketch), "fn_name": "accept_blobs",
                "session_hash": uuid.uuid4().hex[:11]}
        files = {"file": ("blob", payload, "image/png")} if payload is not None else None
        r = self.caller.http.post(self.caller.base + "/gradio_api/component_server/", data=data, files=files)
        ok = r.status_code == 200
        try:
            detail = r.json().get("detail") if not ok else None
        except (ValueError, AttributeError):
            detail = None
        return {"ok": ok, "status": r.status_code, "error": None if ok else str(detail or r.text[:500]),
                "body": r.text[:20000]}


def _call_named_raw(caller: EventCaller, api: str, data) -> dict:
    return _post_raw(caller, f"/gradio_api/call/{api}", json.dumps({"data": data}, allow_nan=True))


def _post_raw(caller: EventCaller, path: str, body: str) -> dict:
    r = caller.raw(path, body)
    if r.status_code != 200:
        return {"ok": False, "status": r.status_code, "error": r.text[:500], "body": r.text[:20000]}
    event_id = r.json()["event_id"]
    text = caller.http.get(caller.base + f"{path}/{event_id}", timeout=120).text
    if "event: complete" in text:
        return {"ok": True, "status": 200, "error": None, "body": text[:20000]}
    err = None
    for line in text.splitlines():
        if line.startswith("data:") and "event: error" in text:
            try:
                err = json.loads(line[5:])
            except ValueError:
                err = line[5:]
            if isinstance(err, dict):
                err = err.get("error")
    return {"ok": False, "status": "stream", "error": None if err in (None, "null") else str(err),
            "body": text[:20000]}


def upload_images(caller: EventCaller, files: dict[str, Path]) -> tuple[dict, dict]:
    """Upload each image case; returns ({name: file ref}, {name: upload status})."""
    refs, statuses = {}, {}
    for name, path in files.items():
        with open(path, "rb") as f:
            r = caller.http.post(caller.base + "/gradio_api/upload", files={"files": (name, f, "image/png")})
        statuses[name] = r.status_code
        if r.status_code == 200:
            refs[name] = to_ref(r.json()[0])
    return refs, statuses


def warm_up(caller: EventCaller, models: list[dict], files: dict[str, Path], refs: dict) -> None:
    """One successful call of each tool per model, so that the libraries the tools import on first use (torchvision,
    scipy) and each model's caches are in memory before the "before" figure: the memory check then compares like
    with like."""
    digit_ref = refs.get("digit.png")
    for m in models:
        name, d = m["name"], m["latent_dim"]
        lab = 0 if m["num_classes"] else -1
        _call_named_raw(caller, "traverse", [name, [0.0] * d, lab])
        _call_named_raw(caller, "interpolate", [name, 0, 1, 8, "slerp", "fixed"])
        _call_named_raw(caller, "neighbours", [name, [0.0] * d, 8])
        if digit_ref:
            _call_named_raw(caller, "encode_image", [name, digit_ref])
        if m["num_classes"]:
            _call_named_raw(caller, "generate_dataset", [name, 2, 0])
    for ds in sorted({m.get("dataset") for m in models if m.get("dataset")}):
        _call_named_raw(caller, "compare_models", [ds, 0])


# ---------------------------------------------------------------------------------------------------------------

def run(base: str, n: int, seed: int, pid: int | None = None, verbose: bool = False,
        only: list[str] | None = None) -> dict:
    """Run n cases (0: every generated one) against the app at `base`; only: the model names to draw cases for
    (default: every readable model /list_models gives)."""
    from gradio_client import Client

    caller = EventCaller(base)
    client = Client(base, verbose=False)
    config = caller.http.get(caller.base + "/config").json()
    models = [m for m in client.predict(api_name="/list_models") if "error" not in m
              and (not only or m["name"] in only)]
    if not models:
        raise SystemExit(f"no readable model among {only or 'the models the app lists'}")
    fig_id = component_id(caller, "latent-map")
    try:
        sketch_id = component_id(caller, "sketchpad")
    except KeyError:
        sketch_id = None
    with tempfile.TemporaryDirectory() as tmp:
        files = image_files(Path(tmp))
        uploads, upload_status = upload_images(caller, files)
        # file references to files that were never uploaded: gradio must refuse to read them
        uploads["ref:/etc/passwd"] = to_ref("/etc/passwd")
        uploads["ref:app.py"] = to_ref(str(REPO / "app.py"))
        uploads["ref:../../etc/passwd"] = to_ref("../../etc/passwd")
        uploads["ref:nul-byte"] = to_ref("/tmp/gradio/x\x00.png")
        uploads["ref:path-not-text"] = {"path": 5, "meta": {"_type": "gradio.FileData"}}
        uploads["ref:relative"] = to_ref("x.png")
        uploads["ref:cache-missing"] = to_ref("/tmp/gradio/nope/x.png")
        all_cases = make_cases(0, seed, models, uploads, files, config)
        cases = make_cases(n, seed, models, uploads, files, config)
        # one page session per model, model picked first as the page does (this also loads every model, so the
        # memory figure compares like with like)
        sessions = {}
        for m in models:
            sessions[m["name"]] = f"fuzz{len(sessions)}"
            caller.call("on_model", [m["name"], "pca"], None, session_hash=sessions[m["name"]])
        warm_up(caller, models, files, uploads)
        runner = Runner(caller, client, fig_id, sketch_id, sessions)
        rss0 = rss_mb(pid) if pid else None
        counts = defaultdict(Counter)
        leaks, examples = [], defaultdict(list)
        t0 = time.perf_counter()
        for i, case in enumerate(cases):
            t1 = time.perf_counter()
            res = runner.run(case)
            outcome = classify(res, case[1])
            counts[case[0]][outcome] += 1
            m = leaked(res, case)
            if m:
                leaks.append((case[0], m, _short(case)))
            if outcome in ("server-error", "crash") and len(examples[outcome]) < 20:
                examples[outcome].append((_short(case), (res.get("error") or "")[:200]))
            if verbose:
                print(i, f"{time.perf_counter() - t1:.2f}s", case[0], outcome, _short(case)[:120],
                      (res.get("error") or "")[:120], flush=True)
            if res.get("crash") and not alive(base):
                break
        elapsed = time.perf_counter() - t0
    up = alive(base)
    rss1 = rss_mb(pid) if pid and up else None
    caller.close()
    client.close()
    targeted = {c[0] for c in all_cases if "generic" not in c[1]}
    return {"counts": counts, "leaks": leaks, "examples": examples, "alive": up, "rss": (rss0, rss1),
            "n": sum(sum(c.values()) for c in counts.values()), "elapsed": elapsed, "uploads": upload_status,
            "deps": describe_deps(config), "runnable": [dep_key(d) for d in runnable_deps(config)],
            "generated": len(all_cases), "targeted": targeted, "subset": 0 < n < len(all_cases)}


def _short(case) -> str:
    s = repr(case)
    return s if len(s) < 300 else s[:300] + "..."


def report(r: dict) -> bool:
    """Print the counts, one line per dependency of the app (and per server function); True when all is well."""
    print(f"{r['n']} cases in {r['elapsed']:.1f} s ({r['generated']} generated)")
    rows = list(dict.fromkeys(r["runnable"] + sorted(k for k in r["counts"] if k not in r["runnable"])))
    w = max(len(k) for k in rows) + 2
    print(f"{'endpoint / event':<{w}}" + "".join(f"{o:>14}" for o in OUTCOMES) + f"{'total':>7}   triggered by")
    total = Counter()
    for key in rows:
        c = r["counts"].get(key, Counter())
        total.update(c)
        what = r["deps"].get(key, "server function")
        print(f"{key:<{w}}" + "".join(f"{c[o]:>14}" for o in OUTCOMES) + f"{sum(c.values()):>7}   {what}")
    print(f"{'all':<{w}}" + "".join(f"{total[o]:>14}" for o in OUTCOMES) + f"{sum(total.values()):>7}")
    print("image uploads (HTTP status):", dict(r["uploads"]))
    missed = [k for k in r["runnable"] if not r["counts"].get(k)]
    untargeted = [k for k in r["runnable"] if k not in r["targeted"]]
    print(f"dependencies with a function: {len(r['runnable'])}; without any case in this run: {len(missed)}"
          + (f" ({', '.join(missed)})" if missed else "") + (" (a subset run)" if r["subset"] else ""))
    if untargeted:
        print("NO HAND-WRITTEN CASES for (add them to benchmarks/fuzz.py make_cases):", ", ".join(untargeted))
    print(f"responses showing a traceback or server path: {len(r['leaks'])}")
    for leak in r["leaks"][:10]:
        print("  LEAK", leak)
    for outcome, ex in r["examples"].items():
        for case, err in ex:
            print(f"  {outcome.upper()}: {case[:200]} -> {err}")
    rss0, rss1 = r["rss"]
    if rss0 and rss1:
        print(f"server RSS: {rss0:.0f} MB before the cases, {rss1:.0f} MB after ({100 * (rss1 - rss0) / rss0:+.1f}%)")
    print("server still answering:", r["alive"])
    covered = not untargeted and (r["subset"] or not missed)
    return (r["alive"] and not r["leaks"] and total["crash"] == 0 and total["server-error"] == 0 and covered)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=0, help="number of cases; 0 = every generated case once")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fake", action="store_true", help="serve tiny synthetic models instead of the shipped assets")
    p.add_argument("--url", help="fuzz an app that is already running here instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to report its memory")
    p.add_argument("--server-log", help="write the server's whole log to this file")
    p.add_argument("--models", help="comma-separated model names to draw cases for (default: all)")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    only = [m.strip() for m in a.models.split(",") if m.strip()] if a.models else None
    if a.url:
        return 0 if report(run(a.url, a.cases, a.seed, pid=a.pid, verbose=a.verbose, only=only)) else 1
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(timeout=120, fake_assets_in=tmp if a.fake else None, latent_dim=4, n_points=200,
                           **({"gan": True, "text": True} if a.fake else {}))
        try:
            ok = report(run(server.url, a.cases, a.seed, pid=server.proc.pid, verbose=a.verbose, only=only))
        finally:
            log = server.stop()
        n_tb = log.count("Traceback")
        print(f"tracebacks in the server log (not shown to callers): {n_tb}")
        if a.server_log:
            Path(a.server_log).write_text(log)
        if a.verbose:
            print(log[-20000:])
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
