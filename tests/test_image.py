"""explorer.modalities.image: how images are shown (crisp upscaling, PNG data URIs, rows)."""
from __future__ import annotations

import numpy as np

from explorer.modalities import image
from helpers import decode_uri


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


def test_image_row_lays_images_side_by_side():
    row = image.image_row(np.zeros((3, 28, 28)), scale=2, gap=4)
    assert row.shape == (56, 3 * 56 + 2 * 4)
    assert (row[:, 56:60] == 255).all()
