"""Attribute arithmetic tab: move z along the difference of two classes' mean codes (unconditional models; a
conditional model's tab explains that its class picker does this).

Element ids: tab-arithmetic, arith-from, arith-to, arith-strength, arith-preview, arith-note, arith-apply,
arith-cvae-note.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...modalities.image import figure_row
from ...tools import arithmetic as tool
from ...tools import explore
from ...tools.neighbours import nearest_neighbours
from ..context import FAST, PageContext, friendly
from ..style import STRIP_CSS
from .neighbours import neighbours_html

TITLE = "Attribute arithmetic"
NEEDS = ()
HELP = """**Attribute arithmetic.** Each class has a mean code (the average code of its test images: their latent
means, or for a GAN the codes GAN inversion found for them).
Adding s × (mean of the target class − mean of the source class) to z moves the image towards the target class while
keeping some of its style. The strip previews s from 0 to your strength; **Apply** loads the result into the
sliders."""


@dataclass
class ArithmeticTab:
    tab: gr.Tab
    conditional_note: gr.Markdown  # shown instead of the controls for a conditional model
    box: gr.Column
    from_class: gr.Dropdown
    to_class: gr.Dropdown
    strength: gr.Slider
    preview: gr.HTML
    note: gr.Markdown
    apply: gr.Button


def _class_updates(info) -> tuple[dict, dict]:
    choices = [(c, i) for i, c in enumerate(info.class_names)] if info else []
    return (dict(choices=choices, value=3 if len(choices) > 3 else None),
            dict(choices=choices, value=8 if len(choices) > 8 else None))


def layout(ctx: PageContext) -> ArithmeticTab:
    default = ctx.registry.info(ctx.registry.default) if ctx.registry.default else None
    conditional0 = bool(default and default.capabilities.conditional)
    first, second = _class_updates(default)
    with gr.Tab(TITLE, elem_id="tab-arithmetic") as tab:
        conditional_note = gr.Markdown("**Attribute arithmetic.** " + tool.CVAE_ARITHMETIC, visible=conditional0,
                                       elem_id="arith-cvae-note")
        with gr.Column(visible=not conditional0) as box:
            gr.Markdown(HELP)
            with gr.Row():
                from_class = gr.Dropdown(**first, label="Move this", elem_id="arith-from", interactive=True)
                to_class = gr.Dropdown(**second, label="towards the", elem_id="arith-to", interactive=True)
                strength = gr.Slider(0, tool.MAX_STRENGTH, value=1.0, step=0.05, label="Strength s",
                                     elem_id="arith-strength", buttons=[])
            preview = gr.HTML("", elem_id="arith-preview", js_on_load=None, css_template=STRIP_CSS)
            note = gr.Markdown("", elem_id="arith-note")
            apply = gr.Button("Apply: load z + s × (mean_to − mean_from) into the sliders", variant="primary",
                              elem_id="arith-apply")
    return ArithmeticTab(tab, conditional_note, box, from_class, to_class, strength, preview, note, apply)


def reset(ctx: PageContext, t: ArithmeticTab, info) -> dict:
    conditional = info.capabilities.conditional
    first, second = _class_updates(info)
    return {t.conditional_note: gr.update(visible=conditional), t.box: gr.update(visible=not conditional),
            t.from_class: gr.update(**first), t.to_class: gr.update(**second), t.preview: ""}


def wire(ctx: PageContext, tabs: dict) -> None:
    t: ArithmeticTab = tabs["arithmetic"]
    nn_html = tabs["neighbours"].html
    reg, sliders = ctx.registry, ctx.sliders

    def view(loaded, zs, f, to, s):
        res = tool.move_towards(loaded, zs, f, to, s)
        caps = [f"s = {v:.2f}" for v in res["strengths"]]
        if loaded.capabilities.text:  # the sentence moving towards the other category, step by step
            return res, loaded.modality.sentences(res["images"], caps), res["note"]
        return res, figure_row(res["images"], caps, "xp-strip"), res["note"]

    @friendly
    def on_arith_preview(name, f, to, s, *zs):
        loaded = reg.get(name)
        if loaded.num_classes:
            return gr.skip(), gr.skip()
        _, row, note = view(loaded, ctx.zs_of(loaded, zs), f, to, s)
        return row, note

    @friendly
    def on_arith_apply(name, label, proj, f, to, s, *zs):
        loaded = reg.get(name)
        res, _, note = view(loaded, ctx.zs_of(loaded, zs), f, to, s)
        decoded = explore.decoded_view(loaded, res["z"], label, proj)
        _, row, _ = view(loaded, res["z"], f, to, s)  # the preview now starts from the new z
        names = loaded.latent_map.class_names
        status = f"Moved z towards the {names[int(to)]}s (from the {names[int(f)]}s) with strength {float(s):g}."
        return [*ctx.z_updates(loaded, decoded), status, *ctx.slider_updates(loaded, res["z"], values_only=True), row,
                note, neighbours_html(nearest_neighbours(loaded, res["z"]))]

    arith_in = [ctx.model_picker, t.from_class, t.to_class, t.strength, *sliders]
    gr.on([t.strength.input, t.from_class.input, t.to_class.input, t.tab.select], on_arith_preview, arith_in,
          [t.preview, t.note], trigger_mode="always_last", queue=False, **FAST)
    t.apply.click(on_arith_apply, [ctx.model_picker, ctx.class_picker, ctx.projection, t.from_class, t.to_class,
                                   t.strength, *sliders],
                  [*ctx.z_outputs, ctx.status, *sliders, t.preview, t.note, nn_html], queue=False, **FAST)
