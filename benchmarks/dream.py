"""pano dream against the straightforward DeepDream, in one run, plus end-to-end timings of `pano dream`.

    python benchmarks/dream.py                          # CPU-sized defaults
    python benchmarks/dream.py --device cuda --size 2048 --e2e 4096 8192

Baseline ("classic"): the per-tile loop over the flat equirect of the classic tutorials: batch 1, fp32, same
model and layer, same octaves and steps, tiles the size of pano's views. Both report network throughput in
megapixels per second (pixels pushed through forward + backward), so the ratio compares equal work per
pixel. End to end: the installed `pano dream` at default settings on a real photosphere resized to each size,
with wall time and peak memory (RSS; GPU peak allocated on CUDA).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pano.device import resolve_device, resolve_precision
from pano.filters.parametrisation import SphereParametrisation
from pano.filters.dream import DreamFilter, DreamSettings
from pano.models.backbones import load_backbone
from pano.models.registry import get_spec

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))
PHOTO = SHARED / "equirect" / "pannellum_examplepano.jpg"


class Counting(torch.nn.Module):
    """Counts the pixels the backbone sees (forward calls)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net, self.pixels = net, 0

    def forward(self, x):
        self.pixels += x.shape[0] * x.shape[-1] * x.shape[-2]
        return self.net(x)


def photo(width: int) -> torch.Tensor:
    if PHOTO.exists():
        img = Image.open(PHOTO).convert("RGB").resize((width, width // 2), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.float32) / 255
    else:  # a detailed synthetic sphere (smooth structure and a little noise: a photo's cost as a JPEG)
        y, x = np.mgrid[0 : width // 2, 0:width].astype(np.float32) * (4096 / width)
        arr = np.stack([0.5 + 0.4 * np.sin(x / 37.0) * np.cos(y / 23.0), 0.5 + 0.4 * np.sin((x + y) / 51.0),
                        0.5 + 0.4 * np.cos(x / 71.0 - y / 13.0)], -1)
        arr = (arr + np.random.default_rng(0).normal(0, 0.03, arr.shape)).clip(0, 1).astype(np.float32)
    return torch.from_numpy(arr).permute(2, 0, 1)[None].contiguous()


def run(filt: DreamFilter, counter: Counting, img: torch.Tensor, device: torch.device) -> tuple[float, float]:
    counter.pixels = 0
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    filt(img)
    if device.type == "cuda":
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    return dt, counter.pixels / 1e6 / dt


def end_to_end(width: int, device: str, tmp: Path) -> tuple[float, float, float]:
    """``pano dream`` at defaults on the photo resized to ``width``, in a fresh process: (seconds, peak RSS GB,
    peak GPU GB)."""
    src = write_photo(width, tmp)
    out = tmp / f"out_{width}.jpg"
    code = (
        "import resource,sys,time,torch;from pano.cli import main;t=time.perf_counter();"
        "\ntry:\n main(sys.argv[1:])\nexcept SystemExit as e:\n assert not e.code, e.code\n"
        "peak=torch.cuda.max_memory_allocated()/2**30 if torch.cuda.is_available() else 0;"
        "print(time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20, peak)"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "dream", str(src), "-o", str(out), "-q", "--device", device, "--overwrite"],
        capture_output=True, text=True, check=True,
    )
    secs, rss, gpu = map(float, r.stdout.split()[-3:])
    return secs, rss, gpu


def write_photo(width: int, folder: Path) -> Path:
    """The benchmark photo resized to ``width`` x ``width / 2``, as a JPEG in ``folder``."""
    src = folder / f"sphere_{width}.jpg"
    photo_img = photo(width)[0].permute(1, 2, 0).numpy()
    Image.fromarray((photo_img * 255).astype(np.uint8)).save(src, quality=95)
    return src


def end_to_end_in_process(width: int, device: str, tmp: Path, extra: tuple[str, ...] = ()) -> float:
    """Seconds of ``pano dream PHOTO -o OUT`` (file to file, default settings plus ``extra``) run by the CLI's
    ``main`` in this process: the model load counts, the interpreter's start and imports do not."""
    src = write_photo(width, tmp)
    out = tmp / f"out_{width}.jpg"
    return cli_seconds(["dream", str(src), "-o", str(out), "-q", "--device", device, "--overwrite", *extra], device)


def cli_seconds(args: list[str], device: str) -> float:
    """Seconds of one ``pano ARGS`` run by the CLI's ``main`` in this process (CUDA synchronised before and
    after); a non-zero exit is raised with the end of its stderr."""
    from pano.cli import main as pano_main

    cuda = str(device).startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
    errors = io.StringIO()
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stderr(errors):
            pano_main(args)
    except SystemExit as exc:
        if exc.code:
            raise RuntimeError(f"pano {args[0]} exited with {exc.code}: {errors.getvalue().strip()[-300:]}") from None
    if cuda:
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def compare_classic(size: int, steps: int, octaves: int, device: torch.device, dtype: torch.dtype) -> dict:
    """pano's sphere dream against the classic flat tile loop (batch 1, fp32), same model, layer and work per
    pixel, each timed after one warm-up run. Returns seconds and network MP/s of both and their ratio."""
    layer = get_spec("efficientnet_lite0").default_layer
    backbone = load_backbone("efficientnet_lite0", device=device, layers=[layer])
    counter = Counting(backbone).to(device)
    img = photo(size).to(device)
    settings = DreamSettings(size=size, steps=steps, octaves=octaves)

    ours = DreamFilter(counter, settings, layer=layer, dtype=dtype)
    ours.backbone = counter
    counter.net = backbone.to(memory_format=torch.channels_last)
    run(ours, counter, img, device)  # warm-up (cuDNN autotune, caches)
    t_ours, mps_ours = run(ours, counter, img, device)

    view = SphereParametrisation(round(size / 4), fov_deg=settings.fov_deg, view_margin=settings.view_margin,
                                 tile=settings.tile, orientation=settings.orientation, device=device).rays.shape[0]
    classic = DreamFilter(counter, replace(settings, flat=True, tile=view, batch=1), layer=layer, dtype=torch.float32)
    counter.net = backbone.to(memory_format=torch.contiguous_format)
    run(classic, counter, img, device)
    t_classic, mps_classic = run(classic, counter, img, device)
    return {"pano_s": t_ours, "pano_mps": mps_ours, "classic_s": t_classic, "classic_mps": mps_classic,
            "ratio": mps_ours / mps_classic, "view": view, "layer": layer, "dtype": str(dtype).split(".")[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=512, help="working width of the comparison run")
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--octaves", type=int, default=3)
    ap.add_argument("--e2e", type=int, nargs="*", default=[2048], help="widths for the end-to-end pano dream runs")
    args = ap.parse_args()
    device = resolve_device(args.device)
    dtype = resolve_precision("auto", device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'cpu'}, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}), torch {torch.__version__}, compute {dtype}")

    r = compare_classic(args.size, args.steps, args.octaves, device, dtype)
    print(f"\nworking size {args.size}x{args.size // 2}, {args.octaves} octaves x {args.steps} steps, views/tiles {r['view']} px, layer {r['layer']}")
    print(f"{'implementation':<44} | {'seconds':>8} | {'net MP/s':>8} | {'ratio':>6}")
    print(f"{'classic: flat tiles, batch 1, fp32':<44} | {r['classic_s']:>8.2f} | {r['classic_mps']:>8.2f} | {1.0:>5.2f}x")
    print(f"{'pano: sphere views, batched, ' + r['dtype']:<44} | {r['pano_s']:>8.2f} | {r['pano_mps']:>8.2f} | {r['ratio']:>5.2f}x")

    if args.e2e:
        print(f"\n{'pano dream, defaults':<22} | {'seconds':>8} | {'peak RSS GB':>11} | {'peak GPU GB':>11}")
        with tempfile.TemporaryDirectory() as tmp:
            for width in args.e2e:
                secs, rss, gpu = end_to_end(width, str(device), Path(tmp))
                print(f"{f'{width}x{width // 2}':<22} | {secs:>8.1f} | {rss:>11.2f} | {gpu:>11.2f}")


if __name__ == "__main__":
    main()
