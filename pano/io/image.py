"""Photosphere image files: read and write JPEG, PNG, WebP and TIFF, keeping what matters.

Reading gives a :class:`PanoImage`: RGB pixels as a ``(1, 3, H, W)`` float32 tensor in [0, 1], alpha
apart, the bit depth (8 or 16), EXIF orientation applied, and the metadata to carry over (EXIF,
ICC profile, XMP) plus the sphere geometry (GPano, see :mod:`pano.io.gpano`).

Writing (:func:`write_image`) picks the format from the extension, keeps EXIF (orientation reset
to 1, pixel dimensions updated) and an RGB ICC profile from the image it was made ``like``, writes
a GPano XMP block for sphere output (Pillow >= 11.1 no longer carries XMP by itself), 16 bits where
the format allows (PNG, TIFF), and is atomic (temporary file, then rename).

This module is the torch side: tensors in and out. The pieces it builds on each have their module:
:mod:`pano.io.header` (opening and checking a file), :mod:`pano.io.decode` (pixels and metadata as
numpy, reduced decodes), :mod:`pano.io.xmp`, :mod:`pano.io.exif`, :mod:`pano.io.sphere_mode` (full,
partial or flat), :mod:`pano.io.encode` (Pillow, OpenCV 16-bit PNG, tifffile 16-bit TIFF), and
:mod:`pano.io.photosphere` (a whole sphere in and out: :func:`load_sphere`, :func:`save_sphere`).
TIFF carries EXIF as its own descriptive tags only (make, model, software, date, artist, copyright,
description): Pillow's libtiff writer rejects EXIF sub-IFDs.

Sphere metadata: see :mod:`pano.io.gpano`. Output XMP is a fresh GPano packet (the source's other
XMP properties are not carried over); flat output keeps the source's XMP unless it carried GPano.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pano._lazy import lazy_exports
from pano.errors import OutputError
from pano.io import encode
from pano.io.atomic import atomic_output, check_output_path
from pano.io.decode import DecodedImage, decode_image, quiet_stderr  # noqa: F401 - re-exported
from pano.io.exif import output_exif
from pano.io.gpano import gpano_problem, gpano_xmp
from pano.io.header import (  # noqa: F401 - re-exported
    DEFAULT_MAX_PIXELS,
    FORMATS,
    IMAGE_EXTENSIONS,
    open_image,
    probe_image,
    short_reason,
)
from pano.io.sphere_mode import MIN_SPHERE_SIZE, Kind, ReadMode, sphere_geometry  # noqa: F401 - re-exported
from pano.sphere.partial import SphereGeometry, is_two_to_one  # noqa: F401 - re-exported

if TYPE_CHECKING:  # imported where tensors are made: `pano info` never loads torch
    import torch

_open = open_image  # the name pano.viewer used before the split

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "FORMATS",
    "IMAGE_EXTENSIONS",
    "MIN_SPHERE_SIZE",
    "DecodedImage",
    "Kind",
    "LoadedSphere",
    "PanoImage",
    "ReadMode",
    "SphereGeometry",
    "decode_image",
    "is_two_to_one",
    "load_sphere",
    "probe_image",
    "quiet_stderr",
    "read_image",
    "save_sphere",
    "sphere_geometry",
    "write_image",
]

# a whole sphere in and out lives in pano.io.photosphere, which builds on this module: served lazily
__getattr__ = lazy_exports(__name__, {name: "pano.io.photosphere" for name in ("LoadedSphere", "load_sphere", "save_sphere")})


@dataclass
class PanoImage:
    """A decoded image and what pano keeps from its file.

    Attributes:
        path: The file it was read from.
        pixels: ``(1, 3, H, W)`` float32 RGB in [0, 1], EXIF orientation applied.
        alpha: ``(1, 1, H, W)`` float32 in [0, 1], or None.
        bit_depth: 8 or 16 (bits per channel in the file).
        format: ``"JPEG"``, ``"PNG"``, ``"WEBP"`` or ``"TIFF"``.
        exif: The raw EXIF block (``b"Exif\\0\\0..."``), or None.
        icc: The ICC profile (RGB profiles only: a grey or CMYK profile is dropped once the pixels
            are converted to RGB), or None.
        xmp: The raw XMP packet, or None.
        geometry: Where the pixels lie on the sphere (fitted to the decoded size), None for flat.
        kind: ``"full"`` sphere, ``"partial"`` panorama, or ``"flat"`` photo.
        gpano: The GPano block exactly as found in the file (source pixel units), or None.
        orientation: The file's EXIF orientation (1-8; 1 when absent).
        source_size: ``(width, height)`` of the full-resolution image after orientation (differs
            from the pixels' size when read with ``reduce``).
    """

    path: Path
    pixels: torch.Tensor
    alpha: torch.Tensor | None = None
    bit_depth: int = 8
    format: str = "JPEG"
    exif: bytes | None = None
    icc: bytes | None = None
    xmp: bytes | None = None
    geometry: SphereGeometry | None = None
    kind: Kind = "flat"
    gpano: SphereGeometry | None = None
    orientation: int = 1
    source_size: tuple[int, int] = field(default=(0, 0))

    @property
    def width(self) -> int:
        return int(self.pixels.shape[-1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[-2])


def _to_tensor(arr: np.ndarray, maxval: float) -> torch.Tensor:
    import torch

    h, w, c = arr.shape
    out = torch.empty((1, c, h, w), dtype=torch.float32)
    with warnings.catch_warnings():  # a read-only array (np.asarray of a PIL image) is only read here
        warnings.simplefilter("ignore", UserWarning)
        src = torch.from_numpy(arr)
    out[0].copy_(src.permute(2, 0, 1))  # one float copy, no numpy temporaries
    return out.div_(maxval)


def read_image(
    path: str | os.PathLike,
    mode: ReadMode = "sphere",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    reduce: int = 1,
    *,
    for_width: int | None = None,
) -> PanoImage:
    """Read a JPEG, PNG, WebP or TIFF image.

    Args:
        path: The file.
        mode: ``"sphere"``: the image must be 2:1 or carry GPano, else :class:`InputError` names the
            ways out; ``"force-sphere"``: treat any image as a full sphere (GPano still used when
            present); ``"flat"``: no sphere checks, ``kind`` is ``"flat"``.
        max_pixels: Refuse images with more pixels than this (decompression-bomb guard; 0 or None:
            no limit). The message names ``--max-pixels N``.
        reduce: Decode at about 1/``reduce`` of the size (fast JPEG DCT scaling where possible);
            ``geometry`` is fitted to the decoded size, ``source_size`` keeps the full size.
        for_width: Instead of ``reduce``: the full-sphere width the caller works at; the decode is
            reduced as far as that allows (see :func:`pano.io.decode.decode_image`).

    Returns:
        The :class:`PanoImage`.

    Raises:
        InputError: missing file, folder, empty, not an image, unsupported format, truncated or
            corrupt data, too many pixels, or (mode ``"sphere"``) not a photosphere.
    """
    d = decode_image(path, max_pixels=max_pixels, reduce=reduce, for_width=for_width)
    maxval = 65535.0 if d.array.dtype == np.uint16 else 255.0
    metadata = {f.name: getattr(d, f.name) for f in fields(DecodedImage) if f.name != "array"}  # all but the pixels
    img = PanoImage(
        pixels=_to_tensor(d.array[:, :, :3], maxval),
        alpha=_to_tensor(d.array[:, :, 3:4], maxval) if d.has_alpha else None,
        **metadata,
    )
    img.geometry, img.kind = sphere_geometry(img, mode)
    return img


def _pixels_to_array(image: torch.Tensor | np.ndarray, bits: int) -> np.ndarray:
    """A tensor ``(1, C, H, W)``/``(C, H, W)`` float in [0, 1] or an ``(H, W[, C])`` uint8/uint16 array ->
    ``(H, W, C)`` array of the requested bit depth."""
    import torch

    maxval = 65535 if bits == 16 else 255
    dtype = np.uint16 if bits == 16 else np.uint8
    if isinstance(image, torch.Tensor):
        t = image.detach()
        if t.dim() == 4:
            if t.shape[0] != 1:
                raise ValueError(f"write_image takes one image, got a batch of {t.shape[0]}")
            t = t[0]
        if t.dim() != 3:
            raise ValueError(f"pixels must be (1, C, H, W) or (C, H, W), got {tuple(image.shape)}")
        t = t.float().clamp(0, 1).mul(maxval).round().to(torch.int32)
        return t.permute(1, 2, 0).cpu().numpy().astype(dtype)
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype == np.uint8:
        return arr if bits == 8 else arr.astype(np.uint16) * 257
    if arr.dtype == np.uint16:
        return arr if bits == 16 else ((arr.astype(np.uint32) + 128) // 257).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        return np.clip(np.round(arr * maxval), 0, maxval).astype(dtype)
    raise ValueError(f"unsupported array dtype {arr.dtype}: use float in [0, 1], uint8 or uint16")


def _resize_alpha(alpha: torch.Tensor | np.ndarray, width: int, height: int, bits: int) -> np.ndarray:
    import torch

    if not isinstance(alpha, torch.Tensor):
        a = np.asarray(alpha)
        alpha = torch.from_numpy(a.astype(np.float32) / (65535.0 if a.dtype == np.uint16 else 255.0 if a.dtype == np.uint8 else 1.0))
        alpha = alpha.reshape(1, 1, *alpha.shape[-2:])
    alpha = alpha.detach().float().reshape(1, 1, *alpha.shape[-2:])
    if tuple(alpha.shape[-2:]) != (height, width):
        alpha = torch.nn.functional.interpolate(alpha, size=(height, width), mode="bilinear",
                                                align_corners=False, antialias=True)
    return _pixels_to_array(alpha[0], bits)


def write_image(
    image: torch.Tensor | np.ndarray,
    path: str | os.PathLike,
    like: PanoImage | None = None,
    *,
    overwrite: bool = False,
    geometry: SphereGeometry | None = None,
    xmp_extra: dict[str, str] | None = None,
    quality: int = 95,
    alpha: torch.Tensor | np.ndarray | None = None,
    bit_depth: int | None = None,
    sphere: bool | None = None,
) -> Path:
    """Write an image, atomically, keeping the metadata of the image it was made from.

    Args:
        image: ``(1, 3, H, W)`` float tensor in [0, 1] (any device), or an ``(H, W, 3)`` uint8/uint16
            RGB array.
        path: Output file; the extension picks the format (.jpg/.jpeg, .png, .webp, .tif/.tiff).
        like: The image this one was made from: its EXIF (orientation reset to 1), RGB ICC profile,
            alpha (resized), bit depth and sphere geometry (scaled to the new size) are carried over.
        overwrite: Replace an existing file (else :class:`OutputError`).
        geometry: The sphere geometry to write (overrides ``like``'s).
        xmp_extra: Extra XMP properties for the GPano block, e.g. ``{"pano:Filter": "dream"}``
            (sphere output only). The GPano packet replaces the source's XMP; flat output keeps the
            source's XMP unless it carried GPano.
        quality: JPEG/WebP quality (1-100).
        alpha: Alpha to attach (``(1, 1, H, W)`` float or ``(H, W)`` array), overriding ``like``'s.
        bit_depth: 8 or 16; default 16 for uint16 arrays or a 16-bit ``like``, else 8. JPEG and
            WebP are always 8-bit.
        sphere: Write a GPano block? Default: yes when ``like`` is a sphere, or without ``like`` when
            the image is 2:1 (a full sphere without GPano gets one).

    Returns:
        The path written.

    Raises:
        OutputError: unknown extension, existing file without ``overwrite``, missing or read-only
            folder, or the encoder failed (no file is left behind).
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot write {path.suffix or 'extension-less'} files ({path.name}): use .jpg, .png, .webp or .tif")
    check_output_path(path, overwrite)
    if bit_depth is None:
        if isinstance(image, np.ndarray):
            bit_depth = 16 if image.dtype == np.uint16 else 8
        else:
            bit_depth = like.bit_depth if like is not None else 8
    bits = 16 if bit_depth == 16 and fmt in ("PNG", "TIFF") else 8
    arr = _pixels_to_array(image, bits)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    height, width = arr.shape[:2]
    if arr.shape[2] == 4 and alpha is None:
        arr, alpha = arr[:, :, :3], arr[:, :, 3]
    src_alpha = alpha if alpha is not None else (like.alpha if like is not None else None)
    if src_alpha is not None and fmt != "JPEG":
        arr = np.concatenate([arr[:, :, :3], _resize_alpha(src_alpha, width, height, bits)], axis=2)
    else:
        arr = np.ascontiguousarray(arr[:, :, :3])

    geometry = _output_geometry(like, geometry, sphere, width, height)
    if geometry is not None:
        xmp: bytes | None = gpano_xmp(geometry, xmp_extra)
    else:  # flat output: keep the source's XMP unless it would describe a sphere that is not there
        xmp = like.xmp if like is not None and like.gpano is None and gpano_problem(like.xmp) is None else None
    exif = output_exif(like.exif if like is not None else None, width, height)
    icc = like.icc if like is not None else None

    try:
        with atomic_output(path, overwrite) as tmp:
            if bits == 16:
                encode.write_16bit(arr, tmp, fmt, exif, xmp, icc)
            else:
                encode.write_pillow(arr, tmp, fmt, exif, xmp, icc, quality)
    except OutputError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # also the temp file itself (read-only file system...)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else short_reason(exc)
        raise OutputError(f"cannot write {path} ({why}): check the disk or choose another -o/--output") from None
    return path


def _output_geometry(like: PanoImage | None, geometry: SphereGeometry | None, sphere: bool | None,
                     width: int, height: int) -> SphereGeometry | None:
    if geometry is not None:
        return geometry if sphere is not False else None
    if sphere is False:
        return None
    if like is not None and like.geometry is not None:
        fitted = like.geometry.fitted(width, height)
        if fitted is not None:
            return _viewer(fitted)
    if sphere or (sphere is None and (like is None or like.kind != "flat") and is_two_to_one(width, height)):
        base = like.geometry if like is not None and like.geometry is not None else None
        full = SphereGeometry.full_sphere(width, height)
        if base is not None:  # keep pose/heading/extra fields
            full = replace(base, **{k: getattr(full, k) for k in
                                    ("full_width", "full_height", "crop_left", "crop_top", "crop_width", "crop_height")})
        return _viewer(full)
    return None


def _viewer(g: SphereGeometry) -> SphereGeometry:
    return replace(g, use_panorama_viewer=True)
