"""Your own text tab (a text model's counterpart of the sketchpad): type a sentence, and its code goes into the
sliders and onto the map; the nearest test definitions and their headwords make a reverse dictionary, and a text
CVAE ranks every category group by -ELBO.

Element ids: tab-text, text-off, text-controls, text-input, encode-text-button, text-reconstruction, text-ranking,
reverse-dictionary, text-note. For an image model, text-off says why the tab is off and text-controls is hidden.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...backends import reason
from ...modalities.text import MAX_INPUT_CHARS, escape
from ...tools import explore
from ...tools import typed_text as tool
from ...tools.drawing import ranking_rows
from ..context import EMPTY, FAST, IMG_TEMPLATE, PageContext, friendly
from .drawing import RANK_CSS, RANK_TEMPLATE

TITLE = "Your own text"
NEEDS = tool.NEEDS
HELP = f"""**Your own text.** Type a definition or any short sentence and press **Encode text** (or Enter). The
encoder's mean of it goes into the sliders, so the big panel shows the decoder's greedy reconstruction and the
yellow dot on the map marks it. Below, the test definitions whose codes are nearest make a *reverse dictionary*: the
words the model thinks you are defining. A category-conditioned model (CVAE) also ranks every category group by how
well it explains your sentence (−ELBO). At most {MAX_INPUT_CHARS:,} characters are read."""
TEXT_RANK_TEMPLATE = RANK_TEMPLATE.replace("picture", "sentence")


@dataclass
class TextInputTab:
    off: gr.Markdown
    body: gr.Column
    text: gr.Textbox
    button: gr.Button
    reconstruction: gr.HTML
    ranking: gr.HTML
    dictionary: gr.HTML
    note: gr.Markdown


def _off(info) -> str | None:
    return reason(info.capabilities, *NEEDS) if info and not info.error else None


def layout(ctx: PageContext) -> TextInputTab:
    default = ctx.registry.info(ctx.registry.default) if ctx.registry.default else None
    off0 = _off(default)
    with gr.Tab(TITLE, elem_id="tab-text"):
        off = gr.Markdown(f"**{TITLE}** is off for this model: {off0}" if off0 else "", visible=bool(off0),
                          elem_id="text-off")
        with gr.Column(visible=not off0, elem_id="text-controls") as body:
            gr.Markdown(HELP)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    text = gr.Textbox(label="Your sentence", placeholder="a small domesticated carnivorous mammal",
                                      lines=2, max_lines=6, elem_id="text-input")
                    button = gr.Button("Encode text", variant="primary", elem_id="encode-text-button")
                    reconstruction = gr.HTML('<div class="xp-sentence xp-blank"></div>', html_template=IMG_TEMPLATE,
                                             alt="", caption="Its greedy reconstruction",
                                             elem_id="text-reconstruction", js_on_load=None)
                    ranking = gr.HTML([], html_template=TEXT_RANK_TEMPLATE, elem_id="text-ranking", js_on_load=None,
                                      css_template=RANK_CSS)
                with gr.Column(scale=4, min_width=300):
                    dictionary = gr.HTML(EMPTY.format("The nearest definitions appear here."),
                                         elem_id="reverse-dictionary", js_on_load=None)
            note = gr.Markdown("", elem_id="text-note")
    return TextInputTab(off, body, text, button, reconstruction, ranking, dictionary, note)


def reset(ctx: PageContext, t: TextInputTab, info) -> dict:
    """Show the controls, or the reason they are off for this model; forget the last sentence's results."""
    why = _off(info)
    return {t.off: gr.update(value=f"**{TITLE}** is off for this model: {why}" if why else "", visible=bool(why)),
            t.body: gr.update(visible=not why), t.note: "",
            t.dictionary: EMPTY.format("The nearest definitions appear here.")}


def dictionary_html(found: list[dict]) -> str:
    """The reverse dictionary: the nearest test definitions, headword first, nearest first."""
    items = "".join(f'<li><b>{escape(n["headword"])}</b> <span class="xp-cap">({escape(n["category"])}, '
                    f'd {n["distance"]:.2f})</span>: {escape(n["text"])}</li>' for n in found)
    return ('<div class="xp-caption" style="text-align:left">Reverse dictionary: the nearest test definitions'
            f'</div><ol class="xp-sentences">{items}</ol>')


def wire(ctx: PageContext, tabs: dict) -> None:
    t: TextInputTab = tabs["text_input"]
    reg = ctx.registry

    @friendly
    def on_encode_text(name, label, proj, text):
        loaded = reg.get(name)
        out = tool.encode_typed_text(loaded, text)
        conditional = bool(loaded.num_classes)
        new_label = out["label"] if conditional else label
        view = explore.decoded_view(loaded, out["z"], new_label, proj)
        note = "Its code is now in the sliders, and the yellow dot on the map marks it."
        if out["notes"]:  # escaped: "<unk>" would read as an HTML tag in Markdown
            note = " ".join(escape(n) for n in out["notes"]) + " " + note
        if out["ranking"]:
            best = out["ranking"][0]
            note += (f" Best category: **{escape(best['class_name'])}** (−ELBO {best['neg_elbo']:.1f} nats), now "
                     "picked above.")
        head = out["neighbours"][0]["headword"] if out["neighbours"] else ""
        m = loaded.modality
        return [m.render(out["reconstruction"]), ranking_rows(out["ranking"]), dictionary_html(out["neighbours"]),
                note, new_label if conditional else gr.skip(),
                f"Loaded the latent mean of your sentence (nearest headword: {head}).",
                *ctx.z_updates(loaded, view), *ctx.slider_updates(loaded, out["z"], values_only=True)]

    outputs = [t.reconstruction, t.ranking, t.dictionary, t.note, ctx.class_picker, ctx.status, *ctx.z_outputs,
               *ctx.sliders]
    inputs = [ctx.model_picker, ctx.class_picker, ctx.projection, t.text]
    gr.on([t.button.click, t.text.submit], on_encode_text, inputs, outputs, **FAST)
