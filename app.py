"""Latent space explorer: `python app.py [--model-dir DIR ...]` (also the Hugging Face Spaces entry point).

Serves every model folder in assets/ plus any folder given with --model-dir (repeatable) or in the
EXPLORER_MODEL_DIRS environment variable (separated by ':'). Honours GRADIO_SERVER_NAME and GRADIO_SERVER_PORT.
Importing this module builds `demo` without launching it; nothing is trained or projected at start-up.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading

from explorer import ModelRegistry
from explorer.registry import ENV_MODEL_DIRS
from explorer.ui import build_demo, launch_kwargs


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Explore the latent space of the shipped autoencoders.")
    p.add_argument("--model-dir", action="append", default=[], metavar="DIR",
                   help="a model folder of your own (config.json + model.safetensors + latent_map.npz); repeatable")
    p.add_argument("--assets", default=None, metavar="DIR", help="folder of model folders (default: ./assets)")
    return p.parse_args(argv)


def create_demo(argv: list[str] | None = None):
    args = parse_args(argv or [])
    extra = [d for d in os.environ.get(ENV_MODEL_DIRS, "").split(os.pathsep) if d] + args.model_dir
    return build_demo(ModelRegistry.discover(args.assets, extra))


demo = create_demo(sys.argv[1:] if __name__ == "__main__" else [])

if __name__ == "__main__":
    demo.launch(prevent_thread_lock=True, **launch_kwargs())
    # The page already answers; torch and the default model load in the background (about 2 s of CPU).
    threading.Thread(target=demo.registry.warm_up, daemon=True).start()
    demo.block_thread()
