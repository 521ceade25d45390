"""``pano upscale`` end to end: default names, GPano kept and scaled, partial panoramas, one-line errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from pano.cli import cli
from pano.io.gpano import SphereGeometry
from pano.io.image import read_image, write_image

FAST = ["--model", "realesr-animevideov3", "--device", "cpu", "-q"]


@pytest.fixture()
def sphere_jpg(tmp_path: Path, petra) -> Path:
    """A real 96 x 48 photosphere JPEG (GPano written by pano's own writer)."""
    return write_image(petra, tmp_path / "petra.jpg")


def test_default_name_scale_and_metadata(sphere_jpg: Path) -> None:
    result = CliRunner().invoke(cli, ["upscale", str(sphere_jpg), "--scale", "2", *FAST])
    assert result.exit_code == 0, result.output
    out = read_image(sphere_jpg.with_name("petra_x2.jpg"))
    assert (out.width, out.height) == (192, 96)
    assert out.kind == "full" and out.geometry.placement == (192, 96, 0, 0, 192, 96)
    again = CliRunner().invoke(cli, ["upscale", str(sphere_jpg), "--scale", "2", *FAST])
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_partial_panorama_keeps_its_place_on_the_sphere(tmp_path: Path, petra) -> None:
    """A 90°-wide crop (GPano) is upscaled as it is, and its GPano placement scales with it."""
    crop = petra[..., 12:36, 24:48]
    geometry = SphereGeometry(96, 48, 24, 12, 24, 24)
    src = write_image(crop, tmp_path / "crop.png", geometry=geometry)
    out = tmp_path / "crop_big.png"
    result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(out), *FAST])
    assert result.exit_code == 0, result.output
    img = read_image(out)
    assert img.kind == "partial" and (img.width, img.height) == (96, 96)
    assert img.geometry.placement == (384, 192, 96, 48, 96, 96)


def test_keep_seam_leaves_the_seam_as_it_is(tmp_path: Path, petra) -> None:
    """By default a step at ±180° is spread before SR; ``--keep-seam`` upscales the pixels as they are. The two
    results differ at the seam only (but for a rare flip of 8-bit rounding)."""
    stitched = petra.clone()
    stitched[..., :48] = (stitched[..., :48] * 0.8).clamp(0, 1)  # the left half darker: a step at ±180°
    src = write_image(stitched, tmp_path / "stitched.png")
    outs = {}
    for name, extra in (("repaired", []), ("kept", ["--keep-seam"])):
        out = tmp_path / f"{name}.png"
        result = CliRunner().invoke(cli, ["upscale", str(src), "-o", str(out), *extra, *FAST])
        assert result.exit_code == 0, result.output
        outs[name] = read_image(out).pixels
    from pano.metrics import wrap_seam_ratio

    assert wrap_seam_ratio(outs["repaired"]) < 0.5 * wrap_seam_ratio(outs["kept"])
    middle = (slice(None), slice(None), slice(64, 128), slice(120, 264))  # away from ±180° and the poles
    diff = (outs["repaired"][middle] - outs["kept"][middle]).abs()
    assert float(diff.max()) <= 1.5 / 255 and float((diff > 0).float().mean()) < 1e-3  # 8-bit rounding at most


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "missing.pth"], "does not exist"),
        (["--scale", "4", "--model", "realesr-animevideov3", "--precision", "fp16", "--device", "cpu"], "fp16"),
    ],
)
def test_errors_are_one_line_exit_2(sphere_jpg: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["upscale", str(sphere_jpg), "-o", str(sphere_jpg.with_name("o.jpg")), *args])
    assert result.exit_code == 2
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not sphere_jpg.with_name("o.jpg").exists()


def test_installed_entry_point(sphere_jpg: Path) -> None:
    exe = shutil.which("pano")
    if exe is None:
        pytest.skip("the pano entry point is not installed")
    out = sphere_jpg.with_name("entry.jpg")
    run = subprocess.run([exe, "upscale", str(sphere_jpg), "-o", str(out), "--scale", "2", *FAST],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert read_image(out).width == 192
