"""The built wheel holds everything a user needs, and runs without the source tree.

An editable install (what the rest of the suite uses) reads pano from the checkout, so it cannot notice a
file missing from the wheel or an import that only works because the install hook loaded it (issue 12).
Here the tracked files are copied to a temporary folder, built into a wheel, installed with ``--no-deps``
into a fresh target folder, and the CLI is run from there in ``python -I`` subprocesses, from another
working directory, with the checkout not on ``sys.path`` and no ``.pth`` hook run.
"""

from __future__ import annotations

import configparser
import json
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _tracked_files() -> list[Path]:
    if shutil.which("git") and (ROOT / ".git").exists():
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
        return [ROOT / p for p in out.stdout.decode().split("\0") if p and (ROOT / p).is_file()]
    return [p for p in ROOT.rglob("*") if p.is_file() and ".git" not in p.parts]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    for path in _tracked_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] in ("tests", "benchmarks", "docs"):
            continue
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, src / rel)
    dist = work / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(src)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("pano-*.whl")
    target = work / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q",
                              "--target", str(target), str(wheel)], capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    return {"wheel": wheel, "target": target, "cwd": work}


def _entry_point(target: Path) -> str:
    (info,) = target.glob("pano-*.dist-info")
    parser = configparser.ConfigParser()
    parser.read(info / "entry_points.txt")
    return parser["console_scripts"]["pano"]


RUNNER = """
import importlib, json, sys
target, paths, entry, args = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4:]
sys.path[:0] = [target, *paths]
module_name, attr = entry.split(":")
main = getattr(importlib.import_module(module_name), attr)
import pano
assert pano.__file__.startswith(target), pano.__file__
sys.argv = ["pano", *args]
main()
"""


def _search_path() -> list[str]:
    """stdlib and site-packages folders, without running their ``.pth`` files."""
    paths = [sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")]
    paths += site.getsitepackages()
    return [p for p in dict.fromkeys(paths) if Path(p).is_dir()]


def _pano(built: dict, *args: str) -> subprocess.CompletedProcess:
    """``pano ARGS`` through the wheel's own entry point, isolated from the checkout.

    ``-I``: no PYTHONPATH, no working directory on ``sys.path``. ``-S``: no ``site``, so no ``.pth`` file runs:
    the editable install's import hook (which maps ``pano`` to the checkout and imports ``importlib.util``
    on the way) cannot mask a missing file or import. The dependencies still come from site-packages.
    """
    return subprocess.run([sys.executable, "-I", "-S", "-c", RUNNER, str(built["target"]), json.dumps(_search_path()),
                           _entry_point(built["target"]), *args], capture_output=True, text=True,
                          cwd=built["cwd"], timeout=300)


def test_the_wheel_holds_the_package_its_viewer_and_its_entry_point(built):
    names = set(zipfile.ZipFile(built["wheel"]).namelist())
    sources = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pano").rglob("*.py")}
    assert sources <= names, sorted(sources - names)[:10]
    static = {p.relative_to(ROOT).as_posix() for p in (ROOT / "pano" / "viewer" / "static").iterdir() if p.is_file()}
    assert static and static <= names, sorted(static - names)
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    assert _entry_point(built["target"]) == "pano.cli:main"


def test_the_installed_wheel_runs_isolated_from_the_checkout(built, tmp_path):
    helped = _pano(built, "--help")
    assert helped.returncode == 0, helped.stderr[-2000:]
    assert "dream" in helped.stdout and "Traceback" not in helped.stderr

    version = _pano(built, "--version")
    assert version.returncode == 0 and "pano" in version.stdout, version.stderr[-2000:]

    models = _pano(built, "models")
    assert models.returncode == 0, models.stderr[-2000:]
    assert "efficientnet_lite0" in models.stdout

    photo = tmp_path / "sphere.jpg"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (32, 64, 3), dtype=np.uint8)).save(photo, quality=90)
    info = _pano(built, "info", str(photo), "--json")
    assert info.returncode == 0, info.stderr[-2000:]
    described = json.loads(info.stdout)
    assert (described["width"], described["height"], described["kind"]) == (64, 32, "full")


def test_every_command_answers_help_from_the_wheel(built):
    from pano.cli import COMMANDS

    for name in COMMANDS:
        r = _pano(built, name, "--help")
        assert r.returncode == 0 and "Usage:" in r.stdout, (name, r.stderr[-2000:])
