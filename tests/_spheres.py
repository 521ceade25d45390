"""Spheres for the tests of the sphere measures: random ones made here, real ones turned (a uniquely named
module on the tests' path)."""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F

from pano.sphere.convention import lonlat_to_direction


def isotropic_sphere(height: int, seed: int, *, grid: int = 128, turn: torch.Tensor | None = None) -> torch.Tensor:
    """A sphere textured with no preferred place or direction: coloured noise with a natural ``1/f``
    amplitude spectrum, made in a 3-D volume and read on the unit sphere inside it (1, 3, h, 2h) in [0, 1].

    Its poles, seam and cube edges look like everywhere else, so the sphere measures of a filter's output
    can be compared with the input's without the photo's content in the way (a real photo's zenith is sky,
    its nadir a tripod). Features are about 1° across, near the detail a ``height``-256 sphere holds.

    ``turn``: a 3x3 rotation (e.g. ``pano.metrics.TURN``); the sphere then shows at direction ``d`` what the unturned one shows at
    ``turn @ d``, computed exactly (no resampling of an equirect), so the same content can be put at a
    pole and on the equator.
    """
    g = torch.Generator().manual_seed(seed)
    f = torch.fft.fftfreq(grid)
    freq = (f[:, None, None] ** 2 + f[None, :, None] ** 2 + f[None, None, :] ** 2).sqrt().clamp_min(1.0 / grid)
    vol = torch.fft.ifftn(torch.fft.fftn(torch.randn(3, grid, grid, grid, generator=g), dim=(1, 2, 3)) / freq, dim=(1, 2, 3)).real
    vol = (vol - vol.mean()) / vol.std()
    vol = 0.5 + 0.2 * (0.8 * vol.mean(0, keepdim=True) + 0.2 * vol)  # mostly luminance, some colour
    w = 2 * height
    lat = (0.5 - (torch.arange(height) + 0.5) / height) * math.pi
    lon = ((torch.arange(w) + 0.5) / w - 0.5) * (2 * math.pi)
    dirs = lonlat_to_direction(lon[None, :].expand(height, w), lat[:, None].expand(height, w))
    if turn is not None:
        dirs = dirs @ turn.T.to(dirs.dtype)
    sphere = F.grid_sample(vol[None], (0.9 * dirs)[None, None], mode="bilinear", align_corners=False)[:, :, 0]
    return sphere.clamp(0, 1)


def sphere_and_turned_from(path: Path, height: int, turn: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A real equirect and the same sphere turned by ``turn`` (e.g. ``pano.metrics.TURN``), both area-downscaled
    to ``height`` x ``2 * height``; the turn is made at the file's half resolution, so both are equally sharp."""
    from pano.io.image import read_image
    from pano.sphere import rotate_equirect

    big = read_image(path, mode="force-sphere", reduce=2).pixels
    turned = rotate_equirect(big, turn, mode="bicubic").clamp(0, 1)
    return tuple(F.interpolate(x, size=(height, 2 * height), mode="area").clamp(0, 1) for x in (big, turned))
