"""Image sheets through torchvision's make_grid, and a picture resized as an image folder is for training
(torchvision takes torch tensors, and torch stays inside backends/)."""
from __future__ import annotations

import numpy as np


def make_grid(imgs, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, H, W) or (N, H, W, 3) float images in [0, 1], `nrow` per row, with `padding` px gaps of
    `pad_value`: -> (H', W') or (H', W', 3) float32 (torchvision.utils.make_grid)."""
    import torch
    from torchvision.utils import make_grid as tv_make_grid

    x = torch.from_numpy(np.asarray(imgs, np.float32))
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)                       # (N, C, H, W)
    grid = tv_make_grid(x, nrow=nrow, padding=padding, pad_value=pad_value)       # (3, H', W')
    return grid[0].numpy() if x.shape[1] == 1 else grid.permute(1, 2, 0).contiguous().numpy()


def resize_centre_crop(im, h: int, w: int):
    """A PIL image with its shorter side resized to h and the centre cropped to h x w: training.data's --resize
    (torchvision.transforms.functional resize + center_crop), so an upload meets the model as its data did."""
    from torchvision.transforms import functional as TF

    return TF.center_crop(TF.resize(im, h, interpolation=TF.InterpolationMode.LANCZOS), [h, w])


def warm_up() -> None:
    """Import torchvision now (about 2 s), so the first sheet a person asks for does not wait for it."""
    import torchvision.utils  # noqa: F401
