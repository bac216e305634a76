"""A small CNN classifier for 28x28 grayscale images: the judge of sample quality in benchmarks/quality.py.

It labels decoded samples (is a sample drawn for class c recognisably a c?) and gives the features for the
Fréchet distance (its penultimate layer, 128 numbers per image). Weights are cached as safetensors, never pickled.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from training import checkpoint as ckpt
from training.data import Split

ARCH_VERSION = "smallcnn-v1"  # bump when SmallCNN changes, so cached weights are retrained


class SmallCNN(nn.Module):
    """conv(32) -> pool -> conv(64) -> pool -> dropout -> fc(feature_dim) -> dropout -> fc(num_classes).

    The standard MNIST CNN, with padded convolutions and two poolings so it runs quickly on a CPU.
    """

    def __init__(self, num_classes: int = 10, feature_dim: int = 128):
        super().__init__()
        self.convs = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),    # (B, 32, 14, 14)
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),   # (B, 64, 7, 7)
        )
        self.drop1 = nn.Dropout(0.25)
        self.fc = nn.Linear(64 * 7 * 7, feature_dim)
        self.drop2 = nn.Dropout(0.5)
        self.head = nn.Linear(feature_dim, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 28, 28) in [0, 1] -> penultimate activations (B, feature_dim)."""
        return F.relu(self.fc(self.drop1(self.convs(x).flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 1, 28, 28) in [0, 1] -> class logits (B, num_classes)."""
        return self.head(self.drop2(self.features(x)))


@torch.inference_mode()
def classify(classifier: SmallCNN, images: torch.Tensor, batch_size: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """images (N, 1, 28, 28) float in [0, 1] -> (predicted class (N,) int64, features (N, feature_dim) float64)."""
    classifier.eval()
    preds, feats = [], []
    for i in range(0, len(images), batch_size):
        f = classifier.features(images[i:i + batch_size])
        preds.append(classifier.head(f).argmax(1))
        feats.append(f.double())
    return torch.cat(preds), torch.cat(feats)


def accuracy(classifier: SmallCNN, split: Split) -> float:
    preds, _ = classify(classifier, split.float_images())
    return float((preds == split.labels).double().mean())


def train_classifier(train: Split, num_classes: int, *, epochs: int = 4, batch_size: int = 128, lr: float = 1e-3,
                     seed: int = 0, log=print) -> SmallCNN:
    """Adam on cross-entropy over the real training images; returns the classifier in eval mode."""
    torch.manual_seed(seed)
    model = SmallCNN(num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = len(train)
    for epoch in range(epochs):
        t0, total = time.time(), 0.0
        model.train()
        perm = torch.randperm(n, generator=gen)
        for b in range(math.ceil(n / batch_size)):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            x = train.images[idx].unsqueeze(1).float().div_(255)   # (B, 1, 28, 28)
            loss = F.cross_entropy(model(x), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        log(f"  classifier epoch {epoch + 1}/{epochs}: train loss {total / n:.4f}  {time.time() - t0:.0f}s")
    return model.eval()


def load_or_train(path: str | Path, train: Split, num_classes: int, *, epochs: int = 4, seed: int = 0,
                  log=print) -> SmallCNN:
    """The cached classifier at `path` (a .safetensors file) if it was trained with these settings, else train it.

    The settings live in the file's metadata; a file made with other settings (or an older SmallCNN) is retrained.
    """
    path = Path(path)
    settings = {"arch": ARCH_VERSION, "num_classes": str(num_classes), "epochs": str(epochs), "seed": str(seed),
                "train_images": str(len(train))}
    if path.is_file():
        try:
            from safetensors import safe_open
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if all(meta.get(k) == v for k, v in settings.items()):
                model = SmallCNN(num_classes)
                model.load_state_dict(load_file(str(path)))
                return model.eval()
            log(f"  {path}: made with other settings ({json.dumps(meta)}); retraining")
        except (SafetensorError, OSError, RuntimeError) as e:
            log(f"  {path}: unreadable ({e}); retraining")
    log(f"  training the classifier on {len(train)} images, {epochs} epochs -> {path}")
    model = train_classifier(train, num_classes, epochs=epochs, seed=seed, log=log)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.save_tensors(path, model.state_dict(), metadata=settings)
    return model
