"""Resident memory of the app with every shipped model loaded, and its growth over 10,000 requests.

    python benchmarks/memory.py                   # app.py on the shipped assets, 10,000 requests
    python benchmarks/memory.py --requests 500 --fake

Reads VmRSS of the `python app.py` process from /proc (no psutil). Steps: start the app and wait for its background
warm-up ("Warm-up done": every model loaded, each tool called once); pick each model once in its own page session; send 200 warm-up requests (first calls size the allocator's pools);
read RSS; send `--requests` requests from 4 threads: slider moves (80%), random (5%), reset (5%), map clicks (5%)
over all models by fn_index as the page sends them, and /decode through the API (5%); read RSS again. Prints RSS
every 1,000 requests, the start and end figures and the growth in %. Bounded by the request count and --max-seconds.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time

from explorer.testing.apphost import AppServer, EventCaller, rss_mb

THREADS = 4


MIXES = {"all": None, "slider": 0.0, "random": 0.81, "reset": 0.86, "select": 0.91, "decode": 0.96}


def one_request(caller: EventCaller, rng: random.Random, m: dict, session: str, mix: str = "all") -> bool:
    d, ncls = m["latent_dim"], m["num_classes"]
    label = rng.randrange(ncls) if ncls else None
    z = [round(rng.uniform(-3, 3), 2) for _ in range(d)]
    u = rng.random() if MIXES[mix] is None else MIXES[mix]
    if u < 0.80:
        r = caller.call("on_slide", [m["name"], label, rng.choice(["pca", "tsne"]), *z, *[0.0] * (32 - d)], None,
                        session_hash=session)
    elif u < 0.85:
        r = caller.call("on_random", [m["name"], label, "pca", rng.randrange(10 ** 6)], None, session_hash=session)
    elif u < 0.90:
        r = caller.call("on_reset", [m["name"], label, "pca"], None, session_hash=session)
    elif u < 0.95:
        r = caller.call("on_select", [m["name"], label, "pca"], {"index": rng.randrange(m["n_points"]),
                                                                 "value": None}, session_hash=session)
    else:
        body = json.dumps({"data": [m["name"], z, label if ncls else -1]})
        resp = caller.raw("/gradio_api/call/decode", body)
        if resp.status_code != 200:
            return False
        text = caller.http.get(caller.base + f"/gradio_api/call/decode/{resp.json()['event_id']}").text
        return "event: complete" in text
    return r["ok"]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--requests", type=int, default=10_000)
    p.add_argument("--fake", action="store_true", help="tiny synthetic models instead of the shipped assets")
    p.add_argument("--max-seconds", type=float, default=900)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mix", choices=list(MIXES), default="all", help="only one kind of request (to find a leak)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(fake_assets_in=tmp if a.fake else None)
        try:
            return measure(server, a)
        finally:
            log = server.stop()
            if "Traceback" in log:
                print("server log has tracebacks:", log.count("Traceback"))


def measure(server: AppServer, a) -> int:
    pid = server.pid
    # app.py loads every model and makes each tool's first call in the background: measure once that is done
    deadline = time.monotonic() + 300
    while "Warm-up done" not in server.read_log() and time.monotonic() < deadline:
        time.sleep(0.2)
    rss_start = rss_mb(pid)
    from gradio_client import Client
    c = Client(server.url, verbose=False)
    models = [m for m in c.predict(api_name="/list_models") if "error" not in m]
    c.close()
    for m in models:
        m["n_points"] = int((m.get("metrics") or {}).get("n_test") or 100)
    caller = EventCaller(server.url, timeout=60)
    for k, m in enumerate(models):  # picking a model in the page loads it
        r = caller.call("on_model", [m["name"], "pca"], None, session_hash=f"mem-{k}")
        assert r["ok"], r
    rss_loaded = rss_mb(pid)
    print(f"models: {', '.join(m['name'] for m in models)}")
    print(f"RSS after the warm-up {rss_start:.0f} MB; after each model's page view {rss_loaded:.0f} MB")

    rng = random.Random(a.seed)
    failures = 0
    for i in range(200):  # warm-up
        m = models[i % len(models)]
        failures += not one_request(caller, rng, m, f"mem-{models.index(m)}")
    rss0 = rss_mb(pid)
    print(f"RSS after 200 warm-up requests {rss0:.0f} MB")

    done, lock = [0], threading.Lock()
    fails = [0]
    deadline = time.monotonic() + a.max_seconds
    samples = []

    def worker(t: int):
        wrng = random.Random(a.seed * 100 + t)
        wcaller = EventCaller(server.url, timeout=60)
        try:
            while time.monotonic() < deadline:
                with lock:
                    if done[0] >= a.requests:
                        return
                    done[0] += 1
                    n = done[0]
                k = wrng.randrange(len(models))
                ok = one_request(wcaller, wrng, models[k], f"mem-{t}-{k}", a.mix)
                with lock:
                    fails[0] += not ok
                if n % 1000 == 0:
                    samples.append((n, rss_mb(pid)))
        finally:
            wcaller.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(a.max_seconds + 60)
    wall = time.perf_counter() - t0
    time.sleep(1)
    rss1 = rss_mb(pid)
    for n, mb in sorted(samples):
        print(f"  after {n:>6} requests: {mb:.0f} MB")
    growth = 100 * (rss1 - rss0) / rss0
    print(f"{done[0]} requests in {wall:.0f} s ({done[0] / wall:.0f}/s), {fails[0]} failed")
    print(f"RSS before {rss0:.0f} MB, after {rss1:.0f} MB, growth {growth:+.2f}%")
    print(f"peak check: with all models loaded <= 1536 MB: {max(rss_loaded, rss0, rss1) <= 1536}")
    caller.close()
    return 0 if fails[0] == 0 and growth < 5 and max(rss_loaded, rss1) <= 1536 and done[0] >= a.requests else 1


if __name__ == "__main__":
    sys.exit(main())
