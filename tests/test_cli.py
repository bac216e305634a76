"""The command line: a tiny end-to-end run, and clear errors with distinct exit codes for bad input."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from training import create_model, save_model
from training.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_train_evaluate_and_resume_through_the_cli(tmp_path, idx_folder, capsys):
    out = tmp_path / "m"
    args = ["train", "--kind", "cvae", "--arch", "mlp", "--latent-dim", "2", "--data-dir", str(idx_folder),
            "--epochs", "1", "--batch-size", "8", "--out", str(out), "-k", "2", "--no-tsne", "--device", "cpu"]
    assert main(args) == 0
    assert {"config.json", "model.safetensors", "history.json", "metrics.json", "latent_map.npz",
            "README.md"} <= set(os.listdir(out))
    assert main(args[:args.index("--epochs") + 1] + ["2"] + args[args.index("--epochs") + 2:] + ["--resume"]) == 0
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 2
    capsys.readouterr()
    assert main(["evaluate", str(out), "-k", "2", "--data-dir", str(idx_folder)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["iwae_k2"] > 0 and printed == json.loads((out / "metrics.json").read_text())
    # evaluate reports how far to trust the map's stored 2-D view (PCA here: --no-tsne, no umap-learn needed)
    assert 0 < printed["map_trustworthiness_pca"] <= 1 and 0 <= printed["map_knn5_pca"] <= 1


def test_train_cli_passes_the_ema_mmd_classifier_pixel_bias_and_precision_settings(tmp_path, idx_folder):
    out = tmp_path / "m"
    assert main(["train", "--kind", "cvae", "--latent-dim", "2", "--data-dir", str(idx_folder), "--epochs", "1",
                 "--batch-size", "8", "--out", str(out), "--no-eval", "--device", "cpu", "--pixel-bias",
                 "--ema", "0.9", "--class-mmd", "5", "--classifier-weight", "2", "--precision", "bf16"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["pixel_bias"] is True and config["model"]["arch"] == "conv"
    assert config["train"]["ema"] == 0.9 and config["train"]["class_mmd"] == 5.0
    assert config["train"]["precision"] == "bf16" and config["train"]["classifier_weight"] == 2.0
    assert main(["train", "--data-dir", str(idx_folder), "--out", str(tmp_path / "bad"), "--ema", "1.5"]) == 2
    # a vae has no class to be recognised as: refused with a config error, before any data is read
    assert main(["train", "--kind", "vae", "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "bad"),
                 "--classifier-weight", "5"]) == 2


def test_missing_data_exit_code_and_nothing_written(tmp_path, capsys):
    out = tmp_path / "m"
    code = main(["train", "--data-dir", str(tmp_path / "missing"), "--out", str(out)])
    assert code == 3
    assert "missing" in capsys.readouterr().err
    assert not any(out.glob("*"))  # nothing half-written


def test_unwritable_output_exit_code(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    # the output folder is checked first, before the (here missing) data is even looked for
    assert main(["train", "--data-dir", str(tmp_path / "no-data"), "--out", str(tmp_path / "f" / "m")]) == 5
    assert "cannot write to output folder" in capsys.readouterr().err


def test_corrupt_checkpoint_exit_code(tmp_path, idx_folder, capsys):
    save_model(create_model("vae", "mlp", latent_dim=2), tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_bytes(b"\x80\x04garbage")
    assert main(["evaluate", str(tmp_path / "m"), "--data-dir", str(idx_folder)]) == 4
    err = capsys.readouterr().err
    assert err.startswith("error:") and "Traceback" not in err


def test_wrong_image_size_in_user_folder_exit_code(tmp_path, capsys):
    from PIL import Image
    for c in ("a", "b"):
        (tmp_path / "imgs" / c).mkdir(parents=True)
        Image.new("L", (64, 64)).save(tmp_path / "imgs" / c / "x.png")
    assert main(["train", "--dataset", "folder", "--data-dir", str(tmp_path / "imgs"),
                 "--out", str(tmp_path / "m")]) == 3
    assert "--resize" in capsys.readouterr().err


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "training", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0 and "build-assets" in r.stdout
