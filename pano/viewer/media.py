"""What the viewer shows: the files named on the command line, expanded and paired.

A :class:`Gallery` is a list of :class:`GalleryItem`; each item is one world (``a``) and, for a
raw/dream pair, a second world (``b``) to crossfade into. Every file gets a small integer id; the
server serves ``/media/<id>`` and nothing else from the disk, so only files listed here can ever
leave the machine.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pano.errors import InputError

IMAGE_TYPES: dict[str, str] = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".gif": "image/gif",
}
VIDEO_TYPES: dict[str, str] = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/mp4",  # H.264/AAC in a QuickTime box plays as mp4 in browsers
    ".webm": "video/webm",
}
#: Suffix that marks the dreamed twin of a file: ``x.jpg`` pairs with ``x_dream.jpg``.
PAIR_SUFFIX = "_dream"

MediaKind = Literal["image", "video"]
#: How a file packs two eyes: one picture, left eye on top, or left eye on the left.
StereoMode = Literal["mono", "top-bottom", "left-right"]
STEREO_MODES: tuple[str, ...] = ("mono", "top-bottom", "left-right")


def media_kind(path: Path) -> MediaKind | None:
    """``"image"``, ``"video"`` or ``None`` (not something a browser can show) from the extension."""
    ext = path.suffix.lower()
    if ext in IMAGE_TYPES:
        return "image"
    if ext in VIDEO_TYPES:
        return "video"
    return None


def mime_type(path: Path) -> str:
    """The Content-Type the server sends for ``path``."""
    ext = path.suffix.lower()
    return IMAGE_TYPES.get(ext) or VIDEO_TYPES.get(ext) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@dataclass(frozen=True)
class MediaFile:
    """One file the server may send.

    Attributes:
        id: Index in :attr:`Gallery.files`; served at ``/media/<id>``.
        path: Resolved absolute path (symlinks followed once, when the gallery was built).
        kind: ``"image"`` or ``"video"``.
        geometry: Partial-photosphere placement (GPano) as a JSON-able dict with ``full_width``,
            ``full_height``, ``crop_left``, ``crop_top``, ``crop_width``, ``crop_height`` in pixels,
            or ``None`` for a full 2:1 sphere (and for videos).
        view: Where to look first (``yaw``, ``pitch``, optional ``fov``, degrees), or ``None``.
        stereo: How the frame holds the eyes: ``"mono"``, ``"top-bottom"`` (left eye on top) or
            ``"left-right"`` (left eye on the left).
        pose: The camera's tilt from GPano, ``{"pitch", "roll"}`` in degrees (``PosePitchDegrees``:
            the image centre's height above the horizon; ``PoseRollDegrees``: how far the horizon
            turns counter-clockwise in the image), or ``None`` when level. The page undoes it.
        size: ``(width, height)`` of an image from its header (``None`` for videos).
    """

    id: int
    path: Path
    kind: MediaKind
    geometry: dict[str, int] | None = None
    view: dict[str, float] | None = None
    stereo: StereoMode = "mono"
    pose: dict[str, float] | None = None
    size: tuple[int, int] | None = None

    @property
    def tiled(self) -> bool:
        """Whether the viewer shows this image from a cube-face tile pyramid (:mod:`pano.viewer.tiles`):
        an image wider than one texture that every headset can hold (a full sphere, a partial one
        placed in its full sphere, or a stereo photo, one pyramid per eye; not a partial stereo one)."""
        from pano.viewer.tiles import TILE_MIN_WIDTH

        if self.kind != "image" or self.size is None or (self.geometry is not None and self.stereo != "mono"):
            return False
        return self.size[0] > TILE_MIN_WIDTH or self.size[1] > TILE_MIN_WIDTH

    @property
    def url(self) -> str:
        return f"/media/{self.id}"

    def manifest(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "name": self.path.name,
            "kind": self.kind,
            "geometry": self.geometry,
            "view": self.view,
            "stereo": self.stereo,
            "pose": self.pose,
            "tiles": f"/tiles/{self.id}/" if self.tiled else None,
        }


@dataclass(frozen=True)
class GalleryItem:
    """One entry of the gallery: a world ``a`` and, for a pair, the world ``b`` it fades into."""

    a: MediaFile
    b: MediaFile | None = None

    def manifest(self) -> dict[str, Any]:
        return {
            "name": self.a.path.name,
            "kind": self.a.kind,
            "a": self.a.manifest(),
            "b": self.b.manifest() if self.b else None,
            "label_a": "raw" if self.b else "",
            "label_b": _pair_label(self.a, self.b) if self.b else "",
        }


def _pair_label(a: MediaFile, b: MediaFile) -> str:
    if b.path.stem == a.path.stem + PAIR_SUFFIX:
        return PAIR_SUFFIX.lstrip("_")
    return b.path.stem


@dataclass
class Gallery:
    """The files the viewer serves and the order it shows them in."""

    items: list[GalleryItem] = field(default_factory=list)
    files: list[MediaFile] = field(default_factory=list)

    def file(self, media_id: int) -> MediaFile | None:
        """The file with id ``media_id``, or ``None``."""
        if 0 <= media_id < len(self.files):
            return self.files[media_id]
        return None

    def manifest(self) -> dict[str, Any]:
        """The JSON the page loads from ``/manifest.json``."""
        return {"items": [item.manifest() for item in self.items]}


def _wrap_deg(d: float) -> float:
    return (d + 180.0) % 360.0 - 180.0


def _read_sphere(path: Path) -> tuple[dict[str, int] | None, dict[str, float] | None, dict[str, float] | None]:
    """GPano placement, initial view and pose of an image: ``(geometry, view, pose)``.

    ``geometry`` is ``None`` for a full sphere (or a file without GPano). ``view`` is where to look
    first, ``{"yaw", "pitch"[, "fov"]}`` in pano's convention, or ``None`` (the image centre):
    ``InitialViewHeadingDegrees`` relative to ``PoseHeadingDegrees`` (GPano: without a pose heading,
    headings count from the full panorama's left edge, so its centre is 180), else the middle of a
    partial photosphere. ``pose`` is ``{"pitch", "roll"}`` from ``PosePitchDegrees`` and
    ``PoseRollDegrees`` when either is set and not zero, else ``None``.
    """
    try:
        from pano.io.gpano import read_sphere_geometry
    except ImportError:  # the GPano reader is optional for the viewer
        return None, None, None
    try:
        geom = read_sphere_geometry(path)
    except InputError:
        return None, None, None
    if geom is None:
        return None, None, None
    pose = None
    if geom.pitch_deg or geom.roll_deg:
        pose = {"pitch": max(-90.0, min(90.0, float(geom.pitch_deg or 0.0))), "roll": float(geom.roll_deg or 0.0)}
    keys = ("full_width", "full_height", "crop_left", "crop_top", "crop_width", "crop_height")
    out = {k: int(getattr(geom, k)) for k in keys}
    if min(out["full_width"], out["full_height"], out["crop_width"], out["crop_height"]) <= 0:
        return None, None, pose
    full = (out["crop_left"], out["crop_top"], out["crop_width"], out["crop_height"]) == (
        0,
        0,
        out["full_width"],
        out["full_height"],
    )
    view: dict[str, float] | None = None
    if geom.initial_heading_deg is not None:
        centre = geom.heading_deg if geom.heading_deg is not None else 180.0
        view = {"yaw": _wrap_deg(geom.initial_heading_deg - centre), "pitch": float(geom.initial_pitch_deg or 0.0)}
        if geom.initial_hfov_deg:
            view["fov"] = float(geom.initial_hfov_deg)
    elif not full:
        fw, fh = out["full_width"], out["full_height"]
        lon = _wrap_deg(((out["crop_left"] + out["crop_width"] / 2) / fw - 0.5) * 360.0)
        top = (0.5 - out["crop_top"] / fh) * 180.0
        bottom = (0.5 - (out["crop_top"] + out["crop_height"]) / fh) * 180.0
        view = {"yaw": lon, "pitch": 0.0 if bottom <= 0.0 <= top else (top + bottom) / 2}
    return (None if full else out), view, pose


def _stereo_of_video(path: Path) -> StereoMode:
    """The eye packing a video's Spherical V1/V2 metadata names (``mono`` without any)."""
    try:
        from pano.io.spherical import read_spherical_metadata
    except ImportError:  # pragma: no cover - part of pano
        return "mono"
    try:
        return read_spherical_metadata(path).stereo
    except (InputError, OSError, ValueError):  # not an MP4/MOV (webm) or unreadable boxes
        return "mono"


def _stereo_of_image(path: Path) -> StereoMode:
    """The eye packing a photo's GPano block names in ``StereoMode`` (``mono`` without one)."""
    from pano.io.stereo import stereo_of_image

    return stereo_of_image(path)


def _image_size(path: Path) -> tuple[int, int] | None:
    """``(width, height)`` from the image's header, or ``None`` when it cannot be read."""
    try:
        from pano.io.header import open_image
    except ImportError:  # pragma: no cover
        return None
    try:
        im = open_image(path)
    except InputError:
        return None
    try:
        return im.size
    finally:
        im.close()


def _expand_folder(folder: Path) -> list[Path]:
    """The images and videos directly inside ``folder``, sorted; hidden files and symlinks that
    point outside the folder are skipped."""
    root = folder.resolve()
    out = []
    for entry in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        if entry.name.startswith(".") or media_kind(entry) is None:
            continue
        resolved = entry.resolve()
        if not resolved.is_file() or root not in resolved.parents:
            continue
        out.append(entry)
    return out


def _check_file(path: Path) -> Path:
    if not path.exists():
        raise InputError(f"{path} does not exist: check the name (pano view FILE|FOLDER ...)")
    if not path.is_file():
        raise InputError(f"{path} is not a file: name images, videos or folders of them")
    if media_kind(path) is None:
        known = " ".join(sorted(IMAGE_TYPES | VIDEO_TYPES))
        raise InputError(f"{path} is not something a browser can show ({known}): convert it, e.g. to .jpg or .mp4")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path} is not readable: check its permissions")
    return path


def build_gallery(
    paths: list[str | os.PathLike],
    compare: list[tuple[str, str]] | None = None,
    stereo: StereoMode | None = None,
) -> Gallery:
    """Expand folders, detect ``x`` + ``x_dream`` pairs, and give every file an id.

    Args:
        paths: Files and folders, in the order to show them. A folder contributes the images and
            videos directly inside it, sorted by name.
        compare: Explicit pairs ``(A, B)`` from ``--compare``; they come first.
        stereo: The eye packing of every file (``--stereo``); ``None`` reads it from each file:
            Spherical V1/V2 metadata of videos, the GPano ``StereoMode`` field of photos.

    Returns:
        The gallery. A file that is the ``_dream`` twin of another listed file is shown as that
        file's crossfade partner, not on its own.

    Raises:
        InputError: A path is missing, unreadable or not an image/video, or nothing is left to show.
    """
    listed: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = _expand_folder(p)
            if not found:
                raise InputError(f"folder {p} holds no images or videos: name files instead")
            listed.extend(found)
        else:
            listed.append(_check_file(p))

    gallery = Gallery()
    by_path: dict[Path, MediaFile] = {}

    def add(p: Path) -> MediaFile:
        resolved = p.resolve()
        if resolved in by_path:
            return by_path[resolved]
        kind = media_kind(resolved) or media_kind(p)
        assert kind is not None  # checked above
        geometry, view, pose = _read_sphere(resolved) if kind == "image" else (None, None, None)
        packing = stereo or (_stereo_of_image(resolved) if kind == "image" else _stereo_of_video(resolved))
        mf = MediaFile(len(gallery.files), resolved, kind, geometry, view, packing, pose, _image_size(resolved) if kind == "image" else None)
        gallery.files.append(mf)
        by_path[resolved] = mf
        return mf

    for a, b in compare or []:
        fa, fb = add(_check_file(Path(a))), add(_check_file(Path(b)))
        if fa.kind != fb.kind:
            raise InputError(f"--compare {a} {b}: one is an image, the other a video: compare like with like")
        gallery.items.append(GalleryItem(fa, fb))

    resolved_listed = [p.resolve() for p in listed]
    listed_set = set(resolved_listed)
    twins: dict[Path, Path] = {}
    for p in resolved_listed:
        twin = p.with_name(p.stem + PAIR_SUFFIX + p.suffix)
        if twin in listed_set and twin != p:
            twins[p] = twin
    partners = set(twins.values())
    seen: set[Path] = set()
    for p, r in zip(listed, resolved_listed):
        if r in seen or r in partners:
            continue
        seen.add(r)
        item = GalleryItem(add(p), add(twins[r]) if r in twins else None)
        gallery.items.append(item)

    if not gallery.items:
        raise InputError("nothing to show: name photospheres, 360 videos or folders (pano view FILE ...)")
    return gallery
