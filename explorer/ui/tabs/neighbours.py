"""Nearest neighbours tab: the test images whose latent means are nearest to the current z.

Element ids: tab-neighbours, neighbours, neighbours-button. They follow z on every change but a slider's drag
itself (a release, the map click, random, reset, arithmetic).
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...modalities.image import figure_row
from ...tools import explore
from ...tools.neighbours import nearest_neighbours
from ..context import EMPTY, FAST, PageContext, friendly
from ..style import STRIP_CSS

TITLE = "Nearest neighbours"
NEEDS = ()
HELP = """**Nearest neighbours.** The 8 test images whose codes (latent means; a GAN's inverted codes) are nearest to the
current z (Euclidean distance in latent space), nearest first, with their classes. They follow z when you release a
slider, click the map, draw a random sample or reset; the button refreshes them after any other change."""


@dataclass
class NeighboursTab:
    tab: gr.Tab
    html: gr.HTML
    button: gr.Button


def layout(ctx: PageContext) -> NeighboursTab:
    with gr.Tab(TITLE, elem_id="tab-neighbours") as tab:
        gr.Markdown(HELP)
        html = gr.HTML(EMPTY.format("Open this tab to see the neighbours of the current z."),
                       elem_id="neighbours", js_on_load=None, css_template=STRIP_CSS)
        button = gr.Button("Refresh: neighbours of the current z", elem_id="neighbours-button", size="sm")
    return NeighboursTab(tab, html, button)


def reset(ctx: PageContext, t: NeighboursTab, info) -> dict:
    return {t.html: EMPTY.format("Open this tab or press the button.")}


def neighbours_html(found: list[dict]) -> str:
    """The neighbours as a strip of images with captions; a text model's as a list of definitions with headwords."""
    if found and "headword" in found[0]:
        from ...modalities.text import TextModality
        return TextModality().sentences([n["text"] for n in found],
                                        [f"{n['headword']} · {n['class_name']} · d {n['distance']:.2f}:"
                                         for n in found])
    captions = [f"#{n['index']} · {n['class_name']} · d {n['distance']:.2f}" for n in found]
    return figure_row([n["image"] for n in found], captions, "xp-strip xp-neighbours")


def wire(ctx: PageContext, tabs: dict) -> None:
    t: NeighboursTab = tabs["neighbours"]
    reg, model = ctx.registry, ctx.model_picker

    @friendly
    def on_neighbours(name, *zs):
        loaded = reg.get(name)
        return neighbours_html(nearest_neighbours(loaded, ctx.zs_of(loaded, zs)))

    @friendly
    def on_neighbours_random(name, seed):
        loaded = reg.get(name)  # the same seed the random button's own event got, so the same z
        return neighbours_html(nearest_neighbours(loaded, explore.random_z(loaded, seed)[0]))

    @friendly
    def on_neighbours_reset(name):
        loaded = reg.get(name)
        return neighbours_html(nearest_neighbours(loaded, explore.zero_z(loaded)))

    # A release, not every move, keeps the drag at one request per move.
    gr.on([t.button.click, t.tab.select, *[s.release for s in ctx.sliders]], on_neighbours, [model, *ctx.sliders],
          t.html, trigger_mode="always_last", queue=False, **FAST)
    ctx.random_btn.click(on_neighbours_random, [model, ctx.seed], t.html, queue=False, **FAST)
    ctx.reset_btn.click(on_neighbours_reset, [model], t.html, queue=False, **FAST)
