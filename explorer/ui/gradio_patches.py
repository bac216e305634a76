"""Work-arounds for three gradio 6 behaviours: one page session's server memory grew with every interaction
(keep_session_component_ids), a file input answered a malformed value with an empty error (explain_bad_files), and
the sketchpad's blob uploads could be made to hold any amount of memory (bound_blob_uploads, at the end).

When an event returns a property update (any `gr.update(...)`, e.g. a slider's new range), gradio builds a new
component for that session and stores it under the original component's id, but the new component gets a fresh
id of its own. The next event that takes this component as an input looks it up, sees the fresh id missing from
the session and stores it again under that id (gradio/blocks.py, `preprocess_data`: `if block._id not in state:
state[block._id] = block`). Every "update the sliders, then move a slider" cycle therefore added 32 components
and their configs to the session, about 170 KB, for as long as the session lived: a person alternating the Random
button and a slider grew the server without bound (benchmarks/memory.py measured +30% over 10,000 requests).

`keep_session_component_ids()` makes the session's copy keep the id it is stored under, so the lookup finds it
and nothing is added. It changes nothing else: the copy was already stored and served under that id.

Upstream: the closest report is https://github.com/gradio-app/gradio/issues/11602 (memory that rises with every
interaction; its fix, https://github.com/gradio-app/gradio/pull/13756, pruned other per-request structures and left
this one); a file input's pydantic error reaching callers without a message is seen in
https://github.com/gradio-app/gradio/issues/7778. No upstream issue names the component-id mechanism or the
sketchpad's unbounded accept_blobs: each workaround says what it guards against, so it can go once gradio fixes it.
"""
from __future__ import annotations

import functools

import gradio as gr


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
    bound_blob_uploads does, so no component subclass is made.
    """
    import pydantic

    from ..validation import shown

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

MAX_PENDING_DRAWINGS = 32           # drawings whose strokes reached the server but were not encoded yet
MAX_PENDING_BYTES = 64 * 2**20      # all of them together
MAX_LAYERS = 8
MAX_DRAWING_ID = 200                # the page's ids are short random strings
BLOB_KINDS = ("composite", "layer", "background")


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
    from fastapi import HTTPException

    from ..validation import shown

    original = sketch.accept_blobs
    store = sketch.blob_storage

    def refuse(message: str):
        # A 400 with the message as its "detail": a gr.Error (or any other exception) raised in a server function
        # becomes a bare 500 "Internal Server Error" from gradio's /component_server route.
        return HTTPException(status_code=400, detail=message)

    def accept_blobs(data):
        try:
            fields, file = data.data, data.files[0][1]
            part, index, drawing = fields["type"], fields.get("index"), fields["id"]
        except (AttributeError, KeyError, IndexError, TypeError):
            raise refuse("malformed drawing upload: send a multipart form with the fields type, index and id and "
                         "one file, as the sketchpad does.") from None
        if part not in BLOB_KINDS:
            raise refuse(f"unknown part of a drawing {shown(part)}; send one of {', '.join(BLOB_KINDS)}.")
        if not isinstance(drawing, str) or not 0 < len(drawing) <= MAX_DRAWING_ID:
            raise refuse(f"a drawing's id must be text of 1 to {MAX_DRAWING_ID} characters, got {shown(drawing)}.")
        try:
            index = int(index) if index not in (None, "", "null") else None
        except (TypeError, ValueError):
            index = None
        if part == "layer" and (index is None or not 0 <= index < MAX_LAYERS):
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
