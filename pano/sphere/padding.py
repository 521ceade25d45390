"""Padding an equirect with what lies beyond its borders on the sphere: columns wrap around ±180°, and the rows
beyond a pole are the rows next to it seen from the other side (mirrored, half a turn round). Resizing
(:mod:`pano.sphere.resize`), sampling (:mod:`pano.sphere.sampling`) and the upscaler's tiles all pad this way.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _reflect_rows(x: Tensor, n: int, top: bool) -> Tensor:
    h = x.shape[-2]
    if n == 0:
        return x[..., :0, :]
    idx = torch.arange(1, n + 1, device=x.device)
    idx = idx.remainder(2 * max(h - 1, 1))  # reflect repeatedly for very small images
    idx = torch.where(idx >= h, 2 * (h - 1) - idx, idx).clamp(0, h - 1)
    rows = idx.flip(0) if top else (h - 1 - idx)
    return x.index_select(-2, rows)


def pad_sphere(
    x: Tensor,
    top: int,
    bottom: int,
    left: int,
    right: int,
    *,
    wrap_x: bool = True,
    pole_top: bool = True,
    pole_bottom: bool = True,
) -> Tensor:
    """Pad an equirect image so that the padding continues the sphere.

    Args:
        x: ``(B, C, H, W)`` equirect (or a crop of one).
        top, bottom, left, right: pixels to add on each side (any size: wrapping repeats).
        wrap_x: the image spans 360° of longitude: pad circularly in x (else reflect).
        pole_top: the top row is the north pole (needs ``wrap_x``): the rows above it are the top rows
            flipped and rolled half a turn (else reflect).
        pole_bottom: the same for the south pole.

    Returns:
        ``(B, C, H + top + bottom, W + left + right)``.

    Example:
        >>> x = torch.arange(8.).view(1, 1, 2, 4)
        >>> pad_sphere(x, 1, 0, 1, 1)[0, 0].tolist()
        [[1.0, 2.0, 3.0, 0.0, 1.0, 2.0], [3.0, 0.0, 1.0, 2.0, 3.0, 0.0], [7.0, 4.0, 5.0, 6.0, 7.0, 4.0]]
    """
    h, w = x.shape[-2:]
    parts = []
    if top:
        if pole_top and wrap_x:
            rows = torch.arange(top, device=x.device).remainder(h).flip(0)
            parts.append(x.index_select(-2, rows).roll(w // 2, dims=-1))
        else:
            parts.append(_reflect_rows(x, top, True))
    parts.append(x)
    if bottom:
        if pole_bottom and wrap_x:
            rows = (h - 1 - torch.arange(bottom, device=x.device).remainder(h))
            parts.append(x.index_select(-2, rows).roll(w // 2, dims=-1))
        else:
            parts.append(_reflect_rows(x, bottom, False))
    x = torch.cat(parts, dim=-2) if len(parts) > 1 else x
    if left or right:
        if wrap_x:
            cols = torch.arange(-left, w + right, device=x.device).remainder(w)
            x = x.index_select(-1, cols)
        else:
            xt = x.transpose(-1, -2)
            x = torch.cat([_reflect_rows(xt, left, True), xt, _reflect_rows(xt, right, False)], dim=-2).transpose(-1, -2)
    return x


def pad_equirect(equi: Tensor, pad: int = 1) -> Tensor:
    """Pad a full-sphere equirect by ``pad`` pixels on each side with its true neighbours on the sphere
    (:func:`pad_sphere` on all four sides): columns wrap around ±180°, and the rows beyond a pole are the
    rows next to it seen from the other side, mirrored and shifted by half a turn (exact for even widths)."""
    return pad_sphere(equi, pad, pad, pad, pad)


__all__ = ["pad_equirect", "pad_sphere"]
