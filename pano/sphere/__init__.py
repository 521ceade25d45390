"""Sphere geometry in torch, on whatever device the tensors are on. The convention: :mod:`.convention`."""

from pano.sphere.convention import direction_to_lonlat, equirect_directions, equirect_lonlat, lonlat_to_direction
from pano.sphere.cubemap import (
    FACE_NAMES,
    cubemap_to_equirect,
    cubemap_views,
    equirect_to_cubemap,
    face_rotations,
    pad_cubemap,
    sample_cubemap,
)
from pano.sphere.rotation import random_rotations, rotation_matrix
from pano.sphere.resize import resize_equirect
from pano.sphere.sampling import pad_equirect, pad_sphere, prefilter_equirect, sample_equirect
from pano.sphere.views import equirect_to_views, view_directions, views_to_equirect

__all__ = [
    "FACE_NAMES",
    "cubemap_to_equirect",
    "cubemap_views",
    "direction_to_lonlat",
    "equirect_directions",
    "equirect_lonlat",
    "equirect_to_cubemap",
    "equirect_to_views",
    "face_rotations",
    "lonlat_to_direction",
    "pad_cubemap",
    "pad_equirect",
    "pad_sphere",
    "prefilter_equirect",
    "resize_equirect",
    "random_rotations",
    "rotate_equirect",
    "rotation_matrix",
    "sample_cubemap",
    "sample_equirect",
    "view_directions",
    "views_to_equirect",
]


def rotate_equirect(equi, rotation, *, mode: str = "bilinear"):
    """Rotate the whole sphere: output pixel in direction ``d`` shows the input at ``rotation @ d``.
    ``rotate_equirect(rotate_equirect(x, R), R.T)`` restores ``x`` up to interpolation."""
    h, w = equi.shape[-2:]
    dirs = equirect_directions(h, w, device=equi.device) @ rotation.to(equi.device, torch.float32).T
    return sample_equirect(equi, dirs, mode=mode)


import torch  # noqa: E402  (used by rotate_equirect)
