"""Colour and 32-pixel models in the explorer: backends return (N, H, W, 3), the modality renders colour PNGs at
about 280 px, sheets and strips stay colour, a map point shows its image, an upload is prepared as the model's
training images were (RGB, resized and centre-cropped), and the page's decoder description says 3 channels."""
import io

import numpy as np
import pytest
from PIL import Image

from explorer import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools import explore, interpolation, traversal
from explorer.tools.drawing import encode_image
from helpers import decode_uri


@pytest.fixture(scope="module")
def colour(tmp_path_factory):
    root = tmp_path_factory.mktemp("colour")
    make_model_folder(root / "shapes-vae", kind="vae", arch="conv", n_points=60, image_shape=(3, 32, 32))
    make_model_folder(root / "shapes-cvae", kind="cvae", arch="mlp", n_points=60, num_classes=3,
                      image_shape=(3, 32, 32))
    return ModelRegistry.discover(root)


def test_decoding_gives_colour_images_and_the_page_shows_them_in_colour(colour):
    loaded = colour.get("shapes-vae")
    assert loaded.backend.output_shape == (32, 32, 3) and loaded.modality.colour
    z = np.random.default_rng(0).standard_normal((2, loaded.latent_dim)).astype(np.float32)
    imgs = loaded.backend.decode(z)
    assert imgs.shape == (2, 32, 32, 3) and 0 <= imgs.min() and imgs.max() <= 1
    shown = decode_uri(loaded.modality.render(imgs[0]))
    assert shown.shape == (32 * 9, 32 * 9, 3)                     # about 280 px, every pixel a 9x9 block
    assert np.array_equal(shown[::9, ::9], (np.clip(imgs[0], 0, 1) * 255 + 0.5).astype(np.uint8))
    assert decode_uri(loaded.modality.blank).shape == (288, 288, 3)


def test_a_map_point_shows_its_colour_image_and_reconstruction(colour):
    loaded = colour.get("shapes-vae")
    sel = explore.select_point(loaded, 3)
    assert sel["original"].shape == (32, 32, 3) and sel["reconstruction"].shape == (32, 32, 3)
    assert np.array_equal(sel["original"], loaded.latent_map.images[3])


def test_strips_and_grids_stay_in_colour(colour):
    loaded = colour.get("shapes-cvae")
    res = interpolation.interpolate(loaded, 0, 1, steps=4)
    assert res["images"].shape == (4, 32, 32, 3)
    strip = interpolation.strip_image(res)
    assert strip.ndim == 3 and strip.shape[2] == 3
    grid = traversal.traverse(loaded, [0.0] * loaded.latent_dim, 0)
    assert grid["images"].shape[-1] == 3
    sheet = traversal.traversal_image(grid)
    assert sheet.ndim == 3 and sheet.shape[2] == 3


def test_an_upload_is_resized_and_centre_cropped_as_the_training_images_were(colour):
    photo = Image.new("RGB", (120, 60), (200, 30, 30))
    photo.paste((30, 30, 200), (50, 10, 70, 50))                   # a blue square in the middle of a red field
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    prepared, recon, z, ranking, info = encode_image(colour, "shapes-cvae", buf.getvalue())
    assert prepared.shape == (288, 288, 3) and recon.shape == (288, 288, 3)
    small = prepared[::9, ::9].astype(int)
    assert small[16, 16, 2] > 150 and small[16, 16, 0] < 80          # the centre kept: blue
    assert small[16, 2, 0] > 150                                    # the sides cropped to the red field's middle
    assert len(z) == colour.get("shapes-cvae").latent_dim and len(ranking) == 3
    prepared_m, notes = colour.get("shapes-cvae").modality.prepare(buf.getvalue())
    assert prepared_m.shape == (32, 32, 3) and any("centre-cropped to 32×32" in n for n in notes)


def test_the_page_decoder_description_has_three_channels(colour):
    from explorer.ui.browser_decode import page_decoder
    loaded = colour.get("shapes-vae")
    d = page_decoder("shapes-vae", loaded)
    assert "reason" not in d, d
    assert d["shape"] == [32, 32] and d["channels"] == 3
