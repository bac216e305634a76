"""Text corpora for the text models, read offline: WordNet 3.0 definitions, or a plain text file of one sentence a line.

Both are read into memory as lists of strings (WordNet's 99,000 short definitions are 5 MB) and split once into a
seeded train / test pair, the way `training.data` does for images. Tokenising is not done here: `training.tokenizer`
trains a tokenizer on the train split, so the corpus and the vocabulary stay separate steps.

WordNet (Debian package `wordnet-base`, files in /usr/share/wordnet) gives ~99,000 distinct short definitions, each
with a headword ("dog") and a fine category (its lexicographer file, "noun.animal"), which `CATEGORY_GROUPS` folds
into 10 colour groups for the latent map. Lengths are counted in whitespace words, `len(text.split())`, not in
tokenizer tokens, so the corpus does not depend on which tokenizer is trained on it later (a BPE tokenizer makes
about 1.3 tokens of a word; size the model's max_len from the tokenizer, not from `max_tokens`).

`read_fortunes_poems` reads the Tang poems of Debian's `fortunes-zh` into five-character lines: a small corpus for
the character-level path and for users building a poetry file for `load_text_file`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .data import DataError

TEXT_DATASETS = ("wordnet", "text-file")
WORDNET_DIRS = ("/usr/share/wordnet",)
WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")  # the order duplicates are resolved in
WORDNET_LICENSE = ("WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved. "
                   "Used under the WordNet 3.0 licence: https://wordnet.princeton.edu/license-and-commercial-use")
WORDNET_LICENSE_NOTE = ("WordNet 3.0 licence: Princeton University; see /usr/share/wordnet or "
                        "https://wordnet.princeton.edu/license-and-commercial-use")
WORDNET_INSTALL = ("install it with `apt-get install -y wordnet-base` (files land in /usr/share/wordnet), or pass "
                   "--data-dir DIR pointing at a folder holding the WordNet 3.0 files " + ", ".join(WORDNET_FILES))

# The standard WordNet lexicographer files (lexnames(5WN)): lex_filenum in a data line -> lexname.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact", "noun.attribute",
    "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon", "noun.plant", "noun.possession",
    "noun.process", "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition", "verb.consumption",
    "verb.contact", "verb.creation", "verb.emotion", "verb.motion", "verb.perception", "verb.possession",
    "verb.social", "verb.stative", "verb.weather", "adj.ppl",
)

# 10 colour groups: the six largest noun categories on their own, the rest by part of speech. A map legend of
# 45 colours cannot be read; these 10 are each 4-20% of the kept definitions.
GROUP_NAMES = ("artifact", "person", "animal", "plant", "act", "communication", "other noun", "verb", "adjective",
               "adverb")
_OWN_GROUP = {"noun.artifact": "artifact", "noun.person": "person", "noun.animal": "animal", "noun.plant": "plant",
              "noun.act": "act", "noun.communication": "communication"}
CATEGORY_GROUPS: dict[str, str] = {
    name: _OWN_GROUP.get(name) or {"noun": "other noun", "verb": "verb", "adj": "adjective", "adv": "adverb"}[
        name.split(".")[0]]
    for name in LEXNAMES
}

_ADJ_MARKER = re.compile(r"\((?:a|p|ip)\)$")              # "galore(ip)": where the adjective may stand
_ANSI = re.compile(r"\x1b\[[0-9;]*m")                     # the colour escapes around fortunes' titles and authors
_POEM_PUNCTUATION = re.compile(r"[，。？！；]")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


@dataclass
class TextSplit:
    texts: list[str]
    labels: torch.Tensor            # (N,) int64 class index (0 where the corpus has no labels)
    headwords: list[str]            # (N,) the WordNet headword; "" for a text file
    categories: list[str]           # (N,) the fine category: WordNet lexname ("noun.animal"), a text file's label, ""

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class TextDataset:
    name: str                       # "wordnet" or "text-file"
    train: TextSplit
    test: TextSplit
    class_names: list[str]
    provenance: dict = field(default_factory=dict)


def count_words(text: str) -> int:
    """The length rule for WordNet and word / BPE text files: whitespace-separated words, `len(text.split())`."""
    return len(text.split())


# ---------------------------------------------------------------------------------------------------------------
# Shared steps: drop empty and long texts, remove duplicates, split

@dataclass
class _Rows:
    """Parallel columns of a corpus while it is filtered; one entry per text."""
    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    headwords: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)

    def add(self, text: str, label: int, headword: str, category: str) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.headwords.append(headword)
        self.categories.append(category)

    def take(self, index: list[int]) -> TextSplit:
        labels = torch.tensor([self.labels[i] for i in index], dtype=torch.int64)
        return TextSplit([self.texts[i] for i in index], labels, [self.headwords[i] for i in index],
                         [self.categories[i] for i in index])


def _check_split_args(max_tokens: int, test_fraction: float) -> None:
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise DataError(f"max_tokens={max_tokens!r}: it must be a whole number of at least 1, e.g. 16.")
    if not 0 <= test_fraction < 1:
        raise DataError(f"test_fraction={test_fraction!r}: it must be at least 0 and below 1, e.g. 0.05.")


def _split(rows: _Rows, test_fraction: float, seed: int) -> tuple[TextSplit, TextSplit]:
    """A seeded permutation holds out round(N * test_fraction) texts (at least 1 when test_fraction > 0).

    Each split keeps corpus order (the held-out indices are sorted), so a split reads like the source file.
    """
    n = len(rows.texts)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    test_idx, train_idx = sorted(perm[:n_test].tolist()), sorted(perm[n_test:].tolist())
    return rows.take(train_idx), rows.take(test_idx)


# ---------------------------------------------------------------------------------------------------------------
# WordNet

def find_wordnet(folder: str | Path | None = None) -> Path:
    """The folder holding the four WordNet data files: `folder`, else the first of WORDNET_DIRS that has them."""
    candidates = [Path(folder)] if folder is not None else [Path(d) for d in WORDNET_DIRS]
    for candidate in candidates:
        if all((candidate / name).is_file() for name in WORDNET_FILES):
            return candidate
    where = str(candidates[0]) if folder is not None else " or ".join(WORDNET_DIRS)
    if folder is not None and Path(folder).is_dir():
        missing = [name for name in WORDNET_FILES if not (Path(folder) / name).is_file()]
        raise DataError(f"wordnet: {folder} lacks {', '.join(missing)}; {WORDNET_INSTALL}.")
    raise DataError(f"wordnet: no WordNet data files in {where}; {WORDNET_INSTALL}.")


def _read_ascii_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}: not UTF-8 (line {line}, byte 0x{data[e.start]:02x}); the file is damaged. "
                        "Reinstall it with `apt-get install --reinstall -y wordnet-base`.") from e


def wordnet_license(folder: str | Path | None = None) -> str:
    """The licence notice at the top of data.noun (its lines start with two spaces and a line number)."""
    path = find_wordnet(folder) / "data.noun"
    lines = []
    for line in _read_ascii_lines(path):
        if not line.startswith("  "):
            break
        lines.append(re.sub(r"^\s+\d+ ?", "", line).rstrip())
    return "\n".join(lines).strip()


def gloss_definition(gloss: str) -> str:
    """The definition part of a WordNet gloss: the text before the first quoted example (`; "`), stripped.

    `'a member of the genus Canis; "the dog barked all night"'` -> `'a member of the genus Canis'`.
    A gloss that is only examples (it starts with a quote) has an empty definition.
    """
    gloss = gloss.strip()
    if gloss.startswith('"'):
        return ""
    return gloss.split('; "', 1)[0].strip().rstrip(";").strip()


def read_wordnet(folder: str | Path | None = None) -> list[tuple[str, str, str]]:
    """Every synset of the four WordNet 3.0 data files, in file order noun, verb, adj, adv.

    Returns [(headword, lexname, definition)]: headword is the synset's first word with underscores as spaces and
    no adjective marker ("(a)", "(p)", "(ip)"); lexname comes from lex_filenum via LEXNAMES; definition is
    `gloss_definition` of the gloss. 117,659 synsets with the real files.

    A data line is `offset lex_filenum ss_type w_cnt word lex_id [word lex_id...] p_cnt [ptr...] [frames...] | gloss`
    with w_cnt two hex digits; the licence header lines start with two spaces.
    """
    folder = find_wordnet(folder)
    synsets = []
    for name in WORDNET_FILES:
        path = folder / name
        for number, line in enumerate(_read_ascii_lines(path), 1):
            if not line.strip() or line.startswith("  "):
                continue
            head, bar, gloss = line.partition(" | ")
            fields = head.split()
            try:
                if not bar or len(fields) < 6:
                    raise ValueError("no ' | ' before the gloss" if not bar else "too few fields")
                lexname = LEXNAMES[int(fields[1])]
                word = fields[4] if int(fields[3], 16) >= 1 else ""
            except (ValueError, IndexError) as e:
                raise DataError(f"{path}, line {number}: not a WordNet 3.0 data line ({e}): {line[:80]!r}. "
                                "Reinstall the file with `apt-get install --reinstall -y wordnet-base`.") from e
            headword = _ADJ_MARKER.sub("", word).replace("_", " ")
            synsets.append((headword, lexname, gloss_definition(gloss)))
    return synsets


def load_wordnet(folder: str | Path | None = None, *, max_tokens: int = 16, test_fraction: float = 0.05,
                 seed: int = 0) -> TextDataset:
    """WordNet definitions as a labelled text corpus; labels are GROUP_NAMES indices (CATEGORY_GROUPS).

    Keeps definitions of at most `max_tokens` whitespace words (`len(text.split())`), as written (no lower-casing),
    and drops exact duplicate definitions, keeping the first in file order (noun, verb, adj, adv). A seeded
    `test_fraction` is held out. About 99,000 are kept from the real files with max_tokens=16.
    """
    _check_split_args(max_tokens, test_fraction)
    folder = find_wordnet(folder)
    synsets = read_wordnet(folder)
    group_index = {name: i for i, name in enumerate(GROUP_NAMES)}
    rows, seen = _Rows(), set()
    empty = long = duplicates = 0
    for headword, lexname, definition in synsets:
        if not definition:
            empty += 1
        elif count_words(definition) > max_tokens:
            long += 1
        elif definition in seen:
            duplicates += 1
        else:
            seen.add(definition)
            rows.add(definition, group_index[CATEGORY_GROUPS[lexname]], headword, lexname)
    if not rows.texts:
        raise DataError(f"wordnet: no definition in {folder} has at most {max_tokens} words; raise max_tokens.")
    train, test = _split(rows, test_fraction, seed)
    counts = torch.bincount(torch.tensor(rows.labels), minlength=len(GROUP_NAMES)).tolist()
    provenance = {
        "source": "wordnet", "dataset": "wordnet", "data_dir": str(folder.resolve()),
        "files": [str((folder / name).resolve()) for name in WORDNET_FILES], "license": WORDNET_LICENSE_NOTE,
        "read": len(synsets), "kept": len(rows.texts), "skipped_empty": empty, "skipped_long": long,
        "duplicates": duplicates, "max_tokens": max_tokens, "length_unit": "whitespace words",
        "test_fraction": test_fraction, "seed": seed, "train_texts": len(train), "test_texts": len(test),
        "class_counts": dict(zip(GROUP_NAMES, counts)),
    }
    return TextDataset("wordnet", train, test, list(GROUP_NAMES), provenance)


# ---------------------------------------------------------------------------------------------------------------
# A text file: one sentence a line, optionally TAB and a label

def _decode_text_file(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read ({e.strerror or e}). Pass --data-dir FILE naming a readable text file "
                        "with one sentence a line.") from e
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark, as some Windows editors write
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path} is not UTF-8 (line {line}, byte 0x{data[e.start]:02x}): re-save it as UTF-8, e.g. "
                        f"`iconv -f latin1 -t utf-8 {path.name} > {path.stem}.utf8{path.suffix}`.") from e


def load_text_file(path: str | Path, *, max_tokens: int = 16, tokenizer_kind: str = "word",
                   test_fraction: float = 0.05, seed: int = 0) -> TextDataset:
    """A UTF-8 text file of one sentence a line, each optionally followed by a TAB and a class label.

    Lengths are counted in characters for tokenizer_kind="char" and in whitespace words otherwise ("word", "bpe");
    lines over `max_tokens` are skipped, as are empty lines, and duplicates (the first copy and its label are kept).
    Either every kept line has a label or none has: with none, every label is 0 and class_names == ["all"]; with
    labels, class_names are the sorted distinct labels. The text is split at the line's last TAB.
    """
    _check_split_args(max_tokens, test_fraction)
    if tokenizer_kind not in ("bpe", "word", "char"):
        raise DataError(f"tokenizer_kind={tokenizer_kind!r} is unknown; use one of bpe, word, char.")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file. Pass --data-dir FILE naming a UTF-8 text file with one sentence a line "
                        "(optionally TAB and a label).")
    measure = len if tokenizer_kind == "char" else count_words
    unit = "characters" if tokenizer_kind == "char" else "whitespace words"
    lines = _decode_text_file(path).splitlines()
    kept: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    empty = long = duplicates = longest = 0
    first_labelled = first_unlabelled = None  # line numbers, to name the first offender of a mixed file
    for number, raw in enumerate(lines, 1):
        text, tab, label = raw.rpartition("\t")
        if not tab:
            text, label = raw, ""
        text, label = text.strip(), label.strip()
        if not text:
            empty += 1
            continue
        if label and first_labelled is None:
            first_labelled = number
        if not label and first_unlabelled is None:
            first_unlabelled = number
        size = measure(text)
        if size > max_tokens:
            long, longest = long + 1, max(longest, size)
            continue
        if text in seen:
            duplicates += 1
            continue
        seen.add(text)
        kept.append((text, label or None))
    if first_labelled is not None and first_unlabelled is not None:
        raise DataError(f"{path}: line {first_unlabelled} has no label but line {first_labelled} has one. Either give "
                        "every line a label (sentence, TAB, label) or remove the labels from every line.")
    skipped_msg = (f"{long} line(s) over {max_tokens} {unit} were skipped (the longest has {longest})"
                   if long else "")
    if not kept:
        reasons = ", ".join(filter(None, [f"{empty} empty line(s)" if empty else "", skipped_msg]))
        raise DataError(f"{path}: no usable line ({reasons or 'the file is empty'}). Put one sentence a line, or "
                        "raise max_tokens.")
    class_names = sorted({label for _, label in kept}) if first_labelled is not None else ["all"]
    index = {name: i for i, name in enumerate(class_names)}
    rows = _Rows()
    for text, label in kept:
        rows.add(text, index[label] if label is not None else 0, "", label or "")
    train, test = _split(rows, test_fraction, seed)
    if len(train) < 2 or (test_fraction > 0 and len(test) < 1):
        raise DataError(f"{path}: only {len(kept)} usable line(s), {len(train)} to train on after holding out "
                        f"{len(test)} to test; at least 3 distinct lines are needed. Add more sentences.")
    provenance = {
        "source": "text-file", "dataset": "text-file", "files": [str(path.resolve())],
        "read": len(lines), "kept": len(kept), "skipped_empty": empty, "skipped_long": long, "longest_skipped": longest,
        "duplicates": duplicates, "max_tokens": max_tokens, "length_unit": unit, "test_fraction": test_fraction,
        "seed": seed, "train_texts": len(train), "test_texts": len(test),
        "class_counts": dict(zip(class_names, torch.bincount(torch.tensor(rows.labels),
                                                             minlength=len(class_names)).tolist())),
    }
    if skipped_msg:
        provenance["message"] = skipped_msg + "; raise max_tokens to keep them."
    return TextDataset("text-file", train, test, class_names, provenance)


def load_text_dataset(name: str, data_dir: str | Path | None = None, **kw) -> TextDataset:
    """Load a text corpus by name: "wordnet" (data_dir: the WordNet folder, default /usr/share/wordnet) or
    "text-file" (data_dir: the text file). Keyword arguments go to load_wordnet / load_text_file."""
    if name == "wordnet":
        return load_wordnet(data_dir, **kw)
    if name == "text-file":
        if data_dir is None:
            raise DataError("dataset 'text-file' needs --data-dir FILE naming a UTF-8 text file, one sentence a line.")
        return load_text_file(data_dir, **kw)
    raise DataError(f"text dataset {name!r} is unknown; use one of {', '.join(TEXT_DATASETS)}.")


# ---------------------------------------------------------------------------------------------------------------
# Chinese poems (Debian fortunes-zh)

def read_fortunes_poems(path: str | Path = "/usr/share/games/fortunes/tang300") -> list[str]:
    """The five-character lines of a fortunes-zh poem file (tang300), in file order, duplicates kept.

    Entries are separated by lines "%"; each has a title and an author line in ANSI colour escapes
    (`\\x1b[32m《...》\\x1b[m`, `\\x1b[33m作者：...\\x1b[m`), then poem lines like `兰叶春葳蕤，桂华秋皎洁。`.
    Poem lines are split at ，。？！； and the segments of exactly five CJK characters are kept.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; install it with `apt-get install -y fortunes-zh` "
                        "(files land in /usr/share/games/fortunes), or pass the path of a fortunes file.")
    lines = []
    for raw in _decode_text_file(path).splitlines():
        if raw.strip() == "%" or _ANSI.search(raw):  # entry separators, titles and authors
            continue
        for segment in _POEM_PUNCTUATION.split(raw):
            segment = segment.strip()
            if len(segment) == 5 and all(_CJK.fullmatch(ch) for ch in segment):
                lines.append(segment)
    return lines
