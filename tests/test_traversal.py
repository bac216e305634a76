"""The traversal grid (explorer.tools.traversal): one row per latent dimension, through the plain functions, the
/traverse endpoint (gradio_client against the app on localhost) and the tab's own event
(explorer.ui.tabs.traversal).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from helpers import Z32, api_refuses, event_refuses, read_png

from explorer.registry import ModelRegistry
from explorer.testing import make_assets, make_model_folder
from explorer.tools import explore, traversal
from explorer.ui.tabs.traversal import traversal_html
from explorer.validation import InputError

D = 4
DEAD = 2  # the latent dimension the "dead" VAE's decoder ignores


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("traversal")
    assets = make_assets(root / "assets", latent_dim=D, n_points=120)
    # A VAE whose decoder ignores dimension DEAD (its weights zeroed), with metrics.json saying so, as a trained
    # model with an inactive unit does; and one without kl_per_dim, whose KL has to be estimated.
    from training import load_model, save_model
    dead = make_model_folder(assets / "dead-vae", kind="vae", latent_dim=D, n_points=120, seed=5)
    model = load_model(dead)
    with torch.no_grad():
        model.decoder.hidden.weight[:, DEAD] = 0.0
    save_model(model, dead, data={"dataset": "synthetic"})
    metrics = json.loads((dead / "metrics.json").read_text())
    metrics["kl_per_dim"] = [1.5, 3.0, 1e-4, 0.7]
    (dead / "metrics.json").write_text(json.dumps(metrics))
    nokl = make_model_folder(assets / "nokl-vae", kind="vae", latent_dim=D, n_points=120, seed=6)
    metrics = json.loads((nokl / "metrics.json").read_text())
    del metrics["kl_per_dim"]
    (nokl / "metrics.json").write_text(json.dumps(metrics))
    return ModelRegistry.discover(assets)


def test_traversal_rows_are_ordered_by_kl_and_the_unused_dimension_is_flat(registry):
    loaded = registry.get("dead-vae")
    z = [0.3, -0.2, 0.5, 0.1]
    res = traversal.traverse(loaded, z)
    assert res["images"].shape == (D, 9, 28, 28) and res["measure"] == "KL"
    assert [r["dim"] for r in res["rows"]] == [1, 0, 3, 2]  # KL 3.0, 1.5, 0.7, 1e-4
    assert [r["active"] for r in res["rows"]] == [True, True, True, False]
    assert "unused" in res["rows"][-1]["label"] and "KL 3.00 nats" in res["rows"][0]["label"]
    dead_row = res["images"][-1]
    assert np.abs(dead_row - dead_row[0]).max() < 1e-6  # the decoder ignores it: nine identical images
    for row in res["images"][:-1]:
        assert np.abs(row - row[0]).max() > 1e-3      # the others change along the row
    # Each cell is z with that one dimension replaced by the column's value.
    want = np.array(z, np.float32)
    want[1] = traversal.SWEEP[0]
    np.testing.assert_allclose(res["images"][0, 0], explore.decode(loaded, want), atol=1e-5)
    assert res["rows"][0]["values"] == [round(float(v), 3) for v in traversal.SWEEP]
    assert "1 of 4" not in res["note"] and "3 of 4 dimensions are in use" in res["note"]


def test_traversal_of_an_ae_is_ordered_by_code_variance(registry):
    loaded = registry.get("fake-ae")
    res = traversal.traverse(loaded, [0.0] * D)
    var = loaded.latent_map.mu.var(axis=0)
    assert res["measure"] == "variance" and "variance" in res["note"]
    assert [r["dim"] for r in res["rows"]] == list(np.argsort(-var, kind="stable"))
    d = res["rows"][0]["dim"]  # an AE's row sweeps mean +- 3 std of that dimension's codes
    np.testing.assert_allclose(res["rows"][0]["values"][0], loaded.code_mean[d] - 3 * loaded.code_std[d], atol=1e-3)


def test_traversal_kl_is_estimated_when_metrics_has_none(registry):
    loaded = registry.get("nokl-vae")
    scores, measure, source = traversal.dimension_scores(loaded)
    assert measure == "KL" and "estimated" in source and scores.shape == (D,) and (scores >= 0).all()
    assert traversal.traverse(loaded, [0.0] * D)["rows"][0]["score"] == pytest.approx(scores.max())


def test_traversal_of_a_cvae_needs_a_class_and_uses_it(registry):
    loaded = registry.get("fake-cvae")
    with pytest.raises(InputError, match="conditional"):
        traversal.traverse(loaded, [0.0] * D)
    with pytest.raises(InputError, match="out of range"):
        traversal.traverse(loaded, [0.0] * D, 10)
    r3, r4 = traversal.traverse(loaded, [0.0] * D, 3), traversal.traverse(loaded, [0.0] * D, 4)
    assert not np.allclose(r3["images"], r4["images"])


def test_traversal_sheet_and_html(registry):
    res = traversal.traverse(registry.get("dead-vae"), [0.0] * D)
    sheet = traversal.traversal_image(res)
    assert sheet.dtype == np.uint8 and sheet.shape[0] >= D * 30 * 2 and sheet.shape[1] >= 9 * 30 * 2
    page = traversal_html(res)
    assert page.count("<tr") == D + 1 and page.count('class="unused"') == 1


# ---------------------------------------------------------------------------------------------------------------
# The /traverse endpoint, through gradio_client

def test_api_traverse(served, registry):
    grid, info = served.predict(model="dead-vae", z=[0.0] * D, label=-1, api_name="/traverse")
    res = traversal.traverse(registry.get("dead-vae"), [0.0] * D)
    assert np.array_equal(read_png(grid), traversal.traversal_image(res))
    assert [r["dim"] for r in info["rows"]] == [1, 0, 3, 2] and info["measure"] == "KL"


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/traverse", dict(model="fake-vae", z=[0.0] * (D + 1), label=-1), f"this model has {D} latent dimensions"),
    ("/traverse", dict(model="fake-cvae", z=[0.0] * D, label=-1), "conditional"),
])
def test_api_bad_input_gets_a_clear_message(served, endpoint, kwargs, words):
    api_refuses(served, endpoint, kwargs, words)


# ---------------------------------------------------------------------------------------------------------------
# The tab's own event: anyone can call it by fn_index with any JSON (preprocess=False), so junk must come back as a
# clear message, never as the "something went wrong" of an unexpected exception.

@pytest.mark.parametrize("name, args, words", [
    ("on_traverse", ("fake-cvae", None, *Z32), "conditional"),
    ("on_traverse", ("fake-vae", -1, *([None] * 32)), "finite"),
])
def test_tab_events_answer_junk_with_a_clear_message(demo, name, args, words):
    event_refuses(demo, name, args, words)
