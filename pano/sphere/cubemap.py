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
from pano.sphere.views import camera_rays, equirect_to_views

FACE_NAMES = ("F", "R", "B", "L", "U", "D")
_FACE_ANGLES = ((0, 0), (90, 0), (180, 0), (-90, 0), (0, 90), (0, -90))  # (yaw, pitch) per face


def face_rotations(*, device=None, dtype=torch.float32) -> Tensor:
    """The six faces' camera-to-world rotations, ``(6, 3, 3)``."""
    yaw = torch.tensor([a[0] for a in _FACE_ANGLES], dtype=torch.float64)
    pitch = torch.tensor([a[1] for a in _FACE_ANGLES], dtype=torch.float64)
    r = rotation_matrix(yaw, pitch, 0.0, dtype=torch.float64).round(decimals=12)
    return r.to(device=device, dtype=dtype)


def equirect_to_cubemap(equi: Tensor, face_size: int, *, antialias: bool = True, mode: str = "bilinear") -> Tensor:
    """Equirect ``(B, C, H, W)`` -> cube map ``(B, 6, C, F, F)``, anti-aliased near the poles."""
    return equirect_to_views(equi, face_rotations(device=equi.device), 90.0, face_size, antialias=antialias, mode=mode)


def _face_index_and_uv(directions: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """For directions ``(..., 3)``: the face each one hits and its face coordinates ``u, v`` in ``[-1, 1]``
    (``u`` right, ``v`` up on the face)."""
    x, y, z = directions.unbind(-1)
    ax, ay, az = x.abs(), y.abs(), z.abs()
    is_x = (ax >= ay) & (ax >= az)
    is_y = ~is_x & (ay >= az)
    face = torch.where(
        is_x,
        torch.where(x > 0, 1, 3),
        torch.where(is_y, torch.where(y > 0, 4, 5), torch.where(z > 0, 0, 2)),
    )
    r = face_rotations(device=directions.device, dtype=directions.dtype)[face]  # (..., 3, 3)
    cam = torch.einsum("...ji,...j->...i", r, directions)
    return face, cam[..., 0] / cam[..., 2], cam[..., 1] / cam[..., 2]


def _atlas(cube: Tensor) -> Tensor:
    b, six, c, h, w = cube.shape
    return cube.permute(0, 2, 1, 3, 4).reshape(b, c, six * h, w)


def sample_cubemap(cube: Tensor, directions: Tensor, *, pad: int = 0, mode: str = "bilinear") -> Tensor:
    """Sample a cube map at ``directions (*S, 3)`` -> ``(B, C, *S)``; differentiable w.r.t. ``cube``.

    ``cube`` is ``(B, 6, C, F + 2 pad, F + 2 pad)``: faces padded by :func:`pad_cubemap` (``pad >= 1`` gives
    seamless bilinear sampling across face edges). With ``pad = 0`` samples are clamped inside their face.
    """
    b, _, c, size, _ = cube.shape
    f = size - 2 * pad
    shape = directions.shape[:-1]
    face, u, v = _face_index_and_uv(directions.reshape(-1, 3).float())
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


def pad_cubemap(cube: Tensor, pad: int = 1) -> Tensor:
    """Pad every face by ``pad`` pixels taken from its neighbouring faces (the face plane extended), so that
    bilinear sampling near a face edge blends with the true neighbour. ``(B, 6, C, F, F) -> (B, 6, C, F+2p, F+2p)``."""
    f = cube.shape[-1]
    fov = math.degrees(2 * math.atan((f + 2 * pad) / f))
    rays = camera_rays(f + 2 * pad, fov, device=cube.device, dtype=torch.float32)
    dirs = torch.einsum("nij,hwj->nhwi", face_rotations(device=cube.device), rays)
    padded = sample_cubemap(cube, dirs, pad=0)  # (B, C, 6, F+2p, F+2p)
    padded = padded.permute(0, 2, 1, 3, 4)
    # keep the faces' own pixels exactly (sampling them at their centres is exact up to rounding)
    return torch.cat(
        [padded[..., :pad, :], torch.cat([padded[..., pad:-pad, :pad], cube, padded[..., pad:-pad, -pad:]], -1), padded[..., -pad:, :]],
        -2,
    )


def cubemap_to_equirect(cube: Tensor, height: int, width: int | None = None, *, antialias: bool = True) -> Tensor:
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
    out = sample_cubemap(pad_cubemap(cube, 1), dirs, pad=1)
    if (h, w) != (height, width):
        out = F.interpolate(out, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
    return out


def cubemap_views(cube: Tensor, rotations: Tensor, fov_deg: float, size: int, *, padded: Tensor | None = None) -> Tensor:
    """Render ``N`` perspective views from a cube map: ``(B, 6, C, F, F) -> (B, N, C, s, s)``, differentiable."""
    from pano.sphere.views import view_directions

    padded = pad_cubemap(cube, 1) if padded is None else padded
    dirs = view_directions(rotations.to(cube.device, torch.float32), size, fov_deg)
    return sample_cubemap(padded, dirs, pad=1).permute(0, 2, 1, 3, 4)
