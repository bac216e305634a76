"""Server CPU time per minute of continuous slider dragging in one page (Debian chromium).

    python benchmarks/drag_cpu.py [--seconds 30] [--how mouse|frames] [--app-dir DIR] [--no-wasm]

Starts `python app.py` (from this checkout, or from --app-dir: another checkout of the repository, e.g. an older
commit in a `git worktree`, to compare pages), opens the page in chromium and measures the server process's CPU
time (utime + stime from /proc/PID/stat, read from outside the process) over three windows of --seconds each:
  idle     the page open, nobody touching it (gradio's heartbeats, its queue's polling, background work);
  drag     the mouse holds a latent slider's thumb and sweeps it back and forth without a pause, one small move
           per frame at most (60 moves/s; fewer when the page takes longer to handle each, as a busy page
           delivers fewer mouse events), switching to the next slider every 2 s, as a person exploring does
           (--how frames: the same sweep made inside the page, one input event per animation frame);
and reports each as CPU seconds per minute of wall time (60 = one core busy all the time), with how many requests
the page sent during the drag (its resource timing entries). --no-wasm deletes window.WebAssembly before the page
loads, so a page that would decode in the browser falls back to the server. Waits for app.py's "Warm-up done" line
first (at most 20 s: an older app.py prints none), so the warm-up is not counted. A script that prints figures,
not a pass/fail test.
"""
from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from explorer.testing.browser import REPO, free_port, launch_browser, wait_ready


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_app(app_dir: Path, log) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
           "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=app_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise TimeoutError(f"app.py in {app_dir} did not answer")


def drag(page, seconds: float, n_sliders: int) -> int:
    """Sweep sliders with the mouse for `seconds`; returns the number of moves made."""
    moves, t0, current = 0, time.monotonic(), -1
    box = None
    while time.monotonic() - t0 < seconds:
        k = int((time.monotonic() - t0) / 2.0) % n_sliders
        if k != current:
            if current >= 0:
                page.mouse.up()
            rng = page.locator(f"#z-{k} input[type=range]")
            rng.scroll_into_view_if_needed()
            box = rng.bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            current = k
        phase = (time.monotonic() - t0) * 2 * math.pi / 1.5  # one sweep there and back every 1.5 s
        x = box["x"] + box["width"] * (0.5 + 0.4 * math.sin(phase))
        t_move = time.monotonic()
        page.mouse.move(x, box["y"] + box["height"] / 2)  # returns once the page has taken the event
        moves += 1
        time.sleep(max(0.0, 1 / 60 - (time.monotonic() - t_move)))  # at most one move per frame
    page.mouse.up()
    return moves


# --how frames: the drag made inside the page, one input event per animation frame on a latent slider (its value set
# as the browser's own range input sets it), a `change` (the release) when it moves on to the next slider every 2 s.
FRAMES = """([seconds, n]) => new Promise((resolve) => {
  const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
  const t0 = performance.now();
  let events = 0, k = -1, rng = null;
  const step = () => {
    const t = (performance.now() - t0) / 1000;
    const j = Math.floor(t / 2) % n;
    if (j !== k) {
      if (rng) rng.dispatchEvent(new Event('change', {bubbles: true}));
      k = j;
      rng = document.querySelector('#z-' + k + ' input[type=range]');
    }
    if (t >= seconds) { rng.dispatchEvent(new Event('change', {bubbles: true})); resolve(events); return; }
    const lo = parseFloat(rng.min), hi = parseFloat(rng.max);
    set.call(rng, String((lo + (hi - lo) * (0.5 + 0.4 * Math.sin(t * 2 * Math.PI / 1.5))).toFixed(2)));
    rng.dispatchEvent(new Event('input', {bubbles: true}));
    events++;
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
})"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--app-dir", type=Path, default=REPO, help="the checkout whose app.py to serve")
    p.add_argument("--no-wasm", action="store_true", help="chromium without WebAssembly")
    p.add_argument("--how", choices=["mouse", "frames"], default="mouse",
                   help="mouse: the real mouse through chromium's input pipeline (as fast as the page takes the "
                        "moves); frames: one input event per animation frame made in the page (what a quick "
                        "client's browser delivers)")
    a = p.parse_args(argv)

    from playwright.sync_api import sync_playwright

    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        proc, url = start_app(a.app_dir.resolve(), log)
        try:
            deadline = time.monotonic() + 20  # an older app.py prints no such line: its warm-up is shorter
            while "Warm-up done" not in Path(log.name).read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.2)
            with sync_playwright() as pw:
                browser = launch_browser(pw)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                if a.no_wasm:  # as tests/e2e/test_browser_decode.py does
                    page.add_init_script("delete window.WebAssembly;")
                page.goto(url)
                wait_ready(page)
                page.wait_for_timeout(3000)  # the page's own start (decoder download, first requests)
                n = page.locator("#latent-sliders input[type=range]:visible").count()
                mode = page.evaluate("() => (window.__xpDecoder || {}).mode || 'server (no browser decoder)'")

                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                page.wait_for_timeout(1000 * a.seconds)
                idle = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 60

                page.evaluate("() => performance.clearResourceTimings()")
                page.evaluate("() => performance.setResourceTimingBufferSize(100000)")
                c0, t0 = cpu_seconds(proc.pid), time.monotonic()
                if a.how == "mouse":
                    moves = drag(page, a.seconds, min(n, 4))
                else:
                    moves = page.evaluate(FRAMES, [a.seconds, min(n, 4)])
                wall = time.monotonic() - t0
                busy = (cpu_seconds(proc.pid) - c0) / wall * 60
                requests = page.evaluate("() => performance.getEntriesByType('resource').filter("
                                         "e => e.name.includes('/gradio_api/')).length")
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
    print(f"app: {a.app_dir.resolve()}  page decoding: {mode}  chromium WebAssembly: {'off' if a.no_wasm else 'on'}"
          f"  drag: {a.how}")
    print(f"idle, page open        {idle:6.1f} CPU s per minute")
    what = "mouse moves" if a.how == "mouse" else "input events"
    print(f"dragging sliders       {busy:6.1f} CPU s per minute   ({moves} {what} in {wall:.0f} s, "
          f"{requests} requests to the server"
          + (f", {1000 * (busy - idle) / 60 * wall / requests:.0f} ms of server CPU each above idle)" if requests
             else ")"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
