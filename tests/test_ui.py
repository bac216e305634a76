"""The Gradio layer: stable element ids, error wrapping, and that app.py imports without launching or loading."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest

from explorer import ModelRegistry
from explorer.validation import InputError
from explorer.testing import make_assets
from explorer.ui import MAX_SLIDERS, PLOTLY_JS, build_demo, friendly

REPO = Path(__file__).resolve().parents[1]
STABLE_IDS = ["model-picker", "latent-sliders", "decoded-image", "random-button", "reset-button", "latent-map",
              "projection-picker", "class-picker", "selected-original", "selected-reconstruction"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return build_demo(ModelRegistry.discover(make_assets(tmp_path_factory.mktemp("ui"), latent_dim=2, n_points=30)))


def test_stable_element_ids(demo):
    ids = [b.elem_id for b in demo.blocks.values()]
    for elem_id in STABLE_IDS:
        assert ids.count(elem_id) == 1, elem_id
    assert sum(1 for i in ids if i and i.startswith("z-")) == MAX_SLIDERS


def test_only_the_named_endpoints_are_public(demo):
    from explorer.ui.api import endpoints

    public = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    tools = set(endpoints(demo.registry))  # explorer.ui.api's table of every named endpoint
    assert public == {"decode", "reconstruct", "list_models"} | tools


def test_slider_events_keep_only_the_last_move(demo):
    slider_fns = [fn for fn in demo.fns.values() if any(t[1] == "input" for t in fn.targets) and len(fn.targets) > 1]
    assert slider_fns and all(fn.trigger_mode == "always_last" for fn in slider_fns)


def test_plotly_is_served_from_the_installed_package():
    assert PLOTLY_JS.is_file() and PLOTLY_JS.stat().st_size > 1_000_000


def test_friendly_turns_mistakes_into_gr_error_and_hides_tracebacks():
    @friendly
    def mistake():
        raise InputError("z has 3 values; send 4.")

    @friendly
    def bug():
        raise KeyError("internal detail")

    with pytest.raises(gr.Error, match="send 4"):
        mistake()
    with pytest.raises(gr.Error) as e:
        bug()
    assert "still running" in e.value.message and "Traceback" not in e.value.message
    assert "internal detail" not in e.value.message


def test_app_imports_without_launching_or_loading_torch(tmp_path):
    code = ("import sys, app; assert 'torch' not in sys.modules, 'torch imported at start-up'; "
            "assert not app.demo.is_running; print(len(app.demo.registry.names()))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={"EXPLORER_ASSETS_DIR": str(make_assets(tmp_path, latent_dim=2, n_points=10)),
                              "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_model_dir_flag_and_environment_variable_add_folders(tmp_path, monkeypatch):
    from explorer.testing import make_model_folder

    assets = make_assets(tmp_path / "assets", latent_dim=2, n_points=10)
    mine = make_model_folder(tmp_path / "mine", kind="vae", latent_dim=2, n_points=10)
    theirs = make_model_folder(tmp_path / "theirs", kind="ae", latent_dim=2, n_points=10)
    monkeypatch.setenv("EXPLORER_MODEL_DIRS", str(theirs))
    import app

    demo = app.create_demo(["--assets", str(assets), "--model-dir", str(mine)])
    assert demo.registry.names() == ["fake-ae", "fake-cvae", "fake-vae", "theirs", "mine"]
    assert demo.registry.default == "theirs"


def documented_ids() -> list[str]:
    """Every element id that the "Element ids:" lists of explorer.ui's module docstrings name, with
    compare-grid-{ae,vae,cvae} and z-0 .. z-31 spelled out."""
    import re

    from explorer import ui
    from explorer.ui import main_view, selection_panel
    from explorer.ui.tabs import TABS

    ids = []
    for mod in (ui, main_view, selection_panel, *TABS):
        text = " ".join(mod.__doc__.split())
        listed = re.search(r"Element ids: (.*?)(?<!\.)\.(?!\.)(\s|$)", text).group(1)  # up to the first full stop
        listed = re.sub(r"(\S+?)\{([^}]*)\}", lambda m: ", ".join(m.group(1) + k for k in m.group(2).split(",")),
                        listed)  # compare-grid-{ae,vae,cvae}
        listed = re.sub(r"z-(\d+) \.\. z-(\d+)",
                        lambda m: ", ".join(f"z-{i}" for i in range(int(m.group(1)), int(m.group(2)) + 1)), listed)
        ids += [i.strip() for i in listed.split(",") if i.strip()]
    return ids


def test_every_element_id_is_documented_and_every_documented_one_exists(demo):
    page = [b.elem_id for b in demo.blocks.values() if getattr(b, "elem_id", None)]
    documented = documented_ids()
    assert sorted(set(documented)) == sorted(set(page)), (set(documented) ^ set(page))
    assert all(page.count(i) == 1 for i in documented)
