"""``pano info``: what pano sees in a file, as text and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pano.commands.info import info
from pano.io.gpano import read_sphere_geometry

REQUIRED = {
    "width", "height", "projection", "full_width", "full_height", "crop_left", "crop_top", "kind",
    "lon_range_deg", "lat_range_deg", "bit_depth", "format", "has_exif", "has_icc", "has_gpano",
}


def _json(*args: str | Path) -> dict:
    res = CliRunner().invoke(info, [*map(str, args), "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def test_json_for_every_fixture_photosphere(photosphere_dir: Path) -> None:
    files = sorted(photosphere_dir.glob("*.jpg"))
    assert len(files) >= 5
    for f in files:
        d = _json(f)
        assert REQUIRED <= d.keys()
        g = read_sphere_geometry(f)
        with Image.open(f) as im:
            assert (d["width"], d["height"]) == im.size
        assert d["projection"] == "equirectangular" and d["has_gpano"] and d["has_exif"]
        assert (d["full_width"], d["full_height"], d["crop_left"], d["crop_top"]) == g.placement[:4]
        assert d["kind"] == ("full" if g.is_full else "partial")
        assert d["lon_range_deg"] == pytest.approx(g.lon_range_deg, abs=1e-3)
        assert d["lat_range_deg"] == pytest.approx(g.lat_range_deg, abs=1e-3)
        assert d["format"] == "JPEG" and d["bit_depth"] == 8
    strip = _json(photosphere_dir / "PANO_20130622_091214.jpg")
    assert strip["kind"] == "partial" and strip["lon_range_deg"] == 360.0 and strip["heading_deg"] == 278.0
    pano = _json(photosphere_dir / "PXL_20210730_183041272.PANO.jpg")
    assert pano["use_panorama_viewer"] is None and pano["gpano"]["initial_heading_deg"] == 87.0


def test_plain_equirect_implies_the_full_sphere(equirect_dir: Path) -> None:
    d = _json(equirect_dir / "aframe_louvre.jpg")
    assert (d["width"], d["height"]) == (4096, 2048)
    assert d["kind"] == "full" and not d["has_gpano"] and d["projection"] == "equirectangular"
    assert (d["full_width"], d["full_height"], d["crop_left"], d["crop_top"]) == (4096, 2048, 0, 0)
    assert (d["lon_range_deg"], d["lat_range_deg"]) == (360.0, 180.0)


def test_flat_photo_still_answers_and_says_how_to_process_it(flowers_dir: Path) -> None:
    f = next(iter(sorted(flowers_dir.glob("daisy_*.jpg"))))
    d = _json(f)
    assert d["projection"] == "flat" and d["kind"] == "flat" and d["full_width"] is None
    assert "--flat" in d["hint"] and "--full-sphere" in d["hint"]
    res = CliRunner().invoke(info, [str(f)])
    assert res.exit_code == 0 and "flat (not a photosphere)" in res.output and "--flat" in res.output


def test_text_output_and_flat_flag(photosphere_dir: Path, equirect_dir: Path) -> None:
    res = CliRunner().invoke(info, [str(photosphere_dir / "PXL_20210730_144252204.PHOTOSPHERE.jpg")])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "5890 x 4530, JPEG, 8-bit" in out and "partial panorama" in out
    assert "137.1° of longitude" in out and "105.5° of latitude" in out
    assert "15462 x 7731, crop 5890 x 4530 at (4786, 282) (GPano)" in out
    assert "EXIF, XMP, GPano" in out and "heading     135°" in out
    assert _json(equirect_dir / "aframe_louvre.jpg", "--flat")["kind"] == "flat"


def test_16bit_png_and_alpha(tmp_path: Path) -> None:
    import numpy as np

    rgba = np.zeros((32, 64, 4), np.uint8)
    rgba[..., 3] = 128
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    d = _json(tmp_path / "a.png")
    assert d["has_alpha"] and d["kind"] == "full" and d["format"] == "PNG"
    Image.fromarray(np.full((32, 64), 40000, np.uint16)).save(tmp_path / "g16.png")
    assert _json(tmp_path / "g16.png")["bit_depth"] == 16
