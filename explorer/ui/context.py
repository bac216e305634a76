"""What every part of the page shares: the PageContext (the main view's components), the error wrapper, the event
settings and the HTML templates of an image with a caption."""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import gradio as gr

from ..latent_map import MapLoadError
from ..modalities.image import blank, png_bytes
from ..registry import LoadedModel, ModelRegistry
from ..tools.export import safe_filename
from ..validation import InputError

log = logging.getLogger("explorer.ui")

MAX_SLIDERS = 32  # the training package caps latent_dim at 32; sliders beyond a model's D are hidden
BLANK = blank()    # light grey until something is shown
# An image (a PNG data URI), or a text model's sentence: already escaped HTML from explorer.modalities.text, which
# starts with "<" where a data URI starts with "data:".
IMG_TEMPLATE = ('${String(value).startsWith("<") ? value : `<img class="xp-img" src="${value}" alt="${alt}">`}'
                '<div class="xp-caption">${caption}</div>')
EMPTY = '<div class="xp-empty">{}</div>'

# preprocess=False on every event: anyone can call these by fn_index with any JSON, and gradio's own input checks
# fail on some values (a string or a dict for a Number or a Slider) with an empty error and a traceback in the log.
# The raw values go to explorer.validation instead, whose messages say what to send.
FAST = dict(show_progress="hidden", api_visibility="private", preprocess=False)


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


def save_png(button, image_u8, name: str) -> str:
    """Write a PNG (a download button's file) straight into gradio's cache, cleaned hourly by delete_cache, and
    return its path."""
    from gradio import processing_utils

    return processing_utils.save_bytes_to_cache(png_bytes(image_u8), name, cache_dir=button.GRADIO_CACHE)


def save_text(button, text: str, name: str) -> str:
    """Write a UTF-8 text file (a text model's download: its path, table or sentences) into gradio's cache, as
    save_png does, and return its path."""
    from gradio import processing_utils

    return processing_utils.save_bytes_to_cache(str(text).encode("utf-8"), name, cache_dir=button.GRADIO_CACHE)


def txt_name(*parts) -> str:
    """A text download's file name from its parts: "traversal-wordnet-vae.txt"."""
    return safe_filename("-".join(str(p) for p in parts), 120) + ".txt"


def png_name(*parts) -> str:
    """A download's file name from its parts: "traversal-mnist-vae.png"."""
    return safe_filename("-".join(str(p) for p in parts), 120) + ".png"


@dataclass
class PageContext:
    """The main view's components that the tool tabs read and update, and the registry behind them."""
    registry: ModelRegistry
    model_picker: gr.Dropdown
    class_picker: gr.Radio
    projection: gr.Radio
    seed: gr.Number
    sliders: list
    latent_map: gr.HTML
    random_btn: gr.Button
    reset_btn: gr.Button
    decoded: gr.HTML
    class_row: gr.HTML
    status: gr.Markdown
    map_note: gr.Markdown

    @property
    def z_outputs(self) -> list:
        """What z_updates returns values for: the decoded output, the class row, the map (its marker)."""
        return [self.decoded, self.class_row, self.latent_map]

    @staticmethod
    def z_updates(loaded: LoadedModel, view: dict) -> list:
        """The z_outputs' values for a decoded view (explorer.tools.explore.decoded_view)."""
        # Unconditional models have no class row: skip it rather than re-send an empty one on every move.
        # Plain values, not gr.update(...): gradio rebuilds a component for every property update.
        m = loaded.modality
        key = "html" if m.name == "text" else "src"  # a sentence goes in as escaped HTML (ROW_TEMPLATE)
        row = [{key: m.render_small(r["output"]), "name": r["name"], "current": r["current"]} for r in view["row"]]
        return [m.render(view["output"]), row if row else gr.skip(), gr.update(marker=view["marker"])]

    def slider_updates(self, loaded: LoadedModel, z, values_only: bool = False) -> list:
        """New slider values for z. The page's model already set each slider's range and visibility, so most events
        send values_only=True: plain numbers are cheaper than property updates (gradio builds a new component on
        the server for each of those)."""
        n, d = len(self.sliders), len(z)
        if values_only:
            return [float(z[i]) if i < d else 0.0 for i in range(n)]
        r = loaded.slider_range
        return [gr.update(value=z[i], visible=True, minimum=-float(r[i]), maximum=float(r[i]))
                if i < d else gr.update(visible=False, value=0) for i in range(n)]

    def zs_of(self, loaded: LoadedModel, zs) -> list:
        """The first latent_dim slider values (the page always sends all MAX_SLIDERS)."""
        return list(zs[:loaded.latent_dim])
