"""Stereo test material: two 2:1 eyes with a known disparity, made from real photospheres."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from pano.video.source import split_eyes


def stereo_eyes(equirect_dir: Path, width: int, far: int, near: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB left and right eyes of ``width`` x ``width/2``: a far background (vrview_petra, disparity ``far``
    px) and a near box (panolens_building, disparity ``near`` px; longitudes -60°..20°, latitudes within
    ±40°). The right eye is the left one shifted by the disparities, wrapping across ±180°."""
    background, box_photo = (
        cv2.cvtColor(cv2.resize(cv2.imread(str(equirect_dir / n)), (width, width // 2), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)
        for n in ("vrview_petra.jpg", "panolens_building.jpg")
    )
    lat = (0.5 - (np.arange(width // 2) + 0.5) / (width // 2)) * 180
    lon = (np.arange(width) + 0.5) / width * 360 - 180
    box = (np.abs(lat) < 40)[:, None] & ((lon > -60) & (lon < 20))[None, :]

    def view(d_far: int, d_near: int) -> np.ndarray:
        inside = np.roll(box, -d_near, 1)[..., None]
        return np.where(inside, np.roll(box_photo, -d_near, 1), np.roll(background, -d_far, 1))

    return view(0, 0), view(far, near)


def eyes_of(path: Path, layout: str) -> list[np.ndarray]:
    """The RGB eyes of a stereo image file in ``layout``."""
    return split_eyes(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB), layout)
