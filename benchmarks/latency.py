"""Latency of the explorer in a real browser (Debian chromium), on the shipped assets.

    python benchmarks/latency.py [--moves 60] [--clicks 25] [--model mnist-vae ...] [--all-models]
    python benchmarks/latency.py --model fashion-mnist-vae --test-only-copy   # 70,000 points against 10,000

Prints each figure beside its target, and beside it the same measure on a bare Gradio app, in the same run:
  start-up          `python app.py` until GET / answers                                    target <= 3 s
  slider (key)      a key press (PageUp/PageDown) on a focused slider until the new decoded image is painted
  slider (drag)     a mouse move while dragging a slider's thumb until the new decoded image is painted
                    both: target median <= 16.7 ms (one frame at 60 Hz), p90 <= 33 ms
  click -> recon    mouse click on a map point until its reconstruction is painted         target median <= 150 ms
  bare Gradio app   benchmarks/bare_app.py: one slider whose server event answers with a ready PNG (no model), the
                    floor that a server round trip through Gradio, the browser and this machine set; the ratio is
                    explorer / bare
--test-only-copy serves, beside each --model, a copy of it whose map holds its test points alone (the same weights
and coordinates, the training rows left out: `NAME-test-only`), and measures both in the same run: what the map's
size costs the slider and the click.
The page decodes slider moves itself (onnxruntime-web, explorer/static/decoder.js); the line under the image says
so, and the script prints which mode each model ran in. Times are taken inside the page with performance.now(): from
the input (keydown, pointermove, mousedown) to the next animation frame after the new image has loaded. A script
that prints figures, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from explorer.testing.browser import SHIPPED, AppServer, launch_browser, pick_model, wait_decoder, wait_ready

REPO = Path(__file__).resolve().parent.parent


def test_only_copy(src: Path, dst: Path) -> None:
    """dst: model folder src with a map of its test points alone (its other files linked, not copied)."""
    from training.evaluate import MAP_NAME, load_latent_map, load_map_images, save_latent_map

    arrays = load_latent_map(src)
    images = load_map_images(src, arrays)
    n = len(arrays["mu"])
    keep = arrays["split"] == 0 if "split" in arrays else np.ones(n, bool)
    out = {k: (v[keep] if v.ndim and v.shape[0] == n else v) for k, v in arrays.items()
           if k not in ("split", "image_files", "images_sha")}
    out["images"] = images[keep]
    dst.mkdir(parents=True)
    for f in src.iterdir():
        if f.name != MAP_NAME and not f.name.startswith("latent_map_images-"):
            os.symlink(f.resolve(), dst / f.name)
    save_latent_map(dst, out)

# Arm a one-shot timer: window.__xpT0 is set by the first `start` event (captured on the document, so before any
# page handler), and __xpDone resolves at the first animation frame after the new image is there to paint: the
# <img> inside #target has a new src and has loaded, or (the page's own decode) the canvas laid over it has been
# drawn again. A MutationObserver notices either without polling.
ARM = """([target, start]) => {
  const box = document.querySelector('#' + target);
  const im0 = box.querySelector('img'), live0 = box.querySelector('canvas.xp-live');
  const before = im0 ? im0.src : null, drawnBefore = live0 ? live0.dataset.drawn : null;
  const text0 = box.querySelector('.xp-sentence'), textBefore = text0 ? text0.textContent : null;
  window.__xpT0 = null;
  if (start) document.addEventListener(start, () => { if (window.__xpT0 === null) window.__xpT0 = performance.now(); },
                                       {once: true, capture: true});
  window.__xpDone = new Promise((resolve) => {
    let done = false;
    const finish = (v) => { if (!done) { done = true; obs.disconnect(); resolve(v); } };
    const timer = setTimeout(() => finish(null), 5000);  // nothing changed (e.g. the same picture again)
    const paint = () => requestAnimationFrame(() => { clearTimeout(timer); finish(performance.now() - window.__xpT0); });
    const check = () => {
      if (window.__xpT0 === null) return;
      // the page's own decode: the canvas over the image holds the new pixels (painted in this frame)
      const live = box.querySelector('canvas.xp-live');
      if (live && live.dataset.drawn !== drawnBefore && live.offsetParent !== null) { obs.disconnect(); paint(); return; }
      // a text model: the sentence shown large has new words (in the DOM now, painted in this frame)
      const sent = box.querySelector('.xp-sentence');
      if (sent && !box.querySelector('img')) {
        if (sent.textContent === textBefore) return;
        obs.disconnect(); paint(); return;
      }
      const im = box.querySelector('img');
      if (!im || im.src === before) return;
      obs.disconnect();
      if (im.complete && im.naturalWidth > 0) paint(); else im.addEventListener('load', paint, {once: true});
    };
    const obs = new MutationObserver(check);
    obs.observe(box, {subtree: true, childList: true, characterData: true, attributes: true,
                      attributeFilter: ['src', 'data-drawn']});
  });
}"""

# The map's point traces (one per class, or per class and split; not the legend-only entries or the marker), their
# count, and trace t's point k on screen.
POINT = """([t, k]) => {
  const gd = document.querySelector('#latent-map .xp-map-plot');
  const pts = gd.data.filter((tr) => tr.customdata && tr.customdata.length && !tr.xp_legend && tr.visible !== false);
  const fl = gd._fullLayout, tr = pts[t], r = gd.getBoundingClientRect();
  return {x: r.left + fl._size.l + fl.xaxis.l2p(tr.x[k]), y: r.top + fl._size.t + fl.yaxis.l2p(tr.y[k]),
          n: tr.x.length, traces: pts.length};
}"""


def summary(name: str, ms: list[float], target: str = "", ref: list[float] | None = None) -> str:
    """One line: median, p10, p90 and count; with `ref`, the bare app's median and the ratio."""
    if len(ms) < 2:
        return f"{name:<17} too few measurements ({len(ms)})"
    q = statistics.quantiles(ms, n=10)
    line = (f"{name:<17} median {statistics.median(ms):6.1f} ms   p10 {q[0]:6.1f}   p90 {q[-1]:6.1f}   "
            f"n={len(ms)}")
    if ref:
        line += f"   | bare Gradio {statistics.median(ref):6.1f} ms, ratio {statistics.median(ms) / statistics.median(ref):4.2f}"
    return line + (f"   (target {target})" if target else "")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--clicks", type=int, default=25)
    ap.add_argument("--model", nargs="+", default=None, help="models to measure (default: the app's default model)")
    ap.add_argument("--test-only-copy", action="store_true",
                    help="also measure a copy of each --model whose map holds its test points alone")
    ap.add_argument("--all-models", action="store_true", help="measure the sliders of every model in the picker")
    ap.add_argument("--app-args", nargs="*", default=[], help="extra arguments for app.py")
    ap.add_argument("--no-wasm", action="store_true",
                    help="delete window.WebAssembly before the page loads: the page decodes on the server")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    # The reference first, in the same run on the same machine: the bare app's slider through a server round trip.
    rnd = random.Random(0)
    with sync_playwright() as p:
        browser = launch_browser(p)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        if args.no_wasm:
            page.add_init_script("delete window.WebAssembly;")
        bare = AppServer(script="benchmarks/bare_app.py")
        try:
            page.goto(bare.url)
            page.wait_for_selector("#decoded-image img", timeout=30_000)
            ref = {"key": key_moves(page, 1, args.moves, rnd), "drag": drag_moves(page, 1, args.moves, rnd)}
        finally:
            bare.stop()
        print(f"bare Gradio app  start-up {bare.ready_s:.2f} s; slider (key) median {statistics.median(ref['key']):.1f} ms,"
              f" slider (drag) median {statistics.median(ref['drag']):.1f} ms   (reference: a server round trip, no model)")

        app_args = list(args.app_args)
        models = list(args.model) if args.model else [None]
        if args.test_only_copy:
            if not args.model:
                ap.error("--test-only-copy needs --model")
            tmp = tempfile.mkdtemp(prefix="latency-assets-")
            for name in args.model:
                os.symlink(REPO / "assets" / name, Path(tmp) / name)
                test_only_copy(REPO / "assets" / name, Path(tmp) / f"{name}-test-only")
            models = [m for name in args.model for m in (name, f"{name}-test-only")]
            app_args += ["--assets", tmp]
        server = AppServer(args=app_args)
        print(f"start-up         {server.ready_s:6.2f} s until GET / answered   (target <= 3 s)")
        try:
            t = time.perf_counter()
            page.goto(server.url)
            wait_ready(page)
            print(f"first page load  {time.perf_counter() - t:6.2f} s until the map and image are drawn")
            if args.all_models:
                models = SHIPPED
            for name in models:
                if name and name != page.input_value("#model-picker input"):
                    pick_model(page, name)
                    page.wait_for_function("(n) => window.__xpDecoder && window.__xpDecoder.model === n", arg=name)
                    wait_ready(page)
                mode = wait_decoder(page)
                model = page.input_value("#model-picker input")
                d = page.locator("#latent-sliders input[type=range]:visible").count()
                print(f"model            {model} ({d} sliders), decoded in the {mode}"
                      + ("" if mode == "browser" else f": {page.inner_text('#decode-mode')}"))
                print(summary("slider (key)", key_moves(page, d, args.moves, rnd), "median <= 16.7 ms, p90 <= 33 ms",
                              ref["key"]))
                print(summary("slider (drag)", drag_moves(page, d, args.moves, rnd), "median <= 16.7 ms, p90 <= 33 ms",
                              ref["drag"]))
                runs = page.evaluate("() => window.__xpDecoder && window.__xpDecoder.lastMs")
                if runs is not None and mode == "browser":
                    print(f"                  (one decode in the page, last: {runs:.2f} ms)")
                if len(models) > 1 and not args.all_models:
                    print(summary("click -> recon", map_clicks(page, args.clicks, rnd), "median <= 150 ms"))
            if len(models) == 1 or args.all_models:
                print(summary("click -> recon", map_clicks(page, args.clicks, rnd), "median <= 150 ms"))
            browser.close()
        finally:
            server.stop()


def key_moves(page, d: int, moves: int, rnd: random.Random) -> list[float]:
    """ms from a key press (PageUp / PageDown: a tenth of the range) on a focused slider to the painted frame with
    the new #decoded-image, for `moves` presses (10 per slider, as a person moves one knob at a time, over the first d
    sliders; after 5 warm-up presses)."""
    out = []
    for k in range(moves + 5):
        i = (k // 10) % d
        rng = page.locator(f"#z-{i} input[type=range]")
        rng.scroll_into_view_if_needed()
        rng.focus()
        v, lo, hi = (float(rng.evaluate(f"el => el.{a}")) for a in ("value", "min", "max"))
        key = "PageUp" if v < (lo + hi) / 2 + rnd.uniform(-(hi - lo) / 4, (hi - lo) / 4) else "PageDown"
        page.evaluate(ARM, ["decoded-image", "keydown"])
        page.keyboard.press(key)
        ms = page.evaluate("window.__xpDone")
        if ms is not None and k >= 5:  # the first moves warm up caches on both sides
            out.append(ms)
        page.wait_for_timeout(120)  # a pause, so each move is measured on its own
    return out


def drag_moves(page, d: int, moves: int, rnd: random.Random) -> list[float]:
    """ms from a mouse move while a slider's thumb is held to the painted frame with the new #decoded-image, for
    `moves` moves (10 per drag, over the first d sliders, after 5 warm-up moves)."""
    out, k = [], 0
    while len(out) < moves and k < moves * 3:
        i = (k // 10) % d
        rng = page.locator(f"#z-{i} input[type=range]")
        rng.scroll_into_view_if_needed()
        box = rng.bounding_box()
        y = box["y"] + box["height"] / 2
        lo, hi, v = (float(rng.evaluate(f"el => el.{a}")) for a in ("min", "max", "value"))
        x = box["x"] + 8 + (box["width"] - 16) * (v - lo) / (hi - lo)  # the thumb
        page.mouse.move(x, y)
        page.mouse.down()
        for _ in range(10):
            x = box["x"] + box["width"] * rnd.uniform(0.15, 0.85)
            page.evaluate(ARM, ["decoded-image", "pointermove"])
            page.mouse.move(x, y)
            ms = page.evaluate("window.__xpDone")
            if ms is not None and k >= 5:
                out.append(ms)
            k += 1
            page.wait_for_timeout(60)
        page.mouse.up()
        page.wait_for_timeout(250)
    return out


def map_clicks(page, clicks: int, rnd: random.Random) -> list[float]:
    """ms from mousedown on a map point to the painted frame with its reconstruction."""
    out = []
    for k in range(clicks + 2):
        t_idx = rnd.randrange(page.evaluate(POINT, [0, 0])["traces"])
        n = page.evaluate(POINT, [t_idx, 0])["n"]
        pos = page.evaluate(POINT, [t_idx, rnd.randrange(n)])
        page.mouse.move(pos["x"] - 15, pos["y"] - 15)
        page.mouse.move(pos["x"], pos["y"], steps=2)
        page.wait_for_timeout(80)
        page.evaluate(ARM, ["selected-reconstruction", "mousedown"])
        page.mouse.click(pos["x"], pos["y"])
        ms = page.evaluate("window.__xpDone")
        if ms is not None and k >= 2:
            out.append(ms)
        page.wait_for_timeout(300)
    return out


if __name__ == "__main__":
    main()
