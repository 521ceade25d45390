"""``pano mirage``: rebuild a photosphere from what a classifier sees in it, in its own style."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pano.commands.batch import batch_output_options, ray_address, ray_options
from pano.commands.common import (
    Progress,
    device_option,
    max_pixels_arg,
    quiet_option,
    read_mode,
    say,
    sphere_input_options,
)
from pano.commands.see import classifier_options, format_top, load_input
from pano.commands.stereo import run_stereo_photo, stereo_layout, stereo_option
from pano.errors import InputError


def _layers(value: str | None) -> tuple[str, ...] | None:
    if not value:
        return None
    return tuple(part.strip() for part in value.split(",") if part.strip()) or None


class _JsonLog:
    """JSON lines written to ``path.part`` as they come and renamed to ``path`` at the end (never half a log)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.part = path.with_name(path.name + ".part") if path else None
        self.file = open(self.part, "w", encoding="utf-8") if self.part else None  # noqa: SIM115

    def write(self, record: dict) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def finish(self, ok: bool) -> None:
        if self.file:
            self.file.close()
            if ok:
                os.replace(self.part, self.path)
            else:
                self.part.unlink(missing_ok=True)


def _block(event: dict) -> list[str]:
    losses = "  ".join(f"{name}: {value:.4g}" for name, value in event["losses"].items())
    head = f"Iteration {event['iteration']} / {event['total']} (scale {event['scale']}/{event['scales']})"
    return [head, f" {losses}", *format_top(event["top"])]


def _tops(rows) -> list[dict]:
    return [{"class": name, "probability": round(p, 4)} for p, name in rows]


@click.command(context_settings={"show_default": True})
@click.argument("images", metavar="IMAGE...", nargs=-1, required=True, type=click.Path(path_type=Path))
@batch_output_options
@click.option("--size", type=click.IntRange(64, 16384), default=1024, help="Working resolution: longest side in px (the output keeps the input's size).")
@click.option("--scales", type=click.IntRange(1, 8), default=3, help="Multi-scale: this many sizes, each --scale-ratio smaller than the next.")
@click.option("--scale-ratio", type=click.FloatRange(1.1, 4.0), default=2.0, help="Size ratio between scales.")
@click.option("--steps", type=click.IntRange(1, 100000), default=60, help="Iterations at the smallest scale; each larger scale does --step-decay times as many.")
@click.option("--step-decay", type=click.FloatRange(0.05, 1.0), default=0.5, help="Iterations at a scale / at the next smaller one.")
@click.option("--content-weight", type=click.FloatRange(0.0), default=1.0, help="Weight of the class loss (cross-entropy to the original's top 5 classes).")
@click.option("--style-weight", type=click.FloatRange(0.0), default=1.0, help="Weight of the Gram-matrix style loss.")
@click.option("--style-layers", default=None, help="Comma-separated layers for the style (default: five from fine to coarse; see pano models).")
@click.option("--tv-weight", type=click.FloatRange(0.0), default=0.3, help="Weight of the total-variation loss.")
@click.option("--learning-rate", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.05, help="Adam step, in [0, 1] image units (falling to a tenth over each scale).")
@click.option("--init", type=click.Choice(["noise", "image"]), default="noise", help="Start from noise (the original method) or from the image.")
@click.option("--jitter", type=click.Choice(["any", "upright"]), default="upright", help="Random rotation per iteration: upright views with random yaw, or any rotation.")
@click.option("--print-every", type=click.IntRange(1), default=20, help="Print the losses and top classes every N iterations.")
@click.option("--top", "k", type=click.IntRange(1, 20), default=3, help="Classes in each printed block.")
@click.option("--json-log", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write every printed block as a line of JSON to this file (one input, without --ray).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", help="Compute precision (auto: bf16 on CUDA, fp32 on CPU).")
@click.option("--seed", type=int, default=0, help="Random seed (same seed and device: same result).")
@click.option("--keep-seam", is_flag=True, help="Leave a stitching step at ±180° in the input as it is.")
@classifier_options
@device_option
@sphere_input_options
@stereo_option("rebuilt")
@ray_options
@quiet_option
def mirage(images: tuple[Path, ...], output, overwrite, size, scales, scale_ratio, steps, step_decay, content_weight, style_weight,
           style_layers, tv_weight, learning_rate, init, jitter, print_every, k, json_log, precision, seed, keep_seam, model,
           weights, labels, device, flat, full_sphere, max_pixels, stereo, ray, workers, quiet) -> None:  # fmt: skip
    """Rebuild IMAGE from what a classifier sees in it, in its own style (Neural Mirage).

    Starting from noise, the sphere is optimised so that the net sees the same classes in it as in IMAGE (the
    class distribution over randomly rotated views, as pano see shows it) and its Gram-matrix style matches
    IMAGE's own: the same things in the same style, their layout gone. On the sphere (cube map, random
    rotations: no seam, no pole pinch), multi-scale. Every --print-every iterations it prints the losses and
    the top classes; -q shows a progress bar instead. Writes NAME_mirage.EXT (same size and GPano geometry).
    Several inputs (files, folders, globs) are done one after the other, or with --ray on Ray workers.

    \b
    Examples:
      pano mirage sphere.jpg
      pano mirage sphere.jpg --content-weight 5 --steps 100 --print-every 10 --json-log run.jsonl
      pano mirage sphere.jpg --init image --size 2048
      pano mirage photo.jpg --flat
      pano mirage spheres/ -o mirages/ --ray
    """
    from pano.commands.batch import expand_inputs, plan_batch, run_batch
    from pano.commands.common import check_device
    from pano.distributed.carried import carry_file
    from pano.errors import InputError
    from pano.filters.mirage import MirageSettings

    check_device(device)
    ray, images = ray_address(ray, images)
    if json_log is not None and (ray is not None or len(expand_inputs(images)[0]) > 1):
        raise InputError("--json-log logs one run: give one input and leave out --ray")
    batch = plan_batch(images, output, overwrite, "mirage")  # fails on the outputs before loading a model
    settings = MirageSettings(
        model=model, style_layers=_layers(style_layers), size=size, scales=scales, scale_ratio=scale_ratio, steps=steps,
        step_decay=step_decay, learning_rate=learning_rate, content_weight=content_weight, style_weight=style_weight,
        tv_weight=tv_weight, init=init, orientation=jitter, repair_seam=not keep_seam, seed=seed, flat=flat,
    )  # fmt: skip
    settings.check()
    job = MirageJob(
        settings, carry_file(weights), carry_file(labels), precision, read_mode(flat, full_sphere), max_pixels_arg(max_pixels),
        print_every, k, str(json_log) if json_log else None, overwrite, quiet, stereo,
    )  # fmt: skip
    run_batch(job, batch, command="mirage", device=device, ray=ray, workers=workers, overwrite=overwrite, quiet=quiet)


@dataclass(frozen=True)
class MirageJob:
    """Everything ``pano mirage`` needs for one file, picklable (a Ray actor opens it on its device)."""

    settings: Any  # MirageSettings
    weights: Any  # CarriedFile | None
    labels: Any  # CarriedFile | None
    precision: str
    mode: str
    limit: int | None
    print_every: int = 20
    top: int = 3
    json_log: str | None = None
    overwrite: bool = False
    quiet: bool = True
    stereo: str | None = None  # --stereo: top-bottom / left-right / mono; None: from the photo's GPano StereoMode

    def open(self, device: str):
        """The mirage maker of one file on ``device``: the classifier is loaded once."""
        return _Mirager(self, device)


class _Mirager:
    def __init__(self, job: MirageJob, device: str) -> None:
        from pano.device import resolve_device, resolve_precision
        from pano.models.classifier import load_classifier

        self.job = job
        self.dev = resolve_device(device)
        self.dtype = resolve_precision(job.precision, self.dev)
        weights = job.weights.local() if job.weights else None
        labels = job.labels.local() if job.labels else None
        self.weights_name = job.weights.path if job.weights else None
        self.labels_name = job.labels.path if job.labels else None
        self.clf = load_classifier(job.settings.model, weights=weights, labels=labels, device=self.dev)

    def _filter(self, **report):
        """The mirage filter of this job, built through the one factory on the loaded classifier."""
        from dataclasses import fields

        from pano.filters.factory import build_filter
        from pano.filters.settings import MirageFilterSettings

        s = self.job.settings
        options = tuple((f.name, getattr(s, f.name)) for f in fields(s) if f.name != "model")
        settings = MirageFilterSettings(s.model, self.weights_name, self.labels_name, self.job.precision, options)
        return build_filter(settings, self.dev, classifier=self.clf, **report)

    def __call__(self, image: Path, out_path: Path) -> None:
        from pano.commands.dream import _dtype_name, _write
        from pano.filters.seeing import see_flat, see_sphere

        job, settings, quiet, clf, dev, dtype = self.job, self.job.settings, self.job.quiet, self.clf, self.dev, self.dtype
        k = job.top
        t0 = time.perf_counter()
        layout = stereo_layout(image, job.stereo, settings.flat)
        if layout != "mono":  # the left eye rebuilt, the right eye started from it along the disparity
            if job.json_log:
                raise InputError("--json-log follows one picture: leave it out for a stereo photo (or give --stereo mono)")

            def xmp_of(filt) -> dict[str, str]:
                params = {"filter": "mirage", **filt.params(), "stereo": layout, "device": dev.type, "precision": _dtype_name(dtype)}
                return {"pano:Filter": "mirage", "pano:Params": json.dumps(params, sort_keys=True)}

            run_stereo_photo(self._filter, image, out_path, layout, command="mirage",
                             overwrite=job.overwrite, quiet=quiet, limit=job.limit, seed=settings.seed, xmp_of=xmp_of)
            return
        loaded, pixels, mask = load_input(image, job.mode, job.limit, width=max(2 * settings.size, 1024))
        log = _JsonLog(Path(job.json_log) if job.json_log else None)

        def report(event: dict) -> None:
            log.write({"iteration": event["iteration"], "scale": event["scale"], "losses": event["losses"], "top": _tops(event["top"])})
            if not quiet:
                for line in _block(event):
                    click.echo(line)

        def seen(x):
            return see_flat(clf, x) if settings.flat else see_sphere(clf, x, mask=mask)

        ok = False
        try:
            filt = self._filter(on_report=report if (job.json_log or not quiet) else None, report_every=job.print_every, top=k)
            plan = " + ".join(str(n) for n in filt.scale_steps(settings.scales))
            say(quiet, f"pano mirage: {image.name} on {dev.type} ({_dtype_name(dtype)}), {settings.model}, working size "
                       f"{min(settings.size, pixels.shape[-1])} px, iterations {plan} over {settings.scales} scales")  # fmt: skip
            original = seen(pixels).top(max(k, 5))
            log.write({"event": "original", "top": _tops(original)})
            if not quiet:
                click.echo("----------- seeing the features --------------")
                for line in format_top(original[:k]):
                    click.echo(line)
            with Progress(not quiet, desc="mirage") as bar:  # -q: a bar instead of the printed blocks
                result = filt(pixels, progress=bar, mask=mask)
            final = seen(result).top(max(k, 5))
            log.write({"event": "result", "original": _tops(original), "result": _tops(final)})
            if not quiet:
                click.echo(f"{'original':<34}mirage")
                for (p0, n0), (p1, n1) in zip(original, final):
                    click.echo(f"{p0:.4f} {n0[:26]:<27} {p1:.4f} {n1}")
            params = {"filter": "mirage", **filt.params(), "device": dev.type, "precision": _dtype_name(dtype)}
            if self.weights_name:
                params.update(weights=self.weights_name, labels=self.labels_name)
            xmp = {"pano:Filter": "mirage", "pano:Params": json.dumps(params, sort_keys=True)}
            _write(result, out_path, loaded, image, settings.flat, 1, job.overwrite, xmp)
            ok = True
        finally:
            log.finish(ok)
        say(quiet, f"pano mirage: wrote {out_path} in {time.perf_counter() - t0:.1f} s")
