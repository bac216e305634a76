"""Tokenizers: the three kinds trained on tiny corpora; round trips, shapes, hostile text, coverage, tokenizer.json."""
from __future__ import annotations

import time
import unicodedata

import pytest
import torch

from training.checkpoint import ModelLoadError
from training.tokenizer import (BOS, EOS, PAD, SPECIALS, TOKENIZER_KINDS, UNK, TextTokenizer, train_tokenizer)

ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "goat", "duck", "goose", "hen", "pig"]
ADJECTIVES = ["small", "large", "young", "old", "wild", "tame", "brown", "white"]
# a few hundred short definition-like lines, each word seen many times
CORPUS = [f"a {ADJECTIVES[i % 8]} {ANIMALS[i % 10]} that lives on a farm, {ANIMALS[(i * 3) % 10]} or not"
          for i in range(300)]
POEMS = ["兰叶春葳蕤", "桂华秋皎洁", "欣欣此生意", "自尔为佳节", "白日依山尽", "黄河入海流"] * 20
HOSTILE = ["", " ", "\x00\x01\x07\x1b[31m\t\r\n", "😀🐕‍🦺 emoji 🇫🇷", "\ud800 lone surrogate", "<eos> <pad> <bos>",
           "x" * 100_000, "dog " * 25_000, " " * 100_000, "兰" * 100_000]


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, TextTokenizer]:
    return {"bpe": train_tokenizer(CORPUS, "bpe", vocab_size=400),
            "word": train_tokenizer(CORPUS, "word", vocab_size=100),
            "char": train_tokenizer(POEMS + CORPUS, "char", vocab_size=200)}


def test_specials_take_ids_0_to_3(tokenizers):
    assert (PAD, BOS, EOS, UNK) == (0, 1, 2, 3)
    for kind, tok in tokenizers.items():
        assert tok.kind == kind and [tok.tok.id_to_token(i) for i in range(4)] == list(SPECIALS)
    assert 260 < tokenizers["bpe"].vocab_size <= 400 and tokenizers["word"].vocab_size <= 100


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_round_trip_of_in_vocabulary_text(tokenizers, kind):
    tok = tokenizers[kind]
    texts = CORPUS[:5] if kind != "word" else ["a small dog that lives on a farm", "cat or not"]
    if kind == "char":
        texts = POEMS[:6] + ["a white goat"]
    ids, lengths = tok.encode(texts, max_len=64)
    assert tok.decode(ids) == texts
    assert lengths.tolist() == [tok.count(t) + 2 for t in texts]


def test_word_decode_joins_by_spaces_and_marks_unknowns(tokenizers):
    tok = tokenizers["word"]
    assert tok.tokens("a dog, a zebra") == ["a", "dog", ",", "a", "<unk>"] and tok.count("a dog, a zebra") == 5
    ids, _ = tok.encode(["a dog, a zebra"], max_len=8)
    assert ids[0, 5].item() == UNK and tok.decode(ids) == ["a dog , a <unk>"]


def test_bpe_round_trips_any_text(tokenizers):
    tok = tokenizers["bpe"]
    texts = ["zyzzyva quokka", "naïve café ÅNGSTRÖM", "😀🐕‍🦺 emoji 🇫🇷", "tab\there\x00\x07 ctrl", "兰叶春葳蕤",
             "  leading and trailing  ", "<eos> typed by a user <pad>"]
    ids, lengths = tok.encode(texts, max_len=200)
    assert (ids == UNK).sum() == 0
    assert tok.decode(ids) == [unicodedata.normalize("NFKC", t) for t in texts]
    assert tok.decode(ids[:, :3].tolist()) == [tok.decode([row[:3]])[0] for row in ids.tolist()]  # list input too


def test_shapes_lengths_and_truncation(tokenizers):
    tok = tokenizers["word"]
    ids, lengths = tok.encode(["a small dog", "", "a small dog that lives on a farm"], max_len=4)
    assert ids.shape == (3, 6) and ids.dtype == torch.int64 and lengths.tolist() == [5, 2, 6]
    assert ids[:, 0].tolist() == [BOS] * 3
    assert ids[0, 4].item() == EOS and ids[0, 5].item() == PAD
    assert ids[1].tolist() == [BOS, EOS, PAD, PAD, PAD, PAD]
    assert ids[2, 5].item() == EOS and tok.decode(ids)[2] == "a small dog that"     # cut, eos still added
    assert tok.decode(torch.tensor([BOS, ids[0, 1].item(), EOS, ids[0, 2].item()])) == ["a"]  # stops at the first eos
    assert tok.decode([[BOS, PAD, 10_000, -5]]) == ["<unk> <unk>"]                  # out-of-range ids read as unk
    empty_ids, empty_lengths = tok.encode([], max_len=4)
    assert empty_ids.shape == (0, 6) and empty_lengths.shape == (0,)
    with pytest.raises(TypeError, match=r"list of strings"):
        tok.encode("a dog", max_len=4)


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_hostile_inputs_never_raise_and_stay_fast(tokenizers, kind):
    tok = tokenizers[kind]
    ids, lengths = tok.encode(HOSTILE, max_len=16)
    assert ids.shape == (len(HOSTILE), 18) and ids[0].tolist()[:3] == [BOS, EOS, PAD]
    assert ((ids >= 0) & (ids < tok.vocab_size)).all() and (lengths <= 18).all()
    assert all(isinstance(t, str) for t in tok.decode(ids))
    assert lengths[6].item() == (3 if kind == "word" else 18)                      # "xxx..." is one unknown word
    if kind == "bpe":
        assert (ids == UNK).sum() == 0                                                 # bytes cover everything
    else:
        assert (ids[3] == UNK).any()                                                   # the emoji are unknown
    # "<eos>" typed by a user is text, not the end of the sequence
    assert (ids[5, 1:lengths[5] - 1] != EOS).all() and lengths[5].item() > 3
    start = time.perf_counter()
    tok.encode(["x" * 100_000], max_len=16)
    assert time.perf_counter() - start < 0.05


def test_unk_rate_word_vs_bpe(tokenizers):
    unseen = ["a small zebra", "a dog", "an okapi or a quokka", "cat"]
    word = tokenizers["word"].unk_rate(unseen)
    assert word["texts"] == 4 and word["texts_with_unk"] == 0.5
    # "an", "okapi", "quokka" and "zebra" are outside the vocabulary: 4 of 11 tokens
    assert word["unk_tokens"] == pytest.approx(4 / 11) and word["tokens_per_text"] == 11 / 4
    bpe = tokenizers["bpe"].unk_rate(unseen)
    assert bpe["texts_with_unk"] == 0 and bpe["unk_tokens"] == 0 and bpe["tokens_per_text"] > word["tokens_per_text"]


@pytest.mark.parametrize("kind", TOKENIZER_KINDS)
def test_save_and_load_give_identical_ids(tokenizers, kind, tmp_path):
    tok = tokenizers[kind]
    path = tok.save(tmp_path)
    assert path == tmp_path / "tokenizer.json" and not list(tmp_path.glob(".*.tmp"))
    loaded = TextTokenizer.load(tmp_path)
    assert loaded.kind == kind and loaded.vocab_size == tok.vocab_size
    texts = CORPUS[:3] + POEMS[:2] + HOSTILE
    assert torch.equal(loaded.encode(texts, 16)[0], tok.encode(texts, 16)[0])
    ids = tok.encode(texts, 16)[0]
    assert TextTokenizer.from_json(tok.to_json()).decode(ids) == tok.decode(ids)


def test_missing_or_corrupt_tokenizer_json(tmp_path, tokenizers):
    with pytest.raises(ModelLoadError, match=r"tokenizer\.json is missing.*re-train.*copy tokenizer\.json"):
        TextTokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"version": "1.0", "model": ')
    with pytest.raises(ValueError, match=r"cannot be read as a tokenizer.*corrupt.*copy tokenizer\.json"):
        TextTokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelLoadError, match="corrupt"):
        TextTokenizer.load(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"a": 1}')
    with pytest.raises(ModelLoadError, match="corrupt"):
        TextTokenizer.load(tmp_path)
    # a valid tokenizers file that this package did not train (specials elsewhere) is refused too
    from tokenizers import Tokenizer, models, pre_tokenizers
    other = Tokenizer(models.WordLevel({"hello": 0, "<unk>": 1}, unk_token="<unk>"))
    other.pre_tokenizer = pre_tokenizers.Whitespace()
    (tmp_path / "tokenizer.json").write_text(other.to_str())
    with pytest.raises(ModelLoadError, match=r"ids 0-3"):
        TextTokenizer.load(tmp_path)


def test_train_arguments_are_checked():
    with pytest.raises(ValueError, match="at least 260"):
        train_tokenizer(CORPUS, "bpe", vocab_size=100)
    with pytest.raises(ValueError, match="unknown; use one of bpe, word, char"):
        train_tokenizer(CORPUS, "sentencepiece")
    with pytest.raises(ValueError, match="non-empty list"):
        train_tokenizer([], "word")


def test_char_tokenizer_unknown_characters(tokenizers):
    tok = tokenizers["char"]
    assert tok.tokens("兰叶 春") == ["兰", "叶", " ", "春"]
    ids, _ = tok.encode(["兰龘叶"], max_len=8)
    assert ids[0, 2].item() == UNK and tok.decode(ids) == ["兰<unk>叶"]
