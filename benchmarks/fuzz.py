"""Fuzz every endpoint of the running app with hostile inputs and count what happens.

    python benchmarks/fuzz.py                   # every generated case (1,480 on the six shipped models), seeded
    python benchmarks/fuzz.py --cases 600       # a seeded subset (or, above the generated count, repeats on top)
    python benchmarks/fuzz.py --fake --cases 60 # tiny synthetic models (tests/test_hostile_inputs.py runs this)

Covers the named endpoints (/decode, /reconstruct, /list_models through gradio_client, plus raw JSON with NaN and
Infinity that gradio_client cannot send), every UI event by fn_index the way the page calls it (model picker, slider
moves, class picker, random, reset, projection switch, map click with its event data) and the map's server
function. The app has no endpoint that takes a file, so the image cases (1x1, 10,000x10,000, RGBA, 16-bit,
palette, CMYK, truncated, text renamed .png) are uploaded through /gradio_api/upload and their file references
sent to the endpoints in place of z, a model name, an index and a slider value.

Each case ends as one of:
    clear-error   a message for a person (the app's gr.Error, or gradio refusing a value with a message / a 4xx)
    clamped-ok    the call succeeded with a sane value
    refused-empty a malformed request refused by gradio before the app runs, with an empty message (the app
                  launches with show_error=False): fewer inputs than the endpoint has, or a file reference to a
                  file that was never uploaded (/etc/passwd, the repo's app.py); only these cases may end so
    server-error  any other error with no message, or the app's "Something went wrong" catch-all (a bug)
    crash         no answer / the server died
A response that shows a traceback or a server file path is counted as a leak. Exit status 1 on any crash, leak
or server-error, or if the server is no longer answering at the end.
"""
from __future__ import annotations

import argparse
import io
import math
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.apphost import REPO, AppServer, EventCaller, alive, component_id, rss_mb  # noqa: E402

LEAK_MARKERS = ["Traceback", 'File "/', str(REPO), "site-packages", ".py\", line", "root:x:0:0"]
GENERIC = "Something went wrong"
OUTCOMES = ["clear-error", "clamped-ok", "refused-empty", "server-error", "crash"]


# ---------------------------------------------------------------------------------------------------------------
# Hostile values

def long_string(n=100_000):
    return "x" * n


def bad_names(rng):
    return ["", "no-such-model", long_string(), "../../etc/passwd", "/etc/passwd", "mnist-vae\x00", " ",
            "<script>alert(1)</script>", 123, None, [], {"a": 1}, "MNIST-VAE", "fake-vae/../fake-ae"]


def bad_numbers():
    # as JSON can carry them (gradio_client would refuse NaN; the raw sender keeps them)
    return [float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 1e5, -1e5, 2 ** 63, -2 ** 63, 2 ** 100, 3.5,
            -1, -2 ** 31, 0, "5", "abc", "", None, True, [], {}, [1, 2], long_string(10_000)]


def bad_z(rng, d):
    ok = [round(rng.uniform(-3, 3), 2) for _ in range(d)]
    return [
        [float("nan")] + ok[1:], [float("inf")] + ok[1:], [1e308] * d, [-1e308] * d, [1e5] * d,
        ok[:-1], ok + [0.0], [], [0.0] * 1000, [0.0] * 100_000, ok * 2,
        "0, 0", "", long_string(), None, 5, True, {"z": ok}, [[0.0] * d], [ok, ok],
        ["a"] * d, [None] * d, [True] * d, [{}] * d, [[0.0]] * d, ["nan"] * d, ["1e308"] * d, [1e-320] * d,
    ]


def image_files(tmp: Path) -> dict[str, Path]:
    """The image cases of the issue, written once."""
    out = {}

    def save(name, img, **kw):
        p = tmp / name
        img.save(p, **kw)
        out[name] = p

    save("1x1.png", Image.new("L", (1, 1), 128))
    # 10,000 x 10,000: 100 MP (above PIL's decompression-bomb warning); flat, so the file itself is small
    save("10000x10000.png", Image.new("L", (10_000, 10_000), 0), optimize=False, compress_level=9)
    save("rgba.png", Image.new("RGBA", (28, 28), (255, 0, 0, 128)))
    save("16bit.png", Image.fromarray(np.arange(28 * 28, dtype=np.uint16).reshape(28, 28) * 60))
    save("palette.png", Image.new("P", (28, 28), 3))
    save("cmyk.jpg", Image.new("CMYK", (28, 28), (0, 255, 0, 0)))
    full = io.BytesIO()
    Image.new("L", (28, 28), 200).save(full, format="PNG")
    (tmp / "truncated.png").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    out["truncated.png"] = tmp / "truncated.png"
    (tmp / "not-an-image.png").write_text("this is a text file, not a PNG\n" * 10)
    out["not-an-image.png"] = tmp / "not-an-image.png"
    (tmp / "python.png").write_text("import os\nos.system('echo hi')\n")
    out["python.png"] = tmp / "python.png"
    return out


# ---------------------------------------------------------------------------------------------------------------
# Cases: (endpoint label, callable returning a result dict)

def classify(res: dict, kind: str = "") -> str:
    if res.get("crash"):
        return "crash"
    if res["ok"]:
        return "clamped-ok"
    err = res.get("error")
    status = res.get("status")
    if isinstance(status, int) and 400 <= status < 500:
        return "clear-error"
    if not err or GENERIC in err or err.strip() in ("Error", "None"):
        return "refused-empty" if kind.startswith("malformed-") and not err else "server-error"
    return "clear-error"


def leaked(res: dict, case=None) -> str | None:
    text = (res.get("error") or "") + "\n" + (res.get("body") or "")
    sent = repr(case)
    # file outputs legitimately carry gradio's cache path (/tmp/gradio/...); look only for our own paths, and not
    # for a path the request itself carried (a message may quote the value it refuses)
    for m in LEAK_MARKERS:
        if m in text and m not in sent:
            return m
    return None


def make_cases(n: int, seed: int, models: list[dict], uploads: dict[str, dict]):
    """A seeded, shuffled list of (endpoint, kind, thunk-args). Returned cases are data; run_case executes them."""
    rng = random.Random(seed)
    names = [m["name"] for m in models]
    dims = {m["name"]: m["latent_dim"] for m in models}
    ncls = {m["name"]: m["num_classes"] for m in models}
    files = list(uploads.values())
    cases = []

    def model():
        return rng.choice(names)

    def label_for(name):
        return rng.randrange(ncls[name]) if ncls[name] else -1

    def slider_vals(name, bad=None, pos=None):
        v = [0.0] * 32
        for i in range(dims[name]):
            v[i] = round(rng.uniform(-3, 3), 2)
        if bad is not None:
            v[pos if pos is not None else rng.randrange(32)] = bad
        return v

    proj_bad = ["umap", "", None, 5, long_string(), "PCA", ["pca"], "../pca"]

    # /decode through gradio_client (JSON-safe values) and raw JSON (NaN, Infinity, 1e999)
    for name in names:
        d = dims[name]
        for z in bad_z(rng, d):
            cases.append(("/decode", "raw", ("decode", [name, z, label_for(name)])))
        for lab in bad_numbers():
            cases.append(("/decode", "raw", ("decode", [name, [0.0] * d, lab])))
    for bad in bad_names(rng):
        cases.append(("/decode", "client", ("decode", dict(model=bad, z=[0.0] * 4, label=-1))))
    for name in names:
        cases.append(("/decode", "client", ("decode", dict(model=name, z=[0.5] * dims[name], label=label_for(name)))))
        cases.append(("/decode", "client", ("decode", dict(model=name, z=[1e6] * dims[name], label=label_for(name)))))
        cases.append(("/decode", "client", ("decode", dict(model=name, z=[0.0] * (dims[name] + 3), label=-1))))
    for raw in ['{"data": ["%s"]}', '{"data": []}']:  # fewer inputs than the endpoint has
        for name in names[:2]:
            cases.append(("/decode", "malformed-rawbody", ("/gradio_api/call/decode", raw.replace("%s", name))))
    for raw in ['{"data": ["%s", [NaN, 0, 0, 0], -1]}', '{"data": ["%s", [1e999, 0], -1]}',
                '{"data": ["%s", [-Infinity], -1]}', '{"data": "%s"}',
                '{"data": ["%s", [0, 0], -1, 5, 6]}', '{"nope": 1}', 'not json', '{"data": ["%s", ' + '[' * 5000
                + ']' * 5000 + ', -1]}', '']:
        for name in names[:2]:
            body = raw.replace("%s", name) if "%s" in raw else raw
            cases.append(("/decode", "rawbody", ("/gradio_api/call/decode", body)))

    # /reconstruct
    for name in names:
        n_pts = 10_000
        for idx in bad_numbers() + [n_pts, n_pts - 1, 10 ** 18, -n_pts]:
            cases.append(("/reconstruct", "raw", ("reconstruct", [name, idx])))
    for bad in bad_names(rng):
        cases.append(("/reconstruct", "client", ("reconstruct", dict(model=bad, index=0))))

    # /list_models with junk arguments
    for junk in ['{"data": [1, 2, 3]}', '{"data": null}', '{"data": ["x"]}']:
        cases.append(("/list_models", "rawbody", ("/gradio_api/call/list_models", junk)))

    # UI events by fn_index
    for name in names:
        for bad in bad_numbers() + ["nan", "inf", "-1e308"]:
            cases.append(("slider", "event", ("on_slide", [name, label_for(name), "pca", *slider_vals(name, bad)],
                                              None)))
        for lab in bad_numbers():
            cases.append(("class picker", "event", ("on_slide_1", [name, lab, "tsne", *slider_vals(name)], None)))
        for seed_v in bad_numbers():
            cases.append(("random", "event", ("on_random", [name, label_for(name), "pca", seed_v], None)))
        for p in proj_bad:
            cases.append(("projection", "event", ("on_projection", [name, p, *slider_vals(name)], None)))
            cases.append(("reset", "event", ("on_reset", [name, label_for(name), p], None)))
        for idx in bad_numbers() + [[5], [], [10 ** 9, 2], {"i": 1}]:
            cases.append(("map select", "event", ("on_select", [name, label_for(name), "pca"],
                                                  {"index": idx, "value": None})))
        cases.append(("map select", "event", ("on_select", [name, label_for(name), "pca"], None)))
        cases.append(("map select", "event", ("on_select", [name, label_for(name), "pca"], "junk")))
        cases.append(("slider", "malformed-event", ("on_slide", [name, label_for(name), "pca"], None)))  # too few
        cases.append(("slider", "event", ("on_slide", [name, label_for(name), "pca", *slider_vals(name), 1, 2],
                                          None)))  # too many
    for bad in bad_names(rng):
        cases.append(("model picker", "event", ("on_model", [bad, "pca"], None)))
        cases.append(("slider", "event", ("on_slide", [bad, -1, "pca", *([0.0] * 32)], None)))
        cases.append(("random", "event", ("on_random", [bad, -1, "pca", 0], None)))
        cases.append(("reset", "event", ("on_reset", [bad, -1, "pca"], None)))
        cases.append(("map select", "event", ("on_select", [bad, -1, "pca"], {"index": 1})))
        cases.append(("projection", "event", ("on_projection", [bad, "pca", *([0.0] * 32)], None)))
    for name in names:
        for p in proj_bad:
            cases.append(("model picker", "event", ("on_model", [name, p], None)))

    # the map's server function
    for spec in [{"model": names[0], "projection": "pca"}, {"model": names[0], "projection": "umap"},
                 {"model": "nope", "projection": "pca"}, {}, None, "pca", [1, 2], 5, {"model": long_string()},
                 {"model": names[-1], "projection": None}, {"model": ["a"], "projection": {"x": 1}}]:
        cases.append(("get_figure", "server_fn", ("get_figure", spec)))

    # image files sent where values are expected (no endpoint takes a file)
    for fname, ref in uploads.items():
        name = model()
        d = dims[name]
        # a reference to a file that was never uploaded must be refused by gradio before the app reads anything
        raw, event = ("malformed-raw", "malformed-event") if fname.startswith("ref:") else ("raw", "event")
        cases.append(("/decode", raw, ("decode", [name, ref, -1])))
        cases.append(("/decode", raw, ("decode", [ref, [0.0] * d, -1])))
        cases.append(("/decode", raw, ("decode", [name, [0.0] * d, ref])))
        cases.append(("/reconstruct", raw, ("reconstruct", [name, ref])))
        cases.append(("slider", event, ("on_slide", [name, -1, "pca", *slider_vals(name, ref)], None)))
        cases.append(("model picker", event, ("on_model", [ref, "pca"], None)))
        cases.append(("map select", event, ("on_select", [name, -1, "pca"], {"index": ref})))

    rng.shuffle(cases)
    if n <= 0:  # every generated case once
        return cases
    if n < len(cases):  # a seeded subset (the CI test runs about 50)
        return cases[:n]
    pool = list(cases)  # top up with repeats of random cases (sessions and seeds differ)
    while len(cases) < n:
        cases.append(rng.choice(pool))
    return cases


def to_ref(upload_path: str) -> dict:
    return {"path": upload_path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(upload_path).name}


def run_case(caller: EventCaller, client, figure_component: int, case, sessions: dict | None = None) -> dict:
    endpoint, kind, args = case
    kind = kind.removeprefix("malformed-")
    try:
        if kind == "client":
            api, kwargs = args
            try:
                client.predict(**kwargs, api_name="/" + api)
                return {"ok": True, "status": 200, "error": None, "body": ""}
            except Exception as e:  # gradio_client raises AppError / ValueError with the server's message
                return {"ok": False, "status": "client", "error": str(e) or None, "body": ""}
        if kind == "raw":
            api, data = args
            return _call_named_raw(caller, api, data)
        if kind == "rawbody":
            path, body = args
            return _post_raw(caller, path, body)
        if kind == "event":
            api, data, event_data = args
            # a page session whose model was already picked (so the class picker has its choices), as in a browser
            sessions = sessions or {}
            key = data[0] if data and isinstance(data[0], str) and data[0] in sessions else next(iter(sessions), None)
            return caller.call(api, data, event_data, session_hash=sessions.get(key))
        if kind == "server_fn":
            fn, spec = args
            r = caller.server_function(figure_component, fn, spec)
            ok = r.status_code == 200
            try:
                js = r.json()
            except ValueError:
                js = None
            if ok and isinstance(js, dict) and "error" in js:
                return {"ok": False, "status": 200, "error": js["error"], "body": r.text[:20000]}
            return {"ok": ok, "status": r.status_code, "error": None if ok else r.text[:500], "body": r.text[:20000]}
    except httpx.TransportError as e:
        return {"ok": False, "crash": True, "error": repr(e), "body": ""}
    raise ValueError(kind)


def _call_named_raw(caller: EventCaller, api: str, data) -> dict:
    import json
    return _post_raw(caller, f"/gradio_api/call/{api}", json.dumps({"data": data}, allow_nan=True))


def _post_raw(caller: EventCaller, path: str, body: str) -> dict:
    r = caller.raw(path, body)
    if r.status_code != 200:
        return {"ok": False, "status": r.status_code, "error": r.text[:500], "body": r.text[:20000]}
    event_id = r.json()["event_id"]
    text = caller.http.get(caller.base + f"{path}/{event_id}").text
    if "event: complete" in text:
        return {"ok": True, "status": 200, "error": None, "body": text[:20000]}
    err = None
    for line in text.splitlines():
        if line.startswith("data:") and "event: error" in text:
            import json
            try:
                err = json.loads(line[5:])
            except ValueError:
                err = line[5:]
            if isinstance(err, dict):
                err = err.get("error")
    return {"ok": False, "status": "stream", "error": None if err in (None, "null") else str(err),
            "body": text[:20000]}


def upload_images(caller: EventCaller, tmp: Path) -> tuple[dict, dict]:
    """Upload each image case; returns ({name: file ref}, {name: upload status})."""
    refs, statuses = {}, {}
    for name, path in image_files(tmp).items():
        with open(path, "rb") as f:
            r = caller.http.post(caller.base + "/gradio_api/upload", files={"files": (name, f, "image/png")})
        statuses[name] = r.status_code
        if r.status_code == 200:
            refs[name] = to_ref(r.json()[0])
    return refs, statuses


# ---------------------------------------------------------------------------------------------------------------

def run(base: str, n: int, seed: int, pid: int | None = None, verbose: bool = False) -> dict:
    from gradio_client import Client

    caller = EventCaller(base)
    client = Client(base, verbose=False)
    models = client.predict(api_name="/list_models")
    fig_id = component_id(caller, "latent-map")
    with tempfile.TemporaryDirectory() as tmp:
        uploads, upload_status = upload_images(caller, Path(tmp))
    # file references to files that were never uploaded: gradio must refuse to read them
    uploads["ref:/etc/passwd"] = to_ref("/etc/passwd")
    uploads["ref:app.py"] = to_ref(str(REPO / "app.py"))
    uploads["ref:../../etc/passwd"] = to_ref("../../etc/passwd")
    cases = make_cases(n, seed, [m for m in models if "error" not in m], uploads)
    # one page session per model, model picked first as the page does (this also loads every model, so the
    # memory figure compares like with like)
    sessions = {}
    for m in models:
        if "error" not in m:
            sessions[m["name"]] = f"fuzz{len(sessions)}"
            caller.call("on_model", [m["name"], "pca"], None, session_hash=sessions[m["name"]])
    rss0 = rss_mb(pid) if pid else None
    counts = defaultdict(Counter)
    leaks, examples = [], defaultdict(list)
    t0 = time.perf_counter()
    for i, case in enumerate(cases):
        res = run_case(caller, client, fig_id, case, sessions)
        outcome = classify(res, case[1])
        counts[case[0]][outcome] += 1
        m = leaked(res, case)
        if m:
            leaks.append((case[0], m, _short(case)))
        if outcome in ("server-error", "crash") and len(examples[outcome]) < 10:
            examples[outcome].append((_short(case), (res.get("error") or "")[:200]))
        if verbose:
            print(i, case[0], outcome, _short(case)[:120], (res.get("error") or "")[:120])
        if res.get("crash") and not alive(base):
            break
    elapsed = time.perf_counter() - t0
    up = alive(base)
    rss1 = rss_mb(pid) if pid and up else None
    caller.close()
    client.close()
    return {"counts": counts, "leaks": leaks, "examples": examples, "alive": up, "rss": (rss0, rss1),
            "n": sum(sum(c.values()) for c in counts.values()), "elapsed": elapsed, "uploads": upload_status}


def _short(case) -> str:
    s = repr(case)
    return s if len(s) < 300 else s[:300] + "..."


def report(r: dict) -> bool:
    print(f"{r['n']} cases in {r['elapsed']:.1f} s")
    print(f"{'endpoint':<14}" + "".join(f"{o:>14}" for o in OUTCOMES) + f"{'total':>8}")
    total = Counter()
    for ep in sorted(r["counts"]):
        c = r["counts"][ep]
        total.update(c)
        print(f"{ep:<14}" + "".join(f"{c[o]:>14}" for o in OUTCOMES) + f"{sum(c.values()):>8}")
    print(f"{'all':<14}" + "".join(f"{total[o]:>14}" for o in OUTCOMES) + f"{sum(total.values()):>8}")
    print("image uploads (HTTP status):", dict(r["uploads"]))
    print(f"responses showing a traceback or server path: {len(r['leaks'])}")
    for leak in r["leaks"][:10]:
        print("  LEAK", leak)
    for outcome, ex in r["examples"].items():
        for case, err in ex:
            print(f"  {outcome.upper()}: {case[:200]} -> {err}")
    rss0, rss1 = r["rss"]
    if rss0 and rss1:
        print(f"server RSS: {rss0:.0f} MB before the cases, {rss1:.0f} MB after ({100 * (rss1 - rss0) / rss0:+.1f}%)")
    print("server still answering:", r["alive"])
    return r["alive"] and not r["leaks"] and total["crash"] == 0 and total["server-error"] == 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", type=int, default=0, help="number of cases; 0 = every generated case once")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fake", action="store_true", help="serve tiny synthetic models instead of the shipped assets")
    p.add_argument("--url", help="fuzz an app that is already running here instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's process id, to report its memory")
    p.add_argument("-v", "--verbose", action="store_true")
    a = p.parse_args(argv)
    if a.url:
        return 0 if report(run(a.url, a.cases, a.seed, pid=a.pid, verbose=a.verbose)) else 1
    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(timeout=120, fake_assets_in=tmp if a.fake else None, latent_dim=4, n_points=200)
        try:
            ok = report(run(server.url, a.cases, a.seed, pid=server.proc.pid, verbose=a.verbose))
        finally:
            log = server.stop()
        n_tb = log.count("Traceback")
        print(f"tracebacks in the server log (not shown to callers): {n_tb}")
        if a.verbose:
            print(log[-20000:])
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
