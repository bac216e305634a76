"""A work-around for a gradio 6 bug that made one page session's server memory grow with every interaction.

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
