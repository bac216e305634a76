"""Training dynamics (explorer.tools.dynamics): the loss terms per epoch (history.json) and the KL of each latent
dimension (metrics.json) as plotly figures and a note; for a GAN its two losses and D(x) against D(G(z)), with a
note on whether the game looks healthy. Through the plain functions, the tab's event and the /training_history
endpoint (gradio_client against the app on localhost).

Every model folder here is tiny and synthetic (explorer.testing), made in tmp_path.
"""
from __future__ import annotations

import json
import math

import pytest

from explorer.registry import ModelRegistry
from explorer.testing import make_model_folder
from explorer.tools import dynamics
from explorer.validation import InputError
from helpers import assets_with_history, event

D = 4


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = assets_with_history(tmp_path_factory.mktemp("dynamics") / "assets", latent_dim=D, n_points=120)
    make_model_folder(root / "fake-gan", kind="gan", latent_dim=D, n_points=60, seed=3)
    return root


def gan_folder(tmp_path, epochs: list[dict], **metrics):
    """A GAN folder with this history.json and these metrics.json entries replaced; returns its registry."""
    folder = make_model_folder(tmp_path / "g", kind="gan", latent_dim=2, n_points=20)
    (folder / "history.json").write_text(json.dumps({"epochs": epochs}))
    m = json.loads((folder / "metrics.json").read_text())
    m.update(metrics)
    (folder / "metrics.json").write_text(json.dumps({k: v for k, v in m.items() if v is not None}))
    return ModelRegistry.discover(tmp_path)


def game(n=8, **last):
    """n steady epochs of a healthy GAN history, the last one's values replaced by `last`."""
    rows = [{"epoch": e, "d_loss": 1.2, "g_loss": 0.9, "d_real": 0.6, "d_fake": 0.4, "lr": 2e-4, "seconds": 1.0}
            for e in range(1, n + 1)]
    rows[-1].update(last)
    return rows


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


# ---------------------------------------------------------------------------------------------------------------
# A GAN: the game's losses and D(x) against D(G(z))

def test_a_gan_plots_its_losses_and_d_outputs(registry, assets):
    rows = json.loads((assets / "fake-gan" / "history.json").read_text())["epochs"]
    hist = dynamics.training_history(registry, "fake-gan")
    assert hist["adversarial"] and hist["kl_per_dim"] is None and hist["gan_loss"] == "ns"
    assert [set(r) for r in hist["epochs"]] == [set(dynamics.GAME_KEYS)] * len(rows)
    fig = dynamics.history_figure(hist)
    names = [t["name"] for t in fig["data"]]
    assert names[:2] == ["D loss", "G loss"] and "KL" not in " ".join(names)
    assert fig["data"][0]["y"] == pytest.approx([r["d_loss"] for r in rows])
    assert fig["data"][1]["y"] == pytest.approx([r["g_loss"] for r in rows])
    even = [t["y"][0] for t in fig["data"][2:]]
    assert even == pytest.approx([2 * math.log(2), math.log(2)])  # an even game of the non-saturating loss
    d = dynamics.detail_figure(hist)
    assert [t["name"] for t in d["data"]][:2] == ["D(x): real images", "D(G(z)): generated images"]
    assert d["data"][0]["y"] == pytest.approx([r["d_real"] for r in rows])
    assert d["data"][1]["y"] == pytest.approx([r["d_fake"] for r in rows])
    assert d["layout"]["yaxis"]["range"] == [0, 1] and len(d["layout"]["shapes"]) == 2
    note = dynamics.dynamics_note(hist)
    assert f"D(x) = {rows[-1]['d_real']:.2f}" in note and "healthy game" in note
    json.dumps(fig), json.dumps(d)


def test_a_vae_keeps_its_elbo_curves(registry):
    hist = dynamics.training_history(registry, "fake-vae")
    assert not hist["adversarial"] and set(hist["epochs"][0]) == set(dynamics.ELBO_KEYS)
    assert dynamics.detail_figure(hist) == dynamics.kl_figure(hist)
    assert "D loss" not in json.dumps(dynamics.history_figure(hist))


def test_the_tab_swaps_its_help_for_a_gan(demo):
    from explorer.ui.tabs import dynamics as tab

    history, detail, note, help_ = event(demo, "on_dynamics")("fake-gan")
    assert help_ == tab.GAME_HELP and "D(x)" in json.dumps(detail) and "healthy" in note
    for words in ("healthy game", "away from 0 and 1", "does not go to 0", "Mode collapse", "one class",
                  "oscillates"):
        assert words in tab.GAME_HELP
    history, detail, note, help_ = event(demo, "on_dynamics")("fake-vae")
    assert help_ == tab.HELP and "tug-of-war" in note


@pytest.mark.parametrize("epochs, metrics, words", [
    (game(d_real=0.99, d_fake=0.01, d_loss=0.02), {}, ["D(x) ended at 0.99", "D(G(z)) ended at 0.01", "near 0"]),
    (game(g_loss=6.0), {}, ["G loss ended at 6.00", "exploded"]),
    ([{**r, "d_fake": 0.1 if r["epoch"] % 2 else 0.6} for r in game()], {}, ["D(G(z)) swings"]),
    (game(), {"class_histogram": [0.91] + [0.01] * 9, "mode_coverage_min": None, "mode_coverage_max": None},
     ["1% to 91% per class", "mode collapse"]),
])
def test_an_unhealthy_game_is_called_so(tmp_path, epochs, metrics, words):
    hist = dynamics.training_history(gan_folder(tmp_path, epochs, **metrics), "g")
    note = dynamics.dynamics_note(hist)
    assert "healthy game" not in note
    for w in words:
        assert w in note, (w, note)


def test_a_healthy_game_is_called_so_and_says_when_it_cannot_check_collapse(tmp_path):
    hist = dynamics.training_history(gan_folder(tmp_path, game(), class_histogram=None, mode_coverage_min=None,
                                                mode_coverage_max=None), "g")
    assert dynamics.game_checks(hist) == []
    note = dynamics.dynamics_note(hist)
    assert "healthy game" in note and "mode collapse is not checked" in note


def test_a_hinge_gan_gets_the_hinge_even_game(tmp_path):
    reg = gan_folder(tmp_path, game())
    cfg_path = tmp_path / "g" / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["train"] = {**cfg.get("train", {}), "gan_loss": "hinge"}
    cfg_path.write_text(json.dumps(cfg))
    hist = dynamics.training_history(ModelRegistry.discover(tmp_path), "g")
    assert hist["gan_loss"] == "hinge"
    assert [t["y"][0] for t in dynamics.history_figure(hist)["data"][2:]] == [2.0, 0.0]
    assert reg.info("g").kind == "gan"


def test_api_training_history_of_a_gan(served, assets):
    rows = json.loads((assets / "fake-gan" / "history.json").read_text())["epochs"]
    hist = served.predict(model="fake-gan", api_name="/training_history")
    assert hist["adversarial"] is True and [r["d_fake"] for r in hist["epochs"]] == pytest.approx(
        [r["d_fake"] for r in rows])
