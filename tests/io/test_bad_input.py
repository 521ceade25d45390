"""Bad input never produces a traceback: the installed ``pano info`` answers each case with one line
on stderr and exit code 2 (run in a subprocess, as a user would)."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pano.errors import InputError
from pano.io.image import read_image


def _pano() -> list[str]:
    exe = shutil.which("pano")
    return [exe] if exe else [sys.executable, "-m", "pano"]


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([*_pano(), *map(str, args)], capture_output=True, text=True, timeout=120)


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A real PNG whose IHDR (with a valid CRC) claims ``width`` x ``height``: a decompression bomb."""
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = bytearray(data[12:29])  # type + 13 bytes of data
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))


def _make_case(case: str, tmp: Path, equirect_dir: Path) -> Path:
    if case == "missing":
        return tmp / "nowhere.jpg"
    if case == "directory":
        (tmp / "folder.jpg").mkdir()
        return tmp / "folder.jpg"
    if case == "zero-bytes":
        (tmp / "empty.jpg").write_bytes(b"")
        return tmp / "empty.jpg"
    if case == "truncated-jpeg":
        data = (equirect_dir / "psv_sphere_small.jpg").read_bytes()
        (tmp / "cut.jpg").write_bytes(data[: len(data) // 3])
        return tmp / "cut.jpg"
    if case == "text-named-jpg":
        (tmp / "notes.jpg").write_text("this is not a photo\n" * 20)
        return tmp / "notes.jpg"
    if case == "absurd-dimensions":
        _png_claiming(tmp / "bomb.png", 200_000, 100_000)
        return tmp / "bomb.png"
    if case == "unsupported-format":
        Image.new("RGB", (64, 32)).save(tmp / "sphere.bmp")
        return tmp / "sphere.bmp"
    if case == "truncated-16bit-png":
        import cv2

        arr = (np.arange(64 * 128 * 3) % 65536).astype(np.uint16).reshape(64, 128, 3)
        ok, buf = cv2.imencode(".png", arr)
        (tmp / "deep.png").write_bytes(buf.tobytes()[: len(buf) // 2])
        return tmp / "deep.png"
    raise AssertionError(case)


CASES = {
    "missing": "does not exist",
    "directory": "is a folder",
    "zero-bytes": "is empty",
    "truncated-jpeg": "truncated or corrupt",
    "text-named-jpg": "not an image pano can read",
    "absurd-dimensions": "--max-pixels 20000000000",
    "unsupported-format": "pano reads JPEG, PNG, WebP and TIFF",
    "truncated-16bit-png": "truncated or corrupt",
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_exit_2(case: str, tmp_path: Path, equirect_dir: Path) -> None:
    path = _make_case(case, tmp_path, equirect_dir)
    before = sorted(p.name for p in tmp_path.iterdir())
    res = _run("info", path)
    assert res.returncode == 2, (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    assert CASES[case] in lines[0], lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
    # the library raises the same InputError (what every command relies on)
    with pytest.raises(InputError):
        read_image(path)


def test_max_pixels_override(tmp_path: Path) -> None:
    Image.new("RGB", (256, 128), (1, 2, 3)).save(tmp_path / "s.jpg")
    res = _run("info", tmp_path / "s.jpg", "--max-pixels", "1000")
    assert res.returncode == 2 and "--max-pixels 32768" in res.stderr and "Traceback" not in res.stderr
    res = _run("info", tmp_path / "s.jpg", "--max-pixels", "32768", "--json")
    assert res.returncode == 0, res.stderr
