"""training/judge.py: the judges' designs, their cache, and the measures on tiny data (no real dataset)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from conftest import synthetic_split
from training import create_model
from training.data import Dataset, Split
from training.judge import (JUDGES, SmallCNN, WideCNN, accuracy, classify, fd_floor, frechet_distance,
                            images_fingerprint, judge, judges_dir, sample_features, train_classifier)


def test_frechet_identical_sets_is_zero_and_shifted_sets_are_not():
    a = np.random.default_rng(0).normal(size=(300, 5))
    assert abs(frechet_distance(a, a)) < 1e-6
    assert frechet_distance(a, a + 0.5) == pytest.approx(5 * 0.25, abs=1e-6)   # same covariance: ||shift||^2
    b = np.random.default_rng(1).normal(size=(300, 5)) * 3.0
    assert frechet_distance(a, b) > 5.0                                          # wider spread: ~5 (3 - 1)^2 = 20


@pytest.mark.parametrize("which,cls,dim", [("smallcnn", SmallCNN, 128), ("widecnn", WideCNN, 256)])
def test_judge_designs_shapes(which, cls, dim):
    model = cls(num_classes=7).eval()
    x = torch.rand(5, 1, 28, 28)
    assert model(x).shape == (5, 7) and model.features(x).shape == (5, dim)
    preds, feats = classify(model, x, batch_size=2)
    assert preds.shape == (5,) and feats.shape == (5, dim) and feats.dtype == torch.float64
    assert JUDGES[which][0] is cls


def test_widecnn_learns_a_tiny_separable_problem():
    # Three classes of bright bars at class-dependent rows: a judge that cannot learn this is broken.
    train, test = synthetic_split(120, seed=1), synthetic_split(60, seed=2)
    torch.manual_seed(0)
    assert accuracy(WideCNN(3).eval(), test) < 0.6                  # not solved before training
    model = train_classifier(train, 3, epochs=6, batch_size=16, which="widecnn", log=lambda s: None)
    assert not model.training
    assert accuracy(model, test) >= 0.95


def test_judge_is_cached_with_its_settings_and_made_anew_for_other_images(tmp_path):
    data = Dataset("mnist", synthetic_split(48, seed=1), synthetic_split(24, seed=2), ["a", "b", "c"])
    logs = []
    a = judge("mnist", data, which="widecnn", cache_dir=tmp_path, epochs=1, log=logs.append)
    [path] = tmp_path.glob("mnist-widecnn-*.safetensors")
    assert path.name == f"mnist-widecnn-{images_fingerprint(data.train)[:8]}.safetensors"
    assert any("training the widecnn judge" in s for s in logs)
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
        assert any("running_mean" in k for k in f.keys())          # batch norm's statistics are cached too
    assert meta["arch"] == "widecnn-v4" and meta["epochs"] == "1" and meta["train_images"] == "48"
    assert len(meta["images_sha1"]) == 16

    logs.clear()
    b = judge("mnist", data, which="widecnn", cache_dir=tmp_path, epochs=1, log=logs.append)
    assert not logs                                                     # loaded, not retrained
    x = data.test.float_images()
    assert torch.equal(classify(a, x)[1], classify(b, x)[1])           # the same judge, eval mode after loading

    judge("mnist", data, which="widecnn", cache_dir=tmp_path, epochs=2, log=logs.append)   # other settings
    assert any("other settings" in s for s in logs) and list(tmp_path.glob("*.safetensors")) == [path]
    logs.clear()
    other = Dataset("mnist", synthetic_split(48, seed=5), data.test, data.class_names)   # same size, other images
    judge("mnist", other, which="widecnn", cache_dir=tmp_path, epochs=2, log=logs.append)
    assert any("training the widecnn judge" in s for s in logs)
    assert len(list(tmp_path.glob("mnist-widecnn-*.safetensors"))) == 2                 # beside it, not over it


def test_judge_default_cache_is_the_training_packages(tmp_path, tiny_data):
    # conftest points VAE_EXPLORER_CACHE at tmp_path / "cache": the judges go to its judges/ folder.
    assert judges_dir() == tmp_path / "cache" / "judges"
    judge("mnist", tiny_data, epochs=1, log=lambda s: None)
    assert len(list((tmp_path / "cache" / "judges").glob("mnist-smallcnn-*.safetensors"))) == 1


def test_unknown_judge_is_refused_with_the_choices(tiny_data):
    with pytest.raises(ValueError, match="smallcnn, widecnn"):
        judge("mnist", tiny_data, which="resnet", epochs=1)


def test_sample_features_of_a_gan_and_a_cgan_are_seeded():
    torch.manual_seed(0)
    kw = dict(latent_dim=4, conv_channels=(4, 8), conv_hidden=16, dense_batch_norm=True)
    gan = create_model("gan", "conv", class_names=list("abc"), **kw)
    clf = WideCNN(3)
    p1, f1 = sample_features(gan, clf, 7, seed=3, batch_size=3)
    p2, f2 = sample_features(gan, clf, 7, seed=3, batch_size=3)
    assert p1.shape == (7,) and f1.shape == (7, 256) and torch.equal(f1, f2)
    assert not torch.equal(f1, sample_features(gan, clf, 7, seed=4)[1])
    cgan = create_model("cgan", "conv", class_names=list("abc"), **kw)
    p, f = sample_features(cgan, SmallCNN(3), 6, torch.tensor([0, 1, 2, 0, 1, 2]))
    assert p.shape == (6,) and f.shape == (6, 128)


def test_fd_floor_is_zero_for_the_same_images_and_positive_for_others():
    clf = WideCNN(3).eval()
    same = synthetic_split(60, seed=1)
    assert abs(fd_floor(clf, Dataset("mnist", same, same, list("abc")))) < 1e-3
    dimmer = Split(same.images // 3, same.labels)                          # the same bars, a third as bright
    assert fd_floor(clf, Dataset("mnist", same, dimmer, list("abc"))) > 1e-3
    # The first min(len(test), len(train)) training images are used.
    small_test = Split(same.images[:20], same.labels[:20])
    assert abs(fd_floor(clf, Dataset("mnist", same, small_test, list("abc")))) < 1e-3


def test_random_shift_moves_each_image_by_at_most_its_bound():
    from training.judge import random_shift
    x = torch.zeros(200, 1, 28, 28)
    x[:, 0, 13, 14] = 1.0                                                   # one lit pixel, far from the edges
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.equal(out.sum((1, 2, 3)), x.sum((1, 2, 3)))   # nothing lost
    where = out[:, 0].flatten(1).argmax(1)
    dy, dx = where // 28 - 13, where % 28 - 14
    assert dy.abs().max() == 2 and dx.abs().max() == 2                       # up to 2 px each way, and all of it
    assert len(set(zip(dy.tolist(), dx.tolist()))) == 25                     # every offset in [-2, 2]^2 occurs
    assert torch.equal(out, random_shift(x, 2, torch.Generator().manual_seed(0)))
    assert random_shift(x, 0, torch.Generator()) is x
