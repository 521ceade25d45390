"""Optical flow across the ±180° seam, warping, the confidence mask and the flicker measure."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pano.video.coherence import blend, carry_previous, flicker, flicker_ratio
from pano.video.flow import equirect_flow, resize_flow, warp_equirect


@pytest.fixture(scope="module")
def sphere(equirect_dir: Path) -> np.ndarray:
    bgr = cv2.imread(str(equirect_dir / "vrview_petra.jpg"))
    return cv2.cvtColor(cv2.resize(bgr, (256, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_yaw_turn_is_seen_across_the_seam(sphere: np.ndarray, method: str) -> None:
    """A camera yaw is a horizontal roll; the flow must see it at the seam columns as well."""
    moved = np.roll(sphere, 6, axis=1)  # moved[x] = sphere[x - 6]
    flow = equirect_flow(sphere, moved, method)
    band = flow[20:-20]  # leave out the poles, where there is little texture
    assert np.median(band[..., 0]) == pytest.approx(-6, abs=0.3)
    assert np.median(band[:, :4, 0]) == pytest.approx(-6, abs=0.5)  # left of the seam
    assert np.median(band[:, -4:, 0]) == pytest.approx(-6, abs=0.5)  # right of the seam
    warped = warp_equirect(sphere, flow)
    err = np.abs(warped[20:-20].astype(float) - moved[20:-20]).mean()
    assert err < 0.25 * np.abs(sphere[20:-20].astype(float) - moved[20:-20]).mean()


def test_warp_wraps_longitude_and_resize_scales_vectors() -> None:
    img = np.arange(8, dtype=np.float32)[None, :].repeat(4, 0)
    flow = np.zeros((4, 8, 2), np.float32)
    flow[..., 0] = -1.0  # every pixel comes from its left neighbour; column 0 from column 7
    out = warp_equirect(img, flow)
    assert out[0].tolist() == [7, 0, 1, 2, 3, 4, 5, 6]
    big = resize_flow(flow, 16, 8)
    assert big.shape == (8, 16, 2) and np.allclose(big[..., 0], -2.0)


def test_confidence_drops_where_new_content_appears(sphere: np.ndarray) -> None:
    cur = np.roll(sphere, 3, axis=1).copy()
    cur[50:80, 100:140] = (255, 0, 255)  # an object that was not in the previous frame
    prev_out = 255 - sphere  # some 'filtered' previous frame
    carry = carry_previous(sphere, cur, prev_out)
    conf = carry.confidence[..., 0]
    assert conf[55:75, 105:135].mean() < 0.2
    assert conf[20:45, 10:90].mean() > 0.6
    # the carried output follows the motion: compare with the ideal (rolled) previous output
    ideal = np.roll(prev_out, 3, axis=1).astype(np.float32) / 255
    good = conf > 0.8
    assert np.abs(carry.warped - ideal)[good].mean() < 0.05
    mixed = blend(np.zeros_like(carry.warped), carry, 1.0)
    assert np.allclose(mixed, carry.warped * carry.confidence)


def test_flicker_measure() -> None:
    still = [np.full((4, 8, 3), 100, np.uint8)] * 3
    flashing = [np.full((4, 8, 3), v, np.uint8) for v in (100, 110, 100)]
    assert flicker(still) == 0.0
    assert flicker(flashing) == pytest.approx(10.0)
    assert flicker_ratio(flashing, [np.full((4, 8, 3), v, np.uint8) for v in (0, 5, 10)]) == pytest.approx(2.0)
