"""Stereo 360: the same dream in both eyes.

A filter run on each eye of a stereo frame on its own invents different details in each eye
(a dream's motifs, an upscaler's texture), and a headset shows that as binocular rivalry. The
consistent path instead:

1. estimates the disparity between the *input's* eyes: the backward flow from the right eye to
   the left one, wrap-aware across ±180° (:func:`pano.video.flow.equirect_flow`), with a trust mask
   from the forward-backward check and the photometric match (:func:`pano.video.coherence.confidence_mask`);
   this needs only the input, so the pipeline computes it on the decode thread;
2. runs the filter on the left eye (with temporal coherence, as a mono video);
3. warps the left eye's *output* onto the right eye along that disparity and hands it to the right
   eye as a carried frame with weight 1, ahead of the right eye's own previous frame
   (:func:`layer`): for dream it is the start image, and (whatever the blend mode) it replaces the
   output where trusted; what only
   the right eye sees (occlusions, the mask's low-trust pixels) is filtered anew from the right
   input, with the right eye's temporal carry.

:func:`stereo_mismatch` is the acceptance measure: mean ``|left - right|`` after warping the right
eye onto the left by the input's own disparity (Farnebäck), latitudes within ±45°.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Literal

import numpy as np

from pano.video.coherence import Carry, Motion, estimate_motion
from pano.video.eye import EyeFilter
from pano.video.flow import FlowMethod, equirect_flow, resize_flow, warp_equirect

#: ``consistent``: filter the left eye, carry it to the right along the disparity, finish the
#: right; ``separate``: each eye on its own (the baseline).
StereoEyes = Literal["consistent", "separate"]

#: Grey-level difference (0..255) between the eyes at which trust in the disparity falls to ``e^-1``.
#: Looser than between frames in time: two cameras differ a little in exposure and focus, and the
#: forward-backward check already catches occlusions.
STEREO_PHOTO_SIGMA = 24.0


def estimate_disparity(
    left: np.ndarray,
    right: np.ndarray,
    method: FlowMethod = "dis",
    max_flow_width: int = 768,
    photo_sigma: float = STEREO_PHOTO_SIGMA,
) -> Motion:
    """Where each right-eye pixel is found in the left eye, and how far to trust it.

    Args:
        left, right: ``(h, w, 3)`` uint8 input eyes.
        method: optical flow method.
        max_flow_width: flow working width.
        photo_sigma: see :data:`STEREO_PHOTO_SIGMA`.

    Returns:
        A :class:`pano.video.coherence.Motion` from the left eye to the right one: pass it to
        :func:`carry_across` (or :func:`pano.video.coherence.carry`) with the left eye's output.
    """
    return estimate_motion(left, right, method, max_flow_width, photo_sigma=photo_sigma)


def carry_across(disparity: Motion, left_out: np.ndarray) -> Carry:
    """The left eye's output warped onto the right eye (``(H, W, 3)`` uint8, any multiple of the input size).

    Bicubic, not bilinear as in time: the right eye keeps this for good (nothing is dreamed over it),
    and a bilinear half-pixel shift would blur a dream's pixel-scale detail in one eye only.
    """
    import cv2  # noqa: PLC0415

    height, width = left_out.shape[:2]
    flow = resize_flow(disparity.back, width, height)
    warped = np.clip(warp_equirect(left_out.astype(np.float32) / 255.0, flow, cv2.INTER_CUBIC), 0.0, 1.0)
    conf = disparity.confidence
    if conf.shape != (height, width):
        conf = cv2.resize(conf, (width, height), interpolation=cv2.INTER_LINEAR)
    return Carry(warped=warped, confidence=np.clip(conf, 0.0, 1.0)[..., None])


def with_disparity(
    items: Iterable[tuple[list[np.ndarray], list[Motion] | None]],
    start: int,
    enabled: bool,
    method: FlowMethod,
) -> Iterator[tuple[list[np.ndarray], list[Motion] | None, Motion | None]]:
    """``(eyes, motions)`` items with the disparity between the two eyes added (None for mono input,
    frames before ``start`` and when not ``enabled``). Runs on the decode thread."""
    for index, (eyes, motions) in enumerate(items):
        disparity = None
        if enabled and len(eyes) == 2 and index >= start:
            disparity = estimate_disparity(eyes[0], eyes[1], method)
        yield eyes, motions, disparity


def filter_stereo_pair(
    filt,
    left: np.ndarray,
    right: np.ndarray,
    *,
    seed: int = 0,
    eyes: StereoEyes = "consistent",
    method: FlowMethod = "dis",
) -> tuple[np.ndarray, np.ndarray]:
    """A stereo photo's two eyes through a sphere filter, the same dream in both (as for a video frame).

    Args:
        filt: a :class:`pano.filters.base.SphereFilter`.
        left, right: ``(h, w, 3)`` uint8 2:1 eyes.
        seed: the filter's seed (both eyes).
        eyes: ``consistent`` (left eye filtered, carried to the right, right finished) or ``separate``.
        method: flow method of the disparity.

    Returns:
        ``(left_out, right_out)``, uint8, the filter's output size.
    """
    eye_filter = EyeFilter(filt, seed=seed)
    left_out = eye_filter(0, left, None, None)
    across = carry_across(estimate_disparity(left, right, method), left_out) if eyes == "consistent" else None
    return left_out, eye_filter(0, right, None, None, across)


def stereo_mismatch(
    left_out: np.ndarray,
    right_out: np.ndarray,
    left_in: np.ndarray,
    right_in: np.ndarray,
    max_lat_deg: float = 45.0,
    method: FlowMethod = "farneback",
) -> float:
    """Mean ``|left - right|`` (0..255) of a stereo pair after warping the right eye onto the left by
    the *input's* disparity (bicubic), over latitudes within ``±max_lat_deg``.

    For the input itself (``left_out is left_in``) this is what is left of the eyes' difference once
    the disparity is followed (occlusions, flow error, the cameras' differences); a filter that keeps
    its eyes consistent stays close to that, one that dreams each eye apart does not.

    Args:
        left_out, right_out: ``(H, W, 3)`` uint8 output eyes (any multiple of the input size).
        left_in, right_in: ``(h, w, 3)`` uint8 input eyes.
        max_lat_deg: latitude band measured (the poles are squeezed and mostly sky or ground).
        method: flow method for the input's disparity (Farnebäck: independent of the pipeline's DIS).
    """
    import cv2  # noqa: PLC0415

    height, width = left_out.shape[:2]
    flow = equirect_flow(right_in, left_in, method, max_width=left_in.shape[1])
    warped = warp_equirect(right_out, resize_flow(flow, width, height), cv2.INTER_CUBIC)
    lat = (0.5 - (np.arange(height) + 0.5) / height) * 180.0
    rows = np.abs(lat) <= max_lat_deg
    diff = np.abs(left_out.astype(np.float32) - warped.astype(np.float32))
    return float(diff[rows].mean())


def change_per_eye(outputs: list[np.ndarray], inputs: list[np.ndarray]) -> list[float]:
    """Mean ``|output - input|`` (0..255) of each eye: how much the filter changed it (the output is
    compared with the input resampled to its size)."""
    import cv2  # noqa: PLC0415

    changes = []
    for out, inp in zip(outputs, inputs):
        if inp.shape != out.shape:
            inp = cv2.resize(inp, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_CUBIC)
        changes.append(float(np.mean(np.abs(out.astype(np.float32) - inp.astype(np.float32)))))
    return changes


__all__ = [
    "STEREO_PHOTO_SIGMA",
    "StereoEyes",
    "carry_across",
    "change_per_eye",
    "estimate_disparity",
    "filter_stereo_pair",
    "stereo_mismatch",
    "with_disparity",
]
