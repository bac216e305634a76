"""Test-set figures, in nats per image (Bernoulli log-likelihood of the pixels, every channel), and the latent map.

An autoencoder is measured through its encoder; a GAN, which has none, through GAN inversion (training/inversion.py)
and its samples as the judge classifier of its dataset sees them (training/judge.py). evaluate() picks the way.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoint as ckpt
from .data import Split, numpy_images
# METRICS_NAME: importable from here too
from .figures import ACTIVE_UNIT_CUTOFF, DEFAULT_IWAE_K, METRICS_NAME, iwae_key  # noqa: F401
from .losses import bce_per_image, is_gaussian, kl_per_dim, log_normal, log_std_normal, recon_nll, recon_target
from .models import LatentModel

MAP_NAME = "latent_map.npz"
GAN_SAMPLES = 10_000   # prior samples behind a GAN's Fréchet distance and class histogram


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

    -log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x), z_i ~ q(z|x). Samples are decoded `chunk` at a time. A Gaussian
    likelihood scores all k samples against one dequantisation of x (losses.recon_target).
    """
    mu, logvar = model.encode(x, y)
    target = recon_target(model, x, generator)
    log_w = []
    for start in range(0, k, chunk):
        kk = min(chunk, k - start)
        z = model.draw(mu, logvar, generator, samples=kk)                       # (kk, B, D)
        yk = None if y is None else y.repeat(kk)
        logits = model.decode_logits(z.flatten(0, 1), yk)                       # (kk*B, C, H, W)
        log_px = -recon_nll(model, logits, target.repeat(kk, 1, 1, 1), dequantized=True).view(kk, -1)  # (kk, B)
        log_w.append(log_px + log_std_normal(z) - log_normal(z, mu, logvar))
    log_w = torch.cat(log_w)                                                    # (k, B)
    return -(torch.logsumexp(log_w, 0) - math.log(k))


def pixel_units(model: LatentModel) -> str:
    """What one image's likelihood sums over: "grayscale pixels" (1 x H x W values), or for colour the 3 x H x W
    channel values."""
    c, h, w = model.config.image_shape
    return "grayscale pixels" if c == 1 else f"RGB channel values ({c} x {h} x {w} per image)"


def evaluate(model: LatentModel, test: Split, train: Split | None = None, *, k: int = 64, seed: int = 0,
             batch_size: int = 500, inversion=None, judge=None, dataset_name: str | None = None,
             class_names: list[str] | None = None, samples: int | None = None, log=print) -> dict:
    """All figures on `test`, for metrics.json (the keys are figures.py's).

    An autoencoder: reconstruction, KL, -ELBO, IWAE bound, active units and 5-NN accuracy of its posterior means
    (fit on `train` means, or without train leave-one-out on test). A GAN (no encoder): evaluate_gan; `inversion`
    (training.inversion.Inversion of the test images) reuses codes already found, `judge` a judge classifier already
    loaded, and the other keywords are evaluate_gan's.
    """
    if not model.has_encoder:
        return evaluate_gan(model, test, train, k=k, seed=seed, inversion=inversion, judge=judge,
                            dataset_name=dataset_name, class_names=class_names, samples=samples, log=log)
    return _evaluate_autoencoder(model, test, train, k=k, seed=seed, batch_size=batch_size)


@torch.inference_mode()
def _evaluate_autoencoder(model: LatentModel, test: Split, train: Split | None, *, k: int, seed: int,
                          batch_size: int) -> dict:
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
        sums["recon"] += recon_nll(model, model.decode_logits(z, y_in), x, gen).sum().item()
    n = len(test)
    mus = torch.cat(mus)
    # Active units (Burda et al.): dimensions whose posterior mean varies across the data (figures.py).
    active = int((mus.var(0) > ACTIVE_UNIT_CUTOFF).sum())
    test_labels = test.labels.numpy()
    knn = KNeighborsClassifier(n_neighbors=5)
    if train is not None:
        knn.fit(encode_split(model, train).numpy(), train.labels.numpy())
        knn_acc = float(knn.score(mus.numpy(), test_labels))
    else:
        knn_acc = knn5_leave_one_out(mus.numpy(), test_labels)
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
        **_likelihood_figures(model, recon, sums, n, k),
        "seconds": round(time.time() - t0, 1),
    }
    return metrics


def _likelihood_figures(model: LatentModel, recon: float, sums: dict, n: int, k: int) -> dict:
    """metrics.json's likelihood keys: which one, its units and, for a Gaussian, sigma and bits per dimension."""
    if not is_gaussian(model):
        return {"likelihood": "bernoulli", "units": f"nats per image; Bernoulli likelihood of {pixel_units(model)}"}
    dims = math.prod(model.config.image_shape)
    out = {"likelihood": "gaussian", "sigma": model.sigma, "sigma_learned": not model.config.gaussian_sigma,
           "units": ("nats per 8-bit image: the Gaussian density of the uniformly dequantised image, (k + u) / 256, "
                     "plus D log 256 (an upper bound on -log P of the 8-bit image)"),
           "bits_per_dim_recon": recon / (dims * math.log(2))}
    if model.stochastic:
        out["bits_per_dim_neg_elbo"] = (recon + sums["kl"] / n) / (dims * math.log(2))
        out[f"bits_per_dim_iwae_k{k}"] = sums["iwae"] / n / (dims * math.log(2))
    return out


def knn5_leave_one_out(codes: np.ndarray, labels: np.ndarray) -> float:
    """Accuracy of a 5-nearest-neighbour vote among the other points: codes (N, D), labels (N,). Each point's 6
    nearest include the point itself, which is left out."""
    from sklearn.neighbors import NearestNeighbors

    idx = NearestNeighbors(n_neighbors=6).fit(codes).kneighbors(codes, return_distance=False)[:, 1:]
    votes = labels[idx]
    return float(np.mean([np.bincount(v).argmax() == t for v, t in zip(votes, labels)]))


def evaluate_gan(model: LatentModel, test: Split, train: Split | None, *, k: int = DEFAULT_IWAE_K, seed: int = 0,
                 inversion=None,
                 judge=None, dataset_name: str | None = None, class_names: list[str] | None = None,
                 samples: int | None = None, log=print) -> dict:
    """A GAN's figures (it has a generator and no encoder), in metrics.json's keys:

    - fd: Fréchet distance between the judge classifier's features (training/judge.py, trained on `train` and
      cached) of `samples` prior samples, balanced over the classes for a cgan, and of the test images; fd_floor:
      the same for real training images against the test images, what a perfect generator would score;
    - class_histogram: the share of the samples the judge gives each class; mode_coverage_min / _max, its smallest
      and largest share (1 / classes each for a generator that draws every class equally often; near 0 for a class
      it dropped, mode collapse); a cgan also sample_accuracy (and per class): how often a sample decoded as class
      c is labelled c;
    - recon: the mean Bernoulli error (nats per test image) of G(z*), z* the code GAN inversion found for each test
      image (training/inversion.py; `inversion` reuses codes found already, else the test split is inverted here);
      knn5_accuracy: a 5-NN vote among the inverted test codes, leave-one-out (inverting the training images too
      would double the cost);
    - active_units, kl, neg_elbo, the IWAE bound and kl_per_dim: None. Inverted codes keep what their random start
      gave a dimension the generator ignores, so the variance rule of active units would count it as used.

    judge: a judge already loaded, else training.judge.judge(dataset_name, ...) trains or loads the cached one.
    class_names: the data's classes (default: the model's). samples: how many prior samples (default GAN_SAMPLES).
    """
    from .data import Dataset
    from .inversion import SPLIT_SETTINGS, invert_split
    from .judge import classify, fd_floor, frechet_distance, judge as cached_judge, sample_features

    if train is None:
        raise ValueError("a GAN's figures need the training split: its judge classifier learns from it, and the "
                         "Fréchet distance floor compares it with the test split.")
    t0 = time.time()
    samples = GAN_SAMPLES if samples is None else samples
    class_names = list(class_names or model.class_names)
    num_classes = len(class_names)
    data = Dataset(dataset_name or "dataset", train, test, class_names)
    clf = judge if judge is not None else cached_judge(data.name, data, log=log)
    settings = {k: v for k, v in SPLIT_SETTINGS.items() if k != "batch_size"}
    inversion_seconds = None
    if inversion is None:
        t1 = time.time()
        inversion = invert_split(model, test, seed=seed)
        inversion_seconds = round(time.time() - t1, 1)
    if len(inversion.z) != len(test):
        raise ValueError(f"the inversion holds {len(inversion.z)} codes for {len(test)} test images.")

    labels = torch.arange(samples) % num_classes if model.conditional else None      # balanced over the classes
    preds, feats = sample_features(model, clf, samples, labels, seed=seed)
    _, test_feats = classify(clf, test.float_images())
    hist = (torch.bincount(preds, minlength=num_classes)[:num_classes].double() / samples).tolist()
    test_labels = test.labels.numpy()
    metrics = {
        "recon": float(inversion.bce.double().mean()),
        "recon_via": "inversion: the Bernoulli error of G(z*), z* found by Adam on z for each test image",
        "kl": None,
        "neg_elbo": None,
        iwae_key(k): None,
        "active_units": None,
        "knn5_accuracy": knn5_leave_one_out(inversion.z.numpy(), test_labels),
        "kl_per_dim": None,
        "fd": frechet_distance(feats, test_feats),
        "fd_floor": fd_floor(clf, data, test),
        "fd_samples": samples,
        "class_histogram": hist,
        "mode_coverage_min": min(hist),
        "mode_coverage_max": max(hist),
    }
    if model.conditional:
        hits = (preds == labels).double()
        metrics["sample_accuracy"] = float(hits.mean())
        metrics["sample_accuracy_per_class"] = [float(hits[labels == c].mean()) for c in range(num_classes)]
    metrics.update({
        "inversion": {**settings, "seed": seed, "seconds": inversion_seconds,
                      "bce_median": float(inversion.bce.median())},
        "n_test": len(test),
        "knn_fit_on": "inverted test codes (leave-one-out)",
        "judge": type(clf).__name__,
        "units": f"nats per image; Bernoulli likelihood of {pixel_units(model)}; Fréchet distance in the judge's "
                 "features",
        "seconds": round(time.time() - t0, 1),
    })
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


def map_3d(mu: np.ndarray, seed: int = 0, umap: bool = True) -> dict[str, np.ndarray]:
    """The 3-D views of a latent map: "pca3" (N, 3) with "pca3_components" (3, D) on the 2-D PCA's mean (so a new
    code goes on it exactly: (z - pca_mean) @ pca3_components.T; the first two components are the 2-D PCA's), and
    "umap3" (N, 3), UMAP with the 2-D one's settings (when umap-learn is installed)."""
    from sklearn.decomposition import PCA

    mu = np.asarray(mu, dtype=np.float32)
    k = min(3, mu.shape[1])
    pca = PCA(n_components=k, random_state=seed).fit(mu)
    comps = np.zeros((3, mu.shape[1]), np.float32)
    comps[:k] = pca.components_                       # a 2-dimensional latent space: a flat third axis
    out = {"pca3": ((mu - pca.mean_) @ comps.T).astype(np.float32), "pca3_components": comps}
    if umap and umap_available():
        import umap as umap_learn
        reducer = umap_learn.UMAP(n_components=3, n_neighbors=15, min_dist=0.1, n_epochs=200, random_state=seed,
                                  n_jobs=1)
        out["umap3"] = np.asarray(reducer.fit_transform(mu), dtype=np.float32)
    return out


def add_3d(folder: str | Path, seed: int = 0, force: bool = False) -> bool:
    """Add the 3-D views (map_3d) to a folder's latent_map.npz from its stored means, without retraining; the other
    arrays are written back unchanged. False (and nothing changed) when the map has them and force is False."""
    arrays = load_latent_map(folder)
    if "pca3" in arrays and ("umap3" in arrays or not umap_available()) and not force:
        return False
    arrays.update(map_3d(arrays["mu"], seed))
    save_latent_map(folder, arrays)
    return True


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


MAP_SPLITS = ("test", "both")     # --map-split: the test images alone, or the training images beside them
SPLIT_NAMES = ("test", "train")   # latent_map.npz's "split" codes: 0 a test image, 1 a training image
IMAGE_FILES = "latent_map_images-{sha}-{i:02d}.npz"   # a large map's images, beside latent_map.npz
INLINE_IMAGES = 12_000    # up to this many images stay inside latent_map.npz (a test split's 10,000 do)
CHUNK_ROWS = 15_000       # images per file beyond that, halved until a compressed file is under MAX_FILE_BYTES
MAX_FILE_BYTES = 9_500_000   # every shipped file stays under the 10 MB a Space takes without LFS


def build_latent_map(model: LatentModel, test: Split, *, train: Split | None = None, seed: int = 0,
                     tsne: bool = True, umap: bool = True, inversion=None, log=None) -> dict[str, np.ndarray]:
    """Codes, labels, images and 2-D PCA / t-SNE (and UMAP, when umap-learn is installed) coordinates of every
    test image (and, given `train`, every training image after them), for the app; the 3-D PCA and UMAP too.

    The codes ("mu") are an autoencoder's posterior means; a model without an encoder (a GAN) stores the codes GAN
    inversion found (`inversion`, a training.inversion.Inversion of the test images, or inverted here), with each
    one's reconstruction error in "inversion_bce" (N,) nats, so the explorer's map, neighbours, arithmetic and
    interpolation work on them unchanged. With `train`, "split" (N,) uint8 says which rows are test images (0) and
    which training images (1); every projection is fitted on all of them. `log(name, seconds)` hears each step's
    time."""
    from sklearn.decomposition import PCA

    log = log or (lambda name, seconds: None)
    splits = [test] + ([train] if train is not None and len(train) else [])
    extra = {}
    t0 = time.time()
    if model.has_encoder:
        mu = np.concatenate([encode_split(model, s).numpy() for s in splits]).astype(np.float32)   # (N, D)
    else:
        from .inversion import invert_split
        found = [inversion if i == 0 and inversion is not None else invert_split(model, s, seed=seed)
                 for i, s in enumerate(splits)]
        mu = np.concatenate([f.z.numpy() for f in found]).astype(np.float32)
        extra["inversion_bce"] = np.concatenate([f.bce.numpy() for f in found]).astype(np.float32)   # (N,)
    log("codes", time.time() - t0)
    t0 = time.time()
    pca = PCA(n_components=2, random_state=seed).fit(mu)
    out = {
        "mu": mu,
        "labels": np.concatenate([s.labels.numpy() for s in splits]).astype(np.int64),
        # (N, H, W), or (N, H, W, 3) for colour
        "images": np.concatenate([numpy_images(s.images) for s in splits]),
        "pca": pca.transform(mu).astype(np.float32),
        "pca_mean": pca.mean_.astype(np.float32),
        "pca_components": pca.components_.astype(np.float32),                   # (2, D)
        **extra,
    }
    if len(splits) > 1:
        out["split"] = np.repeat(np.arange(len(splits), dtype=np.uint8), [len(s) for s in splits])
    log("pca", time.time() - t0)
    if tsne:
        t0 = time.time()
        out["tsne"] = tsne_2d(mu, seed)
        log("tsne", time.time() - t0)
    if umap and umap_available():
        t0 = time.time()
        out["umap"] = umap_2d(mu, seed)
        log("umap", time.time() - t0)
    t0 = time.time()
    out.update(map_3d(mu, seed, umap=umap))          # the 3-D views: pca3 (+ its basis) and umap3
    log("3d", time.time() - t0)
    return out


def save_latent_map(folder: str | Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write FOLDER/latent_map.npz atomically. Up to INLINE_IMAGES images go inside it; more (a map of the training
    images too) go into latent_map_images-SHA-NN.npz files beside it, each under MAX_FILE_BYTES, and the map names
    them ("image_files") with the images' sha256 ("images_sha", which the explorer also uses to keep one copy of
    images that several models' maps share). The image files are written before the map that names them, and
    those of an earlier map are removed after it: an interrupted save leaves the old map whole."""
    import hashlib

    folder = Path(folder)
    path = folder / MAP_NAME
    arrays = dict(arrays)
    images = arrays.get("images")
    if images is not None and images.shape[0] > INLINE_IMAGES:
        images = np.ascontiguousarray(images)
        sha = hashlib.sha256(images.tobytes()).hexdigest()
        names = _write_image_files(folder, images, sha)
        del arrays["images"]
        arrays["image_files"] = np.array(names)
        arrays["images_sha"] = np.array(sha)
    keep = {str(n) for n in arrays.get("image_files", [])}

    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    ckpt._atomic_write(path, write)
    for old in folder.glob("latent_map_images-*.npz"):     # an earlier map's image files
        if old.name not in keep:
            old.unlink()
    return path


def _write_image_files(folder: Path, images: np.ndarray, sha: str) -> list[str]:
    """Split (N, ...) uint8 images into compressed files of CHUNK_ROWS rows (fewer where a file would pass
    MAX_FILE_BYTES); returns their names in order."""
    import io

    names, start, rows = [], 0, CHUNK_ROWS
    while start < len(images):
        buf = io.BytesIO()
        np.savez_compressed(buf, images=images[start:start + rows])
        if buf.tell() > MAX_FILE_BYTES and rows > 1:
            rows = max(1, rows // 2)
            continue
        name = IMAGE_FILES.format(sha=sha[:12], i=len(names))
        data = buf.getvalue()
        ckpt._atomic_write(folder / name, lambda tmp, data=data: Path(tmp).write_bytes(data))
        names.append(name)
        start += rows
    return names


def load_map_images(folder: str | Path, arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The map's images: inside latent_map.npz, or read from the files it names."""
    if "images" in arrays:
        return arrays["images"]
    parts = []
    for name in arrays["image_files"]:
        with np.load(Path(folder) / str(name), allow_pickle=False) as f:
            parts.append(f["images"])
    return np.concatenate(parts)


def load_latent_map(folder: str | Path) -> dict[str, np.ndarray]:
    """Read latent_map.npz without pickle (object arrays are refused)."""
    with np.load(Path(folder) / MAP_NAME, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}
