"""Synthetic test media for the viewer tests: colours in known directions, a tiny H.264 clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Known colours of the synthetic sphere, by region (pano convention: lon 0 at the image centre,
# +lon to the right, lat +90 at the top).
RED, GREEN, BLUE, YELLOW = (230, 30, 30), (30, 200, 30), (30, 30, 230), (230, 220, 30)
MAGENTA, CYAN, ORANGE = (220, 30, 220), (30, 210, 210), (240, 140, 0)
PARTIAL_WEST, PARTIAL_EAST = (250, 120, 40), (120, 40, 200)
BACKGROUND = (41, 43, 48)  # the viewer's neutral background (0.16, 0.17, 0.19)


def lonlat_grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (degrees) of every pixel centre of a width x height equirect."""
    lon = ((np.arange(width) + 0.5) / width - 0.5) * 360.0
    lat = (0.5 - (np.arange(height) + 0.5) / height) * 180.0
    return np.meshgrid(lon, lat)


def quadrant_sphere(width: int = 256) -> np.ndarray:
    """Front red, right green, left blue, back yellow (across +-180 deg), top magenta, bottom cyan."""
    lon, lat = lonlat_grid(width, width // 2)
    img = np.zeros((width // 2, width, 3), np.uint8)
    img[:] = YELLOW
    img[np.abs(lon) <= 45] = RED
    img[(lon > 45) & (lon <= 135)] = GREEN
    img[(lon < -45) & (lon >= -135)] = BLUE
    img[lat > 50] = MAGENTA
    img[lat < -50] = CYAN
    return img



def write_clip(path: Path, seconds: int = 2, fps: int = 12) -> None:
    """A 128x64 H.264 clip: red for the first second, blue for the second."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 128, 64, "yuv420p"
        stream.options = {"preset": "ultrafast", "g": str(fps)}
        for i in range(seconds * fps):
            color = RED if i < fps else BLUE
            frame = av.VideoFrame.from_ndarray(np.full((64, 128, 3), color, np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
