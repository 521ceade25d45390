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
    return check_output_path(path, overwrite)


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
