"""What a classifier sees in a photosphere: class probabilities over low-distortion views covering the sphere.

A photosphere is not a photo: shown whole (an equirect), the net sees its poles smeared across the top and
bottom rows and everything at the wrong scale. :func:`see_sphere` renders upright perspective views at the
classifier's own input size (``fov_deg`` 75°: about a phone photo's field of view) that together cover the
whole sphere (:func:`pano.sphere.viewset.covering_views`), classifies them in one batch, and averages the
softmax over the views, each weighted by how much of it holds pixels (a partial photosphere's empty part
counts for nothing). The per-view answers say where each class is (``pano see --where``).
:func:`see_flat` classifies an ordinary photo whole.

``pano mirage`` uses the same distribution as its content target (:mod:`pano.filters.mirage`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.sphere.convention import direction_to_lonlat
from pano.sphere.viewset import covering_views
from pano.sphere.views import equirect_to_views

__all__ = ["SEE_FOV", "Seen", "see_flat", "see_sphere", "see_views", "top_classes", "view_count"]

SEE_FOV = 75.0  # degrees: near the field of view of the photos classifiers are trained on


@dataclass
class Seen:
    """What the net sees: ``probs (C,)`` aggregated; per view ``view_probs (N, C)``, ``weights (N,)`` (the share
    of the view that holds pixels) and where each view looks, ``yaw_pitch (N, 2)`` in degrees."""

    probs: Tensor
    view_probs: Tensor
    weights: Tensor
    yaw_pitch: Tensor
    classes: tuple[str, ...]

    def top(self, k: int = 5) -> list[tuple[float, str]]:
        return top_classes(self.probs, self.classes, k)

    def where(self, min_weight: float = 0.25) -> list[dict]:
        """The strongest class of each view that is at least ``min_weight`` pixels, from the top of the sphere
        down, west to east: ``[{"yaw": , "pitch": , "class": , "probability": }, ...]``."""
        rows = []
        for i in range(self.view_probs.shape[0]):
            if float(self.weights[i]) < min_weight:
                continue
            p, c = self.view_probs[i].max(0)
            yaw, pitch = (round(float(v), 1) for v in self.yaw_pitch[i])
            rows.append({"yaw": yaw, "pitch": pitch, "class": self.classes[int(c)], "probability": round(float(p), 4)})
        return sorted(rows, key=lambda r: (-r["pitch"], r["yaw"]))


def top_classes(probs: Tensor, classes: tuple[str, ...], k: int = 5) -> list[tuple[float, str]]:
    """``[(probability, name), ...]`` of the ``k`` most likely classes, most likely first."""
    values, index = probs.detach().float().cpu().topk(min(k, probs.numel()))
    return [(float(v), classes[int(i)]) for v, i in zip(values, index)]


def see_views(classifier, views: Tensor, batch: int = 16) -> Tensor:
    """Class probabilities ``(N, C)`` of views ``(N, 3, s, s)`` in [0, 1], without gradients, in batches."""
    out = []
    with torch.no_grad():
        for start in range(0, views.shape[0], batch):
            out.append(classifier.probabilities(views[start : start + batch]))
    return torch.cat(out)


def see_sphere(
    classifier,
    equi: Tensor,
    *,
    mask: Tensor | None = None,
    fov_deg: float = SEE_FOV,
    size: int | None = None,
    rotation: Tensor | None = None,
) -> Seen:
    """What ``classifier`` sees in the full-sphere equirect ``equi (1, 3, H, W)`` in [0, 1].

    Args:
        classifier: A :class:`pano.models.classifier.Classifier`.
        mask: ``(1, 1, H, W)`` where the sphere holds pixels (a partial photosphere), default everywhere.
        fov_deg: Field of view of each view.
        size: View side in px (default: the classifier's input size).
        rotation: ``(3, 3)`` turns the whole view set (default: upright views).
    """
    size = size or classifier.input_size
    rots = covering_views(fov_deg, margin=0.0)
    if rotation is not None:
        rots = rotation.to(rots) @ rots
    dev = classifier.device
    equi = equi.to(dev, torch.float32)
    views = equirect_to_views(equi, rots.to(dev), fov_deg, size)[0]
    view_probs = see_views(classifier, views)
    if mask is not None:
        m = equirect_to_views(mask.to(dev, torch.float32), rots.to(dev), fov_deg, max(8, size // 8))[0]
        weights = m.mean(dim=(1, 2, 3)).clamp(0, 1)
    else:
        weights = torch.ones(views.shape[0], device=dev)
    probs = (view_probs * weights[:, None]).sum(0) / weights.sum().clamp_min(1e-6)
    centre = rots[:, :, 2]  # the camera's forward axis in the world
    lon, lat = direction_to_lonlat(centre)
    yaw_pitch = torch.stack((torch.rad2deg(lon), torch.rad2deg(lat)), -1)
    return Seen(probs.cpu(), view_probs.cpu(), weights.cpu(), yaw_pitch.cpu(), classifier.classes)


def see_flat(classifier, image: Tensor, *, size: int | None = None) -> Seen:
    """What ``classifier`` sees in an ordinary photo ``(1, 3, h, w)``: the whole photo, its short side
    resized to the classifier's input size."""
    size = size or classifier.input_size
    h, w = image.shape[-2:]
    scale = size / min(h, w)
    x = image.to(classifier.device, torch.float32)
    x = F.interpolate(x, size=(max(size, round(h * scale)), max(size, round(w * scale))), mode="bilinear", antialias=scale < 1, align_corners=False)
    probs = see_views(classifier, x)
    return Seen(probs[0].cpu(), probs.cpu(), torch.ones(1), torch.zeros(1, 2), classifier.classes)


def view_count(fov_deg: float = SEE_FOV) -> int:
    """How many views :func:`see_sphere` classifies."""
    return int(covering_views(fov_deg, margin=0.0).shape[0])

