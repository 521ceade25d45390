"""Encoding pixels to files with their metadata: 8-bit by Pillow (JPEG, PNG, WebP, TIFF), 16-bit PNG by
OpenCV (EXIF, XMP and ICC chunks), 16-bit TIFF by tifffile (deflate, XMP and ICC tags). Each writes the
temporary file it is given; :func:`pano.io.image.write_image` makes it atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pano.errors import OutputError
from pano.io.exif import tiff_exif_tags


def write_pillow(arr: np.ndarray, tmp: Path, fmt: str, exif: bytes | None, xmp: bytes | None,
                  icc: bytes | None, quality: int) -> None:
    """An 8-bit ``(H, W, 3|4)`` RGB(A) array as JPEG, PNG, WebP or TIFF with its EXIF, XMP and ICC."""
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
        tags: dict[int, object] = tiff_exif_tags(exif)
        if xmp:
            tags[700] = xmp
        if tags:
            kw["tiffinfo"] = tags
    try:
        im.save(tmp, format=fmt, **kw)
    except OSError:  # "Suspension not allowed here": Pillow gives the optimising JPEG encoder 2 bytes a pixel
        if not kw.get("optimize"):  # at quality 95, and very fine detail at 4:4:4 needs more: write it unoptimised
            raise
        kw["optimize"] = False
        im.save(tmp, format=fmt, **kw)




def write_16bit(arr: np.ndarray, tmp: Path, fmt: str, exif: bytes | None, xmp: bytes | None,
                  icc: bytes | None) -> None:
    """A 16-bit ``(H, W, 3|4)`` RGB(A) array as PNG (OpenCV, with EXIF, XMP and ICC chunks) or TIFF
    (:func:`write_tiff_16`)."""
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
        write_tiff_16(arr, tmp, xmp, icc, tiff_exif_tags(exif))
        return
    if not ok:
        raise OutputError(f"OpenCV could not encode a 16-bit {fmt}: write 8-bit or another format")
    buf.tofile(str(tmp))


def write_tiff_16(arr: np.ndarray, tmp: Path, xmp: bytes | None, icc: bytes | None,
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
