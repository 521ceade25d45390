"""Seamless tiled upscaling on the sphere: tiles leave no trace, ±180° is no seam, poles, memory paths."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pano.errors import DeviceError, ModelError
from pano.filters.upscale import UpscaleFilter, pad_sphere, soften_block_grid, upscale_tensor
from pano.metrics import _views, cube_edge_ratio, ring_anisotropy, wrap_seam_ratio

from tests._spheres import isotropic_sphere

TILE = 40  # petra is 48 x 96: 2 rows x 4 columns of overlapping tiles
FLAT = {"wrap_x": False, "pole_top": False, "pole_bottom": False}


def _untiled(x: torch.Tensor, descriptor, context: int = 24) -> torch.Tensor:
    """The reference: the whole (sphere-padded) image through the network in one piece."""
    s = descriptor.scale
    with torch.no_grad():
        y = soften_block_grid(descriptor.model(pad_sphere(x, context, context, context, context)), s).clamp(0, 1)
    return y[..., context * s : -context * s, context * s : -context * s]


@pytest.fixture(scope="module")
def tiled(petra, compact):
    """petra x4 from overlapping tiles, equirect tiles only (no pole views)."""
    return upscale_tensor(petra, compact, tile=TILE, pole_views=False)


def test_pad_sphere_continues_over_the_poles_and_around():
    x = torch.arange(24.0).view(1, 1, 4, 6)
    p = pad_sphere(x, 2, 2, 3, 3)
    assert p.shape == (1, 1, 8, 12)
    assert torch.equal(p[..., 2:6, 3:9], x)
    assert torch.equal(p[..., 2:6, :3], x[..., 3:]) and torch.equal(p[..., 2:6, 9:], x[..., :3])  # wrap
    # the row above the top row is the top row half a turn away; two rows up, the second row
    assert torch.equal(p[..., 1, 3:9], x[..., 0, :].roll(3, -1)) and torch.equal(p[..., 0, 3:9], x[..., 1, :].roll(3, -1))
    assert torch.equal(p[..., 6, 3:9], x[..., 3, :].roll(3, -1))
    flat = pad_sphere(x, 1, 1, 1, 1, **FLAT)  # partial panorama: reflect
    assert torch.equal(flat[..., 0, 1:7], x[..., 1, :]) and torch.equal(flat[..., 1:5, 0], x[..., :, 1])


def test_tiles_leave_no_trace(petra, compact, tiled):
    """8 overlapping tiles blended = the whole padded sphere through the network in one piece."""
    assert tiled.shape == (1, 3, 192, 384)
    diff = (tiled - _untiled(petra, compact)).abs()
    assert float(diff.max()) < 2e-3 and float(diff.mean()) < 1e-4


def test_longitude_180_is_an_ordinary_column(petra, compact, tiled):
    """Turning the sphere half a turn before upscaling and back after changes nothing: there is no seam,
    and the seam and cube-edge measures are those of any other longitude of the output."""
    turned = upscale_tensor(petra.roll(48, -1), compact, tile=TILE, pole_views=False).roll(-192, -1)
    assert float((turned - tiled).abs().max()) < 2e-3
    others = torch.tensor([wrap_seam_ratio(tiled.roll(k, -1)) for k in range(12, 384, 24)])
    assert wrap_seam_ratio(tiled) <= 1.1 * float(others.quantile(0.9))
    assert cube_edge_ratio(tiled, size=256) <= 1.1 * cube_edge_ratio(tiled.roll(48, -1), size=256)


def test_pole_views_remove_the_polar_star(petra, compact, tiled):
    """At the nadir the equirect tiles sharpen horizontally stretched texture into a radial star; the
    caps upscaled in views straight down do not. Measured as the radial/tangential gradient balance."""
    with_views = upscale_tensor(petra, compact, tile=TILE)
    # below 55° latitude the equirect tiles alone (tile positions differ: the caps' rows are skipped)
    assert float((with_views[..., 64:128, :] - tiled[..., 64:128, :]).abs().max()) < 2e-3
    star = [float(ring_anisotropy(_views(y, [0.0], [-90.0], 128)[0]).abs().max()) for y in (tiled, with_views)]
    assert star[1] < star[0]


def test_a_stitched_seam_is_spread_not_sharpened(compact):
    """Stitchers often leave a colour step at ±180°, which SR would sharpen into a line. The filter spreads
    it over W/128 columns first (as pano dream does), so the seam scores like any other column;
    ``repair_seam=False`` (``--keep-seam``) leaves it. Nothing else changes: away from the seam (beyond the
    band and the compact net's 18-px reach) and outside the polar caps the two outputs are the same."""
    sphere = isotropic_sphere(64, seed=3)  # 128 x 64
    w = sphere.shape[-1]
    drift = (torch.arange(w) + 0.5) / w - 0.5  # an exposure drift around the sphere: a 0.3 step at ±180°
    stitched = (sphere + 0.3 * drift).clamp(0, 1)
    repaired = UpscaleFilter(descriptor=compact, device="cpu", tile=48)(stitched)
    kept = UpscaleFilter(descriptor=compact, device="cpu", tile=48, repair_seam=False)(stitched)
    others = torch.tensor([wrap_seam_ratio(repaired.roll(k, -1)) for k in range(12, 4 * w, 24)])
    print("wrap: input", wrap_seam_ratio(stitched), "kept", wrap_seam_ratio(kept), "repaired", wrap_seam_ratio(repaired),
          "other columns p90", float(others.quantile(0.9)))
    assert wrap_seam_ratio(stitched) > 2 and wrap_seam_ratio(kept) > 2
    assert wrap_seam_ratio(repaired) <= float(others.quantile(0.9))
    reach = 4 * (4 + 20)  # output columns: the band (W/128, at least 4) plus the net's reach, x4
    rows = slice(4 * 20, 4 * 44)  # |latitude| < 45°: outside the polar caps
    assert torch.allclose(repaired[..., rows, reach:-reach], kept[..., rows, reach:-reach], atol=1e-5)
    assert UpscaleFilter(descriptor=compact, device="cpu").params()["repair_seam"] is True


def test_uint8_output_and_scale_below_the_model(petra, compact):
    crop = petra[..., :24, :48]
    ref = upscale_tensor(crop, compact, tile=TILE, **FLAT)
    u8 = upscale_tensor(crop, compact, tile=TILE, **FLAT, out_dtype=torch.uint8, out_device="cpu")
    assert u8.dtype == torch.uint8 and u8[0].permute(1, 2, 0).is_contiguous()  # numpy-ready, no copy
    assert float((u8.float() / 255 - ref).abs().max()) <= 0.5 / 255 + 1e-4
    batched = upscale_tensor(crop, compact, tile=TILE, batch=2, **FLAT)  # the GPU path: tiles batched
    assert float((batched - ref).abs().max()) < 1e-5
    x2 = upscale_tensor(crop, compact, scale=2, tile=TILE, **FLAT)
    assert x2.shape == (1, 3, 48, 96)
    down = F.interpolate(ref, scale_factor=0.5, mode="bicubic", antialias=True).clamp(0, 1)
    assert float((x2 - down)[..., 4:-4, 4:-4].abs().mean()) < 0.01
    with pytest.raises(ModelError, match="scale 8"):
        upscale_tensor(crop, compact, scale=8)


class _OomAbove(torch.nn.Module):
    """Wraps a model; raises CUDA-style out-of-memory for inputs larger than ``limit`` pixels a side."""

    def __init__(self, model: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = model, limit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if max(x.shape[-2:]) > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner(x)


def test_out_of_memory_halves_the_tile_and_says_so(petra, compact):
    original = compact.model
    wrapper = _OomAbove(original, limit=80)
    messages: list[str] = []
    crop = petra[..., :24, :]
    try:
        compact._model = wrapper  # spandrel keeps the module in _model
        out = upscale_tensor(crop, compact, tile=96, **FLAT, progress=lambda d, t, label: messages.append(label))
        assert out.shape == (1, 3, 96, 384)
        assert "out of memory: retrying with tile 48, batch 1" in messages
        wrapper.limit = 0
        with pytest.raises(DeviceError, match="out of memory"):
            upscale_tensor(crop, compact, tile=32, **FLAT)
    finally:
        compact._model = original


def test_partial_panorama_does_not_wrap(petra, compact):
    """A crop that does not span 360°: its left edge must not see its right edge."""
    crop = petra[..., :24, :48].clone()
    changed = crop.clone()
    changed[..., -6:] = 1 - changed[..., -6:]
    a = upscale_tensor(crop, compact, tile=64, **FLAT)
    b = upscale_tensor(changed, compact, tile=64, **FLAT)
    assert a.shape == (1, 3, 96, 192)
    assert torch.equal(a[..., :48], b[..., :48])
    strip = upscale_tensor(petra[..., :12, :], compact, tile=96, pole_bottom=False)  # 360°, north pole only
    assert strip.shape == (1, 3, 48, 384) and 0 <= float(strip.min()) and float(strip.max()) <= 1


def test_filter_protocol(petra, compact):
    filt = UpscaleFilter("realesr-animevideov3", scale=2, tile=64, device="cpu", descriptor=compact)
    assert filt.info.scale == 2 and filt.info.name == "upscale"
    out = filt(petra[..., :16, :32])
    assert out.shape == (1, 3, 32, 64) and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    params = filt.params()
    assert params["model"] == "realesr-animevideov3" and params["scale"] == 2 and params["precision"] == "float32"
    with pytest.raises(ModelError, match="--scale 4 or lower"):
        UpscaleFilter("realesr-animevideov3", scale=8, device="cpu", descriptor=compact)
    assert UpscaleFilter(device="cpu").model_name == "realesr-animevideov3"  # auto: the fast net on the CPU
