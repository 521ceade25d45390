"""Stereo photospheres: how a photo packs two eyes, read from and written to its GPano block.

A stereo photosphere holds two 2:1 equirect eyes in one picture, the left eye on top (``top-bottom``)
or on the left (``left-right``). Its GPano block describes one eye as the full sphere
(``FullPanoWidthPixels`` x ``FullPanoHeightPixels`` = the eye's size) and names the packing in
``GPano:StereoMode``, the field the viewer (:mod:`pano.viewer.media`) and ``pano dream``/``upscale``/
``beauty apply`` read. Videos say the same in their Spherical V1/V2 metadata (:mod:`pano.io.spherical`).

Example:
    >>> stereo_geometry(512, 256, "top-bottom").extra
    (('StereoMode', 'top-bottom'),)
"""

from __future__ import annotations

import os
from dataclasses import replace

from pano.errors import InputError
from pano.io.gpano import SphereGeometry, read_sphere_geometry
from pano.io.spherical import StereoMode

#: Every packing pano knows, ``mono`` first.
STEREO_MODES: tuple[str, ...] = ("mono", "top-bottom", "left-right")


def stereo_of_geometry(geometry: SphereGeometry | None) -> StereoMode:
    """The packing a GPano geometry names in ``StereoMode`` (``mono`` without one or for an unknown value)."""
    value = dict(geometry.extra).get("StereoMode", "mono").strip().lower() if geometry is not None else "mono"
    return value if value in STEREO_MODES else "mono"  # type: ignore[return-value]


def stereo_of_image(path: str | os.PathLike) -> StereoMode:
    """The packing a photo's GPano block names in ``StereoMode`` (headers only; ``mono`` without one,
    and for a file whose headers cannot be read)."""
    try:
        return stereo_of_geometry(read_sphere_geometry(path))
    except (InputError, OSError, ValueError):
        return "mono"


def photo_stereo(path: str | os.PathLike, given: str | None) -> StereoMode:
    """The packing to process a photo with: ``given`` (a command's ``--stereo``; ``mono`` forces one
    picture), else what its metadata says (:func:`stereo_of_image`)."""
    if given:
        return given  # type: ignore[return-value]
    return stereo_of_image(path)


def stereo_geometry(eye_width: int, eye_height: int, layout: StereoMode, like: SphereGeometry | None = None) -> SphereGeometry:
    """The GPano geometry of a stereo photo whose eyes are ``eye_width`` x ``eye_height``: one eye as the
    full sphere, ``StereoMode`` = ``layout``; pose, heading and other fields of ``like`` are kept."""
    full = SphereGeometry.full_sphere(eye_width, eye_height)
    extra = tuple((k, v) for k, v in (like.extra if like is not None else ()) if k != "StereoMode")
    if like is not None:
        full = replace(like, **{k: getattr(full, k) for k in
                                ("full_width", "full_height", "crop_left", "crop_top", "crop_width", "crop_height")},
                       use_panorama_viewer=True)
    return replace(full, extra=(*extra, ("StereoMode", layout)) if layout != "mono" else extra)


__all__ = ["STEREO_MODES", "photo_stereo", "stereo_geometry", "stereo_of_geometry", "stereo_of_image"]
