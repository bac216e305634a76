"""Text models in the explorer, on tiny text folders of explorer.testing (make_text_folder: an untrained text VAE and
CVAE with scaled weights, a word tokenizer and a map of 24 synthetic definitions) beside an image VAE: the backend,
the (modality, kind) table, the tools, the page's events, the API through gradio_client, and hostile text."""
from __future__ import annotations

import csv
import json
import time

import numpy as np
import pytest

from explorer import ModelRegistry
from explorer.backends import Capabilities, backend_spec, reason
from explorer.latent_map import build_figure
from explorer.modalities.text import MAX_INPUT_CHARS, TextModality, prepare_text
from explorer.testing import make_model_folder, make_text_folder
from explorer.tools import (arithmetic, dynamics, explore, export, interpolation, neighbours, traversal,
                            typed_text)
from explorer.validation import InputError
from helpers import HUGE, event

D = 4
Z = [0.0] * 32  # the page sends every slider


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = tmp_path_factory.mktemp("text") / "assets"
    make_text_folder(root / "text-vae", kind="vae", latent_dim=D)
    make_text_folder(root / "text-cvae", kind="cvae", latent_dim=D)
    make_text_folder(root / "text-lm", kind="lm", latent_dim=D)
    make_model_folder(root / "fake-vae", kind="vae", latent_dim=D, n_points=40)
    return root


@pytest.fixture(scope="module")
def registry(assets):
    return ModelRegistry.discover(assets)


@pytest.fixture(scope="module")
def demo(registry):
    from explorer.ui import build_demo
    return build_demo(registry)


# ---------------------------------------------------------------------------------------------------------------
# The table, the registry and the backend

def test_the_registry_picks_the_backend_by_modality_and_kind(registry):
    text, image = registry.info("text-vae"), registry.info("fake-vae")
    assert text.kind == image.kind == "vae"
    assert text.modality == "text" and image.modality == "image"  # image folders have no modality key
    assert text.capabilities == Capabilities(encode=True, prior=True, kl=True, modality="text")
    assert image.capabilities == Capabilities(encode=True, prior=True, kl=True)
    assert registry.info("text-cvae").capabilities.conditional
    assert backend_spec("vae", "text").label == "text VAE" and backend_spec("vae").modality == "image"
    assert registry.get("text-vae").capabilities.text and registry.get("fake-vae").capabilities.image
    listed = {m["name"]: m for m in registry.describe()}
    assert listed["text-vae"]["modality"] == "text" and listed["fake-vae"]["modality"] == "image"


def test_a_language_model_is_listed_with_a_clear_error(registry):
    info = registry.info("text-lm")
    assert "no latent space to explore" in info.error and info.kind == "lm" and info.modality == "text"
    assert "cannot be loaded" in explore.describe_model(info)
    assert "text-lm" not in registry.warm_order()
    with pytest.raises(InputError, match="no latent space"):
        registry.get("text-lm")


def test_the_text_backend_decodes_encodes_and_samples(registry):
    loaded = registry.get("text-vae")
    b = loaded.backend
    assert b.latent_dim == D and b.num_classes == 0 and b.output_shape == ()
    z = b.sample(8, 0)
    np.testing.assert_array_equal(z, b.sample(8, 0))
    texts = b.decode(z)
    assert texts.shape == (8,) and all(isinstance(t, str) for t in texts)
    assert len(set(texts)) > 1  # scaled weights: codes give different sentences
    mu = b.encode_texts(["a red cat that runs", "a blue saw"])
    assert mu.shape == (2, D) and mu.dtype == np.float32
    np.testing.assert_allclose(mu[0], b.encode_texts(["a red cat that runs"])[0], atol=1e-5)
    np.testing.assert_allclose(loaded.latent_map.mu[:3], b.encode_texts(list(loaded.latent_map.texts[:3])),
                               atol=1e-4)  # the map's means are the encoder's
    kl = b.kl_per_dim(list(loaded.latent_map.texts))
    assert kl.shape == (D,) and (kl >= 0).all()
    assert loaded.browser_decoder == {"reason": loaded.browser_decoder["reason"]}  # never the ONNX decoder
    from explorer.ui.browser_decode import page_decoder
    spec = page_decoder("text-vae", loaded)   # the page's own GRU decoder (static/text_decoder.js)
    assert spec.get("kind") == "text" and "reason" not in spec, spec


def test_the_text_cvae_ranks_categories_and_decodes_as_each(registry):
    loaded = registry.get("text-cvae")
    b = loaded.backend
    recon, kl = b.class_elbo("a red cat that runs")
    assert recon.shape == kl.shape == (2,) and (recon > 0).all() and (kl >= 0).all()
    out = b.generate(np.array([0, 0, 1, 1]), seed=3, batch=3)
    assert out.shape == (4,) and list(out) == list(b.generate(np.array([0, 0, 1, 1]), seed=3, batch=2))


def test_the_text_map_holds_definitions_and_hovers_with_headwords(registry):
    lmap = registry.get("text-vae").latent_map
    assert lmap.texts is not None and lmap.n == 24 and set(lmap.coords) == {"pca", "tsne", "umap"}
    assert lmap.headwords[0] and lmap.categories[0].startswith("noun.")
    fig = build_figure(lmap, "pca")
    trace = fig["data"][0]
    i = trace["customdata"][0]
    assert trace["text"][0].startswith(f"<b>{lmap.headwords[i]}</b>: ") and "%{text}" in trace["hovertemplate"]
    assert fig["layout"]["legend"]["title"]["text"] == "category"


# ---------------------------------------------------------------------------------------------------------------
# The modality and hostile text

def test_a_sentence_is_shown_escaped_and_template_safe():
    m = TextModality()
    html = m.render("<script>x</script> costs ${1} `y`")
    assert html.startswith("<") and "<script>" not in html and "${" not in html and "`" not in html
    assert "empty sentence" in m.render("   ")
    table = m.table([["a", "b"]], ["z1"], ["-3", "3"])
    assert table.count("<td>") == 2 and "z1" in table
    assert m.sentences(["a", "b"], ["A", "B"]).count("<li>") == 2
    assert m.array("a cat") == "a cat"


@pytest.mark.parametrize("text", ["", "   \n\t ", None])
def test_empty_text_asks_for_a_sentence(text):
    with pytest.raises(InputError, match="type a sentence"):
        prepare_text(text)


def test_a_huge_text_is_cut_with_a_note_and_answers_quickly(registry):
    t = time.perf_counter()
    out = typed_text.encode_typed_text(registry.get("text-vae"), HUGE)
    assert time.perf_counter() - t < 2.0
    assert len(out["text"]) == MAX_INPUT_CHARS and "100,000 characters" in out["notes"][0]
    assert len(out["z"]) == D


def test_control_characters_and_emoji_still_encode_with_a_note(registry):
    text, notes = prepare_text("a red\x00 cat\u200b 🐱 that\truns\x07")
    assert text == "a red cat 🐱 that runs"
    assert any("Dropped 3 control" in n for n in notes) and any("🐱" in n for n in notes)
    out = typed_text.encode_typed_text(registry.get("text-vae"), "🐱🐶\x00")
    assert len(out["z"]) == D and any("<unk>" in n for n in out["notes"])  # a word tokenizer's unknown tokens
    out = typed_text.encode_typed_text(registry.get("text-vae"), "\x00\x01\x02")
    assert len(out["z"]) == D and any("empty sentence" in n for n in out["notes"])
    text, notes = prepare_text("ｆｕｌｌ width ﬁ")
    assert text == "full width fi" and any("NFKC" in n for n in notes)


@pytest.mark.parametrize("z, words", [([0.0] * (D + 1), f"send exactly {D} numbers"), ("0, 0", "list of"),
                                      ([0.0, "nan", 0.0, 0.0], "finite")])
def test_decode_refuses_a_bad_z_naming_the_length(registry, z, words):
    with pytest.raises(InputError, match=words):
        explore.decode_image(registry, "text-vae", z, -1)


# ---------------------------------------------------------------------------------------------------------------
# The tools

def test_decode_and_click_give_sentences(registry):
    loaded = registry.get("text-cvae")
    assert isinstance(explore.decode_image(registry, "text-cvae", [0.5] * D, 1), str)
    with pytest.raises(InputError, match="class id"):
        explore.decode_image(registry, "text-cvae", [0.5] * D, -1)
    sel = explore.select_point(loaded, 3)
    lmap = loaded.latent_map
    assert sel["original"] == lmap.texts[3] and sel["headword"] == lmap.headwords[3]
    assert isinstance(sel["reconstruction"], str) and len(sel["z"]) == D and sel["bce"] is None
    orig, recon, z, info = explore.reconstruct_point(registry, "text-vae", 3)
    assert orig == registry.get("text-vae").latent_map.texts[3] and isinstance(recon, str)
    assert info["headword"] and info["source"] == "encoder"
    z, how = explore.random_z(loaded, 7)
    assert len(z) == D and "prior" in how
    assert "text VAE" in explore.describe_model(registry.info("text-vae"))


def test_interpolation_is_a_homotopy_of_sentences_drawn_on_the_map(registry):
    loaded = registry.get("text-vae")
    res = interpolation.interpolate(loaded, 0, 5, 6)
    assert len(res["images"]) == 6 and all(isinstance(t, str) for t in res["images"])
    assert set(res["path"]) == {"pca", "tsne", "umap"} and len(res["path"]["pca"]["x"]) == 6
    assert "definition #0 of" in res["a"]["name"]
    lines = interpolation.strip_text(res).splitlines()
    assert len(lines) == 6 and lines[0].startswith("A: ") and lines[-1].startswith("B: ")


def test_traversal_is_a_table_of_sentences_ordered_by_kl(registry):
    loaded = registry.get("text-vae")
    res = traversal.traverse(loaded, [0.0] * D)
    assert res["images"].shape == (D, 9) and res["measure"] == "KL"
    scores = [r["score"] for r in res["rows"]]
    assert scores == sorted(scores, reverse=True) and "test sentences" in res["note"]
    assert traversal.traversal_text(res).count("+3.00: ") == D


def test_neighbours_and_the_reverse_dictionary_name_headwords(registry):
    loaded = registry.get("text-vae")
    lmap = loaded.latent_map
    found = neighbours.nearest_neighbours(loaded, lmap.mu[4], 3)
    assert found[0]["index"] == 4 and found[0]["distance"] == 0 and found[0]["headword"] == lmap.headwords[4]
    out = typed_text.encode_typed_text(loaded, str(lmap.texts[4]))
    assert out["neighbours"][0]["index"] == 4  # a test definition typed again finds itself first
    assert out["ranking"] == [] and out["label"] is None
    cv = typed_text.encode_typed_text(registry.get("text-cvae"), "a red cat")
    probs = [r["prob"] for r in cv["ranking"]]
    assert len(probs) == 2 and abs(sum(probs) - 1) < 1e-6 and cv["label"] == cv["ranking"][0]["class_id"]
    with pytest.raises(InputError, match="image model"):
        typed_text.encode_typed_text(registry.get("fake-vae"), "a red cat")


def test_arithmetic_moves_a_sentence_towards_another_category(registry):
    res = arithmetic.move_towards(registry.get("text-vae"), [0.0] * D, 0, 1, 1.0)
    assert len(res["images"]) == 7 and all(isinstance(t, str) for t in res["images"]) and len(res["z"]) == D


def test_dynamics_shows_the_kl_floor_and_active_units(registry):
    hist = dynamics.training_history(registry, "text-vae")
    assert hist["modality"] == "text" and hist["epochs"][0]["kl_floor"] == pytest.approx(0.1 * D)
    names = [t["name"] for t in dynamics.history_figure(hist)["data"]]
    assert "KL floor (free bits × D)" in names
    detail = dynamics.detail_figure(hist)
    assert detail["data"][0]["name"] == "active units (test)"
    assert "KL floor" in dynamics.dynamics_note(hist)


def test_exports_hold_texts_and_headwords(registry):
    path = export.export_map_csv(registry, "text-vae")
    rows = list(csv.DictReader(open(path)))
    lmap = registry.get("text-vae").latent_map
    assert len(rows) == lmap.n and rows[2]["text"] == lmap.texts[2] and rows[2]["headword"] == lmap.headwords[2]
    res = export.generate_dataset(registry, "text-cvae", 3, 0)
    got = list(csv.DictReader(open(res["file"])))
    assert len(got) == 6 and {r["class_name"] for r in got} == {"animal", "tool"}
    res = export.generate_dataset(registry, "text-cvae", 2, 0, fmt="jsonl")
    lines = [json.loads(line) for line in res["file"].read_text().splitlines()]
    assert [r["label"] for r in lines] == [0, 0, 1, 1] and all(isinstance(r["text"], str) for r in lines)
    with pytest.raises(InputError, match="csv"):
        export.generate_dataset(registry, "text-cvae", 2, 0, fmt="xml")
    with pytest.raises(InputError, match="conditional"):
        export.generate_dataset(registry, "text-vae", 2, 0)


def test_image_only_tools_say_why_they_are_off(registry):
    from explorer.tools import compare, drawing
    caps = registry.info("text-vae").capabilities
    assert "text model" in reason(caps, *drawing.NEEDS)
    assert reason(caps, *typed_text.NEEDS) is None
    assert "image model" in reason(registry.info("fake-vae").capabilities, *typed_text.NEEDS)
    with pytest.raises(InputError, match="encode_text"):
        drawing.encode_image(registry, "text-vae", np.zeros((28, 28), np.uint8))
    assert "synthetic-text" not in compare.comparison_datasets(registry)
    with pytest.raises(InputError, match="image datasets only"):
        compare.models_for_dataset(registry, "synthetic-text")


# ---------------------------------------------------------------------------------------------------------------
# The page

def test_the_main_view_shows_sentences(demo, registry):
    out = event(demo, "on_model")("text-cvae", "pca")
    values = list(out.values())
    assert any(isinstance(v, dict) and str(v.get("value", "")).startswith('<div class="xp-sentence">')
               for v in values)
    decoded, row, marker = event(demo, "on_slide")("text-cvae", 1, "pca", *([0.5] * D + [0.0] * 28))
    assert decoded.startswith('<div class="xp-sentence">') and len(row) == 2 and "html" in row[0]
    assert row[1]["current"] and "marker" in marker

    class Click:
        _data = {"index": 2}
    sel = event(demo, "on_select")("text-cvae", 0, "pca", Click())
    lmap = registry.get("text-cvae").latent_map
    assert lmap.texts[2] in sel[0]["value"] and lmap.headwords[2] in sel[0]["caption"]
    assert sel[1]["value"].startswith('<div class="xp-sentence">')


def test_the_text_tab_places_a_typed_sentence(demo, registry):
    out = event(demo, "on_encode_text")("text-cvae", 0, "pca", "a red cat that runs")
    recon, ranking, dictionary, note, label, status = out[:6]
    assert recon.startswith('<div class="xp-sentence">') and len(ranking) == 2
    assert "Reverse dictionary" in dictionary and "<li>" in dictionary
    best = registry.get("text-cvae").class_names.index(ranking[0]["name"])
    assert label == best and "your sentence" in status
    z_values = out[-32:][:D]
    mu = registry.get("text-cvae").backend.encode_texts(["a red cat that runs"], out[4])[0]
    np.testing.assert_allclose(z_values, np.clip(np.round(mu, 2), -13, 13), atol=0.011)
    from gradio import Error
    with pytest.raises(Error, match="type a sentence"):
        event(demo, "on_encode_text")("text-vae", 0, "pca", "")


def test_the_tabs_render_text_results(demo):
    table, note, _ = event(demo, "on_traverse")("text-vae", None, *([0.0] * 32))
    assert table.count("<tr>") == D + 1 and "KL" in note
    strip = event(demo, "on_interpolate")("text-vae", {"index": 0}, {"index": 3}, 4, "linear", "fixed")[0]
    assert strip.count("<li>") == 4
    assert event(demo, "on_neighbours")("text-vae", *([0.0] * 32)).count("<li>") == 8
    resets = event(demo, "on_model_tools")("text-vae")
    offs = [v for v in resets.values() if isinstance(v, dict) and "is off for this model" in str(v.get("value"))]
    assert any("text model" in v["value"] for v in offs)  # the sketchpad and the comparison say why
    assert not any("this is an image model" in v["value"].lower() for v in offs)  # the text tab is on


# ---------------------------------------------------------------------------------------------------------------
# The API through gradio_client

@pytest.fixture(scope="module")
def client(registry):
    gradio_client = pytest.importorskip("gradio_client")
    from explorer.testing import serve
    with serve(registry) as demo:
        yield gradio_client.Client(demo.local_url, verbose=False)


def test_api_decode_returns_the_sentence(client, registry):
    got = client.predict(model="text-vae", z=[0.3] * D, label=-1, api_name="/decode")
    assert got == registry.get("text-vae").backend.decode(np.full((1, D), 0.3, np.float32))[0]
    orig, recon, z, info = client.predict(model="text-vae", index=1, api_name="/reconstruct")
    assert orig == registry.get("text-vae").latent_map.texts[1] and isinstance(recon, str) and info["headword"]


def test_api_text_tools(client):
    strip, info = client.predict(model="text-vae", index_a=0, index_b=3, steps=4, mode="linear",
                                 class_mode="fixed", api_name="/interpolate")
    assert len(info["texts"]) == 4 and strip.splitlines()[0] == f"A: {info['texts'][0]}"
    grid, rows = client.predict(model="text-vae", z=[0.0] * D, label=-1, api_name="/traverse")
    assert len(rows["rows"]) == D and len(rows["rows"][0]["sentences"]) == 9
    text, found = client.predict(model="text-vae", z=[0.0] * D, k=3, api_name="/neighbours")
    assert len(found) == 3 and found[0]["headword"] in text
    recon, z, ranking, info = client.predict(model="text-cvae", text="a red cat", api_name="/encode_text")
    assert isinstance(recon, str) and len(z) == D and len(ranking) == 2 and len(info["neighbours"]) == 8
    path, sample, summary = client.predict(model="text-cvae", per_class=2, seed=0, format="jsonl",
                                           api_name="/generate_text_dataset")
    assert str(path).endswith(".jsonl") and summary["n"] == 4 and sample.count("\n") == 3
    path, sample, summary = client.predict(model="text-cvae", per_class=2, seed=0, api_name="/generate_dataset")
    assert str(path).endswith(".csv") and summary["n"] == 4


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/encode_text", dict(model="text-vae", text=""), "type a sentence"),
    ("/encode_text", dict(model="fake-vae", text="a cat"), "image model"),
    ("/decode", dict(model="text-vae", z=[0.0] * (D + 2), label=-1), f"send exactly {D} numbers"),
    ("/decode", dict(model="text-lm", z=[0.0] * D, label=-1), "no latent space"),
    ("/encode_image", dict(model="text-vae", image=None), "encode_text"),
    ("/generate_text_dataset", dict(model="text-cvae", per_class=2, seed=0, format="xml"), "csv"),
    ("/generate_text_dataset", dict(model="fake-vae", per_class=2, seed=0, format="csv"), "image model"),
])
def test_api_refuses_bad_text_input_clearly(client, endpoint, kwargs, words):
    from helpers import api_refuses
    api_refuses(client, endpoint, kwargs, words)


def test_api_answers_hostile_text(client):
    for text in (HUGE, "\x00\x01\x1b[31m", "🐱" * 500, "<eos> <pad> ${alert(1)}"):
        t = time.perf_counter()
        recon, z, _, info = client.predict(model="text-vae", text=text, api_name="/encode_text")
        assert len(z) == D and time.perf_counter() - t < 10
    assert "2,000" in client.predict(model="text-vae", text=HUGE, api_name="/encode_text")[3]["notes"][0]


def test_the_warm_up_plan_runs_on_text_models(registry):
    from explorer.ui import api
    plan = api.warm_plan(registry)
    labels = [label for label, _ in plan]
    assert "encode_text text-vae" in labels and "generate_text_dataset text-cvae" in labels
    assert not any(label.startswith("encode_image text-") for label in labels)
    for label, step in plan:
        if label.endswith(("text-vae", "text-cvae")):
            step()  # every step a text model gets must succeed (the warm-up only logs failures)
