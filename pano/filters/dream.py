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

Everything runs on the device of the backbone, in fp32 or with bf16/fp16 autocast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.device import autocast
from pano.errors import InputError
from pano.filters.base import FilterInfo, ProgressFn
from pano.filters.view_loop import run_in_batches, view_batch
from pano.sphere.cubemap import cubemap_to_equirect, equirect_to_cubemap, pad_cubemap, resize_cubemap, sample_cubemap
from pano.sphere.resize import resize_equirect
from pano.sphere.rotation import random_rotations, rotation_matrix
from pano.sphere.seam import soften_wrap_seam
from pano.sphere.views import camera_rays, feather_weight
from pano.sphere.viewset import covering_views

Orientation = Literal["any", "upright"]


@dataclass(frozen=True)
class DreamSettings:
    """Everything that determines a dream (saved with the output so it can be reproduced)."""

    model: str = "efficientnet_lite0"
    layer: str | None = None  # None: the model's default dreaming layer
    channels: tuple[int, ...] | None = None
    size: int = 1024  # working resolution: longest side of the equirect, px (pano dream: default_working_size)
    # the classic notebook's strength: 4 octaves of 1.4x, 10 steps each of 1.5/255 after dividing the gradient
    # by its mean absolute value (deepdream.ipynb, Mordvintsev et al. 2015)
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10  # per octave
    step_size: float = 1.5 / 255  # in [0, 1] image units, after normalising the gradient
    fov_deg: float = 110.0  # field of view of each network view
    view_margin: float = 0.2  # feathered border of each view (fraction of its half-size)
    orientation: Orientation = "any"  # random rotations: any rotation, or upright views with random yaw
    blend: float = 0.0  # 0 = all dream, 1 = the original
    repair_seam: bool = True  # spread a stitching step at ±180° in the input before dreaming
    seed: int = 0
    flat: bool = False  # an ordinary photo: classic DeepDream with tiles and random-shift jitter
    tile: int = 512  # flat mode: tile size; both modes: largest view side before views are split
    batch: int = 0  # views per network call (0 = auto: all at once on a GPU; on a CPU about 250k pixels per
    # call, where larger batches overflow the caches: 466-px views ran 2.6x faster one by one, while small
    # views need batching against per-call overhead); halved on out-of-memory
    guide: str | None = None  # path of the guide image (for the record)
    mask: str | None = None  # path of the mask image (for the record)

    def with_preset(self, name: str) -> "DreamSettings":
        if name not in PRESETS:
            raise InputError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
        return replace(self, **PRESETS[name])


# Named for what they look like. A preset's layer applies to models that have it (EfficientNet-Lite's stageN).
PRESETS: dict[str, dict[str, Any]] = {
    "classic": {},  # the defaults: the classic notebook's strength on the model's default layer
    "subtle": {"step_size": 0.75 / 255},  # half of it: motifs just surfacing
    "intense": {"layer": "stage4", "step_size": 0.02},  # pano's look before 0.x: an even neon pattern
    "wild": {"layer": "stage4", "steps": 16, "step_size": 0.03, "octaves": 5},  # the scene dissolves
    "fine": {"octaves": 2, "steps": 12, "step_size": 0.01},  # small motifs only, no large ones
    "quick": {"size": 512, "octaves": 3, "steps": 6, "step_size": 0.01},  # a fast look at the idea
}


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
    protocol). ``backbone(x)`` must return a dict of named activations for ``x`` in ``[0, 1]``."""

    info = FilterInfo(name="dream")

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
        self.messages: list[str] = []

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
        if s.flat:
            return self._dream_flat(start, gen, progress)
        return self._dream_sphere(start, gen, progress)

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

    # -- objective ---------------------------------------------------------------------------------
    def _features(self, x: Tensor) -> Tensor:
        with autocast(self.device, self.dtype):
            act = self.backbone(x.contiguous(memory_format=torch.channels_last))[self.layer]
        act = act.float()
        if self.settings.channels:
            n = act.shape[1]
            bad = [c for c in self.settings.channels if not 0 <= c < n]
            if bad:
                raise InputError(f"channel {bad[0]} does not exist: layer {self.layer} has channels 0..{n - 1}")
            act = act[:, list(self.settings.channels)]
        return act

    def _guide_vector(self, guide: Tensor) -> Tensor:
        guide = guide.to(self.device, torch.float32)
        side = min(self.settings.tile, 384)
        scale = side / max(guide.shape[-2:])
        guide = F.interpolate(guide, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
        with torch.no_grad():
            act = self._features(guide)
        vec = act.mean(dim=(0, 2, 3))
        return vec / vec.norm().clamp_min(1e-8)

    def _objective(self, views: Tensor) -> Tensor:
        act = self._features(views)
        if self.guide_vector is not None:
            return torch.einsum("bchw,c->bhw", act, self.guide_vector).mean(dim=(1, 2)).sum()
        return act.pow(2).mean(dim=(1, 2, 3)).sum()

    def _gradient(self, param: Tensor, render) -> Tensor:
        """d objective / d param. ``render.prepare(param)`` builds what all views are cut from (the padded cube
        map, the shifted image) once; ``render.views(prepared, index_slice)`` cuts a batch of views. Batches
        (halved on out-of-memory) accumulate their gradients on the prepared tensor, which is then pulled
        back to ``param`` in one backward pass."""
        p = param.detach().requires_grad_(True)
        prepared = render.prepare(p)
        source = prepared.detach().requires_grad_(True)
        grad = torch.zeros_like(source)

        def run(part: slice) -> None:
            (g,) = torch.autograd.grad(self._objective(render.views(source, part)), source)
            grad.add_(g)

        def on_halve(batch: int) -> None:
            self.messages.append(f"out of GPU memory: continuing with {batch} views per batch")
            self.settings = replace(self.settings, batch=batch)

        batch = view_batch(self.settings.batch, render.n_views, render.pixels, self.device)
        run_in_batches(render.n_views, run, batch=batch, device=self.device, on_halve=on_halve)
        (grad_param,) = torch.autograd.grad(prepared, p, grad)
        return grad_param

    def _ascend(self, x: Tensor, render, mask: Tensor | None) -> Tensor:
        """One step of normalised gradient ascent (masked where a mask is given), kept in [0, 1]."""
        grad = self._gradient(x, render)
        if mask is not None:
            grad = grad * mask
        grad = grad / grad.abs().mean().clamp_min(1e-12)
        return (x + self.settings.step_size * grad).clamp(0, 1)

    # -- sphere ------------------------------------------------------------------------------------
    def _view_geometry(self, face: int) -> tuple[Tensor, Tensor, int]:
        """Rays and gradient weights of the views for a cube face size: view size matched to the face density."""
        s = self.settings
        fov = s.fov_deg
        # the views' centre pixels match the equi-angular cube map's pixels (pi/2/F radians)
        density = 4 / math.pi * face
        size = max(16, round(density * math.tan(math.radians(fov) / 2)))
        if size > s.tile:  # huge views: more, narrower views (tiles) of the same density
            fov = math.degrees(2 * math.atan(s.tile / density))
            size = s.tile
        rays = camera_rays(size, fov, device=self.device)
        rays = rays / rays.norm(dim=-1, keepdim=True)
        gx = (torch.arange(size, device=self.device) + 0.5) / size * 2 - 1
        weight = feather_weight(gx[None, :], gx[:, None], torch.ones(size, size, dtype=torch.bool, device=self.device), s.view_margin)
        return rays, weight, fov

    def _rotation(self, gen: torch.Generator) -> Tensor:
        if self.settings.orientation == "upright":
            yaw, pitch, roll = (torch.rand(3, generator=gen) * 2 - 1) * torch.tensor([180.0, 20.0, 5.0])
            return rotation_matrix(yaw, pitch, roll)
        return random_rotations(1, generator=gen)[0]

    def _dream_sphere(self, equi: Tensor, gen: torch.Generator, progress: ProgressFn | None) -> tuple[Tensor, Tensor]:
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
        total = s.octaves * s.steps
        detail: Tensor | None = None
        done = 0
        for octave, f in enumerate(sizes):
            base = equirect_to_cubemap(equi, f, equiangular=True)  # anti-aliased
            if detail is not None:
                detail = resize_cubemap(detail, f, equiangular=True)
            x = base if detail is None else (base + detail).clamp(0, 1)
            mask_o = equirect_to_cubemap(mask_equi, f, equiangular=True) if mask_equi is not None else None
            rays, weight, fov = self._view_geometry(f)
            layout = covering_views(fov, margin=s.view_margin).to(self.device)
            for step in range(s.steps):
                rot = self._rotation(gen).to(self.device)
                x = self._ascend(x, _SphereRender(rot @ layout, rays, weight), mask_o)
                done += 1
                if progress:
                    progress(done, total, f"octave {octave + 1}/{s.octaves}")
            detail = x - base
        work_h = work_w // 2
        dreamed = cubemap_to_equirect(x, work_h, work_w, equiangular=True)
        return dreamed, dreamed - cubemap_to_equirect(detail, work_h, work_w, equiangular=True)

    # -- flat --------------------------------------------------------------------------------------
    def _dream_flat(self, img: Tensor, gen: torch.Generator, progress: ProgressFn | None) -> Tensor:
        """Classic DeepDream on an ordinary image: octaves, random-shift jitter, tiles in batches."""
        s = self.settings
        h, w = img.shape[-2:]
        scale = min(1.0, s.size / max(h, w))
        base = F.interpolate(img, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False) if scale < 1 else img
        bh, bw = base.shape[-2:]
        sizes = [(max(16, round(bh / s.octave_scale**k)), max(16, round(bw / s.octave_scale**k))) for k in range(s.octaves - 1, -1, -1)]
        total = s.octaves * s.steps
        detail = torch.zeros(1, 3, *sizes[0], device=img.device)
        done = 0
        mask = None
        for octave, hw in enumerate(sizes):
            base_o = F.interpolate(base, size=hw, mode="bilinear", antialias=True, align_corners=False)
            detail = F.interpolate(detail, size=hw, mode="bilinear", align_corners=False)
            x = (base_o + detail).clamp(0, 1)
            if self.mask is not None:
                mask = F.interpolate(self.mask.to(x), size=hw, mode="bilinear", antialias=True, align_corners=False)
            for _ in range(s.steps):
                x = self._ascend(x, _FlatTiles(hw, s.tile, gen), mask)
                done += 1
                if progress:
                    progress(done, total, f"octave {octave + 1}/{s.octaves}")
            detail = x - base_o
        return x, base_o


def _smoothed_padded(cube: Tensor) -> Tensor:
    """The cube map padded by 1 px from its neighbours and lightly smoothed (3-tap binomial, across face
    edges too). Views sample the cube at its face-centre density, but an equi-angular cube is up to ~1.5x
    denser along face edges and at corners; without this prefilter the gradient gathered back would land
    on a sparse subset of pixels there (aliasing), which shows as lines along the cube edges."""
    x = pad_cubemap(cube, 2, equiangular=True)
    x = 0.25 * x[..., :-2] + 0.5 * x[..., 1:-1] + 0.25 * x[..., 2:]  # shifted adds: far faster than a 1-channel
    return 0.25 * x[..., :-2, :] + 0.5 * x[..., 1:-1, :] + 0.25 * x[..., 2:, :]  # conv2d on CPU, forward and back


class _SphereRender:
    """Views of a cube map in a rotated frame; the gradient reaching the cube is feather-weighted."""

    def __init__(self, rotations: Tensor, rays: Tensor, weight: Tensor) -> None:
        self.rotations, self.rays, self.weight = rotations, rays, weight
        self.n_views = rotations.shape[0]
        self.pixels = rays.shape[0] * rays.shape[1]  # per view

    def prepare(self, cube: Tensor) -> Tensor:
        return _smoothed_padded(cube)

    def views(self, padded: Tensor, index: slice) -> Tensor:
        dirs = torch.einsum("nij,hwj->nhwi", self.rotations[index], self.rays)
        views = sample_cubemap(padded, dirs, pad=1, equiangular=True)
        views = views[0].permute(1, 0, 2, 3)  # (n, 3, s, s)
        # forward value unchanged, gradient scaled by the feather weight
        return views.detach() + self.weight * (views - views.detach())


class _FlatTiles:
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
