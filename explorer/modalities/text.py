"""The text modality: how sentences are shown (large, HTML-escaped; a path of them; a table of them) and how a
person's typed text is prepared for a text model's encoder. No torch: the backend tokenises.

Shapes: one output is a str; a batch is an (N,) array or list of str.
"""
from __future__ import annotations

import html
import unicodedata

import numpy as np

from ..validation import InputError, shown

MAX_INPUT_CHARS = 2000     # typed text beyond this is cut (with a note): a definition is a line, not a page
EMPTY_SENTENCE = "(the decoder wrote nothing: an empty sentence)"


def escape(text) -> str:
    """HTML-escaped, and "$" and "`" too: the page's templates are JavaScript template strings (gradio's gr.HTML),
    so a sentence must never be read as one."""
    return html.escape(str(text)).replace("$", "&#36;").replace("`", "&#96;")


def _sentence(text) -> str:
    text = str(text)
    return escape(text) if text.strip() else f'<span class="xp-none">{escape(EMPTY_SENTENCE)}</span>'


def prepare_text(text, max_chars: int = MAX_INPUT_CHARS) -> tuple[str, list[str]]:
    """A person's text, ready for the encoder, and notes on what was changed.

    Raises InputError for something that is not text, or empty (whitespace only). Longer than `max_chars`: cut,
    with a note (so a 100,000-character paste answers at once). Control characters (tabs and newlines become
    spaces) and unassigned or private-use code points are dropped; emoji and other characters are kept, but a note
    says the tokenizer may not know them (a word tokenizer reads them as <unk>; byte-level BPE has no unknown
    tokens). NFKC normalisation, which the tokenizers apply, is noted when it changes the text. Text of control
    characters only is still encoded (as the empty sentence), with a note.
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        raise InputError("type a sentence first: the text box is empty (e.g. \"a small domesticated carnivorous "
                         "mammal\").")
    if not isinstance(text, str):
        raise InputError(f"the text must be a string, got {shown(text)}; type a sentence such as \"a large "
                         "wild cat\".")
    notes = []
    if len(text) > max_chars:
        notes.append(f"The text had {len(text):,} characters; only the first {max_chars:,} were read (the model "
                     "reads a short sentence, a definition).")
        text = text[:max_chars]
    kept, dropped = [], 0
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t\n\r\f\v":
            kept.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Co", "Cn"):  # control, format, surrogate, private use, unassigned
            dropped += 1
        else:
            kept.append(ch)
    text = " ".join("".join(kept).split())
    if dropped:
        notes.append(f"Dropped {dropped} control or invisible character{'s' if dropped != 1 else ''}.")
    normal = unicodedata.normalize("NFKC", text)
    if normal != text:
        notes.append("Some characters were normalised (NFKC: e.g. full-width letters or ligatures to plain ones).")
    unusual = sorted({ch for ch in normal if ord(ch) > 0x2FF and not ch.isalpha()})
    if unusual:
        notes.append(f"The text holds characters the model rarely or never saw in training "
                     f"({''.join(unusual[:12])}); they are encoded as they are (an unknown word reads as <unk>).")
    if not normal.strip():  # still encoded (the empty sentence has a code), but the note says so
        notes.append("Nothing but control or invisible characters was typed, so the code is that of an empty "
                     "sentence; type words to see where they fall.")
    return normal, notes


class TextModality:
    """What the page needs to know about text outputs: their placeholder and how sentences are shown."""
    name = "text"

    def __init__(self, shape=()):
        self.shape = tuple(shape)
        self.blank = '<div class="xp-sentence xp-blank"></div>'

    def render(self, text, scale=None) -> str:
        """One sentence, large and HTML-escaped (starts with "<", which the page's image template tells from a
        PNG data URI)."""
        return f'<div class="xp-sentence">{_sentence(text)}</div>'

    def render_small(self, text) -> str:
        """One sentence in a row of many (a CVAE's sentence under every class)."""
        return f'<div class="xp-sentence-small">{_sentence(text)}</div>'

    def array(self, text, scale=None) -> str:
        """One output as the API sends it: the sentence itself."""
        return str(text)

    def sentences(self, texts, captions: list[str] | None = None, css_class: str = "xp-sentences") -> str:
        """A list of sentences (an interpolation path, neighbours), each with an optional caption, as escaped HTML."""
        captions = captions or [""] * len(texts)
        items = "".join(f'<li><span class="xp-cap">{escape(c)}</span> {_sentence(t)}</li>'
                        for t, c in zip(texts, captions))
        return f'<ol class="{css_class}">{items}</ol>'

    def table(self, rows, row_labels: list[str], col_labels: list[str]) -> str:
        """A table of sentences, rows (R, C) of str: one row per latent dimension, one column per sweep value."""
        head = "".join(f"<th>{escape(c)}</th>" for c in col_labels)
        body = "".join("<tr><th>" + escape(r) + "</th>"
                       + "".join(f"<td>{_sentence(t)}</td>" for t in row) + "</tr>"
                       for r, row in zip(row_labels, np.asarray(rows, dtype=object)))
        return f'<div class="xp-table-wrap"><table class="xp-text-table"><tr><th></th>{head}</tr>{body}</table></div>'
