"""End-to-end: start `python app.py`, drive it in Debian's chromium as a person would.

Runs on the shipped models in assets/ when they are there (the product as it ships); otherwise on tiny fake
model folders made in tmp_path, and says so. Fails, never skips, when chromium is missing.
"""
from __future__ import annotations

import base64
import io
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.testing.browser import (click_map_point, drag_slider, img_src, launch_browser, pick_model,
                                      projection_of_map, serving, shipped_assets_present, slider_values, wait_ready,
                                      wait_src_change)

pytestmark = pytest.mark.e2e
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if shipped_assets_present():
        env, names = {}, {"vae": "mnist-vae", "cvae": "mnist-cvae"}
        print("e2e on the shipped assets")
    else:
        from explorer.testing import make_assets
        assets = make_assets(tmp_path_factory.mktemp("e2e-assets"), latent_dim=4, n_points=400)
        env, names = {"EXPLORER_ASSETS_DIR": str(assets)}, {"vae": "fake-vae", "cvae": "fake-cvae"}
        print("e2e on fake model folders: assets/ has no shipped models")
    broken = tmp_path_factory.mktemp("broken") / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ this is not json")
    with serving(env=env, args=["--model-dir", str(broken)]) as server:
        yield server, names


@pytest.fixture(scope="module")
def page(app):
    from playwright.sync_api import sync_playwright

    server, _ = app
    with sync_playwright() as p:
        browser = launch_browser(p)  # raises (test fails) when /usr/bin/chromium is missing
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.requests, pg.errors = [], []
        pg.on("request", lambda r: pg.requests.append(r.url))
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(server.url)
        wait_ready(pg)
        yield pg
        browser.close()


def pixels(data_uri: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1]))).convert("L"))


def model_pixels(image: np.ndarray, size: int = 28) -> np.ndarray:
    """An image at the model's own size: the server sends 280x280 (each pixel a 10x10 block), the page's own decode
    28x28 (CSS upscales it)."""
    k = image.shape[0] // size
    return image[::k, ::k].astype(int)


def settle(page, ms: int = 800) -> None:
    """Let the last queued event finish (slider events keep only the newest move)."""
    page.wait_for_timeout(ms)


def test_drag_slider_changes_image_to_match_final_values(app, page):
    server, names = app
    pick_model(page, names["vae"])
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=names["vae"], timeout=20_000)
    settle(page)
    d = page.locator("#latent-sliders input[type=range]:visible").count()
    assert d >= 2
    before = img_src(page, "decoded-image")
    marker_before = page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.marker || ''")
    drag_slider(page, 0, 0.9)
    wait_src_change(page, "decoded-image", before)
    before = img_src(page, "decoded-image")
    drag_slider(page, d - 1, 0.7)  # the last slider is reachable too (the group scrolls)
    wait_src_change(page, "decoded-image", before)
    drag_slider(page, 1, 0.15, steps=15)
    settle(page)
    z = slider_values(page, d)
    assert z[d - 1] > 0.5
    assert z[0] > 1.0 and z[1] < -1.0
    # The image on screen is the decoder's image of exactly the final slider values.
    from gradio_client import Client
    expected = Client(server.url, verbose=False).predict(model=names["vae"], z=z, label=-1, api_name="/decode")
    # The page decodes in the browser (onnxruntime-web) where it can: equal to the server's image within 1/255.
    shown = model_pixels(pixels(img_src(page, "decoded-image")))
    assert np.abs(shown - model_pixels(np.asarray(Image.open(expected).convert("L")))).max() <= 1
    # ...and the marker on the PCA map moved with it.
    assert page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.marker || ''") != marker_before


def test_random_and_reset_buttons(page):
    before = img_src(page, "decoded-image")
    page.click("#random-button")
    wait_src_change(page, "decoded-image", before)
    settle(page, 400)
    assert any(v != 0 for v in slider_values(page, 2))
    page.click("#reset-button")
    page.wait_for_function("() => [...document.querySelectorAll('#latent-sliders input[type=range]')]"
                           ".every(r => Number(r.value) === 0)")


def test_switch_projection(page):
    page.click("#projection-picker label:has-text('t-SNE')")
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.projection === 'tsne'")
    # the page draws the view at once; the server's note (and marker) for it follow
    page.wait_for_function("() => document.querySelector('#map-note').innerText.includes('nearest')", timeout=10_000)
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.marker")
    page.click("#projection-picker label:has-text('PCA')")
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.projection === 'pca'")
    assert projection_of_map(page) == "pca"
    page.wait_for_function("() => document.querySelector('#map-note').innerText.includes('PCA plane')", timeout=10_000)


def test_click_point_shows_reconstruction_and_loads_z(page):
    before = img_src(page, "selected-reconstruction")
    decoded_before = img_src(page, "decoded-image")
    click_map_point(page, trace=1, point=3)
    wait_src_change(page, "selected-reconstruction", before)
    clicked = page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.clicked")
    assert f"#{clicked}" in page.inner_text("#selected-original")
    settle(page, 400)
    assert img_src(page, "selected-original") != before
    # The sliders now hold that image's latent mean, so the big image is its reconstruction.
    assert img_src(page, "decoded-image") != decoded_before
    assert pixels(img_src(page, "decoded-image")).shape == (280, 280)
    assert np.array_equal(pixels(img_src(page, "decoded-image")), pixels(img_src(page, "selected-reconstruction")))


def test_pick_class_changes_image(app, page):
    _, names = app
    assert not page.locator("#class-picker").is_visible()  # unconditional model: no class picker
    pick_model(page, names["cvae"])
    page.wait_for_selector("#class-picker", state="visible")
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=names["cvae"], timeout=20_000)
    settle(page)
    assert page.locator("#class-row figure").count() == 10
    before = img_src(page, "decoded-image")
    page.locator("#class-picker label").nth(3).click()
    after = wait_src_change(page, "decoded-image", before)
    assert pixels(after).shape == (280, 280)
    assert page.locator("#class-row figure.current").count() == 1


def test_broken_model_folder_gives_a_clear_message_and_the_app_keeps_working(app, page):
    _, names = app
    pick_model(page, "broken-model")
    toast = page.locator(".toast-body").filter(has_text="broken-model")
    toast.first.wait_for(timeout=15_000)
    text = toast.first.inner_text()
    assert "config.json" in text and "Traceback" not in text and 'File "' not in text
    pick_model(page, names["vae"])
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=names["vae"], timeout=20_000)
    before = img_src(page, "decoded-image")
    drag_slider(page, 0, 0.2)
    wait_src_change(page, "decoded-image", before)
    assert "Traceback" not in page.inner_text("body")


# ---- issue 4, explorer.ui_ztools: interpolation, traversal grid, neighbours, attribute arithmetic, PNG downloads --

def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def on_model(page, name: str) -> None:
    pick_model(page, name)
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=name, timeout=20_000)
    settle(page)


def downloaded_png(page, selector: str) -> Image.Image:
    with page.expect_download(timeout=15_000) as dl:
        page.click(selector)
    return Image.open(dl.value.path())


def click_map(page, trace: int, point: int) -> int:
    """Click a map point; returns the test image the map reports as clicked (points overlap: the one on top).

    The whole map is scrolled into view first; a click that plotly does not take as a point click (its hover
    detection can miss right after a scroll) is retried on the next few points of the trace."""
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


def toast_with(page, words: str) -> str:
    toast = page.locator(".toast-body").filter(has_text=words)
    toast.first.wait_for(timeout=15_000)
    return toast.first.inner_text()


def test_download_the_decoded_image(page):
    settle(page)  # the last slider move of the test before may still be on its way
    shown = img_src(page, "decoded-image")
    png = downloaded_png(page, "#download-decoded a")
    # the page's own decode is 28x28 (CSS scales it up); the download is scaled up to 280x280, pixel for pixel
    assert png.size == (280, 280)
    assert np.array_equal(model_pixels(np.asarray(png.convert("L"))), model_pixels(pixels(shown)))


def test_interpolation_between_two_clicks_on_the_map(app, page):
    _, names = app
    on_model(page, names["vae"])
    open_tab(page, "Interpolation")
    page.locator("#pick-on-map input").check()
    a = click_map(page, trace=1, point=2)
    page.wait_for_function("(i) => document.querySelector('#point-a').innerText.includes('#' + i)", arg=a)
    b = click_map(page, trace=4, point=6)
    page.wait_for_function("(i) => document.querySelector('#point-b').innerText.includes('#' + i)", arg=b)
    page.wait_for_function("() => document.querySelectorAll('#interp-strip figure').length === 8")
    # The path is drawn on the map (8 steps), as a relayout of the figure already there.
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.path === '8'")
    assert "A" in page.inner_text("#interp-strip") and "linear" in page.inner_text("#interp-note")
    page.click("#interp-mode label:has-text('slerp')")
    page.wait_for_function("() => document.querySelector('#interp-note').innerText.includes('slerp')")
    strip = downloaded_png(page, "#interp-download")
    assert strip.width > 8 * 28 * 4 and strip.height > 28 * 4
    # The same point as A and B: a clear message, and the page keeps working.
    page.locator("#pick-on-map input").uncheck()
    page.click("#set-a-button")
    page.click("#set-b-button")
    text = toast_with(page, "same point")
    assert "pick a different point" in text and "Traceback" not in text


def test_traversal_grid_orders_rows_and_marks_unused_dimensions(app, page):
    server, names = app
    open_tab(page, "Traversal grid")
    page.wait_for_selector("#traverse-grid table.xp-grid", timeout=15_000)
    d = page.locator("#latent-sliders input[type=range]:visible").count()
    assert page.locator("#traverse-grid tbody tr").count() == d
    z = slider_values(page, d)
    from gradio_client import Client
    _, info = Client(server.url, verbose=False).predict(model=names["vae"], z=z, label=-1, api_name="/traverse")
    assert page.locator("#traverse-grid tr.unused").count() == sum(not r["active"] for r in info["rows"])
    labels = page.locator("#traverse-grid tbody th").all_inner_texts()
    assert labels[0].startswith(info["rows"][0]["name"] + " ")  # largest KL first
    grid = downloaded_png(page, "#traverse-download")
    assert grid.height > d * 28 * 2


def test_neighbours_follow_the_current_z(page):
    open_tab(page, "Nearest neighbours")
    page.wait_for_function("() => document.querySelectorAll('#neighbours figure').length === 8")
    i = click_map(page, trace=2, point=4)
    # The clicked image's own code is its nearest neighbour.
    page.wait_for_function("(i) => document.querySelector('#neighbours figcaption')?.textContent"
                           ".startsWith('#' + i + ' ')", arg=i, timeout=10_000)
    before = page.inner_html("#neighbours")
    page.click("#random-button")
    page.wait_for_function("(b) => document.querySelector('#neighbours').innerHTML !== b", arg=before)
    assert page.locator("#neighbours figure").count() == 8


def test_attribute_arithmetic_moves_z_and_explains_itself_on_a_cvae(app, page):
    _, names = app
    open_tab(page, "Attribute arithmetic")
    page.wait_for_function("() => document.querySelectorAll('#arith-preview figure').length === 7")
    d = page.locator("#latent-sliders input[type=range]:visible").count()
    z0, before = slider_values(page, d), img_src(page, "decoded-image")
    page.click("#arith-apply")
    wait_src_change(page, "decoded-image", before)
    settle(page, 400)
    assert slider_values(page, d) != z0
    assert "Moved z towards" in page.inner_text("#status")
    on_model(page, names["cvae"])
    page.wait_for_selector("#arith-cvae-note", state="visible")
    assert "class picker" in page.inner_text("#arith-cvae-note")
    assert not page.locator("#arith-apply").is_visible()
    on_model(page, names["vae"])


# ---- issue 4, explorer.ui_extras: your drawing, AE vs VAE vs CVAE, training dynamics, export, UMAP ------------

def draw_seven(page) -> None:
    """Pick the sketchpad's brush and draw a "7" with the mouse."""
    page.locator("#sketchpad button[aria-label=Brush]").click()
    box = page.locator("#sketchpad canvas").first.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + 0.3 * w, y + 0.25 * h)
    page.mouse.down()
    page.mouse.move(x + 0.7 * w, y + 0.25 * h, steps=10)
    page.mouse.move(x + 0.45 * w, y + 0.8 * h, steps=15)
    page.mouse.up()


def picture_file(tmp_path, name: str, image: Image.Image | None = None, data: bytes | None = None) -> str:
    path = tmp_path / name
    if image is not None:
        image.save(path)
    else:
        path.write_bytes(data)
    return str(path)


def upload(page, path: str) -> None:
    page.set_input_files("#image-upload input[type=file]", path)


def test_draw_a_digit_loads_it_and_a_cvae_ranks_the_classes(app, page):
    server, names = app
    on_model(page, names["cvae"])
    open_tab(page, "Your drawing")
    page.click("#encode-drawing-button")  # nothing drawn yet
    assert "Traceback" not in toast_with(page, "draw something first")
    draw_seven(page)
    before, marker = img_src(page, "drawing-prepared"), page.eval_on_selector(
        "#latent-map .xp-map-plot", "el => el.dataset.marker || ''")
    page.click("#encode-drawing-button")
    wait_src_change(page, "drawing-prepared", before)
    settle(page)
    prepared = pixels(img_src(page, "drawing-prepared"))[::10, ::10]
    assert prepared[0].max() == 0 and prepared.max() > 200  # light ink on black, like MNIST
    rows = page.locator("#class-ranking tr")
    assert rows.count() == 10
    best = rows.first.locator("th").inner_text()
    assert page.locator("#class-picker input:checked").evaluate("el => el.closest('label').innerText").strip() == best
    d = page.locator("#latent-sliders input[type=range]:visible").count()
    z = slider_values(page, d)
    assert any(v != 0 for v in z)
    # The big image is the drawing's reconstruction: the decoder's image of the sliders' z as the best class.
    assert np.array_equal(pixels(img_src(page, "decoded-image")), pixels(img_src(page, "drawing-reconstruction")))
    assert page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.marker || ''") != marker
    assert "Best class" in page.inner_text("#drawing-note")


def png_header(width: int, height: int) -> bytes:
    """A PNG header declaring width x height pixels, without the pixels."""
    import struct
    import zlib
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IEND", b""))


def test_upload_a_picture_and_bad_uploads(app, page, tmp_path):
    _, names = app
    on_model(page, names["vae"])
    open_tab(page, "Your drawing")
    im = Image.new("L", (300, 400), 235)
    ImageDraw.Draw(im).ellipse((60, 60, 240, 340), outline=20, width=30)  # a dark "0" on light paper
    before = img_src(page, "drawing-prepared")
    upload(page, picture_file(tmp_path, "zero.png", im))
    wait_src_change(page, "drawing-prepared", before)
    assert "inverted" in page.inner_text("#drawing-note")
    assert page.locator("#class-ranking tr").count() == 0  # an unconditional model ranks nothing
    for name, kw, words in [
        ("notes.png", {"data": b"not an image at all"}, "not an image"),
        ("bomb.png", {"data": png_header(10_000, 10_000)}, "10,000 x 10,000"),
        ("blank.png", {"image": Image.new("RGBA", (64, 64), (255, 255, 255, 0))}, "looks blank"),
    ]:
        upload(page, picture_file(tmp_path, name, **kw))
        text = toast_with(page, words)
        assert "Traceback" not in text and 'File "' not in text
    rgba = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    ImageDraw.Draw(rgba).line([(100, 20), (100, 180)], fill=(255, 255, 255, 255), width=24)  # a white "1"
    before = img_src(page, "drawing-prepared")
    upload(page, picture_file(tmp_path, "one.png", rgba))
    wait_src_change(page, "drawing-prepared", before)
    assert "transparent" in page.inner_text("#drawing-note")


def test_ae_vae_cvae_side_by_side(page):
    open_tab(page, "AE vs VAE vs CVAE vs GAN")
    # The figures table comes with the images (one event): once it is there, so are they.
    page.wait_for_function("() => document.querySelector('#compare-metrics').innerText.includes('active units')",
                           timeout=20_000)
    for kind in ("ae", "vae", "cvae"):
        assert pixels(img_src(page, f"compare-grid-{kind}")).shape == (302, 242)  # 10 x 8 images of 28 + 2 px
        assert pixels(img_src(page, f"compare-map-{kind}")).shape == (240, 240)
    assert "nothing in its training shaped its latent space to N(0, I)" in page.inner_text("#compare-why")
    assert "active units" in page.inner_text("#compare-metrics")
    before = img_src(page, "compare-grid-vae")
    seed = int(page.input_value("#compare-seed input"))
    page.click("#compare-button")
    wait_src_change(page, "compare-grid-vae", before, timeout=20_000)
    assert int(page.input_value("#compare-seed input")) == seed + 1


def test_training_dynamics_plots(app, page):
    _, names = app
    on_model(page, names["vae"])
    open_tab(page, "Training dynamics")
    page.wait_for_selector("#history-plot.xp-plot-ready, #history-plot .xp-plot-ready", timeout=20_000)
    page.wait_for_selector("#kl-plot.xp-plot-ready, #kl-plot .xp-plot-ready", timeout=20_000)
    assert page.eval_on_selector("#history-plot .xp-plot", "el => el.dataset.traces") == "4"  # recon, KL x train, test
    d = page.locator("#latent-sliders input[type=range]:visible").count()
    assert page.eval_on_selector("#kl-plot .xp-plot", "el => el.dataset.points") == str(d)  # one bar per dimension
    assert page.eval_on_selector("#history-plot .xp-plot", "el => el.getBoundingClientRect().width") > 200
    assert "tug-of-war" in page.inner_text("#dynamics-note") or "epochs" in page.inner_text("#dynamics-note")


def test_export_map_csv_and_generate_a_dataset(app, page):
    _, names = app
    open_tab(page, "Export")
    page.click("#export-csv-button")
    link = page.locator("#export-csv-file a").first
    link.wait_for(timeout=15_000)
    with page.expect_download(timeout=15_000) as dl:
        link.click()
    header = open(dl.value.path()).readline().strip().split(",")
    assert header[:7] == ["index", "label", "class_name", "pca_x", "pca_y", "tsne_x", "tsne_y"]
    page.fill("#dataset-per-class input", "0")
    page.click("#generate-button")
    assert "Traceback" not in toast_with(page, "1 to 5,000")
    page.fill("#dataset-per-class input", "200")
    page.click("#generate-button")
    page.wait_for_function("() => document.querySelectorAll('#dataset-files a').length >= 2", timeout=30_000)
    assert "images/s" in page.inner_text("#dataset-note")
    assert page.locator("#dataset-sheet img").count() == 1
    files = page.inner_text("#dataset-files")
    assert ".npz" in files and ".png" in files


def test_umap_projection_where_the_map_has_it(app, page):
    _, names = app
    on_model(page, names["vae"])
    labels = page.locator("#projection-picker label").all_inner_texts()
    if shipped_assets_present():  # the shipped maps carry UMAP coordinates
        assert [t.strip() for t in labels] == ["PCA", "t-SNE", "UMAP"]
        page.click("#projection-picker label:has-text('UMAP')")
        page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.projection "
                               "=== 'umap'")
        # the page draws the view at once; the server's note for it follows
        page.wait_for_function("() => document.querySelector('#map-note').innerText.includes('nearest')",
                               timeout=10_000)
        page.click("#projection-picker label:has-text('PCA')")
        page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.projection "
                               "=== 'pca'")
    else:  # the fake maps have none, so the picker does not offer it
        assert [t.strip() for t in labels] == ["PCA", "t-SNE"]


def test_nothing_left_the_machine(page):
    assert page.requests, "no requests recorded"
    hosts = {urlparse(u).hostname for u in page.requests if not u.startswith(("data:", "blob:"))}
    assert hosts <= LOCAL_HOSTS, f"requests left the machine: {hosts - LOCAL_HOSTS}"
    assert not page.errors, page.errors
