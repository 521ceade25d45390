"""Frames per second of ``pano video``, with and without decode/encode overlapping the filter.

Encodes a real 360 clip (shared data, upsampled to ``--width``) to a temporary H.264 file, then
runs :func:`pano.video.pipeline.process_video` on it twice in this process: with the decode and
encode threads (the default) and all inline (the baseline). Also times each stage alone.

    python benchmarks/video.py                       # dream at defaults, 1920x960, 3 frames
    python benchmarks/video.py --filter tint --frames 20
    python benchmarks/video.py --filter wait --set seconds=0.5 --frames 20   # a GPU-bound filter
    python benchmarks/video.py --width 3840 --device cuda --frames 10
    python benchmarks/video.py --flicker --width 256 --frames 12   # flicker with/without coherence

Prints a table; the ratio column is against the inline (no overlap) run of the same process.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))


class Tint:
    """A cheap stand-in filter (colour matrix + blur + noise) to measure the pipeline's own cost."""

    def __init__(self) -> None:
        from pano.filters.base import FilterInfo

        self.info = FilterInfo("tint")
        self.m = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.2, 0.0, 0.8]])

    def __call__(self, equi: torch.Tensor, progress=None) -> torch.Tensor:
        y = torch.einsum("ij,bjhw->bihw", self.m, equi)
        y = torch.nn.functional.avg_pool2d(y, 3, stride=1, padding=1)
        return (y + 0.1 * (torch.rand(y.shape[-2:]) - 0.5)).clamp(0, 1)

    def params(self) -> dict:
        return {}


class Wait(Tint):
    """A stand-in for a filter that runs on a GPU: the tint, plus ``seconds`` of waiting that
    leaves the CPU free (as a CUDA sync does), to show what the decode/encode threads hide."""

    def __init__(self, seconds: float = 0.3) -> None:
        super().__init__()
        self.seconds = seconds

    def __call__(self, equi: torch.Tensor, progress=None) -> torch.Tensor:
        time.sleep(self.seconds)
        return super().__call__(equi)


def make_filter(name: str, device: str, options: dict):
    if name == "tint":
        return Tint()
    if name == "wait":
        return Wait(**options)
    try:
        import pano.filters.registry  # noqa: F401
    except ImportError:
        if name != "dream":
            raise
        # before the registry: build pano's dream directly (its defaults unless overridden)
        from dataclasses import replace

        from pano.filters.dream import DreamFilter, DreamSettings
        from pano.models.backbones import load_backbone

        backbone = load_backbone(device=device, progress=False)
        settings = replace(DreamSettings(), **options)
        return DreamFilter(backbone, settings, layer=backbone.spec.default_layer)
    from pano.commands.video import build_filter

    return build_filter(name, {"device": device, **options})


CLIP = SHARED / "video360" / "panolens_1941-battle-low.mp4"


def make_clip(path: Path, width: int, frames: int, fps: int = 25, start: int = 100) -> None:
    """``frames`` frames of the real battle clip from frame ``start`` (past the opening), resampled."""
    import av  # PyAV: only here, so the other functions run where it is not installed

    src = CLIP
    with av.open(str(src)) as c, av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=fps, options={"crf": "18", "preset": "veryfast"})
        v.width, v.height, v.pix_fmt = width, width // 2, "yuv420p"
        for i, frame in enumerate(c.decode(video=0)):
            if i < start:
                continue
            if i >= start + frames:
                break
            rgb = cv2.resize(frame.to_ndarray(format="rgb24"), (width, width // 2), interpolation=cv2.INTER_CUBIC)
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts, f.time_base = i - start, Fraction(1, fps)
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)


def frame_folder(folder: Path, width: int, frames: int, start: int = 100) -> str:
    """``frames`` photospheres ``frame_NNN.jpg`` of ``width`` x ``width / 2`` in ``folder`` (a source that
    :func:`pano.video.pipeline.process_video` reads without PyAV): the real battle clip's frames from ``start``
    decoded by OpenCV and resized, or, when the clip is absent or OpenCV cannot decode it, frames made in memory
    (a detailed pattern moving by 1 % of the width per frame). Returns which of the two it was."""
    folder.mkdir(parents=True, exist_ok=True)
    size = (width, width // 2)
    made = 0
    if CLIP.is_file():
        cap = cv2.VideoCapture(str(CLIP))
        index = 0
        while made < frames:
            ok, bgr = cap.read()
            if not ok:
                break
            if index >= start:
                cv2.imwrite(str(folder / f"frame_{made:03d}.jpg"), cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC),
                            [cv2.IMWRITE_JPEG_QUALITY, 95])
                made += 1
            index += 1
        cap.release()
    if made == frames:
        return f"frames of {CLIP.name} decoded by OpenCV, resized to {width}x{width // 2}"
    y, x = np.mgrid[0 : width // 2, 0:width].astype(np.float32)
    for i in range(frames):
        shift = x + i * width / 100
        rgb = np.stack([0.5 + 0.5 * np.sin(shift / 37.0) * np.cos(y / 23.0), 0.5 + 0.5 * np.sin((shift + y) / 51.0),
                        (shift % width / width + y / (width // 2)) / 2], -1)
        cv2.imwrite(str(folder / f"frame_{i:03d}.jpg"), (rgb[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return f"frames made in memory ({width}x{width // 2}, moving pattern; the clip was not available)"


def frames_per_second(source: Path, filt, frames_out: Path, overlap: bool = True) -> dict:
    """``pano video``'s frame loop (coherence at defaults) over ``source`` (a video or a folder of frames) into a
    folder of PNG frames: frames, wall seconds and frames per second."""
    from pano.video.pipeline import VideoOptions, process_video

    t = time.perf_counter()
    result = process_video(source, filt, None, frames_out, options=VideoOptions(overlap=overlap, overwrite=True))
    wall = time.perf_counter() - t
    return {"frames": result.frames, "wall_s": wall, "fps": result.frames / wall}


def stage_times(clip: Path, filt, width: int) -> dict[str, float]:
    """Seconds per frame of each stage alone."""
    from pano.io.video import VideoWriter, iter_video_frames
    from pano.video.coherence import carry_previous

    t = time.perf_counter()
    frames = list(iter_video_frames(clip))
    decode = (time.perf_counter() - t) / len(frames)
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, VideoWriter(Path(d) / "x.mp4", width, width // 2, Fraction(25)) as w:
        for f in frames:
            w.write(f)
    encode = (time.perf_counter() - t) / len(frames)
    t = time.perf_counter()
    for a, b in zip(frames, frames[1:]):
        carry_previous(a, b, a)
    flow = (time.perf_counter() - t) / max(1, len(frames) - 1)
    x = torch.from_numpy(frames[0]).permute(2, 0, 1)[None].float() / 255
    t = time.perf_counter()
    filt(x)
    filt_s = time.perf_counter() - t
    return {"decode": decode, "encode": encode, "flow+carry": flow, "filter": filt_s}


def flicker_table(clip: Path, filt, blends: tuple[float, ...] = (0.5, 0.8)) -> None:
    """Flicker (mean |frame diff| of the output / of the input) without and with coherence."""
    from pano.io.video import iter_video_frames
    from pano.video.coherence import flicker
    from pano.video.pipeline import VideoOptions, process_video

    inputs = list(iter_video_frames(clip))
    base = flicker(inputs)
    print(f"\nflicker on {len(inputs)} frames of {clip.name} (input mean |diff| {base:.2f}/255)")
    print(f"{'run':<28}{'flicker ratio':>14}{'s/frame':>10}")
    runs = [("no coherence", VideoOptions(coherence=False))]
    runs += [(f"coherence, blend {b}", VideoOptions(blend=b)) for b in blends]
    runs += [(f"  output only, blend {b}", VideoOptions(blend=b, blend_mode="output")) for b in blends[:1]]
    for name, opts in runs:
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            process_video(clip, filt, None, Path(d) / "f", opts)
            wall = time.perf_counter() - t
            frames = [cv2.imread(str(p)) for p in sorted((Path(d) / "f").glob("frame_*.png"))]
        print(f"{name:<28}{flicker(frames) / base:>14.3f}{wall / len(frames):>10.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--filter", default="dream", help="dream/upscale/beauty (pano's registry), tint (cheap), wait (GPU stand-in)"
    )
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--flicker", action="store_true", help="measure flicker with and without coherence instead")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="filter option, e.g. size=256")
    args = ap.parse_args()
    from pano.commands.video import _convert

    options = {k: _convert(v) for k, v in (item.split("=", 1) for item in args.set)}

    from pano.video.pipeline import VideoOptions, process_video

    filt = make_filter(args.filter, args.device, options)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cuda {torch.cuda.is_available()}")
    with tempfile.TemporaryDirectory() as d:
        clip = Path(d) / "clip.mp4"
        make_clip(clip, args.width, args.frames)
        if args.flicker:
            flicker_table(clip, filt)
            return
        stages = stage_times(clip, filt, args.width)
        print(f"\nstage alone, {args.width}x{args.width // 2} ({args.filter})   s/frame")
        for k, v in stages.items():
            print(f"  {k:<12} {v:10.3f}")
        rows = []
        for overlap in (False, True):
            out = Path(d) / f"out_{overlap}.mp4"
            t = time.perf_counter()
            result = process_video(clip, filt, out, options=VideoOptions(overlap=overlap))
            wall = time.perf_counter() - t
            rows.append((overlap, result.frames, wall))
        base = rows[0][2] / rows[0][1]
        print(f"\n{'run':<26}{'frames':>7}{'s/frame':>10}{'frames/s':>10}{'speed vs inline':>17}")
        for overlap, n, wall in rows:
            name = "decode/encode overlapped" if overlap else "inline (baseline)"
            print(f"{name:<26}{n:>7}{wall / n:>10.3f}{n / wall:>10.3f}{base / (wall / n):>16.2f}x")


if __name__ == "__main__":
    sys.exit(main())
