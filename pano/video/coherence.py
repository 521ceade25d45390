"""Temporal coherence: carry the previous output onto the next frame along the optical flow.

For each new frame:

1. backward flow from the new input frame to the previous one (wrap-around at ±180°,
   :func:`pano.video.flow.equirect_flow`) and the forward flow, for a consistency check;
2. the previous *output* is warped onto the new frame;
3. a confidence mask in ``[0, 1]`` is low where the flow is unreliable: occlusions and
   disocclusions (forward-backward inconsistency) and pixels whose warped previous input does not
   match the new input (new content, lighting changes);
4. the warped previous output is blended in with weight ``blend * confidence``: into the filter's
   starting image (``init``), into its input, into its output, or (``both``) into the start image
   and the output. For DeepDream ``both`` keeps the most: the dream continues from the carried
   dream, and what it adds anew is smoothed (see ``benchmarks/video.py --flicker``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pano.video.flow import FlowMethod, equirect_flow, resize_flow, to_gray, warp_equirect

#: Where the carried output goes: the filter's start image (``init``), its input, its output, or
#: both the start image (or input) and the output (``both``).
BlendMode = Literal["init", "input", "output", "both"]


@dataclass(frozen=True)
class Carry:
    """The previous output warped onto the current frame, and how much to trust each pixel.

    Attributes:
        warped: ``(H, W, 3)`` float32 in ``[0, 1]``, at the output size.
        confidence: ``(H, W, 1)`` float32 in ``[0, 1]``, at the output size.
    """

    warped: np.ndarray
    confidence: np.ndarray

    def weight(self, blend: float) -> np.ndarray:
        return np.float32(blend) * self.confidence


def confidence_mask(
    prev_gray: np.ndarray,
    cur_gray: np.ndarray,
    back: np.ndarray,
    fwd: np.ndarray,
    photo_sigma: float = 12.0,
) -> np.ndarray:
    """Per-pixel trust in the warped previous frame, ``(H, W)`` float32 in ``[0, 1]``.

    Args:
        prev_gray, cur_gray: ``(H, W)`` uint8 frames.
        back: backward flow cur -> prev; ``fwd``: forward flow prev -> cur (same convention,
            see :mod:`pano.video.flow`).
        photo_sigma: grey-level difference (0..255) at which trust falls to ``e^-1``.
    """
    # Forward-backward consistency (Sundaram et al. 2010): following back then fwd returns home.
    fwd_at = warp_equirect(fwd, back)
    err = np.sum((back + fwd_at) ** 2, axis=-1)
    bound = 0.01 * (np.sum(back**2, -1) + np.sum(fwd_at**2, -1)) + 0.5
    consistent = (err <= bound).astype(np.float32)
    photo = np.abs(warp_equirect(prev_gray, back).astype(np.float32) - cur_gray.astype(np.float32))
    trust = np.exp(-photo / photo_sigma) * consistent
    # soften the mask edges a little so the blend leaves no hard outline
    import cv2  # noqa: PLC0415

    return cv2.GaussianBlur(trust, (0, 0), 1.0)


@dataclass(frozen=True)
class Motion:
    """How one input frame moved from the previous one (independent of any output).

    Attributes:
        back: ``(h, w, 2)`` float32 backward flow (current -> previous) at the flow working size,
            in pixels of that size.
        confidence: ``(h, w)`` float32 in ``[0, 1]`` at the same size.
    """

    back: np.ndarray
    confidence: np.ndarray


def estimate_motion(
    prev_in: np.ndarray,
    cur_in: np.ndarray,
    method: FlowMethod = "dis",
    max_flow_width: int = 768,
    photo_sigma: float = 12.0,
) -> Motion:
    """Flow and confidence between two input frames, at a working width of at most ``max_flow_width``.

    It needs only the input, so the pipeline computes it on the decode thread, ahead of the filter.

    Args:
        prev_in, cur_in: ``(h, w, 3)`` uint8 input frames (one eye).
        method: optical flow method.
        max_flow_width: flow working width (flow and confidence are smooth).
        photo_sigma: see :func:`confidence_mask` (the stereo path passes a looser one).
    """
    import cv2  # noqa: PLC0415

    a, b = to_gray(prev_in), to_gray(cur_in)
    h, w = a.shape
    if w > max_flow_width:
        size = (max_flow_width, max(4, int(round(h * max_flow_width / w))))
        a = cv2.resize(a, size, interpolation=cv2.INTER_AREA)
        b = cv2.resize(b, size, interpolation=cv2.INTER_AREA)
    back = equirect_flow(a, b, method, max_width=a.shape[1])
    fwd = equirect_flow(b, a, method, max_width=a.shape[1])
    return Motion(back=back, confidence=confidence_mask(a, b, back, fwd, photo_sigma))


def carry(motion: Motion, prev_out: np.ndarray) -> Carry:
    """Warp ``prev_out`` (``(H, W, 3)`` uint8, any multiple of the input size) along ``motion``."""
    import cv2  # noqa: PLC0415

    height, width = prev_out.shape[:2]
    warped = warp_equirect(prev_out, resize_flow(motion.back, width, height)).astype(np.float32) / 255.0
    conf = motion.confidence
    if conf.shape != (height, width):
        conf = cv2.resize(conf, (width, height), interpolation=cv2.INTER_LINEAR)
    return Carry(warped=warped, confidence=np.clip(conf, 0.0, 1.0)[..., None])


def carry_previous(
    prev_in: np.ndarray,
    cur_in: np.ndarray,
    prev_out: np.ndarray,
    method: FlowMethod = "dis",
    max_flow_width: int = 768,
) -> Carry:
    """Warp ``prev_out`` onto the frame ``cur_in`` and rate each pixel
    (:func:`estimate_motion` then :func:`carry`).

    Args:
        prev_in, cur_in: ``(h, w, 3)`` uint8 input frames (one eye).
        prev_out: ``(H, W, 3)`` uint8 previous output (``H, W`` = input size times the filter scale).
        method: optical flow method.
        max_flow_width: flow working width.

    Returns:
        The :class:`Carry` at the output size.
    """
    return carry(estimate_motion(prev_in, cur_in, method, max_flow_width), prev_out)


def blend(current: np.ndarray, carry: Carry, amount: float) -> np.ndarray:
    """``(1 - a·c)·current + a·c·warped`` with ``a = amount`` and ``c`` the confidence.

    Args:
        current: ``(H, W, 3)`` float32 in ``[0, 1]`` at the carry's size.
        carry: see :func:`carry_previous`.
        amount: the blend option in ``[0, 1]`` (0: no coherence, 1: keep all trusted pixels).
    """
    w = carry.weight(amount)
    return (1.0 - w) * current + w * carry.warped


def layer(carries: Iterable[tuple[Carry | None, float]]) -> Carry | None:
    """Stack carried frames, the first one on top, into one carry to blend with amount 1.

    Each ``(carry, amount)`` covers what the ones above left uncovered:
    ``w_k = amount_k · confidence_k · Π_{j<k} (1 - w_j)``; the result's confidence is ``Σ w_k`` and
    its image the ``w``-weighted mean, so ``blend(x, result, 1)`` is ``(1 - Σw)·x + Σ w_k·warped_k``.
    Carries that are None are skipped; None when all are.
    """
    present = [(item, amount) for item, amount in carries if item is not None]
    if len(present) == 1:
        item, amount = present[0]
        return Carry(warped=item.warped, confidence=np.float32(amount) * item.confidence)
    total: np.ndarray | None = None
    acc: np.ndarray | None = None
    for item, amount in present:
        w = np.float32(amount) * item.confidence
        if total is None:
            total, acc = w, w * item.warped
        else:
            w = w * (1.0 - total)
            total = total + w
            acc = acc + w * item.warped
    if total is None or acc is None:
        return None
    warped = np.where(total > 1e-6, acc / np.maximum(total, 1e-6), 0.0).astype(np.float32)
    return Carry(warped=warped, confidence=total.astype(np.float32))


def flicker(frames: list[np.ndarray]) -> float:
    """Mean absolute difference between consecutive frames (0..255 scale for uint8 input)."""
    if len(frames) < 2:
        return 0.0
    diffs = [np.mean(np.abs(b.astype(np.float32) - a.astype(np.float32))) for a, b in zip(frames, frames[1:])]
    return float(np.mean(diffs))


def flicker_ratio(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> float:
    """Flicker of the output relative to the input's own frame-to-frame change (1 = as calm as the input).

    The outputs may be larger than the inputs (upscaling); both are measured on their own size.
    """
    base = flicker(inputs)
    return flicker(outputs) / base if base > 0 else float("inf")
