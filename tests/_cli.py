"""``pano ARGS`` run in the test's own process, answered like a finished process (a uniquely named module on
the tests' path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from click.testing import CliRunner

from pano.cli import cli


def run_pano_here(*args: str | Path) -> subprocess.CompletedProcess:
    """``pano ARGS`` through pano's standalone handling (PanoError: one line on stderr, exit 2; Ctrl-C: 130), in
    this process: ``returncode``, ``stdout``, ``stderr`` as from ``subprocess.run``. An exception that would
    have been a traceback in a process is raised. For tests whose point is the command, not a fresh process
    (those have their own tests): no torch import and no model load per run."""
    argv = [str(a) for a in args]
    result = CliRunner().invoke(cli, argv, prog_name="pano")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(["pano", *argv], result.exit_code, result.stdout, result.stderr)
