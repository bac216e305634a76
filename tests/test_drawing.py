"""Your own drawing (explorer.tools.drawing): reading an upload or the sketchpad's payload, encoding the prepared
picture and the CVAE's ranking of classes, through the plain functions and the /encode_image endpoint (gradio_client
against the app on localhost). The preparation itself is tested in test_image.py (explorer.modalities.image).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path; one test also checks the
"classifier for free" on the shipped mnist-cvae when assets/ has it.
"""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.modalities.image import prepare_image
from explorer.registry import ModelRegistry
from explorer.tools import drawing, explore
from explorer.validation import InputError
from helpers import FAKE_LATENT_DIM, digit, png, png_header_only

D = FAKE_LATENT_DIM  # conftest's assets
REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------------------
# Raw values from gradio (uploads, the sketchpad's payload)

def test_image_from_payload(tmp_path):
    root = tmp_path / "uploads"
    root.mkdir()
    f = root / "x.png"
    f.write_bytes(png(digit()))
    assert drawing.image_from_payload({"path": str(f), "meta": {"_type": "gradio.FileData"}}, upload_root=root) == f
    sketch = {"background": None, "layers": [{"path": str(f)}], "composite": None}
    assert drawing.image_from_payload(sketch, "drawing", upload_root=root) == f
    blobs = {"abc": SimpleNamespace(composite=b"PNG...", layers=[], background=None)}
    assert drawing.image_from_payload({"id": "abc"}, "drawing", blobs=blobs) == b"PNG..."
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
        drawing.image_from_payload(payload, upload_root=tmp_path, blobs={})


def test_empty_sketch_payload_says_draw_first(tmp_path):
    with pytest.raises(InputError, match="draw something first"):
        drawing.image_from_payload(None, "drawing", upload_root=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# Encoding: reconstruction, z, and the CVAE's ranking of classes

@pytest.mark.parametrize("kind", ["ae", "vae", "cvae"])
def test_encode_prepared(registry, kind):
    loaded = registry.get(f"fake-{kind}")
    img, _ = prepare_image(digit())
    out = drawing.encode_prepared(loaded, img)
    assert len(out["z"]) == D and out["reconstruction"].shape == (28, 28)
    assert all(abs(v) <= r for v, r in zip(out["z"], loaded.slider_range))
    if kind == "cvae":
        assert out["label"] == out["ranking"][0]["class_id"] and len(out["ranking"]) == 10
    else:
        assert out["label"] is None and out["ranking"] == []
    # the reconstruction is the decoder's image of exactly the z the sliders get
    np.testing.assert_allclose(out["reconstruction"], explore.decode(loaded, out["z"], out["label"]), atol=1e-6)


def test_rank_classes_is_the_per_class_elbo(registry):
    loaded = registry.get("fake-cvae")
    model = loaded.backend.model
    img, _ = prepare_image(digit())
    ranking = drawing.rank_classes(loaded, img)
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
        img, _ = prepare_image(png(big))
        hits += drawing.encode_prepared(loaded, img)["label"] == lm.labels[i]
    assert hits / 60 >= 0.85, hits


def test_encode_image_api_function(registry, tmp_path):
    f = tmp_path / "seven.png"
    f.write_bytes(png(digit()))
    prepared, recon, z, ranking, info = drawing.encode_image(registry, "fake-cvae", {"path": str(f)},
                                                             upload_root=tmp_path)
    assert prepared.shape == recon.shape == (280, 280) and len(z) == D and len(ranking) == 10
    assert info["source"] == "encoder" and info["label"] == ranking[0]["class_id"] and info["bce"] > 0
    with pytest.raises(InputError, match="unknown model"):
        drawing.encode_image(registry, "nope", {"path": str(f)}, upload_root=tmp_path)


# ---------------------------------------------------------------------------------------------------------------
# The /encode_image endpoint through gradio_client

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
    prepared, recon, z, ranking, info = client.predict(model="fake-cvae", image=handle_file(str(f)),
                                                       api_name="/encode_image")
    assert info["source"] == "encoder"
    assert np.asarray(Image.open(prepared).convert("L")).shape == (280, 280)
    assert np.asarray(Image.open(recon).convert("L")).shape == (280, 280)
    want, _ = prepare_image(png(digit()))
    assert np.array_equal(np.asarray(Image.open(prepared).convert("L"))[::10, ::10], want)
    assert len(z) == D and [r["class_id"] for r in ranking] == \
        [r["class_id"] for r in drawing.rank_classes(registry.get("fake-cvae"), want)]


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
