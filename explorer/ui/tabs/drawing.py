"""Your drawing tab: draw or upload a picture, prepared like MNIST and given a code that goes into the sliders: the
encoder's, or for a GAN the code GAN inversion finds (an optimiser; its error is shown). A conditional VAE also ranks
every class by how well it explains the picture.

Element ids: tab-draw, draw-off, draw-controls, sketchpad, encode-drawing-button, image-upload, drawing-prepared,
drawing-reconstruction, class-ranking, drawing-note. For a model that can give a picture no code (no encoder and
nothing to invert), draw-off says why the tab is off and draw-controls is hidden.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

import gradio as gr
from gradio.utils import get_upload_folder

from ...backends import reason
from ...modalities.image import BOX, CANVAS, MAX_INPUT_SIDE
from ...tools import drawing as tool
from ...tools import explore
from ..context import BLANK, FAST, IMG_TEMPLATE, PageContext, friendly
from ..gradio_patches import bound_blob_uploads, explain_bad_files

TITLE = "Your drawing"
NEEDS = tool.NEEDS  # an encoder, or a generator to invert
HELP = f"""**Your own input.** Draw a digit or a garment (for the Fashion-MNIST models) on the pad and press
**Encode drawing**, or upload a picture. It is prepared the way MNIST was: grayscale, light ink on a dark
background (a dark-on-light picture is inverted), cropped to the ink, scaled so its longer side is {BOX} px
and centred by mass in {CANVAS}×{CANVAS}. Its code goes into the sliders, so the big image shows its
reconstruction and the yellow dot on the map marks it: an autoencoder's encoder gives the code in one pass; a GAN has
no encoder, so an optimiser searches for the z whose image G(z) is closest (GAN inversion; a conditional GAN inverts it
as the class picked above). A conditional VAE also ranks every class by how well it explains the picture: a
classifier that comes for free."""
IMG_SMALL_CSS = ".xp-img { width:168px !important; height:168px !important; }"
RANK_TEMPLATE = ('{{#if value.length}}<div class="xp-rank-title">Classes ranked by −ELBO (nats; lower explains the '
                 'picture better) and p(class | picture)</div>{{/if}}'
                 '<table class="xp-rank">{{#each value}}<tr class="{{#if this.best}}best{{/if}}">'
                 '<th>{{this.name}}</th><td class="nats">{{this.nats}}</td>'
                 '<td class="bar"><span style="width:{{this.width}}%"></span></td><td class="pct">{{this.pct}} %</td>'
                 '</tr>{{/each}}</table>')
RANK_CSS = """.xp-rank { border-collapse:collapse; width:100%; font-size:0.85em; }
.xp-rank th, .xp-rank td { border:none !important; background:none !important; }
.xp-rank th { text-align:right; padding:1px 8px 1px 0; font-weight:normal; white-space:nowrap; }
.xp-rank td.nats, .xp-rank td.pct { text-align:right; padding:1px 6px; font-variant-numeric:tabular-nums;
                                     white-space:nowrap; }
.xp-rank td.bar { width:55%; }
.xp-rank td.bar span { display:block; height:10px; background:var(--color-accent); border-radius:2px; }
.xp-rank tr.best th { font-weight:bold; }
.xp-rank-title { font-size:0.85em; opacity:0.8; margin:4px 0; }"""
IMAGE_INPUT_ERROR = ('the image must be an uploaded file: with gradio_client, handle_file("digit.png"); as raw JSON, '
                     '{{"path": a path that /gradio_api/upload returned, "meta": {{"_type": "gradio.FileData"}}}}. '
                     'Got {got}.')
DRAWING_INPUT_ERROR = ('the drawing must be the sketchpad\'s value: {{"background", "layers", "composite"}} (uploaded '
                       'files, as for an image) or {{"id"}} of strokes sent ahead to its accept_blobs. Got {got}.')


@dataclass
class DrawingTab:
    off: gr.Markdown   # the one-line reason, for a model without an encoder
    body: gr.Column
    sketch: gr.Sketchpad
    button: gr.Button
    upload: gr.Image
    prepared: gr.HTML
    reconstruction: gr.HTML
    ranking: gr.HTML
    note: gr.Markdown


def layout(ctx: PageContext) -> DrawingTab:
    default = ctx.registry.info(ctx.registry.default) if ctx.registry.default else None
    off0 = reason(default.capabilities, *NEEDS) if default and not default.error else None
    with gr.Tab(TITLE, elem_id="tab-draw"):
        off = gr.Markdown(f"**{TITLE}** is off for this model: {off0}" if off0 else "", visible=bool(off0),
                          elem_id="draw-off")
        with gr.Column(visible=not off0, elem_id="draw-controls") as body:
            gr.Markdown(HELP)
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    sketch = gr.Sketchpad(label="Draw (pick the brush first)",
                                          elem_id="sketchpad", canvas_size=(280, 280), fixed_canvas=True,
                                          layers=False, transforms=(), format="png", type="numpy", height=360,
                                          brush=gr.Brush(colors=["#000000"], color_mode="fixed", default_size=12))
                    bound_blob_uploads(sketch)
                    explain_bad_files(sketch, DRAWING_INPUT_ERROR)
                    button = gr.Button("Encode drawing", variant="primary", elem_id="encode-drawing-button")
                with gr.Column(scale=3, min_width=260):
                    upload = gr.Image(label="…or upload a picture (PNG, JPEG, …; at most 10 MB and "
                                            f"{MAX_INPUT_SIDE}×{MAX_INPUT_SIDE} px)",
                                      type="filepath", sources=["upload", "clipboard"], elem_id="image-upload",
                                      height=360)
                    explain_bad_files(upload, IMAGE_INPUT_ERROR)
                with gr.Column(scale=4, min_width=360):
                    with gr.Row():
                        prepared = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="prepared input",
                                           caption="Prepared like MNIST (28×28)", elem_id="drawing-prepared",
                                           js_on_load=None, css_template=IMG_SMALL_CSS)
                        reconstruction = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="its reconstruction",
                                                 caption="Its reconstruction", elem_id="drawing-reconstruction",
                                                 js_on_load=None, css_template=IMG_SMALL_CSS)
                    ranking = gr.HTML([], html_template=RANK_TEMPLATE, elem_id="class-ranking", js_on_load=None,
                                      css_template=RANK_CSS)
                    note = gr.Markdown("", elem_id="drawing-note")
    return DrawingTab(off, body, sketch, button, upload, prepared, reconstruction, ranking, note)


def reset(ctx: PageContext, t: DrawingTab, info) -> dict:
    """Show the controls, or the reason they are off for this model."""
    why = reason(info.capabilities, *NEEDS) if not info.error else None
    return {t.off: gr.update(value=f"**{TITLE}** is off for this model: {why}" if why else "", visible=bool(why)),
            t.body: gr.update(visible=not why)}


def wire(ctx: PageContext, tabs: dict) -> None:
    t: DrawingTab = tabs["drawing"]
    reg = ctx.registry

    def encode_handler(what: str):
        @friendly
        def handler(name, label, proj, payload):
            loaded = tool.check_image_model(reg.get(name))
            source = tool.image_from_payload(payload, what, get_upload_folder(), t.sketch.blob_storage)
            img, notes = loaded.modality.prepare(source, what)
            conditional = bool(loaded.num_classes)
            out = tool.encode_prepared(loaded, img, explore.label_for(loaded, label) if conditional else None)
            new_label = out["label"] if conditional else label
            view = explore.decoded_view(loaded, out["z"], new_label, proj)
            inverted = out["source"] == explore.INVERSION_SOURCE
            if loaded.modality.mnist_style:
                steps = notes + ["cropped to the ink", f"scaled to {BOX} px", "centred by mass in 28×28"]
                how = f"Prepared like MNIST: {', '.join(steps)}."
            else:
                h, w = loaded.modality.shape[:2]
                kind = "colour" if loaded.modality.colour else "grayscale"
                how = (f"Prepared as this model's training images were ({kind}, {w}×{h}): "
                       f"{', '.join(notes) or 'already that size'}.")
            note = (f"{how} {tool.code_note(out, what)} Its code is now in the sliders, and the yellow dot on the "
                    "map marks it.")
            if out["ranking"]:
                best = out["ranking"][0]
                note += (f" Best class: **{html.escape(best['class_name'])}** (−ELBO {best['neg_elbo']:.1f} nats), "
                         "now picked above.")
            m = loaded.modality
            caption = f"G(z*), its best reconstruction ({out['bce']:.0f} nats)" if inverted else "Its reconstruction"
            shown = ("Prepared like MNIST (28×28)" if m.mnist_style else
                     f"Prepared as its training images ({m.shape[1]}×{m.shape[0]})")
            return [gr.update(value=m.render(img), caption=shown),
                    gr.update(value=m.render(out["reconstruction"]), caption=caption),
                    tool.ranking_rows(out["ranking"]), note, new_label if conditional else gr.skip(),
                    f"Loaded the {'inverted code z*' if inverted else 'latent mean'} of your {what}.",
                    *ctx.z_updates(loaded, view), *ctx.slider_updates(loaded, out["z"], values_only=True)]
        handler.__name__ = f"on_encode_{what}"
        return handler

    outputs = [t.prepared, t.reconstruction, t.ranking, t.note, ctx.class_picker, ctx.status, *ctx.z_outputs,
               *ctx.sliders]
    t.button.click(encode_handler("drawing"), [ctx.model_picker, ctx.class_picker, ctx.projection, t.sketch], outputs,
                   **FAST)
    t.upload.upload(encode_handler("image"), [ctx.model_picker, ctx.class_picker, ctx.projection, t.upload], outputs,
                    **FAST)
