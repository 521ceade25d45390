"""The rules that say whether a decoded image is a full sphere, a partial panorama or a flat photo.

A photosphere is a 2:1 image or one with a valid equirectangular GPano block; ``--full-sphere``
(mode ``"force-sphere"``) treats any image as a full sphere, ``--flat`` (mode ``"flat"``) as a photo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from pano.errors import InputError
from pano.io.gpano import gpano_problem
from pano.sphere.partial import SphereGeometry, is_two_to_one

ReadMode = Literal["sphere", "flat", "force-sphere"]
Kind = Literal["full", "partial", "flat"]


class Decoded(Protocol):
    """What the rules read of a decoded image (:class:`pano.io.image.PanoImage` or
    :class:`pano.io.decode.DecodedImage`)."""

    path: Path
    xmp: bytes | None
    gpano: SphereGeometry | None
    source_size: tuple[int, int]

    @property
    def width(self) -> int: ...

    @property
    def height(self) -> int: ...

#: Smallest image (width, height) that --full-sphere treats as a sphere: a seam needs columns on both sides.
MIN_SPHERE_SIZE = (4, 2)


def sphere_geometry(
    img: Decoded, mode: ReadMode = "sphere", size: tuple[int, int] | None = None
) -> tuple[SphereGeometry | None, Kind]:
    """Where ``img`` lies on the sphere under ``mode`` (see :func:`pano.io.image.read_image`).

    Args:
        img: A decoded image (its ``gpano`` and ``source_size`` are used).
        mode: ``"sphere"``, ``"force-sphere"`` or ``"flat"``.
        size: ``(width, height)`` to fit the geometry to; default the decoded pixels' size
            (pass ``img.source_size`` for the file's own units).

    Returns:
        ``(geometry, kind)``; ``(None, "flat")`` for mode ``"flat"``.

    Raises:
        InputError: mode ``"sphere"`` and the image is neither 2:1 nor GPano-described.
    """
    if mode == "flat":
        return None, "flat"
    if mode not in ("sphere", "force-sphere"):
        raise ValueError(f"mode must be 'sphere', 'flat' or 'force-sphere', got {mode!r}")
    w, h = size if size is not None else (img.width, img.height)
    sw, sh = img.source_size
    g = img.gpano
    problem = gpano_problem(img.xmp) if g is None else None
    if problem is not None and mode == "sphere":
        raise InputError(
            f"{img.path.name} has an invalid GPano block ({problem}): use --full-sphere to treat it as a full "
            "sphere, or --flat"
        )
    if g is not None and mode == "sphere" and g.projection != "equirectangular":
        raise InputError(
            f"{img.path} is a {g.projection} panorama (GPano): pano needs equirectangular; use --flat to "
            "process it as an ordinary photo"
        )
    if g is not None and g.projection == "equirectangular":
        at_source = g.fitted(sw, sh)
        if at_source is not None:
            fitted = at_source.fitted(w, h)
            if fitted is not None:
                return fitted, "full" if fitted.is_full else "partial"
        if mode == "sphere":
            raise InputError(
                f"{img.path} is {sw}x{sh} but its GPano block describes a {g.crop_width}x{g.crop_height} "
                "crop: use --full-sphere to treat it as a full sphere, or --flat"
            )
    if mode == "force-sphere" and (sw < MIN_SPHERE_SIZE[0] or sh < MIN_SPHERE_SIZE[1]):
        raise InputError(
            f"{img.path.name} is {sw}x{sh}, too small for a sphere (at least {MIN_SPHERE_SIZE[0]}x"
            f"{MIN_SPHERE_SIZE[1]} pixels): use --flat to process it as an ordinary photo"
        )
    if mode == "force-sphere" or is_two_to_one(sw, sh):
        return SphereGeometry.full_sphere(w, h), "full"
    tiny = sw < MIN_SPHERE_SIZE[0] or sh < MIN_SPHERE_SIZE[1]
    raise InputError(
        f"{img.path.name} is {sw}x{sh}, neither 2:1 nor a GPano photosphere: use --flat to process it as an "
        "ordinary photo" + ("" if tiny else ", or --full-sphere to treat it as a full sphere anyway")
    )
