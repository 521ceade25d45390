"""The dream issue's sphere measures (wrap seam, cube-face edges, poles) of ``pano upscale``
(:class:`UpscaleFilter`) on real photos, input against output. Not a timing: it prints the table recorded in BENCHMARKS.md.

    python benchmarks/upscale_measures.py                              # animevideov3, 512x256 -> 2048x1024
    python benchmarks/upscale_measures.py --model realesrgan-x4plus --height 128
    python benchmarks/upscale_measures.py --keep-seam                  # as pano upscale --keep-seam
    python benchmarks/upscale_measures.py --pole-content               # + the same content at pole and equator

Photos come from ../shared/data/equirect (``PANO_SHARED_DATA`` to point elsewhere), area-downscaled to
``--height`` x ``2 * height`` so the x4 output matches the measures' 512-px, 90° views.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

from pano.device import resolve_device  # noqa: E402
from pano.filters.upscale import UpscaleFilter, upscale_tensor  # noqa: E402
from pano.io.image import read_image  # noqa: E402
from pano.metrics import TURN, cube_edge_ratio, pole_anisotropy, pole_minus_equator, wrap_seam_ratio  # noqa: E402
from pano.sphere import rotate_equirect  # noqa: E402
from pano.sphere.padding import pad_sphere  # noqa: E402
from pano.models.sr import load_sr_model  # noqa: E402

PHOTOS = ["vrview_petra", "aframe_louvre", "panolens_building", "pannellum_examplepano", "aframe_puydesancy"]
MEASURES = {"wrap": wrap_seam_ratio, "cube edges": cube_edge_ratio, "poles": pole_anisotropy}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="realesr-animevideov3")
    parser.add_argument("--height", type=int, default=256, help="input height (width is twice); default 256")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--photos", nargs="+", default=PHOTOS, help="file stems in the equirect folder")
    parser.add_argument("--keep-seam", action="store_true", help="as pano upscale --keep-seam")
    parser.add_argument(
        "--pole-content", action="store_true",
        help="also: each photo turned so pole content lies on the equator and back; the same content's ring "
        "anisotropy at a pole minus on the equator (pano.metrics.pole_minus_equator), by ring",
    )
    args = parser.parse_args()
    folder = SHARED / "equirect"
    if not folder.is_dir():
        sys.exit(f"no photos: {folder} is absent")
    device = resolve_device(args.device)
    filt = UpscaleFilter(descriptor=load_sr_model(args.model), device=device, precision="fp32", repair_seam=not args.keep_seam)
    seam = "seam kept" if args.keep_seam else "seam repaired"
    print(f"{args.model}, x4, {2 * args.height}x{args.height} -> {8 * args.height}x{4 * args.height}, {seam}, {device}\n")
    print("| photo | " + " | ".join(f"{m} in -> out" for m in MEASURES) + " |")
    print("|---|" + "---|" * len(MEASURES))
    for stem in args.photos:
        pixels = read_image(folder / f"{stem}.jpg", mode="force-sphere", reduce=4).pixels
        x = F.interpolate(pixels, size=(args.height, 2 * args.height), mode="area").clamp(0, 1)
        y = filt(x.to(device)).cpu()
        cells = [f"{fn(x):.3f} -> {fn(y):.3f}" for fn in MEASURES.values()]
        print(f"| {stem} | " + " | ".join(cells) + " |", flush=True)
    if args.pole_content:
        pole_content_table(args, filt, device, folder)


def _bicubic(x: torch.Tensor) -> torch.Tensor:
    y = F.interpolate(pad_sphere(x, 4, 4, 4, 4), scale_factor=4, mode="bicubic").clamp(0, 1)
    return y[..., 16:-16, 16:-16]


def pole_content_table(args: argparse.Namespace, filt: UpscaleFilter, device: torch.device, folder: Path) -> None:
    runs = {
        "input": lambda x: x,
        "bicubic x4": _bicubic,
        f"pano upscale ({args.model})": filt,
        "equirect tiles only, no cap views": lambda x: upscale_tensor(x, filt.descriptor, filt.scale, pole_views=False),
    }
    shifts: dict[str, list[torch.Tensor]] = {name: [] for name in runs}
    for stem in args.photos:
        big = read_image(folder / f"{stem}.jpg", mode="force-sphere", reduce=2).pixels
        pair = [big, rotate_equirect(big, TURN, mode="bicubic").clamp(0, 1)]
        pair = [F.interpolate(x, size=(args.height, 2 * args.height), mode="area").clamp(0, 1) for x in pair]
        for name, fn in runs.items():
            outs = [fn(x.to(device)).float().cpu() for x in pair]
            shifts[name].append(pole_minus_equator(*outs))
    print(f"\nsame content, ring anisotropy at a pole minus on the equator, mean over {len(args.photos)} photos\n")
    print("| | ring 1 | ring 2 | ring 3 |\n|---|---|---|---|")
    for name, values in shifts.items():
        mean = torch.cat(values).mean(0)
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in mean.tolist()) + " |", flush=True)


if __name__ == "__main__":
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    main()
