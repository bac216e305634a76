"""Attribute arithmetic (explorer.tools.arithmetic): z moved along the difference of two classes' mean codes, through
the plain functions, the /move_towards endpoint (gradio_client against the app on localhost) and the tab's own
events (explorer.ui.tabs.arithmetic).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import numpy as np
import pytest
from helpers import FAKE_LATENT_DIM, HUGE, Z32, api_refuses, event_refuses, read_png

from explorer.modalities.image import to_display_image
from explorer.tools import arithmetic, explore
from explorer.validation import InputError

D = FAKE_LATENT_DIM  # conftest's registry


def test_move_towards_adds_the_difference_of_class_means(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    means = arithmetic.class_means(loaded)
    np.testing.assert_allclose(means[3], lmap.mu[lmap.labels == 3].mean(0), atol=1e-6)
    z = [0.2, -0.1, 0.4, 0.0]
    res = arithmetic.move_towards(loaded, z, 3, 8, 0.5)
    assert res["z"] == explore.slider_values(loaded, np.asarray(z) + 0.5 * (means[8] - means[3]))
    np.testing.assert_allclose(res["direction"], means[8] - means[3])
    assert res["images"].shape == (7, 28, 28) and res["strengths"][0] == 0 and res["strengths"][-1] == 0.5
    np.testing.assert_allclose(res["images"][0], explore.decode(loaded, z), atol=1e-5)
    np.testing.assert_allclose(res["images"][-1], explore.decode(loaded, res["z"]), atol=1e-5)
    assert "8s" in res["note"] and "3s" in res["note"]
    assert arithmetic.move_towards(registry.get("fake-ae"), z, 1, 2, 1.0)["z"] != explore.slider_values(loaded, z)


@pytest.mark.parametrize("args, words", [
    ((3, 3, 1.0), "two different classes"),
    ((3, 10, 1.0), "from 0 to 9"),
    ((-1, 3, 1.0), "from 0 to 9"),
    ((3, 8, 7.0), "from -3 to 3"),
    ((3, 8, "strong"), "from -3 to 3"),
])
def test_move_towards_bad_input(registry, args, words):
    with pytest.raises(InputError) as e:
        arithmetic.move_towards(registry.get("fake-vae"), [0.0] * D, *args)
    assert words in str(e.value)


def test_move_towards_on_a_cvae_points_to_the_class_picker(registry):
    with pytest.raises(InputError, match="class picker"):
        arithmetic.move_towards(registry.get("fake-cvae"), [0.0] * D, 3, 8, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# The /move_towards endpoint, through gradio_client

def test_api_move_towards(served, registry):
    loaded = registry.get("fake-vae")
    image, z = served.predict(model="fake-vae", z=[0.0] * D, from_class=3, to_class=8, strength=1.0,
                              api_name="/move_towards")
    assert z == arithmetic.move_towards(loaded, [0.0] * D, 3, 8, 1.0)["z"]
    assert np.array_equal(read_png(image), to_display_image(explore.decode(loaded, z)))


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/move_towards", dict(model="fake-cvae", z=[0.0] * D, from_class=3, to_class=8), "class picker"),
    ("/move_towards", dict(model="nope", z=[0.0] * D, from_class=3, to_class=8), "unknown model"),
])
def test_api_bad_input_gets_a_clear_message(served, endpoint, kwargs, words):
    api_refuses(served, endpoint, kwargs, words)


# ---------------------------------------------------------------------------------------------------------------
# The tab's own events: anyone can call them by fn_index with any JSON (preprocess=False), so junk must come back
# as a clear message, never as the "something went wrong" of an unexpected exception.

@pytest.mark.parametrize("name, args, words", [
    ("on_arith_preview", ("fake-vae", "3", 8, 1.0, *Z32), "class id"),
    ("on_arith_preview", ("fake-vae", 3, 8, float("nan"), *Z32), "strength"),
    ("on_arith_apply", ("fake-vae", -1, "pca", 3, 3, 1.0, *Z32), "two different classes"),
    ("on_arith_apply", ("fake-vae", -1, HUGE, 3, 8, 1.0, *Z32), "unknown projection"),
    ("on_arith_apply", ("fake-cvae", 0, "pca", 3, 8, 1.0, *Z32), "class picker"),
])
def test_tab_events_answer_junk_with_a_clear_message(demo, name, args, words):
    event_refuses(demo, name, args, words)
