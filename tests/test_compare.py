"""AE vs VAE vs CVAE vs GAN (explorer.tools.compare): the same 80 prior codes decoded by the four models of one
dataset, their maps and figures, through the plain functions, the tab's event and the /compare_models endpoint
(gradio_client against the app on localhost).

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
from helpers import assets_with_history, event

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = assets_with_history(tmp_path_factory.mktemp("compare") / "assets", latent_dim=D, n_points=120)
    make_model_folder(root / "fake-gan", kind="gan", latent_dim=D, n_points=120, seed=3)
    return root


def tile(grid: np.ndarray, r: int, c: int) -> np.ndarray:
    """Image (r, c) of a make_grid sheet of 28 x 28 images with 2-px padding."""
    return grid[2 + r * 30:2 + r * 30 + 28, 2 + c * 30:2 + c * 30 + 28].astype(int)


def test_models_for_dataset(registry):
    assert compare.comparison_datasets(registry) == ["synthetic"]
    assert compare.models_for_dataset(registry, "synthetic") == {"ae": "fake-ae", "vae": "fake-vae",
                                                                  "cvae": "fake-cvae", "gan": "fake-gan"}
    with pytest.raises(InputError, match="unknown dataset .*synthetic"):
        compare.models_for_dataset(registry, "cifar")
    with pytest.raises(InputError, match="unknown dataset"):
        compare.models_for_dataset(registry, {"x": 1})


def test_compare_models(registry):
    res = compare.compare_models(registry, "synthetic", seed=3)
    assert set(res["models"]) == {"ae", "vae", "cvae", "gan"} and res["missing"] == []
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
    assert summary["models"]["gan"]["figures"]["recon_via"] == "inversion" and "optimiser" in summary["lesson"]


def test_every_model_decodes_the_same_80_codes(registry):
    """Each grid is its model's decoding of prior_codes(seed): the same z for all four, the CVAE's row r as class r."""
    seed, cols = 5, compare.COMPARE_COLS
    res = compare.compare_models(registry, "synthetic", seed)
    z = compare.prior_codes(seed, D)
    assert z.shape == (compare.COMPARE_ROWS * cols, D)
    for kind, m in res["models"].items():
        loaded = registry.get(m["name"])
        for r, c in ((0, 0), (3, 5), (9, 7)):
            label = r % loaded.num_classes if loaded.num_classes else None
            want = np.round(loaded.backend.decode(z[r * cols + c][None], label)[0] * 255)
            assert np.abs(tile(m["grid"], r, c) - want).max() <= 1, (kind, r, c)
    gan, vae = res["models"]["gan"]["grid"], res["models"]["vae"]["grid"]
    assert not np.array_equal(gan, vae)  # same codes, different decoders


def test_models_of_other_latent_sizes_get_the_same_codes_cut_to_size():
    wide, narrow = compare.prior_codes(9, 16), compare.prior_codes(9, 8)
    assert np.array_equal(wide[:, :8], narrow) and wide.dtype == np.float32
    assert not np.array_equal(compare.prior_codes(10, 8), narrow)
    big = compare.prior_codes(9, compare.CODE_WIDTH + 4)  # wider than the draw: drawn that wide instead
    assert big.shape == (80, compare.CODE_WIDTH + 4)


def test_figures_under_each_grid_come_from_metrics_json(registry, assets):
    res = compare.compare_models(registry, "synthetic", 0)
    metrics = json.loads((assets / "fake-gan" / "metrics.json").read_text())
    fig = res["models"]["gan"]["figures"]
    assert fig["fd"] == metrics["fd"] and fig["fd_floor"] == metrics["fd_floor"]
    assert fig["mode_coverage"]["min"] == metrics["mode_coverage_min"]
    assert fig["mode_coverage"]["max"] == metrics["mode_coverage_max"] and fig["recon"] == metrics["recon"]
    text = compare.figures_markdown(fig)
    assert f"{metrics['fd']:.1f}" in text and "through inversion" in text and "—" not in text
    assert f"{metrics['mode_coverage_min']:.0%}–{metrics['mode_coverage_max']:.0%}" in text
    ae = res["models"]["ae"]["figures"]  # the autoencoders' metrics.json have no Fréchet distance or class spread
    assert ae["fd"] is None and ae["mode_coverage"] is None and ae["recon_via"] == "encoder"
    ae_text = compare.figures_markdown(ae)
    assert ae_text.count("—") == 2 and "inversion" not in ae_text


@pytest.mark.parametrize("metrics, want", [
    ({"class_histogram": [10, 30, 60]}, {"min": 0.1, "max": 0.6, "classes": 3}),
    ({"class_histogram": {"a": 0.25, "b": 0.75}}, {"min": 0.25, "max": 0.75, "classes": 2}),
    ({"class_histogram": [0.5, 0.5], "mode_coverage_min": 0.2, "mode_coverage_max": 0.8},
     {"min": 0.2, "max": 0.8, "classes": 2}),  # the evaluation's own figures win
    ({"mode_coverage_min": 0.02, "mode_coverage_max": 0.3}, {"min": 0.02, "max": 0.3, "classes": 10}),
    ({"class_histogram": [0, 0]}, None), ({"class_histogram": ["x", 1]}, None), ({"class_histogram": [-1, 2]}, None),
    ({"mode_coverage_min": 0.1}, None), ({"mode_coverage_min": float("nan"), "mode_coverage_max": 0.2}, None),
    ({}, None), (None, None),
])
def test_mode_coverage(metrics, want):
    got = compare.mode_coverage(metrics, 10)
    assert got == (None if want is None else pytest.approx(want))


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


def test_the_gan_map_marks_the_codes(registry):
    res = compare.compare_models(registry, "synthetic", 0)
    gan_map = res["models"]["gan"]["map"]
    assert gan_map.shape == (240, 240, 3) and (gan_map == 0).all(axis=2).sum() >= 80  # 80 black crosses
    plain = compare.map_thumbnail(registry.get("fake-gan").latent_map)
    assert (plain == 0).all(axis=2).sum() == 0


def test_compare_with_a_missing_kind(tmp_path):
    make_model_folder(tmp_path / "only-vae", kind="vae", latent_dim=D, n_points=40)
    make_model_folder(tmp_path / "only-ae", kind="ae", latent_dim=D, n_points=40, seed=1)
    res = compare.compare_models(ModelRegistry.discover(tmp_path), "synthetic", 0)
    assert res["missing"] == ["cvae", "gan"] and set(res["models"]) == {"ae", "vae"}


def test_a_dataset_with_only_a_gan_is_offered(tmp_path):
    make_model_folder(tmp_path / "lone-gan", kind="gan", latent_dim=3, n_points=40)
    reg = ModelRegistry.discover(tmp_path)
    assert compare.comparison_datasets(reg) == ["synthetic"]
    res = compare.compare_models(reg, "synthetic", 1)
    assert res["missing"] == ["ae", "vae", "cvae"] and res["models"]["gan"]["grid"].shape == (302, 242)


# ---------------------------------------------------------------------------------------------------------------
# The tab's event

def test_the_tab_shows_four_columns_with_their_figures_and_the_lesson(demo, registry):
    from explorer.ui.tabs import compare as tab

    outs = event(demo, "on_compare")("synthetic", 2)
    assert len(outs) == 4 * len(compare.KINDS) + 1
    by_kind = {k: outs[4 * i:4 * i + 4] for i, k in enumerate(compare.KINDS)}
    assert by_kind["gan"][0] == "**GAN** (fake-gan)" and by_kind["gan"][1].startswith("data:image/png")
    fd = registry.info("fake-gan").metrics["fd"]
    assert "through inversion" in by_kind["gan"][3] and f"Fréchet distance: **{fd:.1f}**" in by_kind["gan"][3]
    assert "Fréchet distance: —" in by_kind["ae"][3]
    assert "| active units |" in outs[-1] and "(through inversion)" in outs[-1].split("| reconstruction")[1]
    shown = {b.elem_id: getattr(b, "value", None) for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    assert compare.LESSON in shown["compare-lesson"] and "sharper" in compare.LESSON
    assert "metrics.json" in shown["compare-source"] and "inversion" in shown["compare-source"]
    assert tab.TITLE == "AE vs VAE vs CVAE vs GAN"


# ---------------------------------------------------------------------------------------------------------------
# The /compare_models endpoint through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False)


def test_api_compare_models(served, registry):
    *grids, summary = served.predict(dataset="synthetic", seed=2, api_name="/compare_models")
    assert len(grids) == 4 and all(np.asarray(Image.open(g)).shape[:2] == (302, 242) for g in grids)
    assert summary["missing"] == [] and summary["models"]["ae"]["name"] == "fake-ae"
    gan = summary["models"]["gan"]
    assert gan["name"] == "fake-gan" and gan["figures"]["fd"] == registry.info("fake-gan").metrics["fd"]
    res = compare.compare_models(registry, "synthetic", 2)
    for kind, path in zip(compare.KINDS, grids):  # in KINDS order, the same pixels as the plain function
        assert np.array_equal(np.asarray(Image.open(path).convert("L")), res["models"][kind]["grid"])
