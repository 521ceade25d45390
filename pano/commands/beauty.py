"""``pano beauty``: train a pix2pix net on a folder of photos (``train``), repaint spheres with it (``apply``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pano.commands.batch import batch_output_options, ray_address, ray_options
from pano.commands.common import Progress, check_device, device_option, quiet_option
from pano.commands.stereo import run_stereo_photo, stereo_layout, stereo_option
from pano.errors import InputError

_PRECISION = click.Choice(["auto", "fp32", "bf16", "fp16"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def beauty() -> None:
    """Train a pix2pix net on photos and repaint spheres with it.

    \b
    Examples:
      pano beauty train flowers/ -o flowers.safetensors --condition clusters --size 256
      pano beauty apply flowers.safetensors sphere.jpg            # writes sphere_beauty.jpg
      pano beauty apply flowers.safetensors photo.jpg --flat --side-by-side
    """


@beauty.command("train")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "model", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Model file to write (.safetensors); its checkpoint goes beside it as NAME.ckpt.safetensors.")
@click.option("--overwrite", is_flag=True, help="Replace the model file if it exists.")
@click.option("--condition", type=click.Choice(["edges", "clusters"]), default="clusters", show_default=True,
              help="What the net learns to turn back into the photo.")
@click.option("--k", "k", type=click.IntRange(2, 16), default=7, show_default=True, help="Colour clusters (--condition clusters).")
@click.option("--size", type=click.Choice(["32", "64", "128", "256", "512"]), default="256", show_default=True,
              help="Training crop side in pixels (the U-Net depth follows it).")
@click.option("--steps", type=click.IntRange(1), help="Total optimisation steps (overrides --epochs).")
@click.option("--epochs", type=click.IntRange(1), help="Passes over the folder (default 100 when --steps is not given).")
@click.option("--batch", type=click.IntRange(1), default=4, show_default=True, help="Photos per step.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), default=2e-4, show_default=True, help="Adam learning rate.")
@click.option("--ngf", type=click.IntRange(4), default=64, show_default=True, help="Generator width.")
@click.option("--ndf", type=click.IntRange(4), default=64, show_default=True, help="Discriminator width.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for init, shuffling and augmentation.")
@click.option("--num-workers", type=click.IntRange(0), default=2, show_default=True, help="Data-loading worker processes.")
@click.option("--checkpoint-every", type=click.IntRange(0), default=500, show_default=True,
              help="Save checkpoint and model every N steps (0: only at the end).")
@click.option("--preview-every", type=click.IntRange(0), default=500, show_default=True,
              help="Save a condition | output | real grid to NAME_previews/ every N steps (0: never).")
@click.option("--resume", is_flag=True, help="Continue from NAME.ckpt.safetensors (step count, optimizer and RNG state).")
@click.option("--precision", type=_PRECISION, default="auto", show_default=True, help="auto: bf16/fp16 on CUDA, fp32 on CPU.")
@device_option
@quiet_option
def train_cmd(folder: Path, model: Path, overwrite: bool, condition: str, k: int, size: str, steps: int | None,
              epochs: int | None, batch: int, lr: float, ngf: int, ndf: int, seed: int, num_workers: int,
              checkpoint_every: int, preview_every: int, resume: bool, precision: str, device: str, quiet: bool) -> None:
    """Train a pix2pix model on the photos in FOLDER."""
    from pano.device import resolve_device
    from pano.filters.beauty import TrainConfig, TrainStart, train
    from pano.filters.conditions import ConditionSpec

    dev = resolve_device(device)
    spec = ConditionSpec("clusters", {"k": k}) if condition == "clusters" else ConditionSpec("edges")
    config = TrainConfig(
        condition=spec, size=int(size), steps=steps, epochs=epochs, batch=batch, lr=lr, ngf=ngf, ndf=ndf, seed=seed,
        num_workers=num_workers, checkpoint_every=checkpoint_every, preview_every=preview_every, precision=precision,
    )
    bar = Progress(quiet, unit="step", desc="train")

    def on_start(info: TrainStart) -> None:
        if quiet:
            return
        what = f"{info.images} images"
        if info.skipped:
            what += f", {len(info.skipped)} unreadable skipped (first: {info.skipped[0].name})"
        start = f", resuming at step {info.start_step}" if info.resumed_from else ""
        click.echo(f"pano beauty: {what}; {info.total_steps} steps ({info.steps_per_epoch}/epoch) on {info.device} "
                   f"{info.dtype}{start}", err=True)
        bar(info.start_step, info.total_steps)

    try:
        result = train(folder, model, config, device=dev, resume=resume, overwrite=overwrite,
                       on_start=on_start, progress=bar)
    except KeyboardInterrupt:
        bar.close()
        click.echo("pano: interrupted: run the same command with --resume to continue from the last checkpoint", err=True)
        raise SystemExit(130) from None
    finally:
        bar.close()
    if not quiet:
        losses = ", ".join(f"{k} {v:.3f}" for k, v in result.losses.items())
        click.echo(f"wrote {result.model_path} (step {result.step}; {losses}; {result.seconds:.0f} s)")


@beauty.command("apply")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@batch_output_options
@click.option("--flat", is_flag=True, help="The input is an ordinary photo, not a photosphere.")
@click.option("--full-sphere", is_flag=True, help="Treat the input as a full sphere even if it is not 2:1.")
@click.option("--side-by-side", is_flag=True, help="Write the input and its interpretation next to each other.")
@click.option("--view-size", type=click.IntRange(16, 4096), help="Side of the perspective views (default: the model's training size).")
@click.option("--precision", type=_PRECISION, default="auto", show_default=True)
@device_option
@stereo_option("repainted")
@ray_options
@quiet_option
def apply_cmd(model: Path, images: tuple[Path, ...], output: Path | None, overwrite: bool, flat: bool, full_sphere: bool,
              side_by_side: bool, view_size: int | None, precision: str, device: str, stereo: str | None, ray: str | None,
              workers: int | None, quiet: bool) -> None:
    """Repaint IMAGES (photospheres, or photos with --flat; files, folders or globs) with a trained MODEL."""
    from pano.commands.batch import plan_batch, run_batch
    from pano.distributed.carried import carry_file
    from pano.errors import ModelError

    if flat and full_sphere:
        raise InputError("--flat and --full-sphere contradict each other: choose one")
    if stereo and stereo != "mono" and flat:
        raise InputError("--stereo works on a full stereo sphere: leave out --flat")
    if not model.is_file():
        raise ModelError(f"model {model} not found: check the path (train one with `pano beauty train`)")
    check_device(device)
    ray, images = ray_address(ray, images)
    batch = plan_batch(images, output, overwrite, "beauty")
    if stereo and stereo != "mono" and side_by_side:
        raise InputError("--stereo writes the two eyes in their layout: leave out --side-by-side")
    job = BeautyJob(carry_file(model), flat, full_sphere, side_by_side, view_size, precision, overwrite, quiet, stereo)
    run_batch(job, batch, command="beauty", device=device, ray=ray, workers=workers, overwrite=overwrite, quiet=quiet)


@dataclass(frozen=True)
class BeautyJob:
    """Everything ``pano beauty apply`` needs to repaint one file, picklable (a Ray actor opens it on its device)."""

    model: Any  # CarriedFile
    flat: bool
    full_sphere: bool
    side_by_side: bool
    view_size: int | None
    precision: str
    overwrite: bool = False
    quiet: bool = True
    stereo: str | None = None  # --stereo: a layout, "mono", or None (the file's GPano StereoMode)

    def open(self, device: str):
        """The painter of one file on ``device``: the model is loaded once."""
        return _Painter(self, device)


class _Painter:
    def __init__(self, job: BeautyJob, device: str) -> None:
        from pano.device import resolve_device

        self.job = job
        self.dev = resolve_device(device)
        self._model = None

    @property
    def model(self):
        """Loaded with the first file, after that file is read, so a bad input is refused before the model."""
        if self._model is None:
            from pano.filters.beauty import load_model

            self._model = load_model(self.job.model.local(), self.dev)
        return self._model

    def __call__(self, image: Path, out_path: Path) -> None:
        import torch

        from pano.filters.factory import build_filter
        from pano.filters.settings import BeautySettings
        from pano.io.image import read_image, write_image

        job, dev, quiet = self.job, self.dev, self.job.quiet
        layout = "mono" if job.side_by_side else stereo_layout(image, job.stereo, job.flat)
        if layout != "mono":  # the left eye repainted, carried to the right where trusted, the rest its own
            run_stereo_photo(lambda: build_filter(BeautySettings(job.model.path, view_size=job.view_size, precision=job.precision), dev, model=self.model),
                             image, out_path, layout, command="beauty", overwrite=job.overwrite, quiet=quiet)
            return
        img = read_image(image, mode="flat" if job.flat else "force-sphere" if job.full_sphere else "sphere")
        if img.kind == "partial":
            raise InputError(f"{image.name} is a partial panorama: beauty needs a full sphere; use --flat to repaint it as a photo")
        settings = BeautySettings(job.model.path, view_size=job.view_size, flat=job.flat, precision=job.precision)
        filt = build_filter(settings, dev, model=self.model)
        with Progress(quiet, unit="view", desc="beauty") as progress:
            out = filt(img.pixels.to(dev), progress=progress)
        out = out.cpu()
        if job.side_by_side:
            out = torch.cat([img.pixels.cpu(), out], dim=3)
            write_image(out, out_path, like=img, overwrite=job.overwrite, sphere=False)
        else:
            write_image(out, out_path, like=img, overwrite=job.overwrite)
        if not quiet:
            click.echo(f"wrote {out_path}")
