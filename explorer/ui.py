"""Layout and event wiring of the explorer; every action calls a plain function in explorer.actions.

Element ids (stable, for tests and for people who embed the app): model-picker, latent-sliders, decoded-image,
random-button, reset-button, latent-map, projection-picker, class-picker, selected-original,
selected-reconstruction. Named API endpoints: /decode, /reconstruct, /list_models.
"""
from __future__ import annotations

import functools
import html
import importlib.util
import logging
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from . import actions, extras, ui_extras, ui_ztools
from .gradio_fixes import keep_session_component_ids
from .checks import InputError, validate_seed
from .images import png_data_uri, to_display_image
from .latent_map import MapLoadError, check_projection
from .registry import ModelRegistry

log = logging.getLogger(__name__)

MAX_SLIDERS = 32  # the training package caps latent_dim at 32; sliders beyond a model's D are hidden
STATIC = Path(__file__).resolve().parent / "static"
# plotly.min.js as shipped inside the plotly package (found without importing plotly, which is slow to import)
PLOTLY_JS = Path(importlib.util.find_spec("plotly").origin).resolve().parent / "package_data" / "plotly.min.js"
PROJECTION_CHOICES = [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap")]  # each model offers those its map has
BLANK = png_data_uri(to_display_image(np.full((28, 28), 240, np.uint8)))  # light grey until something is shown

INTRO = """# Latent space explorer
A variational autoencoder squeezes each 28×28 image into a short vector **z** (its *latent code*) and learns a
decoder that turns any z back into an image. Drag the sliders to move through that space and watch the decoder's
image change; the map on the right shows where the 10,000 test images sit, and clicking one loads its code."""

CSS = """
.xp-img { display:block; margin:0 auto; width:280px; height:280px; image-rendering:pixelated;
          border-radius:6px; box-shadow:0 1px 3px rgba(0,0,0,.25); background:#000; }
.xp-caption { text-align:center; font-size:0.9em; opacity:0.8; margin-top:6px; min-height:1.3em; }
.xp-row { display:flex; flex-wrap:wrap; gap:6px; justify-content:center; }
.xp-row figure { margin:0; text-align:center; font-size:0.75em; }
.xp-row img { width:56px; height:56px; image-rendering:pixelated; border-radius:3px; display:block; }
.xp-row figure.current img { outline:3px solid var(--color-accent); }
.xp-map-plot { width:100%; height:470px; }
/* The slider group scrolls as a whole (Gradio's inner .form would otherwise clip the lower sliders). */
#latent-sliders { max-height:760px; overflow-y:auto !important; display:block !important; }
#latent-sliders .styler, #latent-sliders .form { overflow:visible !important; height:auto !important;
                                                 max-height:none !important; }
#latent-sliders .form > div { flex:none; }
#latent-sliders .block { padding-top:6px !important; padding-bottom:6px !important; }
#selected-original .xp-img, #selected-reconstruction .xp-img { width:196px; height:196px; }
"""

IMG_TEMPLATE = '<img class="xp-img" src="${value}" alt="${alt}"><div class="xp-caption">${caption}</div>'
ROW_TEMPLATE = ('<div class="xp-caption">The current z decoded as every class</div>'
                '<div class="xp-row">{{#each value}}<figure class="{{#if this.current}}current{{/if}}">'
                '<img src="{{this.src}}" alt="{{this.name}}"><figcaption>{{this.name}}</figcaption></figure>'
                '{{/each}}</div>')


def friendly(fn):
    """Turn every exception into a gr.Error with a message a person can act on; no traceback reaches the page."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (InputError, MapLoadError) as e:
            raise gr.Error(str(e), print_exception=False) from None
        except ValueError as e:  # training.ModelLoadError and other checked problems say what to fix
            log.warning("%s: %s", fn.__name__, e)
            raise gr.Error(str(e), print_exception=False) from None
        except Exception as e:  # a bug: log it for us, tell the person something useful
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Something went wrong ({type(e).__name__}). The app is still running: try again, "
                           "or pick another model. Details are in the server log.", print_exception=False) from None
    return wrapper


def build_demo(registry: ModelRegistry) -> gr.Blocks:
    """The whole app. Nothing is loaded here: the first model is loaded when the page opens (demo.load)."""
    keep_session_component_ids()  # else each page session's memory grows with every event (see gradio_fixes)
    gr.set_static_paths([str(PLOTLY_JS)])
    plotly_src = f"/gradio_api/file={PLOTLY_JS}"
    map_js = (STATIC / "latent_map.js").read_text()
    names = registry.names()

    def get_figure(spec: dict) -> dict:
        """Server function called by the map's JavaScript: the plotly figure for {"model", "projection"}."""
        if not isinstance(spec, dict):
            return {"error": "get_figure takes {\"model\": a model name, \"projection\": \"pca\", \"tsne\" or "
                             "\"umap\"}."}
        try:
            return actions.figure_for(registry, spec.get("model"), spec.get("projection"))
        except (ValueError, AttributeError) as e:
            return {"error": str(e)}
        except Exception as e:  # never a traceback in the page
            log.exception("get_figure failed")
            return {"error": f"The map could not be drawn ({type(e).__name__}); see the server log."}

    # delete_cache: every hour, drop the output images and uploads older than an hour from gradio's cache folder
    # (each /decode call writes a PNG there; a public Space would otherwise fill its disk).
    with gr.Blocks(title="Latent space explorer", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
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
                with gr.Row():
                    random_btn = gr.Button("Random sample", elem_id="random-button", variant="primary",
                                           size="md", min_width=120)
                    reset_btn = gr.Button("Reset to zero", elem_id="reset-button", size="md", min_width=120)
                ui_ztools.decoded_download()  # a "Download PNG" link of the image above (made in the browser)
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
                    sliders = [gr.Slider(-3, 3, value=0, step=actions.SLIDER_STEP, label=f"z{i + 1}",
                                         elem_id=f"z-{i}", visible=False, buttons=[])
                               for i in range(MAX_SLIDERS)]

            with gr.Column(scale=7, min_width=420):
                projection = gr.Radio(PROJECTION_CHOICES, value="pca", label="Map projection",
                                      elem_id="projection-picker",
                                      info="All precomputed from the test images' latent means.")
                # The value is only {"model", "projection"}: the browser fetches the 10,000-point figure through
                # get_figure (a server function) so that later small updates (the marker) stay cheap.
                latent_map = gr.HTML(None, html_template='<div class="xp-map-plot"></div>', js_on_load=map_js,
                                     head=f'<script src="{plotly_src}"></script>', elem_id="latent-map",
                                     marker=None, path=None, min_height=470, server_functions=[get_figure])
                map_note = gr.Markdown("", elem_id="map-note")
                gr.Markdown("**Click a point** to see that test image next to its reconstruction and to load its "
                            "latent mean into the sliders.")
                with gr.Row():
                    sel_orig = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="selected test image",
                                       caption="Test image", elem_id="selected-original", js_on_load=None)
                    sel_recon = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="its reconstruction",
                                        caption="Reconstruction", elem_id="selected-reconstruction", js_on_load=None)

        n = MAX_SLIDERS
        z_outputs = [decoded, class_row, latent_map]

        def z_updates(view: dict) -> list:
            # Unconditional models have no class row: skip it rather than re-send an empty one on every move.
            # Plain values, not gr.update(...): gradio rebuilds a component for every property update.
            return [view["image"], view["row"] if view["row"] else gr.skip(), gr.update(marker=view["marker"])]

        def slider_updates(loaded, z, values_only: bool = False) -> list:
            """New slider values for z. The page's model already set each slider's range and visibility, so most
            events send values_only=True: plain numbers are cheaper than property updates (gradio builds a new
            component on the server for each of those)."""
            d = len(z)
            if values_only:
                return [float(z[i]) if i < d else 0.0 for i in range(n)]
            r = loaded.slider_range
            return [gr.update(value=z[i], visible=True, minimum=-float(r[i]), maximum=float(r[i]))
                    if i < d else gr.update(visible=False, value=0) for i in range(n)]

        # preprocess=False on every event: anyone can call these by fn_index with any JSON, and gradio's own input
        # checks fail on some values (a string or a dict for a Number or a Slider) with an empty error and a
        # traceback in the log. The raw values go to explorer.checks instead, whose messages say what to send.
        fast = dict(show_progress="hidden", api_visibility="private", preprocess=False)

        # The tool tabs under the main view. Each tab module gets this namespace: the shared components and the
        # helpers that turn an action's result into their updates, and wires its own events and API endpoints.
        shared = SimpleNamespace(registry=registry, model_picker=model_picker, class_picker=class_picker,
                                 projection=projection, seed=seed, sliders=sliders, latent_map=latent_map,
                                 random_btn=random_btn, reset_btn=reset_btn,
                                 decoded=decoded, class_row=class_row, status=status, map_note=map_note,
                                 z_outputs=z_outputs, z_updates=z_updates, slider_updates=slider_updates,
                                 friendly=friendly, fast=fast, BLANK=BLANK, IMG_TEMPLATE=IMG_TEMPLATE)
        with gr.Tabs(elem_id="tool-tabs"):
            ui_ztools.build(shared)   # interpolation, traversal grid, nearest neighbours, attribute arithmetic
            ui_extras.build(shared)   # your own drawing, AE vs VAE vs CVAE, training dynamics, export and dataset

        # Hidden components that give the API endpoints their typed inputs and outputs.
        with gr.Column(visible=False):
            # Defaults make the "Use via API" snippets show real values (the default model, its zero vector).
            default_info = registry.info(registry.default) if registry.default else None
            api_model = gr.Textbox(registry.default, label="model")
            api_z = gr.JSON([0.0] * ((default_info and default_info.latent_dim) or 2), label="z")
            api_label = gr.Number(-1, label="label", precision=0)
            api_index = gr.Number(0, label="index", precision=0)
            api_image = gr.Image(label="image", type="numpy", format="png")
            api_orig = gr.Image(label="original", type="numpy", format="png")
            api_recon = gr.Image(label="reconstruction", type="numpy", format="png")
            api_zout = gr.JSON(label="z")
            api_models = gr.JSON(label="models")
            api_decode_btn = gr.Button("decode")
            api_recon_btn = gr.Button("reconstruct")
            api_list_btn = gr.Button("list_models")

        # ---- handlers: unpack widget values, call actions, pack updates -------------------------------------
        @friendly
        def on_model(name, proj):
            loaded = registry.get(name)
            z = actions.zero_z(loaded)
            choices = actions.class_choices(loaded)
            label = 0 if choices else None
            projections = extras.projection_choices(loaded)  # UMAP only where the map has it
            if check_projection(proj) not in [key for _, key in projections]:
                proj = "pca"
            view = actions.decoded_view(loaded, z, label, proj)
            return [actions.describe_model(loaded.info),
                    gr.update(choices=choices, value=label, visible=bool(choices)),
                    gr.update(value={"model": name, "projection": proj}, marker=view["marker"]),
                    view["marker"]["note"],
                    gr.update(value=BLANK, caption="Test image"),
                    gr.update(value=BLANK, caption="Reconstruction"),
                    "", view["image"], gr.update(value=view["row"], visible=bool(view["row"])),
                    *slider_updates(loaded, z), gr.update(choices=projections, value=proj)]

        @friendly
        def on_slide(name, label, proj, *zs):
            loaded = registry.get(name)
            z = list(zs[:loaded.model.latent_dim])
            return z_updates(actions.decoded_view(loaded, z, label, proj))

        @friendly
        def on_random(name, label, proj, seed_value):
            loaded = registry.get(name)
            z, how = actions.random_z(loaded, seed_value)
            view = actions.decoded_view(loaded, z, label, proj)
            next_seed = (validate_seed(seed_value) + 1) % 2**53  # the page holds it as a JavaScript number
            return [*z_updates(view), how, next_seed, *slider_updates(loaded, z, values_only=True)]

        @friendly
        def on_reset(name, label, proj):
            loaded = registry.get(name)
            z = actions.zero_z(loaded)
            view = actions.decoded_view(loaded, z, label, proj)
            return [*z_updates(view), "z reset to the origin (all zeros).",
                    *slider_updates(loaded, z, values_only=True)]

        @friendly
        def on_projection(name, proj, *zs):
            loaded = registry.get(name)
            marker = actions.marker_for(loaded, list(zs[:loaded.model.latent_dim]), proj)
            return gr.update(value={"model": name, "projection": proj}, marker=marker), marker["note"]

        @friendly
        def on_select(name, label, proj, evt: gr.EventData = None):
            # gr.EventData, not gr.SelectData: SelectData fails inside gradio (no message) on event data without
            # "index" and "value"; actions.event_index checks the raw payload and says what is missing.
            loaded = registry.get(name)
            sel = actions.select_point(loaded, actions.event_index(getattr(evt, "_data", None)))
            new_label = sel["label"] if loaded.model.num_classes else label
            view = actions.decoded_view(loaded, sel["z"], new_label, proj)
            caption = html.escape(f"Test image #{sel['index']}: {sel['class_name']}")  # names come from a config
            return [gr.update(value=sel["original"], caption=caption),
                    gr.update(value=sel["reconstruction"], caption="Reconstruction from its latent mean"),
                    new_label if loaded.model.num_classes else gr.skip(),
                    f"Loaded the latent mean of test image #{sel['index']} ({sel['class_name']}).",
                    *z_updates(view), *slider_updates(loaded, sel["z"], values_only=True)]

        # ---- wiring -----------------------------------------------------------------------------------------
        model_outputs = [model_info, class_picker, latent_map, map_note, sel_orig, sel_recon, status,
                         decoded, class_row, *sliders, projection]
        demo.load(on_model, [model_picker, projection], model_outputs, **fast)
        model_picker.change(on_model, [model_picker, projection], model_outputs, **fast)

        # queue=False: one HTTP round trip per move instead of the queue's join + event stream.
        gr.on([s.input for s in sliders], on_slide, [model_picker, class_picker, projection, *sliders], z_outputs,
              trigger_mode="always_last", queue=False, **fast)
        class_picker.input(on_slide, [model_picker, class_picker, projection, *sliders], z_outputs,
                           trigger_mode="always_last", queue=False, **fast)
        random_btn.click(on_random, [model_picker, class_picker, projection, seed],
                         [*z_outputs, status, seed, *sliders], queue=False, **fast)
        reset_btn.click(on_reset, [model_picker, class_picker, projection], [*z_outputs, status, *sliders],
                        queue=False, **fast)
        projection.change(on_projection, [model_picker, projection, *sliders], [latent_map, map_note], **fast)
        latent_map.select(on_select, [model_picker, class_picker, projection],
                          [sel_orig, sel_recon, class_picker, status, *z_outputs, *sliders], queue=False, **fast)

        # ---- named API endpoints (see "Use via API" in the page footer) -------------------------------------
        @friendly
        def decode(model: str, z: list, label: int = -1):
            """Decode latent vector z (a list of latent_dim floats) with a model; label is a class id for
            conditional models, -1 otherwise. Returns a 280x280 grayscale image."""
            return actions.decode_image(registry, model, z, label)

        @friendly
        def reconstruct(model: str, index: int):
            """Reconstruct test image `index` (0..9999) of a model's latent map. Returns the original image,
            its reconstruction (both 280x280) and z, the latent mean it was decoded from."""
            return actions.reconstruct_point(registry, model, index)

        @friendly
        def list_models():
            """Every model the app offers, with kind, dataset, latent_dim, class names and test metrics."""
            return actions.list_models(registry)

        def doc(fn) -> str:
            return " ".join(fn.__doc__.split())

        # preprocess=False: the raw JSON values go to explorer.checks (see `fast` above); the documented types stay.
        api_decode_btn.click(decode, [api_model, api_z, api_label], api_image, api_name="decode",
                             api_description=doc(decode), preprocess=False)
        api_recon_btn.click(reconstruct, [api_model, api_index], [api_orig, api_recon, api_zout],
                            api_name="reconstruct", api_description=doc(reconstruct), preprocess=False)
        api_list_btn.click(list_models, None, api_models, api_name="list_models", api_description=doc(list_models))
    demo.registry = registry  # for app.py's warm-up and for tests
    return demo


# Gradio keeps a copy of the page's component config for every session it has seen (about 420 KB here, with 32
# sliders and the tool tabs), up to state_session_capacity sessions, 10,000 by default: 4 GB. Every API call through
# /call or gradio_client is a new session, so a public Space reaches that cap. The explorer keeps no per-session
# state that matters on the server (no gr.State; every event checks its raw inputs itself), so evicting the least
# recently used session costs nothing: its next event starts from the page's defaults, which is all the server
# ever needed. 50 sessions bound this memory to about 21 MB (benchmarks/memory.py: growth under 5%).
STATE_SESSION_CAPACITY = 50
MAX_UPLOAD = "10mb"  # the drawing tab's upload and sketchpad, and gradio's /upload route, which is always open


def launch_kwargs() -> dict:
    """Arguments for demo.launch() shared by app.py, tests and benchmarks (Gradio 6 takes css/theme here)."""
    return dict(css=CSS, theme=gr.themes.Default(primary_hue="indigo"), ssr_mode=False, show_error=False,
                state_session_capacity=STATE_SESSION_CAPACITY, max_file_size=MAX_UPLOAD)
