"""Concurrent clients against one app process: latency percentiles and errors.

    python benchmarks/load.py                          # 30 clients x 50 slider moves, shipped models, app.py
    python benchmarks/load.py --endpoint decode        # 30 scripts x 50 calls of the /decode API (REST, the queue)
    python benchmarks/load.py --endpoint decode-client # the same through gradio_client (heavy on the client side)
    python benchmarks/load.py --clients 5 --calls 10 --fake

slider: each client is one page session: it picks its model (the six shipped models in turn, as the page's model
picker does), then sends `--calls` slider moves back to back, each a new random z, exactly as the browser sends them
(POST /gradio_api/run/predict with the slider event's fn_index; those events run with queue=False).
decode: each client is a script calling the named /decode endpoint over gradio's REST API, keeping one session as
gradio_client does: POST /gradio_api/call/decode, read the event stream to its result, download the PNG. These go
through gradio's queue (default concurrency limit 1: one decode at a time, which one process on 2 cores serves
fastest). decode-client does the same with 30 gradio_client instances, whose own CPU use (about 170 ms per call,
in this one process, so under one GIL, on the same 2 cores) then dominates what is measured.
Latency is measured per call on the client, from send to full response. Bounded: clients x calls requests, each
with a 60 s timeout, and a --max-seconds budget after which the clients stop. The clients run as threads of this
process and the app in its own (`python app.py`, started here, or --url); the run also reports the CPU time each
side spent per call (the server's from /proc/PID/stat), since on one 2-core machine the two compete.

gradio_client spends most of its own CPU making a new TLS context for every HTTP request it sends (it opens a new
httpx client for each, even to http://; about 60 ms each on the 2-core machine, three per call): --client-ssl
shared hands every Client one ready context (ssl_verify=ssl.create_default_context()), which httpx then reuses.
The server sees the same requests either way.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from explorer.testing.apphost import AppServer, EventCaller, rss_mb


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(q / 100 * len(xs) + 0.5)) - 1))  # nearest-rank
    return xs[k]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (utime + stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_loop(base: str, k: int, models: list[dict], calls: int, endpoint: str, deadline: float,
                lat: list, errors: list, start: threading.Barrier, client_kw: dict, same_z: bool = False) -> None:
    rng = random.Random(0 if same_z else k)
    m = models[0 if same_z else k % len(models)]
    d, ncls = m["latent_dim"], m["num_classes"]
    session = f"load{k}"
    if endpoint == "slider":
        caller = EventCaller(base, timeout=60)
        caller.call("on_model", [m["name"], "pca"], None, session_hash=session)  # the page loads its model first
    elif endpoint == "decode":
        http = httpx.Client(timeout=60)
    else:
        from gradio_client import Client
        client = Client(base, verbose=False, **client_kw)
    label = 0 if ncls else None
    start.wait()
    for i in range(calls):
        if time.monotonic() > deadline:
            errors.append("stopped: time budget spent")
            break
        z = [round(rng.uniform(-3, 3), 2) for _ in range(d)]
        t = time.perf_counter()
        try:
            if endpoint == "slider":
                r = caller.call("on_slide", [m["name"], label, "pca", *z, *[0.0] * (32 - d)], None, session_hash=session)
                if not r["ok"]:
                    errors.append(f"{r['status']}: {(r['error'] or '')[:100]}")
                    continue
            elif endpoint == "decode":
                error = rest_decode(http, base, session, [m["name"], z, label if ncls else -1])
                if error:
                    errors.append(error)
                    continue
            else:
                client.predict(model=m["name"], z=z, label=label if ncls else -1, api_name="/decode")
        except Exception as e:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(e).__name__}: {str(e)[:300]}")
            continue
        lat.append(time.perf_counter() - t)
    if endpoint == "slider":
        caller.close()
    elif endpoint == "decode":
        http.close()
    else:
        client.close()


def rest_decode(http: httpx.Client, base: str, session: str, data: list) -> str | None:
    """One /decode call over gradio's REST API, as a script with curl or requests makes it: POST the inputs,
    read the event stream to its result, download the PNG it names. Returns an error message or None."""
    base = base.rstrip("/")  # the server's url ends in "/": "//gradio_api/..." is a 404
    r = http.post(f"{base}/gradio_api/call/decode", json={"data": data, "session_hash": session})
    if r.status_code != 200:
        return f"POST {r.status_code}"
    text = http.get(f"{base}/gradio_api/call/decode/{r.json()['event_id']}").text
    if "event: complete" not in text:
        return "no result: " + text[-100:]
    payload = json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    url = payload[0]["url"]
    png = http.get(url)
    if png.status_code != 200 or not png.content.startswith(b"\x89PNG"):
        return f"image download {png.status_code}"
    return None


def run(base: str, clients: int, calls: int, endpoint: str, max_seconds: float, client_ssl: str = "default",
        pid: int | None = None, same_z: bool = False) -> dict:
    from gradio_client import Client
    client_kw = {"ssl_verify": ssl.create_default_context()} if client_ssl == "shared" else {}
    c = Client(base, verbose=False, **client_kw)
    models = [m for m in c.predict(api_name="/list_models") if "error" not in m]
    c.close()
    lat, errors = [], []
    start = threading.Barrier(clients + 1)
    deadline = time.monotonic() + max_seconds
    threads = [threading.Thread(target=client_loop, daemon=True,
                                args=(base, k, models, calls, endpoint, deadline, lat, errors, start, client_kw,
                                      same_z))
               for k in range(clients)]
    for t in threads:
        t.start()
    start.wait()  # every client has its session and model: time only the calls
    t0, cpu0 = time.perf_counter(), time.process_time()
    server0 = cpu_seconds(pid) if pid else None
    for t in threads:
        t.join(max_seconds + 120)
    wall = time.perf_counter() - t0
    out = {"lat": lat, "errors": errors, "wall": wall, "models": [m["name"] for m in models],
           "client_cpu": time.process_time() - cpu0}
    if pid:
        out["server_cpu"] = cpu_seconds(pid) - server0
    return out


def report(r: dict, clients: int, calls: int, endpoint: str) -> bool:
    lat = r["lat"]
    print(f"{clients} clients x {calls} {endpoint} calls, models {', '.join(r['models'])}")
    print(f"completed {len(lat)}, errors {len(r['errors'])}, wall {r['wall']:.1f} s, {len(lat) / r['wall']:.0f} calls/s")
    if lat:
        print(f"latency p50 {1000 * percentile(lat, 50):.0f} ms, p95 {1000 * percentile(lat, 95):.0f} ms, "
              f"p99 {1000 * percentile(lat, 99):.0f} ms, max {1000 * max(lat):.0f} ms, "
              f"mean {1000 * statistics.fmean(lat):.0f} ms")
    n = max(1, len(lat) + len(r["errors"]))
    cpu = f"clients' CPU {1000 * r['client_cpu'] / n:.0f} ms per call"
    if "server_cpu" in r:
        cpu = (f"server CPU {1000 * r['server_cpu'] / n:.0f} ms per call ({r['server_cpu'] / r['wall']:.2f} cores), "
               + cpu)
    print(cpu + f" ({r['client_cpu'] / r['wall']:.2f} cores)")
    for e in sorted(set(r["errors"]))[:10]:
        print("  error:", e, f"(x{r['errors'].count(e)})")
    return not r["errors"] and len(lat) == clients * calls and percentile(lat, 95) <= 1.0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=30)
    p.add_argument("--calls", type=int, default=50)
    p.add_argument("--endpoint", choices=["slider", "decode", "decode-client"], default="slider",
                   help="slider: the page's slider event; decode: the /decode endpoint over gradio's REST API "
                        "(POST, event stream, PNG download); decode-client: /decode through gradio_client "
                        "(its own CPU cost on the same 2 cores dominates)")
    p.add_argument("--fake", action="store_true", help="tiny synthetic models instead of the shipped assets")
    p.add_argument("--client-ssl", choices=["default", "shared"], default="default",
                   help="decode-client: gradio_client as it comes (a new TLS context per request) or one shared "
                        "context for all clients")
    p.add_argument("--same-z", action="store_true",
                   help="every client decodes the same z sequence on the same model (so the same images: what "
                        "made downloads end short before the app wrote gradio's cached files atomically)")
    p.add_argument("--url", help="load an app that is already running here instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the app's process id, to report its CPU time")
    p.add_argument("--warm", action="store_true",
                   help="wait for app.py's \"Warm-up done\" line before the clients start")
    p.add_argument("--max-seconds", type=float, default=300)
    a = p.parse_args(argv)
    if a.url:
        return 0 if report(run(a.url, a.clients, a.calls, a.endpoint, a.max_seconds, a.client_ssl, a.pid, a.same_z),
                           a.clients, a.calls, a.endpoint) else 1
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(fake_assets_in=tmp if a.fake else None)
        try:
            if a.warm:
                deadline = time.monotonic() + 300
                while "Warm-up done" not in server.read_log() and time.monotonic() < deadline:
                    time.sleep(0.2)
            r = run(server.url, a.clients, a.calls, a.endpoint, a.max_seconds, a.client_ssl, server.pid, a.same_z)
            print(f"server RSS after the run: {rss_mb(server.pid):.0f} MB; CPUs: {os.cpu_count()}")
        finally:
            log = server.stop()
        ok = report(r, a.clients, a.calls, a.endpoint)
        if "Traceback" in log:
            print("server log has tracebacks:", log.count("Traceback"))
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
