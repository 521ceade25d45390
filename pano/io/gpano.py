"""Google Photo Sphere XMP (GPano) <-> :class:`~pano.sphere.partial.SphereGeometry`.

A photosphere file stores an equirectangular image, possibly only a crop of the full sphere. The
GPano block (https://developers.google.com/streetview/spherical-metadata) says where the crop
lies: ``FullPanoWidthPixels`` x ``FullPanoHeightPixels`` is the full sphere, and the image itself
is the ``CroppedAreaImageWidthPixels`` x ``CroppedAreaImageHeightPixels`` rectangle whose top-left
corner is at (``CroppedAreaLeftPixels``, ``CroppedAreaTopPixels``) in it. Full-sphere pixel column 0
is longitude -180°, the centre column longitude 0 (see :mod:`pano.sphere.convention`); a crop may
cross ±180° (``left + width > full_width``), it then wraps around.

Pose and heading: ``PoseHeadingDegrees`` (compass heading of the image centre), ``PosePitchDegrees``
and ``PoseRollDegrees`` are KEPT and written back unchanged; pano never rotates the pixels to
honour them, because every filter is rotation-equivariant on the sphere and viewers apply the
pose themselves. Other GPano fields pano does not interpret (photo dates, source photo count,
initial view, software, ...) are kept verbatim in :attr:`SphereGeometry.extra`.
The geometry itself and moving pixels to and from the full sphere are :mod:`pano.sphere.partial`;
finding a file's XMP packet is :mod:`pano.io.xmp`.
``LargestValidInteriorRect*`` is dropped on output (it is in source pixels and pano fills the
whole crop).
"""

from __future__ import annotations

import math
import os
import re
import xml.etree.ElementTree as ET

from pano.io.xmp import decode_xmp, read_xmp, strip_packet
from pano.sphere.partial import (  # re-exported: pano.io.gpano was their home
    Fill,
    SphereGeometry,
    crop_from_sphere,
    is_two_to_one,
    place_on_sphere,
    working_full_size,
)

__all__ = [
    "GPANO_NS",
    "MAX_FULL_WIDTH",
    "RDF_NS",
    "XMP_HEADER_JPEG",
    "Fill",
    "SphereGeometry",
    "crop_from_sphere",
    "gpano_problem",
    "gpano_xmp",
    "is_two_to_one",
    "parse_gpano",
    "place_on_sphere",
    "read_sphere_geometry",
    "read_xmp",
    "working_full_size",
]

GPANO_NS = "http://ns.google.com/photos/1.0/panorama/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMP_HEADER_JPEG = b"http://ns.adobe.com/xap/1.0/\x00"

# GPano fields interpreted by SphereGeometry (the rest goes to ``extra``).
_INT_FIELDS = {
    "FullPanoWidthPixels": "full_width",
    "FullPanoHeightPixels": "full_height",
    "CroppedAreaLeftPixels": "crop_left",
    "CroppedAreaTopPixels": "crop_top",
    "CroppedAreaImageWidthPixels": "crop_width",
    "CroppedAreaImageHeightPixels": "crop_height",
}
_FLOAT_FIELDS = {
    "PoseHeadingDegrees": "heading_deg",
    "PosePitchDegrees": "pitch_deg",
    "PoseRollDegrees": "roll_deg",
    "InitialViewHeadingDegrees": "initial_heading_deg",
    "InitialViewPitchDegrees": "initial_pitch_deg",
    "InitialViewRollDegrees": "initial_roll_deg",
    "InitialHorizontalFOVDegrees": "initial_hfov_deg",
}
_DROPPED_FIELDS = {
    "LargestValidInteriorRectLeft",
    "LargestValidInteriorRectTop",
    "LargestValidInteriorRectWidth",
    "LargestValidInteriorRectHeight",
}



# --------------------------------------------------------------------------------------------
# XMP parsing and writing


def _gpano_fields(xmp: str) -> dict[str, str]:
    """GPano name -> value from an XMP packet, attribute form and element form alike."""
    fields: dict[str, str] = {}
    ns = "{" + GPANO_NS + "}"
    try:
        root = ET.fromstring(strip_packet(xmp))
    except ET.ParseError:
        root = None
    if root is not None:
        for el in root.iter():
            for key, value in el.attrib.items():
                if key.startswith(ns):
                    fields.setdefault(key[len(ns):], value.strip())
            if isinstance(el.tag, str) and el.tag.startswith(ns):
                text = (el.text or "").strip()
                if not text:  # rdf:value or an rdf:Alt/Seq inside: take the first text found
                    text = next((t.strip() for t in el.itertext() if t.strip()), "")
                fields.setdefault(el.tag[len(ns):], text)
        return fields
    # broken XML (seen in the wild: truncated packets): fall back to a prefix-based scan
    prefix = _gpano_prefix(xmp)
    for m in re.finditer(rf'{prefix}:(\w+)\s*=\s*"([^"]*)"', xmp):
        fields.setdefault(m.group(1), m.group(2).strip())
    for m in re.finditer(rf"<{prefix}:(\w+)>([^<]*)</{prefix}:\1>", xmp):
        fields.setdefault(m.group(1), m.group(2).strip())
    return fields


def _gpano_prefix(xmp: str) -> str:
    m = re.search(r'xmlns:(\w+)\s*=\s*"' + re.escape(GPANO_NS) + '"', xmp)
    return re.escape(m.group(1)) if m else "GPano"



def _to_int(value: str) -> int:
    return round(float(value))


def _to_bool(value: str) -> bool | None:
    v = value.strip().lower()
    return True if v in ("true", "1", "yes") else False if v in ("false", "0", "no") else None



#: Largest ``FullPanoWidthPixels`` pano accepts: 2**20 px (a 550-gigapixel sphere); more is a broken block.
MAX_FULL_WIDTH = 1 << 20


def _raw_gpano(xmp: bytes | str | None) -> dict[str, str] | None:
    """The GPano fields of a packet (None: no GPano block, or no ``FullPanoWidthPixels``)."""
    if not xmp:
        return None
    text = decode_xmp(xmp)
    if GPANO_NS not in text and "GPano:" not in text:
        return None
    f = _gpano_fields(text)
    return f if "FullPanoWidthPixels" in f else None


def gpano_problem(xmp: bytes | str | None) -> str | None:
    """What is wrong with the GPano block of ``xmp``, naming the field, or None (valid, or no block).

    Checked against itself: every size a positive number, ``FullPanoWidthPixels`` at most
    :data:`MAX_FULL_WIDTH`, the full panorama 2:1 (:func:`is_two_to_one`), the crop inside it
    (``CroppedAreaLeftPixels`` in ``[0, FullPanoWidthPixels)``, wrapping across ±180° allowed;
    ``CroppedAreaTopPixels`` >= 0; crop no wider and no taller than the full panorama, and not past
    the bottom pole). The image size is checked against the crop by :func:`SphereGeometry.fitted`.

    Example:
        >>> gpano_problem('<x GPano:FullPanoWidthPixels="400" GPano:CroppedAreaImageWidthPixels="500"/>')
        'CroppedAreaImageWidthPixels=500 is wider than FullPanoWidthPixels=400'
    """
    f = _raw_gpano(xmp)
    if f is None:
        return None
    values: dict[str, float] = {}
    for name in _INT_FIELDS:
        if name in f:
            try:
                v = float(f[name])
            except ValueError:
                return f"{name}={f[name]!r} is not a number"
            if not math.isfinite(v):
                return f"{name}={f[name]} is not a number"
            values[name] = v
    fw = values["FullPanoWidthPixels"]
    fh = values.get("FullPanoHeightPixels", fw / 2)
    cw = values.get("CroppedAreaImageWidthPixels", fw)
    ch = values.get("CroppedAreaImageHeightPixels", fh)
    left = values.get("CroppedAreaLeftPixels", 0.0)
    top = values.get("CroppedAreaTopPixels", 0.0)
    for name, v in (("FullPanoWidthPixels", fw), ("FullPanoHeightPixels", fh),
                    ("CroppedAreaImageWidthPixels", cw), ("CroppedAreaImageHeightPixels", ch)):
        if round(v) <= 0:
            return f"{name}={v:g} is not a positive size"
    if fw > MAX_FULL_WIDTH:
        return f"FullPanoWidthPixels={fw:.0f} is over pano's limit of {MAX_FULL_WIDTH} px"
    if not is_two_to_one(round(fw), round(fh)):
        return f"FullPanoWidthPixels={fw:g} and FullPanoHeightPixels={fh:g} are not 2:1"
    if cw > fw:
        return f"CroppedAreaImageWidthPixels={cw:g} is wider than FullPanoWidthPixels={fw:g}"
    if ch > fh:
        return f"CroppedAreaImageHeightPixels={ch:g} is taller than FullPanoHeightPixels={fh:g}"
    if not 0 <= left < fw:
        return f"CroppedAreaLeftPixels={left:g} is outside the full panorama (0 to {fw - 1:g})"
    if top < 0:
        return f"CroppedAreaTopPixels={top:g} is negative"
    if top + ch > fh:
        return (f"CroppedAreaTopPixels={top:g} + CroppedAreaImageHeightPixels={ch:g} passes the bottom pole "
                f"(FullPanoHeightPixels={fh:g})")
    return None


def parse_gpano(xmp: bytes | str | None) -> SphereGeometry | None:
    """Read the GPano block of an XMP packet.

    Args:
        xmp: The XMP packet (bytes in UTF-8/16 or str). Both the attribute form
            (``<rdf:Description GPano:FullPanoWidthPixels="8000" ...>``) and the element form
            (``<GPano:FullPanoWidthPixels>8000</GPano:FullPanoWidthPixels>``) are understood.

    Returns:
        The geometry, or None when there is no usable GPano block (no XMP, no GPano fields, no
        ``FullPanoWidthPixels``, or an invalid block: :func:`gpano_problem` says what is wrong).
        Missing crop fields default to the full panorama, a missing ``FullPanoHeightPixels`` to half
        the width, a missing ``ProjectionType`` to equirectangular.
    """
    f = _raw_gpano(xmp)
    if f is None or gpano_problem(xmp) is not None:
        return None
    try:
        full_w = _to_int(f["FullPanoWidthPixels"])
        full_h = _to_int(f.get("FullPanoHeightPixels", str(full_w / 2)))
        crop_w = _to_int(f.get("CroppedAreaImageWidthPixels", str(full_w)))
        crop_h = _to_int(f.get("CroppedAreaImageHeightPixels", str(full_h)))
        left = _to_int(f.get("CroppedAreaLeftPixels", "0"))
        top = _to_int(f.get("CroppedAreaTopPixels", "0"))
    except (KeyError, ValueError, OverflowError):
        return None
    kwargs: dict[str, object] = {}
    for name, attr in _FLOAT_FIELDS.items():
        if name in f:
            try:
                kwargs[attr] = float(f[name])
            except ValueError:
                pass
    known = set(_INT_FIELDS) | set(_FLOAT_FIELDS) | _DROPPED_FIELDS | {"ProjectionType", "UsePanoramaViewer"}
    extra = tuple((k, v) for k, v in f.items() if k not in known)
    return SphereGeometry(
        full_width=full_w,
        full_height=full_h,
        crop_left=left % full_w,
        crop_top=top,
        crop_width=crop_w,
        crop_height=crop_h,
        projection=(f.get("ProjectionType") or "equirectangular").strip().lower(),
        use_panorama_viewer=_to_bool(f["UsePanoramaViewer"]) if "UsePanoramaViewer" in f else None,
        extra=extra,
        **kwargs,  # type: ignore[arg-type]
    )



def _fmt_float(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"


def _xml_attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;"))


def gpano_xmp(geometry: SphereGeometry, extra: dict[str, str] | None = None) -> bytes:
    """A complete XMP packet (UTF-8) describing ``geometry`` in GPano attribute form.

    Args:
        geometry: The geometry to write. ``UsePanoramaViewer`` is always written True (pano's
            output is meant for panorama viewers).
        extra: More properties for the same ``rdf:Description`` as ``{"prefix:Name": value}``,
            e.g. ``{"pano:Filter": "dream"}``; prefixes ``pano`` (``https://github.com/pano/ns/1.0/``),
            ``xmp`` and ``GPano`` are declared, anything else must be a plain name (written as
            ``pano:<name>``).

    Returns:
        The packet, ``<?xpacket begin=...?>`` through ``<?xpacket end="w"?>``.

    Example:
        >>> g = SphereGeometry.full_sphere(4096, 2048)
        >>> parse_gpano(gpano_xmp(g)) == SphereGeometry.full_sphere(4096, 2048)
        True
    """
    g = geometry
    props: list[tuple[str, str]] = [
        ("GPano:UsePanoramaViewer", "True"),
        ("GPano:ProjectionType", g.projection),
        ("GPano:FullPanoWidthPixels", str(g.full_width)),
        ("GPano:FullPanoHeightPixels", str(g.full_height)),
        ("GPano:CroppedAreaImageWidthPixels", str(g.crop_width)),
        ("GPano:CroppedAreaImageHeightPixels", str(g.crop_height)),
        ("GPano:CroppedAreaLeftPixels", str(g.crop_left)),
        ("GPano:CroppedAreaTopPixels", str(g.crop_top)),
    ]
    for name, attr in _FLOAT_FIELDS.items():
        v = getattr(g, attr)
        if v is not None:
            props.append((f"GPano:{name}", _fmt_float(v)))
    props += [(f"GPano:{k}", v) for k, v in g.extra if re.fullmatch(r"\w+", k)]
    for k, v in (extra or {}).items():
        name = k if re.fullmatch(r"(pano|xmp|GPano):\w+", k) else f"pano:{re.sub(r'[^A-Za-z0-9_]', '_', k)}"
        props.append((name, str(v)))
    attrs = "\n    ".join(f'{k}="{_xml_attr(v)}"' for k, v in props)
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="pano">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NS}">\n'
        '  <rdf:Description rdf:about=""\n'
        f'    xmlns:GPano="{GPANO_NS}"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:pano="https://github.com/pano/ns/1.0/"\n'
        f"    {attrs}/>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return body.encode("utf-8")



def read_sphere_geometry(path: str | os.PathLike) -> SphereGeometry | None:
    """The GPano geometry of an image file (reads only the headers: fast), or None without GPano."""
    return parse_gpano(read_xmp(path))
