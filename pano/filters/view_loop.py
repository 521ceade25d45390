"""The one view loop: a sphere into network views, through the network in batches, and back.

- :func:`view_batch`: how many views go through the network per call (all of them on a GPU, about
  250 000 pixels on a CPU, unless the caller asks for a number);
- :func:`run_in_batches`: calls a function on consecutive slices of the views; a slice that runs out of
  memory is retried with half the batch (down to one view), the caller told through ``on_halve``;
- :func:`views_through`: renders perspective views of an equirect and runs them through a function
  in those batches;
- :func:`map_sphere`: views covering the whole sphere, through the function, gathered back with
  feathered blending.

``pano beauty`` maps the sphere with :func:`map_sphere`, ``pano upscale`` runs its polar caps through
:func:`views_through`, and ``pano dream`` batches the views of its gradient with :func:`run_in_batches`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from pano.device import halve_batch_on_oom
from pano.filters.base import ProgressFn
from pano.sphere.views import equirect_to_views, views_to_equirect
from pano.sphere.viewset import covering_views

__all__ = ["CPU_VIEW_PIXELS", "ViewFn", "map_sphere", "run_in_batches", "view_batch", "views_through"]

ViewFn = Callable[[Tensor], Tensor]
CPU_VIEW_PIXELS = 250_000  # pixels per network call on a CPU: larger batches gain nothing and cost memory


def view_batch(requested: int | None, n_views: int, view_pixels: int, device: torch.device) -> int:
    """Views per network call: ``requested`` when given (> 0), else all ``n_views`` on a GPU and about
    :data:`CPU_VIEW_PIXELS` pixels' worth on a CPU; never more than ``n_views``, never less than 1."""
    if requested:
        batch = int(requested)
    elif device.type == "cuda":
        batch = n_views
    else:
        batch = round(CPU_VIEW_PIXELS / max(1, view_pixels))
    return max(1, min(batch, n_views))


def run_in_batches(
    n: int,
    run: Callable[[slice], None],
    *,
    batch: int,
    device: torch.device,
    on_halve: Callable[[int], None] | None = None,
    progress: ProgressFn | None = None,
    label: str = "views",
) -> int:
    """Call ``run(slice)`` on consecutive slices of ``range(n)`` of ``batch`` items each.

    A slice that runs out of memory (:func:`pano.device.is_out_of_memory`) is retried with half the
    batch, down to 1; ``run`` must leave nothing behind when it raises. Any other error, or running out
    of memory with a batch of 1, is raised.

    Args:
        n: Number of items (views).
        run: Does the work of one slice.
        batch: Items per call to start with.
        device: Where ``run`` computes (its CUDA cache is emptied before a retry).
        on_halve: Told the new batch after each halving.
        progress: ``progress(done, n, label)`` after each slice, and a line on each halving.

    Returns:
        The batch in use at the end (the caller may start its next loop with it).
    """
    batch = max(1, int(batch))
    done = 0
    while done < n:
        stop = min(n, done + batch)
        try:
            run(slice(done, stop))
        except (RuntimeError, torch.OutOfMemoryError) as exc:
            batch = halve_batch_on_oom(exc, batch, device)
            if on_halve is not None:
                on_halve(batch)
            if progress:
                progress(done, n, f"out of memory: retrying with batches of {batch} {label}")
            continue
        done = stop
        if progress:
            progress(done, n, label)
    return batch


def views_through(
    equi: Tensor,
    rotations: Tensor,
    fov_deg: float,
    view_size: int,
    fn: ViewFn,
    *,
    batch: int | None = None,
    mode: str = "bilinear",
    progress: ProgressFn | None = None,
) -> Tensor:
    """Render ``N`` perspective views of ``equi`` and run them through ``fn`` in batches (halved on
    out-of-memory).

    Args:
        equi: ``(1, C, H, W)`` equirect.
        rotations: ``(N, 3, 3)`` the views' camera-to-world rotations.
        fov_deg: Field of view of each view.
        view_size: Side ``s`` of the views.
        fn: ``(n, C, s, s) -> (n, C', s', s')``.
        batch: Views per call of ``fn`` (see :func:`view_batch`).
        mode: Sampling of the views (``bilinear`` or ``bicubic``).

    Returns:
        ``(N, C', s', s')``, ``fn``'s outputs in the order of ``rotations``.
    """
    views = equirect_to_views(equi, rotations.to(equi.device), fov_deg, view_size, mode=mode)[0]  # (N, C, s, s)
    outputs: list[Tensor] = []

    def run(part: slice) -> None:
        outputs.append(fn(views[part]))

    run_in_batches(
        len(views), run, batch=view_batch(batch, len(views), view_size * view_size, equi.device), device=equi.device,
        progress=progress,
    )
    return torch.cat(outputs)


def map_sphere(
    equi: Tensor,
    fn: ViewFn,
    *,
    view_size: int = 256,
    fov_deg: float | None = None,
    margin: float = 0.25,
    rotation: Tensor | None = None,
    batch: int | None = 8,
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
        batch: views per call of ``fn``; halved automatically on out-of-memory (``None``: :func:`view_batch`).
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
    out = views_through(equi, rots, fov_deg, view_size, fn, batch=batch, progress=progress)[None]
    oh, ow = out_size or (h, w)
    stitched, _ = views_to_equirect(out, rots, fov_deg, oh, ow, margin=margin)
    return stitched
