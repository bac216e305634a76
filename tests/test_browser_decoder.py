"""decoder.onnx (training/export.py) and the page's description of it (explorer.backends.browser_decoder): the ONNX
decoder decodes as torch does, carries its metadata, and is made, remade or refused as the folder requires."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

import explorer.backends.browser_decoder as bd
import training.export as export_mod
from explorer.backends.autoencoder import AutoencoderBackend
from explorer.testing import make_model_folder
from training import create_model, load_model, save_model
from training.export import DECODER_NAME, FORMAT, ExportError, check_decoder_file, export_decoder, file_sha256

REPO = Path(__file__).resolve().parents[1]
SHIPPED = ["mnist-ae", "mnist-vae", "mnist-cvae", "fashion-mnist-ae", "fashion-mnist-vae", "fashion-mnist-cvae"]
KEYS = {"path", "latent_dim", "num_classes", "shape", "channels", "sha256"}


def folder_of(tmp_path, kind="cvae", arch="mlp", latent_dim=4, seed=0) -> Path:
    return make_model_folder(tmp_path / f"{arch}-{kind}", kind=kind, arch=arch, latent_dim=latent_dim, n_points=20,
                             seed=seed)


def describe(folder: Path) -> dict:
    """browser_decoder() as the registry calls it, with the folder's own sizes."""
    m = load_model(folder)
    return bd.browser_decoder(folder, m.latent_dim, m.num_classes, m.config.image_shape[1:])


def read_only(folder: Path, monkeypatch) -> None:
    """Make `folder` unwritable to this process (root ignores permission bits, so the probe is told too)."""
    folder.chmod(0o555)
    real = bd._writable
    monkeypatch.setattr(bd, "_writable", lambda f: Path(f).resolve() != folder.resolve() and real(f))


@pytest.fixture(autouse=True)
def _restore_permissions(tmp_path):
    yield
    for p in [tmp_path, *tmp_path.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "latent-explorer" / "decoders"


def ort_decode(path, z, labels=None) -> np.ndarray:
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"z": z} | ({"label": labels} if labels is not None else {})
    return sess.run(["image"], feed)[0]


@pytest.mark.parametrize("arch", ["mlp", "conv"])
@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_a_missing_export_is_made_on_first_call_and_decodes_as_torch_does(tmp_path, kind, arch):
    folder = folder_of(tmp_path, kind, arch)
    assert not (folder / DECODER_NAME).exists()
    d = describe(folder)
    assert set(d) == KEYS, d
    assert Path(d["path"]) == (folder / DECODER_NAME).resolve() and Path(d["path"]).is_file()
    assert d["sha256"] == file_sha256(d["path"])
    conditional = kind == "cvae"
    assert d["latent_dim"] == 4 and d["num_classes"] == (10 if conditional else 0) and d["shape"] == [28, 28]

    proto = onnx.load(d["path"])
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta == {"format": FORMAT, "latent_dim": "4", "num_classes": str(d["num_classes"]),
                    "image_shape": "[1, 28, 28]", "weights_sha256": file_sha256(folder / "model.safetensors")}
    assert proto.opset_import[0].version == 17
    assert [i.name for i in proto.graph.input] == (["z", "label"] if conditional else ["z"])

    backend = AutoencoderBackend.load(folder)
    rng = np.random.default_rng(1)
    z = (rng.standard_normal((100, 4)) * 3).astype(np.float32)
    labels = rng.integers(0, 10, 100).astype(np.int64) if conditional else None
    got = ort_decode(d["path"], z, labels)
    want = backend.decode(z, labels)
    assert got.shape == want.shape == (100, 28, 28) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 1e-5
    assert 0.0 <= got.min() and got.max() <= 1.0
    if conditional:  # the label is an input, not a constant of the trace: another class, another image
        assert np.abs(ort_decode(d["path"], z, (labels + 1) % 10) - got).max() > 1e-3


def test_a_second_call_is_answered_from_the_cache(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    first = describe(folder)
    monkeypatch.setattr(export_mod, "check_decoder_file", lambda *a, **k: pytest.fail("checked again"))
    monkeypatch.setattr(export_mod, "export_folder", lambda *a, **k: pytest.fail("exported again"))
    second = describe(folder)
    assert second == first
    second["shape"].append(1)  # the caller's own copy
    assert describe(folder) == first


def test_new_weights_make_the_export_stale_and_it_is_made_again(tmp_path):
    folder = folder_of(tmp_path, "vae", "conv")
    old = describe(folder)
    torch.manual_seed(7)
    retrained = create_model(**{k: v for k, v in load_model(folder).config.to_dict().items()})
    save_model(retrained.eval(), folder)
    sha = file_sha256(folder / "model.safetensors")
    assert "is stale" in check_decoder_file(folder / DECODER_NAME, 4, 0, (28, 28), sha)
    new = describe(folder)
    assert new["path"] == old["path"] and new["sha256"] != old["sha256"]
    assert check_decoder_file(new["path"], 4, 0, (28, 28), sha) is None
    z = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    assert np.abs(ort_decode(new["path"], z) - AutoencoderBackend(retrained).decode(z)).max() <= 1e-5


def test_corrupted_bytes_are_replaced_in_a_writable_folder(tmp_path):
    folder = folder_of(tmp_path)
    describe(folder)
    data = (folder / DECODER_NAME).read_bytes()
    (folder / DECODER_NAME).write_bytes(data[: len(data) // 2])  # a truncated copy
    assert "not a readable ONNX model" in check_decoder_file(folder / DECODER_NAME, 4, 10, (28, 28))
    d = describe(folder)
    assert set(d) == KEYS and (folder / DECODER_NAME).read_bytes() == data  # the export is deterministic


def test_corrupted_bytes_in_a_read_only_folder_without_a_usable_cache_give_a_reason(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    (folder / DECODER_NAME).write_bytes(b"not an onnx file at all" * 10)
    read_only(folder, monkeypatch)
    (tmp_path / "afile").write_text("")  # the cache's parent is a file: no cache can be made, not even by root
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "afile"))
    d = describe(folder)
    assert set(d) == {"reason"}
    assert "not a readable ONNX model" in d["reason"] and "export-decoder" in d["reason"]
    assert "\n" not in d["reason"]
    assert (folder / DECODER_NAME).read_bytes() == b"not an onnx file at all" * 10  # left alone


def mismatched(folder: Path) -> None:
    """An export of a latent-3 model written as the folder's decoder.onnx, with the folder's weights hash: only the
    size of z is wrong."""
    torch.manual_seed(0)
    other = create_model(kind="cvae", arch="mlp", latent_dim=3, num_classes=10, mlp_hidden=32).eval()
    export_decoder(other, folder / DECODER_NAME, weights_sha256=file_sha256(folder / "model.safetensors"))


def test_an_export_for_another_latent_size_is_made_again_in_a_writable_folder(tmp_path):
    folder = folder_of(tmp_path)
    mismatched(folder)
    assert check_decoder_file(folder / DECODER_NAME, 4, 10, (28, 28)) == \
        "takes codes of size 3, but the model's latent size is 4"
    d = describe(folder)
    assert set(d) == KEYS
    z = onnx.load(d["path"]).graph.input[0].type.tensor_type.shape.dim[1].dim_value
    assert z == 4


def test_an_export_for_another_latent_size_in_a_read_only_folder(tmp_path, monkeypatch, _cache):
    folder = folder_of(tmp_path)
    mismatched(folder)
    theirs = (folder / DECODER_NAME).read_bytes()
    read_only(folder, monkeypatch)
    (tmp_path / "afile").write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "afile"))
    d = describe(folder)
    assert set(d) == {"reason"}
    assert "size 3" in d["reason"] and "latent size is 4" in d["reason"] and str(folder.resolve()) in d["reason"]
    # with a cache it can write to, the page gets a good export from there; the folder's file stays as it was
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    bd._results.clear()
    d = describe(folder)
    assert set(d) == KEYS and Path(d["path"]).parent == _cache.resolve()
    assert (folder / DECODER_NAME).read_bytes() == theirs


def test_a_read_only_folder_uses_the_cache_dir(tmp_path, monkeypatch, _cache):
    folder = folder_of(tmp_path, "ae", "conv")
    read_only(folder, monkeypatch)
    d = describe(folder)
    sha = file_sha256(folder / "model.safetensors")
    assert Path(d["path"]) == (_cache / f"{sha}.onnx").resolve()
    assert not (folder / DECODER_NAME).exists()
    assert check_decoder_file(d["path"], 4, 0, (28, 28), sha) is None
    # a later process finds the cached export and does not make it again
    bd._results.clear()
    monkeypatch.setattr(export_mod, "export_folder", lambda *a, **k: pytest.fail("exported again"))
    assert describe(folder) == d


def test_no_onnx_package_gives_a_reason(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    monkeypatch.setitem(sys.modules, "onnx", None)
    d = describe(folder)
    assert set(d) == {"reason"} and "onnx" in d["reason"] and "pip install" in d["reason"]
    assert not (folder / DECODER_NAME).exists()


def test_it_never_raises(tmp_path, monkeypatch):
    assert "no model.safetensors" in bd.browser_decoder(tmp_path / "nowhere", 4, 0, (28, 28))["reason"]
    folder = folder_of(tmp_path)

    def boom(*a, **k):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(bd, "_describe", boom)
    assert "disk on fire" in describe(folder)["reason"]


def test_an_export_that_does_not_decode_as_torch_is_refused_and_not_written(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    monkeypatch.setattr(export_mod, "TOLERANCE", -1.0)  # no difference is small enough
    with pytest.raises(ExportError, match="differs from torch's"):
        export_mod.export_folder(folder)
    assert not (folder / DECODER_NAME).exists() and not list(folder.glob("*.tmp"))
    d = describe(folder)
    assert set(d) == {"reason"} and "differs from torch's" in d["reason"]


def test_the_export_works_without_onnxruntime(tmp_path):
    folder = folder_of(tmp_path)
    code = ("import sys; sys.modules['onnxruntime'] = None; from training.export import export_folder; "
            f"r = export_folder({str(folder)!r}); print(r['max_abs_diff'])")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "None"
    assert check_decoder_file(folder / DECODER_NAME, 4, 10, (28, 28), file_sha256(folder / "model.safetensors")) is None


def test_the_export_leaves_the_model_as_it_was(tmp_path):
    torch.manual_seed(0)
    model = create_model(kind="vae", arch="conv", latent_dim=4, conv_channels=(4, 8), conv_hidden=16).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    r = export_decoder(model, tmp_path / "d.onnx", weights_sha256="0" * 64)
    assert model.training and all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert r["max_abs_diff"] <= 1e-5


def test_the_cli_exports_folders(tmp_path, capsys):
    from training.__main__ import main

    a, b = folder_of(tmp_path, "ae"), folder_of(tmp_path, "cvae", "conv")
    assert main(["export-decoder", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    for f in (a, b):
        assert str(f / DECODER_NAME) in out
        m = load_model(f)
        assert check_decoder_file(f / DECODER_NAME, m.latent_dim, m.num_classes, (28, 28),
                                  file_sha256(f / "model.safetensors")) is None
    assert main(["export-decoder", str(tmp_path / "nowhere")]) == 4


def test_finishing_a_folder_writes_a_current_decoder(tmp_path, tiny_data):
    # build-assets, `train` and `evaluate --map` all end in finish_folder (training/recipes.py)
    from training.recipes import finish_folder

    torch.manual_seed(0)
    model = create_model(kind="cvae", arch="mlp", latent_dim=3, num_classes=3, mlp_hidden=32,
                         class_names=tiny_data.class_names).eval()
    folder = save_model(model, tmp_path / "m")
    logged = []
    finish_folder(model, folder, tiny_data, k=2, tsne=False, umap=False, half=True, log=logged.append)
    assert check_decoder_file(folder / DECODER_NAME, 3, 3, (28, 28), file_sha256(folder / "model.safetensors")) is None
    assert any(DECODER_NAME in m for m in logged)


def test_the_registry_offers_it(registry):
    name = next(n for n in registry.names() if "cvae" in n)
    loaded = registry.get(name)
    d = loaded.browser_decoder
    assert set(d) == KEYS and d["latent_dim"] == loaded.latent_dim and d["num_classes"] == loaded.num_classes
    assert loaded.browser_decoder == d


@pytest.mark.parametrize("name", SHIPPED)
def test_the_shipped_decoders_are_valid_and_current(name):
    folder = REPO / "assets" / name
    path = folder / DECODER_NAME
    model = load_model(folder)
    assert path.is_file(), f"{path} is missing: run `python -m training export-decoder {folder}`"
    assert path.stat().st_size < 10_000_000
    problem = check_decoder_file(path, model.latent_dim, model.num_classes, model.config.image_shape,
                                 file_sha256(folder / "model.safetensors"))
    assert problem is None, f"{path} {problem}: run `python -m training export-decoder {folder}`"
    assert export_mod.verify(path, model) <= 1e-5
    ignored = subprocess.run(["git", "check-ignore", "-q", str(path.relative_to(REPO))], cwd=REPO)
    assert ignored.returncode == 1, f"{path} is git-ignored"


def test_the_shipped_metadata_names_the_image_shape():
    meta = {p.key: p.value for p in onnx.load(REPO / "assets" / "mnist-cvae" / DECODER_NAME).metadata_props}
    assert json.loads(meta["image_shape"]) == [1, 28, 28] and meta["num_classes"] == "10"
    assert os.path.getsize(REPO / "assets" / "mnist-cvae" / DECODER_NAME) > 100_000
