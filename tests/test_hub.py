"""Model folders on the Hugging Face Hub (training/hub.py): save_pretrained / push_to_hub write what load_model reads,
a repo id loads through the Hugging Face cache, offline it is served from the cache or refused with the fix, and no
pickle is ever read, wherever the folder came from.

No network: the Hub is a local folder. `fake_hub` answers HfApi.repo_info from it and stands in for snapshot_download
online (copying the files allow_patterns picks into the cache's layout); offline, the real snapshot_download reads
that cache. The no-network path is real too: the Hub's endpoint is a local port nobody listens on.
"""
from __future__ import annotations

import json
import logging
import pickle
import shutil
import socket
from pathlib import Path
from types import SimpleNamespace

import huggingface_hub
import pytest
import torch
from huggingface_hub import constants
from huggingface_hub.utils import filter_repo_objects

from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.validation import InputError
from training import ModelLoadError, create_model, load_model, save_model
from training.hub import HUB_FILES, is_repo_id

REPO = "someone/tiny-vae"
SHA = "0123456789abcdef0123456789abcdef01234567"
REAL_SNAPSHOT_DOWNLOAD = huggingface_hub.snapshot_download
REAL_REPO_INFO = huggingface_hub.HfApi.repo_info


class _Evil:
    """A pickle whose loading creates `marker`: if the file exists, something unpickled it."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _evil_bytes(marker: Path) -> bytes:
    return pickle.dumps(_Evil(str(marker)))


@pytest.fixture(autouse=True)
def _hub_cache(tmp_path, monkeypatch):
    """A Hugging Face cache of this test's own, online by default, and nothing that unpickles."""
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)

    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")
    monkeypatch.setattr(torch, "load", refuse)
    monkeypatch.setattr(pickle, "load", refuse)


def _text_model(kind="vae"):
    from explorer.testing import TEXT_CLASSES, text_corpus
    from explorer.backends.text import TextBackend
    from training.tokenizer import train_tokenizer

    tok = train_tokenizer(text_corpus(60).train.texts, kind="word", vocab_size=100, min_frequency=1)
    made = TextBackend.untrained(0, tok, 3.0, kind=kind, num_classes=2 if kind == "cvae" else 0,
                                 class_names=list(TEXT_CLASSES), latent_dim=3, embed_dim=8, enc_channels=8,
                                 enc_layers=1, dec_hidden=8, max_len=6)
    return made.model


def _outputs(model) -> dict:
    """Every output that a model's encode and decode give on fixed inputs."""
    g = torch.Generator().manual_seed(0)
    n = 4
    y = torch.tensor([0, 1, 0, 1]) if model.conditional else None
    z = torch.randn(n, model.latent_dim, generator=g)
    with torch.no_grad():
        if getattr(model, "modality", "image") == "text":
            ids, lengths = model.encode_batch(["a red cat that runs", "a blue saw", "a dog", "an old spoon hides"])
            post = model.encode_ids(ids, lengths, y)
            return {"mu": post.mu, "logvar": post.logvar, "logits": model(ids, lengths, y, sample=False).logits,
                    "text": model.decode_text(z, y)}
        out = {"decode": model.decode(z, y)}
        if model.has_encoder:
            post = model.encode(torch.rand(n, 1, 28, 28, generator=g), y)
            out.update(mu=post.mu, logvar=post.logvar)
        return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], torch.Tensor):
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


@pytest.mark.parametrize("make", [
    lambda: create_model("vae", "mlp", latent_dim=3, mlp_hidden=16),
    lambda: create_model("cvae", "conv", latent_dim=3, num_classes=2, conv_channels=(4, 8), conv_hidden=16),
    lambda: create_model("gan", "conv", latent_dim=3, conv_channels=(4, 8), conv_hidden=16, dense_batch_norm=True),
    _text_model,
], ids=["vae", "cvae", "gan", "text-vae"])
def test_save_pretrained_then_load_model_gives_identical_outputs(make, tmp_path):
    model = make().eval()
    model.save_pretrained(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    _assert_same(_outputs(model), _outputs(loaded))
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format_version"] == 1 and config["model"]["kind"] == model.kind  # ours, not the mixin's own
    card = (tmp_path / "m" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: latent-space-explorer\n") and "no training record" in card
    # and back through the mixin's own loader, which is load_model checked for the class
    _assert_same(_outputs(model), _outputs(type(model).from_pretrained(tmp_path / "m")))


def test_a_loaded_folder_brings_its_companions_while_its_weights_are_unchanged(tmp_path):
    src = make_model_folder(tmp_path / "src", kind="cvae", latent_dim=3, n_points=20)
    model = load_model(src)
    model.save_pretrained(tmp_path / "copy")
    names = {"config.json", "model.safetensors", "README.md", "metrics.json", "history.json", "latent_map.npz"}
    assert {p.name for p in (tmp_path / "copy").iterdir()} == names
    for name in ("model.safetensors", "metrics.json", "history.json", "latent_map.npz"):  # byte for byte
        assert (tmp_path / "copy" / name).read_bytes() == (src / name).read_bytes(), name
    assert json.loads((tmp_path / "copy" / "config.json").read_text())["data"]["dataset"] == "synthetic"
    _assert_same(_outputs(model), _outputs(load_model(tmp_path / "copy")))
    assert model.source_folder == src.resolve()  # saving elsewhere does not change where it came from

    # A model that training saved into its --out folder (save_model) remembers it too: what evaluation adds goes along.
    fresh = create_model("vae", "mlp", latent_dim=2, mlp_hidden=8)
    save_model(fresh, tmp_path / "run", train={"epochs": 1}, data={"dataset": "synthetic"})
    (tmp_path / "run" / "metrics.json").write_text('{"recon": 1.0}')
    fresh.save_pretrained(tmp_path / "run-copy")
    assert (tmp_path / "run-copy" / "metrics.json").read_text() == '{"recon": 1.0}'

    # Changed weights: the map and the figures describe the old ones, so they stay behind, and stale files of those
    # names in the target folder go.
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    model.save_pretrained(tmp_path / "copy")
    assert {p.name for p in (tmp_path / "copy").iterdir()} == {"config.json", "model.safetensors", "README.md"}
    _assert_same(_outputs(model), _outputs(load_model(tmp_path / "copy")))


def test_push_to_hub_uploads_the_folder_with_its_model_card_and_map(tmp_path, monkeypatch):
    staged = {}

    def create_repo(self, repo_id, **kwargs):
        return SimpleNamespace(repo_id=repo_id)

    def upload_folder(self, *, repo_id, folder_path, **kwargs):  # huggingface_hub's upload, captured
        staged.update(repo_id=repo_id, files={p.name: p.read_bytes() for p in Path(folder_path).iterdir()})
        return "https://huggingface.co/someone/tiny-vae/commit/1"

    monkeypatch.setattr(huggingface_hub.HfApi, "create_repo", create_repo)
    monkeypatch.setattr(huggingface_hub.HfApi, "upload_folder", upload_folder)
    src = make_model_folder(tmp_path / "src", kind="vae", latent_dim=3, n_points=20)
    model = load_model(src)
    assert model.push_to_hub(REPO).endswith("/commit/1")
    assert staged["repo_id"] == REPO
    assert set(staged["files"]) == {"config.json", "model.safetensors", "README.md", "metrics.json", "history.json",
                                    "latent_map.npz"}
    assert staged["files"]["latent_map.npz"] == (src / "latent_map.npz").read_bytes()
    card = staged["files"]["README.md"].decode()
    assert card.startswith("---\n") and "library_name: latent-space-explorer" in card and "- vae" in card
    pushed = tmp_path / "pushed"
    pushed.mkdir()
    for name, data in staged["files"].items():
        (pushed / name).write_bytes(data)
    _assert_same(_outputs(model), _outputs(load_model(pushed)))


def fake_hub(monkeypatch, remote: Path) -> list:
    """The Hub, served from the folder `remote` as repo REPO: repo_info lists its files; snapshot_download online
    copies the files its allow_patterns pick into the cache's layout (snapshots/<sha>, refs/main), as the real one
    does; offline (local_files_only) the real snapshot_download answers from that cache. Returns the list of
    (repo_id, allow_patterns) of the online downloads."""
    calls = []

    def repo_info(self, repo_id, **kwargs):
        if repo_id != REPO:
            from huggingface_hub.errors import RepositoryNotFoundError
            response = SimpleNamespace(status_code=404, headers={}, request=None)
            raise RepositoryNotFoundError(f"404: {repo_id}", response=response)
        return SimpleNamespace(sha=SHA, siblings=[SimpleNamespace(rfilename=p.name) for p in remote.iterdir()])

    def snapshot_download(repo_id, *, allow_patterns=None, local_files_only=False, **kwargs):
        if local_files_only:
            return REAL_SNAPSHOT_DOWNLOAD(repo_id, allow_patterns=allow_patterns, local_files_only=True, **kwargs)
        calls.append((repo_id, allow_patterns))
        storage = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}"
        snap = storage / "snapshots" / SHA
        snap.mkdir(parents=True, exist_ok=True)
        for name in filter_repo_objects([p.name for p in remote.iterdir()], allow_patterns=allow_patterns):
            shutil.copyfile(remote / name, snap / name)
        (storage / "refs").mkdir(exist_ok=True)
        (storage / "refs" / "main").write_text(SHA)
        return str(snap)

    monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", repo_info)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    return calls


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_repo_id_loads_through_the_cache_and_never_fetches_a_pickle(tmp_path, monkeypatch, caplog):
    remote = make_model_folder(tmp_path / "remote", kind="vae", latent_dim=3, n_points=20)
    marker = tmp_path / "pwned"
    for name in ("pytorch_model.bin", "model.pt", "model.pkl"):
        (remote / name).write_bytes(_evil_bytes(marker))
    calls = fake_hub(monkeypatch, remote)
    assert is_repo_id(REPO) and not is_repo_id(str(remote)) and not is_repo_id("just-a-name")

    model = load_model(REPO)
    assert len(calls) == 1 and set(calls[0][1]) == set(HUB_FILES)
    snapshot = Path(constants.HF_HUB_CACHE) / "models--someone--tiny-vae" / "snapshots" / SHA
    assert model.source_folder == snapshot.resolve()
    assert not any(p.suffix in (".bin", ".pt", ".pkl") for p in snapshot.iterdir())  # never even downloaded
    _assert_same(_outputs(load_model(remote)), _outputs(model))

    # Offline, both ways: the copy cached above is used, with one line saying so.
    with caplog.at_level(logging.WARNING, logger="training.checkpoint"):
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
        _assert_same(_outputs(model), _outputs(load_model(REPO)))
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        # the real Hub client again, at an address that refuses connections: no network
        monkeypatch.setattr(huggingface_hub.HfApi, "repo_info", REAL_REPO_INFO)
        monkeypatch.setattr(huggingface_hub, "snapshot_download", REAL_SNAPSHOT_DOWNLOAD)
        monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
        _assert_same(_outputs(model), _outputs(load_model(REPO)))
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 2 and "HF_HUB_OFFLINE is set; using the copy cached at" in notes[0]
    assert "cannot be reached (ConnectError" in notes[1] and str(snapshot) in notes[1]
    assert len(calls) == 1 and not marker.exists()


def test_offline_and_not_cached_names_the_id_and_the_fix(monkeypatch):
    monkeypatch.setattr(constants, "ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(ModelLoadError, match=r"someone/tiny-vae is a Hugging Face Hub repo id, but the Hugging Face "
                                             r"Hub cannot be reached .* not in the Hugging Face cache .*"
                                             r"hf download someone/tiny-vae --local-dir DIR"):
        load_model(REPO)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="but HF_HUB_OFFLINE is set and it is not in the Hugging Face cache"):
        load_model(REPO)


def test_pickles_are_never_read_from_a_folder_or_a_repo(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    folder = make_model_folder(tmp_path / "m", kind="ae", latent_dim=2, n_points=10)
    for name in ("pytorch_model.bin", "model.pt", "model.pkl"):
        (folder / name).write_bytes(_evil_bytes(marker))
    load_model(folder)  # the safetensors weights; the pickles beside them are left alone
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError, match=r"model.pkl, model.pt, pytorch_model.bin, but pickled checkpoints "
                                             r"are never loaded"):
        load_model(folder)
    # A repo with a pickle and no safetensors: refused before anything is downloaded.
    calls = fake_hub(monkeypatch, folder)
    with pytest.raises(ModelLoadError, match="lacks model.safetensors. It holds .*pytorch_model.bin, but pickled "
                                             "checkpoints are never downloaded or loaded"):
        load_model(REPO)
    assert calls == [] and not marker.exists()


@pytest.mark.parametrize("source, words", [
    ("not a folder/nor an id!", "neither a model folder .* nor a Hub repo id: a Hugging Face Hub repo id is "
                                "owner/name"),
    ("a/b/c", "neither a model folder"),
    ("someone/no-such-model", "the Hugging Face Hub has no model repo someone/no-such-model"),
])
def test_neither_a_folder_nor_a_repo(source, words, tmp_path, monkeypatch):
    fake_hub(monkeypatch, make_model_folder(tmp_path / "remote", kind="ae", latent_dim=2, n_points=10))
    with pytest.raises(ModelLoadError, match=words):
        load_model(source)


def test_the_registry_takes_a_hub_id_downloaded_once_and_says_so_offline(assets, tmp_path, monkeypatch, caplog):
    remote = make_model_folder(tmp_path / "remote", kind="vae", latent_dim=3, n_points=20)
    calls = fake_hub(monkeypatch, remote)
    reg = ModelRegistry.discover(assets, [REPO])
    assert reg.default == REPO and reg.info(REPO).latent_dim == 3
    assert reg.get(REPO).backend.latent_dim == 3 and len(calls) == 1  # the model loads from the cached snapshot
    reg.get(REPO)
    assert len(calls) == 1

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with caplog.at_level(logging.WARNING, logger="explorer.registry"):
        reg = ModelRegistry.discover(assets, [REPO, "someone/never-downloaded"])
    assert any("someone/tiny-vae: HF_HUB_OFFLINE is set; using the copy cached" in r.getMessage()
               for r in caplog.records)
    assert reg.get(REPO).backend.latent_dim == 3
    with pytest.raises(InputError, match="someone/never-downloaded is a Hugging Face Hub repo id, but HF_HUB_OFFLINE "
                                         "is set .*`hf download someone/never-downloaded --local-dir DIR`"):
        reg.get("someone/never-downloaded")
    assert reg.get("fake-vae").backend.latent_dim > 0  # the other models still work
    assert len(calls) == 1


@pytest.mark.slow
def test_hf_hub_offline_in_the_environment_gives_the_message_not_a_traceback(tmp_path):
    """HF_HUB_OFFLINE=1 as a user sets it (huggingface_hub reads it at import: a fresh process), through the CLI."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "empty-cache"),
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    r = subprocess.run([sys.executable, "-m", "training", "evaluate", REPO], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert (f"{REPO} is a Hugging Face Hub repo id, but HF_HUB_OFFLINE is set and it is not in the Hugging Face "
            f"cache ({tmp_path / 'empty-cache'})") in r.stderr and f"hf download {REPO} --local-dir DIR" in r.stderr
