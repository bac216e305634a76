"""Training dynamics tab: reconstruction vs KL per epoch, and the KL of each latent dimension; for a GAN, the
discriminator's and generator's losses, and D(x) against D(G(z)).

Element ids: tab-dynamics, dynamics-help, history-plot, kl-plot, dynamics-note.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...tools import dynamics as tool
from ..context import FAST, PageContext, friendly
from ..style import PLOTLY_HEAD, static_js

TITLE = "Training dynamics"
NEEDS = ()
HELP = """**Training dynamics.** The two terms of the loss per epoch (history.json of the model picked
above): the reconstruction loss falls as the KL term rises, the tug-of-war of the ELBO. The bars show how many nats
each latent dimension costs on average (metrics.json): grey dimensions are unused by the model."""
GAME_HELP = """**Training dynamics of a GAN.** Two networks play a game (history.json of the model picked above,
one point per epoch): the discriminator D learns to tell real images from generated ones, the generator G to fool
it. Left: both losses. Right: D(x), D's average output on real images, against D(G(z)), on generated ones.
**A healthy game:** D(x) and D(G(z)) both stay away from 0 and 1 (D(x) a little above ½, D(G(z)) a little below),
and the losses level off near the dotted lines of an even game: neither explodes, and D's loss does not go to 0 (a
discriminator that wins outright gives the generator no gradient). **Mode collapse:** G's loss falls while its
samples lose variety, one class comes to dominate them (the class spread in the note, from metrics.json), and
D(G(z)) oscillates as D learns to reject the few images G makes and G hops to others."""
PLOT_TEMPLATE = '<div class="xp-plot"></div>'
PLOT_CSS = ".xp-plot { width:100%; height:340px; }"


@dataclass
class DynamicsTab:
    tab: gr.Tab
    help: gr.Markdown
    note: gr.Markdown
    history: gr.HTML
    kl: gr.HTML


def layout(ctx: PageContext) -> DynamicsTab:
    plot_js = static_js("plot.js")
    with gr.Tab(TITLE, elem_id="tab-dynamics") as tab:
        help_ = gr.Markdown(HELP, elem_id="dynamics-help")
        note = gr.Markdown("", elem_id="dynamics-note")
        with gr.Row(equal_height=False):
            history = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=PLOTLY_HEAD,
                              elem_id="history-plot", css_template=PLOT_CSS, min_height=340)
            kl = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=PLOTLY_HEAD,
                         elem_id="kl-plot", css_template=PLOT_CSS, min_height=340)
    return DynamicsTab(tab, help_, note, history, kl)


def wire(ctx: PageContext, tabs: dict) -> None:
    t: DynamicsTab = tabs["dynamics"]

    @friendly
    def on_dynamics(name):
        hist = tool.training_history(ctx.registry, name)
        return (tool.history_figure(hist), tool.detail_figure(hist), tool.dynamics_note(hist),
                GAME_HELP if hist["adversarial"] else HELP)

    gr.on([t.tab.select, ctx.model_picker.change], on_dynamics, [ctx.model_picker],
          [t.history, t.kl, t.note, t.help], trigger_mode="always_last", **FAST)
