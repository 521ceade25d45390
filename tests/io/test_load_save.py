"""load_sphere / save_sphere: a file onto the full sphere at a working size, and back in its own geometry."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from pano.io.gpano import read_sphere_geometry
from pano.io.image import load_sphere, read_image, save_sphere


def test_partial_phone_sphere_round_trip(photosphere_dir: Path, tmp_path: Path) -> None:
    src = photosphere_dir / "PXL_20210730_144252204.PHOTOSPHERE.jpg"
    s = load_sphere(src, full_width=1024)
    assert s.equirect.shape == (1, 3, 512, 1024) and s.mask.shape == (1, 1, 512, 1024)
    assert s.image.kind == "partial" and s.image.width < 5890  # decoded at reduced size
    assert s.mask.mean().item() == pytest.approx(5890 * 4530 / (15462 * 7731), abs=0.01)
    out = save_sphere(s.equirect, tmp_path / "out.jpg", s, scale=0.125, xmp_extra={"pano:Filter": "none"})
    g = read_sphere_geometry(out)
    assert (g.crop_width, g.crop_height) == (round(5890 / 8), round(4530 / 8))
    assert abs(g.full_width - 15462 / 8) <= 1 and abs(g.crop_left - 4786 / 8) <= 1 and abs(g.crop_top - 282 / 8) <= 1
    assert g.heading_deg == 135.0 and b"pano:Filter" in read_image(out).xmp
    back = read_image(out)
    ref = F.interpolate(read_image(src, reduce=8).pixels, size=(back.height, back.width), mode="bilinear",
                        antialias=True, align_corners=False)
    assert (back.pixels - ref).abs().mean() < 0.04  # the processed-at-1024 sphere matches the source
    assert Image.open(out).getexif().get(0x010F) == "OnePlus"


def test_plain_sphere_and_force_sphere(equirect_dir: Path, tmp_path: Path) -> None:
    s = load_sphere(equirect_dir / "aframe_louvre.jpg", full_width=256)
    assert s.equirect.shape == (1, 3, 128, 256) and bool(s.mask.all())
    out = save_sphere(s.equirect, tmp_path / "small.png", s, scale=1 / 16)
    assert read_sphere_geometry(out).placement == (256, 128, 0, 0, 256, 128)
    Image.new("RGB", (60, 40), (10, 200, 30)).save(tmp_path / "photo.jpg")
    with pytest.raises(Exception, match="--full-sphere"):
        load_sphere(tmp_path / "photo.jpg")
    forced = load_sphere(tmp_path / "photo.jpg", mode="force-sphere")
    assert forced.equirect.shape == (1, 3, 30, 60)  # stretched to 2:1
    out = save_sphere(forced.equirect * 0 + 0.5, tmp_path / "forced.jpg", forced)
    assert read_image(out, mode="flat").pixels.shape == (1, 3, 40, 60)  # back to the file's own size
    assert torch.allclose(read_image(out, mode="flat").pixels, torch.tensor(0.5), atol=0.01)


def test_one_open_gives_the_geometry_and_the_pixels_at_the_size_needed(tmp_path: Path, monkeypatch) -> None:
    """load_sphere opens the file once (header, GPano and pixels from the same open) and decodes a JPEG only as
    large as the working width needs (DCT scaling), for a full sphere and a partial one; never upsampled."""
    from pano.io.decode import reduction_for
    from pano.io.gpano import SphereGeometry
    from pano.io.image import write_image

    def smooth(h: int, w: int) -> torch.Tensor:  # photo-like content (JPEG of pure noise is not what pano reads)
        return F.interpolate(torch.rand(1, 3, h // 16, w // 16), size=(h, w), mode="bilinear", align_corners=False)

    full = tmp_path / "full.jpg"
    write_image(smooth(512, 1024), full)
    partial = tmp_path / "partial.jpg"
    write_image(smooth(400, 800), partial, geometry=SphereGeometry(2000, 1000, 1800, 200, 800, 400))
    opened: list[Path] = []
    real_open = Image.open

    def counting_open(fp, *args, **kwargs):
        opened.append(Path(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", counting_open)
    s = load_sphere(full, max_width=256)
    assert opened == [full]
    assert s.image.width == 256 and s.equirect.shape == (1, 3, 128, 256)  # decoded at 1/4, no resize needed
    assert s.image.source_size == (1024, 512)

    opened.clear()
    s = load_sphere(partial, max_width=500)
    assert opened == [partial]
    assert reduction_for(2000, 500) == 4 and s.image.width == 200  # the crop at 1/4: 800 -> 200 px
    assert s.equirect.shape == (1, 3, 250, 500) and s.image.kind == "partial"
    assert s.mask.mean().item() == pytest.approx(800 * 400 / (2000 * 1000), abs=0.01)  # placed, wrapping at ±180°

    opened.clear()
    s = load_sphere(full, max_width=4096)  # a smaller sphere keeps its own size
    assert opened == [full] and s.equirect.shape == (1, 3, 512, 1024)
