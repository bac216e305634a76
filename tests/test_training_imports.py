"""The training package's import surface: the torch-free modules stay torch-free, and the lazy names all resolve."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code: str) -> subprocess.CompletedProcess:
    """A fresh interpreter: sys.modules shows what an import really pulls in, unlike this test process's."""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_figures_and_config_import_no_torch():
    r = _run("import sys, training.figures, training.config; assert 'torch' not in sys.modules, 'torch imported'")
    assert r.returncode == 0, r.stderr
    # The package itself is lazy too: naming it, or a torch-free module's names, loads no torch.
    r = _run("import sys, training; from training.figures import FIGURES, ACTIVE_UNIT_CUTOFF; "
             "from training.config import ModelConfig; assert 'torch' not in sys.modules, 'torch imported'")
    assert r.returncode == 0, r.stderr


def test_every_public_name_resolves_as_before():
    import training
    from training import checkpoint, config, data, models

    assert training.__all__ == ["load_model", "save_model", "read_config", "create_model", "ModelLoadError",
                                "OutputError", "ConfigError", "DataError", "ModelConfig", "TrainConfig",
                                "LatentModel", "AE", "VAE", "CVAE", "MODEL_KINDS", "Posterior", "load_dataset"]
    homes = (checkpoint, config, data, models)
    for name in training.__all__:
        assert any(getattr(m, name, None) is getattr(training, name) for m in homes), name
    assert set(training.__all__) <= set(dir(training))
    r = _run("from training import *; print(load_model.__module__, MODEL_KINDS['cvae'].__name__)")
    assert r.returncode == 0 and r.stdout.split() == ["training.checkpoint", "CVAE"], r.stderr
    with pytest.raises(AttributeError, match="no_such_name"):
        training.no_such_name
