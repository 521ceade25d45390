"""Seconds per sphere and megapixels per second of ``pano upscale``, against the plain tile loop.

For each model (x4plus and animevideov3 by default) a real sphere (shared data, resized to
``--size`` x ``2 * --size``) is upscaled x4 twice in this process:

* ``pano``: :func:`pano.filters.upscale.upscale_tensor` as ``pano upscale`` runs it (auto tile
  and batch from free memory, bf16 on CUDA, overlapping feathered tiles, wrap/pole padding,
  pole views);
* ``plain``: the loop Real-ESRGAN's ``RealESRGANer.tile_process`` runs: batch 1, fp32, 10 px of
  tile padding, tiles pasted without blending (``--plain-tile``, default 512 on CUDA, 256 on CPU).

MP/s counts output megapixels. The ratio column is plain time / pano time (higher is better).

    python benchmarks/upscale.py --device cuda                 # 2048x1024 -> 8192x4096
    python benchmarks/upscale.py --device cpu --size 128       # CPU: a small sphere, a few minutes
    python benchmarks/upscale.py --memory                      # peak RSS of a 2048x1024 -> 8192x4096 file

``--memory`` runs the whole file path (read JPEG, upscale to a uint8 result, write JPEG) on the CPU
with a stand-in network (a tiny random SRVGGNetCompact: same pipeline, negligible compute) and prints
the peak RSS; a real network adds at most its tile activations (auto tile: <= 1.5 GB on the CPU).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from pano.device import resolve_device  # noqa: E402
from pano.filters.upscale import UpscaleFilter  # noqa: E402
from pano.models.sr import load_sr_model  # noqa: E402


def sphere(size: int) -> torch.Tensor:
    from pano.io.image import read_image

    path = SHARED / "equirect" / "aframe_louvre.jpg"
    if path.is_file():
        pixels = read_image(path).pixels
        return F.interpolate(pixels, size=(size, 2 * size), mode="area").clamp(0, 1)
    return torch.rand(1, 3, size, 2 * size, generator=torch.Generator().manual_seed(0))


def plain_tile_loop(x: torch.Tensor, model: torch.nn.Module, scale: int, tile: int, pad: int = 10) -> torch.Tensor:
    """RealESRGANer.tile_process: each tile with ``pad`` px of context, batch 1, pasted without blending."""
    _, c, h, w = x.shape
    out = torch.empty(1, c, h * scale, w * scale, device=x.device)
    with torch.inference_mode():
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                py0, px0, py1, px1 = max(y0 - pad, 0), max(x0 - pad, 0), min(y1 + pad, h), min(x1 + pad, w)
                y = model(x[:, :, py0:py1, px0:px1])
                oy, ox = (y0 - py0) * scale, (x0 - px0) * scale
                out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = y[
                    :, :, oy : oy + (y1 - y0) * scale, ox : ox + (x1 - x0) * scale
                ]
    return out.clamp_(0, 1)


def timed(fn, device: torch.device, repeats: int) -> float:
    if device.type == "cuda":
        fn()  # warm-up (cudnn autotune, allocator); on the CPU a big sphere's run is minutes long already
    best = math.inf
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - t0)
    return best


def compare(name: str, x: torch.Tensor, device: torch.device, *, repeats: int = 2, plain_tile: int | None = None,
            precision: str = "auto", tile: int | None = None) -> dict:
    """The plain tile loop and pano's upscale of ``x`` with model ``name``, best of ``repeats`` each (after a
    warm-up run on CUDA). Returns both times, pano's tile/batch/precision and the ratio plain / pano."""
    from pano.filters.upscale import auto_tile

    plain_tile = plain_tile or (512 if device.type == "cuda" else 256)
    plain_model = load_sr_model(name).to(device).eval()
    t_plain = timed(lambda: plain_tile_loop(x, plain_model.model, 4, plain_tile), device, repeats)
    del plain_model
    filt = UpscaleFilter(name, device=str(device), precision=precision, tile=tile)
    pano_tile, batch = (tile, 1) if tile else auto_tile(filt.descriptor, device, filt.dtype)
    t_pano = timed(lambda: filt(x), device, repeats)
    prec = str(filt.dtype).replace("torch.", "")
    del filt
    if device.type == "cuda":
        torch.cuda.empty_cache()
    out_mp = 16 * x.shape[-2] * x.shape[-1] / 1e6
    return {"plain_s": t_plain, "plain_tile": plain_tile, "pano_s": t_pano, "tile": pano_tile, "batch": batch,
            "precision": prec, "out_mp": out_mp, "ratio": t_plain / t_pano}


def benchmark(args: argparse.Namespace) -> None:
    device = resolve_device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    x = sphere(args.size).to(device)
    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else f'{torch.get_num_threads()} threads'}), "
          f"sphere {2 * args.size}x{args.size} -> {8 * args.size}x{4 * args.size}, best of {args.repeats}")
    header = f"{'model':24s} {'run':6s} {'precision':9s} {'tile':>5s} {'batch':>5s} {'s/sphere':>9s} {'MP/s':>8s} {'ratio':>6s}"
    print(header)
    print("-" * len(header))
    for name in args.models:
        r = compare(name, x, device, repeats=args.repeats, plain_tile=args.plain_tile, precision=args.precision,
                    tile=args.tile)
        out_mp, t_plain, t_pano = r["out_mp"], r["plain_s"], r["pano_s"]
        print(f"{name:24s} {'plain':6s} {'float32':9s} {r['plain_tile']:5d} {1:5d} {t_plain:9.3f} {out_mp / t_plain:8.3f} {1.0:6.2f}")
        print(f"{name:24s} {'pano':6s} {r['precision']:9s} {r['tile']:5d} {r['batch']:5d} {t_pano:9.3f} {out_mp / t_pano:8.3f} {r['ratio']:6.2f}")


def memory_check(args: argparse.Namespace) -> None:
    """Peak RSS of read -> upscale (uint8 result) -> write for a 2048x1024 -> 8192x4096 sphere on the CPU."""
    import spandrel

    from pano.io.image import read_image, write_image

    torch.manual_seed(0)
    stand_in = spandrel.ModelLoader().load_from_state_dict(
        {
            "body.0.weight": torch.randn(8, 3, 3, 3) * 0.1, "body.0.bias": torch.zeros(8),
            "body.1.weight": torch.full((8,), 0.25),
            "body.2.weight": torch.randn(48, 8, 3, 3) * 0.01, "body.2.bias": torch.zeros(48),
        }
    ).eval()
    with tempfile.TemporaryDirectory() as tmp:
        src = write_image(sphere(1024), Path(tmp) / "in.jpg")
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t0 = time.perf_counter()
        img = read_image(src)
        filt = UpscaleFilter(device="cpu", descriptor=stand_in)
        result = filt(img.pixels, out_dtype=torch.uint8, out_device="cpu")
        write_image(result[0].permute(1, 2, 0).numpy(), Path(tmp) / "out.jpg", like=img)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"2048x1024 -> {result.shape[-1]}x{result.shape[-2]} file to file on the CPU in {time.perf_counter() - t0:.1f} s "
              f"with a stand-in network (tile {filt.tile or 'auto'}): peak RSS {peak:.0f} MB (before: {base:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=1024, help="sphere height (width is twice); default 1024")
    parser.add_argument("--models", nargs="+", default=["realesrgan-x4plus", "realesr-animevideov3"])
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"])
    parser.add_argument("--tile", type=int, default=None, help="pano tile (default: auto from free memory)")
    parser.add_argument("--plain-tile", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory", action="store_true", help="peak RSS of a 2048x1024 -> 8192x4096 file (CPU)")
    args = parser.parse_args()
    if args.memory:
        memory_check(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
