"""Running per-view image functions over a whole sphere, and the file-level glue shared by the commands."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from pano.device import halve_batch_on_oom
from pano.filters.base import ProgressFn
from pano.sphere.views import equirect_to_views, views_to_equirect
from pano.sphere.viewset import covering_views

ViewFn = Callable[[Tensor], Tensor]


def map_sphere(
    equi: Tensor,
    fn: ViewFn,
    *,
    view_size: int = 256,
    fov_deg: float | None = None,
    margin: float = 0.25,
    rotation: Tensor | None = None,
    batch: int = 8,
    out_size: tuple[int, int] | None = None,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Apply an image-to-image function to overlapping perspective views of a sphere and stitch the results.

    Each direction of the sphere lies well inside at least one view; views are blended with feathered
    weights, so no view border, cube edge, wrap seam or pole pinch shows in the result.

    Args:
        equi: ``(1, C, H, W)`` equirect in ``[0, 1]``.
        fn: ``(n, C, s, s) -> (n, C', s, s)``, run under ``torch.inference_mode`` by the caller if wanted.
        view_size: ``s``, the side of the views given to ``fn``.
        fov_deg: field of view of each view; by default chosen so the views' centre pixels match the
            equirect's resolution at the equator (at most 120°).
        margin: feathered border of each view, as a fraction of its half-size.
        rotation: optional ``(3, 3)`` rotation of the whole view set.
        batch: views per call of ``fn``; halved automatically on out-of-memory.
        out_size: ``(H, W)`` of the result (default: the input's).

    Returns:
        ``(1, C', H, W)``.
    """
    h, w = equi.shape[-2:]
    if fov_deg is None:
        pixel_angle = math.pi / h
        fov_deg = min(120.0, max(30.0, math.degrees(2 * math.atan(view_size * pixel_angle / 2))))
    rots = covering_views(fov_deg, margin=margin).to(equi.device)
    if rotation is not None:
        rots = rotation.to(rots) @ rots
    views = equirect_to_views(equi, rots, fov_deg, view_size)[0]  # (N, C, s, s)
    outputs: list[Tensor] = []
    i = 0
    while i < len(views):
        chunk = views[i : i + batch]
        try:
            outputs.append(fn(chunk))
        except (RuntimeError, torch.OutOfMemoryError) as exc:
            batch = halve_batch_on_oom(exc, batch, equi.device)
            if progress:
                progress(i, len(views), f"out of memory: retrying with batches of {batch} views")
            continue
        i += len(chunk)
        if progress:
            progress(i, len(views), "views")
    out = torch.cat(outputs)[None]
    oh, ow = out_size or (h, w)
    stitched, _ = views_to_equirect(out, rots, fov_deg, oh, ow, margin=margin)
    return stitched
