"""The short optimisation loop of a dream (in the manner of lucent's ``render``): the gradient of an
objective over a batch of views, pulled back to the parameter, and one normalised ascent step.

Nothing here keeps state between calls: the batch size found after an out-of-memory error lives in a
:class:`Batching` made for one run, and its messages go to that run's callback.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from pano.device import autocast
from pano.filters.objectives import Features, Objective
from pano.filters.view_loop import run_in_batches, view_batch

Score = Callable[[Tensor], Tensor]  # a batch of views (B, 3, h, w) in [0, 1] -> a scalar to maximise

class Batching:
    """Views per network call for one run: ``batch`` (0 = auto, :func:`pano.filters.view_loop.view_batch`),
    halved on out-of-memory for the rest of the run, with each halving reported to ``say``."""

    def __init__(self, batch: int, device: torch.device, say: Callable[[str], None] | None = None) -> None:
        self.batch, self.device, self.say = batch, device, say

    def size(self, n_views: int, pixels: int) -> int:
        return view_batch(self.batch, n_views, pixels, self.device)

    def halved(self, batch: int) -> None:
        self.batch = batch
        if self.say is not None:
            self.say(f"out of GPU memory: continuing with {batch} views per batch")


def view_score(backbone: torch.nn.Module, objective: Objective, dtype: torch.dtype) -> Score:
    """The objective of ``backbone``'s activations (computed in ``dtype``, scored in fp32) for views."""
    device = next(backbone.parameters()).device

    def score(views: Tensor) -> Tensor:
        return objective(features(backbone, views, objective.layers, device, dtype))

    return score


def features(backbone: torch.nn.Module, x: Tensor, layers: Sequence[str], device: torch.device,
             dtype: torch.dtype) -> Features:
    """``{layer: fp32 activations}`` of ``x`` in ``[0, 1]`` (channels-last, under autocast for bf16/fp16)."""
    with autocast(device, dtype):
        out = backbone(x.contiguous(memory_format=torch.channels_last))
    return {name: out[name].float() for name in layers}


def gradient(param: Tensor, render, score: Score, batching: Batching) -> Tensor:
    """d score / d param. ``render.prepare(param)`` builds what all views are cut from (the padded cube
    map, the shifted image) once; ``render.views(prepared, index_slice)`` cuts a batch of views. Batches
    (halved on out-of-memory) accumulate their gradients on the prepared tensor, which is then pulled
    back to ``param`` in one backward pass."""
    p = param.detach().requires_grad_(True)
    prepared = render.prepare(p)
    source = prepared.detach().requires_grad_(True)
    grad = torch.zeros_like(source)

    def run(part: slice) -> None:
        (g,) = torch.autograd.grad(score(render.views(source, part)), source)
        grad.add_(g)

    batch = batching.size(render.n_views, render.pixels)
    run_in_batches(render.n_views, run, batch=batch, device=batching.device, on_halve=batching.halved)
    (grad_param,) = torch.autograd.grad(prepared, p, grad)
    return grad_param


def ascend(x: Tensor, render, score: Score, step_size: float, batching: Batching, mask: Tensor | None = None) -> Tensor:
    """One step of normalised gradient ascent (masked where a mask is given), kept in [0, 1]."""
    grad = gradient(x, render, score, batching)
    if mask is not None:
        grad = grad * mask
    grad = grad / grad.abs().mean().clamp_min(1e-12)
    return (x + step_size * grad).clamp(0, 1)
