"""The one sphere convention used everywhere in pano (geometry, filters, video, viewer).

Longitude and latitude
    An equirectangular image is ``(B, C, H, W)`` with ``W = 2H`` for a full sphere. Pixel *centres* are
    at half-integers: column ``i`` has longitude ``lon = ((i + 0.5) / W - 0.5) * 360°`` and row ``j`` has
    latitude ``lat = (0.5 - (j + 0.5) / H) * 180°``. So ``lon = 0`` is the image centre, longitude grows to
    the right (east) and wraps at ±180° (the left and right image borders); ``lat = +90°`` (zenith) is the
    top border, ``-90°`` (nadir) the bottom one. This is py360convert's convention too.

Directions
    A unit direction is ``x = cos(lat) sin(lon)``, ``y = sin(lat)``, ``z = cos(lat) cos(lon)``:
    ``x`` right, ``y`` up, ``z`` forward (``lon = lat = 0``).

Rotations and views
    A view's camera looks along its own ``+z`` with ``x`` right and ``y`` up. Its orientation is the
    camera-to-world rotation ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)``: ``yaw > 0`` turns right (towards
    ``+lon``), ``pitch > 0`` looks up, ``roll > 0`` turns the camera's right axis upwards. Angles in the
    public API are in degrees with a ``_deg`` suffix. A world direction ``d`` is seen by the camera as
    ``R.T @ d``.

Perspective views
    ``fov_deg`` is the horizontal field of view; pixels are square. Pixel ``(u, v)`` of a ``h x w`` view
    has centre ray ``(((u + 0.5) / w * 2 - 1) * tan(fov/2), (1 - (v + 0.5) / h * 2) * tan(fov/2) * h / w, 1)``.

Cube maps
    ``(B, 6, C, F, F)`` with faces in the order F R B L U D; each face is the 90° view with
    F: yaw 0, R: yaw 90, B: yaw 180, L: yaw -90, U: pitch +90, D: pitch -90 (roll 0). The U face's top edge
    touches B, the D face's top edge touches F (py360convert's "dice" layout).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def lonlat_to_direction(lon: Tensor, lat: Tensor) -> Tensor:
    """Longitude/latitude in radians -> unit directions ``(..., 3)``."""
    cos_lat = torch.cos(lat)
    return torch.stack((cos_lat * torch.sin(lon), torch.sin(lat), cos_lat * torch.cos(lon)), dim=-1)


def direction_to_lonlat(d: Tensor) -> tuple[Tensor, Tensor]:
    """Directions ``(..., 3)`` (any length) -> longitude in ``[-pi, pi]`` and latitude in ``[-pi/2, pi/2]``."""
    x, y, z = d.unbind(-1)
    return torch.atan2(x, z), torch.atan2(y, torch.hypot(x, z))


def equirect_lonlat(
    height: int, width: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, Tensor]:
    """Longitude and latitude (radians) of every pixel centre of an ``height x width`` equirect, ``(H, W)`` each."""
    lon = ((torch.arange(width, device=device, dtype=dtype) + 0.5) / width - 0.5) * (2 * math.pi)
    lat = (0.5 - (torch.arange(height, device=device, dtype=dtype) + 0.5) / height) * math.pi
    return lon.expand(height, width), lat[:, None].expand(height, width)


def equirect_directions(
    height: int, width: int, *, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Unit directions of every pixel centre of an equirect, ``(H, W, 3)``."""
    lon, lat = equirect_lonlat(height, width, device=device, dtype=dtype)
    return lonlat_to_direction(lon, lat)
