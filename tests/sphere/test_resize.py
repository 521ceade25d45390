"""pano.sphere.resize_equirect: the one sphere-aware resize (wrap at ±180°, rows beyond a pole half a turn away,
antialiased when shrinking), against the plain clamped resize it replaces."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pano.metrics import wrap_seam_ratio
from pano.sphere.convention import equirect_directions
from pano.sphere.resize import resize_equirect


def clamped(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The resize pano used before: torch's, which clamps at the image borders."""
    return F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False)


def smooth_field(h: int, w: int) -> torch.Tensor:
    """A smooth function on the sphere (not of the equirect), sampled at the pixel centres of an h x w equirect."""
    d = equirect_directions(h, w, dtype=torch.float64)
    return (torch.sin(3 * d[..., 0]) * torch.cos(2 * d[..., 1]) + d[..., 2] * d[..., 0]).float()[None, None]


@pytest.mark.parametrize("size", [(100, 200), (137, 333), (300, 1000)])
@pytest.mark.parametrize("mode", ["bicubic", "bilinear"])
def test_away_from_the_borders_it_is_torchs_antialiased_resize(size, mode):
    x = torch.rand(1, 3, 300, 600, generator=torch.Generator().manual_seed(0))
    ours = resize_equirect(x, size, mode=mode)
    torchs = F.interpolate(x, size=size, mode=mode, antialias=True, align_corners=False)
    h, w = size
    inner = (..., slice(h // 8, -(h // 8)), slice(w // 8, -(w // 8)))
    assert ours.shape == torchs.shape
    assert (ours - torchs)[inner].abs().max() < 1e-4
    assert (ours - torchs).abs().max() > 0.02  # the borders differ: there ours wraps and crosses the poles


def test_turning_the_sphere_turns_the_result():
    """Wrap-around is exact: a sphere turned by 3 columns of 300 gives the result turned by 1 column of 100."""
    x = torch.rand(1, 3, 150, 300, generator=torch.Generator().manual_seed(1))
    turned_first = resize_equirect(x.roll(3, -1), (50, 100))
    assert torch.allclose(turned_first, resize_equirect(x, (50, 100)).roll(1, -1), atol=1e-6)
    assert not torch.allclose(clamped(x.roll(3, -1), (50, 100)), clamped(x, (50, 100)).roll(1, -1), atol=1e-3)


def test_a_smooth_function_on_the_sphere_stays_right_at_the_poles_and_the_seam():
    """Upsampled, a smooth field on the sphere matches the field itself everywhere, the pole rows and the
    columns at ±180° included; the clamped resize is 100x further off there."""
    src, truth = smooth_field(64, 128), smooth_field(100, 200)
    ours, theirs = resize_equirect(src, (100, 200)), clamped(src, (100, 200))
    for rows in (slice(0, 2), slice(-2, None)):
        assert (ours - truth)[..., rows, :].abs().max() < 5e-4
        assert (theirs - truth)[..., rows, :].abs().max() > 5e-3
    for cols in (slice(0, 2), slice(-2, None)):
        assert (ours - truth)[..., cols].abs().max() < 5e-4
        assert (theirs - truth)[..., cols].abs().max() > 5e-3


def test_no_wrap_seam_when_resized_to_and_from_a_size_that_does_not_divide_the_input(equirect_dir):
    """A real photo, 1000 px wide, down to a width 1000 is not a multiple of and back up (what a dream at a
    working size does): the wrap-seam measure stays at the input's; the clamped resize makes a seam."""
    from pano.io.image import read_image

    x = read_image(equirect_dir / "vrview_petra.jpg", mode="force-sphere", reduce=2).pixels
    x = resize_equirect(x, (500, 1000)).clamp(0, 1)
    limit = max(1.25, 1.1 * wrap_seam_ratio(x))
    for size in [(192, 384), (150, 300)]:
        assert wrap_seam_ratio(resize_equirect(resize_equirect(x, size), (500, 1000))) <= limit
        assert wrap_seam_ratio(clamped(clamped(x, size), (500, 1000))) > limit  # the baseline is caught


def test_shapes_dtypes_and_tiny_images():
    x = torch.rand(2, 3, 4, 8, dtype=torch.float16)
    assert resize_equirect(x, (16, 32)).dtype == torch.float16
    assert resize_equirect(x, (16, 32)).shape == (2, 3, 16, 32)
    assert resize_equirect(torch.rand(5, 7, 14), (3, 6)).shape == (5, 3, 6)  # any leading dims
    assert resize_equirect(torch.full((1, 1, 3, 6), 0.25), (40, 80)).sub(0.25).abs().max() < 1e-6  # a constant stays
    same = torch.rand(1, 3, 10, 20)
    assert resize_equirect(same, (10, 20)) is same
    with pytest.raises(ValueError):
        resize_equirect(same, (10, 20), mode="nearest")
