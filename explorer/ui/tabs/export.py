"""Export tab: the latent map as CSV, and a labelled synthetic data set from a conditional model.

Element ids: tab-export, export-csv-button, export-csv-file, dataset-model, dataset-per-class, dataset-seed,
generate-button, dataset-files, dataset-sheet, dataset-note.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from ...modalities.image import png_data_uri
from ...tools import compare, export as tool
from ..context import FAST, PageContext, friendly
from .compare import SHEET_CSS, first_dataset

TITLE = "Export"
NEEDS = ()
HELP = """**Export.** The latent map of the model picked above as CSV: one row per test image with its index,
class and the coordinates of every stored projection."""
DATASET_HELP = f"""**Synthetic data set.** Decode codes drawn from the prior N(0, I) as each class of a conditional
model (a CVAE's decoder or a conditional GAN's generator): a labelled data set, as the tutorials' authors used VAEs to
get extra samples for low-resource tasks. An unconditional model (AE, VAE, GAN) cannot do this (its samples come with
no class), so only conditional models are listed. You get
an .npz (`images` uint8 N×28×28, `labels`, `class_names`) and a PNG sheet of the first {tool.SHEET_PER_CLASS}
samples per class. 1 to {tool.MAX_PER_CLASS:,} samples per class. A text CVAE writes labelled sentences instead
(1 to {tool.MAX_TEXT_PER_CLASS:,} per category group), as CSV (`text`, `label`, `class_name`) and JSONL."""


@dataclass
class ExportTab:
    csv_button: gr.Button
    csv_file: gr.File
    model: gr.Dropdown
    per_class: gr.Number
    seed: gr.Number
    generate: gr.Button
    note: gr.Markdown
    files: gr.File
    sheet: gr.HTML


def generators(registry) -> list[str]:
    """The models generate_dataset can use (conditional, with a prior), the default model's dataset first."""
    names = [n for n in registry.names() if not registry.info(n).capabilities.lacks(*tool.NEEDS)]
    first = first_dataset(registry)
    return sorted(names, key=lambda n: compare.dataset_key(registry.info(n).dataset) != first)


def layout(ctx: PageContext) -> ExportTab:
    cvaes = generators(ctx.registry)
    with gr.Tab(TITLE, elem_id="tab-export"):
        gr.Markdown(HELP)
        with gr.Row(equal_height=False):
            csv_button = gr.Button("Make the map CSV of the model picked above", elem_id="export-csv-button",
                                   scale=1, size="md")
            csv_file = gr.File(label="Latent map (CSV)", elem_id="export-csv-file", interactive=False, scale=2,
                               height=90)
        gr.Markdown(DATASET_HELP)
        with gr.Row(equal_height=True):
            model = gr.Dropdown(cvaes, value=cvaes[0] if cvaes else None, label="Conditional model",
                                elem_id="dataset-model", interactive=True, min_width=200)
            per_class = gr.Number(100, label=f"Samples per class (1–{tool.MAX_PER_CLASS:,})", precision=0,
                                  minimum=1, maximum=tool.MAX_PER_CLASS, elem_id="dataset-per-class", min_width=160)
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="dataset-seed", min_width=120)
            generate = gr.Button("Generate data set", variant="primary", elem_id="generate-button",
                                 interactive=bool(cvaes))
        note = gr.Markdown("" if cvaes else "No conditional model (CVAE, CGAN) is loaded, so no labelled data set "
                           "can be generated.", elem_id="dataset-note")
        with gr.Row(equal_height=False):
            files = gr.File(label="Data set (.npz) and sheet (.png)", file_count="multiple", interactive=False,
                            elem_id="dataset-files", scale=1, height=120)
            sheet = gr.HTML(None, html_template='{{#if value}}<img class="xp-sheet" src="${value}" '
                            'alt="sample sheet">{{/if}}', elem_id="dataset-sheet", js_on_load=None,
                            css_template=SHEET_CSS.replace("max-width:340px", "max-width:560px"), scale=2)
    return ExportTab(csv_button, csv_file, model, per_class, seed, generate, note, files, sheet)


def wire(ctx: PageContext, tabs: dict) -> None:
    t: ExportTab = tabs["export"]
    reg = ctx.registry

    @friendly
    def on_csv(name):
        return str(tool.export_map_csv(reg, name))

    @friendly
    def on_generate(name, n, seed, progress=gr.Progress()):
        res = tool.generate_dataset(reg, name, n, seed, progress=lambda f, d: progress(f, desc=d))
        if "file" in res:  # a text CVAE's sentences: the same ones (same seed) as CSV and as JSONL
            from ...modalities.text import escape
            jsonl = tool.generate_dataset(reg, name, n, seed, fmt="jsonl")
            first = "<br>".join(escape(line) for line in res["sample_text"].splitlines())
            note = (f"{res['n']:,} sentences ({res['per_class']:,} per category × {len(res['classes'])}), as CSV and "
                    f"JSONL, in {res['seconds']:.2f} s. The first of each category:<br>{first}")
            return [str(res["file"]), str(jsonl["file"])], None, note
        note = (f"{res['n']:,} images ({res['per_class']:,} per class × {len(res['classes'])} classes) in "
                f"{res['seconds']:.2f} s ({res['images_per_second']:,.0f} images/s). Load them with "
                "`d = numpy.load(path); d['images'], d['labels'], d['class_names']`.")
        return [str(res["npz"]), str(res["sheet"])], png_data_uri(res["sheet_image"]), note

    t.csv_button.click(on_csv, [ctx.model_picker], t.csv_file, **FAST)
    t.generate.click(on_generate, [t.model, t.per_class, t.seed], [t.files, t.sheet, t.note],
                     **{**FAST, "show_progress": "full"})
