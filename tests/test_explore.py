"""Unit tests for the plain functions behind each action of the explorer (no browser, no server).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer import actions, images
from explorer import inference as inf
from explorer.checks import InputError, validate_label, validate_seed, validate_z
from explorer.latent_map import (MapLoadError, build_figure, check_index, load_latent_map, lookup_point,
                                 marker_position, nearest_index, project_pca)
from explorer.registry import ModelRegistry
from explorer.testing import make_assets, make_model_folder

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_assets(tmp_path_factory.mktemp("assets"), latent_dim=D, n_points=120)


@pytest.fixture(scope="module")
def registry(assets):
    return ModelRegistry.discover(assets)


def decode_uri(uri: str) -> np.ndarray:
    assert uri.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))


# ---------------------------------------------------------------------------------------------------------------
# checks

def test_validate_z_accepts_numbers_and_returns_float32():
    z = validate_z([0, 1.5, -2, 3], 4)
    assert z.dtype == np.float32 and z.tolist() == [0, 1.5, -2, 3]


@pytest.mark.parametrize("z, words", [
    ([0.0] * 3, "has 3 values but this model has 4"),
    ([0.0] * 5, "has 5 values"),
    ([0.0, float("nan"), 0.0, 0.0], "z[1] is nan"),
    ([0.0, 0.0, float("inf"), 0.0], "z[2] is inf"),
    ([[0.0, 0.0], [0.0, 0.0]], "flat list"),
    (["a", 0, 0, 0], "not numbers"),
    ("0,0,0,0", "list of 4 numbers"),
    (None, "list of 4 numbers"),
    ([0, 0, 0, 1e9], "far outside"),
])
def test_validate_z_rejects_with_a_clear_message(z, words):
    with pytest.raises(InputError, match=None) as e:
        validate_z(z, 4)
    assert words in str(e.value)


def test_validate_label():
    assert validate_label(3, 10) == 3
    assert validate_label(3.0, 10) == 3
    assert validate_label(-1, 0) is None and validate_label(None, 0) is None and validate_label(5, 0) is None
    for bad in (10, -1, 2.5, "3", True):
        with pytest.raises(InputError):
            validate_label(bad, 10)
    with pytest.raises(InputError, match="out of range"):
        validate_label(12, 10)


def test_validate_seed():
    assert validate_seed(7) == 7 and validate_seed(7.0) == 7 and validate_seed(None) == 0
    for bad in (-1, 1.5, "x", float("nan")):
        with pytest.raises(InputError, match="seed"):
            validate_seed(bad)


# ---------------------------------------------------------------------------------------------------------------
# images

def test_to_display_image_is_crisp_nearest_neighbour():
    a = np.zeros((28, 28), np.float32)
    a[3, 5] = 1.0
    big = images.to_display_image(a)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    assert (big[30:40, 50:60] == 255).all()  # one source pixel -> one 10x10 block, no blur
    assert big.sum() == 255 * 100
    assert np.array_equal(images.to_display_image(np.full((28, 28), 128, np.uint8), 2), np.full((56, 56), 128))


def test_to_uint8_clips_and_rounds():
    out = images.to_uint8(np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]]))
    assert out.tolist() == [[0, 0, 128, 255, 255]]


def test_png_data_uri_round_trips():
    a = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    assert np.array_equal(decode_uri(images.png_data_uri(a)), a)


def test_image_row_lays_images_side_by_side():
    row = images.image_row(np.zeros((3, 28, 28)), scale=2, gap=4)
    assert row.shape == (56, 3 * 56 + 2 * 4)
    assert (row[:, 56:60] == 255).all()


# ---------------------------------------------------------------------------------------------------------------
# inference on tiny models

@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_decode_shape_range_and_determinism(registry, kind):
    model = registry.get(f"fake-{kind}").model
    label = 2 if kind == "cvae" else None
    x = inf.decode(model, [0.5, -1, 0, 2], label)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(x, inf.decode(model, [0.5, -1, 0, 2], label))


def test_decode_matches_the_model_directly(registry):
    model = registry.get("fake-vae").model
    z = [0.1, 0.2, -0.3, 0.4]
    with torch.inference_mode():
        ref = model.decode(torch.tensor([z]))[0, 0].numpy()
    np.testing.assert_allclose(inf.decode(model, z), ref, rtol=1e-6, atol=1e-7)


def test_cvae_class_changes_the_image_and_all_classes_row_matches(registry):
    model = registry.get("fake-cvae").model
    z = [0.3, -0.2, 0.1, 0.0]
    all_ = inf.decode_all_classes(model, z)
    assert all_.shape == (10, 28, 28)
    for c in (0, 7):
        np.testing.assert_allclose(all_[c], inf.decode(model, z, c), atol=1e-6)
    assert not np.allclose(all_[0], all_[7])
    with pytest.raises(InputError, match="out of range"):
        inf.decode(model, z, 10)
    with pytest.raises(InputError, match="conditional"):
        inf.decode_all_classes(registry.get("fake-vae").model, z)


def test_reconstruct_returns_image_and_the_posterior_mean(registry):
    loaded = registry.get("fake-vae")
    img = loaded.latent_map.images[5]
    recon, z = inf.reconstruct(loaded.model, img)
    assert recon.shape == (28, 28) and z.shape == (D,)
    np.testing.assert_allclose(z, loaded.latent_map.mu[5], atol=1e-5)  # the stored mean is the same encoding
    np.testing.assert_allclose(recon, inf.decode(loaded.model, z), atol=1e-6)


def test_sample_z_is_seeded():
    a, b, c = inf.sample_z(8, 3), inf.sample_z(8, 3), inf.sample_z(8, 4)
    assert a.shape == (8,) and np.array_equal(a, b) and not np.array_equal(a, c)
    shifted = inf.sample_z(8, 3, mean=np.full(8, 10.0), std=np.full(8, 0.5))
    np.testing.assert_allclose(shifted, 10 + 0.5 * a, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# latent map

def test_load_latent_map_and_lookup(registry, assets):
    lmap = registry.get("fake-vae").latent_map
    assert lmap.n == 120 and lmap.latent_dim == D and lmap.images.dtype == np.uint8
    p = lookup_point(lmap, 7)
    assert p.index == 7 and p.label == int(lmap.labels[7]) and p.class_name == lmap.class_names[p.label]
    assert np.array_equal(p.image, lmap.images[7]) and np.array_equal(p.mu, lmap.mu[7])
    assert check_index(lmap, 119.0) == 119
    for bad in (-1, 120, 10**9, 2.5, "x", None, True):
        with pytest.raises(InputError, match="index|range"):
            check_index(lmap, bad)


def test_pca_projection_matches_stored_coordinates(registry):
    lmap = registry.get("fake-vae").latent_map
    for i in (0, 50):
        np.testing.assert_allclose(project_pca(lmap, lmap.mu[i]), lmap.coords["pca"][i], atol=1e-4)


def test_nearest_index_and_marker_positions(registry):
    lmap = registry.get("fake-vae").latent_map
    z = lmap.mu[42] + 1e-4
    assert nearest_index(lmap, z) == 42
    m = marker_position(lmap, z, "tsne")
    assert m["index"] == 42 and (m["x"], m["y"]) == tuple(float(v) for v in lmap.coords["tsne"][42])
    assert "nearest" in m["note"]
    m = marker_position(lmap, z, "pca")
    assert m["index"] is None and m["x"] == pytest.approx(float(lmap.coords["pca"][42][0]), abs=1e-3)
    with pytest.raises(InputError, match="projection"):
        marker_position(lmap, z, "isomap")
    with pytest.raises(InputError, match="no UMAP coordinates"):  # a known projection this map does not store
        marker_position(lmap, z, "umap")


def test_build_figure(registry):
    lmap = registry.get("fake-cvae").latent_map
    fig = build_figure(lmap, "tsne", {"x": 1.0, "y": 2.0})
    json.dumps(fig)  # plain JSON, ready for the browser
    points = [t for t in fig["data"] if t["type"] == "scattergl"]
    assert sum(len(t["x"]) for t in points) == lmap.n
    assert {t["name"] for t in points} <= set(lmap.class_names)
    for t in points:  # every point carries its index, and is drawn at its stored coordinates with its class
        idx = np.array(t["customdata"])
        assert (lmap.labels[idx] == lmap.class_names.index(t["name"])).all()
        np.testing.assert_allclose(t["x"], lmap.coords["tsne"][idx, 0], atol=1e-3)
        assert t["name"] in t["hovertemplate"]
    assert len({t["marker"]["color"] for t in points}) == len(points)
    shape = fig["layout"]["shapes"][0]
    assert (shape["xanchor"], shape["yanchor"], shape["visible"]) == (1.0, 2.0, True)
    assert fig["data"][-1]["name"] == "current z"
    assert build_figure(lmap, "pca")["layout"]["shapes"][0]["visible"] is False


def test_malformed_latent_map_says_what_to_do(tmp_path, registry):
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=D, n_points=20)
    with pytest.raises(MapLoadError, match="expected"):
        load_latent_map(folder / "latent_map.npz", latent_dim=D + 1, class_names=[str(i) for i in range(10)])
    (folder / "latent_map.npz").write_bytes(b"not a zip")
    with pytest.raises(MapLoadError, match="regenerate"):
        load_latent_map(folder / "latent_map.npz", D)
    with pytest.raises(MapLoadError, match="missing"):
        load_latent_map(tmp_path / "nowhere.npz", D)
    np.savez(folder / "latent_map.npz", mu=np.zeros((3, D), np.float32))
    with pytest.raises(MapLoadError, match="lacks"):
        load_latent_map(folder / "latent_map.npz", D)


# ---------------------------------------------------------------------------------------------------------------
# registry

def test_registry_discovers_folders_and_extra_dirs(assets, tmp_path):
    mine = make_model_folder(tmp_path / "my-model", kind="vae", latent_dim=3, n_points=20)
    reg = ModelRegistry.discover(assets, [mine])
    assert reg.names() == ["fake-ae", "fake-cvae", "fake-vae", "my-model"]
    assert reg.default == "my-model"  # someone who passes their own folder wants to see it
    assert ModelRegistry.discover(assets).default == "fake-ae"
    assert reg.info("my-model").latent_dim == 3 and reg.info("fake-cvae").kind == "cvae"
    assert reg.get("fake-vae") is reg.get("fake-vae")  # loaded once
    listed = {m["name"]: m for m in reg.describe()}
    assert listed["fake-cvae"]["num_classes"] == 10 and listed["fake-vae"]["num_classes"] == 0
    assert listed["fake-vae"]["metrics"]["n_test"] == 120


def test_registry_errors_are_clear(assets, tmp_path):
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "config.json").write_text("{not json")
    missing_weights = make_model_folder(tmp_path / "no-weights", kind="vae", latent_dim=2, n_points=10)
    (missing_weights / "model.safetensors").unlink()
    reg = ModelRegistry.discover(assets, [bad, missing_weights, tmp_path / "does-not-exist"])
    with pytest.raises(InputError, match="unknown model 'nope'.*fake-ae"):
        reg.get("nope")
    with pytest.raises(InputError, match="broken.*cannot be used"):
        reg.get("broken")
    with pytest.raises(ValueError, match="model.safetensors"):
        reg.get("no-weights")
    with pytest.raises(InputError, match="does-not-exist"):
        reg.get("does-not-exist")
    assert reg.get("fake-vae").model.latent_dim == D  # the good ones still work


# ---------------------------------------------------------------------------------------------------------------
# actions (what the UI and the API call)

def test_decoded_view(registry):
    loaded = registry.get("fake-cvae")
    view = actions.decoded_view(loaded, [0.1, 0.2, 0.3, 0.4], 3, "pca")
    img = decode_uri(view["image"])
    assert img.shape == (280, 280)
    expected = images.to_display_image(inf.decode(loaded.model, [0.1, 0.2, 0.3, 0.4], 3))
    assert np.array_equal(img, expected)
    assert len(view["row"]) == 10 and [r["current"] for r in view["row"]].index(True) == 3
    assert view["row"][3]["name"] == "class 3"
    assert set(view["marker"]) >= {"x", "y", "note"}
    assert actions.decoded_view(registry.get("fake-vae"), [0] * D, None, "tsne")["row"] == []


def test_latent_ranges_cover_every_stored_code(registry):
    from explorer.latent_map import latent_ranges

    lmap = registry.get("fake-ae").latent_map
    per_dim = latent_ranges(lmap, per_dimension=True)
    shared = latent_ranges(lmap)
    assert (per_dim >= np.abs(lmap.mu).max(axis=0)).all() and (per_dim >= 3).all()
    assert len(set(shared.tolist())) == 1 and shared[0] == per_dim.max()


def test_slider_values_round_and_clip(registry):
    loaded = registry.get("fake-vae")
    r = float(loaded.slider_range[0])
    assert r >= 3.0
    assert actions.slider_values(loaded, [0.123, -0.456, 100.0, -100.0]) == [0.12, -0.46, r, -float(
        loaded.slider_range[3])]


def test_random_and_zero_z(registry):
    for name in ("fake-vae", "fake-ae"):
        loaded = registry.get(name)
        z, how = actions.random_z(loaded, 5)
        assert len(z) == D and z == actions.random_z(loaded, 5)[0] and z != actions.random_z(loaded, 6)[0]
        assert "seed 5" in how
    assert "N(0, I)" in actions.random_z(registry.get("fake-vae"), 1)[1]
    assert actions.zero_z(registry.get("fake-vae")) == [0.0] * D


def test_select_point_shows_image_reconstruction_and_z(registry):
    loaded = registry.get("fake-cvae")
    sel = actions.select_point(loaded, 9)
    assert sel["index"] == 9 and sel["label"] == int(loaded.latent_map.labels[9])
    assert np.array_equal(decode_uri(sel["original"]), images.to_display_image(loaded.latent_map.images[9]))
    np.testing.assert_allclose(sel["z"], loaded.latent_map.mu[9], atol=0.006)  # rounded to the slider step
    recon = images.to_display_image(inf.decode(loaded.model, sel["z"], sel["label"]))
    assert np.array_equal(decode_uri(sel["reconstruction"]), recon)  # matches what the sliders now hold
    with pytest.raises(InputError, match="out of range"):
        actions.select_point(loaded, 120)


def test_api_functions(registry):
    img = actions.decode_image(registry, "fake-vae", [0.0] * D, -1)
    assert img.shape == (280, 280) and img.dtype == np.uint8
    with pytest.raises(InputError, match="conditional"):
        actions.decode_image(registry, "fake-cvae", [0.0] * D, -1)
    orig, recon, z = actions.reconstruct_point(registry, "fake-ae", 3)
    assert orig.shape == recon.shape == (280, 280) and len(z) == D and all(isinstance(v, float) for v in z)
    assert [m["name"] for m in actions.list_models(registry)] == registry.names()


def test_describe_model_lists_key_figures(registry):
    text = actions.describe_model(registry.info("fake-vae"))
    assert "variational autoencoder" in text and "4-dimensional" in text and "−ELBO 543.2" in text
    assert "ELBO" not in actions.describe_model(registry.info("fake-ae"))  # an AE has no ELBO
