"""Equirect -> 6 cube faces -> equirect: pano (torch, any device) against py360convert (numpy), one run.

    python benchmarks/geometry.py                  # 4096x2048 and 8192x4096 on the default device
    python benchmarks/geometry.py --device cpu --sizes 2048 4096 --repeat 3

Prints a table: seconds per round trip (pano's first call also builds its cached sampling grids; later calls
of the same geometry, e.g. video frames, reuse them), megapixels per second, ratio to py360convert, and the
mean absolute difference between the two round trips (they must agree). pano also anti-aliases near the
poles; py360convert does not.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from pano.device import resolve_device
from pano.sphere import cubemap_to_equirect, equirect_to_cubemap


def test_image(height: int, width: int) -> np.ndarray:
    """A smooth but detailed synthetic sphere (so both libraries resample real structure)."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack(
        [0.5 + 0.5 * np.sin(x / 37.0) * np.cos(y / 23.0), 0.5 + 0.5 * np.sin((x + y) / 51.0), (x / width + y / height) / 2], -1
    ).astype(np.float32)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def round_trip(width: int, device: torch.device, repeat: int = 2, oracle: bool = True) -> dict:
    """pano's equirect -> cube faces -> equirect at ``width`` (faces ``width / 4``): first call and best of
    ``repeat``; with ``oracle``, py360convert's round trip too and the mean absolute difference."""
    height, face = width // 2, width // 4
    img = test_image(height, width)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].to(device)

    def ours():
        with torch.inference_mode():
            out = cubemap_to_equirect(equirect_to_cubemap(x, face), height, width)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return out

    result = {"first_s": best_of(ours, 1)}  # first call: builds and caches the sampling grids
    result["pano_s"] = best_of(ours, repeat)
    result["mp_s"] = width * height / 1e6 / result["pano_s"]
    if oracle:
        import py360convert

        def reference():
            faces = py360convert.e2c(img, face, cube_format="list")
            return py360convert.c2e(faces, height, width, cube_format="list")

        result["py360convert_s"] = best_of(reference, 1)
        result["mae"] = float(np.abs(ours()[0].permute(1, 2, 0).cpu().numpy() - reference()).mean())
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[4096, 8192], help="equirect widths")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    import py360convert

    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}); torch {torch.__version__}, py360convert {py360convert.__version__ if hasattr(py360convert, '__version__') else ''}")
    print(f"{'size':>11} | {'py360convert s':>14} | {'pano 1st call s':>15} | {'pano s':>8} | {'pano MP/s':>9} | {'speed-up':>8} | {'MAE vs oracle':>13}")
    for width in args.sizes:
        r = round_trip(width, device, args.repeat)
        print(f"{width:>5}x{width // 2:<5} | {r['py360convert_s']:>14.2f} | {r['first_s']:>15.2f} | {r['pano_s']:>8.3f} | "
              f"{r['mp_s']:>9.1f} | {r['py360convert_s'] / r['pano_s']:>7.1f}x | {r['mae']:>13.4f}")


if __name__ == "__main__":
    main()
