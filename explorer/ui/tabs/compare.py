"""AE vs VAE vs CVAE vs GAN tab: the same 80 prior codes decoded by the models of one dataset, each with its map
(the codes marked) and its figures (Fréchet distance, mode coverage, reconstruction error) under its grid.

Element ids: tab-compare, compare-dataset, compare-seed, compare-button, compare-lesson, compare-why,
compare-title-{ae,vae,cvae,gan}, compare-grid-{ae,vae,cvae,gan}, compare-map-{ae,vae,cvae,gan},
compare-figures-{ae,vae,cvae,gan}, compare-source, compare-metrics, compare-off.
compare-off is shown for a text model only: the comparison is of image datasets.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...backends import backend_spec
from ...modalities.image import png_data_uri
from ...tools import compare as tool
from ...validation import validate_seed
from ..context import BLANK, FAST, PageContext, friendly

TITLE = "AE vs VAE vs CVAE vs GAN"
NEEDS = ()
HELP = """**AE vs VAE vs CVAE vs GAN.** The same 80 random codes z ~ N(0, I) (same seed; a model with fewer
latent dimensions takes the first ones of each code) decoded by the models trained on one dataset; the CVAE decodes
row r as class r. Below each grid: its PCA map of the test codes, with the 80 random codes drawn as black crosses,
and its Fréchet distance, mode coverage and reconstruction error; below them all, the test figures of
metrics.json."""
SHEET_TEMPLATE = '<img class="xp-sheet" src="${value}" alt="${alt}"><div class="xp-caption">${caption}</div>'
SHEET_CSS = """.xp-sheet { display:block; width:100%; max-width:340px; margin:0 auto; image-rendering:pixelated;
                        border-radius:4px; background:#fff; }"""


@dataclass
class CompareTab:
    tab: gr.Tab
    dataset: gr.Radio
    seed: gr.Number
    button: gr.Button
    columns: dict    # kind -> (title, grid, map, figures)
    metrics: gr.Markdown
    off: gr.Markdown = None  # one line for a text model: these are pixel grids of image models


def first_dataset(registry) -> str | None:
    """The default model's dataset when it has a comparison, else the first that has one."""
    datasets = tool.comparison_datasets(registry)
    default = tool.dataset_key(registry.info(registry.default).dataset) if registry.default else None
    return default if default in datasets else (datasets[0] if datasets else None)


def layout(ctx: PageContext) -> CompareTab:
    datasets = tool.comparison_datasets(ctx.registry)
    default = ctx.registry.info(ctx.registry.default) if ctx.registry.default else None
    with gr.Tab(TITLE, elem_id="tab-compare") as tab:
        off = gr.Markdown(off_line(default), visible=bool(off_line(default)), elem_id="compare-off")
        gr.Markdown(HELP)
        with gr.Row(equal_height=False):
            dataset = gr.Radio(datasets, value=first_dataset(ctx.registry), label="Dataset", elem_id="compare-dataset",
                               scale=2)
            seed = gr.Number(0, label="Seed of the random codes", precision=0, minimum=0, elem_id="compare-seed",
                             scale=1, min_width=160)
            button = gr.Button("New codes (next seed)", elem_id="compare-button", scale=1, min_width=160, size="md")
        gr.Markdown(f"**The lesson:** {tool.LESSON}", elem_id="compare-lesson")
        gr.Markdown(f"**Why the AE fails here:** {tool.WHY_AE_DEGRADES}", elem_id="compare-why")
        columns = {}
        with gr.Row(equal_height=False):
            for kind in tool.KINDS:
                with gr.Column(min_width=240):
                    title = gr.Markdown(f"**{kind.upper()}**", elem_id=f"compare-title-{kind}")
                    # Fixed captions: events send plain values (a property update makes gradio copy the component
                    # for the session).
                    caps = backend_spec(kind).capabilities
                    rows = ": row r is class r" if caps.conditional else ""
                    codes = ("the test images' codes, found by inversion" if caps.invert and not caps.encode else
                             "the test codes")
                    grid = gr.HTML(BLANK, html_template=SHEET_TEMPLATE, alt=f"{kind} samples",
                                   caption=f"Decoded from z ~ N(0, I){rows}",
                                   elem_id=f"compare-grid-{kind}", js_on_load=None, css_template=SHEET_CSS)
                    cmap = gr.HTML(BLANK, html_template=SHEET_TEMPLATE, alt=f"{kind} latent map",
                                   caption=f"PCA map of {codes}; black crosses: the random codes",
                                   elem_id=f"compare-map-{kind}", js_on_load=None, css_template=SHEET_CSS)
                    figures = gr.Markdown("", elem_id=f"compare-figures-{kind}")
                columns[kind] = (title, grid, cmap, figures)
        gr.Markdown(f"<small>{tool.SOURCE}</small>", elem_id="compare-source")
        metrics = gr.Markdown("", elem_id="compare-metrics")
    return CompareTab(tab, dataset, seed, button, columns, metrics, off)


def off_line(info) -> str:
    """For a text model, why this tab does not show it ("" for an image model)."""
    if info is None or info.error or not info.capabilities.text:
        return ""
    return (f"**{TITLE}** is off for this model: it is a text model, and this comparison puts image models' sample "
            "grids side by side (the image datasets below are still shown).")


def reset(ctx: PageContext, t: CompareTab, info) -> dict:
    line = off_line(info)
    return {t.off: gr.update(value=line, visible=bool(line))}


def wire(ctx: PageContext, tabs: dict) -> None:
    t: CompareTab = tabs["compare"]
    reg = ctx.registry

    @friendly
    def on_next_seed(seed):
        return (validate_seed(seed) + 1) % 2**53  # the page holds it as a JavaScript number

    @friendly
    def on_compare(ds, seed):
        res = tool.compare_models(reg, ds, seed)
        outs = []
        for kind in tool.KINDS:
            m = res["models"].get(kind)
            if m is None:
                outs += [f"**{kind.upper()}**: no {kind} model trained on {res['dataset']} is loaded.", BLANK, BLANK,
                         ""]
                continue
            outs += [f"**{kind.upper()}** ({m['name']})", png_data_uri(m["grid"]), png_data_uri(m["map"]),
                     tool.figures_markdown(m["figures"])]
        return [*outs, res["table"]]

    outputs = [c for kind in tool.KINDS for c in t.columns[kind]] + [t.metrics]
    gr.on([t.tab.select, t.dataset.change, t.seed.submit], on_compare, [t.dataset, t.seed], outputs,
          trigger_mode="always_last", **FAST)
    t.button.click(on_next_seed, [t.seed], [t.seed], **FAST).success(on_compare, [t.dataset, t.seed], outputs, **FAST)
