"""The viewer page in a real headless Chromium (WebGL2 through SwiftShader): colours in known
directions, the seam, partial spheres, the crossfade, video playback and seeking, and the WebXR
render path driven by a test-only ``navigator.xr`` stand-in."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.viewer._viewdata import (
    BACKGROUND,
    BLUE,
    CYAN,
    GREEN,
    MAGENTA,
    ORANGE,
    PARTIAL_EAST,
    PARTIAL_WEST,
    RED,
    YELLOW,
    lonlat_grid,
    quadrant_sphere,
)
from PIL import Image

from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer

pytestmark = pytest.mark.browser

W, H = 480, 320  # viewport in CSS pixels (device scale 1); the HUD stays clear of the centre
ITEM_SPHERE, ITEM_PARTIAL, ITEM_VIDEO = 0, 1, 2


@pytest.fixture(scope="module")
def server(media_dir: Path) -> Iterator[ViewerServer]:
    gallery = build_gallery([media_dir / "sphere.png", media_dir / "sphere_dream.png", media_dir / "partial.jpg", media_dir / "clip.mp4"])
    assert [it.a.path.name for it in gallery.items] == ["sphere.png", "partial.jpg", "clip.mp4"]
    with ViewerServer(gallery, port=0) as srv:
        yield srv


class Page:
    """A viewer tab plus the console errors it produced."""

    def __init__(self, browser, server: ViewerServer, init_script: str | None = None) -> None:
        self.context = browser.new_context(
            viewport={"width": W, "height": H}, device_scale_factor=1, bypass_csp=True  # for wait_for_function
        )
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.base = server.url.rstrip("/")

    def open(self, hash_: str) -> None:
        self.page.goto(f"{self.base}/#{hash_}")
        self.page.wait_for_function("window.panoViewer && panoViewer.state.ready", timeout=20000)
        self.frame()

    def frame(self) -> None:
        self.page.evaluate("panoViewer.nextFrame()")
        self.page.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")

    def look(self, yaw: float, pitch: float, fov: float = 30, extra: str = "") -> None:
        self.page.evaluate(f"location.hash = 'yaw={yaw}&pitch={pitch}&fov={fov}{extra}'")
        self.page.wait_for_function(
            f"(s => Math.abs(s.pitch - ({pitch})) < 1e-6 && Math.abs(s.fov - ({fov})) < 1e-6"
            f" && Math.abs((((s.yaw - ({yaw})) % 360) + 540) % 360 - 180) < 1e-6)(panoViewer.state)"
        )
        self.frame()

    def pixels(self) -> np.ndarray:
        shot = self.page.screenshot()
        return np.asarray(Image.open(io.BytesIO(shot)).convert("RGB")).astype(int)

    def center(self) -> np.ndarray:
        return self.pixels()[H // 2, W // 2]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(browser, server) -> Iterator[Page]:
    p = Page(browser, server)
    yield p
    p.close()
    assert p.errors == [], f"console errors: {p.errors}"


def assert_color(actual: np.ndarray, expected: tuple[int, int, int], tol: int = 12, what: str = "") -> None:
    diff = np.abs(np.asarray(actual, int) - np.asarray(expected, int)).max()
    assert diff <= tol, f"{what}: got {tuple(int(v) for v in actual)}, expected {expected}"


def test_known_directions(tab: Page) -> None:
    tab.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=30")
    for yaw, pitch, color in [
        (0, 0, RED),
        (90, 0, GREEN),  # yaw > 0 turns right; lon +90 is right of the image centre
        (-90, 0, BLUE),
        (180, 0, YELLOW),  # straight across the +-180 deg seam
        (-180, 0, YELLOW),
        (0, 90, MAGENTA),  # straight up
        (37, -90, CYAN),  # straight down, any yaw
    ]:
        tab.look(yaw, pitch)
        assert_color(tab.center(), color, what=f"yaw {yaw} pitch {pitch}")
    # Orientation of the screen: with a wide view, lon +54 (green) lies right of the centre.
    tab.look(0, 0, 120)
    px = tab.pixels()
    assert_color(px[H // 2, int(W * 0.8)], GREEN, what="right of the centre at yaw 0")
    assert_color(px[H // 2, int(W * 0.2)], BLUE, what="left of the centre at yaw 0")
    tab.look(0, 45, 60)  # up is up: the top of the screen reaches lat 64 (magenta), the lower screen lat 38
    px = tab.pixels()
    assert_color(px[int(H * 0.2), W // 2], MAGENTA, what="upper screen at pitch 45")
    assert_color(px[int(H * 0.6), W // 2], RED, what="lower screen at pitch 45")


def test_no_seam_line_at_180(tab: Page) -> None:
    """Regression: the u jump at +-180 deg must not select a coarse mip level (a 1-px line).

    GPUs take derivatives over 2x2 pixel quads; the seam shows only when it falls inside a quad,
    so the view is nudged by fractions of a pixel around yaw 180.
    """
    tab.open(f"item={ITEM_SPHERE}")
    for fov in (30, 90):
        deg_per_px = fov / H
        for k in range(4):
            yaw = 180 + (k - 1.5) * 0.5 * deg_per_px
            tab.look(yaw, 0, fov)
            strip = tab.pixels()[H // 2 - 10 : H // 2 + 10, W // 2 - 12 : W // 2 + 12]
            worst = np.abs(strip - np.asarray(YELLOW)).max(axis=-1).max(axis=0)
            assert worst.max() <= 12, f"fov {fov} yaw {yaw:.3f}: seam line, column errors {worst}"


def test_crossfade_slider(tab: Page) -> None:
    tab.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=30")
    assert tab.page.is_visible("#mix")
    assert tab.page.inner_text("#label-b") == "dream"
    assert_color(tab.center(), RED, what="mix 0")
    tab.page.focus("#mix")
    tab.page.keyboard.press("End")  # the slider's own keyboard handling: value -> 1
    tab.frame()
    assert_color(tab.center(), ORANGE, what="mix 1")
    tab.page.eval_on_selector("#mix", "el => { el.value = '0.5'; el.dispatchEvent(new Event('input')); }")
    tab.frame()
    half = tuple((a + b) / 2 for a, b in zip(RED, ORANGE))
    assert_color(tab.center(), half, what="mix 0.5")
    tab.page.wait_for_function("location.hash.endsWith('&mix=0.5')")  # the crossfade is in the URL too
    tab.page.reload()
    tab.page.wait_for_function("window.panoViewer && panoViewer.state.ready", timeout=20000)
    assert tab.page.evaluate("[panoViewer.state.index, panoViewer.state.mix, panoViewer.state.fov]") == [ITEM_SPHERE, 0.5, 30]
    tab.page.focus("#mix")
    tab.page.keyboard.press("Home")
    tab.frame()
    assert_color(tab.center(), RED, what="back to mix 0")


def test_partial_sphere_at_true_place(tab: Page) -> None:
    tab.open(f"item={ITEM_PARTIAL}&yaw=-45&pitch=0&fov=20")
    assert tab.page.inner_text("#title") == "partial.jpg"
    assert tab.page.is_hidden("#mix")
    assert_color(tab.center(), PARTIAL_WEST, tol=16, what="lon -45 (inside the crop, west)")
    tab.look(45, 0, 20)
    assert_color(tab.center(), PARTIAL_EAST, tol=16, what="lon +45 (inside the crop, east)")
    for yaw, pitch in [(180, 0), (0, 70), (0, -70), (120, 0)]:
        tab.look(yaw, pitch, 20)
        assert_color(tab.center(), BACKGROUND, tol=6, what=f"outside the crop at yaw {yaw} pitch {pitch}")


def test_gallery_next_previous(tab: Page) -> None:
    tab.open(f"item={ITEM_SPHERE}&yaw=50&pitch=20")
    assert tab.page.inner_text("#counter") == "1 / 3"
    assert tab.page.evaluate("panoViewer.state.yaw") == 50  # the URL chose the first view
    tab.page.keyboard.press("PageDown")
    tab.page.wait_for_function(f"panoViewer.state.index === {ITEM_PARTIAL}")
    assert tab.page.inner_text("#title") == "partial.jpg"
    # a new item starts at its own first view: the middle of the partial sphere (lon 0, lat 0)
    assert tab.page.evaluate("[panoViewer.state.yaw, panoViewer.state.pitch]") == [0, 0]
    tab.page.click("#prev")
    tab.page.wait_for_function(f"panoViewer.state.index === {ITEM_SPHERE}")
    tab.page.click("#prev")  # wraps around to the last item
    tab.page.wait_for_function(f"panoViewer.state.index === {ITEM_VIDEO}")


def test_look_around_with_keys_mouse_and_wheel(tab: Page) -> None:
    tab.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=60")
    page = tab.page
    state = lambda: page.evaluate("panoViewer.state")  # noqa: E731
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowUp")
    assert (state()["yaw"], state()["pitch"]) == (5, 5)
    page.mouse.move(W // 2, H // 2)
    page.mouse.down()
    page.mouse.move(W // 2 + 64, H // 2, steps=4)  # drag the world to the right: look left
    page.mouse.up()
    s = state()
    assert s["yaw"] == pytest.approx(5 - 64 * 60 / H, abs=0.01) and s["pitch"] == pytest.approx(5)
    page.mouse.wheel(0, 200)  # wheel down: zoom out
    page.wait_for_function("panoViewer.state.fov > 60")
    page.keyboard.press("Home")
    assert (state()["yaw"], state()["pitch"], state()["fov"]) == (0, 0, 90)


def test_video_plays_and_seeks(tab: Page) -> None:
    tab.open(f"item={ITEM_VIDEO}&yaw=0&pitch=0&fov=40")
    page = tab.page
    assert page.is_visible("#seek")
    page.wait_for_function("panoViewer.video && panoViewer.video.readyState >= 2")
    if page.evaluate("panoViewer.video.paused"):
        page.click("#play")  # autoplay may be refused; a click is a user gesture
    t0 = page.evaluate("panoViewer.video.currentTime")
    page.wait_for_function(f"!panoViewer.video.paused && panoViewer.video.currentTime > {t0} + 0.25", timeout=15000)
    page.click("#play")
    page.wait_for_function("panoViewer.video.paused")
    for fraction, color in [(0.75, BLUE), (0.25, RED)]:  # red for the first second, blue for the second
        page.eval_on_selector(
            "#seek", f"el => {{ el.value = '{fraction}'; el.dispatchEvent(new Event('input')); el.dispatchEvent(new Event('change')); }}"
        )
        page.wait_for_function(f"Math.abs(panoViewer.video.currentTime - {fraction} * panoViewer.video.duration) < 0.05 && !panoViewer.video.seeking")
        page.wait_for_timeout(150)  # the decoded frame reaches the texture on the next frame callback
        tab.frame()
        assert_color(tab.center(), color, tol=24, what=f"video at {fraction} of its length")


# A test-only WebXR stand-in: two views side by side, the left eye looking at lon 0 (red), the
# right eye turned 180 deg (yellow). The layer's framebuffer is null, so both viewports land in
# the page's canvas, where the test reads them back.
FAKE_XR = """
(() => {
  const persp = (fovy, aspect) => {
    const f = 1 / Math.tan(fovy / 2), n = 0.1, fa = 100;
    return new Float32Array([f / aspect, 0, 0, 0, 0, f, 0, 0, 0, 0, (fa + n) / (n - fa), -1, 0, 0, 2 * fa * n / (n - fa), 0]);
  };
  const identity = new Float32Array([1,0,0,0, 0,1,0,0, 0,0,1,0, 0,0,0,1]);
  const turned = new Float32Array([-1,0,0,0, 0,1,0,0, 0,0,-1,0, 0.03,0,0,1]);  // yaw 180, a little IPD offset
  window.__xr = { frames: 0, viewports: [], ended: false, layerMade: false };
  class FakeSession extends EventTarget {
    constructor() { super(); this.renderState = { baseLayer: null }; this.inputSources = []; window.__xr.session = this; }
    updateRenderState(s) { Object.assign(this.renderState, s); }
    async requestReferenceSpace(type) { window.__xr.space = type; return { type }; }
    requestAnimationFrame(cb) {
      return window.requestAnimationFrame((t) => {
        if (window.__xr.ended) return;
        const gl = this.renderState.baseLayer.gl;
        const aspect = (gl.drawingBufferWidth / 2) / gl.drawingBufferHeight;
        const views = [
          { eye: 'left', projectionMatrix: persp(Math.PI / 6, aspect), transform: { matrix: identity } },
          { eye: 'right', projectionMatrix: persp(Math.PI / 6, aspect), transform: { matrix: turned } },
        ];
        const frame = { session: this, getViewerPose: (space) => (space ? { views } : null) };
        window.__xr.frames++;
        cb(t, frame);
      });
    }
    async end() { window.__xr.ended = true; this.dispatchEvent(new Event('end')); }
  }
  window.XRWebGLLayer = class {
    constructor(session, gl) { this.gl = gl; this.framebuffer = null; window.__xr.layerMade = true; }
    getViewport(view) {
      const w = this.gl.drawingBufferWidth / 2, h = this.gl.drawingBufferHeight;
      const vp = { x: view.eye === 'left' ? 0 : w, y: 0, width: w, height: h };
      window.__xr.viewports.push(vp.x);
      return vp;
    }
  };
  // Without an XR runtime Chromium's makeXRCompatible never settles; the stand-in device is compatible.
  WebGL2RenderingContext.prototype.makeXRCompatible = async function () { window.__xr.compatible = true; };
  Object.defineProperty(navigator, 'xr', { configurable: true, value: {
    isSessionSupported: async (mode) => mode === 'immersive-vr',
    requestSession: async (mode) => new FakeSession(),
  }});
})();
"""


def test_xr_two_views(browser, server) -> None:
    p = Page(browser, server, init_script=FAKE_XR)
    try:
        p.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=30")
        page = p.page
        page.wait_for_selector("#vr", state="visible")
        page.click("#vr")
        page.wait_for_function("window.__xr.frames > 3 && panoViewer.state.xr")
        assert page.evaluate("window.__xr.layerMade && window.__xr.space") == "local"
        assert set(page.evaluate("window.__xr.viewports")) == {0, W // 2}
        p.frame()
        px = p.pixels()
        assert_color(px[H // 2, W // 4], RED, what="left eye (lon 0)")
        assert_color(px[H // 2, 3 * W // 4], YELLOW, what="right eye (turned 180 deg)")
        assert page.inner_text("#vr") == "Exit VR"
        # A controller: thumbstick right fades towards the dream, button A (index 4) goes to the next item.
        page.evaluate(
            """window.__pad = { buttons: Array.from({ length: 6 }, () => ({ pressed: false })), axes: [0, 0, 1, 0] };
            window.__xr.session.inputSources = [{ handedness: 'right', gamepad: window.__pad }];"""
        )
        page.wait_for_function("panoViewer.state.mix > 0.3")
        page.evaluate("window.__pad.axes[2] = 0; window.__pad.buttons[4].pressed = true")
        page.wait_for_function(f"panoViewer.state.index === {ITEM_PARTIAL}")
        page.evaluate("window.__pad.buttons[4].pressed = false; window.__xr.session.inputSources = []")
        page.click("#vr")  # ends the session; the desktop loop takes over again
        page.wait_for_function("!panoViewer.state.xr")
        p.look(45, 0, 20)
        assert_color(p.center(), PARTIAL_EAST, tol=16, what="desktop view after VR (the next item)")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


PANEL_BG = (24, 26, 31)

# select on the panel: a controller (or hand) ray from the head's origin towards panel point (u, v)
SELECT_AT = """([u, v, hand]) => {
  const t = panoViewer.panel.point(u, v), len = Math.hypot(...t);
  const z = t.map((c) => -c / len);                       // the ray is -z of the pointer pose
  let x = [z[2], 0, -z[0]]; const lx = Math.hypot(...x) || 1; x = x.map((c) => c / lx);
  const y = [z[1] * x[2] - z[2] * x[1], z[2] * x[0] - z[0] * x[2], z[0] * x[1] - z[1] * x[0]];
  const matrix = new Float32Array([...x, 0, ...y, 0, ...z, 0, 0, 0, 0, 1]);
  const source = hand ? { handedness: 'left', hand: {}, targetRaySpace: {} } : { handedness: 'right', targetRaySpace: {}, gamepad: window.__pad };
  const e = new Event('select');
  e.inputSource = source;
  e.frame = { getPose: () => ({ transform: { matrix } }) };
  window.__xr.session.dispatchEvent(e);
}"""


def test_xr_panel_with_controllers_and_hands(browser, server) -> None:
    """In VR the grip shows a panel in front of the viewer; a ray select on it sets the crossfade,
    steps the gallery, plays, pauses and seeks video; a hand's pinch away from it hides it."""
    p = Page(browser, server, init_script=FAKE_XR)
    try:
        p.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=30")
        page = p.page
        page.click("#vr")
        page.wait_for_function("window.__xr.frames > 3 && panoViewer.state.xr")
        y = int(H / 2 + (0.04 / np.tan(np.radians(15))) * H / 2)  # panel point (0.5, 0.3): an empty spot on it
        p.frame()
        assert_color(p.pixels()[y, W // 4], RED, what="left eye before the panel")
        page.evaluate(
            """window.__pad = { buttons: Array.from({ length: 6 }, () => ({ pressed: false })), axes: [0, 0, 0, 0] };
            window.__xr.session.inputSources = [{ handedness: 'right', gamepad: window.__pad, targetRaySpace: {} }];
            window.__pad.buttons[1].pressed = true;"""
        )
        page.wait_for_function("panoViewer.panel.visible")
        page.evaluate("window.__pad.buttons[1].pressed = false")
        p.frame()
        assert_color(p.pixels()[y, W // 4], PANEL_BG, tol=6, what="the panel, in the left eye")
        fade = page.evaluate("panoViewer.panel.layout.fade")
        page.evaluate(SELECT_AT, [fade[0] + 0.75 * fade[2], fade[1] + fade[3] / 2, False])
        assert page.evaluate("panoViewer.state.mix") == pytest.approx(0.75, abs=0.01)
        nxt = page.evaluate("panoViewer.panel.layout.next")
        page.evaluate(SELECT_AT, [nxt[0] + nxt[2] / 2, nxt[1] + nxt[3] / 2, False])
        page.wait_for_function(f"panoViewer.state.index === {ITEM_PARTIAL}")
        page.evaluate("panoViewer.show(2)")
        page.wait_for_function(f"panoViewer.state.index === {ITEM_VIDEO} && panoViewer.video && panoViewer.video.readyState >= 2")
        play, seek = page.evaluate("[panoViewer.panel.layout.play, panoViewer.panel.layout.seek]")
        was_paused = page.evaluate("panoViewer.video.paused")
        page.evaluate(SELECT_AT, [play[0] + play[2] / 2, play[1] + play[3] / 2, True])  # a hand pinch on play
        page.wait_for_function(f"panoViewer.video.paused === {'false' if was_paused else 'true'}")
        page.evaluate(SELECT_AT, [seek[0] + 0.75 * seek[2], seek[1] + seek[3] / 2, False])
        page.wait_for_function("Math.abs(panoViewer.video.currentTime - 0.75 * panoViewer.video.duration) < 0.1")
        assert page.evaluate("panoViewer.panel.visible")
        page.evaluate(SELECT_AT, [0.5, -3.0, True])  # a hand pinching away from the panel hides it
        assert not page.evaluate("panoViewer.panel.visible")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def test_xr_start_that_never_settles_times_out_with_a_message(browser, server) -> None:
    """A broken XR runtime: makeXRCompatible never settles. The page gives up, says why, ends the
    session and stays usable on the desktop."""
    hang = FAKE_XR.replace(
        "WebGL2RenderingContext.prototype.makeXRCompatible = async function () { window.__xr.compatible = true; };",
        "WebGL2RenderingContext.prototype.makeXRCompatible = function () { window.__xr.hanging = true; return new Promise(() => {}); };",
    )
    assert hang != FAKE_XR
    p = Page(browser, server, init_script=hang)
    try:
        page = p.page
        page.clock.install()  # Playwright's clock: time flows as usual, and the test can jump it forward
        p.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=30")
        page.evaluate("WebGL2RenderingContext.prototype.getContextAttributes = function () { return { xrCompatible: false }; }")
        page.wait_for_selector("#vr", state="visible")
        page.click("#vr")
        # the page's 10-s timer starts in the same task as the call that hangs: jump the clock past it
        page.wait_for_function("window.__xr.hanging === true")
        assert page.evaluate("document.getElementById('message').hidden && !window.__xr.ended")  # not given up yet
        page.clock.fast_forward(10_000)
        page.wait_for_function("!document.getElementById('message').hidden && window.__xr.ended", timeout=20000)
        text = page.inner_text("#message")
        assert text.startswith("Cannot start VR:") and "ready for VR" in text and "10 s" in text
        assert page.inner_text("#vr") == "Enter VR" and not page.evaluate("panoViewer.state.xr")
        p.look(90, 0, 30)  # the desktop view still works
        assert_color(p.pixels()[H // 2, 12], GREEN, what="desktop view after the failed XR start")  # beside the message
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def test_shortcuts_work_after_slider_use(tab: Page) -> None:
    tab.open(f"item={ITEM_SPHERE}&yaw=0&pitch=0&fov=60")
    page = tab.page
    box = page.locator("#mix").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)  # a click on the slider
    mix = page.evaluate("panoViewer.state.mix")
    assert mix > 0.5
    page.keyboard.press("ArrowRight")  # looks around, does not move the slider any more
    assert page.evaluate("[panoViewer.state.yaw, panoViewer.state.mix]") == [5, mix]
    page.focus("#mix")  # a keyboard user on the slider: arrows move it, other shortcuts still work
    page.keyboard.press("ArrowLeft")
    assert page.evaluate("panoViewer.state.mix") < mix and page.evaluate("panoViewer.state.yaw") == 5
    page.keyboard.press("c")
    assert page.evaluate("panoViewer.state.mix") in (0, 1)
    page.keyboard.press("n")
    page.wait_for_function(f"panoViewer.state.index === {ITEM_PARTIAL}")


def test_phone_orientation_drives_the_view(browser, server) -> None:
    """Device orientation (W3C alpha/beta/gamma): upright phone = horizon; turning it left by 90 deg
    turns the view left; tilting its top back looks up. The view keeps the yaw it had when the
    gyro was switched on."""
    context = browser.new_context(viewport={"width": W, "height": H}, is_mobile=True, has_touch=True, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{server.url}#item={ITEM_SPHERE}&yaw=30&pitch=0&fov=60")
        page.wait_for_function("window.panoViewer && panoViewer.state.ready", timeout=20000)
        page.wait_for_selector("#gyro", state="visible")
        page.tap("#gyro")
        page.wait_for_selector("#gyro.on")  # on once the listener is attached (after the permission answer)

        def orient(alpha: float, beta: float, gamma: float) -> tuple[float, float]:
            page.evaluate(
                f"window.dispatchEvent(new DeviceOrientationEvent('deviceorientation', {{alpha: {alpha}, beta: {beta}, gamma: {gamma}, absolute: false}}))"
            )
            s = page.evaluate("panoViewer.state")
            return s["yaw"], s["pitch"]

        yaw, pitch = orient(0, 90, 0)
        assert abs(yaw - 30) < 0.5 and abs(pitch) < 0.5
        yaw, pitch = orient(90, 90, 0)  # alpha grows counter-clockwise seen from above: turned left
        assert abs(yaw - (-60)) < 0.5 and abs(pitch) < 0.5
        yaw, pitch = orient(90, 135, 0)  # top of the phone tilted away: the camera looks up
        assert abs(yaw - (-60)) < 0.5 and abs(pitch - 45) < 0.5
        assert errors == []
    finally:
        context.close()


# --- real photospheres (third-party data from the shared data folder; skipped when absent) ---------

REAL_FULL = "psv_sphere_small.jpg"  # 2000x1000 full sphere
REAL_PARTIAL = "PANO_20130622_091214.jpg"  # 7896x807 band of a 7896x3948 sphere (GPano), lat +16.9 .. -19.9


@pytest.fixture(scope="module")
def real_server(equirect_dir: Path, photosphere_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    full, partial = equirect_dir / REAL_FULL, photosphere_dir / REAL_PARTIAL
    if not full.is_file() or not partial.is_file():
        pytest.skip("the real photospheres are absent")
    gallery = build_gallery([full, partial])
    assert [f.tiled for f in gallery.files] == [False, True]  # the 7896-wide band comes as tiles
    with ViewerServer(gallery, port=0, tile_cache=tmp_path_factory.mktemp("tile_cache")) as srv:
        yield srv


def source_patch_mean(img: np.ndarray, geometry: tuple[int, int, int, int, int, int] | None, yaw: float, pitch: float, half_deg: float) -> np.ndarray:
    """Mean colour of the equirect (or its GPano crop) within +-half_deg of (yaw, pitch)."""
    fw, fh, left, top = (img.shape[1], img.shape[0], 0, 0) if geometry is None else geometry[:4]
    col = ((yaw / 360 + 0.5) * fw - left) % fw
    row = (0.5 - pitch / 180) * fh - top
    r = max(1, round(half_deg * fw / 360))
    c, rr = int(col), int(row)
    cols = np.arange(c - r, c + r + 1) % img.shape[1]  # wraps across +-180 deg
    return img[rr - r : rr + r + 1][:, cols].reshape(-1, 3).mean(axis=0)


def test_real_photospheres(browser, real_server: ViewerServer) -> None:
    from pano.io.gpano import read_sphere_geometry

    p = Page(browser, real_server)
    try:
        full_path, partial_path = (f.path for f in real_server.gallery.files)
        full = np.asarray(Image.open(full_path).convert("RGB")).astype(float)
        partial = np.asarray(Image.open(partial_path).convert("RGB")).astype(float)
        geometry = read_sphere_geometry(partial_path)
        assert geometry is not None
        fov, half_px = 30, 6
        half_deg = half_px * fov / H

        p.open(f"item=0&yaw=0&pitch=0&fov={fov}")
        for yaw, pitch in [(0, 0), (90, 0), (180, 0), (-120, 10)]:
            p.look(yaw, pitch, fov)
            shown = p.pixels()[H // 2 - half_px : H // 2 + half_px + 1, W // 2 - half_px : W // 2 + half_px + 1]
            expected = source_patch_mean(full, None, yaw, pitch, half_deg)
            assert np.abs(shown.reshape(-1, 3).mean(axis=0) - expected).max() < 12, (yaw, pitch)

        p.page.keyboard.press("PageDown")
        # (the band's pyramid is built now, once)
        p.page.wait_for_function("panoViewer.state.index === 1 && panoViewer.state.ready && panoViewer.tiles", timeout=300_000)
        for yaw, pitch in [(0, 0), (100, 8), (-150, -12)]:  # inside the band: the photo, at its true place
            p.look(yaw, pitch, fov)
            p.page.wait_for_function("panoViewer.tiles.missing === 0", timeout=60_000)
            p.frame()
            shown = p.pixels()[H // 2 - half_px : H // 2 + half_px + 1, W // 2 - half_px : W // 2 + half_px + 1]
            expected = source_patch_mean(partial, geometry.placement, yaw, pitch, half_deg)
            assert np.abs(shown.reshape(-1, 3).mean(axis=0) - expected).max() < 12, (yaw, pitch)
        for yaw, pitch in [(0, 40), (0, -45), (60, 80), (60, -80)]:  # above and below the band: background
            p.look(yaw, pitch, fov)
            assert_color(p.center(), BACKGROUND, tol=6, what=f"outside the band at pitch {pitch}")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


# --- stereo: one eye per eye in VR, the left eye on a flat screen ----------------------------------

RIGHT_FRONT, RIGHT_BACK = ORANGE, CYAN  # the right eye's picture differs from the left eye's


def stereo_pair() -> tuple[np.ndarray, np.ndarray]:
    """(left eye, right eye): the quadrant sphere, and one with another front and back."""
    left = quadrant_sphere()
    right = left.copy()
    lon, lat = lonlat_grid(right.shape[1], right.shape[0])
    right[(np.abs(lon) <= 45) & (np.abs(lat) <= 50)] = RIGHT_FRONT
    right[(np.abs(lon) >= 135) & (np.abs(lat) <= 50)] = RIGHT_BACK
    return left, right


def horizon_line_ratio(img: np.ndarray, row: int, band: int = 40) -> float:
    """How much the change between rows ``row - 1`` and ``row`` stands out: the mean absolute
    difference of those two rows over the median of the same measure in the rows around."""
    d = np.abs(np.diff(img.astype(float), axis=0)).mean(axis=(1, 2))
    return float(d[row - 1] / max(np.median(d[row - band : row + band]), 1e-6))


@pytest.fixture(scope="module")
def stereo_server(tmp_path_factory: pytest.TempPathFactory, video360_dir: Path) -> Iterator[ViewerServer]:
    from pano.io.gpano import SphereGeometry, gpano_xmp

    congo = video360_dir / "vrview_congo_1024.mp4"
    if not congo.is_file():
        pytest.skip(f"{congo.name} is absent")
    folder = tmp_path_factory.mktemp("stereo")
    left, right = stereo_pair()
    h, w = left.shape[:2]
    for name, frame, mode in [("tb.jpg", np.concatenate([left, right], 0), "top-bottom"), ("lr.jpg", np.concatenate([left, right], 1), "left-right")]:
        xmp = gpano_xmp(SphereGeometry(w, h, 0, 0, w, h), extra={"GPano:StereoMode": mode})
        Image.fromarray(frame).save(folder / name, quality=95, subsampling=0, xmp=xmp)  # 4:4:4: no colour smear across the eyes
    gallery = build_gallery([folder / "tb.jpg", folder / "lr.jpg", congo])
    assert [f.stereo for f in gallery.files] == ["top-bottom", "left-right", "top-bottom"]  # GPano, GPano, Spherical V1
    with ViewerServer(gallery, port=0) as srv:
        yield srv


def test_stereo_photos_one_eye_per_eye(browser, stereo_server: ViewerServer) -> None:
    p = Page(browser, stereo_server, init_script=FAKE_XR)
    try:
        p.open("item=0&yaw=0&pitch=0&fov=30")
        page = p.page
        assert_color(p.center(), RED, what="flat screen: the left eye")
        page.click("#vr")
        page.wait_for_function("window.__xr.frames > 3 && panoViewer.state.xr")
        for item in (0, 1):  # top-bottom, then left-right
            if item:
                page.evaluate("panoViewer.show(1)")
                page.wait_for_function("panoViewer.state.index === 1 && panoViewer.state.ready")
            p.frame()
            px = p.pixels()
            # the fake headset's left eye looks at lon 0, its right eye at lon 180
            assert_color(px[H // 2, W // 4], RED, what=f"item {item}: left eye, front")
            assert_color(px[H // 2, 3 * W // 4], RIGHT_BACK, what=f"item {item}: right eye, back")
        page.click("#vr")
        page.wait_for_function("!panoViewer.state.xr")
        for yaw, pitch, color in [(0, 0, RED), (180, 0, YELLOW), (0, 80, MAGENTA), (0, -80, CYAN)]:
            p.look(yaw, pitch, 30)
            assert_color(p.center(), color, what=f"flat screen, left-right, yaw {yaw} pitch {pitch}")
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


def test_stereo_video_has_no_line_at_the_horizon(browser, stereo_server: ViewerServer) -> None:
    """The top-bottom congo clip: mapped whole onto the sphere, each hemisphere would show another
    eye and the horizon would be a hard line (the decoded frame proves the measure sees it)."""
    import av

    congo = stereo_server.gallery.files[2].path
    with av.open(str(congo)) as container:
        frame = next(container.decode(video=0)).to_ndarray(format="rgb24")
    assert horizon_line_ratio(frame, frame.shape[0] // 2) > 8  # the baseline: both eyes on one sphere
    assert horizon_line_ratio(frame[: frame.shape[0] // 2], frame.shape[0] // 4) < 2  # the left eye alone

    p = Page(browser, stereo_server)
    try:
        p.open("item=2&yaw=0&pitch=0&fov=60")
        page = p.page
        # the page's own signals, with room for a loaded machine (a software-decoded seek took over 30 s under load)
        page.wait_for_function("panoViewer.video && panoViewer.video.readyState >= 2", timeout=90000)
        page.evaluate("panoViewer.video.pause(); panoViewer.video.currentTime = 4")
        page.wait_for_function("Math.abs(panoViewer.video.currentTime - 4) < 0.05 && !panoViewer.video.seeking && panoViewer.video.readyState >= 2",
                               timeout=90000)
        page.wait_for_timeout(150)  # the decoded frame reaches the texture on the next frame callback
        for yaw in (0, 120, -120):
            p.look(yaw, 0, 60)
            shot = p.pixels()[:, 40:-40]
            assert shot.std() > 10, "the video is not on screen"
            ratio = max(horizon_line_ratio(shot, H // 2 + k) for k in (-1, 0, 1))
            assert ratio < 4, f"yaw {yaw}: a line at the horizon ({ratio:.1f}x the usual row change)"
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


# --- GPano pose, the first view, and the view in the URL -----------------------------------------

SKY, GROUND = BLUE, GREEN
POSE_PITCH, POSE_ROLL = 10.0, 20.0


def posed_photo(width: int = 512) -> np.ndarray:
    """A level world (sky above the horizon, ground below) as a camera with GPano pose pitch 10 and
    roll 20 saw it: the photo's centre is 10 deg above the horizon, and the horizon turns 20 deg
    counter-clockwise in the image."""
    lon, lat = (np.radians(a) for a in lonlat_grid(width, width // 2))
    d = np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], -1)  # x right, y up, z forward
    p, r = np.radians(POSE_PITCH), -np.radians(POSE_ROLL)
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])  # roll about the forward axis
    rx = np.array([[1, 0, 0], [0, np.cos(p), np.sin(p)], [0, -np.sin(p), np.cos(p)]])  # then tip the forward axis up
    world = d @ (rx @ rz).T
    img = np.empty(d.shape, np.uint8)
    img[:] = GROUND
    img[world[..., 1] > 0] = SKY
    return img


def test_posed_photo_as_the_camera_saw_it() -> None:
    """The synthetic photo agrees with GPano's words: centre 10 deg up, horizon rotated CCW."""
    img = posed_photo()
    h, w = img.shape[:2]

    def horizon_row(lon_deg: float) -> float:
        col = int((lon_deg / 360 + 0.5) * w)
        return float(np.argmax((img[:, col] == GROUND).all(-1)))

    centre = horizon_row(0)
    assert centre == pytest.approx((0.5 + POSE_PITCH / 180) * h, abs=2)  # the horizon lies 10 deg below the centre
    # counter-clockwise: higher (smaller row) on the right; a viewer that ignores the pose shows this tilt
    assert horizon_row(-20) - horizon_row(20) > 10


@pytest.fixture(scope="module")
def posed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    from pano.io.gpano import SphereGeometry, gpano_xmp

    folder = tmp_path_factory.mktemp("posed")
    img = posed_photo()
    h, w = img.shape[:2]
    geom = SphereGeometry(w, h, 0, 0, w, h, heading_deg=0.0, pitch_deg=POSE_PITCH, roll_deg=POSE_ROLL,
                          initial_heading_deg=40.0, initial_pitch_deg=5.0, initial_hfov_deg=70.0)
    Image.fromarray(img).save(folder / "posed.jpg", quality=95, subsampling=0, xmp=gpano_xmp(geom))
    gallery = build_gallery([folder / "posed.jpg"])
    assert gallery.files[0].pose == {"pitch": POSE_PITCH, "roll": POSE_ROLL}
    assert gallery.manifest()["items"][0]["a"]["view"] == {"yaw": 40.0, "pitch": 5.0, "fov": 70.0}
    with ViewerServer(gallery, port=0) as srv:
        yield srv


def test_pose_applied_home_and_view_in_the_url(browser, posed_server: ViewerServer) -> None:
    p = Page(browser, posed_server)
    try:
        p.open("item=0&yaw=0&pitch=0&fov=60")
        page = p.page
        for yaw in (0, 90, 180, -90):  # level all around: the roll undone, the pitch too
            p.look(yaw, 0, 60)
            px = p.pixels()
            for x in (int(W * 0.1), W // 2, int(W * 0.9)):
                assert_color(px[H // 2 - 8, x], SKY, tol=16, what=f"yaw {yaw}, column {x}, just above the horizon")
                assert_color(px[H // 2 + 8, x], GROUND, tol=16, what=f"yaw {yaw}, column {x}, just below the horizon")
        page.keyboard.press("Home")  # the photo's first view (GPano InitialView*), not yaw 0
        assert page.evaluate("[panoViewer.state.yaw, panoViewer.state.pitch, panoViewer.state.fov]") == [40, 5, 70]
        page.keyboard.press("ArrowRight")
        page.wait_for_function("location.hash === '#item=0&yaw=45&pitch=5&fov=70'")
        page.reload()  # the URL keeps the view
        page.wait_for_function("window.panoViewer && panoViewer.state.ready", timeout=20000)
        assert page.evaluate("[panoViewer.state.index, panoViewer.state.yaw, panoViewer.state.pitch, panoViewer.state.fov]") == [0, 45, 5, 70]
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()


# --- a sphere larger than any texture: the cube-face tile pyramid ------------------------------------

BIG_W, BIG_H = 16384, 8192
STRIPE_LON, STRIPE_LAT, STRIPE_HALF = 20.0, 10.0, 2.5  # a 5x5 degree patch of fine stripes
STRIPE_PERIOD = 3  # source pixels: finer than 8192x4096 can hold (1.5 of its pixels per period)


def big_sphere() -> np.ndarray:
    """16384x8192: smooth colours everywhere (with detail a seam would break; the longitude waves
    fade out towards the poles, where they would crowd into a star) and one patch of vertical
    stripes, 3 source pixels per period."""
    lon = ((np.arange(BIG_W) + 0.5) / BIG_W - 0.5) * 2 * np.pi
    lat = (0.5 - (np.arange(BIG_H) + 0.5) / BIG_H) * np.pi
    img = np.empty((BIG_H, BIG_W, 3), np.uint8)
    wave, fade = np.sin(lon * 90).astype(np.float32), (np.cos(lat) ** 2).astype(np.float32)  # fading out at the poles
    for r in range(0, BIG_H, 1024):  # a 4-degree period along longitude
        img[r : r + 1024, :, 0] = (128 + 90 * fade[r : r + 1024, None] * wave[None, :]).astype(np.uint8)
    img[..., 1] = (128 + 90 * np.sin(lat * 90)).astype(np.uint8)[:, None]  # and along latitude
    img[..., 2] = 110
    cols = np.nonzero(np.abs(np.degrees(lon) - STRIPE_LON) <= STRIPE_HALF)[0]
    rows = np.nonzero(np.abs(np.degrees(lat) - STRIPE_LAT) <= STRIPE_HALF)[0]
    img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = np.where(cols % STRIPE_PERIOD == 0, 235, 20).astype(np.uint8)[None, :, None]
    return img


def peak_frequency(rows: np.ndarray) -> tuple[float, float]:
    """(frequency in cycles per pixel, modulation depth) of the strongest periodic component along
    the rows of a grey image: the peak of the mean power spectrum, and its amplitude over the mean."""
    x = rows - rows.mean(axis=1, keepdims=True)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.shape[1]), axis=1)).mean(axis=0)
    k = int(np.argmax(spectrum[2:])) + 2
    amplitude = 2 * spectrum[k] / np.hanning(x.shape[1]).sum()
    return k / x.shape[1], float(amplitude / rows.mean())


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ViewerServer]:
    folder = tmp_path_factory.mktemp("big")
    Image.fromarray(big_sphere()).save(folder / "big.jpg", quality=92, subsampling=0)
    gallery = build_gallery([folder / "big.jpg"])
    assert gallery.manifest()["items"][0]["a"]["tiles"] == "/tiles/0/"
    with ViewerServer(gallery, port=0, tile_cache=tmp_path_factory.mktemp("tile_cache")) as srv:
        yield srv


def test_what_8192_can_hold() -> None:
    """The baseline: the stripes shrunk to 8192x4096 (what the page did before tiles) keep no
    component at their own frequency; what is left is an alias at a much lower one."""
    patch = big_sphere()[3560:3720, 9000:9200].mean(-1)  # inside the stripes (lat 7.5..12.5, lon 17.5..22.5)
    f16, depth16 = peak_frequency(patch)
    assert abs(f16 - 1 / STRIPE_PERIOD) < 0.01 and depth16 > 0.5
    half = np.asarray(Image.fromarray(patch.astype(np.uint8)).reduce(2)).astype(float)
    f8, _ = peak_frequency(half)
    assert abs(f8 / 2 - 1 / STRIPE_PERIOD) > 0.1  # (f8 / 2: in source pixels) not the stripes' frequency


def line_strength(px: np.ndarray) -> float:
    """How much the strongest straight screen row or column of second differences stands out: a
    seam is a line along which the picture jumps; noise and smooth colours are spread evenly."""
    cols = np.abs(np.diff(px, 2, axis=1)).mean(axis=(0, 2))
    rows = np.abs(np.diff(px, 2, axis=0)).mean(axis=(1, 2))
    return float(max(cols.max() / np.median(cols), rows.max() / np.median(rows)))


def wait_tiles(page, timeout: float = 300_000) -> dict:
    page.wait_for_function("panoViewer.tiles && panoViewer.tiles.missing === 0", timeout=timeout)
    page.evaluate("panoViewer.nextFrame()")
    return page.evaluate("panoViewer.tiles")


def test_big_sphere_full_detail_without_seams(browser, big_server: ViewerServer) -> None:
    p = Page(browser, big_server)
    try:
        page = p.page
        p.page.goto(f"{p.base}/#yaw={STRIPE_LON}&pitch={STRIPE_LAT}&fov=6")
        page.wait_for_function("window.panoViewer && panoViewer.state.ready", timeout=300_000)
        tiles = wait_tiles(page)
        assert tiles["levels"] == 4 and tiles["finest"] == 3  # the 4096-px faces: every source pixel
        assert tiles["bytes"] <= tiles["budget"] <= 512 * 2**20
        # every texture the page holds is counted (tiles, whole images, video frames, the VR panel):
        # here only tiles, within the tile budget, far under a phone-class GPU's 512 MB
        assert page.evaluate("panoViewer.textureBytes") == tiles["bytes"]
        assert page.is_hidden("#progress")
        grey = p.pixels()[H // 2 - 60 : H // 2 + 60, W // 2 - 60 : W // 2 + 60].mean(-1)
        f, depth = peak_frequency(grey)
        # on screen: pixels per radian of the view / of the source, the stripes' latitude shortening
        scale = (H / 2 / np.tan(np.radians(3))) / (BIG_W / (2 * np.pi)) * np.cos(np.radians(STRIPE_LAT))
        expected = 1 / (STRIPE_PERIOD * scale)
        nyquist_8192 = 1 / (2 * 2 * scale)  # the finest period 8192x4096 can hold, on this screen
        assert expected > nyquist_8192 * 1.2
        assert abs(f - expected) < 0.03, f"stripes at {f:.3f} cycles/px on screen, expected {expected:.3f}"
        assert depth > 0.25, f"stripes resolved with only {depth:.2f} modulation"

        # no seam: the smooth colours stay smooth across tile borders (u = 0 and v = 0 of face F are tile
        # borders at every level but 0), across face edges (yaw 45: F|R, pitch 45: F|U) and at the pole
        budget = 40 * 2**20  # GPU memory stays bounded: older tiles make room for the new view's
        page.evaluate(f"panoViewer.setTileBudget({budget})")
        for yaw, pitch in [(0, 0), (45, 0), (0, 45), (0, 90)]:  # at yaw 0 / 45 these borders are straight screen lines
            p.look(yaw, pitch, 6)
            tiles = wait_tiles(page)
            assert tiles["bytes"] <= budget and tiles["finest"] == 3, tiles
            assert page.evaluate("panoViewer.textureBytes") == tiles["bytes"]
            px = p.pixels()[40:-60, 20:-20].astype(float)  # clear of the bars
            strength = line_strength(px)  # noise (JPEG tiles, coded one by one) stays near 2
            assert strength < 3.5, f"yaw {yaw} pitch {pitch}: a line in the picture ({strength:.1f}x the usual change)"
            faint = px.copy()
            faint[:, px.shape[1] // 3] += 2  # the measure sees a seam of 2 grey levels in this very picture
            assert line_strength(faint) > 3.5
        assert tiles["loaded"] > tiles["resident"]  # tiles were evicted on the way
        # a budget under what the finest level of this view needs (as a large screen, both eyes or a
        # crossfade would want): the view stops at a coarser level and every texture stays within it
        small = 12 * 2**20
        page.evaluate(f"panoViewer.setTileBudget({small})")
        p.look(STRIPE_LON, STRIPE_LAT, 6)
        tiles = wait_tiles(page)
        assert 0 < tiles["finest"] < 3 and tiles["bytes"] <= small, tiles
        assert page.evaluate("panoViewer.textureBytes") == tiles["bytes"]
        assert p.errors == [], f"console errors: {p.errors}"
    finally:
        p.close()
