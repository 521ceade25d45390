"""What a dream optimises and how the network sees it (the *parametrisation*, in lucent's terms).

* :class:`SphereParametrisation`: the sphere as an **equi-angular cube map** (six faces of near-uniform
  pixel density, no poles), seen through overlapping perspective views in a **random rotation** of the whole
  sphere drawn afresh at every step (the spherical form of random-shift jitter). The views are cut from the
  faces padded with their true neighbours and lightly smoothed; the gradient flows back through the same
  differentiable sampling, weighted by a feathered mask so view borders never leave a mark.
* :class:`FlatParametrisation`: an ordinary photo, seen as tiles of a randomly shifted copy (classic
  DeepDream's jitter).

Each step's ``render(gen)`` is a view set with ``prepare(param)`` (what every view is cut from, built once)
and ``views(prepared, index_slice)`` (one batch of views): :func:`pano.filters.ascent.gradient` runs it.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.cubemap import cubemap_to_equirect, equirect_to_cubemap, pad_cubemap, resize_cubemap, sample_cubemap
from pano.sphere.rotation import random_rotations, rotation_matrix
from pano.sphere.views import camera_rays, feather_weight
from pano.sphere.viewset import covering_views

Orientation = Literal["any", "upright"]


def random_rotation(gen: torch.Generator, orientation: Orientation = "any") -> Tensor:
    """A random ``(3, 3)`` rotation of the sphere: any rotation, or ``upright`` (any yaw, pitch within 20°,
    roll within 5°)."""
    if orientation == "upright":
        yaw, pitch, roll = (torch.rand(3, generator=gen) * 2 - 1) * torch.tensor([180.0, 20.0, 5.0])
        return rotation_matrix(yaw, pitch, roll)
    return random_rotations(1, generator=gen)[0]


class SphereParametrisation:
    """A sphere as an equi-angular cube map of face size ``face``, seen in randomly rotated views.

    Args:
        face: cube face side, px.
        fov_deg: field of view of each view; narrowed (more views, same density) where a view would
            exceed ``tile`` px.
        view_margin: feathered border of each view (fraction of its half-size).
        tile: largest view side, px.
        orientation: ``any`` rotation per step or ``upright`` views.
        device: where the rays and weights live.
    """

    def __init__(self, face: int, *, fov_deg: float, view_margin: float, tile: int, orientation: Orientation,
                 device: torch.device) -> None:
        self.face, self.orientation = face, orientation
        # the views' centre pixels match the equi-angular cube map's pixels (pi/2/F radians)
        density = 4 / math.pi * face
        fov = fov_deg
        size = max(16, round(density * math.tan(math.radians(fov) / 2)))
        if size > tile:  # huge views: more, narrower views (tiles) of the same density
            fov = math.degrees(2 * math.atan(tile / density))
            size = tile
        rays = camera_rays(size, fov, device=device)
        self.rays = rays / rays.norm(dim=-1, keepdim=True)
        gx = (torch.arange(size, device=device) + 0.5) / size * 2 - 1
        full = torch.ones(size, size, dtype=torch.bool, device=device)
        self.weight = feather_weight(gx[None, :], gx[:, None], full, view_margin)
        self.fov = fov
        self.layout = covering_views(fov, margin=view_margin).to(device)

    def from_equirect(self, equi: Tensor) -> Tensor:
        """The parameter (the cube map) of an equirect, anti-aliased."""
        return equirect_to_cubemap(equi, self.face, equiangular=True)

    def carry(self, cube: Tensor) -> Tensor:
        """A cube map of another face size (an octave's detail) at this one's."""
        return resize_cubemap(cube, self.face, equiangular=True)

    @staticmethod
    def to_equirect(cube: Tensor, height: int, width: int) -> Tensor:
        return cubemap_to_equirect(cube, height, width, equiangular=True)

    def render(self, gen: torch.Generator) -> "SphereViews":
        """This step's views: the view set in a fresh random rotation of the sphere."""
        rot = random_rotation(gen, self.orientation).to(self.layout.device)
        return SphereViews(rot @ self.layout, self.rays, self.weight)


def smoothed_padded(cube: Tensor) -> Tensor:
    """The cube map padded by 1 px from its neighbours and lightly smoothed (3-tap binomial, across face
    edges too). Views sample the cube at its face-centre density, but an equi-angular cube is up to ~1.5x
    denser along face edges and at corners; without this prefilter the gradient gathered back would land
    on a sparse subset of pixels there (aliasing), which shows as lines along the cube edges."""
    x = pad_cubemap(cube, 2, equiangular=True)
    x = 0.25 * x[..., :-2] + 0.5 * x[..., 1:-1] + 0.25 * x[..., 2:]  # shifted adds: far faster than a 1-channel
    return 0.25 * x[..., :-2, :] + 0.5 * x[..., 1:-1, :] + 0.25 * x[..., 2:, :]  # conv2d on CPU, forward and back


class SphereViews:
    """Views of a cube map in a rotated frame; the gradient reaching the cube is feather-weighted."""

    def __init__(self, rotations: Tensor, rays: Tensor, weight: Tensor) -> None:
        self.rotations, self.rays, self.weight = rotations, rays, weight
        self.n_views = rotations.shape[0]
        self.pixels = rays.shape[0] * rays.shape[1]  # per view

    def prepare(self, cube: Tensor) -> Tensor:
        return smoothed_padded(cube)

    def views(self, padded: Tensor, index: slice) -> Tensor:
        dirs = torch.einsum("nij,hwj->nhwi", self.rotations[index], self.rays)
        views = sample_cubemap(padded, dirs, pad=1, equiangular=True)
        views = views[0].permute(1, 0, 2, 3)  # (n, 3, s, s)
        # forward value unchanged, gradient scaled by the feather weight
        return views.detach() + self.weight * (views - views.detach())


class FlatParametrisation:
    """An ordinary photo of ``hw`` px, seen as ``tile``-px tiles of a randomly shifted copy."""

    def __init__(self, hw: tuple[int, int], tile: int) -> None:
        self.hw, self.tile = hw, tile

    def render(self, gen: torch.Generator) -> "FlatTiles":
        return FlatTiles(self.hw, self.tile, gen)


class FlatTiles:
    """Tiles of a randomly shifted flat image (classic random-shift jitter), batched."""

    def __init__(self, hw: tuple[int, int], tile: int, gen: torch.Generator) -> None:
        h, w = hw
        self.th, self.tw = min(tile, h), min(tile, w)
        self.ny, self.nx = math.ceil(h / self.th), math.ceil(w / self.tw)
        self.shift = (int(torch.randint(0, self.th, (1,), generator=gen)), int(torch.randint(0, self.tw, (1,), generator=gen)))
        self.n_views = self.ny * self.nx
        self.pixels = self.th * self.tw  # per tile
        self.hw = hw

    def prepare(self, x: Tensor) -> Tensor:
        h, w = self.hw
        rolled = torch.roll(x, self.shift, dims=(-2, -1))
        padded = F.pad(rolled, (0, self.nx * self.tw - w, 0, self.ny * self.th - h), mode="replicate")
        tiles = padded.unfold(2, self.th, self.th).unfold(3, self.tw, self.tw)  # (1, 3, ny, nx, th, tw)
        return tiles.permute(0, 2, 3, 1, 4, 5).reshape(-1, 3, self.th, self.tw)

    def views(self, tiles: Tensor, index: slice) -> Tensor:
        return tiles[index]
