"""The map's thumbnails in Debian's chromium: zoom in on a shipped model's map with the mouse wheel until the view
holds at most 2,000 points, then pan.

    python benchmarks/thumbnails.py                 # mnist-vae, the shipped assets
    python benchmarks/thumbnails.py --model fashion-mnist-vae --pans 60

Prints how many images were drawn, the time from the wheel step that brought the view under 2,000 points until
the images were on the canvas (the sprite fetched from the server and decoded), and how long each redraw of the
images took while panning (plot.dataset.thumbMs, set by static/latent_map.js), beside the frame budget of 16.7 ms.
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
VISIBLE = """(sel) => { const gd = document.querySelector(sel), fl = gd._fullLayout;
    const [xa, xb] = [...fl.xaxis.range].sort((a, b) => a - b), [ya, yb] = [...fl.yaxis.range].sort((a, b) => a - b);
    let n = 0; for (const tr of gd.data) { if (!tr.customdata) continue;
      tr.x.forEach((x, k) => { if (x >= xa && x <= xb && tr.y[k] >= ya && tr.y[k] <= yb) n++; }); } return n; }"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="mnist-vae")
    p.add_argument("--pans", type=int, default=40, help="mouse moves in the pan gesture")
    args = p.parse_args(argv)
    with serving() as server, browser_page(server.url) as page:
        show_model(page, args.model)
        page.locator(PLOT).scroll_into_view_if_needed()
        box = page.locator(PLOT).bounding_box()
        page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
        steps = 0
        while page.evaluate(VISIBLE, PLOT) > 2000 and steps < 60:
            page.mouse.wheel(0, -150)
            steps += 1
            page.wait_for_timeout(120)
        t0 = time.perf_counter()
        page.wait_for_function("(sel) => Number(document.querySelector(sel).dataset.thumbs || 0) > 0", arg=PLOT,
                               timeout=30_000, polling=5)
        fetched = (time.perf_counter() - t0) * 1000
        page.wait_for_timeout(500)
        drawn = int(page.eval_on_selector(PLOT, "el => el.dataset.thumbs"))
        page.locator(f'{PLOT} .modebar-btn[data-val="pan"]').click()
        page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        page.mouse.down()
        times = []
        for i in range(args.pans):
            page.mouse.move(box["x"] + box["width"] * (0.5 - 0.4 * i / args.pans), box["y"] + box["height"] * 0.5)
            page.wait_for_timeout(30)
            times.append(float(page.eval_on_selector(PLOT, "el => el.dataset.thumbMs || 'nan'")))
        page.mouse.up()
    times.sort()
    print(f"{args.model}: {steps} wheel steps to at most 2,000 points; {drawn} images drawn")
    print(f"  last wheel step -> images on the canvas: {fetched:.0f} ms (the sprite from the server, decoded)")
    print(f"  one redraw of the images while panning: median {statistics.median(times):.2f} ms, "
          f"p90 {times[int(0.9 * (len(times) - 1))]:.2f} ms, max {times[-1]:.2f} ms "
          f"(frame budget at 60 Hz: 16.7 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
