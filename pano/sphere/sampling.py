"""Sampling an equirect at arbitrary directions: wrap-around at ±180°, pole crossing, anti-aliasing.

Everything here is differentiable with respect to the image, so the adjoint (gathering gradients from
views back into the equirect) comes from autograd and inherits the anti-aliasing: a view pixel near a
pole spreads its gradient over all the equirect columns it covers, instead of a few (the "star").
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import direction_to_lonlat, equirect_lonlat


def pad_equirect(equi: Tensor, pad: int = 1) -> Tensor:
    """Pad an equirect by ``pad`` pixels on each side with its true neighbours on the sphere.

    Columns wrap around (±180°); the rows beyond a pole are the rows next to it seen from the other side,
    i.e. mirrored vertically and shifted by half a turn. Requires ``pad <= H`` and, for an exact pole
    shift, an even width.
    """
    w = equi.shape[-1]
    x = torch.cat([equi[..., -pad:], equi, equi[..., :pad]], dim=-1)
    top = torch.roll(x[..., :pad, :].flip(-2), w // 2, dims=-1)
    bottom = torch.roll(x[..., -pad:, :].flip(-2), w // 2, dims=-1)
    return torch.cat([top, x, bottom], dim=-2)


def box_filter_rows_circular(equi: Tensor, widths: Tensor) -> Tensor:
    """Circular horizontal box filter whose width (in pixels, ``>= 1``) varies per row, ``widths: (H,)``.

    Exact for the pixel-constant reconstruction (differences of a running sum, linearly interpolated),
    so a width of 1 is the identity and fractional widths are smooth. Widths are clipped to the image
    width (a full turn).
    """
    *lead, h, w = equi.shape
    widths = widths.to(equi.dtype).clamp(1.0, float(w)).reshape(h, 1)
    total = equi.sum(-1, keepdim=True)
    prefix = torch.cat([torch.zeros_like(equi[..., :1]), equi.cumsum(-1)], dim=-1)  # S[k] = sum of v[:k]

    centre = torch.arange(w, device=equi.device, dtype=equi.dtype) + 0.5

    def integral(t: Tensor) -> Tensor:  # continuous running sum at edge coordinates t, periodic extension
        turns = torch.floor(t / w)
        local = t - turns * w  # in [0, w)
        k = local.floor().clamp(0, w - 1)
        frac = (local - k).expand(*lead, h, w)
        k = k.long().expand(*lead, h, w)
        s_k = prefix.gather(-1, k)
        v_k = equi.gather(-1, k)
        return s_k + frac * v_k + turns.expand(*lead, h, w) * total

    half = widths / 2
    return (integral(centre + half) - integral(centre - half)) / widths


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
        lead = equi.shape[:-2]
        equi = F.interpolate(equi.reshape(-1, *equi.shape[-3:]) if equi.dim() != 4 else equi, size=(h2, w2), mode="bilinear", antialias=True, align_corners=False)
        equi = equi.reshape(*lead, h2, w2)
        h, w = h2, w2
    _, lat = equirect_lonlat(h, 1, device=equi.device, dtype=torch.float64)
    widths = (w * pixel_angle) / (2 * math.pi * lat[:, 0].cos())
    if float(widths.max()) <= 1.0:
        return equi
    return box_filter_rows_circular(equi, widths.to(equi.dtype))


def sample_equirect(equi: Tensor, directions: Tensor, *, pixel_angle: float | None = None, mode: str = "bilinear") -> Tensor:
    """Sample an equirect ``(B, C, H, W)`` at ``directions (*S, 3)`` (shared by the batch) -> ``(B, C, *S)``.

    Wraps around at ±180° and across the poles (no seam, no clamped rows). With ``pixel_angle`` (radians
    per output pixel), the equirect is first anti-aliased by :func:`prefilter_equirect`.
    """
    if pixel_angle is not None:
        equi = prefilter_equirect(equi, pixel_angle)
    b, c, h, w = equi.shape
    shape = directions.shape[:-1]
    d = directions.reshape(1, -1, 1, 3) if len(shape) != 2 else directions.reshape(1, *shape, 3)
    lon, lat = direction_to_lonlat(d.to(torch.float32 if equi.dtype in (torch.float16, torch.bfloat16) else equi.dtype))
    pad = 1 if mode != "bicubic" else 2
    padded = pad_equirect(equi, pad)
    px = (lon / (2 * math.pi) + 0.5) * w - 0.5 + pad  # pixel coordinates in the padded image
    py = (0.5 - lat / math.pi) * h - 0.5 + pad
    gx = (px + 0.5) / (w + 2 * pad) * 2 - 1
    gy = (py + 0.5) / (h + 2 * pad) * 2 - 1
    grid = torch.stack((gx, gy), -1).to(padded.dtype).expand(b, *gx.shape[1:], 2)
    out = F.grid_sample(padded, grid, mode=mode, padding_mode="border", align_corners=False)
    return out.reshape(b, c, *shape)
