import json
import os
import pickle

import pytest
import torch
from safetensors.torch import save_file

from training import ModelLoadError, create_model, load_model, save_model
from training import checkpoint as ckpt


@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_save_then_load_gives_identical_tensors_and_outputs(tmp_path, kind):
    torch.manual_seed(0)
    model = create_model(kind, "conv", latent_dim=4, num_classes=3 if kind == "cvae" else 0,
                         class_names=["x", "y", "z"])
    save_model(model, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert not loaded.training
    assert loaded.kind == kind and loaded.latent_dim == 4 and loaded.class_names == ["x", "y", "z"]
    for (k1, v1), (k2, v2) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2)
    model.eval()
    z = torch.randn(5, 4)
    y = torch.tensor([0, 1, 2, 0, 1]) if kind == "cvae" else None
    assert torch.equal(model.decode(z, y), loaded.decode(z, y))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model"]["kind"] == kind and config["model"]["image_shape"] == [1, 28, 28]


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(ModelLoadError, match="no such model folder"):
        load_model(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json is missing"):
        load_model(tmp_path / "empty")


def test_truncated_safetensors_is_refused(tmp_path):
    save_model(create_model("vae", "mlp", latent_dim=2), tmp_path / "m")
    w = tmp_path / "m" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:1000])
    with pytest.raises(ModelLoadError, match="not a readable safetensors"):
        load_model(tmp_path / "m")


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))  # creating this file proves the pickle ran


def test_pickled_checkpoint_never_runs(tmp_path):
    folder = tmp_path / "m"
    save_model(create_model("vae", "mlp", latent_dim=2), folder)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(str(marker)))
    # 1) a pickle renamed as model.safetensors
    (folder / "model.safetensors").write_bytes(payload)
    with pytest.raises(ModelLoadError, match="safetensors"):
        load_model(folder)
    # 2) a pickle beside the config, with no safetensors at all
    (folder / "model.safetensors").unlink()
    (folder / "model.pt").write_bytes(payload)
    with pytest.raises(ModelLoadError, match="pickled checkpoints are never loaded"):
        load_model(folder)
    assert not marker.exists()


def test_config_that_does_not_match_weights(tmp_path):
    save_model(create_model("vae", "conv", latent_dim=8), tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["model"]["latent_dim"] = 6
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="does not match"):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["model"].update(latent_dim=10**6), "latent_dim"),
    (lambda c: c["model"].update(sneaky=True), "unknown key"),
    (lambda c: c.pop("model"), "no 'model' section"),
])
def test_bad_configs_are_refused(tmp_path, edit, match):
    save_model(create_model("vae", "mlp", latent_dim=2), tmp_path / "m")
    cfg_path = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    edit(cfg)
    cfg_path.write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match=match):
        load_model(tmp_path / "m")


def test_invalid_json_config(tmp_path):
    save_model(create_model("vae", "mlp", latent_dim=2), tmp_path / "m")
    (tmp_path / "m" / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(tmp_path / "m")


def test_atomic_write_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.json"
    ckpt.write_json(target, {"v": 1})

    def failing(tmp):
        with open(tmp, "w") as f:
            f.write('{"v": 2, "half')
        raise KeyboardInterrupt  # as if killed mid-write

    with pytest.raises(KeyboardInterrupt):
        ckpt._atomic_write(target, failing)
    assert json.loads(target.read_text()) == {"v": 1}
    assert sorted(os.listdir(tmp_path)) == ["f.json"]  # no temp file left behind


def test_unwritable_output_folder_is_reported(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ckpt.OutputError, match="cannot write to output folder"):
        save_model(create_model("vae", "mlp", latent_dim=2), blocker / "model")


def test_half_precision_save_loads_as_float32(tmp_path):
    torch.manual_seed(0)
    model = create_model("vae", "conv", latent_dim=4)
    save_model(model, tmp_path / "m", train={"epochs": 3}, data={"dataset": "x"})
    full = (tmp_path / "m" / "model.safetensors").stat().st_size
    save_model(model, tmp_path / "m", half=True)
    assert (tmp_path / "m" / "model.safetensors").stat().st_size < 0.6 * full
    loaded = load_model(tmp_path / "m")
    assert all(v.dtype == model.state_dict()[k].dtype for k, v in loaded.state_dict().items())
    z = torch.randn(3, 4)
    assert torch.allclose(loaded.decode(z), model.eval().decode(z), atol=1e-2)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["train"] == {"epochs": 3} and cfg["data"] == {"dataset": "x"}  # kept from the earlier save


def test_written_files_get_ordinary_permissions(tmp_path):
    save_model(create_model("vae", "mlp", latent_dim=2), tmp_path / "m")
    umask = os.umask(0)
    os.umask(umask)
    for name in ("config.json", "model.safetensors"):
        assert (tmp_path / "m" / name).stat().st_mode & 0o777 == 0o666 & ~umask


def test_full_disk_is_reported_before_training(tmp_path, monkeypatch):
    import errno
    real_write = os.write

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ckpt.OutputError, match="No space left on device.*free some disk space"):
        ckpt.ensure_writable(tmp_path / "out")
    monkeypatch.setattr(os, "write", real_write)
    assert not [p for p in (tmp_path / "out").iterdir()]  # the probe file was cleaned up
