"""Latent space explorer: `python app.py [--model-dir DIR ...]` (also the Hugging Face Spaces entry point).

Serves every model folder in assets/ plus any folder given with --model-dir (repeatable) or in the
EXPLORER_MODEL_DIRS environment variable (separated by ':'). An entry may be a Hugging Face Hub repo id (owner/name):
it is downloaded once into the Hugging Face cache and served from there; offline, a cached one is served with a
one-line note, and one never downloaded is listed with what to do. Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.
Importing this module builds `demo` without launching it; nothing is trained or projected at start-up.

Start-up: the page answers as soon as gradio and the page are built (torch is not imported for that); then one
background thread warms everything up in the order the first clicks need it (explorer.ui.api.warm_plan): torch and
the default model with its image and map, the other models, then the first call of every tool on every model, and
one request through gradio's own API routes. A request never waits for the whole warm-up: a model it needs that is
not loaded yet is loaded by the request itself, and the warm-up pauses while requests come in.
"""
from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import os
import sys
import threading


def _skip_gradio_stub_writer() -> None:
    """Make gradio's import about a third shorter: for every component class it defines, gradio's ComponentMeta
    reads the class's source file, parses it with `ast` twice and renders a jinja template, to keep the `.pyi`
    stub next to it up to date (gradio.component_meta.create_or_modify_pyi, a tool for gradio's own development;
    the stubs ship with gradio). py-spy on `python app.py`: 36% of the time until the page answered. Turned into a
    no-op here, before gradio is imported (its package __init__ defines every component): nothing at run time reads
    those stubs. Without effect when gradio was imported already."""
    if "gradio" in sys.modules:
        return

    class StubWriterOff(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "gradio.component_meta":
                return None
            sys.meta_path.remove(self)
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            if spec is None or spec.loader is None:
                return spec
            exec_module = spec.loader.exec_module

            def exec_and_patch(module):
                exec_module(module)
                module.create_or_modify_pyi = lambda *args, **kwargs: None

            spec.loader.exec_module = exec_and_patch
            return spec

    sys.meta_path.insert(0, StubWriterOff())


# Gradio's queue keeps a record of each of the last GRADIO_ANALYTICS_MAX_EVENTS events (10,000 by default) and, after
# every queued event, builds a pandas DataFrame of all of them to summarise them for its monitoring page, which this
# app does not serve (py-spy under 30 clients: 9% of the server's time; and the first queued call imports pandas).
# Recomputing it every 10^9 events means never; 1,000 records bound the rest. Set either to override.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", str(10**9))
os.environ.setdefault("GRADIO_ANALYTICS_MAX_EVENTS", "1000")
_skip_gradio_stub_writer()

from explorer import ModelRegistry  # noqa: E402 - after the import hook above
from explorer.registry import ENV_MODEL_DIRS  # noqa: E402
from explorer.ui import build_demo, launch_kwargs  # noqa: E402


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Explore the latent space of the shipped models (autoencoders and GANs).")
    p.add_argument("--model-dir", action="append", default=[], metavar="DIR",
                   help="a model folder of your own (config.json + model.safetensors + latent_map.npz), or a Hugging "
                        "Face Hub repo id (owner/name), downloaded once and cached; repeatable")
    p.add_argument("--assets", default=None, metavar="DIR", help="folder of model folders (default: ./assets)")
    return p.parse_args(argv)


def create_demo(argv: list[str] | None = None):
    args = parse_args(argv or [])
    extra = [d for d in os.environ.get(ENV_MODEL_DIRS, "").split(os.pathsep) if d] + args.model_dir
    return build_demo(ModelRegistry.discover(args.assets, extra))


def warm_up(demo, url: str | None = None) -> list[dict]:
    """The background warm-up (see the module docstring); prints one line when it is done and returns what
    ModelRegistry.warm_up did."""
    from explorer.ui.api import warm_plan, warm_requests

    plan = warm_plan(demo.registry)
    if url:  # once the default model is shown: gradio's own first-request work (queue, event stream, files)
        at = next((i + 1 for i, (label, _) in enumerate(plan) if label.startswith("first view")), 0)
        plan[at:at] = warm_requests(url, demo.registry)
    done = demo.registry.warm_up(plan)
    first = next((d["at"] for d in done if d["step"].startswith("first view")), 0.0)
    failed = [d["step"] for d in done if d["error"]]
    print(f"Warm-up done: the default model was ready after {first:.1f} s, all {len(done)} steps after "
          f"{done[-1]['at'] if done else 0:.1f} s" + (f"; failed: {', '.join(failed)}" if failed else "."),
          flush=True)
    return done


demo = create_demo(sys.argv[1:] if __name__ == "__main__" else [])

if __name__ == "__main__":
    demo.launch(prevent_thread_lock=True, **launch_kwargs())
    threading.Thread(target=warm_up, args=(demo, demo.local_url), daemon=True, name="warm-up").start()
    demo.block_thread()
