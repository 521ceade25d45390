"""Applying a beauty model (:class:`BeautyFilter`): repaint a sphere, view by view, with a trained pix2pix generator.

Per perspective view of the sphere (overlapping, feathered, through :func:`pano.filters.view_loop.map_sphere`):
condition of the view -> generator -> stitched. For the ``clusters`` condition the k-means centres are
fitted once on the whole sphere and every view is painted with them, so overlapping views agree.
``flat=True`` treats the input as an ordinary photo.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from pano.device import resolve_precision
from pano.errors import InputError
from pano.filters.base import FilterInfo, ProgressFn
from pano.filters.beauty.model_file import BeautyModel, generate
from pano.filters.conditions import fit_cluster_centers, make_condition, to_uint8

__all__ = ["BeautyFilter"]

class BeautyFilter:
    """Repaint a sphere (or a flat photo) with a trained beauty model.

    Args:
        model: A loaded :class:`BeautyModel` (its generator on the device to run on).
        view_size: Side of the perspective views in pixels (default: the training size).
        flat: Treat the input as an ordinary photo: resized so its shorter side is ``view_size``,
            repainted whole, resized back.
        precision: ``auto`` / ``fp32`` / ``bf16`` / ``fp16`` (see :func:`pano.device.resolve_precision`).
        batch: Views per generator call.
        context: Reflected border added around each view's condition before the generator, as a
            fraction of the view size per side (cropped off after): the U-Net's zero-padding border
            effects then fall outside the view, which removes their trace where views meet
            (measured on a 256x128 sphere, 64-px views: cube-edge ratio 1.30 without, 0.99 with 0.25).

    Shape:
        ``(1, 3, H, W)`` in ``[0, 1]`` -> ``(1, 3, H, W)`` in ``[0, 1]``.
    """

    info = FilterInfo(name="beauty", scale=1, supports_flat=True)

    def __init__(
        self,
        model: BeautyModel,
        *,
        view_size: int | None = None,
        flat: bool = False,
        precision: str = "auto",
        batch: int = 8,
        context: float = 0.25,
    ) -> None:
        self.model = model
        self.view_size = int(view_size or model.size)
        if self.view_size < 16:
            raise InputError(f"--view-size {self.view_size} is too small: use at least 16")
        self.flat = flat
        self.precision = precision
        self.batch = batch
        self.context = float(context)
        self.device = next(model.generator.parameters()).device
        self.dtype = resolve_precision(precision, self.device)  # type: ignore[arg-type]
        model.generator.eval()

    def params(self) -> dict[str, Any]:
        return {
            "filter": "beauty",
            "condition": self.model.condition.to_json(),
            "model_size": self.model.size,
            "model_step": self.model.step,
            "view_size": self.view_size,
            "flat": self.flat,
            "context": self.context,
        }

    def _views_fn(self, centers: np.ndarray | None) -> Callable[[torch.Tensor], torch.Tensor]:
        def fn(views: torch.Tensor) -> torch.Tensor:  # one batch of views (map_sphere sizes and halves them)
            h, w = views.shape[-2:]
            ph, pw = min(h - 1, round(h * self.context)), min(w - 1, round(w * self.context))
            cond = make_condition(views, self.model.condition, centers)
            if ph or pw:  # context around the view, so the U-Net's border effects fall outside it
                cond = F.pad(cond, (pw, pw, ph, ph), mode="reflect")
            out = generate(self.model.generator, cond, dtype=self.dtype)
            return out[..., ph : ph + h, pw : pw + w].to(device=views.device, dtype=views.dtype)

        return fn

    def _centers(self, image: torch.Tensor) -> np.ndarray | None:
        spec = self.model.condition
        if spec.name != "clusters":
            return None
        return fit_cluster_centers(to_uint8(image[:1])[0], k=int(spec.params["k"]), seed=int(spec.params["seed"]))

    def __call__(self, equi: torch.Tensor, *, progress: ProgressFn | None = None) -> torch.Tensor:
        if equi.ndim != 4 or equi.shape[1] != 3:
            raise InputError(f"beauty needs an RGB image, got a tensor of shape {tuple(equi.shape)}")
        equi = equi.to(self.device, torch.float32)
        centers = self._centers(equi)
        fn = self._views_fn(centers)
        if self.flat:
            h, w = equi.shape[-2:]
            s = self.view_size / min(h, w)
            small = F.interpolate(equi, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", antialias=True, align_corners=False)
            out = fn(small)
            if progress:
                progress(1, 1, "beauty")
            return F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
        from pano.filters.view_loop import map_sphere

        return map_sphere(equi, fn, view_size=self.view_size, batch=self.batch, progress=progress).clamp(0, 1)
