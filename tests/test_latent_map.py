"""explorer.latent_map: the stored map of the test set (lookups, projections, the plotly figure, the sliders'
ranges) and UMAP as an optional third projection.

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from explorer.latent_map import (MapLoadError, build_figure, check_index, latent_ranges, load_latent_map,
                                 lookup_point, marker_position, nearest_index, project_pca, projection_choices)
from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools.export import export_map_csv
from explorer.validation import InputError

from helpers import FAKE_LATENT_DIM

D = FAKE_LATENT_DIM  # conftest's assets


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


def test_latent_ranges_cover_every_stored_code(registry):
    lmap = registry.get("fake-ae").latent_map
    per_dim = latent_ranges(lmap, per_dimension=True)
    shared = latent_ranges(lmap)
    assert (per_dim >= np.abs(lmap.mu).max(axis=0)).all() and (per_dim >= 3).all()
    assert len(set(shared.tolist())) == 1 and shared[0] == per_dim.max()


# ---------------------------------------------------------------------------------------------------------------
# UMAP as a third projection

def with_umap(folder: Path) -> Path:
    with np.load(folder / "latent_map.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["umap"] = (arrays["tsne"] * 0.5 + 1).astype(np.float32)
    np.savez_compressed(folder / "latent_map.npz", **arrays)
    return folder


def test_umap_is_offered_only_where_the_map_has_it(tmp_path):
    with_umap(make_model_folder(tmp_path / "with", kind="vae", latent_dim=D, n_points=50))
    make_model_folder(tmp_path / "without", kind="vae", latent_dim=D, n_points=50)
    reg = ModelRegistry.discover(tmp_path)
    assert projection_choices(reg.get("with").latent_map) == [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap")]
    assert projection_choices(reg.get("without").latent_map) == [("PCA", "pca"), ("t-SNE", "tsne")]
    lmap = reg.get("with").latent_map
    fig = build_figure(lmap, "umap")
    assert fig["projection"] == "umap" and fig["layout"]["xaxis"]["title"]["text"] == "UMAP 1"
    m = marker_position(lmap, lmap.mu[9], "umap")
    assert m["index"] == 9 and m["x"] == pytest.approx(float(lmap.coords["umap"][9, 0]))
    rows = list(csv.reader(open(export_map_csv(reg, "with"))))
    assert rows[0][-2:] == ["umap_x", "umap_y"]
    with pytest.raises(InputError, match="no UMAP coordinates"):
        build_figure(reg.get("without").latent_map, "umap")


def test_a_umap_array_of_the_wrong_shape_is_refused(tmp_path):
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=D, n_points=50)
    with np.load(folder / "latent_map.npz") as f:
        arrays = {k: f[k] for k in f.files}
    np.savez_compressed(folder / "latent_map.npz", **arrays, umap=np.zeros((49, 2), np.float32))
    with pytest.raises(MapLoadError, match="umap"):
        load_latent_map(folder / "latent_map.npz", D)


@pytest.mark.slow
def test_add_umap_keeps_every_other_array(tmp_path):
    """`python -m training add-umap`: UMAP from the stored means, no retraining, the rest unchanged."""
    pytest.importorskip("umap", reason="umap-learn is optional")
    from training.__main__ import main
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=D, n_points=80)
    with np.load(folder / "latent_map.npz") as f:
        before = {k: f[k] for k in f.files}
    assert main(["add-umap", str(folder)]) == 0
    with np.load(folder / "latent_map.npz") as f:
        after = {k: f[k] for k in f.files}
    assert set(after) == set(before) | {"umap"} and after["umap"].shape == (80, 2)
    assert np.isfinite(after["umap"]).all()
    for k, v in before.items():
        assert after[k].dtype == v.dtype and after[k].tobytes() == v.tobytes(), k
    mtime = (folder / "latent_map.npz").stat().st_mtime_ns
    assert main(["add-umap", str(folder)]) == 0  # already there: nothing rewritten
    assert (folder / "latent_map.npz").stat().st_mtime_ns == mtime
    assert main(["add-umap", str(tmp_path / "nowhere")]) == 2
