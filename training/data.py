"""Datasets: torchvision's MNIST / Fashion-MNIST (downloaded, or read from a local IDX folder) and image folders.

Everything is loaded into memory as uint8 tensors, (N, H, W) for grayscale (MNIST's (N, 28, 28)) and (N, C, H, W)
for colour: 70,000 MNIST images are 55 MB, and batching from a tensor is far faster on a CPU than a per-item
DataLoader. `unit_images` turns either into the models' (N, C, H, W) floats in [0, 1].
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATASETS = ("mnist", "fashion-mnist", "folder")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm")


class DataError(RuntimeError):
    """Data that cannot be found or read; the message names the files and the fix."""


@dataclass
class Split:
    images: torch.Tensor          # (N, H, W) uint8 (grayscale) or (N, C, H, W) uint8 (colour)
    labels: torch.Tensor          # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def float_images(self) -> torch.Tensor:
        """(N, C, H, W) float32 in [0, 1]."""
        return unit_images(self.images)

    def batches(self, batch_size: int, device="cpu"):
        """The split in order, as (x (B, C, H, W) float32 in [0, 1], y (B,)) on `device`. The uint8 images are
        moved before they are converted: a quarter of the bytes."""
        for i in range(0, len(self), batch_size):
            yield unit_images(self.images[i:i + batch_size].to(device)), self.labels[i:i + batch_size].to(device)


def unit_images(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (N, H, W) or (N, C, H, W) -> the models' input (N, C, H, W), float32 in [0, 1]."""
    return (images.unsqueeze(1) if images.dim() == 3 else images).float().div_(255)


def image_shape_of(images: torch.Tensor) -> tuple[int, int, int]:
    """The (C, H, W) of a split's uint8 images, (N, H, W) or (N, C, H, W)."""
    return (1, *images.shape[1:]) if images.dim() == 3 else tuple(images.shape[1:])


def numpy_images(images: torch.Tensor):
    """A split's uint8 images as numpy, the layout latent_map.npz and the explorer use: (N, H, W) for one channel
    (as MNIST's maps have always stored) and channels last, (N, H, W, 3), for colour (as PIL and Gradio take)."""
    import numpy as np

    if images.dim() == 4:
        images = images[:, 0] if images.shape[1] == 1 else images.permute(0, 2, 3, 1)
    return np.ascontiguousarray(images.numpy().astype(np.uint8))


@dataclass
class Dataset:
    name: str
    train: Split
    test: Split
    class_names: list[str]
    provenance: dict = field(default_factory=dict)


def cache_dir() -> Path:
    return Path(os.environ.get("VAE_EXPLORER_CACHE", Path.home() / ".cache" / "vae-explorer"))


def _tv_class(name: str):
    from torchvision import datasets
    return {"mnist": datasets.MNIST, "fashion-mnist": datasets.FashionMNIST}[name]


def _find_idx(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / (stem + ".gz"), folder / "raw" / stem, folder / "raw" / (stem + ".gz")):
        if candidate.is_file():
            return candidate
    return None


def _missing_data_message(name: str, folder: Path | None, missing: list[str]) -> str:
    where = f"in {folder}" if folder else "in the download cache"
    debian = " or `apt-get install dataset-fashion-mnist` (files land in /usr/share/datasets/fashion-mnist)" \
        if name == "fashion-mnist" else ""
    return (f"{name}: missing {', '.join(missing)} {where}. Either (1) run with internet access and no --data-dir, "
            f"so torchvision downloads the dataset, or (2) pass --data-dir DIR pointing at a folder holding the four "
            f"IDX files ({', '.join(s + '.gz' for s in IDX_FILES)}){debian}.")


def load_idx_folder(name: str, folder: str | Path) -> tuple:
    """Read the four standard IDX files (.gz or plain) from `folder` with torchvision's own reader.

    The files are decompressed once into the cache (torchvision reads the raw files) and then loaded through
    `torchvision.datasets.MNIST` / `FashionMNIST`, so parsing and validation are torchvision's.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(_missing_data_message(name, folder, ["the folder itself"]))
    found = {stem: _find_idx(folder, stem) for stem in IDX_FILES}
    missing = [stem + ".gz" for stem, path in found.items() if path is None]
    if missing:
        raise DataError(_missing_data_message(name, folder, missing))
    # One cache folder per source folder and file size, so a changed source is re-read.
    key = hashlib.sha1("|".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}"
                                for p in found.values()).encode()).hexdigest()[:12]
    cls = _tv_class(name)
    root = cache_dir() / "idx" / f"{name}-{key}"
    raw = root / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for stem, path in found.items():
        target = raw / stem
        if target.exists():
            continue
        # A temp file of its own: two processes reading the same folder at once (the two workers of
        # build-assets) each write their own copy and the last rename wins, with the same bytes.
        fd, tmp_name = tempfile.mkstemp(dir=raw, prefix=stem + ".", suffix=".part")
        tmp = Path(tmp_name)
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with os.fdopen(fd, "wb") as dst, opener(path, "rb") as src:
                shutil.copyfileobj(src, dst)
        except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
            tmp.unlink(missing_ok=True)
            raise DataError(f"{path}: cannot decompress ({e}). The file is corrupt or truncated; "
                            "download it again.") from e
        os.replace(tmp, target)
    try:
        train, test = cls(str(root), train=True), cls(str(root), train=False)
    except (RuntimeError, ValueError, AssertionError) as e:
        raise DataError(f"{name}: could not read the IDX files in {folder}: {e}. "
                        "Check that they are the standard MNIST-format files and not truncated.") from e
    provenance = {"source": "idx-folder", "data_dir": str(folder.resolve()),
                  "train_images": len(train.targets), "test_images": len(test.targets)}
    return train, test, provenance


def download(name: str, root: str | Path | None = None) -> tuple:
    """torchvision's download route (needs internet the first time)."""
    cls = _tv_class(name)
    root = Path(root) if root else cache_dir() / "torchvision"
    try:
        train, test = cls(str(root), train=True, download=True), cls(str(root), train=False, download=True)
    except (RuntimeError, OSError) as e:  # urllib errors are OSErrors
        raise DataError(_missing_data_message(name, None, [f"the downloaded files (download failed: {e})"])) from e
    provenance = {"source": "torchvision-download", "data_dir": str(root),
                  "train_images": len(train.targets), "test_images": len(test.targets)}
    return train, test, provenance


GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")  # PIL modes with no colour


def _header(path: Path) -> tuple[tuple[int, int], bool]:
    """An image's (width, height) and whether its mode holds colour, from its header (nothing decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return img.size, img.mode not in GRAY_MODES
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e}). Remove it from the folder or replace it.") from e


def _check_uniform(paths: list[Path], size: int, resize: bool) -> None:
    """Without --resize, a folder's images must share one size, the model's, and be all grayscale or all colour;
    DataError otherwise, naming two files that differ (or one of the wrong size) and the fix."""
    if resize or not paths:
        return
    headers = [_header(p) for p in paths]
    first_size, first_colour = headers[0]
    for path, (wh, colour) in zip(paths, headers):
        if wh != first_size:
            raise DataError(f"mixed image sizes: {paths[0]} is {first_size[0]}x{first_size[1]} pixels but {path} is "
                            f"{wh[0]}x{wh[1]}. Pass --resize to resize and centre-crop every image to {size}x{size} "
                            "on load, or convert the images to one size first.")
        if colour != first_colour:
            modes = {True: "colour", False: "grayscale"}
            raise DataError(f"mixed image modes: {paths[0]} is {modes[first_colour]} but {path} is {modes[colour]}. "
                            "Pass --resize to convert every image to the model's channels (--channels 1|3) on load, "
                            "or convert the images to one mode first.")
    if first_size != (size, size):
        raise DataError(f"{paths[0]}: image is {first_size[0]}x{first_size[1]} pixels, but the model takes "
                        f"{size}x{size} (--image-size {size}). Resize your images to {size}x{size}, pass --resize to "
                        "have them resized and centre-cropped on load, or pick the --image-size they have "
                        "(28, 32 or 64).")


def _pil_to_tensor(path: Path, resize: bool, size: int = 28, channels: int = 1) -> torch.Tensor:
    """One image as uint8 (size, size) for one channel or (3, size, size) for three. With `resize`, the shorter side
    is scaled to `size` and the centre cropped (torchvision's resize + center_crop), so nothing is stretched."""
    from PIL import Image, UnidentifiedImageError
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import center_crop, pil_to_tensor
    from torchvision.transforms.functional import resize as tv_resize

    try:
        with Image.open(path) as img:
            img.load()
            if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                img = img.point(lambda v: v * (255.0 / 65535.0)) if img.mode.startswith("I;16") else img
            img = img.convert("L" if channels == 1 else "RGB")
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e}). Remove it from the folder or replace it.") from e
    if img.size != (size, size):
        if not resize:
            raise DataError(f"{path}: image is {img.size[0]}x{img.size[1]} pixels, but the model takes {size}x{size}. "
                            f"Resize your images to {size}x{size}, or pass --resize to have them resized on load.")
        img = center_crop(tv_resize(img, size, interpolation=InterpolationMode.LANCZOS), [size, size])
    t = pil_to_tensor(img)                                                    # (C, size, size) uint8
    return t[0] if channels == 1 else t


def load_image_folder(folder: str | Path, *, resize: bool = False, test_fraction: float = 0.1, seed: int = 0,
                      image_shape: tuple = (1, 28, 28)) -> tuple[Split, Split, list[str], dict]:
    """An image folder with one sub-folder per class (torchvision ImageFolder layout), as `image_shape` (C, H, W):
    uint8 (N, H, W) for one channel, (N, 3, H, W) for three.

    If `folder` holds `train/` and `test/` sub-folders, those are the splits; otherwise a seeded
    `test_fraction` of the images is held out.
    """
    from torchvision.datasets import ImageFolder

    from .config import check_image_shape

    check_image_shape(image_shape)
    channels, size = int(image_shape[0]), int(image_shape[-1])
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such folder. Pass --data-dir pointing at a folder with one sub-folder "
                        "of images per class.")

    def read(root: Path):
        try:
            index = ImageFolder(str(root), loader=lambda p: p, is_valid_file=lambda p: p.lower().endswith(IMAGE_EXTENSIONS))
        except (FileNotFoundError, RuntimeError) as e:
            raise DataError(f"{root}: {e}. The folder needs one sub-folder per class, each holding images "
                            f"({', '.join(IMAGE_EXTENSIONS)}).") from e
        paths = [Path(p) for p, _ in index.samples]
        _check_uniform(paths, size, resize)
        images = torch.stack([_pil_to_tensor(p, resize, size, channels) for p in paths])
        return Split(images, torch.tensor(index.targets, dtype=torch.int64)), list(index.classes)

    if (folder / "train").is_dir() and (folder / "test").is_dir():
        train, classes = read(folder / "train")
        test, test_classes = read(folder / "test")
        if test_classes != classes:
            raise DataError(f"{folder}: train/ has classes {classes} but test/ has {test_classes}; they must match.")
    else:
        full, classes = read(folder)
        if len(classes) < 2:
            raise DataError(f"{folder}: found {len(classes)} class folder(s); at least 2 are needed.")
        perm = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed))
        n_test = max(1, int(round(len(full) * test_fraction)))
        test_idx, train_idx = perm[:n_test], perm[n_test:]
        train = Split(full.images[train_idx], full.labels[train_idx])
        test = Split(full.images[test_idx], full.labels[test_idx])
    provenance = {"source": "image-folder", "data_dir": str(folder.resolve()), "resized": resize,
                  "image_shape": [channels, size, size],
                  "train_images": len(train), "test_images": len(test)}
    return train, test, classes, provenance


def check_dataset_shape(name: str, image_shape) -> None:
    """DataError for an image shape the dataset cannot have: MNIST and Fashion-MNIST are 1x28x28 grayscale; only an
    image folder takes --channels 3 or another --image-size."""
    shape = tuple(int(s) for s in image_shape)
    if name in ("mnist", "fashion-mnist") and shape != (1, 28, 28):
        fix = []
        if shape[0] != 1:
            fix.append(f"use --channels 1, not {shape[0]} (its images are grayscale)")
        if shape[1:] != (28, 28):
            fix.append(f"use --image-size 28, not {shape[-1]} (its images are 28x28)")
        raise DataError(f"{name} is 1x28x28 grayscale: {'; '.join(fix)}. Colour and larger images come from an "
                        "image folder (--dataset folder --data-dir DIR).")


def load_dataset(name: str, data_dir: str | Path | None = None, *, resize: bool = False,
                 train_limit: int | None = None, seed: int = 0, image_shape: tuple = (1, 28, 28)) -> Dataset:
    """Load a dataset by name. `data_dir` is an IDX folder (mnist / fashion-mnist) or an image folder (folder);
    image_shape (C, H, W) is the model's: an image folder is read at that size and channel count."""
    if name not in DATASETS:
        raise DataError(f"dataset {name!r} is unknown; use one of {', '.join(DATASETS)}.")
    check_dataset_shape(name, image_shape)
    if name == "folder":
        if data_dir is None:
            raise DataError("dataset 'folder' needs --data-dir pointing at a folder with one sub-folder per class.")
        train, test, classes, prov = load_image_folder(data_dir, resize=resize, seed=seed, image_shape=image_shape)
    else:
        tv_train, tv_test, prov = load_idx_folder(name, data_dir) if data_dir else download(name)
        train = Split(tv_train.data.clone(), tv_train.targets.clone().long())
        test = Split(tv_test.data.clone(), tv_test.targets.clone().long())
        classes = [c.split(" - ")[0] if name == "mnist" else c for c in tv_train.classes]
    if train_limit:
        train = Split(train.images[:train_limit], train.labels[:train_limit])
        prov["train_limit"] = train_limit
    prov.update(dataset=name, train_images=len(train), test_images=len(test))
    return Dataset(name, train, test, classes, prov)
