"""A bare Gradio app, the reference beside the explorer's slider latency: one slider and one image, the slider event
set up as the explorer's (input event, queue=False, always_last, hidden progress, raw values) and no model: the
handler returns one of 256 PNGs of shipped test images made at start-up, so what is left is Gradio, the browser and
the machine.

    python benchmarks/bare_app.py      # GRADIO_SERVER_PORT picks the port; benchmarks/latency.py starts it
"""
from __future__ import annotations

import numpy as np
import gradio as gr

from explorer.modalities.image import DISPLAY_SCALE, png_data_uri, to_display_image
from explorer.testing.browser import REPO
from explorer.ui.context import IMG_TEMPLATE

MAP = REPO / "assets" / "mnist-vae" / "latent_map.npz"


def pictures(n: int = 256) -> list[str]:
    """n 280x280 PNG data URIs, of shipped test images where there are some (the explorer's images are alike)."""
    if MAP.is_file():
        with np.load(MAP) as f:
            if "images" in f.files:
                images = f["images"][:n]
            else:   # a map of every image keeps them in files beside it (training/evaluate.py's save_latent_map)
                with np.load(MAP.parent / str(f["image_files"][0])) as g:
                    images = g["images"][:n]
    else:
        images = (np.random.default_rng(0).random((n, 28, 28)) * 255).astype(np.uint8)
    return [png_data_uri(to_display_image(im, DISPLAY_SCALE)) for im in images]


PICTURES = pictures()


def on_slide(value):
    try:
        v = float(value)
    except (TypeError, ValueError):
        return gr.skip()
    return PICTURES[int(abs(v) * 100) % len(PICTURES)]


with gr.Blocks(title="bare Gradio reference", analytics_enabled=False) as demo:
    image = gr.HTML(PICTURES[0], html_template=IMG_TEMPLATE, alt="reference image", caption="", elem_id="decoded-image")
    slider = gr.Slider(-3, 3, value=0, step=0.01, label="z1", elem_id="z-0", buttons=[])
    slider.input(on_slide, slider, image, trigger_mode="always_last", queue=False, show_progress="hidden",
                 preprocess=False, api_visibility="private")

if __name__ == "__main__":
    demo.launch(ssr_mode=False, show_error=False)
