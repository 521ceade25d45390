"""Measures of how well a filter respects the sphere: wrap seam, cube-face edges, pole artefacts.

All take an equirect ``(1, C, H, W)`` or ``(C, H, W)`` float tensor (any range) and work on its luminance.
They are the acceptance measures of ``pano dream`` (see the README): lower is better for the first two
(1.0 = no trace), the pole measure is 0 for a sphere whose poles look like its equator.
"""

from __future__ import annotations


import torch
from torch import Tensor

from pano.sphere.rotation import rotation_matrix
from pano.sphere.views import equirect_to_views


def _luma(equi: Tensor) -> Tensor:
    equi = equi.detach().float()
    if equi.dim() == 3:
        equi = equi[None]
    if equi.shape[1] >= 3:
        w = torch.tensor([0.299, 0.587, 0.114], device=equi.device).view(1, 3, 1, 1)
        return (equi[:, :3] * w).sum(1, keepdim=True)
    return equi[:, :1]


def wrap_seam_ratio(equi: Tensor, *, max_lat_deg: float = 60.0, pairs: int = 8) -> float:
    """Mean |difference| between the first and last column (rows within ``±max_lat_deg``) divided by the
    mean |difference| of the ``pairs`` neighbouring column pairs on each side of the seam."""
    y = _luma(equi)[0, 0]
    h, w = y.shape
    lat = (0.5 - (torch.arange(h, device=y.device) + 0.5) / h) * 180
    y = y[lat.abs() <= max_lat_deg]
    seam = (y[:, 0] - y[:, -1]).abs().mean()
    left = (y[:, 1 : pairs + 1] - y[:, :pairs]).abs().mean()
    right = (y[:, w - pairs :] - y[:, w - pairs - 1 : w - 1]).abs().mean()
    return float(seam / ((left + right) / 2).clamp_min(1e-12))


def _views(equi: Tensor, yaw, pitch, size: int) -> Tensor:
    rots = rotation_matrix(torch.tensor(yaw, dtype=torch.float32), torch.tensor(pitch, dtype=torch.float32), 0.0)
    return equirect_to_views(_luma(equi), rots, 90.0, size)[0, :, 0]  # (N, s, s)


def cube_edge_ratio(equi: Tensor, *, size: int = 512, near: int = 3, far: int = 12) -> float:
    """Median over the 12 edges of the unrotated cube of: gradient energy across the edge on the centre line of
    a ``size``-px 90° view centred on the edge, divided by the median over the lines ``near..far`` px away."""
    yaws = [45.0 + 90 * k for k in range(4)] + [90.0 * k for k in range(4)] * 2
    pitches = [0.0] * 4 + [45.0] * 4 + [-45.0] * 4
    views = _views(equi, yaws, pitches, size)
    c = size // 2 - 1  # the edge lies between pixels c and c + 1
    ratios = []
    for k, view in enumerate(views):
        vertical_edge = k < 4
        d = (view[:, 1:] - view[:, :-1]) if vertical_edge else (view[1:, :] - view[:-1, :]).T
        energy = (d * d).mean(0)  # per line, across the edge direction
        others = torch.cat([energy[c - far : c - near + 1], energy[c + near : c + far + 1]])
        ratios.append(energy[c] / others.median().clamp_min(1e-12))
    return float(torch.stack(ratios).median())


def ring_anisotropy(view: Tensor, rings=((0.01, 0.08), (0.08, 0.18), (0.18, 0.32))) -> Tensor:
    """``(R - T) / (R + T)`` of the gradient energy split into radial and tangential parts about the view
    centre, for rings given as fractions of the view size. Returns ``(len(rings),)``."""
    s = view.shape[-1]
    gy, gx = torch.gradient(view)
    coords = torch.arange(s, device=view.device, dtype=view.dtype) + 0.5 - s / 2
    yy, xx = coords[:, None].expand(s, s), coords[None, :].expand(s, s)
    r = torch.sqrt(xx * xx + yy * yy).clamp_min(1e-6)
    radial = (gx * xx + gy * yy) / r
    tangential = (-gx * yy + gy * xx) / r
    out = []
    for lo, hi in rings:
        m = (r >= lo * s) & (r < hi * s)
        big_r, big_t = (radial[m] ** 2).sum(), (tangential[m] ** 2).sum()
        out.append((big_r - big_t) / (big_r + big_t).clamp_min(1e-12))
    return torch.stack(out)


def ring_anisotropy_at(equi: Tensor, yaw_deg, pitch_deg, *, size: int = 512) -> Tensor:
    """:func:`ring_anisotropy` of ``size``-px, 90° views of ``equi`` looking at each ``(yaw, pitch)`` (degrees;
    yaw is the longitude, pitch the latitude of the view centre). Returns ``(N, 3)``."""
    return torch.stack([ring_anisotropy(v) for v in _views(equi, list(yaw_deg), list(pitch_deg), size)])


def pole_anisotropy(equi: Tensor, *, size: int = 512) -> float:
    """Worst absolute difference, over three rings and both poles, between the ring anisotropy of a view
    straight up/down and the same ring averaged over four views on the equator. A star at a pole pushes it
    towards 1 (anisotropy -1), concentric rings too (anisotropy +1); an isotropic sphere scores near 0."""
    aniso = ring_anisotropy_at(equi, [0.0, 0.0, 0.0, 90.0, 180.0, -90.0], [90.0, -90.0, 0.0, 0.0, 0.0, 0.0], size=size)
    equator = aniso[2:].mean(0)
    return float((aniso[:2] - equator).abs().max())


# TURN @ (x, y, z) = (y, z, x), a 120° turn about (1, 1, 1). On a sphere turned by it
# (``pano.sphere.rotate_equirect(x, TURN)``) the content of the unturned sphere's poles lies on the
# equator, and the content of two of its equator views lies at the poles.
TURN = torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
# (yaw, pitch) of the same content: on the unturned sphere, on the turned one. The first two sit at a pole
# on the unturned sphere, the last two on the turned one.
SAME_CONTENT = (((0.0, 90.0), (0.0, 0.0)), ((0.0, -90.0), (180.0, 0.0)), ((90.0, 0.0), (0.0, 90.0)), ((-90.0, 0.0), (0.0, -90.0)))


def pole_minus_equator(unturned: Tensor, turned: Tensor) -> Tensor:
    """Ring anisotropy (the three rings of :func:`pole_anisotropy`) of the same content at a pole minus on
    the equator, for the four contents of ``SAME_CONTENT``: ``(4, 3)``.

    ``turned`` is the same sphere turned by ``TURN``, or a filter's output for it. A filter that treats the
    poles like the equator scores 0 whatever the content. :func:`pole_anisotropy` compares a pole with
    *other* content, which on one image can dominate; this compares like with like.
    """
    aniso = []
    for k, sphere in enumerate((unturned, turned)):
        places = [pair[k] for pair in SAME_CONTENT]
        aniso.append(ring_anisotropy_at(sphere, [p[0] for p in places], [p[1] for p in places]))
    at_pole = torch.cat([aniso[0][:2], aniso[1][2:]])
    on_equator = torch.cat([aniso[1][:2], aniso[0][2:]])
    return at_pole - on_equator


def detail_energy(equi: Tensor, *, max_lat_deg: float = 45.0) -> float:
    """Variance of the 3x3 Laplacian of the luminance over the rows within ``±max_lat_deg``: the image's
    high-frequency energy at its own size."""
    y = _luma(equi)
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], device=y.device).view(1, 1, 3, 3)
    lap = torch.nn.functional.conv2d(y, k)[0, 0]  # rows 1..H-2, columns 1..W-2
    h = y.shape[-2]
    lat = (0.5 - (torch.arange(1, h - 1, device=y.device) + 0.5) / h) * 180
    return float(lap[lat.abs() <= max_lat_deg].var())


def detail_ratio(output: Tensor, source: Tensor, *, max_lat_deg: float = 45.0) -> float:
    """High-frequency energy of a filter's output relative to its input's (:func:`detail_energy`), both at the
    output's size (the source is resized to it with :func:`pano.sphere.resize.resize_equirect` if needed).
    About 1 when the output keeps the input's detail; a small dream blown up to the input's size scores far
    less (0.1 on a 2048x1024 photo dreamed at 1024 and resized bicubically)."""
    if source.shape[-2:] != output.shape[-2:]:
        from pano.sphere.resize import resize_equirect

        source = resize_equirect(source.float(), tuple(output.shape[-2:]))
    return detail_energy(output, max_lat_deg=max_lat_deg) / max(detail_energy(source, max_lat_deg=max_lat_deg), 1e-20)


def structure_correlation(output: Tensor, source: Tensor) -> float:
    """Correlation of the luminance of two equirects at 128x64 (area-averaged): do the scene's large shapes
    survive a filter? 1 = the same layout of light and dark; the old neon default of ``pano dream`` scored
    0.75 on a real photo, the classic notebook's strength above 0.9."""
    a, b = (torch.nn.functional.interpolate(_luma(x), size=(64, 128), mode="area").flatten() for x in (output, source))
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-12))


def sphere_scores(equi: Tensor) -> dict[str, float]:
    """All three measures as a dict (``wrap``, ``cube_edges``, ``poles``)."""
    return {"wrap": wrap_seam_ratio(equi), "cube_edges": cube_edge_ratio(equi), "poles": pole_anisotropy(equi)}
