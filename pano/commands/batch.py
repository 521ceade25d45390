"""Batches for the image commands: input expansion (files, folders, globs) and output naming, in one place.

``pano dream/upscale/beauty apply`` take several inputs. :func:`plan_batch` expands them and names one output
each: beside the input as ``NAME_<suffix>.EXT`` by default, or in the ``-o`` folder when there are several
inputs. A single plain file keeps the single-file behaviour (``-o`` names the file, an existing output is an
error without ``--overwrite``); in a batch an existing output is a finished one and is skipped, so a
re-run resumes an interrupted batch (``--overwrite`` redoes everything).
"""

from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from pano.commands.common import Progress, check_image_extension, default_output_path, say
from pano.errors import InputError, OutputError
from pano.io.atomic import check_output_path
from pano.io.header import IMAGE_EXTENSIONS

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class BatchItem:
    """One input and its output; ``done``: the output exists and is kept (skipped in this run)."""

    input: Path
    output: Path
    done: bool = False


@dataclass(frozen=True)
class Batch:
    items: list[BatchItem]
    single: bool  # one plain file: the single-file behaviour

    @property
    def todo(self) -> list[BatchItem]:
        return [item for item in self.items if not item.done]

    @property
    def skipped(self) -> int:
        return sum(item.done for item in self.items)


def expand_inputs(args: Sequence[str | Path]) -> tuple[list[Path], bool]:
    """The image files named by ``args`` (files, folders: their images sorted by name, globs), in order,
    without duplicates; and whether it was one plain file.

    Raises:
        InputError: a name that is neither a file, a folder nor a glob matching something; no images at all.
    """
    files: list[Path] = []
    plain = len(args) == 1
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            plain = False
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
            if not found:
                raise InputError(f"folder {p} holds no images (.jpg, .png, .webp, .tif): check the path")
            files.extend(found)
        elif not p.exists() and _GLOB_CHARS & set(str(arg)):
            plain = False
            found = sorted(Path(f) for f in glob.glob(str(arg)) if Path(f).is_file())
            if not found:
                raise InputError(f"{arg} matches no file: check the pattern")
            files.extend(found)
        elif not p.exists():
            raise InputError(f"{p} does not exist: check the file or folder name")
        else:
            files.append(p)
    unique = list(dict.fromkeys(f.resolve() for f in files))
    by_resolved = {f.resolve(): f for f in reversed(files)}
    return [by_resolved[f] for f in unique], plain and len(unique) == 1


def plan_batch(
    args: Sequence[str | Path],
    output: str | Path | None,
    overwrite: bool,
    name: Callable[[Path], Path] | str,
) -> Batch:
    """Expand ``args`` and name each output.

    Args:
        args: the command's inputs (files, folders, globs).
        output: ``-o``: the output file for a single plain input, else an output folder (created if its parent
            exists); None: each output beside its input.
        overwrite: redo (and replace) outputs that exist.
        name: the default output path for an input (``NAME_<suffix>.EXT`` beside it), or just the suffix.

    Raises:
        InputError / OutputError: bad inputs, an output folder that cannot be made, two inputs with the same
        output.
    """
    namer = (lambda p: default_output_path(p, name)) if isinstance(name, str) else name
    inputs, single = expand_inputs(args)
    if single:
        out = Path(output) if output else namer(inputs[0])
        if out.is_dir():  # -o an existing folder: the output goes in it under its default name
            out = out / namer(inputs[0]).name
        check_image_extension(out)
        return Batch([BatchItem(inputs[0], check_output_path(out, overwrite))], single=True)
    folder = Path(output) if output else None
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"-o {folder} is a file: with several inputs -o names an output folder")
        if not folder.exists():
            if not folder.parent.is_dir():
                raise OutputError(f"output folder {folder.parent} does not exist: create it or choose another -o")
            folder.mkdir()
    outputs = [folder / namer(p).name if folder is not None else namer(p) for p in inputs]
    # a re-run over a folder sees the outputs of the last run (beside the inputs or in -o): they are not inputs
    planned = {o.resolve() for o in outputs} | {namer(p).resolve() for p in inputs}
    pairs = [(i, o) for i, o in zip(inputs, outputs) if i.resolve() not in planned]
    seen: dict[Path, Path] = {}
    items = []
    for i, o in pairs:
        if o.resolve() in seen:
            raise InputError(f"{i} and {seen[o.resolve()]} would both write {o}: give them different names")
        seen[o.resolve()] = i
        check_image_extension(o)
        done = o.exists() and not overwrite
        if not done:
            check_output_path(o, overwrite)
        items.append(BatchItem(i, o, done))
    return Batch(items, single=False)


def batch_output_options(f):
    """``-o`` (a file for one input, a folder for several) and ``--overwrite``."""
    f = click.option("--overwrite", is_flag=True, help="Replace outputs that exist (in a batch they are skipped as finished).")(f)
    f = click.option(
        "-o", "--output", type=click.Path(path_type=Path),
        help="Output file; with several inputs an output folder (default: NAME_<filter>.EXT beside each input).",
    )(f)
    return f


def ray_options(f):
    """``--ray [ADDRESS]`` and ``--workers N``."""
    f = click.option(
        "--workers", type=click.IntRange(min=1), default=None,
        help="With --ray: at most N workers (default: one per GPU, or CPU workers sized by cores).",
    )(f)
    f = click.option(
        "--ray", "ray", is_flag=False, flag_value="local", default=None, metavar="[ADDRESS]",
        help="Run on Ray: alone, a local instance using every GPU or core (or $RAY_ADDRESS); with HOST:PORT, "
        "that cluster. Needs pip install 'pano[ray]'.",
    )(f)
    return f


def ray_address(value: str | None, inputs: Sequence[Path]) -> tuple[str | None, list[Path]]:
    """``--ray`` followed by an input (``pano dream --ray a.jpg``): click took the input for the address; give
    it back. Returns (address or "local" or None, inputs)."""
    inputs = list(inputs)
    if value is None or value == "local":
        return value, inputs
    looks_like_address = value == "auto" or value.startswith("ray://") or ":" in value
    if not looks_like_address and (Path(value).exists() or _GLOB_CHARS & set(value)):
        return "local", [Path(value), *inputs]
    if not looks_like_address:
        raise InputError(f"--ray {value}: not an address: use --ray HOST:PORT, or --ray alone for this machine")
    return value, inputs


def run_batch(job: Any, batch: Batch, *, command: str, device: str, ray: str | None, workers: int | None,
              overwrite: bool, quiet: bool) -> None:
    """Run a photo job (``job.open(device)(src, dst)``) over the batch: here, one file after the other, or with
    ``ray`` on Ray actors with one progress bar for the whole batch."""
    if batch.skipped:
        say(quiet, f"pano {command}: {batch.skipped} of {len(batch.items)} outputs exist and are kept (--overwrite redoes them)")
    todo = batch.todo
    if not todo:
        return
    if ray is None:
        process = job.open(device)
        for k, item in enumerate(todo):
            if len(batch.items) > 1:
                say(quiet, f"pano {command}: [{k + 1}/{len(todo)}] {item.input}")
            process(item.input, item.output)
        return
    from dataclasses import replace  # noqa: PLC0415

    from pano.distributed.cluster import ray_session  # noqa: PLC0415
    from pano.distributed.photos import run_photos  # noqa: PLC0415

    bar = _FilesBar(quiet, len(todo), command)
    try:
        with ray_session(None if ray == "local" else ray) as ray_module:
            run_photos(
                ray_module, replace(job, quiet=True), [(item.input, item.output) for item in todo], device=device,
                workers=workers, overwrite=overwrite, on_start=bar.start, on_done=bar.done,
            )
    finally:
        bar.close()
    say(quiet, f"pano {command}: wrote {len(todo)} file{'s' * (len(todo) > 1)}")


class _FilesBar:
    """One bar for a distributed batch: files done, rate, ETA, and the number of workers."""

    def __init__(self, quiet: bool, total: int, command: str) -> None:
        self.total, self.count = total, 0
        self.bar = Progress(quiet, unit="file", desc=f"pano {command}")

    def start(self, plan: Any) -> None:
        self.bar.note = f"{plan.count} {plan.device} worker{'s' * (plan.count > 1)}"
        if self.total:
            self.bar(0, self.total)

    def done(self, index: int, path: Path) -> None:
        self.count += 1
        self.bar(self.count, self.total)

    def close(self) -> None:
        self.bar.close()
