"""A real `kill -9` in the middle of an epoch, then --resume, matches an uninterrupted run with the same seed."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from training import load_model

ROOT = Path(__file__).resolve().parents[1]


def _cmd(idx_folder, out, epochs):
    return [sys.executable, "-m", "training", "train", "--kind", "vae", "--arch", "mlp", "--latent-dim", "3",
            "--data-dir", str(idx_folder), "--epochs", str(epochs), "--batch-size", "2", "--out", str(out),
            "--no-eval", "--device", "cpu"]


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_matches_uninterrupted(tmp_path, idx_folder):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "VAE_EXPLORER_SLOW_BATCH_S": "0.05"}
    straight = tmp_path / "straight"
    subprocess.run(_cmd(idx_folder, straight, 3), cwd=ROOT, env=env, check=True, capture_output=True)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(idx_folder, killed, 3), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "train_state.json"
    deadline = time.time() + 120
    while time.time() < deadline and not (state.exists() and json.loads(state.read_text())["epoch"] >= 1):
        time.sleep(0.02)
    time.sleep(0.3)  # now well inside epoch 2 (15 batches of 50 ms each)
    assert proc.poll() is None, "training finished before it could be killed; the test needs a slower run"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert json.loads(state.read_text())["epoch"] == 1
    load_model(killed)  # the folder is intact after the kill

    subprocess.run(_cmd(idx_folder, killed, 3) + ["--resume"], cwd=ROOT, env=env, check=True, capture_output=True)
    a, b = load_model(straight).state_dict(), load_model(killed).state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-5), k
    history = json.loads((killed / "history.json").read_text())["epochs"]
    assert [h["epoch"] for h in history] == [1, 2, 3]
