"""Export (explorer.tools.export): the latent map as CSV and a labelled synthetic data set from a conditional model,
through the plain functions and the /generate_dataset and /export_map_csv endpoints (gradio_client against the app
on localhost).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.tools import export
from explorer.validation import InputError
from helpers import assets_with_history

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return assets_with_history(tmp_path_factory.mktemp("export") / "assets", latent_dim=D, n_points=120)


def test_export_map_csv(registry):
    path = export.export_map_csv(registry, "fake-cvae")
    rows = list(csv.reader(open(path, newline="")))
    lmap = registry.get("fake-cvae").latent_map
    assert rows[0] == ["index", "label", "class_name", "pca_x", "pca_y", "tsne_x", "tsne_y"]
    assert len(rows) == lmap.n + 1
    i = 17
    r = rows[i + 1]
    assert int(r[0]) == i and int(r[1]) == lmap.labels[i] and r[2] == lmap.class_names[lmap.labels[i]]
    assert float(r[3]) == pytest.approx(float(lmap.coords["pca"][i, 0]), rel=1e-4, abs=1e-4)
    assert float(r[6]) == pytest.approx(float(lmap.coords["tsne"][i, 1]), rel=1e-4, abs=1e-4)


def test_generate_dataset(registry):
    calls = []
    res = export.generate_dataset(registry, "fake-cvae", 3, seed=5, progress=lambda f, d: calls.append(f))
    assert res["n"] == 30 and calls[-1] == 1.0
    with np.load(res["npz"], allow_pickle=False) as f:
        imgs, labels, names = f["images"], f["labels"], f["class_names"]
    assert imgs.shape == (30, 28, 28) and imgs.dtype == np.uint8
    assert labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert names.tolist() == registry.get("fake-cvae").backend.model.class_names
    # each image is the decoder's image of a prior sample as its class
    model = registry.get("fake-cvae").backend.model
    z = torch.randn(30, D, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = model.decode(z, torch.from_numpy(labels))[:, 0].numpy()
    assert np.abs(imgs.astype(int) - np.round(ref * 255)).max() <= 1
    sheet = np.asarray(Image.open(res["sheet"]))
    assert sheet.shape == (10 * 30 + 2, 3 * 30 + 2)  # one row per class, 3 samples each
    again = export.generate_dataset(registry, "fake-cvae", 3, seed=5)
    with np.load(again["npz"]) as f:
        assert np.array_equal(f["images"], imgs)
    assert again["npz"] != res["npz"]  # every export is a fresh file


@pytest.mark.parametrize("per_class", [0, -1, 10**7, 2.5, "abc", None, True, float("nan"), [3]])
def test_generate_dataset_bad_per_class(registry, per_class):
    with pytest.raises(InputError, match="1 to 5,000|from 1 to 5,000"):
        export.generate_dataset(registry, "fake-cvae", per_class)


@pytest.mark.parametrize("kind", ["vae", "ae"])
def test_generate_dataset_needs_a_conditional_model(registry, kind):
    with pytest.raises(InputError, match="conditional model .*fake-cvae"):
        export.generate_dataset(registry, f"fake-{kind}", 10)


def test_old_exports_are_swept(registry, monkeypatch, tmp_path):
    monkeypatch.setattr(export, "EXPORT_DIR", tmp_path / "exports")
    old = export.export_map_csv(registry, "fake-vae")
    import os
    os.utime(old, (1, 1))  # made in 1970
    new = export.export_map_csv(registry, "fake-vae")
    assert new.exists() and not old.exists() and not old.parent.exists()


# ---------------------------------------------------------------------------------------------------------------
# The /generate_dataset and /export_map_csv endpoints through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False)


def test_api_generate_dataset_and_csv(served):
    client = served
    npz, sheet, info = client.predict(model="fake-cvae", per_class=4, seed=1, api_name="/generate_dataset")
    with np.load(npz) as f:
        assert f["images"].shape == (40, 28, 28)
    assert info["n"] == 40 and np.asarray(Image.open(sheet)).shape[:2] == (302, 122)
    with pytest.raises(Exception, match="1 to 5,000"):
        client.predict(model="fake-cvae", per_class=0, seed=0, api_name="/generate_dataset")
    with pytest.raises(Exception, match="1 to 5,000"):
        client.predict(model="fake-cvae", per_class=10**7, seed=0, api_name="/generate_dataset")
    rows = list(csv.reader(open(client.predict(model="fake-vae", api_name="/export_map_csv"), newline="")))
    assert rows[0][:3] == ["index", "label", "class_name"] and len(rows) == 121
