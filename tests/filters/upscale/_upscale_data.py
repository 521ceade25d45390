"""Test data helpers for the upscale tests (a uniquely named module: importing from ``conftest`` by name
breaks when another test folder's conftest was imported first)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from pano.io.image import read_image


def sphere_from(path: Path, height: int) -> torch.Tensor:
    """A real equirect, area-downscaled to ``height`` x ``2 * height`` (1, 3, h, w) in [0, 1]."""
    pixels = read_image(path, mode="force-sphere", reduce=4).pixels
    return F.interpolate(pixels, size=(height, 2 * height), mode="area").clamp(0, 1)

