"""A backend is added by registering it, not by editing the tabs: a fake generator-only model (a prior, no encoder)
in a tiny folder builds the page, decodes its sliders, and the tabs that need an encoder say why they are off.

docs/adding-a-model.md walks through this file.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from explorer import ModelRegistry
from explorer.backends import BACKENDS, BackendSpec, Capabilities, reason, register_backend
from explorer.tools import explore

KIND = "toy-generator"
D, SHAPE = 3, (28, 28)


class ToyGenerator:
    """A generator without an encoder: z (N, 3) -> sigmoid(z @ W) as 28 x 28 images. numpy only."""
    capabilities = Capabilities(prior=True)  # encode=False: no encoder, like a GAN
    latent_dim, num_classes, class_names, output_shape = D, 0, ["blob", "ring"], SHAPE

    def __init__(self, weights: np.ndarray):
        self.w = weights  # (D, 784)

    @classmethod
    def load(cls, folder):
        return cls(np.load(folder / "weights.npy"))

    def decode(self, zs, labels=None):
        x = 1 / (1 + np.exp(-(np.asarray(zs, np.float32) @ self.w)))
        return x.reshape(-1, *SHAPE).astype(np.float32)

    def sample(self, n, seed):
        return np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)


@pytest.fixture
def toy_kind():
    """Register the toy backend for one test, then take it out of the table again."""
    spec = register_backend(BackendSpec(KIND, "toy generator", ToyGenerator.capabilities, ToyGenerator.load))
    yield spec
    BACKENDS.pop(("image", KIND))


def make_toy_folder(folder, n=60, seed=0):
    """config.json (its kind picks the backend), the weights, and a latent map of the generator's own samples:
    a model without an encoder maps the codes it drew, with the images they decode to."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((D, SHAPE[0] * SHAPE[1])).astype(np.float32)
    np.save(folder / "weights.npy", w)
    (folder / "config.json").write_text(json.dumps({"model": {"kind": KIND, "latent_dim": D, "arch": "linear",
                                                              "class_names": ["blob", "ring"]},
                                                    "data": {"dataset": "toy"}}))
    gen = ToyGenerator(w)
    mu = gen.sample(n, seed)
    images = (gen.decode(mu) * 255).astype(np.uint8)
    mean = mu.mean(0)
    comps = np.linalg.svd(mu - mean, full_matrices=False)[2][:2].astype(np.float32)
    labels = (mu[:, 0] > 0).astype(np.int64)
    np.savez(folder / "latent_map.npz", mu=mu, labels=labels, images=images, pca=(mu - mean) @ comps.T,
             tsne=rng.standard_normal((n, 2)).astype(np.float32), pca_mean=mean, pca_components=comps)
    return folder


def test_capabilities_come_from_the_kind_table_without_loading(toy_kind, tmp_path):
    reg = ModelRegistry([make_toy_folder(tmp_path / "toy")])
    info = reg.info("toy")
    assert info.capabilities == Capabilities(prior=True) and info.kind_label == "toy generator"
    assert reason(info.capabilities, "encode") == "This model has no encoder, so it cannot turn a picture into a code."
    assert reason(info.capabilities, "prior") is None
    assert ModelRegistry.discover(tmp_path / "nothing-here", [tmp_path / "toy"]).default == "toy"


def test_a_generator_decodes_samples_and_refuses_to_encode(toy_kind, tmp_path):
    reg = ModelRegistry([make_toy_folder(tmp_path / "toy")])
    loaded = reg.get("toy")
    z = [0.5, -1.0, 2.0]
    view = explore.decoded_view(loaded, z, None, "pca")
    np.testing.assert_allclose(view["output"], loaded.backend.decode(np.float32([z]))[0])
    assert view["row"] == [] and view["marker"]["x"] is not None
    sampled, how = explore.random_z(loaded, 7)
    assert "prior" in how and sampled == explore.slider_values(loaded, loaded.backend.sample(1, 7)[0])
    with pytest.raises(explore.InputError, match="no encoder"):
        explore.select_point(loaded, 3)


def test_the_page_builds_and_the_encoder_tab_says_why_it_is_off(toy_kind, tmp_path):
    from explorer.ui import build_demo

    reg = ModelRegistry([make_toy_folder(tmp_path / "toy")])
    demo = build_demo(reg)
    fns = {f.name: f.fn for f in demo.fns.values()}
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}

    page = fns["on_model"]("toy", "pca")  # what the page shows when it opens
    assert page[by_id["z-2"]]["visible"] is True and page[by_id["z-3"]]["visible"] is False
    assert "no encoder" in page[by_id["map-note"]]
    assert by_id["class-picker"] in page and page[by_id["class-picker"]]["visible"] is False

    image, row, marker = fns["on_slide"]("toy", None, "pca", 0.5, -1.0, 2.0, *[0.0] * 29)
    assert image.startswith("data:image/png;base64,") and marker["marker"]["x"] is not None

    tools = fns["on_model_tools"]("toy")
    assert tools[by_id["draw-off"]]["visible"] is True and "no encoder" in tools[by_id["draw-off"]]["value"]
    assert tools[by_id["draw-controls"]]["visible"] is False
    # The default model has no encoder, so the drawing tab shows its reason from the start.
    assert by_id["draw-off"].visible is True and by_id["draw-controls"].visible is False


def test_a_model_with_an_encoder_shows_the_drawing_controls(tmp_path):
    from explorer.testing import make_model_folder
    from explorer.ui import build_demo

    demo = build_demo(ModelRegistry([make_model_folder(tmp_path / "vae", kind="vae")]))
    fns = {f.name: f.fn for f in demo.fns.values()}
    by_id = {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}
    tools = fns["on_model_tools"]("vae")
    assert tools[by_id["draw-off"]]["visible"] is False and tools[by_id["draw-controls"]]["visible"] is True
    assert by_id["draw-off"].visible is False and by_id["draw-controls"].visible is True


def test_the_kind_table_says_what_the_loaded_autoencoders_can_do(registry):
    for name in registry.names():  # what the page shows before loading is what the loaded model has
        assert registry.get(name).capabilities == registry.info(name).capabilities, name


def test_an_unknown_kind_is_refused_with_the_fix(tmp_path):
    folder = tmp_path / "mystery"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model": {"kind": "diffusion", "latent_dim": 4}}))
    reg = ModelRegistry([folder])
    assert reg.info("mystery").capabilities == Capabilities()
    with pytest.raises(explore.InputError, match="register_backend"):
        reg.get("mystery")
