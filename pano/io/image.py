"""Photosphere image files: read and write JPEG, PNG, WebP and TIFF, keeping what matters.

Reading gives a :class:`PanoImage`: RGB pixels as a ``(1, 3, H, W)`` float32 tensor in [0, 1], alpha
apart, the bit depth (8 or 16), EXIF orientation applied, and the metadata to carry over (EXIF,
ICC profile, XMP) plus the sphere geometry (GPano, see :mod:`pano.io.gpano`).

Writing (:func:`write_image`) picks the format from the extension, keeps EXIF (orientation reset
to 1, pixel dimensions updated) and an RGB ICC profile from the image it was made ``like``, writes
a GPano XMP block for sphere output (Pillow >= 11.1 no longer carries XMP by itself), 16 bits where
the format allows (PNG, TIFF), and is atomic (temporary file, then rename).

Decoders: Pillow for 8-bit images and all metadata; OpenCV (``cv2.imdecode(IMREAD_UNCHANGED)``)
for 16-bit PNG and TIFF, because Pillow truncates 16-bit colour to 8 bits. 16-bit PNG is written by
OpenCV with EXIF, XMP and ICC chunks; 16-bit TIFF by tifffile (deflate, XMP and ICC tags).
TIFF carries EXIF as its own descriptive tags only (make, model, software, date, artist, copyright,
description): Pillow's libtiff writer rejects EXIF sub-IFDs.

Sphere metadata: see :mod:`pano.io.gpano`. Output XMP is a fresh GPano packet (the source's other
XMP properties are not carried over); flat output keeps the source's XMP unless it carried GPano.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from pano.errors import InputError, OutputError
from pano.io.atomic import atomic_output, check_output_path
from pano.io.gpano import SphereGeometry, gpano_problem, gpano_xmp, is_two_to_one, parse_gpano

if TYPE_CHECKING:  # imported where tensors are made: `pano info` never loads torch
    import torch

ReadMode = Literal["sphere", "flat", "force-sphere"]
Kind = Literal["full", "partial", "flat"]

#: Default limit on decoded pixels (width x height): 300 MP, e.g. 24576 x 12288. Override with
#: ``max_pixels`` (CLI: ``--max-pixels N``; 0 means no limit).
DEFAULT_MAX_PIXELS = 300_000_000

#: Smallest image (width, height) that --full-sphere treats as a sphere: a seam needs columns on both sides.
MIN_SPHERE_SIZE = (4, 2)

FORMATS = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
_READ_FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "TIFF": "TIFF"}
_ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
# IFD0 tags that describe a file's pixel layout (size, strips, compression, thumbnail offsets):
# never copied to another file (a TIFF writer would take the source's size from them).
_STRUCTURAL_TAGS = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339, 513, 514, 530, 531, 532)
# IFD0 tags of an EXIF block that a TIFF carries as its own tags: description, make, model, software,
# date, artist, copyright
_TIFF_TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)
_PIL_LOCK = threading.Lock()  # Image.MAX_IMAGE_PIXELS is global


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


# --------------------------------------------------------------------------------------------
# reading


def _check_input_path(path: Path) -> None:
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


def _open(path: Path):  # -> PIL.Image.Image, headers only
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
            raise InputError(f"{path} is corrupt or unreadable ({_short(exc)}): re-export or re-download it") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


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


def _to_tensor(arr: np.ndarray, maxval: float) -> torch.Tensor:
    import torch

    h, w, c = arr.shape
    out = torch.empty((1, c, h, w), dtype=torch.float32)
    with warnings.catch_warnings():  # a read-only array (np.asarray of a PIL image) is only read here
        warnings.simplefilter("ignore", UserWarning)
        src = torch.from_numpy(arr)
    out[0].copy_(src.permute(2, 0, 1))  # one float copy, no numpy temporaries
    return out.div_(maxval)


def _exif_from_tiff(im) -> bytes | None:
    """An EXIF block made of a TIFF's descriptive tags (make, model, date, ...), or None."""
    from PIL import Image

    tags = {t: im.tag_v2[t] for t in _TIFF_TEXT_TAGS if isinstance(im.tag_v2.get(t), str)}
    if not tags:
        return None
    e = Image.Exif()
    for t, v in tags.items():
        e[t] = v
    return e.tobytes()


def _xmp_of(im) -> bytes | None:
    """The XMP packet of an open Pillow image (headers only: never decodes pixels), or None."""
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp is None and im.format == "TIFF":
        xmp = im.tag_v2.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return bytes(xmp) if xmp else None


def _metadata(im, fmt: str) -> tuple[bytes | None, bytes | None, bytes | None, int]:
    """``(xmp, icc, exif, orientation)`` of an open Pillow image."""
    info = im.info
    xmp = _xmp_of(im)
    icc = info.get("icc_profile") or None
    try:
        orientation = int(im.getexif().get(_ORIENTATION, 1) or 1)
    except (TypeError, ValueError):
        orientation = 1
    orientation = orientation if 1 <= orientation <= 8 else 1
    exif = info.get("exif") if fmt != "TIFF" else _exif_from_tiff(im)
    if isinstance(exif, bytes) and exif and not exif.startswith(b"Exif"):
        exif = b"Exif\x00\x00" + exif  # PNG eXIf / WebP chunks have no header
    return xmp, icc, (bytes(exif) if exif else None), orientation


def decode_image(
    path: str | os.PathLike,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    reduce: int = 1,
) -> DecodedImage:
    """Decode an image file to a numpy array with its metadata (no torch; see :func:`read_image`).

    Raises:
        InputError: missing file, folder, empty, not an image, unsupported format, truncated or
            corrupt data, too many pixels.
    """
    path = Path(path)
    _check_input_path(path)
    im = _open(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about odd EXIF etc.: never noise on stderr
            fmt, (w, h) = _check_header(im, path, max_pixels)
            xmp, icc, exif, orientation = _metadata(im, fmt)
            bit_depth = _file_bit_depth(im, fmt, path)
            reduce = max(1, int(reduce))
            arr = _decode_cv2(path, reduce) if bit_depth == 16 else _decode_pillow(im, path, reduce)
    except InputError:
        raise
    except MemoryError:
        raise InputError(f"{path} is too large to decode in the memory available: try a smaller image") from None
    except Exception as exc:  # noqa: BLE001 - decoders raise OSError, ValueError, SyntaxError, struct.error...
        raise InputError(f"{path} is truncated or corrupt ({_short(exc)}): re-export or re-download it") from None
    finally:
        im.close()

    if _icc_space(icc) != b"RGB ":
        icc = None  # a grey/CMYK profile does not describe the RGB pixels pano makes
    arr = _apply_orientation(arr, orientation)
    sw, sh = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
    return DecodedImage(path=path, array=arr, bit_depth=bit_depth, format=fmt, exif=exif, icc=icc, xmp=xmp,
                        gpano=parse_gpano(xmp), orientation=orientation, source_size=(sw, sh))


def _check_header(im, path: Path, max_pixels: int | None) -> tuple[str, tuple[int, int]]:
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
    :func:`decode_image` checks it (missing, empty, not an image, other format, too many pixels) without
    decoding the pixels: a quick check of many files before a long run. Truncated data is found only by
    decoding.

    Raises:
        InputError: as :func:`decode_image`, except for truncated or corrupt pixel data.
    """
    path = Path(path)
    _check_input_path(path)
    im = _open(path)
    try:
        return _check_header(im, path, max_pixels)[1]
    finally:
        im.close()


def read_image(
    path: str | os.PathLike,
    mode: ReadMode = "sphere",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    reduce: int = 1,
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

    Returns:
        The :class:`PanoImage`.

    Raises:
        InputError: missing file, folder, empty, not an image, unsupported format, truncated or
            corrupt data, too many pixels, or (mode ``"sphere"``) not a photosphere.
    """
    d = decode_image(path, max_pixels=max_pixels, reduce=reduce)
    maxval = 65535.0 if d.array.dtype == np.uint16 else 255.0
    img = PanoImage(
        path=d.path,
        pixels=_to_tensor(d.array[:, :, :3], maxval),
        alpha=_to_tensor(d.array[:, :, 3:4], maxval) if d.has_alpha else None,
        bit_depth=d.bit_depth,
        format=d.format,
        exif=d.exif,
        icc=d.icc,
        xmp=d.xmp,
        gpano=d.gpano,
        orientation=d.orientation,
        source_size=d.source_size,
    )
    img.geometry, img.kind = sphere_geometry(img, mode)
    return img


def sphere_geometry(
    img: PanoImage | DecodedImage, mode: ReadMode = "sphere", size: tuple[int, int] | None = None
) -> tuple[SphereGeometry | None, Kind]:
    """Where ``img`` lies on the sphere under ``mode`` (see :func:`read_image`).

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


# --------------------------------------------------------------------------------------------
# writing


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


def _output_exif(exif: bytes | None, width: int, height: int) -> bytes | None:
    """The EXIF block for the output: orientation 1, pixel dimensions updated."""
    if not exif:
        return None
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = Image.Exif()
            e.load(exif)
            e[_ORIENTATION] = 1
            for tag in _STRUCTURAL_TAGS:  # they describe the source's pixel layout, not ours
                if tag in e:
                    del e[tag]
            ifd = e.get_ifd(_EXIF_IFD)
            if 0xA002 in ifd:
                ifd[0xA002] = width
            if 0xA003 in ifd:
                ifd[0xA003] = height
            return e.tobytes()
    except Exception:  # noqa: BLE001 - broken maker notes etc.: better no EXIF than no image
        return None


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
    exif = _output_exif(like.exif if like is not None else None, width, height)
    icc = like.icc if like is not None else None

    try:
        with atomic_output(path, overwrite) as tmp:
            if bits == 16:
                _write_cv2_16(arr, tmp, fmt, exif, xmp, icc)
            else:
                _write_pillow(arr, tmp, fmt, exif, xmp, icc, quality)
    except OutputError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:  # also the temp file itself (read-only file system...)
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else _short(exc)
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


def _write_pillow(arr: np.ndarray, tmp: Path, fmt: str, exif: bytes | None, xmp: bytes | None,
                  icc: bytes | None, quality: int) -> None:
    from PIL import Image, PngImagePlugin

    im = Image.fromarray(arr, "RGBA" if arr.shape[2] == 4 else "RGB")
    kw: dict[str, object] = {}
    if icc:
        kw["icc_profile"] = icc
    if exif:
        kw["exif"] = exif
    if fmt == "JPEG":
        kw.update(quality=int(quality), subsampling=0 if quality >= 90 else 2, optimize=True)
        if xmp:
            kw["xmp"] = xmp
    elif fmt == "WEBP":
        kw.update(quality=int(quality), method=4)
        if xmp:
            kw["xmp"] = xmp
    elif fmt == "PNG":
        if xmp:
            info = PngImagePlugin.PngInfo()
            info.add_itxt("XML:com.adobe.xmp", xmp.decode("utf-8", "replace"), zip=False)
            kw["pnginfo"] = info
        kw["compress_level"] = 6
    elif fmt == "TIFF":
        # EXIF sub-IFDs do not survive Pillow's libtiff writer: keep the plain IFD0 tags only
        kw.pop("exif", None)
        kw["compression"] = "tiff_deflate"
        tags: dict[int, object] = _tiff_exif_tags(exif)
        if xmp:
            tags[700] = xmp
        if tags:
            kw["tiffinfo"] = tags
    im.save(tmp, format=fmt, **kw)




def _tiff_exif_tags(exif: bytes | None) -> dict[int, object]:
    if not exif:
        return {}
    from PIL import Image

    try:
        e = Image.Exif()
        e.load(exif)
        tags: dict[int, object] = {
            t: str(e[t]).rstrip("\x00") for t in _TIFF_TEXT_TAGS if t in e and isinstance(e[t], str)
        }
        if tags:
            tags[_ORIENTATION] = 1
        return tags
    except Exception:  # noqa: BLE001 - broken EXIF: the image matters more
        return {}


def _write_cv2_16(arr: np.ndarray, tmp: Path, fmt: str, exif: bytes | None, xmp: bytes | None,
                  icc: bytes | None) -> None:
    import cv2

    bgr = arr[:, :, [2, 1, 0, 3]] if arr.shape[2] == 4 else arr[:, :, ::-1]
    bgr = np.ascontiguousarray(bgr)
    ext = ".png"
    if fmt == "PNG":
        types, chunks = [], []
        if exif:
            types.append(cv2.IMAGE_METADATA_EXIF)
            chunks.append(np.frombuffer(exif[6:] if exif.startswith(b"Exif\x00\x00") else exif, np.uint8))
        if xmp:
            types.append(cv2.IMAGE_METADATA_XMP)
            chunks.append(np.frombuffer(xmp, np.uint8))
        if icc:
            types.append(cv2.IMAGE_METADATA_ICCP)
            chunks.append(np.frombuffer(icc, np.uint8))
        ok, buf = cv2.imencodeWithMetadata(ext, bgr, types, chunks, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    else:
        _write_tiff_16(arr, tmp, xmp, icc, _tiff_exif_tags(exif))
        return
    if not ok:
        raise OutputError(f"OpenCV could not encode a 16-bit {fmt}: write 8-bit or another format")
    buf.tofile(str(tmp))


def _write_tiff_16(arr: np.ndarray, tmp: Path, xmp: bytes | None, icc: bytes | None,
                   text_tags: dict[int, object] | None = None) -> None:
    """A 16-bit RGB(A) TIFF (deflate, horizontal predictor) with XMP (tag 700), ICC (tag 34675) and the
    descriptive EXIF tags, written by tifffile: neither Pillow nor OpenCV writes 16-bit colour TIFF with
    metadata."""
    import tifffile

    h, w, spp = arr.shape
    text = {code: value for code, value in (text_tags or {}).items() if isinstance(value, str)}
    extratags: list[tuple[int, str | int, int, object, bool]] = []
    for code, value in sorted((text_tags or {}).items()):
        if code in (270, 305, 306):  # description, software, date: tifffile's own arguments
            continue
        if isinstance(value, str):
            extratags.append((code, "s", 0, value.encode("ascii", "replace").decode("ascii"), True))
        elif isinstance(value, int):
            extratags.append((code, "H", 1, value, True))
    if xmp:
        extratags.append((700, "B", len(xmp), xmp, True))
    if icc:
        extratags.append((34675, 7, len(icc), icc, True))  # UNDEFINED, as the TIFF/EP and ICC specs say
    tifffile.imwrite(
        tmp, np.ascontiguousarray(arr, dtype=np.uint16), photometric="rgb", planarconfig="contig",
        compression="adobe_deflate", compressionargs={"level": 6}, predictor=True,
        extrasamples=["unassalpha"] if spp == 4 else None, rowsperstrip=max(1, (1 << 20) // (w * spp * 2)),
        metadata=None, description=text.get(270), software=text.get(305, False), datetime=text.get(306),
        extratags=extratags,
    )


# --------------------------------------------------------------------------------------------
# whole-sphere convenience: what a filter command needs


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


def _source_full_width(path: Path) -> int:
    """The full-sphere width of a file: GPano's, else the image's own width (headers only)."""
    from pano.io.gpano import parse_gpano

    im = _open(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = parse_gpano(_xmp_of(im))
        return g.full_width if g is not None else im.size[0]
    except Exception:  # noqa: BLE001 - read_image reports any problem with the file properly
        return 0
    finally:
        im.close()


def _geometry_at(img: PanoImage, width: int, height: int) -> SphereGeometry:
    """The file's sphere geometry for an output of ``width`` x ``height`` (from the GPano block in
    source units when there is one: no rounding from a reduced decode)."""
    if img.gpano is not None and img.gpano.projection == "equirectangular":
        at_source = img.gpano.fitted(*img.source_size)
        fitted = at_source.fitted(width, height) if at_source is not None else None
        if fitted is not None:
            return _viewer(fitted)
    base = img.geometry.fitted(width, height) if img.geometry is not None else None
    return _viewer(base if base is not None else SphereGeometry.full_sphere(width, height))


def load_sphere(
    path: str | os.PathLike,
    mode: ReadMode = "sphere",
    full_width: int | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> LoadedSphere:
    """Read a photosphere and put it on the full sphere (for processing at a working size).

    Args:
        path: The image file.
        mode: ``"sphere"`` or ``"force-sphere"`` (see :func:`read_image`).
        full_width: Width of the full-sphere equirect to return (default: the file's own full
            width, e.g. 15462 for a phone partial: pass a working width to save memory). The JPEG is
            decoded at a reduced size when that is enough for this width.
        max_pixels: Decompression-bomb guard (see :func:`read_image`).

    Returns:
        The :class:`LoadedSphere`.

    Raises:
        InputError: as :func:`read_image`; also for mode ``"flat"`` (a flat photo has no sphere).
    """
    import torch

    from pano.io.gpano import place_on_sphere
    from pano.sphere.resize import resize_equirect

    if mode == "flat":
        raise ValueError("load_sphere needs mode 'sphere' or 'force-sphere'; use read_image for flat photos")
    reduce = 1
    if full_width:
        src_full = _source_full_width(Path(path))
        while reduce < 8 and src_full / (reduce * 2) >= full_width:
            reduce *= 2  # JPEG DCT scaling: decode only what the working size needs
    img = read_image(path, mode=mode, max_pixels=max_pixels, reduce=reduce)
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

    A partial source is cut back out of the sphere (:func:`pano.io.gpano.crop_from_sphere`) and
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
    import torch

    from pano.io.gpano import crop_from_sphere
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
