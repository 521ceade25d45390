"""A photosphere file as a whole sphere and back: what a filter command needs.

:func:`load_sphere` reads a file once (header, GPano, pixels reduced to the size needed) and places a
partial panorama at its true position on the full sphere; :func:`save_sphere` cuts the result back
out and writes it in the source's own geometry and metadata.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from pano.errors import InputError
from pano.io.header import DEFAULT_MAX_PIXELS
from pano.io.image import PanoImage, read_image, write_image
from pano.io.sphere_mode import ReadMode
from pano.sphere.partial import SphereGeometry

if TYPE_CHECKING:
    import torch

@dataclass
class LoadedSphere:
    """A photosphere as a full-sphere equirect, ready for a filter (see :func:`load_sphere`).

    Attributes:
        equirect: ``(1, 3, H, W)`` float32 in [0, 1], W = 2H, the whole sphere (a partial
            panorama placed at its true position, the rest edge-extended).
        mask: ``(1, 1, H, W)``, 1 where the file has pixels (all ones for a full sphere).
        image: The file as read (metadata, geometry; pass it to :func:`save_sphere`).
    """

    equirect: torch.Tensor
    mask: torch.Tensor
    image: PanoImage


def _geometry_at(img: PanoImage, width: int, height: int) -> SphereGeometry:
    """The file's sphere geometry for an output of ``width`` x ``height`` (from the GPano block in
    source units when there is one: no rounding from a reduced decode)."""
    if img.gpano is not None and img.gpano.projection == "equirectangular":
        at_source = img.gpano.fitted(*img.source_size)
        fitted = at_source.fitted(width, height) if at_source is not None else None
        if fitted is not None:
            return replace(fitted, use_panorama_viewer=True)
    base = img.geometry.fitted(width, height) if img.geometry is not None else None
    return replace(base if base is not None else SphereGeometry.full_sphere(width, height), use_panorama_viewer=True)


def load_sphere(
    path: str | os.PathLike,
    mode: ReadMode = "sphere",
    full_width: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    *,
    max_width: int | None = None,
) -> LoadedSphere:
    """Read a photosphere and put it on the full sphere (for processing at a working size).

    Args:
        path: The image file.
        mode: ``"sphere"`` or ``"force-sphere"`` (see :func:`read_image`).
        full_width: Width of the full-sphere equirect to return (default: the file's own full
            width, e.g. 15462 for a phone partial: pass a working width to save memory). The JPEG is
            decoded at a reduced size when that is enough for this width.
        max_pixels: Decompression-bomb guard (see :func:`read_image`).
        max_width: Instead of ``full_width``: at most this wide, never upsampled (the file's own full
            width when that is smaller). Either way the file is opened and its header parsed once.

    Returns:
        The :class:`LoadedSphere`.

    Raises:
        InputError: as :func:`read_image`; also for mode ``"flat"`` (a flat photo has no sphere).
    """
    import torch

    from pano.sphere.partial import place_on_sphere
    from pano.sphere.resize import resize_equirect

    if mode == "flat":
        raise ValueError("load_sphere needs mode 'sphere' or 'force-sphere'; use read_image for flat photos")
    # one open: header, GPano and pixels, the JPEG decoded only as large as the working size needs (DCT scaling)
    img = read_image(path, mode=mode, max_pixels=max_pixels, for_width=full_width or max_width)
    if max_width and not full_width:
        source_full = img.gpano.full_width if img.gpano is not None else img.source_size[0]
        full_width = max_width if source_full > max_width else None
    g = img.geometry
    if g is None:  # pragma: no cover - read_image in a sphere mode always gives a geometry
        raise InputError(f"{path} is not a photosphere: use --flat")
    if img.kind == "full":
        equi = img.pixels
        w_now = equi.shape[-1]
        if (full_width and w_now != full_width) or w_now % 2 or w_now != 2 * equi.shape[-2]:
            fw = max(2, 2 * round((full_width or equi.shape[-1]) / 2))
            equi = resize_equirect(equi, (fw // 2, fw)).clamp_(0, 1)
        mask = torch.ones_like(equi[:, :1])
    else:
        equi, mask = place_on_sphere(img.pixels, g, full_width=full_width)
    return LoadedSphere(equirect=equi, mask=mask, image=img)


def save_sphere(
    equirect: torch.Tensor,
    path: str | os.PathLike,
    source: PanoImage | LoadedSphere,
    *,
    scale: float = 1.0,
    overwrite: bool = False,
    xmp_extra: dict[str, str] | None = None,
    quality: int = 95,
) -> Path:
    """Write a processed full-sphere equirect in the source file's own geometry.

    A partial source is cut back out of the sphere (:func:`pano.sphere.partial.crop_from_sphere`) and
    written with its own (scaled) GPano crop; a full sphere is resized to the output size. EXIF, ICC,
    alpha and bit depth follow the source (see :func:`write_image`).

    Args:
        equirect: ``(1, 3, H, W)`` full sphere in [0, 1], any size and device.
        path: Output file (format from the extension).
        source: The :class:`PanoImage` (or :class:`LoadedSphere`) it was made from.
        scale: Output size relative to the source file's size (e.g. 4 after a x4 upscale).
        overwrite: Replace an existing file.
        xmp_extra: Extra XMP properties (e.g. ``{"pano:Filter": "dream"}``).
        quality: JPEG/WebP quality.

    Returns:
        The path written.
    """
    from pano.sphere.partial import crop_from_sphere
    from pano.sphere.resize import resize_equirect

    img = source.image if isinstance(source, LoadedSphere) else source
    w, h = img.source_size
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    g = img.geometry
    if g is None:
        raise ValueError("save_sphere needs a sphere source; use write_image for flat photos")
    g_out = _geometry_at(img, out_w, out_h)
    equirect = equirect.detach().float().cpu()
    if g.is_full:
        out = equirect
        if tuple(out.shape[-2:]) != (out_h, out_w):
            out = resize_equirect(out, (out_h, out_w))
    else:
        out = crop_from_sphere(equirect, g, out_size=(out_h, out_w))
    return write_image(out.clamp(0, 1), path, like=img, overwrite=overwrite, geometry=g_out, xmp_extra=xmp_extra,
                       quality=quality)
