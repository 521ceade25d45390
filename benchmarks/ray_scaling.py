"""Ray scale-out: the same batch of photos and the same clip on 1 and on 2 workers, and Ray's overhead for one
photo, against the plain single-process path run in the same process.

    python benchmarks/ray_scaling.py                    # 4 photos 512x256, a 24-frame 256x128 clip, dream on the CPU
    python benchmarks/ray_scaling.py --photos 8 --frames 48 --device cuda

A local Ray instance is started here (loopback, no dashboard) with every core of this machine. Prints a table;
the ratio column is against the plain run of the same work (higher is faster), timed before and after the Ray
runs (the faster of the two), as the load of a shared machine drifts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import av
import cv2

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))


def make_photos(folder: Path, n: int, width: int) -> list[Path]:
    from PIL import Image

    names = sorted((SHARED / "equirect").glob("*.jpg"))
    out = []
    for i in range(n):
        p = folder / f"photo{i}.jpg"
        Image.open(names[i % len(names)]).convert("RGB").resize((width, width // 2), Image.LANCZOS).save(p, quality=92)
        out.append(p)
    return out


def make_clip(path: Path, frames: int, width: int) -> Path:
    """``frames`` frames of the shared battle clip (every 2nd from 5.2 s: a moving shot without a cut)."""
    src = SHARED / "video360" / "panolens_1941-battle-low.mp4"
    rgb = []
    with av.open(str(src)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= 130 and i % 2 == 0:
                rgb.append(cv2.resize(f.to_ndarray(format="rgb24"), (width, width // 2), interpolation=cv2.INTER_AREA))
            if len(rgb) == frames:
                break
    with av.open(str(path), "w") as out:
        v = out.add_stream("libx264", rate=12, options={"crf": "12", "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = width, width // 2, "yuv420p"
        for f in rgb:
            for p in v.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    return path


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=int, default=4)
    ap.add_argument("--photo-width", type=int, default=512)
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--clip-width", type=int, default=256)
    ap.add_argument("--chunk", type=int, default=12)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback only
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    import ray
    import torch

    from pano.commands.dream import DreamJob
    from pano.commands.video import FilterFactory
    from pano.distributed.photos import run_photos
    from pano.distributed.video import Chunking, RayFrames
    from pano.filters.dream import DreamSettings
    from pano.video.pipeline import VideoOptions, process_video

    cores = os.cpu_count() or 1
    job = DreamJob(replace(DreamSettings(), size=256, octaves=2, steps=4), None, None, "auto", None, None, "sphere",
                   None, None, overwrite=True, quiet=True)
    factory = FilterFactory("dream", {"size": 128, "octaves": 1, "steps": 3})
    options = VideoOptions(preset="ultrafast")
    rows: list[tuple[str, str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        photos = make_photos(tmp, args.photos, args.photo_width)
        clip = make_clip(tmp / "clip.mp4", args.frames, args.clip_width)

        # plain single-process runs (the model load counted, as in a command)
        def plain_batch(items):
            process = job.open(args.device)
            for p in items:
                process(p, tmp / f"plain_{p.name}")

        plain_batch(photos[:1])  # warm-up: imports, allocator, weights in the page cache (not timed)
        t_plain_one = timed(lambda: plain_batch(photos[:1]))
        t_plain_batch = timed(lambda: plain_batch(photos))
        t_plain_clip = timed(lambda: process_video(clip, factory(args.device), tmp / "plain.mp4", None,
                                                   replace(options, overwrite=True)))

        t_init = timed(lambda: ray.init(num_cpus=cores, include_dashboard=False, logging_level="ERROR", log_to_driver=False))
        try:
            t_ray_one = timed(lambda: run_photos(ray, job, [(photos[0], tmp / "ray_one.jpg")], device=args.device,
                                                 workers=1, overwrite=True))
            rows.append(("1 photo", f"plain (1 process, {torch.get_num_threads()} threads)", t_plain_one, 1.0))
            rows.append(("1 photo", "Ray, 1 worker (actor start + model load)", t_ray_one, t_plain_one / t_ray_one))
            rows.append(("1 photo", "Ray start (ray.init, local)", t_init, float("nan")))
            rows.append((f"{len(photos)} photos", "plain", t_plain_batch, 1.0))
            for n in (1, 2):
                t = timed(lambda n=n: run_photos(ray, job, [(p, tmp / f"ray{n}_{p.name}") for p in photos],
                                                 device=args.device, workers=n, overwrite=True))
                rows.append((f"{len(photos)} photos", f"Ray, {n} worker{'s' * (n > 1)}", t, t_plain_batch / t))
            rows.append((f"clip {args.frames} fr", "plain", t_plain_clip, 1.0))
            chunking = Chunking(chunk=args.chunk, warmup=4, overlap=3)
            for n in (1, 2):
                def run_clip(n=n):
                    engine = RayFrames(ray, factory, options, device=args.device, workers=n, chunking=chunking)
                    try:
                        process_video(clip, engine.filter, tmp / f"ray{n}.mp4", None, replace(options, overwrite=True),
                                      engine=engine)
                    finally:
                        engine.close()
                t = timed(run_clip)
                rows.append((f"clip {args.frames} fr", f"Ray, {n} worker{'s' * (n > 1)} (chunks of {args.chunk})", t, t_plain_clip / t))
        finally:
            ray.shutdown()
        # the plain runs again, after the Ray runs: on a shared machine the load drifts, so each plain time is
        # the faster of its two runs (the ratios are then lower bounds for Ray)
        again = {"1 photo": timed(lambda: plain_batch(photos[:1])), f"{len(photos)} photos": timed(lambda: plain_batch(photos)),
                 f"clip {args.frames} fr": timed(lambda: process_video(clip, factory(args.device), tmp / "plain.mp4", None,
                                                                      replace(options, overwrite=True)))}
        base = {w: min(t, again[w]) for w, r, t, _ in rows if r.startswith("plain")}
        rows = [(w, r + (f" (runs {t:.1f}, {again[w]:.1f})" if r.startswith("plain") else ""), base[w] if r.startswith("plain") else t,
                 ratio if ratio != ratio else 1.0 if r.startswith("plain") else base[w] / t) for w, r, t, ratio in rows]

    print(f"\n{cores} cores, device {args.device}, torch {torch.__version__}, ray {ray.__version__}")
    print("| work | run | seconds | speed vs plain |\n|---|---|---|---|")
    for work, run, t, ratio in rows:
        print(f"| {work} | {run} | {t:.1f} | {'' if ratio != ratio else f'{ratio:.2f}x'} |")


if __name__ == "__main__":
    main()
