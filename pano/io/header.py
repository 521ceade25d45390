"""Opening an image file for its header only: the checks every reader makes before decoding a pixel.

Missing, a folder, empty, unreadable, not an image, a format pano does not read, too many pixels
(decompression-bomb guard): each is one :class:`~pano.errors.InputError` line naming the way out.
"""

from __future__ import annotations

import os
import threading
import warnings
from pathlib import Path

from pano.errors import InputError

#: Default limit on decoded pixels (width x height): 300 MP, e.g. 24576 x 12288. Override with
#: ``max_pixels`` (CLI: ``--max-pixels N``; 0 means no limit).
DEFAULT_MAX_PIXELS = 300_000_000

#: The image files pano reads and writes, by extension: the one list (output check, batch folders,
#: time-lapse folders and beauty's training photos all use it).
FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
IMAGE_EXTENSIONS = frozenset(FORMATS)

_READ_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "TIFF": "TIFF"}
_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is global


def check_input_path(path: Path) -> None:
    """:class:`InputError` for a path that is missing, a folder, empty or not readable."""
    if not path.exists():
        raise InputError(f"{path} does not exist: check the file name")
    if path.is_dir():
        raise InputError(f"{path} is a folder, not an image: name an image file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror}): check its permissions") from None
    if size == 0:
        raise InputError(f"{path} is empty (0 bytes): re-export or re-download it")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path} is not readable: check its permissions")


def open_image(path: Path):  # -> PIL.Image.Image, headers only
    """The file opened by Pillow, headers read, pixels not decoded; :class:`InputError` when Pillow cannot."""
    from PIL import Image, UnidentifiedImageError

    with _PIL_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # pano applies its own max_pixels with a clear message
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return Image.open(path)
        except UnidentifiedImageError:
            raise InputError(
                f"{path} is not an image pano can read: use a JPEG, PNG, WebP or TIFF file"
            ) from None
        except Exception as exc:  # noqa: BLE001 - OSError, ValueError, SyntaxError, struct.error...
            raise InputError(f"{path} is corrupt or unreadable ({short_reason(exc)}): re-export or re-download it") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def short_reason(exc: BaseException) -> str:
    """An exception as one short line (at most 120 characters) for an error message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."



def check_header(im, path: Path, max_pixels: int | None) -> tuple[str, tuple[int, int]]:
    """``(format, (w, h))`` of an open Pillow image; InputError for other formats and too many pixels."""
    fmt = _READ_FORMATS.get(im.format or "")
    if fmt is None:
        raise InputError(f"{path} is a {im.format} image: pano reads JPEG, PNG, WebP and TIFF, convert it first")
    w, h = im.size
    if max_pixels and w * h > max_pixels:
        raise InputError(
            f"{path} is {w}x{h} ({w * h / 1e6:.0f} MP), over the {max_pixels / 1e6:.0f} MP safety limit: "
            f"if you trust the file, raise it with --max-pixels {w * h}"
        )
    return fmt, (w, h)


def probe_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """The ``(width, height)`` stored in an image file's header (before orientation), checked as
    :func:`pano.io.decode.decode_image` checks it (missing, empty, not an image, other format, too many pixels) without
    decoding the pixels: a quick check of many files before a long run. Truncated data is found only by
    decoding.

    Raises:
        InputError: as :func:`pano.io.decode.decode_image`, except for truncated or corrupt pixel data.
    """
    path = Path(path)
    check_input_path(path)
    im = open_image(path)
    try:
        return check_header(im, path, max_pixels)[1]
    finally:
        im.close()
