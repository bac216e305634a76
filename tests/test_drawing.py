"""Your own drawing, AE vs VAE vs CVAE, training dynamics, map CSV, generate_dataset and UMAP (explorer.extras):
the plain functions, and their named API endpoints through gradio_client against the app on localhost.

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path; one test also checks the
"classifier for free" on the shipped mnist-cvae when assets/ has it.
"""
from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from explorer import extras
from explorer.checks import InputError
from explorer.latent_map import build_figure, load_latent_map, marker_position
from explorer.registry import ModelRegistry
from explorer.testing import make_assets, make_model_folder

D = 4
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = make_assets(tmp_path_factory.mktemp("extras") / "assets", latent_dim=D, n_points=120)
    history = {"epochs": [{"epoch": e, "train_loss": 200 - 10 * e, "train_recon": 190 - 12 * e,
                           "train_kl": 10 + 2 * e, "test_recon": 195 - 11 * e, "test_kl": 9 + 2 * e, "beta": 1.0}
                          for e in range(1, 6)]}
    for kind in ("ae", "vae", "cvae"):
        h = json.loads(json.dumps(history))
        if kind == "ae":
            for r in h["epochs"]:
                r["train_kl"] = r["test_kl"] = 0.0
        (root / f"fake-{kind}" / "history.json").write_text(json.dumps(h))
    m = json.loads((root / "fake-vae" / "metrics.json").read_text())
    m["kl_per_dim"] = [1.5, 0.001, 2.0, 0.0]
    (root / "fake-vae" / "metrics.json").write_text(json.dumps(m))
    return root


@pytest.fixture(scope="module")
def registry(assets):
    return ModelRegistry.discover(assets)


def digit(size=(200, 260), dark_on_light=True, stroke=22) -> Image.Image:
    """A hand-drawn-like "7" (grayscale PIL image), ink dark on light or light on dark."""
    bg, ink = (240, 15) if dark_on_light else (10, 250)
    im = Image.new("L", size, bg)
    d = ImageDraw.Draw(im)
    w, h = size
    d.line([(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.45 * w, 0.85 * h)], fill=ink, width=stroke)
    return im


def png(im: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG", **kw)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but carries no pixel data: what a decompression bomb's header
    looks like to a reader that checks sizes before decoding."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------------------------
# Preparing an image like MNIST

def test_prepare_inverts_crops_scales_to_20_px_and_centres_by_mass():
    out, notes = extras.prepare_image(png(digit()))
    assert out.shape == (28, 28) and out.dtype == np.uint8
    assert any("inverted" in n for n in notes)
    assert out[0].max() == 0 and out[:, 0].max() == 0 and out[-1].max() == 0  # dark background, light ink
    assert out.max() >= 250
    ink = np.argwhere(out > 25)
    extent = ink.max(axis=0) - ink.min(axis=0) + 1
    assert 19 <= extent.max() <= 21  # the longer side of the ink box is 20 px
    from scipy import ndimage
    cy, cx = ndimage.center_of_mass(out.astype(float))
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_prepare_keeps_light_on_dark_and_matches_the_inverted_version():
    a, notes = extras.prepare_image(png(digit(dark_on_light=False)))
    assert not any("inverted" in n for n in notes)
    b, _ = extras.prepare_image(png(digit(dark_on_light=True)))
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 3


def test_prepare_keeps_aspect_ratio():
    im = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(im).rectangle((140, 50, 160, 250), fill=255)  # a 21 x 201 bar: a "1"
    out, _ = extras.prepare_image(im)
    ink = np.argwhere(out > 25)
    h, w = ink.max(axis=0) - ink.min(axis=0) + 1
    assert h == 20 and w <= 4


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255)])
def test_rgba_strokes_on_a_transparent_canvas(ink):
    """The sketchpad's strokes (black on transparent), and white strokes on transparent, both come out as ink."""
    ref, _ = extras.prepare_image(digit(dark_on_light=False))
    g = np.asarray(digit(dark_on_light=False))
    rgba = np.zeros((*g.shape, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = g  # alpha is the stroke
    out, notes = extras.prepare_image(Image.fromarray(rgba, "RGBA"))
    assert any("transparent" in n for n in notes)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 3


def test_16_bit_images_are_scaled_from_their_full_range():
    g8 = np.asarray(digit(dark_on_light=False)).astype(np.uint16)
    ref, _ = extras.prepare_image(Image.fromarray(g8.astype(np.uint8)))
    for im in (Image.fromarray(g8 * 257),                       # I;16
               Image.fromarray((g8 * 257).astype(np.int32))):   # I (32-bit) holding 16-bit values
        out, notes = extras.prepare_image(png(im) if im.mode != "I" else im)  # Pillow 13 cannot save I as PNG
        assert any("16-bit" in n for n in notes), im.mode
        assert np.abs(out.astype(int) - ref.astype(int)).mean() < 2


@pytest.mark.parametrize("mode", ["P", "CMYK", "1", "RGB", "LA", "F"])
def test_other_modes_are_converted(mode):
    ref, _ = extras.prepare_image(digit())
    im = digit().convert(mode) if mode != "F" else Image.fromarray(np.asarray(digit(), np.float32) / 255.0)
    src = im if mode in ("CMYK", "F") else png(im)
    out, _ = extras.prepare_image(src)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < (20 if mode == "1" else 3)


def test_arrays_are_accepted():
    g = np.asarray(digit())
    for a in (g, g.astype(np.float32) / 255.0, np.stack([g] * 3, axis=2), g > 128):
        out, _ = extras.prepare_image(a)
        assert out.shape == (28, 28) and out.max() > 200
    with pytest.raises(InputError, match="shape"):
        extras.prepare_image(np.zeros((4, 4, 7), np.uint8))


@pytest.mark.parametrize("source, what, words", [
    (Image.new("L", (280, 280), 255), "drawing", "draw something first"),
    (Image.new("RGBA", (280, 280), (0, 0, 0, 0)), "drawing", "draw something first"),
    (Image.new("L", (1, 1), 0), "image", "looks blank"),
    (Image.new("L", (64, 64), 128), "image", "looks blank"),
])
def test_empty_pictures_get_a_clear_message(source, what, words):
    with pytest.raises(InputError, match=words):
        extras.prepare_image(source, what)


@pytest.mark.parametrize("data, words", [
    (b"hello, I am not an image", "not an image"),
    (png(digit())[:60], "damaged"),                         # header fine, pixels cut off
    (png_header_only(10_000, 10_000), "10,000 x 10,000"),   # refused from the header, nothing decoded
    (png_header_only(20_000, 20_000), "too large|20,000"),  # PIL's own bomb check fires first
    (png_header_only(5000, 4000), "megapixels"),
])
def test_bad_files_get_a_clear_message(data, words):
    with pytest.raises(InputError, match=words):
        extras.prepare_image(data)


def test_a_large_photo_is_shrunk_before_the_work():
    im = digit(size=(3000, 2000), stroke=160).convert("RGB")
    out, _ = extras.prepare_image(png(im, compress_level=1))
    assert out.shape == (28, 28) and out.max() > 200
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)  # decoded at reduced scale (JPEG draft mode): the same picture comes out
    jpeg, _ = extras.prepare_image(buf.getvalue())
    assert np.abs(jpeg.astype(int) - out.astype(int)).mean() < 4


# ---------------------------------------------------------------------------------------------------------------
# Raw values from gradio (uploads, the sketchpad's payload)

def test_image_from_payload(tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    f = root / "x.png"
    f.write_bytes(png(digit()))
    assert extras.image_from_payload({"path": str(f), "meta": {"_type": "gradio.FileData"}}, upload_root=root) == f
    sketch = {"background": None, "layers": [{"path": str(f)}], "composite": None}
    assert extras.image_from_payload(sketch, "drawing", upload_root=root) == f
    blobs = {"abc": SimpleNamespace(composite=b"PNG...", layers=[], background=None)}
    assert extras.image_from_payload({"id": "abc"}, "drawing", blobs=blobs) == b"PNG..."
    assert blobs == {}  # read once, then forgotten


@pytest.mark.parametrize("payload, words", [
    (None, "upload a picture first"),
    ("/etc/passwd", "as a file"),
    ({"path": "/etc/passwd"}, "not uploaded to this app"),
    ({"path": "https://example.com/x.png"}, "URLs are not fetched"),
    ({"url": "http://example.com/x.png"}, "URLs are not fetched"),
    ({"background": None, "layers": [], "composite": None}, "looks blank"),
    ({"id": "never-sent"}, "did not reach the server"),
    ([1, 2, 3], "expected an image file"),
    ({"foo": 1}, "expected an image file"),
])
def test_image_from_payload_refuses_junk(tmp_path, payload, words):
    with pytest.raises(InputError, match=words):
        extras.image_from_payload(payload, upload_root=tmp_path, blobs={})


def test_empty_sketch_payload_says_draw_first(tmp_path):
    with pytest.raises(InputError, match="draw something first"):
        extras.image_from_payload(None, "drawing", upload_root=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Encoding: reconstruction, z, and the CVAE's ranking of classes

@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_encode_prepared(registry, kind):
    loaded = registry.get(f"fake-{kind}")
    img, _ = extras.prepare_image(digit())
    out = extras.encode_prepared(loaded, img)
    assert len(out["z"]) == D and out["reconstruction"].shape == (28, 28)
    assert all(abs(v) <= r for v, r in zip(out["z"], loaded.slider_range))
    if kind == "cvae":
        assert out["label"] == out["ranking"][0]["class_id"] and len(out["ranking"]) == 10
    else:
        assert out["label"] is None and out["ranking"] == []
    # the reconstruction is the decoder's image of exactly the z the sliders get
    from explorer import inference as inf
    np.testing.assert_allclose(out["reconstruction"], inf.decode(loaded.model, out["z"], out["label"]), atol=1e-6)


def test_rank_classes_is_the_per_class_elbo(registry):
    model = registry.get("fake-cvae").model
    img, _ = extras.prepare_image(digit())
    ranking = extras.rank_classes(model, img)
    negs = [r["neg_elbo"] for r in ranking]
    assert negs == sorted(negs) and abs(sum(r["prob"] for r in ranking) - 1) < 1e-9
    from training.losses import bce_per_image, kl_per_image
    x = torch.from_numpy(img.astype(np.float32) / 255)[None, None]
    for r in ranking[:3]:
        y = torch.tensor([r["class_id"]])
        with torch.no_grad():
            mu, logvar = model.encode(x, y)
            want = bce_per_image(model.decode_logits(mu, y), x) + kl_per_image(mu, logvar)
        assert r["neg_elbo"] == pytest.approx(float(want), rel=1e-5)
    top = max(ranking, key=lambda r: r["prob"])
    assert top is ranking[0]


@pytest.mark.skipif(not (REPO / "assets" / "mnist-cvae" / "latent_map.npz").is_file(),
                    reason="needs the shipped mnist-cvae in assets/")
def test_the_shipped_cvae_classifies_redrawn_test_digits():
    """Test digits drawn dark on light at 10x size, prepared and ranked: the classifier for free works."""
    reg = ModelRegistry.discover(REPO / "assets")
    loaded = reg.get("mnist-cvae")
    lm = loaded.latent_map
    hits = 0
    for i in range(60):
        big = Image.fromarray(255 - lm.images[i]).resize((280, 280), Image.Resampling.BICUBIC)
        img, _ = extras.prepare_image(png(big))
        hits += extras.encode_prepared(loaded, img)["label"] == lm.labels[i]
    assert hits / 60 >= 0.85, hits


def test_encode_image_api_function(registry, tmp_path):
    f = tmp_path / "seven.png"
    f.write_bytes(png(digit()))
    prepared, recon, z, ranking = extras.encode_image(registry, "fake-cvae", {"path": str(f)}, upload_root=tmp_path)
    assert prepared.shape == recon.shape == (280, 280) and len(z) == D and len(ranking) == 10
    with pytest.raises(InputError, match="unknown model"):
        extras.encode_image(registry, "nope", {"path": str(f)}, upload_root=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# AE vs VAE vs CVAE

def test_models_for_dataset(registry):
    assert extras.comparison_datasets(registry) == ["synthetic"]
    assert extras.models_for_dataset(registry, "synthetic") == {"ae": "fake-ae", "vae": "fake-vae",
                                                                 "cvae": "fake-cvae"}
    with pytest.raises(InputError, match="unknown dataset .*synthetic"):
        extras.models_for_dataset(registry, "cifar")
    with pytest.raises(InputError, match="unknown dataset"):
        extras.models_for_dataset(registry, {"x": 1})


def test_compare_models(registry):
    res = extras.compare_models(registry, "synthetic", seed=3)
    assert set(res["models"]) == {"ae", "vae", "cvae"} and res["missing"] == []
    grids = [res["models"][k]["grid"] for k in extras.KINDS]
    rows, cols = extras.COMPARE_ROWS, extras.COMPARE_COLS
    assert all(g.shape == (rows * 30 + 2, cols * 30 + 2) and g.dtype == np.uint8 for g in grids)
    assert all(res["models"][k]["map"].shape == (240, 240, 3) for k in extras.KINDS)
    again = extras.compare_models(registry, "synthetic", seed=3)
    assert all(np.array_equal(again["models"][k]["grid"], res["models"][k]["grid"]) for k in extras.KINDS)
    other = extras.compare_models(registry, "synthetic", seed=4)
    assert not np.array_equal(other["models"]["vae"]["grid"], res["models"]["vae"]["grid"])
    assert "N(0, I)" in res["why"] and "| active units |" in res["table"] and "n/a" in res["table"]
    summary = extras.compare_summary(res)
    assert summary["models"]["vae"]["name"] == "fake-vae" and json.dumps(summary)


def test_prior_grid_same_codes_for_every_model_and_cvae_rows_are_classes(registry):
    _, z_vae = extras.prior_grid(registry.get("fake-vae"), 7)
    grid, z_cvae = extras.prior_grid(registry.get("fake-cvae"), 7)
    assert np.array_equal(z_vae, z_cvae)  # the same seed gives every model the same codes
    model = registry.get("fake-cvae").model
    cols = extras.COMPARE_COLS
    with torch.no_grad():
        row3 = model.decode(torch.from_numpy(z_cvae[3 * cols:4 * cols]), torch.full((cols,), 3))[:, 0].numpy()
    tile = grid[2 + 3 * 30:2 + 3 * 30 + 28, 2:2 + 28]  # row 3, column 0 of the make_grid layout (padding 2)
    assert np.abs(tile.astype(int) - np.round(row3[0] * 255)).max() <= 1


def test_map_thumbnail_draws_points_and_crosses(registry):
    lmap = registry.get("fake-ae").latent_map
    plain = extras.map_thumbnail(lmap)
    crossed = extras.map_thumbnail(lmap, np.full((5, D), 50.0))  # codes far from the data
    assert (plain != 255).any() and (crossed == 0).all(axis=2).sum() >= 5


def test_compare_with_a_missing_kind(tmp_path):
    make_model_folder(tmp_path / "only-vae", kind="vae", latent_dim=D, n_points=40)
    make_model_folder(tmp_path / "only-ae", kind="ae", latent_dim=D, n_points=40, seed=1)
    res = extras.compare_models(ModelRegistry.discover(tmp_path), "synthetic", 0)
    assert res["missing"] == ["cvae"] and set(res["models"]) == {"ae", "vae"}


# ---------------------------------------------------------------------------------------------------------------
# Training dynamics

def test_training_history_and_figures(registry):
    hist = extras.training_history(registry, "fake-vae")
    assert [r["epoch"] for r in hist["epochs"]] == [1, 2, 3, 4, 5]
    assert hist["kl_per_dim"] == [1.5, 0.001, 2.0, 0.0]
    fig = extras.history_figure(hist)
    assert [t["name"] for t in fig["data"]] == ["train reconstruction", "test reconstruction", "train KL",
                                                "test KL"]
    assert fig["data"][2]["yaxis"] == "y2" and fig["data"][0]["y"][0] == 178
    bars = extras.kl_figure(hist)
    assert bars["data"][0]["y"] == [1.5, 0.001, 2.0, 0.0]
    colors = bars["data"][0]["marker"]["color"]
    assert colors[0] == colors[2] != colors[1] == colors[3]  # unused dimensions are grey
    note = extras.dynamics_note(hist)
    assert "2 of 4 latent dimensions" in note and "tug-of-war" in note
    json.dumps(fig), json.dumps(bars)


def test_an_ae_has_no_kl_to_plot(registry):
    hist = extras.training_history(registry, "fake-ae")
    assert [t["name"] for t in extras.history_figure(hist)["data"]] == ["train reconstruction",
                                                                        "test reconstruction"]
    assert extras.kl_figure(hist) is None and "no KL term" in extras.dynamics_note(hist)


@pytest.mark.parametrize("content, words", [
    (None, "has no history.json"),
    ("{ not json", "not valid JSON"),
    ('{"epochs": 3}', "no list of epochs"),
    ('[1, 2]', "no list of epochs"),
])
def test_broken_history_gets_a_clear_message(tmp_path, content, words):
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=2, n_points=10)
    if content is None:
        (folder / "history.json").unlink()
    else:
        (folder / "history.json").write_text(content)
    with pytest.raises(InputError, match=words):
        extras.training_history(ModelRegistry.discover(tmp_path), "m")


# ---------------------------------------------------------------------------------------------------------------
# Export: map CSV and generate_dataset

def test_export_map_csv(registry):
    path = extras.export_map_csv(registry, "fake-cvae")
    rows = list(csv.reader(open(path, newline="")))
    lmap = registry.get("fake-cvae").latent_map
    assert rows[0] == ["index", "label", "class_name", "pca_x", "pca_y", "tsne_x", "tsne_y"]
    assert len(rows) == lmap.n + 1
    i = 17
    r = rows[i + 1]
    assert int(r[0]) == i and int(r[1]) == lmap.labels[i] and r[2] == lmap.class_names[lmap.labels[i]]
    assert float(r[3]) == pytest.approx(float(lmap.coords["pca"][i, 0]), rel=1e-4, abs=1e-4)
    assert float(r[6]) == pytest.approx(float(lmap.coords["tsne"][i, 1]), rel=1e-4, abs=1e-4)


def test_generate_dataset(registry):
    calls = []
    res = extras.generate_dataset(registry, "fake-cvae", 3, seed=5, progress=lambda f, d: calls.append(f))
    assert res["n"] == 30 and calls[-1] == 1.0
    with np.load(res["npz"], allow_pickle=False) as f:
        imgs, labels, names = f["images"], f["labels"], f["class_names"]
    assert imgs.shape == (30, 28, 28) and imgs.dtype == np.uint8
    assert labels.tolist() == [c for c in range(10) for _ in range(3)]
    assert names.tolist() == registry.get("fake-cvae").model.class_names
    # each image is the decoder's image of a prior sample as its class
    model = registry.get("fake-cvae").model
    z = torch.randn(30, D, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = model.decode(z, torch.from_numpy(labels))[:, 0].numpy()
    assert np.abs(imgs.astype(int) - np.round(ref * 255)).max() <= 1
    sheet = np.asarray(Image.open(res["sheet"]))
    assert sheet.shape == (10 * 30 + 2, 3 * 30 + 2)  # one row per class, 3 samples each
    again = extras.generate_dataset(registry, "fake-cvae", 3, seed=5)
    with np.load(again["npz"]) as f:
        assert np.array_equal(f["images"], imgs)
    assert again["npz"] != res["npz"]  # every export is a fresh file


@pytest.mark.parametrize("per_class", [0, -1, 10**7, 2.5, "abc", None, True, float("nan"), [3]])
def test_generate_dataset_bad_per_class(registry, per_class):
    with pytest.raises(InputError, match="1 to 5,000|from 1 to 5,000"):
        extras.generate_dataset(registry, "fake-cvae", per_class)


@pytest.mark.parametrize("kind", ["vae", "ae"])
def test_generate_dataset_needs_a_conditional_model(registry, kind):
    with pytest.raises(InputError, match="conditional model .*fake-cvae"):
        extras.generate_dataset(registry, f"fake-{kind}", 10)


def test_old_exports_are_swept(registry, monkeypatch, tmp_path):
    monkeypatch.setattr(extras, "EXPORT_DIR", tmp_path / "exports")
    old = extras.export_map_csv(registry, "fake-vae")
    import os
    os.utime(old, (1, 1))  # made in 1970
    new = extras.export_map_csv(registry, "fake-vae")
    assert new.exists() and not old.exists() and not old.parent.exists()


# ---------------------------------------------------------------------------------------------------------------
# UMAP as a third projection

def with_umap(folder: Path) -> Path:
    with np.load(folder / "latent_map.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["umap"] = (arrays["tsne"] * 0.5 + 1).astype(np.float32)
    np.savez_compressed(folder / "latent_map.npz", **arrays)
    return folder


def test_umap_is_offered_only_where_the_map_has_it(tmp_path):
    with_umap(make_model_folder(tmp_path / "with", kind="vae", latent_dim=D, n_points=50))
    make_model_folder(tmp_path / "without", kind="vae", latent_dim=D, n_points=50)
    reg = ModelRegistry.discover(tmp_path)
    assert extras.projection_choices(reg.get("with")) == [("PCA", "pca"), ("t-SNE", "tsne"), ("UMAP", "umap")]
    assert extras.projection_choices(reg.get("without")) == [("PCA", "pca"), ("t-SNE", "tsne")]
    lmap = reg.get("with").latent_map
    fig = build_figure(lmap, "umap")
    assert fig["projection"] == "umap" and fig["layout"]["xaxis"]["title"]["text"] == "UMAP 1"
    m = marker_position(lmap, lmap.mu[9], "umap")
    assert m["index"] == 9 and m["x"] == pytest.approx(float(lmap.coords["umap"][9, 0]))
    rows = list(csv.reader(open(extras.export_map_csv(reg, "with"))))
    assert rows[0][-2:] == ["umap_x", "umap_y"]
    with pytest.raises(InputError, match="no UMAP coordinates"):
        build_figure(reg.get("without").latent_map, "umap")


def test_a_umap_array_of_the_wrong_shape_is_refused(tmp_path):
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=D, n_points=50)
    with np.load(folder / "latent_map.npz") as f:
        arrays = {k: f[k] for k in f.files}
    np.savez_compressed(folder / "latent_map.npz", **arrays, umap=np.zeros((49, 2), np.float32))
    from explorer.latent_map import MapLoadError
    with pytest.raises(MapLoadError, match="umap"):
        load_latent_map(folder / "latent_map.npz", D)


@pytest.mark.slow
def test_add_umap_keeps_every_other_array(tmp_path):
    """`python -m training add-umap`: UMAP from the stored means, no retraining, the rest unchanged."""
    pytest.importorskip("umap", reason="umap-learn is optional")
    from training.__main__ import main
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=D, n_points=80)
    with np.load(folder / "latent_map.npz") as f:
        before = {k: f[k] for k in f.files}
    assert main(["add-umap", str(folder)]) == 0
    with np.load(folder / "latent_map.npz") as f:
        after = {k: f[k] for k in f.files}
    assert set(after) == set(before) | {"umap"} and after["umap"].shape == (80, 2)
    assert np.isfinite(after["umap"]).all()
    for k, v in before.items():
        assert after[k].dtype == v.dtype and after[k].tobytes() == v.tobytes(), k
    mtime = (folder / "latent_map.npz").stat().st_mtime_ns
    assert main(["add-umap", str(folder)]) == 0  # already there: nothing rewritten
    assert (folder / "latent_map.npz").stat().st_mtime_ns == mtime
    assert main(["add-umap", str(tmp_path / "nowhere")]) == 2


# ---------------------------------------------------------------------------------------------------------------
# The sketchpad's stroke uploads are bounded

def test_sketchpad_blob_uploads_are_bounded(monkeypatch):
    import gradio as gr
    from fastapi import HTTPException

    from explorer import ui_extras

    with gr.Blocks():
        sketch = ui_extras.bound_blob_uploads(gr.Sketchpad())
    up = lambda i, t="composite", idx=None, size=10: sketch.accept_blobs(
        SimpleNamespace(data={"type": t, "index": idx, "id": f"d{i}"}, files=[("blob", b"x" * size)]))
    with pytest.raises(HTTPException, match="layers") as e:
        up(0, "layer", 10**9)
    assert e.value.status_code == 400  # a message for the caller, not gradio's bare 500
    assert sketch.blob_storage == {}
    monkeypatch.setattr(ui_extras, "MAX_PENDING_DRAWINGS", 3)
    for i in range(5):
        up(i)
    assert list(sketch.blob_storage) == ["d2", "d3", "d4"]  # the oldest were dropped
    monkeypatch.setattr(ui_extras, "MAX_PENDING_BYTES", 25)
    up(9, size=20)
    assert list(sketch.blob_storage) == ["d9"]


@pytest.mark.parametrize("fields, words", [
    ({"type": "nope", "index": "null", "id": "d"}, "unknown part of a drawing"),
    ({"type": "composite", "index": "null", "id": ""}, "id must be text"),
    ({"type": "composite", "index": "null", "id": "x" * 201}, "id must be text"),
    ({"type": "composite", "index": "null", "id": 5}, "id must be text"),
    ({"type": "composite", "index": "null"}, "malformed drawing upload"),
    ({"type": "layer", "index": "abc", "id": "d"}, "layer's index"),
    ({"type": "layer", "index": "-1", "id": "d"}, "layer's index"),
])
def test_sketchpad_blob_uploads_refuse_junk_with_a_message(fields, words):
    """Found by benchmarks/fuzz.py: gradio's accept_blobs answered these with a bare 500 (KeyError, ValueError)."""
    import gradio as gr
    from fastapi import HTTPException

    from explorer import ui_extras

    with gr.Blocks():
        sketch = ui_extras.bound_blob_uploads(gr.Sketchpad())
    with pytest.raises(HTTPException, match=words) as e:
        sketch.accept_blobs(SimpleNamespace(data=fields, files=[("blob", b"x")]))
    assert e.value.status_code == 400 and sketch.blob_storage == {}
    with pytest.raises(HTTPException, match="malformed"):  # no file
        sketch.accept_blobs(SimpleNamespace(data={"type": "composite", "index": "null", "id": "d"}, files=[]))
    # an index gradio cannot int() is dropped where the part has no index
    sketch.accept_blobs(SimpleNamespace(data={"type": "composite", "index": "1e400", "id": "d"}, files=[("b", b"x")]))
    assert sketch.blob_storage["d"].composite == b"x"


# ---------------------------------------------------------------------------------------------------------------
# The named API endpoints through gradio_client

@pytest.fixture(scope="module")
def served(assets):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    registry = ModelRegistry.discover(assets)
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False), registry


def test_api_encode_image(served, tmp_path):
    from gradio_client import handle_file
    client, registry = served
    f = tmp_path / "seven.png"
    f.write_bytes(png(digit()))
    prepared, recon, z, ranking = client.predict(model="fake-cvae", image=handle_file(str(f)),
                                                 api_name="/encode_image")
    assert np.asarray(Image.open(prepared).convert("L")).shape == (280, 280)
    assert np.asarray(Image.open(recon).convert("L")).shape == (280, 280)
    want, _ = extras.prepare_image(png(digit()))
    assert np.array_equal(np.asarray(Image.open(prepared).convert("L"))[::10, ::10], want)
    assert len(z) == D and [r["class_id"] for r in ranking] == \
        [r["class_id"] for r in extras.rank_classes(registry.get("fake-cvae").model, want)]


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("not an image"), "not an image"),
    (lambda p: p.write_bytes(png_header_only(10_000, 10_000)), "10,000 x 10,000"),
    (lambda p: p.write_bytes(png(Image.new("L", (50, 50), 255))), "looks blank"),
])
def test_api_encode_image_bad_files(served, tmp_path, make, words):
    from gradio_client import handle_file
    client, _ = served
    f = tmp_path / "bad.png"
    make(f)
    with pytest.raises(Exception) as e:
        client.predict(model="fake-vae", image=handle_file(str(f)), api_name="/encode_image")
    assert words in str(e.value) and "Traceback" not in str(e.value)
    assert client.predict(api_name="/list_models")


def test_api_encode_image_refuses_server_paths(served):
    import httpx
    client, _ = served
    for image in ("/etc/passwd", {"path": "/etc/hostname"}, {"path": str(REPO / "app.py")}):
        r = httpx.post(client.src.rstrip("/") + "/gradio_api/call/encode_image",
                       json={"data": ["fake-vae", image]}, timeout=30)
        assert r.status_code == 200, r.text
        stream = httpx.get(client.src.rstrip("/") + f"/gradio_api/call/encode_image/{r.json()['event_id']}",
                           timeout=30).text
        assert "event: error" in stream and "Traceback" not in stream, stream


def test_api_generate_dataset_csv_compare_history(served):
    client, _ = served
    npz, sheet, info = client.predict(model="fake-cvae", per_class=4, seed=1, api_name="/generate_dataset")
    with np.load(npz) as f:
        assert f["images"].shape == (40, 28, 28)
    assert info["n"] == 40 and np.asarray(Image.open(sheet)).shape[:2] == (302, 122)
    with pytest.raises(Exception, match="1 to 5,000"):
        client.predict(model="fake-cvae", per_class=0, seed=0, api_name="/generate_dataset")
    with pytest.raises(Exception, match="1 to 5,000"):
        client.predict(model="fake-cvae", per_class=10**7, seed=0, api_name="/generate_dataset")
    rows = list(csv.reader(open(client.predict(model="fake-vae", api_name="/export_map_csv"), newline="")))
    assert rows[0][:3] == ["index", "label", "class_name"] and len(rows) == 121
    *grids, summary = client.predict(dataset="synthetic", seed=2, api_name="/compare_models")
    assert len(grids) == 3 and all(np.asarray(Image.open(g)).shape[:2] == (302, 242) for g in grids)
    assert summary["missing"] == [] and summary["models"]["ae"]["name"] == "fake-ae"
    hist = client.predict(model="fake-vae", api_name="/training_history")
    assert len(hist["epochs"]) == 5 and hist["kl_per_dim"] == [1.5, 0.001, 2.0, 0.0]
