"""A GAN in the explorer, on the synthetic folders of explorer.testing (fake-gan, fake-cgan beside fake-ae, fake-vae and
fake-cvae, all of one "synthetic" dataset): its backend and capabilities, the main view (sliders, the map of inverted
codes, a click showing G(z*) beside the same-dataset VAE's reconstruction), the tools on the inverted codes, the API
through gradio_client, and a folder whose config lacks the generator's sizes.

The synthetic GAN's map stores random codes with the images its generator makes of them, so every stored code is an
exact inversion of its image: G(z*) of a clicked point equals the test image up to uint8 rounding.
"""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from explorer import ModelRegistry
from explorer.backends import Capabilities, backend_spec, reason
from explorer.testing import make_assets, make_model_folder
from explorer.tools import arithmetic, drawing, explore, export, interpolation, neighbours
from explorer.validation import InputError
from helpers import Z32, decode_uri, digit, event, png, read_png

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_assets(tmp_path_factory.mktemp("gan") / "assets", latent_dim=D, n_points=120, gan=True)


@pytest.fixture(scope="module")
def registry(assets):
    return ModelRegistry.discover(assets)


@pytest.fixture(scope="module")
def demo(registry):
    from explorer.ui import build_demo
    return build_demo(registry)


def by_id(demo) -> dict:
    return {b.elem_id: b for b in demo.blocks.values() if getattr(b, "elem_id", None)}


# ---------------------------------------------------------------------------------------------------------------
# The kind table and the backend

def test_kinds_say_what_a_gan_can_do_before_loading(registry):
    gan, cgan = registry.info("fake-gan"), registry.info("fake-cgan")
    assert gan.capabilities == Capabilities(encode=False, prior=True, conditional=False, kl=False, invert=True)
    assert cgan.capabilities == Capabilities(encode=False, prior=True, conditional=True, kl=False, invert=True)
    assert gan.kind_label == "generative adversarial network (GAN)"
    assert gan.capabilities.code_of_picture and not backend_spec("vae").capabilities.invert
    for name in ("fake-gan", "fake-cgan"):
        assert registry.get(name).capabilities == registry.info(name).capabilities
    assert reason(gan.capabilities, "encode") is not None and reason(gan.capabilities, "code_of_picture") is None
    assert reason(Capabilities(prior=True), "code_of_picture").startswith("This model has no encoder and cannot be")


def test_backend_decodes_samples_and_inverts_but_offers_no_encoder(registry):
    loaded = registry.get("fake-gan")
    b = loaded.backend
    assert not hasattr(b, "encode_mean") and not hasattr(b, "encode")
    assert b.latent_dim == D and b.num_classes == 0 and b.output_shape == (28, 28)
    np.testing.assert_array_equal(b.sample(3, 5), b.sample(3, 5))
    lm = loaded.latent_map
    imgs = b.decode(lm.mu[:6])
    assert imgs.shape == (6, 28, 28) and imgs.dtype == np.float32
    assert np.abs(imgs * 255 - lm.images[:6]).max() <= 0.51  # the map's images are G of its codes
    assert imgs.std(axis=0).mean() > 0.05                     # codes give visibly different images
    x = lm.images[:2].astype(np.float32) / 255
    z, bce = b.invert(x)
    assert z.shape == (2, D) and z.dtype == np.float32 and bce.shape == (2,)
    # The search beats the code at the origin, and decode(z) scores what it reports.
    zero = np.array([explore.bce_nats(x[i], b.decode(np.zeros((1, D), np.float32))[0]) for i in range(2)])
    assert (bce < zero).all()
    np.testing.assert_allclose(bce, [explore.bce_nats(x[i], b.decode(z[i:i + 1])[0]) for i in range(2)], rtol=1e-3)
    z2, _ = b.invert(x)
    np.testing.assert_array_equal(z, z2)  # deterministic


def test_cgan_backend_inverts_as_a_class_and_generates_labelled_data(registry):
    b = registry.get("fake-cgan").backend
    lm = registry.get("fake-cgan").latent_map
    x = lm.images[:1].astype(np.float32) / 255
    z, bce = b.invert(x, int(lm.labels[0]))
    assert z.shape == (1, D) and np.isfinite(bce).all()
    out = b.generate(np.array([0, 0, 1, 1]), seed=3, batch=3)
    assert out.shape == (4, 28, 28) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, b.generate(np.array([0, 0, 1, 1]), seed=3, batch=2))


def test_a_gan_config_without_the_generator_sizes_is_listed_with_its_error(assets, tmp_path):
    broken = tmp_path / "no-shapes-gan"
    shutil.copytree(assets / "fake-gan", broken)
    cfg = json.loads((broken / "config.json").read_text())
    for key in ("conv_channels", "conv_hidden"):
        del cfg["model"][key]
    (broken / "config.json").write_text(json.dumps(cfg))
    reg = ModelRegistry.discover(assets, [broken])
    listed = {m["name"]: m for m in reg.describe()}
    error = listed["no-shapes-gan"]["error"]
    assert "conv_channels, conv_hidden" in error and "config.json" in error and "\n" not in error
    assert reg.default != "no-shapes-gan" and "no-shapes-gan" not in reg.warm_order()
    with pytest.raises(InputError, match="conv_channels"):
        reg.get("no-shapes-gan")
    assert reg.get("fake-gan").latent_dim == D  # the others still load
    assert "cannot be loaded" in explore.describe_model(reg.info("no-shapes-gan"))


def test_the_in_page_decoder_exports_for_a_gan(assets, tmp_path):
    pytest.importorskip("onnx")
    folder = tmp_path / "gan-onnx"
    shutil.copytree(assets / "fake-gan", folder)
    from explorer.backends.browser_decoder import browser_decoder
    got = browser_decoder(folder, D, 0, (28, 28))
    assert "reason" not in got, got
    assert got["latent_dim"] == D and (folder / "decoder.onnx").is_file()


# ---------------------------------------------------------------------------------------------------------------
# The main view's tools

def test_select_point_shows_the_stored_inverted_code_and_g_of_it(registry):
    loaded = registry.get("fake-gan")
    sel = explore.select_point(loaded, 9)
    lm = loaded.latent_map
    assert sel["source"] == "inversion" and sel["index"] == 9
    assert sel["z"] == explore.slider_values(loaded, lm.mu[9])
    np.testing.assert_allclose(sel["reconstruction"], explore.decode(loaded, sel["z"]), atol=1e-6)
    np.testing.assert_array_equal(sel["original"], lm.images[9])
    assert sel["bce"] == pytest.approx(explore.bce_nats(lm.images[9], sel["reconstruction"]))
    # A VAE model's click encodes anew and says so.
    assert explore.select_point(registry.get("fake-vae"), 9)["source"] == "encoder"


def test_a_click_on_a_gan_map_compares_with_the_same_dataset_vae(registry, tmp_path):
    loaded = registry.get("fake-gan")
    assert explore.companion_vae(registry, loaded) == "fake-vae"
    assert explore.companion_vae(registry, registry.get("fake-vae")) is None  # a VAE needs no companion
    sel = explore.select_point(loaded, 4)
    vae = explore.compare_reconstruction(registry, loaded, sel)
    recon, _ = explore.reconstruct(registry.get("fake-vae"), sel["original"])
    np.testing.assert_allclose(vae["reconstruction"], recon, atol=1e-6)
    assert vae["model"] == "fake-vae" and vae["bce"] == pytest.approx(explore.bce_nats(sel["original"], recon))
    assert "fake-vae" in vae["caption"] and "G(z*)" in vae["caption"]
    # Alone in its registry (or with a VAE of another dataset), a GAN has no companion.
    alone = ModelRegistry([registry.info("fake-gan").folder, registry.info("fake-cvae").folder])
    assert explore.compare_reconstruction(alone, alone.get("fake-gan"), sel) is None


def test_reconstruct_api_function_says_the_code_comes_from_inversion(registry):
    orig, recon, z, info = explore.reconstruct_point(registry, "fake-gan", 5)
    loaded = registry.get("fake-gan")
    assert orig.shape == recon.shape == (280, 280) and len(z) == D
    assert info["source"] == "inversion" and "inversion" in info["note"] and "not an encoder" in info["note"]
    np.testing.assert_allclose(z, explore.slider_values(loaded, loaded.latent_map.mu[5]), atol=1e-6)
    assert info["bce"] == pytest.approx(explore.bce_nats(loaded.latent_map.images[5],
                                                          explore.decode(loaded, z)), abs=0.01)


def test_interpolation_and_neighbours_work_on_the_inverted_codes(registry):
    loaded = registry.get("fake-gan")
    lm = loaded.latent_map
    res = interpolation.interpolate(loaded, 3, 11, steps=5)
    np.testing.assert_allclose(res["z"][0], lm.mu[3], atol=1e-6)
    np.testing.assert_allclose(res["z"][-1], lm.mu[11], atol=1e-6)
    np.testing.assert_allclose(res["images"][0] * 255, lm.images[3], atol=0.51)  # G(z*) of A is A's image
    found = neighbours.nearest_neighbours(loaded, lm.mu[17], k=3)
    assert found[0]["index"] == 17 and found[0]["distance"] == 0


def test_arithmetic_uses_class_means_of_the_inverted_codes(registry):
    loaded = registry.get("fake-gan")
    lm = loaded.latent_map
    res = arithmetic.move_towards(loaded, lm.mu[0], 1, 2, 1.0)
    want = lm.mu[lm.labels == 2].mean(0) - lm.mu[lm.labels == 1].mean(0)
    np.testing.assert_allclose(res["direction"], want, atol=1e-5)
    with pytest.raises(InputError, match="CGAN"):
        arithmetic.move_towards(registry.get("fake-cgan"), lm.mu[0], 1, 2, 1.0)


def test_drawing_inverts_the_picture_into_the_sliders(registry):
    loaded = registry.get("fake-gan")
    img, _ = loaded.modality.prepare(png(digit()))
    out = drawing.encode_prepared(loaded, img)
    assert out["source"] == "inversion" and out["label"] is None and len(out["z"]) == D
    np.testing.assert_allclose(out["reconstruction"], explore.decode(loaded, out["z"]), atol=1e-6)
    zero_bce = explore.bce_nats(img, explore.decode(loaded, [0.0] * D))
    assert out["bce"] < zero_bce
    assert "GAN inversion" in drawing.code_note(out, "drawing")
    cg = drawing.encode_prepared(registry.get("fake-cgan"), img, 3)
    assert cg["label"] == 3 and cg["source"] == "inversion" and cg["ranking"] == []


def test_encode_image_api_function_on_a_gan(registry, tmp_path):
    f = tmp_path / "seven.png"
    f.write_bytes(png(digit()))
    prepared, recon, z, ranking, info = drawing.encode_image(registry, "fake-gan", {"path": str(f)},
                                                             upload_root=tmp_path)
    assert prepared.shape == recon.shape == (280, 280) and len(z) == D and ranking == []
    assert info["source"] == "inversion" and "not an encoder" in info["note"] and info["bce"] > 0


def test_generate_dataset_needs_a_cgan(registry):
    res = export.generate_dataset(registry, "fake-cgan", 3, seed=1)
    with np.load(res["npz"]) as f:
        assert f["images"].shape == (30, 28, 28) and f["labels"].tolist() == np.repeat(np.arange(10), 3).tolist()
    with pytest.raises(InputError) as e:
        export.generate_dataset(registry, "fake-gan", 3)
    msg = str(e.value)
    assert "needs a conditional GAN (cgan)" in msg and "fake-cgan" in msg and "\n" not in msg


# ---------------------------------------------------------------------------------------------------------------
# The page's events

def test_the_page_opens_on_a_gan_with_its_map_note_and_the_vae_image(demo):
    ids = by_id(demo)
    page = event(demo, "on_model")("fake-gan", "pca")
    assert "optimiser" in page[ids["map-note"]] and "not by an encoder" in page[ids["map-note"]]
    assert page[ids["selected-vae"]]["visible"] is True and "fake-vae" in page[ids["selected-vae"]]["caption"]
    assert page[ids["z-3"]]["visible"] is True and page[ids["z-4"]]["visible"] is False
    vae_page = event(demo, "on_model")("fake-vae", "pca")
    assert vae_page[ids["selected-vae"]]["visible"] is False and "optimiser" not in vae_page[ids["map-note"]]
    assert page[ids["projection-picker"]]["info"] == "All precomputed from the test images' inverted codes."
    assert "generator, no encoder" in page[ids["model-info"]] and "encoder and decoder" not in page[ids["model-info"]]
    tools = event(demo, "on_model_tools")("fake-gan")
    assert tools[ids["draw-off"]]["visible"] is False and tools[ids["draw-controls"]]["visible"] is True


def test_sliders_random_and_reset_decode_with_the_generator(demo, registry):
    loaded = registry.get("fake-gan")
    z = [0.5, -1.0, 2.0, 0.25]
    image, _, marker = event(demo, "on_slide")("fake-gan", None, "pca", *z, *Z32[D:])
    want = loaded.modality.array(explore.decode(loaded, z))
    np.testing.assert_array_equal(decode_uri(image)[::10, ::10], want[::10, ::10])
    out = event(demo, "on_random")("fake-gan", None, "pca", 7)
    assert "prior N(0, I)" in out[3]
    reset = event(demo, "on_reset")("fake-gan", None, "pca")
    np.testing.assert_array_equal(decode_uri(reset[0]), decode_uri(event(demo, "on_slide")("fake-gan", None, "pca",
                                                                                           *Z32)[0]))


def test_a_map_click_on_a_gan_shows_g_of_z_star_and_the_vae(demo, registry):
    import gradio as gr
    ids = by_id(demo)
    loaded = registry.get("fake-gan")
    evt = gr.EventData(None, {"index": 6, "value": None})
    orig, recon, vae, note, label, status, *rest = event(demo, "on_select")("fake-gan", None, "pca", evt)
    assert "G(z*)" in recon["caption"] and "nats" in recon["caption"]
    np.testing.assert_array_equal(decode_uri(orig["value"])[::10, ::10], loaded.latent_map.images[6])
    assert vae["visible"] is True and "fake-vae" in vae["caption"]
    vae_want = explore.compare_reconstruction(registry, loaded, explore.select_point(loaded, 6))["reconstruction"]
    np.testing.assert_array_equal(decode_uri(vae["value"])[::10, ::10],
                                  loaded.modality.array(vae_want)[::10, ::10])
    assert "optimiser" in note and "inverted code z*" in status
    sliders = rest[-32:]
    assert sliders[:D] == explore.slider_values(loaded, loaded.latent_map.mu[6])
    assert ids["selected-vae"].visible is False  # hidden until a GAN is shown


def test_the_warm_up_inverts_once_for_each_gan(registry):
    from explorer.ui import api
    plan = dict(api.warm_plan(registry))
    assert {"encode_image fake-gan", "encode_image fake-cgan", "reconstruct fake-gan", "move_towards fake-gan",
            "generate_dataset fake-cgan"} <= set(plan)
    assert "generate_dataset fake-gan" not in plan
    *_, info = plan["encode_image fake-gan"]()  # the step runs the endpoint: one inversion
    assert info["source"] == "inversion"


# ---------------------------------------------------------------------------------------------------------------
# The named API through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as app:
        yield Client(app.local_url, verbose=False)


def test_api_decode_reconstruct_and_encode_image_on_a_gan(served, registry, tmp_path):
    from gradio_client import handle_file
    client = served
    z = [0.5, -1.0, 2.0, 0.25]
    img = read_png(client.predict(model="fake-gan", z=z, label=-1, api_name="/decode"))
    np.testing.assert_array_equal(img, explore.decode_image(registry, "fake-gan", z, -1))
    orig, recon, z_star, info = client.predict(model="fake-gan", index=7, api_name="/reconstruct")
    assert info["source"] == "inversion" and "GAN inversion" in info["note"]
    np.testing.assert_array_equal(read_png(orig)[::10, ::10], registry.get("fake-gan").latent_map.images[7])
    f = tmp_path / "seven.png"
    f.write_bytes(png(digit()))
    prepared, recon, z_pic, ranking, info = client.predict(model="fake-cgan", image=handle_file(str(f)),
                                                           api_name="/encode_image")
    assert info["source"] == "inversion" and info["label"] == 0 and len(z_pic) == D and ranking == []
    assert read_png(recon).shape == (280, 280)


def test_api_generate_dataset_on_a_gan_says_it_needs_a_cgan(served):
    from helpers import api_refuses
    api_refuses(served, "/generate_dataset", dict(model="fake-gan", per_class=2, seed=0), "needs a conditional GAN")
    npz, sheet, summary = served.predict(model="fake-cgan", per_class=2, seed=0, api_name="/generate_dataset")
    assert summary["n"] == 20 and np.asarray(Image.open(sheet)).ndim >= 2


def test_api_tools_on_a_gan(served, registry):
    client = served
    loaded = registry.get("fake-gan")
    strip, info = client.predict(model="fake-gan", index_a=0, index_b=1, steps=4, mode="slerp", class_mode="fixed",
                                 api_name="/interpolate")
    assert len(info["z"]) == 4
    _, found = client.predict(model="fake-gan", z=[float(v) for v in loaded.latent_map.mu[2]], k=2,
                              api_name="/neighbours")
    assert found[0]["index"] == 2
    _, moved = client.predict(model="fake-gan", z=[0.0] * D, from_class=1, to_class=2, strength=1.0,
                              api_name="/move_towards")
    assert len(moved) == D
