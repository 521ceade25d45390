"""The cube-face tile pyramid behind large spheres (pano.viewer.tiles) and its routes: sizes,
gutters that match the neighbours (within a face and across face edges), anti-aliasing at the
poles, the cache keyed by content (never beside the user's files), and the server's answers."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pano.viewer import tiles as tiles_module
from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer
from pano.viewer.tiles import TileSource, _face_rays, _rotations, pyramid_face_sizes, regions, sample_region

T = 64  # small tiles keep these tests fast; the layout is the same as with the real 512


def lonlat(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    lon = ((np.arange(width) + 0.5) / width - 0.5) * 2 * math.pi
    lat = (0.5 - (np.arange(height) + 0.5) / height) * math.pi
    return np.meshgrid(lon, lat)


def smooth_sphere(width: int = 1024) -> np.ndarray:
    """Colours that change smoothly everywhere (periodic in longitude): a border mismatch shows."""
    lon, lat = lonlat(width, width // 2)
    c = np.cos(lat)  # every longitude term fades out towards the poles: smooth there too
    img = np.stack([128 + 100 * c * np.sin(3 * lon), 128 + 100 * c * c * np.cos(2 * lon), 128 + 90 * np.cos(4 * lat)], -1)
    return img.round().astype(np.uint8)


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB")).astype(float)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> TileSource:
    folder = tmp_path_factory.mktemp("tiles_src")
    Image.fromarray(smooth_sphere()).save(folder / "smooth.png")
    return TileSource(folder / "smooth.png", 1024, 512, folder=tmp_path_factory.mktemp("tiles_cache"), tile=T)


def test_face_sizes_hold_every_source_pixel() -> None:
    assert pyramid_face_sizes(16384) == [512, 1024, 2048, 4096]  # 4096 = a quarter of 16384: 90 degrees
    assert pyramid_face_sizes(32768)[-1] == 8192 and len(pyramid_face_sizes(32768)) == 5
    assert pyramid_face_sizes(16000)[-1] == 4096  # rounded up, never down
    assert pyramid_face_sizes(4097) == [512, 1024, 2048]


def test_tiles_are_gutter_framed_and_continuous(source: TileSource) -> None:
    assert source.face_sizes == (64, 128, 256)
    level, n = 2, 4
    for face in range(6):
        for row in range(n):
            for col in range(n):
                tile = read(source.tile_file(level, face, row, col))
                assert tile.shape == (T + 2, T + 2, 3)
                if col + 1 < n:  # the right gutter is the next tile's first column, and the other way round
                    right = read(source.tile_file(level, face, row, col + 1))
                    assert np.abs(tile[:, T + 1] - right[:, 1]).max() <= 6
                    assert np.abs(tile[:, T] - right[:, 0]).max() <= 6
                if row + 1 < n:
                    below = read(source.tile_file(level, face, row + 1, col))
                    assert np.abs(tile[T + 1] - below[1]).max() <= 6
    # across the F/R face edge: F's right gutter continues into R's first column (the face plane continued)
    for row in range(n):
        f_edge, r_edge = read(source.tile_file(level, 0, row, n - 1)), read(source.tile_file(level, 1, row, 0))
        assert np.abs(f_edge[1:-1, T + 1] - r_edge[1:-1, 1]).max() <= 8
    # content: the centre of face F is lon 0 lat 0 of the sphere
    centre = read(source.tile_file(level, 0, 1, 1))[T, T]
    assert np.abs(centre - smooth_sphere()[256, 512]).max() <= 8
    assert source.tile_file(level, 0, n, 0) is None and source.tile_file(3, 0, 0, 0) is None and source.tile_file(0, 6, 0, 0) is None


def test_coarse_levels_agree_with_the_finest(source: TileSource) -> None:
    """Level 0 (one tile per face) equals the finest level averaged down: one sphere at every level."""
    fine = np.concatenate([np.concatenate([read(source.tile_file(2, 4, r, c))[1:-1, 1:-1] for c in range(4)], 1) for r in range(4)], 0)
    coarse = read(source.tile_file(0, 4, 0, 0))[1:-1, 1:-1]
    down = fine.reshape(64, 4, 64, 4, 3).mean(axis=(1, 3))
    assert np.abs(down - coarse).mean() < 3


def test_anti_aliased_at_the_poles(tmp_path: Path) -> None:
    """One-pixel stripes along longitude near the pole: plain bilinear sampling of the face turns
    them into a moire; the row filter averages them to grey first."""
    width = 1024
    img = np.full((width // 2, width, 3), 128, np.uint8)
    _, lat = lonlat(width, width // 2)
    stripes = (np.arange(width) % 2 * 255).astype(np.uint8)
    polar = lat[:, 0] > math.radians(60)
    img[polar] = stripes[None, :, None]
    Image.fromarray(img).save(tmp_path / "stripes.png")
    src = TileSource(tmp_path / "stripes.png", width, width // 2, folder=tmp_path / "cache", tile=T)
    up = read(src.tile_file(0, 4, 0, 0))[1:-1, 1:-1]  # the U face, level 0 (64 px for 90 degrees)
    assert up.std() < 12 and abs(up.mean() - 127.5) < 6
    rays = _face_rays(_rotations()[4], T, 0, slice(0, T), slice(0, T))
    naive = sample_region(Image.fromarray(img), regions(width, width // 2)[0], rays, 1e-9)  # no row filter
    assert naive.std() > 25  # the baseline aliases


def test_cache_keyed_by_content_never_beside_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second viewer of the same bytes (another `pano view`, another name) serves the tiles the first
    one built, without decoding or building; a changed file gets a pyramid of its own."""
    src_dir, cache = tmp_path / "photos", tmp_path / "cache"
    src_dir.mkdir()
    Image.fromarray(smooth_sphere(512)).save(src_dir / "a.png")
    shutil.copy(src_dir / "a.png", src_dir / "copy.png")
    a = TileSource(src_dir / "a.png", 512, 256, folder=cache, tile=T)
    first = a.tile_file(0, 2, 0, 0)
    assert first.is_file() and cache in first.parents and a.builds == 1
    assert a.tile_file(1, 2, 1, 1).is_file() and a.builds == 1  # every tile was made by that one build
    assert sorted(p.name for p in src_dir.iterdir()) == ["a.png", "copy.png"]  # nothing written beside the photos
    built = {p: p.read_bytes() for p in a.folder.rglob("*.jpg")}
    assert len(built) == 6 * (1 + 4)

    def no_build(self: TileSource) -> None:
        raise AssertionError("built again")

    monkeypatch.setattr(TileSource, "build", no_build)
    again = TileSource(src_dir / "copy.png", 512, 256, folder=cache, tile=T)  # same bytes: same tiles
    assert again.tile_file(0, 2, 0, 0) == first and again.builds == 0
    assert {p: p.read_bytes() for p in again.folder.rglob("*.jpg")} == built  # untouched
    monkeypatch.undo()
    Image.fromarray(255 - smooth_sphere(512)).save(src_dir / "a.png")  # new content: a new pyramid
    changed = TileSource(src_dir / "a.png", 512, 256, folder=cache, tile=T)
    assert changed.folder != a.folder
    tile = read(changed.tile_file(0, 0, 0, 0))
    assert changed.builds == 1 and np.abs(tile + read(first.parent.parent / "0" / "0_0.jpg") - 255).mean() < 4
    assert sorted(p.name for p in src_dir.iterdir()) == ["a.png", "copy.png"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_interrupted_build_is_never_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build stopped half way (an error, Ctrl-C, or a killed process) leaves nothing a later run
    would serve: tiles go to a temporary folder that is renamed into place only when complete."""
    import subprocess
    import sys

    Image.fromarray(smooth_sphere(512)).save(tmp_path / "a.png")
    cache = tmp_path / "cache"
    saved = tiles_module._save_tile
    calls = []

    def interrupted(array: np.ndarray, path: Path) -> None:
        calls.append(path)
        if len(calls) == 7:
            raise KeyboardInterrupt
        saved(array, path)

    monkeypatch.setattr(tiles_module, "_save_tile", interrupted)
    src = TileSource(tmp_path / "a.png", 512, 256, folder=cache, tile=T)
    with pytest.raises(KeyboardInterrupt):
        src.tile_file(0, 0, 0, 0)
    assert not src.folder.exists() and list(cache.iterdir()) == []  # the partial build is gone
    assert all(cache in p.parents and p.name.endswith(".jpg") for p in calls)
    monkeypatch.setattr(tiles_module, "_save_tile", saved)

    # a process killed while building leaves its temporary folder; the next build removes it and
    # never serves from it
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = cache / f".{src.folder.name}.{dead.pid}-abcd.part"
    (stale / "0" / "0").mkdir(parents=True)
    (stale / "0" / "0" / "0_0.jpg").write_bytes(b"half a tile")
    tile = src.tile_file(0, 0, 0, 0)
    assert src.builds == 1 and tile.parent.parent.parent == src.folder
    assert Image.open(tile).size == (T + 2, T + 2)
    assert not stale.exists() and sorted(p.name for p in cache.iterdir()) == [src.folder.name]


def test_build_memory_is_bounded(tmp_path: Path) -> None:
    """The build holds the decoded image and one face of the finest level, never a full-size copy of
    the image or of any level: the arrays it allocates (tracemalloc sees numpy's, not Pillow's
    decoded image) peak well under the decoded image's size."""
    import tracemalloc

    width = 4096
    lon, lat = lonlat(width, width // 2)
    img = (128 + 100 * np.sin(lon * 7) * np.cos(lat)).astype(np.uint8)
    Image.fromarray(np.repeat(img[..., None], 3, -1)).save(tmp_path / "big.png")
    decoded = width * (width // 2) * 3
    # blocks of 64 face pixels: the same share of the face as the default 256 for a 16384-wide sphere
    src = TileSource(tmp_path / "big.png", width, width // 2, folder=tmp_path / "cache", tile=128, block=64)
    assert src.face_sizes == (128, 256, 512, 1024)
    _rotations()  # torch's import is not the build's memory
    tracemalloc.start()
    try:
        src.build()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert src.builds == 1 and len(list(src.folder.rglob("*.jpg"))) == 6 * (1 + 4 + 16 + 64)
    assert peak < 0.6 * decoded, f"peak {peak / 2**20:.1f} MiB for a {decoded / 2**20:.1f} MiB image"
    # the baseline, the image as one array plus its levels (what the server held before), is not
    baseline = np.asarray(Image.open(tmp_path / "big.png").convert("RGB")).nbytes * (1 + 1 / 4 + 1 / 16)
    assert baseline > 2 * peak


def test_tile_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiles_module, "TILE_MIN_WIDTH", 512)  # a small sphere stands in for a large one
    Image.fromarray(smooth_sphere(1024)).save(tmp_path / "big.png")
    Image.fromarray(smooth_sphere(256)).save(tmp_path / "small.png")
    gallery = build_gallery([tmp_path / "big.png", tmp_path / "small.png"])
    items = gallery.manifest()["items"]
    assert items[0]["a"]["tiles"] == "/tiles/0/" and items[1]["a"]["tiles"] is None
    import http.client

    with ViewerServer(gallery, port=0, tile_cache=tmp_path / "cache") as srv:
        def get(path: str) -> tuple[int, str, bytes]:
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            try:
                conn.request("GET", path)
                r = conn.getresponse()
                return r.status, r.getheader("Content-Type") or "", r.read()
            finally:
                conn.close()

        status, ctype, body = get("/tiles/0/meta.json")
        assert status == 200 and ctype == "application/json"
        assert json.loads(body) == {"tile": 512, "gutter": 1, "levels": [512], "width": 1024, "height": 512, "eyes": 1}
        status, ctype, body = get("/tiles/0/0/5/0_0.jpg")
        assert status == 200 and ctype == "image/jpeg"
        import io

        assert Image.open(io.BytesIO(body)).size == (514, 514)
        for path in ["/tiles/1/meta.json", "/tiles/0/0/6/0_0.jpg", "/tiles/0/1/0/0_0.jpg", "/tiles/0/0/0/1_0.jpg",
                     "/tiles/0/0/0/00_0.jpg", "/tiles/0/../../media/0", "/tiles/2/meta.json", "/tiles/0/0/0/0_0.png"]:
            assert get(path)[0] == 404, path
    assert not (tmp_path / "big.png.tiles").exists()


def test_stereo_and_partial_photos_are_tiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stereo photo gets one pyramid per eye (the right eye's under right/); a partial photosphere
    is placed in its full sphere, the rest the page's background; a partial stereo one is not tiled."""
    from pano.io.gpano import SphereGeometry, gpano_xmp

    monkeypatch.setattr(tiles_module, "TILE_MIN_WIDTH", 100)
    left, right = smooth_sphere(512), 255 - smooth_sphere(512)
    Image.fromarray(np.concatenate([left, right], 0)).save(tmp_path / "tb.png")
    Image.fromarray(np.concatenate([left, right], 1)).save(tmp_path / "lr.png")
    for name, stereo, size in [("tb.png", "top-bottom", (512, 512)), ("lr.png", "left-right", (1024, 256))]:
        mf = build_gallery([tmp_path / name], stereo=stereo).files[0]
        assert mf.tiled and mf.manifest()["tiles"] == "/tiles/0/"
        src = TileSource(tmp_path / name, *size, folder=tmp_path / "cache", tile=T, stereo=stereo)
        assert src.face_sizes == (64, 128) and src.meta()["eyes"] == 2
        eyes = [read(src.tile_file(1, 0, 1, 1, eye=e))[0, 0] for e in (0, 1)]  # face F's centre, both eyes
        assert np.abs(eyes[0] - left[128, 256]).max() <= 8 and np.abs(eyes[1] - right[128, 256]).max() <= 8, (name, eyes)
        assert src.tile_file(1, 0, 1, 1, eye=2) is None and src.builds == 1
        assert src.tile_file(0, 0, 0, 0, eye=1).parent.parent.parent == src.folder / "right"

    # a partial photosphere: lon -90..90, lat -45..45 of a 512x256 sphere, one colour
    photo = (200, 100, 50)
    geom = SphereGeometry(512, 256, 128, 64, 256, 128)
    Image.new("RGB", (256, 128), photo).save(tmp_path / "partial.jpg", quality=95, xmp=gpano_xmp(geom))
    mf = build_gallery([tmp_path / "partial.jpg"]).files[0]
    assert mf.tiled and mf.geometry == {"full_width": 512, "full_height": 256, "crop_left": 128, "crop_top": 64, "crop_width": 256, "crop_height": 128}
    src = TileSource(mf.path, *mf.size, folder=tmp_path / "cache", tile=T, geometry=mf.geometry)
    assert src.face_sizes == (64, 128)
    front, back, up = (read(src.tile_file(0, f, 0, 0))[1:-1, 1:-1] for f in (0, 2, 4))
    assert np.abs(front[2:-2, 2:-2] - photo).max() <= 6  # face F (lon and lat within 45 degrees) is the photo
    assert np.abs(back - tiles_module.BACKGROUND).max() <= 6 and np.abs(up[16:48, 16:48] - tiles_module.BACKGROUND).max() <= 6
    assert np.abs(up[-1, 0] - photo).max() <= 12  # U face's corner by the front is at lat 35: inside the photo
    # a band all the way round (as phones make): rows above and below it are outside too
    Image.new("RGB", (512, 64), photo).save(tmp_path / "band.jpg", quality=95, xmp=gpano_xmp(SphereGeometry(512, 256, 0, 96, 512, 64)))
    mf = build_gallery([tmp_path / "band.jpg"]).files[0]
    src = TileSource(mf.path, *mf.size, folder=tmp_path / "cache", tile=T, geometry=mf.geometry)
    for face in range(4):  # the band (lat +-22.5) across every side face, background above and below
        side = read(src.tile_file(0, face, 0, 0))[1:-1, 1:-1]
        assert np.abs(side[28:36] - photo).max() <= 6 and np.abs(side[:8] - tiles_module.BACKGROUND).max() <= 6, face
    assert np.abs(read(src.tile_file(0, 4, 0, 0)) - tiles_module.BACKGROUND).max() <= 6  # the zenith
    assert not build_gallery([tmp_path / "partial.jpg"], stereo="top-bottom").files[0].tiled
    Image.fromarray(smooth_sphere(64)).save(tmp_path / "small.png")
    assert not build_gallery([tmp_path / "small.png"]).files[0].tiled  # fits one texture
