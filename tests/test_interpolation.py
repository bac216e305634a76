"""Interpolation (explorer.tools.interpolation): the path between two points, through the plain functions, the
/interpolate endpoint (gradio_client against the app on localhost) and the tab's own events
(explorer.ui.tabs.interpolation).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import numpy as np
import pytest
from helpers import FAKE_LATENT_DIM, HUGE, Z32, api_refuses, event, event_refuses, read_png

from explorer.latent_map import project_pca
from explorer.tools import explore, interpolation
from explorer.validation import InputError

D = FAKE_LATENT_DIM  # conftest's registry


def test_linear_codes_run_straight_from_a_to_b():
    a, b = np.array([1.0, 0, 0, 2]), np.array([-1.0, 2, 0, 0])
    zs, note = interpolation.interpolation_codes(a, b, 5, "linear")
    assert zs.shape == (5, 4) and zs.dtype == np.float32
    np.testing.assert_allclose(zs[0], a), np.testing.assert_allclose(zs[-1], b)
    np.testing.assert_allclose(zs[2], (a + b) / 2, atol=1e-6)
    assert "linear" in note


def test_slerp_keeps_the_norm_between_equal_norm_ends_and_falls_back_when_parallel():
    a, b = np.array([3.0, 0, 0, 0]), np.array([0, 0, 3.0, 0])
    zs, note = interpolation.interpolation_codes(a, b, 7, "slerp")
    np.testing.assert_allclose(zs[0], a, atol=1e-6), np.testing.assert_allclose(zs[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(zs, axis=1), 3.0, atol=1e-5)  # linear would dip to 2.12 mid-way
    assert "90°" in note
    lin, _ = interpolation.interpolation_codes(a, b, 7, "linear")
    assert np.linalg.norm(lin[3]) < 2.2
    zs, note = interpolation.interpolation_codes(a, 2 * a, 3, "slerp")
    np.testing.assert_allclose(zs[1], 1.5 * a, atol=1e-6)
    assert "falls back to linear" in note


def test_interpolate_decodes_the_path_and_places_it_on_the_map(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    res = interpolation.interpolate(loaded, 3, 17, 6, "slerp")
    assert res["images"].shape == (6, 28, 28) and res["labels"] is None
    assert res["captions"][0] == "A" and res["captions"][-1] == "B"
    np.testing.assert_allclose(res["z"][0], lmap.mu[3], atol=1e-5)
    np.testing.assert_allclose(res["z"][-1], lmap.mu[17], atol=1e-5)
    np.testing.assert_allclose(res["images"][0], explore.decode(loaded, lmap.mu[3]), atol=1e-5)
    np.testing.assert_allclose(res["images"][-1], explore.decode(loaded, lmap.mu[17]), atol=1e-5)
    # PCA: the exact projection of every step; t-SNE: the stored position of the nearest test code.
    for k, z in enumerate(res["z"]):
        x, y = project_pca(lmap, z)
        assert res["path"]["pca"]["x"][k] == pytest.approx(x, abs=1e-3)
        assert res["path"]["pca"]["y"][k] == pytest.approx(y, abs=1e-3)
        i = int(((lmap.mu - np.asarray(z, np.float32)) ** 2).sum(1).argmin())
        assert res["path"]["tsne"]["x"][k] == pytest.approx(float(lmap.coords["tsne"][i, 0]), abs=1e-3)
    assert res["path"]["tsne"]["x"][0] == pytest.approx(float(lmap.coords["tsne"][3, 0]), abs=1e-3)
    strip = interpolation.strip_image(res)
    assert strip.dtype == np.uint8 and strip.shape[1] > 6 * 28 * 4


def test_cvae_holds_the_class_or_sweeps_it(registry):
    loaded = registry.get("fake-cvae")
    lmap = loaded.latent_map
    a, b = next((i, j) for i in range(lmap.n) for j in range(lmap.n) if lmap.labels[i] != lmap.labels[j])
    la, lb = int(lmap.labels[a]), int(lmap.labels[b])
    fixed = interpolation.interpolate(loaded, a, b, 6, "linear", "fixed")
    sweep = interpolation.interpolate(loaded, a, b, 6, "linear", "sweep")
    assert fixed["labels"] == [la] * 6
    assert sweep["labels"] == [la] * 3 + [lb] * 3
    np.testing.assert_allclose(sweep["images"][:3], fixed["images"][:3], atol=1e-6)
    np.testing.assert_allclose(sweep["images"][-1], explore.decode(loaded, fixed["z"][-1], lb), atol=1e-5)
    assert not np.allclose(sweep["images"][-1], fixed["images"][-1])
    assert loaded.backend.model.class_names[lb] in sweep["captions"][-1]


def test_points_from_the_page(registry):
    loaded = registry.get("fake-cvae")
    p = interpolation.check_point(loaded, {"z": [0.1, 0.2, 0.3, 0.4], "label": 3}, "A")
    assert p["index"] is None and p["label"] == 3 and "current z" in p["name"]
    q = interpolation.check_point(loaded, {"index": 5}, "B")
    assert q["index"] == 5 and q["label"] == int(loaded.latent_map.labels[5])
    res = interpolation.interpolate_points(loaded, p, q, 4, "linear", "sweep")
    assert res["labels"] == [3, 3, q["label"], q["label"]]


@pytest.mark.parametrize("kwargs, words", [
    (dict(steps=1), "from 2 to 32"),
    (dict(steps=33), "from 2 to 32"),
    (dict(steps=2.5), "from 2 to 32"),
    (dict(steps="many"), "from 2 to 32"),
    (dict(steps=True), "from 2 to 32"),
    (dict(mode="cubic"), "'linear' or 'slerp'"),
    (dict(mode=None), "'linear' or 'slerp'"),
    (dict(class_mode="blend"), "'fixed' or 'sweep'"),
    (dict(index_b=0), "same point"),
    (dict(index_b=120), "out of range"),
    (dict(index_a=-1), "out of range"),
    (dict(index_a="x"), "whole number"),
])
def test_interpolate_bad_input_says_what_to_fix(registry, kwargs, words):
    args = dict(index_a=0, index_b=1, steps=8, mode="linear", class_mode="fixed") | kwargs
    with pytest.raises(InputError) as e:
        interpolation.interpolate(registry.get("fake-vae"), **args)
    assert words in str(e.value)


@pytest.mark.parametrize("value, words", [
    (None, "not set"), ({}, "not set"), ("12", "must be"), ({"foo": 1}, "must hold"),
    ({"z": [0, 0]}, "4 latent dimensions"), ({"z": [0, 0, 0, 0], "label": 99}, "out of range"),
])
def test_bad_points_say_what_to_fix(registry, value, words):
    with pytest.raises(InputError) as e:
        interpolation.check_point(registry.get("fake-cvae"), value, "A")
    assert words in str(e.value)


def test_the_same_z_twice_is_the_same_point(registry):
    loaded = registry.get("fake-vae")
    p = interpolation.point_from_z(loaded, [0.5, 0, 0, 0])
    with pytest.raises(InputError, match="same point"):
        interpolation.interpolate_points(loaded, p, dict(p), 8)


# ---------------------------------------------------------------------------------------------------------------
# The /interpolate endpoint, through gradio_client

def test_api_interpolate(served, registry):
    strip, info = served.predict(model="fake-cvae", index_a=1, index_b=2, steps=5, mode="slerp", class_mode="sweep",
                                 api_name="/interpolate")
    res = interpolation.interpolate(registry.get("fake-cvae"), 1, 2, 5, "slerp", "sweep")
    assert np.array_equal(read_png(strip), interpolation.strip_image(res))
    assert info["captions"] == res["captions"] and np.allclose(info["z"], res["z"])
    assert set(info["path"]) >= {"pca", "tsne"}


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/interpolate", dict(model="fake-vae", index_a=4, index_b=4, steps=8, mode="linear"), "same point"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=1, steps=100, mode="linear"), "from 2 to 32"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=1, steps=8, mode="zigzag"), "'linear' or 'slerp'"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=10**6, steps=8), "out of range"),
])
def test_api_bad_input_gets_a_clear_message(served, endpoint, kwargs, words):
    api_refuses(served, endpoint, kwargs, words)


# ---------------------------------------------------------------------------------------------------------------
# The tab's own events: anyone can call them by fn_index with any JSON (preprocess=False), so junk must come back
# as a clear message, never as the "something went wrong" of an unexpected exception.

@pytest.mark.parametrize("name, args, words", [
    ("on_interpolate", ("fake-vae", None, {"index": 1}, 8, "linear", "fixed"), "point A is not set"),
    ("on_interpolate", ("fake-vae", {"index": 1}, "junk", 8, "linear", "fixed"), "point B must be"),
    ("on_interpolate", ("fake-vae", {"index": 1}, {"index": 2}, HUGE, "linear", "fixed"), "from 2 to 32"),
    ("on_interpolate", ("fake-vae", {"index": HUGE}, {"index": 2}, 8, "linear", "fixed"), "whole number"),
    ("on_interpolate", ("fake-vae", {"index": 1}, {"index": 2}, 8, ["linear"], "fixed"), "'linear' or 'slerp'"),
    ("on_interpolate", (HUGE, {"index": 1}, {"index": 2}, 8, "linear", "fixed"), "unknown model"),
    ("on_interpolate_auto", ("fake-vae", {"index": 3}, {"index": 3}, 8, "linear", "fixed"), "same point"),
    ("on_set_a", ("fake-vae", None, None, *(["x"] * 32)), "not numbers"),
    ("on_set_b", ("fake-cvae", 99, "junk", *Z32), "out of range"),
])
def test_tab_events_answer_junk_with_a_clear_message(demo, name, args, words):
    event_refuses(demo, name, args, words)


def test_map_click_events_check_the_event_data(demo):
    import gradio as gr
    on_click = event(demo, "on_map_click")
    for data, words in [(None, "must carry the index"), ({"index": 10**9}, "out of range"),
                        ({"index": [HUGE]}, "whole number")]:
        with pytest.raises(gr.Error) as e:
            on_click("fake-vae", True, "A", evt=gr.EventData(None, data))
        assert words in e.value.message
    out = on_click("fake-vae", True, "B", evt=gr.EventData(None, {"index": 4}))
    assert out[0] == 4 and out[3]["index"] == 4 and out[-1] == "A"  # the click set B; the next one sets A
    assert event(demo, "on_interpolate_auto")("fake-vae", None, None, 8, "linear", "fixed") == [gr.skip()] * 4
