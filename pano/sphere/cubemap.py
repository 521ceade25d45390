"""Cube maps ``(B, 6, C, F, F)`` (faces F R B L U D, see convention.py): from and to equirects, padding
each face with its true neighbours' pixels, and sampling any direction from the padded faces.

A cube map has near-uniform pixel density and no poles, which makes it a good working representation
for optimising an image on the sphere; padding from the neighbouring faces makes sampling across face
edges as smooth as inside a face.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import equirect_directions
from pano.sphere.rotation import rotation_matrix
from pano.sphere.views import equirect_to_views

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
    if not equiangular:
        return equirect_to_views(equi, face_rotations(device=equi.device), 90.0, face_size, antialias=antialias, mode=mode)
    from pano.sphere.sampling import sample_equirect

    angle = (math.pi / 2) / face_size if antialias else None
    out = sample_equirect(equi, face_directions(face_size, equiangular=True, device=equi.device), pixel_angle=angle, mode=mode)
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


def sample_cubemap(cube: Tensor, directions: Tensor, *, pad: int = 0, mode: str = "bilinear", equiangular: bool = False) -> Tensor:
    """Sample a cube map at ``directions (*S, 3)`` -> ``(B, C, *S)``; differentiable w.r.t. ``cube``.

    ``cube`` is ``(B, 6, C, F + 2 pad, F + 2 pad)``: faces padded by :func:`pad_cubemap` (``pad >= 1`` gives
    seamless bilinear sampling across face edges). With ``pad = 0`` samples are clamped inside their face.
    """
    b, _, c, size, _ = cube.shape
    f = size - 2 * pad
    shape = directions.shape[:-1]
    face, u, v = _face_index_and_uv(directions.reshape(-1, 3).float())
    if equiangular:
        u, v = torch.atan(u) * (4 / math.pi), torch.atan(v) * (4 / math.pi)
    px = (u + 1) / 2 * f - 0.5 + pad
    py = (1 - v) / 2 * f - 0.5 + pad
    if pad == 0:
        px, py = px.clamp(0, f - 1), py.clamp(0, f - 1)
    ay = face * size + py
    gx = (px + 0.5) / size * 2 - 1
    gy = (ay + 0.5) / (6 * size) * 2 - 1
    grid = torch.stack((gx, gy), -1).reshape(1, 1, -1, 2).to(cube.dtype).expand(b, 1, -1, 2)
    out = F.grid_sample(_atlas(cube), grid, mode=mode, padding_mode="border", align_corners=False)
    return out.reshape(b, c, *shape)


def pad_cubemap(cube: Tensor, pad: int = 1, *, equiangular: bool = False) -> Tensor:
    """Pad every face by ``pad`` pixels taken from its neighbouring faces (the face plane extended), so that
    bilinear sampling near a face edge blends with the true neighbour. ``(B, 6, C, F, F) -> (B, 6, C, F+2p, F+2p)``."""
    f = cube.shape[-1]
    dirs = face_directions(f, pad=pad, equiangular=equiangular, device=cube.device)
    padded = sample_cubemap(cube, dirs, pad=0, equiangular=equiangular)  # (B, C, 6, F+2p, F+2p)
    padded = padded.permute(0, 2, 1, 3, 4)
    # keep the faces' own pixels exactly (sampling them at their centres is exact up to rounding)
    return torch.cat(
        [padded[..., :pad, :], torch.cat([padded[..., pad:-pad, :pad], cube, padded[..., pad:-pad, -pad:]], -1), padded[..., -pad:, :]],
        -2,
    )


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
    dirs = equirect_directions(h, w, device=cube.device)
    out = sample_cubemap(pad_cubemap(cube, 1, equiangular=equiangular), dirs, pad=1, equiangular=equiangular)
    if (h, w) != (height, width):
        out = F.interpolate(out, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
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
