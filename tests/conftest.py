"""Shared fixtures: real data from ../shared/data (skipped cleanly when absent), seeds, devices."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))

torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))


def _data_dir(name: str) -> Path:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"shared data folder {folder} is absent")
    return folder


@pytest.fixture(scope="session")
def equirect_dir() -> Path:
    return _data_dir("equirect")


@pytest.fixture(scope="session")
def photosphere_dir() -> Path:
    return _data_dir("photosphere")


@pytest.fixture(scope="session")
def video360_dir() -> Path:
    return _data_dir("video360")


@pytest.fixture(scope="session")
def flowers_dir() -> Path:
    return _data_dir("flowers")


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
