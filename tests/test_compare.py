"""AE vs VAE vs CVAE (explorer.tools.compare): the same prior codes decoded by the three models of one dataset, their
maps and figures, through the plain functions and the /compare_models endpoint (gradio_client against the app on
localhost).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools import compare
from explorer.validation import InputError
from helpers import assets_with_history

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return assets_with_history(tmp_path_factory.mktemp("compare") / "assets", latent_dim=D, n_points=120)


def test_models_for_dataset(registry):
    assert compare.comparison_datasets(registry) == ["synthetic"]
    assert compare.models_for_dataset(registry, "synthetic") == {"ae": "fake-ae", "vae": "fake-vae",
                                                                  "cvae": "fake-cvae"}
    with pytest.raises(InputError, match="unknown dataset .*synthetic"):
        compare.models_for_dataset(registry, "cifar")
    with pytest.raises(InputError, match="unknown dataset"):
        compare.models_for_dataset(registry, {"x": 1})


def test_compare_models(registry):
    res = compare.compare_models(registry, "synthetic", seed=3)
    assert set(res["models"]) == {"ae", "vae", "cvae"} and res["missing"] == []
    grids = [res["models"][k]["grid"] for k in compare.KINDS]
    rows, cols = compare.COMPARE_ROWS, compare.COMPARE_COLS
    assert all(g.shape == (rows * 30 + 2, cols * 30 + 2) and g.dtype == np.uint8 for g in grids)
    assert all(res["models"][k]["map"].shape == (240, 240, 3) for k in compare.KINDS)
    again = compare.compare_models(registry, "synthetic", seed=3)
    assert all(np.array_equal(again["models"][k]["grid"], res["models"][k]["grid"]) for k in compare.KINDS)
    other = compare.compare_models(registry, "synthetic", seed=4)
    assert not np.array_equal(other["models"]["vae"]["grid"], res["models"]["vae"]["grid"])
    assert "N(0, I)" in res["why"] and "| active units |" in res["table"] and "n/a" in res["table"]
    summary = compare.compare_summary(res)
    assert summary["models"]["vae"]["name"] == "fake-vae" and json.dumps(summary)


def test_prior_grid_same_codes_for_every_model_and_cvae_rows_are_classes(registry):
    _, z_vae = compare.prior_grid(registry.get("fake-vae"), 7)
    grid, z_cvae = compare.prior_grid(registry.get("fake-cvae"), 7)
    assert np.array_equal(z_vae, z_cvae)  # the same seed gives every model the same codes
    model = registry.get("fake-cvae").backend.model
    cols = compare.COMPARE_COLS
    with torch.no_grad():
        row3 = model.decode(torch.from_numpy(z_cvae[3 * cols:4 * cols]), torch.full((cols,), 3))[:, 0].numpy()
    tile = grid[2 + 3 * 30:2 + 3 * 30 + 28, 2:2 + 28]  # row 3, column 0 of the make_grid layout (padding 2)
    assert np.abs(tile.astype(int) - np.round(row3[0] * 255)).max() <= 1


def test_map_thumbnail_draws_points_and_crosses(registry):
    lmap = registry.get("fake-ae").latent_map
    plain = compare.map_thumbnail(lmap)
    crossed = compare.map_thumbnail(lmap, np.full((5, D), 50.0))  # codes far from the data
    assert (plain != 255).any() and (crossed == 0).all(axis=2).sum() >= 5


def test_compare_with_a_missing_kind(tmp_path):
    make_model_folder(tmp_path / "only-vae", kind="vae", latent_dim=D, n_points=40)
    make_model_folder(tmp_path / "only-ae", kind="ae", latent_dim=D, n_points=40, seed=1)
    res = compare.compare_models(ModelRegistry.discover(tmp_path), "synthetic", 0)
    assert res["missing"] == ["cvae"] and set(res["models"]) == {"ae", "vae"}


# ---------------------------------------------------------------------------------------------------------------
# The /compare_models endpoint through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False)


def test_api_compare_models(served):
    *grids, summary = served.predict(dataset="synthetic", seed=2, api_name="/compare_models")
    assert len(grids) == 3 and all(np.asarray(Image.open(g)).shape[:2] == (302, 242) for g in grids)
    assert summary["missing"] == [] and summary["models"]["ae"]["name"] == "fake-ae"
