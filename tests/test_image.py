"""explorer.modalities.image: how images are shown (crisp upscaling, PNG data URIs, rows) and how a person's picture
is prepared the way MNIST was made (invert, crop, scale to 20 px, centre by mass in 28 x 28), with a clear message
for anything that is not a usable picture."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.modalities import image
from explorer.validation import InputError
from helpers import decode_uri, digit, png, png_header_only


def test_to_display_image_is_crisp_nearest_neighbour():
    a = np.zeros((28, 28), np.float32)
    a[3, 5] = 1.0
    big = image.to_display_image(a)
    assert big.shape == (280, 280) and big.dtype == np.uint8
    assert (big[30:40, 50:60] == 255).all()  # one source pixel -> one 10x10 block, no blur
    assert big.sum() == 255 * 100
    assert np.array_equal(image.to_display_image(np.full((28, 28), 128, np.uint8), 2), np.full((56, 56), 128))


def test_to_uint8_clips_and_rounds():
    out = image.to_uint8(np.array([[-0.5, 0.0, 0.5, 1.0, 2.0]]))
    assert out.tolist() == [[0, 0, 128, 255, 255]]


def test_png_data_uri_round_trips():
    a = (np.arange(28 * 28) % 256).astype(np.uint8).reshape(28, 28)
    assert np.array_equal(decode_uri(image.png_data_uri(a)), a)


# ---------------------------------------------------------------------------------------------------------------
# A person's picture, prepared the way MNIST was made (prepare_image)

def test_prepare_inverts_crops_scales_to_20_px_and_centres_by_mass():
    out, notes = image.prepare_image(png(digit()))
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
    a, notes = image.prepare_image(png(digit(dark_on_light=False)))
    assert not any("inverted" in n for n in notes)
    b, _ = image.prepare_image(png(digit(dark_on_light=True)))
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 3


def test_prepare_keeps_aspect_ratio():
    im = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(im).rectangle((140, 50, 160, 250), fill=255)  # a 21 x 201 bar: a "1"
    out, _ = image.prepare_image(im)
    ink = np.argwhere(out > 25)
    h, w = ink.max(axis=0) - ink.min(axis=0) + 1
    assert h == 20 and w <= 4


@pytest.mark.parametrize("ink", [(0, 0, 0), (255, 255, 255)])
def test_rgba_strokes_on_a_transparent_canvas(ink):
    """The sketchpad's strokes (black on transparent), and white strokes on transparent, both come out as ink."""
    ref, _ = image.prepare_image(digit(dark_on_light=False))
    g = np.asarray(digit(dark_on_light=False))
    rgba = np.zeros((*g.shape, 4), np.uint8)
    rgba[..., :3] = ink
    rgba[..., 3] = g  # alpha is the stroke
    out, notes = image.prepare_image(Image.fromarray(rgba, "RGBA"))
    assert any("transparent" in n for n in notes)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < 3


def test_16_bit_images_are_scaled_from_their_full_range():
    g8 = np.asarray(digit(dark_on_light=False)).astype(np.uint16)
    ref, _ = image.prepare_image(Image.fromarray(g8.astype(np.uint8)))
    for im in (Image.fromarray(g8 * 257),                       # I;16
               Image.fromarray((g8 * 257).astype(np.int32))):   # I (32-bit) holding 16-bit values
        out, notes = image.prepare_image(png(im) if im.mode != "I" else im)  # Pillow 13 cannot save I as PNG
        assert any("16-bit" in n for n in notes), im.mode
        assert np.abs(out.astype(int) - ref.astype(int)).mean() < 2


@pytest.mark.parametrize("mode", ["P", "CMYK", "1", "RGB", "LA", "F"])
def test_other_modes_are_converted(mode):
    ref, _ = image.prepare_image(digit())
    im = digit().convert(mode) if mode != "F" else Image.fromarray(np.asarray(digit(), np.float32) / 255.0)
    src = im if mode in ("CMYK", "F") else png(im)
    out, _ = image.prepare_image(src)
    assert np.abs(out.astype(int) - ref.astype(int)).mean() < (20 if mode == "1" else 3)


def test_arrays_are_accepted():
    g = np.asarray(digit())
    for a in (g, g.astype(np.float32) / 255.0, np.stack([g] * 3, axis=2), g > 128):
        out, _ = image.prepare_image(a)
        assert out.shape == (28, 28) and out.max() > 200
    with pytest.raises(InputError, match="shape"):
        image.prepare_image(np.zeros((4, 4, 7), np.uint8))


@pytest.mark.parametrize("source, what, words", [
    (Image.new("L", (280, 280), 255), "drawing", "draw something first"),
    (Image.new("RGBA", (280, 280), (0, 0, 0, 0)), "drawing", "draw something first"),
    (Image.new("L", (1, 1), 0), "image", "looks blank"),
    (Image.new("L", (64, 64), 128), "image", "looks blank"),
])
def test_empty_pictures_get_a_clear_message(source, what, words):
    with pytest.raises(InputError, match=words):
        image.prepare_image(source, what)


@pytest.mark.parametrize("data, words", [
    (b"hello, I am not an image", "not an image"),
    (png(digit())[:60], "damaged"),                         # header fine, pixels cut off
    (png_header_only(10_000, 10_000), "10,000 x 10,000"),   # refused from the header, nothing decoded
    (png_header_only(20_000, 20_000), "too large|20,000"),  # PIL's own bomb check fires first
    (png_header_only(5000, 4000), "megapixels"),
])
def test_bad_files_get_a_clear_message(data, words):
    with pytest.raises(InputError, match=words):
        image.prepare_image(data)


def test_a_large_photo_is_shrunk_before_the_work():
    im = digit(size=(3000, 2000), stroke=160).convert("RGB")
    out, _ = image.prepare_image(png(im, compress_level=1))
    assert out.shape == (28, 28) and out.max() > 200
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)  # decoded at reduced scale (JPEG draft mode): the same picture comes out
    jpeg, _ = image.prepare_image(buf.getvalue())
    assert np.abs(jpeg.astype(int) - out.astype(int)).mean() < 4
