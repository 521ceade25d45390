"""Cube maps ``(B, 6, C, F, F)`` (faces F R B L U D, see convention.py): from and to equirects, padding
each face with its true neighbours' pixels, and sampling any direction from the padded faces.

A cube map has near-uniform pixel density and no poles, which makes it a good working representation
for optimising an image on the sphere; padding from the neighbouring faces makes sampling across face
edges as smooth as inside a face.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import equirect_directions
from pano.sphere.rotation import rotation_matrix

FACE_NAMES = ("F", "R", "B", "L", "U", "D")
_FACE_ANGLES = ((0, 0), (90, 0), (180, 0), (-90, 0), (0, 90), (0, -90))  # (yaw, pitch) per face


def face_rotations(*, device=None, dtype=torch.float32) -> Tensor:
    """The six faces' camera-to-world rotations, ``(6, 3, 3)``."""
    yaw = torch.tensor([a[0] for a in _FACE_ANGLES], dtype=torch.float64)
    pitch = torch.tensor([a[1] for a in _FACE_ANGLES], dtype=torch.float64)
    r = rotation_matrix(yaw, pitch, 0.0, dtype=torch.float64).round(decimals=12)
    return r.to(device=device, dtype=dtype)


def face_directions(face_size: int, *, pad: int = 0, equiangular: bool = False, device=None) -> Tensor:
    """Unit directions of the pixel centres of the six faces (optionally with ``pad`` extra pixels on each
    side, continuing the face's own parametrisation), ``(6, F + 2p, F + 2p, 3)``.

    ``equiangular=True`` gives an equi-angular cube map (EAC): face coordinates are angles,
    ``u = tan(pi/4 * a)`` for ``a`` uniform in ``[-1, 1]``, so pixels are nearly the same size all over the
    sphere (a gnomonic cube's pixels at the face corners are 3x smaller radially than at the centres).
    """
    n = face_size + 2 * pad
    a = ((torch.arange(n, device=device, dtype=torch.float64) - pad + 0.5) / face_size) * 2 - 1
    u = torch.tan(a * math.pi / 4) if equiangular else a
    rays = torch.stack((u.expand(n, n), -u[:, None].expand(n, n), torch.ones(n, n, device=device, dtype=torch.float64)), -1)
    rays = rays / rays.norm(dim=-1, keepdim=True)
    return torch.einsum("nij,hwj->nhwi", face_rotations(device=device, dtype=torch.float64), rays).float()


def equirect_to_cubemap(
    equi: Tensor, face_size: int, *, antialias: bool = True, mode: str = "bilinear", equiangular: bool = False
) -> Tensor:
    """Equirect ``(B, C, H, W)`` -> cube map ``(B, 6, C, F, F)``, anti-aliased near the poles."""
    from pano.sphere.sampling import prefilter_equirect, sample_equirect, sample_equirect_grid

    if antialias:
        # the coarsest cube pixel: at the face centres (gnomonic) or everywhere along the axes (equi-angular)
        equi = prefilter_equirect(equi, (math.pi / 2 if equiangular else 2.0) / face_size)
    shape = (6, face_size, face_size)
    if mode != "bilinear":
        out = sample_equirect(equi, face_directions(face_size, equiangular=equiangular, device=equi.device), mode=mode)
    else:
        grid = _to_cube_grid(face_size, equiangular, *equi.shape[-2:], str(equi.device))
        out = sample_equirect_grid(equi, grid, shape)
    return out.permute(0, 2, 1, 3, 4)


def _face_index_and_uv(directions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For directions ``(..., 3)``: the face each one hits and its face coordinates ``u, v`` in ``[-1, 1]``
    (``u`` right, ``v`` up on the face), i.e. ``R_face.T @ d`` divided by its ``z``, written out per face."""
    x, y, z = directions.unbind(-1)
    ax, ay, az = x.abs(), y.abs(), z.abs()
    is_x = (ax >= ay) & (ax >= az)
    is_y = ~is_x & (ay >= az)
    is_z = ~is_x & ~is_y
    face = torch.where(is_x, torch.where(x > 0, 1, 3), torch.where(is_y, torch.where(y > 0, 4, 5), torch.where(z > 0, 0, 2)))
    major = torch.where(is_x, ax, torch.where(is_y, ay, az)).clamp_min(1e-12)
    # F: (x, y)  R: (-z, y)  B: (-x, y)  L: (z, y)  U: (x, -z)  D: (x, z)
    num_u = torch.where(is_x, torch.where(x > 0, -z, z), torch.where(is_z & (z < 0), -x, x))
    num_v = torch.where(is_y, torch.where(y > 0, -z, z), y)
    return face, num_u / major, num_v / major


def _atlas(cube: Tensor) -> Tensor:
    b, six, c, h, w = cube.shape
    return cube.permute(0, 2, 1, 3, 4).reshape(b, c, six * h, w)


def cubemap_grid(directions: Tensor, face_size: int, *, pad: int = 0, equiangular: bool = False) -> Tensor:
    """grid_sample coordinates (``align_corners=False``) of ``directions (*S, 3)`` in the atlas of a cube map
    padded by ``pad`` (faces stacked vertically), ``(1, 1, M, 2)`` with ``M = prod(S)``."""
    f, size = face_size, face_size + 2 * pad
    face, u, v = _face_index_and_uv(directions.reshape(-1, 3).float())
    if equiangular:
        u, v = torch.atan(u) * (4 / math.pi), torch.atan(v) * (4 / math.pi)
    px = (u + 1) / 2 * f - 0.5 + pad
    py = (1 - v) / 2 * f - 0.5 + pad
    if pad == 0:
        px, py = px.clamp(0, f - 1), py.clamp(0, f - 1)
    gx = (px + 0.5) / size * 2 - 1
    gy = (face * size + py + 0.5) / (6 * size) * 2 - 1
    return torch.stack((gx, gy), -1).reshape(1, 1, -1, 2)


def sample_cubemap_grid(cube: Tensor, grid: Tensor, shape: tuple[int, ...], *, mode: str = "bilinear") -> Tensor:
    """Sample a cube map ``(B, 6, C, S, S)`` at a precomputed :func:`cubemap_grid` -> ``(B, C, *shape)``."""
    b, c = cube.shape[0], cube.shape[2]
    grid = grid.to(cube.dtype).expand(b, *grid.shape[1:])
    out = F.grid_sample(_atlas(cube), grid, mode=mode, padding_mode="border", align_corners=False)
    return out.reshape(b, c, *shape)


def sample_cubemap(cube: Tensor, directions: Tensor, *, pad: int = 0, mode: str = "bilinear", equiangular: bool = False) -> Tensor:
    """Sample a cube map at ``directions (*S, 3)`` -> ``(B, C, *S)``; differentiable w.r.t. ``cube``.

    ``cube`` is ``(B, 6, C, F + 2 pad, F + 2 pad)``: faces padded by :func:`pad_cubemap` (``pad >= 1`` gives
    seamless bilinear sampling across face edges). With ``pad = 0`` samples are clamped inside their face.
    """
    grid = cubemap_grid(directions, cube.shape[-1] - 2 * pad, pad=pad, equiangular=equiangular)
    return sample_cubemap_grid(cube, grid, tuple(directions.shape[:-1]), mode=mode)


# Grids of the fixed geometries, computed once per size and device (a dream pads its cube map every step,
# a video converts every frame). Callers must not modify them.
@lru_cache(maxsize=16)
def _pad_grid(face_size: int, pad: int, equiangular: bool, device: str) -> tuple[Tensor, Tensor]:
    """Sampling grid of the padding ring of every face and the ring's flat indices in ``(6, F+2p, F+2p)``."""
    size = face_size + 2 * pad
    border = torch.ones(size, size, dtype=torch.bool, device=device)
    border[pad : size - pad, pad : size - pad] = False
    ring = border.expand(6, size, size).reshape(-1).nonzero().squeeze(1)
    dirs = face_directions(face_size, pad=pad, equiangular=equiangular, device=device).reshape(-1, 3)[ring]
    return cubemap_grid(dirs, face_size, pad=0, equiangular=equiangular), ring


@lru_cache(maxsize=4)
def _to_cube_grid(face_size: int, equiangular: bool, height: int, width: int, device: str) -> Tensor:
    from pano.sphere.sampling import equirect_grid

    return equirect_grid(face_directions(face_size, equiangular=equiangular, device=device), height, width, 1)


@lru_cache(maxsize=4)
def _to_equirect_grid(height: int, width: int, face_size: int, equiangular: bool, device: str) -> Tensor:
    return cubemap_grid(equirect_directions(height, width, device=device), face_size, pad=1, equiangular=equiangular)


def pad_cubemap(cube: Tensor, pad: int = 1, *, equiangular: bool = False) -> Tensor:
    """Pad every face by ``pad`` pixels taken from its neighbouring faces (the face plane extended), so that
    bilinear sampling near a face edge blends with the true neighbour. ``(B, 6, C, F, F) -> (B, 6, C, F+2p, F+2p)``."""
    b, six, c, f, _ = cube.shape
    size = f + 2 * pad
    grid, ring = _pad_grid(f, pad, equiangular, str(cube.device))
    values = sample_cubemap_grid(cube, grid, (ring.numel(),))  # (B, C, ring): only the border is sampled
    # the faces' own pixels stay exactly as they are; the ring around them comes from the neighbours
    inner = F.pad(cube, (pad, pad, pad, pad)).permute(0, 2, 1, 3, 4).reshape(b, c, six * size * size)
    padded = inner.index_copy(-1, ring, values)
    return padded.reshape(b, c, six, size, size).permute(0, 2, 1, 3, 4)


def cubemap_to_equirect(
    cube: Tensor, height: int, width: int | None = None, *, antialias: bool = True, equiangular: bool = False
) -> Tensor:
    """Cube map ``(B, 6, C, F, F)`` -> equirect ``(B, C, H, W)`` (``W = 2H`` by default), seamless across face
    edges; rendered larger and downsampled where the equirect is coarser than the faces."""
    width = width or 2 * height
    f = cube.shape[-1]
    h, w = height, width
    ratio = (math.pi / 2 / f) / (math.pi / height)  # equirect rows per face pixel at the face centres
    if antialias and ratio < 0.8:
        h = max(height, round(f * 2))
        w = round(h * width / height)
    grid = _to_equirect_grid(h, w, f, equiangular, str(cube.device))
    out = sample_cubemap_grid(pad_cubemap(cube, 1, equiangular=equiangular), grid, (h, w))
    if (h, w) != (height, width):
        from pano.sphere.resize import resize_equirect

        out = resize_equirect(out, (height, width), mode="bilinear")  # antialiased, seamless at ±180° and the poles
    return out


def cubemap_views(cube: Tensor, rotations: Tensor, fov_deg: float, size: int, *, equiangular: bool = False) -> Tensor:
    """Render ``N`` perspective views from a cube map: ``(B, 6, C, F, F) -> (B, N, C, s, s)``, differentiable."""
    from pano.sphere.views import view_directions

    padded = pad_cubemap(cube, 1, equiangular=equiangular)
    dirs = view_directions(rotations.to(cube.device, torch.float32), size, fov_deg)
    return sample_cubemap(padded, dirs, pad=1, equiangular=equiangular).permute(0, 2, 1, 3, 4)


def resize_cubemap(cube: Tensor, face_size: int, *, equiangular: bool = False) -> Tensor:
    """Resample a cube map to a larger (or similar) face size through the padded faces, so face borders blend
    with their true neighbours (resizing each face on its own would clamp at its borders). Not anti-aliased:
    to shrink a lot, build the smaller cube map from the equirect instead."""
    if cube.shape[-1] == face_size:
        return cube
    dirs = face_directions(face_size, equiangular=equiangular, device=cube.device)
    padded = pad_cubemap(cube, 1, equiangular=equiangular)
    return sample_cubemap(padded, dirs, pad=1, equiangular=equiangular).permute(0, 2, 1, 3, 4)
