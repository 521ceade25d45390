"""How much of the filtered world each output frame shows: fades and a keyframed strength curve.

The final frame is ``s·filtered + (1 - s)·raw`` with ``s`` in ``[0, 1]``: the product of a
fade-in ramp (0 -> 1 over the first seconds), a fade-out ramp (1 -> 0 over the last seconds) and
a piecewise-linear keyframe curve ``"t:s,t:s,..."`` (seconds of output time : strength).

Example:
    >>> curve = StrengthCurve(fps=10, frame_count=21, fade_in_s=1.0)
    >>> [round(curve(i), 2) for i in (0, 5, 10, 20)]
    [0.0, 0.5, 1.0, 1.0]
    >>> StrengthCurve(fps=1, frame_count=5, keyframes=parse_keyframes("0:0,2:1"))(1)
    0.5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pano.errors import InputError


def parse_keyframes(text: str) -> tuple[tuple[float, float], ...]:
    """``"0:0,2:1,8:1"`` -> ``((0.0, 0.0), (2.0, 1.0), (8.0, 1.0))`` sorted by time.

    Raises:
        InputError: not ``time:strength`` pairs, negative time, or strength outside ``[0, 1]``.
    """
    pairs = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            t_text, s_text = part.split(":")
            t, s = float(t_text), float(s_text)
        except ValueError as exc:
            raise InputError(
                f"bad --strength {text!r}: use seconds:strength pairs such as 0:0,2:1,8:1"
            ) from exc
        if t < 0 or not 0.0 <= s <= 1.0:
            raise InputError(f"bad --strength point {part!r}: time >= 0 and strength between 0 and 1")
        pairs.append((t, s))
    if not pairs:
        raise InputError("empty --strength: use seconds:strength pairs such as 0:0,2:1")
    return tuple(sorted(pairs))


@dataclass(frozen=True)
class StrengthCurve:
    """Strength of the filter for output frame ``i`` (call it).

    Args:
        fps: output frame rate.
        frame_count: number of output frames (for the fade-out).
        fade_in_s, fade_out_s: ramp lengths in seconds (0 = none).
        keyframes: from :func:`parse_keyframes` (``None`` = constant 1).
    """

    fps: float
    frame_count: int
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    keyframes: tuple[tuple[float, float], ...] | None = None

    def __call__(self, index: int) -> float:
        t = index / self.fps
        s = 1.0
        if self.fade_in_s > 0:
            s *= min(1.0, t / self.fade_in_s)
        if self.fade_out_s > 0:
            t_last = max(0, self.frame_count - 1) / self.fps
            s *= min(1.0, max(0.0, t_last - t) / self.fade_out_s)
        if self.keyframes:
            times, values = zip(*self.keyframes)
            s *= float(np.interp(t, times, values))
        return float(min(1.0, max(0.0, s)))


def mix(raw: np.ndarray, filtered: np.ndarray, strength: float) -> np.ndarray:
    """Crossfade two uint8 frames of one size: ``strength`` 1 returns ``filtered`` unchanged."""
    if strength >= 1.0:
        return filtered
    if strength <= 0.0:
        return raw
    out = filtered.astype(np.float32) * strength + raw.astype(np.float32) * (1.0 - strength)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)
