"""Running per-view image functions over a whole sphere: :func:`map_sphere`, kept here for its callers;
the view loop itself (views, batches halved on out-of-memory, the way back) is :mod:`pano.filters.view_loop`."""

from __future__ import annotations

from pano.filters.view_loop import ViewFn, map_sphere

__all__ = ["ViewFn", "map_sphere"]
