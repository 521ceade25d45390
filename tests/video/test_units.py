"""Small pure pieces: eye layouts, strength curves (doctests included), filter-option parsing."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import pano.io.spherical
import pano.video.strength
from pano.errors import InputError
from pano.video.source import eye_size_for, join_eyes, split_eyes
from pano.video.strength import StrengthCurve, mix, parse_keyframes


@pytest.mark.parametrize("module", [pano.video.strength, pano.io.spherical])
def test_doctests(module) -> None:
    assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize("layout", ["mono", "top-bottom", "left-right"])
def test_split_join_round_trip(layout: str) -> None:
    frame = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    eyes = split_eyes(frame, layout)
    assert len(eyes) == (1 if layout == "mono" else 2)
    assert np.array_equal(join_eyes(eyes, layout), frame)


def test_eye_size_is_even_and_two_to_one() -> None:
    for w in (72, 1080, 1918, 641):
        ew, eh = eye_size_for(w, w / 2)
        assert ew == 2 * eh and ew % 4 == 0 and abs(ew - w) <= 2


def test_strength_curve_and_mix() -> None:
    curve = StrengthCurve(fps=10, frame_count=11, fade_in_s=0.5, fade_out_s=0.5, keyframes=parse_keyframes("0:1,1:0.5"))
    values = [curve(i) for i in range(11)]
    assert values[0] == 0.0 and values[10] == 0.0
    assert values[5] == pytest.approx(0.75)  # both fades done, keyframes halfway from 1 to 0.5
    a, b = np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 200, np.uint8)
    assert mix(a, b, 1.0) is b and mix(a, b, 0.0) is a and int(mix(a, b, 0.25)[0, 0, 0]) == 50
    for bad in ("1", "0:2", "-1:0", "a:b"):
        with pytest.raises(InputError):
            parse_keyframes(bad)
