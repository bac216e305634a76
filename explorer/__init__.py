"""The latent-space explorer: a Gradio app over the model folders in assets/ (see app.py).

    from explorer import ModelRegistry, build_demo
    demo = build_demo(ModelRegistry.discover())

The ten-minute tour, in the order data flows:

    registry.py    model folders -> ModelInfo (config.json, metrics.json only) -> LoadedModel on first pick
    backends/      the only code here that imports torch; base.py: Capabilities + the kind -> backend table,
                   autoencoder.py: the training package's AE / VAE / CVAE behind numpy-in, numpy-out methods
                   gan.py: the GAN / CGAN generator, with inversion (an optimiser) where an encoder would be
    modalities/    how outputs are shown and inputs prepared (image.py: PNGs, sheets, a picture made like MNIST)
    latent_map.py  the stored map of the test set: lookups, projections, the plotly figure
    validation.py  InputError and every check of a raw value a person or script sends
    tools/         one plain module per tool: LoadedModel + raw values -> data (no gradio, no HTML)
    ui/            the page: main_view.py, tabs/<tool>.py (each declares the capabilities it needs), api.py
                   (every named endpoint), context.py, style.py, gradio_patches.py
    testing/       tiny synthetic model folders and the app/browser helpers for tests and benchmarks

    app.py -> registry -> ui.build_demo -> an event in ui/tabs/x -> tools/x(loaded, raw values) -> validation
           -> loaded.backend (torch) -> plain outputs -> loaded.modality renders them -> component update
"""
from .registry import ModelRegistry

__all__ = ["ModelRegistry", "build_demo", "launch_kwargs"]


def __getattr__(name):  # gradio is imported only when the UI is wanted
    if name in ("build_demo", "launch_kwargs"):
        from . import ui
        return getattr(ui, name)
    raise AttributeError(name)
