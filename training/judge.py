"""Judges of sample quality: CNN classifiers trained on the real training images of a dataset.

A judge labels decoded samples (is a sample drawn for class c recognisably a c? which classes does a GAN cover?)
and gives the features for the Fréchet distance between samples and the real test images (its penultimate layer).
`python -m training evaluate` and benchmarks/quality.py use the same judges from the same cache, so they print the
same distances:

    judge(name, data, which="smallcnn")  -> the cached judge of that dataset, trained on data.train when missing
    sample_features(model, judge, n)     -> (labels (n,), features (n, F)) of n prior samples of any model
    fd_floor(judge, data)                -> Fréchet distance of real training images vs the test images
    frechet_distance(a, b)               -> Fréchet distance of two feature sets

Two designs (JUDGES): "smallcnn", the standard small MNIST CNN (128 features), and "widecnn", a wider CNN with
batch norm and global average pooling (256 features), a second opinion of another design. Weights are cached as
safetensors (never pickled), one file per dataset, design and set of training images (named by their hash), with
the training settings in the metadata; a file made with other settings is retrained.
"""
from __future__ import annotations

import hashlib
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from .data import Dataset, Split, image_shape_of, unit_images

ARCH_VERSION = "smallcnn-v1"  # bump when SmallCNN changes, so cached weights are retrained


class SmallCNN(nn.Module):
    """conv(32) -> pool -> conv(64) -> pool -> dropout -> fc(feature_dim) -> dropout -> fc(num_classes).

    The standard MNIST CNN, with padded convolutions and two poolings so it runs quickly on a CPU.
    """

    def __init__(self, num_classes: int = 10, feature_dim: int = 128, image_shape: tuple = (1, 28, 28)):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(image_shape[0], 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),                # (B, 64, 7, 7)
        )
        self.drop1 = nn.Dropout(0.25)
        self.fc = nn.Linear(64 * (image_shape[1] // 4) * (image_shape[2] // 4), feature_dim)
        self.drop2 = nn.Dropout(0.5)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> penultimate activations (B, feature_dim)."""
        return F.relu(self.fc(self.drop1(self.convs(x).flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> class logits (B, num_classes)."""
        return self.head(self.drop2(self.features(x)))


class WideCNN(nn.Module):
    """Conv blocks of 64, 128, 256 and 256 channels, each conv -> batch norm -> ReLU: a 5x5 and two 3x3 with stride 2,
    then a 3x3 at 4x4 so that every unit sees the whole image; then global average pooling (the features, 256 per
    image) and a dense head with dropout.

    (B, 1, 28, 28) -> (B, 64, 14, 14) -> (B, 128, 7, 7) -> (B, 256, 4, 4) -> (B, 256, 4, 4) -> GAP (B, 256)
    -> (B, num_classes). Strided convolutions rather than pooling keep its training short on a 2-core CPU.
    """

    def __init__(self, num_classes: int = 10, channels: tuple[int, int, int] = (64, 128, 256),
                 image_shape: tuple = (1, 28, 28)):
        super().__init__()

        def block(c_in: int, c_out: int, stride: int, kernel: int = 3) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
                    nn.BatchNorm2d(c_out), nn.ReLU()]

        c1, c2, c3 = channels
        self.convs = nn.Sequential(*block(image_shape[0], c1, 2, 5), *block(c1, c2, 2), *block(c2, c3, 2), *block(c3, c3, 1))
        self.drop = nn.Dropout(0.3)
        self.head = nn.Linear(c3, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> globally average-pooled activations (B, 256)."""
        return self.convs(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, C, H, W) in [0, 1] -> class logits (B, num_classes)."""
        return self.head(self.drop(self.features(x)))


# which -> (class, arch version stamped in the cache, training recipe). Bump a version when its class changes;
# the rest of the recipe is stamped too. "epochs" and "shift": per dataset name, "default" for any other (an image
# folder). "schedule": "constant" lr, or "onecycle" (Smith's one-cycle policy, torch's OneCycleLR). "shift": each
# training image is moved by up to this many pixels in x and y (a random translation; 0: none).
# The widecnn's epochs, timed on an idle 2-core CPU: MNIST's 15,604 images 6 epochs (90 s, test accuracy 0.990),
# Fashion-MNIST's 60,000 3 epochs unshifted (184 s, 0.915; 2 epochs shifted by 2 px reached 0.901).
JUDGES = {
    "smallcnn": (SmallCNN, ARCH_VERSION,
                 {"epochs": {"mnist": 15, "fashion-mnist": 10, "default": 10}, "lr": 1e-3, "batch_size": 128,
                  "schedule": "constant", "shift": {"default": 0}}),
    "widecnn": (WideCNN, "widecnn-v4",
                {"epochs": {"mnist": 6, "fashion-mnist": 3, "default": 4}, "lr": 3e-3, "batch_size": 64,
                 "schedule": "onecycle", "shift": {"mnist": 2, "default": 0}}),
}


def _judge_spec(which: str):
    if which not in JUDGES:
        raise ValueError(f"judge {which!r} is unknown; use one of {', '.join(JUDGES)}.")
    return JUDGES[which]


def default_epochs(which: str, dataset_name: str) -> int:
    """The epochs a judge trains for on this dataset (its recipe in JUDGES)."""
    epochs = _judge_spec(which)[2]["epochs"]
    return epochs.get(dataset_name, epochs["default"])


def default_shift(which: str, dataset_name: str) -> int:
    """The random translation (pixels) of the training images of a judge on this dataset (its recipe in JUDGES)."""
    shift = _judge_spec(which)[2]["shift"]
    return shift.get(dataset_name, shift["default"])


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Move each image of x (B, C, H, W) by its own random offset of up to max_shift pixels in x and y, filling
    with zeros (background): (B, C, H, W)."""
    if max_shift <= 0:
        return x
    b, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)                                         # (B, C, H + 2s, W + 2s)
    dy, dx = torch.randint(0, 2 * max_shift + 1, (2, b, 1), generator=generator)
    rows, cols = dy + torch.arange(h), dx + torch.arange(w)                     # (B, H), (B, W)
    picked = padded[torch.arange(b)[:, None, None], :, rows[:, :, None], cols[:, None, :]]   # (B, H, W, C)
    return picked.permute(0, 3, 1, 2)


@torch.inference_mode()
def classify(classifier: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """images (N, C, H, W) float in [0, 1] -> (predicted class (N,) int64, features (N, feature_dim) float64)."""
    classifier.eval()
    preds, feats = [], []
    for i in range(0, len(images), batch_size):
        f = classifier.features(images[i:i + batch_size])
        preds.append(classifier.head(f).argmax(1))
        feats.append(f.double())
    return torch.cat(preds), torch.cat(feats)


def accuracy(classifier: nn.Module, split: Split) -> float:
    """The share of the split's images the classifier labels correctly."""
    preds, _ = classify(classifier, split.float_images())
    return float((preds == split.labels).double().mean())


def train_classifier(train: Split, num_classes: int, *, epochs: int = 4, batch_size: int | None = None,
                     lr: float | None = None, shift: int | None = None, seed: int = 0, which: str = "smallcnn",
                     log=print) -> nn.Module:
    """Adam on cross-entropy over the real training images (uint8 (N, H, W) or (N, C, H, W)); returns the judge in eval mode.

    The learning rate, batch size, schedule and random shift come from the judge's recipe in JUDGES unless given
    (the shift: its default for a dataset the recipe does not name).
    """
    cls, _, recipe = _judge_spec(which)
    lr = recipe["lr"] if lr is None else lr
    batch_size = recipe["batch_size"] if batch_size is None else batch_size
    shift = recipe["shift"]["default"] if shift is None else shift
    torch.manual_seed(seed)
    model = cls(num_classes, image_shape=image_shape_of(train.images))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(train)
    steps = math.ceil(n / batch_size)
    sched = (torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * steps)
             if recipe["schedule"] == "onecycle" else None)
    gen = torch.Generator().manual_seed(seed)
    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(steps):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            x = random_shift(unit_images(train.images[idx]), shift, gen)                    # (B, C, H, W)
            loss = F.cross_entropy(model(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += loss.item() * len(idx)
        log(f"  {which} epoch {epoch + 1}/{epochs}: train loss {total / n:.4f}  {time.time() - t0:.0f}s")
    return model.eval()


def images_fingerprint(split: Split) -> str:
    """A short hash of a split's images and labels: a judge cached for other images is retrained."""
    h = hashlib.sha1(split.images.contiguous().numpy().tobytes())
    h.update(split.labels.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_or_train(path: str | Path, train: Split, num_classes: int, *, epochs: int = 4, seed: int = 0,
                  which: str = "smallcnn", shift: int | None = None, fingerprint: bool = False,
                  log=print) -> nn.Module:
    """The cached judge at `path` (a .safetensors file) if it was trained with these settings, else train it.

    The settings live in the file's metadata; a file made with other settings (or an older design) is retrained.
    With `fingerprint`, a hash of the training images is one of the settings.
    """
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    cls, version, recipe = _judge_spec(which)
    shift = recipe["shift"]["default"] if shift is None else shift
    path = Path(path)
    settings = {"arch": version, "num_classes": str(num_classes), "epochs": str(epochs), "seed": str(seed),
                "train_images": str(len(train)), "lr": str(recipe["lr"]), "batch_size": str(recipe["batch_size"]),
                "schedule": recipe["schedule"], "shift": str(shift)}
    shape = image_shape_of(train.images)
    if shape != (1, 28, 28):   # only then, so the grayscale judges cached before colour existed still match
        settings["image_shape"] = "x".join(map(str, shape))
    if fingerprint:
        settings["images_sha1"] = images_fingerprint(train)
    if path.is_file():
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if all(meta.get(k) == v for k, v in settings.items()):
                model = cls(num_classes, image_shape=shape)
                model.load_state_dict(load_file(str(path)))
                return model.eval()
            log(f"  {path}: made with other settings ({json.dumps(meta)}); retraining")
        except (SafetensorError, OSError, RuntimeError) as e:
            log(f"  {path}: unreadable ({e}); retraining")
    log(f"  training the {which} judge on {len(train)} images, {epochs} epochs -> {path}")
    t0 = time.time()
    model = train_classifier(train, num_classes, epochs=epochs, seed=seed, which=which, shift=shift, log=log)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The state dict includes batch norm's running statistics, so the cached judge equals the trained one.
    ckpt.save_tensors(path, model.state_dict(), metadata={**settings, "seconds": f"{time.time() - t0:.0f}"})
    return model


def judges_dir() -> Path:
    """Where judges are cached by default: <training cache>/judges (VAE_EXPLORER_CACHE, else ~/.cache/vae-explorer)."""
    from .data import cache_dir
    return cache_dir() / "judges"


def judge(dataset_name: str, data: Dataset, *, which: str = "smallcnn", cache_dir: str | Path | None = None,
          epochs: int | None = None, log=print) -> nn.Module:
    """The judge `which` of this dataset, trained on data.train (and cached) when no cached one matches.

    The file is <cache_dir>/<dataset_name>-<which>-<hash of data.train>.safetensors (default cache_dir:
    judges_dir()), so judges of other training images (a --train-limit run) sit beside it instead of replacing it;
    its metadata holds the design, epochs, seed, number of training images and their hash, and a file made with
    other settings is retrained. Epochs default to the recipe's (default_epochs).
    """
    epochs = default_epochs(which, dataset_name) if epochs is None else epochs
    folder = judges_dir() if cache_dir is None else Path(cache_dir)
    path = folder / f"{dataset_name}-{which}-{images_fingerprint(data.train)[:8]}.safetensors"
    return load_or_train(path, data.train, len(data.class_names), epochs=epochs, which=which,
                         shift=default_shift(which, dataset_name), fingerprint=True, log=log)


# ---------------------------------------------------------------------------------------------------------------
# The measures

def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets a (N, D) and b (M, D), in float64.

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), as in FID (Heusel et al. 2017).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return frechet_from_stats(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, s1) and N(mu2, s2); means (D,), covariances (D, D)."""
    from scipy import linalg

    s1, s2 = np.atleast_2d(s1), np.atleast_2d(s2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
    if caught or not np.isfinite(covmean).all():
        # A singular product (e.g. classifier units that are zero for every image, after the ReLU): nudge the
        # diagonals so the square root is well defined, as pytorch-fid does. Changes the distance by ~1e-6 * D.
        eps = 1e-6 * np.eye(len(s1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = np.real(covmean)  # tiny imaginary parts are numerical noise
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


@torch.inference_mode()
def sample_features(model: nn.Module, judge: nn.Module, n: int, labels: torch.Tensor | None = None, seed: int = 0,
                    *, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw n prior samples of `model` (anything with sample(n, y, generator=...) -> (n, C, H, W) in [0, 1]; class
    labels (n,) for a conditional model) and let the judge label them.

    Returns (predicted class (n,) int64, judge features (n, F) float64). The codes come from a generator seeded with
    `seed`; batches keep memory at one batch of images.
    """
    model.eval()
    gen = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    preds, feats = [], []
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        y = None if labels is None else labels[i:i + m]
        images = model.sample(m, y, generator=gen).float().cpu()                # (m, C, H, W) in [0, 1]
        p, f = classify(judge, images, batch_size)
        preds.append(p)
        feats.append(f)
    return torch.cat(preds), torch.cat(feats)


def fd_floor(judge: nn.Module, data: Dataset, test: Split | None = None) -> float:
    """Fréchet distance between real training images and the test images (data.test, or `test`), in the judge's
    features: what a perfect generator would score. The first min(len(test), len(train)) training images are used,
    so both sets have the same size."""
    test = data.test if test is None else test
    n = min(len(test), len(data.train))
    _, train_feats = classify(judge, Split(data.train.images[:n], data.train.labels[:n]).float_images())
    _, test_feats = classify(judge, test.float_images())
    return frechet_distance(train_feats, test_feats)
