"""Backbones ready for dreaming: normalisation inside, named activations out, computed only as deep as needed.

>>> net = load_backbone("efficientnet_lite0", layers=["stage3", "stage5"])    # doctest: +SKIP
>>> acts = net(views)            # views (B, 3, H, W) in [0, 1] -> {"stage3": (B, 40, H/8, W/8), "stage5": ...}
>>> net.logits(views)            # (B, 1000) ImageNet logits (the whole classifier)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from pano.device import resolve_device
from pano.errors import ModelError
from pano.models.registry import DEFAULT_BACKBONE, BackboneSpec, get_spec

__all__ = ["Backbone", "load_backbone"]


class Backbone(nn.Module):
    """A classification net seen as a feature extractor with named layers.

    The net runs as a chain of steps (``spec.trunk``); :meth:`forward` stops after the deepest requested
    layer, so a shallow layer costs only the layers above it. The net is frozen: eval mode (``train()``
    cannot switch it out of it: batch-norm statistics stay fixed) and ``requires_grad=False`` on every
    parameter; gradients still flow to the input, which is what DeepDream needs.

    Args:
        spec: The registry entry.
        net: The built net with its weights (``spec.load_net()``).
        layers: Layer names :meth:`forward` returns by default (``None``: ``spec.default_layer``).

    Shape:
        Input ``(B, 3, H, W)`` RGB in [0, 1], ``H, W >= spec.min_size``, any dtype the net runs in (use
        :func:`pano.device.autocast` for bf16/fp16). Output of :meth:`forward`: ``{name: (B, C, h, w)}`` with
        ``C = spec.layers[name].channels`` and ``h`` about ``ceil(H / spec.layers[name].stride)``.
    """

    def __init__(self, spec: BackboneSpec, net: nn.Module, layers: Sequence[str] | None = None) -> None:
        super().__init__()
        self.spec = spec
        self.net = net
        for p in self.net.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(spec.input_mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(spec.input_std).view(1, 3, 1, 1), persistent=False)
        try:
            self._steps: list[tuple[str, nn.Module]] = [(p, net.get_submodule(p)) for p in spec.trunk]
            self._head: list[nn.Module] = [net.get_submodule(p) for p in spec.classifier]
        except AttributeError as exc:  # a spec that does not match its architecture is a pano bug
            raise RuntimeError(f"backbone {spec.id}: trunk/classifier path missing in the net: {exc}") from exc
        self._step_index = {path: i for i, (path, _) in enumerate(self._steps)}
        self.layers: tuple[str, ...] = self._check_layers(layers if layers is not None else [spec.default_layer])
        self.eval()

    def train(self, mode: bool = True) -> Backbone:
        """Always stays in eval mode: a pretrained backbone's batch-norm statistics must not move."""
        return super().train(False)

    def _check_layers(self, layers: Sequence[str]) -> tuple[str, ...]:
        if isinstance(layers, str):
            layers = [layers]
        names = tuple(dict.fromkeys(layers))
        if not names:
            raise ModelError(f"no layer requested from {self.spec.id}: use one of {', '.join(self.spec.layers)}")
        for name in names:
            if name not in self.spec.layers:
                raise ModelError(
                    f"{self.spec.id} has no layer {name!r}: use one of {', '.join(self.spec.layers)} (see pano models)"
                )
        return names

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{self.spec.id} needs a (B, 3, H, W) RGB batch, got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.spec.min_size:
            raise ModelError(
                f"{self.spec.id} needs images of at least {self.spec.min_size}x{self.spec.min_size} pixels, "
                f"got {x.shape[-1]}x{x.shape[-2]}: use a larger view size"
            )

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the normalisation the weights were trained with."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """Activations of ``layers`` (default: the ones given at construction), in the order asked.

        Args:
            x: ``(B, 3, H, W)`` RGB in [0, 1].
            layers: Layer names; the net runs only down to the deepest of them.

        Returns:
            ``{name: activation}``.
        """
        names = self.layers if layers is None else self._check_layers(layers)
        self._check_input(x)
        wanted: dict[str, list[str]] = {}
        for name in names:
            wanted.setdefault(self.spec.layers[name].path, []).append(name)
        stop = max(self._step_index[path] for path in wanted)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for path, module in self._steps[: stop + 1]:
            h = module(h)
            for name in wanted.get(path, ()):
                out[name] = h
        return {name: out[name] for name in names}

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1000)`` ImageNet logits of ``x`` in [0, 1] (the full classifier; :mod:`pano.models.imagenet`
        names the classes)."""
        self._check_input(x)
        h = self.normalize(x)
        for _, module in self._steps:
            h = module(h)
        h = torch.flatten(h, 1)
        for module in self._head:
            h = module(h)
        return h

    def features_and_logits(self, x: torch.Tensor, layers: Sequence[str]) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """The activations of ``layers`` and the logits of ``x`` in [0, 1], from one pass through the net
        (``pano mirage`` matches both: the style of some layers and the class scores)."""
        names = self._check_layers(layers)
        self._check_input(x)
        wanted: dict[str, list[str]] = {}
        for name in names:
            wanted.setdefault(self.spec.layers[name].path, []).append(name)
        out: dict[str, torch.Tensor] = {}
        h = self.normalize(x)
        for path, module in self._steps:
            h = module(h)
            for name in wanted.get(path, ()):
                out[name] = h
        h = torch.flatten(h, 1)
        for module in self._head:
            h = module(h)
        return {name: out[name] for name in names}, h

    def extra_repr(self) -> str:
        return f"id={self.spec.id!r}, layers={list(self.layers)}"


def load_backbone(
    id: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = None,
    device: str | torch.device = "cpu",
    layers: Sequence[str] | None = None,
    progress: bool = True,
) -> Backbone:
    """Build a registry backbone with its weights, frozen, on ``device``.

    Args:
        id: Registry id (``pano models`` lists them); default: the embedded EfficientNet-Lite0.
        weights: A state dict file to use instead of the pretrained weights (``--weights FILE``); loaded
            safely (no code runs), ``.pth``/``.pt``/``.safetensors``.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"``.
        layers: Layer names :meth:`Backbone.forward` returns (default: ``spec.default_layer``).
        progress: Show a progress bar if the weights have to be downloaded.

    Returns:
        A :class:`Backbone` in eval mode with frozen parameters.

    Raises:
        ModelError: Unknown id or layer; weights missing (offline: which file, from where, where to put it),
            not installed, unsafe, corrupt or for another architecture.
    """
    spec = get_spec(id)
    if layers is not None:  # fail on a typo before loading hundreds of MB
        unknown = [name for name in ([layers] if isinstance(layers, str) else layers) if name not in spec.layers]
        if unknown:
            raise ModelError(f"{spec.id} has no layer {unknown[0]!r}: use one of {', '.join(spec.layers)} (see pano models)")
    target = resolve_device(device)
    net = spec.load_net(weights, progress=progress)
    return Backbone(spec, net, layers).to(target)
