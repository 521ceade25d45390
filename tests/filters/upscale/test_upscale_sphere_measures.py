"""The dream issue's sphere measures on upscaled spheres: the upscaled output is no worse than its input
(wrap and cube edges within 10 %, poles within 0.05), and the baselines that would leave a seam or a polar
star are caught. Also: the compact net's faint block grid is evened out.

The measures are statistics of one image: on spheres with no preferred place (``isotropic_sphere``) a
single sphere's wrap or cube-edge ratio scatters by about ±10 % from seed to seed, in the input as in the
output. The 10 % limits are therefore checked on the geometric mean over several random spheres, the
pole limit (whose changes are larger than its scatter) on every sphere.
"""

from __future__ import annotations

import math

import pytest
import torch

from pano.filters.upscale import BLOCK_GRID_SOFTENING, soften_block_grid, upscale_tensor
from pano.metrics import TURN, cube_edge_ratio, pole_anisotropy, pole_minus_equator, wrap_seam_ratio

from tests._spheres import isotropic_sphere, sphere_and_turned_from
from tests.filters.upscale._upscale_data import sphere_from

SEEDS = range(4)
HEIGHT = 256  # x4 -> 1024 x 2048: the output matches the measures' 512-px, 90° views


@pytest.fixture(scope="module")
def isotropic_runs(compact):
    """Per seed: (input, upscaled) with the defaults (pole caps, wrap-around)."""
    runs = []
    for seed in SEEDS:
        x = isotropic_sphere(HEIGHT, seed)
        runs.append((x, upscale_tensor(x, compact)))
    return runs


@pytest.fixture(scope="module")
def no_caps(isotropic_runs, compact):
    """The first random sphere upscaled by equirect tiles alone (no pole caps): a baseline of two tests."""
    return upscale_tensor(isotropic_runs[0][0], compact, pole_views=False)


def _geomean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def test_upscaled_spheres_are_no_worse_than_their_input(isotropic_runs):
    wrap = [wrap_seam_ratio(y) / wrap_seam_ratio(x) for x, y in isotropic_runs]
    cube = [cube_edge_ratio(y) / cube_edge_ratio(x) for x, y in isotropic_runs]
    poles = [(pole_anisotropy(x), pole_anisotropy(y)) for x, y in isotropic_runs]
    print("wrap out/in", [round(v, 3) for v in wrap], "cube out/in", [round(v, 3) for v in cube], "poles in, out", poles)
    assert _geomean(wrap) <= 1.1
    assert _geomean(cube) <= 1.1
    assert all(out <= inp + 0.05 for inp, out in poles)
    assert all(out <= 0.3 for _, out in poles)


def test_the_measures_catch_an_upscaler_that_ignores_the_sphere(isotropic_runs, no_caps, compact):
    """Equirect tiles alone (no pole caps) sharpen the stretched texture near the poles into rings; tiles
    that do not wrap around (reflect padding at ±180°) leave a seam."""
    x, y = isotropic_runs[0]
    assert pole_anisotropy(no_caps) > pole_anisotropy(x) + 0.15
    assert pole_anisotropy(no_caps) > pole_anisotropy(y) + 0.15
    flat = upscale_tensor(x, compact, pole_views=False, wrap_x=False, pole_top=False, pole_bottom=False)
    assert wrap_seam_ratio(flat) > 3 * wrap_seam_ratio(x)


def test_the_same_content_scores_the_same_at_a_pole_as_on_the_equator(isotropic_runs, no_caps, compact, equirect_dir):
    """What "no new pole artefacts" means, checked directly: each sphere is upscaled once as it is and once
    turned (``TURN``) so that pole content lies on the equator and equator content at the poles; in the
    outputs, the same content must have the same ring anisotropy at a pole as on the equator.

    The pole measure cannot say this on real photos: it compares the pole with other content, and the input
    equirect is not neutral there. Near a pole its pixels are finer along the longitude than across it, so
    the same content scores star-wards at a pole (measured on the three photos here at 512x256: -0.31,
    -0.26, -0.21 by ring), which bicubic interpolation keeps (-0.30, -0.29, -0.21 over five photos) and the
    cap views remove (-0.02, -0.04, -0.05). That is why a photo's pole measure can move either way under SR
    (petra 0.33 -> 0.48, examplepano 0.60 -> 0.44)."""
    iso = torch.stack(
        [pole_minus_equator(y, upscale_tensor(isotropic_sphere(HEIGHT, seed, turn=TURN), compact))
         for seed, (_, y) in zip(SEEDS, isotropic_runs)]
    ).flatten(0, 1).mean(0)
    x0_turned = isotropic_sphere(HEIGHT, 0, turn=TURN)
    no_caps = pole_minus_equator(no_caps, upscale_tensor(x0_turned, compact, pole_views=False)).mean(0)
    photos_in, photos_out = [], []
    for name in ("vrview_petra.jpg", "aframe_louvre.jpg", "pannellum_examplepano.jpg"):
        x, x_turned = sphere_and_turned_from(equirect_dir / name, HEIGHT, TURN)
        photos_in.append(pole_minus_equator(x, x_turned))
        photos_out.append(pole_minus_equator(upscale_tensor(x, compact), upscale_tensor(x_turned, compact)))
    photo_in, photo_out = torch.cat(photos_in).mean(0), torch.cat(photos_out).mean(0)
    print("pole minus equator by ring: random spheres", iso.tolist(), "without caps", no_caps.tolist(),
          "photos in", photo_in.tolist(), "photos out", photo_out.tolist())
    assert iso.abs().max() <= 0.1 and photo_out.abs().max() <= 0.1
    assert no_caps.max() > 0.15  # equirect tiles alone paint rings at the poles: caught
    assert photo_in.max() < -0.1  # the input's own star-ward bias at the poles, gone in the output


def _boundary_energy(y: torch.Tensor, block: int = 4) -> tuple[float, float]:
    """Mean squared difference of the column pairs and row pairs that straddle a ``block``-px boundary,
    relative to the mean over all pairs (1.0: no grid)."""
    lum = y[0].mean(0)
    dx = (lum[:, 1:] - lum[:, :-1]).pow(2)
    dy = (lum[1:] - lum[:-1]).pow(2)
    return float(dx[:, block - 1 :: block].mean() / dx.mean()), float(dy[block - 1 :: block].mean() / dy.mean())


def test_no_block_grid_on_real_photos(equirect_dir, compact):
    """animevideov3 adds a nearest-upsampled copy of its input: without softening, the pairs on input-pixel
    boundaries carry ~1.5x the average gradient energy (a faint 4-px grid, which also made every boundary
    column, ±180° among them, score ~1.2 on the wrap measure)."""
    raw_model = compact.model
    for name in ("vrview_petra.jpg", "pannellum_examplepano.jpg"):
        x = sphere_from(equirect_dir / name, 128)
        y = upscale_tensor(x, compact)
        assert all(0.85 <= e <= 1.15 for e in _boundary_energy(y)), _boundary_energy(y)
        with torch.no_grad():
            raw = raw_model(x).clamp(0, 1)
        assert all(e > 1.3 for e in _boundary_energy(raw)), _boundary_energy(raw)
        assert cube_edge_ratio(y) <= 1.1 * cube_edge_ratio(x)


def test_soften_block_grid_moves_a_fraction_of_each_boundary_step():
    x = torch.rand(1, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    y = torch.nn.functional.interpolate(x, scale_factor=4, mode="nearest")
    out = soften_block_grid(y.clone(), 4)
    a = BLOCK_GRID_SOFTENING
    rows = [r for r in range(20) if r % 4 in (1, 2)]  # rows the row-boundary mix does not touch
    for c in (3, 7, 11, 15, 19):
        step = y[..., rows, c + 1] - y[..., rows, c]
        assert torch.allclose(out[..., rows, c + 1] - out[..., rows, c], (1 - 2 * a) * step, atol=1e-6)
    assert torch.equal(out[..., 1:3, 1:3], y[..., 1:3, 1:3])  # inside a block nothing moves
    assert torch.allclose(out.mean(), y.mean(), atol=1e-6)  # only exchanges between neighbours
    assert torch.equal(soften_block_grid(y.clone(), 1), y)
