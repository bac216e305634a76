"""explorer.tools.explore: the plain functions behind each action of the main view (decode, sample, reset, click a
map point, describe a model), no browser, no server.

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from explorer.modalities.image import to_display_image
from explorer.tools import explore
from explorer.validation import InputError
from helpers import FAKE_LATENT_DIM, decode_uri

D = FAKE_LATENT_DIM  # conftest's assets


# ---------------------------------------------------------------------------------------------------------------
# decoding and encoding on tiny models

@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_decode_shape_range_and_determinism(registry, kind):
    loaded = registry.get(f"fake-{kind}")
    label = 2 if kind == "cvae" else None
    x = explore.decode(loaded, [0.5, -1, 0, 2], label)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    assert np.array_equal(x, explore.decode(loaded, [0.5, -1, 0, 2], label))


def test_decode_matches_the_model_directly(registry):
    loaded = registry.get("fake-vae")
    model = loaded.backend.model
    z = [0.1, 0.2, -0.3, 0.4]
    with torch.inference_mode():
        ref = model.decode(torch.tensor([z]))[0, 0].numpy()
    np.testing.assert_allclose(explore.decode(loaded, z), ref, rtol=1e-6, atol=1e-7)


def test_cvae_class_changes_the_image_and_all_classes_row_matches(registry):
    loaded = registry.get("fake-cvae")
    z = [0.3, -0.2, 0.1, 0.0]
    all_ = explore.decode_all_classes(loaded, z)
    assert all_.shape == (10, 28, 28)
    for c in (0, 7):
        np.testing.assert_allclose(all_[c], explore.decode(loaded, z, c), atol=1e-6)
    assert not np.allclose(all_[0], all_[7])
    with pytest.raises(InputError, match="out of range"):
        explore.decode(loaded, z, 10)
    with pytest.raises(InputError, match="conditional"):
        explore.decode_all_classes(registry.get("fake-vae"), z)


def test_reconstruct_returns_image_and_the_posterior_mean(registry):
    loaded = registry.get("fake-vae")
    img = loaded.latent_map.images[5]
    recon, z = explore.reconstruct(loaded, img)
    assert recon.shape == (28, 28) and z.shape == (D,)
    np.testing.assert_allclose(z, loaded.latent_map.mu[5], atol=1e-5)  # the stored mean is the same encoding
    np.testing.assert_allclose(recon, explore.decode(loaded, z), atol=1e-6)


def test_sample_z_is_seeded(registry):
    # A model with a prior draws z ~ N(0, I); a plain AE draws the same N(0, I) values, shifted and scaled to a
    # Gaussian fitted to its codes (code_mean, code_std): here set to 10 and 0.5.
    vae = registry.get("fake-vae")
    a, b, c = explore.sample_z(vae, 3), explore.sample_z(vae, 3), explore.sample_z(vae, 4)
    assert a.shape == (D,) and np.array_equal(a, b) and not np.array_equal(a, c)
    ae = dataclasses.replace(registry.get("fake-ae"), code_mean=np.full(D, 10.0), code_std=np.full(D, 0.5))
    shifted = explore.sample_z(ae, 3)
    np.testing.assert_allclose(shifted, 10 + 0.5 * a, rtol=1e-6)


# ---------------------------------------------------------------------------------------------------------------
# actions (what the UI and the API call)

def test_decoded_view(registry):
    loaded = registry.get("fake-cvae")
    view = explore.decoded_view(loaded, [0.1, 0.2, 0.3, 0.4], 3, "pca")
    img = decode_uri(loaded.modality.render(view["output"]))  # what the page shows
    assert img.shape == (280, 280)
    expected = to_display_image(explore.decode(loaded, [0.1, 0.2, 0.3, 0.4], 3))
    assert np.array_equal(img, expected)
    assert len(view["row"]) == 10 and [r["current"] for r in view["row"]].index(True) == 3
    assert view["row"][3]["name"] == "class 3"
    assert set(view["marker"]) >= {"x", "y", "note"}
    assert explore.decoded_view(registry.get("fake-vae"), [0] * D, None, "tsne")["row"] == []


def test_slider_values_round_and_clip(registry):
    loaded = registry.get("fake-vae")
    r = float(loaded.slider_range[0])
    assert r >= 3.0
    assert explore.slider_values(loaded, [0.123, -0.456, 100.0, -100.0]) == [0.12, -0.46, r, -float(
        loaded.slider_range[3])]


def test_random_and_zero_z(registry):
    for name in ("fake-vae", "fake-ae"):
        loaded = registry.get(name)
        z, how = explore.random_z(loaded, 5)
        assert len(z) == D and z == explore.random_z(loaded, 5)[0] and z != explore.random_z(loaded, 6)[0]
        assert "seed 5" in how
    assert "N(0, I)" in explore.random_z(registry.get("fake-vae"), 1)[1]
    assert explore.zero_z(registry.get("fake-vae")) == [0.0] * D


def test_select_point_shows_image_reconstruction_and_z(registry):
    loaded = registry.get("fake-cvae")
    sel = explore.select_point(loaded, 9)
    assert sel["index"] == 9 and sel["label"] == int(loaded.latent_map.labels[9])
    assert np.array_equal(decode_uri(loaded.modality.render(sel["original"])),
                          to_display_image(loaded.latent_map.images[9]))
    np.testing.assert_allclose(sel["z"], loaded.latent_map.mu[9], atol=0.006)  # rounded to the slider step
    recon = to_display_image(explore.decode(loaded, sel["z"], sel["label"]))
    assert np.array_equal(decode_uri(loaded.modality.render(sel["reconstruction"])), recon)  # = the sliders' z
    with pytest.raises(InputError, match="out of range"):
        explore.select_point(loaded, 120)


def test_api_functions(registry):
    img = explore.decode_image(registry, "fake-vae", [0.0] * D, -1)
    assert img.shape == (280, 280) and img.dtype == np.uint8
    with pytest.raises(InputError, match="conditional"):
        explore.decode_image(registry, "fake-cvae", [0.0] * D, -1)
    orig, recon, z, info = explore.reconstruct_point(registry, "fake-ae", 3)
    assert orig.shape == recon.shape == (280, 280) and len(z) == D and all(isinstance(v, float) for v in z)
    assert info["source"] == "encoder" and info["bce"] > 0 and "posterior mean" in info["note"]
    assert [m["name"] for m in explore.list_models(registry)] == registry.names()


def test_describe_model_lists_key_figures(registry):
    text = explore.describe_model(registry.info("fake-vae"))
    assert "variational autoencoder" in text and "4-dimensional" in text and "−ELBO 543.2" in text
    assert "ELBO" not in explore.describe_model(registry.info("fake-ae"))  # an AE has no ELBO
