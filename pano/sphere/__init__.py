"""Sphere geometry in torch, on whatever device the tensors are on. The convention: :mod:`.convention`.

Imports are lazy (as in :mod:`pano.io`): :mod:`.partial` (where a partial panorama lies on the sphere) is
used by ``pano info`` and the viewer, which never load torch.
"""

from __future__ import annotations

from pano._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "pano.sphere.convention": ("direction_to_lonlat", "equirect_directions", "equirect_lonlat", "lonlat_to_direction"),
    "pano.sphere.cubemap": ("FACE_NAMES", "cubemap_to_equirect", "cubemap_views", "equirect_to_cubemap",
                            "face_rotations", "pad_cubemap", "sample_cubemap"),
    "pano.sphere.rotation": ("random_rotations", "rotation_matrix"),
    "pano.sphere.resize": ("resize_equirect",),
    "pano.sphere.padding": ("pad_equirect", "pad_sphere"),
    "pano.sphere.sampling": ("prefilter_equirect", "sample_equirect"),
    "pano.sphere.views": ("equirect_to_views", "view_directions", "views_to_equirect"),
    "pano.sphere.partial": ("SphereGeometry", "crop_from_sphere", "is_two_to_one", "place_on_sphere"),
})

__all__ = sorted([*_EXPORTS, "rotate_equirect"])

__getattr__ = lazy_exports(__name__, _EXPORTS)


def rotate_equirect(equi, rotation, *, mode: str = "bilinear"):
    """Rotate the whole sphere: output pixel in direction ``d`` shows the input at ``rotation @ d``.
    ``rotate_equirect(rotate_equirect(x, R), R.T)`` restores ``x`` up to interpolation."""
    import torch

    from pano.sphere.convention import equirect_directions
    from pano.sphere.sampling import sample_equirect

    h, w = equi.shape[-2:]
    dirs = equirect_directions(h, w, device=equi.device) @ rotation.to(equi.device, torch.float32).T
    return sample_equirect(equi, dirs, mode=mode)
