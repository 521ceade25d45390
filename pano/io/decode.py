"""Decoding image files to numpy pixels with their metadata, at full or reduced size.

Pillow for 8-bit images and all metadata; OpenCV (``cv2.imdecode(IMREAD_UNCHANGED)``) for 16-bit PNG
and TIFF, because Pillow truncates 16-bit colour to 8 bits. The EXIF orientation is applied. A file is
opened once: the header, the XMP (and so the GPano geometry) and the pixels come from the same open,
and the decode is reduced (JPEG DCT scaling) when the caller needs only a given full-sphere width.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pano.errors import InputError
from pano.io.exif import ORIENTATION, exif_from_tiff
from pano.io.gpano import parse_gpano
from pano.io.header import DEFAULT_MAX_PIXELS, check_header, check_input_path, open_image, short_reason
from pano.io.xmp import xmp_of
from pano.sphere.partial import SphereGeometry

#: Largest decode reduction (JPEG DCT scaling goes to 1/8).
MAX_REDUCTION = 8


def reduction_for(source_width: int, width: int | None) -> int:
    """The decode reduction (1, 2, 4 or 8) that still gives at least ``width`` px across a sphere whose
    full width in the file is ``source_width``: the one rule for "decode only what the working size
    needs" (1 when ``width`` is None or 0).

    Example:
        >>> reduction_for(8000, 2048), reduction_for(8000, 1000), reduction_for(1000, 2048), reduction_for(8000, None)
        (2, 8, 1, 1)
    """
    reduce = 1
    if width:
        while reduce < MAX_REDUCTION and source_width / (reduce * 2) >= width:
            reduce *= 2
    return reduce


@dataclass
class DecodedImage:
    """What :func:`decode_image` gives: the pixels as a numpy array plus the file's metadata.

    Attributes:
        array: ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA, uint8 or uint16, orientation applied.
        Others as in :class:`PanoImage`.
    """

    path: Path
    array: np.ndarray
    bit_depth: int
    format: str
    exif: bytes | None
    icc: bytes | None
    xmp: bytes | None
    gpano: SphereGeometry | None
    orientation: int
    source_size: tuple[int, int]

    @property
    def width(self) -> int:
        return int(self.array.shape[1])

    @property
    def height(self) -> int:
        return int(self.array.shape[0])

    @property
    def has_alpha(self) -> bool:
        return self.array.shape[2] == 4


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(26)
    return head[24] if len(head) >= 26 and head[12:16] == b"IHDR" else 8


def _file_bit_depth(im, fmt: str, path: Path) -> int:
    if fmt == "PNG":
        return 16 if _png_bit_depth(path) == 16 else 8
    if fmt == "TIFF":
        bits = im.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return 16 if max(bits) == 16 else 8
    return 8


def _apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an ``(H, W[, C])`` array, as Pillow's ``exif_transpose``."""
    t = (1, 0, 2) if arr.ndim == 3 else (1, 0)
    if orientation == 2:
        arr = arr[:, ::-1]
    elif orientation == 3:
        arr = arr[::-1, ::-1]
    elif orientation == 4:
        arr = arr[::-1]
    elif orientation == 5:
        arr = arr.transpose(t)
    elif orientation == 6:
        arr = np.rot90(arr, k=-1)
    elif orientation == 7:
        arr = arr[::-1, ::-1].transpose(t)
    elif orientation == 8:
        arr = np.rot90(arr, k=1)
    return np.ascontiguousarray(arr)


def _icc_space(icc: bytes | None) -> bytes:
    return icc[16:20] if icc and len(icc) >= 20 else b""


def _decode_pillow(im, path: Path, reduce: int) -> np.ndarray:
    """Decode 8-bit data with Pillow -> ``(H, W, 3|4)`` uint8 RGB(A)."""
    from PIL import ImageCms

    w, h = im.size
    icc = im.info.get("icc_profile")  # before reduce(), whose result has no info
    if reduce > 1:
        if im.format in ("JPEG", "MPO"):
            im.draft(im.mode if im.mode in ("RGB", "L", "CMYK") else "RGB", (max(1, w // reduce), max(1, h // reduce)))
    im.load()
    if reduce > 1:
        factor = max(1, round(im.size[0] / max(1, w // reduce)))
        if factor > 1:
            im = im.reduce(factor)
    mode = im.mode
    if mode == "CMYK":
        converted = None
        if icc and _icc_space(icc) == b"CMYK":
            try:
                import io as _io

                src = ImageCms.ImageCmsProfile(_io.BytesIO(icc))
                converted = ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
            except (ImageCms.PyCMSError, OSError, ValueError):
                converted = None
        im = converted if converted is not None else im.convert("RGB")
    elif mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in im.info):
        im = im.convert("RGBA")
    elif mode != "RGB":
        im = im.convert("RGB")
    return np.asarray(im)


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence file descriptor 2 (C libraries writing to stderr) for the duration."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded, pytest capture replaced it): nothing to do
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _decode_cv2(path: Path, reduce: int) -> np.ndarray:
    """Decode 16-bit PNG/TIFF with OpenCV -> ``(H, W, 3|4)`` uint16 RGB(A)."""
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    with quiet_stderr():  # libpng/libtiff print their complaints themselves; pano raises one line instead
        arr = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise InputError(f"{path} is corrupt or unreadable (16-bit decode failed): re-export or re-download it")
    if arr.dtype != np.uint16:
        arr = arr.astype(np.uint16) * 257 if arr.dtype == np.uint8 else np.clip(arr, 0, 65535).astype(np.uint16)
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.shape[2] == 2:  # grey + alpha
        arr = np.concatenate([np.repeat(arr[:, :, :1], 3, axis=2), arr[:, :, 1:]], axis=2)
    elif arr.shape[2] == 3:
        arr = arr[:, :, ::-1]
    else:
        arr = arr[:, :, [2, 1, 0, 3]]
    if reduce > 1:
        h, w = arr.shape[:2]
        arr = cv2.resize(arr, (max(1, w // reduce), max(1, h // reduce)), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(arr)



def _metadata(im, fmt: str) -> tuple[bytes | None, bytes | None, bytes | None, int]:
    """``(xmp, icc, exif, orientation)`` of an open Pillow image."""
    info = im.info
    xmp = xmp_of(im)
    icc = info.get("icc_profile") or None
    try:
        orientation = int(im.getexif().get(ORIENTATION, 1) or 1)
    except (TypeError, ValueError):
        orientation = 1
    orientation = orientation if 1 <= orientation <= 8 else 1
    exif = info.get("exif") if fmt != "TIFF" else exif_from_tiff(im)
    if isinstance(exif, bytes) and exif and not exif.startswith(b"Exif"):
        exif = b"Exif\x00\x00" + exif  # PNG eXIf / WebP chunks have no header
    return xmp, icc, (bytes(exif) if exif else None), orientation


def decode_image(
    path: str | os.PathLike,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    reduce: int = 1,
    *,
    for_width: int | None = None,
) -> DecodedImage:
    """Decode an image file to a numpy array with its metadata (no torch; see :func:`pano.io.image.read_image`).

    Args:
        path: The file.
        max_pixels: Refuse images with more pixels than this (0 or None: no limit).
        reduce: Decode at about 1/``reduce`` of the size (fast JPEG DCT scaling where possible).
        for_width: Instead of ``reduce``: the full-sphere width the caller will work at; the decode is
            reduced as far as that allows (:func:`reduction_for` of the GPano full width, else the
            image's width), from the same open of the file.

    Raises:
        InputError: missing file, folder, empty, not an image, unsupported format, truncated or
            corrupt data, too many pixels.
    """
    path = Path(path)
    check_input_path(path)
    im = open_image(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF etc.: never noise on stderr
            fmt, (w, h) = check_header(im, path, max_pixels)
            xmp, icc, exif, orientation = _metadata(im, fmt)
            gpano = parse_gpano(xmp)
            bit_depth = _file_bit_depth(im, fmt, path)
            if for_width:
                reduce = reduction_for(gpano.full_width if gpano is not None else w, for_width)
            reduce = max(1, int(reduce))
            arr = _decode_cv2(path, reduce) if bit_depth == 16 else _decode_pillow(im, path, reduce)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{path} is too large to decode in the memory available: try a smaller image") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError, struct.error...
        raise InputError(f"{path} is truncated or corrupt ({short_reason(exc)}): re-export or re-download it") from None
    finally:
        im.close()

    if _icc_space(icc) != b"RGB ":
        icc = None  # a grey/CMYK profile does not describe the RGB pixels pano makes
    arr = _apply_orientation(arr, orientation)
    sw, sh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return DecodedImage(path=path, array=arr, bit_depth=bit_depth, format=fmt, exif=exif, icc=icc, xmp=xmp,
                        gpano=gpano, orientation=orientation, source_size=(sw, sh))
