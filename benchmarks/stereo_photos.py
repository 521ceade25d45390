"""Stereo photos through every filter: left/right mismatch and cost of the consistent path against eye by eye.

Builds the layered stereo photo of ``tests/filters/test_stereo_photos.py`` (two real photospheres: a far
background with disparity W/128 px and a near box with 4x that, occlusions; JPEG q90), then runs each
filter on its eyes in this process through :func:`pano.video.stereo_photo.filter_stereo_photo` (the path
``pano dream/upscale/beauty apply/mirage`` take), ``separate`` (eye by eye, the baseline) and
``consistent`` alternately, and prints for each: the issue's mismatch (mean |left - right| after warping
the right eye onto the left by the input's Farnebäck disparity, |lat| < 45°; the input's own first, for an
upscale the input's eyes resized bicubically to the output size), the change per eye, and wall and CPU
seconds with the ratio against eye by eye.

    python benchmarks/stereo_photos.py                       # dream (256-px eyes), upscale and beauty (128-px eyes)
    python benchmarks/stereo_photos.py --filters dream --width 512 --repeat 3
    python benchmarks/stereo_photos.py --filters mirage      # slow on a CPU
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


def stereo_photo(width: int, folder: Path) -> Path:
    """The layered top-bottom stereo photo, written as a camera would (plain JPEG q90)."""
    from pano.video.source import join_eyes

    photos = [
        cv2.resize(cv2.imread(str(SHARED / "equirect" / n)), (width, width // 2), interpolation=cv2.INTER_AREA)
        for n in ("vrview_petra.jpg", "panolens_building.jpg")
    ]
    lat = (0.5 - (np.arange(width // 2) + 0.5) / (width // 2)) * 180
    lon = (np.arange(width) + 0.5) / width * 360 - 180
    near = (np.abs(lat) < 40)[:, None] & ((lon > -60) & (lon < 20))[None, :]
    d = max(1, width // 128)

    def view(far: int, close: int) -> np.ndarray:
        box = np.roll(near, -close, 1)[..., None]
        return np.where(box, np.roll(photos[1], -close, 1), np.roll(photos[0], -far, 1))

    path = folder / f"stereo_{width}.jpg"
    cv2.imwrite(str(path), join_eyes([view(0, 0), view(d, 4 * d)], "top-bottom"), [cv2.IMWRITE_JPEG_QUALITY, 90])
    return path


def beauty_model(folder: Path) -> Path:
    """The tests' tiny pix2pix model: 60 steps on 6 flower photos."""
    from pano.filters.beauty import TrainConfig, train
    from pano.filters.conditions import ConditionSpec

    photos = folder / "flowers"
    photos.mkdir()
    for p in sorted((SHARED / "flowers").glob("*.jpg"))[::34]:
        (photos / p.name).symlink_to(p)
    config = TrainConfig(condition=ConditionSpec("clusters", {"k": 7}), size=64, steps=60, batch=2, ngf=8, ndf=8,
                         num_workers=0, checkpoint_every=0, preview_every=0, seed=0)
    return train(photos, folder / "flowers.safetensors", config, device=torch.device("cpu")).model_path


def make_filter(name: str, folder: Path, width: int):
    if name == "dream":
        from pano.filters.registry import make_dream

        return make_dream(device="cpu", preset="intense", size=width // 2, steps=3, octaves=1)
    if name == "upscale":
        from pano.filters.upscale import UpscaleFilter

        return UpscaleFilter(device="cpu", quiet=True)
    if name == "beauty":
        from pano.filters.beauty import BeautyFilter, load_model

        return BeautyFilter(load_model(beauty_model(folder)), view_size=64)
    if name == "mirage":
        from pano.filters.mirage import MirageFilter, MirageSettings
        from pano.models.classifier import load_classifier

        return MirageFilter(load_classifier("efficientnet_lite0", device="cpu"), MirageSettings(size=width, scales=1, steps=10))
    raise SystemExit(f"unknown filter {name}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--filters", default="dream,upscale,beauty")
    ap.add_argument("--width", type=int, default=None, help="eye width (default: 256 for dream, 128 for the others)")
    ap.add_argument("--repeat", type=int, default=2, help="alternate the two runs this many times; best time kept")
    args = ap.parse_args()
    if not (SHARED / "equirect").is_dir():
        sys.exit(f"{SHARED} is missing (shared data)")

    from pano.video.stereo import change_per_eye, stereo_mismatch
    from pano.video.stereo_photo import filter_stereo_photo, read_stereo_photo

    print(f"torch threads {torch.get_num_threads()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name in args.filters.split(","):
            width = args.width or (256 if name == "dream" else 128)
            photo = read_stereo_photo(stereo_photo(width, folder), "top-bottom")
            filt = make_filter(name, folder, width)
            inputs = list(photo.eyes)
            best: dict[str, tuple[float, float]] = {}
            outs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
            for _ in range(args.repeat):
                for eyes in ("separate", "consistent"):
                    w0, c0 = time.perf_counter(), time.process_time()
                    outs[eyes] = filter_stereo_photo(filt, photo, eyes=eyes)  # type: ignore[arg-type]
                    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                    b = best.get(eyes)
                    best[eyes] = (min(wall, b[0]), min(cpu, b[1])) if b else (wall, cpu)
            h, w = outs["separate"][0].shape[:2]
            ref = [cv2.resize(e, (w, h), interpolation=cv2.INTER_CUBIC) for e in inputs] if w != width else inputs
            m_in = stereo_mismatch(*ref, *inputs)
            print(f"\n{name}: eyes {width}x{width // 2} -> {w}x{h}, best of {args.repeat}")
            print(f"| eyes | mismatch (input: {m_in:.2f}) | / input's | change L, R | s (wall) | ratio | CPU s | ratio |")
            print("|---|---|---|---|---|---|---|---|")
            for eyes in ("separate", "consistent"):
                m = stereo_mismatch(*outs[eyes], *inputs)
                ch = change_per_eye(list(outs[eyes]), inputs)
                wall, cpu = best[eyes]
                print(f"| {eyes} | {m:.2f} | {m / m_in:.2f} | {ch[0]:.2f}, {ch[1]:.2f} | {wall:.2f} | "
                      f"{wall / best['separate'][0]:.2f} | {cpu:.2f} | {cpu / best['separate'][1]:.2f} |")


if __name__ == "__main__":
    main()
