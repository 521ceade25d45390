"""Stereo photospheres through any sphere filter, the same result in both eyes: one code path for
``pano dream``, ``pano upscale``, ``pano beauty apply`` and ``pano mirage``.

A photo is read as one picture, cut into its two 2:1 eyes (:func:`read_stereo_photo`), run through
:func:`pano.video.stereo.filter_stereo_pair` (the left eye filtered, its output carried to the right eye
along the disparity between the *input's* eyes, wrap-aware, with the occlusion/consistency mask; the
right eye finished from there: a dream or a mirage starts from the carried image, an upscale or a
beauty repaint keeps the carried left output where it is trusted and its own output elsewhere), and
written in the same packing with a GPano block that describes one eye and names the packing in
``StereoMode`` (:func:`write_stereo_photo`), so the viewer and a second command read it back as stereo.
Stereo photos are 8-bit: a 16-bit input is processed and written at 8 bits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pano.errors import InputError
from pano.io.spherical import StereoMode
from pano.video.source import join_eyes, split_eyes
from pano.video.stereo import StereoEyes, filter_stereo_pair


@dataclass(frozen=True)
class StereoPhoto:
    """A stereo photosphere as read: the decoded file (EXIF, ICC, XMP for the output), its packing, its eyes."""

    image: Any  # pano.io.image.PanoImage, read as a flat picture
    layout: StereoMode
    eyes: tuple[np.ndarray, np.ndarray]  # left, right: (h, w, 3) uint8, 2:1

    @property
    def eye_size(self) -> tuple[int, int]:
        """``(width, height)`` of one eye."""
        h, w = self.eyes[0].shape[:2]
        return w, h


def read_stereo_photo(path: str | os.PathLike, layout: StereoMode, max_pixels: int | None = None) -> StereoPhoto:
    """Read a stereo photosphere packed in ``layout`` (``top-bottom``: left eye on top; ``left-right``).

    Raises:
        InputError: unreadable, or the picture does not hold two 2:1 eyes in that packing.
    """
    import torch  # noqa: PLC0415

    from pano.io.image import read_image  # noqa: PLC0415

    img = read_image(Path(path), mode="flat", max_pixels=max_pixels)
    rgb = (img.pixels[0, :3].clamp(0, 1).permute(1, 2, 0) * 255.0 + 0.5).to(torch.uint8).numpy()
    left, right = split_eyes(rgb, layout)
    eh, ew = left.shape[:2]
    if eh == 0 or abs(ew / eh - 2.0) > 0.02 or ew % 2:
        h, w = rgb.shape[:2]
        raise InputError(f"{path}: {w}x{h} does not hold two 2:1 eyes {layout}: check --stereo (or the file's GPano StereoMode)")
    return StereoPhoto(img, layout, (left, right))


def filter_stereo_photo(
    filt: Any, photo: StereoPhoto, *, seed: int = 0, eyes: StereoEyes = "consistent"
) -> tuple[np.ndarray, np.ndarray]:
    """Both eyes of ``photo`` through the sphere filter ``filt`` (``consistent``, or ``separate``: each eye
    on its own, the baseline); ``(left, right)`` uint8 at the filter's output size."""
    return filter_stereo_pair(filt, *photo.eyes, seed=seed, eyes=eyes)


def write_stereo_photo(
    eyes: tuple[np.ndarray, np.ndarray] | list[np.ndarray],
    photo: StereoPhoto,
    out_path: str | os.PathLike,
    *,
    overwrite: bool = False,
    xmp_extra: dict[str, str] | None = None,
) -> Path:
    """Write two uint8 eyes in ``photo``'s packing, atomically, with ``photo``'s EXIF and ICC and a GPano
    block for one eye (pose and other fields of the input's block kept) with ``StereoMode``."""
    from pano.io.gpano import parse_gpano  # noqa: PLC0415
    from pano.io.image import write_image  # noqa: PLC0415
    from pano.io.stereo import stereo_geometry  # noqa: PLC0415

    eh, ew = eyes[0].shape[:2]
    geometry = stereo_geometry(ew, eh, photo.layout, like=parse_gpano(photo.image.xmp))
    joined = np.ascontiguousarray(join_eyes(list(eyes), photo.layout))
    return write_image(joined, Path(out_path), like=photo.image, overwrite=overwrite, geometry=geometry,
                       xmp_extra=xmp_extra, sphere=True, bit_depth=8)


__all__ = ["StereoPhoto", "filter_stereo_photo", "read_stereo_photo", "write_stereo_photo"]
