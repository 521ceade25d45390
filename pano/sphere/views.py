"""Perspective views of the sphere, many at once, and the way back into the equirect."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import equirect_directions
from pano.sphere.sampling import sample_equirect


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def camera_rays(size: int | tuple[int, int], fov_deg: float, *, device=None, dtype=torch.float32) -> Tensor:
    """Camera-space rays (not normalised, ``z = 1``) through the pixel centres of a view, ``(h, w, 3)``."""
    h, w = _size(size)
    tx = math.tan(math.radians(fov_deg) / 2)
    ty = tx * h / w
    xs = ((torch.arange(w, device=device, dtype=dtype) + 0.5) / w * 2 - 1) * tx
    ys = (1 - (torch.arange(h, device=device, dtype=dtype) + 0.5) / h * 2) * ty
    return torch.stack((xs.expand(h, w), ys[:, None].expand(h, w), torch.ones(h, w, device=device, dtype=dtype)), -1)


def view_directions(rotations: Tensor, size: int | tuple[int, int], fov_deg: float) -> Tensor:
    """World-space unit directions of the pixels of ``N`` views, ``rotations (N, 3, 3) -> (N, h, w, 3)``."""
    rays = camera_rays(size, fov_deg, device=rotations.device, dtype=rotations.dtype)
    rays = rays / rays.norm(dim=-1, keepdim=True)
    return torch.einsum("nij,hwj->nhwi", rotations, rays)


def view_pixel_angle(size: int | tuple[int, int], fov_deg: float) -> float:
    """Angle (radians) covered by the centre pixel of a view: the coarsest sampling in the view."""
    _, w = _size(size)
    return 2 * math.tan(math.radians(fov_deg) / 2) / w


def equirect_to_views(
    equi: Tensor, rotations: Tensor, fov_deg: float, size: int | tuple[int, int], *, antialias: bool = True, mode: str = "bilinear"
) -> Tensor:
    """Render ``N`` perspective views of an equirect in one call.

    Args:
        equi: ``(B, C, H, W)`` equirect.
        rotations: ``(N, 3, 3)`` camera-to-world rotations (see :mod:`pano.sphere.convention`).
        fov_deg: horizontal field of view in degrees (< 180).
        size: view size ``s`` or ``(h, w)``.
        antialias: prefilter the equirect when it is finer than the views (anisotropically near the poles).

    Returns:
        ``(B, N, C, h, w)``; differentiable with respect to ``equi``.
    """
    dirs = view_directions(rotations.to(equi.device, torch.float32), size, fov_deg)
    angle = view_pixel_angle(size, fov_deg) if antialias else None
    out = sample_equirect(equi, dirs, pixel_angle=angle, mode=mode)  # (B, C, N, h, w)
    return out.permute(0, 2, 1, 3, 4)


def view_coordinates(directions: Tensor, rotations: Tensor, fov_deg: float, size: int | tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
    """Where world ``directions (*S, 3)`` land in each of ``N`` views: normalised ``(gx, gy)`` in grid_sample's
    ``align_corners=False`` convention (``[-1, 1]`` spans the view) and a mask of directions in front of the
    camera, each ``(N, *S)``."""
    h, w = _size(size)
    tx = math.tan(math.radians(fov_deg) / 2)
    ty = tx * h / w
    cam = torch.einsum("nji,...j->n...i", rotations, directions)  # R^T d
    z = cam[..., 2]
    front = z > 1e-6
    zs = torch.where(front, z, torch.ones_like(z))
    gx = cam[..., 0] / zs / tx
    gy = -cam[..., 1] / zs / ty
    return gx, gy, front


def feather_weight(gx: Tensor, gy: Tensor, front: Tensor, margin: float = 0.25) -> Tensor:
    """Blending weight of a view at normalised coordinates: 1 in the middle, falling smoothly to 0 over the
    outer ``margin`` (a fraction of the half-size) of the view, 0 outside or behind."""
    def ramp(t: Tensor) -> Tensor:
        r = ((1 - t.abs()) / margin).clamp(0, 1)
        return r * r * (3 - 2 * r)

    return ramp(gx) * ramp(gy) * front.to(gx.dtype)


def views_to_equirect(
    views: Tensor,
    rotations: Tensor,
    fov_deg: float,
    height: int,
    width: int,
    *,
    margin: float = 0.25,
    antialias: bool = True,
) -> tuple[Tensor, Tensor]:
    """Gather ``N`` overlapping perspective views back into an equirect with feathered blending.

    Args:
        views: ``(B, N, C, h, w)``.
        rotations: ``(N, 3, 3)`` the views' rotations.
        margin: width of the feathered border, as a fraction of the view's half-size.
        antialias: downsample views first where they are finer than the equirect.

    Returns:
        ``(equi, weight)``: ``(B, C, H, W)`` blended image (0 where no view reaches) and ``(1, 1, H, W)`` the
        summed weights. Differentiable with respect to ``views``.
    """
    b, n, c, h, w = views.shape
    if antialias:
        ratio = (math.pi / height) / view_pixel_angle((h, w), fov_deg)  # view pixels per equirect row
        if ratio > 1.25:
            h2, w2 = max(2, round(h / ratio)), max(2, round(w / ratio))
            views = F.interpolate(views.reshape(b * n, c, h, w), size=(h2, w2), mode="bilinear", antialias=True, align_corners=False)
            views = views.reshape(b, n, c, h2, w2)
            h, w = h2, w2
    dirs = equirect_directions(height, width, device=views.device, dtype=torch.float32)
    gx, gy, front = view_coordinates(dirs, rotations.to(views.device, torch.float32), fov_deg, (h, w))
    weights = feather_weight(gx, gy, front, margin)  # (N, H, W)
    acc = views.new_zeros(b, c, height, width)
    for k in range(n):
        rows = weights[k].amax(dim=1) > 0
        if not bool(rows.any()):
            continue
        r0, r1 = int(rows.nonzero()[0]), int(rows.nonzero()[-1]) + 1
        grid = torch.stack((gx[k, r0:r1], gy[k, r0:r1]), -1).to(views.dtype).expand(b, r1 - r0, width, 2)
        sampled = F.grid_sample(views[:, k], grid, mode="bilinear", padding_mode="border", align_corners=False)
        acc[:, :, r0:r1] = acc[:, :, r0:r1] + sampled * weights[k, r0:r1].to(views.dtype)
    total = weights.sum(0)[None, None]
    return acc / total.clamp_min(1e-8).to(acc.dtype), total
