"""Helpers shared by the browser test (tests/e2e) and the benchmark scripts: start `python app.py`, open Debian's
chromium, and act on the page the way a person does. Never downloads a browser (no `playwright install`)."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]  # explorer/testing/browser.py -> the repository root
CHROMIUM = os.environ.get("EXPLORER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SHIPPED = ["mnist-ae", "mnist-vae", "mnist-cvae", "fashion-mnist-ae", "fashion-mnist-vae", "fashion-mnist-cvae"]


def shipped_assets_present() -> bool:
    return all((REPO / "assets" / name / "latent_map.npz").is_file() for name in SHIPPED)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class AppServer:
    """`python app.py` (or another `script` of the repo) in a subprocess on a free port; `url` once it answers."""

    def __init__(self, env: dict | None = None, args: list[str] | None = None, timeout: float = 60.0,
                 script: str = "app.py"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        full_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(self.port),
                    "GRADIO_ANALYTICS_ENABLED": "False", **(env or {})}
        self.t0 = time.perf_counter()
        # The server's output goes to a file: a pipe that nobody reads fills at 64 KB and then blocks the server.
        self.log = tempfile.NamedTemporaryFile("w+", prefix="app-", suffix=".log", delete=False)
        self.script = script
        self.proc = subprocess.Popen([sys.executable, script, *(args or [])], cwd=REPO, env=full_env,
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)
        self.ready_s = self.wait(timeout)

    def wait(self, timeout: float) -> float:
        """Seconds from start until GET / answers 200."""
        deadline = self.t0 + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.script} exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                with urllib.request.urlopen(self.url, timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.t0
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"{self.script} did not answer on {self.url} within {timeout} s")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> str:
        """Stop the server (SIGTERM, then SIGKILL after 10 s), delete its log file and return the log ("" when it
        was stopped before)."""
        if self.log.closed:
            return ""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        text = self.read_log()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        return text

    def read_log(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


@contextlib.contextmanager
def serving(assets=None, env: dict | None = None, **kw):
    """An AppServer for the length of a `with` block (a test fixture's yield), on `assets` (EXPLORER_ASSETS_DIR;
    None: the shipped ones) with server.assets set to it; at the end it is stopped, and its log must hold no
    traceback: every bad input the tests send becomes a message."""
    server = AppServer(env={**(env or {}), **({"EXPLORER_ASSETS_DIR": str(assets)} if assets else {})}, **kw)
    server.assets = assets
    try:
        yield server
    finally:
        log = server.stop()
        assert "Traceback" not in log, log


@contextlib.contextmanager
def browser_page(url: str, ready=None, timeout: float = 120_000):
    """Debian's chromium on the app at `url` (1400x1000), once ready(page, timeout) (default wait_ready: the map and
    the first output drawn; the first model loads torch, slow on a busy machine). Page errors are collected in
    page.errors, which must be empty at the end. Fails, never skips, when chromium is missing."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_browser(p)
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.goto(url)
        (ready or wait_ready)(pg, timeout=timeout)
        yield pg
        assert pg.errors == []
        browser.close()


@contextlib.contextmanager
def page_showing(server, model: str):
    """browser_page on a running AppServer, once it shows `model` (show_model); page.root is the server's assets."""
    with browser_page(server.url) as pg:
        show_model(pg, model)
        pg.root = getattr(server, "assets", None)
        yield pg


def launch_browser(playwright):
    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"{CHROMIUM} not found. Install Debian's chromium (apt-get install chromium) or set "
                                "EXPLORER_CHROMIUM to a Chromium binary; the browser tests never download one.")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# ---------------------------------------------------------------------------------------------------------------
# Page helpers (selectors rely on the stable element ids)

MAP_READY = "#latent-map .xp-map-ready, #latent-map.xp-map-ready"


def wait_ready(page, timeout: float = 30_000) -> None:
    page.wait_for_selector(MAP_READY, timeout=timeout)
    page.wait_for_function("() => !!document.querySelector('#decoded-image img')?.src.startsWith('data:image/png')"
                           " || !!document.querySelector('#decoded-image .xp-sentence:not(.xp-blank)')",
                           timeout=timeout)


def wait_decoder(page, timeout: float = 30_000) -> str:
    """Wait until the page has settled where it decodes slider moves (static/decoder.js) for the model shown:
    "browser" (onnxruntime-web in the page) or "server" (the line in #decode-mode says why)."""
    page.wait_for_function("() => { const s = window.__xpDecoder; const m = document.querySelector('#model-picker input');"
                           " return s && m && s.model === m.value && (s.mode === 'browser' || s.mode === 'server'); }",
                           timeout=timeout)
    return page.evaluate("() => window.__xpDecoder.mode")


def wait_map_settled(page, model: str, timeout: float = 60_000) -> None:
    """Wait until the latent map has fetched the model's other views (static/latent_map.js prefetches them once
    its first figure is drawn): after this the page sends no request of its own, so a test can count the ones an
    action sends."""
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot')?.dataset.prefetched === m",
                           arg=model, timeout=timeout)


def img_src(page, elem_id: str) -> str:
    return page.eval_on_selector(f"#{elem_id} img", "el => el.src")


def wait_src_change(page, elem_id: str, before: str, timeout: float = 10_000) -> str:
    page.wait_for_function("([id, before]) => { const im = document.querySelector('#' + id + ' img');"
                           " return im && im.src !== before; }", arg=[elem_id, before], timeout=timeout)
    return img_src(page, elem_id)


def grab_slider(page, index: int) -> tuple[dict, float]:
    """Press the mouse on the middle of slider z{index+1}'s track (scrolled into view) and hold it: (its bounding
    box, the y to move along); page.mouse.move(box["x"] + box["width"] * f, y) then drags it to fraction f."""
    rng = page.locator(f"#z-{index} input[type=range]")
    rng.scroll_into_view_if_needed()
    box = rng.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    return box, y


def drag_slider(page, index: int, fraction: float, steps: int = 8) -> None:
    """Drag slider z{index+1} with the mouse from its thumb to `fraction` of its track."""
    box, y = grab_slider(page, index)
    page.mouse.move(box["x"] + box["width"] * fraction, y, steps=steps)
    page.mouse.up()


def slider_values(page, n: int) -> list[float]:
    return [float(page.locator(f"#z-{i} input[type=range]").input_value()) for i in range(n)]


def click_map_point(page, trace: int = 0, point: int = 0) -> int:
    """Click one stored point of the latent map where it is drawn; returns the test-image index it carries."""
    info = page.evaluate("""([t, k]) => {
        const gd = document.querySelector('#latent-map .xp-map-plot');
        const fl = gd._fullLayout, tr = gd.data[t];
        const r = gd.getBoundingClientRect();
        return {x: r.left + fl._size.l + fl.xaxis.l2p(tr.x[k]), y: r.top + fl._size.t + fl.yaxis.l2p(tr.y[k]),
                index: tr.customdata[k]};
    }""", [trace, point])
    page.mouse.move(info["x"] - 20, info["y"] - 20)
    page.mouse.move(info["x"], info["y"], steps=3)
    page.mouse.click(info["x"], info["y"])
    return int(info["index"])


def pick_model(page, name: str) -> None:
    page.click("#model-picker input")
    page.locator(f'[role=listbox] [role=option][aria-label="{name}"]').click()


def show_model(page, name: str, timeout: float = 60_000) -> None:
    """Pick model `name` unless the page shows it already, and wait until its map and first output are drawn."""
    if page.eval_on_selector("#model-picker input", "el => el.value") == name:
        return
    pick_model(page, name)
    page.wait_for_function("(m) => document.querySelector('#latent-map .xp-map-plot').dataset.model === m",
                           arg=name, timeout=timeout)
    wait_ready(page, timeout=timeout)


def projection_of_map(page) -> str:
    return page.eval_on_selector("#latent-map .xp-map-plot", "el => el.dataset.projection || ''")
