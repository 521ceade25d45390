"""360 video metadata in MP4/MOV files: Spherical Video V1 and V2, read and written by pano itself.

Two generations of Google's spherical video metadata are in use, and players look for either:

* **V1** (``uuid`` box ``ffcc8263-f855-4a93-8814-587a02521fdd`` in the video ``trak``) holding
  GSpherical RDF/XML: ``<GSpherical:ProjectionType>equirectangular</...>``,
  ``<GSpherical:StereoMode>top-bottom</...>``.
* **V2** (boxes inside the video sample entry, e.g. ``avc1``/``hvc1``): ``st3d`` (stereo mode:
  0 mono, 1 top-bottom, 2 left-right) and ``sv3d`` { ``svhd`` (source), ``proj`` { ``prhd`` (pose,
  16.16 degrees), ``equi`` (bounds, 0.32 fractions) } }.

Only the ``moov`` box is read into memory; media data is copied in blocks (or left in place when
``moov`` is the last box, as PyAV/FFmpeg writes it). Chunk offsets (``stco``/``co64``) are
shifted when ``moov`` sits before ``mdat``.

Example:
    >>> meta = SphericalMetadata(stereo="top-bottom")
    >>> b"top-bottom" in v1_xml(meta)
    True
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from pano.errors import InputError

StereoMode = Literal["mono", "top-bottom", "left-right"]

SPHERICAL_V1_UUID = bytes.fromhex("ffcc8263f8554a938814587a02521fdd")
_STEREO_V2: dict[str, int] = {"mono": 0, "top-bottom": 1, "left-right": 2}
_STEREO_FROM_V2: dict[int, StereoMode] = {0: "mono", 1: "top-bottom", 2: "left-right"}
# Boxes whose payload is a plain list of child boxes.
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"udta", b"edts", b"dinf", b"sv3d", b"proj"}
# Visual sample entries: 78 bytes of fixed fields before their child boxes.
_VISUAL_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1", b"mp4v", b"vp09", b"av01", b"dvh1", b"dvhe"}
_VISUAL_ENTRY_FIELDS = 78
_SOFTWARE = "pano"


@dataclass(frozen=True)
class SphericalMetadata:
    """What a file says about its 360 layout.

    Attributes:
        projection: ``"equirectangular"`` (the only projection pano writes) or another name read
            from a file (``"cubemap"``, ...); ``None`` when the file has no spherical metadata.
        stereo: frame packing of the two eyes: ``mono``, ``top-bottom`` (left eye on top) or
            ``left-right``.
        yaw_deg, pitch_deg, roll_deg: initial view / pose, degrees.
        v1: the file carries a Spherical V1 uuid box.
        v2: the file carries Spherical V2 ``sv3d`` (or ``st3d``) boxes.
    """

    projection: str | None = "equirectangular"
    stereo: StereoMode = "mono"
    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    roll_deg: float = 0.0
    v1: bool = False
    v2: bool = False

    @property
    def is_spherical(self) -> bool:
        return self.projection is not None


# --------------------------------------------------------------------------------------- boxes


@dataclass
class _Box:
    kind: bytes
    payload: bytes = b""  # raw payload for leaf boxes; the fixed prefix for stsd / sample entries
    children: list[_Box] | None = None

    def serialize(self) -> bytes:
        body = self.payload + b"".join(c.serialize() for c in (self.children or []))
        size = 8 + len(body)
        if size > 0xFFFFFFFF:  # pragma: no cover - a moov this large does not happen
            return struct.pack(">I4sQ", 1, self.kind, size + 8) + body
        return struct.pack(">I4s", size, self.kind) + body

    def find(self, kind: bytes) -> _Box | None:
        return next((c for c in self.children or [] if c.kind == kind), None)


def _parse_boxes(data: bytes, parent: bytes = b"") -> list[_Box]:
    boxes: list[_Box] = []
    off = 0
    while off + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[off : off + 8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", data[off + 8 : off + 16])[0]
            hdr = 16
        elif size == 0:
            size = len(data) - off
        if size < hdr or off + size > len(data):
            raise ValueError(f"bad box {kind!r} inside {parent!r}")
        body = data[off + hdr : off + size]
        if kind in _CONTAINERS:
            boxes.append(_Box(kind, b"", _parse_boxes(body, kind)))
        elif kind == b"stsd" and len(body) >= 8:
            boxes.append(_Box(kind, body[:8], _parse_boxes(body[8:], kind)))
        elif kind in _VISUAL_ENTRIES and parent == b"stsd" and len(body) >= _VISUAL_ENTRY_FIELDS:
            boxes.append(
                _Box(kind, body[:_VISUAL_ENTRY_FIELDS], _parse_boxes(body[_VISUAL_ENTRY_FIELDS:], kind))
            )
        else:
            boxes.append(_Box(kind, body))
        off += size
    return boxes


def _top_level(f: BinaryIO) -> list[tuple[bytes, int, int, int]]:
    """(kind, offset, header size, total size) of each top-level box, reading headers only."""
    f.seek(0, os.SEEK_END)
    end = f.tell()
    out = []
    off = 0
    while off + 8 <= end:
        f.seek(off)
        head = f.read(16)
        size, kind = struct.unpack(">I4s", head[:8])
        hdr = 8
        if size == 1:
            size = struct.unpack(">Q", head[8:16])[0]
            hdr = 16
        elif size == 0:
            size = end - off
        if size < hdr or off + size > end:
            raise ValueError(f"truncated or corrupt box {kind!r} at byte {off}")
        out.append((kind, off, hdr, size))
        off += size
    return out


def _read_moov(path: Path) -> tuple[list[tuple[bytes, int, int, int]], _Box]:
    try:
        with open(path, "rb") as f:
            tops = _top_level(f)
            moov = next((t for t in tops if t[0] == b"moov"), None)
            if moov is None:
                raise ValueError("no moov box")
            f.seek(moov[1] + moov[2])
            data = f.read(moov[3] - moov[2])
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable MP4/MOV file ({exc}): check the file") from exc
    return tops, _Box(b"moov", b"", _parse_boxes(data, b"moov"))


def _video_traks(moov: _Box) -> list[tuple[_Box, _Box | None]]:
    """(trak, visual sample entry or None) for every video track."""
    out = []
    for trak in moov.children or []:
        if trak.kind != b"trak":
            continue
        mdia = trak.find(b"mdia")
        hdlr = mdia.find(b"hdlr") if mdia else None
        if hdlr is None or hdlr.payload[8:12] != b"vide":
            continue
        stsd = _descend(trak, [b"mdia", b"minf", b"stbl", b"stsd"])
        entry = next((c for c in (stsd.children or []) if c.children is not None), None) if stsd else None
        out.append((trak, entry))
    return out


def _descend(box: _Box, path: list[bytes]) -> _Box | None:
    cur: _Box | None = box
    for kind in path:
        cur = cur.find(kind) if cur else None
    return cur


# ------------------------------------------------------------------------------------ V1 / V2


def v1_xml(meta: SphericalMetadata) -> bytes:
    """The GSpherical RDF/XML of a Spherical Video V1 uuid box."""
    lines = [
        '<?xml version="1.0"?><rdf:SphericalVideo',
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"',
        'xmlns:GSpherical="http://ns.google.com/videos/1.0/spherical/">',
        "<GSpherical:Spherical>true</GSpherical:Spherical>",
        "<GSpherical:Stitched>true</GSpherical:Stitched>",
        f"<GSpherical:StitchingSoftware>{_SOFTWARE}</GSpherical:StitchingSoftware>",
        f"<GSpherical:ProjectionType>{meta.projection or 'equirectangular'}</GSpherical:ProjectionType>",
    ]
    if meta.stereo != "mono":
        lines.append(f"<GSpherical:StereoMode>{meta.stereo}</GSpherical:StereoMode>")
    for tag, value in (("Heading", meta.yaw_deg), ("Pitch", meta.pitch_deg), ("Roll", meta.roll_deg)):
        if value:
            lines.append(f"<GSpherical:InitialView{tag}Degrees>{value:g}</GSpherical:InitialView{tag}Degrees>")
    lines.append("</rdf:SphericalVideo>")
    return "\n".join(lines).encode()


def _xml_tag(xml: str, tag: str) -> str | None:
    m = re.search(rf"<GSpherical:{tag}>\s*([^<]*?)\s*</GSpherical:{tag}>", xml)
    return m.group(1) if m else None


def _parse_v1(payload: bytes) -> dict:
    xml = payload[16:].decode("utf-8", "replace")
    if _xml_tag(xml, "Spherical") not in ("true", "True", "1"):
        return {}
    out: dict = {"projection": (_xml_tag(xml, "ProjectionType") or "equirectangular").lower()}
    stereo = (_xml_tag(xml, "StereoMode") or "mono").lower()
    out["stereo"] = stereo if stereo in _STEREO_V2 else "mono"
    for tag, key in (("Heading", "yaw_deg"), ("Pitch", "pitch_deg"), ("Roll", "roll_deg")):
        value = _xml_tag(xml, f"InitialView{tag}Degrees")
        if value:
            try:
                out[key] = float(value)
            except ValueError:
                pass
    return out


def _fixed_16_16(raw: bytes) -> float:
    return struct.unpack(">i", raw)[0] / 65536.0


def _parse_v2(entry: _Box) -> dict:
    out: dict = {}
    st3d = entry.find(b"st3d")
    if st3d is not None and len(st3d.payload) >= 5:
        out["stereo"] = _STEREO_FROM_V2.get(st3d.payload[4], "mono")
    sv3d = entry.find(b"sv3d")
    if sv3d is not None:
        proj = sv3d.find(b"proj")
        kinds = {c.kind for c in (proj.children or [])} if proj else set()
        out["projection"] = "equirectangular" if b"equi" in kinds else "cubemap" if b"cbmp" in kinds else "mesh"
        prhd = proj.find(b"prhd") if proj else None
        if prhd is not None and len(prhd.payload) >= 16:
            p = prhd.payload
            out["yaw_deg"], out["pitch_deg"], out["roll_deg"] = (
                _fixed_16_16(p[4:8]),
                _fixed_16_16(p[8:12]),
                _fixed_16_16(p[12:16]),
            )
    return out


def _v2_boxes(meta: SphericalMetadata) -> list[_Box]:
    full = b"\x00\x00\x00\x00"  # version 0, flags 0

    def fixed(deg: float) -> bytes:
        return struct.pack(">i", int(round(deg * 65536.0)))

    st3d = _Box(b"st3d", full + bytes([_STEREO_V2[meta.stereo]]))
    svhd = _Box(b"svhd", full + _SOFTWARE.encode() + b"\x00")
    prhd = _Box(b"prhd", full + fixed(meta.yaw_deg) + fixed(meta.pitch_deg) + fixed(meta.roll_deg))
    equi = _Box(b"equi", full + struct.pack(">IIII", 0, 0, 0, 0))  # full sphere: no cropping
    sv3d = _Box(b"sv3d", b"", [svhd, _Box(b"proj", b"", [prhd, equi])])
    return [st3d, sv3d]


# ----------------------------------------------------------------------------------- public


def read_spherical_metadata(path: str | os.PathLike) -> SphericalMetadata:
    """Read the 360 metadata of the first video track of an MP4/MOV file.

    V2 boxes win over V1 where both are present and disagree (V2 is the newer standard).

    Returns:
        The metadata; ``projection`` is ``None`` when the file has neither V1 nor V2 boxes.

    Raises:
        InputError: the file is not a readable MP4/MOV (ISO BMFF) file.
    """
    _, moov = _read_moov(Path(path))
    traks = _video_traks(moov)
    fields: dict = {"projection": None}
    v1 = v2 = False
    if traks:
        trak, entry = traks[0]
        for child in trak.children or []:
            if child.kind == b"uuid" and child.payload[:16] == SPHERICAL_V1_UUID:
                parsed = _parse_v1(child.payload)
                if parsed:
                    fields.update(parsed)
                    v1 = True
        if entry is not None:
            parsed = _parse_v2(entry)
            if parsed:
                if "projection" not in parsed:  # st3d alone says nothing about the projection
                    parsed["projection"] = fields["projection"]
                fields.update(parsed)
                v2 = entry.find(b"sv3d") is not None or entry.find(b"st3d") is not None
    return SphericalMetadata(**fields, v1=v1, v2=v2)


def write_spherical_metadata(path: str | os.PathLike, meta: SphericalMetadata) -> None:
    """Write Spherical V1 and V2 metadata into the first video track of an MP4 file, in place.

    Existing V1/V2 boxes are replaced. When ``moov`` is the file's last box the file is
    truncated and the new ``moov`` appended (no media data is copied); otherwise the file is
    rewritten through a temporary file beside it, with chunk offsets shifted as needed.

    Raises:
        InputError: the file is not an MP4 or has no video track.
    """
    path = Path(path)
    tops, moov = _read_moov(path)
    traks = _video_traks(moov)
    if not traks or traks[0][1] is None:
        raise InputError(f"{path}: no video track to tag as 360: check the file")
    trak, entry = traks[0]
    assert entry is not None
    trak.children = [
        c for c in trak.children or [] if not (c.kind == b"uuid" and c.payload[:16] == SPHERICAL_V1_UUID)
    ]
    trak.children.append(_Box(b"uuid", SPHERICAL_V1_UUID + v1_xml(meta)))
    entry.children = [c for c in entry.children or [] if c.kind not in (b"st3d", b"sv3d")]
    entry.children.extend(_v2_boxes(meta))

    moov_top = next(t for t in tops if t[0] == b"moov")
    media_after = any(t[0] == b"mdat" and t[1] > moov_top[1] for t in tops)
    if moov_top is tops[-1] and not media_after:
        new = moov.serialize()
        with open(path, "r+b") as f:
            f.seek(moov_top[1])
            f.write(new)
            f.truncate()
        return

    delta = len(moov.serialize()) - moov_top[3]
    if media_after and delta:
        _shift_chunk_offsets(moov, delta, after=moov_top[1])
    new = moov.serialize()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".meta" + path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
            for kind, off, _hdr, size in tops:
                if kind == b"moov":
                    out.write(new)
                    continue
                src.seek(off)
                _copy_bytes(src, out, size)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _copy_bytes(src: BinaryIO, dst: BinaryIO, count: int, block: int = 1 << 22) -> None:
    while count > 0:
        chunk = src.read(min(block, count))
        if not chunk:
            raise InputError("file ended early while copying media data: check the file")
        dst.write(chunk)
        count -= len(chunk)


def _shift_chunk_offsets(box: _Box, delta: int, after: int) -> None:
    """Add ``delta`` to every stco/co64 chunk offset that points past byte ``after``."""
    for child in box.children or []:
        if child.children is not None:
            _shift_chunk_offsets(child, delta, after)
        elif child.kind in (b"stco", b"co64"):
            p = child.payload
            (count,) = struct.unpack(">I", p[4:8])
            fmt, width = (">I", 4) if child.kind == b"stco" else (">Q", 8)
            values = [struct.unpack(fmt, p[8 + i * width : 8 + (i + 1) * width])[0] for i in range(count)]
            values = [v + delta if v > after else v for v in values]
            if child.kind == b"stco" and max(values, default=0) > 0xFFFFFFFF:  # pragma: no cover
                raise InputError("chunk offsets overflow 32 bits after adding 360 metadata")
            child.payload = p[:8] + b"".join(struct.pack(fmt, v) for v in values)


def copy_with_spherical_metadata(src: str | os.PathLike, dst: str | os.PathLike, meta: SphericalMetadata) -> None:
    """Copy ``src`` to ``dst`` and tag the copy (a convenience for tools and tests)."""
    shutil.copyfile(src, dst)
    write_spherical_metadata(dst, meta)
