"""Where frames come from: a 360 video (mono or stereo) as a stream of square-pixel 2:1 eyes.

A :class:`FrameSource` yields, for each kept frame, a list of eyes (one for mono, two for
stereo, left eye first), each ``(eye_height, eye_width, 3)`` uint8 RGB with ``eye_width =
2 * eye_height`` and both even. Stereo frames are split by their layout and each eye resampled to
square pixels at the *larger* of its two sample densities, so no sample is thrown away: a
1920x1080 top-bottom video with pixel aspect 9:16 stores 1920 samples per 360° across and 540 per
180° down, and gives two 1920x960 eyes (not 1080x540, which would drop 44 % of each row).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from pano.errors import InputError
from pano.io.spherical import SphericalMetadata, StereoMode
from pano.io.video import MP4_AUDIO_CODECS, DecodeReport, VideoInfo, iter_video_frames, probe_video

#: Relative tolerance on the 2:1 aspect ratio of an input without 360 metadata.
ASPECT_TOLERANCE = 0.02


class FrameSource(Protocol):
    path: Path
    fps: Fraction
    frame_count: int  # frames that will be yielded (estimated for some videos)
    layout: StereoMode
    eye_size: tuple[int, int]  # (width, height) of each eye, 2:1, even
    audio_path: Path | None
    duration_s: float
    spherical: SphericalMetadata | None  # the input's 360 metadata, None when it has none

    def identity(self) -> dict: ...

    def eyes(self) -> Iterator[list[np.ndarray]]: ...


def eye_size_for(width: float, height: float) -> tuple[int, int]:
    """A 2:1 even eye size close to a display size: width a multiple of 4, height half of it."""
    w = max(4, int(round(width / 4.0)) * 4)
    return w, w // 2


def eye_width_for(coded_width: int, coded_height: int, layout: StereoMode) -> int:
    """Samples per 360° of one eye at the denser of its two axes: an eye coded ``w`` x ``h``
    (whatever its pixel aspect) holds ``w`` samples per 360° across and ``2 h`` per 360° down."""
    w, h = coded_width, coded_height
    if layout == "top-bottom":
        h //= 2
    elif layout == "left-right":
        w //= 2
    return max(w, 2 * h)


def split_eyes(frame: np.ndarray, layout: StereoMode) -> list[np.ndarray]:
    """Cut a frame into its eyes (left eye first)."""
    h, w = frame.shape[:2]
    if layout == "top-bottom":
        return [frame[: h // 2], frame[h // 2 : 2 * (h // 2)]]
    if layout == "left-right":
        return [frame[:, : w // 2], frame[:, w // 2 : 2 * (w // 2)]]
    return [frame]


def join_eyes(eyes: list[np.ndarray], layout: StereoMode) -> np.ndarray:
    """Inverse of :func:`split_eyes` for eyes of one size."""
    if layout == "top-bottom":
        return np.concatenate(eyes, axis=0)
    if layout == "left-right":
        return np.concatenate(eyes, axis=1)
    return eyes[0]


def fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resample an equirect eye ``image`` (H, W) or (H, W, C) to ``size`` = (width, height) as a sphere
    (:func:`pano.sphere.resize.resize_equirect`: bicubic, antialiased down, seamless at ±180° and the poles);
    uint8 stays uint8, anything else comes back float32."""
    h, w = image.shape[:2]
    if (w, h) == size:
        return np.ascontiguousarray(image)
    import torch

    from pano.sphere.resize import resize_equirect

    x = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    x = x[None] if x.dim() == 2 else x.permute(2, 0, 1)
    y = resize_equirect(x, (size[1], size[0]))
    y = y[0] if image.ndim == 2 else y.permute(1, 2, 0)
    if image.dtype == np.uint8:
        return y.round_().clamp_(0, 255).to(torch.uint8).contiguous().numpy()
    return y.contiguous().numpy()


@dataclass
class VideoSource:
    """A 360 video file as a :class:`FrameSource`.

    Raises (from :meth:`open`):
        InputError: no video stream, unreadable, a non-equirect projection, or a frame that is
            not 2:1 per eye and has no 360 metadata.
    """

    info: VideoInfo
    every: int
    layout: StereoMode
    eye_size: tuple[int, int]

    @classmethod
    def open(cls, path: str | os.PathLike, every: int = 1, width: int | None = None) -> VideoSource:
        """Probe ``path``; ``width`` resamples each eye to ``width`` x ``width/2`` (default: its own size)."""
        info = probe_video(path)
        meta = info.spherical
        if meta.projection not in (None, "equirectangular"):
            raise InputError(f"{info.path}: {meta.projection} projection is not supported: convert to equirectangular")
        layout: StereoMode = meta.stereo if meta.is_spherical else "mono"
        dw, dh = info.display_size
        ew, eh = (dw, dh / 2) if layout == "top-bottom" else (dw / 2, dh) if layout == "left-right" else (dw, dh)
        if not meta.is_spherical and abs(ew / eh / 2.0 - 1.0) > ASPECT_TOLERANCE:
            raise InputError(
                f"{info.path}: frames are {info.width}x{info.height}, not 2:1, and the file has no 360 "
                "metadata: give pano an equirectangular 360 video"
            )
        ew = float(width) if width else float(eye_width_for(info.width, info.height, layout))
        return cls(info=info, every=max(1, every), layout=layout, eye_size=eye_size_for(ew, ew / 2))

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def fps(self) -> Fraction:
        return self.info.fps

    @property
    def frame_count(self) -> int:
        return (self.info.frame_count + self.every - 1) // self.every

    @property
    def audio_path(self) -> Path | None:
        """The file whose audio can be copied into an MP4 (None: no audio, or a codec MP4 cannot hold)."""
        return self.info.path if self.info.audio_codec in MP4_AUDIO_CODECS else None

    @property
    def duration_s(self) -> float:
        return self.info.duration_s

    @property
    def spherical(self) -> SphericalMetadata | None:
        return self.info.spherical if self.info.spherical.is_spherical else None

    def identity(self) -> dict:
        st = self.info.path.stat()
        return {"path": str(self.info.path.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns}

    def eyes(self) -> Iterator[list[np.ndarray]]:
        self.report = DecodeReport()
        for frame in iter_video_frames(self.info.path, self.every, self.report):
            yield [fit(e, self.eye_size) for e in split_eyes(frame, self.layout)]

    def shortfall(self) -> str | None:
        """A one-line warning when the last :meth:`eyes` pass ended before the container's end (see
        :meth:`pano.io.video.DecodeReport.shortfall`), else None."""
        report = getattr(self, "report", None)
        return report.shortfall(self.info) if report is not None else None
