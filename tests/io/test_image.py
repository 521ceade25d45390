"""Reading and writing images: formats, bit depths, colour modes, orientation, metadata, atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageCms, ImageOps

from pano.errors import InputError, OutputError
from pano.io import encode as encode_mod
from pano.io.image import read_image, write_image


@pytest.fixture(scope="module")
def photo(equirect_dir: Path) -> torch.Tensor:
    """A real equirect, small: (1, 3, 64, 128) float in [0, 1], not quantised (bilinear downscale)."""
    img = read_image(equirect_dir / "pannellum_examplepano.jpg", reduce=8)
    return F.interpolate(img.pixels, size=(64, 128), mode="bilinear", antialias=True, align_corners=False)


@pytest.fixture(scope="module")
def phone_photo(photosphere_dir: Path):
    """A real phone photosphere with EXIF, ICC and GPano, decoded at 1/8."""
    return read_image(photosphere_dir / "PANO_20210207_152515.jpg", reduce=8)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("ext", "fmt", "tol"),
    [(".jpg", "JPEG", 0.03), (".png", "PNG", 0.0), (".webp", "WEBP", 0.04), (".tif", "TIFF", 0.0)],
)
def test_8bit_round_trip(photo: torch.Tensor, tmp_path: Path, ext: str, fmt: str, tol: float) -> None:
    out = write_image(photo, tmp_path / f"sphere{ext}", quality=95)
    back = read_image(out)
    assert back.format == fmt and back.bit_depth == 8 and back.kind == "full"
    expected = (photo * 255).round() / 255
    err = (back.pixels - expected).abs().mean().item()
    assert err <= tol + 1e-7, err
    assert _files(tmp_path) == [f"sphere{ext}"]  # no temporary file left


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_round_trip_is_exact(photo: torch.Tensor, tmp_path: Path, ext: str) -> None:
    out = write_image(photo, tmp_path / f"deep{ext}", bit_depth=16)
    back = read_image(out)
    assert back.bit_depth == 16
    expected = (photo * 65535).round()
    assert torch.equal((back.pixels * 65535).round(), expected)
    assert len(torch.unique(back.pixels)) > 256  # really more than 8 bits
    # a 16-bit `like` makes 16-bit output by default; uint16 arrays too
    again = write_image(back.pixels, tmp_path / f"again{ext}", like=back)
    assert read_image(again).bit_depth == 16
    arr = (np.arange(64 * 128 * 3, dtype=np.uint32) * 7 % 65536).astype(np.uint16).reshape(64, 128, 3)
    out = write_image(arr, tmp_path / f"array{ext}")
    assert np.array_equal((read_image(out).pixels[0].permute(1, 2, 0).numpy() * 65535).round().astype(np.uint16), arr)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16bit_keeps_gpano_and_icc(phone_photo, tmp_path: Path, ext: str) -> None:
    out = write_image(phone_photo.pixels, tmp_path / f"deep{ext}", like=phone_photo, bit_depth=16)
    back = read_image(out)
    assert back.bit_depth == 16 and back.kind == "partial"
    assert back.geometry.placement == phone_photo.geometry.placement
    assert back.icc == phone_photo.icc
    if ext == ".png":  # EXIF travels in PNG's eXIf chunk (the small TIFF writer has no EXIF IFD)
        assert Image.open(out).getexif().get(0x010F) == "OnePlus"


def test_grayscale_inputs_become_rgb(photo: torch.Tensor, tmp_path: Path) -> None:
    grey = (photo.mean(dim=1)[0].numpy() * 255).round().astype(np.uint8)
    Image.fromarray(grey, "L").save(tmp_path / "grey.png")
    img = read_image(tmp_path / "grey.png")
    assert img.pixels.shape == (1, 3, 64, 128) and img.bit_depth == 8
    assert torch.equal(img.pixels[0, 0], img.pixels[0, 1]) and torch.equal(img.pixels[0, 0], img.pixels[0, 2])
    assert torch.equal((img.pixels[0, 0] * 255).round().to(torch.uint8), torch.from_numpy(grey))
    grey16 = (photo.mean(dim=1)[0].numpy() * 65535).round().astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    img16 = read_image(tmp_path / "grey16.png")
    assert img16.bit_depth == 16
    assert np.array_equal((img16.pixels[0, 1].numpy() * 65535).round().astype(np.uint16), grey16)


def test_rgba_alpha_kept_and_reattached(photo: torch.Tensor, tmp_path: Path) -> None:
    rgb = (photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    a = np.tile(np.linspace(0, 255, 128).astype(np.uint8), (64, 1))
    Image.fromarray(np.dstack([rgb, a]), "RGBA").save(tmp_path / "rgba.png")
    img = read_image(tmp_path / "rgba.png")
    assert img.alpha is not None and img.alpha.shape == (1, 1, 64, 128)
    assert torch.equal((img.alpha[0, 0] * 255).round().to(torch.uint8), torch.from_numpy(a))
    for ext in (".png", ".webp", ".tif"):
        out = write_image(img.pixels, tmp_path / f"out{ext}", like=img)
        assert Image.open(out).mode == "RGBA", ext
    # upscaled output: alpha resized with it
    big = F.interpolate(img.pixels, scale_factor=2, mode="bilinear")
    out = write_image(big, tmp_path / "big.png", like=img)
    back = read_image(out)
    assert back.alpha.shape == (1, 1, 128, 256) and back.geometry.full_width == 256
    # JPEG has no alpha: dropped, the file is still written
    out = write_image(img.pixels, tmp_path / "noalpha.jpg", like=img)
    assert Image.open(out).mode == "RGB"


def test_cmyk_jpeg_becomes_rgb(photo: torch.Tensor, tmp_path: Path) -> None:
    rgb = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), "RGB")
    rgb.convert("CMYK").save(tmp_path / "cmyk.jpg", quality=98)
    img = read_image(tmp_path / "cmyk.jpg")
    assert img.pixels.shape == (1, 3, 64, 128) and img.icc is None
    assert (img.pixels - photo).abs().mean() < 0.03


def _marked(h: int = 20, w: int = 40) -> np.ndarray:
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:4, :6] = (255, 0, 0)  # red top-left corner
    arr[-4:, -6:] = (0, 0, 255)  # blue bottom-right corner
    return arr


def _with_orientation(path: Path, arr: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "PanoTestCam"
    Image.fromarray(arr).save(path, exif=exif.tobytes(), quality=100, subsampling=0)


def test_exif_orientation_6_rotates_clockwise(tmp_path: Path) -> None:
    src = tmp_path / "rot6.jpg"
    _with_orientation(src, _marked(), 6)
    img = read_image(src, mode="flat")
    assert img.orientation == 6 and img.pixels.shape == (1, 3, 40, 20)  # portrait now
    red = img.pixels[0, 0] > 0.8
    ys, xs = torch.nonzero(red, as_tuple=True)
    assert xs.min() >= 20 - 4 and ys.max() < 6  # top-left went to top-right
    out = write_image(img.pixels, tmp_path / "upright.jpg", like=img)
    exif = Image.open(out).getexif()
    assert exif[0x0112] == 1 and exif[0x010F] == "PanoTestCam"  # orientation reset, rest kept
    again = read_image(out, mode="flat")
    assert again.pixels.shape == (1, 3, 40, 20) and (again.pixels - img.pixels).abs().mean() < 0.02


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow(tmp_path: Path, orientation: int) -> None:
    src = tmp_path / f"o{orientation}.png"
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(_marked(6, 10)).save(src, exif=exif.tobytes())
    ours = (read_image(src, mode="flat").pixels[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    ref = np.asarray(ImageOps.exif_transpose(Image.open(src)).convert("RGB"))
    assert np.array_equal(ours, ref)


def test_exif_and_icc_kept_on_output(phone_photo, tmp_path: Path) -> None:
    assert phone_photo.exif is not None and phone_photo.icc is not None
    for ext in (".jpg", ".png", ".webp", ".tif"):
        out = write_image(phone_photo.pixels, tmp_path / f"keep{ext}", like=phone_photo)
        im = Image.open(out)
        assert im.info.get("icc_profile") == phone_photo.icc, ext
        exif = im.getexif()
        assert exif.get(0x010F) == "OnePlus" and exif.get(0x0112, 1) == 1, ext
        assert exif.get(0x0100, im.size[0]) == im.size[0]  # no stale source dimensions
        if ext != ".tif":  # TIFF keeps the descriptive IFD0 tags only
            ifd = exif.get_ifd(0x8769)
            if 0xA002 in ifd:
                assert ifd[0xA002] == phone_photo.width
        back = read_image(out)
        assert back.geometry.placement == phone_photo.geometry.placement, ext
    # a flat output made from a sphere (e.g. side by side) carries no stale GPano
    out = write_image(phone_photo.pixels, tmp_path / "flat.jpg", like=phone_photo, sphere=False)
    assert read_image(out, mode="flat").gpano is None and Image.open(out).info.get("icc_profile") == phone_photo.icc


def test_rgb_icc_kept_and_a_broken_cmyk_profile_falls_back(photo: torch.Tensor, tmp_path: Path) -> None:
    rgb = Image.fromarray((photo[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), "RGB")
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    rgb.save(tmp_path / "srgb.jpg", icc_profile=srgb)
    assert read_image(tmp_path / "srgb.jpg", mode="flat").icc == srgb
    # a CMYK JPEG whose embedded profile claims CMYK but cannot be used: plain conversion, profile dropped
    fake_cmyk = srgb[:16] + b"CMYK" + srgb[20:]
    rgb.convert("CMYK").save(tmp_path / "cmyk_icc.jpg", icc_profile=fake_cmyk, quality=98)
    img = read_image(tmp_path / "cmyk_icc.jpg", mode="flat")
    assert img.icc is None and (img.pixels - photo).abs().mean() < 0.03


def test_not_two_to_one_error_names_the_ways_out(tmp_path: Path) -> None:
    Image.new("RGB", (400, 300), (90, 120, 200)).save(tmp_path / "IMG.jpg")
    with pytest.raises(InputError) as e:
        read_image(tmp_path / "IMG.jpg")
    msg = e.value.format_message()
    assert "IMG.jpg is 400x300, neither 2:1 nor a GPano photosphere" in msg
    assert "--flat" in msg and "--full-sphere" in msg and "\n" not in msg
    assert read_image(tmp_path / "IMG.jpg", mode="flat").kind == "flat"
    forced = read_image(tmp_path / "IMG.jpg", mode="force-sphere")
    assert forced.kind == "full" and forced.geometry.is_full and forced.geometry.full_width == 400


def test_max_pixels_guard(tmp_path: Path) -> None:
    Image.new("RGB", (200, 100)).save(tmp_path / "s.png")
    with pytest.raises(InputError, match=r"--max-pixels 20000"):
        read_image(tmp_path / "s.png", max_pixels=19999)
    assert read_image(tmp_path / "s.png", max_pixels=20000).width == 200
    assert read_image(tmp_path / "s.png", max_pixels=0).width == 200


def test_existing_output_not_overwritten(photo: torch.Tensor, tmp_path: Path) -> None:
    target = tmp_path / "exists.jpg"
    target.write_bytes(b"precious")
    with pytest.raises(OutputError, match="--overwrite"):
        write_image(photo, target)
    assert target.read_bytes() == b"precious" and _files(tmp_path) == ["exists.jpg"]
    write_image(photo, target, overwrite=True)
    assert read_image(target).width == 128 and _files(tmp_path) == ["exists.jpg"]


def test_missing_or_unwritable_folder(photo: torch.Tensor, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="does not exist"):
        write_image(photo, tmp_path / "nope" / "out.jpg")
    with pytest.raises(OutputError, match=r"\.jpg, \.png"):
        write_image(photo, tmp_path / "out.bmp")
    if os.geteuid() == 0:  # root writes into chmod-ed folders; /sys refuses even root
        if not Path("/sys").is_dir():
            pytest.skip("running as root without /sys: no unwritable folder to test")
        with pytest.raises(OutputError, match="Permission denied|not writable"):
            write_image(photo, Path("/sys") / "pano_test_out.jpg")
        assert not list(Path("/sys").glob("*pano_test_out*"))
        return
    ro = tmp_path / "readonly"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            write_image(photo, ro / "out.jpg")
        assert _files(ro) == []
    finally:
        ro.chmod(0o755)


def test_encoder_failure_leaves_nothing_behind(photo: torch.Tensor, tmp_path: Path, monkeypatch) -> None:
    def broken(arr, tmp, *args, **kwargs):
        Path(tmp).write_bytes(b"half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(encode_mod, "write_pillow", broken)
    with pytest.raises(OutputError, match="No space left"):
        write_image(photo, tmp_path / "out.jpg")
    assert _files(tmp_path) == []


def test_jpeg_of_very_fine_detail_at_quality_95_is_written(tmp_path: Path) -> None:
    """Pillow's optimising JPEG encoder gets 2 bytes a pixel at quality 95, and per-pixel noise at 4:4:4 needs more
    ("Suspension not allowed here"): such a picture is still written, whole, and reads back."""
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (512, 1024, 3), dtype=np.uint8)
    out = write_image(noise, tmp_path / "noise.jpg")
    assert out.stat().st_size > 2 * 512 * 1024  # more than Pillow's buffer: the case that failed
    back = read_image(out).pixels[0].permute(1, 2, 0).numpy() * 255.0
    assert back.shape == noise.shape and np.abs(back - noise).mean() < 12
    assert _files(tmp_path) == ["noise.jpg"]


# A 5x3 16-bit RGBA TIFF (deflate, predictor, XMP, ICC, Make, Software) written by pano's former hand-made
# TIFF writer, before tifffile took over: files written before and after must read the same.
_TIFF16_BEFORE = (
    "SUkqAEIBAAB4nAF4AIf/+MK+z5Ma7RX9EDFecoKyJkEYfgDCtYGQ7hoZsHI/6MfqB5ArVz4QgwcpC1U7aOFu26D9Sd+ywgs/X8GkLItBrhGKN21DmSmTzY1eV39cDGGdkr5z24cnZFDtim/NjSIgIxlEiKiN9OkfTAg/Ecv7JxvcqoGNgaomL9w3JAAQABAAEAAQAE1ha2UAAHBhbm8AAAEAAQABAAEAPHg6eG1wbWV0YSB4bWxuczp4PSJhZG9iZTpuczptZXRhLyI+PHJkZjpSREYgeG1sbnM6cmRmPSJodHRwOi8vd3d3LnczLm9yZy8xOTk5LzAyLzIyLXJkZi1zeW50YXgtbnMjIi8+PC94OnhtcG1ldGE+AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJxEAAAEEAAEAAAAFAAAAAQEEAAEAAAADAAAAAgEDAAQAAACMAAAAAwEDAAEAAAAIAAAABgEDAAEAAAACAAAADwECAAUAAACUAAAAEQEEAAEAAAAIAAAAFQEDAAEAAAAEAAAAFgEEAAEAAABmZgAAFwEEAAEAAACDAAAAHAEDAAEAAAABAAAAMQECAAUAAACaAAAAPQEDAAEAAAACAAAAUgEDAAEAAAACAAAAUwEDAAQAAACgAAAAvAIBAHIAAACoAAAAc4cHACgAAAAaAQAAAAAAAA=="
)


def test_16bit_tiff_written_by_tifffile_reads_like_one_written_before(tmp_path: Path) -> None:
    import base64

    import tifffile

    from pano.io.encode import write_tiff_16

    before = tmp_path / "before.tif"
    before.write_bytes(base64.b64decode(_TIFF16_BEFORE))
    with tifffile.TiffFile(before) as tif:
        page = tif.pages[0]
        pixels, xmp, icc = page.asarray(), bytes(page.tags[700].value), bytes(page.tags[34675].value)
        text = {code: page.tags[code].value for code in (271, 305)}
    assert pixels.dtype == np.uint16 and pixels.shape == (3, 5, 4) and len(np.unique(pixels)) > 50

    after = tmp_path / "after.tif"
    write_tiff_16(pixels, after, xmp, icc, text)
    with tifffile.TiffFile(after) as tif:
        page = tif.pages[0]
        assert np.array_equal(page.asarray(), pixels)
        assert bytes(page.tags[700].value) == xmp and bytes(page.tags[34675].value) == icc
        assert page.tags[34675].dtype == 7  # ICC as UNDEFINED, as before
        assert {code: page.tags[code].value for code in (271, 305)} == text
        assert page.compression == 8 and page.predictor == 2 and page.extrasamples == (2,)
    a, b = read_image(before, mode="flat"), read_image(after, mode="flat")
    assert a.bit_depth == b.bit_depth == 16
    assert torch.equal(a.pixels, b.pixels) and torch.equal(a.alpha, b.alpha)
