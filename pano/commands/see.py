"""``pano see``: the classes a classifier sees in a photosphere (or, with --flat, a photo)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pano.commands.common import device_option, max_pixels_arg, read_mode, sphere_input_options


def classifier_options(f):
    """``--model``, ``--weights``, ``--labels``: which classifier looks (shared with ``pano mirage``)."""
    for name, text in (
        ("--labels", "Class names of your own classifier, one per line (with --weights; e.g. Places365's categories file)."),
        ("--weights", "Your own weights for --model's architecture (.pth/.safetensors), loaded safely."),
    ):
        f = click.option(name, type=click.Path(dir_okay=False, path_type=Path), default=None, help=text)(f)
    f = click.option("--model", default="efficientnet_lite0", show_default=True, help="Classifier id (see pano models).")(f)
    return f


def load_input(image: Path, mode: str, limit, width: int = 2048):
    """(loaded, pixels, mask): a sphere at (at most) ``width`` px with its mask of real pixels (None when
    full), or a flat photo's pixels."""
    from pano.io.image import read_image
    from pano.io.photosphere import load_sphere

    if mode == "flat":
        img = read_image(image, mode="flat", max_pixels=limit)
        return img, img.pixels, None
    # one open of the file: decoded just big enough for the classifier's views, never upsampled
    loaded = load_sphere(image, mode=mode, max_width=width, max_pixels=limit)
    pixels = loaded.equirect
    mask = None
    if mode != "flat" and not loaded.image.geometry.is_full:
        mask = loaded.mask
    return loaded, pixels, mask


def format_top(rows: list[tuple[float, str]]) -> list[str]:
    return [f"{p:.4f} {name}" for p, name in rows]


@click.command(context_settings={"show_default": True})
@click.argument("image", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--top", "k", type=click.IntRange(1, 100), default=5, help="How many classes to show.")
@click.option("--where", is_flag=True, help="Also the strongest class per direction (view centre yaw, pitch).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--fov", type=click.FloatRange(40.0, 120.0), default=75.0, help="Field of view of each view, degrees.")
@classifier_options
@device_option
@sphere_input_options
def see(image: Path, k, where, as_json, fov, model, weights, labels, device, flat, full_sphere, max_pixels) -> None:
    """Show the classes a classifier sees in IMAGE (probability, name), most likely first.

    A photosphere is classified in upright perspective views at the classifier's own input size that together
    cover the whole sphere (a partial photosphere: only where it has pixels), averaged; --where lists the
    strongest class of each view. --flat classifies an ordinary photo whole.

    \b
    Examples:
      pano see sphere.jpg
      pano see sphere.jpg --where --top 3
      pano see photo.jpg --flat --json
      pano see sphere.jpg --model vgg16 --weights places365_vgg16.pth --labels categories_places365.txt
    """
    from pano.device import resolve_device
    from pano.filters.seeing import see_flat, see_sphere
    from pano.models.classifier import load_classifier

    mode = read_mode(flat, full_sphere)
    _, pixels, mask = load_input(image, mode, max_pixels_arg(max_pixels))
    clf = load_classifier(model, weights=weights, labels=labels, device=resolve_device(device))
    seen = see_flat(clf, pixels) if flat else see_sphere(clf, pixels, mask=mask, fov_deg=fov)
    top = seen.top(k)
    places = seen.where() if where and not flat else []
    if as_json:
        out = {
            "file": str(image),
            "model": model,
            "weights": str(weights) if weights else None,
            "views": 1 if flat else int(seen.view_probs.shape[0]),
            "top": [{"class": name, "probability": round(p, 4)} for p, name in top],
        }
        if where and not flat:
            out["where"] = places
        click.echo(json.dumps(out, indent=2))
        return
    views = "the whole photo" if flat else f"{seen.view_probs.shape[0]} views of {fov:g}°"
    click.echo(f"{image.name}: what {model} sees ({views})")
    for line in format_top(top):
        click.echo(line)
    if places:
        click.echo("where (yaw, pitch of the view centre):")
        for row in places:
            click.echo(f"  {row['yaw']:+7.1f} {row['pitch']:+6.1f}  {row['probability']:.4f} {row['class']}")
