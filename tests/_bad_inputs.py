"""Helpers for the bad-input tests (issue 16): run ``pano`` in this process, make bad inputs, a full disk."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from pano.cli import main


@dataclass
class Answer:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def run_pano(capsys, *args: str | Path) -> Answer:
    """``pano ARGS`` through the console entry point in this process (fast: torch is imported once)."""
    capsys.readouterr()
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    got = capsys.readouterr()
    return Answer(code, got.out, got.err)


def run_pano_process(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m pano ARGS`` as a user runs it (a real process: tracebacks, signals, fd 2)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),  # pano and tests.*
                                                         os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "pano", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A real PNG whose IHDR (valid CRC) claims ``width`` x ``height``: a decompression bomb header."""
    Image.new("RGB", (8, 8), (200, 10, 10)).save(path)
    data = bytearray(path.read_bytes())
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack(">II", width, height)
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(ihdr)) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def sphere_jpeg(path: Path, width: int = 128, height: int = 64, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(path, quality=92)
    return path


def truncated_copy(src: Path, dst: Path, fraction: float = 1 / 3) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst


def impossible_gpano_jpeg(path: Path) -> Path:
    """A 300x100 JPEG whose GPano crop (300 px) is wider than its full pano (200 px)."""
    from pano.io.gpano import SphereGeometry, gpano_xmp

    packet = gpano_xmp(SphereGeometry(200, 100, 0, 0, 200, 100)).decode()
    packet = packet.replace('GPano:CroppedAreaImageWidthPixels="200"', 'GPano:CroppedAreaImageWidthPixels="300"')
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 255, (100, 300, 3), dtype=np.uint8)).save(path, xmp=packet.encode())
    return path


def make_bad_input(case: str, folder: Path) -> Path:
    """One bad input file (or folder) per case, made here: nothing is stored in the repository."""
    if case == "missing":
        return folder / "nowhere.jpg"
    if case == "zero-bytes":
        (folder / "empty.jpg").write_bytes(b"")
        return folder / "empty.jpg"
    if case == "directory":
        (folder / "folder.jpg").mkdir()
        return folder / "folder.jpg"
    if case == "text-named-jpg":
        (folder / "notes.jpg").write_text("this is not a photo\n" * 20)
        return folder / "notes.jpg"
    if case == "truncated-jpeg":
        return truncated_copy(sphere_jpeg(folder / "whole.jpg", 256, 128), folder / "cut.jpg")
    if case == "decompression-bomb":
        return png_claiming(folder / "bomb.png", 200_000, 100_000)
    if case == "bmp":
        Image.new("RGB", (64, 32)).save(folder / "sphere.bmp")
        return folder / "sphere.bmp"
    if case == "1x1":
        Image.new("RGB", (1, 1), (9, 9, 9)).save(folder / "one.png")
        return folder / "one.png"
    if case == "impossible-gpano":
        return impossible_gpano_jpeg(folder / "wide_crop.jpg")
    raise AssertionError(case)


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


class TinyDisk:
    """A 96 KiB tmpfs (root only; tests skip elsewhere): a real full disk."""

    def __init__(self, path: Path, size: str = "96k") -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        if shutil.which("mount") is None or os.geteuid() != 0:
            raise OSError("mounting a tmpfs needs root")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
        if r.returncode != 0:
            raise OSError(r.stderr.decode(errors="replace"))

    def close(self) -> None:
        subprocess.run(["umount", str(self.path)], capture_output=True)
