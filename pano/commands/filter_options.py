"""The filter options of ``pano video --filter NAME``: the options of the filter's own command, parsed by click.

``pano video trip.mp4 --filter dream --steps 8 --jitter upright`` takes ``--steps`` and ``--jitter`` as
``pano dream`` declares them (same names, types, ranges, flags and messages: ``--steps 0`` is refused in the
same words) and turns the values given into :mod:`pano.filters.settings` fields, so an option is written once,
on its command. The options of a command that are no setting (where the input is, the outputs, how a batch
runs) are named in :data:`NOT_SETTINGS`; ``tests/filters/test_contract.py`` checks every command against
its filter's fields with these tables.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

#: Each registered filter's command: module, attribute, and the name it has in messages.
FILTER_COMMANDS = {
    "dream": ("pano.commands.dream", "dream", "pano dream"),
    "upscale": ("pano.commands.upscale", "upscale", "pano upscale"),
    "beauty": ("pano.commands.beauty", "apply_cmd", "pano beauty apply"),
    "mirage": ("pano.commands.mirage", "mirage", "pano mirage"),
}

#: Command options whose settings field has another name (the same in every command).
RENAMED = {"jitter": "orientation", "fov": "fov_deg"}
#: Flags that set their field to the opposite: ``--keep-seam`` is ``repair_seam=False``.
NEGATED = {"keep_seam": "repair_seam"}
#: Keywords :func:`pano.filters.settings.settings_for` takes besides the fields (dream's named looks).
SETTINGS_KEYWORDS = {"preset"}
#: Options of the commands that are no filter setting: the input, the outputs, how the batch runs, and what
#: the command does around the filter (reading the file, stereo layouts, upscaling after, printing, logging).
NOT_SETTINGS = {
    "images", "inputs", "input", "output", "overwrite", "device", "ray", "workers", "quiet", "full_sphere",
    "max_pixels", "upscale", "stereo", "side_by_side", "print_every", "k", "json_log",
}  # fmt: skip
#: Settings a video never takes: its frames are spheres (``--flat`` is for ordinary photos).
NOT_FOR_VIDEO = {"flat"}


def filter_command(name: str) -> click.Command:
    """The click command of registered filter ``name`` (``pano dream`` for ``dream``)."""
    module_name, attr, _ = FILTER_COMMANDS[name]
    return getattr(importlib.import_module(module_name), attr)


def to_settings_fields(values: dict[str, Any]) -> dict[str, Any]:
    """A command's option values as settings fields: renamed, negated flags turned round, paths as text."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key in NEGATED:
            key, value = NEGATED[key], not value
        out[RENAMED.get(key, key)] = str(value) if isinstance(value, Path) else value
    return out


def settings_options(name: str, args: list[str]) -> dict[str, Any]:
    """``args`` (the options ``pano video`` left over) parsed with registered filter ``name``'s own command,
    as the settings fields they set (options not given are left out: the filter's defaults apply).

    Example: ``settings_options("dream", ["--steps", "8", "--jitter", "upright"])`` is
    ``{"steps": 8, "orientation": "upright"}``.

    Raises:
        click.UsageError: an option the command does not have (or that a video cannot take: ``--flat``), a stray
            value, or a value it refuses (one line, naming the command: ``pano dream``).
    """
    command = filter_command(name)
    _, _, path = FILTER_COMMANDS[name]
    skip = NOT_SETTINGS | NOT_FOR_VIDEO
    options = [p for p in command.params if isinstance(p, click.Option) and p.name not in skip]
    parser = click.Command(path, params=options, add_help_option=False)
    ctx = parser.make_context(path, list(args))
    given = {k: v for k, v in ctx.params.items() if ctx.get_parameter_source(k) is ParameterSource.COMMANDLINE}
    return to_settings_fields(given)
