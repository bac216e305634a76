import numpy as np
import pytest
import torch
from PIL import Image

from training.data import DataError, load_dataset


def test_reads_tiny_idx_folder(idx_folder):
    ds = load_dataset("mnist", idx_folder)
    assert ds.train.images.shape == (30, 28, 28) and ds.train.images.dtype == torch.uint8
    assert ds.test.images.shape == (12, 28, 28)
    assert ds.train.labels.tolist() == [i % 10 for i in range(30)]
    assert ds.class_names == [str(i) for i in range(10)]
    assert ds.provenance["source"] == "idx-folder" and ds.provenance["train_images"] == 30
    # the values are the bytes that were written
    rng = np.random.default_rng(0)
    assert np.array_equal(ds.train.images.numpy(), rng.integers(0, 256, (30, 28, 28)).astype(np.uint8))


def test_fashion_class_names(idx_folder):
    ds = load_dataset("fashion-mnist", idx_folder)
    assert ds.class_names[0] == "T-shirt/top" and ds.class_names[9] == "Ankle boot"


def test_missing_idx_files_name_the_files_and_both_fixes(idx_folder):
    (idx_folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError) as err:
        load_dataset("mnist", idx_folder)
    msg = str(err.value)
    assert "t10k-labels-idx1-ubyte.gz" in msg and "internet" in msg and "--data-dir" in msg


def test_two_readers_decompressing_the_same_folder_at_once_both_succeed(idx_folder, monkeypatch):
    """build-assets' two workers may read one dataset into an empty cache at the same moment: here a second reader
    runs in full between the first one's write and its rename (a shared temp name made the first rename fail)."""
    import training.data as data_mod
    real_replace, interleaved = data_mod.os.replace, []

    def replace_after_another_reader(src, dst):
        if not interleaved:
            interleaved.append(None)                                    # the other reader renames normally
            interleaved[0] = load_dataset("mnist", idx_folder)         # the other process, start to finish
        return real_replace(src, dst)

    monkeypatch.setattr(data_mod.os, "replace", replace_after_another_reader)
    first = load_dataset("mnist", idx_folder)
    assert interleaved and torch.equal(first.train.images, interleaved[0].train.images)
    assert first.train.images.shape == (30, 28, 28)
    raw = next(data_mod.cache_dir().glob("idx/mnist-*/MNIST/raw"))
    assert not list(raw.glob("*.part"))                                 # no temp file left behind


def test_truncated_gzip_is_reported(idx_folder):
    p = idx_folder / "train-images-idx3-ubyte.gz"
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(DataError, match="corrupt or truncated|could not read"):
        load_dataset("mnist", idx_folder)


def _image_folder(root, size=(28, 28), mode="L", n=4):
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(n):
            arr = np.full(size[::-1] + ((4,) if mode == "RGBA" else (3,) if mode == "RGB" else ()), 40 * i, np.uint8)
            Image.fromarray(arr, mode).save(root / cls / f"{i}.png")
    return root


def test_image_folder_grayscale_28(tmp_path):
    ds = load_dataset("folder", _image_folder(tmp_path / "imgs", mode="RGB", n=5))
    assert ds.class_names == ["cat", "dog"]
    assert len(ds.train) + len(ds.test) == 10 and len(ds.test) == 1
    assert ds.train.images.shape[1:] == (28, 28)


def test_image_folder_wrong_size_is_refused_then_resized(tmp_path):
    root = _image_folder(tmp_path / "imgs", size=(40, 30))
    with pytest.raises(DataError, match=r"40x30 pixels.*--resize"):
        load_dataset("folder", root)
    ds = load_dataset("folder", root, resize=True)
    assert ds.train.images.shape[1:] == (28, 28)


def test_image_folder_non_image_is_named(tmp_path):
    root = _image_folder(tmp_path / "imgs")
    (root / "cat" / "broken.png").write_bytes(b"not an image at all")
    with pytest.raises(DataError, match="broken.png"):
        load_dataset("folder", root)


def test_unknown_dataset_and_missing_folder(tmp_path):
    with pytest.raises(DataError, match="unknown"):
        load_dataset("cifar")
    with pytest.raises(DataError, match="needs --data-dir"):
        load_dataset("folder")
    with pytest.raises(DataError, match="missing"):
        load_dataset("mnist", tmp_path / "nowhere")
