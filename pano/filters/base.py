"""The filter interface shared by ``pano dream``, ``upscale``, ``beauty`` and ``pano video``.

A filter turns a full equirectangular sphere into another one::

    out = filt(equi)          # (1, 3, H, W) float in [0, 1] on any device -> (1, 3, H*s, W*s)

``s`` is ``filt.info.scale`` (1 except for upscaling). The filter owns its model and device; it
never prints, it reports progress through the optional ``progress`` callback
(``progress(done, total, label)``). ``filt.params()`` returns the JSON-able parameters that
reproduce the result (saved in the output's sidecar).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch

#: pano's one progress signature (filters, the video pipeline, the CLI's bar ``pano.commands.common.Progress``):
#: ``progress(done, total, label)``; ``total == 0`` makes ``label`` a message (an out-of-memory retry), not a count.
ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class FilterInfo:
    name: str  # "dream", "upscale", "beauty", ...
    scale: int = 1  # output size / input size


class SphereFilter(Protocol):
    info: FilterInfo

    def __call__(self, equi: torch.Tensor, *, progress: ProgressFn | None = None) -> torch.Tensor: ...

    def params(self) -> dict[str, Any]: ...
