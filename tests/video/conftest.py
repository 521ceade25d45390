"""Fixtures for the video tests: short 360 clips encoded here with PyAV (real H.264 + AAC)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest


def make_clip(
    path: Path,
    width: int = 128,
    height: int = 64,
    frames: int = 8,
    fps: int = 10,
    audio: bool = True,
    source: np.ndarray | None = None,
) -> Path:
    """Encode a short clip: a texture (``source`` or a synthetic one) panning right by 2 px a frame,
    plus, with ``audio``, a 440 Hz AAC sine as long as the video."""
    import av

    rng = np.random.default_rng(0)
    if source is None:
        yy, xx = np.mgrid[0:height, 0:width]
        base = np.stack(
            [
                127 + 100 * np.sin(2 * np.pi * xx / width * 3),
                127 + 100 * np.cos(2 * np.pi * yy / height * 2),
                rng.integers(0, 255, (height, width)),
            ],
            -1,
        ).astype(np.uint8)
    else:
        base = source
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"crf": "10", "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        a = None
        if audio:
            a = out.add_stream("aac", rate=44100)
            a.layout = "mono"
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(np.roll(base, 2 * i, axis=1).copy(), format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            n = int(44100 * frames / fps)
            t = np.arange(n) / 44100
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            chunk = 1024
            for s in range(0, n, chunk):
                af = av.AudioFrame.from_ndarray(samples[:, s : s + chunk].copy(), format="fltp", layout="mono")
                af.sample_rate = 44100
                af.pts = s
                af.time_base = Fraction(1, 44100)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)
    return path


@pytest.fixture()
def clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture()
def silent_clip(tmp_path: Path) -> Path:
    return make_clip(tmp_path / "silent.mp4", audio=False)
