"""Switching the map's view in Debian's chromium, on a shipped model: the projection (PCA, t-SNE, UMAP) in 2-D,
and 2-D to 3-D and back.

    python benchmarks/map_switch.py                      # mnist-vae, 5 rounds
    python benchmarks/map_switch.py --model fashion-mnist-vae --rounds 8

Each time runs from the click on the radio button until the map's element says the new view is drawn
(static/latent_map.js sets data-projection and data-dims once Plotly has drawn the figure), polled every
animation frame: timed in the page from the mousedown, and outside from playwright's click() call (which adds its
own checks and round trips). The page switches the view from the radio button's own change event, with the
model's views fetched once after its map is drawn; gradio's event to the server follows. WebGL runs in software
on a machine without a GPU, which is what the 3-D view's figures measure here.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from explorer.testing.browser import browser_page, serving, show_model  # noqa: E402

PLOT = "#latent-map .xp-map-plot"


def timed(page, selector: str, projection: str, dims: str) -> tuple[float, float]:
    """(in the page, outside) in ms: from the mousedown on the radio button until the new view is drawn, timed in
    the page; and from playwright's click() call until it sees it (its own actionability checks and round trips
    included)."""
    page.evaluate("() => { window.__xpDown = null; document.addEventListener('mousedown', "
                  "() => { window.__xpDown = performance.now(); }, {capture: true, once: true}); }")
    t0 = time.perf_counter()
    page.locator(selector).click()
    handle = page.wait_for_function("([s, p, d]) => { const e = document.querySelector(s);"
                                    " return e.dataset.projection === p && (e.dataset.dims || '2') === d"
                                    " && performance.now() - window.__xpDown; }",
                                    arg=[PLOT, projection, dims], polling="raf", timeout=60_000)
    return float(handle.json_value()), (time.perf_counter() - t0) * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist-vae")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    proj = lambda label: f'#projection-picker label:has-text("{label}")'   # noqa: E731
    view = lambda label: f'#map-dims label:has-text("{label}")'            # noqa: E731
    times: dict[str, list[tuple[float, float]]] = {}
    with serving() as server, browser_page(server.url) as page:
        show_model(page, args.model)
        page.wait_for_timeout(3000)      # the page fetches the model's other views once its map is drawn
        for _ in range(args.rounds):
            for label, key in (("t-SNE", "tsne"), ("UMAP", "umap"), ("PCA", "pca")):
                times.setdefault(f"2-D: to {label}", []).append(timed(page, proj(label), key, "2"))
            times.setdefault("2-D to 3-D (PCA)", []).append(timed(page, view("3-D"), "pca", "3"))
            times.setdefault("3-D: to UMAP", []).append(timed(page, proj("UMAP"), "umap", "3"))
            times.setdefault("3-D: to PCA", []).append(timed(page, proj("PCA"), "pca", "3"))
            times.setdefault("3-D to 2-D (PCA)", []).append(timed(page, view("2-D"), "pca", "2"))
    print(f"{args.model}, {args.rounds} rounds, ms (target: median <= 300 ms)")
    print(f"  {'switch':20s} {'in the page: median':>20s} {'max':>6s} {'playwright click: median':>25s} {'max':>6s}")
    for name, ts in times.items():
        inside, outside = [t[0] for t in ts], [t[1] for t in ts]
        print(f"  {name:20s} {statistics.median(inside):20.0f} {max(inside):6.0f} {statistics.median(outside):25.0f}"
              f" {max(outside):6.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
