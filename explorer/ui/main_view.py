"""The main view: model picker, decoded output, sliders, latent map and the class picker.

Element ids: model-picker, model-info, decoded-image, decode-mode, random-button, reset-button, download-decoded, seed, status,
class-picker, class-row, sliders-help, latent-sliders, z-0 .. z-31, projection-picker, map-dims, map-split, latent-map, map-note,
selected-original, selected-reconstruction, selected-vae, selected-note. selected-vae is shown for a GAN only: the
reconstruction of the clicked test image by a VAE of the same dataset, when one is loaded. Layout first (`layout`), then the events (`wire`); every handler calls
explorer.tools.explore. Slider moves are decoded in the page where it can (explorer.ui.browser_decode, static/decoder.js; a text
model's with static/text_decoder.js), and on the server otherwise.
"""
from __future__ import annotations

import html

import gradio as gr

from ..latent_map import check_projection, projection_choices
from ..tools import explore
from ..validation import InputError, validate_seed
from .browser_decode import page_decoder, runtime
from .selection_panel import layout as selection_layout, wire as selection_wire
from .context import BLANK, FAST, IMG_TEMPLATE, MAX_SLIDERS, PageContext, friendly, log
from .style import PLOTLY_HEAD, static_js

PROJECTION_INFO = "All precomputed from the images' latent means."
PROJECTION_INFO_INVERTED = "All precomputed from the test images' inverted codes."
DIMS_INFO = "3-D: PCA or UMAP, rotatable (drag); t-SNE is 2-D only."
SPLIT_CHOICES = [("Both", "both"), ("Test", "test"), ("Training", "train")]
SPLIT_INFO = "Which images the map shows; every projection was fitted on both."
VAE_CAPTION = "A VAE's reconstruction (same dataset)"
VAE_ALT = "a VAE's reconstruction"  # sent with each update: a component built hidden gets its template's values then
PROJECTION_CHOICES = [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap")]  # each model offers those its map has
INTRO = """# Latent space explorer
A variational autoencoder squeezes each item, a 28×28 image or a sentence, into a short vector **z** (its *latent
code*) and learns a decoder that turns any z back into an image or a sentence. Drag the sliders to move through that
space and watch the decoder's output change; the map on the right shows where the dataset's images (or, for a text
model, the test definitions) sit, and clicking one loads its code. A GAN's generator decodes the same way, but it has no
encoder: its map shows codes that an optimiser found for the test images."""
# Each item is {"src": a PNG data URI} or, for a text model, {"html": its sentence, escaped by
# explorer.modalities.text}.
ROW_TEMPLATE = ('<div class="xp-caption">The current z decoded as every class</div>'
                '<div class="xp-row">{{#each value}}<figure class="{{#if this.current}}current{{/if}}">'
                '{{#if this.html}}{{{this.html}}}{{else}}<img src="{{this.src}}" alt="{{this.name}}">{{/if}}'
                '<figcaption>{{this.name}}</figcaption></figure>{{/each}}</div>')
TEXT_CAPTIONS = ("Test definition", "Its greedy reconstruction")
DOWNLOAD_DECODED_JS = """
const a = element.querySelector("a");
a.addEventListener("click", (e) => {
  // The decoded image is already a PNG in the page: download exactly that, no server round trip. The page's own
  // decode (static/decoder.js) is at the model's size: it is scaled up here as the server's image is (nearest
  // neighbour), to 280 px.
  const im = document.querySelector("#decoded-image img");
  if (!im || !im.src.startsWith("data:image/png") || !im.naturalWidth) { e.preventDefault(); return; }
  let href = im.src;
  const k = Math.floor(280 / im.naturalWidth);
  if (k > 1) {
    const c = document.createElement("canvas");
    c.width = im.naturalWidth * k; c.height = im.naturalHeight * k;
    const g = c.getContext("2d");
    g.imageSmoothingEnabled = false;
    g.drawImage(im, 0, 0, c.width, c.height);
    href = c.toDataURL("image/png");
  }
  const model = (document.querySelector("#model-picker input") || {}).value || "model";
  a.href = href;
  a.download = "decoded-" + model.replace(/[^A-Za-z0-9._-]+/g, "_") + ".png";
});
"""


def layout(registry) -> tuple[PageContext, dict]:
    """The main view's components. Returns the PageContext and the components only this module wires."""
    names = registry.names()

    def get_figure(spec: dict) -> dict:
        """Server function called by the map's JavaScript: the plotly figure for {"model", "projection"}."""
        if not isinstance(spec, dict):
            return {"error": "get_figure takes {\"model\": a model name, \"projection\": \"pca\", \"tsne\" or "
                             "\"umap\", \"dims\": 2 or 3}."}
        try:
            return explore.figure_for(registry, spec.get("model"), spec.get("projection"), spec.get("dims", 2))
        except (ValueError, AttributeError) as e:
            return {"error": str(e)}
        except Exception as e:  # never a traceback in the page
            log.exception("get_figure failed")
            return {"error": f"The map could not be drawn ({type(e).__name__}); see the server log."}

    def get_thumbs(spec: dict) -> dict:
        """Server function called by the map's JavaScript once the view holds few points: the stored images of
        {"model", "indices"} as one sprite (explore.thumbnails_for)."""
        if not isinstance(spec, dict):
            return {"error": "get_thumbs takes {\"model\": a model name, \"indices\": a list of point indices}."}
        try:
            return explore.thumbnails_for(registry, spec.get("model"), spec.get("indices"))
        except (ValueError, AttributeError) as e:
            return {"error": str(e)}
        except Exception as e:  # never a traceback in the page
            log.exception("get_thumbs failed")
            return {"error": f"The thumbnails could not be made ({type(e).__name__}); see the server log."}

    gr.Markdown(INTRO)
    with gr.Row(equal_height=False):
        model_picker = gr.Dropdown(names, value=registry.default, label="Model", elem_id="model-picker",
                                   scale=1, min_width=220, interactive=True)
        model_info = gr.Markdown(elem_id="model-info")

    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            decoded = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="decoded image",
                              caption="The decoder's image of the current z", elem_id="decoded-image",
                              js_on_load=None)
            # Decodes slider moves in the page (an image model: onnxruntime-web; a text model: text_decoder.js, the
            # greedy GRU decoder in JavaScript, prepended) and says in one line where decoding happens.
            decode_mode = gr.HTML('<div class="xp-decode-line" data-mode="starting"></div>', elem_id="decode-mode",
                                  js_on_load=static_js("text_decoder.js") + "\n" + static_js("decoder.js"),
                                  decoder=None,
                                  runtime=runtime(), padding=False)
            with gr.Row():
                random_btn = gr.Button("Random sample", elem_id="random-button", variant="primary",
                                       size="md", min_width=120)
                reset_btn = gr.Button("Reset to zero", elem_id="reset-button", size="md", min_width=120)
            # A "Download PNG" link of the image above, made in the browser from the image's own data URI.
            download = gr.HTML('<a class="xp-download" href="#" download="decoded.png">⤓ Download this image (PNG, '
                               '280×280)</a>', js_on_load=DOWNLOAD_DECODED_JS, elem_id="download-decoded",
                               css_template=".xp-download { font-size:0.9em; }",
                               visible=not (names and registry.info(registry.default).modality == "text"))
            seed = gr.Number(0, label="Seed for the next random sample (goes up by one after each)",
                             precision=0, minimum=0, elem_id="seed")
            status = gr.Markdown("", elem_id="status")
            class_picker = gr.Radio([], label="Class: the same z decoded as another class",
                                    elem_id="class-picker", visible=False)
            class_row = gr.HTML([], html_template=ROW_TEMPLATE, elem_id="class-row", visible=False,
                                js_on_load=None)

        with gr.Column(scale=4, min_width=260):
            gr.Markdown("**Latent sliders**: one per dimension of z. Most test codes of a VAE lie within "
                        "±3 of zero, where its prior N(0, I) puts them.", elem_id="sliders-help")
            with gr.Group(elem_id="latent-sliders"):
                sliders = [gr.Slider(-3, 3, value=0, step=explore.SLIDER_STEP, label=f"z{i + 1}",
                                     elem_id=f"z-{i}", visible=False, buttons=[])
                           for i in range(MAX_SLIDERS)]

        with gr.Column(scale=7, min_width=420):
            with gr.Row(equal_height=False):
                projection = gr.Radio(PROJECTION_CHOICES, value="pca", label="Map projection",
                                      elem_id="projection-picker", info=PROJECTION_INFO, scale=3)
                dims = gr.Radio([("2-D", "2"), ("3-D", "3")], value="2", label="View", elem_id="map-dims",
                                info=DIMS_INFO, scale=1, min_width=150)
                # shown and hidden in the page (static/latent_map.js); the server only greys it out for a map of
                # the test images alone
                split = gr.Radio(SPLIT_CHOICES, value="both", label="Images", elem_id="map-split", info=SPLIT_INFO,
                                 scale=1, min_width=190)
            # The value is only {"model", "projection"}: the browser fetches the 10,000-point figure through
            # get_figure (a server function) so that later small updates (the marker) stay cheap.
            latent_map = gr.HTML(None, html_template='<div class="xp-map-plot"></div>',
                                 js_on_load=static_js("latent_map.js"), head=PLOTLY_HEAD, elem_id="latent-map",
                                 marker=None, path=None, dims="2", min_height=470,
                                 server_functions=[get_figure, get_thumbs])
            map_note = gr.Markdown("", elem_id="map-note")
            gr.Markdown("**Click a point** to see that image next to its reconstruction and to load its "
                        "latent mean into the sliders (a GAN's: the code an optimiser found for it, and a VAE's "
                        "reconstruction beside the GAN's when one of the same dataset is loaded).")
            with gr.Row():
                sel_orig = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="selected test image",
                                   caption="Test image", elem_id="selected-original", js_on_load=None)
                sel_recon = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="its reconstruction",
                                    caption="Reconstruction", elem_id="selected-reconstruction", js_on_load=None)
                # A GAN's map only: the same test image through a VAE of the same dataset (hidden otherwise).
                sel_vae = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt=VAE_ALT,
                                  caption=VAE_CAPTION, elem_id="selected-vae", js_on_load=None, visible=False)
            sel_note = gr.Markdown("", elem_id="selected-note")
            selection = selection_layout()

    ctx = PageContext(registry=registry, model_picker=model_picker, class_picker=class_picker, projection=projection,
                      seed=seed, sliders=sliders, latent_map=latent_map, random_btn=random_btn, reset_btn=reset_btn,
                      decoded=decoded, class_row=class_row, status=status, map_note=map_note)
    return ctx, dict(model_info=model_info, sel_orig=sel_orig, sel_recon=sel_recon, sel_vae=sel_vae, sel_note=sel_note,
                     decode_mode=decode_mode, download=download, selection=selection, dims=dims,
                     split=split)


def wire(demo: gr.Blocks, ctx: PageContext, own: dict) -> None:
    """The main view's events: page load and model change, slider moves, the buttons, projection, map click."""
    registry, sliders = ctx.registry, ctx.sliders
    model_info, sel_orig, sel_recon = own["model_info"], own["sel_orig"], own["sel_recon"]
    sel_vae, sel_note = own["sel_vae"], own["sel_note"]
    decode_mode, download = own["decode_mode"], own["download"]
    dims, selection, split = own["dims"], own["selection"], own["split"]

    @friendly
    def on_model(name, proj):
        loaded = registry.get(name)
        z = explore.zero_z(loaded)
        choices = explore.class_choices(loaded)
        label = 0 if choices else None
        projections = projection_choices(loaded.latent_map)  # UMAP only where the map has it
        if check_projection(proj) not in [key for _, key in projections]:
            proj = "pca"
        view = explore.decoded_view(loaded, z, label, proj)
        image, row, _ = ctx.z_updates(loaded, view)
        row = row if view["row"] else []
        note = view["marker"]["note"]
        source = explore.map_source_note(loaded)  # a GAN: its codes come from an optimiser, not an encoder
        if source:
            note = f"{source} {note}"
        no_3d = explore.no_3d_reason(loaded)
        companion = explore.companion_vae(registry, loaded)
        decoded_caption = ("The decoder's sentence for the current z (greedy)" if explore.is_text(loaded) else
                           "The decoder's image of the current z")
        return {model_info: explore.describe_model(loaded.info),
                ctx.class_picker: gr.update(choices=choices, value=label, visible=bool(choices)),
                # a new model shows its map in 2-D; the 3-D switch is on where its map has a 3-D view, else off
                # with the reason; a selection of the last model's points is gone
                ctx.latent_map: gr.update(value={"model": name, "projection": proj}, marker=view["marker"], dims="2"),
                dims: gr.update(value="2", interactive=not no_3d, info=no_3d or DIMS_INFO),
                # the split switch keeps its choice from model to model; a map of the test images alone greys it
                split: gr.update(interactive=not explore.one_split_reason(loaded),
                                 info=explore.one_split_reason(loaded) or SPLIT_INFO),
                selection.panel: gr.update(visible=False), selection.state: None,
                ctx.map_note: note,
                sel_orig: gr.update(value=loaded.modality.blank,
                                    caption=TEXT_CAPTIONS[0] if explore.is_text(loaded) else "Test image"),
                sel_recon: gr.update(value=loaded.modality.blank,
                                     caption=TEXT_CAPTIONS[1] if explore.is_text(loaded) else "Reconstruction"),
                sel_vae: gr.update(value=loaded.modality.blank, caption=html.escape(f"{VAE_CAPTION}: {companion}")
                                   if companion else VAE_CAPTION, alt=VAE_ALT, visible=bool(companion)),
                sel_note: "",
                ctx.status: "", ctx.decoded: gr.update(value=image, caption=decoded_caption),
                ctx.class_row: gr.update(value=row, visible=bool(row)),
                **dict(zip(sliders, ctx.slider_updates(loaded, z))),
                ctx.projection: gr.update(choices=projections, value=proj, info=" ".join(filter(None, (
                    PROJECTION_INFO_INVERTED if loaded.capabilities.invert else PROJECTION_INFO,
                    explore.projection_trust(loaded))))),
                decode_mode: gr.update(decoder=page_decoder(name, loaded)),
                download: gr.update(visible=not explore.is_text(loaded))}  # the PNG link is an image's

    @friendly
    def on_slide(name, label, proj, *zs):
        loaded = registry.get(name)
        return ctx.z_updates(loaded, explore.decoded_view(loaded, ctx.zs_of(loaded, zs), label, proj))

    @friendly
    def on_random(name, label, proj, seed_value):
        loaded = registry.get(name)
        z, how = explore.random_z(loaded, seed_value)
        view = explore.decoded_view(loaded, z, label, proj)
        next_seed = (validate_seed(seed_value) + 1) % 2**53  # the page holds it as a JavaScript number
        return [*ctx.z_updates(loaded, view), how, next_seed, *ctx.slider_updates(loaded, z, values_only=True)]

    @friendly
    def on_reset(name, label, proj):
        loaded = registry.get(name)
        z = explore.zero_z(loaded)
        view = explore.decoded_view(loaded, z, label, proj)
        return [*ctx.z_updates(loaded, view), "z reset to the origin (all zeros).",
                *ctx.slider_updates(loaded, z, values_only=True)]

    @friendly
    def on_projection(name, proj, *zs):
        loaded = registry.get(name)
        marker = explore.marker_for(loaded, ctx.zs_of(loaded, zs), proj)
        return gr.update(value={"model": name, "projection": proj}, marker=marker), marker["note"]

    @friendly
    def on_dims(name, proj, view, *zs):
        """The 2-D / 3-D switch: the map in the other view, on a projection it has there (PCA where t-SNE was)."""
        loaded = registry.get(name)
        three = str(view) == "3"
        if three and explore.no_3d_reason(loaded):
            raise InputError(explore.no_3d_reason(loaded))
        choices = explore.views_3d(loaded) if three else projection_choices(loaded.latent_map)
        keys = [k for _, k in choices]
        proj = check_projection(proj) if check_projection(proj) in keys else keys[0]
        marker = explore.marker_for(loaded, ctx.zs_of(loaded, zs), proj)
        note = marker["note"] + (" The 3-D view turns with a drag; a click on a point loads it as in 2-D." if three
                                 else "")
        return (gr.update(value={"model": name, "projection": proj}, marker=marker, dims="3" if three else "2"),
                gr.update(choices=choices, value=proj), note)

    @friendly
    def on_select(name, label, proj, evt: gr.EventData = None):
        # gr.EventData, not gr.SelectData: SelectData fails inside gradio (no message) on event data without
        # "index" and "value"; explore.event_index checks the raw payload and says what is missing.
        loaded = registry.get(name)
        sel = explore.select_point(loaded, explore.event_index(getattr(evt, "_data", None)))
        new_label = sel["label"] if loaded.num_classes else label
        view = explore.decoded_view(loaded, sel["z"], new_label, proj)
        caption = html.escape(f"{sel['what'][0].upper()}{sel['what'][1:]}: {sel['class_name']}")  # names: a config
        m = loaded.modality
        inverted = sel["source"] == explore.INVERSION_SOURCE
        if explore.is_text(loaded):  # a definition: its headword, its category, its greedy reconstruction
            caption = html.escape(f"\u201c{sel['headword']}\u201d ({sel['category']}, {sel['class_name']}): "
                                  f"definition #{sel['index']}")
            loaded_what = f"latent mean of \u201c{sel['headword']}\u201d's definition"
            return [gr.update(value=m.render(sel["original"]), caption=caption),
                    gr.update(value=m.render(sel["reconstruction"]), caption="Greedy reconstruction from its mean"),
                    gr.skip(), gr.skip(), new_label if loaded.num_classes else gr.skip(),
                    f"Loaded the {loaded_what} (#{sel['index']}).",
                    *ctx.z_updates(loaded, view), *ctx.slider_updates(loaded, sel["z"], values_only=True)]
        if inverted:
            recon_caption = f"G(z*): the GAN's best reconstruction, {sel['bce']:.0f} nats"
            loaded_what = "inverted code z*"
            vae = explore.compare_reconstruction(registry, loaded, sel)
            vae_update = (gr.update(value=m.render(vae["reconstruction"]), caption=html.escape(
                f"{VAE_CAPTION}: {vae['model']}, {vae['bce']:.0f} nats"), alt=VAE_ALT, visible=True) if vae
                else gr.update(visible=False))
            note = ("z* was found by an optimiser (GAN inversion), not an encoder. "
                    + (html.escape(vae["caption"]) if vae else "With a VAE of the same dataset among the models, "
                       "its reconstruction would show beside it."))
        else:
            recon_caption, loaded_what = "Reconstruction from its latent mean", "latent mean"
            vae_update, note = gr.skip(), gr.skip()
        return [gr.update(value=m.render(sel["original"]), caption=caption),
                gr.update(value=m.render(sel["reconstruction"]), caption=recon_caption), vae_update, note,
                new_label if loaded.num_classes else gr.skip(),
                f"Loaded the {loaded_what} of {sel['what']} ({sel['class_name']}; map point #{sel['index']}).",
                *ctx.z_updates(loaded, view), *ctx.slider_updates(loaded, sel["z"], values_only=True)]

    model_outputs = [model_info, ctx.class_picker, ctx.latent_map, ctx.map_note, sel_orig, sel_recon, sel_vae,
                     sel_note, ctx.status, ctx.decoded, ctx.class_row, *sliders, ctx.projection, decode_mode, download,
                     dims, split, selection.panel, selection.state]
    demo.load(on_model, [ctx.model_picker, ctx.projection], model_outputs, **FAST)
    ctx.model_picker.change(on_model, [ctx.model_picker, ctx.projection], model_outputs, **FAST)

    # queue=False: one HTTP round trip per move instead of the queue's join + event stream.
    z_in = [ctx.model_picker, ctx.class_picker, ctx.projection, *sliders]
    gr.on([s.input for s in sliders], on_slide, z_in, ctx.z_outputs, trigger_mode="always_last", queue=False, **FAST)
    ctx.class_picker.input(on_slide, z_in, ctx.z_outputs, trigger_mode="always_last", queue=False, **FAST)
    ctx.random_btn.click(on_random, [ctx.model_picker, ctx.class_picker, ctx.projection, ctx.seed],
                         [*ctx.z_outputs, ctx.status, ctx.seed, *sliders], queue=False, **FAST)
    ctx.reset_btn.click(on_reset, [ctx.model_picker, ctx.class_picker, ctx.projection],
                        [*ctx.z_outputs, ctx.status, *sliders], queue=False, **FAST)
    dims.input(on_dims, [ctx.model_picker, ctx.projection, dims, *sliders], [ctx.latent_map, ctx.projection,
                                                                           ctx.map_note], **FAST)
    ctx.projection.change(on_projection, [ctx.model_picker, ctx.projection, *sliders], [ctx.latent_map, ctx.map_note],
                          **FAST)
    selection_wire(ctx, selection)
    ctx.latent_map.select(on_select, [ctx.model_picker, ctx.class_picker, ctx.projection],
                          [sel_orig, sel_recon, sel_vae, sel_note, ctx.class_picker, ctx.status, *ctx.z_outputs,
                           *sliders], queue=False,
                          **FAST)
