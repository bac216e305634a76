"""Tiny synthetic model folders for tests, benchmarks and development (no dataset, no training).

    python -m explorer.testing OUT_DIR     # writes OUT_DIR/fake-ae, fake-vae, fake-cvae

Each folder has what a shipped folder has: config.json + model.safetensors (an untrained, small MLP model),
latent_map.npz (a few hundred random images, their real latent means under the untrained model, a PCA plane fitted
with numpy and a stand-in "t-SNE"), metrics.json and history.json.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

CLASS_NAMES = [f"class {i}" for i in range(10)]


@contextmanager
def serve(registry):
    """The explorer on `registry`, launched on 127.0.0.1 in this process as app.py launches it; yields the
    gr.Blocks (its `local_url` answers) and closes it afterwards. For tests that call the live app."""
    from ..ui import build_demo, launch_kwargs
    demo = build_demo(registry)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True, **launch_kwargs())
    try:
        yield demo
    finally:
        demo.close()


def make_model_folder(folder: str | Path, kind: str = "vae", latent_dim: int = 4, n_points: int = 300,
                      seed: int = 0, num_classes: int = 10, arch: str = "mlp", small: bool = True) -> Path:
    """Write a complete model folder and return its path (small=False: the default, full-size layers)."""
    from training import save_model

    from ..backends import backend_spec
    from ..backends.autoencoder import AutoencoderBackend

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[:num_classes]
    caps = backend_spec(kind).capabilities
    backend = AutoencoderBackend.untrained(
        seed, kind=kind, arch=arch, latent_dim=latent_dim, num_classes=num_classes if caps.conditional else 0,
        class_names=names, **(({"mlp_hidden": 32} if arch == "mlp" else {"conv_channels": (4, 8), "conv_hidden": 16})
                               if small else {}))
    save_model(backend.model, folder, data={"dataset": "synthetic", "note": "explorer.testing fake"})

    labels = rng.integers(0, num_classes, n_points).astype(np.int64)
    # Blobby images whose brightness depends on the class, so classes differ a little.
    images = (rng.random((n_points, 28, 28)) * 255 * ((labels[:, None, None] + 1) / num_classes)).astype(np.uint8)
    mu = backend.encode_mean(images.astype(np.float32) / 255, labels if caps.conditional else None)
    mean = mu.mean(axis=0)
    _, _, vt = np.linalg.svd(mu - mean, full_matrices=False)
    comps = np.zeros((2, latent_dim), np.float32)
    comps[: min(2, vt.shape[0])] = vt[:2]
    pca = ((mu - mean) @ comps.T).astype(np.float32)
    tsne = (rng.normal(size=(n_points, 2)) * 10 + labels[:, None] * 5).astype(np.float32)
    np.savez_compressed(folder / "latent_map.npz", mu=mu, labels=labels, images=images, pca=pca, tsne=tsne,
                        pca_mean=mean.astype(np.float32), pca_components=comps)
    ae = not caps.kl  # an AE has no KL term, hence no ELBO
    metrics = {"neg_elbo": None if ae else 543.2, "iwae_k64": None if ae else 540.1, "recon": 530.0,
               "kl": None if ae else 13.2, "active_units": latent_dim, "knn5_accuracy": 0.1,
               "kl_per_dim": [0.0] * latent_dim, "n_test": n_points}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "history.json").write_text(json.dumps({"epochs": []}))
    return folder


def make_assets(out: str | Path, latent_dim: int = 4, n_points: int = 300) -> Path:
    """fake-ae, fake-vae and fake-cvae under `out` (an assets-like folder)."""
    out = Path(out)
    for i, kind in enumerate(["ae", "vae", "cvae"]):
        make_model_folder(out / f"fake-{kind}", kind=kind, latent_dim=latent_dim, n_points=n_points, seed=i)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m explorer.testing OUT_DIR")
    print(make_assets(sys.argv[1]))
