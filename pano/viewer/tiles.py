"""Multi-resolution cube-face tile pyramids for spheres larger than a GPU texture.

A browser cannot hold a 16384x8192 (or 32768x16384) equirect in one texture (WebGL's limit is
4096-16384 and a headset's is at the low end), so the page would shrink it and throw the detail
away. Instead the server cuts the sphere into a pyramid of cube-face tiles, the layout of
Pannellum's multires, Marzipano and Photo Sphere Viewer's tiled adapters, and the page loads the
tiles of the current view, coarse first and finest last.

Layout (faces F R B L U D as in :mod:`pano.sphere.cubemap`): level ``l`` has faces of
``TILE * 2**l`` pixels, cut into ``2**l x 2**l`` tiles of ``TILE`` pixels; the finest level's face
is at least a quarter of the equirect's width (a face spans 90 degrees), so no pixel of the source
is lost. Every tile is stored with a one-pixel gutter taken from its neighbours (the next tile, or
across a face edge the neighbouring face, the face plane continued), so bilinear filtering never
shows a seam at tile or face borders. The finest level is sampled from the image with its rows
box-filtered along longitude near the poles (where equirect rows hold many more pixels per degree);
every coarser level is the 2x2 box reduction of the one below.

The whole pyramid is built once (:meth:`TileSource.build`) with bounded memory, into the user's cache
folder (``$XDG_CACHE_HOME/pano/tiles`` or ``~/.cache/pano/tiles``), keyed by the SHA-256 of the
file's bytes and the layout, never beside the user's files; it is written to a temporary folder
renamed into place when complete, so a half-built pyramid is never served. Stereo photos get one
pyramid per eye; a partial photosphere is placed in its full sphere.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pano.errors import InputError
from pano.sphere.partial import SphereGeometry

__all__ = ["TILE", "TILE_MIN_WIDTH", "Region", "TileSource", "cache_dir", "pyramid_face_sizes", "regions", "sample_region"]

#: Tile size in pixels (without the one-pixel gutter on each side).
TILE = 512
#: Full spheres wider than this get a pyramid (one texture of this size works on every headset).
TILE_MIN_WIDTH = 4096
_FORMAT_VERSION = 2
#: The sphere outside a partial photo: the page's background (0.16, 0.17, 0.19).
BACKGROUND = (41, 43, 48)
_QUALITY = 95  # tiles are coded one by one: their errors must stay well under a grey level at the borders
_BLOCK = 256
_BUILD_LOCK = threading.Lock()


def cache_dir() -> Path:
    """pano's per-user cache folder for tiles: ``$XDG_CACHE_HOME/pano/tiles`` or ``~/.cache/pano/tiles``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pano" / "tiles"


def pyramid_face_sizes(width: int, tile: int = TILE) -> list[int]:
    """Face sizes of every level, coarsest first: ``tile * 2**l`` up to the first that holds a
    quarter of ``width`` (a face spans 90 degrees of the equirect's 360)."""
    sizes = [tile]
    while sizes[-1] * 4 < width:
        sizes.append(sizes[-1] * 2)
    return sizes


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 22):
            h.update(block)
    return h.hexdigest()


def _face_rays(rot: np.ndarray, size: int, pad: int, rows: slice, cols: slice) -> np.ndarray:
    """Unit directions (pano axes) of the pixel centres ``[rows, cols]`` of the face with
    camera-to-world rotation ``rot``, padded by ``pad`` (the face plane continued)."""
    a = ((np.arange(size + 2 * pad, dtype=np.float64) - pad + 0.5) / size) * 2 - 1
    u, v = np.meshgrid(a[cols].astype(np.float32), -a[rows].astype(np.float32))
    rays = np.stack([u, v, np.ones_like(u)], -1)
    rays /= np.sqrt(u * u + v * v + 1)[..., None]
    return rays @ rot.T.astype(np.float32)


@dataclass(frozen=True)
class Region:
    """Where one eye's (possibly partial) equirect lies in the image, in image pixels.

    ``x0, y0``: the eye's top-left corner in the image (the right eye of a stereo photo starts half
    way down or across); ``eye``: where that eye's pixels lie on its full sphere (the whole sphere for a
    full one; a GPano crop for a partial one).
    """

    x0: int
    y0: int
    eye: SphereGeometry

    @property
    def full(self) -> bool:
        """True when the eye goes all the way round in longitude (its columns wrap around)."""
        return self.eye.crop_width >= self.eye.full_width


def regions(width: int, height: int, stereo: str = "mono", geometry: dict[str, int] | None = None) -> list[Region]:
    """The eyes of an image (one, or left then right) as :class:`Region` s."""
    if geometry is not None:
        if stereo != "mono":
            raise ValueError("a partial stereo photo is not tiled")
        g = geometry
        return [Region(0, 0, SphereGeometry(g["full_width"], g["full_height"], g["crop_left"], g["crop_top"], width, height))]
    if stereo == "top-bottom":
        return [Region(0, e * (height // 2), SphereGeometry.full_sphere(width, height // 2)) for e in (0, 1)]
    if stereo == "left-right":
        return [Region(e * (width // 2), 0, SphereGeometry.full_sphere(width // 2, height)) for e in (0, 1)]
    return [Region(0, 0, SphereGeometry.full_sphere(width, height))]


def _box_rows(block: np.ndarray, k: np.ndarray, circular: bool) -> np.ndarray:
    """Each row of the uint8 ``block (R, C, 3)`` box-filtered along its length over ``k[r]`` (odd)
    pixels, wrapping around (``circular``) or repeating the edge pixels; rows with ``k < 3`` are
    left as they are. A few rows at a time, so the temporaries stay small however wide the rows."""
    out = block.copy()
    w = block.shape[1]
    for kk in np.unique(k):
        if kk < 3:
            continue
        sel = np.nonzero(k == kk)[0]
        kk = int(min(kk, (w - 1) | 1)) if circular else int(kk)
        half = kk // 2
        idx = np.arange(-half - 1, w + half)
        idx = idx % w if circular else np.clip(idx, 0, w - 1)
        chunk = max(1, (1 << 17) // (len(idx) * block.shape[2]))  # rows at a time: 1 MiB of float64 sums
        for i in range(0, len(sel), chunk):
            rows = sel[i : i + chunk]
            csum = np.cumsum(block[rows][:, idx], axis=1, dtype=np.float64)
            # csum[j + kk] - csum[j]: the kk pixels after index j of the extended row (half each side)
            box = csum[:, kk:] - csum[:, :-kk]
            del csum
            box *= 1 / kk
            box += 0.5
            out[rows] = np.clip(box, 0, 255, out=box)  # (truncated to uint8 on assignment)
    return out


def _row_widths(region: Region, rows: np.ndarray, pixel_angle: float) -> np.ndarray:
    """The odd box widths (pixels) along the rows ``rows`` (crop row indices) for output pixels of
    ``pixel_angle`` radians: near the poles a row holds ``1 / cos(lat)`` times more pixels per radian."""
    lat = (0.5 - (region.eye.crop_top + rows + 0.5) / region.eye.full_height) * math.pi
    span = (region.eye.full_width * pixel_angle) / (2 * math.pi * np.maximum(np.cos(lat), 1e-9))
    return 2 * np.round((span - 1) / 2).astype(np.int64) + 1


def _read(im: Any, region: Region, y0: int, y1: int, c0: int, c1: int) -> np.ndarray:
    """Crop rows ``[y0, y1)`` and columns ``[c0, c1)`` of the region's crop from the decoded image as
    a uint8 array; a full sphere's columns wrap around (the crop of a partial one is clamped by the caller)."""
    pieces = []
    c = c0
    while c < c1:
        start = c % region.eye.crop_width
        n = min(c1 - c, region.eye.crop_width - start)
        x = region.x0 + start
        pieces.append(np.asarray(im.crop((x, region.y0 + y0, x + n, region.y0 + y1))))
        c += n
    return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)


def sample_region(im: Any, region: Region, dirs: np.ndarray, pixel_angle: float, background: tuple[int, int, int] = (0, 0, 0)) -> np.ndarray:
    """Anti-aliased bilinear samples of one eye of a decoded PIL image at ``dirs (R, C, 3)`` (unit
    vectors, pano axes) -> float32 ``(R, C, 3)``. Only the rows and columns the directions reach
    are read from the image (plus the width of the row filter), so memory stays that of the block.
    Rows are box-filtered along longitude first, circularly, over the odd number of pixels closest
    to what one output pixel of ``pixel_angle`` radians covers there (near the poles a row holds
    ``1 / cos(lat)`` times more pixels per radian of arc than at the equator, and plain bilinear
    sampling would alias); directions outside a partial sphere's crop get ``background``."""
    fw, fh = region.eye.full_width, region.eye.full_height
    cw, ch = region.eye.crop_width, region.eye.crop_height
    lon = np.arctan2(dirs[..., 0], dirs[..., 2])
    lat = np.arcsin(np.clip(dirs[..., 1], -1, 1))
    py = (0.5 - lat / math.pi) * fh - 0.5 - region.eye.crop_top
    valid = None
    if ch < fh:  # a band or a crop: rows above and below it are outside
        valid = (py >= -0.5) & (py <= ch - 0.5)
    if region.full:  # all the way round in longitude
        mid = math.atan2(float(dirs[..., 0].sum()), float(dirs[..., 2].sum()))
        rel = (lon - mid + math.pi) % (2 * math.pi) - math.pi
        if np.abs(rel).max() < 0.9 * math.pi:  # a window around the block's middle longitude
            px = ((mid + rel) / (2 * math.pi) + 0.5) * fw - 0.5
        else:  # around a pole: every column
            px = (lon / (2 * math.pi) + 0.5) * fw - 0.5
    else:
        px = ((lon / (2 * math.pi) + 0.5) * fw - region.eye.crop_left) % fw - 0.5
        inside = px <= cw - 0.5
        valid = inside if valid is None else valid & inside
        px = np.clip(px, 0, cw - 1)
    if valid is not None and not valid.any():  # wholly outside the photo
        return np.broadcast_to(np.asarray(background, np.float32), dirs.shape).copy()
    py = np.clip(py, 0, ch - 1)
    y0 = int(math.floor(py.min()))
    y1 = min(ch, int(math.ceil(py.max())) + 2)
    c0 = int(math.floor(px.min()))
    c1 = int(math.ceil(px.max())) + 2
    k = _row_widths(region, np.arange(y0, y1), pixel_angle)
    half = int(k.max()) // 2 if k.max() >= 3 else 0
    if region.full and (c1 - c0) + 2 * half >= fw:  # whole rows, filtered around the sphere
        slab, offset, wrap = _box_rows(_read(im, region, y0, y1, 0, fw), k, circular=True), c0, fw
    elif region.full:
        slab, offset, wrap = _box_rows(_read(im, region, y0, y1, c0 - half, c1 + half), k, circular=False), half, 0
    else:
        c1 = min(c1, cw)
        a, b = max(0, c0 - half), min(cw, c1 + half)
        slab, offset, wrap = _box_rows(_read(im, region, y0, y1, a, b), k, circular=False), c0 - a, 0
    x, y = px - c0, py - y0
    xi = np.floor(x).astype(np.intp)
    yi = np.minimum(np.floor(y).astype(np.intp), slab.shape[0] - 1)
    fx, fy = (x - xi).astype(np.float32).ravel(), (y - yi).astype(np.float32).ravel()
    yj = np.minimum(yi + 1, slab.shape[0] - 1)
    if wrap:
        xa, xb = (xi + offset) % wrap, (xi + offset + 1) % wrap
    else:
        xa = np.minimum(xi + offset, slab.shape[1] - 1)
        xb = np.minimum(xa + 1, slab.shape[1] - 1)
    # channel planes: the gathers and the weighting run along long rows (fast), not over 3 channels
    planes = np.ascontiguousarray(slab.transpose(2, 0, 1)).reshape(3, -1)
    sw = slab.shape[1]

    def at(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return np.take(planes, (yy * sw + xx).ravel(), axis=1).astype(np.float32)  # (take: 5x a fancy index)

    gx = 1 - fx
    out = (at(yi, xa) * gx + at(yi, xb) * fx) * (1 - fy) + (at(yj, xa) * gx + at(yj, xb) * fx) * fy
    out = out.T.reshape(*dirs.shape[:-1], 3)
    if valid is not None:
        out[~valid] = np.asarray(background, np.float32)
    return out


def _halve(arr: np.ndarray, band: int = 512) -> np.ndarray:
    """2x2 box reduction of a uint8 ``(2H, 2W, 3)`` array, in bands of rows (small temporaries)."""
    h, w = arr.shape[0] // 2, arr.shape[1] // 2
    out = np.empty((h, w, 3), np.uint8)
    for r in range(0, h, band):
        s = arr[2 * r : 2 * min(h, r + band)].astype(np.uint16)
        out[r : r + band] = (s[0::2, 0::2] + s[0::2, 1::2] + s[1::2, 0::2] + s[1::2, 1::2] + 2) >> 2
    return out


def stale_builds(root: Path) -> list[Path]:
    """Temporary build folders in ``root`` whose process is gone (a killed ``pano view``)."""
    out = []
    for d in root.glob(".*.part"):
        try:
            pid = int(d.name.rsplit(".", 2)[-2].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            out.append(d)
        except (ValueError, IndexError, PermissionError, OSError):
            continue
    return out


class TileSource:
    """The tile pyramid of one image, built once into the cache folder and served from its files.

    The first tile request builds the whole pyramid (:meth:`build`): the image is decoded once;
    each cube face is sampled at the finest level from the decoded image block by block (only the
    rows and columns a block reaches are read, row-filtered near the poles), with a border of
    ``2**(levels - 1)`` pixels of the face plane continued; every coarser level is the 2x2 box
    reduction of the one below (its border halves, down to the one-pixel gutter of level 0), and
    every level's tiles are cut from it and written as they are ready. So the memory is the decoded
    image plus one face of the finest level (a sixteenth of the image's pixels) and its coarser
    copies; nothing is kept once the build is done, and builds run one at a time in a process (a
    crossfade pair of large spheres is never decoded twice at once). The build goes to a temporary folder in the
    cache that is renamed into place when complete (a killed build is never served; its leftovers
    are removed by a later build), at ``<cache>/<sha256>-v2-t<tile>-<layout>/[right/]<level>/<face>/<row>_<col>.jpg``.

    Args:
        path: The image.
        width, height: Its size (from its header).
        folder: Cache folder (default :func:`cache_dir`).
        tile: Tile size.
        stereo: ``"mono"``, ``"top-bottom"`` or ``"left-right"``: one pyramid per eye (the right
            eye's under ``right/``).
        geometry: GPano placement of a partial photosphere (see :class:`pano.viewer.media.MediaFile`):
            it is placed in the full sphere, the rest is ``background``.
        background: The colour of the sphere outside a partial photo (the page's background).
        block: Face pixels sampled at a time (a square): the build's working memory besides the
            decoded image and the face.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        folder: Path | None = None,
        tile: int = TILE,
        stereo: str = "mono",
        geometry: dict[str, int] | None = None,
        background: tuple[int, int, int] = BACKGROUND,
        block: int = _BLOCK,
    ) -> None:
        self.path = path
        self.block = block
        self.width, self.height, self.tile = width, height, tile
        self.regions = regions(width, height, stereo, geometry)
        self.stereo, self.geometry, self.background = stereo, geometry, background
        self.face_sizes = tuple(pyramid_face_sizes(self.regions[0].eye.full_width, tile))
        self.root = folder or cache_dir()
        self._folder: Path | None = None
        self.builds = 0  # how many times this source built its pyramid (0 when the cache had it)

    def meta(self) -> dict[str, object]:
        """What the page needs: tile size, gutter, face sizes (coarsest first), source size, eyes."""
        return {
            "tile": self.tile, "gutter": 1, "levels": list(self.face_sizes), "width": self.width, "height": self.height,
            "eyes": len(self.regions),
        }

    @property
    def folder(self) -> Path:
        """This image's cache folder (hashes the file on first use): content, format and layout."""
        if self._folder is None:
            layout = self.stereo
            if self.geometry is not None:
                g = self.geometry
                layout += "-" + "x".join(str(g[k]) for k in ("full_width", "full_height", "crop_left", "crop_top"))
            bg = "".join(f"{c:02x}" for c in self.background)
            self._folder = self.root / f"{content_hash(self.path)}-v{_FORMAT_VERSION}-t{self.tile}-{layout}-{bg}"
        return self._folder

    def tile_file(self, level: int, face: int, row: int, col: int, eye: int = 0) -> Path | None:
        """The cached file of one tile (the pyramid is built first if the cache lacks it); ``None``
        for indices outside the pyramid.

        Raises:
            InputError: The image cannot be decoded, or the cache folder cannot be written.
        """
        if not (0 <= level < len(self.face_sizes) and 0 <= face < 6 and 0 <= eye < len(self.regions)):
            return None
        n = self.face_sizes[level] // self.tile
        if not (0 <= row < n and 0 <= col < n):
            return None
        folder = self.folder
        if not folder.is_dir():
            with _BUILD_LOCK:  # one build at a time in this process: one decoded image in memory
                if not folder.is_dir():
                    self.build()
        return folder / ("right" if eye else "") / str(level) / str(face) / f"{row}_{col}.jpg"

    def build(self) -> None:
        """Build the whole pyramid into the cache folder (a temporary folder, renamed when done).

        Raises:
            InputError: The image cannot be decoded, or the cache folder cannot be written.
        """
        from pano.io.header import open_image as _open

        target = self.folder
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            for old in stale_builds(self.root):
                shutil.rmtree(old, ignore_errors=True)
            tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}-", suffix=".part", dir=self.root))
        except OSError as exc:
            raise InputError(f"cannot write tiles to {self.root}: {exc.strerror}; set XDG_CACHE_HOME") from None
        try:
            im = _open(self.path)
            try:
                try:
                    im.load()
                    if im.mode != "RGB":
                        converted = im.convert("RGB")
                        im.close()
                        im = converted
                except (OSError, ValueError, MemoryError) as exc:
                    raise InputError(f"{self.path} cannot be decoded for tiling ({exc}): re-export it") from None
                for eye, region in enumerate(self.regions):
                    for face in range(6):
                        self._build_face(im, region, face, tmp / ("right" if eye else ""))
            finally:
                im.close()
            (tmp / "meta.json").write_text(json.dumps(self.meta()))
            try:
                os.rename(tmp, target)
            except OSError:
                if not target.is_dir():  # else another process finished the same pyramid first: use it
                    raise
            self.builds += 1
        except OSError as exc:
            raise InputError(f"cannot write tiles to {self.root}: {exc.strerror}; set XDG_CACHE_HOME") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _build_face(self, im: Any, region: Region, face: int, out: Path) -> None:
        sizes, t = self.face_sizes, self.tile
        pad = 2 ** (len(sizes) - 1)  # halves with every level: the one-pixel gutter of level 0
        size = sizes[-1]
        rot = _rotations()[face]
        n = size + 2 * pad
        arr = np.empty((n, n, 3), np.uint8)
        angle = (math.pi / 2) / size  # a face pixel at a face centre, the coarsest on the face
        b = self.block

        def fill(r: int, c: int) -> None:
            rows, cols = slice(r, min(n, r + b)), slice(c, min(n, c + b))
            block = sample_region(im, region, _face_rays(rot, size, pad, rows, cols), angle, self.background)
            arr[rows, cols] = np.clip(block + 0.5, 0, 255).astype(np.uint8)

        # numpy and Pillow release the GIL in their loops: a few blocks at once use the cores
        with ThreadPoolExecutor(max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(lambda rc: fill(*rc), [(r, c) for r in range(0, n, b) for c in range(0, n, b)]))
        for level in range(len(sizes) - 1, -1, -1):
            folder = out / str(level) / str(face)
            folder.mkdir(parents=True, exist_ok=True)
            for row in range(sizes[level] // t):
                for col in range(sizes[level] // t):
                    y, x = pad + row * t - 1, pad + col * t - 1
                    _save_tile(arr[y : y + t + 2, x : x + t + 2], folder / f"{row}_{col}.jpg")
            if level:
                arr = _halve(arr)
                pad //= 2


def _rotations() -> np.ndarray:
    import torch

    from pano.sphere.cubemap import face_rotations

    return face_rotations(dtype=torch.float64).numpy()


def _save_tile(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    if array.dtype != np.uint8:
        array = np.clip(array + 0.5, 0, 255).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(array)).save(path, format="JPEG", quality=_QUALITY, subsampling=0)
