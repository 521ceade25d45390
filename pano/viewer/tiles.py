"""Multi-resolution cube-face tile pyramids for spheres larger than a GPU texture.

A browser cannot hold a 16384x8192 (or 32768x16384) equirect in one texture (WebGL's limit is
4096-16384 and a headset's is at the low end), so the page would shrink it and throw the detail
away. Instead the server cuts the sphere into a pyramid of cube-face tiles, the layout of
Pannellum's multires, Marzipano and Photo Sphere Viewer's tiled adapters, and the page loads the
tiles of the current view, coarse first and finest last. Each tile is made once, when it is
first asked for, and kept (see :class:`TileSource`).

Layout (faces F R B L U D as in :mod:`pano.sphere.cubemap`): level ``l`` has faces of
``TILE * 2**l`` pixels, cut into ``2**l x 2**l`` tiles of ``TILE`` pixels; the finest level's face
is at least a quarter of the equirect's width (a face spans 90 degrees), so no pixel of the source
is lost. Every tile is stored with a one-pixel gutter taken from its neighbours (the next tile, or
across a face edge the neighbouring face, the face plane continued), so bilinear filtering never
shows a seam at tile or face borders. Each level is sampled from an anti-aliased equirect of its
own resolution: a box-filtered reduction of the source, then a box filter along latitude rows near
the poles (where equirect rows hold many more pixels per degree).

Tiles are kept in the user's cache folder (``$XDG_CACHE_HOME/pano/tiles`` or
``~/.cache/pano/tiles``), keyed by the SHA-256 of the file's bytes, never beside the user's files;
each is written to a temporary file and renamed into place, so a half-written tile is never served.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import threading
from pathlib import Path

import numpy as np

from pano.errors import InputError

__all__ = ["TILE", "TILE_MIN_WIDTH", "TileSource", "antialias_rows", "cache_dir", "pyramid_face_sizes"]

#: Tile size in pixels (without the one-pixel gutter on each side).
TILE = 512
#: Full spheres wider than this get a pyramid (one texture of this size works on every headset).
TILE_MIN_WIDTH = 4096
_FORMAT_VERSION = 1
_QUALITY = 95  # tiles are coded one by one: their errors must stay well under a grey level at the borders
_BLOCK = 256


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


def antialias_rows(equi: np.ndarray, pixel_angle: float, band: int = 64) -> None:
    """Box-filter the rows of a uint8 equirect in place along longitude, circularly, over the odd
    number of pixels closest to what one output pixel of ``pixel_angle`` radians covers there: near
    the poles a row holds ``1 / cos(lat)`` times more pixels per radian of arc than at the equator,
    and plain bilinear sampling would alias. Rows that need less than 2 pixels are left alone."""
    h, w = equi.shape[:2]
    lat = (0.5 - (np.arange(h) + 0.5) / h) * math.pi
    span = (w * pixel_angle) / (2 * math.pi * np.maximum(np.cos(lat), 1e-9))
    k = np.minimum(2 * np.round((span - 1) / 2).astype(np.int64) + 1, w - 1 + (w % 2))
    for r0 in range(0, h, band):
        rows = np.arange(r0, min(h, r0 + band))
        for kk in np.unique(k[rows]):
            if kk < 3:
                continue
            sel = rows[k[rows] == kk]
            half = int(kk) // 2
            block = equi[sel].astype(np.float32)
            ext = np.concatenate([block[:, w - half - 1 :], block, block[:, :half]], axis=1)
            csum = np.cumsum(ext, axis=1, dtype=np.float64)
            equi[sel] = np.clip((csum[:, kk:] - csum[:, :-kk]) / kk + 0.5, 0, 255).astype(np.uint8)


def _sample_rows(equi: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Bilinear samples of the uint8 equirect at ``dirs (R, C, 3)`` -> float32 ``(R, C, 3)``; only
    the rows and columns the directions reach are read (wrapping across +-180 degrees)."""
    h, w = equi.shape[:2]
    lon = np.arctan2(dirs[..., 0], dirs[..., 2])
    lat = np.arcsin(np.clip(dirs[..., 1], -1, 1))
    py = np.clip((0.5 - lat / math.pi) * h - 0.5, 0, h - 1)
    y0 = int(math.floor(py.min()))
    y1 = min(h, int(math.ceil(py.max())) + 2)
    # the columns: a window around the block's middle longitude, or every column (around a pole)
    mid = math.atan2(float(dirs[..., 0].sum()), float(dirs[..., 2].sum()))
    rel = (lon - mid + math.pi) % (2 * math.pi) - math.pi
    if np.abs(rel).max() < 0.9 * math.pi:
        px = ((mid + rel) / (2 * math.pi) + 0.5) * w - 0.5
    else:
        px = (lon / (2 * math.pi) + 0.5) * w - 0.5
    c0 = int(math.floor(px.min()))
    cols = np.arange(c0, int(math.ceil(px.max())) + 2) % w
    slab = equi[y0:y1][:, cols].astype(np.float32)
    x, y = px - c0, py - y0
    xi, yi = np.floor(x).astype(np.intp), np.floor(y).astype(np.intp)
    fx, fy = (x - xi)[..., None].astype(np.float32), (y - yi)[..., None].astype(np.float32)
    yj = np.minimum(yi + 1, slab.shape[0] - 1)
    top = slab[yi, xi] * (1 - fx) + slab[yi, xi + 1] * fx
    bottom = slab[yj, xi] * (1 - fx) + slab[yj, xi + 1] * fx
    return top * (1 - fy) + bottom * fy


class TileSource:
    """The tiles of one image, made on demand and kept in the cache folder.

    The first tile request decodes the image (once; it stays in memory while the server runs) and
    prepares one anti-aliased equirect per level: the finest is the image itself, every coarser one
    a box-filtered reduction to four face widths; each then gets :func:`antialias_rows` for its
    face pixel size. A tile is sampled from its level's equirect with a one-pixel gutter (the
    neighbouring tile's, or across a face edge the neighbouring face's pixels on the continued face
    plane), written to ``<cache>/<sha256>-v1-t512/<level>/<face>/<row>_<col>.jpg`` through a
    temporary file and a rename, and served from there from then on.

    Args:
        path: A full-sphere equirect.
        width, height: Its size (from its header).
        folder: Cache folder (default :func:`cache_dir`).
        tile: Tile size.
    """

    def __init__(self, path: Path, width: int, height: int, folder: Path | None = None, tile: int = TILE) -> None:
        self.path = path
        self.width, self.height, self.tile = width, height, tile
        self.face_sizes = tuple(pyramid_face_sizes(width, tile))
        self.root = folder or cache_dir()
        self._folder: Path | None = None
        self._levels: list[np.ndarray] | None = None
        self._lock = threading.Lock()

    def meta(self) -> dict[str, object]:
        """What the page needs: tile size, gutter, face sizes (coarsest first), source size."""
        return {"tile": self.tile, "gutter": 1, "levels": list(self.face_sizes), "width": self.width, "height": self.height}

    @property
    def folder(self) -> Path:
        """This image's cache folder (hashes the file on first use)."""
        if self._folder is None:
            self._folder = self.root / f"{content_hash(self.path)}-v{_FORMAT_VERSION}-t{self.tile}"
        return self._folder

    def tile_file(self, level: int, face: int, row: int, col: int) -> Path | None:
        """The cached file of one tile, made now if it is not there yet; ``None`` for indices outside
        the pyramid.

        Raises:
            InputError: The image cannot be decoded, or the cache folder cannot be written.
        """
        if not (0 <= level < len(self.face_sizes) and 0 <= face < 6):
            return None
        n = self.face_sizes[level] // self.tile
        if not (0 <= row < n and 0 <= col < n):
            return None
        with self._lock:  # one tile at a time per image: the memory stays that of one block
            target = self.folder / str(level) / str(face) / f"{row}_{col}.jpg"
            if target.is_file():
                return target
            levels = self._equirects()
            size, t = self.face_sizes[level], self.tile
            rows, cols = slice(row * t, row * t + t + 2), slice(col * t, col * t + t + 2)
            rot = _rotations()[face]
            block = _sample_rows(levels[level], _face_rays(rot, size, 1, rows, cols))
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(prefix=".tile.", suffix=".jpg", dir=target.parent)
                os.close(fd)
                try:
                    _save_tile(block, Path(tmp))
                    os.replace(tmp, target)
                except BaseException:
                    Path(tmp).unlink(missing_ok=True)
                    raise
            except OSError as exc:
                raise InputError(f"cannot write tiles to {self.root}: {exc.strerror}; set XDG_CACHE_HOME") from None
            return target

    def _equirects(self) -> list[np.ndarray]:
        if self._levels is None:
            from PIL import Image

            from pano.io.image import _open

            im = _open(self.path)
            try:
                im.load()
                level_im = im if im.mode == "RGB" else im.convert("RGB")
                finest = self.face_sizes[-1]
                if level_im.size != (4 * finest, 2 * finest) and self.width > 4 * finest:
                    level_im = level_im.resize((4 * finest, 2 * finest), Image.Resampling.BOX)
                levels: list[np.ndarray] = []
                for size in reversed(self.face_sizes):  # finest first; each coarser one is a 2x2 box of it
                    if levels:
                        level_im = level_im.reduce(2)
                    arr = np.array(level_im)
                    antialias_rows(arr, (math.pi / 2) / size)  # the face pixel at a face centre, the coarsest
                    levels.append(arr)
                levels.reverse()
            except (OSError, ValueError, MemoryError) as exc:
                raise InputError(f"{self.path} cannot be decoded for tiling ({exc}): re-export it") from None
            finally:
                im.close()
            self._levels = levels
        return self._levels


def _rotations() -> np.ndarray:
    import torch

    from pano.sphere.cubemap import face_rotations

    return face_rotations(dtype=torch.float64).numpy()


def _save_tile(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(np.clip(array + 0.5, 0, 255).astype(np.uint8)).save(path, format="JPEG", quality=_QUALITY, subsampling=0)
