"""``pano info FILE``: what pano sees in an image file (size, projection, sphere coverage, metadata)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from pano.errors import InputError

_PREVIEW_REDUCE = 8  # decode at 1/8 (JPEG DCT scaling): checks the whole file, fast, little memory


def image_info(path: str | os.PathLike, flat: bool = False, max_pixels: int | None = None) -> dict[str, Any]:
    """What pano sees in an image file, as a JSON-able dict.

    The whole file is decoded (at reduced size) so that corrupt or truncated data is found here,
    not halfway through a long run. Sizes are the file's own (after EXIF orientation).

    Args:
        path: The image file.
        flat: Report it as an ordinary photo (no sphere interpretation).
        max_pixels: Pixel limit (default :data:`pano.io.image.DEFAULT_MAX_PIXELS`; 0: none).

    Returns:
        A dict with at least ``width``, ``height``, ``projection`` (``"equirectangular"`` or
        ``"flat"``), ``kind`` (``"full"``, ``"partial"``, ``"flat"``), ``full_width``,
        ``full_height``, ``crop_left``, ``crop_top``, ``crop_width``, ``crop_height`` (the implied
        full sphere for a plain 2:1 image; None for flat), ``lon_range_deg``, ``lat_range_deg``,
        ``bit_depth``, ``format``, ``has_exif``, ``has_icc``, ``has_xmp``, ``has_gpano``,
        ``orientation``, ``stereo`` (``mono``, or the GPano ``StereoMode`` of a stereo photosphere) and
        ``hint`` (how to process a flat image or a stereo photosphere, else None).

    Raises:
        InputError: the file cannot be read (missing, corrupt, too large, ...).
    """
    from pano.io.decode import decode_image
    from pano.io.header import DEFAULT_MAX_PIXELS
    from pano.io.sphere_mode import sphere_geometry
    from pano.io.stereo import stereo_of_geometry

    limit = DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels
    img = decode_image(path, max_pixels=limit, reduce=_PREVIEW_REDUCE)
    width, height = img.source_size
    hint = None
    if flat:
        geometry, kind = None, "flat"
    else:
        try:
            geometry, kind = sphere_geometry(img, "sphere", size=img.source_size)
        except InputError as exc:
            geometry, kind = None, "flat"
            message = exc.format_message()
            hint = message.split(" has ", 1)[-1] if " has an invalid GPano block" in message else message.split(": ", 1)[-1]
    g = geometry
    bounds = list(g.lon_lat_bounds_deg()) if g is not None else None
    gp = img.gpano
    stereo = stereo_of_geometry(gp)
    if stereo != "mono" and not flat:  # two eyes in one picture: not a mono sphere, but pano processes it
        hint = "pano dream, upscale, beauty apply and mirage process both eyes alike"
    return {
        "path": str(Path(path)),
        "width": width,
        "height": height,
        "format": img.format,
        "bit_depth": img.bit_depth,
        "has_alpha": img.has_alpha,
        "projection": g.projection if g is not None else "flat",
        "kind": kind,
        "full_width": g.full_width if g else None,
        "full_height": g.full_height if g else None,
        "crop_left": g.crop_left if g else None,
        "crop_top": g.crop_top if g else None,
        "crop_width": g.crop_width if g else None,
        "crop_height": g.crop_height if g else None,
        "lon_range_deg": round(g.lon_range_deg, 4) if g else None,
        "lat_range_deg": round(g.lat_range_deg, 4) if g else None,
        "lon_lat_bounds_deg": [round(b, 4) for b in bounds] if bounds else None,
        "heading_deg": gp.heading_deg if gp else None,
        "use_panorama_viewer": gp.use_panorama_viewer if gp else None,
        "has_exif": img.exif is not None,
        "has_icc": img.icc is not None,
        "has_xmp": img.xmp is not None,
        "has_gpano": gp is not None,
        "orientation": img.orientation,
        "gpano": gp.to_dict() if gp else None,
        "stereo": stereo,
        "hint": hint,
    }


def _text(d: dict[str, Any]) -> str:
    lines = [f"{d['path']}", f"  size        {d['width']} x {d['height']}, {d['format']}, {d['bit_depth']}-bit"
             + (", with alpha" if d["has_alpha"] else "")]
    if d["kind"] == "flat" and d.get("stereo", "mono") != "mono":
        eye = f"{d['gpano']['full_width']} x {d['gpano']['full_height']}"
        lines.append(f"  projection  equirectangular, {d['stereo']} stereo (GPano StereoMode), two eyes of {eye}")
        lines.append(f"  to process  {d['hint']}")
    elif d["kind"] == "flat":
        lines.append("  projection  flat (not a photosphere)")
        if d["hint"]:
            lines.append(f"  to process  {d['hint']}")
    else:
        what = "full sphere" if d["kind"] == "full" else "partial panorama"
        lines.append(f"  projection  {d['projection']}, {what}")
        lon0, lon1, lat0, lat1 = d["lon_lat_bounds_deg"]
        lines.append(f"  covers      {d['lon_range_deg']:.1f}° of longitude ({lon0:.1f}° to {lon1:.1f}°), "
                     f"{d['lat_range_deg']:.1f}° of latitude ({lat0:.1f}° to {lat1:.1f}°)")
        src = "GPano" if d["has_gpano"] else "implied by the 2:1 size, no GPano in the file"
        lines.append(f"  full pano   {d['full_width']} x {d['full_height']}, crop {d['crop_width']} x "
                     f"{d['crop_height']} at ({d['crop_left']}, {d['crop_top']}) ({src})")
        if d["heading_deg"] is not None:
            lines.append(f"  heading     {d['heading_deg']:g}° (kept, not applied)")
    meta = [name for name, key in (("EXIF", "has_exif"), ("ICC", "has_icc"), ("XMP", "has_xmp"),
                                   ("GPano", "has_gpano")) if d[key]]
    lines.append(f"  metadata    {', '.join(meta) if meta else 'none'}; EXIF orientation {d['orientation']}")
    return "\n".join(lines)


@click.command("info")
@click.argument("file", type=click.Path(dir_okay=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@click.option("--flat", is_flag=True, help="Report the file as an ordinary photo, not a photosphere.")
@click.option(
    "--max-pixels",
    type=click.IntRange(min=0),
    default=None,
    help="Refuse images with more pixels than this (default 300 MP; 0: no limit).",
)
def info(file: Path, as_json: bool, flat: bool, max_pixels: int | None) -> None:
    """Show what pano sees in FILE: size, projection, full or partial sphere, GPano geometry,
    degrees of longitude/latitude covered, and the metadata present."""
    d = image_info(file, flat=flat, max_pixels=max_pixels)
    click.echo(json.dumps(d, indent=2) if as_json else _text(d))
