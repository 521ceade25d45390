"""The viewer's server: tiles of a large sphere, and requests under load, one run.

    python benchmarks/viewer.py                    # a 16384x8192 sphere; 500 requests, 50 at a time
    python benchmarks/viewer.py --width 32768

Prints two tables. Tiles: seconds to the first tile (decode + one anti-aliased equirect per level),
per further tile, and for the whole finest level of one face, each as a ratio to a plain decode of
the same file (the baseline, in the same process). Load: requests per second for 500 mixed
range requests with 50 at a time while 100 idle sockets are held open, as a ratio to the same
requests one after another.
"""

from __future__ import annotations

import argparse
import http.client
import platform
import random
import socket
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer
from pano.viewer.tiles import TileSource


def sphere(width: int) -> np.ndarray:
    height = width // 2
    img = np.empty((height, width, 3), np.uint8)
    x = np.arange(width, dtype=np.float32)
    for r in range(0, height, 1024):
        y = np.arange(r, min(height, r + 1024), dtype=np.float32)[:, None]
        img[r : r + 1024, :, 0] = (128 + 100 * np.sin(x / 37.0) * np.cos(y / 23.0)).astype(np.uint8)
        img[r : r + 1024, :, 1] = (128 + 100 * np.sin((x + y) / 51.0)).astype(np.uint8)
        img[r : r + 1024, :, 2] = 110
    return img


def tiles_table(width: int, folder: Path) -> None:
    path = folder / f"sphere{width}.jpg"
    Image.fromarray(sphere(width)).save(path, quality=92)
    t0 = time.perf_counter()
    Image.MAX_IMAGE_PIXELS = None
    np.asarray(Image.open(path).convert("RGB"))
    decode = time.perf_counter() - t0
    src = TileSource(path, width, width // 2, folder=folder / "cache")
    t0 = time.perf_counter()
    src.tile_file(0, 0, 0, 0)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for face in range(1, 6):
        src.tile_file(0, face, 0, 0)
    per_tile = (time.perf_counter() - t0) / 5
    finest = len(src.face_sizes) - 1
    n = src.face_sizes[-1] // src.tile
    t0 = time.perf_counter()
    for row in range(n):
        for col in range(n):
            src.tile_file(finest, 0, row, col)
    face_time = time.perf_counter() - t0
    print(f"\ntiles of a {width}x{width // 2} sphere (faces {list(src.face_sizes)}, 512-px tiles)")
    print("| step | seconds | ratio to a plain decode |\n|---|---|---|")
    print(f"| plain decode (baseline) | {decode:.2f} | 1.00 |")
    print(f"| first tile (decode + level equirects) | {first:.2f} | {first / decode:.2f} |")
    print(f"| a further level-0 tile | {per_tile:.3f} | {per_tile / decode:.3f} |")
    print(f"| the finest level of one face ({n * n} tiles) | {face_time:.2f} | {face_time / decode:.2f} |")


def load_table(folder: Path, requests: int = 500, concurrent: int = 50, idle: int = 100) -> None:
    data = random.Random(1).randbytes(3 * 1024 * 1024)
    (folder / "clip.mp4").write_bytes(data)
    gallery = build_gallery([folder / "clip.mp4"])
    with ViewerServer(gallery, port=0, max_connections=idle + concurrent + 20, header_timeout=300) as srv:
        held = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(idle)]

        def one(i: int) -> None:
            a = random.Random(i).randrange(len(data) - 65536)
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
            conn.request("GET", "/media/0", headers={"Host": f"127.0.0.1:{srv.port}", "Range": f"bytes={a}-{a + 65535}"})
            body = conn.getresponse().read()
            conn.close()
            assert body == data[a : a + 65536]

        t0 = time.perf_counter()
        for i in range(requests // 5):
            one(i)
        sequential = (requests // 5) / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrent) as pool:
            list(pool.map(one, range(requests)))
        parallel = requests / (time.perf_counter() - t0)
        for s in held:
            s.close()
    print(f"\n{requests} range requests of 64 KiB, {concurrent} at a time, {idle} idle sockets held open")
    print("| run | requests/s | ratio |\n|---|---|---|")
    print(f"| one after another (baseline, {requests // 5} requests) | {sequential:.0f} | 1.00 |")
    print(f"| {concurrent} at a time | {parallel:.0f} | {parallel / sequential:.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=16384)
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        tiles_table(args.width, Path(tmp))
        load_table(Path(tmp))


if __name__ == "__main__":
    main()
