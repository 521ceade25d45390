"""The command line as a whole: every command has help, --version, the public API surface, make_filter."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

import pano
from pano.cli import COMMANDS, cli


def test_every_command_has_help_and_is_listed():
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for name in COMMANDS:
        assert name in top.output
        r = runner.invoke(cli, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "Usage:" in r.output and len(r.output.splitlines()) > 5


def test_group_subcommands_have_help():
    runner = CliRunner()
    for args in (["beauty", "train", "--help"], ["beauty", "apply", "--help"]):
        assert runner.invoke(cli, args).exit_code == 0


def test_version_through_the_installed_entry_point():
    r = subprocess.run([sys.executable, "-m", "pano", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and pano.__version__ in r.stdout


def test_unknown_command_is_a_usage_error_without_traceback():
    r = subprocess.run([sys.executable, "-m", "pano", "nonsense"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_public_api_surface():
    """Names users rely on must not disappear (kornia-style API test)."""
    for name in pano.__all__:
        assert getattr(pano, name) is not None, name
    import importlib

    for module in map(importlib.import_module, ("pano.filters", "pano.io", "pano.models", "pano.sphere", "pano.viewer")):
        for name in module.__all__:
            assert getattr(module, name) is not None, (module.__name__, name)


def test_make_filter_builds_the_dream_and_rejects_unknown_names_and_options():
    from pano.errors import InputError
    from pano.filters.registry import make_filter

    filt = make_filter("dream", steps=1, octaves=1, size=64, device="cpu")
    assert filt.info.name == "dream" and filt.params()["steps"] == 1
    with pytest.raises(InputError):
        make_filter("sparkle")
    with pytest.raises(InputError):
        make_filter("dream", stepz=3)
