"""End-to-end, in Debian's chromium: a colour 32x32 model. Dragging a slider draws new colour images in the page
(its decoder.onnx in onnxruntime-web), which equal the server's decode within 1/255; a map click shows the stored
colour image beside its reconstruction."""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from explorer.testing.browser import (click_map_point, grab_slider, img_src, launch_browser, serving, wait_decoder,
                                      wait_ready, wait_src_change)

pytestmark = pytest.mark.e2e


def rgb(data_uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("RGB"))


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    from explorer.testing import make_model_folder
    root = tmp_path_factory.mktemp("colour-assets")
    make_model_folder(root / "shapes-vae", kind="vae", arch="conv", n_points=80, image_shape=(3, 32, 32))
    with serving(root) as server, sync_playwright() as p:
        browser = launch_browser(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(server.url)
        wait_ready(pg)
        pg.root = root
        yield pg
        browser.close()


def test_a_drag_draws_colour_images_in_the_page_equal_to_the_servers(page):
    from explorer import ModelRegistry
    from explorer.modalities.image import to_uint8

    assert wait_decoder(page) == "browser", page.inner_text("#decode-mode")
    box, y = grab_slider(page, 0)
    seen = []
    for f in (0.2, 0.5, 0.8):
        before = img_src(page, "decoded-image")
        page.mouse.move(box["x"] + box["width"] * f, y)
        seen.append(rgb(wait_src_change(page, "decoded-image", before, timeout=5_000)))
    page.mouse.up()
    assert all(s.shape[:2] == (32, 32) for s in seen)             # the page's own decode, at the model's size
    assert not np.array_equal(seen[0], seen[2])
    spread = np.abs(seen[2].astype(int) - seen[2].mean(axis=2, keepdims=True)).max()
    assert spread >= 2, "the image is grey: its channels are equal"   # an untrained decoder: close to 0.5
    loaded = ModelRegistry.discover(page.root, []).get("shapes-vae")
    zs = np.random.default_rng(0).normal(0, 1.5, (20, loaded.latent_dim)).astype(np.float32)
    page_px = np.array(page.evaluate("async (zs) => Promise.all(zs.map((z) => window.__xpDecoder.decode(z, null)))",
                                     zs.tolist()))
    server_px = to_uint8(loaded.backend.decode(zs)).reshape(20, -1).astype(int)   # (20, 32 * 32 * 3), channels last
    assert page_px.shape == server_px.shape
    assert np.abs(page_px - server_px).max() <= 1
    assert not page.errors, page.errors


def test_a_map_click_shows_the_colour_image_and_its_reconstruction(page):
    before = img_src(page, "selected-reconstruction")
    click_map_point(page, trace=0, point=2)
    recon = rgb(wait_src_change(page, "selected-reconstruction", before, timeout=10_000))
    index = int(page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.clicked"))
    original = rgb(img_src(page, "selected-original"))
    assert original.shape == recon.shape == (288, 288, 3)
    from explorer import ModelRegistry
    stored = ModelRegistry.discover(page.root, []).get("shapes-vae").latent_map.images[index]
    assert np.array_equal(original[::9, ::9], stored)
    assert not page.errors, page.errors
