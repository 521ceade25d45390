"""Objectives of feature visualisation as small composable callables (in the manner of lucent).

An objective maps the activations of a batch of network views, ``{layer: (B, C, h, w)}``, to one scalar to
maximise (the sum over the views of a per-view score, so batches of views add up). Objectives compose::

    goal = layer_activation("stage5") + 0.5 * guide_dot("stage4", direction)

``objective.layers`` names the layers it reads, so the caller asks the backbone for exactly those. A
classifier's class score or a Gram-matrix style match (a Mirage's terms) are objectives of the same kind:
any ``Objective(fn, layers)`` with ``fn(features) -> scalar`` slots into :func:`pano.filters.ascent.ascend`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor

from pano.errors import InputError

Features = Mapping[str, Tensor]


class Objective:
    """``objective(features) -> scalar``; ``+``, ``-`` and scaling by a number make new objectives."""

    def __init__(self, fn: Callable[[Features], Tensor], layers: Sequence[str], name: str = "objective") -> None:
        self.fn, self.layers, self.name = fn, tuple(dict.fromkeys(layers)), name

    def __call__(self, features: Features) -> Tensor:
        return self.fn(features)

    def __add__(self, other: "Objective") -> "Objective":
        return Objective(lambda f: self(f) + other(f), self.layers + other.layers, f"{self.name} + {other.name}")

    def __neg__(self) -> "Objective":
        return Objective(lambda f: -self(f), self.layers, f"-{self.name}")

    def __sub__(self, other: "Objective") -> "Objective":
        return self + (-other)

    def __mul__(self, weight: float) -> "Objective":
        return Objective(lambda f: weight * self(f), self.layers, f"{weight:g} * {self.name}")

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"Objective({self.name})"


def select_channels(act: Tensor, channels: Sequence[int] | None, layer: str) -> Tensor:
    """``act[:, channels]`` (all when ``channels`` is empty), refusing channels the layer does not have."""
    if not channels:
        return act
    n = act.shape[1]
    bad = [c for c in channels if not 0 <= c < n]
    if bad:
        raise InputError(f"channel {bad[0]} does not exist: layer {layer} has channels 0..{n - 1}")
    return act[:, list(channels)]


def layer_activation(layer: str, channels: Sequence[int] | None = None) -> Objective:
    """DeepDream's objective: the mean squared activation of ``layer`` (of a channel subset), per view."""

    def fn(features: Features) -> Tensor:
        act = select_channels(features[layer], channels, layer)
        return act.pow(2).mean(dim=(1, 2, 3)).sum()

    return Objective(fn, [layer], f"activation {layer}" + (f"[{len(channels)} channels]" if channels else ""))


def channel_subset(layer: str, channels: Sequence[int]) -> Objective:
    """The mean squared activation of only ``channels`` of ``layer`` (``pano dream --channels``)."""
    return layer_activation(layer, channels)


def guide_dot(layer: str, direction: Tensor, channels: Sequence[int] | None = None) -> Objective:
    """Guided DeepDream: the dot product of each position's features with ``direction`` (the guide image's
    mean feature vector, :func:`feature_direction`), averaged over the view."""

    def fn(features: Features) -> Tensor:
        act = select_channels(features[layer], channels, layer)
        return torch.einsum("bchw,c->bhw", act, direction).mean(dim=(1, 2)).sum()

    return Objective(fn, [layer], f"guide {layer}")


def feature_direction(features: Tensor) -> Tensor:
    """The unit mean feature vector of ``(B, C, h, w)`` activations (a guide image's direction)."""
    vec = features.mean(dim=(0, 2, 3))
    return vec / vec.norm().clamp_min(1e-8)
