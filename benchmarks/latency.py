"""Latency of the explorer in a real browser (Debian chromium), on the shipped assets.

    python benchmarks/latency.py [--moves 60] [--clicks 25] [--model mnist-vae]

Prints three figures, each beside its target, and a reference measured in the same run:
  start-up         `python app.py` until GET / answers               target <= 5 s
  slider -> image  input event on a slider until the new decoded image is painted     target median <= 60 ms
  click -> recon   mouse click on a map point until its reconstruction is painted    target median <= 300 ms
  bare Gradio app  the same slider measure on benchmarks/bare_app.py (one slider, one ready image, no model): the
                   floor that Gradio, the browser and this machine set
Times are taken inside the page with performance.now(): from the event to the next animation frame after the new
image has loaded. A script that prints figures, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from explorer.testing.browser import AppServer, launch_browser, pick_model, wait_ready

# Arm a one-shot timer, then resolve when the <img> inside #target has a new src, has loaded, and a frame is painted.
ARM = """(target) => {
  const im0 = document.querySelector('#' + target + ' img');
  window.__xpBefore = im0 ? im0.src : null;
  window.__xpT0 = null;
  window.__xpDone = new Promise((resolve) => {
    setTimeout(() => resolve(null), 5000);  // nothing changed (e.g. the same point clicked twice)
    const check = () => {
      const im = document.querySelector('#' + target + ' img');
      if (window.__xpT0 !== null && im && im.src !== window.__xpBefore) {
        const paint = () => requestAnimationFrame(() => resolve(performance.now() - window.__xpT0));
        if (im.complete && im.naturalWidth > 0) paint(); else im.addEventListener('load', paint, {once: true});
      } else setTimeout(check, 1);
    };
    check();
  });
}"""

SLIDE = """([i, v]) => {
  const rng = document.querySelector('#z-' + i + ' input[type=range]');
  const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  window.__xpT0 = performance.now();
  set.call(rng, String(v));
  rng.dispatchEvent(new Event('input', {bubbles: true}));
}"""

POINT = """([t, k]) => {
  const gd = document.querySelector('#latent-map .xp-map-plot');
  const fl = gd._fullLayout, tr = gd.data[t], r = gd.getBoundingClientRect();
  return {x: r.left + fl._size.l + fl.xaxis.l2p(tr.x[k]), y: r.top + fl._size.t + fl.yaxis.l2p(tr.y[k]),
          n: tr.x.length, traces: gd.data.length};
}"""


def summary(name: str, ms: list[float], target: str) -> str:
    q = statistics.quantiles(ms, n=10)
    return (f"{name:<16} median {statistics.median(ms):6.1f} ms   p10 {q[0]:6.1f}   p90 {q[-1]:6.1f}   "
            f"n={len(ms)}   (target {target})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--moves", type=int, default=60)
    ap.add_argument("--clicks", type=int, default=25)
    ap.add_argument("--model", default=None, help="model to measure (default: the app's default model)")
    ap.add_argument("--app-args", nargs="*", default=[], help="extra arguments for app.py")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    server = AppServer(args=args.app_args)
    print(f"start-up         {server.ready_s:6.2f} s until GET / answered   (target <= 5 s)")
    rnd = random.Random(0)
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            t = time.perf_counter()
            page.goto(server.url)
            wait_ready(page)
            print(f"first page load  {time.perf_counter() - t:6.2f} s until the map and image are drawn")
            if args.model:
                pick_model(page, args.model)
                page.wait_for_timeout(1500)
                wait_ready(page)
            model = page.input_value("#model-picker input")
            d = page.locator("#latent-sliders input[type=range]:visible").count()
            print(f"model            {model} ({d} sliders)")

            print(summary("slider -> image", slider_moves(page, d, args.moves, rnd), "median <= 60 ms"))

            clicks = []
            for k in range(args.clicks + 2):
                t_idx = rnd.randrange(page.evaluate(POINT, [0, 0])["traces"] - 1)
                n = page.evaluate(POINT, [t_idx, 0])["n"]
                pos = page.evaluate(POINT, [t_idx, rnd.randrange(n)])
                page.mouse.move(pos["x"] - 15, pos["y"] - 15)
                page.mouse.move(pos["x"], pos["y"], steps=2)
                page.wait_for_timeout(80)
                page.evaluate(ARM, "selected-reconstruction")
                page.evaluate("() => document.addEventListener('mousedown', "
                              "() => { window.__xpT0 = performance.now(); }, {once: true, capture: true})")
                page.mouse.click(pos["x"], pos["y"])
                ms = page.evaluate("window.__xpDone")
                if ms is not None and k >= 2:
                    clicks.append(ms)
                page.wait_for_timeout(300)
            if len(clicks) >= 2:
                print(summary("click -> recon", clicks, "median <= 300 ms"))
            else:
                print("click -> recon   too few clicks landed on a point to report")
            # The reference, in the same run on the same machine: a bare Gradio app whose slider answers with a
            # ready PNG (benchmarks/bare_app.py). The explorer's own cost is the difference.
            server.stop()
            bare = AppServer(script="benchmarks/bare_app.py")
            page.goto(bare.url)
            page.wait_for_selector("#decoded-image img", timeout=30_000)
            ref = summary("bare Gradio app", slider_moves(page, 1, args.moves, rnd), "")
            print(ref.replace("(target )", f"(reference: no model; start-up {bare.ready_s:.2f} s)"))
            bare.stop()
            browser.close()
    finally:
        server.stop()


def slider_moves(page, d: int, moves: int, rnd: random.Random) -> list[float]:
    """ms from a slider's input event to the painted frame with the new #decoded-image, for `moves` moves of the
    first d sliders (after 5 warm-up moves)."""
    slide = []
    for k in range(moves + 5):
        page.evaluate(ARM, "decoded-image")
        page.evaluate(SLIDE, [k % d, round(rnd.uniform(-2.5, 2.5), 2)])
        ms = page.evaluate("window.__xpDone")
        if ms is not None and k >= 5:  # the first moves warm up caches on both sides
            slide.append(ms)
        page.wait_for_timeout(120)  # a pause, so each move is measured on its own
    return slide


if __name__ == "__main__":
    main()
