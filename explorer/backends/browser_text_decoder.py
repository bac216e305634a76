"""The text decoder the page runs itself (explorer/static/text_decoder.js): a text VAE's greedy GRU decoder and its
tokenizer's token table, as one file the page fetches, checked, or made.

    browser_text_decoder(folder, expected, reference=None)
        -> {"path", "sha256", "bytes", "latent_dim", "num_classes"}   a valid, current file to serve
        -> {"reason"}                                                   one line: why the server decodes instead

The file, text_decoder.safetensors, is a safetensors file (an 8-byte little-endian header size, a JSON header, then
the tensors' bytes), so it is float32 little-endian data described by a small JSON manifest that both Python
(safetensors) and the page (DataView + JSON.parse) read:

    embed (V, E)  init.weight (H, L+C)  init.bias (H)  gru.weight_ih (3H, E+L+C)  gru.weight_hh (3H, H)
    gru.bias_ih (3H)  gru.bias_hh (3H)  proj.weight (E, H)  proj.bias (E)  bias (V)        float32
    token_offsets (V+1) int32, token_bytes (N) uint8: token id i is token_bytes[offsets[i]:offsets[i+1]]
    __metadata__["manifest"]: JSON, MANIFEST_KEYS below (format, the weights' and the tokenizer's sha256, sizes,
                              the special ids, the tokenizer kind and the separator put between tokens' bytes)

The weights are the folder's model.safetensors tensors embed.weight and decoder.* (training/text_models.py
TextModel.embed, GRUDecoder), cast to float32. The token table comes from the folder's tokenizer.json through the
`tokenizers` library: for byte-level BPE each token's bytes (the ByteLevel decoder's char -> byte map, read from the
ByteLevel pre-tokenizer), for a word tokenizer each word's UTF-8 (joined by a space, as tokenizers joins tokens when a
tokenizer has no decoder), for a char tokenizer each character's (Fuse: joined by nothing). The page joins the bytes
of a sentence's tokens and reads them with TextDecoder("utf-8"), which replaces invalid bytes as tokenizers'
from_utf8_lossy does; before a table is written it is checked against tokenizers' own decode_batch on every single
token and on random sequences, so a tokenizer whose decode does anything else (another decoder, a cleanup step) is
refused with a reason instead of decoding differently in the page.

A folder's file is used when its manifest names the current weights' and tokenizer's sha256 and the sizes the
loaded model has. Otherwise it is made again from the folder's files, as decoder.onnx is (explorer.backends.
browser_decoder): into the folder when it is writable (atomically), else into the cache,
$XDG_CACHE_HOME/latent-explorer/decoders/<weights sha256>-<tokenizer sha256[:16]>.text.safetensors. Results are kept
per folder and the sizes and mtimes of its files. No torch here: numpy, safetensors and tokenizers only.
"""
from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import numpy as np

from training.files import atomic_write, file_sha256

from .browser_decoder import _stat, _writable, cache_dir, cached

log = logging.getLogger(__name__)

FILE_NAME = "text_decoder.safetensors"
WEIGHTS_NAME = "model.safetensors"
TOKENIZER_NAME = "tokenizer.json"
CONFIG_NAME = "config.json"
FORMAT = "latent-explorer-text-decoder"
VERSION = 1
MAX_BYTES = 10_000_000           # every file the page fetches stays under 10 MB (the Space's limit per file)
PAD, BOS, EOS, UNK = 0, 1, 2, 3  # training.tokenizer's special ids (not imported: that imports torch)
# The model's tensors the page needs, and their names in the file.
TENSORS = {"embed.weight": "embed", "decoder.init.weight": "init.weight", "decoder.init.bias": "init.bias",
           "decoder.gru.weight_ih_l0": "gru.weight_ih", "decoder.gru.weight_hh_l0": "gru.weight_hh",
           "decoder.gru.bias_ih_l0": "gru.bias_ih", "decoder.gru.bias_hh_l0": "gru.bias_hh",
           "decoder.proj.weight": "proj.weight", "decoder.proj.bias": "proj.bias", "decoder.bias": "bias"}
# What the loaded model must agree on with the file (the `expected` argument).
EXPECTED_KEYS = ("latent_dim", "num_classes", "vocab_size", "max_len", "embed_dim", "dec_hidden")
MANIFEST_KEYS = ("format", "version", "weights_sha256", "tokenizer_sha256", *EXPECTED_KEYS, "pad", "bos", "eos",
                 "unk", "tokenizer_kind", "separator")

_results: dict[tuple, dict] = {}


class Unsupported(ValueError):
    """The folder's model or tokenizer is one the page's decoder cannot reproduce exactly (the reason says why)."""


def _key(folder: Path, expected: dict) -> tuple:
    return (str(folder), tuple(sorted(expected.items())),
            *(_stat(folder / n) for n in (WEIGHTS_NAME, TOKENIZER_NAME, CONFIG_NAME, FILE_NAME)))


def browser_text_decoder(folder, expected: dict, reference=None) -> dict:
    """The page's description of this text model folder's in-page decoder file, or {"reason": ...}. Never raises.

    expected: the loaded model's latent_dim, num_classes, vocab_size, max_len, embed_dim, dec_hidden and decoder
    ("gru"). reference: None, or a callable returning the loaded model's tensors {name in TENSORS: array}; when
    given, a file is only used if its weights are those (else the folder changed after the model was loaded)."""
    try:
        folder = Path(folder).resolve()
        if expected.get("decoder", "gru") != "gru":
            return {"reason": f"its decoder is {expected.get('decoder')!r}; the page decodes the autoregressive GRU "
                              "decoder (decoder=\"gru\") only."}
        expected = {k: int(expected[k]) for k in EXPECTED_KEYS}
        hit = cached(_results, lambda: _key(folder, expected), lambda: _describe(folder, expected, reference))
        return dict(hit)
    except Exception as e:  # noqa: BLE001 - the page decodes on the server and shows this
        log.exception("browser text decoder of %s", folder)
        return {"reason": f"its decoder could not be prepared for the browser ({type(e).__name__}: {e})."}


# ---------------------------------------------------------------------------------------------------------------
# Checking a file

def read_file(path: Path) -> tuple[dict, dict]:
    """(manifest, {name: array}) of a text decoder file; ValueError naming what is wrong."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"is {size:,} bytes, over the {MAX_BYTES:,} the page fetches")
    try:
        with safe_open(str(path), "np") as f:
            meta = f.metadata() or {}
        arrays = load_file(str(path))
        manifest = json.loads(meta["manifest"])
    except Exception as e:  # noqa: BLE001 - SafetensorError, KeyError, JSONDecodeError: all "corrupt"
        raise ValueError(f"is corrupt ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"is not a {FORMAT} v{VERSION} file")
    lacking = [k for k in MANIFEST_KEYS if k not in manifest]
    if lacking:
        raise ValueError(f"is corrupt (its manifest lacks {', '.join(lacking)})")
    return manifest, arrays


def shapes(m: dict) -> dict:
    """Every tensor's shape from a manifest's sizes (token_bytes: any length)."""
    L, C, V, E, H = m["latent_dim"], m["num_classes"], m["vocab_size"], m["embed_dim"], m["dec_hidden"]
    return {"embed": (V, E), "init.weight": (H, L + C), "init.bias": (H,), "gru.weight_ih": (3 * H, E + L + C),
            "gru.weight_hh": (3 * H, H), "gru.bias_ih": (3 * H,), "gru.bias_hh": (3 * H,), "proj.weight": (E, H),
            "proj.bias": (E,), "bias": (V,), "token_offsets": (V + 1,), "token_bytes": None}


def check_file(path: Path, expected: dict, weights_sha: str, tokenizer_sha: str) -> str | None:
    """None when `path` is a usable decoder file for these weights, tokenizer and sizes, else what is wrong."""
    if not path.is_file():
        return "is missing"
    try:
        m, arrays = read_file(path)
    except ValueError as e:
        return str(e)
    if m.get("weights_sha256") != weights_sha:
        return "is stale (made from other weights)"
    if m.get("tokenizer_sha256") != tokenizer_sha:
        return "is stale (made from another tokenizer.json)"
    wrong = [k for k in EXPECTED_KEYS if m.get(k) != expected[k]]
    if wrong:
        return "was made for another model (" + ", ".join(f"{k} {m.get(k)} vs {expected[k]}" for k in wrong) + ")"
    for name, shape in shapes(m).items():
        a = arrays.get(name)
        if a is None or (shape is not None and a.shape != shape):
            return f"is corrupt (tensor {name} is {None if a is None else a.shape}, not {shape})"
    off = arrays["token_offsets"]
    if off[0] != 0 or off[-1] != arrays["token_bytes"].size or (np.diff(off) < 0).any():
        return "is corrupt (its token table's offsets do not fit its bytes)"
    return None


# ---------------------------------------------------------------------------------------------------------------
# Making a file

def _describe(folder: Path, expected: dict, reference) -> dict:
    weights, tokenizer = folder / WEIGHTS_NAME, folder / TOKENIZER_NAME
    for p in (weights, tokenizer):
        if not p.is_file():
            return {"reason": f"{folder} has no {p.name}, so there is no decoder to run in the browser."}
    wsha, tsha = file_sha256(weights), file_sha256(tokenizer)
    local = folder / FILE_NAME
    problem = check_file(local, expected, wsha, tsha)
    target = local
    if problem is not None:
        if not _writable(folder):  # a read-only folder (a Space, a shared install): the cache, made once
            target = cache_dir() / f"{wsha}-{tsha[:16]}.text.safetensors"
        if target == local or check_file(target, expected, wsha, tsha) is not None:
            made = _make(folder, target, expected, wsha, tsha)
            if made:
                return made
            if problem != "is missing":
                log.warning("%s %s; made it again from the folder's files into %s", local, problem, target)
    if reference is not None:
        _, arrays = read_file(target)
        ref = reference()
        for src, name in TENSORS.items():
            if src not in ref or not np.array_equal(np.asarray(ref[src], np.float32), arrays[name]):
                return {"reason": f"{folder}'s {WEIGHTS_NAME} is not the model the server loaded ({src} differs): "
                                  "the folder has changed since. Restart the explorer to load it anew."}
    return {"path": str(target), "sha256": file_sha256(target), "bytes": target.stat().st_size,
            "latent_dim": expected["latent_dim"], "num_classes": expected["num_classes"]}


def _make(folder: Path, target: Path, expected: dict, wsha: str, tsha: str) -> dict | None:
    """Write the decoder file to `target`; None when done and checked, else {"reason"}."""
    try:
        tensors, manifest = build(folder, wsha, tsha)
    except Unsupported as e:
        return {"reason": str(e)}
    except Exception as e:  # noqa: BLE001 - unreadable weights or tokenizer: the reason names it
        text = str(e).splitlines()[0] if str(e) else ""
        return {"reason": f"its decoder could not be made for the browser from {folder} ({type(e).__name__}"
                          f"{': ' + text if text else ''})."}
    wrong = [k for k in EXPECTED_KEYS if manifest[k] != expected[k]]
    if wrong:
        return {"reason": f"{folder}'s files describe another model than the one loaded ("
                          + ", ".join(f"{k} {manifest[k]} vs {expected[k]}" for k in wrong)
                          + "): the folder has changed since. Restart the explorer to load it anew."}
    from safetensors.numpy import save

    blob = save(tensors, metadata={"manifest": json.dumps(manifest, sort_keys=True)})
    if len(blob) > MAX_BYTES:
        return {"reason": f"its decoder's weights and token table are {len(blob) / 1e6:.1f} MB, over the "
                          f"{MAX_BYTES / 1e6:.0f} MB a page fetches; the server decodes instead."}
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp: Path(tmp).write_bytes(blob))
    except OSError as e:
        where = "" if target.parent == folder else f" into the cache {target.parent} ({folder} is read-only)"
        return {"reason": f"its in-page decoder could not be written{where} ({type(e).__name__}: {e}); the server "
                          "decodes instead."}
    after = check_file(target, expected, wsha, tsha)
    if after is not None:
        return {"reason": f"the in-page decoder written to {target} {after}; the server decodes instead."}
    log.info("made %s (%d bytes)", target, len(blob))
    return None


def build(folder: Path, wsha: str, tsha: str) -> tuple[dict, dict]:
    """({name: array}, manifest) of a folder's decoder file. Unsupported for a model or tokenizer the page cannot
    decode exactly; other exceptions for unreadable files."""
    from safetensors.numpy import load_file

    config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))["model"]
    if config.get("modality") != "text":
        raise Unsupported(f"{folder} holds no text model.")
    if config.get("decoder", "gru") != "gru":
        raise Unsupported(f"its decoder is {config.get('decoder')!r}; the page decodes the GRU decoder only.")
    from . import backend_spec   # the kind table says whether a text kind takes a class
    spec = backend_spec(config.get("kind"), "text")
    conditional = bool(spec and spec.capabilities.conditional)
    state = load_file(str(folder / WEIGHTS_NAME))
    decoder_keys = {k for k in state if k.startswith("decoder.")}
    unknown = sorted(decoder_keys - set(TENSORS))
    missing = sorted(set(TENSORS) - set(state))
    if unknown or missing:
        raise Unsupported("its decoder is not the one the page runs (one GRU layer, tied output): "
                          + "; ".join(filter(None, [f"unknown tensors {unknown[:4]}" if unknown else "",
                                                    f"missing tensors {missing[:4]}" if missing else ""])) + ".")
    tensors = {}
    for src, name in TENSORS.items():
        a = np.asarray(state[src])
        if a.dtype not in (np.float32, np.float16):
            raise Unsupported(f"its tensor {src} is {a.dtype}; the page reads float32 (or float16) weights.")
        a = np.ascontiguousarray(a, dtype=np.float32)  # float16 -> float32 is exact, as torch's load casts
        if not np.isfinite(a).all():
            raise Unsupported(f"its tensor {src} holds NaN or infinite values.")
        tensors[name] = a
    V, E = tensors["embed"].shape
    H, LC = tensors["init.weight"].shape
    C = int(config.get("num_classes") or 0) if conditional else 0
    L = LC - C
    offsets, data, tkind, sep = token_table(folder / TOKENIZER_NAME, V)
    tensors["token_offsets"] = offsets
    tensors["token_bytes"] = data
    manifest = {"format": FORMAT, "version": VERSION, "weights_sha256": wsha, "tokenizer_sha256": tsha,
                "latent_dim": L, "num_classes": C, "vocab_size": V, "max_len": int(config["max_len"]),
                "embed_dim": E, "dec_hidden": H, "pad": PAD, "bos": BOS, "eos": EOS, "unk": UNK,
                "tokenizer_kind": tkind, "separator": sep}
    bad = [n for n, s in shapes(manifest).items() if s is not None and tensors[n].shape != s]
    if bad:
        raise Unsupported(f"its decoder's tensors do not fit one another ({', '.join(bad)}).")
    return tensors, manifest


# ---------------------------------------------------------------------------------------------------------------
# The token table

def byte_level_map() -> dict[str, int]:
    """The ByteLevel char -> byte map (GPT-2's bytes_to_unicode), read from tokenizers' ByteLevel pre-tokenizer:
    every byte that valid UTF-8 holds is seen by pre-tokenizing characters whose UTF-8 holds it; the 13 bytes that
    never occur in UTF-8 (C0, C1, F5-FF) are the alphabet's remaining characters, which map to themselves."""
    from tokenizers import pre_tokenizers

    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    cps = [*range(0x800), *(lead << 12 for lead in range(16)), 0x800, 0x10000, 0x40000, 0x80000, 0xC0000, 0x100000]
    text = "".join(chr(cp) for cp in cps)
    chars = "".join(piece for piece, _ in bl.pre_tokenize_str(text))
    raw = text.encode("utf-8")
    if len(chars) != len(raw):
        raise Unsupported("tokenizers' ByteLevel pre-tokenizer does not map one byte to one character.")
    table: dict[str, int] = {}
    for c, b in zip(chars, raw):
        if table.setdefault(c, b) != b:
            raise Unsupported("tokenizers' ByteLevel map is not one-to-one.")
    rest = set(pre_tokenizers.ByteLevel.alphabet()) - set(table)
    unseen = set(range(256)) - set(table.values())
    if rest != {chr(b) for b in unseen}:
        raise Unsupported("tokenizers' ByteLevel alphabet is not GPT-2's.")
    table.update({chr(b): b for b in unseen})
    return table


def token_table(path: Path, vocab_size: int) -> tuple[np.ndarray, np.ndarray, str, str]:
    """(offsets (V+1,) int32, bytes (N,) uint8, tokenizer kind, separator) of a tokenizer.json, checked against
    tokenizers' own decode."""
    from tokenizers import Tokenizer

    text = path.read_text(encoding="utf-8")
    spec = json.loads(text)
    tok = Tokenizer.from_str(text)
    model = (spec.get("model") or {}).get("type")
    decoder = (spec.get("decoder") or {}).get("type") if spec.get("decoder") else None
    size = tok.get_vocab_size(with_added_tokens=True)
    if size != vocab_size:
        raise Unsupported(f"its tokenizer.json has {size} tokens but the weights {vocab_size}.")
    specials = [tok.id_to_token(i) for i in range(4)]
    if specials != ["<pad>", "<bos>", "<eos>", "<unk>"]:
        raise Unsupported(f"its tokenizer's ids 0-3 are {specials}, not <pad> <bos> <eos> <unk>.")
    tokens = [tok.id_to_token(i) for i in range(size)]
    if any(t is None for t in tokens):
        raise Unsupported("its tokenizer has gaps in its ids.")
    if model == "BPE" and decoder == "ByteLevel":
        kind, sep, cmap = "bpe", "", byte_level_map()
        # As tokenizers' ByteLevel decoder: a token all of whose characters are in the map is those bytes; any other
        # token (an added token with other characters) is its own UTF-8.
        pieces = [bytes(cmap[c] for c in t) if all(c in cmap for c in t) else t.encode("utf-8") for t in tokens]
    elif model == "WordLevel" and decoder is None:
        kind, sep = "word", " "          # no decoder: tokenizers joins the tokens with spaces
        pieces = [t.encode("utf-8") for t in tokens]
    elif model == "WordLevel" and decoder == "Fuse":
        kind, sep = "char", ""
        pieces = [t.encode("utf-8") for t in tokens]
    else:
        raise Unsupported(f"its tokenizer ({model} with the {decoder} decoder) is none of those the page decodes "
                          "(byte-level BPE, word, char).")
    offsets = np.zeros(size + 1, np.int64)
    offsets[1:] = np.cumsum([len(p) for p in pieces])
    data = np.frombuffer(b"".join(pieces), np.uint8).copy()
    _check_table(tok, pieces, sep.encode("utf-8"))
    return offsets.astype(np.int32), data, kind, sep


def join_tokens(pieces, ids, sep: bytes) -> str:
    """The page's detokenisation, in Python: the tokens' bytes joined by `sep`, read as UTF-8 (invalid bytes become
    U+FFFD, one per maximal invalid subsequence, as TextDecoder and tokenizers' from_utf8_lossy do)."""
    return sep.join(pieces[i] for i in ids).decode("utf-8", "replace")


def _check_table(tok, pieces: list[bytes], sep: bytes) -> None:
    """Every single token, and 400 seeded random sequences of 1-24 tokens (none of <pad> <bos> <eos>, which a
    sentence never holds), decode as tokenizers decodes them; else Unsupported."""
    n = len(pieces)
    rng = random.Random(0)
    seqs = [[i] for i in range(3, n)] + [[rng.randrange(3, n) for _ in range(rng.randint(1, 24))]
                                         for _ in range(400)]
    want = tok.decode_batch(seqs, skip_special_tokens=False)
    for s, w in zip(seqs, want):
        got = join_tokens(pieces, s, sep)
        if got != w:
            raise Unsupported(f"its tokenizer decodes tokens {s[:6]} as {w[:40]!r}, not as their bytes joined "
                              f"({got[:40]!r}); the page cannot reproduce that decode.")


__all__ = ["browser_text_decoder", "check_file", "read_file", "build", "token_table", "join_tokens", "FILE_NAME",
           "TENSORS", "MAX_BYTES"]
