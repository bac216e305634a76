"""Interpolation tab: decode the path between two points A and B, drawn on the map as a line.

Element ids: tab-interpolation, point-a, point-b, set-a-button, set-b-button, pick-on-map, interp-steps,
interp-mode, interp-class-mode, interpolate-button, interp-strip, interp-note, interp-download.
The points A and B live in the page (hidden components), not in server-side state; every event checks its raw
values (preprocess=False) in explorer.tools.interpolation.
"""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import numpy as np

from ...latent_map import check_index, lookup_point
from ...modalities.image import figure_row
from ...tools import explore, interpolation as tool
from ...validation import validate_z
from ..context import (BLANK, EMPTY, FAST, IMG_TEMPLATE, PageContext, friendly, png_name, save_png, save_text,
                       txt_name)
from ..style import STRIP_CSS

TITLE = "Interpolation"
NEEDS = ()
HELP = """**Interpolation.** Pick two points and decode the codes on the path between them. Click a point on
the map (or move the sliders) and press **Set A**, then do the same for **B**; or turn on *pick on the map* and click
two points. *Linear* walks the straight line; *spherical* (slerp) follows the great circle, which keeps the codes as
far from the origin as the ends are, where a VAE's prior puts its samples."""
CARD_CSS = """
.xp-img { width:112px !important; height:112px !important; }
"""
NO_STRIP = EMPTY.format("Set A and B to see the strip.")
TEXT_BLANK = '<div class="xp-sentence-small"></div>'  # a text model's card before its point is set


@dataclass
class InterpolationTab:
    card_a: gr.HTML
    card_b: gr.HTML
    set_a: gr.Button
    set_b: gr.Button
    pick: gr.Checkbox
    steps: gr.Slider
    mode: gr.Radio
    class_mode: gr.Radio
    go: gr.Button
    download: gr.DownloadButton
    strip: gr.HTML
    note: gr.Markdown
    point_a: gr.JSON       # hidden: {"index"} or {"z", "label"} of A
    point_b: gr.JSON
    next_pick: gr.Textbox  # hidden: which point the next map pick sets
    last_click: gr.Number  # hidden: the last clicked test image


def layout(ctx: PageContext) -> InterpolationTab:
    default = ctx.registry.info(ctx.registry.default) if ctx.registry.default else None
    conditional0 = bool(default and default.capabilities.conditional)
    with gr.Tab(TITLE, elem_id="tab-interpolation"):
        gr.Markdown(HELP)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=150):
                card_a = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="point A", caption="A: not set",
                                 elem_id="point-a", js_on_load=None, css_template=CARD_CSS)
                set_a = gr.Button("Set A = current z", elem_id="set-a-button", size="sm")
            with gr.Column(scale=1, min_width=150):
                card_b = gr.HTML(BLANK, html_template=IMG_TEMPLATE, alt="point B", caption="B: not set",
                                 elem_id="point-b", js_on_load=None, css_template=CARD_CSS)
                set_b = gr.Button("Set B = current z", elem_id="set-b-button", size="sm")
            with gr.Column(scale=3, min_width=300):
                pick = gr.Checkbox(False, label="Pick A and B on the map: the next click sets A, the one after B",
                                   elem_id="pick-on-map")
                steps = gr.Slider(tool.MIN_STEPS, tool.MAX_STEPS, value=8, step=1, elem_id="interp-steps",
                                  label=f"Steps: images in the strip, A and B included ({tool.MIN_STEPS}–"
                                        f"{tool.MAX_STEPS})", buttons=[])
                mode = gr.Radio([("Linear", "linear"), ("Spherical (slerp)", "slerp")], value="linear",
                                label="Path", elem_id="interp-mode")
                class_mode = gr.Radio([("Hold A's class", "fixed"), ("Sweep from A's class to B's", "sweep")],
                                      value="fixed", label="Class along the path (conditional model)",
                                      elem_id="interp-class-mode", visible=conditional0)
                with gr.Row():
                    go = gr.Button("Interpolate", variant="primary", elem_id="interpolate-button")
                    download = gr.DownloadButton("Download strip (PNG)", value=None, interactive=False,
                                                 elem_id="interp-download", size="md")
        strip = gr.HTML(NO_STRIP, elem_id="interp-strip", js_on_load=None, css_template=STRIP_CSS)
        note = gr.Markdown("", elem_id="interp-note")
        # Values that live in the page: the two points and the last clicked test image (no server-side state).
        with gr.Column(visible=False):
            point_a = gr.JSON(None, label="point A")
            point_b = gr.JSON(None, label="point B")
            next_pick = gr.Textbox("A", label="next map pick")
            last_click = gr.Number(None, label="last clicked test image", precision=0)
    return InterpolationTab(card_a, card_b, set_a, set_b, pick, steps, mode, class_mode, go, download, strip, note,
                            point_a, point_b, next_pick, last_click)


def reset(ctx: PageContext, t: InterpolationTab, info) -> dict:
    """A new model: forget the points and the strip of the old one; the class mode only for a conditional model."""
    blank = TEXT_BLANK if getattr(info.capabilities, "text", False) else BLANK
    return {ctx.latent_map: gr.update(path=None), t.point_a: None, t.point_b: None, t.next_pick: "A", t.last_click: None,
            t.card_a: gr.update(value=blank, caption="A: not set"),
            t.card_b: gr.update(value=blank, caption="B: not set"),
            t.strip: NO_STRIP, t.note: "", t.download: gr.update(value=None, interactive=False),
            t.class_mode: gr.update(visible=info.capabilities.conditional, value="fixed")}


def card(loaded, p: dict, which: str):
    """The small picture of point A or B: its code decoded (as its class, for a conditional model)."""
    label = p.get("label") if loaded.num_classes else None
    img = loaded.backend.decode(np.asarray([p["z"]], np.float32), label)[0]
    shown = loaded.modality.render_small(img) if explore.is_text(loaded) else loaded.modality.render(img, 4)
    return gr.update(value=shown, caption=f"{which}: {p['name']}")


def wire(ctx: PageContext, tabs: dict) -> None:
    t: InterpolationTab = tabs["interpolation"]
    nn_html = tabs["neighbours"].html
    reg, sliders = ctx.registry, ctx.sliders

    def outputs(loaded, name, res):
        if explore.is_text(loaded):  # the homotopy: one sentence per step, and a .txt download
            path = save_text(t.download, tool.strip_text(res), txt_name("interpolation", name, len(res["z"]), "steps"))
            strip = loaded.modality.sentences(res["images"], res["captions"])
        else:
            path = save_png(t.download, tool.strip_image(res), png_name("interpolation", name, len(res["z"]),
                                                                         "steps"))
            strip = figure_row(res["images"], res["captions"], "xp-strip")
        return [strip,
                f"From **A** ({res['a']['name']}) to **B** ({res['b']['name']}): {res['note']} {tool.PATH_NOTE}",
                gr.update(value=path, interactive=True), gr.update(path=res["path"])]

    def on_set(which):
        @friendly
        def handler(name, label, clicked, *zs):
            loaded = reg.get(name)
            z = ctx.zs_of(loaded, zs)
            p = None
            if clicked is not None:  # the sliders still hold the clicked test image's code: name it
                try:
                    q = tool.point_from_index(loaded, clicked)
                except ValueError:
                    q = None
                if q and np.allclose(explore.slider_values(loaded, q["z"]), validate_z(z, len(z)),
                                     atol=0.006) and (not loaded.num_classes or label == q["label"]):
                    p = q
            if p is None:
                p = tool.point_from_z(loaded, z, label)
            return p, card(loaded, p, which)
        handler.__name__ = f"on_set_{which.lower()}"
        return handler

    def interpolate_handler(quiet: bool):
        @friendly
        def handler(name, a, b, n, how, cls):
            loaded = reg.get(name)
            if quiet and (not a or not b):  # automatic run (a point or setting changed) before both are set
                return [gr.skip()] * 4
            pa, pb = tool.check_point(loaded, a, "A"), tool.check_point(loaded, b, "B")
            return outputs(loaded, name, tool.interpolate_points(loaded, pa, pb, n, how, cls))
        handler.__name__ = "on_interpolate_auto" if quiet else "on_interpolate"
        return handler

    auto = interpolate_handler(quiet=True)

    def on_picked(picking, *args):
        """After a map click in pick mode: draw the path once both points are set."""
        return auto(*args) if picking is True else [gr.skip()] * 4

    @friendly
    def on_map_click(name, picking, nxt, evt: gr.EventData = None):
        """Every map click: remember the clicked test image (and show its neighbours); in pick mode it also becomes
        A or B."""
        from ...tools.neighbours import nearest_neighbours
        from .neighbours import neighbours_html

        loaded = reg.get(name)
        i = check_index(loaded.latent_map, explore.event_index(getattr(evt, "_data", None)))
        z = explore.slider_values(loaded, lookup_point(loaded.latent_map, i).mu)
        nn = neighbours_html(nearest_neighbours(loaded, z))
        if picking is not True:
            return [i, nn] + [gr.skip()] * 5
        p = tool.point_from_index(loaded, i)
        if nxt == "B":
            return [i, nn, gr.skip(), p, gr.skip(), card(loaded, p, "B"), "A"]
        return [i, nn, p, gr.skip(), card(loaded, p, "A"), gr.skip(), "B"]

    model, label_in = ctx.model_picker, ctx.class_picker
    interp_in = [model, t.point_a, t.point_b, t.steps, t.mode, t.class_mode]
    interp_out = [t.strip, t.note, t.download, ctx.latent_map]
    t.set_a.click(on_set("A"), [model, label_in, t.last_click, *sliders], [t.point_a, t.card_a], **FAST) \
        .success(auto, interp_in, interp_out, **FAST)
    t.set_b.click(on_set("B"), [model, label_in, t.last_click, *sliders], [t.point_b, t.card_b], **FAST) \
        .success(auto, interp_in, interp_out, **FAST)
    t.go.click(interpolate_handler(quiet=False), interp_in, interp_out, **FAST)
    gr.on([t.steps.release, t.mode.change, t.class_mode.change], auto, interp_in, interp_out,
          trigger_mode="always_last", **FAST)
    ctx.latent_map.select(on_map_click, [model, t.pick, t.next_pick],
                          [t.last_click, nn_html, t.point_a, t.point_b, t.card_a, t.card_b, t.next_pick], queue=False,
                          **FAST) \
        .success(on_picked, [t.pick, *interp_in], interp_out, **FAST)
