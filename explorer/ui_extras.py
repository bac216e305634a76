"""Tabs for your own drawing, AE vs VAE vs CVAE, training dynamics and export. Layout and wiring only: every
action calls a function in explorer.extras.

`build(shared)` is called inside ui.build_demo's gr.Tabs; `shared` holds the main view's components and helpers
(see ui.py). Element ids: tab-draw, sketchpad, encode-drawing-button, image-upload, drawing-prepared,
drawing-reconstruction, class-ranking, drawing-note; tab-compare, compare-dataset, compare-seed, compare-button,
compare-why, compare-title-{ae,vae,cvae}, compare-grid-{ae,vae,cvae}, compare-map-{ae,vae,cvae}, compare-metrics;
tab-dynamics, history-plot, kl-plot, dynamics-note; tab-export, export-csv-button, export-csv-file, dataset-model,
dataset-per-class, dataset-seed, generate-button, dataset-files, dataset-sheet, dataset-note.
Named API endpoints: /encode_image, /compare_models, /training_history, /export_map_csv, /generate_dataset.

Every event takes raw values (preprocess=False) and checks them in explorer.extras, like the rest of the page.
"""
from __future__ import annotations

import html
from pathlib import Path

import gradio as gr
from fastapi import HTTPException
from gradio.utils import get_upload_folder

from . import actions, extras, images
from .checks import shown, validate_seed
from .gradio_fixes import explain_bad_files

API_NAMES = ("encode_image", "compare_models", "training_history", "export_map_csv", "generate_dataset")
STATIC = Path(__file__).resolve().parent / "static"

DRAW_HELP = f"""**Your own input.** Draw a digit or a garment (for the Fashion-MNIST models) on the pad and press
**Encode drawing**, or upload a picture. It is prepared the way MNIST was: grayscale, light ink on a dark
background (a dark-on-light picture is inverted), cropped to the ink, scaled so its longer side is {extras.BOX} px
and centred by mass in {extras.CANVAS}×{extras.CANVAS}. Its latent mean goes into the sliders, so the big image
shows its reconstruction and the yellow dot on the map marks it. A conditional model also ranks every class by how
well it explains the picture: a classifier that comes for free."""
COMPARE_HELP = """**AE vs VAE vs CVAE.** The same random codes z ~ N(0, I) (same seed) decoded by the three models
trained on one dataset; the CVAE decodes row r as class r. Below each grid: its PCA map of the test codes, with
the 80 random codes drawn as black crosses, and the models' test figures from metrics.json."""
DYNAMICS_HELP = """**Training dynamics.** The two terms of the loss per epoch (history.json of the model picked
above): the reconstruction loss falls as the KL term rises, the tug-of-war of the ELBO. The bars show how many nats
each latent dimension costs on average (metrics.json): grey dimensions are unused by the model."""
EXPORT_HELP = """**Export.** The latent map of the model picked above as CSV: one row per test image with its index,
class and the coordinates of every stored projection."""
DATASET_HELP = f"""**Synthetic data set.** Decode codes drawn from the prior N(0, I) as each class of a conditional
model (CVAE): a labelled data set, as the tutorials' authors used VAEs to get extra samples for low-resource tasks.
An unconditional VAE or AE cannot do this (its samples come with no class), so only CVAE models are listed. You get
an .npz (`images` uint8 N×28×28, `labels`, `class_names`) and a PNG sheet of the first {extras.SHEET_PER_CLASS}
samples per class. 1 to {extras.MAX_PER_CLASS:,} samples per class."""

IMG_SMALL_CSS = ".xp-img { width:168px !important; height:168px !important; }"
GRID_TEMPLATE = '<img class="xb-grid" src="${value}" alt="${alt}"><div class="xp-caption">${caption}</div>'
GRID_CSS = """.xb-grid { display:block; width:100%; max-width:340px; margin:0 auto; image-rendering:pixelated;
                        border-radius:4px; background:#fff; }"""
RANK_TEMPLATE = ('{{#if value.length}}<div class="xb-rank-title">Classes ranked by −ELBO (nats; lower explains the '
                 'picture better) and p(class | picture)</div>{{/if}}'
                 '<table class="xb-rank">{{#each value}}<tr class="{{#if this.best}}best{{/if}}">'
                 '<th>{{this.name}}</th><td class="nats">{{this.nats}}</td>'
                 '<td class="bar"><span style="width:{{this.width}}%"></span></td><td class="pct">{{this.pct}} %</td>'
                 '</tr>{{/each}}</table>')
RANK_CSS = """.xb-rank { border-collapse:collapse; width:100%; font-size:0.85em; }
.xb-rank th, .xb-rank td { border:none !important; background:none !important; }
.xb-rank th { text-align:right; padding:1px 8px 1px 0; font-weight:normal; white-space:nowrap; }
.xb-rank td.nats, .xb-rank td.pct { text-align:right; padding:1px 6px; font-variant-numeric:tabular-nums;
                                     white-space:nowrap; }
.xb-rank td.bar { width:55%; }
.xb-rank td.bar span { display:block; height:10px; background:var(--color-accent); border-radius:2px; }
.xb-rank tr.best th { font-weight:bold; }
.xb-rank-title { font-size:0.85em; opacity:0.8; margin:4px 0; }"""
PLOT_TEMPLATE = '<div class="xb-plot"></div>'
PLOT_CSS = ".xb-plot { width:100%; height:340px; }"
MAX_PENDING_DRAWINGS = 32           # drawings whose strokes reached the server but were not encoded yet
MAX_PENDING_BYTES = 64 * 2**20      # all of them together
MAX_LAYERS = 8
MAX_DRAWING_ID = 200                # the page's ids are short random strings
BLOB_KINDS = ("composite", "layer", "background")
IMAGE_INPUT_ERROR = ('the image must be an uploaded file: with gradio_client, handle_file("digit.png"); as raw JSON, '
                     '{{"path": a path that /gradio_api/upload returned, "meta": {{"_type": "gradio.FileData"}}}}. '
                     'Got {got}.')
DRAWING_INPUT_ERROR = ('the drawing must be the sketchpad\'s value: {{"background", "layers", "composite"}} (uploaded '
                       'files, as for an image) or {{"id"}} of strokes sent ahead to its accept_blobs. Got {got}.')


def bound_blob_uploads(sketch: gr.Sketchpad) -> gr.Sketchpad:
    """Bound what strangers can make the sketchpad hold on the server.

    The image editor sends its layers to the server ahead of the event (its accept_blobs server function) and
    gradio keeps them until the event reads them. Gradio's own accept_blobs grows a list to any layer index a
    caller names (index 10^9 is a list of 10^9 entries) and keeps drawings nobody encodes forever. The wrapper
    refuses layer indices beyond MAX_LAYERS, parts other than BLOB_KINDS and ids that are not short text (each with
    an HTTP 400 whose detail says what to send; gradio's own code answered some of them with a bare 500) and drops
    the oldest drawings beyond MAX_PENDING_DRAWINGS / MAX_PENDING_BYTES. It is set on the instance (a subclass
    would make gradio write a .pyi stub into the source tree) and keeps every session's drawings in this one
    component's blob_storage, where the event reads them.
    """
    original = sketch.accept_blobs
    store = sketch.blob_storage

    def refuse(message: str):
        # A 400 with the message as its "detail": a gr.Error (or any other exception) raised in a server function
        # becomes a bare 500 "Internal Server Error" from gradio's /component_server route.
        return HTTPException(status_code=400, detail=message)

    def accept_blobs(data):
        try:
            fields, file = data.data, data.files[0][1]
            kind, index, drawing = fields["type"], fields.get("index"), fields["id"]
        except (AttributeError, KeyError, IndexError, TypeError):
            raise refuse("malformed drawing upload: send a multipart form with the fields type, index and id and "
                         "one file, as the sketchpad does.") from None
        if kind not in BLOB_KINDS:
            raise refuse(f"unknown part of a drawing {shown(kind)}; send one of {', '.join(BLOB_KINDS)}.")
        if not isinstance(drawing, str) or not 0 < len(drawing) <= MAX_DRAWING_ID:
            raise refuse(f"a drawing's id must be text of 1 to {MAX_DRAWING_ID} characters, got {shown(drawing)}.")
        try:
            index = int(index) if index not in (None, "", "null") else None
        except (TypeError, ValueError):
            index = None
        if kind == "layer" and (index is None or not 0 <= index < MAX_LAYERS):
            raise refuse(f"a layer's index must be a whole number from 0 to {MAX_LAYERS - 1} (a drawing has at most "
                         f"{MAX_LAYERS} layers), got {shown(fields.get('index'))}.")
        data.data = {**fields, "index": str(index) if index is not None else "null"}  # gradio int()s it as is
        while store and (len(store) >= MAX_PENDING_DRAWINGS or _stored_bytes(store) + len(file) > MAX_PENDING_BYTES):
            store.pop(next(iter(store)), None)  # the oldest pending drawing
        return original(data)

    accept_blobs._is_server_fn = True  # what gradio.components.base.server marks
    sketch.accept_blobs = accept_blobs
    return sketch


def _stored_bytes(store: dict) -> int:
    total = 0
    for v in store.values():
        for part in [v.background, v.composite, *(v.layers or [])]:
            total += len(part) if part else 0
    return total


def build(shared) -> None:
    from .ui import PLOTLY_JS  # ui imports this module; by the time build() runs, ui is loaded

    reg, friendly, fast = shared.registry, shared.friendly, shared.fast
    sliders = shared.sliders
    plot_js = (STATIC / "plot.js").read_text()
    plot_head = f'<script src="/gradio_api/file={PLOTLY_JS}"></script>'  # the map's copy; loaded once
    datasets = extras.comparison_datasets(reg)
    cvaes = [n for n in reg.names() if reg.info(n).kind == "cvae" and not reg.info(n).error]
    default_ds = extras._dataset_key(reg.info(reg.default).dataset) if reg.default else None
    first_dataset = default_ds if default_ds in datasets else (datasets[0] if datasets else None)
    cvaes.sort(key=lambda n: extras._dataset_key(reg.info(n).dataset) != first_dataset)  # the default's dataset first

    # ---- Your own input -------------------------------------------------------------------------------------
    with gr.Tab("Your drawing", elem_id="tab-draw"):
        gr.Markdown(DRAW_HELP)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=300):
                sketch = gr.Sketchpad(label="Draw (pick the brush first)",
                                   elem_id="sketchpad", canvas_size=(280, 280), fixed_canvas=True, layers=False,
                                   transforms=(), format="png", type="numpy", height=360,
                                   brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=12))
                bound_blob_uploads(sketch)
                explain_bad_files(sketch, DRAWING_INPUT_ERROR)
                draw_btn = gr.Button("Encode drawing", variant="primary", elem_id="encode-drawing-button")
            with gr.Column(scale=3, min_width=260):
                upload = gr.Image(label="…or upload a picture (PNG, JPEG, …; at most 10 MB and "
                                        f"{extras.MAX_INPUT_SIDE}×{extras.MAX_INPUT_SIDE} px)",
                                  type="filepath", sources=["upload", "clipboard"], elem_id="image-upload",
                                  height=360)
                explain_bad_files(upload, IMAGE_INPUT_ERROR)
            with gr.Column(scale=4, min_width=360):
                with gr.Row():
                    prepared = gr.HTML(shared.BLANK, html_template=shared.IMG_TEMPLATE, alt="prepared input",
                                       caption="Prepared like MNIST (28×28)", elem_id="drawing-prepared",
                                       js_on_load=None, css_template=IMG_SMALL_CSS)
                    recon = gr.HTML(shared.BLANK, html_template=shared.IMG_TEMPLATE, alt="its reconstruction",
                                    caption="Its reconstruction", elem_id="drawing-reconstruction",
                                    js_on_load=None, css_template=IMG_SMALL_CSS)
                ranking = gr.HTML([], html_template=RANK_TEMPLATE, elem_id="class-ranking", js_on_load=None,
                                  css_template=RANK_CSS)
                draw_note = gr.Markdown("", elem_id="drawing-note")

    # ---- AE vs VAE vs CVAE ----------------------------------------------------------------------------------
    with gr.Tab("AE vs VAE vs CVAE", elem_id="tab-compare") as compare_tab:
        gr.Markdown(COMPARE_HELP)
        with gr.Row(equal_height=False):
            dataset = gr.Radio(datasets, value=first_dataset, label="Dataset", elem_id="compare-dataset", scale=2)
            cseed = gr.Number(0, label="Seed of the random codes", precision=0, minimum=0, elem_id="compare-seed",
                              scale=1, min_width=160)
            cbtn = gr.Button("New codes (next seed)", elem_id="compare-button", scale=1, min_width=160,
                             size="md")
        gr.Markdown(f"**Why the AE fails here:** {extras.WHY_AE_DEGRADES}", elem_id="compare-why")
        cols = {}
        with gr.Row(equal_height=False):
            for kind in extras.KINDS:
                with gr.Column(min_width=240):
                    title = gr.Markdown(f"**{kind.upper()}**", elem_id=f"compare-title-{kind}")
                    # Fixed captions: events send plain values (a property update makes gradio copy the component
                    # for the session).
                    rows = ": row r is class r" if kind == "cvae" else ""
                    grid = gr.HTML(shared.BLANK, html_template=GRID_TEMPLATE, alt=f"{kind} samples",
                                   caption=f"Decoded from z ~ N(0, I){rows}",
                                   elem_id=f"compare-grid-{kind}", js_on_load=None, css_template=GRID_CSS)
                    cmap = gr.HTML(shared.BLANK, html_template=GRID_TEMPLATE, alt=f"{kind} latent map",
                                   caption="PCA map of the test codes; black crosses: the random codes",
                                   elem_id=f"compare-map-{kind}", js_on_load=None, css_template=GRID_CSS)
                cols[kind] = (title, grid, cmap)
        cmetrics = gr.Markdown("", elem_id="compare-metrics")

    # ---- Training dynamics ----------------------------------------------------------------------------------
    with gr.Tab("Training dynamics", elem_id="tab-dynamics") as dyn_tab:
        gr.Markdown(DYNAMICS_HELP)
        dyn_note = gr.Markdown("", elem_id="dynamics-note")
        with gr.Row(equal_height=False):
            hist_plot = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=plot_head,
                                elem_id="history-plot", css_template=PLOT_CSS, min_height=340)
            kl_plot = gr.HTML(None, html_template=PLOT_TEMPLATE, js_on_load=plot_js, head=plot_head,
                              elem_id="kl-plot", css_template=PLOT_CSS, min_height=340)

    # ---- Export ---------------------------------------------------------------------------------------------
    with gr.Tab("Export", elem_id="tab-export"):
        gr.Markdown(EXPORT_HELP)
        with gr.Row(equal_height=False):
            csv_btn = gr.Button("Make the map CSV of the model picked above", elem_id="export-csv-button", scale=1,
                                size="md")
            csv_file = gr.File(label="Latent map (CSV)", elem_id="export-csv-file", interactive=False, scale=2,
                               height=90)
        gr.Markdown(DATASET_HELP)
        with gr.Row(equal_height=True):
            ds_model = gr.Dropdown(cvaes, value=cvaes[0] if cvaes else None, label="Conditional model",
                                   elem_id="dataset-model", interactive=True, min_width=200)
            per_class = gr.Number(100, label=f"Samples per class (1–{extras.MAX_PER_CLASS:,})", precision=0,
                                  minimum=1, maximum=extras.MAX_PER_CLASS, elem_id="dataset-per-class",
                                  min_width=160)
            ds_seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="dataset-seed", min_width=120)
            gen_btn = gr.Button("Generate data set", variant="primary", elem_id="generate-button",
                                interactive=bool(cvaes))
        ds_note = gr.Markdown("" if cvaes else "No conditional (CVAE) model is loaded, so no labelled data set "
                              "can be generated.", elem_id="dataset-note")
        with gr.Row(equal_height=False):
            ds_files = gr.File(label="Data set (.npz) and sheet (.png)", file_count="multiple", interactive=False,
                               elem_id="dataset-files", scale=1, height=120)
            ds_sheet = gr.HTML(None, html_template='{{#if value}}<img class="xb-grid" src="${value}" '
                               'alt="sample sheet">{{/if}}', elem_id="dataset-sheet", js_on_load=None,
                               css_template=GRID_CSS.replace("max-width:340px", "max-width:560px"), scale=2)
        _api(shared)  # hidden API components: inside a tab, since gr.Tabs takes only gr.Tab children

    # ---- handlers -------------------------------------------------------------------------------------------
    def encode_handler(what: str):
        @friendly
        def handler(name, label, proj, payload):
            loaded = reg.get(name)
            source = extras.image_from_payload(payload, what, get_upload_folder(), sketch.blob_storage)
            img, notes = extras.prepare_image(source, what)
            out = extras.encode_prepared(loaded, img)
            cvae = bool(loaded.model.num_classes)
            new_label = out["label"] if cvae else label
            view = actions.decoded_view(loaded, out["z"], new_label, proj)
            steps = notes + ["cropped to the ink", f"scaled to {extras.BOX} px", "centred by mass in 28×28"]
            note = (f"Prepared like MNIST: {', '.join(steps)}. Its latent mean is now in the sliders, and the "
                    "yellow dot on the map marks it.")
            if cvae:
                best = out["ranking"][0]
                note += (f" Best class: **{html.escape(best['class_name'])}** (−ELBO {best['neg_elbo']:.1f} nats), "
                         "now picked above.")
            status = f"Loaded the latent mean of your {what}."
            return [images.png_data_uri(images.to_display_image(img)),
                    images.png_data_uri(images.to_display_image(out["reconstruction"])),
                    extras.ranking_rows(out["ranking"]), note, new_label if cvae else gr.skip(), status,
                    *shared.z_updates(view), *shared.slider_updates(loaded, out["z"], values_only=True)]
        handler.__name__ = f"on_encode_{what}"
        return handler

    @friendly
    def on_next_seed(seed):
        return (validate_seed(seed) + 1) % 2**53  # the page holds it as a JavaScript number

    @friendly
    def on_compare(ds, seed):
        res = extras.compare_models(reg, ds, seed)
        outs = []
        for kind in extras.KINDS:
            m = res["models"].get(kind)
            if m is None:
                outs += [f"**{kind.upper()}**: no {kind} model trained on {res['dataset']} is loaded.",
                         shared.BLANK, shared.BLANK]
                continue
            outs += [f"**{kind.upper()}** ({m['name']})", images.png_data_uri(m["grid"]),
                     images.png_data_uri(m["map"])]
        return [*outs, res["table"]]

    @friendly
    def on_dynamics(name):
        hist = extras.training_history(reg, name)
        return extras.history_figure(hist), extras.kl_figure(hist), extras.dynamics_note(hist)

    @friendly
    def on_csv(name):
        return str(extras.export_map_csv(reg, name))

    @friendly
    def on_generate(name, n, seed, progress=gr.Progress()):
        res = extras.generate_dataset(reg, name, n, seed, progress=lambda f, d: progress(f, desc=d))
        note = (f"{res['n']:,} images ({res['per_class']:,} per class × {len(res['classes'])} classes) in "
                f"{res['seconds']:.2f} s ({res['images_per_second']:,.0f} images/s). Load them with "
                "`d = numpy.load(path); d['images'], d['labels'], d['class_names']`.")
        return [str(res["npz"]), str(res["sheet"])], images.png_data_uri(res["sheet_image"]), note

    # ---- wiring ---------------------------------------------------------------------------------------------
    model, label_in, proj = shared.model_picker, shared.class_picker, shared.projection
    draw_outputs = [prepared, recon, ranking, draw_note, label_in, shared.status, *shared.z_outputs, *sliders]
    draw_btn.click(encode_handler("drawing"), [model, label_in, proj, sketch], draw_outputs, **fast)
    upload.upload(encode_handler("image"), [model, label_in, proj, upload], draw_outputs, **fast)

    compare_outputs = [c for kind in extras.KINDS for c in cols[kind]] + [cmetrics]
    gr.on([compare_tab.select, dataset.change, cseed.submit], on_compare, [dataset, cseed], compare_outputs,
          trigger_mode="always_last", **fast)
    cbtn.click(on_next_seed, [cseed], [cseed], **fast).success(on_compare, [dataset, cseed], compare_outputs, **fast)
    gr.on([dyn_tab.select, model.change], on_dynamics, [model], [hist_plot, kl_plot, dyn_note],
          trigger_mode="always_last", **fast)
    csv_btn.click(on_csv, [model], csv_file, **fast)
    gen_btn.click(on_generate, [ds_model, per_class, ds_seed], [ds_files, ds_sheet, ds_note],
                  **{**fast, "show_progress": "full"})


def _api(shared) -> None:
    """Named API endpoints with typed hidden inputs (listed under "Use via API")."""
    reg, friendly = shared.registry, shared.friendly
    datasets = extras.comparison_datasets(reg)
    cvaes = [n for n in reg.names() if reg.info(n).kind == "cvae"]

    with gr.Column(visible=False):
        a_model = gr.Textbox(reg.default, label="model")
        a_image = explain_bad_files(gr.Image(label="image", type="filepath"), IMAGE_INPUT_ERROR)
        a_dataset = gr.Textbox(datasets[0] if datasets else "mnist", label="dataset")
        a_seed = gr.Number(0, label="seed", precision=0)
        a_cvae = gr.Textbox(cvaes[0] if cvaes else "", label="model")
        a_per_class = gr.Number(100, label="per_class", precision=0)
        o_prepared = gr.Image(label="prepared", type="numpy", format="png")
        o_recon = gr.Image(label="reconstruction", type="numpy", format="png")
        o_z = gr.JSON(label="z")
        o_ranking = gr.JSON(label="ranking")
        o_grids = [gr.Image(label=f"{k}_samples", type="numpy", format="png") for k in extras.KINDS]
        o_summary = gr.JSON(label="summary")
        o_history = gr.JSON(label="history")
        o_csv = gr.File(label="csv")
        o_npz = gr.File(label="dataset")
        o_sheet = gr.Image(label="sheet", type="numpy", format="png")
        o_info = gr.JSON(label="info")
        buttons = [gr.Button(n) for n in API_NAMES]

    @friendly
    def encode_image(model: str, image: str):
        """Encode your own picture of a digit or garment: it is prepared like MNIST (grayscale, light ink on dark,
        cropped to the ink, longer side 20 px, centred by mass in 28x28). Returns the prepared image and its
        reconstruction (280x280), z (its latent mean) and, for a conditional model, every class ranked by -ELBO
        ([{class_id, class_name, neg_elbo, recon, kl, prob}], best first; [] otherwise)."""
        return extras.encode_image(reg, model, image, "image", get_upload_folder())

    @friendly
    def compare_models(dataset: str, seed: int = 0):
        """The AE, VAE and CVAE trained on `dataset` (e.g. "mnist", "fashion-mnist"), each decoding the same 80
        codes z ~ N(0, I) drawn with `seed` (the CVAE: row r as class r). Returns three sample grids (ae, vae,
        cvae; None where no such model is loaded) and {dataset, seed, why, missing, models: {kind: {name,
        metrics}}}."""
        res = extras.compare_models(reg, dataset, seed)
        grids = [res["models"][k]["grid"] if k in res["models"] else None for k in extras.KINDS]
        return *grids, extras.compare_summary(res)

    @friendly
    def training_history(model: str):
        """Per-epoch train/test reconstruction and KL (history.json) and the average KL of each latent dimension
        (metrics.json) of a model: {model, kind, epochs: [{epoch, train_recon, train_kl, test_recon, test_kl,
        beta}], kl_per_dim, active_units}."""
        return extras.training_history(reg, model)

    @friendly
    def export_map_csv(model: str):
        """The model's latent map as a CSV file: index, label, class_name and x, y of every stored projection
        (pca, tsne, and umap where present) for each test image."""
        return str(extras.export_map_csv(reg, model))

    @friendly
    def generate_dataset(model: str, per_class: int, seed: int = 0):
        """A labelled synthetic data set from a conditional (cvae) model: per_class (1..5000) prior samples decoded
        as each class. Returns the .npz file (images uint8 N x 28 x 28, labels, class_names), a PNG sheet of the
        first 16 samples per class, and {n, per_class, classes, seconds, images_per_second}."""
        res = extras.generate_dataset(reg, model, per_class, seed)
        return str(res["npz"]), res["sheet_image"], extras.dataset_summary(res)

    specs = {
        "encode_image": (encode_image, [a_model, a_image], [o_prepared, o_recon, o_z, o_ranking]),
        "compare_models": (compare_models, [a_dataset, a_seed], [*o_grids, o_summary]),
        "training_history": (training_history, [a_model], o_history),
        "export_map_csv": (export_map_csv, [a_model], o_csv),
        "generate_dataset": (generate_dataset, [a_cvae, a_per_class, a_seed], [o_npz, o_sheet, o_info]),
    }
    for btn, name in zip(buttons, API_NAMES):
        fn, ins, outs = specs[name]
        btn.click(fn, ins, outs, api_name=name, api_description=" ".join(fn.__doc__.split()), preprocess=False)
