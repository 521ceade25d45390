"""Resizing an equirect as a sphere: the one resize pano uses wherever an equirect changes size.

A plain image resize (``F.interpolate``, PIL, OpenCV) treats the left and right borders of an equirect as
the ends of the world and clamps there, which leaves a seam at ±180° whenever the size changes; it also
clamps at the poles, where the rows beyond the top row are really the top rows half a turn away.
:func:`resize_equirect` is a separable resampling (bicubic or bilinear, antialiased when shrinking, like
``F.interpolate(..., antialias=True)`` away from the borders) whose taps wrap around in longitude and cross
the poles (:func:`pano.sphere.padding.pad_sphere`'s convention). It works in bands, so the temporaries stay
small next to the image even for 14000x7000 spheres.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from pano.sphere.padding import pad_sphere

_BAND_ELEMENTS = 1 << 23  # elements per band of the temporaries (32 MB of float32)


def _kernel(t: Tensor, mode: str) -> Tensor:
    t = t.abs()
    if mode == "bilinear":
        return (1 - t).clamp_min(0)
    a = -0.5  # the cubic of PIL and of torch's antialiased bicubic
    return torch.where(
        t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1, torch.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, torch.zeros_like(t))
    )


def _taps(n_in: int, n_out: int, mode: str) -> tuple[Tensor, Tensor]:
    """Source indices (unwrapped: may lie outside ``[0, n_in)``) and normalised weights, ``(n_out, K)`` each,
    of a resampling from ``n_in`` to ``n_out`` pixels (pixel centres at ``i + 0.5``, like ``align_corners=False``)."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)  # shrinking: the kernel widens (antialiasing)
    support = (2.0 if mode == "bicubic" else 1.0) * stretch
    centre = (torch.arange(n_out, dtype=torch.float64) + 0.5) * scale
    first = torch.floor(centre - support).long()
    k = int(math.ceil(2 * support)) + 1
    idx = first[:, None] + torch.arange(k)
    weight = _kernel((idx.double() + 0.5 - centre[:, None]) / stretch, mode)
    weight = weight / weight.sum(1, keepdim=True)
    keep = weight.abs().amax(0) > 0  # drop taps that are zero for every output pixel
    return idx[:, keep], weight[:, keep]


def _resize_cols(x: Tensor, width: int, mode: str, wrap_x: bool) -> Tensor:
    *lead, h, w = x.shape
    idx, weight = _taps(w, width, mode)
    idx = idx.remainder(w) if wrap_x else idx.clamp(0, w - 1)
    idx, weight = idx.to(x.device), weight.to(x.device, x.dtype)
    out = x.new_empty(*lead, h, width)
    lead_n = max(1, math.prod(lead))
    band = max(1, _BAND_ELEMENTS // (lead_n * max(width, w)))
    for r0 in range(0, h, band):
        src = x[..., r0 : r0 + band, :]
        acc = src.index_select(-1, idx[:, 0]) * weight[:, 0]
        for k in range(1, idx.shape[1]):
            acc.add_(src.index_select(-1, idx[:, k]) * weight[:, k])
        out[..., r0 : r0 + band, :] = acc
    return out


def _resize_rows(x: Tensor, height: int, mode: str, wrap_x: bool, pole_top: bool, pole_bottom: bool) -> Tensor:
    *lead, h, w = x.shape
    idx, weight = _taps(h, height, mode)
    top, bottom = max(0, -int(idx.min())), max(0, int(idx.max()) - h + 1)
    weight = weight.to(x.device, x.dtype)
    lead_n = max(1, math.prod(lead))
    out = x.new_empty(*lead, height, w)
    if top + bottom > h // 2:  # a tiny image: pad it whole (the rows beyond a pole may wrap more than once)
        padded = pad_sphere(x, top, bottom, 0, 0, wrap_x=wrap_x, pole_top=pole_top, pole_bottom=pole_bottom)
        rows = (idx + top).to(x.device)
        acc = padded.index_select(-2, rows[:, 0]) * weight[:, 0, None]
        for k in range(1, idx.shape[1]):
            acc.add_(padded.index_select(-2, rows[:, k]) * weight[:, k, None])
        return acc
    # the rows beyond each pole, as pad_sphere makes them (only those few rows are copied)
    above = pad_sphere(x[..., : max(top, 1), :], top, 0, 0, 0, wrap_x=wrap_x, pole_top=pole_top)[..., :top, :]
    below = pad_sphere(x[..., h - max(bottom, 1) :, :], 0, bottom, 0, 0, wrap_x=wrap_x, pole_bottom=pole_bottom)
    below = below[..., below.shape[-2] - bottom :, :]
    rows = (idx + top).to(x.device)
    band = max(1, _BAND_ELEMENTS // (lead_n * max(height, h + top + bottom)))
    for c0 in range(0, w, band):
        c = slice(c0, c0 + band)
        src = torch.cat([above[..., c], x[..., c], below[..., c]], dim=-2) if top or bottom else x[..., c]
        acc = src.index_select(-2, rows[:, 0]) * weight[:, 0, None]
        for k in range(1, idx.shape[1]):
            acc.add_(src.index_select(-2, rows[:, k]) * weight[:, k, None])
        out[..., c] = acc
    return out


def resize_equirect(
    equi: Tensor,
    size: tuple[int, int],
    *,
    mode: str = "bicubic",
    wrap_x: bool = True,
    pole_top: bool = True,
    pole_bottom: bool = True,
) -> Tensor:
    """Resize an equirect ``(..., H, W)`` to ``size = (height, width)`` as a sphere.

    Columns wrap around ±180°, the rows beyond a pole are the rows next to it half a turn away (as
    :func:`pano.sphere.padding.pad_sphere`), and shrinking is antialiased (the kernel widens by the
    shrink factor, as ``F.interpolate(..., antialias=True)``). Away from the borders the result equals
    ``F.interpolate(equi, size, mode=mode, antialias=True, align_corners=False)``.

    Args:
        equi: float tensor, any device; ``(..., H, W)``.
        size: ``(height, width)`` of the result.
        mode: ``"bicubic"`` (sharp; may overshoot by a few per cent at hard edges: clamp if needed) or
            ``"bilinear"``.
        wrap_x: the image spans 360° of longitude (else the columns are clamped at the borders, as for a
            crop of a sphere).
        pole_top, pole_bottom: the top/bottom row is a pole (needs ``wrap_x``; else clamped).

    Returns:
        ``(..., height, width)``, same dtype (fp16/bf16 are computed in fp32) and device.

    Example:
        >>> x = torch.rand(1, 3, 50, 100)
        >>> resize_equirect(x, (64, 128)).shape
        torch.Size([1, 3, 64, 128])
    """
    if mode not in ("bicubic", "bilinear"):
        raise ValueError(f"mode must be 'bicubic' or 'bilinear', got {mode!r}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise ValueError(f"size must be positive, got {size}")
    h, w = equi.shape[-2:]
    if (h, w) == (height, width):
        return equi
    dtype = equi.dtype
    x = equi.float() if dtype in (torch.float16, torch.bfloat16) else equi
    if not x.is_floating_point():
        raise ValueError(f"resize_equirect needs a float tensor, got {dtype}")
    rows_first = height / h <= width / w  # shrink the axis that shrinks most first: less work after it
    if rows_first:
        x = _resize_rows(x, height, mode, wrap_x, pole_top, pole_bottom) if height != h else x
        x = _resize_cols(x, width, mode, wrap_x) if width != w else x
    else:
        x = _resize_cols(x, width, mode, wrap_x) if width != w else x
        x = _resize_rows(x, height, mode, wrap_x, pole_top, pole_bottom) if height != h else x
    return x.to(dtype)
