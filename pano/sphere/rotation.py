"""Rotations of the sphere: yaw/pitch/roll matrices and uniformly random rotations (see convention.py)."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _as_tensor(v, device, dtype) -> Tensor:
    return torch.as_tensor(v, device=device, dtype=dtype)


def rotation_matrix(
    yaw_deg: float | Tensor = 0.0,
    pitch_deg: float | Tensor = 0.0,
    roll_deg: float | Tensor = 0.0,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Camera-to-world rotation ``Ry(yaw) @ Rx(pitch) @ Rz(roll)``; broadcasts over tensor angles.

    Returns:
        ``(..., 3, 3)``; ``R @ (0, 0, 1)`` is the viewing direction.

    Example:
        >>> R = rotation_matrix(90.0)
        >>> [round(v, 6) + 0.0 for v in (R @ torch.tensor([0.0, 0.0, 1.0])).tolist()]
        [1.0, 0.0, 0.0]
    """
    yaw, pitch, roll = (torch.deg2rad(_as_tensor(a, device, dtype)) for a in (yaw_deg, pitch_deg, roll_deg))
    yaw, pitch, roll = torch.broadcast_tensors(yaw, pitch, roll)
    cy, sy, cp, sp, cr, sr = yaw.cos(), yaw.sin(), pitch.cos(), pitch.sin(), roll.cos(), roll.sin()
    one, zero = torch.ones_like(yaw), torch.zeros_like(yaw)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*yaw.shape, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cp, sp, zero, -sp, cp], -1).reshape(*yaw.shape, 3, 3)
    rz = torch.stack([cr, -sr, zero, sr, cr, zero, zero, zero, one], -1).reshape(*yaw.shape, 3, 3)
    return ry @ rx @ rz


def random_rotations(
    n: int,
    *,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """``n`` rotations drawn uniformly from SO(3) (Shoemake's unit quaternions), ``(n, 3, 3)``.

    Drawn on the CPU from ``generator`` so a seed gives the same rotations on every device.
    """
    u1, u2, u3 = torch.rand(3, n, generator=generator, dtype=torch.float64)
    a, b = torch.sqrt(1 - u1), torch.sqrt(u1)
    q = torch.stack(
        [a * torch.sin(2 * math.pi * u2), a * torch.cos(2 * math.pi * u2), b * torch.sin(2 * math.pi * u3), b * torch.cos(2 * math.pi * u3)],
        -1,
    )
    return quaternion_to_matrix(q).to(device=device, dtype=dtype)


def quaternion_to_matrix(q: Tensor) -> Tensor:
    """Unit quaternions ``(..., 4)`` as ``(x, y, z, w)`` -> rotation matrices ``(..., 3, 3)``."""
    x, y, z, w = q.unbind(-1)
    return torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
            2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
            2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
        ],
        -1,
    ).reshape(*q.shape[:-1], 3, 3)
