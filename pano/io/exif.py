"""EXIF carried from an input to its output: read from a TIFF's own tags, rewritten for the output's
pixels (orientation 1, size updated, the source's layout tags dropped), and as TIFF tags for a TIFF output."""

from __future__ import annotations

import warnings

#: EXIF orientation tag (1-8).
ORIENTATION = 0x0112
_EXIF_IFD = 0x8769
# IFD0 tags that describe a file's pixel layout (size, strips, compression, thumbnail offsets):
# never copied to another file (a TIFF writer would take the source's size from them).
_STRUCTURAL_TAGS = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 338, 339, 513, 514, 530, 531, 532)
# IFD0 tags of an EXIF block that a TIFF carries as its own tags: description, make, model, software,
# date, artist, copyright
TIFF_TEXT_TAGS = (270, 271, 272, 305, 306, 315, 33432)


def exif_from_tiff(im) -> bytes | None:
    """An EXIF block made of a TIFF's descriptive tags (make, model, date, ...), or None."""
    from PIL import Image

    tags = {t: im.tag_v2[t] for t in TIFF_TEXT_TAGS if isinstance(im.tag_v2.get(t), str)}
    if not tags:
        return None
    e = Image.Exif()
    for t, v in tags.items():
        e[t] = v
    return e.tobytes()


def output_exif(exif: bytes | None, width: int, height: int) -> bytes | None:
    """The EXIF block for the output: orientation 1, pixel dimensions updated."""
    if not exif:
        return None
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e = Image.Exif()
            e.load(exif)
            e[ORIENTATION] = 1
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


def tiff_exif_tags(exif: bytes | None) -> dict[int, object]:
    """The descriptive EXIF tags a TIFF carries as its own (orientation 1 with them), from an EXIF block."""
    if not exif:
        return {}
    from PIL import Image

    try:
        e = Image.Exif()
        e.load(exif)
        tags: dict[int, object] = {
            t: str(e[t]).rstrip("\x00") for t in TIFF_TEXT_TAGS if t in e and isinstance(e[t], str)
        }
        if tags:
            tags[ORIENTATION] = 1
        return tags
    except Exception:  # noqa: BLE001 - broken EXIF: the image matters more
        return {}
