"""The viewer's server: the tile pyramid of a large sphere, and requests under load, one run.

    python benchmarks/viewer.py                          # 16384x8192 and 32768x16384; 500 requests, 50 at a time
    python benchmarks/viewer.py --width 16384 --no-load

Prints two tables. Tiles: for each width, a generated sphere (JPEG q92) is decoded, and its whole
pyramid built (:meth:`pano.viewer.tiles.TileSource.build`), each in a fresh child process: seconds
and peak RSS (``ru_maxrss`` of the child), and their ratios to the plain decode of the same file
(the baseline, with the build's imports loaded too: the decoded image is the least any build
must hold). Load: requests per second for
500 mixed range requests with 50 at a time while 100 idle sockets are held open, as a ratio to the
same requests one after another.
"""

from __future__ import annotations

import argparse
import http.client
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from pano.viewer.media import build_gallery
from pano.viewer.server import ViewerServer
from pano.viewer.tiles import pyramid_face_sizes


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


_CHILD = """
import resource, sys, time
from pathlib import Path
from pano.viewer.tiles import TileSource, _rotations
_rotations()  # the build's imports (torch among them) are in the baseline too
t0 = time.perf_counter()
if sys.argv[1] == "decode":
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    im = Image.open(sys.argv[2]); im.load()
    n = 0
else:
    src = TileSource(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[3]) // 2, folder=Path(sys.argv[4]))
    src.build()
    n = sum(1 for _ in src.folder.rglob("*.jpg"))
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, n)
"""


def _child(*args: str) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", _CHILD, *args], check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2])


def tiles_table(width: int, folder: Path) -> None:
    path = folder / f"sphere{width}.jpg"
    img = Image.fromarray(sphere(width))
    img.save(path, quality=92)
    del img
    decode, decode_rss, _ = _child("decode", str(path))
    build, build_rss, tiles = _child("build", str(path), str(width), str(folder / "cache"))
    sizes = pyramid_face_sizes(width)
    shutil.rmtree(folder / "cache")
    path.unlink()
    gib = 2**30
    print(f"\npyramid of a {width}x{width // 2} sphere (faces {sizes[0]}..{sizes[-1]}, 512-px tiles, {tiles} tiles)")
    print("| step | seconds | ratio | peak RSS (GiB) | ratio |\n|---|---|---|---|---|")
    print(f"| plain decode (baseline) | {decode:.1f} | 1.00 | {decode_rss / gib:.2f} | 1.00 |")
    print(f"| whole pyramid (decode included) | {build:.1f} | {build / decode:.2f} | {build_rss / gib:.2f} | {build_rss / decode_rss:.2f} |")


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
    ap.add_argument("--width", type=int, nargs="+", default=[16384, 32768])
    ap.add_argument("--no-load", action="store_true", help="only the tile pyramids")
    args = ap.parse_args()
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        for width in args.width:
            tiles_table(width, Path(tmp))
        if not args.no_load:
            load_table(Path(tmp))


if __name__ == "__main__":
    main()
