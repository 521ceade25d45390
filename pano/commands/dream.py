"""``pano dream``: DeepDream a photosphere (or, with --flat, an ordinary photo)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from pano.commands.common import (
    Progress,
    check_device,
    device_option,
    max_pixels_arg,
    quiet_option,
    read_mode,
    say,
    sphere_input_options,
)
from pano.commands.batch import batch_output_options, ray_address, ray_options
from pano.commands.filter_options import to_settings_fields
from pano.errors import InputError
from pano.filters.settings import PRESETS

PRESET_NAMES = list(PRESETS)


class ChannelList(click.ParamType):
    """``--channels 3,17,40-45``: channel numbers and ranges, as a tuple of ints."""

    name = "channels"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, ...] | None:
        if isinstance(value, tuple) or value is None:
            return value
        try:
            out: list[int] = []
            for part in str(value).split(","):
                if "-" in part:
                    a, b = (int(n) for n in part.split("-"))
                    if b < a:
                        raise ValueError(part)
                    out.extend(range(a, b + 1))
                elif part:
                    out.append(int(part))
            return tuple(out) or None
        except ValueError:
            self.fail(f"{value!r}: use channel numbers like 3,17,40-45", param, ctx)


@click.command(context_settings={"show_default": True})
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@batch_output_options
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="classic", help="A named look: classic (the notebook's strength), subtle, intense (even neon patterns), wild, fine, quick; the options below override it.")
@click.option("--size", type=click.IntRange(64, 32768), default=None, help="Working resolution: longest side in px (default: the input's own on a GPU, up to 4096; 1024 on a CPU). The output keeps the input's size and detail.")
@click.option("--steps", type=click.IntRange(1, 10000), default=None, help="Gradient steps per octave (default 10).")
@click.option("--octaves", type=click.IntRange(1, 12), default=None, help="Number of octaves (default 4).")
@click.option("--octave-scale", type=click.FloatRange(1.05, 4.0), default=None, help="Size ratio between octaves (default 1.4).")
@click.option("--step-size", type=click.FloatRange(0.0, 1.0, min_open=True), default=None, help="Step size per normalised gradient step, in image units (default 1.5/255 = 0.0059, the classic notebook's).")
@click.option("--model", default="efficientnet_lite0", help="Backbone id (see pano models).")
@click.option("--layer", default=None, help="Named layer to dream with (default: the model's dreaming layer; see pano models).")
@click.option("--channels", type=ChannelList(), default=None, help="Only these channels of the layer, e.g. 3,17,40-45.")
@click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None, help="A state dict file for the model (.pth/.safetensors), loaded safely.")
@click.option("--guide", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Guide image: dream towards its patterns.")
@click.option("--mask", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Grayscale image of the same geometry: dream only where it is white (soft).")
@click.option("--blend", type=click.FloatRange(0.0, 1.0), default=None, help="Blend with the original: 0 = all dream, 1 = the original (default 0).")
@click.option("--jitter", type=click.Choice(["any", "upright"]), default=None, help="Random rotation per step: any rotation of the sphere, or upright views with random yaw (default any).")
@click.option("--fov", type=click.FloatRange(60.0, 150.0), default=None, help="Field of view of each network view, degrees (default 110).")
@click.option("--tile", type=click.IntRange(64, 8192), default=None, help="Largest view/tile side in px; larger views are split (default 512).")
@click.option("--batch", type=click.IntRange(0, 1024), default=None, help="Views per network call (0 = auto: all on a GPU, one at a time on a CPU; halved on out-of-memory).")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", help="Compute precision (auto: bf16 on CUDA, fp32 on CPU).")
@click.option("--seed", type=int, default=0, help="Random seed (same seed and device: same result).")
@click.option("--upscale", type=click.Choice(["2", "4"]), default=None, help="Upscale the dream 2x or 4x with the default super-resolution model.")
@click.option("--keep-seam", is_flag=True, help="Leave a stitching step at ±180° in the input as it is (by default it is spread over W/128 columns).")
@click.option("--stereo", type=click.Choice(["top-bottom", "left-right", "mono"]), default=None, help="IMAGE is a stereo photosphere in this layout: both eyes get the same dream (default: the layout its GPano StereoMode names; mono: one picture).")
@device_option
@sphere_input_options
@ray_options
@quiet_option
def dream(images, output, overwrite, preset, model, layer, weights, guide, mask, precision, seed, upscale, keep_seam, stereo, device, flat, full_sphere, max_pixels, ray, workers, quiet, **overrides) -> None:
    """DeepDream IMAGES: photospheres (2:1 or GPano, partial ones too) or, with --flat, photos.

    The sphere is dreamed in randomly rotated, overlapping perspective views of an equi-angular cube map,
    so there is no seam at ±180°, no pinch at the poles and no cube-face edge. The dream runs at a working
    size (the input's own on a GPU up to 4096 px, 1024 on a CPU; --size) and its change is added to the
    input at full resolution. Writes NAME_dream.EXT beside each image (same size, same GPano geometry) with
    the parameters in its XMP metadata. IMAGES are files, folders or globs; with several, -o is an output
    folder and finished outputs are skipped.

    \b
    Examples:
      pano dream sphere.jpg
      pano dream sphere.jpg --preset intense -o neon.jpg
      pano dream sphere.jpg --mask sky.png --guide flowers.jpg
      pano dream photo.jpg --flat
      pano dream stereo_tb.jpg --stereo top-bottom
      pano dream trip/ -o dreams/ --ray      # a folder, on every GPU or core (Ray)
    """
    from pano.commands.batch import plan_batch, run_batch
    from pano.distributed.carried import carry_file
    from pano.filters.settings import DreamSettings, dream_settings

    check_device(device)
    if stereo and stereo != "mono" and (flat or upscale or mask):
        raise InputError("--stereo works on a full stereo sphere: leave out --flat, --upscale and --mask")
    ray, images = ray_address(ray, images)
    batch = plan_batch(images, output, overwrite, "dream")
    preset_size = DreamSettings().with_preset(preset).size != DreamSettings().size
    given = to_settings_fields({k: v for k, v in overrides.items() if v is not None})
    settings = dream_settings(
        preset, **given, **({"layer": layer} if layer else {}), model=model, seed=seed, flat=flat,
        guide=str(guide) if guide else None, mask=str(mask) if mask else None, repair_seam=not keep_seam,
        weights=str(weights) if weights else None, precision=precision,
    )
    size_from = "--size" if "size" in given else f"--preset {preset}" if preset_size else None
    job = DreamJob(
        settings, layer, carry_file(weights), precision, carry_file(guide), carry_file(mask), read_mode(flat, full_sphere),
        max_pixels_arg(max_pixels), int(upscale) if upscale else None, overwrite, quiet, stereo, size_from,
    )
    run_batch(job, batch, command="dream", device=device, ray=ray, workers=workers, overwrite=overwrite, quiet=quiet)


@dataclass(frozen=True)
class DreamJob:
    """Everything ``pano dream`` needs to dream one file, picklable (a Ray actor opens it on its device)."""

    settings: Any
    layer: str | None
    weights: Any  # CarriedFile | None
    precision: str
    guide: Any  # CarriedFile | None
    mask: Any  # CarriedFile | None
    mode: str
    limit: int | None
    upscale: int | None
    overwrite: bool = False
    quiet: bool = True
    stereo: str | None = None  # "top-bottom" / "left-right": a stereo photosphere, both eyes dreamed alike;
    # "mono": one picture; None: the layout the file's GPano StereoMode names
    # where settings.size comes from ("--size", "--preset NAME", "the settings"); None: the device and the
    # input decide the working size (default_working_size), as pano dream does when neither sets it
    size_from: str | None = "the settings"

    def open(self, device: str):
        """The dreamer of one file on ``device``: the backbone and guide are loaded once."""
        return _Dreamer(self, device)


class _Dreamer:
    """Dreams files one by one on one device. The backbone loads with the first file, after that file's own
    checks (input, view size, mask), so a bad input is refused before any model work; then it stays loaded."""

    def __init__(self, job: DreamJob, device: str) -> None:
        from pano.device import resolve_device, resolve_precision
        from pano.io.image import read_image
        from pano.models.registry import get_spec

        self.job = job
        self.dev = resolve_device(device)
        self.dtype = resolve_precision(job.precision, self.dev)
        spec, preset_layer = get_spec(job.settings.model), job.settings.layer
        self.layer = job.layer or (preset_layer if preset_layer in spec.layers else None) or spec.default_layer
        self.settings = replace(job.settings, layer=self.layer, precision=job.precision)
        self.guide = read_image(job.guide.local(), mode="flat", max_pixels=job.limit).pixels if job.guide else None
        self._backbone = None

    @property
    def backbone(self):
        if self._backbone is None:
            import torch

            from pano.models.backbones import load_backbone

            weights = self.job.weights.local() if self.job.weights else None
            self._backbone = load_backbone(self.job.settings.model, weights=weights, device=self.dev,
                                           layers=[self.layer]).to(memory_format=torch.channels_last)
        return self._backbone

    def __call__(self, image: Path, out_path: Path) -> None:
        from pano.commands.stereo import stereo_layout
        from pano.filters.factory import build_filter

        job, settings, quiet, dev, dtype = self.job, self.settings, self.job.quiet, self.dev, self.dtype
        t0 = time.perf_counter()
        layout = stereo_layout(image, job.stereo, settings.flat)
        if layout != "mono":
            if job.upscale or job.mask:
                raise InputError(f"{image}: a {layout} stereo photo (GPano StereoMode): --upscale and --mask need a mono sphere; --stereo mono treats it as one picture")
            _dream_stereo(self, image, out_path, layout)
            return
        loaded, pixels = _read_input(image, job.mode, job.limit)
        settings, why = _working_size(settings, job.size_from, dev, pixels)
        _check_view_size(settings, pixels)
        mask_t = _mask_tensor(job.mask.local(), loaded, settings.flat, job.limit) if job.mask else None
        filt = build_filter(settings, dev, backbone=self.backbone, guide=self.guide, mask=mask_t)
        say(quiet, f"pano dream: {image.name} on {dev.type} ({_dtype_name(dtype)}), {filt.settings.model}:{filt.layer}, working size {why}")

        with Progress(quiet, desc="dream") as bar:  # messages (an out-of-memory retry) are printed as they come
            result = filt(pixels, progress=bar)
        scale = 1
        if job.upscale:
            result, scale = _upscale(result, job.upscale, dev, job.precision, quiet, settings.flat), job.upscale

        params = {"filter": "dream", **filt.params(), "device": dev.type, "precision": _dtype_name(dtype)}
        if job.upscale:
            params["upscale"] = scale
        xmp = {"pano:Filter": "dream", "pano:Params": json.dumps(params, sort_keys=True)}
        _write(result, out_path, loaded, image, settings.flat, scale, job.overwrite, xmp)
        say(quiet, f"pano dream: wrote {out_path} in {time.perf_counter() - t0:.1f} s")


def _check_view_size(settings, pixels) -> None:
    """Views too small for the model are refused before the model loads, naming what to change."""
    from pano.errors import InputError
    from pano.filters.dream import view_size_problem
    from pano.models.registry import get_spec

    problem = view_size_problem(settings, pixels.shape[-1], pixels.shape[-2], get_spec(settings.model).min_size)
    if problem is not None:
        raise InputError(problem)


def _dream_stereo(dreamer: "_Dreamer", image: Path, out_path: Path, layout: str) -> None:
    """A stereo photosphere: the left eye dreamed, carried to the right eye along the disparity between
    the eyes, the right eye finished from there (:func:`pano.commands.stereo.run_stereo_photo`)."""
    from pano.commands.stereo import run_stereo_photo
    from pano.filters.factory import build_filter

    job = dreamer.job

    def make_filter():
        return build_filter(replace(dreamer.settings, flat=False), dreamer.dev, backbone=dreamer.backbone, guide=dreamer.guide)

    def xmp_of(filt) -> dict[str, str]:
        params = {"filter": "dream", **filt.params(), "stereo": layout, "device": dreamer.dev.type, "precision": _dtype_name(dreamer.dtype)}
        return {"pano:Filter": "dream", "pano:Params": json.dumps(params, sort_keys=True)}

    run_stereo_photo(make_filter, image, out_path, layout, command="dream", overwrite=job.overwrite, quiet=job.quiet,
                     limit=job.limit, seed=job.settings.seed, xmp_of=xmp_of)


def _dtype_name(dtype) -> str:
    return {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}[str(dtype)]


def _read_input(image: Path, mode: str, limit):
    """(loaded, pixels): for a sphere the full-sphere equirect at the input's own resolution (the dream's change
    is carried up to it), for a flat photo its pixels."""
    from pano.io.image import read_image
    from pano.io.photosphere import load_sphere

    if mode == "flat":
        img = read_image(image, mode="flat", max_pixels=limit)
        return img, img.pixels
    sphere = load_sphere(image, mode=mode, full_width=None, max_pixels=limit)
    return sphere, sphere.equirect


def _working_size(settings, size_from: str | None, dev, pixels):
    """(settings with the working size, the progress line's words for it): --size or the preset's (``size_from``),
    else :func:`pano.filters.dream.default_working_size` for the device and the input."""
    from pano.filters.dream import default_working_size

    longest = max(pixels.shape[-2:]) if settings.flat else pixels.shape[-1]
    if size_from is not None:
        size, why = settings.size, f"from {size_from}"
    else:
        size, why = default_working_size(dev.type, longest)
    used = min(size, longest)
    return replace(settings, size=size), f"{used} px ({why})"


def _read_gray(path: Path, limit):
    from pano.filters.factory import gray
    from pano.io.image import read_image

    return gray(read_image(path, mode="flat", max_pixels=limit).pixels)


def _mask_tensor(mask: Path, loaded, flat: bool, limit):
    """The mask on the sphere (a partial input's mask is placed like the input) or on the flat photo."""
    from pano.errors import InputError

    m = _read_gray(mask, limit)
    if flat:
        return m
    g = loaded.image.geometry
    mh, mw = m.shape[-2:]
    if g is not None and not g.is_full and abs(mw / mh - g.crop_width / g.crop_height) < 0.02:
        from pano.sphere.partial import place_on_sphere

        m, _ = place_on_sphere(m, g, full_width=loaded.equirect.shape[-1])
        return m
    if abs(mw / mh - 2.0) > 0.02:
        raise InputError(f"mask {mask} is {mw}x{mh}: it must be 2:1 (a full sphere) or have the input's own aspect ratio")
    return m


def _upscale(result, scale: int, dev, precision: str, quiet: bool, flat: bool):
    """The dream's result upscaled on its device: a full sphere (partial photospheres are cut out later), or a
    flat photo with none of the sphere's padding. The seam is not repaired again: the dream already spread
    the input's step at ±180° (or was told to keep it with --keep-seam)."""
    from pano.filters.factory import build_filter
    from pano.filters.settings import UpscaleSettings

    up = build_filter(UpscaleSettings(scale=scale, precision=precision, repair_seam=False, flat=flat), dev)
    with Progress(quiet, unit="tile", desc=f"upscale x{scale}") as bar:
        return up(result, progress=bar)


def _write(result, out_path: Path, loaded, image: Path, flat: bool, scale: int, overwrite: bool, xmp: dict) -> None:
    from pano.io.image import write_image
    from pano.io.photosphere import save_sphere

    if flat:
        h, w = loaded.pixels.shape[-2:]
        import torch.nn.functional as F

        if result.shape[-2:] != (h * scale, w * scale):
            result = F.interpolate(result, size=(h * scale, w * scale), mode="bicubic", align_corners=False).clamp(0, 1)
        write_image(result, out_path, like=loaded, overwrite=overwrite, xmp_extra=xmp)
    else:
        save_sphere(result, out_path, loaded, scale=scale, overwrite=overwrite, xmp_extra=xmp)
