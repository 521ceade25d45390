"""Fixtures for the viewer tests: synthetic spheres with known colours, a tiny H.264 clip, a
partial (GPano) photosphere, a running server and one headless Chromium per test module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.viewer._viewdata import CHROMIUM, CHROMIUM_ARGS, ORANGE, PARTIAL_EAST, PARTIAL_WEST, quadrant_sphere, write_clip  # noqa: E402


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with sphere.png + sphere_dream.png (a pair), partial.jpg (GPano crop) and clip.mp4."""
    from pano.io.gpano import SphereGeometry, gpano_xmp

    folder = tmp_path_factory.mktemp("view_media")
    Image.fromarray(quadrant_sphere()).save(folder / "sphere.png")
    Image.new("RGB", (256, 128), ORANGE).save(folder / "sphere_dream.png")

    # Partial photosphere: a 128x64 crop covering lon -90..90, lat -45..45 of a 256x128 sphere,
    # west half one colour, east half another.
    crop = np.zeros((64, 128, 3), np.uint8)
    crop[:, :64] = PARTIAL_WEST
    crop[:, 64:] = PARTIAL_EAST
    geom = SphereGeometry(256, 128, 64, 32, 128, 64)
    Image.fromarray(crop).save(folder / "partial.jpg", quality=95, xmp=gpano_xmp(geom))

    write_clip(folder / "clip.mp4")
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """One headless Chromium (SwiftShader WebGL) for the whole test module."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()
