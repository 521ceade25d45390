"""A classifier with its class names: a registry backbone (ImageNet) or a user's own net and labels.

>>> clf = load_classifier()                                    # doctest: +SKIP
>>> clf.probabilities(views)      # (B, 3, H, W) in [0, 1] -> (B, 1000) softmax over ImageNet's classes
>>> clf = load_classifier("efficientnet_lite0", weights="scenes.safetensors", labels="scenes.txt")  # doctest: +SKIP

A user's classifier (``--weights FILE --labels FILE``) is one of the registry's architectures whose last
linear layer has as many outputs as the labels file has lines (e.g. a Places365 scene net with its 365
labels); its weights are loaded safely (:func:`pano.models.weights.load_state_dict_file`: no pickle code runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from pano.device import resolve_device
from pano.errors import InputError, ModelError
from pano.models.backbones import Backbone
from pano.models.registry import DEFAULT_BACKBONE, get_spec
from pano.models.weights import check_state_fits, load_state_dict_file

__all__ = ["Classifier", "load_classifier", "read_labels"]


@dataclass
class Classifier:
    """A frozen backbone and the names of its classes (``len(classes)`` logits)."""

    backbone: Backbone
    classes: tuple[str, ...]

    @property
    def input_size(self) -> int:
        return self.backbone.spec.input_size

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def probabilities(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 3, H, W)`` in [0, 1] -> ``(B, len(classes))`` class probabilities (softmax of the logits)."""
        return self.backbone.logits(x).float().softmax(-1)


_PLACES_LINE = re.compile(r"^(/[a-z]/)?(?P<name>\S.*?)(\s+\d+)?$")


def read_labels(path: str | Path) -> tuple[str, ...]:
    """Class names from a text file, one per line in class order. Places365's ``categories_places365.txt``
    form (``/c/cathedral/outdoor 87``) reads as ``cathedral/outdoor``; blank lines are skipped."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read labels file {path}: {exc.__class__.__name__}") from None
    names = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = _PLACES_LINE.match(line)
        names.append(m.group("name") if m else line)
    if not names:
        raise InputError(f"labels file {path} has no class names: write one name per line")
    return tuple(names)


def _last_linear(net: nn.Module) -> tuple[nn.Module, str, nn.Linear, str]:
    found = None
    for name, module in net.named_modules():
        if isinstance(module, nn.Linear):
            found = (name, module)
    if found is None:  # pragma: no cover - every registry net ends in a linear layer
        raise ModelError("this model has no linear classifier layer")
    name, module = found
    parent_name, _, attr = name.rpartition(".")
    return net.get_submodule(parent_name) if parent_name else net, attr, module, name


def load_classifier(
    model: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = None,
    labels: str | Path | None = None,
    device: str | torch.device = "cpu",
    layers: Sequence[str] | None = None,
    progress: bool = True,
) -> Classifier:
    """A registry classifier with ImageNet's class names, or a user's own (``weights`` + ``labels``).

    Args:
        model: Registry id: the architecture (``pano models``).
        weights: A state dict file for it (``.pth``/``.safetensors``), loaded safely; its last linear layer may
            have any number of outputs when ``labels`` names them.
        labels: A text file of class names, one per line (needs ``weights``).
        device: Where the net runs.
        layers: Named layers the backbone returns from ``forward`` (default: the model's default layer).

    Raises:
        ModelError, InputError: weights missing, unsafe or for another net; labels unreadable or not matching.
    """
    from pano.models.imagenet import IMAGENET_CLASSES

    spec = get_spec(model)
    target = resolve_device(device)
    if labels is None:
        net = spec.load_net(weights, progress=progress)
        classes = IMAGENET_CLASSES
        if _last_linear(net)[2].out_features != len(classes):  # pragma: no cover - registry nets are ImageNet's
            raise ModelError(f"{model} does not have ImageNet's 1000 classes: pass --labels FILE")
        return Classifier(Backbone(spec, net, layers).to(target), classes)
    if weights is None:
        raise InputError("--labels needs the classifier's own weights: pass --weights FILE too")
    classes = read_labels(labels)
    net = spec.build(init=False)
    parent, attr, last, path = _last_linear(net)
    setattr(parent, attr, nn.Linear(last.in_features, len(classes)))
    state = spec.adapt(load_state_dict_file(weights), net, str(weights))
    found = state.get(f"{path}.weight")
    if found is not None and found.shape[0] != len(classes):
        raise ModelError(
            f"{weights} has {found.shape[0]} classes but {labels} names {len(classes)}: pass the labels of these weights"
        )
    check_state_fits(state, net, str(weights), spec.id, f"pass weights of a {spec.id} with {len(classes)} classes")
    net.load_state_dict(state, strict=True)
    return Classifier(Backbone(spec, net.eval(), layers).to(target), classes)
