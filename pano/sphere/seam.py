"""Repairing the ±180° seam that some stitched panoramas carry in their pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def soften_wrap_seam(equi: Tensor, band: int | None = None, *, out: Tensor | None = None) -> Tensor:
    """Spread the per-row step between the last and the first column over a band on both sides of ±180°.

    Many stitchers leave a small colour or exposure step where the image wraps around. The step of each row
    (each side extrapolated linearly to the seam line, so the image's own slope is not mistaken for a step;
    smoothed over 5 rows against noise) is split in halves that fade out smoothly over ``band`` columns
    (default ``W / 128``, at least 4) into the image, so the two sides meet; nothing else changes.

    Args:
        equi: ``(B, C, H, W)`` full-sphere equirect.
        band: width of the correction on each side, in columns.
        out: add the correction (measured on ``equi``) to this tensor of the same shape, in place, instead
            of to a copy of ``equi`` (e.g. to an image made from ``equi``, without a full-size copy).

    Returns:
        The repaired equirect (a new tensor, or ``out``; unchanged below 4 columns).
    """
    w = equi.shape[-1]
    band = max(4, w // 128) if band is None else band
    band = min(band, w // 4)
    if band < 1 or w < 2:  # too narrow to hold a seam and a band beside it (a 1- to 3-column image)
        return equi.clone()
    left = 1.5 * equi[..., :, :1] - 0.5 * equi[..., :, 1:2]  # the first column extrapolated to the seam
    right = 1.5 * equi[..., :, -1:] - 0.5 * equi[..., :, -2:-1]
    step = left - right  # (B, C, H, 1)
    b, c, h, _ = step.shape
    step = F.avg_pool1d(F.pad(step.reshape(b * c, 1, h), (2, 2), mode="replicate"), 5, stride=1).reshape(b, c, h, 1)
    t = (torch.arange(band, device=equi.device, dtype=equi.dtype) + 0.5) / band
    fade = 0.5 * (1 - t) ** 2 * (1 + 2 * t)  # smoothstep from 1/2 at the seam down to 0
    out = equi.clone() if out is None else out
    out[..., :band] -= step * fade
    out[..., w - band :] += step * fade.flip(-1)
    return out
