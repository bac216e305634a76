"""The 3-D view of the latent map: training stores pca3 (with its basis) and umap3 (training.evaluate.map_3d,
add-3d); the explorer reads them, places the current z in 3-D, builds the scatter3d figure, and reads maps made
before them (no 3-D arrays: the switch is off, with the reason)."""
from __future__ import annotations

import numpy as np
import pytest

from explorer.latent_map import MapLoadError, build_figure_3d, load_latent_map, marker_position
from explorer.validation import InputError
from training.evaluate import load_latent_map as load_arrays
from training.evaluate import map_3d, save_latent_map


def _folder(tmp_path, three=True):
    from explorer.testing import make_model_folder
    folder = make_model_folder(tmp_path / "fake-vae", kind="vae", latent_dim=4, n_points=60)
    if three:
        arrays = load_arrays(folder)
        arrays.update(map_3d(arrays["mu"], umap=False))
        save_latent_map(folder, arrays)
    return folder


def test_the_3d_pca_shares_the_2d_planes_axes_and_places_new_codes_exactly():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(300, 6)).astype(np.float32) * np.arange(1, 7, dtype=np.float32)
    from sklearn.decomposition import PCA
    two = PCA(2).fit(mu)
    out = map_3d(mu, umap=False)
    assert out["pca3"].shape == (300, 3) and out["pca3_components"].shape == (3, 6) and "umap3" not in out
    assert np.allclose(np.abs(out["pca3_components"][:2]), np.abs(two.components_), atol=1e-5)
    assert np.allclose(out["pca3"], (mu - two.mean_) @ out["pca3_components"].T, atol=1e-4)
    assert map_3d(mu[:, :2], umap=False)["pca3"][:, 2].tolist() == [0.0] * 300   # a 2-D space: a flat third axis


def test_the_explorer_reads_the_3d_views_and_puts_the_marker_on_them(tmp_path):
    folder = _folder(tmp_path)
    lmap = load_latent_map(folder / "latent_map.npz", 4, image_shape=(28, 28))
    assert list(lmap.coords3) == ["pca"]
    z = lmap.mu[5] + 0.1
    m = marker_position(lmap, z, "pca")
    assert np.allclose(m["xyz"], (z - lmap.pca_mean) @ lmap.pca3_components.T, atol=1e-5)
    fig = build_figure_3d(lmap, "pca", {"x": 1.0, "y": 2.0, "z": 3.0})
    points = [t for t in fig["data"] if t.get("customdata")]
    assert all(t["type"] == "scatter3d" for t in fig["data"]) and sum(len(t["x"]) for t in points) == lmap.n
    assert sorted(i for t in points for i in t["customdata"]) == list(range(lmap.n))
    assert fig["data"][-1]["name"] == "current z" and fig["data"][-1]["z"] == [3.0] and fig["dims"] == 3
    with pytest.raises(InputError, match="no 3-D UMAP"):
        build_figure_3d(lmap, "umap")


def test_a_map_made_before_the_3d_views_still_loads_and_says_how_to_add_them(tmp_path):
    from explorer import ModelRegistry
    from explorer.tools import explore
    folder = _folder(tmp_path, three=False)
    lmap = load_latent_map(folder / "latent_map.npz", 4, image_shape=(28, 28))
    assert lmap.coords3 == {} and "xyz" not in marker_position(lmap, lmap.mu[0], "pca")
    loaded = ModelRegistry.discover(tmp_path).get("fake-vae")
    assert explore.views_3d(loaded) == []
    assert "add-3d" in explore.no_3d_reason(loaded) and str(folder) in explore.no_3d_reason(loaded)
    with pytest.raises(InputError, match="dims must be 2 or 3"):
        explore.figure_for(ModelRegistry.discover(tmp_path), "fake-vae", "pca", "4")


def test_each_model_and_view_keeps_its_own_zoom(tmp_path):
    """plotly keeps a user's zoom while layout.uirevision stays the same: it names the model, the projection and
    the dimensions, so another model's map (or another view) opens fitted to its own points."""
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder
    from explorer.tools import explore
    _folder(tmp_path)
    make_model_folder(tmp_path / "other-vae", kind="vae", latent_dim=4, n_points=60)
    registry = ModelRegistry.discover(tmp_path)
    revisions = {explore.figure_for(registry, m, p, d)["layout"]["uirevision"]
                 for m, p, d in [("fake-vae", "pca", 2), ("other-vae", "pca", 2), ("fake-vae", "tsne", 2),
                                 ("fake-vae", "pca", 3)]}
    assert len(revisions) == 4
    assert explore.figure_for(registry, "fake-vae", "pca", 2)["layout"]["uirevision"] in revisions   # stable


def test_3d_arrays_of_the_wrong_shape_are_refused_with_the_fix(tmp_path):
    folder = _folder(tmp_path)
    arrays = load_arrays(folder)
    arrays["pca3"] = arrays["pca3"][:, :2]
    save_latent_map(folder, arrays)
    with pytest.raises(MapLoadError, match="'pca3' has shape"):
        load_latent_map(folder / "latent_map.npz", 4, image_shape=(28, 28))


def test_add_3d_adds_the_views_and_leaves_the_rest(tmp_path, monkeypatch):
    import training.evaluate as ev
    from training.__main__ import main
    folder = _folder(tmp_path, three=False)
    before = load_arrays(folder)
    monkeypatch.setattr(ev, "umap_available", lambda: False)      # the PCA alone: no numba start-up in a unit test
    assert main(["add-3d", str(folder)]) == 0
    after = load_arrays(folder)
    assert {"pca3", "pca3_components"} <= set(after) and all(np.array_equal(before[k], after[k]) for k in before)
    assert ev.add_3d(folder) is False                            # already there
