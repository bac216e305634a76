"""End-to-end: a GAN in the explorer, in Debian's chromium (`python app.py` on synthetic folders: fake-ae, fake-vae,
fake-cvae, fake-gan and fake-cgan, all of one dataset, so fake-vae is the GAN's same-dataset VAE).

Drag a slider and see the generator's image follow; click a map point and see the test image, G(z*) of its inverted
code and the VAE's reconstruction beside it; upload a picture and see it inverted into the sliders. Screenshots of the
main view go to the test's tmp_path (gan-main-view.png). Fails, never skips, when chromium is missing.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.testing.browser import (browser_page, click_map_point, drag_slider, img_src, pick_model,
                                      slider_values, wait_src_change)

pytestmark = pytest.mark.e2e
GAN, VAE = "fake-gan", "fake-vae"
D = 4


@pytest.fixture(scope="module")
def app(gan_app):
    return gan_app          # fake-ae, fake-vae, fake-cvae and fake-gan with D = 4 (tests/conftest.py)


@pytest.fixture(scope="module")
def page(app):
    with browser_page(app.url) as pg:
        yield pg


def pixels(data_uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("L"))


def model_pixels(image: np.ndarray, size: int = 28) -> np.ndarray:
    """At the model's size: the server sends 280x280 (10x10 blocks), the page's own decode 28x28."""
    return image[::image.shape[0] // size, ::image.shape[0] // size].astype(int)


def on_model(page, name: str) -> None:
    pick_model(page, name)
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=name, timeout=20_000)
    page.wait_for_timeout(800)


def click_map(page, trace: int, point: int) -> int:
    """Click a map point (retrying the next points when plotly misses the first); the index the map reports."""
    page.eval_on_selector("#latent-map .xp-map-plot", "el => el.scrollIntoView({block: 'center'})")
    page.wait_for_timeout(300)
    for k in range(point, point + 5):
        page.eval_on_selector("#latent-map .xp-map-plot", "el => { el.dataset.clicked = ''; }")
        click_map_point(page, trace=trace, point=k)
        try:
            page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.clicked",
                                   timeout=3000)
        except Exception:  # noqa: BLE001 - playwright's TimeoutError: try the next point
            continue
        return int(page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.clicked"))
    raise AssertionError(f"no click on trace {trace}, points {point}..{point + 4} reached the map")


def test_a_gan_opens_with_its_map_of_inverted_codes(page):
    on_model(page, GAN)
    note = page.inner_text("#map-note")
    assert "optimiser" in note and "not by an encoder" in note
    assert page.locator("#selected-vae").is_visible()
    assert VAE in page.inner_text("#selected-vae")
    assert page.locator("#latent-sliders input[type=range]:visible").count() == D


def test_drag_a_slider_and_the_generator_image_follows(app, page):
    on_model(page, GAN)
    before = img_src(page, "decoded-image")
    drag_slider(page, 0, 0.9)
    wait_src_change(page, "decoded-image", before)
    before = img_src(page, "decoded-image")
    drag_slider(page, 2, 0.1)
    wait_src_change(page, "decoded-image", before)
    page.wait_for_timeout(800)
    z = slider_values(page, D)
    assert z[0] > 1.0 and z[2] < -1.0
    from gradio_client import Client
    expected = Client(app.url, verbose=False).predict(model=GAN, z=z, label=-1, api_name="/decode")
    shown = model_pixels(pixels(img_src(page, "decoded-image")))
    assert np.abs(shown - model_pixels(np.asarray(Image.open(expected).convert("L")))).max() <= 1


def test_click_a_point_shows_the_inversion_beside_the_vae(app, page, tmp_path):
    on_model(page, GAN)
    before = {k: img_src(page, k) for k in ("selected-original", "selected-reconstruction", "selected-vae")}
    index = click_map(page, trace=1, point=3)
    for k, src in before.items():
        wait_src_change(page, k, src)
    page.wait_for_function("() => document.querySelector('#selected-note').innerText.includes('optimiser')")
    assert f"#{index}" in page.inner_text("#selected-original")
    assert "G(z*)" in page.inner_text("#selected-reconstruction")
    assert VAE in page.inner_text("#selected-vae") and "nats" in page.inner_text("#selected-vae")
    from gradio_client import Client
    client = Client(app.url, verbose=False)
    orig, recon, z, info = client.predict(model=GAN, index=index, api_name="/reconstruct")
    assert info["source"] == "inversion"
    # The test image, G(z*) of its stored code, and the sliders holding z*.
    assert np.array_equal(pixels(img_src(page, "selected-original")), np.asarray(Image.open(orig).convert("L")))
    assert np.array_equal(pixels(img_src(page, "selected-reconstruction")),
                          np.asarray(Image.open(recon).convert("L")))
    page.wait_for_timeout(500)
    assert np.allclose(slider_values(page, D), z, atol=0.006)
    # The VAE's reconstruction of that same test image (the synthetic maps hold different images at an index,
    # the shipped ones the same test set: the page encodes the GAN's image with the VAE).
    from explorer import ModelRegistry
    from explorer.tools import explore
    reg = ModelRegistry.discover(app.assets)
    loaded = reg.get(GAN)
    want = explore.compare_reconstruction(reg, loaded, explore.select_point(loaded, index))
    assert want["model"] == VAE
    assert np.array_equal(pixels(img_src(page, "selected-vae")), loaded.modality.array(want["reconstruction"]))
    page.locator("#selected-vae").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "gan-main-view.png"), full_page=True)


def test_upload_a_picture_and_it_is_inverted_into_the_sliders(page, tmp_path):
    on_model(page, GAN)
    page.get_by_role("tab", name="Your drawing").click()
    assert page.locator("#draw-controls").is_visible() and not page.locator("#draw-off").is_visible()
    im = Image.new("L", (200, 260), 240)
    ImageDraw.Draw(im).line([(50, 50), (150, 50), (90, 220)], fill=15, width=22)
    path = tmp_path / "seven.png"
    im.save(path)
    before = img_src(page, "drawing-reconstruction")
    page.set_input_files("#image-upload input[type=file]", str(path))
    wait_src_change(page, "drawing-reconstruction", before, timeout=20_000)
    page.wait_for_function("() => document.querySelector('#drawing-note').innerText.includes('GAN inversion')")
    assert "G(z*)" in page.inner_text("#drawing-reconstruction")
    page.wait_for_timeout(500)
    assert any(v != 0 for v in slider_values(page, D))
    assert np.array_equal(pixels(img_src(page, "decoded-image")), pixels(img_src(page, "drawing-reconstruction")))


def test_a_vae_hides_the_third_image(page):
    on_model(page, VAE)
    assert not page.locator("#selected-vae").is_visible()
    assert "optimiser" not in page.inner_text("#map-note")
