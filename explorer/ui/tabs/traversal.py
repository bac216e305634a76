"""Traversal grid tab: one row per latent dimension, swept while the rest of the current z is held.

Element ids: tab-traversal, traverse-button, traverse-grid, traverse-note, traverse-download.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr

from ...modalities.image import png_data_uri, sheet
from ...tools import traversal as tool
from ..context import EMPTY, FAST, PageContext, friendly, png_name, save_png, save_text, txt_name
from ..style import STRIP_CSS

TITLE = "Traversal grid"
NEEDS = ()
HELP = """**Traversal grid.** One row per latent dimension: that dimension takes the values −3 … 3 while the rest
of the current z stays as it is. Rows are ordered by how much the model uses each dimension. A VAE or CVAE: by its
average KL, the nats it costs to encode; a dimension with KL near zero is one the decoder ignores, so its row is
flat, and counting the rows that change gives the model's *active units*. A GAN has no KL term, so its rows are
ordered by how much each dimension changes the image: the mean absolute pixel change along the sweep, measured on
the grid you see. A plain AE: by the variance of its test codes."""
GRID_CSS = """
.xp-grid { border-collapse:collapse; margin:0 auto; width:auto !important; border:none !important; }
.xp-grid th, .xp-grid td, .xp-grid tr { border:none !important; background:none !important; }
.xp-grid th { font-weight:normal; font-size:0.8em; padding:0 8px 0 0 !important; text-align:right;
              white-space:nowrap; }
.xp-grid thead th { text-align:center; width:60px; padding:0 !important; }
.xp-grid td { padding:0 !important; line-height:0; }
.xp-grid img { display:block; width:544px; height:64px; image-rendering:pixelated; }
.xp-grid tr.unused th { opacity:0.55; font-style:italic; }
"""


@dataclass
class TraversalTab:
    tab: gr.Tab
    button: gr.Button
    download: gr.DownloadButton
    note: gr.Markdown
    grid: gr.HTML


def layout(ctx: PageContext) -> TraversalTab:
    with gr.Tab(TITLE, elem_id="tab-traversal") as tab:
        gr.Markdown(HELP)
        with gr.Row():
            button = gr.Button("Traverse the current z", variant="primary", elem_id="traverse-button")
            download = gr.DownloadButton("Download grid (PNG)", value=None, interactive=False,
                                         elem_id="traverse-download")
        note = gr.Markdown("", elem_id="traverse-note")
        grid = gr.HTML(EMPTY.format("Open this tab or press the button to draw the grid."),
                       elem_id="traverse-grid", js_on_load=None, css_template=STRIP_CSS + GRID_CSS)
    return TraversalTab(tab, button, download, note, grid)


def reset(ctx: PageContext, t: TraversalTab, info) -> dict:
    return {t.grid: EMPTY.format("Press the button to draw the grid for this model."), t.note: "",
            t.download: gr.update(value=None, interactive=False)}


def traversal_html(result: dict) -> str:
    """One table row per dimension: its label and its 9 images as one PNG (fewer, larger images are faster)."""
    n = len(result["columns"])  # the ends and the middle are labelled: -3 / 0 / 3, or -3σ / mean / +3σ
    cols = "".join(f"<th>{html.escape(c) if i in (0, n // 2, n - 1) else ''}</th>"
                   for i, c in enumerate(result["columns"]))
    body = []
    for row, imgs in zip(result["rows"], result["images"]):
        uri = png_data_uri(sheet(imgs, nrow=len(imgs), padding=2))
        cls = "" if row["active"] else ' class="unused"'
        body.append(f'<tr{cls} data-dim="{row["dim"]}"><th scope="row">{html.escape(row["label"])}</th>'
                    f'<td colspan="9"><img src="{uri}" alt="traversal of {row["name"]}"></td></tr>')
    return (f'<table class="xp-grid"><thead><tr><th></th>{cols}</tr></thead><tbody>{"".join(body)}</tbody>'
            "</table>")


def wire(ctx: PageContext, tabs: dict) -> None:
    t: TraversalTab = tabs["traversal"]
    reg = ctx.registry

    @friendly
    def on_traverse(name, label, *zs):
        loaded = reg.get(name)
        res = tool.traverse(loaded, ctx.zs_of(loaded, zs), label if loaded.num_classes else None)
        if loaded.capabilities.text:  # a table of sentences: one row per dimension, one column per value
            path = save_text(t.download, tool.traversal_text(res), txt_name("traversal", name))
            table = loaded.modality.table(res["images"], [r["label"] for r in res["rows"]], res["columns"])
            return table, res["note"], gr.update(value=path, interactive=True)
        path = save_png(t.download, tool.traversal_image(res), png_name("traversal", name))
        return traversal_html(res), res["note"], gr.update(value=path, interactive=True)

    gr.on([t.button.click, t.tab.select], on_traverse, [ctx.model_picker, ctx.class_picker, *ctx.sliders],
          [t.grid, t.note, t.download], trigger_mode="always_last", **FAST)
