"""Image sheets through torchvision's make_grid (it takes torch tensors, and torch stays inside backends/)."""
from __future__ import annotations

import numpy as np


def make_grid(imgs, nrow: int, padding: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """Tile (N, H, W) float images in [0, 1], `nrow` per row, with `padding` px gaps of `pad_value`:
    -> (H', W') float32 (torchvision.utils.make_grid, one channel)."""
    import torch
    from torchvision.utils import make_grid as tv_make_grid

    grid = tv_make_grid(torch.from_numpy(np.asarray(imgs, np.float32))[:, None], nrow=nrow, padding=padding,
                        pad_value=pad_value)  # (3, H', W'), the channel repeated
    return grid[0].numpy()


def warm_up() -> None:
    """Import torchvision now (about 2 s), so the first sheet a person asks for does not wait for it."""
    import torchvision.utils  # noqa: F401
