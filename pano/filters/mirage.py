"""Neural Mirage on the sphere: rebuild a photosphere from what a classifier sees in it, in its own style.

Neural style transfer (Gatys et al.) whose *content* is not a feature map but the classifier's class scores:
the optimised sphere must make the net see the same classes as in the original (the softmax averaged over
perspective views, as ``pano see`` does; a cross-entropy to the original's top classes as ``pano see`` reads them
at the original's own resolution, or a KL divergence to its whole distribution), while its Gram matrices at several layers match
the original's own (the *style*), plus a little total variation. The class scores say nothing about where
things are, so the layout of the original is gone: the result shows the same things in the same style,
rearranged "like a map, or a puzzle whose pieces have been reordered".

On the sphere it uses the dream's parametrisation (:mod:`pano.filters.dream`): the image being optimised is
an equi-angular **cube map**; every iteration draws a **random rotation** of the sphere and renders, in that
frame, overlapping perspective views from the cube padded with its true neighbours, at the cube's own density
(the dream's view geometry; at the default 1024 px the views have the angular density of ``pano see``'s
224-px, 75° views). One pass of the views through the net gives both the style layers and the class scores.
View borders, cube edges and the ±180° line move every iteration, and the gradient reaches
the cube through feathered view borders, so none of them leaves a mark. It is **multi-scale**, as
neural-style's high-resolution recipe: small cube maps first, each scale started from the previous one.
Adam optimises the cube's pixels directly, kept in [0, 1]. It starts from noise (as the original method) or
from the image itself (``init="image"``).

The filter never prints: every ``report_every`` iterations it calls ``on_report`` with the iteration, each
loss and the top classes of the current views; ``history`` keeps every iteration's losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.device import autocast
from pano.errors import InputError
from pano.filters.base import FilterInfo, ProgressFn
from pano.filters.parametrisation import SphereViews, smoothed_padded
from pano.filters.seeing import SEE_FOV, see_sphere, top_classes
from pano.sphere.resize import resize_equirect
from pano.sphere.cubemap import cubemap_to_equirect, equirect_to_cubemap, pad_cubemap, resize_cubemap
from pano.sphere.rotation import random_rotations, rotation_matrix
from pano.sphere.seam import soften_wrap_seam
from pano.sphere.views import camera_rays, feather_weight
from pano.sphere.viewset import covering_views

Init = Literal["noise", "image"]
MIN_FACE = 64  # cube face of the smallest scale: its views are 116 px
ReportFn = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class MirageSettings:
    """Everything that determines a mirage (saved with the output so it can be reproduced)."""

    model: str = "efficientnet_lite0"
    style_layers: tuple[str, ...] | None = None  # None: the model's default style layers (default_style_layers)
    size: int = 1024  # working resolution: longest side of the equirect (or flat photo), px
    scales: int = 3  # multi-scale: this many sizes, each scale_ratio smaller than the next
    scale_ratio: float = 2.0
    steps: int = 60  # iterations at the smallest scale
    step_decay: float = 0.5  # each larger scale does this fraction of the previous scale's iterations
    learning_rate: float = 0.05  # Adam, in [0, 1] image units, falling to a tenth at the end of each scale
    content_weight: float = 1.0  # cross-entropy of the result's classes to the original's top classes
    content_classes: int = 5  # the original's top classes the content loss asks for (0: KL to its whole distribution)
    content_views: int = 15  # views of pano see's geometry (75°, the classifier's input size) per iteration
    style_weight: float = 1.0  # sum over layers of |G - G_original|^2 / |G_original|^2
    tv_weight: float = 0.3  # mean absolute difference of neighbouring pixels
    init: Init = "noise"
    orientation: Literal["any", "upright"] = "upright"  # random rotations: upright views (random yaw), or any
    fov_deg: float = 110.0  # views (their size matches the cube's density, as in the dream)
    view_margin: float = 0.2  # feathered border of each view
    tile: int = 512  # largest view side before views are narrowed
    target_rotations: int = 4  # random rotations the original's targets are averaged over
    repair_seam: bool = True
    seed: int = 0
    flat: bool = False

    def check(self) -> None:
        if self.init not in ("noise", "image"):
            raise InputError(f"unknown --init {self.init!r}: use noise or image")
        if min(self.content_weight, self.style_weight, self.tv_weight) < 0:
            raise InputError("the loss weights must be >= 0")


def default_style_layers(spec) -> tuple[str, ...]:
    """Five layers from fine to coarse, as neural-style's relu1_1 .. relu5_1: VGG's ``convN_1``, EfficientNet's
    stem and stages 1-4, otherwise five of the model's layers spread from shallow to deep."""
    names = list(spec.layers)
    if "conv1_1" in names:
        return ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
    if "stage4" in names and "stem" in names:
        return ("stem", "stage1", "stage2", "stage3", "stage4")
    pick = [round(i * (len(names) - 1) * 0.7 / 4) for i in range(5)]
    return tuple(dict.fromkeys(names[i] for i in pick))


def gram(features: Tensor) -> Tensor:
    """Per-view Gram matrices ``(B, C, C)`` of ``(B, C, h, w)`` features, normalised by ``C * h * w``."""
    b, c, h, w = features.shape
    f = features.float().reshape(b, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


class MirageFilter:
    """``MirageFilter(classifier, settings)(equi) -> mirage`` (the :class:`pano.filters.base.SphereFilter`
    protocol). ``classifier`` is a :class:`pano.models.classifier.Classifier`."""

    info = FilterInfo(name="mirage", takes_init=True, takes_seed=True, supports_flat=True)

    def __init__(
        self,
        classifier,
        settings: MirageSettings = MirageSettings(),
        *,
        dtype: torch.dtype = torch.float32,
        on_report: ReportFn | None = None,
        report_every: int = 0,
        top: int = 3,
    ) -> None:
        settings.check()
        self.classifier = classifier
        self.backbone = classifier.backbone
        self.settings = settings
        self.layers = tuple(settings.style_layers or default_style_layers(self.backbone.spec))
        unknown = [name for name in self.layers if name not in self.backbone.spec.layers]
        if unknown:
            raise InputError(
                f"{self.backbone.spec.id} has no layer {unknown[0]!r}: use some of {', '.join(self.backbone.spec.layers)}"
            )
        self.dtype = dtype
        self.device = next(self.backbone.parameters()).device
        self.on_report, self.report_every, self.top = on_report, report_every, top
        self.history: list[dict[str, Any]] = []  # one entry per iteration: iteration, scale, losses

    def params(self) -> dict[str, Any]:
        p = asdict(self.settings)
        p["style_layers"] = list(self.layers)
        return p

    # -- public ------------------------------------------------------------------------------------
    def __call__(
        self,
        equi: Tensor,
        *,
        progress: ProgressFn | None = None,
        init: Tensor | None = None,
        seed: int | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """The mirage of ``equi (1, 3, H, W)`` in [0, 1] (a full sphere, or a photo with ``flat``), same size.

        ``init`` (same size) starts from that image instead of noise or ``equi`` (video: the carried frame);
        ``seed`` overrides the settings' seed; ``mask (1, 1, H, W)`` marks where a partial photosphere holds
        pixels: the original's classes and style are taken from there only."""
        s = self.settings
        equi = equi.to(self.device, torch.float32)
        h, w = equi.shape[-2:]
        gen = torch.Generator().manual_seed(s.seed if seed is None else seed)
        self.history = []
        start = None if init is None else init.to(self.device, torch.float32)
        if s.flat:
            out = self._mirage_flat(equi, start, gen, progress)
        else:
            if s.repair_seam:
                equi = soften_wrap_seam(equi)
            out = self._mirage_sphere(equi, start, mask, gen, progress)
        if out.shape[-2:] != (h, w):
            if s.flat:
                out = F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False, antialias=out.shape[-1] > w)
            else:
                out = resize_equirect(out, (h, w), mode="bicubic")  # seamless at ±180° and over the poles
        return out.clamp(0, 1)

    # -- losses ------------------------------------------------------------------------------------
    def _grams(self, views: Tensor) -> list[Tensor]:
        """Per-view Gram matrices ``[(B, c, c)]`` of the colours and the style layers; the net runs only down to
        the deepest style layer."""
        with autocast(self.device, self.dtype):
            acts = self.backbone(views.contiguous(memory_format=torch.channels_last), self.layers)
        colours = gram(self.backbone.normalize(views.float()))  # style 1: the colours (their mean and mix)
        return [colours] + [gram(acts[name]) for name in self.layers]

    def _probs(self, views: Tensor) -> Tensor:
        """Class probabilities ``(B, C)`` of views at the classifier's input size (the whole net)."""
        with autocast(self.device, self.dtype):
            logits = self.backbone.logits(views.contiguous(memory_format=torch.channels_last))
        return logits.float().softmax(-1)

    def _losses(self, style_views: Tensor, class_views: Tensor, targets: "_Targets", tv_source: Tensor):
        s = self.settings
        losses: dict[str, Tensor] = {}
        total = torch.zeros((), device=self.device)
        if s.content_weight > 0 or self.on_report:
            probs = self._probs(class_views).mean(0)
            t = targets.classes
            if s.content_classes > 0:  # the original's top classes, weighted as it sees them
                top, index = t.topk(min(s.content_classes, t.numel()))
                content = -(top / top.sum() * probs[index].clamp_min(1e-12).log()).sum()
            else:
                content = (t * (t.clamp_min(1e-12).log() - probs.clamp_min(1e-12).log())).sum()
            total = total + s.content_weight * content
        else:  # content weight 0 and nobody to show the classes to: the whole net need not run
            probs, content = targets.classes, torch.zeros((), device=self.device)
        losses["content"] = content
        for k, (g, target) in enumerate(zip(self._grams(style_views), targets.grams), start=1):
            loss = (g.mean(0) - target).pow(2).sum() / target.pow(2).sum().clamp_min(1e-12)
            losses[f"style {k}"] = loss
            total = total + s.style_weight * loss
        tv = tv_source.diff(dim=-1).abs().mean() + tv_source.diff(dim=-2).abs().mean()
        losses["tv"] = tv
        losses["total"] = total + s.tv_weight * tv
        return losses, probs.detach()

    def _step(self, opt, param, losses, probs, iteration, total, scale: tuple[int, int], progress) -> None:
        opt.zero_grad(set_to_none=True)
        losses["total"].backward()
        opt.step()
        with torch.no_grad():
            param.clamp_(0, 1)
        record = {"iteration": iteration, "scale": scale[0], "losses": {k: float(v.detach()) for k, v in losses.items()}}
        self.history.append(record)
        if self.on_report and self.report_every and (iteration % self.report_every == 0 or iteration == total):
            classes = self.classifier.classes
            self.on_report({**record, "total": total, "scales": scale[1], "top": top_classes(probs, classes, self.top)})
        if progress:
            progress(iteration, total, f"scale {scale[0]}/{scale[1]}")

    def scale_steps(self, scales: int) -> list[int]:
        """Iterations at each of ``scales`` scales, smallest first: ``steps``, then ``step_decay`` times fewer at
        each larger scale (neural-style's high-resolution recipe spends most iterations where they are cheap)."""
        s = self.settings
        return [max(1, round(s.steps * s.step_decay**k)) for k in range(scales)]

    def _noise(self, base: Tensor, gen: torch.Generator) -> Tensor:
        """The start "from noise": noise with the original's mean and standard deviation per channel (which tell
        nothing about its layout), drawn on the CPU from ``gen``. It is smoothed like the views' prefilter
        (binomial), so that all of it is visible to the losses: pixel-level noise that the views cannot see
        would get no gradient and stay in the result."""
        dims = tuple(d for d in range(base.dim()) if d != base.dim() - 3)
        mean, std = base.mean(dim=dims, keepdim=True), base.std(dim=dims, keepdim=True)
        noise = torch.randn(base.shape, generator=gen).to(base)
        for _ in range(2):
            if base.dim() == 5:  # a cube map: smoothed across face edges too
                noise = smoothed_padded(noise)[..., 1:-1, 1:-1]
            else:
                noise = F.avg_pool2d(F.pad(noise, (1, 1, 1, 1), mode="circular"), 3, stride=1)
        noise = noise / noise.std(dim=dims, keepdim=True).clamp_min(1e-6)
        return (mean + std * noise).clamp(0, 1)

    # -- sphere ------------------------------------------------------------------------------------
    def _rotation(self, gen: torch.Generator) -> Tensor:
        if self.settings.orientation == "upright":
            yaw, pitch, roll = (torch.rand(3, generator=gen) * 2 - 1) * torch.tensor([180.0, 20.0, 5.0])
            return rotation_matrix(yaw, pitch, roll).to(self.device)
        return random_rotations(1, generator=gen)[0].to(self.device)

    def _style_geometry(self, face: int) -> tuple[Tensor, Tensor, Tensor]:
        """Style views matched to the cube's density, as the dream's: (layout, rays, feather weight)."""
        s = self.settings
        fov = s.fov_deg
        density = 4 / math.pi * face
        size = max(32, round(density * math.tan(math.radians(fov) / 2)))
        if size > s.tile:
            fov = math.degrees(2 * math.atan(s.tile / density))
            size = s.tile
        rays, weight = self._rays(size, fov)
        return covering_views(fov, margin=s.view_margin).to(self.device), rays, weight

    def _class_geometry(self, face: int) -> tuple[Tensor, Tensor, Tensor, int]:
        """``pano see``'s views (75°, covering the sphere) at the classifier's input size at every scale, as ``pano see``
        reads the result (views at the cube's own density, 124 px at the smallest scale, led the net to features
        its 224-px reading does not see): (layout, rays, feather weight, the cube face whose density they match:
        a finer cube is pooled down to it)."""
        tan = math.tan(math.radians(SEE_FOV) / 2)
        size = self.classifier.input_size
        rays, weight = self._rays(size, SEE_FOV)
        return covering_views(SEE_FOV, margin=0.0).to(self.device), rays, weight, math.ceil(size / 2 / tan * math.pi / 4)

    @staticmethod
    def _pooled(cube: Tensor, face: int) -> Tensor:
        """The cube map halved (2x2 means per face: an equi-angular cube stays one) while it stays at least
        ``face`` px: the class views then sample it without aliasing."""
        while cube.shape[-1] % 2 == 0 and cube.shape[-1] // 2 >= face:
            b, six, c, f, _ = cube.shape
            cube = F.avg_pool2d(cube.reshape(b * six, c, f, f), 2).reshape(b, six, c, f // 2, f // 2)
        return cube

    def _rays(self, size: int, fov: float) -> tuple[Tensor, Tensor]:
        rays = camera_rays(size, fov, device=self.device)
        rays = rays / rays.norm(dim=-1, keepdim=True)
        g = (torch.arange(size, device=self.device) + 0.5) / size * 2 - 1
        full = torch.ones(size, size, dtype=torch.bool, device=self.device)
        return rays, feather_weight(g[None, :], g[:, None], full, self.settings.view_margin)

    def _mirage_sphere(self, equi: Tensor, start: Tensor | None, mask: Tensor | None, gen, progress) -> Tensor:
        s = self.settings
        work_w = min(s.size, equi.shape[-1])
        face = max(16, round(work_w / 4))
        # the smallest scale keeps views of at least ~116 px: smaller, the classifier sees only noise
        faces = sorted({min(face, max(MIN_FACE, round(face / s.scale_ratio**k))) for k in range(s.scales)})
        steps = self.scale_steps(len(faces))
        rots = [self._rotation(gen) for _ in range(s.target_rotations)]
        n_class = max(1, min(s.content_views, covering_views(SEE_FOV, margin=0.0).shape[0]))
        total = sum(steps)
        iteration = 0
        x: Tensor | None = None
        with torch.no_grad():  # the original's classes at its own resolution, as pano see reads them, a few rotations
            # (taken from the small scale's cube, the Louvre read oboe, space shuttle: a target no mirage should meet)
            class_target = torch.stack([see_sphere(self.classifier, equi, mask=mask, rotation=rot).probs for rot in rots]).mean(0).to(self.device)
        self.original_classes = top_classes(class_target, self.classifier.classes, 5)
        for k, (f, n_steps) in enumerate(zip(faces, steps), start=1):
            base = equirect_to_cubemap(equi, f, equiangular=True)
            layout, rays, weight = self._style_geometry(f)
            c_layout, c_rays, c_weight, c_face = self._class_geometry(f)
            mask_f = None if mask is None else equirect_to_cubemap(mask.to(equi), f, equiangular=True)
            with torch.no_grad():  # the original's style at this scale, a few rotations
                padded = smoothed_padded(base)
                grams = [self._grams(SphereViews(rot @ layout, rays, weight).views(padded, slice(None))) for rot in rots]
                wv = torch.cat([self._view_weights(mask_f, rot, layout, rays, weight) for rot in rots])
                gram_targets = [
                    (torch.cat([g[i] for g in grams]) * wv[:, None, None]).sum(0) / wv.sum().clamp_min(1e-6)
                    for i in range(len(self.layers) + 1)
                ]
            targets = _Targets(class_target, gram_targets)
            if x is None:
                if start is not None:
                    x = equirect_to_cubemap(start, f, equiangular=True)
                elif s.init == "image":
                    x = base
                else:
                    x = self._noise(base, gen)
            else:
                x = resize_cubemap(x, f, equiangular=True)
            param = x.detach().clone().requires_grad_(True)
            opt = torch.optim.Adam([param], lr=s.learning_rate)
            sched = _cosine(opt, n_steps)
            for _ in range(n_steps):
                iteration += 1
                rot = self._rotation(gen)
                pick = torch.randperm(c_layout.shape[0], generator=gen)[:n_class].to(self.device)
                style_views = SphereViews(rot @ layout, rays, weight).views(smoothed_padded(param), slice(None))
                class_views = SphereViews(rot @ c_layout[pick], c_rays, c_weight).views(
                    smoothed_padded(self._pooled(param, c_face)), slice(None)
                )
                losses, probs = self._losses(style_views, class_views, targets, pad_cubemap(param, 1, equiangular=True))
                self._step(opt, param, losses, probs, iteration, total, (k, len(faces)), progress)
                sched.step()
            x = param.detach()
        return cubemap_to_equirect(self._visible(x), work_w // 2, work_w, equiangular=True)

    @staticmethod
    def _visible(cube: Tensor) -> Tensor:
        """The cube map as the views saw it (the binomial prefilter of :func:`smoothed_padded`). Adam's per-pixel
        steps leave pixel-level noise the views cannot see, hence the losses never remove; it is uneven along
        the cube's edges, where the faces' pixels meet, and would show there."""
        return smoothed_padded(cube)[..., 1:-1, 1:-1]

    def _view_weights(self, mask_cube: Tensor | None, rot: Tensor, layout: Tensor, rays: Tensor, weight: Tensor) -> Tensor:
        """Per view, the share of its (feathered) pixels that the sphere holds (1 for a full sphere)."""
        if mask_cube is None:
            return torch.ones(layout.shape[0], device=self.device)
        m = SphereViews(rot @ layout, rays, weight).views(smoothed_padded(mask_cube.expand(-1, -1, 3, -1, -1)), slice(None))
        return (m[:, 0] * weight).sum(dim=(1, 2)) / weight.sum()

    # -- flat --------------------------------------------------------------------------------------
    def _mirage_flat(self, img: Tensor, start: Tensor | None, gen, progress) -> Tensor:
        """An ordinary photo: the same losses on the image itself with random-shift jitter (rolled)."""
        s = self.settings
        h, w = img.shape[-2:]
        scale = min(1.0, s.size / max(h, w))
        top_hw = (max(32, round(h * scale)), max(32, round(w * scale)))
        sizes = [(max(32, round(top_hw[0] / s.scale_ratio**k)), max(32, round(top_hw[1] / s.scale_ratio**k))) for k in range(s.scales - 1, -1, -1)]
        steps = self.scale_steps(s.scales)
        total = sum(steps)
        iteration = 0
        x: Tensor | None = None
        for k, (hw, n_steps) in enumerate(zip(sizes, steps), start=1):
            base = F.interpolate(img, size=hw, mode="bilinear", antialias=True, align_corners=False)
            with torch.no_grad():
                grams, probs = self._grams(base), self._probs(self._class_size(base))
            targets = _Targets(probs[0], [g[0] for g in grams])
            if k == s.scales:
                self.original_classes = top_classes(probs[0], self.classifier.classes, 5)
            if x is None:
                if start is not None:
                    x = F.interpolate(start, size=hw, mode="bilinear", antialias=True, align_corners=False)
                elif s.init == "image":
                    x = base
                else:
                    x = self._noise(base, gen)
            else:
                x = F.interpolate(x, size=hw, mode="bilinear", align_corners=False)
            param = x.detach().clone().requires_grad_(True)
            opt = torch.optim.Adam([param], lr=s.learning_rate)
            sched = _cosine(opt, n_steps)
            for _ in range(n_steps):
                iteration += 1
                shift = (int(torch.randint(0, hw[0], (1,), generator=gen)), int(torch.randint(0, hw[1], (1,), generator=gen)))
                rolled = torch.roll(param, shift, dims=(-2, -1))
                losses, probs = self._losses(rolled, self._class_size(rolled), targets, param)
                self._step(opt, param, losses, probs, iteration, total, (k, s.scales), progress)
                sched.step()
            x = param.detach()
        return x

    def _class_size(self, img: Tensor) -> Tensor:
        """A flat photo as ``pano see --flat`` shows it to the classifier: its short side at the input size."""
        size = self.classifier.input_size
        h, w = img.shape[-2:]
        scale = size / min(h, w)
        hw = (max(size, round(h * scale)), max(size, round(w * scale)))
        return F.interpolate(img, size=hw, mode="bilinear", antialias=scale < 1, align_corners=False)


def _cosine(opt: torch.optim.Optimizer, steps: int):
    """The learning rate of each scale falls from the settings' to a tenth of it along a half cosine: large steps
    while the picture forms, small ones to settle it (the random views make the gradient noisy)."""
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.1 + 0.45 * (1 + math.cos(math.pi * min(i, steps) / steps)))


@dataclass
class _Targets:
    classes: Tensor  # (C,) the original's class distribution
    grams: list[Tensor]  # per style layer (c, c)
