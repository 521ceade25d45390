"""Tiled spheres other than a mono full one, in a real headless Chromium: a stereo photo (one
pyramid per eye, each eye shown to its eye), a partial photosphere (placed in its full sphere, the
rest the background) and a raw/dream pair (both tiled with the same layout, blended tile by tile).
A low tiling threshold makes small test images stand in for large ones, so these stay fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.viewer._viewdata import BACKGROUND, ORANGE, PARTIAL_EAST, PARTIAL_WEST, RED, YELLOW
from PIL import Image
from tests.viewer.test_view_browser import FAKE_XR, RIGHT_BACK, H, Page, W, assert_color, stereo_pair

from pano.viewer import tiles as tiles_module
from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer

pytestmark = pytest.mark.browser
ITEM_STEREO, ITEM_PARTIAL, ITEM_PAIR = 0, 1, 2


@pytest.fixture(scope="module")
def tiled_server(media_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    from pano.io.gpano import SphereGeometry, gpano_xmp

    folder = tmp_path_factory.mktemp("tiled")
    left, right = stereo_pair()
    h, w = left.shape[:2]
    xmp = gpano_xmp(SphereGeometry(w, h, 0, 0, w, h), extra={"GPano:StereoMode": "top-bottom"})
    Image.fromarray(np.concatenate([left, right], 0)).save(folder / "tb.jpg", quality=95, subsampling=0, xmp=xmp)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tiles_module, "TILE_MIN_WIDTH", 64)  # these small images stand in for large ones
        gallery = build_gallery([folder / "tb.jpg", media_dir / "partial.jpg", media_dir / "sphere.png", media_dir / "sphere_dream.png"])
        assert [(f.path.name, f.tiled) for f in gallery.files] == [
            ("tb.jpg", True), ("partial.jpg", True), ("sphere.png", True), ("sphere_dream.png", True)]
        with ViewerServer(gallery, port=0, tile_cache=tmp_path_factory.mktemp("tile_cache")) as srv:
            yield srv


def tiles_ready(p: Page) -> dict:
    p.page.wait_for_function("panoViewer.tiles && panoViewer.tiles.missing === 0", timeout=120_000)
    p.frame()
    return p.page.evaluate("panoViewer.tiles")


def test_tiled_stereo_photo_one_eye_per_eye(browser, tiled_server: ViewerServer) -> None:
    p = Page(browser, tiled_server, init_script=FAKE_XR)
    try:
        p.open(f"item={ITEM_STEREO}&yaw=0&pitch=0&fov=30")
        page = p.page
        tiles = tiles_ready(p)
        assert tiles["eyes"] == 2 and tiles["pyramids"] == 2
        assert_color(p.center(), RED, what="flat screen: the left eye")
        p.look(180, 0, 30)
        assert_color(p.center(), YELLOW, what="flat screen, behind: the left eye's back")
        p.look(0, 0, 30)  # VR starts facing the flat view's yaw
        page.click("#vr")
        page.wait_for_function("window.__xr.frames > 3 && panoViewer.state.xr")
        tiles_ready(p)
        px = p.pixels()
        # the fake headset's left eye looks at lon 0, its right eye at lon 180 (the right eye's own colour)
        assert_color(px[H // 2, W // 4], RED, what="left eye, front")
        assert_color(px[H // 2, 3 * W // 4], RIGHT_BACK, what="right eye, back: the right eye's pyramid")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def test_tiled_partial_photo_at_true_place(browser, tiled_server: ViewerServer) -> None:
    p = Page(browser, tiled_server)
    try:
        p.open(f"item={ITEM_PARTIAL}&yaw=-45&pitch=0&fov=20")
        assert tiles_ready(p)["pyramids"] == 1
        assert_color(p.center(), PARTIAL_WEST, tol=16, what="lon -45 (inside the crop, west)")
        p.look(45, 0, 20)
        tiles_ready(p)
        assert_color(p.center(), PARTIAL_EAST, tol=16, what="lon +45 (inside the crop, east)")
        for yaw, pitch in [(180, 0), (0, 70), (0, -70), (120, 0)]:
            p.look(yaw, pitch, 20)
            tiles_ready(p)
            assert_color(p.center(), BACKGROUND, tol=6, what=f"outside the crop at yaw {yaw} pitch {pitch}")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def test_tiled_crossfade_blends_tile_by_tile(browser, tiled_server: ViewerServer) -> None:
    p = Page(browser, tiled_server)
    try:
        p.open(f"item={ITEM_PAIR}&yaw=0&pitch=0&fov=30")
        tiles = tiles_ready(p)
        assert tiles["pyramids"] == 2  # raw and dream, both tiled
        assert_color(p.center(), RED, what="mix 0")
        for mix, color in [(1, ORANGE), (0.5, tuple((a + b) / 2 for a, b in zip(RED, ORANGE))), (0, RED)]:
            p.page.evaluate(f"panoViewer.setMix({mix})")
            p.frame()
            assert_color(p.center(), color, what=f"mix {mix}")
        p.page.evaluate("panoViewer.setMix(0.5)")
        p.look(180, 0, 30)
        tiles_ready(p)
        assert_color(p.center(), tuple((a + b) / 2 for a, b in zip(YELLOW, ORANGE)), what="mix 0.5 behind")
        # every texture the page holds is tiles: 2 pyramids x 6 level-0 tiles of 514 px with mips
        per_tile = round(514 * 514 * 4 * 4 / 3)
        assert p.page.evaluate("panoViewer.textureBytes") == p.page.evaluate("panoViewer.tiles.bytes") == 12 * per_tile
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()
