"""Warm from the first request: `python app.py` until the page answers, then the first call of every named API
endpoint on every shipped model, each with its time.

    python benchmarks/first_call.py                 # shipped models: 3 start-ups, then the two runs below
    python benchmarks/first_call.py --starts 1 --order reverse
    python benchmarks/first_call.py --fake          # tiny synthetic models

Two runs of the same calls, each on a server that has answered no call yet:
  at once          right after the last timed start-up's GET / answered, no pause: what a script that starts the
                   app and calls it at once meets while the background warm-up is still going;
  after warm-up    a fresh start, the calls once app.py has printed "Warm-up done" (its warm-up, not a caller,
                   paid every first-use cost).
Each call goes over gradio's REST API as a script makes it (POST /gradio_api/call/NAME, read the event stream to
its result, download every file it names; /encode_image uploads its picture first), one after another: the time
is send -> full answer on this side. The first /decode goes first (on the default model, found from its
config.json here: nothing is asked of the server before it), then /list_models, then every endpoint on every model
(--order page: the model picker's order; reverse: the models the warm-up reaches last first). Calls a model cannot
make (a CVAE's /move_towards, an AE's /generate_dataset) answer with their message and are marked "!".
Targets (issue 4): page answers <= 3 s; every first call <= 300 ms.

The reference, in the same run: benchmarks/bare_app.py (a bare Gradio app, no model): its start-up and its first
event (the slider, by fn_index as the page sends it). A script that prints figures, not a pass/fail test.
"""
from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from explorer import ModelRegistry
from explorer.testing.apphost import AppServer, EventCaller

TARGET_START_S, TARGET_CALL_MS = 3.0, 300.0


def rest_call(http: httpx.Client, base: str, name: str, data: list) -> tuple[str, str, list | None]:
    """One call of a named endpoint over gradio's REST API: ("ok" | "error", detail, the answer's values). Files in
    the answer are downloaded, as gradio_client does."""
    r = http.post(f"{base}/gradio_api/call/{name}", json={"data": data})
    if r.status_code != 200:
        return "error", f"POST {r.status_code}", None
    text = http.get(f"{base}/gradio_api/call/{name}/{r.json()['event_id']}").text
    if "event: complete" not in text:
        msg = text.split("data:", 1)[-1].strip()[:100] if "event: error" in text else text[-100:]
        return "error", msg, None
    payload = json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    urls = [v["url"] for v in payload if isinstance(v, dict) and v.get("url")]
    for url in urls:
        f = http.get(url)
        if f.status_code != 200:
            return "error", f"download {f.status_code}", None
    return "ok", (f"{len(urls)} file(s)" if urls else "json"), payload


def upload(http: httpx.Client, base: str, png: bytes) -> dict:
    r = http.post(f"{base}/gradio_api/upload", files={"files": ("seven.png", png, "image/png")})
    r.raise_for_status()
    return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}


def seven_png() -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("L", (200, 260), 240)
    ImageDraw.Draw(im).line([(50, 52), (150, 52), (90, 221)], fill=15, width=22)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


SEVEN_PNG = seven_png()


def calls_for(m: dict, datasets_done: set) -> list[tuple[str, list]]:
    """(endpoint, inputs) of every endpoint that takes this model; compare_models once per dataset."""
    name, d, ncls = m["name"], m["latent_dim"], m["num_classes"]
    z, label = [0.0] * d, (0 if ncls else -1)
    out = [("decode", [name, z, label]), ("reconstruct", [name, 0]),
           ("interpolate", [name, 0, 1, 8, "linear", "fixed"]), ("traverse", [name, z, label]),
           ("neighbours", [name, z, 8]), ("move_towards", [name, z, 3, 8, 1.0]),
           ("encode_image", [name, "UPLOAD"]), ("training_history", [name]), ("export_map_csv", [name]),
           ("generate_dataset", [name, 100, 0])]
    ds = m.get("dataset")
    if ds and ds not in datasets_done:
        datasets_done.add(ds)
        out.append(("compare_models", [ds, 0]))
    return out


def first_calls(server: AppServer, registry, order: str, decode_first: bool) -> list[dict]:
    png = SEVEN_PNG
    base = server.url.rstrip("/")
    models = [{"name": m["name"], "latent_dim": m["latent_dim"], "num_classes": m["num_classes"],
               "dataset": m["dataset"]} for m in registry.describe() if "error" not in m]
    if order == "reverse":
        models = models[::-1]
    t_page = time.perf_counter()  # the caller has just seen GET / answer
    rows = []
    with httpx.Client(timeout=120) as http:
        def timed(name, data, model):
            t = time.perf_counter()
            if "UPLOAD" in data:
                data = [upload(http, base, png) if v == "UPLOAD" else v for v in data]
            status, detail, payload = rest_call(http, base, name, data)
            t1 = time.perf_counter()
            rows.append({"endpoint": name, "model": model, "ms": 1000 * (t1 - t), "since": t1 - t_page,
                         "status": status, "detail": detail})
            return payload

        plan = []
        if decode_first:  # the default model's decode, found from its config.json here: no request before it
            info = registry.info(registry.default)
            ncls = len(info.class_names) if info.capabilities.conditional else 0
            plan.append(("decode", [info.name, [0.0] * info.latent_dim, 0 if ncls else -1], info.name))
        plan.append(("list_models", [], "-"))
        done = set()
        for m in models:
            plan += [(n, data, m["name"]) for n, data in calls_for(m, done)
                     if not (decode_first and n == "decode" and m["name"] == registry.default)]
        for name, data, model in plan:
            timed(name, data, model)
    return rows


def bare_reference() -> tuple[float, float]:
    """benchmarks/bare_app.py: seconds until GET / answers, ms of its first slider event."""
    bare = AppServer(script="benchmarks/bare_app.py")
    try:
        caller = EventCaller(bare.url, timeout=60)
        dep = next(d for d in caller.deps if d.get("targets"))
        body = {"data": [0.5], "fn_index": dep["id"], "trigger_id": dep["targets"][0][0], "session_hash": "ref"}
        t = time.perf_counter()
        caller._direct(body)
        ms = 1000 * (time.perf_counter() - t)
        caller.close()
        return bare.ready_s, ms
    finally:
        bare.stop()


def wait_warm(server: AppServer, timeout: float = 300) -> str:
    """Wait for app.py's "Warm-up done" line in the server's log; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.read_log().splitlines():
            if line.startswith("Warm-up done"):
                return line
        time.sleep(0.2)
    return f"no warm-up line within {timeout:.0f} s"


def table(rows: list[dict], title: str) -> None:
    """One row per endpoint, one column per model: ms of each first call; '!' marks an error answer (a call the
    model cannot make, answered with a message), '*' a time over the target."""
    models = list(dict.fromkeys(r["model"] for r in rows if r["model"] != "-"))
    endpoints = list(dict.fromkeys(r["endpoint"] for r in rows))
    cell = {(r["endpoint"], r["model"]): r for r in rows}
    print(f"\n{title}")
    print(f"{'ms':<18}" + "".join(f"{m:>20}" for m in models))
    for e in endpoints:
        line = f"{e:<18}"
        for m in models:
            r = cell.get((e, "-" if e == "list_models" and m == models[0] else m))
            if r is None:
                line += f"{'':>20}"
                continue
            mark = ("!" if r["status"] != "ok" else "") + ("*" if r["ms"] > TARGET_CALL_MS else "")
            line += f"{r['ms']:>18.0f}{mark:<2}"
        print(line)
    ok = [r["ms"] for r in rows]
    over = [r for r in rows if r["ms"] > TARGET_CALL_MS]
    print(f"{len(rows)} first calls: median {statistics.median(ok):.0f} ms, max {max(ok):.0f} ms, "
          f"{len(over)} over {TARGET_CALL_MS:.0f} ms" + (": " + ", ".join(
              f"{r['endpoint']} {r['model']} {r['ms']:.0f} ms (ended {r['since']:.1f} s after the page answered)"
              for r in over) if over else ""))
    errors = sorted({f"{r['endpoint']}: {r['detail'][:90]}" for r in rows if r["status"] != "ok"})
    for e in errors:
        print(f"  ! {e}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--starts", type=int, default=3, help="start-ups to time (the calls at once run after the last)")
    p.add_argument("--order", choices=["page", "reverse"], default="page")
    p.add_argument("--skip-decode-first", action="store_true")
    p.add_argument("--no-warm-run", action="store_true",
                   help="skip the second run (a fresh start, the same calls once the warm-up is done)")
    p.add_argument("--fake", action="store_true", help="tiny synthetic models instead of the shipped assets")
    p.add_argument("--no-reference", action="store_true", help="skip the bare Gradio reference")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        assets = None
        if a.fake:
            from explorer.testing import make_assets
            assets = str(make_assets(Path(tmp) / "assets"))
        env = {"EXPLORER_ASSETS_DIR": assets} if assets else None
        registry = ModelRegistry.discover(assets)
        starts, runs = [], []
        for k in range(a.starts + (0 if a.no_warm_run else 1)):
            server = AppServer(env=env)
            warm_line = ""
            try:
                if k < a.starts:
                    starts.append(server.ready_s)
                if k == a.starts - 1:
                    runs.append(("at once after the page answered", first_calls(server, registry, a.order,
                                                                                not a.skip_decode_first)))
                    warm_line = wait_warm(server)
                elif k == a.starts:
                    warm_line = wait_warm(server)
                    runs.append(("after the warm-up (a fresh start)", first_calls(server, registry, a.order,
                                                                                  not a.skip_decode_first)))
            finally:
                log = server.stop()
            if warm_line:
                print(f"start {k + 1}: {warm_line}")
            if "Traceback" in log:
                print(f"start {k + 1}: server log has tracebacks: {log.count('Traceback')}")
    print(f"`python app.py` until GET / answers: {', '.join(f'{s:.2f}' for s in starts)} s "
          f"(median {statistics.median(starts):.2f} s; target <= {TARGET_START_S:.0f} s)")
    for title, rows in runs:
        table(rows, f"first call of each endpoint on each model, {title} (order: {a.order}); "
                    f"target <= {TARGET_CALL_MS:.0f} ms each")
    if not a.no_reference:
        ready, ms0 = bare_reference()
        print(f"\nreference, bare Gradio app (benchmarks/bare_app.py): page answers after {ready:.2f} s, "
              f"its first event {ms0:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
