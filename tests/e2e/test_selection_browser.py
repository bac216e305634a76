"""End-to-end, in Debian's chromium: the map's lasso and box selections. A lasso around part of the map shows the
selected images as a grid with their class counts and downloads them as CSV; a box selects exactly the points
inside it, and its mean code goes into the sliders; a double click clears the selection."""
from __future__ import annotations

import csv

import numpy as np
import pytest

from explorer.testing.browser import page_showing, slider_values

pytestmark = pytest.mark.e2e
PLOT = "#latent-map .xp-map-plot"


@pytest.fixture(scope="module")
def page(map_app):
    with page_showing(map_app, "fake-cvae") as pg:     # a 200-point CVAE map (tests/conftest.py)
        yield pg


def plot_area(page) -> dict:
    """The plotting area of the map on the page, in pixels."""
    page.locator(PLOT).scroll_into_view_if_needed()
    return page.evaluate("""(sel) => { const gd = document.querySelector(sel), s = gd._fullLayout._size;
        const r = gd.getBoundingClientRect(); return {x: r.left + s.l, y: r.top + s.t, w: s.w, h: s.h}; }""", PLOT)


def use_tool(page, tool: str) -> None:
    page.locator(PLOT).hover()
    page.locator(f'{PLOT} .modebar-btn[data-val="{tool}"]').click()


def drag_through(page, points) -> None:
    page.eval_on_selector(PLOT, "el => { delete el.dataset.selected; }")   # wait_selected waits for the new one
    page.mouse.move(*points[0])
    page.mouse.down()
    for pt in points[1:]:
        page.mouse.move(*pt, steps=4)
    page.mouse.up()


def wait_selected(page, timeout=10_000) -> int:
    """The number of points the last drag selected, once the panel shows that selection's counts."""
    page.wait_for_function("""(sel) => { const n = document.querySelector(sel).dataset.selected;
        const c = document.querySelector('#selection-counts');
        return n !== undefined && c && c.offsetParent !== null && c.innerText.startsWith(n + ' point'); }""",
                           arg=PLOT, timeout=timeout)
    return int(page.eval_on_selector(PLOT, "el => el.dataset.selected"))


def test_a_lasso_shows_the_selected_images_and_downloads_them_as_csv(page, tmp_path):
    use_tool(page, "lasso")
    a = plot_area(page)
    cx, cy, rx, ry = a["x"] + a["w"] / 2, a["y"] + a["h"] / 2, a["w"] * 0.3, a["h"] * 0.3
    ring = [(cx + rx * np.cos(t), cy + ry * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 13)]
    drag_through(page, ring)
    n = wait_selected(page)
    assert n > 0
    counts = page.inner_text("#selection-counts")
    assert counts.startswith(f"{n} point") and sum(int(c) for c in __import__("re").findall(r"×(\d+)", counts)) == n
    assert page.eval_on_selector("#selection-grid img", "el => el.src").startswith("data:image/png")
    with page.expect_download() as dl:
        page.click("#selection-csv")
    path = tmp_path / "selection.csv"
    dl.value.save_as(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n and {r["split"] for r in rows} == {"test"}
    assert not page.errors, page.errors


def test_a_box_selects_the_points_inside_it_and_its_mean_code_loads_into_the_sliders(page):
    from explorer import ModelRegistry
    use_tool(page, "select")
    a = plot_area(page)
    x0, y0, x1, y1 = a["x"] + a["w"] * 0.15, a["y"] + a["h"] * 0.2, a["x"] + a["w"] * 0.6, a["y"] + a["h"] * 0.85
    # The box in data coordinates, taken where the drag is made (the page may scroll once the panel shows).
    box = page.evaluate("""([sel, x0, y0, x1, y1]) => {
        const gd = document.querySelector(sel), fl = gd._fullLayout, r = gd.getBoundingClientRect();
        const px = (x) => fl.xaxis.p2l(x - r.left - fl._size.l), py = (y) => fl.yaxis.p2l(y - r.top - fl._size.t);
        return [px(x0), px(x1), py(y1), py(y0)]; }""", [PLOT, x0, y0, x1, y1])
    drag_through(page, [(x0, y0), (x1, y1)])
    n = wait_selected(page)
    # The points inside the box, from the figure's own data.
    inside = page.evaluate("""([sel, [xa, xb, ya, yb]]) => {
        const gd = document.querySelector(sel), out = [];
        for (const tr of gd.data) { if (!tr.customdata) continue;
          tr.x.forEach((x, k) => { if (x > xa && x < xb && tr.y[k] > ya && tr.y[k] < yb) out.push(tr.customdata[k]); }); }
        return out; }""", [PLOT, box])
    assert n == len(inside) > 0
    loaded = ModelRegistry.discover(page.root, []).get("fake-cvae")
    mean = loaded.latent_map.mu[sorted(inside)].mean(axis=0)
    page.click("#selection-use")
    page.wait_for_function("() => document.querySelector('#status').innerText.includes('selected points')",
                           timeout=10_000)
    assert np.allclose(slider_values(page, 3), mean, atol=0.011)      # the sliders' step is 0.01
    assert not page.errors, page.errors


def test_a_double_click_clears_the_selection(page):
    use_tool(page, "select")
    a = plot_area(page)
    centre = (a["x"] + a["w"] * 0.5, a["y"] + a["h"] * 0.5)
    for _ in range(2):          # the selection the test before left, then a new one
        page.mouse.dblclick(*centre)
        page.wait_for_selector("#selection-counts", state="hidden", timeout=10_000)
        assert page.eval_on_selector(PLOT, "el => el.dataset.selected") == "0"
        drag_through(page, [(a["x"] + a["w"] * 0.1, a["y"] + a["h"] * 0.1),
                            (a["x"] + a["w"] * 0.9, a["y"] + a["h"] * 0.9)])
        assert wait_selected(page) > 0
    assert not page.errors, page.errors
