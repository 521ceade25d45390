"""Issue 16 #8 and #13: GPano geometry is validated against itself and the image; a 1x1 image is no sphere.

Each impossible block is refused in sphere mode with a message naming the field and the ways around it
(--full-sphere, --flat); --full-sphere then treats the file as a full sphere. Files are made here with
real GPano XMP (the writer's own packet, fields edited)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pano.errors import InputError
from pano.io.gpano import SphereGeometry, gpano_problem, gpano_xmp, parse_gpano
from pano.io.image import is_two_to_one, read_image


def gpano_packet(full_w, full_h, left, top, crop_w, crop_h) -> bytes:
    """A real GPano packet (pano's writer) with the six placement fields set to these raw values."""
    packet = gpano_xmp(SphereGeometry(4000, 2000, 1, 2, 300, 200)).decode()
    for name, old, new in (
        ("FullPanoWidthPixels", 4000, full_w), ("FullPanoHeightPixels", 2000, full_h),
        ("CroppedAreaLeftPixels", 1, left), ("CroppedAreaTopPixels", 2, top),
        ("CroppedAreaImageWidthPixels", 300, crop_w), ("CroppedAreaImageHeightPixels", 200, crop_h),
    ):
        packet = packet.replace(f'GPano:{name}="{old}"', f'GPano:{name}="{new}"')
    assert parse_gpano(gpano_xmp(SphereGeometry(4000, 2000, 1, 2, 300, 200))) is not None
    return packet.encode()


def jpeg_with_gpano(path: Path, size: tuple[int, int], packet: bytes) -> Path:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, xmp=packet, quality=90)
    return path


# (full_w, full_h, left, top, crop_w, crop_h), image size, the field the message must name
IMPOSSIBLE = {
    "crop-wider-than-full-pano": ((200, 100, 0, 0, 300, 100), (300, 100), "CroppedAreaImageWidthPixels=300 is wider"),
    "crop-below-the-pole": ((400, 200, 0, 150, 120, 100), (120, 100), "passes the bottom pole"),
    "crop-taller-than-sphere": ((400, 200, 0, 0, 200, 400), (200, 400), "CroppedAreaImageHeightPixels=400 is taller"),
    "full-pano-2e9-wide": ((2_000_000_000, 1_000_000_000, 0, 0, 160, 80), (160, 80), "FullPanoWidthPixels=2000000000 is over"),
    "negative-left": ((400, 200, -5, 0, 160, 80), (160, 80), "CroppedAreaLeftPixels=-5 is outside"),
    "negative-top": ((400, 200, 0, -5, 160, 80), (160, 80), "CroppedAreaTopPixels=-5 is negative"),
    "zero-full-width": ((0, 200, 0, 0, 160, 80), (160, 80), "FullPanoWidthPixels=0 is not a positive size"),
    "full-pano-not-2-to-1": ((400, 300, 0, 0, 160, 80), (160, 80), "are not 2:1"),
    "1x1-full-pano": ((1, 1, 0, 0, 1, 1), (1, 1), "are not 2:1"),
}


@pytest.mark.parametrize("case", list(IMPOSSIBLE))
def test_impossible_gpano_is_an_error_naming_the_field(case: str, tmp_path: Path) -> None:
    fields, size, named = IMPOSSIBLE[case]
    packet = gpano_packet(*fields)
    assert named in (gpano_problem(packet) or "")
    assert parse_gpano(packet) is None  # never used as geometry
    path = jpeg_with_gpano(tmp_path / f"{case}.jpg", size, packet)
    with pytest.raises(InputError) as err:
        read_image(path)
    message = err.value.format_message()
    assert named in message and "--full-sphere" in message and "--flat" in message
    # the ways around it work: --full-sphere ignores the block, --flat ignores the sphere
    if size == (1, 1):  # a 1x1 image is no sphere, whatever its GPano says
        with pytest.raises(InputError, match="too small for a sphere"):
            read_image(path, mode="force-sphere")
    else:
        forced = read_image(path, mode="force-sphere")
        assert forced.kind == "full" and forced.geometry.is_full and forced.geometry.full_width == size[0]
    assert read_image(path, mode="flat").kind == "flat"


def test_valid_gpano_blocks_stay_valid(photosphere_dir: Path) -> None:
    """The real phone photospheres (partial, wrapping, strips) pass the validation unchanged."""
    from pano.io.gpano import read_xmp

    files = [p for p in sorted(photosphere_dir.iterdir()) if p.suffix.lower() == ".jpg"]
    assert files
    for path in files:
        assert gpano_problem(read_xmp(path)) is None, path.name
        assert parse_gpano(read_xmp(path)) is not None, path.name
    # a crop crossing ±180° is valid (left + width > full width)
    assert gpano_problem(gpano_packet(4000, 2000, 3900, 20, 300, 200)) is None


def test_one_pixel_image_is_not_a_full_sphere(tmp_path: Path) -> None:
    """#13: the 2:1 test scales with size; tiny images must be exactly 2:1."""
    assert not is_two_to_one(1, 1) and not is_two_to_one(3, 1) and not is_two_to_one(3, 2)
    assert is_two_to_one(2, 1) and is_two_to_one(4097, 2048) and is_two_to_one(8192, 4116)
    assert not is_two_to_one(100, 48) and not is_two_to_one(8192, 4140)
    Image.new("RGB", (1, 1), (9, 9, 9)).save(tmp_path / "one.png")
    with pytest.raises(InputError, match="neither 2:1"):
        read_image(tmp_path / "one.png")
