"""What anyone can send to a public Space: junk values for every event, handled with a clear message or a sane clamp.

Unit tests for the fixes found by benchmarks/fuzz.py, plus a 60-case fuzz run against the app served on localhost
with tiny fake models and a check that the fuzzer has cases for every event of the page (the full run, 4,950
cases, is `python benchmarks/fuzz.py`). The fake models include a GAN and a conditional GAN: every case the VAE's
endpoints get runs on the GAN too (MODELS), and the fuzz run's cases are drawn over all of them.
"""
from __future__ import annotations

from collections import Counter

import gradio as gr
import pytest

from explorer import ModelRegistry
from explorer.latent_map import check_index, check_projection
from explorer.testing import make_assets, serve
from explorer.tools import arithmetic, explore, export, interpolation, neighbours
from explorer.validation import InputError, shown, to_float, validate_label, validate_seed, validate_z
from explorer.ui import build_demo, launch_kwargs

D = 3
HUGE = "x" * 100_000
MODELS = ["fake-vae", "fake-gan"]  # an autoencoder and a GAN (no encoder: codes of pictures by inversion)


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return ModelRegistry.discover(make_assets(tmp_path_factory.mktemp("hostile"), latent_dim=D, n_points=40,
                                              gan=True, text=True))


@pytest.fixture(scope="module")
def demo(registry):
    return build_demo(registry)


def handler(demo, api_name):
    return next(fn.fn for fn in demo.fns.values() if fn.api_name == api_name)


# ---------------------------------------------------------------------------------------------------------------
# validation

def test_shown_cuts_long_values():
    assert shown("abc") == "'abc'"
    s = shown(HUGE)
    assert len(s) < 120 and "100,002 characters" in s


@pytest.mark.parametrize("call", [
    lambda r: r.info(HUGE),
    lambda r: check_projection(HUGE),
    lambda r: validate_label(HUGE, 10),
    lambda r: validate_seed(HUGE),
    lambda r: check_index(r.get("fake-vae").latent_map, HUGE),
    lambda r: check_index(r.get("fake-gan").latent_map, HUGE),
    lambda r: explore.decode(r.get("fake-gan"), HUGE),
])
def test_messages_do_not_echo_a_huge_value(registry, call):
    with pytest.raises(InputError) as e:
        call(registry)
    assert len(str(e.value)) < 400


@pytest.mark.parametrize("name", [{"path": "/etc/passwd"}, ["fake-vae"], None, 5])
def test_a_model_name_that_is_not_a_string_is_an_unknown_model(registry, name):
    with pytest.raises(InputError, match="unknown model"):
        registry.info(name)


def test_true_and_false_are_not_numbers():
    with pytest.raises(InputError, match="true/false"):
        validate_z([True, 0.0, 1.0], 3)
    with pytest.raises(InputError, match="seed"):
        validate_seed(True)


BIG = 10 ** 400  # JSON carries integers of any size; float() of this one raises OverflowError


def test_to_float_takes_integers_beyond_float_range():
    assert to_float(BIG) == float("inf") and to_float(-BIG) == float("-inf") and to_float("2.5") == 2.5


@pytest.mark.parametrize("call, words", [
    (lambda r, m: validate_z([BIG, 0.0, 0.0], 3), "too large"),
    (lambda r, m: validate_label(BIG, 10), "whole number"),
    (lambda r, m: validate_label(-BIG, 0), "whole number"),
    (lambda r, m: validate_seed(BIG), "seed"),
    (lambda r, m: check_index(r.get(m).latent_map, -BIG), "out of range"),
    (lambda r, m: interpolation.check_steps(BIG), "steps"),
    (lambda r, m: neighbours.nearest_neighbours(r.get(m), [0.0] * D, BIG), "k must be"),
    (lambda r, m: arithmetic.move_towards(r.get(m), [0.0] * D, 1, 2, BIG), "strength"),
    (lambda r, m: arithmetic.move_towards(r.get(m), [0.0] * D, BIG, 2, 1.0), "class id"),
    (lambda r, m: explore.decode(r.get(m), [BIG] * D), "too large"),
    (lambda r, m: export.validate_per_class(BIG), "per_class"),
    (lambda r, m: export.validate_per_class(1e308), "per_class"),
])
@pytest.mark.parametrize("model", MODELS)
def test_integers_beyond_float_range_get_a_message(registry, call, words, model):
    """Found by benchmarks/fuzz.py: 10**400 raised OverflowError in every check ("Something went wrong")."""
    with pytest.raises(InputError, match=words) as e:
        call(registry, model)
    assert len(str(e.value)) < 400  # the value is not echoed whole


def test_a_huge_class_id_is_not_echoed_whole():
    with pytest.raises(InputError) as e:
        validate_label(-1e308, 10)
    assert "-1e+308" in str(e.value) and len(str(e.value)) < 200
    with pytest.raises(InputError) as e:
        export.validate_per_class(1e300)
    assert len(str(e.value)) < 400


@pytest.mark.parametrize("api_name, args, words", [
    ("interpolate", ("MODEL", 0, 1, BIG, "linear", "fixed"), "steps"),
    ("interpolate", ("MODEL", -BIG, 1, 8, "linear", "fixed"), "out of range"),
    ("neighbours", ("MODEL", [0.0] * D, BIG), "k must be"),
    ("compare_models", ("synthetic", BIG), "seed"),
    ("generate_dataset", ("fake-cvae", BIG, 0), "per_class"),
    ("generate_dataset", ("fake-cgan", BIG, 0), "per_class"),
    ("decode", ("MODEL", [BIG] * D, -1), "too large"),
    ("reconstruct", ("MODEL", BIG), "index"),
    ("move_towards", ("MODEL", [0.0] * D, 1, 2, BIG), "strength"),
    ("encode_image", ("MODEL", None), "no image"),
])
@pytest.mark.parametrize("model", MODELS)
def test_endpoints_with_integers_beyond_float_range(demo, api_name, args, words, model):
    with pytest.raises(gr.Error, match=words):
        handler(demo, api_name)(*[model if a == "MODEL" else a for a in args])


def file_inputs(demo):
    return {b.elem_id or b.label: b for b in demo.blocks.values()
            if isinstance(b, (gr.Image, gr.ImageEditor)) and any(b._id in [i._id for i in fn.inputs]
                                                                for fn in demo.fns.values())}


def test_every_file_input_explains_a_bad_value(demo):
    """Found by benchmarks/fuzz.py: gradio validates a file input's raw value before the event runs (even with
    preprocess=False) and answered "abc", 5, a list or {"path": 5} with an empty error and a traceback."""
    inputs = file_inputs(demo)
    assert set(inputs) == {"image", "image-upload", "sketchpad"}
    for name, comp in inputs.items():
        words = "drawing must be" if name == "sketchpad" else "image must be an uploaded file"
        dicts = [{"background": 5}, {"layers": "x"}, {"id": 5}] if name == "sketchpad" else [{"path": 5}, {"meta": 5}]
        for bad in ["abc", 5, [1, 2], *dicts]:
            with pytest.raises(gr.Error, match=words) as e:
                comp.data_model.model_validate(bad, context={"validate_meta": True})
            assert shown(bad) in e.value.message
    ok = {"path": "/tmp/x.png", "meta": {"_type": "gradio.FileData"}}
    assert inputs["image"].data_model.model_validate(ok, context={"validate_meta": True}).path == "/tmp/x.png"
    assert inputs["sketchpad"].data_model.model_validate({"id": "d1"}).id == "d1"


def test_file_inputs_keep_their_api_schema(demo):
    """gradio_client reads the schema to know that the image is a file (handle_file)."""
    for comp in file_inputs(demo).values():
        plain = type(comp)(**({"type": "filepath"} if isinstance(comp, gr.Image) else {}))
        assert comp.api_info() == plain.api_info()


@pytest.mark.parametrize("data, index", [({"index": 4, "value": "x"}, 4), ({"index": [7]}, 7), ({"index": "5"}, "5")])
def test_event_index(data, index):
    assert explore.event_index(data) == index


@pytest.mark.parametrize("data", [None, "junk", {}, {"index": None}, {"index": []}, {"value": 3}])
def test_event_index_without_an_index(data):
    with pytest.raises(InputError, match="index of a test image"):
        explore.event_index(data)


# ---------------------------------------------------------------------------------------------------------------
# handlers, called as gradio calls them with preprocess=False (raw JSON values)

def test_every_event_takes_raw_values(demo):
    """gradio's own preprocessing fails with an empty message on e.g. a string for a Number; explorer.validation
    checks the raw values instead."""
    assert all(fn.preprocess is False for fn in demo.fns.values() if fn.inputs)


@pytest.mark.parametrize("model", MODELS)
def test_map_click_with_junk_event_data_gets_a_message(demo, model):
    on_select = handler(demo, "on_select")
    for evt in (None, gr.EventData(None, "junk"), gr.EventData(None, {"value": 1})):
        with pytest.raises(gr.Error, match="index of a test image"):
            on_select(model, None, "pca", evt)
    with pytest.raises(gr.Error, match="out of range"):
        on_select(model, None, "pca", gr.EventData(None, {"index": 10 ** 9}))
    out = on_select(model, None, "pca", gr.EventData(None, {"index": 3}))  # no "value": fine
    assert "test image #3" in out[5]  # the status line, after the three images, the note and the class


def test_random_button_takes_the_seed_as_sent(demo):
    on_random = handler(demo, "on_random")
    assert on_random("fake-vae", None, "pca", "5")[4] == 6
    assert on_random("fake-vae", None, "pca", 2 ** 53 - 1)[4] == 0  # wraps: the page holds a JavaScript number
    for bad in ("abc", {"a": 1}, [1], True, -3, float("nan")):
        with pytest.raises(gr.Error, match="seed"):
            on_random("fake-vae", None, "pca", bad)


@pytest.mark.parametrize("args, words", [
    (({"path": "x"}, [0.0] * D, -1), "unknown model"),
    (("fake-vae", [0.0] * D, {"path": "x"}), "label must be a whole number"),
    (("fake-cvae", [0.0] * D, "3"), "label must be a whole number"),
    (("fake-vae", [0.0] * D, []), "label must be a whole number"),
    (("fake-vae", {"path": "x"}, -1), "z must be"),
])
def test_decode_endpoint_with_raw_junk(demo, args, words):
    with pytest.raises(gr.Error, match=words):
        handler(demo, "decode")(*args)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("index", [{"path": "x"}, "abc", [], None, float("inf"), 10 ** 30])
def test_reconstruct_endpoint_with_raw_junk(demo, index, model):
    with pytest.raises(gr.Error, match="index"):
        handler(demo, "reconstruct")(model, index)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("z", [["abc"] * D, [None] * D, [{"a": 1}] * D, ["nan"] * D])
def test_slider_move_with_junk_values(demo, z, model):
    with pytest.raises(gr.Error, match="z"):
        handler(demo, "on_slide")(model, None, "pca", *z)


def test_map_server_function_with_a_spec_that_is_not_a_dict(demo):
    latent_map = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "latent-map")
    for spec in ("pca", None, [1, 2], 5):
        assert "get_figure takes" in latent_map.get_figure(spec)["error"]
    assert "unknown model" in latent_map.get_figure({"model": HUGE, "projection": "pca"})["error"]


# ---------------------------------------------------------------------------------------------------------------
# a short fuzz run against the live app

def test_fuzz_subset_against_the_live_app(registry):
    from benchmarks import fuzz
    with serve(registry) as demo:
        r = fuzz.run(demo.local_url, 60, seed=1)
    total = sum(r["counts"].values(), Counter())
    assert r["n"] == 60 and r["alive"]
    assert r["leaks"] == []
    assert total["crash"] == 0 and total["server-error"] == 0, r["examples"]
    assert total["clear-error"] > 20 and total["clamped-ok"] > 0


def test_fuzz_cases_on_the_gans_against_the_live_app(registry):
    """The fuzzer's per-model cases drawn for the GANs alone: inversion, no encoder, a cgan's classes."""
    from benchmarks import fuzz
    with serve(registry) as demo:
        r = fuzz.run(demo.local_url, 80, seed=2, only=["fake-gan", "fake-cgan"])
    total = sum(r["counts"].values(), Counter())
    assert r["n"] == 80 and r["alive"] and r["leaks"] == []
    assert total["crash"] == 0 and total["server-error"] == 0, r["examples"]
    assert total["clear-error"] > 20 and total["clamped-ok"] > 0


def test_file_inputs_and_the_sketchpad_answer_junk_on_the_live_app(registry):
    """The same fixes end to end: the message reaches a raw JSON caller, accept_blobs refuses with a 400."""
    import uuid

    from benchmarks import fuzz
    from explorer.testing.apphost import EventCaller, component_id
    with serve(registry) as demo:
        c = EventCaller(demo.local_url)
        for model in MODELS:
            r = fuzz._call_named_raw(c, "encode_image", [model, "abc"])
            assert "image must be an uploaded file" in (r["error"] or "")
            r = c.call("on_encode_drawing", [model, None, "pca", {"id": 5}])
            assert "drawing must be" in (r["error"] or "")
        runner = fuzz.Runner(c, None, 0, component_id(c, "sketchpad"), {})
        r = runner._blob({"type": "layer", "index": str(10 ** 9)}, b"x")
        assert r["status"] == 400 and "layer's index" in r["error"]
        blob_id = uuid.uuid4().hex
        assert runner._blob({"type": "composite", "index": "1e400", "id": blob_id}, b"not a png")["ok"]
        r = c.call("on_encode_drawing", ["fake-vae", None, "pca", {"id": blob_id}])
        assert "not an image" in (r["error"] or "")


def test_the_fuzzer_has_cases_for_every_event(demo, registry):
    """benchmarks/fuzz.py lists the page's events from its config and fails a full run when one has no hand-written
    case; this checks the same without a server, so a new event without fuzz cases fails here first."""
    from benchmarks import fuzz
    config = demo.get_config_file()
    refs = {"digit.png": fuzz.to_ref("/tmp/x.png"), "ref:/etc/passwd": fuzz.to_ref("/etc/passwd")}
    cases = fuzz.make_cases(0, 0, [m for m in registry.describe() if "error" not in m], refs, None, config)
    targeted = {row for row, kind, _ in cases if "generic" not in kind}
    runnable = [fuzz.dep_key(d) for d in fuzz.runnable_deps(config)]
    assert len(runnable) >= 40 and [k for k in runnable if k not in targeted] == []
    assert {"/encode_image", "on_encode_drawing", "on_encode_image", "accept_blobs"} <= targeted


def test_memory_and_disk_held_for_strangers_are_bounded(demo):
    """Every API call is a new gradio session (~150 KB of config each); uploads and output images go to disk."""
    kw = launch_kwargs()
    assert kw["state_session_capacity"] <= 1000 and kw["max_file_size"]
    assert demo.delete_cache and demo.delete_cache[1] <= 24 * 3600


def test_one_page_session_does_not_grow_with_its_events(registry):
    """gradio stored a new copy of every updated component per 'update, then use as input' cycle in a session
    (explorer/ui/gradio_patches.py); a person alternating a model switch or Random with slider moves grew the server
    without bound. After 40 such cycles the session must hold no more components than the page has."""
    from explorer.testing.apphost import EventCaller
    with serve(registry) as demo:
        c = EventCaller(demo.local_url)
        for i in range(20):
            for first in (["on_model", ["fake-vae" if i % 2 else "fake-ae", "pca"]],
                          ["on_random", ["fake-vae", None, "pca", i]]):
                assert c.call(*first, session_hash="one-person")["ok"]
                assert c.call("on_slide", ["fake-vae", None, "pca", 0.5, -1.0, 2.0, *[0.0] * 29],
                              session_hash="one-person")["ok"]
        session = demo.state_holder.session_data["one-person"]
        assert len(session.blocks_config.blocks) == len(demo.default_config.blocks)
        assert len(session.config_values) <= len(demo.default_config.blocks)


def test_the_gradio_fix_stops_the_growth_it_was_written_for():
    """The bare gradio pattern behind explorer/ui/gradio_patches.py: an event that updates a slider's range, then an
    event that reads the slider, in one session, without the queue (as the explorer's Random button and sliders)."""
    from explorer.testing.apphost import EventCaller
    from explorer.ui.gradio_patches import keep_session_component_ids

    def grown(patched: bool) -> int:
        from gradio.state_holder import SessionState
        saved = SessionState.__setitem__
        if patched:
            keep_session_component_ids()
        else:
            SessionState.__setitem__ = getattr(saved, "__wrapped__", saved)
        try:
            with gr.Blocks() as demo:
                s = gr.Slider(0, 1, value=0.5)
                out = gr.Number()
                b = gr.Button()
                b.click(lambda: gr.update(maximum=2, value=1.0), None, s, queue=False, api_name="widen")
                s.input(lambda v: v, s, out, queue=False, api_name="read")
            demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
            try:
                c = EventCaller(demo.local_url)
                for _ in range(10):
                    assert c.call("widen", [], session_hash="p")["ok"] and c.call("read", [1.0], session_hash="p")["ok"]
                return len(demo.state_holder.session_data["p"].blocks_config.blocks) - len(demo.default_config.blocks)
            finally:
                demo.close()
        finally:
            SessionState.__setitem__ = saved

    assert grown(patched=False) >= 10  # if gradio fixes its bug this fails: then gradio_patches can go
    assert grown(patched=True) == 0
