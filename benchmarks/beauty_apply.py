"""Speed of ``pano beauty apply``: conditions computed in torch on the filter's device against the uint8 route
through the CPU (numpy/OpenCV per view batch), in the same process.

A generator of the default shape (256-px views, 64 base filters; weights untrained: time does not depend
on them) repaints a real photosphere with the ``clusters`` condition, whose per-view assignment now stays
on the device; ``--stage condition`` times the condition of one batch of views alone.

    python benchmarks/beauty_apply.py                        # auto device, 1024x512 on a CPU, 2048x1024 on a GPU
    python benchmarks/beauty_apply.py --device cpu --width 512 --repeat 1
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _best(fn, device: torch.device, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        _sync(device)
        t = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    from pano.device import resolve_device
    from pano.filters import conditions
    from pano.filters.beauty import BeautyFilter, BeautyModel
    from pano.filters.beauty import filter as beauty_filter
    from pano.io.image import read_image
    from pano.models.pix2pix import UNetGenerator, init_weights, unet_depth
    from pano.sphere.resize import resize_equirect

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--width", type=int, default=None, help="sphere width (default 1024 on a CPU, 2048 on a GPU)")
    ap.add_argument("--photo", type=Path, default=SHARED / "equirect" / "vrview_petra.jpg")
    ap.add_argument("--view-size", type=int, default=256)
    ap.add_argument("--ngf", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    device = resolve_device(args.device)
    width = args.width or (2048 if device.type == "cuda" else 1024)

    torch.manual_seed(0)
    g = init_weights(UNetGenerator(3, 3, args.ngf, unet_depth(args.view_size), 0.5)).to(device).eval()
    model = BeautyModel(g, conditions.ConditionSpec("clusters"), args.view_size)
    equi = resize_equirect(read_image(args.photo, mode="sphere").pixels.float(), (width // 2, width)).to(device)
    filt = BeautyFilter(model)

    cpu_route = functools.partial(conditions.make_condition, on_device=False)
    on_device = conditions.make_condition

    def apply_with(route):
        beauty_filter.make_condition = route
        try:
            return filt(equi)
        finally:
            beauty_filter.make_condition = on_device

    centers = filt._centers(equi)
    views = torch.rand(filt.batch, 3, args.view_size, args.view_size, device=device)
    rows = []
    for name, route in (("condition of one batch of views", None), (f"beauty apply {width}x{width // 2}", apply_with)):
        if route is None:
            base = _best(lambda: cpu_route(views, model.condition, centers), device, max(3, args.repeat))
            new = _best(lambda: on_device(views, model.condition, centers), device, max(3, args.repeat))
        else:
            apply_with(cpu_route)  # warm-up (allocator, cuDNN)
            base = _best(lambda: apply_with(cpu_route), device, args.repeat)
            new = _best(lambda: apply_with(on_device), device, args.repeat)
        rows.append((name, base, new))
    same = torch.allclose(apply_with(cpu_route), apply_with(on_device), atol=1e-5)
    print(f"device {device}, threads {torch.get_num_threads()}, views {args.view_size} px, ngf {args.ngf}, batch {filt.batch}")
    print("| stage | uint8 CPU route | torch on the device | ratio |")
    print("|---|---|---|---|")
    for name, base, new in rows:
        print(f"| {name} | {base:.3f} s | {new:.3f} s | {base / new:.2f}x |")
    print(f"outputs equal (atol 1e-5): {same}")


if __name__ == "__main__":
    main()
