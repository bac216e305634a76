"""Shared fixtures: tiny synthetic data that the tests make themselves."""
from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from training.data import Dataset, Split


def synthetic_split(n: int, num_classes: int = 3, seed: int = 0) -> Split:
    """Blobs at a class-dependent place, so classes are learnable: (n, 28, 28) uint8."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % num_classes
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    for i, c in enumerate(labels.tolist()):
        r = 4 + 7 * c + int(torch.randint(0, 3, (1,), generator=g))
        images[i, r:r + 6, 8:20] = 200 + int(torch.randint(0, 55, (1,), generator=g))
    return Split(images, labels.long())


@pytest.fixture
def tiny_data() -> Dataset:
    return Dataset("mnist", synthetic_split(96, seed=1), synthetic_split(48, seed=2), ["a", "b", "c"],
                   {"source": "synthetic", "dataset": "synthetic", "train_images": 96, "test_images": 48})


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write an IDX file (the MNIST format), gzip-compressed. Only the tests write IDX; reading is torchvision's."""
    dtype_code = 0x08  # unsigned byte
    header = struct.pack(">HBB", 0, dtype_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_folder(tmp_path) -> Path:
    folder = tmp_path / "idx"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 12)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return folder


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Never touch the user's cache; never download."""
    monkeypatch.setenv("VAE_EXPLORER_CACHE", str(tmp_path / "cache"))


# The explorer's tests: fake-ae, fake-vae and fake-cvae with a 4-dimensional latent space (`assets`; a test module
# may define its own `assets` or `registry`), their registry, the page built on them, and the app serving them to
# gradio_client.


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    from explorer.testing import make_assets
    from helpers import FAKE_LATENT_DIM

    return make_assets(tmp_path_factory.mktemp("fake") / "assets", latent_dim=FAKE_LATENT_DIM, n_points=120)


@pytest.fixture(scope="module")
def registry(assets):
    from explorer import ModelRegistry

    return ModelRegistry.discover(assets)


@pytest.fixture(scope="module")
def demo(registry):
    from explorer.ui import build_demo
    return build_demo(registry)


@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as app:
        yield Client(app.local_url, verbose=False)


# Servers the browser tests share (tests/e2e): one app on four small models for the 3-D, lasso and thumbnail tests,
# and one on fake-ae, fake-vae, fake-cvae and fake-gan for the GAN and compare tests, so that five modules pay for
# two server starts. Each module opens its own chromium page on them (explorer.testing.browser.page_showing):
# playwright's sync API runs one instance at a time. (Here and not in tests/e2e/conftest.py: the tests import
# helpers `from conftest`, which a second conftest.py would shadow.)

@pytest.fixture(scope="session")
def map_app(tmp_path_factory):
    """The app on five small models (server.assets: their folder), for the map's browser tests."""
    from explorer.testing import make_model_folder
    from explorer.testing.browser import serving
    from training.evaluate import load_latent_map, map_3d, save_latent_map

    root = tmp_path_factory.mktemp("map-assets")
    three = make_model_folder(root / "a-vae-3d", kind="vae", latent_dim=4, n_points=3000)   # 3-D PCA stored
    arrays = load_latent_map(three)
    arrays.update(map_3d(arrays["mu"], umap=False))
    save_latent_map(three, arrays)
    make_model_folder(root / "b-vae-2d", kind="vae", latent_dim=4, n_points=100)      # a map without 3-D arrays
    make_model_folder(root / "fake-cvae", kind="cvae", latent_dim=3, n_points=200)    # the lasso and box
    make_model_folder(root / "fake-vae", kind="vae", latent_dim=3, n_points=2600)     # thumbnails on zoom
    make_model_folder(root / "e-vae-splits", kind="vae", latent_dim=3, n_points=300, train_points=900)  # both splits
    with serving(root) as server:
        yield server


@pytest.fixture(scope="session")
def gan_app(tmp_path_factory):
    """The app on fake-ae, fake-vae, fake-cvae and fake-gan (4-D, 400 points): the GAN and compare tests' server."""
    from explorer.testing import make_assets
    from explorer.testing.browser import serving

    assets = make_assets(tmp_path_factory.mktemp("e2e-gan") / "assets", latent_dim=4, n_points=400, gan=True)
    with serving(assets, timeout=120) as server:
        yield server
