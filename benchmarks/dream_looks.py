"""A grid of dream looks (layer x strength) on real photospheres, to choose `pano dream`'s default by eye and
by numbers. Each candidate is dreamed at the CPU working size (1024) on the photo at 2048x1024 and scored by
the correlation of its 128x64 luminance with the input's (does the scene survive?) and its colourfulness
(Hasler-Süsstrunk) relative to the input's (neon?). Writes, per photo, a sheet of whole-sphere thumbnails
and one of 100 % crops (what a headset shows), plus a table on stdout.

    python benchmarks/dream_looks.py --out /tmp/looks
    python benchmarks/dream_looks.py --out /tmp/looks --candidates stage5:0.008 stage4:0.02
    python benchmarks/dream_looks.py --out /tmp/looks --save --strip docs/dream_looks.jpg   # the README's strip
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pano.filters.dream import DreamFilter, DreamSettings
from pano.metrics import structure_correlation
from pano.models.backbones import load_backbone

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "equirect"
PHOTOS = ["vrview_petra.jpg", "aframe_louvre.jpg", "pannellum_examplepano.jpg", "vrview_taj-mahal.jpg"]
CANDIDATES = ["stage5:0.0059", "stage5:0.01", "stage4:0.02"]


def load(path: Path, width: int) -> torch.Tensor:
    img = Image.open(path).convert("RGB").resize((width, width // 2), Image.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None].contiguous()


def colourfulness(x: torch.Tensor) -> float:
    r, g, b = (x[0, c] * 255 for c in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(torch.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * torch.sqrt(rg.mean() ** 2 + yb.mean() ** 2))


def to_pil(x: torch.Tensor) -> Image.Image:
    return Image.fromarray((x[0].permute(1, 2, 0).clamp(0, 1).numpy() * 255).round().astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--photos", nargs="+", default=PHOTOS)
    ap.add_argument("--candidates", nargs="+", default=CANDIDATES, help="layer:step_size (4 octaves x 10 steps)")
    ap.add_argument("--width", type=int, default=2048)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--save", action="store_true", help="also write every dream at full size")
    ap.add_argument("--strip", type=Path, default=None, help="after --save: the README's strip of 100 %% crops")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    layers = sorted({c.split(":")[0] for c in args.candidates})
    net = load_backbone("efficientnet_lite0", layers=layers)
    print("| photo | layer | step | corr 128x64 | colourfulness x | s |")
    print("|---|---|---|---|---|---|")
    for name in args.photos:
        src = load(DATA / name, args.width)
        thumbs, crops = [to_pil(src).resize((384, 192), Image.LANCZOS)], []
        h, w = src.shape[-2:]
        y0, x0 = h // 2 - 128, w // 2 - 256
        crops.append(to_pil(src[..., y0 : y0 + 256, x0 : x0 + 256]))
        for cand in args.candidates:
            layer, step = cand.split(":")
            settings = replace(DreamSettings(), size=args.size, step_size=float(step), octaves=4, steps=10)
            t0 = time.perf_counter()
            out = DreamFilter(net, settings, layer=layer)(src)
            dt = time.perf_counter() - t0
            corr, colour = structure_correlation(out, src), colourfulness(out) / colourfulness(src)
            print(f"| {name} | {layer} | {step} | {corr:.3f} | {colour:.2f} | {dt:.0f} |", flush=True)
            if args.save:
                to_pil(out).save(args.out / f"{Path(name).stem}_{layer}_{step}.jpg", quality=92)
            thumbs.append(to_pil(out).resize((384, 192), Image.LANCZOS))
            crops.append(to_pil(out[..., y0 : y0 + 256, x0 : x0 + 256]))
        for kind, tiles in (("thumbs", thumbs), ("crops", crops)):
            tw, th = tiles[0].size
            sheet = Image.new("RGB", (tw * len(tiles), th))
            for i, t in enumerate(tiles):
                sheet.paste(t, (i * tw, 0))
            sheet.save(args.out / f"{Path(name).stem}_{kind}.jpg", quality=88)
        to_pil(src).save(args.out / f"{Path(name).stem}_input.jpg", quality=92)
    if args.strip:
        strip(args.out, args.strip)


STRIP = [("vrview_petra", (760, 330)), ("vrview_taj-mahal", (470, 470)), ("aframe_louvre", (1000, 400))]  # crop corners


def strip(folder: Path, path: Path, tile: tuple[int, int] = (340, 220)) -> None:
    """Input, the default (stage5 at the classic strength) and --preset intense, as 100 % crops of the 2048 px
    dreams, one photo per row."""
    from PIL import ImageDraw

    cols = [("input", "input"), ("stage5_0.0059", "pano dream (default)"), ("stage4_0.02", "--preset intense")]
    tw, th = tile
    sheet = Image.new("RGB", (tw * len(cols), th * len(STRIP)))
    for r, (name, (x, y)) in enumerate(STRIP):
        for c, (key, _) in enumerate(cols):
            sheet.paste(Image.open(folder / f"{name}_{key}.jpg").crop((x, y, x + tw, y + th)), (c * tw, r * th))
    draw = ImageDraw.Draw(sheet)
    for c, (_, label) in enumerate(cols):
        draw.rectangle((c * tw, 0, c * tw + 8 + 7 * len(label), 16), fill=(0, 0, 0))
        draw.text((c * tw + 4, 2), label, fill=(255, 255, 255))
    sheet.save(path, quality=85)


if __name__ == "__main__":
    main()
