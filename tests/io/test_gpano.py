"""GPano XMP parsing/writing and partial panoramas placed on the sphere and cut back out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

from pano.io.gpano import (
    SphereGeometry,
    crop_from_sphere,
    gpano_xmp,
    parse_gpano,
    place_on_sphere,
    read_sphere_geometry,
)
from pano.io.image import read_image, write_image


def _documented(photosphere_dir: Path) -> dict[str, dict[str, str]]:
    """GPano values per file as listed in the fixture's SOURCES.md (the documented truth)."""
    text = (photosphere_dir / "SOURCES.md").read_text()
    out: dict[str, dict[str, str]] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        name = block.splitlines()[0].strip()
        m = re.search(r"\| GPano XMP \| ([^|]+) \|", block)
        if m:
            out[name] = dict(kv.strip().split("=", 1) for kv in m.group(1).split(","))
    return out


def test_every_fixture_photosphere_parses_to_the_documented_values(photosphere_dir: Path) -> None:
    documented = _documented(photosphere_dir)
    assert len(documented) >= 5
    for name, doc in documented.items():
        g = read_sphere_geometry(photosphere_dir / name)
        assert g is not None, name
        assert g.projection == doc["ProjectionType"]
        assert g.placement == (
            int(doc["FullPanoWidthPixels"]),
            int(doc["FullPanoHeightPixels"]),
            int(doc["CroppedAreaLeftPixels"]),
            int(doc["CroppedAreaTopPixels"]),
            int(doc["CroppedAreaImageWidthPixels"]),
            int(doc["CroppedAreaImageHeightPixels"]),
        ), name
        assert g.use_panorama_viewer == (True if "UsePanoramaViewer" in doc else None), name
        if "PoseHeadingDegrees" in doc:
            assert g.heading_deg == float(doc["PoseHeadingDegrees"])
        if "InitialViewHeadingDegrees" in doc:
            assert g.initial_heading_deg == float(doc["InitialViewHeadingDegrees"])
        assert g.is_full == (g.crop_width == g.full_width and g.crop_height == g.full_height)


def test_coverage_of_the_fixture_files(photosphere_dir: Path) -> None:
    strip = read_sphere_geometry(photosphere_dir / "PANO_20130622_091214.jpg")
    assert strip.lon_range_deg == 360.0 and not strip.is_full
    assert strip.lat_range_deg == pytest.approx(180 * 807 / 3948)
    full = read_sphere_geometry(photosphere_dir / "PXL_20210722_151141413.PHOTOSPHERE.jpg")
    assert full.is_full and full.lon_lat_bounds_deg() == (-180.0, 180.0, -90.0, 90.0)
    part = read_sphere_geometry(photosphere_dir / "PXL_20210730_144252204.PHOTOSPHERE.jpg")
    lon0, lon1, lat0, lat1 = part.lon_lat_bounds_deg()
    assert lon0 == pytest.approx(4786 / 15462 * 360 - 180) and lon1 - lon0 == pytest.approx(360 * 5890 / 15462)
    assert lat1 == pytest.approx(90 - 282 / 7731 * 180) and lat1 - lat0 == pytest.approx(180 * 4530 / 7731)


ATTR_FORM = """<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:GPano="http://ns.google.com/photos/1.0/panorama/" GPano:ProjectionType="equirectangular"
 GPano:FullPanoWidthPixels="4000" GPano:FullPanoHeightPixels="2000" GPano:CroppedAreaLeftPixels="3900"
 GPano:CroppedAreaTopPixels="20" GPano:CroppedAreaImageWidthPixels="300" GPano:CroppedAreaImageHeightPixels="200"
 GPano:PoseHeadingDegrees="12.5" GPano:UsePanoramaViewer="False"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>"""

ELEMENT_FORM = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:g="http://ns.google.com/photos/1.0/panorama/">
<g:ProjectionType>equirectangular</g:ProjectionType><g:FullPanoWidthPixels>4000</g:FullPanoWidthPixels>
<g:FullPanoHeightPixels>2000</g:FullPanoHeightPixels><g:CroppedAreaLeftPixels>3900</g:CroppedAreaLeftPixels>
<g:CroppedAreaTopPixels>20</g:CroppedAreaTopPixels><g:CroppedAreaImageWidthPixels>300</g:CroppedAreaImageWidthPixels>
<g:CroppedAreaImageHeightPixels>200</g:CroppedAreaImageHeightPixels><g:PoseHeadingDegrees>12.5</g:PoseHeadingDegrees>
<g:UsePanoramaViewer>False</g:UsePanoramaViewer></rdf:Description></rdf:RDF></x:xmpmeta>"""


@pytest.mark.parametrize("xmp", [ATTR_FORM, ELEMENT_FORM, ATTR_FORM.encode(), ELEMENT_FORM[:-30]],
                         ids=["attributes", "elements", "bytes", "broken-xml"])
def test_parse_attribute_and_element_forms(xmp: str | bytes) -> None:
    g = parse_gpano(xmp)
    assert g is not None
    assert g.placement == (4000, 2000, 3900, 20, 300, 200)
    assert g.heading_deg == 12.5 and g.use_panorama_viewer is False
    assert g.wraps and g.lon_range_deg == pytest.approx(27.0)


@pytest.mark.parametrize("xmp", [None, b"", "<x:xmpmeta/>", "not xml at all", ATTR_FORM.replace("FullPano", "X")])
def test_no_gpano_is_none(xmp: str | bytes | None) -> None:
    assert parse_gpano(xmp) is None


def test_gpano_xmp_round_trip_keeps_pose_and_extra_fields(photosphere_dir: Path) -> None:
    g = read_sphere_geometry(photosphere_dir / "PANO_20210207_152515.jpg")
    packet = gpano_xmp(g, extra={"pano:Filter": "dream", "weird key": "a<b&\"c\""})
    assert packet.startswith(b"<?xpacket begin=") and packet.rstrip().endswith(b'<?xpacket end="w"?>')
    text = packet.decode()
    assert 'xmlns:GPano="http://ns.google.com/photos/1.0/panorama/"' in text
    assert 'GPano:UsePanoramaViewer="True"' in text and "LargestValidInteriorRect" not in text
    back = parse_gpano(packet)
    assert back.placement == g.placement and back.heading_deg == 215.0
    assert dict(back.extra)["SourcePhotosCount"] == "13"
    assert 'pano:Filter="dream"' in text and "a&lt;b&amp;&quot;c&quot;" in text


def test_scaled_and_fitted() -> None:
    g = SphereGeometry(15462, 7731, 4786, 282, 5890, 4530)
    s = g.scaled(0.25)
    assert s.placement == (3866, 1933, 1196, 70, 1472, 1132)
    f = g.fitted(737, 567)  # a 1/8 JPEG draft decode
    assert (f.crop_width, f.crop_height) == (737, 567) and abs(f.full_width - 15462 * 737 / 5890) < 1
    assert g.fitted(567, 737) is None  # rotated: not this geometry
    strip = SphereGeometry(7896, 3948, 0, 1604, 7896, 807).fitted(987, 101)
    assert strip.crop_width == strip.full_width == 987  # a 360° strip stays 360°


def _smooth(h: int, w: int) -> torch.Tensor:
    y, x = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    return torch.stack([x, y, 0.5 + 0.5 * torch.sin(6 * x) * torch.cos(4 * y)])[None]


def test_place_puts_pixels_at_their_true_position_with_wrap() -> None:
    g = SphereGeometry(400, 200, 350, 50, 100, 80)  # crosses ±180°
    img = torch.zeros(1, 3, 80, 100)
    img[:, 0, 40, 10] = 1  # full column 360, row 90
    img[:, 1, 40, 60] = 1  # full column 410 -> wraps to 10
    eq, mask = place_on_sphere(img, g, fill="mean")
    assert eq.shape == (1, 3, 200, 400) and mask.shape == (1, 1, 200, 400)
    assert torch.nonzero(eq[0, 0] == 1).tolist() == [[90, 360]]
    assert torch.nonzero(eq[0, 1] == 1).tolist() == [[90, 10]]
    assert int(mask.sum()) == 80 * 100
    assert mask[0, 0, 50:130, 350:].all() and mask[0, 0, 50:130, :50].all() and not mask[0, 0, :, 50:350].any()
    assert torch.allclose(eq[0, :, 0, 200], img.mean(dim=(2, 3))[0])  # uncovered: mean colour


def test_partial_fixture_placed_and_cropped_back(photosphere_dir: Path) -> None:
    img = read_image(photosphere_dir / "PXL_20210730_144252204.PHOTOSPHERE.jpg", reduce=8)
    assert img.kind == "partial"
    eq, mask = place_on_sphere(img.pixels, img.geometry)  # full sphere at the decoded scale
    assert eq.shape[-1] == 2 * eq.shape[-2] and abs(eq.shape[-1] - 15462 * img.width / 5890) <= 2
    assert abs(mask.mean().item() - (5890 * 4530) / (15462 * 7731)) < 0.01
    back = crop_from_sphere(eq, img.geometry)
    assert back.shape == img.pixels.shape
    assert (back - img.pixels).abs().mean() < 0.03  # the odd full width (1935) is resampled to even 1936
    # at a reduced working width (saves memory): equal up to the resampling blur
    small, _ = place_on_sphere(img.pixels, img.geometry, full_width=960)
    assert small.shape == (1, 3, 480, 960)
    back = crop_from_sphere(small, img.geometry)
    assert (back - img.pixels).abs().mean() < 0.05


def test_round_trip_crossing_the_seam_at_other_sizes() -> None:
    g = SphereGeometry(1000, 500, 900, 100, 300, 200)
    img = _smooth(200, 300)
    for fw in (1000, 600, 2000):
        eq, mask = place_on_sphere(img, g, full_width=fw)
        back = crop_from_sphere(eq, g)
        assert (back - img).abs().mean() < 0.01, fw
    # a bigger output (e.g. after 2x upscaling) cut from the same sphere
    back2 = crop_from_sphere(eq, g, out_size=(400, 600))
    ref = torch.nn.functional.interpolate(img, size=(400, 600), mode="bilinear", align_corners=False)
    assert (back2 - ref).abs().mean() < 0.01


def test_written_partial_reparses_to_the_same_geometry(photosphere_dir: Path, tmp_path: Path) -> None:
    img = read_image(photosphere_dir / "PANO_20210207_152515.jpg", reduce=8)
    out = write_image(img.pixels, tmp_path / "out.jpg", like=img)
    g = read_sphere_geometry(out)
    assert g.placement == img.geometry.placement
    assert g.heading_deg == 215.0 and g.use_panorama_viewer is True
    again = read_image(out)
    assert again.kind == "partial" and again.geometry.placement == img.geometry.placement


def test_full_sphere_without_gpano_gets_one(equirect_dir: Path, tmp_path: Path) -> None:
    src = equirect_dir / "aframe_louvre.jpg"
    img = read_image(src, reduce=8)
    assert img.gpano is None and img.kind == "full"
    for ext in (".jpg", ".png", ".webp", ".tif"):
        out = write_image(img.pixels, tmp_path / f"out{ext}", like=img)
        g = read_sphere_geometry(out)
        assert g is not None and g.is_full and (g.full_width, g.full_height) == (img.width, img.height), ext
        assert g.use_panorama_viewer is True
    # also without `like`: a 2:1 image is a sphere
    out = write_image(torch.rand(1, 3, 32, 64), tmp_path / "plain.png")
    assert read_sphere_geometry(out).is_full
    # a flat photo gets none
    out = write_image(torch.rand(1, 3, 30, 40), tmp_path / "flat.png")
    assert read_sphere_geometry(out) is None
