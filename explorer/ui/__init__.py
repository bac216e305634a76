"""The page: the main view above, the tool tabs below, the named API endpoints hidden. Layout and wiring only;
every event calls a plain function in explorer.tools.

    build_demo(registry)  -> gr.Blocks (nothing loaded; the first model loads when the page opens)
    launch_kwargs()       -> the arguments app.py, tests and benchmarks pass to demo.launch()

Element ids: tool-tabs. explorer.ui.main_view, explorer.ui.selection_panel and each module of explorer.ui.tabs list
theirs. Named API endpoints:
explorer.ui.api (decode, reconstruct, list_models, interpolate, traverse, neighbours, move_towards, encode_image,
encode_text, compare_models, training_history, export_map_csv, generate_dataset, generate_text_dataset, select).
"""
from __future__ import annotations

import threading
from types import SimpleNamespace

import gradio as gr

from ..backends import Capabilities
from ..registry import ModelRegistry
from . import api, main_view
from .context import FAST, MAX_SLIDERS, PageContext, friendly
from .gradio_patches import keep_session_component_ids
from .style import CSS, MAX_UPLOAD, PLOTLY_JS, QUEUE_MAX_SIZE, QUEUE_STATUS_EVERY_S, STATE_SESSION_CAPACITY
from .tabs import TABS

__all__ = ["build_demo", "launch_kwargs", "friendly", "MAX_SLIDERS", "PLOTLY_JS", "MAX_UPLOAD"]


def build_demo(registry: ModelRegistry) -> gr.Blocks:
    """The whole app. Nothing is loaded here: the first model is loaded when the page opens (demo.load)."""
    keep_session_component_ids()  # else each page session's memory grows with every event (see gradio_patches)
    gr.set_static_paths([str(PLOTLY_JS)])

    # delete_cache: every hour, drop the output images and uploads older than an hour from gradio's cache folder
    # (each /decode call writes a PNG there; a public Space would otherwise fill its disk).
    with gr.Blocks(title="Latent space explorer", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        ctx, own = main_view.layout(registry)
        with gr.Tabs(elem_id="tool-tabs"):
            tabs = {t.__name__.rsplit(".", 1)[-1]: t.layout(ctx) for t in TABS}
        api.build(ctx)

        main_view.wire(demo, ctx, own)
        wire_model_change(ctx, tabs)

        def _warm_torchvision() -> None:
            """torchvision (make_grid) takes about 2 s to import: do it in the background when a page opens, not on
            the first tool click; unless the app's background warm-up runs (app.py), which imports it in its turn,
            after the models the page shows first. Not at start-up: app.py must import without torch."""
            if not registry.warming:
                from ..backends import grid
                threading.Thread(target=grid.warm_up, daemon=True).start()

        gr.on(None, _warm_torchvision, None, None, **FAST)  # on page load
        for t in TABS:
            t.wire(ctx, tabs)
    # The queue that the named API, the model picker and the tool tabs' buttons go through (see style.py). Its
    # concurrency stays gradio's default, one call per event at a time (GRADIO_DEFAULT_CONCURRENCY_LIMIT sets it).
    demo.queue(status_update_rate=QUEUE_STATUS_EVERY_S, max_size=QUEUE_MAX_SIZE)
    demo.registry = registry  # for app.py's warm-up and for tests
    return demo


def wire_model_change(ctx: PageContext, tabs: dict) -> None:
    """One event for a newly picked model: every tab's reset (its pictures and points forgotten, its controls shown
    or its reason for being off), joined by component."""
    resets = [(t.reset, tabs[name]) for name, t in zip(tabs, TABS) if hasattr(t, "reset")]
    probe = {}
    for reset, tab in resets:  # the components each reset updates: the event's outputs
        probe.update(reset(ctx, tab, _NO_MODEL))

    @friendly
    def on_model_tools(name):
        """A new model: forget the points and the pictures of the old one; show the controls it has."""
        info = ctx.registry.info(name)
        out = {}
        for reset, tab in resets:
            out.update(reset(ctx, tab, info))
        return out

    ctx.model_picker.change(on_model_tools, [ctx.model_picker], list(probe), **FAST)


# Any model will do to list the components the resets update: each reset updates the same ones whatever the model.
_NO_MODEL = SimpleNamespace(error=None, class_names=(), capabilities=Capabilities(True, True, True, True))


def launch_kwargs() -> dict:
    """Arguments for demo.launch() shared by app.py, tests and benchmarks (Gradio 6 takes css/theme here)."""
    return dict(css=CSS, theme=gr.themes.Default(primary_hue="indigo"), ssr_mode=False, show_error=False,
                state_session_capacity=STATE_SESSION_CAPACITY, max_file_size=MAX_UPLOAD)
