"""DeepDream on the sphere: gradient ascent on a CNN layer's activations, seamless and pole-correct.

The method (Mordvintsev et al. 2015) adapted to a sphere:

* The working image is a **cube map** (six faces of near-uniform pixel density, no poles), built once from
  the equirect with anti-aliasing and converted back once at the end.
* Every step draws a fresh **random rotation** of the sphere (the spherical form of random-shift jitter) and
  renders a set of overlapping perspective views in that rotated frame from the faces, padded with their
  true neighbours' pixels. The views go through the network as **one batch**; the gradient flows back to the
  cube map through the same differentiable sampling, weighted by a feathered mask so view borders (where the
  network sees padding) never leave a mark. View borders, cube edges and the ±180° line all move every step.
* The gradient is normalised per step; **octaves** dream on smaller cube maps first and carry the detail up.
* Objectives: the mean squared activation of a layer (optionally a channel subset), or with a guide image
  the dot product between the view's features and the guide's mean feature vector.

It is composed from small parts in the manner of lucent: objectives as callables
(:mod:`pano.filters.objectives`), the parametrisation (:mod:`pano.filters.parametrisation`: the cube map and
its random rotations, or flat tiles) and a short ascent loop (:mod:`pano.filters.ascent`); this module runs
them in octaves and carries the dream's change to the input's size.

Everything runs on the device of the backbone, in fp32 or with bf16/fp16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.errors import InputError
from pano.filters.ascent import Batching, ascend, features, view_score
from pano.filters.base import FilterInfo, ProgressFn
from pano.filters.objectives import Objective, feature_direction, guide_dot, layer_activation, select_channels
from pano.filters.parametrisation import FlatParametrisation, SphereParametrisation, smoothed_padded
from pano.filters.settings import PRESETS, DreamSettings  # noqa: F401 - both are part of this module's API
from pano.sphere.resize import resize_equirect
from pano.sphere.seam import soften_wrap_seam


CPU_WORKING_SIZE = 1024  # px, longest side: a 2:1 sphere dreams in minutes on 2 CPU cores (BENCHMARKS.md)
GPU_WORKING_SIZE_CAP = 4096  # px: the input's own resolution on a GPU, up to this (a 4096x2048 dream is a
# minute or so on one large GPU; the dream's change is carried up to larger inputs, which keep their detail)


def default_working_size(device_type: str, input_size: int) -> tuple[int, str]:
    """The working size (longest side, px) of a dream when none is asked for, and why, in words.

    On a GPU the dream runs at the input's own resolution, up to :data:`GPU_WORKING_SIZE_CAP`; on a CPU at
    :data:`CPU_WORKING_SIZE` (or the input's, if smaller), which finishes in minutes. Either way the output
    keeps the input's size: the dream's change is resized (:func:`pano.sphere.resize.resize_equirect`) and
    added to the full-resolution input.

    >>> default_working_size("cuda", 2048), default_working_size("cpu", 8000)[0]
    ((2048, "the input's own, on cuda"), 1024)
    """
    if device_type == "cuda":
        if input_size <= GPU_WORKING_SIZE_CAP:
            return input_size, "the input's own, on cuda"
        return GPU_WORKING_SIZE_CAP, f"the cap on cuda: {GPU_WORKING_SIZE_CAP} px; --size to change"
    if input_size <= CPU_WORKING_SIZE:
        return input_size, f"the input's own, on {device_type}"
    return CPU_WORKING_SIZE, f"the default on {device_type}, which dreams in minutes; --size to change"


class DreamFilter:
    """``DreamFilter(backbone, settings)(equi) -> dreamed equi`` (the :class:`pano.filters.base.SphereFilter`
    protocol). ``backbone(x)`` must return a dict of named activations for ``x`` in ``[0, 1]``.

    Composed in the manner of lucent: an :class:`pano.filters.objectives.Objective` (:func:`dream_objective`),
    a parametrisation (:class:`pano.filters.parametrisation.SphereParametrisation`: a cube map seen in random
    rotations; or flat tiles) and the short ascent loop of :mod:`pano.filters.ascent`, run in octaves. Calls
    keep no state: the same call twice gives the same result; messages (an out-of-memory retry) go to the
    call's ``progress`` callback as ``progress(0, 0, message)``."""

    info = FilterInfo(name="dream", takes_init=True, takes_seed=True, supports_flat=True, checks_size=True)

    def __init__(
        self,
        backbone: torch.nn.Module,
        settings: DreamSettings = DreamSettings(),
        *,
        layer: str,
        dtype: torch.dtype = torch.float32,
        guide: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> None:
        self.backbone = backbone
        self.settings = settings
        self.layer = layer
        self.dtype = dtype
        self.device = next(backbone.parameters()).device
        self.guide_vector = self._guide_vector(guide) if guide is not None else None
        self.mask = mask  # (1, 1, h, w) in [0, 1], equirect (or flat image), any size
        self.objective = dream_objective(layer, settings.channels, self.guide_vector)

    # -- public ------------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        p = asdict(self.settings)
        p["layer"] = self.layer
        return p

    def __call__(
        self, equi: Tensor, *, progress: ProgressFn | None = None, init: Tensor | None = None, seed: int | None = None
    ) -> Tensor:
        """Dream ``equi (1, 3, H, W)`` in ``[0, 1]``; returns the same size. ``init`` (optional, same size) is
        the starting image instead of ``equi`` (used for temporally coherent video); ``seed`` overrides the
        settings' seed for this call (video: one seed per frame)."""
        s = self.settings
        equi = equi.to(self.device, torch.float32)
        start = equi if init is None else init.to(self.device, torch.float32)
        h, w = equi.shape[-2:]
        dreamed, base = self._dream(start, progress, seed)
        # the dream's change, carried to the input's own size and added to it (as octaves carry it up):
        # the input keeps its detail wherever the dream did not paint over it
        out = self._to_size(dreamed - base, (h, w), flat=s.flat).add_(start)
        if not s.flat and s.repair_seam:
            soften_wrap_seam(start, out=out)  # the input's step at ±180°, spread as the dream saw it
        if s.blend > 0:
            out = torch.lerp(out, equi, s.blend)
        if self.mask is not None:
            m = self._to_size(self.mask.to(out), (h, w), flat=s.flat, mode="bilinear")
            out = equi + m * (out - equi)
        return out.clamp_(0, 1)

    def working_result(self, equi: Tensor, *, progress: ProgressFn | None = None, seed: int | None = None) -> Tensor:
        """The dream at the working size, as an equirect (or flat image) of that size: what the output looked
        like before it was carried to the input's resolution (``__call__`` adds its change to the input)."""
        dreamed, _ = self._dream(equi.to(self.device, torch.float32), progress, seed)
        return dreamed.clamp(0, 1)

    def _dream(self, start: Tensor, progress: ProgressFn | None, seed: int | None) -> tuple[Tensor, Tensor]:
        """(dreamed, base) at the working size: the dream and what it started from (the input at that size)."""
        s = self.settings
        gen = torch.Generator().manual_seed(s.seed if seed is None else seed)
        say = (lambda message: progress(0, 0, message)) if progress else None
        run = _Run(s, view_score(self.backbone, self.objective, self.dtype), Batching(s.batch, self.device, say), progress)
        if s.flat:
            return self._dream_flat(start, gen, run)
        return self._dream_sphere(start, gen, run)

    def _repaired(self, equi: Tensor) -> Tensor:
        return soften_wrap_seam(equi) if self.settings.repair_seam else equi

    @staticmethod
    def _to_size(x: Tensor, size: tuple[int, int], *, flat: bool, mode: str = "bicubic") -> Tensor:
        if flat:
            return resize_equirect(x, size, mode=mode, wrap_x=False, pole_top=False, pole_bottom=False)
        return resize_equirect(x, size, mode=mode)

    def check_input_size(self, width: int, height: int) -> None:
        """Raise :class:`InputError` (naming what to change) when a ``width`` x ``height`` input would give the
        network views below its minimum size; called before any work (``pano video`` calls it per eye)."""
        min_size = getattr(getattr(self.backbone, "spec", None), "min_size", 1)
        problem = view_size_problem(self.settings, width, height, min_size)
        if problem is not None:
            raise InputError(problem)

    def _guide_vector(self, guide: Tensor) -> Tensor:
        guide = guide.to(self.device, torch.float32)
        side = min(self.settings.tile, 384)
        scale = side / max(guide.shape[-2:])
        guide = F.interpolate(guide, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
        with torch.no_grad():
            act = features(self.backbone, guide, [self.layer], self.device, self.dtype)[self.layer]
        return feature_direction(select_channels(act, self.settings.channels, self.layer))

    # -- sphere ------------------------------------------------------------------------------------
    def _dream_sphere(self, equi: Tensor, gen: torch.Generator, run: "_Run") -> tuple[Tensor, Tensor]:
        s = self.settings
        equi = self._repaired(equi)
        h, w = equi.shape[-2:]
        work_w = min(s.size, w)
        work_w += work_w % 2
        # the cube maps of the octaves are cut from the input at twice the working size (headroom for their
        # anti-aliasing; a 14000-px input is not filtered again at every octave)
        if w > 2 * work_w:
            equi = resize_equirect(equi, (work_w, 2 * work_w))
            h, w = equi.shape[-2:]
        face = max(16, round(work_w / 4))
        sizes = [max(16, round(face / s.octave_scale**k)) for k in range(s.octaves - 1, -1, -1)]
        mask_equi = None
        if self.mask is not None:
            mask_equi = resize_equirect(self.mask.to(equi), (h, w), mode="bilinear")
        detail: Tensor | None = None
        for octave, f in enumerate(sizes):
            param = SphereParametrisation(f, fov_deg=s.fov_deg, view_margin=s.view_margin, tile=s.tile,
                                          orientation=s.orientation, device=self.device)
            base = param.from_equirect(equi)  # anti-aliased
            x = base if detail is None else (base + param.carry(detail)).clamp(0, 1)
            mask_o = param.from_equirect(mask_equi) if mask_equi is not None else None
            x = run.octave(x, param, gen, mask_o, octave)
            detail = x - base
        # the change as the views saw it, through the same prefilter: the gradient gathered back from the views
        # leaves pixel-scale roughness in the cube map that the network never saw; carried up to the input's
        # size it shows as lines along the cube edges, where the faces' pixel grids meet (working size 512,
        # faces of 128 px, aframe_louvre at 1024x512: cube-edge measure 1.22 without this, 1.13 with it)
        detail = smoothed_padded(detail)[..., 1:-1, 1:-1]
        work_h = work_w // 2
        base_equi = SphereParametrisation.to_equirect(base, work_h, work_w)
        return base_equi + SphereParametrisation.to_equirect(detail, work_h, work_w), base_equi

    # -- flat --------------------------------------------------------------------------------------
    def _dream_flat(self, img: Tensor, gen: torch.Generator, run: "_Run") -> tuple[Tensor, Tensor]:
        """Classic DeepDream on an ordinary image: octaves, random-shift jitter, tiles in batches."""
        s = self.settings
        h, w = img.shape[-2:]
        scale = min(1.0, s.size / max(h, w))
        base = F.interpolate(img, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False) if scale < 1 else img
        bh, bw = base.shape[-2:]
        sizes = [(max(16, round(bh / s.octave_scale**k)), max(16, round(bw / s.octave_scale**k))) for k in range(s.octaves - 1, -1, -1)]
        detail = torch.zeros(1, 3, *sizes[0], device=img.device)
        mask = None
        for octave, hw in enumerate(sizes):
            base_o = F.interpolate(base, size=hw, mode="bilinear", antialias=True, align_corners=False)
            detail = F.interpolate(detail, size=hw, mode="bilinear", align_corners=False)
            x = (base_o + detail).clamp(0, 1)
            if self.mask is not None:
                mask = F.interpolate(self.mask.to(x), size=hw, mode="bilinear", antialias=True, align_corners=False)
            x = run.octave(x, FlatParametrisation(hw, s.tile), gen, mask, octave)
            detail = x - base_o
        return x, base_o


def dream_objective(layer: str, channels: tuple[int, ...] | None = None, guide: Tensor | None = None) -> Objective:
    """DeepDream's objective: the layer's mean squared activation (of ``channels``), or with a guide direction
    the dot product of the features with it."""
    if guide is not None:
        return guide_dot(layer, guide, channels)
    return layer_activation(layer, channels)


class _Run:
    """One call's ascent: the score of a batch of views, its batching (halved on out-of-memory for the rest of
    this call only) and its progress; ``octave`` runs the settings' steps on one octave."""

    def __init__(self, settings: DreamSettings, score, batching: Batching, progress: ProgressFn | None) -> None:
        self.settings, self.score, self.batching, self.progress, self.done = settings, score, batching, progress, 0

    def octave(self, x: Tensor, param, gen: torch.Generator, mask: Tensor | None, octave: int) -> Tensor:
        s = self.settings
        for _ in range(s.steps):
            x = ascend(x, param.render(gen), self.score, s.step_size, self.batching, mask)
            self.done += 1
            if self.progress:
                self.progress(self.done, s.octaves * s.steps, f"octave {octave + 1}/{s.octaves}")
        return x


# -- input size check (before any work) ---------------------------------------------------------------


def smallest_view(settings: DreamSettings, width: int, height: int) -> int:
    """The side in px of the smallest view the network sees when dreaming a ``width`` x ``height`` input
    (the full-sphere equirect, or the flat photo with ``settings.flat``): the coarsest octave's views."""
    s = settings
    if s.flat:
        scale = min(1.0, s.size / max(height, width))
        bh, bw = max(1, round(height * scale)), max(1, round(width * scale))
        k = s.octaves - 1
        return min(s.tile, max(16, round(bh / s.octave_scale**k)), max(16, round(bw / s.octave_scale**k)))
    face = max(16, round(min(s.size, width) / 4))
    f = max(16, round(face / s.octave_scale ** (s.octaves - 1)))
    return min(s.tile, max(16, round(4 / math.pi * f * math.tan(math.radians(s.fov_deg) / 2))))


def view_size_problem(settings: DreamSettings, width: int, height: int, min_size: int) -> str | None:
    """Why ``settings`` cannot dream a ``width`` x ``height`` input with a network that needs ``min_size``
    px views, naming what the user can change (``--size``, ``--octaves``, a larger input), or None."""
    s = settings
    view = smallest_view(s, width, height)
    if view >= min_size:
        return None
    what = "photo" if s.flat else "sphere"
    fixes = []
    fewest = next((n for n in range(s.octaves - 1, 0, -1) if smallest_view(replace(s, octaves=n), width, height) >= min_size), None)
    if fewest is not None:
        fixes.append(f"--octaves {fewest} or fewer")
    def least_size(octaves: int) -> int | None:
        if s.flat or s.size >= width:
            return None
        ok = (z for z in range(s.size, min(width, 32768) + 1, 8)
              if smallest_view(replace(s, size=z, octaves=octaves), width, height) >= min_size)
        return next(ok, None)

    size = least_size(s.octaves)
    if size is not None:
        fixes.append(f"--size {size} or more")
    elif not fixes and s.octaves > 1 and (size := least_size(1)) is not None:
        fixes.append(f"--size {size} or more with --octaves 1")
    if not fixes:
        fixes.append(f"a larger {what}")
    octaves = f"{s.octaves} octave{'s' if s.octaves != 1 else ''}"
    return (f"{s.model} needs views of at least {min_size} px, but this {width}x{height} {what} at --size {s.size} "
            f"with {octaves} (x{s.octave_scale:g}) gives {view} px views: use {', or '.join(fixes)}")
