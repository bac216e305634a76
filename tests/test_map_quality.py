"""How far to trust each 2-D view (training.map_quality): trustworthiness and the 5-NN accuracy in the plane, on
layouts whose answer is known; merged into metrics.json by `python -m training map-quality`."""
from __future__ import annotations

import json

import numpy as np
import pytest

from training.map_quality import add_map_quality, map_quality


def _map(n=600, d=8, seed=0):
    """Three clusters in d dimensions; 'pca' is an exact linear view of the two dimensions that hold all the
    spread (mu is zero elsewhere), 'tsne' a random layout."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    centres = np.array([[0, 0], [6, 0], [0, 6]], dtype=float)
    plane = centres[labels] + rng.normal(size=(n, 2))
    mu = np.zeros((n, d))
    mu[:, :2] = plane
    return {"mu": mu.astype(np.float32), "labels": labels, "pca": (plane * 3 + 1).astype(np.float32),
            "tsne": rng.normal(size=(n, 2)).astype(np.float32)}


def test_an_exact_view_keeps_every_neighbour_and_a_random_one_does_not():
    q = map_quality(_map())
    assert q["map_trustworthiness_pca"] == pytest.approx(1.0, abs=1e-6)
    assert q["map_trustworthiness_tsne"] < 0.6                      # about 0.5: chance
    assert q["map_knn5_pca"] > 0.95 and q["map_knn5_tsne"] < 0.5    # three classes, chance is a third
    assert "map_trustworthiness_umap" not in q                      # only the views the map stores
    assert q["map_quality_protocol"]["trustworthiness_k"] == 10


def test_the_sample_is_fixed_and_capped():
    arrays = _map(n=900)
    a, b = map_quality(arrays, sample=300), map_quality(arrays, sample=300)
    assert a == b and a["map_quality_protocol"]["trustworthiness_points"] == 300
    assert a["map_quality_protocol"]["knn5_points"] == 900
    assert map_quality(arrays, sample=300, seed=1)["map_trustworthiness_tsne"] != a["map_trustworthiness_tsne"]


def test_map_quality_adds_its_figures_to_metrics_json_and_keeps_the_rest(tmp_path):
    from training.__main__ import main
    from training.evaluate import save_latent_map

    save_latent_map(tmp_path, _map())
    (tmp_path / "metrics.json").write_text(json.dumps({"neg_elbo": 99.5}))
    assert main(["map-quality", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["neg_elbo"] == 99.5 and metrics["map_trustworthiness_pca"] == pytest.approx(1.0, abs=1e-6)
    assert add_map_quality(tmp_path)["map_knn5_tsne"] == metrics["map_knn5_tsne"]


def test_a_folder_without_a_map_is_refused_with_the_fix(tmp_path, capsys):
    from training.__main__ import main

    assert main(["map-quality", str(tmp_path)]) == 4
    assert "evaluate" in capsys.readouterr().err and not (tmp_path / "metrics.json").exists()


def test_the_projection_picker_says_how_far_to_trust_each_view(tmp_path):
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder
    from explorer.tools import explore

    folder = make_model_folder(tmp_path / "fake-vae", kind="vae", latent_dim=3, n_points=40)
    assert explore.projection_trust(ModelRegistry.discover(tmp_path).get("fake-vae")) == ""   # made before them
    add_map_quality(folder)
    line = explore.projection_trust(ModelRegistry.discover(tmp_path).get("fake-vae"))
    metrics = json.loads((folder / "metrics.json").read_text())
    assert line.startswith("Neighbours kept (trustworthiness, k = 10")
    assert f"PCA {metrics['map_trustworthiness_pca']:.3f} / {metrics['map_knn5_pca']:.2f}" in line
    assert "t-SNE" in line
