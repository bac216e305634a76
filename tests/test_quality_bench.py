"""The measures of benchmarks/quality.py: Fréchet distance, sample accuracy, and the classifier cache."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from benchmarks.classifier import SmallCNN, classify, load_or_train
from benchmarks.quality import (blurred_accuracy, frechet_distance, frechet_from_stats, prior_sample_features,
                                reconstruction_accuracy, sample_accuracy)
from training.data import Split
from training import create_model


def test_frechet_identical_sets_is_zero():
    a = np.random.default_rng(0).normal(size=(500, 8))
    assert abs(frechet_distance(a, a)) < 1e-6


def test_frechet_mean_shift_is_squared_shift():
    # Same covariance (b is a shifted copy of a): the distance is exactly ||shift||^2.
    a = np.random.default_rng(0).normal(size=(400, 6))
    shift = np.array([1.0, -2.0, 0.5, 0.0, 0.0, 3.0])
    assert frechet_distance(a, a + shift) == pytest.approx(float(shift @ shift), abs=1e-6)


def test_frechet_independent_gaussians_close_to_theory():
    rng = np.random.default_rng(1)
    d, n = 4, 20_000
    a = rng.normal(size=(n, d))
    b = rng.normal(size=(n, d)) * 2.0 + 1.0
    # N(0, I) vs N(1, 4I): d * 1^2 + d * (1 + 4 - 2 * 2) = 2d
    assert frechet_distance(a, b) == pytest.approx(2 * d, rel=0.05)
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(frechet_distance(a, b))


def test_frechet_from_stats_formula_and_singular_covariances():
    mu = np.zeros(3)
    s1, s2 = np.diag([1.0, 4.0, 0.0]), np.diag([4.0, 1.0, 0.0])  # singular: a unit that never varies
    # per dimension (sqrt(a) - sqrt(b))^2: (1-2)^2 + (2-1)^2 + 0
    assert frechet_from_stats(mu, s1, mu + 1, s2) == pytest.approx(3.0 + 2.0, abs=1e-4)
    assert frechet_from_stats(mu, s1, mu, s1) == pytest.approx(0.0, abs=1e-4)


class Oracle(nn.Module):
    """A stand-in classifier: features = image mean and max; class = the brightest of the first C rows."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.num_classes = num_classes
        self.head = lambda f: f[:, 2:]

    def features(self, x):
        rows = x[:, 0, :self.num_classes, :].mean(2)                            # (B, C)
        return torch.cat([x.flatten(1).mean(1, keepdim=True), x.flatten(1).amax(1, keepdim=True), rows], 1)


class RowDecoderCVAE(nn.Module):
    """Wraps a real cvae but makes decode light up row y, so the right answer is known."""

    def __init__(self, model):
        super().__init__()
        self.inner = model

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def sample(self, n, y=None, *, generator=None):
        x = torch.zeros(n, 1, 28, 28)
        x[torch.arange(n), 0, y] = 1.0
        x[:n // 5, 0, :, :] = 0.0                                               # a fifth of the batch is blank
        x[:n // 5, 0, (y[:n // 5] + 1) % self.inner.num_classes] = 1.0         # ... and shows the wrong class
        return x


def test_sample_accuracy_known_answer():
    torch.manual_seed(0)
    model = RowDecoderCVAE(create_model("cvae", "mlp", latent_dim=2, num_classes=3, mlp_hidden=8))
    out = sample_accuracy(model, Oracle(3), n_per_class=10, batch_size=10)
    # Each batch of 10 holds one class; its first 2 (n // 5) samples are wrong.
    assert out["per_class"] == pytest.approx([0.8, 0.8, 0.8])
    assert out["overall"] == pytest.approx(0.8)
    assert out["features"].shape == (30, 5) and out["features"].dtype == torch.float64


def test_sample_accuracy_real_tiny_model_is_seeded_and_shaped():
    torch.manual_seed(0)
    model = create_model("cvae", "mlp", latent_dim=3, num_classes=4, mlp_hidden=16).eval()
    clf = SmallCNN(num_classes=4).eval()
    a = sample_accuracy(model, clf, n_per_class=6, seed=3, batch_size=5)
    b = sample_accuracy(model, clf, n_per_class=6, seed=3, batch_size=5)
    assert len(a["per_class"]) == 4 and 0.0 <= a["overall"] <= 1.0
    assert a["overall"] == pytest.approx(np.mean(a["per_class"]))
    assert torch.equal(a["features"], b["features"])
    assert a["features"].shape == (24, 128)


def test_sample_accuracy_refuses_unconditional_model():
    model = create_model("vae", "mlp", latent_dim=2, mlp_hidden=8)
    with pytest.raises(ValueError, match="cvae"):
        sample_accuracy(model, SmallCNN(10), n_per_class=2)


def test_prior_sample_features_unconditional():
    torch.manual_seed(0)
    model = create_model("ae", "conv", latent_dim=2, conv_channels=(2, 4), conv_hidden=8)
    preds, feats = prior_sample_features(model, SmallCNN(10), 7, batch_size=3)
    assert preds.shape == (7,) and feats.shape == (7, 128)


def test_classifier_cache_roundtrip(tmp_path):
    from training.data import Split

    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8, generator=g), torch.arange(40) % 3)
    path = tmp_path / "clf.safetensors"
    logs = []
    a = load_or_train(path, split, 3, epochs=1, log=logs.append)
    assert path.is_file() and any("training" in s for s in logs)
    logs.clear()
    b = load_or_train(path, split, 3, epochs=1, log=logs.append)
    assert not logs  # loaded from the cache, not retrained
    x = split.float_images()
    assert torch.equal(classify(a, x)[1], classify(b, x)[1])
    load_or_train(path, split, 3, epochs=2, log=logs.append)  # other settings: retrained
    assert any("other settings" in s for s in logs)


class RowReconCVAE(RowDecoderCVAE):
    """reconstruct lights up row y, except for images whose first pixel is set: those show row y + 1."""

    def reconstruct(self, x, y):
        out = torch.zeros_like(x)
        rows = torch.where(x[:, 0, 0, 0] > 0.5, (y + 1) % self.inner.num_classes, y)
        out[torch.arange(len(x)), 0, rows] = 1.0
        return out


def test_reconstruction_accuracy_known_answer():
    model = RowReconCVAE(create_model("cvae", "mlp", latent_dim=2, num_classes=3, mlp_hidden=8))
    images = torch.zeros(7, 28, 28, dtype=torch.uint8)
    labels = torch.tensor([0, 0, 1, 1, 1, 2, 2])
    images[[1, 2], 0, 0] = 255                                                 # one 0 and one 1 go wrong
    out = reconstruction_accuracy(model, Oracle(3), Split(images, labels), batch_size=3)
    assert out["per_class"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert out["overall"] == pytest.approx(5 / 7)


def test_reconstruction_accuracy_refuses_unconditional_model():
    model = create_model("vae", "mlp", latent_dim=2, mlp_hidden=8)
    split = Split(torch.zeros(2, 28, 28, dtype=torch.uint8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="cvae"):
        reconstruction_accuracy(model, Oracle(2), split)


class PeakOracle(nn.Module):
    """Class 1 when some pixel is at least 0.9 bright, else class 0: a judge that wants sharp strokes."""

    def __init__(self):
        super().__init__()
        self.head = lambda f: f

    def features(self, x):
        peak = x.flatten(1).amax(1, keepdim=True)
        return torch.cat([0.9 - peak, peak - 0.9], 1)


def test_blurred_accuracy_sharp_strokes_lose_to_blur():
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:4, 14, 10:18] = 255                                                # a one-pixel line: class 1
    labels = torch.tensor([1, 1, 1, 1, 0, 0])
    split = Split(images, labels)
    sharp = blurred_accuracy(PeakOracle(), split, 0, num_classes=3, batch_size=4)
    assert sharp["overall"] == 1.0 and sharp["per_class"] == [1.0, 1.0, None]
    blurred = blurred_accuracy(PeakOracle(), split, 1.0, num_classes=3, batch_size=4)
    assert blurred["per_class"][1] == 0.0 and blurred["per_class"][0] == 1.0  # the line's peak falls below 0.9
    assert blurred["overall"] == pytest.approx(2 / 6)


def _dataset_result(sample_acc: float) -> dict:
    from benchmarks.quality import _row
    return {"test_images": 10000, "train_images": 60000, "classifier": {"test_accuracy": 0.9178},
            "baseline": {"iwae": 239.76, "fd": 131.37},
            "models": {"cvae": {"folder": "x", "arch": "conv",
                                "sample_accuracy_per_class": {"T-shirt/top": 0.97, "Sandal": 0.84}}},
            "rows": [_row("classifier test accuracy", 0.9178),
                     _row("conv vae: IWAE(k=64)", 233.62, "<= 234", True),
                     _row("conv cvae: samples labelled as their class", sample_acc, ">= 0.90", sample_acc >= 0.9,
                          "{:.4f}"),
                     _row("conv cvae:   worst class (Sandal)", 0.84, "informative", None, "{:.4f}")]}


def test_model_card_section_is_written_once_and_replaced_by_the_next_run(tmp_path):
    from benchmarks.quality import CARD_BEGIN, CARD_END, card_section, update_card
    card = tmp_path / "README.md"
    card.write_text("# fashion-mnist-cvae\n\n## Figures\n\nstuff\n")
    first = card_section(_dataset_result(0.8352), "cvae", "python benchmarks/quality.py")
    assert "| samples labelled as their class | 0.8352 | >= 0.90 | FAIL |" in first
    assert "| worst class (Sandal) | 0.8400 | informative |  |" in first
    assert "IWAE" not in first.split("| figure")[1]                   # only this model's rows, not the vae's
    assert "Sandal 0.840" in first and "0.9178" in first
    assert update_card(tmp_path, first)
    assert update_card(tmp_path, card_section(_dataset_result(0.9712), "cvae", "python benchmarks/quality.py"))
    text = card.read_text()
    assert text.startswith("# fashion-mnist-cvae\n\n## Figures\n\nstuff\n")          # the card itself is kept
    assert text.count(CARD_BEGIN) == 1 and text.count(CARD_END) == 1             # replaced, not appended twice
    assert "0.9712" in text and "PASS" in text and "0.8352" not in text
    assert not update_card(tmp_path / "no-such-folder", first)                    # no card: nothing written


def test_update_cards_refuses_quick_settings(capsys):
    from benchmarks.quality import main
    with pytest.raises(SystemExit) as e:
        main(["--quick", "--update-cards"])
    assert e.value.code == 2 and "--update-cards" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# Two judges side by side, and the GAN rows, on synthetic data and tiny untrained models made here.

def test_two_judge_row_says_where_the_judges_disagree():
    from benchmarks.quality import _jrow, _row, format_table
    agree = _jrow("conv gan: FD / conv VAE's FD", {"smallcnn": 0.21, "widecnn": 0.25}, "<= 0.3",
                  {"smallcnn": True, "widecnn": True}, "{:.3f}")
    differ = _jrow("conv gan: largest class share of prior samples", {"smallcnn": 0.131, "widecnn": 0.152}, "<= 0.14",
                   {"smallcnn": True, "widecnn": False}, "{:.3f}")
    plain = _row("conv gan: reconstruction BCE through inversion", 101.5, "conv VAE's 77.18")
    assert agree["verdict"] == "PASS" and agree["disagree"] == [] and agree["texts"]["widecnn"] == "0.250"
    assert differ["verdict"] == "PASS" and differ["disagree"] == ["widecnn"]
    table = format_table("mnist", [agree, differ, plain]).splitlines()
    assert "smallcnn" in table[2] and "widecnn" in table[2] and "judges" in table[2]
    line = next(s for s in table if "largest class share" in s)
    assert "0.131" in line and "0.152" in line and line.rstrip().endswith("disagree: widecnn FAIL")
    assert not next(s for s in table if "FD / conv VAE" in s).rstrip().endswith("FAIL")
    assert "101.50" in next(s for s in table if "inversion" in s)


@pytest.fixture
def synthetic_mnist(tmp_path):
    """An IDX folder in MNIST's format: 10 classes of bright bars at class-dependent rows, 200 / 100 images."""
    from conftest import write_idx
    folder = tmp_path / "idx"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 100)):
        labels = np.arange(n) % 10
        images = rng.integers(0, 30, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 + 2 * c:4 + 2 * c, 6:22] = 255
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def _model_folder(folder, kind, metrics, **kw):
    from training import save_model
    from training.checkpoint import write_json
    torch.manual_seed(0)
    model = create_model(kind, "conv", latent_dim=4, class_names=[str(i) for i in range(10)], conv_channels=(4, 8),
                         conv_hidden=16, **kw)
    save_model(model, folder, train={"epochs": 3}, data={"train_images": 200})
    write_json(folder / "history.json", {"epochs": [{"epoch": e} for e in range(1, 4)]})
    write_json(folder / "metrics.json", metrics)
    (folder / "README.md").write_text(f"# {folder.name}\n")
    return model


def test_quick_run_judges_a_gan_under_both_judges(synthetic_mnist, tmp_path, capsys):
    from benchmarks.quality import CARD_BEGIN, card_section, main, update_card
    from training.checkpoint import read_json
    assets = tmp_path / "assets"
    _model_folder(assets / "mnist-vae", "vae",
                  {"recon": 150.25, "neg_elbo": 180.0, "iwae_k4": 178.0, "knn5_accuracy": 0.5, "n_test": 100})
    _model_folder(assets / "mnist-gan", "gan", {"recon": 201.5, "fd": 12.34, "n_test": 100}, dense_batch_norm=True)
    _model_folder(assets / "mnist-cgan", "cgan", {"recon": 199.0, "n_test": 100}, dense_batch_norm=True)
    out = tmp_path / "quality.json"
    assert main(["--quick", "--datasets", "mnist", "--mnist-dir", str(synthetic_mnist), "--assets", str(assets),
                 "--cache", str(tmp_path / "bcache"), "--json", str(out), "--threads", "1"]) == 0
    text = capsys.readouterr().out
    res = read_json(out)["datasets"]["mnist"]
    assert res["judge_names"] == ["smallcnn", "widecnn"] and set(res["judges"]) == {"smallcnn", "widecnn"}
    assert len(list((tmp_path / "bcache" / "quick" / "judges").glob("mnist-widecnn-*.safetensors"))) == 1

    vae, gan, cgan = (res["models"][k] for k in ("vae", "gan", "cgan"))
    assert res["models"]["ae"] is None and res["models"]["cvae"] is None       # no folders: a row says so
    for j in ("smallcnn", "widecnn"):
        g = gan["judges"][j]
        assert g["fd"] > 0 and g["fd_ratio_to_vae"] == pytest.approx(g["fd"] / vae["judges"][j]["fd"])
        assert g["fd_ratio_to_baseline"] == pytest.approx(g["fd"] / res["baseline"]["fd_by_judge"][j])
        assert g["fd_floor"] == res["judges"][j]["fd_train_vs_test"]
        shares = list(g["class_share"].values())
        assert len(shares) == 10 and sum(shares) == pytest.approx(1.0)
        assert g["class_share_min"] == min(shares) and g["class_share_max"] == max(shares)
        assert 0.0 <= cgan["judges"][j]["sample_accuracy"]["overall"] <= 1.0
    assert gan["judges"]["smallcnn"]["fd"] != gan["judges"]["widecnn"]["fd"]   # two judges, two feature spaces
    assert gan["recon"] == 201.5 and gan["vae_recon"] == 150.25 and gan["metrics_source"] == "metrics.json"
    assert gan["metrics_json_fd"] == 12.34 and gan["fd"] == gan["judges"]["smallcnn"]["fd"]

    rows = {r["name"]: r for r in res["rows"]}
    ratio = rows["conv gan: FD / conv VAE's FD"]
    assert ratio["target"] == "<= 0.3" and set(ratio["values"]) == {"smallcnn", "widecnn"}
    assert ratio["verdict"] == ("PASS" if ratio["values"]["smallcnn"] <= 0.3 else "FAIL")
    lo = rows["conv gan: smallest class share of prior samples"]
    assert lo["verdict"] == ("PASS" if gan["judges"]["smallcnn"]["class_share_min"] >= 0.06 else "FAIL")
    assert rows["conv gan: reconstruction BCE through inversion"]["target"] == "conv VAE's 150.25"
    assert "conv cgan: samples labelled as their class" in rows
    for name in ("conv gan: FD (prior samples, 500)", "conv gan:   FD floor (real train vs test)",
                 "conv cgan: FD / conv VAE's FD", "conv vae: FD (prior samples)"):
        assert name in rows and set(rows[name]["texts"]) == {"smallcnn", "widecnn"}
    assert "conv gan: smallest class share of prior samples" in text and "widecnn" in text
    assert "gan prior samples per class as widecnn labels them" in text

    # The model card of the GAN gets the GAN's rows, both judges' columns, and its class shares.
    section = card_section(res, "gan", "python benchmarks/quality.py")
    assert "| figure | smallcnn | widecnn | target | verdict |" in section
    assert "| FD / conv VAE's FD |" in section and "| reconstruction BCE through inversion | 201.50 |" in section
    assert "cgan" not in section.split("| figure")[1] and "IWAE" not in section.split("| figure")[1]
    assert "Prior samples per class as widecnn labels them" in section
    assert update_card(assets / "mnist-gan", section)
    assert (assets / "mnist-gan" / "README.md").read_text().count(CARD_BEGIN) == 1


def test_gan_without_recon_for_this_test_set_is_inverted(synthetic_mnist, tmp_path, monkeypatch):
    import benchmarks.quality as bq
    from training.checkpoint import read_json
    assets = tmp_path / "assets"
    _model_folder(assets / "mnist-gan", "gan", {"recon": 201.5, "n_test": 10000}, dense_batch_norm=True)
    calls = []
    monkeypatch.setattr(bq, "inversion_recon", lambda model, split, log=print: calls.append(len(split)) or 88.5)
    monkeypatch.setattr(bq, "KINDS", ("gan",))
    out = tmp_path / "quality.json"
    bq.main(["--quick", "--datasets", "mnist", "--mnist-dir", str(synthetic_mnist), "--assets", str(assets),
             "--cache", str(tmp_path / "bcache"), "--json", str(out), "--threads", "1"])
    gan = read_json(out)["datasets"]["mnist"]["models"]["gan"]
    assert calls == [100] and gan["recon"] == 88.5 and gan["metrics_source"] == "re-evaluated"
    assert gan["fd_ratio_to_vae"] is None and gan["vae_recon"] is None      # no VAE folder: n/a, not a crash
