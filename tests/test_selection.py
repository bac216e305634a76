"""A selection of map points (explorer.tools.selection): the summary, the grid and the CSV, through the plain
functions and the /select endpoint (gradio_client against the app on localhost); bad selections get a message.

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import csv

import numpy as np
import pytest
from helpers import FAKE_LATENT_DIM, api_refuses, read_png

from explorer.tools import selection
from explorer.validation import InputError


def test_the_summary_counts_the_classes_and_averages_the_codes(registry):
    loaded = registry.get("fake-cvae")
    lmap = loaded.latent_map
    picked = [40, 3, 17, 3, 99, 60, 61]                       # a repeat, out of order
    s = selection.summarize(loaded, picked)
    distinct = sorted(set(picked))
    assert s["count"] == len(distinct) and s["indices"] == distinct and s["split"] == "test"
    want = {}
    for i in distinct:
        want[lmap.class_names[lmap.labels[i]]] = want.get(lmap.class_names[lmap.labels[i]], 0) + 1
    assert {c["class_name"]: c["count"] for c in s["class_counts"]} == want
    assert [c["count"] for c in s["class_counts"]] == sorted(want.values(), reverse=True)
    assert np.allclose(s["mean_z"], lmap.mu[distinct].mean(0), atol=1e-5) and len(s["mean_z"]) == FAKE_LATENT_DIM
    assert selection.counts_line(s).startswith(f"{len(distinct)} points selected: ")
    assert np.array_equal(selection.grid_items(loaded, s), lmap.images[distinct])


def test_the_csv_lists_every_selected_point_with_its_coordinates(registry):
    loaded = registry.get("fake-vae")
    lmap = loaded.latent_map
    s = selection.summarize(loaded, np.arange(5, 25))
    with open(selection.selection_csv(loaded, s), newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["index"]) for r in rows] == list(range(5, 25))
    assert {r["split"] for r in rows} == {"test"}
    r = rows[3]
    assert int(r["label"]) == lmap.labels[8] and r["class_name"] == lmap.class_names[lmap.labels[8]]
    for key in lmap.coords:
        assert float(r[f"{key}_x"]) == pytest.approx(float(lmap.coords[key][8, 0]), rel=1e-4, abs=1e-4)


def test_a_selection_larger_than_the_grid_keeps_every_point_in_the_counts(registry):
    loaded = registry.get("fake-vae")
    n = loaded.latent_map.n
    s = selection.summarize(loaded, list(range(n)))
    assert s["count"] == n and sum(c["count"] for c in s["class_counts"]) == n
    assert len(selection.grid_items(loaded, s)) == min(n, selection.MAX_GRID)


@pytest.mark.parametrize("indices, words", [
    ([], "the selection is empty"),
    (list(range(10 ** 6)), "more than the 120 points"),
    ([0, 120], "point index 120 is out of range"),
    ([-1], "point index -1 is out of range"),
    ([1, 2.5], "2.5 is not one"),
    ([1, "7"], "is not one"),
    ([True], "is not one"),
    ([float("nan")], "is not one"),
    ("0,1,2", "must be a list of point indices"),
    (None, "must be a list of point indices"),
])
def test_bad_selections_are_refused_with_the_fix(registry, indices, words):
    with pytest.raises(InputError, match=words):
        selection.summarize(registry.get("fake-vae"), indices)


# ---------------------------------------------------------------------------------------------------------------
# Through the API

def test_api_select(served, registry):
    loaded = registry.get("fake-vae")
    sheet, summary, path = served.predict(model="fake-vae", indices=[4, 9, 2], api_name="/select")
    assert summary["count"] == 3 and summary["indices"] == [2, 4, 9]
    assert np.allclose(summary["mean_z"], loaded.latent_map.mu[[2, 4, 9]].mean(0), atol=1e-4)
    assert read_png(sheet).shape[1] > 3 * 28                 # three images side by side
    with open(path, newline="") as f:
        assert [int(r["index"]) for r in csv.DictReader(f)] == [2, 4, 9]


@pytest.mark.parametrize("indices, words", [([], "the selection is empty"),
                                            (list(range(10 ** 6)), "more than the 120 points"),
                                            ([5, 10 ** 9], "out of range")])
def test_api_select_bad_input_gets_a_clear_message(served, indices, words):
    api_refuses(served, "/select", {"model": "fake-vae", "indices": indices}, words)


# ---------------------------------------------------------------------------------------------------------------
# The map's thumbnails (explore.thumbnails_for, the map's get_thumbs server function)

def test_the_thumbnail_sprite_holds_each_image_in_its_cell(registry):
    import base64
    import io

    from PIL import Image

    from explorer.tools import explore
    loaded = registry.get("fake-vae")
    t = explore.thumbnails_for(registry, "fake-vae", [7, 3, 50, 3, 11])
    assert t["indices"] == [3, 7, 11, 50] and t["cols"] == 2 and (t["h"], t["w"]) == (28, 28)
    sprite = np.asarray(Image.open(io.BytesIO(base64.b64decode(t["sprite"].split(",", 1)[1]))).convert("L"))
    assert sprite.shape == (56, 56)
    for k, i in enumerate(t["indices"]):
        r, c = divmod(k, t["cols"])
        assert np.array_equal(sprite[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28], loaded.latent_map.images[i])


def test_thumbnails_are_refused_beyond_the_limit_and_for_junk(registry):
    from explorer.tools import explore
    with pytest.raises(InputError, match="at most 2,000 thumbnails"):
        explore.thumbnails_for(registry, "fake-vae", list(range(2001)))
    with pytest.raises(InputError, match="out of range"):
        explore.thumbnails_for(registry, "fake-vae", [10 ** 6])
    with pytest.raises(InputError, match="empty"):
        explore.thumbnails_for(registry, "fake-vae", [])
