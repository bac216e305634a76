"""The latent-space tools (explorer.ztools): interpolation, traversal grid, nearest neighbours, attribute arithmetic,
through the plain functions and through their named API endpoints (gradio_client against the app on localhost).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import actions, ztools
from explorer import inference as inf
from explorer.checks import InputError
from explorer.latent_map import project_pca
from explorer.registry import ModelRegistry
from explorer.testing import make_assets, make_model_folder

D = 4
DEAD = 2  # the latent dimension the "dead" VAE's decoder ignores


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    root = tmp_path_factory.mktemp("ztools")
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


# ---------------------------------------------------------------------------------------------------------------
# 1. Interpolation

def test_linear_codes_run_straight_from_a_to_b():
    a, b = np.array([1.0, 0, 0, 2]), np.array([-1.0, 2, 0, 0])
    zs, note = ztools.interpolation_codes(a, b, 5, "linear")
    assert zs.shape == (5, 4) and zs.dtype == np.float32
    np.testing.assert_allclose(zs[0], a), np.testing.assert_allclose(zs[-1], b)
    np.testing.assert_allclose(zs[2], (a + b) / 2, atol=1e-6)
    assert "linear" in note


def test_slerp_keeps_the_norm_between_equal_norm_ends_and_falls_back_when_parallel():
    a, b = np.array([3.0, 0, 0, 0]), np.array([0, 0, 3.0, 0])
    zs, note = ztools.interpolation_codes(a, b, 7, "slerp")
    np.testing.assert_allclose(zs[0], a, atol=1e-6), np.testing.assert_allclose(zs[-1], b, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(zs, axis=1), 3.0, atol=1e-5)  # linear would dip to 2.12 mid-way
    assert "90°" in note
    lin, _ = ztools.interpolation_codes(a, b, 7, "linear")
    assert np.linalg.norm(lin[3]) < 2.2
    zs, note = ztools.interpolation_codes(a, 2 * a, 3, "slerp")
    np.testing.assert_allclose(zs[1], 1.5 * a, atol=1e-6)
    assert "falls back to linear" in note


def test_interpolate_decodes_the_path_and_places_it_on_the_map(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    res = ztools.interpolate(loaded, 3, 17, 6, "slerp")
    assert res["images"].shape == (6, 28, 28) and res["labels"] is None
    assert res["captions"][0] == "A" and res["captions"][-1] == "B"
    np.testing.assert_allclose(res["z"][0], lmap.mu[3], atol=1e-5)
    np.testing.assert_allclose(res["z"][-1], lmap.mu[17], atol=1e-5)
    np.testing.assert_allclose(res["images"][0], inf.decode(loaded.model, lmap.mu[3]), atol=1e-5)
    np.testing.assert_allclose(res["images"][-1], inf.decode(loaded.model, lmap.mu[17]), atol=1e-5)
    # PCA: the exact projection of every step; t-SNE: the stored position of the nearest test code.
    for k, z in enumerate(res["z"]):
        x, y = project_pca(lmap, z)
        assert res["path"]["pca"]["x"][k] == pytest.approx(x, abs=1e-3)
        assert res["path"]["pca"]["y"][k] == pytest.approx(y, abs=1e-3)
        i = int(((lmap.mu - np.asarray(z, np.float32)) ** 2).sum(1).argmin())
        assert res["path"]["tsne"]["x"][k] == pytest.approx(float(lmap.coords["tsne"][i, 0]), abs=1e-3)
    assert res["path"]["tsne"]["x"][0] == pytest.approx(float(lmap.coords["tsne"][3, 0]), abs=1e-3)
    strip = ztools.strip_image(res)
    assert strip.dtype == np.uint8 and strip.shape[1] > 6 * 28 * 4


def test_cvae_holds_the_class_or_sweeps_it(registry):
    loaded = registry.get("fake-cvae")
    lmap = loaded.latent_map
    a, b = next((i, j) for i in range(lmap.n) for j in range(lmap.n) if lmap.labels[i] != lmap.labels[j])
    la, lb = int(lmap.labels[a]), int(lmap.labels[b])
    fixed = ztools.interpolate(loaded, a, b, 6, "linear", "fixed")
    sweep = ztools.interpolate(loaded, a, b, 6, "linear", "sweep")
    assert fixed["labels"] == [la] * 6
    assert sweep["labels"] == [la] * 3 + [lb] * 3
    np.testing.assert_allclose(sweep["images"][:3], fixed["images"][:3], atol=1e-6)
    np.testing.assert_allclose(sweep["images"][-1], inf.decode(loaded.model, fixed["z"][-1], lb), atol=1e-5)
    assert not np.allclose(sweep["images"][-1], fixed["images"][-1])
    assert loaded.model.class_names[lb] in sweep["captions"][-1]


def test_points_from_the_page(registry):
    loaded = registry.get("fake-cvae")
    p = ztools.check_point(loaded, {"z": [0.1, 0.2, 0.3, 0.4], "label": 3}, "A")
    assert p["index"] is None and p["label"] == 3 and "current z" in p["name"]
    q = ztools.check_point(loaded, {"index": 5}, "B")
    assert q["index"] == 5 and q["label"] == int(loaded.latent_map.labels[5])
    res = ztools.interpolate_points(loaded, p, q, 4, "linear", "sweep")
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
        ztools.interpolate(registry.get("fake-vae"), **args)
    assert words in str(e.value)


@pytest.mark.parametrize("value, words", [
    (None, "not set"), ({}, "not set"), ("12", "must be"), ({"foo": 1}, "must hold"),
    ({"z": [0, 0]}, "4 latent dimensions"), ({"z": [0, 0, 0, 0], "label": 99}, "out of range"),
])
def test_bad_points_say_what_to_fix(registry, value, words):
    with pytest.raises(InputError) as e:
        ztools.check_point(registry.get("fake-cvae"), value, "A")
    assert words in str(e.value)


def test_the_same_z_twice_is_the_same_point(registry):
    loaded = registry.get("fake-vae")
    p = ztools.point_from_z(loaded, [0.5, 0, 0, 0])
    with pytest.raises(InputError, match="same point"):
        ztools.interpolate_points(loaded, p, dict(p), 8)


# ---------------------------------------------------------------------------------------------------------------
# 2. Traversal grid

def test_traversal_rows_are_ordered_by_kl_and_the_unused_dimension_is_flat(registry):
    loaded = registry.get("dead-vae")
    z = [0.3, -0.2, 0.5, 0.1]
    res = ztools.traverse(loaded, z)
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
    want[1] = ztools.SWEEP[0]
    np.testing.assert_allclose(res["images"][0, 0], inf.decode(loaded.model, want), atol=1e-5)
    assert res["rows"][0]["values"] == [round(float(v), 3) for v in ztools.SWEEP]
    assert "1 of 4" not in res["note"] and "3 of 4 dimensions are in use" in res["note"]


def test_traversal_of_an_ae_is_ordered_by_code_variance(registry):
    loaded = registry.get("fake-ae")
    res = ztools.traverse(loaded, [0.0] * D)
    var = loaded.latent_map.mu.var(axis=0)
    assert res["measure"] == "variance" and "variance" in res["note"]
    assert [r["dim"] for r in res["rows"]] == list(np.argsort(-var, kind="stable"))
    d = res["rows"][0]["dim"]  # an AE's row sweeps mean +- 3 std of that dimension's codes
    np.testing.assert_allclose(res["rows"][0]["values"][0], loaded.code_mean[d] - 3 * loaded.code_std[d], atol=1e-3)


def test_traversal_kl_is_estimated_when_metrics_has_none(registry):
    loaded = registry.get("nokl-vae")
    scores, measure, source = ztools.dimension_scores(loaded)
    assert measure == "KL" and "estimated" in source and scores.shape == (D,) and (scores >= 0).all()
    assert ztools.traverse(loaded, [0.0] * D)["rows"][0]["score"] == pytest.approx(scores.max())


def test_traversal_of_a_cvae_needs_a_class_and_uses_it(registry):
    loaded = registry.get("fake-cvae")
    with pytest.raises(InputError, match="conditional"):
        ztools.traverse(loaded, [0.0] * D)
    with pytest.raises(InputError, match="out of range"):
        ztools.traverse(loaded, [0.0] * D, 10)
    r3, r4 = ztools.traverse(loaded, [0.0] * D, 3), ztools.traverse(loaded, [0.0] * D, 4)
    assert not np.allclose(r3["images"], r4["images"])


def test_traversal_sheet_and_html(registry):
    res = ztools.traverse(registry.get("dead-vae"), [0.0] * D)
    sheet = ztools.traversal_image(res)
    assert sheet.dtype == np.uint8 and sheet.shape[0] >= D * 30 * 2 and sheet.shape[1] >= 9 * 30 * 2
    page = ztools.traversal_html(res)
    assert page.count("<tr") == D + 1 and page.count('class="unused"') == 1


# ---------------------------------------------------------------------------------------------------------------
# 6. Nearest neighbours

def test_nearest_neighbours_match_a_brute_force_search(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    found = ztools.nearest_neighbours(loaded, lmap.mu[11])
    assert len(found) == 8 and found[0]["index"] == 11 and found[0]["distance"] == pytest.approx(0, abs=1e-4)
    want = np.argsort(np.linalg.norm(lmap.mu - lmap.mu[11], axis=1), kind="stable")[:8]
    assert [f["index"] for f in found] == [int(i) for i in want]
    assert all(f["class_name"] == lmap.class_names[f["label"]] for f in found)
    assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)
    assert np.array_equal(found[3]["image"], lmap.images[found[3]["index"]])
    assert len(ztools.nearest_neighbours(loaded, [0.0] * D, 3)) == 3
    assert ztools.neighbours_html(found).count("<figure>") == 8


@pytest.mark.parametrize("k", [0, 65, 2.5, "8", None, True])
def test_nearest_neighbours_bad_k(registry, k):
    with pytest.raises(InputError, match="from 1 to 64"):
        ztools.nearest_neighbours(registry.get("fake-vae"), [0.0] * D, k)


# ---------------------------------------------------------------------------------------------------------------
# 7. Attribute arithmetic

def test_move_towards_adds_the_difference_of_class_means(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    means = ztools.class_means(loaded)
    np.testing.assert_allclose(means[3], lmap.mu[lmap.labels == 3].mean(0), atol=1e-6)
    z = [0.2, -0.1, 0.4, 0.0]
    res = ztools.move_towards(loaded, z, 3, 8, 0.5)
    assert res["z"] == actions.slider_values(loaded, np.asarray(z) + 0.5 * (means[8] - means[3]))
    np.testing.assert_allclose(res["direction"], means[8] - means[3])
    assert res["images"].shape == (7, 28, 28) and res["strengths"][0] == 0 and res["strengths"][-1] == 0.5
    np.testing.assert_allclose(res["images"][0], inf.decode(loaded.model, z), atol=1e-5)
    np.testing.assert_allclose(res["images"][-1], inf.decode(loaded.model, res["z"]), atol=1e-5)
    assert "8s" in res["note"] and "3s" in res["note"]
    assert ztools.move_towards(registry.get("fake-ae"), z, 1, 2, 1.0)["z"] != actions.slider_values(loaded, z)


@pytest.mark.parametrize("args, words", [
    ((3, 3, 1.0), "two different classes"),
    ((3, 10, 1.0), "from 0 to 9"),
    ((-1, 3, 1.0), "from 0 to 9"),
    ((3, 8, 7.0), "from -3 to 3"),
    ((3, 8, "strong"), "from -3 to 3"),
])
def test_move_towards_bad_input(registry, args, words):
    with pytest.raises(InputError) as e:
        ztools.move_towards(registry.get("fake-vae"), [0.0] * D, *args)
    assert words in str(e.value)


def test_move_towards_on_a_cvae_points_to_the_class_picker(registry):
    with pytest.raises(InputError, match="class picker"):
        ztools.move_towards(registry.get("fake-cvae"), [0.0] * D, 3, 8, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# The named API endpoints, through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False)


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"))


def test_api_interpolate(served, registry):
    strip, info = served.predict(model="fake-cvae", index_a=1, index_b=2, steps=5, mode="slerp", class_mode="sweep",
                                 api_name="/interpolate")
    res = ztools.interpolate(registry.get("fake-cvae"), 1, 2, 5, "slerp", "sweep")
    assert np.array_equal(read_png(strip), ztools.strip_image(res))
    assert info["captions"] == res["captions"] and np.allclose(info["z"], res["z"])
    assert set(info["path"]) >= {"pca", "tsne"}


def test_api_traverse(served, registry):
    grid, info = served.predict(model="dead-vae", z=[0.0] * D, label=-1, api_name="/traverse")
    res = ztools.traverse(registry.get("dead-vae"), [0.0] * D)
    assert np.array_equal(read_png(grid), ztools.traversal_image(res))
    assert [r["dim"] for r in info["rows"]] == [1, 0, 3, 2] and info["measure"] == "KL"


def test_api_neighbours_and_move_towards(served, registry):
    loaded = registry.get("fake-vae")
    sheet, found = served.predict(model="fake-vae", z=loaded.latent_map.mu[7].tolist(), k=4, api_name="/neighbours")
    assert len(found) == 4 and found[0]["index"] == 7 and read_png(sheet).shape[1] > 4 * 28 * 4
    image, z = served.predict(model="fake-vae", z=[0.0] * D, from_class=3, to_class=8, strength=1.0,
                              api_name="/move_towards")
    assert z == ztools.move_towards(loaded, [0.0] * D, 3, 8, 1.0)["z"]
    assert np.array_equal(read_png(image), inf.to_display_image(inf.decode(loaded.model, z)))


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/interpolate", dict(model="fake-vae", index_a=4, index_b=4, steps=8, mode="linear"), "same point"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=1, steps=100, mode="linear"), "from 2 to 32"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=1, steps=8, mode="zigzag"), "'linear' or 'slerp'"),
    ("/interpolate", dict(model="fake-vae", index_a=0, index_b=10**6, steps=8), "out of range"),
    ("/traverse", dict(model="fake-vae", z=[0.0] * (D + 1), label=-1), f"this model has {D} latent dimensions"),
    ("/traverse", dict(model="fake-cvae", z=[0.0] * D, label=-1), "conditional"),
    ("/neighbours", dict(model="fake-vae", z=[0.0] * D, k=10**7), "from 1 to 64"),
    ("/move_towards", dict(model="fake-cvae", z=[0.0] * D, from_class=3, to_class=8), "class picker"),
    ("/move_towards", dict(model="nope", z=[0.0] * D, from_class=3, to_class=8), "unknown model"),
])
def test_api_bad_input_gets_a_clear_message(served, endpoint, kwargs, words):
    with pytest.raises(Exception) as e:
        served.predict(**kwargs, api_name=endpoint)
    assert words in str(e.value) and "Traceback" not in str(e.value)
    assert served.predict(api_name="/list_models")  # still serving


# ---------------------------------------------------------------------------------------------------------------
# The tabs' own events: anyone can call them by fn_index with any JSON (preprocess=False), so junk must come back
# as a clear message, never as the "something went wrong" of an unexpected exception.

HUGE = "x" * 100_000
Z32 = [0.0] * 32


@pytest.fixture(scope="module")
def demo(registry):
    from explorer.ui import build_demo
    return build_demo(registry)


def event(demo, name):
    fns = [fn.fn for fn in demo.fns.values() if getattr(fn.fn, "__name__", "") == name]
    assert fns, f"no event handler named {name}"
    return fns[0]


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
    ("on_traverse", ("fake-cvae", None, *Z32), "conditional"),
    ("on_traverse", ("fake-vae", -1, *([None] * 32)), "finite"),
    ("on_neighbours", ("fake-vae", *([{"a": 1}] * 32)), "numbers"),
    ("on_neighbours_random", ("fake-vae", -5), "seed"),
    ("on_neighbours_reset", ({"no": "model"},), "unknown model"),
    ("on_arith_preview", ("fake-vae", "3", 8, 1.0, *Z32), "class id"),
    ("on_arith_preview", ("fake-vae", 3, 8, float("nan"), *Z32), "strength"),
    ("on_arith_apply", ("fake-vae", -1, "pca", 3, 3, 1.0, *Z32), "two different classes"),
    ("on_arith_apply", ("fake-vae", -1, HUGE, 3, 8, 1.0, *Z32), "unknown projection"),
    ("on_arith_apply", ("fake-cvae", 0, "pca", 3, 8, 1.0, *Z32), "class picker"),
])
def test_tab_events_answer_junk_with_a_clear_message(demo, name, args, words):
    import gradio as gr
    with pytest.raises(gr.Error) as e:
        event(demo, name)(*args)
    assert words in e.value.message and "went wrong" not in e.value.message and len(e.value.message) < 400


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
