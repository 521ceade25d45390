"""Fixtures for the video tests (helpers live in clips.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.video.clips import TintBlurNoise, encode_frames, make_clip


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture()
def silent_clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "silent.mp4", audio=False)


@pytest.fixture()
def tint_module(monkeypatch):
    """Registers ``pano_video_testfilters:make`` for ``pano video --filter``."""
    import sys
    import types

    module = types.ModuleType("pano_video_testfilters")
    module.make = lambda **kw: TintBlurNoise(**kw)
    monkeypatch.setitem(sys.modules, "pano_video_testfilters", module)
    return "pano_video_testfilters:make"


@pytest.fixture(scope="session")
def real_clip(video360_dir: Path, tmp_path_factory) -> Path:
    """12 frames of a real 360 clip (every 2nd frame from 4 s in), 128x64, with AAC audio."""
    import av

    src = video360_dir / "panolens_1941-battle-low.mp4"
    frames = []
    with av.open(str(src)) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= 100 and i % 2 == 0:
                frames.append(frame.to_ndarray(format="rgb24"))
            if len(frames) == 12:
                break
    import cv2

    small = [cv2.resize(f, (128, 64), interpolation=cv2.INTER_AREA) for f in frames]
    path = tmp_path_factory.mktemp("real") / "battle.mp4"
    encode_frames(path, small, fps=12, audio=True)
    return path
