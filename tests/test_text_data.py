"""Text corpora: WordNet data files, text files and fortunes-zh poems, written tiny to tmp_path in the real formats."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.data import DataError
from training.text_data import (CATEGORY_GROUPS, GROUP_NAMES, LEXNAMES, TEXT_DATASETS, gloss_definition,
                                load_text_dataset, load_text_file, load_wordnet, read_fortunes_poems, read_wordnet,
                                wordnet_license)

HEADER = ("  1 This software and database is being provided to you, the LICENSEE, by  \n"
          "  2 Princeton University under the following license.  \n"
          "  3   \n"
          "  4 WordNet 3.0 Copyright 2006 by Princeton University.  All rights reserved.  \n")
LONG = "a definition that goes on and on well past the sixteen words that the loader keeps by default here"
WORDNET = {
    "data.noun": HEADER + "".join([
        "00001740 03 n 01 entity 0 003 ~ 00001930 n 0000 ~ 00002137 n 0000 ~ 04424418 n 0000 | that which is "
        "perceived or known or inferred to have its own distinct existence (living or nonliving)  \n",
        '02084071 05 n 02 dog 0 domestic_dog 0 002 @ 02083346 n 0000 #m 02083863 n 0000 | a member of the genus '
        'Canis; "the dog barked all night"  \n',
        "02121620 05 n 01 cat 0 000 | a small domesticated feline  \n",
        "10129825 18 n 01 girl 0 000 | a young woman  \n",
        "02958343 06 n 02 car 0 auto 0 000 | a motor vehicle with four wheels  \n",
        "12345678 20 n 01 oak 0 000 | a tree of the genus Quercus  \n",
        f"00000100 04 n 01 long_act 0 000 | {LONG}  \n",
        '00000200 10 n 01 hello 0 000 | "hello there"; "hi"  \n',     # only examples: an empty definition
    ]),
    "data.verb": HEADER + "".join([
        "00001740 29 v 04 breathe 0 take_a_breath 0 respire 0 suspire 3 002 * 00005041 v 0000 $ 00004227 v 0000 02 "
        '+ 02 00 + 08 00 | draw air into, and expel out of, the lungs; "I can breathe better when the air is '
        'clean"  \n',
        "00002000 38 v 01 run 0 000 01 + 02 00 | move fast by using one's feet  \n",
        "00002001 38 v 01 sprint 0 000 01 + 02 00 | a young woman  \n",  # a duplicate of girl's definition
    ]),
    "data.adj": HEADER + "".join([
        "00020103 00 s 02 outback(a) 0 remote 0 001 & 00019874 a 0000 | inaccessible and sparsely populated;  \n",
        '00014358 00 s 02 abounding 0 galore(ip) 0 001 & 00013887 a 0000 | existing in abundance; "abounding '
        'confidence"  \n',
        "00100213 44 a 01 broken(p) 0 000 | physically and forcibly separated into pieces  \n",
    ]),
    "data.adv": HEADER + '00001740 02 r 01 barely 0 000 | only just; "we barely made it"  \n',
}


@pytest.fixture
def wordnet_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "wordnet"
    folder.mkdir()
    for name, text in WORDNET.items():
        (folder / name).write_text(text)
    return folder


def test_tables_cover_all_lexnames_in_ten_groups():
    assert len(LEXNAMES) == 45 and (LEXNAMES[0], LEXNAMES[5], LEXNAMES[44]) == ("adj.all", "noun.animal", "adj.ppl")
    assert set(CATEGORY_GROUPS) == set(LEXNAMES) and set(CATEGORY_GROUPS.values()) == set(GROUP_NAMES)
    assert len(GROUP_NAMES) == 10 and GROUP_NAMES[:3] == ("artifact", "person", "animal")
    assert CATEGORY_GROUPS["noun.food"] == "other noun" and CATEGORY_GROUPS["verb.motion"] == "verb"
    assert CATEGORY_GROUPS["adj.ppl"] == "adjective" and CATEGORY_GROUPS["adv.all"] == "adverb"


def test_gloss_definition_stops_at_the_first_example():
    assert gloss_definition('a member of the genus Canis; "the dog barked"; "x"') == "a member of the genus Canis"
    assert gloss_definition(" inaccessible and sparsely populated;  ") == "inaccessible and sparsely populated"
    assert gloss_definition('"hello there"; "hi"') == ""
    assert gloss_definition("(usually followed by `to') able") == "(usually followed by `to') able"


def test_read_wordnet_parses_every_synset(wordnet_dir):
    synsets = read_wordnet(wordnet_dir)
    assert len(synsets) == 15
    assert synsets[0][:2] == ("entity", "noun.Tops")
    assert synsets[1] == ("dog", "noun.animal", "a member of the genus Canis")           # 2 words: the first
    assert synsets[8] == ("breathe", "verb.body", "draw air into, and expel out of, the lungs")
    assert synsets[11] == ("outback", "adj.all", "inaccessible and sparsely populated")  # (a) and ';' removed
    assert [s[0] for s in synsets[12:]] == ["abounding", "broken", "barely"]
    assert synsets[13][1] == "adj.ppl" and synsets[14][1] == "adv.all"
    assert "Princeton University" in wordnet_license(wordnet_dir) and "  1" not in wordnet_license(wordnet_dir)


def test_load_wordnet_filters_dedupes_and_splits(wordnet_dir):
    ds = load_wordnet(wordnet_dir, test_fraction=0.25, seed=3)
    p = ds.provenance
    assert (p["read"], p["skipped_empty"], p["skipped_long"], p["duplicates"], p["kept"]) == (15, 1, 2, 1, 11)
    assert len(ds.train) == 8 and len(ds.test) == 3 and (p["train_texts"], p["test_texts"]) == (8, 3)
    assert ds.class_names == list(GROUP_NAMES) and "Princeton" in p["license"]
    texts = ds.train.texts + ds.test.texts
    assert len(set(texts)) == 11 and LONG not in texts and not any(t.startswith("that which") for t in texts)
    assert "sprint" not in ds.train.headwords + ds.test.headwords                       # the later duplicate went
    # every text keeps its headword, category and group label together
    for split in (ds.train, ds.test):
        assert split.labels.dtype == torch.int64 and split.labels.shape == (len(split),)
        for text, label, head, cat in zip(split.texts, split.labels.tolist(), split.headwords, split.categories):
            assert GROUP_NAMES[label] == CATEGORY_GROUPS[cat]
            if head == "dog":
                assert (text, cat, GROUP_NAMES[label]) == ("a member of the genus Canis", "noun.animal", "animal")
    assert p["class_counts"]["animal"] == 2 and p["class_counts"]["verb"] == 2 and sum(p["class_counts"].values()) == 11
    # the same seed gives the same split; another seed another one
    again = load_wordnet(wordnet_dir, test_fraction=0.25, seed=3)
    assert again.test.texts == ds.test.texts and torch.equal(again.train.labels, ds.train.labels)
    assert any(load_wordnet(wordnet_dir, test_fraction=0.25, seed=s).test.texts != ds.test.texts for s in range(4, 9))
    # a larger max_tokens keeps the long ones too (entity's definition is 17 words)
    assert load_wordnet(wordnet_dir, max_tokens=40).provenance["kept"] == 13


def test_missing_wordnet_names_the_package_and_data_dir(tmp_path, wordnet_dir):
    with pytest.raises(DataError, match=r"apt-get install -y wordnet-base.*--data-dir"):
        load_wordnet(tmp_path / "nowhere")
    (wordnet_dir / "data.adv").unlink()
    with pytest.raises(DataError, match=r"lacks data\.adv"):
        load_wordnet(wordnet_dir)


def test_malformed_wordnet_line_names_file_and_line(wordnet_dir):
    (wordnet_dir / "data.adv").write_text(HEADER + "00001740 02 r zz barely 0 000 | only just\n")
    with pytest.raises(DataError, match=r"data\.adv, line 5.*reinstall"):
        read_wordnet(wordnet_dir)


@pytest.mark.skipif(not Path("/usr/share/wordnet/data.noun").exists(), reason="needs Debian wordnet-base")
def test_real_wordnet():
    ds = load_wordnet()
    p = ds.provenance
    assert p["read"] == 117_659
    assert 95_000 <= p["kept"] <= 103_000 and len(ds.train) + len(ds.test) == p["kept"]
    assert len(ds.test) == round(p["kept"] * 0.05)
    assert all(p["class_counts"][g] > 1000 for g in GROUP_NAMES)
    assert "Princeton University" in wordnet_license()


# ---------------------------------------------------------------------------------------------------------------
# Text files

def _file(tmp_path: Path, text: str | bytes, name="corpus.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def test_text_file_with_labels(tmp_path):
    path = _file(tmp_path, "the cat sat\tpets\na dog ran\tpets\nrain fell\tweather\n"
                           "sun shone\tweather\nsnow\tweather\n")
    ds = load_text_file(path, test_fraction=0.2)
    assert ds.name == "text-file" and ds.class_names == ["pets", "weather"]
    assert len(ds.train) == 4 and len(ds.test) == 1
    for split in (ds.train, ds.test):
        for text, label, cat, head in zip(split.texts, split.labels.tolist(), split.categories, split.headwords):
            assert cat == ds.class_names[label] and head == "" and "\t" not in text
            assert (label == 0) == (text in ("the cat sat", "a dog ran"))
    assert ds.provenance["class_counts"] == {"pets": 2, "weather": 3}


def test_text_file_without_labels_counts_empty_long_and_duplicates(tmp_path):
    lines = ["one two three", "", "   ", "a b c d e f", "one two three", "four five", "six", "seven eight"]
    ds = load_text_file(_file(tmp_path, "\r\n".join(lines)), max_tokens=4, test_fraction=0.25, seed=1)
    p = ds.provenance
    assert ds.class_names == ["all"]
    assert (p["read"], p["skipped_empty"], p["skipped_long"], p["duplicates"], p["kept"]) == (8, 2, 1, 1, 4)
    assert "1 line(s) over 4 whitespace words" in p["message"] and "longest has 6" in p["message"]
    assert sorted(ds.train.texts + ds.test.texts) == ["four five", "one two three", "seven eight", "six"]
    assert ds.train.labels.tolist() == [0] * len(ds.train) and ds.train.categories == [""] * len(ds.train)


def test_char_kind_counts_characters(tmp_path):
    path = _file(tmp_path, "兰叶春葳蕤\n桂华秋皎洁\n欣欣此生意\n自尔为佳节。谁知林栖者\n")
    ds = load_text_file(path, max_tokens=5, tokenizer_kind="char")
    assert ds.provenance["kept"] == 3 and ds.provenance["skipped_long"] == 1
    assert "characters" in ds.provenance["message"]
    assert load_text_file(path, max_tokens=5, tokenizer_kind="word").provenance["kept"] == 4   # each is one "word"


def test_mixed_labels_name_the_first_unlabelled_line(tmp_path):
    path = _file(tmp_path, "a cat\tpets\nb dog\tpets\nrain falls\nsnow\tweather\n")
    with pytest.raises(DataError, match=r"line 3 has no label.*every line a label"):
        load_text_file(path)


def test_not_utf8_names_the_line_and_iconv(tmp_path):
    path = _file(tmp_path, "good line\nanother\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"not UTF-8 \(line 3, byte 0xe9\).*iconv -f latin1 -t utf-8"):
        load_text_file(path)


def test_bom_is_stripped(tmp_path):
    ds = load_text_file(_file(tmp_path, "\ufeffalpha beta\ngamma\ndelta\n"), test_fraction=0)
    assert ds.train.texts == ["alpha beta", "gamma", "delta"] and len(ds.test) == 0


def test_no_usable_lines_or_too_few(tmp_path):
    with pytest.raises(DataError, match=r"no usable line \(2 empty line\(s\), 1 line\(s\) over 2"):
        load_text_file(_file(tmp_path, "\n\nthree long words\n"), max_tokens=2)
    with pytest.raises(DataError, match=r"no usable line \(the file is empty\)"):
        load_text_file(_file(tmp_path, ""))
    with pytest.raises(DataError, match=r"only 2 usable line.*at least 3"):
        load_text_file(_file(tmp_path, "one\ntwo\none\n"))
    with pytest.raises(DataError, match=r"no such file.*--data-dir"):
        load_text_file(tmp_path / "missing.txt")


def test_dispatch(tmp_path, wordnet_dir):
    assert TEXT_DATASETS == ("wordnet", "text-file")
    assert load_text_dataset("wordnet", wordnet_dir).name == "wordnet"
    assert load_text_dataset("text-file", _file(tmp_path, "a\nb\nc\n"), test_fraction=0.4).provenance["test_texts"] == 1
    with pytest.raises(DataError, match="--data-dir FILE"):
        load_text_dataset("text-file")
    with pytest.raises(DataError, match="unknown; use one of wordnet, text-file"):
        load_text_dataset("poems")


# ---------------------------------------------------------------------------------------------------------------
# fortunes-zh poems

FORTUNES = ("\x1b[32m《感遇・其一》\x1b[m\n\x1b[33m作者：张九龄\x1b[m\n兰叶春葳蕤，桂华秋皎洁。\n欣欣此生意，自尔为佳节。\n"
            "%\n\x1b[32m《登鹳雀楼》\x1b[m\n\x1b[33m作者：王之涣\x1b[m\n白日依山尽，黄河入海流。\n"
            "欲穷千里目？更上一层楼！\n%\n\x1b[32m《七言》\x1b[m\n\x1b[33m作者：某\x1b[m\n春眠不觉晓处处闻，啼鸟abc。\n%\n")


def test_fortunes_five_character_lines(tmp_path):
    lines = read_fortunes_poems(_file(tmp_path, FORTUNES, "tang300"))
    assert lines == ["兰叶春葳蕤", "桂华秋皎洁", "欣欣此生意", "自尔为佳节", "白日依山尽", "黄河入海流", "欲穷千里目", "更上一层楼"]
    with pytest.raises(DataError, match="apt-get install -y fortunes-zh"):
        read_fortunes_poems(tmp_path / "nope")


@pytest.mark.skipif(not Path("/usr/share/games/fortunes/tang300").exists(), reason="needs Debian fortunes-zh")
def test_real_tang300():
    lines = read_fortunes_poems("/usr/share/games/fortunes/tang300")
    assert 1_250 <= len(lines) <= 1_450 and all(len(line) == 5 for line in lines)
    assert lines[0] == "兰叶春葳蕤"
