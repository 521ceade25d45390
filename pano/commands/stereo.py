"""The ``--stereo`` option of the image commands and their stereo branch (one code path for all of them).

A stereo photosphere (two 2:1 eyes, ``top-bottom`` or ``left-right``) is recognised from its GPano
``StereoMode`` or given with ``--stereo``; ``--stereo mono`` processes it as one picture. The branch reads
the eyes, runs the command's filter through :func:`pano.video.stereo_photo.filter_stereo_photo` (the
same result in both eyes) and writes the eyes in their packing with ``StereoMode`` in the GPano block.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

STEREO_CHOICES = ["top-bottom", "left-right", "mono"]


def stereo_option(what: str):
    """``--stereo top-bottom|left-right|mono`` (default: the file's GPano StereoMode)."""
    return click.option(
        "--stereo", type=click.Choice(STEREO_CHOICES), default=None,
        help=f"The input is a stereo photosphere in this layout: both eyes {what} alike, the left eye carried to "
        "the right along the disparity (default: the layout its GPano StereoMode names; mono: one picture).",
    )


def stereo_layout(image: Path, given: str | None, flat: bool) -> str:
    """``mono``, ``top-bottom`` or ``left-right``: ``--stereo`` if given, else the file's metadata
    (a ``--flat`` photo is always one picture)."""
    from pano.io.stereo import photo_stereo  # noqa: PLC0415

    return "mono" if flat else photo_stereo(image, given)


def run_stereo_photo(
    make_filter: Callable[[], Any], image: Path, out_path: Path, layout: str, *, command: str, overwrite: bool,
    quiet: bool, limit: int | None = None, seed: int = 0, xmp_of: Callable[[Any], dict[str, str]] | None = None,
) -> None:
    """Read the stereo photo ``image``, build the filter (``make_filter()``, after the input's checks, so a
    bad input is refused before any model loads), run both eyes through it consistently, write ``out_path``
    with ``xmp_of(filter)`` in its XMP."""
    from pano.commands.common import say  # noqa: PLC0415
    from pano.video.stereo_photo import filter_stereo_photo, read_stereo_photo, write_stereo_photo  # noqa: PLC0415

    t0 = time.perf_counter()
    photo = read_stereo_photo(image, layout, limit)  # type: ignore[arg-type]
    ew, eh = photo.eye_size
    say(quiet, f"pano {command}: {image.name} ({layout} stereo, eyes {ew}x{eh}): the left eye, then the right from it")
    filt = make_filter()
    eyes = filter_stereo_photo(filt, photo, seed=seed)
    write_stereo_photo(eyes, photo, out_path, overwrite=overwrite, xmp_extra=xmp_of(filt) if xmp_of else None)
    say(quiet, f"pano {command}: wrote {out_path} in {time.perf_counter() - t0:.1f} s")


__all__ = ["STEREO_CHOICES", "run_stereo_photo", "stereo_layout", "stereo_option"]
