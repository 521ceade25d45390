"""`pano dream` at defaults, file to file, on real photospheres of several sizes: wall time, peak RSS, and what
the output kept of the input (issue 13). Optionally the same runs with another checkout of pano (``--old``,
e.g. the commit before the change) in the same session, as the baseline.

    python benchmarks/dream_full_resolution.py                       # 2048, 4000 and 8192 px photos
    python benchmarks/dream_full_resolution.py --old /tmp/pano-old --files PATH...

Columns: seconds and peak RSS of the whole command (a child process: ``resource.getrusage`` of the child);
detail = high-frequency energy of the output over the input's (:func:`pano.metrics.detail_ratio`, |lat| < 45°,
at the output's size); wrap = the output's wrap-seam measure (input's in brackets); corr = the 128x64
luminance correlation of output and input (:func:`pano.metrics.structure_correlation`). Partial photospheres
are measured on the files' own pixels (a crop: the latitude band is taken as if it were a full sphere).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pano.metrics import detail_ratio, structure_correlation, wrap_seam_ratio

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "equirect"
FILES = [DATA / "vrview_petra.jpg", DATA / "eso_aos-corr-dim-pan.jpg", DATA / "panolens_building.jpg"]

CHILD = (
    "import resource,sys,time;from pano.cli import main;t=time.perf_counter();"
    "\ntry:\n main(sys.argv[1:])\nexcept SystemExit as e:\n assert not e.code, e.code\n"
    "print('BENCH', time.perf_counter()-t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**20)"
)


def read(path: Path) -> torch.Tensor:
    Image.MAX_IMAGE_PIXELS = None
    arr = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255
    return torch.from_numpy(arr).permute(2, 0, 1)[None]


def dream(src: Path, out: Path, pythonpath: str, extra: list[str]) -> tuple[float, float, str]:
    env = dict(os.environ, PYTHONPATH=pythonpath)
    # cwd: not the repository, whose pano/ would come first on sys.path for ``python -c`` whatever PYTHONPATH says
    r = subprocess.run([sys.executable, "-c", CHILD, "dream", str(src), "-o", str(out), "--device", "cpu", "--overwrite", *extra],
                       capture_output=True, text=True, env=env, cwd=out.parent)
    if r.returncode:
        raise SystemExit(r.stderr)
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("BENCH"))
    first = next((ln for ln in r.stderr.splitlines() if "working size" in ln), "")
    _, secs, rss = line.split()
    return float(secs), float(rss), first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=Path, nargs="+", default=FILES)
    ap.add_argument("--old", type=str, default=None, help="a checkout of pano to run the same commands with, first")
    ap.add_argument("--no-measures", action="store_true", help="time and memory only (huge files)")
    ap.add_argument("extra", nargs="*", help="more pano dream options, after --")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    print(f"machine: {platform.processor() or 'cpu'}, {os.cpu_count()} cores, torch {torch.__version__}")
    print("| file | size | code | seconds | peak RSS GB | detail | wrap (input) | corr |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for path in args.files:
            size = "x".join(map(str, Image.open(path).size))
            runs = ([("before", args.old)] if args.old else []) + [("after", here)]
            for label, code in runs:
                out = Path(tmp) / f"{label}_{path.stem}.jpg"
                secs, rss, first = dream(path, out, code, ["-q"] if label == "before" else list(args.extra))
                if label == "after" and first:
                    print(f"<!-- {first.strip()} -->")
                measures = "| | |"
                if not args.no_measures:
                    x, y = read(path), read(out)
                    measures = (f"{detail_ratio(y, x):.2f} | {wrap_seam_ratio(y):.2f} ({wrap_seam_ratio(x):.2f}) | "
                                f"{structure_correlation(y, x):.3f}")
                print(f"| {path.name} | {size} | {label} | {secs:.1f} | {rss:.2f} | {measures} |", flush=True)
                out.unlink()


if __name__ == "__main__":
    main()
