"""The 1000 ImageNet-1k class names (as torchvision ships them, no network) and top-k readout of logits."""

from __future__ import annotations

import torch
from torchvision.models._meta import _IMAGENET_CATEGORIES

__all__ = ["IMAGENET_CLASSES", "top_k"]

IMAGENET_CLASSES: tuple[str, ...] = tuple(_IMAGENET_CATEGORIES)
"""Class names in ImageNet-1k index order: ``IMAGENET_CLASSES[985] == "daisy"``."""


def top_k(logits: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
    """The ``k`` most likely ImageNet classes of one image.

    Args:
        logits: ``(1000,)`` or ``(1, 1000)`` raw classifier outputs (softmax is applied here).
        k: How many classes to return.

    Returns:
        ``[(index, name, probability), ...]``, most likely first.

    Example:
        >>> logits = torch.full((1000,), -10.0); logits[985] = 10.0
        >>> top_k(logits, 1)[0][:2]
        (985, 'daisy')
    """
    logits = logits.detach()
    if logits.dim() == 2 and logits.shape[0] == 1:
        logits = logits[0]
    if logits.dim() != 1 or logits.shape[0] != len(IMAGENET_CLASSES):
        raise ValueError(f"top_k needs the logits of one image, shape (1000,) or (1, 1000); got {tuple(logits.shape)}")
    probs = logits.float().softmax(0)
    values, indices = probs.topk(min(k, probs.numel()))
    return [(int(i), IMAGENET_CLASSES[int(i)], float(p)) for p, i in zip(values, indices)]
