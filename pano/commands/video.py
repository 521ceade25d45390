"""``pano video``: run a filter over a 360 video or a folder of photospheres (timelapse)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

from pano.commands.batch import ray_options
from pano.commands.common import Progress, default_output_path, device_option, output_options, quiet_option
from pano.commands.filter_options import settings_options
from pano.errors import InputError, ModelError
from pano.filters.settings import SETTINGS  # no torch: the settings dataclasses only

FILTERS = tuple(SETTINGS)


def parse_filter_options(args: list[str]) -> dict[str, Any]:
    """The options of a ``module:factory`` filter, which declares none: ``["--steps", "10", "--octave-scale=1.3",
    "--no-tile"]`` -> ``{"steps": 10, "octave_scale": 1.3, "tile": False}``, passed to the factory as keywords
    (a registered filter's options are its command's, parsed by :func:`pano.commands.filter_options.settings_options`).

    Values are converted to int or float where they look like numbers; a flag without a value
    is True (``--no-x`` is ``x=False``).

    Raises:
        InputError: a stray value that follows no option.
    """
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--") or len(arg) < 3:
            raise InputError(f"unexpected argument {arg!r}: filter options look like --name value")
        name, eq, value = arg[2:].partition("=")
        key = name.replace("-", "_")
        if eq:
            out[key] = _convert(value)
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            out[key] = _convert(args[i + 1])
            i += 1
        elif key.startswith("no_"):
            out[key[3:]] = False
        else:
            out[key] = True
        i += 1
    return out


def _convert(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def build_filter(name: str, options: dict[str, Any]) -> Any:
    """A filter from the registry (``dream``/``beauty``/``upscale``/``mirage``: its settings from ``options``, built
    by :func:`pano.filters.factory.build_filter` on ``options["device"]``) or a ``module:factory`` path.

    Raises:
        ModelError: the filter cannot be found or built.
    """
    if ":" in name:
        module_name, attr = name.split(":", 1)
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ModelError(f"cannot import filter factory {name!r}: check the module:name spelling") from exc
        return factory(**options)
    from pano.filters.factory import build_filter as build  # noqa: PLC0415
    from pano.filters.settings import settings_for  # noqa: PLC0415

    options = dict(options)
    device = options.pop("device", "auto")
    try:
        return build(settings_for(name, **options), device)
    except TypeError as exc:
        raise InputError(f"bad option for --filter {name}: {exc}: see pano {name} --help") from exc


def check_outputs(output: Path | None, frames_out: Path | None, options: Any) -> None:
    """The video output and the frames folder, checked before the filter's model loads."""
    from pano.video.pipeline import check_outputs as check  # noqa: PLC0415

    check(output, frames_out, options)


@dataclass(frozen=True)
class FilterFactory:
    """A filter by name and options, built on a Ray worker's own device: ``FilterFactory(...)(device)``; a
    registered filter's options become its settings there, built by :func:`pano.filters.factory.build_filter`."""

    name: str
    options: dict[str, Any]

    def __call__(self, device: str) -> Any:
        options = dict(self.options)
        if ":" not in self.name:
            options["device"] = device
        return build_filter(self.name, options)


def filter_factory(name: str, options: dict[str, Any]) -> Callable[[str], Any]:
    """``factory(device) -> filter``, picklable for Ray workers: a registered filter's settings object (made here,
    so a bad option is refused before any model loads or worker starts) with
    :func:`pano.filters.factory.build_filter`; a ``module:factory`` filter by name and options."""
    if ":" in name:
        return FilterFactory(name, options)
    from pano.filters.factory import build_filter as build  # noqa: PLC0415
    from pano.filters.settings import settings_for  # noqa: PLC0415

    return functools.partial(build, settings_for(name, **{k: v for k, v in options.items() if k != "device"}))


def _on_ray(address: str, workers: int | None, device: str, factory: Callable[[str], Any], chunks: tuple[int, int, int],
            options: Any, state: dict[str, Any], run: Any) -> Any:
    """``run(engine)`` with a Ray frame engine; the actors are stopped at the end, also on Ctrl-C."""
    from pano.distributed.cluster import ray_session  # noqa: PLC0415
    from pano.distributed.video import Chunking, RayFrames  # noqa: PLC0415

    def started(plan: Any) -> None:
        state["workers"] = f"{plan.count} {plan.device} worker{'s' * (plan.count > 1)}"

    with ray_session(None if address == "local" else address) as ray_module:
        engine = RayFrames(ray_module, factory, options, device=device, workers=workers,
                           chunking=Chunking(*chunks), on_start=started)
        try:
            return run(engine)
        finally:
            engine.close()


@click.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("input_path", metavar="IN", type=click.Path(path_type=Path))
@output_options
@click.option(
    "--filter",
    "filter_name",
    default="dream",
    show_default=True,
    help="dream, beauty, upscale or mirage (or a module:factory returning a sphere filter).",
)
@click.option("--model", default=None, help="The filter's model (see pano models); passed to the filter.")
@click.option("--every", type=click.IntRange(min=1), default=1, show_default=True, help="Keep every Nth frame.")
@click.option("--fps", type=click.FloatRange(min=0.1), default=None, help="Output frame rate (default: the input's; 24 for a folder).")
@click.option("--width", type=click.IntRange(min=8), default=None, help="Resample each eye to this 2:1 width first.")
@click.option("--max-frames", type=click.IntRange(min=1), default=None, help="Stop after N output frames (a quick preview).")
@click.option("--fade-in", type=click.FloatRange(min=0), default=0.0, help="Seconds to crossfade from the raw world.")
@click.option("--fade-out", type=click.FloatRange(min=0), default=0.0, help="Seconds to crossfade back to the raw world.")
@click.option("--strength", default=None, help='Keyframed strength, seconds:strength pairs, e.g. "0:0,2:1,8:1,10:0".')
@click.option("--coherence/--no-coherence", default=True, show_default=True, help="Carry the previous frame along the optical flow.")
@click.option("--blend", type=click.FloatRange(0, 1), default=0.5, show_default=True, help="How much of the carried frame to keep.")
@click.option(
    "--blend-mode",
    type=click.Choice(["auto", "init", "input", "output", "both"]),
    default="auto",
    show_default=True,
    help="Where the carried frame goes: the filter's start image, its input, its output, or both "
    "start image and output (auto: both for dream, output otherwise).",
)
@click.option("--flow", type=click.Choice(["dis", "farneback"]), default="dis", show_default=True, help="Optical flow method.")
@click.option(
    "--eyes",
    type=click.Choice(["consistent", "separate"]),
    default="consistent",
    show_default=True,
    help="Stereo input: consistent dreams the left eye, carries it to the right along the eyes' "
    "disparity and finishes the right (the same dream in both eyes); separate filters each eye alone.",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted run (same command and options).")
@click.option("--codec", type=click.Choice(["auto", "h264", "h265"]), default="auto", show_default=True, help="auto: H.264 up to 5760 px, else H.265.")
@click.option("--crf", type=click.IntRange(0, 51), default=None, help="Quality, lower is better (default 18 H.264, 20 H.265).")
@click.option("--encode-preset", default="medium", show_default=True, help="x264/x265 speed preset (ultrafast ... veryslow).")
@click.option("--seed", type=int, default=0, show_default=True, help="Base seed: frame i runs with seed + i (deterministic, so --resume repeats it).")
@click.option("--sort", type=click.Choice(["name", "time"]), default="name", show_default=True, help="Order of a folder's images (time: EXIF).")
@click.option("--strict", is_flag=True, help="A video that ends early (truncated, decode errors) is an error, not a warning.")
@click.option("--frames-out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also (or, without -o, only) write PNG frames here.")
@device_option
@ray_options
@click.option("--chunk", type=click.IntRange(min=1), default=32, show_default=True, help="With --ray: frames per chunk of work.")
@click.option("--chunk-warmup", type=click.IntRange(min=0), default=6, show_default=True, help="With --ray: frames processed before a chunk (not written), so its carried state settles.")
@click.option("--chunk-overlap", type=click.IntRange(min=0), default=4, show_default=True, help="With --ray: frames crossfaded between chunks.")
@quiet_option
@click.pass_context
def video(  # noqa: PLR0913 - one parameter per option, as click passes them
    ctx: click.Context,
    input_path: Path,
    output: str | None,
    overwrite: bool,
    filter_name: str,
    model: str | None,
    every: int,
    fps: float | None,
    width: int | None,
    max_frames: int | None,
    fade_in: float,
    fade_out: float,
    strength: str | None,
    coherence: bool,
    blend: float,
    blend_mode: str,
    flow: str,
    eyes: str,
    resume: bool,
    codec: str,
    crf: int | None,
    encode_preset: str,
    seed: int,
    sort: str,
    frames_out: Path | None,
    strict: bool,
    device: str,
    ray: str | None,
    workers: int | None,
    chunk: int,
    chunk_warmup: int,
    chunk_overlap: int,
    quiet: bool,
) -> None:
    """Run a filter over a 360 video or a folder of photospheres.

    \b
    IN is an equirectangular 360 video (mono, or stereo top-bottom/left-right with 360 metadata)
    or a folder of photospheres (a timelapse). Options after the known ones go to the filter,
    e.g. --steps 10 --preset subtle for dream or --scale 2 for upscale. Writes NAME_<filter>.mp4 with the
    input's audio and Spherical V1+V2 metadata. Interrupted? Run the same command with --resume.

    \b
    Examples:
      pano video trip.mp4 --filter dream --steps 8
      pano video photos/ --every 2 --fps 12 --sort time -o timelapse.mp4
      pano video trip.mp4 --fade-in 2 --fade-out 2 --blend 0.7
      pano video trip.mp4 --ray HOST:6379             # on a Ray cluster, chunks across every GPU
    """
    from pano.video.pipeline import VideoOptions, process_video  # noqa: PLC0415 - torch loads here

    if ray is not None and ray != "local" and Path(ray).exists():
        raise InputError(f"--ray took {ray} for an address: put --ray after the input, or write --ray=HOST:PORT")
    if ":" in filter_name:
        filter_options = parse_filter_options(list(ctx.args))
    elif filter_name not in FILTERS:
        raise InputError(f"unknown filter {filter_name!r}: use {', '.join(FILTERS[:-1])} or {FILTERS[-1]}")
    else:
        filter_options = settings_options(filter_name, list(ctx.args))
        filter_options.setdefault("device", device)
        if filter_name in ("dream", "mirage"):
            filter_options.setdefault("seed", seed)  # the filter's own random rotations
    if model is not None:
        filter_options["model"] = model
    from pano.device import resolve_device  # noqa: PLC0415

    resolve_device(str(filter_options.get("device", device)))
    suffix = filter_name.split(":")[-1]
    out: Path | None
    if output is not None:
        out = Path(output)
    elif frames_out is None:
        base = input_path.parent / input_path.name if input_path.is_dir() else input_path
        out = default_output_path(base, suffix, ".mp4")
    else:
        out = None
    options = VideoOptions(
        every=every,
        fps=Fraction(str(fps)).limit_denominator(1001) if fps else None,
        width=width,
        max_frames=max_frames,
        fade_in_s=fade_in,
        fade_out_s=fade_out,
        strength=strength,
        coherence=coherence,
        blend=blend,
        blend_mode=blend_mode,  # type: ignore[arg-type]
        flow=flow,  # type: ignore[arg-type]
        eyes=eyes,  # type: ignore[arg-type]
        codec=codec,  # type: ignore[arg-type]
        crf=crf,
        preset=encode_preset,
        seed=seed,
        sort=sort,  # type: ignore[arg-type]
        resume=resume,
        overwrite=overwrite,
        strict=strict,
    )
    check_outputs(out, frames_out, options)  # before the filter's model loads
    from pano.video.pipeline import open_source  # noqa: PLC0415

    open_source(input_path, options)  # the input too (missing, not a video, bad image, decompression bomb)
    factory = filter_factory(filter_name, filter_options)  # a registered filter's settings are made (and checked) here
    filt = factory(filter_options.get("device", device)) if ray is None else None  # on Ray: built by each worker

    state: dict[str, Any] = {"done": 0, "workers": ""}
    bar = Progress(quiet, unit="frame", desc="pano video")  # drawn from the first frame: errors before it are one clean line

    def progress(done: int, total: int, label: str = "") -> None:
        state["done"] = done
        bar.note = state["workers"]
        bar(done, total, label)

    try:
        if ray is None:
            result = process_video(input_path, filt, out, frames_out, options, progress=progress)
        else:
            result = _on_ray(ray, workers, device, factory, (chunk, chunk_warmup, chunk_overlap),
                             options, state, lambda engine: process_video(input_path, engine.filter, out, frames_out, options, progress=progress, engine=engine))
    except KeyboardInterrupt:
        bar.close()
        from pano.video.state import work_dir_for  # noqa: PLC0415

        work = work_dir_for(out if out is not None else frames_out)  # type: ignore[arg-type]
        if work.is_dir():
            click.echo(f"pano: stopped after {state['done']} frames: run the same command with --resume to continue "
                       f"(finished frames kept in {work})", err=True)
        else:
            click.echo(f"pano: stopped after {state['done']} frames; nothing was kept", err=True)
        raise SystemExit(130) from None
    finally:
        bar.close()
    for warning in result.warnings:  # even with -q: the output is shorter than the input
        click.echo(f"pano: warning: {warning}", err=True)
    if not quiet:
        for note in result.notes:
            click.echo(f"note: {note}", err=True)
        what = []
        if result.output is not None:
            audio = "audio copied" if result.audio else "no audio"
            what.append(
                f"{result.output} ({result.frames} frames, {result.width}x{result.height} {result.codec}, "
                f"{float(result.fps):g} fps, {result.layout} 360 metadata V1+V2, {audio})"
            )
        if result.frames_out is not None:
            what.append(f"frames in {result.frames_out}")
        click.echo("wrote " + "; ".join(what))
