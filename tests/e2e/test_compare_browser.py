"""End-to-end: the AE vs VAE vs CVAE vs GAN tab (and a GAN's training dynamics and traversal) in Debian's chromium,
on `python app.py` serving four tiny synthetic models of one dataset (explorer.testing: fake-ae, fake-vae, fake-cvae,
fake-gan; plus fake-cgan). Fails, never skips, when chromium is missing.

A screenshot of the compare tab is written to the test's tmp_path (compare-tab.png).
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from explorer.testing.browser import browser_page, img_src, pick_model, wait_src_change

pytestmark = pytest.mark.e2e
D = 4                   # the latent size of gan_app's models (tests/conftest.py)


@pytest.fixture(scope="module")
def assets(gan_app):
    return gan_app.assets   # fake-ae, fake-vae, fake-cvae and fake-gan with D = 4 (tests/conftest.py)


@pytest.fixture(scope="module")
def page(gan_app):
    with browser_page(gan_app.url, timeout=90_000) as pg:   # fails when /usr/bin/chromium is missing
        yield pg


def pixels(data_uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("L"))


def test_four_models_side_by_side_with_their_figures(page, assets, tmp_path):
    from explorer.registry import ModelRegistry
    from explorer.tools import compare

    page.get_by_role("tab", name="AE vs VAE vs CVAE vs GAN").click()
    # The figures table comes with the images (one event): once it is there, so are they.
    page.wait_for_function("() => document.querySelector('#compare-metrics').innerText.includes('active units')",
                           timeout=30_000)
    seed = int(page.input_value("#compare-seed input"))
    want = compare.compare_models(ModelRegistry.discover(assets), "synthetic", seed)
    for kind in compare.KINDS:
        grid = pixels(img_src(page, f"compare-grid-{kind}"))
        assert np.array_equal(grid, want["models"][kind]["grid"]), kind  # this seed's 80 codes, decoded by it
        assert pixels(img_src(page, f"compare-map-{kind}")).shape == (240, 240)
        assert f"({want['models'][kind]['name']})" in page.inner_text(f"#compare-title-{kind}")
    gan_metrics = json.loads((assets / "fake-gan" / "metrics.json").read_text())
    gan = page.inner_text("#compare-figures-gan")
    assert f"Fréchet distance: {gan_metrics['fd']:.1f}" in gan and "through inversion" in gan
    assert f"{gan_metrics['mode_coverage_min']:.0%}–{gan_metrics['mode_coverage_max']:.0%}" in gan
    ae = page.inner_text("#compare-figures-ae")
    assert "Fréchet distance: —" in ae and "Mode coverage: —" in ae and "inversion" not in ae
    assert "found by inversion" in page.inner_text("#compare-map-gan")
    assert compare.LESSON.split(",")[0] in page.inner_text("#compare-lesson")
    assert "metrics.json" in page.inner_text("#compare-source")
    # The four columns sit side by side in a 1400 px window.
    boxes = [page.locator(f"#compare-grid-{k} img").bounding_box() for k in compare.KINDS]
    assert all(b["width"] > 150 for b in boxes) and len({round(b["y"]) for b in boxes}) == 1
    assert [b["x"] for b in boxes] == sorted(b["x"] for b in boxes)
    page.locator("#tab-compare").screenshot(path=str(tmp_path / "compare-tab.png"))
    # The next seed: new codes for every model.
    before = {k: img_src(page, f"compare-grid-{k}") for k in compare.KINDS}
    page.click("#compare-button")
    wait_src_change(page, "compare-grid-gan", before["gan"], timeout=20_000)
    assert int(page.input_value("#compare-seed input")) == seed + 1
    page.wait_for_function("(b) => document.querySelector('#compare-grid-ae img').src !== b", arg=before["ae"],
                           timeout=20_000)
    assert all(img_src(page, f"compare-grid-{k}") != before[k] for k in compare.KINDS)


def test_a_gans_training_dynamics_and_traversal(page):
    pick_model(page, "fake-gan")
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === 'fake-gan'",
                           timeout=20_000)
    page.get_by_role("tab", name="Training dynamics").click()
    page.wait_for_selector("#kl-plot .xp-plot-ready, #kl-plot.xp-plot-ready", timeout=20_000)
    page.wait_for_function("() => document.querySelector('#dynamics-help').innerText.includes('healthy game')",
                           timeout=20_000)
    names = page.eval_on_selector("#history-plot .xp-plot", "el => el.data.map(t => t.name)")
    assert names[:2] == ["D loss", "G loss"]
    outputs = page.eval_on_selector("#kl-plot .xp-plot", "el => el.data.map(t => t.name)")
    assert outputs[:2] == ["D(x): real images", "D(G(z)): generated images"]
    assert "Mode collapse" in page.inner_text("#dynamics-help") and "D(G(z)) =" in page.inner_text("#dynamics-note")
    page.get_by_role("tab", name="Traversal grid").click()
    page.wait_for_selector("#traverse-grid table.xp-grid", timeout=20_000)
    assert page.locator("#traverse-grid tbody tr").count() == D
    assert "change" in page.locator("#traverse-grid tbody th").first.inner_text()
    page.wait_for_function("() => document.querySelector('#traverse-note').innerText.includes('no KL term')",
                           timeout=20_000)
