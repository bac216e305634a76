"""End-to-end, in Debian's chromium: zoomed in until the view holds at most 2,000 points, the map draws the images
themselves at their positions; clicks still reach the points, and a pan redraws the images where the points went."""
from __future__ import annotations

import pytest

from explorer.testing.browser import click_map_point, page_showing

pytestmark = pytest.mark.e2e
PLOT = "#latent-map .xp-map-plot"
VISIBLE = """(sel) => { const gd = document.querySelector(sel), fl = gd._fullLayout;
    const [xa, xb] = [...fl.xaxis.range].sort((a, b) => a - b), [ya, yb] = [...fl.yaxis.range].sort((a, b) => a - b);
    let n = 0; for (const tr of gd.data) { if (!tr.customdata) continue;
      tr.x.forEach((x, k) => { if (x >= xa && x <= xb && tr.y[k] >= ya && tr.y[k] <= yb) n++; }); } return n; }"""


@pytest.fixture(scope="module")
def page(map_app):
    with page_showing(map_app, "fake-vae") as pg:     # a 2,600-point map (tests/conftest.py)
        yield pg


def thumbs(page) -> int:
    return int(page.eval_on_selector(PLOT, "el => el.dataset.thumbs || '0'"))


def inked(page) -> int:
    """How many pixels of the thumbnail canvas are painted."""
    return page.evaluate("""(sel) => { const c = document.querySelector(sel + ' canvas.xp-thumbs'); if (!c) return 0;
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""", PLOT)


def test_zooming_in_draws_the_images_clicks_reach_the_points_and_a_pan_moves_them(page):
    page.locator(PLOT).scroll_into_view_if_needed()
    assert page.evaluate(VISIBLE, PLOT) > 2000 and thumbs(page) == 0        # the whole map: dots
    box = page.locator(PLOT).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.5)
    for _ in range(30):                                                      # wheel zoom, as a person does
        page.mouse.wheel(0, -200)
        page.wait_for_timeout(200)
        if page.evaluate(VISIBLE, PLOT) <= 2000:
            break
    page.wait_for_function("(sel) => Number(document.querySelector(sel).dataset.thumbs || 0) > 0", arg=PLOT,
                           timeout=15_000)
    page.wait_for_timeout(500)
    n = page.evaluate(VISIBLE, PLOT)
    assert 0 < thumbs(page) == n <= 2000 and inked(page) > 0
    # a click on a point under its image still loads it
    info = page.evaluate("""(sel) => { const gd = document.querySelector(sel), fl = gd._fullLayout;
        for (const [t, tr] of gd.data.entries()) { if (!tr.customdata) continue;
          for (let k = 0; k < tr.x.length; k++) { const px = fl.xaxis.l2p(tr.x[k]), py = fl.yaxis.l2p(tr.y[k]);
            if (px > 40 && px < fl._size.w - 40 && py > 40 && py < fl._size.h - 40) return [t, k]; } } }""", PLOT)
    index = click_map_point(page, *info)
    page.wait_for_function("([sel, i]) => document.querySelector(sel).dataset.clicked === String(i)",
                           arg=[PLOT, index], timeout=10_000)
    # a pan: the images follow their points
    before = page.evaluate(f"(sel) => document.querySelector(sel)._fullLayout.xaxis.range.slice()", PLOT)
    page.locator(f'{PLOT} .modebar-btn[data-val="pan"]').click()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.5, steps=6)
    page.mouse.up()
    page.wait_for_function("([sel, r]) => document.querySelector(sel)._fullLayout.xaxis.range[0] !== r[0]",
                           arg=[PLOT, before], timeout=10_000)
    page.wait_for_timeout(800)
    assert thumbs(page) == page.evaluate(VISIBLE, PLOT) > 0
