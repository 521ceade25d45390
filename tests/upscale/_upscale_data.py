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


def sphere_and_turned_from(path: Path, height: int, turn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A real equirect and the same sphere turned by ``turn`` (see ``_spheres.TURN``), both area-downscaled
    to ``height`` x ``2 * height``; the turn is made at the file's half resolution, so both are equally sharp."""
    from pano.sphere import rotate_equirect

    big = read_image(path, mode="force-sphere", reduce=2).pixels
    turned = rotate_equirect(big, turn, mode="bicubic").clamp(0, 1)
    return tuple(F.interpolate(x, size=(height, 2 * height), mode="area").clamp(0, 1) for x in (big, turned))
