"""End-to-end: a text model in the explorer, in Debian's chromium (`python app.py` on synthetic folders: the image
fake-ae, fake-vae, fake-cvae and the text fake-text-vae, fake-text-cvae of explorer.testing.make_text_folder).

Drag a slider and see the decoded sentence change (decoded in the page); click a map point and see its definition, headword and greedy
reconstruction; type a sentence and see it placed in the sliders with a reverse dictionary; run an interpolation
between two clicked definitions. A screenshot of the main view goes to the test's tmp_path (text-main-view.png).
Fails, never skips, when chromium is missing.
"""
from __future__ import annotations

import pytest

from explorer.testing.browser import (MAP_READY, browser_page, click_map_point, drag_slider, pick_model, serving,
                                      slider_values)

pytestmark = pytest.mark.e2e
TEXT, CVAE = "fake-text-vae", "fake-text-cvae"
D = 4
SENTENCE = "#decoded-image .xp-sentence"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from explorer.testing import make_assets
    assets = make_assets(tmp_path_factory.mktemp("e2e-text") / "assets", latent_dim=D, n_points=100, text=True)
    with serving(assets) as server:
        yield server


@pytest.fixture(scope="module")
def page(app):
    with browser_page(app.url, ready=lambda pg, timeout: pg.wait_for_selector(MAP_READY, timeout=timeout)) as pg:
        yield pg


def on_model(page, name: str) -> None:
    pick_model(page, name)
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.model === m",
                           arg=name, timeout=20_000)
    page.wait_for_selector(SENTENCE, timeout=20_000)
    page.wait_for_timeout(800)


def sentence(page, elem_id: str = "decoded-image") -> str:
    return page.inner_text(f"#{elem_id} .xp-sentence")


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


def test_a_text_model_shows_a_sentence_and_decodes_it_in_the_page(page):
    on_model(page, TEXT)
    assert sentence(page).strip()
    assert page.locator("#latent-sliders input[type=range]:visible").count() == D
    # the greedy decoder runs in the page (static/text_decoder.js; tests/e2e/test_text_browser_decode.py)
    page.wait_for_function("(m) => window.__xpDecoder && window.__xpDecoder.model === m && "
                           "window.__xpDecoder.mode === 'browser'", arg=TEXT, timeout=20_000)
    assert "decoded in the browser" in page.inner_text("#decode-mode").lower()
    assert page.locator("#decoded-image canvas.xp-live:visible").count() == 0  # no in-page ONNX decode


def test_drag_a_slider_and_the_sentence_changes(app, page):
    on_model(page, TEXT)
    first = sentence(page)
    drag_slider(page, 0, 0.95)
    page.wait_for_function("(s) => document.querySelector('#decoded-image .xp-sentence').innerText !== s",
                           arg=first, timeout=10_000)
    page.wait_for_timeout(800)
    z = slider_values(page, D)
    assert z[0] > 1.0
    from gradio_client import Client
    expected = Client(app.url, verbose=False).predict(model=TEXT, z=z, label=-1, api_name="/decode")
    assert sentence(page).strip() == expected.strip()


def test_click_a_point_shows_its_definition_headword_and_reconstruction(app, page, tmp_path):
    on_model(page, TEXT)
    index = click_map(page, trace=0, point=2)
    page.wait_for_function("(i) => document.querySelector('#selected-original').innerText.includes('#' + i)",
                           arg=index, timeout=10_000)
    from gradio_client import Client
    orig, recon, z, info = Client(app.url, verbose=False).predict(model=TEXT, index=index, api_name="/reconstruct")
    assert sentence(page, "selected-original") == orig
    assert info["headword"] in page.inner_text("#selected-original")
    assert sentence(page, "selected-reconstruction").strip() == recon.strip()
    page.wait_for_timeout(500)
    assert slider_values(page, D) == pytest.approx(z, abs=0.006)
    page.screenshot(path=str(tmp_path / "text-main-view.png"), full_page=True)


def test_type_a_sentence_and_it_is_placed(page):
    on_model(page, CVAE)
    page.get_by_role("tab", name="Your own text").click()
    assert page.locator("#text-controls").is_visible() and not page.locator("#text-off").is_visible()
    page.fill("#text-input textarea", "a red cat that runs \U0001F431")
    page.click("#encode-text-button")
    page.wait_for_function("() => document.querySelectorAll('#reverse-dictionary li').length === 8",
                           timeout=20_000)
    page.wait_for_function("() => document.querySelector('#text-note').innerText.includes('sliders')")
    assert page.locator("#text-ranking tr").count() == 2  # the CVAE ranks both category groups
    page.wait_for_timeout(500)
    assert any(v != 0 for v in slider_values(page, D))
    assert sentence(page).strip() == sentence(page, "text-reconstruction").strip()
    page.get_by_role("tab", name="Your drawing").click()
    assert page.locator("#draw-off").is_visible() and "text model" in page.inner_text("#draw-off")


def test_interpolation_between_two_clicked_definitions(page):
    on_model(page, TEXT)
    page.get_by_role("tab", name="Interpolation").click()
    page.locator("#pick-on-map input").check()
    a = click_map(page, trace=0, point=1)
    page.wait_for_function("(i) => document.querySelector('#point-a').innerText.includes('#' + i)", arg=a)
    b = click_map(page, trace=1, point=3)
    page.wait_for_function("(i) => document.querySelector('#point-b').innerText.includes('#' + i)", arg=b)
    page.wait_for_function("() => document.querySelectorAll('#interp-strip li').length === 8", timeout=20_000)
    page.wait_for_function("() => document.querySelector('#latent-map .xp-map-plot').dataset.path === '8'")
    assert "definition #" in page.inner_text("#interp-note")
    page.locator("#pick-on-map input").uncheck()
