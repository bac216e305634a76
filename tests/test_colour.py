"""Colour and larger images: scripts/make_shapes.py, image folders read as C x H x W, the conv networks' stages per
size, a colour model trained, saved, loaded and exported through the CLI, and the bad inputs' messages."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from training import load_model
from training.__main__ import main
from training.config import ConfigError, ModelConfig, TrainConfig
from training.data import DataError, load_dataset, numpy_images, unit_images
from training.export import check_decoder_file
from training.models import create_model

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_shapes", ROOT / "scripts" / "make_shapes.py")
make_shapes_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_shapes_module)
make_shapes = make_shapes_module.make_shapes


@pytest.mark.parametrize("size", [32, 64])
def test_make_shapes_writes_a_seeded_colour_image_folder(tmp_path, size):
    out = make_shapes(tmp_path / "s", size=size, per_class=3, classes=3, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["circle", "square", "triangle"]
    files = sorted(out.glob("*/*.png"))
    assert len(files) == 9
    first = np.asarray(Image.open(files[0]))
    assert first.shape == (size, size, 3) and first.max() > 100     # a bright shape on black
    hues = {tuple(np.asarray(Image.open(f)).reshape(-1, 3).max(0) // 64) for f in files}
    assert len(hues) > 1                                             # the colour varies
    again = make_shapes(tmp_path / "t", size=size, per_class=3, classes=3, seed=1)
    assert (again / files[0].relative_to(out)).read_bytes() == files[0].read_bytes()
    ds = load_dataset("folder", out, image_shape=(3, size, size))
    assert ds.train.images.shape[1:] == (3, size, size) and ds.train.images.dtype == torch.uint8
    assert unit_images(ds.train.images[:2]).shape == (2, 3, size, size)
    assert numpy_images(ds.test.images).shape == (len(ds.test), size, size, 3)


def test_make_shapes_refuses_bad_arguments_and_writes_nothing(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for kwargs, match in ((dict(size=48), "28, 32, 64"), (dict(classes=1), "classes"), (dict(per_class=0), "per_class")):
        with pytest.raises(ValueError, match=match):
            make_shapes(tmp_path / "new", **kwargs)
    with pytest.raises(ValueError, match="already exists"):
        make_shapes(tmp_path / "full")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full"]


@pytest.mark.parametrize("shape, channels, stages", [((1, 28, 28), (32, 64), 2), ((3, 32, 32), (32, 64), 2),
                                                     ((3, 64, 64), (32, 64, 128), 3), ((1, 64, 64), (32, 64, 128), 3)])
def test_every_network_follows_the_image_shape(shape, channels, stages):
    cfg = ModelConfig(kind="vae", image_shape=shape)
    assert cfg.conv_channels == channels and cfg.stages == stages and len(cfg.disc_channels) == stages
    z = torch.randn(2, 4)
    for kind, arch in (("vae", "conv"), ("cvae", "mlp"), ("gan", "conv")):
        m = create_model(kind, arch, latent_dim=4, num_classes=3 if kind == "cvae" else 0, image_shape=shape).eval()
        y = torch.tensor([0, 2]) if m.conditional else None
        x = m.decode(z, y)
        assert x.shape == (2, *shape) and 0 <= x.min() and x.max() <= 1
        if m.has_encoder:
            assert m.encode(x, y).mu.shape == (2, 4)
        else:
            assert m.discriminator()(x).shape == (2,)
    strided = [l for l in create_model("vae", image_shape=shape).encoder.convs if isinstance(l, torch.nn.Conv2d)]
    assert len(strided) == stages and strided[0].in_channels == shape[0]


def test_the_grayscale_28_network_keeps_its_parameter_names_and_shapes():
    sd = create_model("vae", "conv", latent_dim=16).state_dict()
    assert sd["encoder.convs.0.weight"].shape == (32, 1, 4, 4) and sd["encoder.convs.3.weight"].shape == (64, 32, 4, 4)
    assert sd["encoder.hidden.weight"].shape == (256, 64 * 7 * 7)
    assert sd["decoder.deconvs.0.weight"].shape == (64, 32, 4, 4) and sd["decoder.deconvs.3.weight"].shape == (32, 1, 4, 4)
    assert not any(k.startswith("decoder.deconvs.4") or k.startswith("encoder.convs.6") for k in sd)


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--dataset", "folder", "--data-dir", str(data), "--latent-dim", "2", "--batch-size", "16",
            "--out", str(out), "-k", "2", "--no-tsne", "--no-umap", "--device", "cpu", *extra]


@pytest.mark.slow
def test_a_colour_model_trains_loads_decodes_and_exports_through_the_cli(tmp_path):
    data = make_shapes(tmp_path / "shapes", size=32, per_class=12, classes=3)
    out = tmp_path / "m"
    assert main(_train_args(data, out, "--epochs", "1", "--channels", "3", "--image-size", "32")) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["image_shape"] == [3, 32, 32] and config["model"]["conv_channels"] == [32, 64]
    model = load_model(out).eval()
    ds = load_dataset("folder", data, image_shape=(3, 32, 32))
    x = unit_images(ds.test.images)
    with torch.no_grad():
        mu = model.encode(x).mu
        assert mu.shape == (len(x), 2) and model.decode(mu).shape == (len(x), 3, 32, 32)
    latent_map = np.load(out / "latent_map.npz")
    n = len(ds.test) + len(ds.train)   # the map holds the test images, then the training images
    assert latent_map["images"].shape == (n, 32, 32, 3) and latent_map["images"].dtype == np.uint8
    assert (latent_map["split"] == 0).sum() == len(ds.test)
    assert check_decoder_file(out / "decoder.onnx", 2, 0, (3, 32, 32)) is None
    assert "makes images of shape [3, 32, 32]" in check_decoder_file(out / "decoder.onnx", 2, 0, (1, 32, 32))
    # --resume without the flags keeps the saved shape
    assert main(_train_args(data, out, "--epochs", "2", "--resume", "--no-eval")) == 0
    assert len(json.loads((out / "history.json").read_text())["epochs"]) == 2


@pytest.mark.slow
def test_a_64_pixel_colour_model_trains_one_epoch(tmp_path):
    from training.train import train

    data = load_dataset("folder", make_shapes(tmp_path / "s", size=64, per_class=6, classes=2),
                        image_shape=(3, 64, 64))
    mcfg = ModelConfig(kind="cvae", num_classes=2, latent_dim=2, image_shape=(3, 64, 64), conv_channels=(4, 8, 8),
                       conv_hidden=16, pixel_bias=True)
    model = train(mcfg, TrainConfig(dataset="folder", epochs=1, batch_size=4, device="cpu", classifier_weight=1.0),
                  tmp_path / "m", data=data, progress=False, log=lambda *a: None)
    loaded = load_model(tmp_path / "m").eval()
    z = torch.zeros(2, 2)
    assert torch.allclose(loaded.decode(z, torch.tensor([0, 1])), model.eval().decode(z, torch.tensor([0, 1])))
    assert loaded.decode(z, torch.tensor([0, 1])).shape == (2, 3, 64, 64)


def _folder(root: Path, files: dict[str, Image.Image]) -> Path:
    for name, im in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        im.save(root / name)
    return root


def test_mixed_sizes_or_modes_are_refused_naming_two_files_and_resize_fixes_them(tmp_path):
    mixed_size = _folder(tmp_path / "size", {"a/1.png": Image.new("RGB", (32, 32)), "b/2.png": Image.new("RGB", (40, 30))})
    with pytest.raises(DataError, match=r"mixed image sizes: .*1\.png is 32x32.*2\.png is 40x30.*--resize"):
        load_dataset("folder", mixed_size, image_shape=(3, 32, 32))
    mixed_mode = _folder(tmp_path / "mode", {"a/1.png": Image.new("L", (32, 32)), "b/2.png": Image.new("RGB", (32, 32))})
    with pytest.raises(DataError, match=r"mixed image modes: .*1\.png is grayscale.*2\.png is colour.*--resize"):
        load_dataset("folder", mixed_mode, image_shape=(3, 32, 32))
    # --resize: every image resized (shorter side) and centre-cropped, in the requested mode
    wide = np.zeros((32, 64, 3), np.uint8)
    wide[:, :16, 2], wide[:, 16:48, 0], wide[:, 48:, 1] = 255, 255, 255     # blue | red | green
    folder = _folder(tmp_path / "resize", {"a/1.png": Image.fromarray(wide), "b/2.png": Image.new("L", (80, 80), 90)})
    ds = load_dataset("folder", folder, resize=True, image_shape=(3, 32, 32), seed=0)
    images = torch.cat([ds.train.images, ds.test.images])
    assert images.shape == (2, 3, 32, 32)
    red = [im for im in images if im[0].float().mean() > 200][0]
    assert red[1:].max() < 30                          # the centre only: red, no blue or green from the sides
    gray = load_dataset("folder", folder, resize=True, image_shape=(1, 28, 28))
    assert gray.train.images.shape[1:] == (28, 28)


def test_bad_shapes_on_the_command_line_give_their_message_and_write_nothing(tmp_path, capsys, idx_folder):
    data = make_shapes(tmp_path / "shapes", size=32, per_class=2, classes=2)
    cases = [
        (_train_args(data, tmp_path / "m1", "--image-size", "48"), 2, "28|32|64"),
        (_train_args(data, tmp_path / "m2", "--channels", "2"), 2, "C = 1 (grayscale) or 3"),
        (["train", "--data-dir", str(idx_folder), "--channels", "3", "--out", str(tmp_path / "m3")], 3,
         "mnist is 1x28x28 grayscale: use --channels 1"),
        (["train", "--dataset", "fashion-mnist", "--data-dir", str(idx_folder), "--image-size", "64",
          "--out", str(tmp_path / "m4")], 3, "use --image-size 28"),
        (_train_args(data, tmp_path / "m5", "--channels", "3", "--image-size", "64"), 3, "--resize"),
    ]
    for args, code, message in cases:
        assert main(args) == code, args
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, err
    assert not [p for i in range(1, 6) for p in (tmp_path / f"m{i}").rglob("*")]   # nothing written in any --out
    with pytest.raises(ConfigError, match=r"conv_channels=\[32, 64\] must be 3 integers.*64x64"):
        ModelConfig(image_shape=(3, 64, 64), conv_channels=(32, 64))
