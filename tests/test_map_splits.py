"""A map of the training images beside the test images: training.evaluate builds it ("split"), stores a large map's
images in files of their own (each under the size limit, named in the map), and the explorer reads it, draws one
trace per class and split, names each point by its split, and summarises a selection across splits. A map written
before (test images only, images inside) still loads."""
from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

import training.evaluate as ev
from explorer.latent_map import MapLoadError, build_figure, build_figure_3d, load_latent_map
from training.data import Split


def _tiny_model(latent_dim=3):
    from training import create_model
    torch.manual_seed(0)
    return create_model(kind="vae", arch="mlp", latent_dim=latent_dim, mlp_hidden=16).eval()


def _split(n, seed):
    g = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    return Split(images, torch.randint(0, 10, (n,), generator=g))


def test_build_latent_map_puts_the_training_images_after_the_test_images():
    model, test, train = _tiny_model(), _split(40, 1), _split(70, 2)
    steps = []
    arrays = ev.build_latent_map(model, test, train=train, tsne=False, umap=False,
                                 log=lambda name, s: steps.append(name))
    assert arrays["mu"].shape == (110, 3) and arrays["images"].shape == (110, 28, 28)
    assert arrays["split"].tolist() == [0] * 40 + [1] * 70 and arrays["split"].dtype == np.uint8
    assert np.array_equal(arrays["images"][40:], train.images[:, 0].numpy())
    assert np.array_equal(arrays["labels"][:40], test.labels.numpy())
    assert arrays["pca"].shape == (110, 2) and arrays["pca3"].shape == (110, 3)   # fitted on all of them
    assert steps == ["codes", "pca", "3d"]
    test_only = ev.build_latent_map(model, test, tsne=False, umap=False)
    assert "split" not in test_only and test_only["mu"].shape == (40, 3)


def _arrays(n, seed=0, d=3):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(n, d)).astype(np.float32)
    return {"mu": mu, "labels": rng.integers(0, 10, n), "images": rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            "pca": mu[:, :2].copy(), "tsne": mu[:, 1:].copy(), "pca_mean": np.zeros(d, np.float32),
            "pca_components": np.eye(2, d, dtype=np.float32),
            "split": np.repeat(np.array([0, 1], np.uint8), [n // 4, n - n // 4])}


def test_a_large_maps_images_go_to_files_under_the_limit_and_load_back(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "INLINE_IMAGES", 100)
    monkeypatch.setattr(ev, "CHUNK_ROWS", 120)
    monkeypatch.setattr(ev, "MAX_FILE_BYTES", 60_000)   # 120 random 28x28 images compress to ~95 kB: halved
    a = _arrays(400)
    ev.save_latent_map(tmp_path, a)
    files = sorted(tmp_path.glob("latent_map_images-*.npz"))
    assert len(files) >= 4 and all(f.stat().st_size <= 60_000 for f in files)
    with np.load(tmp_path / "latent_map.npz") as f:
        assert "images" not in f.files and [str(x) for x in f["image_files"]] == [p.name for p in files]
    lmap = load_latent_map(tmp_path / "latent_map.npz", 3)
    assert np.array_equal(lmap.images, a["images"]) and lmap.splits == ("test", "train")
    assert np.array_equal(ev.load_map_images(tmp_path, ev.load_latent_map(tmp_path)), a["images"])

    # a new map replaces the old one's image files once it is written
    b = _arrays(300, seed=1)
    ev.save_latent_map(tmp_path, b)
    with np.load(tmp_path / "latent_map.npz") as f:
        names = {str(x) for x in f["image_files"]}
    assert {p.name for p in tmp_path.glob("latent_map_images-*.npz")} == names
    assert np.array_equal(load_latent_map(tmp_path / "latent_map.npz", 3).images, b["images"])

    # rewriting the map from its own arrays (add-3d, map-quality) keeps its image files
    ev.save_latent_map(tmp_path, ev.load_latent_map(tmp_path))
    assert {p.name for p in tmp_path.glob("latent_map_images-*.npz")} == names


def test_two_maps_of_the_same_images_share_one_copy_in_memory(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "INLINE_IMAGES", 50)
    a = _arrays(200)
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
        ev.save_latent_map(tmp_path / name, {**a, "mu": a["mu"] + (name == "two")})
    one = load_latent_map(tmp_path / "one" / "latent_map.npz", 3)
    two = load_latent_map(tmp_path / "two" / "latent_map.npz", 3)
    assert one.images is two.images and not np.array_equal(one.mu, two.mu)


def test_a_missing_or_broken_image_file_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(ev, "INLINE_IMAGES", 50)
    ev.save_latent_map(tmp_path, _arrays(200, seed=7))
    first = sorted(tmp_path.glob("latent_map_images-*.npz"))[0]
    first.write_bytes(b"not a zip")
    with pytest.raises(MapLoadError, match=first.name + ".*not a readable"):
        load_latent_map(tmp_path / "latent_map.npz", 3)
    first.unlink()
    with pytest.raises(MapLoadError, match=first.name + " is missing.*copy the whole model folder"):
        load_latent_map(tmp_path / "latent_map.npz", 3)


def test_a_bad_split_array_is_refused(tmp_path):
    a = _arrays(60)
    a["split"] = np.full(60, 3, np.uint8)
    np.savez_compressed(tmp_path / "latent_map.npz", **a)
    with pytest.raises(MapLoadError, match="'split'"):
        load_latent_map(tmp_path / "latent_map.npz", 3)


def test_the_figure_has_a_trace_per_class_and_split_and_one_legend_entry_per_class(tmp_path):
    a = _arrays(200)
    np.savez_compressed(tmp_path / "latent_map.npz", **a)
    lmap = load_latent_map(tmp_path / "latent_map.npz", 3)
    fig = build_figure(lmap, "pca")
    points = [t for t in fig["data"] if t.get("xp_split")]
    legend = [t for t in fig["data"] if t.get("xp_legend")]
    assert {t["xp_split"] for t in points} == {"test", "train"} and fig["splits"] == ["test", "train"]
    assert sorted(i for t in points for i in t["customdata"]) == list(range(200))
    for t in points:   # each trace holds one class of one split
        assert len({int(a["labels"][i]) for i in t["customdata"]}) == 1
        assert {int(a["split"][i]) for i in t["customdata"]} == {0 if t["xp_split"] == "test" else 1}
        assert t["showlegend"] is False and "training image" in t["hovertemplate"] or t["xp_split"] == "test"
    assert [t["name"] for t in legend] == [lmap.class_names[c] for c in sorted(set(a["labels"].tolist()))]
    assert {t["legendgroup"] for t in points} == {t["legendgroup"] for t in legend}
    assert points[0]["xp_split"] == "train"          # training points first: the test points draw on top
    fig3 = build_figure_3d(_with_3d(tmp_path, a), "pca")
    assert {t["xp_split"] for t in fig3["data"] if t.get("xp_split")} == {"test", "train"}


def _with_3d(tmp_path, a):
    a = {**a, **ev.map_3d(a["mu"], umap=False)}
    np.savez_compressed(tmp_path / "latent_map.npz", **a)
    return load_latent_map(tmp_path / "latent_map.npz", 3)


def test_a_map_of_test_images_alone_keeps_one_trace_per_class(tmp_path):
    a = _arrays(100)
    del a["split"]
    np.savez_compressed(tmp_path / "latent_map.npz", **a)
    lmap = load_latent_map(tmp_path / "latent_map.npz", 3)
    assert lmap.splits == ("test",) and lmap.describe(42) == "test image #42"
    fig = build_figure(lmap, "pca")
    assert not any(t.get("xp_split") or t.get("xp_legend") for t in fig["data"]) and fig["splits"] == ["test"]


def test_points_are_named_by_split_and_the_selection_counts_both(tmp_path):
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder
    from explorer.tools import explore, selection
    make_model_folder(tmp_path / "fake-vae", n_points=30, train_points=50)
    loaded = ModelRegistry.discover(tmp_path).get("fake-vae")
    lmap = loaded.latent_map
    assert lmap.n == 80 and lmap.splits == ("test", "train")
    assert lmap.describe(3) == "test image #3" and lmap.describe(35) == "training image #5"
    sel = explore.select_point(loaded, 35)
    assert sel["split"] == "train" and sel["what"] == "training image #5"
    assert np.array_equal(sel["original"], lmap.images[35])
    assert explore.one_split_reason(loaded) == ""
    s = selection.summarize(loaded, [1, 2, 40, 41, 42])
    assert s["split"] == "both" and s["split_counts"] == {"test": 2, "train": 3}
    assert "3 training, 2 test" in selection.counts_line(s)
    assert selection.summarize(loaded, [40])["split"] == "train"
    with open(selection.selection_csv(loaded, s)) as f:
        rows = list(csv.DictReader(f))
    assert [(r["index"], r["split"], r["split_index"]) for r in rows] == [
        ("1", "test", "1"), ("2", "test", "2"), ("40", "train", "10"), ("41", "train", "11"), ("42", "train", "12")]
    from explorer.validation import InputError
    with pytest.raises(InputError, match=r"0 to 29 are the test images, 30 to 79 the training images"):
        explore.select_point(loaded, 80)


def test_a_test_only_map_says_how_to_add_the_training_images(tmp_path):
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder
    from explorer.tools import explore
    folder = make_model_folder(tmp_path / "fake-vae", n_points=30)
    loaded = ModelRegistry.discover(tmp_path).get("fake-vae")
    reason = explore.one_split_reason(loaded)
    assert "add-train" in reason and str(folder) in reason


def test_the_map_csv_of_both_splits_names_each_rows_split(tmp_path):
    from explorer import ModelRegistry
    from explorer.testing import make_model_folder
    from explorer.tools.export import map_rows
    make_model_folder(tmp_path / "fake-vae", n_points=4, train_points=3)
    make_model_folder(tmp_path / "test-only", n_points=4)
    reg = ModelRegistry.discover(tmp_path)
    header, rows = map_rows(reg.get("fake-vae").latent_map)
    assert header[:3] == ["index", "label", "class_name"] and header[-2:] == ["split", "split_index"]
    assert [(r[0], r[-2], r[-1]) for r in rows] == [
        (0, "test", 0), (1, "test", 1), (2, "test", 2), (3, "test", 3), (4, "train", 0), (5, "train", 1),
        (6, "train", 2)]
    header, _ = map_rows(reg.get("test-only").latent_map)
    assert "split" not in header
