"""Nearest neighbours (explorer.tools.neighbours): the test images nearest to a code, through the plain function,
the /neighbours endpoint (gradio_client against the app on localhost) and the tab's own events
(explorer.ui.tabs.neighbours).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import numpy as np
import pytest
from helpers import FAKE_LATENT_DIM, api_refuses, event_refuses, read_png

from explorer.tools import neighbours
from explorer.ui.tabs.neighbours import neighbours_html
from explorer.validation import InputError

D = FAKE_LATENT_DIM  # conftest's registry


def test_nearest_neighbours_match_a_brute_force_search(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    found = neighbours.nearest_neighbours(loaded, lmap.mu[11])
    assert len(found) == 8 and found[0]["index"] == 11 and found[0]["distance"] == pytest.approx(0, abs=1e-4)
    want = np.argsort(np.linalg.norm(lmap.mu - lmap.mu[11], axis=1), kind="stable")[:8]
    assert [f["index"] for f in found] == [int(i) for i in want]
    assert all(f["class_name"] == lmap.class_names[f["label"]] for f in found)
    assert [f["distance"] for f in found] == sorted(f["distance"] for f in found)
    assert np.array_equal(found[3]["image"], lmap.images[found[3]["index"]])
    assert len(neighbours.nearest_neighbours(loaded, [0.0] * D, 3)) == 3
    assert neighbours_html(found).count("<figure>") == 8


@pytest.mark.parametrize("k", [0, 65, 2.5, "8", None, True])
def test_nearest_neighbours_bad_k(registry, k):
    with pytest.raises(InputError, match="from 1 to 64"):
        neighbours.nearest_neighbours(registry.get("fake-vae"), [0.0] * D, k)


# ---------------------------------------------------------------------------------------------------------------
# The /neighbours endpoint, through gradio_client

def test_api_neighbours(served, registry):
    loaded = registry.get("fake-vae")
    sheet, found = served.predict(model="fake-vae", z=loaded.latent_map.mu[7].tolist(), k=4, api_name="/neighbours")
    assert len(found) == 4 and found[0]["index"] == 7 and read_png(sheet).shape[1] > 4 * 28 * 4


@pytest.mark.parametrize("endpoint, kwargs, words", [
    ("/neighbours", dict(model="fake-vae", z=[0.0] * D, k=10**7), "from 1 to 64"),
])
def test_api_bad_input_gets_a_clear_message(served, endpoint, kwargs, words):
    api_refuses(served, endpoint, kwargs, words)


# ---------------------------------------------------------------------------------------------------------------
# The tab's own events: anyone can call them by fn_index with any JSON (preprocess=False), so junk must come back
# as a clear message, never as the "something went wrong" of an unexpected exception.

@pytest.mark.parametrize("name, args, words", [
    ("on_neighbours", ("fake-vae", *([{"a": 1}] * 32)), "numbers"),
    ("on_neighbours_random", ("fake-vae", -5), "seed"),
    ("on_neighbours_reset", ({"no": "model"},), "unknown model"),
])
def test_tab_events_answer_junk_with_a_clear_message(demo, name, args, words):
    event_refuses(demo, name, args, words)
