"""Tokenizers for the text models: Hugging Face `tokenizers`, trained offline on the corpus's train split.

Three kinds, one wrapper (`TextTokenizer`) so the models never see which:
  "bpe"   byte-level BPE (GPT-2 style): every byte is in the vocabulary, so no input ever has an unknown token,
          emoji and control characters included. NFKC-normalised, so decode(encode(t)) == NFKC(t).
  "word"  a fixed word vocabulary (WordLevel over the Whitespace pre-tokenizer, words and runs of punctuation):
          the baseline BPE is measured against; a word outside the vocabulary becomes <unk>. Decoding joins
          tokens with spaces, so "dog's" comes back as "dog ' s".
  "char"  one token a character (for Chinese poems); an unseen character becomes <unk>. NFC-normalised, not
          NFKC: the characters are the tokens, and NFKC would rewrite full-width punctuation such as "，" to ",".

The special tokens are always ids 0-3 (PAD, BOS, EOS, UNK). Text that happens to contain "<eos>" is tokenised as
ordinary text (`encode_special_tokens`), so an input can never end a sequence early. The tokenizer is saved as a
standard `tokenizer.json` beside the model weights; its kind is read back from the JSON itself (BPE model, or
WordLevel with a Whitespace or a Split pre-tokenizer), so the file stays loadable by any `tokenizers` client.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from .checkpoint import ModelLoadError, write_text

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")   # ids 0, 1, 2, 3 always
PAD, BOS, EOS, UNK = 0, 1, 2, 3
TOKENIZER_KINDS = ("bpe", "word", "char")
TOKENIZER_NAME = "tokenizer.json"
# Characters of input kept per token of max_len before tokenising: a 100,000-character input then costs what a
# 512-character one does. No BPE or word token of real text is anywhere near 32 characters long, so the first
# max_len tokens are unchanged (only a run of >32 characters per token, e.g. thousands of spaces, is cut short).
CHARS_PER_TOKEN = 32
MAX_TOKENIZER_BYTES = 50_000_000


class TextTokenizer:
    """A trained `tokenizers.Tokenizer` plus its kind; encodes batches to padded id tensors and back."""

    def __init__(self, tok: Tokenizer, kind: str):
        if kind not in TOKENIZER_KINDS:
            raise ValueError(f"tokenizer kind {kind!r} is unknown; use one of {', '.join(TOKENIZER_KINDS)}.")
        self.tok = tok
        self.kind = kind
        # Not stored in tokenizer.json, so set on every construction: "<eos>" typed by a user is plain text.
        self.tok.encode_special_tokens = True

    def __repr__(self) -> str:
        return f"TextTokenizer(kind={self.kind!r}, vocab_size={self.vocab_size})"

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size(with_added_tokens=True)

    # -- encoding --------------------------------------------------------------------------------------------

    def _prepare(self, texts: list[str], max_len: int | None) -> list[str]:
        if isinstance(texts, str):
            raise TypeError("texts must be a list of strings; wrap a single text in a list: [text].")
        out = []
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"texts[{i}] is {type(text).__name__}, not str.")
            if max_len is not None:
                # Leading whitespace is no token for "word", so it must not eat the character budget.
                text = (text.lstrip() if self.kind == "word" else text)[:max(1, max_len) * CHARS_PER_TOKEN]
            out.append(_rust_safe(text))
        return out

    def _ids(self, texts: list[str], max_len: int | None = None) -> list[list[int]]:
        """Token ids of each text, without specials."""
        return [e.ids for e in self.tok.encode_batch(self._prepare(texts, max_len), add_special_tokens=False)]

    def encode(self, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """texts (B strings) -> (ids (B, max_len + 2) int64, lengths (B,) int64).

        Each row is <bos> tokens <eos> <pad>...; tokens past max_len are cut and <eos> still follows them.
        lengths count <bos> and <eos>, so an empty text has length 2.
        """
        if not isinstance(max_len, int) or max_len < 0:
            raise ValueError(f"max_len={max_len!r}: it must be a whole number of at least 0.")
        rows, lengths = [], []
        for ids in self._ids(texts, max_len):
            row = [BOS, *ids[:max_len], EOS]
            lengths.append(len(row))
            rows.append(row + [PAD] * (max_len + 2 - len(row)))
        if not rows:
            return torch.zeros(0, max_len + 2, dtype=torch.int64), torch.zeros(0, dtype=torch.int64)
        return torch.tensor(rows, dtype=torch.int64), torch.tensor(lengths, dtype=torch.int64)

    def tokens(self, text: str) -> list[str]:
        """The token strings of one text, without specials (byte-level strings such as "Ġdog" for bpe)."""
        return self.tok.encode_batch(self._prepare([text], None), add_special_tokens=False)[0].tokens

    def count(self, text: str) -> int:
        """The number of tokens of one text, without specials and without truncation."""
        return len(self._ids([text])[0])

    # -- decoding --------------------------------------------------------------------------------------------

    def decode(self, ids: torch.Tensor | list[list[int]]) -> list[str]:
        """ids (B, T) -> B strings: each row stops at its first <eos>; <bos> and <pad> are dropped; <unk> shows as
        "<unk>". BPE's byte-level decoder restores spaces; word tokens are joined by spaces, characters by nothing.
        A 1-D tensor is one row. Ids outside the vocabulary read as <unk>."""
        if isinstance(ids, torch.Tensor):
            ids = (ids.unsqueeze(0) if ids.dim() == 1 else ids).tolist()
        size = self.vocab_size
        cleaned = []
        for row in ids:
            row = [int(i) for i in row]
            if EOS in row:
                row = row[:row.index(EOS)]
            cleaned.append([i if 0 <= i < size else UNK for i in row if i not in (PAD, BOS)])
        # skip_special_tokens would also drop <unk>, which a reader should see; pad/bos/eos are gone already.
        return self.tok.decode_batch(cleaned, skip_special_tokens=False)

    # -- measuring -------------------------------------------------------------------------------------------

    def unk_rate(self, texts: list[str]) -> dict:
        """How well the vocabulary covers `texts` (untruncated): {"texts", "texts_with_unk" (fraction of texts
        with at least one <unk>), "unk_tokens" (fraction of tokens that are <unk>), "tokens_per_text" (mean)}."""
        all_ids = self._ids(texts)
        n_tokens = sum(len(ids) for ids in all_ids)
        n_unk = sum(ids.count(UNK) for ids in all_ids)
        n = max(1, len(all_ids))
        return {"texts": len(all_ids), "texts_with_unk": sum(UNK in ids for ids in all_ids) / n,
                "unk_tokens": n_unk / max(1, n_tokens), "tokens_per_text": n_tokens / n}

    # -- files -----------------------------------------------------------------------------------------------

    def to_json(self) -> str:
        return self.tok.to_str()

    @classmethod
    def from_json(cls, s: str) -> TextTokenizer:
        """Rebuild from `to_json` text; ValueError if it is not a tokenizer this module trained."""
        try:
            spec = json.loads(s)
            tok = Tokenizer.from_str(s)
        except (json.JSONDecodeError, TypeError) as e:
            raise ValueError(f"not valid JSON ({e})") from e
        except Exception as e:  # tokenizers raises a bare Exception for JSON it cannot build a tokenizer from
            raise ValueError(f"not a tokenizers tokenizer ({e})") from e
        kind = _kind_of(spec)
        specials = [tok.id_to_token(i) for i in range(len(SPECIALS))]
        if tuple(specials) != SPECIALS:
            raise ValueError(f"its ids 0-3 are {specials}, not {list(SPECIALS)}")
        return cls(tok, kind)

    def save(self, folder: str | Path) -> Path:
        """Write folder/tokenizer.json atomically; returns its path."""
        path = Path(folder) / TOKENIZER_NAME
        write_text(path, self.to_json())
        return path

    @classmethod
    def load(cls, folder: str | Path) -> TextTokenizer:
        """Read folder/tokenizer.json; ModelLoadError (a ValueError) naming the file and the fix if it is missing
        or corrupt."""
        path = Path(folder) / TOKENIZER_NAME
        fix = "re-train the model, or copy tokenizer.json from the training run that wrote its weights."
        if not path.is_file():
            raise ModelLoadError(f"{path} is missing: a text model needs the tokenizer it was trained with; {fix}")
        if path.stat().st_size > MAX_TOKENIZER_BYTES:
            raise ModelLoadError(f"{path} is {path.stat().st_size} bytes, far too large for a tokenizer; {fix}")
        try:
            return cls.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ModelLoadError(f"{path} cannot be read as a tokenizer: {e}. The file is corrupt; {fix}") from e


def _rust_safe(text: str) -> str:
    """Lone surrogates (left by a bad decode) cannot cross into Rust: they become U+FFFD instead of an error."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _kind_of(spec) -> str:
    """"bpe" / "word" / "char" from a tokenizer.json's model and pre-tokenizer types."""
    model = spec.get("model", {}).get("type") if isinstance(spec, dict) else None
    pre = (spec.get("pre_tokenizer") or {}).get("type") if isinstance(spec, dict) else None
    kind = {("BPE", "ByteLevel"): "bpe", ("WordLevel", "Whitespace"): "word", ("WordLevel", "Split"): "char"}.get(
        (model, pre))
    if kind is None:
        raise ValueError(f"model {model} with pre-tokenizer {pre} is none of the kinds this package trains "
                         "(BPE + ByteLevel, WordLevel + Whitespace, WordLevel + Split)")
    return kind


def _build(kind: str) -> Tokenizer:
    """An untrained tokenizer of `kind`: model, normaliser, pre-tokenizer and decoder."""
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.normalizer = normalizers.NFKC()
        # add_prefix_space=False: a leading space would be added on encode and kept on decode, so text would not
        # round-trip. The first word of a text is then its own token ("a" vs "Ġa"), as in GPT-2.
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
    elif kind == "word":
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.normalizer = normalizers.NFKC()
        tok.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+ | [^\w\s]+ ; no decoder: decode joins with spaces
    elif kind == "char":
        tok = Tokenizer(models.WordLevel(unk_token="<unk>"))
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")  # every character, spaces too
        tok.decoder = decoders.Fuse()  # join the characters with nothing
    else:
        raise ValueError(f"tokenizer kind {kind!r} is unknown; use one of {', '.join(TOKENIZER_KINDS)}.")
    return tok


def train_tokenizer(texts: list[str], kind: str = "bpe", vocab_size: int = 8000,
                    min_frequency: int = 2) -> TextTokenizer:
    """Train a tokenizer of `kind` on `texts` (the train split: the test split must stay unseen).

    vocab_size counts the 4 specials (and, for bpe, the 256 byte tokens, so it must be at least 260); min_frequency
    is the fewest times a merge (bpe), a word (word) or a character (char) must occur to enter the vocabulary.
    """
    tok = _build(kind)
    if isinstance(texts, str) or not texts:
        raise ValueError("train_tokenizer needs a non-empty list of texts (the corpus's train split).")
    floor = len(SPECIALS) + (256 if kind == "bpe" else 1)
    if not isinstance(vocab_size, int) or vocab_size < floor:
        raise ValueError(f"vocab_size={vocab_size!r}: a {kind} tokenizer needs at least {floor} (4 specials"
                         f"{' + 256 bytes' if kind == 'bpe' else ' + 1 token'}); 8000 is a good start.")
    specials = list(SPECIALS)  # listed first, so they take ids 0-3
    if kind == "bpe":
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    else:
        trainer = trainers.WordLevelTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=specials, show_progress=False)
    tok.train_from_iterator([_rust_safe(t) for t in texts], trainer=trainer, length=len(texts))
    return TextTokenizer(tok, kind)
