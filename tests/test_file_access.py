"""The served app hands out nothing but its page, gradio's own static files, plotly.min.js and the images it made.

Requests for ../ paths, absolute paths, URL-encoded variants and the repository's own source, model files and .git
are refused with a 4xx. Paths are sent byte for byte (http.client), since httpx would normalise the ../ away.
"""
from __future__ import annotations

import http.client
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from explorer import ModelRegistry  # noqa: E402
from explorer.testing import make_assets, serve  # noqa: E402
from explorer.ui import PLOTLY_JS  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    assets = make_assets(tmp_path_factory.mktemp("files") / "assets", latent_dim=2, n_points=20)
    with serve(ModelRegistry.discover(assets)) as demo:
        yield demo.local_url, assets


def get(base: str, raw_path: str) -> tuple[int, bytes]:
    """GET exactly `raw_path` (no normalisation of ../ or %2e)."""
    u = urlsplit(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", raw_path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def secret_files(assets: Path) -> list[Path]:
    return [REPO / "app.py", REPO / "training" / "checkpoint.py", REPO / "explorer" / "ui" / "__init__.py",
            REPO / "explorer" / "static" / "latent_map.js", REPO / ".git" / "config", REPO / "pyproject.toml",
            assets / "fake-vae" / "model.safetensors", assets / "fake-vae" / "config.json",
            PLOTLY_JS.parent.parent / "__init__.py"]


def refused_paths(assets: Path) -> list[str]:
    src = secret_files(assets)
    paths = []
    for prefix in ("/gradio_api/file=", "/file=", "/gradio_api/file/"):
        paths += [prefix + "../../../../../../etc/passwd", prefix + "/etc/passwd", prefix + "/proc/self/environ",
                  prefix + "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", prefix + "%2Fetc%2Fpasswd",
                  prefix + "..%2f..%2f..%2f..%2fetc%2fpasswd", prefix + "app.py", prefix + "training/checkpoint.py",
                  prefix + "./app.py", prefix + "explorer/../app.py"]
        paths += [prefix + str(p) for p in src]
        # from the allowed plotly file up into the package, and a NUL byte after it
        paths += [prefix + str(PLOTLY_JS) + "/../../__init__.py", prefix + str(PLOTLY_JS.parent) + "/../__init__.py",
                  prefix + str(PLOTLY_JS) + "%00.png"]
    for prefix in ("/static/", "/assets/", "/svelte/", "/gradio_api/static/"):
        paths += [prefix + "../app.py", prefix + "../../app.py", prefix + "../../../../../../etc/passwd",
                  prefix + "%2e%2e/%2e%2e/app.py", prefix + "%2e%2e%2f%2e%2e%2fapp.py", prefix + "..%2f..%2fapp.py",
                  prefix + "/etc/passwd", prefix + str(REPO / "app.py")]
    paths += ["/app.py", "/training/checkpoint.py", "/.git/config", "/assets/fake-vae/model.safetensors",
              "/gradio_api/proxy=http://127.0.0.1:22/"]
    return paths


def test_paths_outside_the_app_are_refused(served):
    base, assets = served
    # the first 64 bytes of each file, so that a 4xx page that merely names the path does not count
    secret_bits = [p.read_bytes()[:64] for p in secret_files(assets) if p.is_file()] + [b"root:x:0:0"]
    served_any = []
    for path in refused_paths(assets):
        status, body = get(base, path)
        if not 400 <= status < 500 or any(bit in body for bit in secret_bits):
            served_any.append((path, status, body[:80]))
    assert served_any == []


def test_the_page_plotly_and_gradio_static_files_are_served(served):
    base, _ = served
    status, page = get(base, "/")
    assert status == 200
    status, body = get(base, "/gradio_api/file=" + str(PLOTLY_JS))
    assert status == 200 and len(body) > 1_000_000
    scripts = re.findall(rb'src="\.?/?(assets/[^"]+\.js)"', page)
    assert scripts
    for s in scripts:
        status, body = get(base, "/" + s.decode())
        assert status == 200 and body


def test_an_image_the_app_made_is_served(served):
    base, _ = served
    path = Client(base, verbose=False).predict(model="fake-vae", z=[0.0, 0.0], label=-1, api_name="/decode")
    assert Image.open(path).size == (280, 280)


def test_uploads_over_the_size_limit_are_refused(served):
    import httpx
    base, _ = served
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (11 * 1024 * 1024)
    r = httpx.post(base.rstrip("/") + "/gradio_api/upload", files={"files": ("big.png", big, "image/png")}, timeout=60)
    assert r.status_code == 413
