"""The named API endpoints through gradio_client, against the app served on localhost with tiny fake models.

Each bad input gets a clear message (no traceback) and the server keeps serving.
"""
from __future__ import annotations

import httpx
import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from explorer import ModelRegistry  # noqa: E402
from explorer.testing import make_assets, make_model_folder, serve  # noqa: E402
from explorer.tools import explore  # noqa: E402

D = 3


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("api")
    assets = make_assets(root / "assets", latent_dim=D, n_points=50)
    broken = make_model_folder(root / "broken-model", kind="vae", latent_dim=D, n_points=10)
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)  # truncated weights
    registry = ModelRegistry.discover(assets, [broken])
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False), registry


def still_serving(client):
    assert client.predict(api_name="/list_models")


def test_list_models(served):
    client, registry = served
    models = client.predict(api_name="/list_models")
    assert [m["name"] for m in models] == registry.names()
    cvae = next(m for m in models if m["name"] == "fake-cvae")
    assert cvae["kind"] == "cvae" and cvae["num_classes"] == 10 and cvae["latent_dim"] == D


def test_decode(served):
    client, registry = served
    z = [0.5, -1.0, 2.0]
    path = client.predict(model="fake-cvae", z=z, label=4, api_name="/decode")
    img = np.asarray(Image.open(path).convert("L"))
    assert img.shape == (280, 280)
    assert np.array_equal(img, explore.decode_image(registry, "fake-cvae", z, 4))
    other = np.asarray(Image.open(client.predict(model="fake-cvae", z=z, label=5, api_name="/decode")).convert("L"))
    assert not np.array_equal(img, other)
    path = client.predict(model="fake-vae", z=z, label=-1, api_name="/decode")
    assert np.asarray(Image.open(path)).shape[:2] == (280, 280)


def test_reconstruct(served):
    client, registry = served
    orig, recon, z, info = client.predict(model="fake-vae", index=7, api_name="/reconstruct")
    assert info["source"] == "encoder"
    loaded = registry.get("fake-vae")
    assert np.array_equal(np.asarray(Image.open(orig).convert("L"))[::10, ::10], loaded.latent_map.images[7])
    assert np.asarray(Image.open(recon)).shape[:2] == (280, 280)
    assert len(z) == D and np.allclose(z, loaded.latent_map.mu[7], atol=1e-4)


@pytest.mark.parametrize("kwargs, words", [
    (dict(model="no-such-model", z=[0.0] * D, label=-1), "unknown model"),
    (dict(model="fake-vae", z=[0.0] * (D + 1), label=-1), f"this model has {D} latent dimensions"),
    (dict(model="fake-vae", z=[0.0, "nan", 0.0], label=-1), "finite"),  # JSON has no NaN: sent as text
    (dict(model="fake-vae", z=[0.0, "-inf", 0.0], label=-1), "finite"),
    (dict(model="fake-vae", z="0, 0, 0", label=-1), "list of 3 numbers"),
    (dict(model="fake-cvae", z=[0.0] * D, label=10), "out of range"),
    (dict(model="fake-cvae", z=[0.0] * D, label=-1), "class id"),
    (dict(model="broken-model", z=[0.0] * D, label=-1), "safetensors"),
])
def test_decode_bad_input_gets_a_clear_message(served, kwargs, words):
    client, _ = served
    with pytest.raises(Exception) as e:
        client.predict(**kwargs, api_name="/decode")
    assert words in str(e.value) and "Traceback" not in str(e.value)
    still_serving(client)


@pytest.mark.parametrize("literal", ["NaN", "Infinity"])
def test_decode_nan_sent_as_raw_json(served, literal):
    """gradio_client refuses to send NaN, but a hand-written request can (Python's JSON accepts NaN)."""
    client, _ = served
    body = '{"data": ["fake-vae", [0.0, %s, 0.0], -1]}' % literal
    r = httpx.post(client.src.rstrip("/") + "/gradio_api/call/decode", content=body,
                   headers={"Content-Type": "application/json"}, timeout=30)
    assert r.status_code == 200, r.text
    stream = httpx.get(client.src.rstrip("/") + f"/gradio_api/call/decode/{r.json()['event_id']}", timeout=30).text
    assert "event: error" in stream and "finite" in stream and "Traceback" not in stream
    still_serving(client)


@pytest.mark.parametrize("index, words", [(50, "out of range"), (-1, "out of range")])
def test_reconstruct_bad_index(served, index, words):
    client, _ = served
    with pytest.raises(Exception) as e:
        client.predict(model="fake-ae", index=index, api_name="/reconstruct")
    assert words in str(e.value) and "Traceback" not in str(e.value)
    still_serving(client)


def test_endpoints_are_documented(served):
    client, registry = served
    info = client.view_api(print_info=False, return_format="dict")
    named = info["named_endpoints"]
    assert {"/decode", "/reconstruct", "/list_models"} <= set(named)
    assert [p["parameter_name"] for p in named["/decode"]["parameters"]] == ["model", "z", "label"]
    assert [p["parameter_name"] for p in named["/reconstruct"]["parameters"]] == ["model", "index"]
    defaults = {p["parameter_name"]: p["parameter_default"] for p in named["/decode"]["parameters"]}
    assert defaults == {"model": registry.default, "z": [0.0] * D, "label": -1}  # real values in the docs
    from explorer.ui.api import endpoints

    tools = set(endpoints(registry))  # explorer.ui.api's table of every named endpoint
    assert set(named) == {"/decode", "/reconstruct", "/list_models"} | {f"/{n}" for n in tools}  # UI events private
