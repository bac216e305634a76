import json
from pathlib import Path

import numpy as np
import pytest
import torch

import training.train as train_mod
from training import ModelConfig, TrainConfig, load_model
from training.config import ConfigError
from training.recipes import finish_folder
from training.evaluate import load_latent_map
from training.train import TrainingDiverged, train


def _cfgs(kind="vae", epochs=2, **kw):
    return (ModelConfig(kind=kind, arch="mlp", latent_dim=3, mlp_hidden=32,
                        num_classes=3 if kind == "cvae" else 0),
            TrainConfig(epochs=epochs, batch_size=16, seed=0, device="cpu", **kw))


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_training_lowers_the_loss_and_writes_a_complete_folder(tmp_path, tiny_data, kind):
    mcfg, tcfg = _cfgs(kind, epochs=3, lr=3e-3)
    model = train(mcfg, tcfg, tmp_path / "m", data=tiny_data, progress=False, log=lambda *a: None)
    history = json.loads((tmp_path / "m" / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    metrics = finish_folder(model, tmp_path / "m", tiny_data, k=4, log=lambda *a: None)
    assert 0.0 <= metrics["knn5_accuracy"] <= 1.0
    if kind == "ae":
        assert metrics["iwae_k4"] is None and metrics["neg_elbo"] is None
    else:
        assert metrics["iwae_k4"] <= metrics["neg_elbo"] + 1.0
        assert len(metrics["kl_per_dim"]) == 3
    m = load_latent_map(tmp_path / "m")
    n_test, n_train = len(tiny_data.test), len(tiny_data.train)
    n = n_test + n_train   # an autoencoder's map holds the test images, then the training images
    assert m["mu"].shape == (n, 3) and m["pca"].shape == (n, 2) and m["tsne"].shape == (n, 2)
    assert m["split"].tolist() == [0] * n_test + [1] * n_train
    assert m["labels"].tolist() == tiny_data.test.labels.tolist() + tiny_data.train.labels.tolist()
    assert m["images"].dtype == np.uint8 and m["images"].shape == (n, 28, 28)
    assert np.allclose((m["mu"] - m["pca_mean"]) @ m["pca_components"].T, m["pca"], atol=1e-4)
    assert "Figures" in (tmp_path / "m" / "README.md").read_text()
    assert load_model(tmp_path / "m").class_names == ["a", "b", "c"]


@pytest.mark.parametrize("kind, extra", [("vae", {}), ("vae", {"ema": 0.9}), ("cvae", {"classifier_weight": 5.0})],
                         ids=["plain", "ema", "classifier"])
def test_resume_matches_an_uninterrupted_run(tmp_path, tiny_data, kind, extra):
    quiet = dict(data=tiny_data, progress=False, log=lambda *a: None)
    mcfg, tcfg = _cfgs(kind, epochs=3, **extra)
    straight = train(mcfg, tcfg, tmp_path / "straight", **quiet)

    def kill_after_epoch_1(msg):
        if msg.startswith("epoch 1/"):
            raise KeyboardInterrupt  # as if killed right after epoch 1 was checkpointed

    mcfg, tcfg = _cfgs(kind, epochs=3, **extra)
    with pytest.raises(KeyboardInterrupt):
        train(mcfg, tcfg, tmp_path / "resumed", data=tiny_data, progress=False, log=kill_after_epoch_1)
    resumed = train(mcfg, tcfg, tmp_path / "resumed", resume=True, **quiet)
    for (k, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6), k
    h = json.loads((tmp_path / "resumed" / "history.json").read_text())["epochs"]
    assert [e["epoch"] for e in h] == [1, 2, 3]


def test_ema_saves_the_average_and_keeps_the_trained_weights_for_resume(tmp_path, tiny_data):
    from safetensors.torch import load_file
    mcfg, tcfg = _cfgs("cvae", epochs=2, ema=0.99, class_mmd=10.0)
    model = train(mcfg, tcfg, tmp_path / "m", data=tiny_data, progress=False, log=lambda *a: None)
    saved = load_model(tmp_path / "m").state_dict()
    raw = {k[4:]: v for k, v in load_file(str(tmp_path / "m" / "train_state.safetensors")).items()
           if k.startswith("raw.")}
    assert raw.keys() == saved.keys()
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())   # returned == saved (averaged)
    assert any(not torch.allclose(saved[k].float(), raw[k].float()) for k in saved)   # the average differs


def test_classifier_loss_reaches_the_decoder_only(tiny_data):
    """--classifier-weight: the decoded prior samples' cross-entropy moves the decoder, never the classifier."""
    from training.models import SampleClassifier, create_model
    torch.manual_seed(0)
    model = create_model("cvae", "conv", latent_dim=3, num_classes=3, conv_channels=(4, 8), conv_hidden=16).train()
    classifier = SampleClassifier(3)
    x, y = tiny_data.train.float_images()[:16], tiny_data.train.labels[:16]

    def decoder_grads(weight):
        model.zero_grad(set_to_none=True)
        classifier.zero_grad(set_to_none=True)
        terms = train_mod.loss_terms(model, x, y, 1.0, generator=torch.Generator().manual_seed(3),
                                     classifier=classifier, classifier_weight=weight)
        terms.loss.backward()
        assert all(p.grad is None for p in classifier.parameters())       # the classifier is not trained by it
        assert all(p.requires_grad for p in classifier.parameters())      # and is trainable again afterwards
        return terms, [p.grad.clone() for p in model.decoder.parameters()]

    with_ce, dec_on = decoder_grads(10.0)
    without, dec_off = decoder_grads(1e-9)
    assert with_ce.sample_ce is not None and with_ce.sample_ce.item() > 0
    assert torch.allclose(with_ce.recon, without.recon) and torch.allclose(with_ce.kl, without.kl)
    assert with_ce.loss.item() == pytest.approx((without.loss + 10.0 * with_ce.sample_ce).item(), rel=1e-5)
    assert any(not torch.allclose(a, b) for a, b in zip(dec_on, dec_off))   # the decoder hears it
    # Off, or for a model without classes, nothing changes: no sample term at all.
    assert train_mod.loss_terms(model, x, y, 1.0, classifier=classifier, classifier_weight=0.0).sample_ce is None


def test_classifier_weight_trains_a_classifier_kept_out_of_the_model_folder(tmp_path, tiny_data):
    from safetensors.torch import load_file
    quiet = dict(data=tiny_data, progress=False, log=lambda *a: None)
    mcfg, tcfg = _cfgs("cvae", epochs=4, lr=3e-3, classifier_weight=5.0)
    train(mcfg, tcfg, tmp_path / "with", **quiet)
    mcfg, tcfg = _cfgs("cvae", epochs=1)
    train(mcfg, tcfg, tmp_path / "without", **quiet)
    # The shipped weights are the cvae's alone, the same tensors as without the option.
    assert load_file(str(tmp_path / "with" / "model.safetensors")).keys() == \
        load_file(str(tmp_path / "without" / "model.safetensors")).keys()
    state = load_file(str(tmp_path / "with" / "train_state.safetensors"))
    assert any(k.startswith("classifier.") for k in state) and any(k.startswith("classifier_opt.") for k in state)
    config = json.loads((tmp_path / "with" / "config.json").read_text())
    assert config["train"]["classifier_weight"] == 5.0
    from training.model_card import write_model_card
    write_model_card(tmp_path / "with")
    assert "auxiliary classifier" in (tmp_path / "with" / "README.md").read_text()
    h = json.loads((tmp_path / "with" / "history.json").read_text())["epochs"]
    assert all(np.isfinite(e["train_sample_ce"]) for e in h) and "train_sample_ce" not in \
        json.loads((tmp_path / "without" / "history.json").read_text())["epochs"][0]
    # The classifier learned the classes from the real images (the blobs' rows): all of them, after 4 epochs.
    from training.models import SampleClassifier
    classifier = SampleClassifier(3)
    classifier.load_state_dict({k[len("classifier."):]: v for k, v in state.items() if k.startswith("classifier.")})
    with torch.no_grad():
        predicted = classifier(tiny_data.test.float_images()).argmax(1)
    assert (predicted == tiny_data.test.labels).float().mean() > 0.9
    # Only a cvae decodes with a class: asked for with a vae, it is refused before any data is read.
    mcfg, tcfg = _cfgs("vae", classifier_weight=5.0)
    with pytest.raises(ConfigError, match="needs a cvae"):
        train(mcfg, tcfg, tmp_path / "vae", progress=False, log=lambda *a: None)
    with pytest.raises(ConfigError, match="classifier_weight"):
        TrainConfig(classifier_weight=-1.0).validate()


def test_bf16_autocast_trains_close_to_fp32_and_saves_float32_weights(tmp_path, tiny_data):
    quiet = dict(data=tiny_data, progress=False, log=lambda *a: None)
    mcfg = ModelConfig(kind="cvae", arch="conv", latent_dim=3, num_classes=3, conv_channels=(4, 8), conv_hidden=16)
    fp32 = train(mcfg, TrainConfig(epochs=2, batch_size=16, seed=0, device="cpu"), tmp_path / "fp32", **quiet)
    bf16 = train(mcfg, TrainConfig(epochs=2, batch_size=16, seed=0, device="cpu", precision="bf16"),
                 tmp_path / "bf16", **quiet)
    saved = load_model(tmp_path / "bf16").state_dict()
    assert all(v.dtype == torch.float32 for v in saved.values() if v.is_floating_point())
    a, b = (json.loads((tmp_path / d / "history.json").read_text())["epochs"][-1] for d in ("fp32", "bf16"))
    assert a["train_loss"] != b["train_loss"]                          # the layers did run in bfloat16
    assert abs(a["train_loss"] - b["train_loss"]) < 0.02 * a["train_loss"]
    assert abs(a["test_loss"] - b["test_loss"]) < 0.02 * a["test_loss"]
    # The loss itself is float32 whatever the layers ran in.
    x = tiny_data.train.float_images()[:8]
    y = tiny_data.train.labels[:8]
    loss, recon, kl, _ = train_mod.loss_terms(bf16.train(), x, y, 1.0, precision="bf16")
    assert loss.dtype == recon.dtype == kl.dtype == torch.float32 and torch.isfinite(loss)
    with pytest.raises(ConfigError, match="precision"):
        TrainConfig(precision="fp16").validate()


def test_nan_loss_stops_cleanly_and_keeps_last_good_checkpoint(tmp_path, tiny_data, monkeypatch):
    mcfg, tcfg = _cfgs(epochs=3)
    calls = {"n": 0}
    real = train_mod.recon_nll

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        out = real(*args, **kwargs)
        return out * float("nan") if calls["n"] > 8 else out  # 6 train batches + 1 eval batch = epoch 1

    monkeypatch.setattr(train_mod, "recon_nll", poisoned)
    with pytest.raises(TrainingDiverged, match=r"epoch 2.*last good checkpoint \(epoch 1\)"):
        train(mcfg, tcfg, tmp_path / "m", data=tiny_data, progress=False, log=lambda *a: None)
    assert json.loads((tmp_path / "m" / "train_state.json").read_text())["epoch"] == 1
    load_model(tmp_path / "m")  # still loads


def test_unwritable_output_fails_before_training(tmp_path, tiny_data, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(train_mod, "load_dataset", lambda *a, **k: pytest.fail("data loaded before the check"))
    mcfg, tcfg = _cfgs()
    with pytest.raises(OSError, match="cannot write to output folder"):
        train(mcfg, tcfg, blocker / "out", progress=False, log=lambda *a: None)


def test_resume_without_saved_state_says_so(tmp_path, tiny_data):
    from training import ModelLoadError
    mcfg, tcfg = _cfgs()
    with pytest.raises(ModelLoadError, match="nothing to resume"):
        train(mcfg, tcfg, tmp_path / "fresh", resume=True, data=tiny_data, progress=False, log=lambda *a: None)


def test_beta_schedule_warms_up_or_anneals_down():
    from training.train import beta_at
    up = TrainConfig(beta=1.0, kl_warmup_epochs=4)
    assert [beta_at(up, e) for e in (0, 2, 4, 9)] == [0.0, 0.5, 1.0, 1.0]
    down = TrainConfig(beta=1.0, beta_start=3.0, kl_warmup_epochs=2)
    assert [beta_at(down, e) for e in (0, 1, 2, 5)] == [3.0, 2.0, 1.0, 1.0]
    assert beta_at(TrainConfig(beta=0.5), 0) == 0.5


def test_keep_freed_memory_takes_effect_on_linux_and_changes_no_result():
    import subprocess
    import sys
    code = ("import sys, torch; from training.malloc import keep_freed_memory; "
            "ok = keep_freed_memory() if sys.argv[1] == '1' else None; torch.manual_seed(0); "
            "from training import create_model; m = create_model('vae', latent_dim=4).eval(); "
            "print(ok, m.decode(torch.randn(3000, 4)).sum().item())")   # 3,000 images: above the 32 MB mmap limit
    root = Path(__file__).resolve().parents[1]
    on = subprocess.run([sys.executable, "-c", code, "1"], cwd=root, capture_output=True, text=True, check=True)
    off = subprocess.run([sys.executable, "-c", code, "0"], cwd=root, capture_output=True, text=True, check=True)
    ok, value = on.stdout.split()
    if sys.platform.startswith("linux"):
        assert ok == "True"
    assert value == off.stdout.split()[1]


@pytest.mark.parametrize("native", [True, False])
def test_build_trains_in_bf16_only_where_the_hardware_has_it(tmp_path, idx_folder, monkeypatch, native):
    from training.recipes import build_assets
    monkeypatch.setattr(train_mod, "bf16_is_native", lambda device: native)
    logged = []
    build_assets(tmp_path / "assets", {"mnist": str(idx_folder)}, names=["mnist-ae"], device="cpu",
                 epochs_scale=0.01, log=logged.append)
    config = json.loads((tmp_path / "assets" / "mnist-ae" / "config.json").read_text())
    assert config["train"]["precision"] == ("bf16" if native else "fp32")
    assert any("no native bfloat16" in m for m in logged) is not native
