"""Optical flow between equirectangular frames, continuous across the ±180° seam.

The frames are padded with wrapped columns on both sides before the flow is computed (cv2 DIS or
Farnebäck), so motion that crosses the seam is seen as motion, and the padding is cropped again.
Flow is computed at a working width (``max_width``) and scaled back: flow is smooth, and this
keeps its cost small next to the filters.

Flow convention: ``flow[y, x] = (dx, dy)`` in pixels is where the pixel ``(x, y)`` of the
*target* frame came from in the *source* frame (``source[y + dy, x + dx] ≈ target[y, x]``),
which is what backward warping needs.
"""

from __future__ import annotations

from typing import Literal

import cv2
import numpy as np

FlowMethod = Literal["dis", "farneback"]


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB -> ``(H, W)`` uint8 luma."""
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _raw_flow(a: np.ndarray, b: np.ndarray, method: FlowMethod) -> np.ndarray:
    """Flow such that ``b[y, x] ≈ a[y + dy, x + dx]`` (cv2 computes prev->next; swap the frames)."""
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(b, a, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(b, a, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}: use dis or farneback")


def equirect_flow(
    source: np.ndarray,
    target: np.ndarray,
    method: FlowMethod = "dis",
    max_width: int = 1024,
    pad_frac: float = 0.125,
) -> np.ndarray:
    """Backward flow from ``target`` to ``source``, with wrap-around at ±180° longitude.

    Args:
        source: earlier frame, ``(H, W)`` uint8 gray or ``(H, W, 3)`` uint8 RGB.
        target: later frame, same size.
        method: ``dis`` (fast, default) or ``farneback``.
        max_width: compute at most at this width (the flow is rescaled to ``W``).
        pad_frac: wrapped columns added on each side, as a fraction of the width.

    Returns:
        ``(H, W, 2)`` float32 flow in pixels of the input size: ``(dx, dy)``.
    """
    a = to_gray(source) if source.ndim == 3 else source
    b = to_gray(target) if target.ndim == 3 else target
    h, w = a.shape
    scale = min(1.0, max_width / w)
    if scale < 1.0:
        size = (max(8, int(round(w * scale))), max(4, int(round(h * scale))))
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    sh, sw = a.shape
    pad = max(1, int(round(sw * pad_frac)))
    a_p = cv2.copyMakeBorder(a, 0, 0, pad, pad, cv2.BORDER_WRAP)
    b_p = cv2.copyMakeBorder(b, 0, 0, pad, pad, cv2.BORDER_WRAP)
    flow = _raw_flow(a_p, b_p, method)[:, pad : pad + sw]
    if (sw, sh) != (w, h):
        flow = cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / sw
        flow[..., 1] *= h / sh
    return np.ascontiguousarray(flow, dtype=np.float32)


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resample a flow field to ``width`` x ``height`` and scale its vectors to match."""
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    out = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= width / w
    out[..., 1] *= height / h
    return out


def warp_equirect(image: np.ndarray, flow: np.ndarray, interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Backward-warp ``image`` by ``flow``: ``out[y, x] = image[y + dy, x + dx]``.

    Longitude wraps (x modulo W, sampled across the seam); latitude clamps at the poles.

    Args:
        image: ``(H, W)`` or ``(H, W, C)`` array (uint8 or float32).
        flow: ``(H, W, 2)`` float32, same ``H, W`` (see :func:`resize_flow`).
        interpolation: ``cv2.INTER_LINEAR`` (default) or ``cv2.INTER_CUBIC`` (keeps pixel-scale
            detail, e.g. a dream's, where a half-pixel shift would blur it).
    """
    h, w = image.shape[:2]
    pad = 2
    padded = cv2.copyMakeBorder(image, 0, 0, pad, pad, cv2.BORDER_WRAP)
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    map_x = np.mod(xs + flow[..., 0], w).astype(np.float32) + pad
    map_y = np.clip(ys + flow[..., 1], 0, h - 1).astype(np.float32)
    return cv2.remap(padded, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)
