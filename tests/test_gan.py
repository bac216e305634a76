"""The GAN kinds in the training package: shapes, the model folder (generator only), exact resume, the NaN guard,
evaluation and the latent map through inversion, the model card, and the command line end to end."""
import json
import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import training.evaluate as evaluate_mod
import training.inversion as inversion_mod
from training import ModelConfig, ModelLoadError, TrainConfig, create_model, load_model, save_model
from training.__main__ import main
from training.data import Dataset, Split
from training.evaluate import load_latent_map
from training.recipes import finish_folder
from training.train import TrainingDiverged, train

TINY = dict(arch="conv", latent_dim=3, conv_channels=(4, 8), conv_hidden=16, dense_batch_norm=True,
            disc_channels=(4, 8), disc_hidden=16)
QUIET = dict(progress=False, log=lambda *a: None)


@pytest.fixture
def quick_gan_figures(monkeypatch):
    """Fewer prior samples behind the judge's figures and a shorter inversion of the test images: the same code,
    sized for tiny models."""
    monkeypatch.setattr(evaluate_mod, "GAN_SAMPLES", 300)
    monkeypatch.setattr(inversion_mod, "SPLIT_SETTINGS", {**inversion_mod.SPLIT_SETTINGS, "pool": 256, "steps": 20})


def _cfgs(kind="gan", epochs=2, **train_kw):
    return (ModelConfig(kind=kind, num_classes=3 if kind == "cgan" else 0, **TINY),
            TrainConfig(epochs=epochs, batch_size=16, lr=2e-4, lr_min_ratio=1.0, weight_decay=0.0, seed=0,
                        device="cpu", **train_kw))


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_generator_and_discriminator_shapes(kind):
    torch.manual_seed(0)
    model = create_model(kind, latent_dim=3, num_classes=3 if kind == "cgan" else 0, **{
        k: v for k, v in TINY.items() if k not in ("latent_dim",)}).eval()
    y = torch.tensor([0, 1, 2, 0, 1]) if kind == "cgan" else None
    z = torch.randn(5, 3)
    images = model.decode(z, y)
    assert images.shape == (5, 1, 28, 28) and 0 <= images.min() and images.max() <= 1
    assert model.decode_logits(z, y).shape == (5, 1, 28, 28)
    assert model.sample(4, None if y is None else y[:4]).shape == (4, 1, 28, 28)
    assert not model.has_encoder and model.latent_dim == 3 and model.num_classes == (3 if kind == "cgan" else 0)
    disc = model.discriminator()
    c = model._condition(y, 5, "cpu") if kind == "cgan" else None
    assert disc(images, c).shape == (5,)
    with pytest.raises(TypeError, match="no encoder"):
        model.encode(images, y)
    if kind == "cgan":
        with pytest.raises(ValueError, match="needs class labels"):
            model.decode(z)


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_a_saved_generator_reloads_with_identical_outputs(tmp_path, kind):
    torch.manual_seed(0)
    mcfg, _ = _cfgs(kind)
    model = create_model(**mcfg.to_dict()).eval()
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.kind == kind and not loaded.training and loaded.class_names == model.class_names
    z = torch.randn(6, 3)
    y = torch.arange(6) % 3 if kind == "cgan" else None
    assert torch.equal(model.decode(z, y), loaded.decode(z, y))


def test_training_keeps_the_discriminator_out_of_the_model_folder(tmp_path, tiny_data):
    mcfg, tcfg = _cfgs("cgan", epochs=1, ema=0.9)
    train(mcfg, tcfg, tmp_path / "m", data=tiny_data, **QUIET)
    weights = load_file(str(tmp_path / "m" / "model.safetensors"))
    assert weights and all(k.startswith("decoder.") for k in weights)
    state = load_file(str(tmp_path / "m" / "train_state.safetensors"))
    assert any(k.startswith("disc.") for k in state)                  # the discriminator lives in the resume state
    history = json.loads((tmp_path / "m" / "history.json").read_text())["epochs"]
    assert {"d_loss", "g_loss", "d_real", "d_fake", "lr", "seconds"} <= set(history[0])
    assert set(load_model(tmp_path / "m").state_dict()) == set(weights)


@pytest.mark.parametrize("kind, extra", [("gan", {}), ("cgan", {"ema": 0.9}), ("gan", {"gan_loss": "hinge"})],
                         ids=["gan", "cgan-ema", "hinge"])
def test_resume_matches_an_uninterrupted_run(tmp_path, tiny_data, kind, extra):
    mcfg, tcfg = _cfgs(kind, epochs=2, **extra)
    straight = train(mcfg, tcfg, tmp_path / "straight", data=tiny_data, **QUIET)
    mcfg, tcfg = _cfgs(kind, epochs=1, **extra)
    train(mcfg, tcfg, tmp_path / "resumed", data=tiny_data, **QUIET)
    mcfg, tcfg = _cfgs(kind, epochs=2, **extra)
    resumed = train(mcfg, tcfg, tmp_path / "resumed", data=tiny_data, resume=True, **QUIET)
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), k
    drop = lambda h: [{k: v for k, v in e.items() if k != "seconds"} for e in h]  # noqa: E731
    histories = [json.loads((tmp_path / f / "history.json").read_text())["epochs"] for f in ("straight", "resumed")]
    assert drop(histories[0]) == drop(histories[1]) and [e["epoch"] for e in histories[1]] == [1, 2]
    for name in ("train_state.safetensors",):
        a, b = (load_file(str(tmp_path / f / name)) for f in ("straight", "resumed"))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if not k.startswith("rng."))


def test_nan_in_the_data_stops_the_run_and_keeps_the_last_checkpoint(tmp_path, tiny_data):
    mcfg, tcfg = _cfgs("gan", epochs=1)
    train(mcfg, tcfg, tmp_path / "m", data=tiny_data, **QUIET)
    saved = (tmp_path / "m" / "model.safetensors").read_bytes()
    poisoned = tiny_data.train.images.float()
    poisoned[::2] = float("nan")                    # float images: what a bad converter hands over
    data = Dataset("mnist", Split(poisoned, tiny_data.train.labels), tiny_data.test, tiny_data.class_names,
                   tiny_data.provenance)
    mcfg, tcfg = _cfgs("gan", epochs=2)
    with pytest.raises(TrainingDiverged, match=r"epoch 2.*last good checkpoint \(epoch 1\).*NaN"):
        train(mcfg, tcfg, tmp_path / "m", data=data, resume=True, **QUIET)
    assert json.loads((tmp_path / "m" / "train_state.json").read_text())["epoch"] == 1
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == saved
    load_model(tmp_path / "m")


@pytest.mark.parametrize("missing", [["dense_batch_norm"], ["latent_dim", "conv_channels", "conv_hidden"]])
def test_a_gan_config_without_the_generator_shapes_is_refused_with_the_fix(tmp_path, idx_folder, capsys, missing):
    mcfg, _ = _cfgs("gan")
    save_model(create_model(**mcfg.to_dict()), tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    for key in missing:
        del config["model"][key]
    path.write_text(json.dumps(config))
    with pytest.raises(ModelLoadError) as err:
        load_model(tmp_path / "m")
    assert all(key in str(err.value) for key in missing) and "Copy config.json" in str(err.value)
    assert main(["evaluate", str(tmp_path / "m"), "--data-dir", str(idx_folder)]) == 4
    out = capsys.readouterr().err
    assert out.startswith("error:") and missing[0] in out and "Traceback" not in out


def test_resuming_a_folder_of_another_kind_is_refused_on_the_command_line(tmp_path, idx_folder, capsys):
    common = ["--data-dir", str(idx_folder), "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--no-eval"]
    vae = tmp_path / "vae"
    assert main(["train", "--kind", "vae", "--arch", "mlp", "--latent-dim", "2", "--out", str(vae), *common]) == 0
    capsys.readouterr()
    assert main(["train", "--kind", "gan", "--out", str(vae), "--resume", *common]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "training state of a vae run" in err and "--kind vae" in err
    assert "Traceback" not in err
    # A folder whose config says gan but whose resume state is an autoencoder's: gan.py refuses it.
    gan = tmp_path / "gan"
    assert main(["train", "--kind", "gan", "--out", str(gan), *common]) == 0
    for name in ("train_state.safetensors", "train_state.json"):
        (gan / name).write_bytes((vae / name).read_bytes())
    capsys.readouterr()
    assert main(["train", "--out", str(gan), "--resume", *common[:-1]]) == 4    # --kind taken from the folder
    err = capsys.readouterr().err
    assert err.startswith("error:") and "no discriminator" in err and "Traceback" not in err


def test_the_command_line_gives_a_gan_its_own_defaults(tmp_path, idx_folder, capsys):
    common = ["--data-dir", str(idx_folder), "--batch-size", "8", "--device", "cpu", "--no-eval"]
    out = tmp_path / "m"
    assert main(["train", "--kind", "gan", "--epochs", "1", "--out", str(out), *common]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["lr"] == 2e-4 and config["train"]["lr_min_ratio"] == 1.0
    assert config["train"]["weight_decay"] == 0.0 and config["train"]["gan_loss"] == "ns"
    assert config["model"]["kind"] == "gan" and config["model"]["dense_batch_norm"] is True
    # resumed without --kind: the folder's kind and settings go on
    assert main(["train", "--epochs", "2", "--out", str(out), "--resume", *common]) == 0
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 2
    # set explicitly, they win; an autoencoder keeps its own defaults
    assert main(["train", "--kind", "gan", "--epochs", "1", "--lr", "1e-3", "--lr-min-ratio", "0.5", "--gan-loss",
                 "hinge", "--out", str(tmp_path / "h"), *common]) == 0
    config = json.loads((tmp_path / "h" / "config.json").read_text())
    assert (config["train"]["lr"], config["train"]["lr_min_ratio"], config["train"]["gan_loss"]) == (1e-3, 0.5, "hinge")
    assert main(["train", "--kind", "vae", "--arch", "mlp", "--epochs", "1", "--out", str(tmp_path / "v"),
                 *common]) == 0
    config = json.loads((tmp_path / "v" / "config.json").read_text())
    assert (config["train"]["lr"], config["train"]["weight_decay"]) == (TrainConfig.lr, TrainConfig.weight_decay)
    capsys.readouterr()
    assert main(["train", "--kind", "gan", "--weight-decay", "0.1", "--out", str(tmp_path / "x"), *common]) == 2
    assert "no weight decay" in capsys.readouterr().err
    assert main(["train", "--kind", "vae", "--gan-loss", "hinge", "--out", str(tmp_path / "x"), *common]) == 2
    assert "GAN setting" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["gan", "cgan"])
def test_finish_folder_evaluates_and_maps_a_gan_through_one_inversion(tmp_path, tiny_data, monkeypatch, kind,
                                                                      quick_gan_figures):
    mcfg, tcfg = _cfgs(kind, epochs=1)
    model = train(mcfg, tcfg, tmp_path / "m", data=tiny_data, **QUIET)
    calls = []
    real = inversion_mod.invert_split
    monkeypatch.setattr(inversion_mod, "invert_split", lambda *a, **k: calls.append(1) or real(*a, **k))
    metrics = finish_folder(model, tmp_path / "m", tiny_data, tsne=False, umap=False, log=lambda *a: None)
    assert len(calls) == 1                                            # one inversion serves the figures and the map
    m = load_latent_map(tmp_path / "m")
    n = len(tiny_data.test)
    assert m["mu"].shape == (n, 3) and m["inversion_bce"].shape == (n,) and m["images"].shape == (n, 28, 28)
    assert np.allclose((m["mu"] - m["pca_mean"]) @ m["pca_components"].T, m["pca"], atol=1e-4)
    assert metrics["recon"] == pytest.approx(float(m["inversion_bce"].astype(np.float64).mean()), rel=1e-5)
    with torch.no_grad():   # the stored codes decode to the stored errors
        y = torch.from_numpy(m["labels"]) if kind == "cgan" else None
        logits = model.decode_logits(torch.from_numpy(m["mu"]), y)
        x = tiny_data.test.float_images()
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)
    assert np.allclose(bce.numpy(), m["inversion_bce"], atol=1e-2)
    for key in ("neg_elbo", "kl", "iwae_k64", "active_units", "kl_per_dim"):
        assert metrics[key] is None, key
    assert metrics["fd"] > 0 and metrics["fd_floor"] >= 0 and metrics["fd_samples"] == 300
    hist = metrics["class_histogram"]
    assert len(hist) == 3 and sum(hist) == pytest.approx(1.0)
    assert metrics["mode_coverage_min"] == min(hist) and metrics["mode_coverage_max"] == max(hist)
    assert 0 <= metrics["knn5_accuracy"] <= 1 and metrics["knn_fit_on"] == "inverted test codes (leave-one-out)"
    assert "inversion" in metrics["recon_via"] and metrics["inversion"]["seconds"] >= 0
    assert ("sample_accuracy" in metrics) == (kind == "cgan")
    if kind == "cgan":
        assert 0 <= metrics["sample_accuracy"] <= 1 and len(metrics["sample_accuracy_per_class"]) == 3
    card = (tmp_path / "m" / "README.md").read_text()
    assert "generator only" in card and "GAN inversion" in card and "| D loss | G loss | D(x) | D(G(z)) |" in card
    assert "Fréchet distance" in card and "FD floor" in card and "-ELBO" not in card
    assert ("samples labelled as their class" in card) == (kind == "cgan")
    assert (tmp_path / "m" / "decoder.onnx").is_file()
    json.loads((tmp_path / "m" / "metrics.json").read_text())      # strict JSON: no NaN


def test_the_command_line_trains_evaluates_and_maps_a_gan(tmp_path, idx_folder, capsys, quick_gan_figures):
    out = tmp_path / "gan"
    assert main(["train", "--kind", "gan", "--data-dir", str(idx_folder), "--epochs", "1", "--batch-size", "8",
                 "--latent-dim", "4", "--no-tsne", "--no-umap", "--device", "cpu", "--out", str(out)]) == 0
    assert {"config.json", "model.safetensors", "history.json", "metrics.json", "latent_map.npz", "README.md",
            "decoder.onnx"} <= set(os.listdir(out))
    first = json.loads((out / "metrics.json").read_text())
    (out / "latent_map.npz").unlink()
    capsys.readouterr()
    assert main(["evaluate", str(out), "--map", "--no-tsne", "--no-umap", "--data-dir", str(idx_folder)]) == 0
    printed = json.loads(capsys.readouterr().out)                   # stdout is the JSON alone
    assert printed == json.loads((out / "metrics.json").read_text())
    assert printed["recon"] == pytest.approx(first["recon"]) and printed["fd"] == pytest.approx(first["fd"])
    assert load_latent_map(out)["mu"].shape == (12, 4)
    assert main(["evaluate", str(out), "--data-dir", str(idx_folder)]) == 0
    assert json.loads(capsys.readouterr().out)["knn5_accuracy"] == pytest.approx(first["knn5_accuracy"])
