"""The map's selection: lasso or box some points, and see them as a grid with their class counts, download them as
CSV, or load their mean code into the sliders (explorer.tools.selection; /select is the same through the API).

Element ids: selection-hint, selection-panel, selection-counts, selection-grid, selection-use, selection-csv.
The map's JavaScript (static/latent_map.js) sends trigger("submit", {indices}) when a lasso or box selection
ends, and {indices: []} when it is cleared (a double click).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
import numpy as np

from ..modalities.image import as_unit_float, png_data_uri, sheet
from ..tools import explore, selection
from ..validation import InputError
from .context import BLANK, FAST, IMG_TEMPLATE, PageContext, friendly

HINT = ("**Select a region:** pick the lasso or the box in the map's toolbar and drag around points; a double "
        "click on the map clears the selection.")


@dataclass
class SelectionPanel:
    panel: gr.Column
    counts: gr.Markdown
    grid: gr.HTML
    use: gr.Button
    csv: gr.DownloadButton
    state: gr.State


def layout() -> SelectionPanel:
    gr.Markdown(HINT, elem_id="selection-hint")
    with gr.Column(visible=False, elem_id="selection-panel", variant="panel") as panel:
        counts = gr.Markdown("", elem_id="selection-counts")
        grid = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="the selected items", caption="",
                       elem_id="selection-grid", js_on_load=None)
        with gr.Row():
            use = gr.Button("Use the selection's mean code as z", elem_id="selection-use", size="sm")
            csv = gr.DownloadButton("Download the selection (CSV)", elem_id="selection-csv", size="sm")
    return SelectionPanel(panel, counts, grid, use, csv, gr.State(None))


def grid_html(loaded, summary: dict) -> str:
    """The first selection.MAX_GRID selected items: one picture of images (10 a row), or a list of definitions."""
    items = selection.grid_items(loaded, summary)
    lmap = loaded.latent_map
    if explore.is_text(loaded):
        rows = "".join(f"<li><b>{html.escape(str(lmap.headwords[i]))}</b>: {html.escape(str(lmap.texts[i]))}</li>"
                       for i in summary["indices"][:selection.MAX_GRID])
        return f'<ol class="xp-selection-text">{rows}</ol>'
    picture = sheet(np.stack([as_unit_float(im) for im in items]), nrow=min(10, len(items)),
                    scale=max(1, 56 // items.shape[1]))
    return png_data_uri(picture)


def wire(ctx: PageContext, p: SelectionPanel) -> None:
    registry = ctx.registry

    @friendly
    def on_selected(name, evt: gr.EventData = None):
        data = getattr(evt, "_data", None)
        indices = data.get("indices") if isinstance(data, dict) else None
        if indices == []:                      # the selection was cleared
            return gr.update(visible=False), "", gr.skip(), gr.skip(), None
        loaded = registry.get(name)
        summary = selection.summarize(loaded, indices)
        shown = min(summary["count"], selection.MAX_GRID)
        line = selection.counts_line(summary) + (f" The first {shown} are shown." if shown < summary["count"] else "")
        return (gr.update(visible=True), html.escape(line), grid_html(loaded, summary),
                gr.update(value=str(selection.selection_csv(loaded, summary))), summary)

    @friendly
    def on_use(name, label, proj, summary):
        if not isinstance(summary, dict) or "mean_z" not in summary:
            raise InputError("there is no selection: select points on the map with the lasso or box tool first.")
        loaded = registry.get(name)
        z = summary["mean_z"]
        view = explore.decoded_view(loaded, z, label if loaded.num_classes else None, proj)
        status = f"Loaded the mean code of the {summary['count']:,} selected points."
        return [*ctx.z_updates(loaded, view), *ctx.slider_updates(loaded, z, values_only=True), status]

    ctx.latent_map.submit(on_selected, [ctx.model_picker], [p.panel, p.counts, p.grid, p.csv, p.state], **FAST)
    p.use.click(on_use, [ctx.model_picker, ctx.class_picker, ctx.projection, p.state],
                [*ctx.z_outputs, *ctx.sliders, ctx.status], **FAST)
