"""XMP packets, read in one place: from an open Pillow image (JPEG APP1, PNG iTXt, WebP chunk, TIFF tag 700)
or from a file's headers, and as text (bytes in UTF-8/16, the packet without its wrapper).

What a packet says about the sphere is :mod:`pano.io.gpano`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pano.errors import InputError
from pano.io.header import open_image


def xmp_of(im) -> bytes | None:
    """The XMP packet of an open Pillow image (headers only: never decodes pixels), or None."""
    xmp = im.info.get("xmp") or im.info.get("XML:com.adobe.xmp")
    if xmp is None and im.format == "TIFF":
        xmp = im.tag_v2.get(700)
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    return bytes(xmp) if xmp else None


def read_xmp(path: str | os.PathLike) -> bytes | None:
    """The XMP packet of an image file, reading headers only (no pixel decoding), or None
    (also for a missing or unreadable file)."""
    try:
        im = open_image(Path(path))
    except InputError:
        return None
    try:
        return xmp_of(im)
    except Exception:  # noqa: BLE001 - a broken header: no geometry
        return None
    finally:
        im.close()


def decode_xmp(xmp: bytes | str) -> str:
    """The packet as text: bytes are UTF-8, else UTF-16, else Latin-1."""
    if isinstance(xmp, str):
        return xmp
    for enc in ("utf-8", "utf-16"):
        try:
            return xmp.decode(enc)
        except UnicodeDecodeError:
            continue
    return xmp.decode("latin-1")


def strip_packet(xmp: str) -> str:
    """The x:xmpmeta (or rdf:RDF) element of a packet, without the xpacket wrapper and padding."""
    start = xmp.find("<x:xmpmeta")
    end_tag = "</x:xmpmeta>"
    if start < 0:
        start, end_tag = xmp.find("<rdf:RDF"), "</rdf:RDF>"
    end = xmp.rfind(end_tag)
    if start < 0 or end < 0:
        return xmp.strip().strip("\x00")
    return xmp[start : end + len(end_tag)]
