"""Sets of overlapping perspective views that cover the whole sphere."""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from pano.sphere.cubemap import face_rotations
from pano.sphere.rotation import rotation_matrix
from pano.sphere.views import view_coordinates


def fibonacci_directions(n: int) -> Tensor:
    """``n`` near-evenly spread unit directions (spherical Fibonacci lattice), ``(n, 3)`` float64."""
    k = torch.arange(n, dtype=torch.float64) + 0.5
    y = 1 - 2 * k / n
    r = torch.sqrt(1 - y * y)
    phi = k * math.pi * (3 - math.sqrt(5))
    return torch.stack((r * torch.sin(phi), y, r * torch.cos(phi)), -1)


def _upright(directions: Tensor) -> Tensor:
    lon = torch.rad2deg(torch.atan2(directions[:, 0], directions[:, 2]))
    lat = torch.rad2deg(torch.asin(directions[:, 1].clamp(-1, 1)))
    return rotation_matrix(lon, lat, 0.0, dtype=torch.float64)


def _inner_coverage(rotations: Tensor, fov_deg: float, probes: Tensor) -> Tensor:
    """For each probe direction, how deep inside its best view it lies: ``1 - max(|gx|, |gy|)`` (1 = centre)."""
    gx, gy, front = view_coordinates(probes, rotations, fov_deg, 1)
    depth = 1 - torch.maximum(gx.abs(), gy.abs())
    return torch.where(front, depth, torch.full_like(depth, -1)).amax(0)


@lru_cache(maxsize=64)
def _covering(fov_deg: float, margin: float) -> Tensor:
    probes = fibonacci_directions(6000)
    cube = face_rotations(dtype=torch.float64)
    if float(_inner_coverage(cube, fov_deg, probes).min()) >= margin:
        return cube
    for n in range(7, 2000):
        rots = _upright(fibonacci_directions(n))
        if float(_inner_coverage(rots, fov_deg, probes).min()) >= margin:
            return rots
    raise ValueError(f"no view set found for fov {fov_deg}")


def covering_views(fov_deg: float, *, margin: float = 0.25) -> Tensor:
    """The fewest views of ``fov_deg`` (cube faces when they suffice, else a Fibonacci lattice) such that every
    direction lies at least ``margin`` (fraction of the half-size) inside some view, ``(n, 3, 3)`` float32.
    With feathered blending over that margin, every direction then gets full weight from some view."""
    if not 20.0 <= fov_deg < 170.0:
        raise ValueError("fov_deg must be in [20, 170)")
    return _covering(round(float(fov_deg), 3), round(float(margin), 3)).float()


def fov_for_margin(margin: float) -> float:
    """The field of view at which the six cube directions cover the sphere with ``margin``: a face's
    half-width must reach ``tan(45°) / (1 - margin)``, the corners of the cube being the worst case."""
    # the cube's corner direction is 54.7° from its nearest face centres, beyond 45° at the edge midpoints;
    # the inner square |g| <= 1 - margin must contain the face's whole square [-1, 1] in its own plane.
    return math.degrees(2 * math.atan(1 / (1 - margin)))
