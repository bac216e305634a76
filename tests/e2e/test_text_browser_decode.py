"""End-to-end: a text model's slider moves decoded in the page (static/text_decoder.js running the greedy GRU decoder
on text_decoder.safetensors), in Debian's chromium. A move sends nothing to the server and shows the server's own
sentence for that z; its release sends the final z once; a text CVAE's class change is decoded in the page too; a
missing, corrupt or wrong decoder file falls back to the server and says why.

`python app.py` on synthetic folders: explorer.testing.make_assets(text=True) (fake-text-vae and fake-text-cvae,
word tokenizers) and a byte-level BPE text CVAE, fake-text-bpe, whose untrained decoder writes broken UTF-8 too.
Fails, never skips, when chromium is missing.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from explorer.testing.browser import grab_slider, launch_browser, pick_model, serving, wait_decoder, wait_map_settled

pytestmark = pytest.mark.e2e
TEXT, CVAE, BPE = "fake-text-vae", "fake-text-cvae", "fake-text-bpe"
D = 4
SENTENCE = "#decoded-image .xp-sentence"
MAP_READY = "#latent-map .xp-map-ready, #latent-map.xp-map-ready"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from explorer.testing import make_assets, make_text_folder
    assets = make_assets(tmp_path_factory.mktemp("e2e-text-decode") / "assets", latent_dim=D, n_points=60, text=True)
    make_text_folder(assets / BPE, kind="cvae", tokenizer="bpe", latent_dim=D, seed=5)
    # a text VAE of the same sizes as fake-text-vae but other weights: its decoder file is "wrong" for fake-text-vae
    make_text_folder(assets.parent / "other" / "other-vae", kind="vae", latent_dim=D, seed=8)
    with serving(assets, timeout=120) as server:
        yield server


@pytest.fixture(scope="module")
def registry(app):
    from explorer import ModelRegistry
    return ModelRegistry.discover(app.assets, [])


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client
    return Client(app.url, verbose=False)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_browser(p)  # raises (test fails) when /usr/bin/chromium is missing
        yield b
        b.close()


def open_page(browser, app, route=None):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.requests, pg.errors = [], []
    pg.on("request", lambda r: pg.requests.append(r))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    if route:
        pg.route(*route)
    pg.goto(app.url)
    pg.wait_for_selector(MAP_READY, timeout=120_000)  # the first model loads torch: slow on a busy machine
    return pg


def on_model(pg, name: str) -> str:
    if pg.input_value("#model-picker input") != name:
        pick_model(pg, name)
    pg.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                         arg=name, timeout=30_000)
    pg.wait_for_selector(SENTENCE, timeout=20_000)
    mode = wait_decoder(pg, 30_000)
    wait_map_settled(pg, name)  # the map's own fetches of its other views are not the drag's
    return mode


def to_server(pg, since: int) -> list:
    """The event requests (slider events, the queue) sent since request number `since`."""
    return [r for r in pg.requests[since:] if "/gradio_api/" in r.url and "/file=" not in r.url]


def sentence(pg) -> str:
    return pg.eval_on_selector(SENTENCE, "el => el.textContent")


def shown(text: str) -> str:
    """The text #decoded-image shows for a sentence: explorer.modalities.text's HTML of it (an empty one is a note)
    as the browser parses it (NUL dropped, CR and CRLF read as LF)."""
    from explorer.modalities.text import EMPTY_SENTENCE
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\0", "") if text.strip() else EMPTY_SENTENCE


@pytest.mark.parametrize("name", [TEXT, BPE])
def test_a_drag_is_decoded_in_the_page_as_the_server_decodes_it(browser, app, client, name):
    pg = open_page(browser, app)
    assert on_model(pg, name) == "browser", pg.inner_text("#decode-mode")
    label = 0 if name == BPE else -1  # a CVAE's class picker starts at its first class
    assert "decoded in the browser" in pg.inner_text("#decode-mode").lower()
    assert pg.locator("#decoded-image canvas.xp-live").count() == 0  # no image overlay for a sentence
    rng = pg.locator("#z-0 input[type=range]")
    box, y = grab_slider(pg, 0)
    since = len(pg.requests)
    seen = []
    for f in (0.05, 0.2, 0.35, 0.65, 0.8, 0.95):
        runs = pg.evaluate("window.__xpDecoder.runs")
        pg.mouse.move(box["x"] + box["width"] * f, y)
        pg.wait_for_function("(n) => window.__xpDecoder.runs > n", arg=runs, timeout=5_000)
        seen.append((pg.evaluate("window.__xpDecoder.lastZ"), sentence(pg)))
    assert to_server(pg, since) == [], "a move while dragging sent a request"
    assert len({z[0] for z, _ in seen}) == len(seen), "every move decoded a new z"
    for z, text in seen:  # the page's sentence for each z is the server's
        assert text == shown(client.predict(model=name, z=z, label=label, api_name="/decode")), z
    assert len({t for _, t in seen}) >= 2, "the sentences did not change: the test would prove nothing"
    pg.mouse.up()
    pg.wait_for_timeout(1000)
    sent = to_server(pg, since)
    assert 1 <= len(sent) <= 3, [(r.url, (r.post_data or "")[:200]) for r in sent]  # the release: the final z, once
    value = float(rng.input_value())
    for r in sent:
        body = json.loads(r.post_data)
        numbers = [v for v in body["data"][1:] if isinstance(v, (int, float))]
        assert body["data"][0] == name and any(abs(v - value) < 1e-9 for v in numbers), r.post_data[:300]
    assert sentence(pg) == seen[-1][1]  # the server's answer for the final z is the page's sentence
    assert not pg.errors, pg.errors
    pg.close()


@pytest.mark.parametrize("name", [TEXT, CVAE, BPE])
def test_page_and_server_write_the_same_sentences(browser, app, registry, name):
    """60 random z (and classes) decoded by the page's decoder and by the server's model: the same sentences."""
    pg = open_page(browser, app)
    assert on_model(pg, name) == "browser", pg.inner_text("#decode-mode")
    loaded = registry.get(name)
    rs = np.random.default_rng(1)
    zs = (rs.normal(0, 1, (60, D)) * rs.choice([0.5, 1, 2, 3], (60, 1))).astype(np.float32)
    labels = [int(v) for v in rs.integers(0, loaded.num_classes, 60)] if loaded.num_classes else [None] * 60
    page = pg.evaluate("async ([zs, ls]) => { const out = []; for (let i = 0; i < zs.length; i++) "
                       "out.push(await window.__xpDecoder.decode(zs[i], ls[i])); return out; }",
                       [zs.tolist(), labels])
    want = [loaded.backend.decode(zs[i:i + 1], labels[i])[0] for i in range(60)]
    assert page == want
    assert len(set(want)) > 10
    assert not pg.errors, pg.errors
    pg.close()


def test_a_text_cvae_decodes_a_new_class_in_the_page(browser, app, client):
    pg = open_page(browser, app)
    assert on_model(pg, BPE) == "browser", pg.inner_text("#decode-mode")
    pg.wait_for_selector("#class-picker", state="visible")
    # move a slider first, so the sentence is not the one the server drew at load
    rng = pg.locator("#z-1 input[type=range]")
    rng.focus()
    for _ in range(3):
        pg.keyboard.press("PageUp")
    pg.wait_for_timeout(600)
    z = pg.evaluate("window.__xpDecoder.lastZ")
    assert z[1] > 0.5
    for k in (1, 0, 1):
        runs = pg.evaluate("window.__xpDecoder.runs")
        pg.locator("#class-picker label").nth(k).click()
        pg.wait_for_function("(n) => window.__xpDecoder.runs > n", arg=runs, timeout=5_000)
        # the page decoded the new class itself ...
        assert pg.evaluate("window.__xpDecoder.lastZ") == z
        want = client.predict(model=BPE, z=z, label=k, api_name="/decode")
        assert pg.evaluate("window.__xpDecoder.lastText") == want, k
        # ... and shows it (a late server answer for the class before may redraw it for a frame first)
        pg.wait_for_function("(w) => document.querySelector('#decoded-image .xp-sentence').textContent === w",
                             arg=shown(want), timeout=5_000)
    # the row (the z as every class) is redrawn by the server's answer and the page alike: the server's sentences
    pg.wait_for_timeout(1200)
    row = pg.eval_on_selector_all("#class-row figure .xp-sentence-small", "els => els.map((e) => e.textContent)")
    assert row == [shown(client.predict(model=BPE, z=z, label=k, api_name="/decode")) for k in range(2)]
    assert pg.locator("#class-row figure.current").count() == 1
    assert sentence(pg) == row[1]
    assert not pg.errors, pg.errors
    pg.close()


def _other_file(app) -> bytes:
    """The decoder file of a text VAE with fake-text-vae's sizes and other weights."""
    from explorer import ModelRegistry
    from explorer.ui.browser_decode import page_decoder

    folder = app.assets.parent / "other" / "other-vae"
    d = page_decoder("other-vae", ModelRegistry.discover(app.assets.parent / "none", [folder]).get("other-vae"))
    return open(d["url"].split("=", 1)[1].split("?")[0], "rb").read()


@pytest.mark.parametrize("case", ["missing", "corrupted", "another model's"])
def test_a_broken_decoder_file_falls_back_to_the_server(browser, app, case):
    if case == "missing":
        route = ("**/text_decoder.safetensors*", lambda r: r.fulfill(status=404, body=b"gone"))
        why = "HTTP 404"
    elif case == "corrupted":
        route = ("**/text_decoder.safetensors*", lambda r: r.fulfill(status=200, body=b"\x08\x07not a file" * 50))
        why = "the decoder file"
    else:
        body = _other_file(app)
        route = ("**/text_decoder.safetensors*", lambda r: r.fulfill(status=200, body=body))
        why = "where the server writes"
    pg = open_page(browser, app, route=route)
    assert on_model(pg, TEXT) == "server"
    line = pg.inner_text("#decode-mode")
    assert "on the server" in line and "could not run in the page" in line and why in line, line
    before = sentence(pg)
    since = len(pg.requests)
    rng = pg.locator("#z-0 input[type=range]")
    rng.focus()
    for _ in range(8):  # keys until the sentence changes: the server decodes every move
        pg.keyboard.press("PageDown")
        pg.wait_for_timeout(250)
        if sentence(pg) != before:
            break
    assert sentence(pg) != before
    assert to_server(pg, since), "the server decoded the moves"
    assert not pg.errors, pg.errors
    pg.close()
