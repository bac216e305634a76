"""Shared by the reliability benchmarks (benchmarks/fuzz.py, load.py, memory.py, tools_latency.py) and the tests that
call the live app: start the real app, call its UI events the way the page does, and read the server's resident
memory. Only talks to 127.0.0.1.

The UI events are `api_visibility="private"`: gradio_client refuses them, but the page (and so anyone) calls them by
fn_index: queue=False events with POST /gradio_api/run/predict, queued ones with /gradio_api/queue/join + the
/gradio_api/queue/data event stream. `call_event` does exactly that.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import httpx

from .browser import REPO  # noqa: F401  (re-exported: the repository root, where app.py is)
from .browser import AppServer as _BrowserTestServer
from .browser import free_port, shipped_assets_present  # noqa: F401  (re-exported)


class AppServer(_BrowserTestServer):
    """`python app.py` in a subprocess on a free port (the browser tests' server), with a longer start-up allowance.

    fake_assets_in: a folder to write tiny synthetic model folders into and serve instead of the shipped assets;
    fake_kw goes to explorer.testing.make_assets.
    """

    def __init__(self, env: dict | None = None, args: list[str] | None = None, timeout: float = 120.0,
                 fake_assets_in: str | Path | None = None, **fake_kw):
        env = dict(env or {})
        if fake_assets_in is not None:
            from . import make_assets
            env["EXPLORER_ASSETS_DIR"] = str(make_assets(Path(fake_assets_in) / "assets", **fake_kw))
        super().__init__(env=env, args=args, timeout=timeout)


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (VmRSS from /proc; no psutil needed)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def alive(base: str, timeout: float = 10) -> bool:
    try:
        return httpx.get(base.rstrip("/") + "/gradio_api/info", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


class EventCaller:
    """Call the app's events by fn_index over plain HTTP, as the browser does."""

    def __init__(self, base: str, timeout: float = 30):
        self.base = base.rstrip("/")
        self.http = httpx.Client(timeout=timeout)
        cfg = self.http.get(self.base + "/config").json()
        self.deps = cfg["dependencies"]
        self.by_name = {}  # function name -> dependency (first one with that name)
        for d in self.deps:
            self.by_name.setdefault(d.get("api_name") or "", d)

    def close(self):
        self.http.close()

    def dep(self, api_name: str) -> dict:
        return self.by_name[api_name]

    def call(self, api_name: str, data, event_data=None, session_hash: str | None = None) -> dict:
        """Returns {"status": HTTP status or "stream", "ok": bool, "error": message or None, "body": raw text}."""
        d = self.dep(api_name)
        body = {"data": data, "fn_index": d["id"], "trigger_id": (d.get("targets") or [[None]])[0][0],
                "event_data": event_data, "session_hash": session_hash or uuid.uuid4().hex[:11]}
        if not d.get("queue", True) or d.get("queue") is False:
            return self._direct(body)
        return self._queued(body)

    def raw(self, path: str, content: str | bytes, content_type: str = "application/json") -> httpx.Response:
        return self.http.post(self.base + path, content=content, headers={"Content-Type": content_type})

    def _direct(self, body: dict) -> dict:
        r = self.http.post(self.base + "/gradio_api/run/predict", content=_dumps(body),
                           headers={"Content-Type": "application/json"})
        text = r.text
        try:
            js = r.json()
        except ValueError:
            js = None
        if r.status_code == 200 and isinstance(js, dict) and "data" in js:
            return {"status": 200, "ok": True, "error": None, "body": text}
        err = js.get("error") if isinstance(js, dict) else None
        if err is None and isinstance(js, dict):
            err = js.get("detail")
        return {"status": r.status_code, "ok": False, "error": err if err is None else str(err), "body": text}

    def _queued(self, body: dict) -> dict:
        r = self.http.post(self.base + "/gradio_api/queue/join", content=_dumps(body),
                           headers={"Content-Type": "application/json"})
        if r.status_code != 200:
            try:
                err = r.json().get("detail")
            except ValueError:
                err = None
            return {"status": r.status_code, "ok": False, "error": None if err is None else str(err), "body": r.text}
        event_id = r.json()["event_id"]
        chunks = []
        deadline = time.monotonic() + 60
        with self.http.stream("GET", self.base + "/gradio_api/queue/data",
                              params={"session_hash": body["session_hash"]}) as s:
            for line in s.iter_lines():
                chunks.append(line)
                if time.monotonic() > deadline:
                    break
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") not in (None, event_id):
                    continue
                if msg.get("msg") == "process_completed":
                    out = msg.get("output") or {}
                    ok = bool(msg.get("success"))
                    err = None if ok else out.get("error")
                    return {"status": "stream", "ok": ok, "error": err if err is None else str(err),
                            "body": "\n".join(chunks)}
                if msg.get("msg") == "close_stream":
                    break
        return {"status": "stream", "ok": False, "error": None, "body": "\n".join(chunks)}

    def server_function(self, component_id: int, fn_name: str, data) -> httpx.Response:
        body = {"session_hash": uuid.uuid4().hex[:11], "component_id": component_id, "fn_name": fn_name,
                "data": data}
        return self.http.post(self.base + "/gradio_api/component_server", content=_dumps(body),
                              headers={"Content-Type": "application/json"})


def _dumps(obj) -> str:
    # allow_nan: a hand-written request can carry NaN / Infinity (Python's JSON parser on the server accepts them)
    return json.dumps(obj, allow_nan=True)


def component_id(caller: EventCaller, elem_id: str) -> int:
    cfg = caller.http.get(caller.base + "/config").json()
    for c in cfg["components"]:
        if c.get("props", {}).get("elem_id") == elem_id:
            return c["id"]
    raise KeyError(elem_id)
