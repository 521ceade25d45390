"""Atomic output: write to a temporary file beside the target, then rename; never leave half a file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pano.errors import OutputError


def check_output_path(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Check that ``path`` can be written: its folder exists and is writable, and it does not exist
    (unless ``overwrite``). Raises :class:`OutputError` with a one-line message otherwise."""
    path = Path(path)
    if path.exists() and path.is_dir():
        raise OutputError(f"output {path} is a directory: name a file with -o/--output")
    if path.exists() and not overwrite:
        raise OutputError(f"output {path} already exists: use --overwrite or choose another name with -o")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} does not exist: create it or choose another -o/--output")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {folder} is not writable: choose another -o/--output")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a killed run left for ``path`` (``.NAME.PID-XXXX.part.EXT`` whose process
    is gone, and the older ``.NAME.XXXX.part.EXT`` without a process id); a live run's file is left alone.

    Returns:
        The files removed.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    prefix, suffix = f".{path.stem}.", f".part{path.suffix}"
    removed = []
    try:
        candidates = [p for p in folder.iterdir() if p.name.startswith(prefix) and p.name.endswith(suffix)]
    except OSError:
        return removed
    for p in candidates:
        middle = p.name[len(prefix) : len(p.name) - len(suffix)]
        if "." in middle:  # another output's temp file (NAME.more.part.EXT)
            continue
        pid, dash, _ = middle.partition("-")
        if dash and pid.isdigit() and _pid_alive(int(pid)):
            continue
        try:
            p.unlink()
            removed.append(p)
        except OSError:
            pass
    return removed


@contextmanager
def atomic_output(path: str | os.PathLike, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On any exception the temporary file is removed and ``path`` is left untouched. The temporary
    name (``.NAME.PID-XXXX.part.EXT``) keeps the target's suffix, so encoders that look at it pick the
    right format; one left by a killed run (its process gone) is removed when the same output is written
    again (:func:`remove_stale_parts`).
    """
    path = check_output_path(path, overwrite)
    folder = path.parent if str(path.parent) else Path(".")
    remove_stale_parts(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.stem}.{os.getpid()}-", suffix=f".part{path.suffix}", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if not overwrite and path.exists():
            raise OutputError(f"output {path} appeared while pano was writing it: use --overwrite")
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
