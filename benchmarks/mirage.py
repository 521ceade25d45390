"""pano mirage: seconds per iteration at each scale of the default recipe, and the whole run at defaults.

    python benchmarks/mirage.py                                  # CPU, 1024x512, 3 iterations per scale measured
    python benchmarks/mirage.py --device cuda --size 2048 --full # a GPU: the whole default run, timed end to end

Measured: for each scale of the default multi-scale recipe, the mean wall time of a few iterations (after a
warm-up one), multiplied by the default iterations at that scale (``MirageFilter.scale_steps``: most of them at
the small scales), plus the scale's setup (the original's classes and style): the estimated time of a default
run; with --full the whole default run is also timed. Baseline in the same process: one step of pano dream at the same
working size (its default: 40 steps), so the ratio says what one mirage iteration costs in dream steps on
this machine whatever its load.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import torch

from pano.device import resolve_device, resolve_precision
from pano.filters.dream import DreamFilter, DreamSettings
from pano.filters.mirage import MIN_FACE, MirageFilter, MirageSettings
from pano.io.photosphere import load_sphere
from pano.models.backbones import load_backbone
from pano.models.classifier import load_classifier

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "equirect" / "aframe_louvre.jpg"


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, dev) -> float:
    sync(dev)
    t = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--iterations", type=int, default=3, help="measured iterations per scale")
    ap.add_argument("--full", action="store_true", help="also time the whole default run")
    args = ap.parse_args()
    dev = resolve_device(args.device)
    dtype = resolve_precision("auto", dev)
    print(f"# {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, {dev}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    equi = load_sphere(PHOTO, full_width=args.size).equirect.to(dev)
    clf = load_classifier(device=dev)
    defaults = MirageSettings(size=args.size)
    face = args.size // 4
    faces = sorted({min(face, max(MIN_FACE, round(face / defaults.scale_ratio**k))) for k in range(defaults.scales)})
    steps = MirageFilter(clf, defaults).scale_steps(len(faces))

    dream = DreamFilter(load_backbone(device=dev, layers=["stage4"]), DreamSettings(size=args.size, octaves=1, steps=1), layer="stage4", dtype=dtype)
    dream(equi)  # warm-up
    t_dream = timed(lambda: dream(equi), dev)

    print("| scale | cube face | s / iteration | x dream step | default iterations | est. s |")
    print("|---|---|---|---|---|---|")
    total = 0.0
    for k, (f, n_steps) in enumerate(zip(faces, steps), start=1):
        size = 4 * f
        one = MirageFilter(clf, replace(defaults, size=size, scales=1, steps=1), dtype=dtype)
        one(equi)  # warm-up (and the targets' cost, paid once per scale)
        many = MirageFilter(clf, replace(defaults, size=size, scales=1, steps=1 + args.iterations), dtype=dtype)
        per = (timed(lambda: many(equi), dev) - timed(lambda: one(equi), dev)) / args.iterations
        est = per * (n_steps - 1) + timed(lambda: one(equi), dev)  # + the targets and one iteration
        total += est
        print(f"| {k}/{len(faces)} | {f} | {per:.2f} | {per / t_dream:.1f} | {n_steps} | {est:.0f} |")
    print(f"\nestimated default run at {args.size}x{args.size // 2}: {total:.0f} s ({total / 60:.1f} min); one dream step "
          f"at the same size {t_dream:.2f} s")  # fmt: skip
    if args.full:
        full = MirageFilter(clf, defaults, dtype=dtype)
        print(f"whole default run: {timed(lambda: full(equi), dev):.1f} s")


if __name__ == "__main__":
    main()
