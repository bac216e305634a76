"""End-to-end, in Debian's chromium: a map of training and test images. The split switch shows training, test or
both in the page (a class hidden in the legend stays hidden across it), a click on a training point shows that
training image beside its reconstruction, and a map of the test images alone greys the switch out with the fix."""
from __future__ import annotations

import pytest

from explorer.testing.browser import click_map_point, page_showing, show_model

pytestmark = pytest.mark.e2e
PLOT = "#latent-map .xp-map-plot"
SHOWN = """(sel) => { const gd = document.querySelector(sel); const out = {test: 0, train: 0, hidden: 0};
    for (const tr of gd.data) { if (!tr.xp_split) continue;
      if (tr.visible === false || tr.visible === 'legendonly') out.hidden += tr.x.length;
      else out[tr.xp_split] += tr.x.length; } return out; }"""


@pytest.fixture(scope="module")
def page(map_app):
    with page_showing(map_app, "e-vae-splits") as pg:     # 300 test and 900 training images (tests/conftest.py)
        yield pg


def pick_split(page, value: str) -> None:
    page.locator(f'#map-split input[value="{value}"]').check()
    page.wait_for_function("([s, v]) => document.querySelector(s).dataset.split === v", arg=[PLOT, value],
                           timeout=10_000)


def test_the_split_switch_shows_training_test_or_both(page):
    assert page.evaluate(SHOWN, PLOT) == {"test": 300, "train": 900, "hidden": 0}
    pick_split(page, "test")
    assert page.evaluate(SHOWN, PLOT) == {"test": 300, "train": 0, "hidden": 900}
    pick_split(page, "train")
    assert page.evaluate(SHOWN, PLOT) == {"test": 0, "train": 900, "hidden": 300}
    # a class hidden in the legend stays hidden when the other split comes back
    page.locator(f"{PLOT} .legend .traces").first.click()
    page.wait_for_function("(s) => document.querySelector(s).data.some((t) => t.xp_legend && t.visible === 'legendonly')",
                           arg=PLOT, timeout=10_000)
    pick_split(page, "both")
    hidden_class = page.evaluate("""(s) => { const gd = document.querySelector(s);
        const g = gd.data.find((t) => t.xp_legend && t.visible === 'legendonly').legendgroup;
        return gd.data.filter((t) => t.xp_split && t.legendgroup === g).map((t) => t.visible); }""", PLOT)
    assert hidden_class and all(v == "legendonly" for v in hidden_class)
    page.locator(f"{PLOT} .legend .traces").first.click()      # shown again
    page.wait_for_function("(s) => !document.querySelector(s).data.some((t) => t.visible === 'legendonly')",
                           arg=PLOT, timeout=10_000)
    assert page.evaluate(SHOWN, PLOT) == {"test": 300, "train": 900, "hidden": 0}


def test_a_click_on_a_training_point_shows_that_training_image_and_its_reconstruction(page):
    pick_split(page, "train")            # the training images alone: no test point drawn over the one clicked
    trace = page.evaluate("(s) => document.querySelector(s).data.findIndex((t) => t.xp_split === 'train')", PLOT)
    before = page.eval_on_selector("#selected-original img", "el => el.src")
    index = click_map_point(page, trace, 0)
    assert index >= 300                                     # the training images come after the 300 test images
    page.wait_for_function("(s) => document.querySelector(s).dataset.clicked", arg=PLOT, timeout=10_000)
    index = int(page.eval_on_selector(PLOT, "el => el.dataset.clicked"))   # the point under the mouse
    assert index >= 300                                     # the training images come after the 300 test images
    page.wait_for_function("(i) => document.querySelector('#status').innerText.includes('#' + i)", arg=index,
                           timeout=10_000)
    caption = page.inner_text("#selected-original")
    assert f"Training image #{index - 300}" in caption
    assert page.eval_on_selector("#selected-original img", "el => el.src") != before
    assert page.eval_on_selector("#selected-reconstruction img", "el => el.src").startswith("data:image/png")


def test_a_map_of_the_test_images_alone_greys_the_switch_out_with_the_fix(page):
    show_model(page, "b-vae-2d")
    page.wait_for_function("() => document.querySelector('#map-split').innerText.includes('add-train')",
                           timeout=10_000)
    assert not page.is_enabled('#map-split input[value="train"]')
    assert page.evaluate(SHOWN, PLOT) == {"test": 0, "train": 0, "hidden": 0}   # one trace per class, no split
