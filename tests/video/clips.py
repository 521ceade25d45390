"""Helpers for the video tests: short 360 clips encoded with PyAV (real H.264 + AAC), a test filter."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np


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
    plus, with ``audio``, an AAC sine as long as the video."""
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
    encode_frames(path, [np.roll(base, 2 * i, axis=1) for i in range(frames)], fps, audio, crf=10)
    return path


class TintBlurNoise:
    """A cheap real filter: fixed colour matrix, 3x3 box blur, and noise from torch's global RNG
    (which the pipeline seeds with seed + frame index), so it is deterministic per frame but
    flickers from frame to frame like a dream does. ``scale`` > 1 upsamples (an 'upscaler')."""

    def __init__(self, noise: float = 0.25, scale: int = 1, fail_at: int | None = None, device: str = "cpu") -> None:
        import torch

        from pano.filters.base import FilterInfo

        self.info = FilterInfo("tint", scale=int(scale))
        self.device = torch.device(device)
        self.noise = float(noise)
        self.fail_at = fail_at
        self.calls = 0
        self.shapes: list[tuple[int, ...]] = []
        self.matrix = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.2, 0.0, 0.8]])

    def __call__(self, equi, progress=None):
        import torch
        import torch.nn.functional as F

        if self.fail_at is not None and self.calls >= self.fail_at:
            raise KeyboardInterrupt  # a simulated Ctrl-C in the middle of a run
        self.calls += 1
        self.shapes.append(tuple(equi.shape))
        y = torch.einsum("ij,bjhw->bihw", self.matrix, equi)
        y = F.avg_pool2d(F.pad(y, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
        y = y + self.noise * (torch.rand(y.shape[-2:], dtype=y.dtype) - 0.5)
        if self.info.scale > 1:
            y = F.interpolate(y, scale_factor=self.info.scale, mode="bilinear", align_corners=False)
        return y.clamp(0, 1)

    def params(self):
        return {"noise": self.noise, "scale": self.info.scale}


def read_frames(path: Path) -> list[np.ndarray]:
    from pano.io.video import iter_video_frames

    return list(iter_video_frames(path))


def encode_frames(
    path: Path, frames: list[np.ndarray], fps: int, audio: bool, sample_aspect: Fraction | None = None, crf: int = 12
) -> None:
    """Encode RGB ``frames`` as H.264 (+ an AAC sine as long as the video with ``audio``)."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = w, h, "yuv420p"
        if sample_aspect is not None:
            v.codec_context.sample_aspect_ratio = sample_aspect
        a = out.add_stream("aac", rate=44100) if audio else None
        if a is not None:
            a.layout = "mono"
        for i, f in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(f, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for p in v.encode(frame):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        if a is not None:
            n = int(44100 * len(frames) / fps)
            samples = (0.2 * np.sin(2 * np.pi * 330 * np.arange(n) / 44100)).astype(np.float32)[None]
            for s in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, s : s + 1024].copy(), format="fltp", layout="mono")
                af.sample_rate, af.pts, af.time_base = 44100, s, Fraction(1, 44100)
                for p in a.encode(af):
                    out.mux(p)
            for p in a.encode(None):
                out.mux(p)


class InitAware(TintBlurNoise):
    """A filter whose call takes ``init`` (like pano's dream) and ``seed``, and says so: records what it got."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.info = type(self.info)("init-aware", takes_init=True, takes_seed=True)
        self.inits: list[bool] = []
        self.seeds: list[int] = []

    def __call__(self, equi, progress=None, init=None, seed=None):
        self.inits.append(init is not None)
        self.seeds.append(seed)
        if init is not None:
            assert init.shape == equi.shape and 0 <= float(init.min()) and float(init.max()) <= 1
        return super().__call__(equi if init is None else init)
