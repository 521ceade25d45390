"""Sampling an equirect at arbitrary directions: wrap-around at ±180°, pole crossing, anti-aliasing.

Everything here is differentiable with respect to the image, so the adjoint (gathering gradients from
views back into the equirect) comes from autograd and inherits the anti-aliasing: a view pixel near a
pole spreads its gradient over all the equirect columns it covers, instead of a few (the "star").
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import direction_to_lonlat, equirect_lonlat
from pano.sphere.padding import pad_equirect
from pano.sphere.resize import resize_equirect


@lru_cache(maxsize=8)
def _box_plan(h: int, w: int, widths: tuple[float, ...], device: str, dtype: torch.dtype):
    """Gather indices and weights of :func:`box_filter_rows_circular` for one geometry (cached: the same
    sphere size is filtered every step of a dream and every frame of a video)."""
    wid = torch.tensor(widths, dtype=torch.float64, device=device).clamp(1.0, float(w)).reshape(h, 1)
    centre = torch.arange(w, device=device, dtype=torch.float64) + 0.5
    plan = []
    for t in (centre + wid / 2, centre - wid / 2):
        turns = torch.floor(t / w)
        local = t - turns * w  # in [0, w)
        k = local.floor().clamp(0, w - 1)
        plan.append((k.long(), (local - k).to(dtype), turns.to(dtype)))
    return plan, wid.to(dtype)


def box_filter_rows_circular(equi: Tensor, widths: Tensor) -> Tensor:
    """Circular horizontal box filter whose width (in pixels, ``>= 1``) varies per row, ``widths: (H,)``.

    Exact for the pixel-constant reconstruction (differences of a running sum, linearly interpolated),
    so a width of 1 is the identity and fractional widths are smooth. Widths are clipped to the image
    width (a full turn).
    """
    *lead, h, w = equi.shape
    plan, wid = _box_plan(h, w, tuple(widths.double().tolist()), str(equi.device), equi.dtype)
    total = equi.sum(-1, keepdim=True)
    prefix = torch.cat([torch.zeros_like(equi[..., :1]), equi.cumsum(-1)], dim=-1)  # S[k] = sum of v[:k]

    def integral(k: Tensor, frac: Tensor, turns: Tensor) -> Tensor:  # running sum at edge coordinate, periodic
        k = k.expand(*lead, h, w)
        return prefix.gather(-1, k) + frac * equi.gather(-1, k) + turns * total

    return (integral(*plan[0]) - integral(*plan[1])) / wid


def prefilter_equirect(equi: Tensor, pixel_angle: float) -> Tensor:
    """Anti-alias an equirect for sampling at ``pixel_angle`` radians per output pixel.

    First an isotropic (antialiased bilinear) resize so a row is about one output pixel high, then a
    per-row circular box along longitude whose width grows as ``1 / cos(lat)``: near the poles an equirect
    row holds many more pixels per radian of arc than at the equator. A no-op where the equirect is
    already coarser than the output.
    """
    h, w = equi.shape[-2:]
    scale = pixel_angle / (math.pi / h)  # output pixel size in equirect rows
    if scale > 1.0:
        h2 = max(2, round(h / scale))
        w2 = max(2, round(w * h2 / h))
        w2 += w2 % 2
        equi = resize_equirect(equi, (h2, w2), mode="bilinear")  # antialiased, seamless at ±180° and the poles
        h, w = h2, w2
    _, lat = equirect_lonlat(h, 1, device="cpu", dtype=torch.float64)
    widths = (w * pixel_angle) / (2 * math.pi * lat[:, 0].cos())
    if float(widths.max()) <= 1.0:
        return equi
    return box_filter_rows_circular(equi, widths)


def equirect_grid(directions: Tensor, height: int, width: int, pad: int = 1) -> Tensor:
    """grid_sample coordinates (``align_corners=False``) of ``directions (*S, 3)`` in an equirect padded by
    :func:`pad_equirect`, shaped ``(1, M, N, 2)`` for ``S = (..., N)`` flattened to two dimensions."""
    shape = directions.shape[:-1]
    d = directions.reshape(1, -1, 1, 3) if len(shape) != 2 else directions.reshape(1, *shape, 3)
    lon, lat = direction_to_lonlat(d.float())
    px = (lon / (2 * math.pi) + 0.5) * width - 0.5 + pad  # pixel coordinates in the padded image
    py = (0.5 - lat / math.pi) * height - 0.5 + pad
    gx = (px + 0.5) / (width + 2 * pad) * 2 - 1
    gy = (py + 0.5) / (height + 2 * pad) * 2 - 1
    return torch.stack((gx, gy), -1)


def sample_equirect_grid(equi: Tensor, grid: Tensor, shape: tuple[int, ...], *, pad: int = 1, mode: str = "bilinear") -> Tensor:
    """Sample a padded-on-the-fly equirect at a precomputed :func:`equirect_grid` -> ``(B, C, *shape)``."""
    b, c = equi.shape[:2]
    padded = pad_equirect(equi, pad)
    grid = grid.to(padded.dtype).expand(b, *grid.shape[1:])
    return F.grid_sample(padded, grid, mode=mode, padding_mode="border", align_corners=False).reshape(b, c, *shape)


def sample_equirect(equi: Tensor, directions: Tensor, *, pixel_angle: float | None = None, mode: str = "bilinear") -> Tensor:
    """Sample an equirect ``(B, C, H, W)`` at ``directions (*S, 3)`` (shared by the batch) -> ``(B, C, *S)``.

    Wraps around at ±180° and across the poles (no seam, no clamped rows). With ``pixel_angle`` (radians
    per output pixel), the equirect is first anti-aliased by :func:`prefilter_equirect`.
    """
    if pixel_angle is not None:
        equi = prefilter_equirect(equi, pixel_angle)
    pad = 1 if mode != "bicubic" else 2
    grid = equirect_grid(directions, *equi.shape[-2:], pad)
    return sample_equirect_grid(equi, grid, tuple(directions.shape[:-1]), pad=pad, mode=mode)
