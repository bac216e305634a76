"""Training dynamics tab: reconstruction vs KL per epoch, and the KL of each latent dimension.

Element ids: tab-dynamics, history-plot, kl-plot, dynamics-note.
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
PLOT_TEMPLATE = '<div class="xp-plot"></div>'
PLOT_CSS = ".xp-plot { width:100%; height:340px; }"


@dataclass
class DynamicsTab:
    tab: gr.Tab
    note: gr.Markdown
    history: gr.HTML
    kl: gr.HTML


def layout(ctx: PageContext) -> DynamicsTab:
    plot_js = static_js("plot.js")
    with gr.Tab(TITLE, elem_id="tab-dynamics") as tab:
        gr.Markdown(HELP)
        note = gr.Markdown("", elem_id="dynamics-note")
        with gr.Row(equal_height=False):
            history = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=PLOTLY_HEAD,
                              elem_id="history-plot", css_template=PLOT_CSS, min_height=340)
            kl = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=PLOTLY_HEAD,
                         elem_id="kl-plot", css_template=PLOT_CSS, min_height=340)
    return DynamicsTab(tab, note, history, kl)


def wire(ctx: PageContext, tabs: dict) -> None:
    t: DynamicsTab = tabs["dynamics"]

    @friendly
    def on_dynamics(name):
        hist = tool.training_history(ctx.registry, name)
        return tool.history_figure(hist), tool.kl_figure(hist), tool.dynamics_note(hist)

    gr.on([t.tab.select, ctx.model_picker.change], on_dynamics, [ctx.model_picker], [t.history, t.kl, t.note],
          trigger_mode="always_last", **FAST)
