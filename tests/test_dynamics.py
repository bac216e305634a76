"""Training dynamics (explorer.tools.dynamics): the loss terms per epoch (history.json) and the KL of each latent
dimension (metrics.json) as plotly figures and a note, through the plain functions and the /training_history
endpoint (gradio_client against the app on localhost).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import json

import pytest

from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools import dynamics
from explorer.validation import InputError
from helpers import assets_with_history

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return assets_with_history(tmp_path_factory.mktemp("dynamics") / "assets", latent_dim=D, n_points=120)


def test_training_history_and_figures(registry):
    hist = dynamics.training_history(registry, "fake-vae")
    assert [r["epoch"] for r in hist["epochs"]] == [1, 2, 3, 4, 5]
    assert hist["kl_per_dim"] == [1.5, 0.001, 2.0, 0.0]
    fig = dynamics.history_figure(hist)
    assert [t["name"] for t in fig["data"]] == ["train reconstruction", "test reconstruction", "train KL",
                                                "test KL"]
    assert fig["data"][2]["yaxis"] == "y2" and fig["data"][0]["y"][0] == 178
    bars = dynamics.kl_figure(hist)
    assert bars["data"][0]["y"] == [1.5, 0.001, 2.0, 0.0]
    colors = bars["data"][0]["marker"]["color"]
    assert colors[0] == colors[2] != colors[1] == colors[3]  # unused dimensions are grey
    note = dynamics.dynamics_note(hist)
    assert "2 of 4 latent dimensions" in note and "tug-of-war" in note
    json.dumps(fig), json.dumps(bars)


def test_an_ae_has_no_kl_to_plot(registry):
    hist = dynamics.training_history(registry, "fake-ae")
    assert [t["name"] for t in dynamics.history_figure(hist)["data"]] == ["train reconstruction",
                                                                          "test reconstruction"]
    assert dynamics.kl_figure(hist) is None and "no KL term" in dynamics.dynamics_note(hist)


@pytest.mark.parametrize("content, words", [
    (None, "has no history.json"),
    ("{ not json", "not valid JSON"),
    ('{"epochs": 3}', "no list of epochs"),
    ('[1, 2]', "no list of epochs"),
])
def test_broken_history_gets_a_clear_message(tmp_path, content, words):
    folder = make_model_folder(tmp_path / "m", kind="vae", latent_dim=2, n_points=10)
    if content is None:
        (folder / "history.json").unlink()
    else:
        (folder / "history.json").write_text(content)
    with pytest.raises(InputError, match=words):
        dynamics.training_history(ModelRegistry.discover(tmp_path), "m")


# ---------------------------------------------------------------------------------------------------------------
# The /training_history endpoint through gradio_client

@pytest.fixture(scope="module")
def served(registry):
    pytest.importorskip("gradio_client")
    from gradio_client import Client

    from explorer.testing import serve
    with serve(registry) as demo:
        yield Client(demo.local_url, verbose=False)


def test_api_training_history(served):
    hist = served.predict(model="fake-vae", api_name="/training_history")
    assert len(hist["epochs"]) == 5 and hist["kl_per_dim"] == [1.5, 0.001, 2.0, 0.0]
