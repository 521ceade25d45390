"""``pano dream``: DeepDream a photosphere (or, with --flat, an ordinary photo)."""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from pathlib import Path

import click

from pano.commands.common import (
    Progress,
    device_option,
    max_pixels_arg,
    output_options,
    output_path,
    quiet_option,
    read_mode,
    say,
    sphere_input_options,
)

PRESET_NAMES = ["classic", "subtle", "intense", "wild", "fine", "quick"]


def _channels(value: str | None) -> tuple[int, ...] | None:
    if not value:
        return None
    try:
        out: list[int] = []
        for part in value.split(","):
            part = part.strip()
            if "-" in part:
                a, b = part.split("-")
                out.extend(range(int(a), int(b) + 1))
            elif part:
                out.append(int(part))
        return tuple(out)
    except ValueError:
        raise click.BadParameter(f"{value!r}: use channel numbers like 3,17,40-45", param_hint="--channels") from None


@click.command(context_settings={"show_default": True})
@click.argument("image", type=click.Path(dir_okay=True, path_type=Path))
@output_options
@click.option("--preset", type=click.Choice(PRESET_NAMES), default="classic", help="A named look: classic (the notebook's strength), subtle, intense (even neon patterns), wild, fine, quick; the options below override it.")
@click.option("--size", type=click.IntRange(64, 32768), default=None, help="Working resolution: longest side in px (default: the input's own on a GPU, up to 4096; 1024 on a CPU). The output keeps the input's size and detail.")
@click.option("--steps", type=click.IntRange(1, 10000), default=None, help="Gradient steps per octave (default 10).")
@click.option("--octaves", type=click.IntRange(1, 12), default=None, help="Number of octaves (default 4).")
@click.option("--octave-scale", type=click.FloatRange(1.05, 4.0), default=None, help="Size ratio between octaves (default 1.4).")
@click.option("--step-size", type=click.FloatRange(0.0, 1.0, min_open=True), default=None, help="Step size per normalised gradient step, in image units (default 1.5/255 = 0.0059, the classic notebook's).")
@click.option("--model", default="efficientnet_lite0", help="Backbone id (see pano models).")
@click.option("--layer", default=None, help="Named layer to dream with (default: the model's dreaming layer; see pano models).")
@click.option("--channels", default=None, help="Only these channels of the layer, e.g. 3,17,40-45.")
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
@device_option
@sphere_input_options
@quiet_option
def dream(image: Path, output, overwrite, preset, model, layer, weights, guide, mask, precision, seed, upscale, keep_seam, device, flat, full_sphere, max_pixels, quiet, **overrides) -> None:
    """DeepDream IMAGE: a photosphere (2:1 or GPano, partial ones too) or, with --flat, a photo.

    The sphere is dreamed in randomly rotated, overlapping perspective views of an equi-angular cube map,
    so there is no seam at ±180°, no pinch at the poles and no cube-face edge. The dream runs at a working
    size (the input's own on a GPU up to 4096 px, 1024 on a CPU; --size) and its change is added to the
    input at full resolution. Writes NAME_dream.EXT beside IMAGE (same size, same GPano geometry) with the
    parameters in its XMP metadata.

    \b
    Examples:
      pano dream sphere.jpg
      pano dream sphere.jpg --preset intense -o neon.jpg
      pano dream sphere.jpg --mask sky.png --guide flowers.jpg
      pano dream photo.jpg --flat
    """
    from pano.device import resolve_device, resolve_precision
    from pano.filters.dream import DreamSettings

    t0 = time.perf_counter()
    out_path = output_path(image, "dream", output, overwrite)
    mode = read_mode(flat, full_sphere)
    limit = max_pixels_arg(max_pixels)
    dev = resolve_device(device)
    dtype = resolve_precision(precision, dev)

    settings = DreamSettings().with_preset(preset)
    preset_size = settings.size != DreamSettings().size
    given = {k: v for k, v in overrides.items() if v is not None}
    if "channels" in given:
        given["channels"] = _channels(given["channels"])
    if "jitter" in given:
        given["orientation"] = given.pop("jitter")
    if "fov" in given:
        given["fov_deg"] = given.pop("fov")
    known = {f.name for f in fields(DreamSettings)}
    settings = replace(settings, **{k: v for k, v in given.items() if k in known}, model=model, seed=seed, flat=flat)
    settings = replace(settings, guide=str(guide) if guide else None, mask=str(mask) if mask else None, repair_seam=not keep_seam)

    loaded, pixels = _read_input(image, mode, limit)
    settings, why = _working_size(settings, given, preset, preset_size, dev, pixels)
    filt = _build_filter(settings, layer, weights, dev, dtype, guide, mask, loaded, pixels, limit)
    say(quiet, f"pano dream: {image.name} on {dev.type} ({_dtype_name(dtype)}), {filt.settings.model}:{filt.layer}, working size {why}")

    with Progress(quiet, desc="dream") as bar:
        result = filt(pixels, progress=bar)
    for message in dict.fromkeys(filt.messages):
        say(quiet, f"pano dream: {message}")
    scale = 1
    if upscale:
        result, scale = _upscale(result, int(upscale), dev, precision, quiet, settings.flat), int(upscale)

    params = {"filter": "dream", **filt.params(), "device": dev.type, "precision": _dtype_name(dtype)}
    if upscale:
        params["upscale"] = scale
    xmp = {"pano:Filter": "dream", "pano:Params": json.dumps(params, sort_keys=True)}
    _write(result, out_path, loaded, image, flat, scale, overwrite, xmp)
    say(quiet, f"pano dream: wrote {out_path} in {time.perf_counter() - t0:.1f} s")


def _dtype_name(dtype) -> str:
    return {"torch.float32": "fp32", "torch.bfloat16": "bf16", "torch.float16": "fp16"}[str(dtype)]


def _read_input(image: Path, mode: str, limit):
    """(loaded, pixels): for a sphere the full-sphere equirect at the input's own resolution (the dream's change
    is carried up to it), for a flat photo its pixels."""
    from pano.io.image import load_sphere, read_image

    if mode == "flat":
        img = read_image(image, mode="flat", max_pixels=limit)
        return img, img.pixels
    sphere = load_sphere(image, mode=mode, full_width=None, max_pixels=limit)
    return sphere, sphere.equirect


def _working_size(settings, given: dict, preset: str, preset_size: bool, dev, pixels):
    """(settings with the working size, the progress line's words for it): --size, else the preset's, else
    :func:`pano.filters.dream.default_working_size` for the device and the input."""
    from pano.filters.dream import default_working_size

    longest = max(pixels.shape[-2:]) if settings.flat else pixels.shape[-1]
    if "size" in given:
        size, why = settings.size, "from --size"
    elif preset_size:
        size, why = settings.size, f"from --preset {preset}"
    else:
        size, why = default_working_size(dev.type, longest)
    used = min(size, longest)
    return replace(settings, size=size), f"{used} px ({why})"


def _read_gray(path: Path, limit):
    import torch

    from pano.io.image import read_image

    img = read_image(path, mode="flat", max_pixels=limit)
    return (img.pixels * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def _mask_tensor(mask: Path, loaded, flat: bool, limit):
    """The mask on the sphere (a partial input's mask is placed like the input) or on the flat photo."""
    from pano.errors import InputError

    m = _read_gray(mask, limit)
    if flat:
        return m
    g = loaded.image.geometry
    mh, mw = m.shape[-2:]
    if g is not None and not g.is_full and abs(mw / mh - g.crop_width / g.crop_height) < 0.02:
        from pano.io.gpano import place_on_sphere

        m, _ = place_on_sphere(m, g, full_width=loaded.equirect.shape[-1])
        return m
    if abs(mw / mh - 2.0) > 0.02:
        raise InputError(f"mask {mask} is {mw}x{mh}: it must be 2:1 (a full sphere) or have the input's own aspect ratio")
    return m


def _build_filter(settings, layer, weights, dev, dtype, guide, mask, loaded, pixels, limit):
    import torch

    from pano.filters.dream import DreamFilter
    from pano.io.image import read_image
    from pano.models.backbones import load_backbone
    from pano.models.registry import get_spec

    spec = get_spec(settings.model)
    layer = layer or (settings.layer if settings.layer in spec.layers else None) or spec.default_layer
    backbone = load_backbone(settings.model, weights=weights, device=dev, layers=[layer])
    backbone = backbone.to(memory_format=torch.channels_last)
    guide_t = read_image(guide, mode="flat", max_pixels=limit).pixels if guide else None
    mask_t = _mask_tensor(mask, loaded, settings.flat, limit) if mask else None
    return DreamFilter(backbone, settings, layer=layer, dtype=dtype, guide=guide_t, mask=mask_t)


def _upscale(result, scale: int, dev, precision: str, quiet: bool, flat: bool):
    """The dream's result upscaled on its device: a full sphere (partial photospheres are cut out later), or a
    flat photo with none of the sphere's padding. The seam is not repaired again: the dream already spread
    the input's step at ±180° (or was told to keep it with --keep-seam)."""
    from pano.filters.upscale import UpscaleFilter

    up = UpscaleFilter(scale=scale, device=dev, precision=precision, repair_seam=False)
    sphere = not flat
    with Progress(quiet, unit="tile", desc=f"upscale x{scale}") as bar:
        return up.upscale(result, wrap_x=sphere, pole_top=sphere, pole_bottom=sphere, progress=bar)


def _write(result, out_path: Path, loaded, image: Path, flat: bool, scale: int, overwrite: bool, xmp: dict) -> None:
    from pano.io.image import save_sphere, write_image

    if flat:
        h, w = loaded.pixels.shape[-2:]
        import torch.nn.functional as F

        if result.shape[-2:] != (h * scale, w * scale):
            result = F.interpolate(result, size=(h * scale, w * scale), mode="bicubic", align_corners=False).clamp(0, 1)
        write_image(result, out_path, like=loaded, overwrite=overwrite, xmp_extra=xmp)
    else:
        save_sphere(result, out_path, loaded, scale=scale, overwrite=overwrite, xmp_extra=xmp)
