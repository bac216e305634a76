"""Take the README screenshot of the real app in a real browser (Debian chromium), on the shipped assets.

    python benchmarks/screenshot.py [--out docs/screenshot.png] [--model mnist-vae] [--point 1234]

Starts `python app.py`, picks the model, clicks one test image on the map (so the reconstruction and the sliders
show something) and saves a PNG of the page.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from explorer.testing.browser import (REPO, AppServer, click_map_point, img_src, launch_browser, pick_model,
                                      wait_ready, wait_src_change)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "docs" / "screenshot.png"))
    ap.add_argument("--model", default="mnist-vae")
    ap.add_argument("--trace", type=int, default=3, help="class (trace) of the point to click")
    ap.add_argument("--point", type=int, default=40, help="position of the point within that class")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=1250)
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    server = AppServer()
    try:
        with sync_playwright() as p:
            browser = launch_browser(p)
            page = browser.new_page(viewport={"width": args.width, "height": args.height}, device_scale_factor=1)
            page.goto(server.url)
            wait_ready(page)
            if page.input_value("#model-picker input") != args.model:
                pick_model(page, args.model)
                page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model"
                                       " === m", arg=args.model, timeout=20_000)
            page.wait_for_timeout(800)
            before = img_src(page, "selected-reconstruction")
            click_map_point(page, trace=args.trace, point=args.point)
            wait_src_change(page, "selected-reconstruction", before)
            page.mouse.move(5, 5)  # no hover label in the picture
            page.wait_for_timeout(1200)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.out, full_page=False)
            browser.close()
        print(f"wrote {args.out}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
