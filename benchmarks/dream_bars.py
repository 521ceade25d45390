"""Every bar of issue 13, file to file, with ``pano dream`` at defaults on a CPU: one row per photo.

    python benchmarks/dream_bars.py                 # the photos below; --poles: the same-content pole test too

Columns: the working size and why (the progress line's words); detail = high-frequency energy of output over
input (:func:`pano.metrics.detail_ratio`, bar 0.7); wrap = the output's wrap-seam measure with its limit
max(1.25, 1.1x the input's) (only a bar where the width is neither the working size nor a multiple of it);
corr = :func:`pano.metrics.structure_correlation` (bar 0.85); cube edges (bar 1.2). ``--poles``: each photo
and the same sphere turned by :data:`pano.metrics.TURN` (both at the file's half resolution, written as PNG,
as in ``tests/_spheres.py``) dreamed by ``pano dream``; :func:`pano.metrics.pole_minus_equator` by ring,
mean over the four contents (bar: within ±0.15 per ring).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dream_full_resolution import dream, read  # noqa: E402

from pano.metrics import TURN, cube_edge_ratio, detail_ratio, pole_minus_equator, structure_correlation, wrap_seam_ratio  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = [DATA / "equirect" / "vrview_petra.jpg", DATA / "equirect" / "psv_sphere_small.jpg",
         DATA / "equirect" / "eso_aos-corr-dim-pan.jpg", DATA / "photosphere" / "PXL_20210722_151141413.PHOTOSPHERE.jpg",
         DATA / "equirect" / "panolens_tunnel.jpg"]
POLES = [DATA / "equirect" / n for n in ("vrview_petra.jpg", "psv_sphere_small.jpg", "panolens_tunnel.jpg")]


def write_png(x: torch.Tensor, path: Path) -> None:
    Image.fromarray((x[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)).save(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=Path, nargs="*", default=FILES)
    ap.add_argument("--poles", type=Path, nargs="*", default=None, help="photos for the pole test (default: three)")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    with tempfile.TemporaryDirectory() as tmp:
        if args.files:
            print("| photo | size | working size (why) | seconds | detail | wrap (limit) | corr | cube edges |")
            print("|---|---|---|---|---|---|---|---|")
        for path in args.files:
            out = Path(tmp) / f"{path.stem}_dream.jpg"
            secs, _, line = dream(path, out, here, [])
            m = re.search(r"working size (\d+)[^(]*\(([^)]*)\)", line)
            why = f"{m.group(1)} ({m.group(2)})" if m else line.strip()
            x, y = read(path), read(out)
            w = x.shape[-1]
            work = int(m.group(1)) if m else 0
            wrap_bar = "" if work and w % work else " (not a bar: width a multiple)"
            limit = max(1.25, 1.1 * wrap_seam_ratio(x))
            print(f"| {path.name} | {w}x{x.shape[-2]} | {why} | {secs:.0f} | {detail_ratio(y, x):.2f} | "
                  f"{wrap_seam_ratio(y):.2f} ({limit:.2f}){wrap_bar} | {structure_correlation(y, x):.3f} | "
                  f"{cube_edge_ratio(y):.2f} |", flush=True)
            out.unlink()
        poles = POLES if args.poles is None else args.poles
        if poles:
            from pano.io.image import read_image
            from pano.sphere import rotate_equirect

            print("\n| photo (half size) | ring 1 | ring 2 | ring 3 | the input's |\n|---|---|---|---|---|")
            rings = []
            for path in poles:
                big = read_image(path, mode="force-sphere", reduce=2).pixels  # the file's half resolution
                turned = rotate_equirect(big, TURN, mode="bicubic").clamp(0, 1)
                h = big.shape[-2]
                ins, outs = [], []
                for name, x in (("as_is", big), ("turned", turned)):
                    src = Path(tmp) / f"{path.stem}_{name}.png"
                    write_png(F.interpolate(x, size=(h, 2 * h), mode="area"), src)
                    dst = Path(tmp) / f"{path.stem}_{name}_dream.png"
                    dream(src, dst, here, [])
                    ins.append(read(src))
                    outs.append(read(dst))
                r = pole_minus_equator(*outs).mean(0)
                rings.append(r)
                r_in = pole_minus_equator(*ins).mean(0)
                print(f"| {path.name} ({2 * h}x{h}) | " + " | ".join(f"{v:+.3f}" for v in r.tolist())
                      + " | input: " + ", ".join(f"{v:+.3f}" for v in r_in.tolist()) + " |", flush=True)
            print("| mean | " + " | ".join(f"{v:+.3f}" for v in torch.stack(rings).mean(0).tolist()) + " | |")


if __name__ == "__main__":
    main()
