"""Latency of every tool action (interpolation, traversal, neighbours, arithmetic, drawing, ...).

    python benchmarks/tools_latency.py                        # shipped assets (fake models if assets/ is empty)
    python benchmarks/tools_latency.py --repeats 30 --model mnist-vae --cvae mnist-cvae
    python benchmarks/tools_latency.py --no-app               # only the plain functions, no server
    python benchmarks/tools_latency.py --gan assets/mnist-gan    # and a GAN: compare with four models, its traversal
    python benchmarks/tools_latency.py --fake --gan fake         # the same on tiny synthetic models
    python benchmarks/tools_latency.py -k wordnet                # only the text model's actions (wordnet-vae, -cvae)

Each action is timed twice:
  direct   the plain function (explorer.tools) called in this process, after one warm-up call
  api      the same action through the live app: `python app.py` started by explorer.testing.apphost.AppServer, called
           with gradio_client on its named endpoint (HTTP + queue + PNG files included)
and the table gives median and p95 in ms per action (its first api line is the reference: a bare Gradio endpoint in
this process answering with a ready image, in the same run), and the median CPU time per action ("cpu ms": this process's
for a direct call; the server's, from /proc/PID/stat, plus this client's for an api call). Target: every action
answers within 500 ms on the 2-core machine; a traversal grid of up to 32x9 images counts as one action. A script
that prints figures, not a pass/fail test. Wall times are distorted while other jobs use the CPU (say so when you
report them); the CPU time much less so: on an idle machine an action takes about its CPU time.

Adding cases: write a function `xxx_cases(ctx) -> list[Case]` below and list it in CASE_BUILDERS. `ctx` has
`registry` (explorer.ModelRegistry), `vae` / `cvae` / `ae` / `gan` (model names; `gan` None without --gan) and
`client` (gradio_client.Client, or None with --no-app). A Case is (name, kind, callable); kind is "direct" or "api".
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Case:
    name: str
    kind: str            # "direct" (plain function) or "api" (live app through gradio_client)
    call: Callable[[], object]


# ---------------------------------------------------------------------------------------------------------------
# Cases of explorer.tools: interpolation, traversal grid, nearest neighbours, attribute arithmetic

def latent_cases(ctx) -> list[Case]:
    from explorer.modalities.image import figure_row, png_bytes
    from explorer.tools import arithmetic, interpolation, neighbours, traversal
    from explorer.ui.tabs.neighbours import neighbours_html
    from explorer.ui.tabs.traversal import traversal_html

    reg, vae, cvae, ae = ctx.registry, ctx.vae, ctx.cvae, ctx.ae
    lv, lc, la = reg.get(vae), reg.get(cvae), reg.get(ae)
    dv, dc, da = lv.latent_dim, lc.latent_dim, la.latent_dim
    zv = [0.5] * dv
    cases = [
        Case(f"interpolate {vae} 8 linear", "direct",
             lambda: interpolation.interpolate(lv, 0, 1, 8, "linear")),
        Case(f"interpolate {vae} 32 slerp", "direct",
             lambda: interpolation.interpolate(lv, 0, 1, 32, "slerp")),
        Case(f"interpolate {cvae} 32 sweep", "direct",
             lambda: interpolation.interpolate(lc, 0, 1, 32, "linear", "sweep")),
        Case(f"traverse {vae} {dv}x9", "direct", lambda: traversal.traverse(lv, zv)),
        Case(f"traverse {cvae} {dc}x9", "direct", lambda: traversal.traverse(lc, [0.0] * dc, 3)),
        Case(f"traverse {ae} {da}x9", "direct", lambda: traversal.traverse(la, [0.0] * da)),
        Case(f"neighbours {vae} k=8", "direct", lambda: neighbours.nearest_neighbours(lv, zv)),
        Case(f"arithmetic {vae}", "direct", lambda: arithmetic.move_towards(lv, zv, 3, 8, 1.0)),
    ]

    # What a tab's button does on the server besides the maths: the page's HTML (PNG data URIs) and the PNG file
    # for the download button.
    def interp_page(loaded, steps, mode):
        res = interpolation.interpolate(loaded, 0, 1, steps, mode)
        return figure_row(res["images"], res["captions"]), png_bytes(interpolation.strip_image(res))

    def trav_page(loaded, z, label=None):
        res = traversal.traverse(loaded, z, label)
        return traversal_html(res), png_bytes(traversal.traversal_image(res))

    def nn_page(loaded, z):
        return neighbours_html(neighbours.nearest_neighbours(loaded, z))

    cases += [
        Case(f"interpolation tab {vae} 32 slerp +html+PNG", "direct", lambda: interp_page(lv, 32, "slerp")),
        Case(f"traversal tab {vae} {dv}x9 +html+PNG", "direct", lambda: trav_page(lv, zv)),
        Case(f"neighbours tab {vae} +html", "direct", lambda: nn_page(lv, zv)),
    ]
    # The largest grid the app shows: 32 dimensions x 9 (latent_dim is capped at 32). No shipped model has 32, so a
    # full-size conv VAE with random weights stands in: the same layers, so the same decoding cost.
    big = getattr(ctx, "big", None)
    if big is not None:
        lb = big.get("big-vae")
        cases += [Case("traverse 32x9 (full-size conv, 32-d)", "direct", lambda: traversal.traverse(lb, [0.0] * 32)),
                  Case("traversal tab 32x9 +html+PNG", "direct", lambda: trav_page(lb, [0.0] * 32))]
    c = ctx.client
    if c is not None:
        cases += [
            Case(f"/interpolate {vae} 8 linear", "api",
                 lambda: c.predict(model=vae, index_a=0, index_b=1, steps=8, mode="linear", api_name="/interpolate")),
            Case(f"/interpolate {vae} 32 slerp", "api",
                 lambda: c.predict(model=vae, index_a=0, index_b=1, steps=32, mode="slerp", api_name="/interpolate")),
            Case(f"/traverse {vae} {dv}x9", "api",
                 lambda: c.predict(model=vae, z=zv, label=-1, api_name="/traverse")),
            Case(f"/traverse {cvae} {dc}x9", "api",
                 lambda: c.predict(model=cvae, z=[0.0] * dc, label=3, api_name="/traverse")),
            Case(f"/neighbours {vae} k=8", "api",
                 lambda: c.predict(model=vae, z=zv, api_name="/neighbours")),
            Case(f"/move_towards {vae}", "api",
                 lambda: c.predict(model=vae, z=zv, from_class=3, to_class=8, strength=1.0,
                                   api_name="/move_towards")),
        ]
    return cases


# ---------------------------------------------------------------------------------------------------------------
# Cases of explorer.tools: your own drawing, AE vs VAE vs CVAE, training dynamics, export, dataset

def page_cases(ctx) -> list[Case]:
    import io

    from PIL import Image, ImageDraw

    from explorer.modalities.image import prepare_image
    from explorer.tools import compare, drawing, dynamics, export

    reg, vae, cvae = ctx.registry, ctx.vae, ctx.cvae
    lv, lc = reg.get(vae), reg.get(cvae)
    dataset = compare.dataset_key(lv.info.dataset)

    def picture(size, mode, fmt):
        """A "7": the sketchpad's 280x280 black-on-transparent PNG, or a photo-sized dark-on-light JPEG."""
        im = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else (235, 235, 235))
        w, h = size
        ImageDraw.Draw(im).line([(0.3 * w, 0.25 * h), (0.7 * w, 0.25 * h), (0.45 * w, 0.8 * h)],
                                fill=(0, 0, 0, 255) if mode == "RGBA" else (20, 20, 20), width=max(4, w // 25))
        buf = io.BytesIO()
        im.save(buf, fmt)
        return buf.getvalue()

    sketch, photo = picture((280, 280), "RGBA", "PNG"), picture((4000, 3000), "RGB", "JPEG")
    tmp = Path(tempfile.mkdtemp(prefix="tools-latency-pictures-"))
    (tmp / "sketch.png").write_bytes(sketch)
    (tmp / "photo.jpg").write_bytes(photo)

    def encode(loaded, data):
        img, _ = prepare_image(data, "drawing")
        return drawing.encode_prepared(loaded, img)

    kinds = compare.models_for_dataset(reg, dataset)
    compared = f"compare {'/'.join(k.upper() for k in kinds)} {dataset} {len(kinds)}x80"
    cases = [
        Case(f"encode drawing {vae}", "direct", lambda: encode(lv, sketch)),
        Case(f"encode drawing {cvae} (+10-class rank)", "direct", lambda: encode(lc, sketch)),
        Case(f"encode 12 MP photo {cvae}", "direct", lambda: encode(lc, photo)),
        Case(compared, "direct", lambda: compare.compare_models(reg, dataset, 1)),
        Case(f"training dynamics {vae}", "direct",
             lambda: [f(dynamics.training_history(reg, vae)) for f in (dynamics.history_figure, dynamics.kl_figure)]),
        Case(f"map CSV {vae}", "direct", lambda: export.export_map_csv(reg, vae)),
        Case(f"generate_dataset {cvae} 10x100", "direct", lambda: export.generate_dataset(reg, cvae, 100)),
    ]
    c = ctx.client
    if c is not None:
        from gradio_client import handle_file
        cases += [
            Case(f"/encode_image {cvae} drawing", "api",
                 lambda: c.predict(model=cvae, image=handle_file(str(tmp / "sketch.png")), api_name="/encode_image")),
            Case(f"/encode_image {cvae} 12 MP photo", "api",
                 lambda: c.predict(model=cvae, image=handle_file(str(tmp / "photo.jpg")), api_name="/encode_image")),
            Case(f"/compare_models {dataset} ({len(kinds)} models)", "api",
                 lambda: c.predict(dataset=dataset, seed=1, api_name="/compare_models")),
            Case(f"/training_history {vae}", "api", lambda: c.predict(model=vae, api_name="/training_history")),
            Case(f"/export_map_csv {vae}", "api", lambda: c.predict(model=vae, api_name="/export_map_csv")),
            Case(f"/generate_dataset {cvae} 10x100", "api",
                 lambda: c.predict(model=cvae, per_class=100, seed=0, api_name="/generate_dataset")),
        ]
    return cases


def gan_cases(ctx) -> list[Case]:
    """With --gan: the GAN in the compare tab (its event: four columns of images and figures), its traversal grid
    (rows ordered by pixel change) and its training dynamics."""
    if ctx.gan is None:
        return []
    from explorer.modalities.image import png_bytes
    from explorer.tools import compare, dynamics, traversal
    from explorer.ui.tabs.traversal import traversal_html

    reg, gan = ctx.registry, ctx.gan
    lg = reg.get(gan)
    dg, dataset = lg.latent_dim, compare.dataset_key(lg.info.dataset)
    zg, label = [0.5] * dg, (3 if lg.num_classes else None)

    def compare_page():
        from explorer.modalities.image import png_data_uri
        res = compare.compare_models(reg, dataset, 1)
        return [(png_data_uri(m["grid"]), png_data_uri(m["map"]), compare.figures_markdown(m["figures"]))
                for m in res["models"].values()], res["table"]

    def trav_page():
        res = traversal.traverse(lg, zg, label)
        return traversal_html(res), png_bytes(traversal.traversal_image(res))

    cases = [
        Case(f"compare tab {dataset} +{gan} (event: data URIs, figures)", "direct", compare_page),
        Case(f"traverse {gan} {dg}x9 (pixel change)", "direct", lambda: traversal.traverse(lg, zg, label)),
        Case(f"traversal tab {gan} {dg}x9 +html+PNG", "direct", trav_page),
        Case(f"training dynamics {gan}", "direct",
             lambda: [f(dynamics.training_history(reg, gan)) for f in (dynamics.history_figure,
                                                                       dynamics.detail_figure,
                                                                       dynamics.dynamics_note)]),
    ]
    c = ctx.client
    if c is not None:
        cases += [
            Case(f"/traverse {gan} {dg}x9", "api",
                 lambda: c.predict(model=gan, z=zg, label=-1 if label is None else label, api_name="/traverse")),
            Case(f"/training_history {gan}", "api", lambda: c.predict(model=gan, api_name="/training_history")),
        ]
    return cases


def text_cases(ctx) -> list[Case]:
    """A text model (default assets/wordnet-vae; with --text-cvae a text CVAE too): every text action, the plain
    function and the live app's endpoint. Its traversal grid is 32 dimensions x 9 greedy sentences in one batch."""
    if ctx.text is None:
        return []
    from explorer.tools import arithmetic, dynamics, export, interpolation, neighbours, traversal, typed_text

    reg, text, tc = ctx.registry, ctx.text, ctx.text_cvae
    lt = reg.get(text)
    d = lt.latent_dim
    zt = [0.5] * d
    sentence = "a small animal that lives in trees"
    cases = [
        Case(f"decode {text}", "direct", lambda: lt.backend.decode([zt])),
        Case(f"interpolate {text} 8 linear", "direct", lambda: interpolation.interpolate(lt, 0, 1, 8, "linear")),
        Case(f"interpolate {text} 32 slerp", "direct", lambda: interpolation.interpolate(lt, 0, 1, 32, "slerp")),
        Case(f"traverse {text} {d}x9 +table", "direct",
             lambda: traversal.traversal_text(traversal.traverse(lt, zt))),
        Case(f"neighbours {text} k=8", "direct", lambda: neighbours.nearest_neighbours(lt, zt)),
        Case(f"arithmetic {text} (towards class 2)", "direct", lambda: arithmetic.move_towards(lt, zt, 0, 2, 1.0)),
        Case(f"encode typed text {text}", "direct", lambda: typed_text.encode_text(reg, text, sentence)),
        Case(f"training dynamics {text}", "direct",
             lambda: [f(dynamics.training_history(reg, text)) for f in (dynamics.history_figure, dynamics.kl_figure)]),
        Case(f"map CSV {text}", "direct", lambda: export.export_map_csv(reg, text)),
    ]
    if tc is not None:
        cases += [
            Case(f"encode typed text {tc} (+10-class rank)", "direct", lambda: typed_text.encode_text(reg, tc, sentence)),
            Case(f"generate_dataset {tc} 10x100 CSV", "direct", lambda: export.generate_dataset(reg, tc, 100)),
        ]
    c = ctx.client
    if c is not None:
        cases += [
            Case(f"/decode {text}", "api", lambda: c.predict(model=text, z=zt, label=-1, api_name="/decode")),
            Case(f"/reconstruct {text}", "api", lambda: c.predict(model=text, index=7, api_name="/reconstruct")),
            Case(f"/interpolate {text} 8 linear", "api",
                 lambda: c.predict(model=text, index_a=0, index_b=1, steps=8, mode="linear", api_name="/interpolate")),
            Case(f"/interpolate {text} 32 slerp", "api",
                 lambda: c.predict(model=text, index_a=0, index_b=1, steps=32, mode="slerp", api_name="/interpolate")),
            Case(f"/traverse {text} {d}x9", "api", lambda: c.predict(model=text, z=zt, label=-1, api_name="/traverse")),
            Case(f"/neighbours {text} k=8", "api", lambda: c.predict(model=text, z=zt, api_name="/neighbours")),
            Case(f"/move_towards {text}", "api",
                 lambda: c.predict(model=text, z=zt, from_class=0, to_class=2, strength=1.0, api_name="/move_towards")),
            Case(f"/encode_text {text}", "api", lambda: c.predict(model=text, text=sentence, api_name="/encode_text")),
            Case(f"/training_history {text}", "api", lambda: c.predict(model=text, api_name="/training_history")),
            Case(f"/export_map_csv {text}", "api", lambda: c.predict(model=text, api_name="/export_map_csv")),
        ]
        if tc is not None:
            cases += [
                Case(f"/encode_text {tc}", "api", lambda: c.predict(model=tc, text=sentence, api_name="/encode_text")),
                Case(f"/traverse {tc} 32x9", "api",
                     lambda: c.predict(model=tc, z=[0.5] * reg.get(tc).latent_dim, label=2, api_name="/traverse")),
                Case(f"/generate_text_dataset {tc} 10x100", "api",
                     lambda: c.predict(model=tc, per_class=100, seed=0, format="csv",
                                       api_name="/generate_text_dataset")),
            ]
    return cases


CASE_BUILDERS = [latent_cases, page_cases, gan_cases, text_cases]


# ---------------------------------------------------------------------------------------------------------------

def cpu_seconds(pid: int | None) -> float:
    """User + system CPU time of another process so far (utime + stime of /proc/PID/stat); 0 without one."""
    if pid is None:
        return 0.0
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_case(case: Case, repeats: int, server_pid: int | None = None) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) of each of `repeats` calls, after one warm-up call; an api call's CPU counts the server's."""
    case.call()  # warm-up: first calls load the model, import torch, fill caches
    ms, cpu = [], []
    pid = server_pid if case.kind == "api" else None
    for _ in range(repeats):
        c0, s0, t0 = time.process_time(), cpu_seconds(pid), time.perf_counter()
        case.call()
        ms.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0 + cpu_seconds(pid) - s0) * 1000)
    return ms, cpu


def p95(ms: list[float]) -> float:
    return statistics.quantiles(ms, n=20)[-1] if len(ms) >= 2 else ms[0]


def pick(names: list[str], wanted: str | None, kind: str) -> str:
    if wanted:
        return wanted
    for n in names:  # prefer MNIST, then any model of that kind
        if n.startswith("mnist-") and n.endswith(f"-{kind}") or n == f"fake-{kind}":
            return n
    return next(n for n in names if n.endswith(f"-{kind}"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--model", help="an unconditional VAE (default mnist-vae)")
    p.add_argument("--cvae", help="a conditional VAE (default mnist-cvae)")
    p.add_argument("--ae", help="a plain autoencoder (default mnist-ae)")
    p.add_argument("--no-app", action="store_true", help="time only the plain functions")
    p.add_argument("--fake", action="store_true", help="tiny synthetic models instead of the shipped assets")
    p.add_argument("--gan", metavar="DIR", help="a GAN model folder of the same dataset to add (e.g. assets/mnist-gan; "
                   "'fake': a synthetic one, with --fake)")
    p.add_argument("--text", help="a text model to time (default: wordnet-vae when assets/ has it)")
    p.add_argument("--text-cvae", help="a text CVAE to time as well (default: wordnet-cvae when assets/ has it)")
    p.add_argument("-k", default="", help="only cases whose name contains this text")
    args = p.parse_args(argv)

    import torch

    from explorer.testing.apphost import AppServer, shipped_assets_present
    from explorer import ModelRegistry

    torch.set_num_threads(1)  # as the app does (explorer.registry.load_folder)
    tmp = tempfile.TemporaryDirectory(prefix="tools-latency-")
    fake = args.fake or not shipped_assets_present()
    if fake:
        from explorer.testing import make_assets
        assets = make_assets(Path(tmp.name) / "assets", latent_dim=16, n_points=2000, gan=args.gan == "fake")
        print(f"fake models (latent 16, 2,000 points) in {assets}: assets/ has no shipped models or --fake")
    else:
        assets = REPO / "assets"
    extra = [Path(args.gan)] if args.gan and args.gan != "fake" else []
    registry = ModelRegistry.discover(assets, extra=extra)
    from explorer.testing import make_model_folder
    big = Path(tmp.name) / "big" / "big-vae"
    make_model_folder(big, kind="vae", latent_dim=32, n_points=2000, arch="conv", small=False)
    names = registry.names()
    gan = (registry.info(registry.default).name if extra else pick(names, None, "gan")) if args.gan else None
    ctx = SimpleNamespace(registry=registry, vae=pick(names, args.model, "vae"), cvae=pick(names, args.cvae, "cvae"),
                          ae=pick(names, args.ae, "ae"), gan=gan, client=None, big=ModelRegistry([big]),
                          text=args.text or ("wordnet-vae" if "wordnet-vae" in names else None),
                          text_cvae=args.text_cvae or ("wordnet-cvae" if "wordnet-cvae" in names else None))
    server = bare = None
    try:
        if not args.no_app:
            from gradio_client import Client
            server = AppServer(env={"EXPLORER_ASSETS_DIR": str(assets)},
                               args=[a for d in extra for a in ("--model-dir", str(d))])
            ctx.client = Client(server.url, verbose=False)
            # The reference, in the same run: a bare Gradio endpoint in this process answering with a ready image
            # (benchmarks/gan_latency.py), the floor an API call through gradio_client sets on this machine.
            from gan_latency import bare_reference
            bare, bare_url = bare_reference()
            ref = Client(bare_url, verbose=False)
            reference = [Case("bare Gradio endpoint: a ready image (reference)", "api",
                              lambda: ref.predict([0.0], api_name="/ready"))]
        else:
            bare, reference = None, []
        cases = reference + [c for build in CASE_BUILDERS for c in build(ctx) if args.k in c.name]
        print(f"{'action':<48} {'how':<7} {'median ms':>10} {'p95 ms':>8} {'cpu ms':>7}  (n={args.repeats}, "
              "target <= 500 ms)")
        for case in cases:
            try:
                ms, cpu = time_case(case, args.repeats, server.pid if server is not None else None)
            except Exception as e:  # noqa: BLE001 - a broken case is reported, the others still run
                print(f"{case.name:<48} {case.kind:<7} failed: {type(e).__name__}: {str(e)[:80]}")
                continue
            flag = "" if statistics.median(ms) <= 500 else "  over target"
            print(f"{case.name:<48} {case.kind:<7} {statistics.median(ms):10.1f} {p95(ms):8.1f} "
                  f"{statistics.median(cpu):7.1f}{flag}", flush=True)
    finally:
        if server is not None:
            server.stop()
        if bare is not None:
            bare.close()
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
