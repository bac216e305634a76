"""Latency of every GAN action through the live app's API, beside a bare Gradio endpoint in the same run.

    python benchmarks/gan_latency.py --gan assets/mnist-gan --vae assets/mnist-vae   # a trained GAN and its VAE
    python benchmarks/gan_latency.py --gan runs/my-gan --cgan runs/my-cgan            # and a conditional GAN
    python benchmarks/gan_latency.py --fake                # full-size untrained generators on synthetic maps
    python benchmarks/gan_latency.py --repeats 30 -k encode
    python benchmarks/gan_latency.py --gan runs/my-gan --map-cache /tmp/gan-maps   # build a missing map once

The model folders are copied into a temporary assets folder (the originals are never written). A GAN folder without a
latent_map.npz gets one: training.evaluate.build_latent_map where it supports GANs, else the first --map-images test
images of the folder's dataset inverted with training.inversion.invert at its build-time settings (SPLIT_SETTINGS),
with PCA and t-SNE of those codes (--map-cache DIR keeps it, keyed by the weights' hash, for the next run). Then `python app.py` serves them (explorer.testing.apphost.AppServer) and every
action is called through gradio_client on its named endpoint, as a script would (HTTP, queue, PNG files), or by
fn_index as the page calls its own events (the map click, a slider move, the drawing tab's button): /decode,
/reconstruct (a different test image each call), /encode_image (a different picture each call: every one is a fresh
request-time inversion, nothing cached), /interpolate, /neighbours, /move_towards, /traverse, /training_history,
/export_map_csv, a cgan's /decode, /encode_image and /generate_dataset, and the page's map click (G(z*) and the
VAE's reconstruction), slider move and drawing.

The reference, in the same run: a bare Gradio app in this process with one named endpoint that returns a ready
280x280 image (no model), called the same way: what is left there is Gradio, gradio_client and the machine.
The timing starts once the app's background warm-up has printed "Warm-up done". Prints median and p95 per action
and the ratio to the reference's median. Target: every median <= 500 ms, the
first inversion of a new picture included, on the 2-core machine. Timings are distorted while other jobs use the
CPU: the load average is printed with them.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
COPIED = ("config.json", "model.safetensors", "metrics.json", "history.json", "latent_map.npz", "decoder.onnx",
          "README.md")


def copy_folder(src: Path, dst: Path) -> Path:
    """The files of a model folder the app reads, copied (training state and checkpoints left behind)."""
    dst.mkdir(parents=True)
    for name in COPIED:
        if (src / name).is_file():
            shutil.copy2(src / name, dst / name)
    return dst


def build_map(folder: Path, n_images: int, data_dir: str | None) -> str:
    """Write folder/latent_map.npz for a GAN folder that has none; returns how it was made."""
    import torch

    from training import load_model, read_config
    from training.data import Split, load_dataset
    from training.evaluate import build_latent_map, save_latent_map, tsne_2d

    model = load_model(folder)
    cfg = read_config(folder)
    data = cfg.get("data") or {}
    dataset = data.get("dataset") or "mnist"
    ds = load_dataset(dataset, data_dir or data.get("data_dir"))
    test = Split(ds.test.images[:n_images], ds.test.labels[:n_images])
    t0 = time.perf_counter()
    try:
        arrays = build_latent_map(model, test, umap=False)
        how = f"training.evaluate.build_latent_map on {len(test):,} test images"
    except TypeError:  # a map builder that still asks for an encoder: invert here, as it will
        from sklearn.decomposition import PCA

        from training.inversion import SPLIT_SETTINGS, invert

        x = test.images.float().div(255)[:, None]
        y = test.labels if model.conditional else None
        torch.set_num_threads(os.cpu_count() or 1)
        mu = invert(model, x, y, **SPLIT_SETTINGS).z.numpy().astype(np.float32)
        pca = PCA(n_components=2, random_state=0).fit(mu)
        arrays = {"mu": mu, "labels": test.labels.numpy().astype(np.int64),
                  "images": test.images.numpy().astype(np.uint8), "pca": pca.transform(mu).astype(np.float32),
                  "pca_mean": pca.mean_.astype(np.float32), "pca_components": pca.components_.astype(np.float32),
                  "tsne": tsne_2d(mu, 0)}
        how = f"{len(test):,} test images inverted here (training.inversion.SPLIT_SETTINGS)"
    save_latent_map(folder, arrays)
    return f"{how}, {time.perf_counter() - t0:.0f} s"


def fake_assets(root: Path) -> Path:
    """Full-size untrained generators (the shipped GAN's layer sizes) and a small VAE, one synthetic dataset."""
    from explorer.testing import make_model_folder

    for kind in ("gan", "cgan"):
        make_model_folder(root / f"fake-{kind}", kind=kind, latent_dim=16, n_points=2000, small=False,
                          seed=1 if kind == "gan" else 2)
    make_model_folder(root / "fake-vae", kind="vae", latent_dim=16, n_points=2000, arch="conv", small=False)
    return root


def pictures(n: int, seed: int = 0) -> list[bytes]:
    """n different PNG pictures of a drawn "7" (stroke, slant and place vary), dark ink on light, 280x280."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = Image.new("L", (280, 280), 240)
        x0, y0 = rng.uniform(40, 90), rng.uniform(40, 80)
        x1, y1 = x0 + rng.uniform(110, 160), y0 + rng.uniform(-15, 15)
        x2, y2 = rng.uniform(90, 160), rng.uniform(200, 250)
        ImageDraw.Draw(im).line([(x0, y0), (x1, y1), (x2, y2)], fill=15, width=int(rng.integers(14, 30)))
        buf = io.BytesIO()
        im.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def bare_reference():
    """A bare Gradio app in this process: one named endpoint answering with a ready 280x280 image. -> (demo, url)."""
    import gradio as gr

    image = (np.random.default_rng(0).random((280, 280)) * 255).astype(np.uint8)

    def ready(x):
        return image

    with gr.Blocks(analytics_enabled=False) as demo:
        inp = gr.JSON([0.0], visible=False)
        out = gr.Image(type="numpy", format="png", visible=False)
        gr.Button(visible=False).click(ready, inp, out, api_name="ready", preprocess=False)
    demo.queue()
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, ssr_mode=False)
    return demo, demo.local_url


def time_calls(call, repeats: int) -> list[float]:
    """ms of `repeats` calls of call(i), after one untimed warm-up call (i = -1)."""
    call(-1)
    ms = []
    for i in range(repeats):
        t0 = time.perf_counter()
        call(i)
        ms.append((time.perf_counter() - t0) * 1000)
    return ms


def p95(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=20)[-1] if len(ms) >= 2 else ms[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gan", metavar="DIR", help="an unconditional GAN folder (default assets/mnist-gan)")
    p.add_argument("--cgan", metavar="DIR", help="a conditional GAN folder (optional)")
    p.add_argument("--vae", metavar="DIR", help="a VAE of the same dataset (default assets/mnist-vae when present)")
    p.add_argument("--fake", action="store_true", help="full-size untrained generators on synthetic maps instead")
    p.add_argument("--map-images", type=int, default=2000, help="test images to invert for a folder without a map")
    p.add_argument("--data-dir", help="the dataset's IDX folder, for a folder without a map (default: its config's)")
    p.add_argument("--map-cache", metavar="DIR", help="keep built maps here and reuse them (keyed by the weights)")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("-k", default="", help="only actions whose name contains this text")
    args = p.parse_args(argv)

    from gradio_client import Client, handle_file

    from explorer.testing.apphost import AppServer, EventCaller

    tmp = Path(tempfile.mkdtemp(prefix="gan-latency-"))
    assets = tmp / "assets"
    if args.fake:
        fake_assets(assets)
        gan, cgan, vae = "fake-gan", "fake-cgan", "fake-vae"
        print(f"synthetic folders in {assets}: full-size untrained generators, 2,000 map points")
    else:
        gan_dir = Path(args.gan or REPO / "assets" / "mnist-gan")
        if not (gan_dir / "config.json").is_file():
            p.error(f"{gan_dir} is not a model folder; pass --gan DIR, or --fake")
        vae_dir = Path(args.vae) if args.vae else REPO / "assets" / "mnist-vae"
        folders = [(gan_dir, "gan")] + ([(Path(args.cgan), "cgan")] if args.cgan else []) + \
            ([(vae_dir, "vae")] if (vae_dir / "config.json").is_file() else [])
        names = {}
        for src, role in folders:
            dst = copy_folder(src, assets / (src.name if src.name not in names.values() else f"{src.name}-{role}"))
            names[role] = dst.name
            if role != "vae" and not (dst / "latent_map.npz").is_file():
                cached = None
                if args.map_cache:
                    from training.export import file_sha256
                    cached = Path(args.map_cache) / (f"{file_sha256(dst / 'model.safetensors')[:16]}-"
                                                     f"{args.map_images}.npz")
                if cached is not None and cached.is_file():
                    shutil.copy2(cached, dst / "latent_map.npz")
                    print(f"{dst.name}: no latent_map.npz; using the one built before, {cached}", flush=True)
                else:
                    how = build_map(dst, args.map_images, args.data_dir)
                    print(f"{dst.name}: no latent_map.npz; built one: {how}", flush=True)
                    if cached is not None:
                        cached.parent.mkdir(parents=True, exist_ok=True)
                        shutil.copy2(dst / "latent_map.npz", cached)
        gan, cgan, vae = names["gan"], names.get("cgan"), names.get("vae")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"on {os.cpu_count()} CPUs", flush=True)

    bare, bare_url = bare_reference()
    server = AppServer(env={"EXPLORER_ASSETS_DIR": str(assets)}, timeout=180)
    try:
        # Time the app as a person meets it after start-up: once its background warm-up (every model loaded, each
        # endpoint called once, a first inversion per GAN) has finished, not while it still takes the CPU.
        t0, deadline = time.monotonic(), time.monotonic() + 600
        while "Warm-up done" not in server.read_log() and time.monotonic() < deadline:
            time.sleep(0.5)
        print(f"app warm-up finished {time.monotonic() - t0:.0f} s after the page answered", flush=True)
        client, ref = Client(server.url, verbose=False), Client(bare_url, verbose=False)
        page = EventCaller(server.url, timeout=60)
        from explorer import ModelRegistry
        reg = ModelRegistry.discover(assets)
        lg = reg.get(gan)
        d, n_map = lg.latent_dim, lg.latent_map.n
        rng = np.random.default_rng(0)
        pics = tmp / "pictures"
        pics.mkdir()
        files = []
        for i, data in enumerate(pictures(args.repeats + 1)):
            (pics / f"{i}.png").write_bytes(data)
            files.append(pics / f"{i}.png")
        idx = rng.integers(0, n_map, args.repeats + 1)
        z_of = lambda i: [float(v) for v in rng.normal(size=d).round(2)]  # noqa: E731
        ok = lambda r: r if r["ok"] else (_ for _ in ()).throw(RuntimeError(r["error"]))  # noqa: E731

        def upload(path: Path) -> dict:
            """The page's upload of a picture: gradio's /gradio_api/upload, then the FileData the sketchpad sends."""
            r = page.http.post(page.base + "/gradio_api/upload", files={"files": (path.name, path.read_bytes())})
            return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}

        uploaded = [upload(f) for f in files]
        none = [0.0] * (32 - d)
        cases = [
            ("bare Gradio: ready image (reference)", lambda i: ref.predict([0.0], api_name="/ready")),
            (f"/decode {gan}", lambda i: client.predict(model=gan, z=z_of(i), label=-1, api_name="/decode")),
            (f"/reconstruct {gan} (stored z*)", lambda i: client.predict(model=gan, index=int(idx[i]),
                                                                         api_name="/reconstruct")),
            (f"/encode_image {gan} (new picture: inversion)",
             lambda i: client.predict(model=gan, image=handle_file(str(files[i])), api_name="/encode_image")),
            (f"/interpolate {gan} 8 slerp", lambda i: client.predict(model=gan, index_a=int(idx[i]), index_b=0,
                                                                     steps=8, mode="slerp", api_name="/interpolate")),
            (f"/neighbours {gan} k=8", lambda i: client.predict(model=gan, z=z_of(i), api_name="/neighbours")),
            (f"/move_towards {gan}", lambda i: client.predict(model=gan, z=z_of(i), from_class=3, to_class=8,
                                                             strength=1.0, api_name="/move_towards")),
            (f"/traverse {gan} {d}x9", lambda i: client.predict(model=gan, z=z_of(i), label=-1,
                                                                api_name="/traverse")),
            (f"/training_history {gan}", lambda i: client.predict(model=gan, api_name="/training_history")),
            (f"/export_map_csv {gan}", lambda i: client.predict(model=gan, api_name="/export_map_csv")),
            (f"page: map click {gan} (G(z*) + {vae or 'no VAE'})",
             lambda i: ok(page.call("on_select", [gan, None, "pca"], event_data={"index": int(idx[i])}))),
            (f"page: slider move {gan} (server decode)",
             lambda i: ok(page.call("on_slide", [gan, None, "pca", *z_of(i), *none]))),
            (f"page: drawing {gan} (new picture: inversion)",
             lambda i: ok(page.call("on_encode_image", [gan, None, "pca", uploaded[i]]))),
        ]
        if cgan:
            cases += [
                (f"/decode {cgan} class 3", lambda i: client.predict(model=cgan, z=z_of(i), label=3,
                                                                     api_name="/decode")),
                (f"/encode_image {cgan} (new picture: inversion)",
                 lambda i: client.predict(model=cgan, image=handle_file(str(files[i])), api_name="/encode_image")),
                (f"/generate_dataset {cgan} 10x10", lambda i: client.predict(model=cgan, per_class=10, seed=i + 1,
                                                                             api_name="/generate_dataset")),
                (f"/generate_dataset {cgan} 10x100 (a data set)", lambda i: client.predict(
                    model=cgan, per_class=100, seed=i + 1, api_name="/generate_dataset")),
            ]
        print(f"\n{'action':<58} {'median ms':>10} {'p95 ms':>8} {'x bare':>7}  (n={args.repeats}, "
              "target <= 500 ms)")
        ref_median = None
        for name, call in cases:
            if args.k not in name and not name.startswith("bare"):
                continue
            try:
                ms = time_calls(call, args.repeats)
            except Exception as e:  # noqa: BLE001 - a broken action is reported, the others still run
                print(f"{name:<58} failed: {type(e).__name__}: {str(e)[:90]}", flush=True)
                continue
            med = statistics.median(ms)
            ref_median = ref_median or med
            flag = "" if med <= 500 else "  over target"
            print(f"{name:<58} {med:10.1f} {p95(ms):8.1f} {med / ref_median:7.1f}{flag}", flush=True)
        print(f"\nload average afterwards {os.getloadavg()[0]:.2f}")
    finally:
        server.stop()
        bare.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
