"""Training speed of ``pano beauty train``: the optimised loop against the plain fp32 loop, same process.

Runs :func:`pano.filters.beauty.train` on real flower photos (shared data) a few times:

- ``plain fp32``: fp32, contiguous tensors, data loaded in the main process (the baseline);
- ``optimised``: precision ``auto`` (bf16 autocast on CUDA where supported, fp16 + GradScaler otherwise,
  fp32 on CPU), channels-last on CUDA, ``--workers`` data-loader processes, cuDNN autotuning;
- ``data only``: the data loader alone (crop, flip, condition) with ``--workers`` processes, to show
  whether loading keeps up.

Steps per second are timed from the end of the warm-up steps to the last step (start-up, the
checkpoint and the model file are not counted). The ratio column is against ``plain fp32``.

    python benchmarks/beauty.py                          # 256 px, batch 4, auto device
    python benchmarks/beauty.py --device cpu --steps 3 --warmup 1
    python benchmarks/beauty.py --device cuda --steps 50 --workers 8
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data"))


def time_training(folder: Path, device: torch.device, *, steps: int, warmup: int, optimised: bool, size: int = 256,
                  batch: int = 4, workers: int = 0, condition: str = "clusters", ngf: int = 64) -> dict:
    """Steps and images per second of :func:`pano.filters.beauty.train` on ``folder``, timed from the end of
    ``warmup`` steps to the last of ``steps`` more: the optimised loop (``workers`` loader processes) or the
    plain fp32 loop. ``ngf`` is the generator's and the discriminator's base width."""
    from pano.filters.beauty import TrainConfig, train
    from pano.filters.conditions import ConditionSpec

    config = TrainConfig(
        condition=ConditionSpec(condition),
        size=size,
        steps=warmup + steps,
        batch=batch,
        ngf=ngf,
        ndf=ngf,
        num_workers=workers if optimised else 0,
        precision="auto" if optimised else "fp32",
        channels_last=None if optimised else False,
        checkpoint_every=0,
        preview_every=0,
    )
    marks: dict[int, float] = {}

    def on_step(step: int, total: int, label: str) -> None:
        if step in (warmup, warmup + steps):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            marks[step] = time.perf_counter()

    info = {}
    with tempfile.TemporaryDirectory() as tmp:
        train(folder, Path(tmp) / "bench.safetensors", config, device=device, progress=on_step,
              on_start=lambda s: info.update(dtype=s.dtype, images=s.images))
    seconds = marks[warmup + steps] - marks[warmup]
    return {"steps_s": steps / seconds, "images_s": steps * batch / seconds, "dtype": info["dtype"],
            "images": info["images"]}


def time_data(folder: Path, *, batches: int, args) -> float:
    from pano.filters.beauty.dataset import PhotoFolder, _StepBatches
    from pano.filters.conditions import ConditionSpec

    ds = PhotoFolder(folder, args.size, ConditionSpec(args.condition))
    sampler = _StepBatches(len(ds), args.batch, 0, 0, batches + 2)
    loader = torch.utils.data.DataLoader(ds, batch_sampler=sampler, num_workers=args.workers)
    it = iter(loader)
    next(it), next(it)  # workers started
    t = time.perf_counter()
    for _ in it:
        pass
    return batches * args.batch / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (cuDNN autotuning, workers)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument("--condition", choices=["clusters", "edges"], default="clusters")
    parser.add_argument("--folder", type=Path, default=SHARED / "flowers")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    from pano.device import resolve_device

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"pano beauty training, {args.size} px, batch {args.batch}, {args.condition}, {args.folder.name} on {name}")
    print(f"{args.warmup} warm-up + {args.steps} timed steps per variant\n")

    rows = []
    common = dict(steps=args.steps, warmup=args.warmup, size=args.size, batch=args.batch, workers=args.workers,
                  condition=args.condition)
    base = time_training(args.folder, device, optimised=False, **common)
    rows.append(("plain fp32 (workers 0)", base))
    opt = time_training(args.folder, device, optimised=True, **common)
    cl = " channels-last" if device.type == "cuda" else ""
    rows.append((f"optimised ({opt['dtype']}{cl}, workers {args.workers})", opt))
    data = time_data(args.folder, batches=max(4, args.steps), args=args)

    print(f"{'variant':<44} {'steps/s':>9} {'images/s':>9} {'ratio':>7}")
    for label, r in rows:
        print(f"{label:<44} {r['steps_s']:>9.3f} {r['images_s']:>9.2f} {r['steps_s'] / base['steps_s']:>6.2f}x")
    print(f"{f'data only (workers {args.workers})':<44} {data / args.batch:>9.3f} {data:>9.2f}")
    epoch = -(-base["images"] // args.batch)
    print(f"\n{base['images']} photos = {epoch} steps/epoch: {epoch / opt['steps_s']:.1f} s/epoch optimised, "
          f"{epoch / base['steps_s']:.1f} s/epoch plain")


if __name__ == "__main__":
    main()
