"""Test-set figures, in nats per image (Bernoulli log-likelihood of grayscale pixels), and the latent map."""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .data import Split
from .figures import ACTIVE_UNIT_CUTOFF, METRICS_NAME, iwae_key  # noqa: F401 (METRICS_NAME: importable from here too)
from .losses import bce_per_image, kl_per_dim, log_normal, log_std_normal
from .models import LatentModel

MAP_NAME = "latent_map.npz"


_batches = Split.batches   # (split, batch_size, device) -> (x, y) batches; the name benchmarks/quality.py imports


@torch.inference_mode()
def encode_split(model: LatentModel, split: Split, batch_size: int = 1000) -> torch.Tensor:
    """Posterior means of every image in the split: (N, latent_dim), on the CPU."""
    device = next(model.parameters()).device
    return torch.cat([model.encode(x, y).mu.cpu() for x, y in split.batches(batch_size, device)])


@torch.inference_mode()
def iwae_bound(model: LatentModel, x: torch.Tensor, y: torch.Tensor | None, k: int,
               generator: torch.Generator | None = None, chunk: int = 16) -> torch.Tensor:
    """Importance-weighted bound on -log p(x) with k samples (Burda et al. 2016): (B,) nats.

    -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). Samples are decoded `chunk` at a time.
    """
    mu, logvar = model.encode(x, y)
    log_w = []
    for start in range(0, k, chunk):
        kk = min(chunk, k - start)
        z = model.draw(mu, logvar, generator, samples=kk)                       # (kk, B, D)
        yk = None if y is None else y.repeat(kk)
        logits = model.decode_logits(z.flatten(0, 1), yk)                       # (kk*B, 1, 28, 28)
        log_px = -bce_per_image(logits, x.repeat(kk, 1, 1, 1)).view(kk, -1)     # (kk, B)
        log_w.append(log_px + log_std_normal(z) - log_normal(z, mu, logvar))
    log_w = torch.cat(log_w)                                                    # (k, B)
    return -(torch.logsumexp(log_w, 0) - math.log(k))


@torch.inference_mode()
def evaluate(model: LatentModel, test: Split, train: Split | None = None, *, k: int = 64, seed: int = 0,
             batch_size: int = 500) -> dict:
    """All figures on `test`. kNN accuracy fits on `train` means (or, without train, leave-one-out on test)."""
    from sklearn.neighbors import KNeighborsClassifier

    t0 = time.time()
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(seed)
    sums = {"recon": 0.0, "kl": 0.0, "iwae": 0.0}
    kl_dims = torch.zeros(model.latent_dim)
    mus = []
    for x, y in test.batches(batch_size, device):
        y_in = y if model.conditional else None
        mu, logvar = model.encode(x, y_in)
        mus.append(mu.cpu())
        if model.stochastic:
            z = model.draw(mu, logvar, gen)                                     # (B, D), one draw per image
            kl = kl_per_dim(mu, logvar)                                         # (B, D)
            kl_dims += kl.sum(0).cpu()
            sums["kl"] += kl.sum().item()
            sums["iwae"] += iwae_bound(model, x, y_in, k, generator=gen).sum().item()
        else:
            z = mu
        sums["recon"] += bce_per_image(model.decode_logits(z, y_in), x).sum().item()
    n = len(test)
    mus = torch.cat(mus)
    # Active units (Burda et al.): dimensions whose posterior mean varies across the data (figures.py).
    active = int((mus.var(0) > ACTIVE_UNIT_CUTOFF).sum())
    test_labels = test.labels.numpy()
    knn = KNeighborsClassifier(n_neighbors=5)
    if train is not None:
        knn.fit(encode_split(model, train).numpy(), train.labels.numpy())
        knn_acc = float(knn.score(mus.numpy(), test_labels))
    else:  # leave-one-out on the test set: the 6 nearest include the point itself
        knn.set_params(n_neighbors=6).fit(mus.numpy(), test_labels)
        idx = knn.kneighbors(mus.numpy(), return_distance=False)[:, 1:]
        votes = test_labels[idx]
        knn_acc = float(np.mean([np.bincount(v).argmax() == t for v, t in zip(votes, test_labels)]))
    recon = sums["recon"] / n
    metrics = {
        "recon": recon,
        "kl": sums["kl"] / n if model.stochastic else None,
        "neg_elbo": recon + sums["kl"] / n if model.stochastic else None,
        iwae_key(k): sums["iwae"] / n if model.stochastic else None,
        "active_units": active,
        "knn5_accuracy": knn_acc,
        "kl_per_dim": (kl_dims / n).tolist() if model.stochastic else None,
        "n_test": n,
        "knn_fit_on": "train means" if train is not None else "test means (leave-one-out)",
        "units": "nats per image; Bernoulli likelihood of grayscale pixels",
        "seconds": round(time.time() - t0, 1),
    }
    return metrics


def tsne_2d(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE: openTSNE's FFT-accelerated version when installed (faster), else scikit-learn's."""
    try:
        from openTSNE import TSNE
        return np.asarray(TSNE(n_components=2, perplexity=30, random_state=seed, n_jobs=torch.get_num_threads(),
                               verbose=False).fit(points), dtype=np.float32)
    except ImportError:
        from sklearn.manifold import TSNE
        return TSNE(n_components=2, perplexity=30, init="pca", random_state=seed).fit_transform(points).astype(np.float32)


def umap_available() -> bool:
    """True when umap-learn imports (it is optional: numba, which it needs, has no wheels for some platforms)."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


def umap_2d(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D UMAP (umap-learn, 15 neighbours, min_dist 0.1, 200 epochs) of (N, D) points: (N, 2) float32.

    random_state makes it reproducible (and single-threaded); n_jobs=1 says so explicitly. 200 epochs is what
    umap-learn uses above 10,000 points; at exactly 10,000 (a test split) it would pick 500, 2.5 times the work
    for a map that looks the same. Raises ImportError when umap-learn is not installed.
    """
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=15, min_dist=0.1, n_epochs=200, random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(np.asarray(points, dtype=np.float32)), dtype=np.float32)


def add_umap(folder: str | Path, seed: int = 0, force: bool = False) -> bool:
    """Add a "umap" array to a folder's latent_map.npz from its stored means, without retraining.

    Every other array is written back unchanged (same values, dtype and shape) and the file is replaced
    atomically. Returns False (and changes nothing) when the map already has one and force is False.
    """
    arrays = load_latent_map(folder)
    if "umap" in arrays and not force:
        return False
    arrays["umap"] = umap_2d(arrays["mu"], seed)
    save_latent_map(folder, arrays)
    return True


def build_latent_map(model: LatentModel, test: Split, *, seed: int = 0, tsne: bool = True,
                     umap: bool = True) -> dict[str, np.ndarray]:
    """Means, labels, images and 2-D PCA / t-SNE (and UMAP, when umap-learn is installed) coordinates of every
    test image, for the app."""
    from sklearn.decomposition import PCA

    mu = encode_split(model, test).numpy().astype(np.float32)                   # (N, D)
    pca = PCA(n_components=2, random_state=seed).fit(mu)
    out = {
        "mu": mu,
        "labels": test.labels.numpy().astype(np.int64),
        "images": test.images.numpy().astype(np.uint8),                         # (N, 28, 28)
        "pca": pca.transform(mu).astype(np.float32),
        "pca_mean": pca.mean_.astype(np.float32),
        "pca_components": pca.components_.astype(np.float32),                   # (2, D)
    }
    if tsne:
        out["tsne"] = tsne_2d(mu, seed)
    if umap and umap_available():
        out["umap"] = umap_2d(mu, seed)
    return out


def save_latent_map(folder: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    path = Path(folder) / MAP_NAME

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    ckpt._atomic_write(path, write)
    return path


def load_latent_map(folder: str | Path) -> dict[str, np.ndarray]:
    """Read latent_map.npz without pickle (object arrays are refused)."""
    with np.load(Path(folder) / MAP_NAME, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
