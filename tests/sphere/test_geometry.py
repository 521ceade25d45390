"""Sphere geometry against py360convert (the oracle), analytic functions, round trips and gradients."""

from __future__ import annotations


import numpy as np
import py360convert
import pytest
import torch
from PIL import Image

from pano.sphere import (
    cubemap_to_equirect,
    cubemap_views,
    equirect_directions,
    equirect_to_cubemap,
    equirect_to_views,
    pad_cubemap,
    random_rotations,
    rotate_equirect,
    rotation_matrix,
    sample_cubemap,
    sample_equirect,
    view_directions,
    views_to_equirect,
)

PHOTOS = ["vrview_petra.jpg", "aframe_louvre.jpg"]


def load(path, size=(512, 256)) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    img.draft("RGB", (size[0] * 2, size[1] * 2))
    return np.asarray(img.resize(size, Image.BILINEAR)).astype(np.float32) / 255


def to_t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a).permute(2, 0, 1)[None].contiguous()


def smooth_field(d: torch.Tensor) -> torch.Tensor:
    """A smooth function on the sphere (3 channels), for exact-answer tests."""
    x, y, z = d.unbind(-1)
    return torch.stack([0.5 + 0.4 * torch.sin(3 * x + 2 * y), 0.5 + 0.4 * torch.cos(2 * z - y), 0.5 + 0.4 * x * y * z * 3], 0)


@pytest.fixture(scope="module", params=PHOTOS)
def photo(request, equirect_dir) -> np.ndarray:
    return load(equirect_dir / request.param)


def test_e2c_matches_py360convert(photo):
    ours = equirect_to_cubemap(to_t(photo), 128, antialias=False)[0]
    ref = py360convert.e2c(photo, 128, cube_format="list")
    for k in range(6):
        mae = np.abs(ours[k].permute(1, 2, 0).numpy() - ref[k]).mean()
        assert mae < 0.02, (k, mae)


def test_c2e_matches_py360convert(photo):
    faces = py360convert.e2c(photo, 128, cube_format="list")
    cube = torch.stack([torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1) for f in faces])[None]
    ours = cubemap_to_equirect(cube, 256, 512)[0].permute(1, 2, 0).numpy()
    ref = py360convert.c2e(faces, 256, 512, cube_format="list")
    assert np.abs(ours - ref).mean() < 0.02


@pytest.mark.parametrize("yaw,pitch,roll", [(30, 20, 0), (-120, -40, 0), (179, 10, 0), (-179, 0, 0), (170, 75, 0), (0, -85, 0), (0, 0, 30)])
def test_e2p_matches_py360convert(photo, yaw, pitch, roll):
    ref = py360convert.e2p(photo, 80, yaw, pitch, (96, 96), in_rot_deg=-roll)
    ours = equirect_to_views(to_t(photo), rotation_matrix(yaw, pitch, roll)[None], 80, 96, antialias=False)[0, 0]
    assert np.abs(ours.permute(1, 2, 0).numpy() - ref).mean() < 0.02


def test_views_of_an_analytic_field_are_exact_everywhere():
    """Across ±180°, straight up and straight down: sampled views equal the field at the view directions."""
    equi = smooth_field(equirect_directions(256, 512))[None]
    rots = rotation_matrix(torch.tensor([180.0, 0.0, 90.0, 0.0, -180.0]), torch.tensor([0.0, 90.0, -90.0, 0.0, 45.0]), 0.0)
    views = equirect_to_views(equi, rots, 90, 64, antialias=False)[0]
    truth = smooth_field(view_directions(rots, 64, 90)).permute(1, 0, 2, 3)
    assert (views - truth).abs().max() < 0.03


def test_cubemap_sampling_is_seamless_across_face_edges():
    """Views straddling cube edges and corners, sampled from padded faces, match the analytic field."""
    cube = smooth_field(view_directions(torch.eye(3)[None].expand(1, 3, 3), 8, 90))  # warm-up shapes
    from pano.sphere import face_rotations

    cube = smooth_field(view_directions(face_rotations(), 64, 90)).permute(1, 0, 2, 3)[None]
    rots = rotation_matrix(torch.tensor([45.0, 45.0, 135.0, 0.0]), torch.tensor([0.0, 35.26, -35.26, 45.0]), 0.0)
    views = cubemap_views(cube, rots, 90, 48)[0]
    truth = smooth_field(view_directions(rots, 48, 90)).permute(1, 0, 2, 3)
    assert (views - truth).abs().max() < 0.03
    # without padding (clamped faces) the error at the edges is clearly larger
    unpadded = sample_cubemap(cube, view_directions(rots, 48, 90), pad=0)[0].permute(1, 0, 2, 3)
    assert (unpadded - truth).abs().max() > (views - truth).abs().max()


def test_equirect_cubemap_round_trip(photo):
    t = to_t(photo)
    back = cubemap_to_equirect(equirect_to_cubemap(t, 160), 256, 512)
    assert (back - t).abs().mean() < 0.03


def test_rotation_then_inverse_restores_image(photo):
    t = to_t(photo)
    r = random_rotations(1, generator=torch.Generator().manual_seed(3))[0]
    restored = rotate_equirect(rotate_equirect(t, r), r.T)
    assert (restored - t).abs().mean() < 0.03
    assert (rotate_equirect(t, r) - t).abs().mean() > 0.05  # the rotation did something


def test_rotation_matrix_convention():
    fwd = torch.tensor([0.0, 0.0, 1.0])
    assert torch.allclose(rotation_matrix(90.0) @ fwd, torch.tensor([1.0, 0, 0]), atol=1e-6)
    assert torch.allclose(rotation_matrix(0.0, 90.0) @ fwd, torch.tensor([0.0, 1, 0]), atol=1e-6)
    r = random_rotations(16, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(r @ r.transpose(-1, -2), torch.eye(3).expand(16, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(16), atol=1e-5)


def test_views_back_to_equirect_restores_image(photo):
    t = to_t(photo)
    from pano.sphere import face_rotations

    rots = face_rotations()
    views = equirect_to_views(t, rots, 110, 200)
    back, weight = views_to_equirect(views, rots, 110, 256, 512)
    assert float(weight.min()) > 0  # every pixel covered
    assert (back - t).abs().mean() < 0.03


def test_gradients_flow_back_and_match_finite_differences():
    torch.manual_seed(0)
    equi = torch.rand(1, 2, 8, 16, dtype=torch.float64, requires_grad=True)
    rots = rotation_matrix(torch.tensor([170.0, 0.0]), torch.tensor([10.0, 80.0]), 0.0, dtype=torch.float64)
    dirs = view_directions(rots, 5, 70)
    assert torch.autograd.gradcheck(lambda e: sample_equirect(e, dirs, pixel_angle=0.5), (equi,))
    cube = torch.rand(1, 6, 2, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: sample_cubemap(pad_cubemap(c, 1), dirs, pad=1), (cube,))
    views = torch.rand(1, 2, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: views_to_equirect(v, rots, 70, 6, 12, antialias=False)[0], (views,))


def test_gradient_near_pole_is_spread_not_a_star():
    """A view straight up gathers its gradient into the equirect: with anti-aliasing every column of the
    rows near the pole receives gradient; a naive bilinear gather leaves most columns empty (a star)."""

    def pole_gradient(antialias: bool) -> torch.Tensor:
        equi = torch.zeros(1, 1, 256, 512, requires_grad=True)
        view = equirect_to_views(equi, rotation_matrix(0.0, 90.0)[None], 90, 64, antialias=antialias)
        view.sum().backward()
        return equi.grad[0, 0, 2:12]  # rows 0.7..4.5 degrees from the zenith

    def empty_fraction(g: torch.Tensor) -> float:
        return float((g.abs() < 1e-3 * g.abs().max()).float().mean())

    assert empty_fraction(pole_gradient(antialias=False)) > 0.5
    assert empty_fraction(pole_gradient(antialias=True)) < 0.05
    def unevenness(g: torch.Tensor) -> float:  # worst coefficient of variation along a row
        return float(g.std(dim=1).div(g.mean(dim=1)).max())

    assert unevenness(pole_gradient(antialias=True)) < 0.35
    assert unevenness(pole_gradient(antialias=False)) > 4 * unevenness(pole_gradient(antialias=True))


def test_equiangular_cubemap_round_trip_and_seamless_resize(photo):
    from pano.sphere.cubemap import face_directions, resize_cubemap

    t = to_t(photo)
    cube = equirect_to_cubemap(t, 128, equiangular=True)
    assert (cubemap_to_equirect(cube, 256, 512, equiangular=True) - t).abs().mean() < 0.03
    # an analytic field stored on an equi-angular cube, upsampled through the padded faces, stays exact
    field = smooth_field(face_directions(32, equiangular=True)).permute(1, 0, 2, 3)[None]
    up = resize_cubemap(field, 64, equiangular=True)
    truth = smooth_field(face_directions(64, equiangular=True)).permute(1, 0, 2, 3)[None]
    assert (up - truth).abs().max() < 0.03


def test_equiangular_pixels_are_more_uniform_than_gnomonic():
    """Solid angle per pixel: max/min ratio ~1.4 for EAC against ~5 for a gnomonic cube."""
    from pano.sphere.cubemap import face_directions

    def spread(eq: bool) -> float:
        d = face_directions(64, equiangular=eq)[0]
        du = d[1:, :-1] - d[:-1, :-1]
        dv = d[:-1, 1:] - d[:-1, :-1]
        area = torch.linalg.cross(du, dv).norm(dim=-1)
        return float(area.max() / area.min())

    assert spread(True) < 1.6 < 4 < spread(False)


def test_soften_wrap_seam_removes_a_stitching_step_and_nothing_else():
    from pano.metrics import wrap_seam_ratio
    from pano.sphere.seam import soften_wrap_seam

    equi = smooth_field(equirect_directions(128, 256))[None]
    stepped = equi.clone()
    stepped[..., :128] += 0.08  # a stitching step at ±180° (and one at 0°, which must stay)
    assert wrap_seam_ratio(stepped) > 3
    fixed = soften_wrap_seam(stepped)
    assert wrap_seam_ratio(fixed) < 1.25
    assert torch.equal(fixed[..., 8:-8], stepped[..., 8:-8])  # only the band at the seam changes
    assert torch.allclose(soften_wrap_seam(equi)[..., 4:-4], equi[..., 4:-4])


def test_pad_equirect_pole_rows_are_the_far_side_of_the_pole_in_every_padded_column():
    """Regression: the rows beyond a pole were rolled after the columns were padded, so half of each padded
    row was off by 2 * pad columns. Padded column j shows longitude column j - pad; beyond the north pole
    that longitude is row 0 seen half a turn away."""
    from pano.sphere import pad_equirect

    h, w, pad = 4, 8, 2
    x = torch.arange(h * w, dtype=torch.float32).view(1, 1, h, w)
    padded = pad_equirect(x, pad)[0, 0]
    for k in range(pad):  # k-th row beyond each pole = row k on the other side
        top = [x[0, 0, k, ((j - pad) + w // 2) % w].item() for j in range(w + 2 * pad)]
        bottom = [x[0, 0, h - 1 - k, ((j - pad) + w // 2) % w].item() for j in range(w + 2 * pad)]
        assert padded[pad - 1 - k].tolist() == top
        assert padded[pad + h + k].tolist() == bottom
