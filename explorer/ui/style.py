"""What the page looks like and where its browser files come from: the stylesheet (static/app.css, one "xp-"
prefix), the plotly.min.js of the plotly package, served locally, and the limits gradio is launched with."""
from __future__ import annotations

import importlib.util
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
# plotly.min.js as shipped inside the plotly package (found without importing plotly, which is slow to import)
PLOTLY_JS = Path(importlib.util.find_spec("plotly").origin).resolve().parent / "package_data" / "plotly.min.js"
PLOTLY_HEAD = f'<script src="/gradio_api/file={PLOTLY_JS}"></script>'  # served by this app (no CDN); loaded once
CSS = (STATIC / "app.css").read_text()

# Gradio keeps a copy of the page's component config for every session it has seen (about 420 KB here, with 32
# sliders and the tool tabs), up to state_session_capacity sessions, 10,000 by default: 4 GB. Every API call through
# /call or gradio_client is a new session, so a public Space reaches that cap. The explorer keeps no per-session
# state that matters on the server (no gr.State; every event checks its raw inputs itself), so evicting the least
# recently used session costs nothing: its next event starts from the page's defaults, which is all the server
# ever needed. 50 sessions bound this memory to about 21 MB (benchmarks/memory.py: growth under 5%).
STATE_SESSION_CAPACITY = 50
# gradio's queue tells each waiting call its place in line. By default ("auto") it sends every waiting call a
# message each time any call starts: with 30 scripts waiting on /decode, 30 event-stream messages per call, each
# written by the server's one event-loop thread and parsed by its client. Every 2 s is enough for a place in line
# (benchmarks/load.py, 30 gradio_client users: 13% less server CPU per call, 25 -> 29 calls/s). No size limit: a
# caller waits rather than being refused.
QUEUE_STATUS_EVERY_S = 2.0
QUEUE_MAX_SIZE = None
MAX_UPLOAD = "10mb"  # the drawing tab's upload and sketchpad, and gradio's /upload route, which is always open


def static_js(name: str) -> str:
    """The text of a file in explorer/static (the js_on_load bodies of the map and the plots)."""
    return (STATIC / name).read_text()

# Rows of small images with captions (interpolation strip, neighbours, arithmetic preview), scoped to each component.
STRIP_CSS = """
.xp-strip { display:flex; flex-wrap:wrap; gap:6px; justify-content:center; }
.xp-strip figure { margin:0; text-align:center; font-size:0.75em; }
.xp-strip img { width:64px; height:64px; image-rendering:pixelated; border-radius:3px; display:block;
                background:#000; }
.xp-neighbours img { width:84px; height:84px; }
.xp-empty { opacity:0.7; text-align:center; padding:12px; }
"""
