"""The text decoder the page runs (explorer.backends.browser_text_decoder makes text_decoder.safetensors, and
explorer/static/text_decoder.js runs it): the exported weights and token table, put through a NumPy copy of the
page's loop (and, where node is installed, through the page's JavaScript itself), write exactly the sentences the
server's model.decode_text writes; the file is made, kept, remade or refused as the folder requires."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import explorer.backends.browser_text_decoder as btd
from explorer import ModelRegistry
from explorer.testing import make_text_folder
from explorer.ui.browser_decode import page_decoder
from training import load_model

REPO = Path(__file__).resolve().parents[1]
JS = REPO / "explorer" / "static" / "text_decoder.js"
NODE = shutil.which("node")
WORDNET = REPO / "assets" / "wordnet-vae"
f32 = np.float32


# ---------------------------------------------------------------------------------------------------------------
# The page's loop in NumPy (text_decoder.js greedy + detokenise): float32 vectors, dot products summed in float64

def _dot(W, x):
    return (W.astype(np.float64) @ x.astype(np.float64)).astype(f32)


def _sigmoid(v):
    return (1 / (1 + np.exp(-v.astype(np.float64)))).astype(f32)


def numpy_greedy(a: dict, m: dict, z, label=None) -> list[int]:
    L, C, H = m["latent_dim"], m["num_classes"], m["dec_hidden"]
    code = np.zeros(L + C, f32)
    code[:L] = z
    if C:
        code[L + label] = 1
    h = np.tanh(_dot(a["init.weight"], code) + a["init.bias"]).astype(f32)
    tok, out = m["bos"], []
    for _ in range(m["max_len"]):
        gi = _dot(a["gru.weight_ih"], np.concatenate([a["embed"][tok], code])) + a["gru.bias_ih"]
        gh = _dot(a["gru.weight_hh"], h) + a["gru.bias_hh"]
        r, u = _sigmoid(gh[:H] + gi[:H]), _sigmoid(gh[H:2 * H] + gi[H:2 * H])
        n = np.tanh(gi[2 * H:] + gh[2 * H:] * r).astype(f32)
        h = (h - n) * u + n
        logits = _dot(a["embed"], _dot(a["proj.weight"], h) + a["proj.bias"]) + a["bias"]
        logits[[m["pad"], m["bos"]]] = -np.inf
        tok = int(np.argmax(logits))
        if tok == m["eos"]:
            break
        out.append(tok)
    return out


def _pieces(a: dict) -> list[bytes]:
    off, data = a["token_offsets"], a["token_bytes"].tobytes()
    return [data[off[i]:off[i + 1]] for i in range(len(off) - 1)]


def numpy_detokenise(path, seqs) -> list[str]:
    m, a = btd.read_file(Path(path))
    pieces = _pieces(a)
    return [btd.join_tokens(pieces, ids, m["separator"].encode("utf-8")) for ids in seqs]


def numpy_decode(path, zs, labels) -> list[str]:
    m, a = btd.read_file(Path(path))
    return numpy_detokenise(path, [numpy_greedy(a, m, z, lab) for z, lab in zip(zs, labels)])


def node_decode(path, zs, labels) -> list[str]:
    """The page's own JavaScript (text_decoder.js) under node."""
    script = f"""
const fs = require('fs');
eval(fs.readFileSync({json.dumps(str(JS))}, 'utf8'));
const T = globalThis.__xpTextDecoder;
const b = fs.readFileSync({json.dumps(str(path))});
const m = T.parse(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
const q = JSON.parse(fs.readFileSync(0, 'utf8'));
process.stdout.write(JSON.stringify(q.zs.map((z, i) => T.decode(m, z, q.labels[i]))));
"""
    r = subprocess.run([NODE, "-e", script], input=json.dumps({"zs": np.asarray(zs).tolist(), "labels": labels}),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------------------------

def expected_of(model) -> dict:
    c = model.config
    return {"latent_dim": model.latent_dim, "num_classes": model.num_classes, "vocab_size": c.vocab_size,
            "max_len": c.max_len, "embed_dim": c.embed_dim, "dec_hidden": c.dec_hidden, "decoder": c.decoder}


def describe(folder, reference=None) -> dict:
    return btd.browser_text_decoder(folder, expected_of(load_model(folder)), reference)


def codes(model, n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    zs = (rng.standard_normal((n, model.latent_dim)) * rng.choice([0.5, 1.0, 2.0, 3.0], (n, 1))).astype(f32)
    labels = [int(v) for v in rng.integers(0, model.num_classes, n)] if model.num_classes else [None] * n
    return zs, labels


def server_decode(model, zs, labels) -> list[str]:
    return [model.decode_text(torch.from_numpy(z[None]), None if lab is None else torch.tensor([lab]))[0]
            for z, lab in zip(zs, labels)]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    btd._results.clear()
    yield
    for p in [tmp_path, *tmp_path.rglob("*")]:
        if p.is_dir():
            p.chmod(0o755)


CASES = [("vae", "word"), ("cvae", "word"), ("vae", "bpe"), ("cvae", "bpe"), ("vae", "char")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{k}-{t}" for k, t in CASES])
def folder(request, tmp_path_factory):
    kind, tok = request.param
    return make_text_folder(tmp_path_factory.mktemp("text") / f"{kind}-{tok}", kind=kind, tokenizer=tok, seed=3)


def test_the_exported_decoder_writes_the_servers_sentences(folder, tmp_path):
    work = tmp_path / folder.name
    shutil.copytree(folder, work)
    model = load_model(work)
    d = describe(work)
    assert "reason" not in d, d
    assert Path(d["path"]) == (work / btd.FILE_NAME).resolve()
    assert d["bytes"] == Path(d["path"]).stat().st_size < btd.MAX_BYTES
    zs, labels = codes(model, 150)
    want = server_decode(model, zs, labels)
    assert len(set(want)) > 20, "the model writes too few distinct sentences for this test to mean much"
    got = numpy_decode(d["path"], zs, labels)
    assert got == want
    if model.num_classes:  # the class is an input: another class, other sentences
        other = server_decode(model, zs, [1 - v for v in labels])
        assert numpy_decode(d["path"], zs, [1 - v for v in labels]) == other != want


@pytest.mark.skipif(NODE is None, reason="node is not installed: the page's JavaScript is run by the browser test")
def test_the_pages_javascript_writes_the_servers_sentences(folder, tmp_path):
    work = tmp_path / folder.name
    shutil.copytree(folder, work)
    model = load_model(work)
    d = describe(work)
    zs, labels = codes(model, 200, seed=1)
    assert node_decode(d["path"], zs, labels) == server_decode(model, zs, labels)


def test_the_file_holds_the_models_weights_and_a_checked_manifest(tmp_path):
    folder = make_text_folder(tmp_path / "cvae", kind="cvae", tokenizer="bpe")
    model = load_model(folder)
    d = describe(folder)
    m, a = btd.read_file(Path(d["path"]))
    assert m["weights_sha256"] == btd.file_sha256(folder / "model.safetensors")
    assert m["tokenizer_sha256"] == btd.file_sha256(folder / "tokenizer.json")
    assert (m["latent_dim"], m["num_classes"], m["max_len"], m["tokenizer_kind"]) == (4, 2, 10, "bpe")
    from training.tokenizer import BOS, EOS, PAD, UNK
    assert (m["pad"], m["bos"], m["eos"], m["unk"]) == (PAD, BOS, EOS, UNK)
    state = model.state_dict()
    for src, name in btd.TENSORS.items():
        assert a[name].dtype == np.float32 and np.array_equal(a[name], state[src].numpy()), name
    # each token's bytes: the tokenizer's own decode of that token (invalid UTF-8 aside, which it replaces)
    tok = model.tokenizer.tok
    off, data = a["token_offsets"], a["token_bytes"].tobytes()
    for i in range(4, model.config.vocab_size):
        assert data[off[i]:off[i + 1]].decode("utf-8", "replace") == tok.decode([i], skip_special_tokens=False)
    assert data[off[3]:off[4]] == b"<unk>"


def gpt2_bytes_to_unicode() -> dict[str, int]:
    """GPT-2's published table (openai/gpt-2 encoder.py), written out independently of tokenizers."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {chr(c): b for b, c in zip(bs, cs)}


def test_the_byte_map_read_from_tokenizers_is_gpt2s():
    assert btd.byte_level_map() == gpt2_bytes_to_unicode()


def test_invalid_utf8_is_replaced_as_tokenizers_replaces_it(tmp_path):
    """Byte tokens joined into broken UTF-8 (lone continuation bytes, cut sequences, overlong forms, a BOM):
    Python's 'replace' (the NumPy path) and the page's TextDecoder both give tokenizers' own decode."""
    folder = make_text_folder(tmp_path / "bpe", kind="vae", tokenizer="bpe")
    tok = load_model(folder).tokenizer.tok
    cmap = {b: c for c, b in btd.byte_level_map().items()}
    byte_id = {b: tok.token_to_id(cmap[b]) for b in range(256)}
    assert None not in byte_id.values()
    junk = [b"\xef\xbb\xbfa BOM", b"\x80abc", b"\xe2\x82", b"\xe2\x82z\xe2\x82\xac", b"\xc0\xaf", b"\xed\xa0\x80",
            b"\xf4\x90\x80\x80", b"\xf0\x9f\x98", b"ok \xff\xfe \xf8\x88\x80\x80\x80", b"\x00\x01 \x7f"]
    rng = np.random.default_rng(0)
    junk += [bytes(rng.integers(0, 256, int(rng.integers(1, 12))).tolist()) for _ in range(300)]
    seqs = [[byte_id[b] for b in j] for j in junk]
    want = tok.decode_batch(seqs, skip_special_tokens=False)
    assert [j.decode("utf-8", "replace") for j in junk] == want
    assert want[0].startswith("\ufeff")  # tokenizers keeps a leading byte order mark
    path = describe(folder)["path"]
    assert numpy_detokenise(path, seqs) == want
    if NODE:  # the page's own detokenise (text_decoder.js), on the exported table
        script = (f"const fs = require('fs'); eval(fs.readFileSync({json.dumps(str(JS))}, 'utf8')); "
                  f"const T = globalThis.__xpTextDecoder; const b = fs.readFileSync({json.dumps(str(path))}); "
                  "const m = T.parse(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)); "
                  "const q = JSON.parse(fs.readFileSync(0, 'utf8')); "
                  "process.stdout.write(JSON.stringify(q.map((ids) => T.detokenise(m, ids))));")
        r = subprocess.run([NODE, "-e", script], input=json.dumps(seqs), capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout) == want


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("damage", ["truncated", "not safetensors", "another format", "wrong shape"])
def test_the_javascript_refuses_a_broken_file_with_a_one_line_reason(tmp_path, damage):
    folder = make_text_folder(tmp_path / "vae", kind="vae")
    raw = Path(describe(folder)["path"]).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    if damage == "truncated":
        body = raw[:len(raw) // 2]
    elif damage == "not safetensors":
        body = b"\x08\x07not a decoder" * 50
    else:
        if damage == "another format":
            header["__metadata__"]["manifest"] = json.dumps({"format": "something else", "version": 1})
        else:
            header["embed"]["shape"] = header["embed"]["shape"][::-1] + [1]
        h = json.dumps(header).encode()
        h += b" " * (-len(h) % 8)
        body = len(h).to_bytes(8, "little") + h + raw[8 + n:]
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(body)
    script = (f"eval(require('fs').readFileSync({json.dumps(str(JS))}, 'utf8')); const b = require('fs')"
              f".readFileSync({json.dumps(str(bad))}); try {{ globalThis.__xpTextDecoder.parse(b.buffer.slice("
              "b.byteOffset, b.byteOffset + b.byteLength)); console.log('PARSED'); } catch (e) { "
              "console.log('ERROR ' + e.message); }")
    out = subprocess.run([NODE, "-e", script], capture_output=True, text=True, timeout=60).stdout.strip()
    assert out.startswith("ERROR the decoder file") and "\n" not in out, out


# ---------------------------------------------------------------------------------------------------------------
# Made, kept, remade, refused

def test_a_second_call_is_answered_from_memory_and_new_weights_remake_the_file(tmp_path, monkeypatch):
    folder = make_text_folder(tmp_path / "vae", kind="vae")
    first = describe(folder)
    real_build = btd.build
    monkeypatch.setattr(btd, "build", lambda *a, **k: pytest.fail("made again"))
    assert describe(folder) == first
    monkeypatch.setattr(btd, "build", real_build)
    # retrained: other weights, same sizes
    make_text_folder(tmp_path / "other", kind="vae", seed=9)
    shutil.copy(tmp_path / "other" / "model.safetensors", folder / "model.safetensors")
    sha = btd.file_sha256(folder / "model.safetensors")
    assert btd.check_file(folder / btd.FILE_NAME, expected_of(load_model(folder)), sha,
                          btd.file_sha256(folder / "tokenizer.json")) == "is stale (made from other weights)"
    second = describe(folder)
    assert second["path"] == first["path"] and second["sha256"] != first["sha256"]
    assert btd.read_file(Path(second["path"]))[0]["weights_sha256"] == sha


def test_a_corrupt_file_is_made_again(tmp_path):
    folder = make_text_folder(tmp_path / "vae", kind="vae")
    path = Path(describe(folder)["path"])
    path.write_bytes(b"garbage" * 10)
    btd._results.clear()
    d = describe(folder)
    assert "reason" not in d and d["path"] == str(path)
    model = load_model(folder)
    zs, labels = codes(model, 20)
    assert numpy_decode(path, zs, labels) == server_decode(model, zs, labels)


def test_a_read_only_folder_gets_its_file_in_the_cache(tmp_path, monkeypatch):
    folder = make_text_folder(tmp_path / "vae", kind="vae")
    real = btd._writable
    monkeypatch.setattr(btd, "_writable", lambda f: Path(f).resolve() != folder.resolve() and real(f))
    folder.chmod(0o555)
    d = describe(folder)
    assert "reason" not in d, d
    path = Path(d["path"])
    assert path.parent == tmp_path / "xdg" / "latent-explorer" / "decoders"
    assert path.name.startswith(btd.file_sha256(folder / "model.safetensors"))
    assert not (folder / btd.FILE_NAME).exists()
    btd._results.clear()
    monkeypatch.setattr(btd, "build", lambda *a, **k: pytest.fail("made again"))
    assert describe(folder)["path"] == str(path)  # the cached file is used as it is


def test_a_changed_tokenizer_remakes_the_table(tmp_path):
    folder = make_text_folder(tmp_path / "vae", kind="vae", tokenizer="word")
    describe(folder)
    spec = json.loads((folder / "tokenizer.json").read_text())
    vocab = spec["model"]["vocab"]
    a, b = [w for w, i in vocab.items() if i >= 4][:2]
    vocab[a], vocab[b] = vocab[b], vocab[a]  # two words swap ids
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    d = describe(folder)
    m, arr = btd.read_file(Path(d["path"]))
    assert m["tokenizer_sha256"] == btd.file_sha256(folder / "tokenizer.json")
    off, data = arr["token_offsets"], arr["token_bytes"].tobytes()
    assert data[off[vocab[a]]:off[vocab[a] + 1]].decode() == a


def test_what_the_page_cannot_decode_exactly_is_refused_with_a_reason(tmp_path, monkeypatch):
    folder = make_text_folder(tmp_path / "vae", kind="vae", tokenizer="word")
    spec = json.loads((folder / "tokenizer.json").read_text())
    spec["decoder"] = {"type": "WordPiece", "prefix": "##", "cleanup": True}
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    d = describe(folder)
    assert "WordPiece" in d["reason"] and not (folder / btd.FILE_NAME).exists()

    other = make_text_folder(tmp_path / "big", kind="vae")
    monkeypatch.setattr(btd, "MAX_BYTES", 1000)
    assert "over the" in describe(other)["reason"]
    monkeypatch.undo()

    exp = expected_of(load_model(other))
    assert "positional" in btd.browser_text_decoder(other, {**exp, "decoder": "positional"})["reason"]
    assert "another model" in btd.browser_text_decoder(other, {**exp, "max_len": 11})["reason"]
    # the folder's weights are not those the server loaded
    fresh = make_text_folder(tmp_path / "fresh", kind="vae", seed=11)
    ref = {k: v.numpy() for k, v in load_model(fresh).state_dict().items()}
    btd._results.clear()
    assert "not the model the server loaded" in describe(other, reference=lambda: ref)["reason"]
    (other / "tokenizer.json").unlink()
    assert "has no tokenizer.json" in btd.browser_text_decoder(other, exp)["reason"]


def test_the_page_is_told_where_the_file_is_and_what_the_server_writes(tmp_path):
    for kind in ("vae", "cvae"):
        folder = make_text_folder(tmp_path / kind, kind=kind, tokenizer="bpe")
        loaded = ModelRegistry.discover(tmp_path / "none", [folder]).get(folder.name)
        d = page_decoder(folder.name, loaded)
        assert d["kind"] == "text" and "reason" not in d, d
        assert d["url"].startswith("/gradio_api/file=") and d["url"].endswith(d["sha256"][:16])
        assert d["latent_dim"] == 4 and d["num_classes"] == (2 if kind == "cvae" else 0)
        assert len(d["pca_mean"]) == 4 and len(d["pca_components"]) == 2
        assert len(d["probes"]) == 3
        for p in d["probes"]:
            assert p["text"] == loaded.backend.decode(np.array([p["z"]], f32), p["label"])[0]
        zs = np.array([p["z"] for p in d["probes"]], f32)
        assert numpy_decode(Path(d["url"].split("=", 1)[1].split("?")[0]), zs,
                            [p["label"] for p in d["probes"]]) == [p["text"] for p in d["probes"]]
        json.dumps(d)  # the page gets it as JSON


@pytest.mark.slow
@pytest.mark.skipif(not (WORDNET / "model.safetensors").is_file(), reason="the shipped wordnet-vae is not there")
def test_the_shipped_wordnet_vae(tmp_path):
    """The shipped text model: its file is under 10 MB and writes the server's sentences."""
    work = tmp_path / "wordnet-vae"
    work.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        shutil.copy(WORDNET / name, work / name)
    model = load_model(work)
    torch.set_num_threads(1)
    d = describe(work)
    assert "reason" not in d, d
    assert d["bytes"] < btd.MAX_BYTES
    zs, labels = codes(model, 60 if NODE else 15, seed=2)
    want = server_decode(model, zs, labels)
    assert len(set(want)) == len(want)
    assert numpy_decode(d["path"], zs[:15], labels[:15]) == want[:15]
    if NODE:
        assert node_decode(d["path"], zs, labels) == want
