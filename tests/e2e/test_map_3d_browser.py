"""End-to-end, in Debian's chromium: the map's 2-D / 3-D switch. The 3-D view (WebGL scatter3d) turns with a drag,
a click on a point loads it as in 2-D and the current-z marker moves to it; a model whose map has no 3-D arrays
gets the switch off, with the one-line reason."""
from __future__ import annotations

import pytest

from explorer.testing.browser import page_showing, show_model

pytestmark = pytest.mark.e2e
PLOT = "#latent-map .xp-map-plot"


@pytest.fixture(scope="module")
def page(map_app):
    with page_showing(map_app, "a-vae-3d") as pg:     # a 3,000-point map with 3-D PCA (tests/conftest.py)
        yield pg


def dataset(page, key):
    return page.eval_on_selector(PLOT, f"el => el.dataset.{key} || ''")


def test_the_3d_view_turns_and_a_click_loads_a_point(page):
    assert page.is_enabled('#map-dims input[value="3"]')
    # while the scene is drawn, one line over the map says so; it is gone once the view is drawn
    page.evaluate("(s) => { window.__xpBusy = []; const p = document.querySelector(s);"
                  " new MutationObserver(() => { const b = document.querySelector('#latent-map .xp-map-busy');"
                  " if (b) window.__xpBusy.push([p.dataset.busy, b.hidden, b.textContent]); })"
                  ".observe(p, {attributes: true, attributeFilter: ['data-busy']}); }", PLOT)
    page.locator('#map-dims label:has-text("3-D")').click()
    page.wait_for_function("(s) => document.querySelector(s).dataset.dims === '3'", arg=PLOT, timeout=30_000)
    busy = page.evaluate("() => window.__xpBusy")
    assert busy[0] == ["1", False, "Drawing 3,000 points in 3-D…"] and busy[-1][:2] == ["0", True], busy
    assert page.is_hidden("#latent-map .xp-map-busy")
    # the page draws the 3-D view at once; the server's answer then offers its projections (t-SNE is 2-D only)
    page.wait_for_function("() => [...document.querySelectorAll('#projection-picker label')].map(l => l.innerText"
                           ".trim()).join() === 'PCA'", timeout=10_000)
    page.locator(PLOT).scroll_into_view_if_needed()
    eye = "(s) => JSON.stringify(document.querySelector(s)._fullLayout.scene.camera.eye)"
    before = page.evaluate(eye, PLOT)
    box = page.locator(PLOT).bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4, steps=8)
    page.mouse.up()
    page.wait_for_function("([s, e]) => JSON.stringify(document.querySelector(s)._fullLayout.scene.camera.eye) !== e",
                           arg=[PLOT, before], timeout=10_000)
    page.wait_for_timeout(1500)      # a drag that ends on a point may also count as its click: let it land first
    page.eval_on_selector(PLOT, "el => { delete el.dataset.clicked; }")
    marker = dataset(page, "marker")
    # Find a point by hovering (the 3-D scene reports the point under the cursor in plotly_hover), then click it.
    page.evaluate("(s) => document.querySelector(s).on('plotly_hover', (e) => { window.__xpHover = e.points.length; })",
                  PLOT)
    spots = [(0.35 + 0.05 * i, 0.35 + 0.05 * j) for j in range(7) for i in range(7)]
    spots.sort(key=lambda d: (d[0] - 0.5) ** 2 + (d[1] - 0.5) ** 2)              # the dense middle first
    for dx, dy in spots:
        x, y = box["x"] + box["width"] * dx, box["y"] + box["height"] * dy
        page.evaluate("() => { window.__xpHover = 0; }")
        page.mouse.move(x, y)
        try:
            page.wait_for_function("() => window.__xpHover > 0", timeout=600)
        except Exception:
            continue
        # plotly's 3-D scene reports a click from its render loop while the button is down: hold it for a few
        # frames (software WebGL here draws slowly; a real GPU renders within the ~100 ms of a user's click)
        page.mouse.down()
        page.wait_for_timeout(400)
        page.mouse.up()
        try:
            page.wait_for_function("(s) => !!document.querySelector(s).dataset.clicked", arg=PLOT, timeout=3_000)
            break
        except Exception:
            continue
    index = dataset(page, "clicked")
    assert index, "no click landed on a point"
    page.wait_for_function(f"() => document.querySelector('#status').innerText.includes('#{index}')",
                           timeout=10_000)
    page.wait_for_function("([s, m]) => document.querySelector(s).dataset.marker !== m", arg=[PLOT, marker],
                           timeout=10_000)
    assert len(dataset(page, "marker").split(",")) == 3                             # x, y and z


def test_a_map_without_3d_arrays_turns_the_switch_off_with_the_reason(page):
    show_model(page, "b-vae-2d")
    assert dataset(page, "dims") == "2"
    page.wait_for_function("() => document.querySelector('#map-dims').innerText.includes('add-3d')", timeout=10_000)
    assert not page.is_enabled('#map-dims input[value="3"]')
