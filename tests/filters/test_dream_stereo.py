"""``pano dream --stereo``: a stereo photosphere gets the same dream in both eyes.

Measured as for stereo video (:func:`pano.video.stereo.stereo_mismatch`): the output's left/right
mismatch stays within 1.3x the input's own, each eye is changed at least 80 % as much as by dreaming
the eyes one by one, and that eye-by-eye baseline fails the same measure.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from tests._stereo import eyes_of, stereo_eyes
from pano.cli import cli
from pano.video.source import join_eyes
from pano.video.stereo import change_per_eye, filter_stereo_pair, stereo_mismatch

W = 256


def _stereo_photo(equirect_dir: Path, path: Path, layout: str) -> None:
    """A far background (disparity 2 px) and a near box (8 px) from two real photospheres, saved as a
    camera would (JPEG quality 90)."""
    joined = join_eyes(list(stereo_eyes(equirect_dir, W, 2, 8)), layout)
    cv2.imwrite(str(path), cv2.cvtColor(joined, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])


@pytest.mark.parametrize("layout", ["top-bottom", "left-right"])
def test_stereo_photo_same_dream_in_both_eyes(equirect_dir: Path, tmp_path: Path, layout: str) -> None:
    src, out = tmp_path / "stereo.jpg", tmp_path / "dreamed.png"
    _stereo_photo(equirect_dir, src, layout)
    args = ["dream", str(src), "--stereo", layout, "--preset", "intense", "--size", "128", "--steps", "3", "--octaves", "1"]
    result = CliRunner().invoke(cli, [*args, "--device", "cpu", "-o", str(out), "-q"])
    assert result.exit_code == 0, result.output
    inputs, got = eyes_of(src, layout), eyes_of(out, layout)
    assert got[0].shape == inputs[0].shape == (W // 2, W, 3)

    from pano.filters.registry import make_dream

    filt = make_dream(device="cpu", preset="intense", size=128, steps=3, octaves=1)
    sep = filter_stereo_pair(filt, *inputs, eyes="separate")  # the baseline: each eye on its own
    m_in, m_sep, m_out = (stereo_mismatch(*pair, *inputs) for pair in (inputs, sep, got))
    numbers = (m_in, m_sep, m_out, change_per_eye(got, inputs), change_per_eye(list(sep), inputs))
    assert m_sep > 1.3 * m_in and m_out <= 1.3 * m_in, numbers
    assert all(c >= 0.8 * s for c, s in zip(change_per_eye(got, inputs), change_per_eye(list(sep), inputs))), numbers


def test_stereo_photo_that_is_not_two_eyes_is_one_line_exit_2(equirect_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "tb.jpg"
    _stereo_photo(equirect_dir, src, "top-bottom")  # 256x256: not two 2:1 eyes side by side
    result = CliRunner().invoke(cli, ["dream", str(src), "--stereo", "left-right", "-o", str(tmp_path / "x.png")])
    assert result.exit_code == 2 and "--stereo" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "x.png").exists()
