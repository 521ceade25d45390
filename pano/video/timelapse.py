"""Timelapse input: a folder of photospheres, in name or capture-time order, as a frame source.

Images are sorted by file name or by EXIF ``DateTimeOriginal`` (then ``DateTime``, then name),
and every image becomes a full sphere of the first one's size (partial GPano panoramas are
placed at their true position). The frame rate is chosen by the caller
(``--fps``); the folder has no audio.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from pano.errors import InputError
from pano.io.header import IMAGE_EXTENSIONS as IMAGE_SUFFIXES
from pano.io.spherical import StereoMode
from pano.video.source import ASPECT_TOLERANCE, eye_size_for, fit

SortKey = Literal["name", "time"]
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 36867
_DATETIME = 306


def capture_time(path: Path) -> str | None:
    """EXIF capture time as ``"YYYY:MM:DD HH:MM:SS"`` (sortable), or None."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression-bomb header is refused by check_images, not here
            with Image.open(path) as im:
                exif = im.getexif()
                value = exif.get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL) or exif.get(_DATETIME)
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, ValueError, SyntaxError):
        return None
    return str(value).strip() if value else None


def list_images(folder: Path, sort: SortKey = "name") -> list[Path]:
    """The photospheres of ``folder`` in playback order.

    Raises:
        InputError: no images in the folder.
    """
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no .jpg/.png images found: give a folder of photospheres")
    if sort == "time":
        # images without EXIF time go last, in name order
        files.sort(key=lambda p: (capture_time(p) is None, capture_time(p) or "", p.name))
    elif sort != "name":
        raise InputError(f"unknown sort {sort!r}: use name or time")
    return files


def load_sphere_rgb(path: Path, width: int | None = None) -> np.ndarray:
    """A photosphere as a full-sphere ``(H, W, 3)`` uint8 RGB equirect (W = 2H).

    A partial panorama with GPano metadata is placed at its true position on the sphere (edges
    extended), through :func:`pano.io.image.read_image` and :func:`pano.sphere.partial.place_on_sphere`.

    Args:
        path: the image.
        width: full-sphere width to make (default: the image's own full width).

    Raises:
        InputError: unreadable, or neither 2:1 nor GPano-tagged.
    """
    from pano.io.image import read_image  # noqa: PLC0415
    from pano.sphere.partial import place_on_sphere  # noqa: PLC0415

    img = read_image(path, mode="sphere", for_width=width)  # one open, decoded only as large as width needs
    pixels = img.pixels
    if img.kind != "full" and img.geometry is not None:
        pixels, _ = place_on_sphere(pixels, img.geometry, full_width=width)
    arr = (pixels[0].permute(1, 2, 0).clamp(0, 1) * 255.0 + 0.5).to(torch.uint8).numpy()
    h, w = arr.shape[:2]
    if abs(w / h / 2.0 - 1.0) > ASPECT_TOLERANCE:  # pragma: no cover - read_image guarantees it
        raise InputError(f"{path}: {w}x{h} is not a full 2:1 photosphere: pad or crop it to 2:1 first")
    return arr


def check_images(files: list[Path]) -> None:
    """Every image's header checked before the run starts (not an image, other format, decompression
    bomb: one :class:`InputError`); truncated pixel data is found when the frame is decoded."""
    from pano.io.header import probe_image  # noqa: PLC0415

    for path in files:
        probe_image(path)


@dataclass
class FolderSource:
    """A folder of equirectangular photospheres as a :class:`pano.video.source.FrameSource`."""

    path: Path
    files: list[Path]
    fps: Fraction
    eye_size: tuple[int, int]
    layout: StereoMode = "mono"
    audio_path: Path | None = None
    spherical: None = None  # photospheres carry GPano, not video metadata

    @classmethod
    def open(
                cls,
        folder: str | os.PathLike,
        fps: Fraction | float = 24,
        every: int = 1,
        sort: SortKey = "name",
        width: int | None = None,
    ) -> FolderSource:
        """Open ``folder``; every image becomes a ``width``-wide sphere (default: the first image's)."""
        folder = Path(folder)
        files = list_images(folder, sort)[:: max(1, every)]
        check_images(files)
        if width is None:
            w = load_sphere_rgb(files[0]).shape[1]
        else:
            w = width
        return cls(path=folder, files=files, fps=Fraction(fps).limit_denominator(1001), eye_size=eye_size_for(w, w / 2))

    @classmethod
    def of_image(cls, path: str | os.PathLike, fps: Fraction | float = 24, width: int | None = None) -> FolderSource:
        """One photosphere as a one-frame source, read like every image (a truncated file is an error)."""
        path = Path(path)
        check_images([path])
        w = width if width is not None else load_sphere_rgb(path).shape[1]
        return cls(path=path, files=[path], fps=Fraction(fps).limit_denominator(1001), eye_size=eye_size_for(w, w / 2))

    @property
    def frame_count(self) -> int:
        return len(self.files)

    @property
    def duration_s(self) -> float:
        return float(len(self.files) / self.fps)

    def identity(self) -> dict:
        return {
            "folder": str(self.path.resolve()),
            "files": [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in self.files],
        }

    def eyes(self) -> Iterator[list[np.ndarray]]:
        for path in self.files:
            yield [fit(load_sphere_rgb(path, self.eye_size[0]), self.eye_size)]
