"""``pano models``: the backbones pano knows, their named layers, and where their weights are."""

from __future__ import annotations

import json
import textwrap

import click


@click.command("models")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of the table.")
def models(as_json: bool) -> None:
    """List the models pano knows, their named layers and where their weights are.

    \b
    The default layer is marked with *, layers good for dreaming with +.
    Weights of torchvision nets download into the torch hub cache on first use
    (or put the file there yourself, or pass --weights FILE); set PANO_OFFLINE=1
    to never touch the network.
    """
    from pano.models.registry import list_backbones  # imports torch: keep `pano --help` instant

    rows = list_backbones()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(row["id"]) for row in rows)
    for row in rows:
        marker = "  (default)" if row["default"] else ""
        click.echo(click.style(row["id"].ljust(width), bold=True) + f"  {row['title']}{marker}")
        indent = " " * (width + 2)
        dream = set(row["dream_layers"])
        names = []
        for name in row["layers"]:
            tag = "*" if name == row["default_layer"] else "+" if name in dream else ""
            names.append(name + tag)
        for i, line in enumerate(textwrap.wrap(" ".join(names), width=max(40, 96 - len(indent)))):
            click.echo(f"{indent}{'layers  ' if i == 0 else '        '}{line}")
        if row["weights_present"]:
            status = click.style("present", fg="green")
            where = row["weights_path"]
        elif row["weights_kind"] == "url":
            status = click.style("download on first use", fg="yellow")
            where = f"{row['weights_source']} -> {row['weights_expected_at']}"
        else:
            status = click.style("not installed", fg="yellow")
            where = row["weights_expected_at"]
        click.echo(f"{indent}weights {status}: {where}")
        click.echo("")
    click.echo("* default layer, + good for dreaming.  Use with: pano dream --model ID --layer NAME")
    _super_resolution_table()


def _super_resolution_table() -> None:
    """The super-resolution models of ``pano upscale`` (defaults marked, weights location)."""
    from pathlib import Path

    from pano.models.sr import sr_model_rows

    click.echo("")
    click.echo(click.style("super-resolution", bold=True) + "  (pano upscale --model NAME, pano dream --upscale)")
    for row in sr_model_rows():
        marks = [m for m, on in (("CUDA default", row["default_cuda"]), ("CPU default", row["default_cpu"])) if on]
        path = row["weights_path"]
        present = path is not None and Path(str(path)).exists()
        status = "present" if present else "download on first use"
        click.echo(f"  {row['name']:<28} x{row['scale']}  {row['arch']}{'  (' + ', '.join(marks) + ')' if marks else ''}")
        click.echo(f"  {'':<28} weights {status}: {path if present else row['weights_source']}")
