"""Work-arounds for two gradio 6 behaviours: one page session's server memory grew with every interaction
(keep_session_component_ids), and a file input answered a malformed value with an empty error (explain_bad_files,
at the end).

When an event returns a property update (any `gr.update(...)`, e.g. a slider's new range), gradio builds a new
component for that session and stores it under the original component's id, but the new component gets a fresh
id of its own. The next event that takes this component as an input looks it up, sees the fresh id missing from
the session and stores it again under that id (gradio/blocks.py, `preprocess_data`: `if block._id not in state:
state[block._id] = block`). Every "update the sliders, then move a slider" cycle therefore added 32 components
and their configs to the session, about 170 KB, for as long as the session lived: a person alternating the Random
button and a slider grew the server without bound (benchmarks/memory.py measured +30% over 10,000 requests).

`keep_session_component_ids()` makes the session's copy keep the id it is stored under, so the lookup finds it
and nothing is added. It changes nothing else: the copy was already stored and served under that id.
"""
from __future__ import annotations

import functools


def keep_session_component_ids() -> bool:
    """Patch gradio's SessionState once (idempotent). Returns False when gradio's internals are not as expected,
    in which case nothing is patched (the app works as before, with the slower growth)."""
    try:
        from gradio.blocks import Block
        from gradio.state_holder import SessionState
    except ImportError:  # pragma: no cover - a gradio that moved these
        return False
    original = SessionState.__setitem__
    if getattr(original, "_keeps_ids", False):
        return True

    @functools.wraps(original)
    def __setitem__(self, key, value):
        if isinstance(value, Block) and isinstance(key, int) and getattr(value, "_id", key) != key:
            value._id = key  # the session's copy of component `key` (see the module docstring)
        original(self, key, value)

    __setitem__._keeps_ids = True
    SessionState.__setitem__ = __setitem__
    return True


def explain_bad_files(component, message: str):
    """Make a file input (gr.Image, gr.Sketchpad) answer a value of the wrong shape with `message` instead of an
    empty error. Returns the component.

    Even with preprocess=False, gradio validates a file input's raw value against the component's data model
    (gradio/blocks.py, `preprocess_data`) before the event runs; a string, a number, a list or a dict with a
    wrong field there raised pydantic's ValidationError, which a public app (show_error=False) shows as an error
    with no message, and which logged a traceback. The component gets a subclass of its data model whose
    model_validate raises gr.Error(message) instead; the model's schema (the API docs, gradio_client) keeps its
    name and fields. `message` may hold {got}: the value, cut short. It is set on the instance, as
    ui_extras.bound_blob_uploads does, so no component subclass is made.
    """
    import gradio as gr
    import pydantic

    from .checks import shown

    base = type(component).data_model
    if base is None or getattr(component, "_explains_bad_files", False):
        return component

    class Checked(base):
        model_config = pydantic.ConfigDict(title=base.__name__)

        @classmethod
        def model_validate(cls, obj, *args, **kwargs):
            try:
                return base.model_validate(obj, *args, **kwargs)
            except pydantic.ValidationError:
                raise gr.Error(message.format(got=shown(obj)), print_exception=False) from None

    Checked.__name__ = Checked.__qualname__ = f"Checked{base.__name__}"
    component.data_model = Checked
    component._explains_bad_files = True
    return component
