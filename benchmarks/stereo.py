"""Stereo 360 video: left/right mismatch and cost of the consistent path against eye by eye.

Runs :func:`pano.video.pipeline.process_video` on the shared top-bottom stereo clip
(``vrview_congo_1024.mp4``) twice in this process, ``eyes="separate"`` (each eye dreamed on its own,
the baseline) and ``eyes="consistent"`` (left eye dreamed, carried to the right along the input's
disparity, right eye finished), and prints for each: the mismatch of the issue (mean |left - right|
after warping the right eye onto the left by the input's Farnebäck disparity, |lat| < 45°; the input's
own figure first), the dream's change per eye, each eye's flicker (mean |difference| of consecutive
frames, 0..255; frames > 1) and seconds per frame, with the ratio against the eye-by-eye run.

    python benchmarks/stereo.py                                   # eyes 512x256, dream 512, 4 steps x 2 octaves, 2 frames
    python benchmarks/stereo.py --width 1920 --frames 3 --device cuda
    python benchmarks/stereo.py --set size=256 --set steps=2     # any dream option
    python benchmarks/stereo.py --width 256 --set size=256 --frames 2 --every 15 --repeat 2   # timing on a loaded CPU
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _value(text: str):
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", type=Path, default=SHARED / "video360" / "vrview_congo_1024.mp4")
    ap.add_argument("--width", type=int, default=512, help="eye width (default 512; the clip's own is 1920)")
    ap.add_argument("--frames", type=int, default=2)
    ap.add_argument("--every", type=int, default=1, help="keep every Nth frame (the clip's first frames repeat)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--repeat", type=int, default=1, help="alternate the two runs this many times; best time kept")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dream option, e.g. size=256")
    args = ap.parse_args()
    if not args.clip.is_file():
        sys.exit(f"{args.clip} is missing (shared data)")

    from pano.device import resolve_device
    from pano.filters.registry import make_dream
    from pano.video.coherence import flicker
    from pano.video.pipeline import VideoOptions, open_source, process_video
    from pano.video.source import split_eyes
    from pano.video.stereo import change_per_eye, stereo_mismatch

    device = str(resolve_device(args.device))
    dream_opts = {"size": 512, "steps": 4, "octaves": 2}
    dream_opts.update({k: _value(v) for k, v in (s.split("=", 1) for s in args.set)})
    filt = make_dream(device=device, **dream_opts)
    source = open_source(args.clip, VideoOptions())
    print(f"# {args.clip.name}: {source.layout}, eyes processed at {source.eye_size[0]}x{source.eye_size[1]} by default")
    src = open_source(args.clip, VideoOptions(width=args.width, every=args.every))
    inputs = [e for _, e in zip(range(args.frames), src.eyes())]
    m_in = [stereo_mismatch(*i, *i) for i in inputs]
    print(f"# eyes {args.width}x{args.width // 2}, dream {dream_opts} on {device}, {args.frames} frames, torch threads {torch.get_num_threads()}")
    print(f"# input mismatch per frame: {', '.join(f'{m:.2f}' for m in m_in)}")
    if len(inputs) > 1:
        print(f"# input flicker L, R: {', '.join(f'{flicker([i[e] for i in inputs]):.2f}' for e in (0, 1))}")
    from pano.video.stereo import carry_across, estimate_disparity

    for label, eyes_ in ((f"{args.width} px", inputs[0]), (f"{source.eye_size[0]} px (the clip's own)", next(source.eyes()))):
        t0 = time.perf_counter()
        disp = estimate_disparity(*eyes_)
        t1 = time.perf_counter()
        carry_across(disp, eyes_[0])
        t2 = time.perf_counter()
        print(f"# the consistent path's own work per frame at {label}: disparity {t1 - t0:.2f} s (decode thread), carry {t2 - t1:.2f} s")
    print()
    print("| eyes | mismatch (per frame) | mismatch / input's | change per eye (L, R) | flicker L, R | s per frame (wall) | ratio | CPU s per frame | ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    wall: dict[str, float] = {}
    cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeat):  # alternate, so load from other jobs hits both runs alike
            for eyes in ("separate", "consistent"):
                folder = Path(tmp) / f"{eyes}{rep}"
                opts = VideoOptions(eyes=eyes, width=args.width, every=args.every, max_frames=args.frames, overlap=False)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0, c0 = time.perf_counter(), time.process_time()
                process_video(args.clip, filt, None, folder, opts)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                w, c = (time.perf_counter() - t0) / args.frames, (time.process_time() - c0) / args.frames
                wall[eyes], cpu[eyes] = min(wall.get(eyes, w), w), min(cpu.get(eyes, c), c)
        for eyes in ("separate", "consistent"):
            folder = Path(tmp) / f"{eyes}0"
            outs = [
                split_eyes(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB), "top-bottom")
                for p in sorted(folder.glob("frame_*.png"))
            ]
            mism = [stereo_mismatch(*o, *i) for o, i in zip(outs, inputs)]
            change = np.mean([change_per_eye(o, i) for o, i in zip(outs, inputs)], axis=0)
            fl = "-"
            if len(outs) > 1:
                fl = ", ".join(f"{flicker([o[e] for o in outs]):.2f}" for e in (0, 1))
            ratio = np.mean(mism) / np.mean(m_in)
            print(
                f"| {eyes} | {', '.join(f'{m:.2f}' for m in mism)} | {ratio:.2f} | {change[0]:.2f}, {change[1]:.2f} "
                f"| {fl} | {wall[eyes]:.2f} | {wall[eyes] / wall['separate']:.2f} "
                f"| {cpu[eyes]:.2f} | {cpu[eyes] / cpu['separate']:.2f} |"
            )


if __name__ == "__main__":
    main()
