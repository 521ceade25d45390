"""Options and helpers shared by the commands."""

from __future__ import annotations

from pathlib import Path

import click

from pano.io.atomic import check_output_path


def default_output_path(input_path: str | Path, suffix: str, ext: str | None = None) -> Path:
    """``NAME.EXT`` -> ``NAME_<suffix>.EXT`` next to the input (``ext`` replaces the extension)."""
    p = Path(input_path)
    return p.with_name(f"{p.stem}_{suffix}{ext if ext is not None else p.suffix}")


def output_path(input_path: str | Path, suffix: str, output: str | None, overwrite: bool) -> Path:
    """The output path for a command (default beside the input), checked to be writable now,
    before any expensive work starts."""
    path = Path(output) if output else default_output_path(input_path, suffix)
    check_image_extension(path)
    return check_output_path(path, overwrite)


def check_image_extension(path: Path) -> None:
    """An image output's extension must be one pano writes: refused before any work, not after it."""
    from pano.errors import OutputError
    from pano.io.header import FORMATS

    if path.suffix.lower() not in FORMATS:
        raise OutputError(
            f"cannot write {path.suffix or 'extension-less'} files ({path.name}): use .jpg, .png, .webp or .tif"
        )


def check_device(device: str) -> None:
    """``--device`` checked before any work (an unknown or unsupported device is one line)."""
    from pano.device import resolve_device

    resolve_device(device)


def device_option(f):
    return click.option(
        "--device",
        default="auto",
        show_default=True,
        help="auto (CUDA if present, else CPU), cpu, cuda or cuda:N.",
    )(f)


def output_options(f):
    f = click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")(f)
    f = click.option(
        "-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: NAME_<filter>.EXT beside the input)."
    )(f)
    return f


def quiet_option(f):
    return click.option("-q", "--quiet", is_flag=True, help="No progress bar or messages.")(f)


def sphere_input_options(f):
    """``--flat``, ``--full-sphere`` and ``--max-pixels``: how an input image is interpreted."""
    f = click.option(
        "--max-pixels",
        type=click.IntRange(min=0),
        default=None,
        help="Refuse images with more pixels than this (default 300 MP; 0: no limit).",
    )(f)
    f = click.option("--full-sphere", is_flag=True, help="Treat the image as a full sphere even if it is not 2:1.")(f)
    f = click.option("--flat", is_flag=True, help="Process an ordinary photo (no sphere).")(f)
    return f


def read_mode(flat: bool, full_sphere: bool) -> str:
    return "flat" if flat else "force-sphere" if full_sphere else "sphere"


def max_pixels_arg(max_pixels: int | None):
    """The ``max_pixels`` argument for the readers: ``None`` -> default guard, ``0`` -> no limit."""
    from pano.io.header import DEFAULT_MAX_PIXELS

    if max_pixels is None:
        return DEFAULT_MAX_PIXELS
    return None if max_pixels == 0 else max_pixels


class Progress:
    """The CLI's one tqdm bar on stderr, fed by the library's one progress signature
    ``progress(done, total, label)`` (:data:`pano.filters.base.ProgressFn`; silent with -q).

    With a ``desc`` the bar is one for the whole run and ``label`` is shown beside the count (after
    :attr:`note`, e.g. the number of workers); without one, ``label`` names the bar and a new label or
    total starts a new bar (upscale's passes). The first call may start past 0 (a resumed run). A call
    with ``total == 0`` is a message (an out-of-memory retry): the bar closes and ``pano: label`` is
    printed as one line.
    """

    def __init__(self, quiet: bool, unit: str = "step", desc: str = "", *, leave: bool = True) -> None:
        self.quiet, self.unit, self.desc, self.leave = quiet, unit, desc, leave
        self.note = ""
        self.bar = None
        self._label: str | None = None

    def __call__(self, done: int, total: int, label: str = "") -> None:
        if self.quiet:
            return
        if total == 0:
            self.close()
            click.echo(f"pano: {label}", err=True)
            return
        if self.bar is not None and not self.desc and (label != self._label or total != self.bar.total):
            self.close()
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=total, initial=done, unit=self.unit, desc=self.desc or label, dynamic_ncols=True,
                            leave=self.leave)
            self._label = label
        if self.bar.total != total:
            self.bar.total = total
        if self.desc:
            postfix = ", ".join(s for s in (self.note, label) if s)
            if postfix and postfix != self.bar.postfix:
                # shown at once when nothing else moves (the number of workers while the first file runs)
                self.bar.set_postfix_str(postfix, refresh=done == self.bar.n)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def say(quiet: bool, message: str) -> None:
    if not quiet:
        click.echo(message, err=True)
