"""explorer.registry: discovering model folders (JSON only) and loading them once, with clear errors.

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import pytest

from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.validation import InputError
from helpers import FAKE_LATENT_DIM

D = FAKE_LATENT_DIM  # conftest's assets


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
    assert reg.get("fake-vae").backend.model.latent_dim == D  # the good ones still work
