"""The tool tabs, one module each, in page order. Every module has the same shape:

    TITLE, NEEDS          the tab's title and the Capabilities it needs (explorer.backends); a model without them
                          shows the tab's one-line reason instead of its controls
    layout(ctx) -> T      the tab's components (a dataclass), inside its gr.Tab
    wire(ctx, tabs)       its events; `tabs` maps each module's name to its components (a map click also refreshes
                          the neighbours, say)
    reset(ctx, tab, info) optional: {component: update} for a newly picked model (explorer.ui joins them into one
                          event)

Handlers unpack widget values, call explorer.tools, and turn the data into component updates.
"""
from . import arithmetic, compare, drawing, dynamics, export, interpolation, neighbours, text_input, traversal

TABS = (interpolation, traversal, neighbours, arithmetic, drawing, text_input, compare, dynamics, export)

__all__ = ["TABS"]
