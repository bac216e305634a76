"""Tabs that move through the latent space: interpolation, traversal grid, nearest neighbours, attribute arithmetic,
and the PNG downloads of their images. Layout and wiring only: every action calls a function in explorer.ztools.

`build(shared)` is called inside ui.build_demo's gr.Tabs; `shared` holds the main view's components and helpers
(see ui.py). Element ids: tab-interpolation, point-a, point-b, set-a-button, set-b-button, pick-on-map,
interp-steps, interp-mode, interp-class-mode, interpolate-button, interp-strip, interp-note, interp-download;
tab-traversal, traverse-button, traverse-grid, traverse-note, traverse-download; tab-neighbours, neighbours,
neighbours-button; tab-arithmetic, arith-from, arith-to, arith-strength, arith-preview, arith-note, arith-apply,
arith-cvae-note; download-decoded (the link under the decoded image, made by decoded_download()).
Named API endpoints: /interpolate, /traverse, /neighbours, /move_towards.

Like the rest of the page, the points A and B live in the page (hidden components), not in server-side state, and
every event checks its raw values (preprocess=False) in explorer.ztools.
"""
from __future__ import annotations

import re
import threading

import gradio as gr
import numpy as np
from gradio import processing_utils

from . import actions, images, ztools
from .checks import validate_z
from .latent_map import check_index, lookup_point

API_NAMES = ("interpolate", "traverse", "neighbours", "move_towards")

INTERP_HELP = """**Interpolation.** Pick two points and decode the codes on the path between them. Click a point on
the map (or move the sliders) and press **Set A**, then do the same for **B**; or turn on *pick on the map* and click
two points. *Linear* walks the straight line; *spherical* (slerp) follows the great circle, which keeps the codes as
far from the origin as the ends are, where a VAE's prior puts its samples."""
TRAV_HELP = """**Traversal grid.** One row per latent dimension: that dimension takes the values −3 … 3 while the rest
of the current z stays as it is. Rows are ordered by how much the model uses each dimension (its average KL, the
nats it costs to encode); a dimension with KL near zero is one the decoder ignores, so its row is flat. Counting the
rows that change gives the model's *active units*."""
NN_HELP = """**Nearest neighbours.** The 8 test images whose latent means are nearest to the current z (Euclidean
distance in latent space), nearest first, with their classes. They follow z when you release a slider, click the
map, draw a random sample or reset; the button refreshes them after any other change."""
ARITH_HELP = """**Attribute arithmetic.** Each class has a mean code (the average latent mean of its test images).
Adding s × (mean of the target class − mean of the source class) to z moves the image towards the target class while
keeping some of its style. The strip previews s from 0 to your strength; **Apply** loads the result into the
sliders."""

ROW_CSS = """
.zt-row { display:flex; flex-wrap:wrap; gap:6px; justify-content:center; }
.zt-row figure { margin:0; text-align:center; font-size:0.75em; }
.zt-row img { width:64px; height:64px; image-rendering:pixelated; border-radius:3px; display:block;
              background:#000; }
.zt-neighbours img { width:84px; height:84px; }
.zt-empty { opacity:0.7; text-align:center; padding:12px; }
"""
GRID_CSS = """
.zt-grid { border-collapse:collapse; margin:0 auto; width:auto !important; border:none !important; }
.zt-grid th, .zt-grid td, .zt-grid tr { border:none !important; background:none !important; }
.zt-grid th { font-weight:normal; font-size:0.8em; padding:0 8px 0 0 !important; text-align:right;
              white-space:nowrap; }
.zt-grid thead th { text-align:center; width:60px; padding:0 !important; }
.zt-grid td { padding:0 !important; line-height:0; }
.zt-grid img { display:block; width:544px; height:64px; image-rendering:pixelated; }
.zt-grid tr.unused th { opacity:0.55; font-style:italic; }
"""
CARD_CSS = """
.xp-img { width:112px !important; height:112px !important; }
"""
DOWNLOAD_DECODED_JS = """
const a = element.querySelector("a");
a.addEventListener("click", (e) => {
  // The decoded image is already a PNG data URI in the page: download exactly that, no server round trip.
  const im = document.querySelector("#decoded-image img");
  if (!im || !im.src.startsWith("data:image/png")) { e.preventDefault(); return; }
  const model = (document.querySelector("#model-picker input") || {}).value || "model";
  a.href = im.src;
  a.download = "decoded-" + model.replace(/[^A-Za-z0-9._-]+/g, "_") + ".png";
});
"""
EMPTY = '<div class="zt-empty">{}</div>'


def decoded_download() -> gr.HTML:
    """A "Download PNG" link for the decoded image (placed under it by ui.build_demo); made in the browser."""
    return gr.HTML('<a class="zt-download" href="#" download="decoded.png">⤓ Download this image (PNG, 280×280)</a>',
                   js_on_load=DOWNLOAD_DECODED_JS, elem_id="download-decoded",
                   css_template=".zt-download { font-size:0.9em; }")


def _filename(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(str(p) for p in parts))[:120] + ".png"


def _warm_torchvision() -> None:
    """torchvision (make_grid) takes about 2 s to import: do it in the background when a page opens, not on the first
    tool click. Not at start-up: app.py must import without torch."""
    def imp():
        import torchvision.utils  # noqa: F401
    threading.Thread(target=imp, daemon=True).start()


def build(shared) -> None:
    reg, friendly, fast = shared.registry, shared.friendly, shared.fast
    sliders, n_sliders = shared.sliders, len(shared.sliders)
    default = reg.info(reg.default) if reg.default else None
    cvae0 = bool(default and default.kind == "cvae")
    names0 = list(default.class_names) if default else []
    class_choices0 = [(c, i) for i, c in enumerate(names0)]

    def save_png(button, image_u8: np.ndarray, name: str) -> str:
        """Write a PNG straight into gradio's cache (cleaned hourly by delete_cache) and return its path."""
        return processing_utils.save_bytes_to_cache(ztools.png(image_u8), name, cache_dir=button.GRADIO_CACHE)

    def zs_of(loaded, zs):
        return list(zs[:loaded.model.latent_dim])

    # ---- Interpolation --------------------------------------------------------------------------------------
    with gr.Tab("Interpolation", elem_id="tab-interpolation"):
        gr.Markdown(INTERP_HELP)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=150):
                card_a = gr.HTML(shared.BLANK, html_template=shared.IMG_TEMPLATE, alt="point A", caption="A: not set",
                                 elem_id="point-a", js_on_load=None, css_template=CARD_CSS)
                set_a = gr.Button("Set A = current z", elem_id="set-a-button", size="sm")
            with gr.Column(scale=1, min_width=150):
                card_b = gr.HTML(shared.BLANK, html_template=shared.IMG_TEMPLATE, alt="point B", caption="B: not set",
                                 elem_id="point-b", js_on_load=None, css_template=CARD_CSS)
                set_b = gr.Button("Set B = current z", elem_id="set-b-button", size="sm")
            with gr.Column(scale=3, min_width=300):
                pick = gr.Checkbox(False, label="Pick A and B on the map: the next click sets A, the one after B",
                                   elem_id="pick-on-map")
                steps = gr.Slider(ztools.MIN_STEPS, ztools.MAX_STEPS, value=8, step=1, elem_id="interp-steps",
                                  label=f"Steps: images in the strip, A and B included ({ztools.MIN_STEPS}–"
                                        f"{ztools.MAX_STEPS})", buttons=[])
                mode = gr.Radio([("Linear", "linear"), ("Spherical (slerp)", "slerp")], value="linear",
                                label="Path", elem_id="interp-mode")
                class_mode = gr.Radio([("Hold A's class", "fixed"), ("Sweep from A's class to B's", "sweep")],
                                      value="fixed", label="Class along the path (conditional model)",
                                      elem_id="interp-class-mode", visible=cvae0)
                with gr.Row():
                    go = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
                    strip_dl = gr.DownloadButton("Download strip (PNG)", value=None, interactive=False,
                                                 elem_id="interp-download", size="md")
        strip = gr.HTML(EMPTY.format("Set A and B to see the strip."), elem_id="interp-strip", js_on_load=None,
                        css_template=ROW_CSS)
        interp_note = gr.Markdown("", elem_id="interp-note")
        # Values that live in the page: the two points and the last clicked test image (no server-side state).
        with gr.Column(visible=False):
            point_a = gr.JSON(None, label="point A")
            point_b = gr.JSON(None, label="point B")
            next_pick = gr.Textbox("A", label="next map pick")
            last_click = gr.Number(None, label="last clicked test image", precision=0)

    # ---- Traversal grid -------------------------------------------------------------------------------------
    with gr.Tab("Traversal grid", elem_id="tab-traversal") as trav_tab:
        gr.Markdown(TRAV_HELP)
        with gr.Row():
            trav_btn = gr.Button("Traverse the current z", variant="primary", elem_id="traverse-button")
            trav_dl = gr.DownloadButton("Download grid (PNG)", value=None, interactive=False,
                                        elem_id="traverse-download")
        trav_note = gr.Markdown("", elem_id="traverse-note")
        trav_grid = gr.HTML(EMPTY.format("Open this tab or press the button to draw the grid."),
                            elem_id="traverse-grid", js_on_load=None, css_template=ROW_CSS + GRID_CSS)

    # ---- Nearest neighbours ---------------------------------------------------------------------------------
    with gr.Tab("Nearest neighbours", elem_id="tab-neighbours") as nn_tab:
        gr.Markdown(NN_HELP)
        nn_html = gr.HTML(EMPTY.format("Open this tab to see the neighbours of the current z."),
                          elem_id="neighbours", js_on_load=None, css_template=ROW_CSS)
        nn_btn = gr.Button("Refresh: neighbours of the current z", elem_id="neighbours-button", size="sm")

    # ---- Attribute arithmetic -------------------------------------------------------------------------------
    with gr.Tab("Attribute arithmetic", elem_id="tab-arithmetic") as arith_tab:
        cvae_note = gr.Markdown("**Attribute arithmetic.** " + ztools.CVAE_ARITHMETIC, visible=cvae0,
                                elem_id="arith-cvae-note")
        with gr.Column(visible=not cvae0) as arith_box:
            gr.Markdown(ARITH_HELP)
            with gr.Row():
                arith_from = gr.Dropdown(class_choices0, value=3 if len(names0) > 3 else None, label="Move this",
                                         elem_id="arith-from", interactive=True)
                arith_to = gr.Dropdown(class_choices0, value=8 if len(names0) > 8 else None, label="towards the",
                                       elem_id="arith-to", interactive=True)
                strength = gr.Slider(0, ztools.MAX_STRENGTH, value=1.0, step=0.05, label="Strength s",
                                     elem_id="arith-strength", buttons=[])
            arith_preview = gr.HTML("", elem_id="arith-preview", js_on_load=None, css_template=ROW_CSS)
            arith_note = gr.Markdown("", elem_id="arith-note")
            arith_apply = gr.Button("Apply: load z + s × (mean_to − mean_from) into the sliders", variant="primary",
                                    elem_id="arith-apply")
        _api(shared)  # hidden: gr.Tabs takes only gr.Tab children, so the API's components sit in this tab

    # ---- handlers -------------------------------------------------------------------------------------------
    def card(loaded, p: dict, which: str):
        z, label = p["z"], p.get("label") if loaded.model.num_classes else None
        img = ztools.decode_batch(loaded, np.asarray([z], np.float32), label)[0]
        return gr.update(value=images.png_data_uri(images.to_display_image(img, 4)),
                         caption=f"{which}: {p['name']}")

    def interp_outputs(loaded, name, res):
        path = save_png(strip_dl, ztools.strip_image(res), _filename("interpolation", name, len(res["z"]), "steps"))
        return [ztools.figure_row(res["images"], res["captions"]),
                f"From **A** ({res['a']['name']}) to **B** ({res['b']['name']}): {res['note']} {ztools.PATH_NOTE}",
                gr.update(value=path, interactive=True), gr.update(path=res["path"])]

    def on_set(which):
        @friendly
        def handler(name, label, clicked, *zs):
            loaded = reg.get(name)
            z = zs_of(loaded, zs)
            p = None
            if clicked is not None:  # the sliders still hold the clicked test image's code: name it
                try:
                    q = ztools.point_from_index(loaded, clicked)
                except ValueError:
                    q = None
                if q and np.allclose(actions.slider_values(loaded, q["z"]), validate_z(z, len(z)),
                                     atol=0.006) and (not loaded.model.num_classes or label == q["label"]):
                    p = q
            if p is None:
                p = ztools.point_from_z(loaded, z, label)
            return p, card(loaded, p, which)
        handler.__name__ = f"on_set_{which.lower()}"
        return handler

    def interpolate_handler(quiet: bool):
        @friendly
        def handler(name, a, b, n, how, cls):
            loaded = reg.get(name)
            if quiet and (not a or not b):  # automatic run (a point or setting changed) before both are set
                return [gr.skip()] * 4
            pa, pb = ztools.check_point(loaded, a, "A"), ztools.check_point(loaded, b, "B")
            return interp_outputs(loaded, name, ztools.interpolate_points(loaded, pa, pb, n, how, cls))
        handler.__name__ = "on_interpolate_auto" if quiet else "on_interpolate"
        return handler

    def on_picked(picking, *args):
        """After a map click in pick mode: draw the path once both points are set."""
        return auto(*args) if picking is True else [gr.skip()] * 4

    @friendly
    def on_map_click(name, picking, nxt, evt: gr.EventData = None):
        """Every map click: remember the clicked test image; in pick mode it also becomes A or B."""
        loaded = reg.get(name)
        i = check_index(loaded.latent_map, actions.event_index(getattr(evt, "_data", None)))
        z = actions.slider_values(loaded, lookup_point(loaded.latent_map, i).mu)
        nn = ztools.neighbours_html(ztools.nearest_neighbours(loaded, z))
        if picking is not True:
            return [i, nn] + [gr.skip()] * 5
        p = ztools.point_from_index(loaded, i)
        if nxt == "B":
            return [i, nn, gr.skip(), p, gr.skip(), card(loaded, p, "B"), "A"]
        return [i, nn, p, gr.skip(), card(loaded, p, "A"), gr.skip(), "B"]

    @friendly
    def on_traverse(name, label, *zs):
        loaded = reg.get(name)
        res = ztools.traverse(loaded, zs_of(loaded, zs), label if loaded.model.num_classes else None)
        path = save_png(trav_dl, ztools.traversal_image(res), _filename("traversal", name))
        return ztools.traversal_html(res), res["note"], gr.update(value=path, interactive=True)

    @friendly
    def on_neighbours(name, *zs):
        loaded = reg.get(name)
        return ztools.neighbours_html(ztools.nearest_neighbours(loaded, zs_of(loaded, zs)))

    @friendly
    def on_neighbours_random(name, seed):
        loaded = reg.get(name)  # the same seed the random button's own event got, so the same z
        return ztools.neighbours_html(ztools.nearest_neighbours(loaded, actions.random_z(loaded, seed)[0]))

    @friendly
    def on_neighbours_reset(name):
        loaded = reg.get(name)
        return ztools.neighbours_html(ztools.nearest_neighbours(loaded, actions.zero_z(loaded)))

    def arith_view(loaded, zs, f, t, s):
        res = ztools.move_towards(loaded, zs, f, t, s)
        caps = [f"s = {v:.2f}" for v in res["strengths"]]
        return res, ztools.figure_row(res["images"], caps), res["note"]

    @friendly
    def on_arith_preview(name, f, t, s, *zs):
        loaded = reg.get(name)
        if loaded.model.num_classes:
            return gr.skip(), gr.skip()
        _, row, note = arith_view(loaded, zs_of(loaded, zs), f, t, s)
        return row, note

    @friendly
    def on_arith_apply(name, label, proj, f, t, s, *zs):
        loaded = reg.get(name)
        res, _, note = arith_view(loaded, zs_of(loaded, zs), f, t, s)
        view = actions.decoded_view(loaded, res["z"], label, proj)
        _, row, _ = arith_view(loaded, res["z"], f, t, s)  # the preview now starts from the new z
        names = loaded.latent_map.class_names
        status = f"Moved z towards the {names[int(t)]}s (from the {names[int(f)]}s) with strength {float(s):g}."
        return [*shared.z_updates(view), status, *shared.slider_updates(loaded, res["z"], values_only=True), row,
                note, ztools.neighbours_html(ztools.nearest_neighbours(loaded, res["z"]))]

    @friendly
    def on_model_tools(name):
        """A new model: forget the points and the pictures of the old one; show the controls this kind has."""
        info = reg.info(name)
        cvae = info.kind == "cvae"
        choices = [(c, i) for i, c in enumerate(info.class_names)]
        blank = dict(value=shared.BLANK)
        return [None, None, "A", None,
                gr.update(**blank, caption="A: not set"), gr.update(**blank, caption="B: not set"),
                EMPTY.format("Set A and B to see the strip."), "", gr.update(value=None, interactive=False),
                gr.update(path=None), gr.update(visible=cvae, value="fixed"),
                EMPTY.format("Press the button to draw the grid for this model."), "",
                gr.update(value=None, interactive=False),
                EMPTY.format("Open this tab or press the button."),
                gr.update(visible=cvae), gr.update(visible=not cvae),
                gr.update(choices=choices, value=3 if len(choices) > 3 else None),
                gr.update(choices=choices, value=8 if len(choices) > 8 else None), ""]

    # ---- wiring ---------------------------------------------------------------------------------------------
    model, label_in, proj = shared.model_picker, shared.class_picker, shared.projection
    gr.on(None, _warm_torchvision, None, None, **fast)  # on page load
    shared.model_picker.change(
        on_model_tools, [model],
        [point_a, point_b, next_pick, last_click, card_a, card_b, strip, interp_note, strip_dl, shared.latent_map,
         class_mode, trav_grid, trav_note, trav_dl, nn_html, cvae_note, arith_box, arith_from, arith_to,
         arith_preview], **fast)

    interp_in = [model, point_a, point_b, steps, mode, class_mode]
    interp_out = [strip, interp_note, strip_dl, shared.latent_map]
    auto = interpolate_handler(quiet=True)
    set_a.click(on_set("A"), [model, label_in, last_click, *sliders], [point_a, card_a], **fast) \
        .success(auto, interp_in, interp_out, **fast)
    set_b.click(on_set("B"), [model, label_in, last_click, *sliders], [point_b, card_b], **fast) \
        .success(auto, interp_in, interp_out, **fast)
    go.click(interpolate_handler(quiet=False), interp_in, interp_out, **fast)
    gr.on([steps.release, mode.change, class_mode.change], auto, interp_in, interp_out,
          trigger_mode="always_last", **fast)
    shared.latent_map.select(on_map_click, [model, pick, next_pick],
                             [last_click, nn_html, point_a, point_b, card_a, card_b, next_pick], queue=False, **fast) \
        .success(on_picked, [pick, *interp_in], interp_out, **fast)

    trav_in = [model, label_in, *sliders]
    gr.on([trav_btn.click, trav_tab.select], on_traverse, trav_in, [trav_grid, trav_note, trav_dl],
          trigger_mode="always_last", **fast)

    # Neighbours follow z on everything except a slider's drag itself: a release, not every move, keeps the drag at
    # one request per move.
    gr.on([nn_btn.click, nn_tab.select, *[s.release for s in sliders]], on_neighbours, [model, *sliders], nn_html,
          trigger_mode="always_last", queue=False, **fast)
    shared.random_btn.click(on_neighbours_random, [model, shared.seed], nn_html, queue=False, **fast)
    shared.reset_btn.click(on_neighbours_reset, [model], nn_html, queue=False, **fast)

    arith_in = [model, arith_from, arith_to, strength, *sliders]
    gr.on([strength.input, arith_from.input, arith_to.input, arith_tab.select], on_arith_preview, arith_in,
          [arith_preview, arith_note], trigger_mode="always_last", queue=False, **fast)
    arith_apply.click(on_arith_apply, [model, label_in, proj, arith_from, arith_to, strength, *sliders],
                      [*shared.z_outputs, shared.status, *sliders, arith_preview, arith_note, nn_html],
                      queue=False, **fast)


def _api(shared) -> None:
    """Named API endpoints with typed hidden inputs (listed under "Use via API")."""
    reg, friendly = shared.registry, shared.friendly
    default = reg.info(reg.default) if reg.default else None
    d0 = (default and default.latent_dim) or 2

    with gr.Column(visible=False):
        a_model = gr.Textbox(reg.default, label="model")
        a_index_a = gr.Number(0, label="index_a", precision=0)
        a_index_b = gr.Number(1, label="index_b", precision=0)
        a_steps = gr.Number(8, label="steps", precision=0)
        a_mode = gr.Textbox("linear", label="mode")
        a_class_mode = gr.Textbox("fixed", label="class_mode")
        a_z = gr.JSON([0.0] * d0, label="z")
        a_label = gr.Number(-1, label="label", precision=0)
        a_k = gr.Number(ztools.N_NEIGHBOURS, label="k", precision=0)
        a_from = gr.Number(3, label="from_class", precision=0)
        a_to = gr.Number(8, label="to_class", precision=0)
        a_strength = gr.Number(1.0, label="strength")
        o_strip = gr.Image(label="strip", type="numpy", format="png")
        o_grid = gr.Image(label="grid", type="numpy", format="png")
        o_sheet = gr.Image(label="neighbours", type="numpy", format="png")
        o_image = gr.Image(label="image", type="numpy", format="png")
        o_interp = gr.JSON(label="interpolation")
        o_rows = gr.JSON(label="rows")
        o_found = gr.JSON(label="neighbours")
        o_z = gr.JSON(label="z")
        buttons = [gr.Button(n) for n in API_NAMES]

    @friendly
    def interpolate(model: str, index_a: int, index_b: int, steps: int = 8, mode: str = "linear",
                    class_mode: str = "fixed"):
        """Decode the path between test images index_a and index_b (0..N-1): `steps` images (2..32, both ends
        included), mode "linear" or "slerp"; for a conditional model class_mode "fixed" (A's class throughout) or
        "sweep" (A's class, then B's). Returns the labelled strip (PNG) and {z, t, labels, captions, path, note}."""
        res = ztools.interpolate(reg.get(model), index_a, index_b, steps, mode, class_mode)
        info = {k: res[k] for k in ("z", "t", "labels", "captions", "path", "note")}
        info.update(a=res["a"]["name"], b=res["b"]["name"])
        return ztools.strip_image(res), info

    @friendly
    def traverse(model: str, z: list, label: int = -1):
        """Traversal grid around z (a list of latent_dim floats): one row per latent dimension, 9 columns where that
        dimension takes -3..3, rows ordered by KL per dimension (variance of the codes for an AE); label: class id
        for a conditional model, -1 otherwise. Returns the labelled grid (PNG) and its rows
        [{dim, name, score, active, values}], the measure and a note."""
        res = ztools.traverse(reg.get(model), z, label)
        rows = [{k: r[k] for k in ("dim", "name", "score", "active", "values")} for r in res["rows"]]
        return ztools.traversal_image(res), {"rows": rows, "measure": res["measure"], "note": res["note"]}

    @friendly
    def neighbours(model: str, z: list, k: int = ztools.N_NEIGHBOURS):
        """The k (1..64, default 8) test images whose latent means are nearest to z, nearest first. Returns them as
        one sheet (PNG) and a list of {index, label, class_name, distance}."""
        found = ztools.nearest_neighbours(reg.get(model), z, k)
        sheet = ztools.sheet(np.stack([images.as_unit_float(n["image"]) for n in found]), nrow=len(found), scale=4)
        return sheet, [{key: n[key] for key in ("index", "label", "class_name", "distance")} for n in found]

    @friendly
    def move_towards(model: str, z: list, from_class: int, to_class: int, strength: float = 1.0):
        """Attribute arithmetic on an unconditional model: z + strength * (mean code of to_class - mean code of
        from_class), class means over the test images; strength in -3..3. Returns the decoded image (280x280) and
        the new z."""
        loaded = reg.get(model)
        res = ztools.move_towards(loaded, z, from_class, to_class, strength)
        return images.to_display_image(res["images"][-1]), res["z"]

    specs = {
        "interpolate": (interpolate, [a_model, a_index_a, a_index_b, a_steps, a_mode, a_class_mode],
                        [o_strip, o_interp]),
        "traverse": (traverse, [a_model, a_z, a_label], [o_grid, o_rows]),
        "neighbours": (neighbours, [a_model, a_z, a_k], [o_sheet, o_found]),
        "move_towards": (move_towards, [a_model, a_z, a_from, a_to, a_strength], [o_image, o_z]),
    }
    for btn, name in zip(buttons, API_NAMES):
        fn, ins, outs = specs[name]
        btn.click(fn, ins, outs, api_name=name, api_description=" ".join(fn.__doc__.split()), preprocess=False)
