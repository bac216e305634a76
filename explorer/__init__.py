"""The latent-space explorer: a Gradio app over the model folders in assets/ (see app.py).

    from explorer import ModelRegistry, build_demo
    demo = build_demo(ModelRegistry.discover())

Plain functions: explorer.inference (decode, reconstruct, images), explorer.latent_map (map, lookup, figure),
explorer.actions (one function per user action); explorer.ui only lays out and wires.
"""
from .registry import ModelRegistry

__all__ = ["ModelRegistry", "build_demo", "launch_kwargs"]


def __getattr__(name):  # gradio is imported only when the UI is wanted
    if name in ("build_demo", "launch_kwargs"):
        from . import ui
        return getattr(ui, name)
    raise AttributeError(name)
