"""Tiny synthetic model folders for tests, benchmarks and development (no dataset, no training).

    python -m explorer.testing OUT_DIR     # writes OUT_DIR/fake-ae, fake-vae, fake-cvae
    python -m explorer.testing OUT_DIR --gan   # and fake-gan, fake-cgan

Each folder has what a shipped folder has: config.json + model.safetensors (an untrained, small MLP model; a GAN's is
a small conv generator), latent_map.npz (a few hundred random images, their real latent means under the untrained
model, a PCA plane fitted with numpy and a stand-in "t-SNE"; a GAN's map holds random codes and the images the
generator makes of them, so each code is the exact inversion of its image), metrics.json and history.json (a GAN's
with its own figures and loss curves).
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
    """Write a complete model folder and return its path (small=False: the default, full-size layers).
    kind "gan" / "cgan": a conv generator (arch is ignored), see make_gan_folder."""
    from training import save_model

    from ..backends import backend_spec
    from ..backends.autoencoder import AutoencoderBackend

    if backend_spec(kind).capabilities.invert:  # a generator without an encoder: a gan or cgan
        return make_gan_folder(folder, kind, latent_dim, n_points, seed, num_classes, small)
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
    _save_map(folder, mu, labels, images, rng)
    ae = not caps.kl  # an AE has no KL term, hence no ELBO
    metrics = {"neg_elbo": None if ae else 543.2, "iwae_k64": None if ae else 540.1, "recon": 530.0,
               "kl": None if ae else 13.2, "active_units": latent_dim, "knn5_accuracy": 0.1,
               "kl_per_dim": [0.0] * latent_dim, "n_test": n_points}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "history.json").write_text(json.dumps({"epochs": []}))
    return folder


def make_gan_folder(folder: str | Path, kind: str = "gan", latent_dim: int = 4, n_points: int = 300,
                    seed: int = 0, num_classes: int = 10, small: bool = True) -> Path:
    """A GAN (or cgan) folder: an untrained DCGAN generator (small: conv_channels (4, 8), conv_hidden 16, as
    training.create_model(kind="gan", ...) builds it), a map of `n_points` codes z ~ N(0, I) with the images the
    generator makes of them (stored as the "test images", so G(z) of a point's code is its image, up to uint8
    rounding), GAN metrics (Fréchet distance and its floor, class histogram, mode coverage, inversion
    reconstruction, 5-NN accuracy of the inverted codes) and a few epochs of GAN history."""
    from training import save_model

    from ..backends import backend_spec
    from ..backends.gan import GanBackend

    folder = Path(folder)
    rng = np.random.default_rng(seed)
    names = CLASS_NAMES[:num_classes]
    conditional = backend_spec(kind).capabilities.conditional
    backend = GanBackend.untrained(
        seed, kind=kind, arch="conv", latent_dim=latent_dim, num_classes=num_classes if conditional else 0,
        class_names=names, dense_batch_norm=True,
        **({"conv_channels": (4, 8), "conv_hidden": 16, "disc_channels": (4, 8), "disc_hidden": 16} if small
           else {"conv_channels": (64, 128), "conv_hidden": 256, "disc_channels": (32, 64), "disc_hidden": 512}))
    backend.settle_untrained(seed)
    save_model(backend.model, folder, data={"dataset": "synthetic", "note": "explorer.testing fake"})

    labels = rng.integers(0, num_classes, n_points).astype(np.int64)
    mu = rng.standard_normal((n_points, latent_dim)).astype(np.float32)
    images = (backend.decode(mu, labels if conditional else None) * 255 + 0.5).astype(np.uint8)
    _save_map(folder, mu, labels, images, rng)
    metrics = {"fd": 41.5, "fd_floor": 2.1, "class_histogram": [1 / num_classes] * num_classes,
               "mode_coverage_min": 0.05, "mode_coverage_max": 0.15, "recon": 180.0, "knn5_accuracy": 0.1,
               "n_test": n_points}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    epochs = [{"epoch": e, "d_loss": 1.2 - 0.1 * e, "g_loss": 0.9 + 0.2 * e, "d_real": 0.6 + 0.02 * e,
               "d_fake": 0.4 - 0.02 * e, "lr": 2e-4, "seconds": 1.0} for e in range(1, 5)]
    (folder / "history.json").write_text(json.dumps({"epochs": epochs}))
    return folder


def _save_map(folder: Path, mu: np.ndarray, labels: np.ndarray, images: np.ndarray, rng) -> None:
    """latent_map.npz of codes mu (N, D), labels (N,) and images (N, 28, 28) uint8: a PCA plane fitted with numpy
    and a stand-in "t-SNE" (class clusters)."""
    n_points, latent_dim = mu.shape
    mean = mu.mean(axis=0)
    _, _, vt = np.linalg.svd(mu - mean, full_matrices=False)
    comps = np.zeros((2, latent_dim), np.float32)
    comps[: min(2, vt.shape[0])] = vt[:2]
    pca = ((mu - mean) @ comps.T).astype(np.float32)
    tsne = (rng.normal(size=(n_points, 2)) * 10 + labels[:, None] * 5).astype(np.float32)
    np.savez_compressed(folder / "latent_map.npz", mu=mu, labels=labels, images=images, pca=pca, tsne=tsne,
                        pca_mean=mean.astype(np.float32), pca_components=comps)


def make_assets(out: str | Path, latent_dim: int = 4, n_points: int = 300, gan: bool = False) -> Path:
    """fake-ae, fake-vae and fake-cvae under `out` (an assets-like folder); gan=True adds fake-gan and fake-cgan
    (same synthetic data set, so the VAE is the GANs' same-dataset VAE)."""
    out = Path(out)
    kinds = ["ae", "vae", "cvae"] + (["gan", "cgan"] if gan else [])
    for i, kind in enumerate(kinds):
        make_model_folder(out / f"fake-{kind}", kind=kind, latent_dim=latent_dim, n_points=n_points, seed=i)
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--gan"]
    if len(args) != 1:
        sys.exit("usage: python -m explorer.testing OUT_DIR [--gan]")
    print(make_assets(args[0], gan="--gan" in sys.argv[1:]))
