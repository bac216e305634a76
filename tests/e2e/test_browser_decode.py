"""End-to-end: slider moves decoded in the page (onnxruntime-web running the model's decoder.onnx), in Debian's
chromium. A move sends nothing to the server; its release sends the final z once; the page's images equal the
server's; without WebAssembly, or with a broken or wrong decoder file, the page decodes on the server and says so.

Runs on the shipped models in assets/ when they are there, otherwise on tiny fake model folders made in tmp_path.
"""
from __future__ import annotations

import json
import shutil
from urllib.parse import urlparse

import numpy as np
import pytest

from explorer.testing.browser import (SHIPPED, drag_slider, grab_slider, img_src, launch_browser, pick_model,
                                      serving, shipped_assets_present, wait_decoder, wait_map_settled, wait_ready,
                                      wait_src_change)

pytestmark = pytest.mark.e2e
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    """(assets folder or None for the shipped one, model names, a VAE, a CVAE)."""
    if shipped_assets_present():
        return None, list(SHIPPED), "mnist-vae", "mnist-cvae"
    from explorer.testing import make_assets
    folder = make_assets(tmp_path_factory.mktemp("decode-assets"), latent_dim=4, n_points=200)
    return folder, sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file()), "fake-vae", "fake-cvae"


@pytest.fixture(scope="module")
def server(assets):
    with serving(assets[0]) as s:
        yield s


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)
        yield b
        b.close()


def open_page(browser, server, init_script: str | None = None, route=None):
    """A fresh page on the app, every request and page error recorded."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.requests, pg.errors = [], []
    pg.on("request", lambda r: pg.requests.append(r))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    if init_script:
        pg.add_init_script(init_script)
    if route:
        pg.route(*route)
    pg.goto(server.url)
    wait_ready(pg)
    return pg


def to_server(pg, since: int) -> list:
    """The event requests (slider events, the queue) sent since request number `since`."""
    return [r for r in pg.requests[since:] if "/gradio_api/" in r.url and "/file=" not in r.url]


def on_model(pg, name: str) -> str:
    if pg.input_value("#model-picker input") != name:
        pick_model(pg, name)
    pg.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m", arg=name,
                         timeout=20_000)
    mode = wait_decoder(pg)
    wait_map_settled(pg, name)  # the map's own fetches of its other views are not the drag's
    return mode


def test_a_drag_is_decoded_in_the_page_and_its_release_sends_the_final_z(browser, server, assets):
    vae = assets[2]
    pg = open_page(browser, server)
    assert on_model(pg, vae) == "browser"
    assert "in your browser" in pg.inner_text("#decode-mode")
    rng = pg.locator("#z-0 input[type=range]")
    box, y = grab_slider(pg, 0)
    since = len(pg.requests)
    srcs = []
    runs0 = pg.evaluate("window.__xpDecoder.runs")
    marker0 = pg.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.marker || ''")
    for f in (0.6, 0.7, 0.8, 0.9):
        before = img_src(pg, "decoded-image")
        pg.mouse.move(box["x"] + box["width"] * f, y)
        srcs.append(wait_src_change(pg, "decoded-image", before, timeout=5_000))
    assert len(set(srcs)) == 4, "every move drew a new image"
    assert pg.evaluate("window.__xpDecoder.runs") >= runs0 + 4
    assert to_server(pg, since) == [], "a move while dragging sent a request"
    # The PCA marker moved with the drag, computed in the page.
    assert pg.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.marker || ''") != marker0
    pg.mouse.up()
    pg.wait_for_timeout(800)
    sent = to_server(pg, since)
    # The release: the slider's events (the main view's, and the tabs that follow the current z) run once each,
    # all with the final value.
    assert 1 <= len(sent) <= 3, [(r.url, r.post_data[:300]) for r in sent]
    value = float(rng.input_value())
    assert value > 1.0
    for r in sent:
        body = json.loads(r.post_data)
        # each slider event's inputs: the model, then (perhaps the class and projection and) the 32 slider values
        numbers = [v for v in body["data"][1:] if isinstance(v, (int, float))]
        assert body["data"][0] == vae and any(abs(v - value) < 1e-9 for v in numbers), r.post_data[:300]
    assert not pg.errors, pg.errors
    pg.close()


def test_page_and_server_decode_the_same_images(browser, server, assets):
    """For every model: 100 random z decoded in the page equal the server's decode within 1/255 per pixel."""
    from explorer import ModelRegistry
    from explorer.modalities.image import to_uint8

    folder, names = assets[0], assets[1]
    registry = ModelRegistry.discover(folder, [])
    pg = open_page(browser, server)
    rs = np.random.default_rng(0)
    for name in names:
        assert on_model(pg, name) == "browser", pg.inner_text("#decode-mode")
        loaded = registry.get(name)
        d, c = loaded.latent_dim, loaded.num_classes
        zs = rs.normal(0, 1.5, (100, d)).astype(np.float32)
        labels = rs.integers(0, c, 100) if c else [None] * 100
        page_px = np.array(pg.evaluate("async ([zs, ls]) => Promise.all(zs.map((z, i) => "
                                       "window.__xpDecoder.decode(z, ls[i])))",
                                       [zs.tolist(), [None if v is None else int(v) for v in labels]]))
        server_px = np.stack([to_uint8(loaded.backend.decode(zs[i:i + 1], labels[i])[0]) for i in range(100)])
        assert page_px.shape == (100, server_px[0].size)
        worst = np.abs(page_px - server_px.reshape(100, -1).astype(int)).max()
        assert worst <= 1, f"{name}: a pixel differs by {worst}/255"
    assert not pg.errors, pg.errors
    pg.close()


def test_without_webassembly_the_server_decodes_and_says_so(browser, server, assets):
    pg = open_page(browser, server, init_script="delete window.WebAssembly;")
    assert wait_decoder(pg) == "server"
    assert "no WebAssembly" in pg.inner_text("#decode-mode")
    since = len(pg.requests)
    before = img_src(pg, "decoded-image")
    drag_slider(pg, 0, 0.85)
    wait_src_change(pg, "decoded-image", before)
    assert to_server(pg, since), "the server decoded the move"
    assert img_src(pg, "decoded-image").startswith("data:image/png")
    assert not pg.errors, pg.errors
    pg.close()


def _wrong_decoder(assets, tmp_path) -> bytes:
    """The decoder.onnx of a model whose latent size is one more than the VAE's."""
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder

    d = ModelRegistry.discover(assets[0], []).get(assets[2]).latent_dim
    other = make_model_folder(tmp_path / "other", kind="vae", latent_dim=d + 1)
    loaded = ModelRegistry.discover(tmp_path / "none", [other]).get(other.name)
    return open(loaded.browser_decoder["path"], "rb").read()


@pytest.mark.parametrize("case", ["corrupted", "missing", "wrong size"])
def test_a_broken_decoder_file_falls_back_to_the_server(browser, server, assets, case, tmp_path):
    if case == "wrong size":
        body = _wrong_decoder(assets, tmp_path)
        route = ("**/decoder.onnx*", lambda r: r.fulfill(status=200, body=body))
    elif case == "corrupted":
        route = ("**/decoder.onnx*", lambda r: r.fulfill(status=200, body=b"\x08\x07not an onnx model" * 50))
    else:
        route = ("**/decoder.onnx*", lambda r: r.fulfill(status=404, body=b"gone"))
    pg = open_page(browser, server, route=route)
    assert on_model(pg, assets[2]) == "server"
    line = pg.inner_text("#decode-mode")
    assert "on the server" in line and "could not run in the page" in line and "export-decoder" in line, line
    before = img_src(pg, "decoded-image")
    drag_slider(pg, 0, 0.2)
    wait_src_change(pg, "decoded-image", before)  # the server still decodes every move
    assert not pg.errors, pg.errors
    pg.close()


def test_typed_slider_values_that_are_not_numbers(browser, server, assets):
    pg = open_page(browser, server)
    assert on_model(pg, assets[2]) == "browser"
    box = pg.locator("#z-0 input[type=number]")
    for text in ["abc", "NaN", "1e400", "-1e400", "2.5"]:
        box.click()
        box.press("Control+a")
        pg.keyboard.type(text)  # a number box takes no letters: "abc" and "NaN" leave it empty
        box.press("Enter")
        pg.wait_for_timeout(400)
        assert img_src(pg, "decoded-image").startswith("data:image/png"), text
    # the last, valid value is used, and a move after junk is still decoded in the page
    before = img_src(pg, "decoded-image")
    drag_slider(pg, 1, 0.8)
    wait_src_change(pg, "decoded-image", before)
    assert pg.evaluate("window.__xpDecoder.mode") == "browser"
    assert not pg.errors, pg.errors
    hosts = {urlparse(r.url).hostname for r in pg.requests if not r.url.startswith(("data:", "blob:"))}
    assert hosts <= LOCAL_HOSTS, f"requests left the machine: {hosts - LOCAL_HOSTS}"
    pg.close()


def test_a_model_folder_without_an_exported_decoder_gets_one(tmp_path):
    """A user's folder without decoder.onnx: the app exports it on first load, into the folder."""
    from explorer.testing import make_model_folder

    folder = make_model_folder(tmp_path / "mine", kind="vae", latent_dim=3)
    (folder / "decoder.onnx").unlink(missing_ok=True)
    from explorer import ModelRegistry
    d = ModelRegistry.discover(tmp_path / "none", [folder]).get(folder.name).browser_decoder
    assert "reason" not in d, d
    assert (folder / "decoder.onnx").is_file() and d["latent_dim"] == 3
    shutil.rmtree(folder)
