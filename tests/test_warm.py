"""The background warm-up (explorer.registry.ModelRegistry.warm_up, explorer.ui.api.warm_plan, app.py): its order,
that it loads every model and reaches every endpoint, that a request never waits behind it, and that what a request
gets during the warm-up is what it gets afterwards. Fake models (conftest's `assets`); no timing targets here (those
are printed by benchmarks/first_call.py)."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import explorer.registry as registry_module
from explorer import ModelRegistry
from explorer.testing import make_model_folder
from explorer.ui import api

REPO = registry_module.ASSETS_DIR.parent


def fresh(assets, extra=()) -> ModelRegistry:
    """A registry of its own (the module-scoped `registry` fixture is shared, and these tests load models)."""
    return ModelRegistry.discover(assets, list(extra))


def test_warm_order_is_the_default_first_then_the_pickers_order(assets, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    reg = fresh(assets, [broken])
    reg.default = "fake-cvae"
    assert reg.warm_order() == ["fake-cvae", "fake-ae", "fake-vae"]  # the unreadable folder is left out
    reg.default = "fake-vae"
    assert reg.warm_order() == ["fake-vae", "fake-ae", "fake-cvae"]


def test_warm_up_loads_every_model_and_records_each_step(assets):
    reg = fresh(assets)
    assert not any(reg.is_loaded(n) for n in reg.names())
    done = reg.warm_up()
    assert [d["step"] for d in done] == [f"load {n}" for n in reg.warm_order()]
    assert all(reg.is_loaded(n) for n in reg.names())
    assert all(d["error"] is None for d in done)
    assert [d["at"] for d in done] == sorted(d["at"] for d in done)
    assert reg.warm_log is done and not reg.warming


def test_a_failing_step_is_logged_and_the_rest_still_run(assets):
    reg = fresh(assets)
    ran = []

    def boom():
        raise ValueError("no such thing")

    done = reg.warm_up([("first", lambda: ran.append(1)), ("broken", boom), ("last", lambda: ran.append(3))])
    assert ran == [1, 3]
    assert [d["error"] for d in done] == [None, "ValueError: no such thing", None]


def test_the_plan_serves_the_first_clicks_first_and_reaches_every_endpoint(assets):
    reg = fresh(assets)
    plan = [label for label, _ in api.warm_plan(reg)]
    order = reg.warm_order()
    # 1. the default model and what the page shows first; 2. the other models; 3. the tools
    assert plan[:2] == [f"load {order[0]}", f"first view {order[0]}"]
    views = [p for p in plan if p.startswith(("load ", "first view "))]
    assert plan[:len(views)] == views == [f"{what} {n}" for n in order for what in ("load", "first view")]
    tools = plan[len(views):]
    endpoints = set(api.endpoints(reg))
    if not any(reg.info(n).capabilities.text for n in order):  # encode_text is a text model's
        endpoints -= {"encode_text", "generate_text_dataset"}
    assert {p.split()[0] for p in tools} == endpoints - {"decode"}  # decode is in every first view
    for name in order:
        mine = {p.split()[0] for p in tools if p.endswith(" " + name)}
        assert {"reconstruct", "interpolate", "traverse", "neighbours", "encode_image", "training_history"} <= mine
        conditional = reg.info(name).capabilities.conditional
        assert ("move_towards" in mine) is not conditional      # a CVAE's arithmetic is its class picker
        assert ("generate_dataset" in mine) is conditional      # only a CVAE makes a labelled data set
    # the tools of the default model come first
    first_tool_model = tools[1].rsplit(" ", 1)[1] if tools[0] == "list_models" else tools[0].rsplit(" ", 1)[1]
    assert first_tool_model == order[0]


def test_the_whole_plan_runs_without_an_error(assets):
    reg = fresh(assets)
    done = reg.warm_up(api.warm_plan(reg))
    assert [d for d in done if d["error"]] == []
    assert all(reg.is_loaded(n) for n in reg.names())


def test_a_request_for_another_model_does_not_wait_for_the_warm_up(assets, monkeypatch):
    """The warm-up is stuck loading the default model; a request for another model loads that one itself."""
    reg = fresh(assets)
    reg.default = "fake-ae"
    release, inside = threading.Event(), threading.Event()
    real_load = registry_module.load_folder

    def slow_load(info):
        if info.name == "fake-ae":
            inside.set()
            assert release.wait(30)
        return real_load(info)

    monkeypatch.setattr(registry_module, "load_folder", slow_load)
    warm = threading.Thread(target=reg.warm_up, daemon=True)
    warm.start()
    try:
        assert inside.wait(30)
        loaded = reg.get("fake-vae")  # would hang behind a single lock until `release`
        assert loaded.info.name == "fake-vae"
        assert not reg.is_loaded("fake-ae") and reg.warming
    finally:
        release.set()
        warm.join(30)
    assert reg.is_loaded("fake-ae") and not reg.warming


def test_the_warm_up_waits_while_requests_come_in(assets):
    reg = fresh(assets)
    started = []
    reg.get("fake-ae")  # a request, just now
    t_request = time.monotonic()
    reg.warm_up([("step", lambda: started.append(time.monotonic()))], quiet_s=0.3, max_wait_s=5)
    assert started[0] - t_request >= 0.29
    # its own get() calls are not requests: a second warm-up right after this one does not wait for itself
    reg2 = fresh(assets)
    reg2.warm_up([("load", lambda: reg2.get("fake-ae"))], quiet_s=0.3)
    assert reg2._last_request == 0.0


def test_endpoints_called_during_the_warm_up_answer_as_after_it(assets):
    warming, reference = fresh(assets), fresh(assets)
    fns, ref = api.endpoints(warming), api.endpoints(reference)
    calls = []
    for name in warming.names():
        info = warming.info(name)
        z = [0.3] * info.latent_dim
        label = 1 if info.capabilities.conditional else -1
        calls += [("decode", (name, z, label)), ("traverse", (name, z, label)), ("neighbours", (name, z, 5)),
                  ("reconstruct", (name, 7))]
    warm = threading.Thread(target=warming.warm_up, args=(api.warm_plan(warming),), daemon=True)
    warm.start()
    got = [fns[e](*args) for e, args in calls]  # while the warm-up loads the same models
    warm.join(120)
    assert not warm.is_alive()
    for (endpoint, args), mine in zip(calls, got):
        expected = ref[endpoint](*args)
        for a, b in zip(mine if isinstance(mine, tuple) else (mine,), expected if isinstance(expected, tuple)
                        else (expected,)):
            if isinstance(a, np.ndarray):
                np.testing.assert_array_equal(a, b, err_msg=f"{endpoint} {args[0]}")
            else:
                assert a == b, (endpoint, args[0])


def test_a_model_that_cannot_load_does_not_stop_the_warm_up(assets, tmp_path):
    broken = make_model_folder(tmp_path / "no-weights", kind="vae", latent_dim=2, n_points=10)
    (broken / "model.safetensors").unlink()
    reg = fresh(assets, [broken])
    reg.default = "no-weights"
    done = reg.warm_up(api.warm_plan(reg))
    failed = {d["step"] for d in done if d["error"]}
    assert "load no-weights" in failed
    assert all(reg.is_loaded(n) for n in ("fake-ae", "fake-vae", "fake-cvae"))
    assert all(not d["error"] for d in done if not d["step"].endswith("no-weights"))


def test_app_py_turns_off_gradios_stub_writer_and_its_analytics_table(assets):
    """app.py, imported in a fresh interpreter: gradio's .pyi writer is a no-op, the queue's per-event pandas
    summary is off (both set before gradio is imported), and the page still builds."""
    code = ("import os, app, gradio.component_meta as m; "
            "import json; print(json.dumps({'pyi': m.create_or_modify_pyi.__name__, "
            "'freq': app.demo._queue.ANAYLTICS_CACHE_FREQUENCY, 'max': app.demo._queue.ANALYTICS_MAX_EVENTS, "
            "'models': app.demo.registry.names(), 'torch': 'torch' in __import__('sys').modules}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=240,
                         env={**__import__("os").environ, "EXPLORER_ASSETS_DIR": str(assets)})
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["pyi"] == "<lambda>"
    assert got["freq"] >= 10**9 and got["max"] == 1000
    assert got["models"] == ["fake-ae", "fake-cvae", "fake-vae"]
    assert got["torch"] is False  # the page answers before torch is imported


@pytest.fixture(scope="module")
def live(registry):
    from explorer.testing import serve
    with serve(registry) as demo:
        yield demo


def test_the_warm_up_requests_go_through_the_live_app(live):
    steps = api.warm_requests(live.local_url, live.registry)
    assert [label for label, _ in steps] == ["request /list_models", f"request /decode {live.registry.default}"]
    for _, fn in steps:
        fn()  # raises on anything but a complete answer with its file downloaded


# Holding real clients (benchmarks/load.py): the queue settings, and the cached output files a download may be reading.

def test_the_queue_tells_waiting_callers_their_place_every_2_s_not_after_every_call(demo):
    from explorer.ui.style import QUEUE_STATUS_EVERY_S

    assert demo._queue.live_updates is False  # "auto" would message every waiting call whenever any call starts
    assert demo._queue.update_intervals == QUEUE_STATUS_EVERY_S == 2.0
    assert demo._queue.max_size is None


@pytest.mark.parametrize("kind", ["image", "bytes"])
def test_a_cached_output_being_downloaded_is_never_truncated_by_the_same_output_again(demo, tmp_path, kind):
    """gradio names an output file after its content hash; writing the same output again used to truncate that
    file in place while an earlier caller was still downloading it ("peer closed connection without sending
    complete message body (received 0 bytes, expected N)")."""
    from PIL import Image
    from gradio import processing_utils as pu

    assert pu.save_pil_to_cache.atomic and pu.save_bytes_to_cache.atomic  # build_demo (api.build) set them
    pixels = (np.arange(280 * 280) % 251).astype(np.uint8).reshape(280, 280)

    def save():
        if kind == "image":
            return pu.save_pil_to_cache(Image.fromarray(pixels), str(tmp_path), format="png")
        return pu.save_bytes_to_cache(pixels.tobytes(), "grid.png", str(tmp_path))

    path = save()
    expected = open(path, "rb").read()
    short, stop = [], threading.Event()

    def download():  # callers downloading that file, again and again, while the same output is saved again
        while not stop.is_set():
            with open(path, "rb") as f:
                got = f.read()
            if got != expected:
                short.append(len(got))

    reader = threading.Thread(target=download)
    reader.start()
    try:
        assert all(save() == path for _ in range(300))  # the same output: the same name
    finally:
        stop.set()
        reader.join()
    assert short == []  # gradio's own write_bytes: thousands of short reads in 300 saves
    assert [p.name for p in tmp_path.rglob(".*")] == []  # no staging file left behind
    # a file left short by anything else (a crash mid-write in an older run) is replaced, not handed out
    with open(path, "wb") as f:
        f.write(expected[:10])
    assert save() == path and open(path, "rb").read() == expected
