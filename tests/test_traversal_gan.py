"""The traversal grid of a GAN (explorer.tools.traversal): no KL term, so rows are ordered by how much each latent
dimension changes the image (the mean absolute pixel change between neighbouring columns of its row), through the
plain functions, the tab's HTML and the /traverse endpoint (gradio_client against the app on localhost). Models with
a KL stay ordered by KL (tests/test_traversal.py).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import read_png

from explorer.backends import backend_spec
from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools import explore, traversal
from explorer.ui.tabs.traversal import HELP, traversal_html
from explorer.validation import InputError

D = 5
DEAD = 3  # the latent dimension the "dead" GAN's generator ignores


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from training import load_model, save_model

    root = tmp_path_factory.mktemp("traversal-gan") / "assets"
    make_model_folder(root / "fake-vae", kind="vae", latent_dim=D, n_points=60)
    make_model_folder(root / "fake-cgan", kind="cgan", latent_dim=D, n_points=60, seed=2)
    dead = make_model_folder(root / "dead-gan", kind="gan", latent_dim=D, n_points=60, seed=1)
    model = load_model(dead)
    with torch.no_grad():
        model.decoder.dense[0].weight[:, DEAD] = 0.0  # the generator's first layer no longer sees z[DEAD]
    save_model(model, dead, data={"dataset": "synthetic"})
    return root


@pytest.fixture(scope="module")
def registry(assets):
    return ModelRegistry.discover(assets)


def sweep_change(loaded, z, dim, label=None) -> float:
    """The mean absolute pixel change between neighbouring columns of one row, decoded one image at a time."""
    imgs = []
    for v in traversal.SWEEP:
        zz = np.array(z, np.float32)
        zz[dim] = v
        imgs.append(explore.decode(loaded, zz, label))
    return float(np.abs(np.diff(np.stack(imgs).astype(np.float64), axis=0)).mean())


def test_the_ranking_follows_the_capabilities():
    assert [traversal.ranking(backend_spec(k).capabilities) for k in ("vae", "cvae", "ae", "gan", "cgan")] == \
        ["KL", "KL", "variance", "pixel change", "pixel change"]


def test_gan_rows_are_ordered_by_pixel_change_and_the_ignored_dimension_is_last_and_flat(registry):
    loaded = registry.get("dead-gan")
    z = [0.4, -0.3, 0.2, 0.1, -0.5]
    res = traversal.traverse(loaded, z)
    assert res["images"].shape == (D, 9, 28, 28) and res["measure"] == "pixel change"
    changes = [sweep_change(loaded, z, k) for k in range(D)]
    assert [r["dim"] for r in res["rows"]] == list(np.argsort(changes, kind="stable")[::-1])
    for r in res["rows"]:
        assert r["score"] == pytest.approx(changes[r["dim"]], abs=1e-6)
        assert r["values"] == [round(float(v), 3) for v in traversal.SWEEP]  # the prior's -3..3, as a VAE
    last = res["rows"][-1]
    assert last["dim"] == DEAD and not last["active"] and "unused" in last["label"]
    assert np.abs(res["images"][-1] - res["images"][-1][0]).max() < 1e-6   # nine identical images
    assert all(r["active"] for r in res["rows"][:-1]) and res["rows"][0]["label"].startswith(
        f"z{res['rows'][0]['dim'] + 1} · change ")
    # Each cell is z with that one dimension replaced by the column's value.
    want = np.array(z, np.float32)
    want[res["rows"][0]["dim"]] = traversal.SWEEP[2]
    np.testing.assert_allclose(res["images"][0, 2], explore.decode(loaded, want), atol=1e-5)
    assert "no KL term" in res["note"] and "pixel change" in res["note"] and f"{D - 1} of {D}" in res["note"]
    assert res["columns"] == traversal.KL_COLUMNS


def test_the_ignored_dimension_is_last_wherever_z_is(registry):
    loaded = registry.get("dead-gan")
    orders = {tuple(r["dim"] for r in traversal.traverse(loaded, z)["rows"])
              for z in np.random.default_rng(0).standard_normal((6, D)).tolist()}
    assert all(o[-1] == DEAD for o in orders)  # the ignored dimension is last wherever z is


def test_a_cgan_traversal_needs_its_class_and_uses_it(registry):
    loaded = registry.get("fake-cgan")
    with pytest.raises(InputError, match="conditional"):
        traversal.traverse(loaded, [0.0] * D)
    r1, r7 = traversal.traverse(loaded, [0.0] * D, 1), traversal.traverse(loaded, [0.0] * D, 7)
    assert r1["measure"] == "pixel change" and not np.allclose(r1["images"], r7["images"])
    assert r7["rows"][0]["score"] == pytest.approx(sweep_change(loaded, [0.0] * D, r7["rows"][0]["dim"], 7), abs=1e-6)


def test_a_vae_beside_it_stays_ordered_by_kl(registry):
    res = traversal.traverse(registry.get("fake-vae"), [0.0] * D)
    assert res["measure"] == "KL" and "KL" in res["rows"][0]["label"]


def test_the_tab_says_why_a_gan_is_ordered_by_pixel_change(registry):
    res = traversal.traverse(registry.get("dead-gan"), [0.0] * D)
    page = traversal_html(res)
    assert page.count("<tr") == D + 1 and page.count('class="unused"') == 1
    assert "<th>-3</th>" in page and "<th>0</th>" in page and "<th>3</th>" in page
    assert "GAN has no KL term" in " ".join(HELP.split()) and "mean absolute pixel change" in " ".join(HELP.split())
    sheet = traversal.traversal_image(res)
    assert sheet.dtype == np.uint8 and sheet.shape[0] >= D * 30 * 2


def test_api_traverse_of_a_gan(served, registry):
    grid, info = served.predict(model="dead-gan", z=[0.0] * D, label=-1, api_name="/traverse")
    res = traversal.traverse(registry.get("dead-gan"), [0.0] * D)
    assert np.array_equal(read_png(grid), traversal.traversal_image(res))
    assert info["measure"] == "pixel change" and info["rows"][-1]["dim"] == DEAD and "no KL term" in info["note"]
