"""The filter interface shared by ``pano dream``, ``upscale``, ``beauty`` and ``pano video``.

A filter turns a full equirectangular sphere into another one::

    out = filt(equi)          # (1, 3, H, W) float in [0, 1] on any device -> (1, 3, H*s, W*s)

``s`` is ``filt.info.scale`` (1 except for upscaling). A filter is built from its settings on a device by
:func:`pano.filters.factory.build_filter`; it owns its model and ``filt.device``, never prints, and reports
progress through the optional ``progress`` callback (``progress(done, total, label)``; ``progress(0, 0, text)``
is a message, such as an out-of-memory retry). ``filt.params()`` returns the JSON-able parameters that
reproduce the result (saved in the output's metadata).

What a filter can do beyond that is declared in ``filt.info``, never discovered from its signature:

* ``takes_init``: the call accepts ``init=`` (same size as the input), the image to start from instead of the
  input (``pano video`` passes the previous output carried along the optical flow);
* ``takes_seed``: the call accepts ``seed=`` for this call only (``pano video``: seed + frame index);
* ``supports_flat``: its settings have ``flat`` (an ordinary photo, not a sphere);
* ``takes_extent``: the call accepts ``extent=`` (:class:`Extent`: which borders of a partial panorama
  continue on the sphere), and ``out_dtype=``/``out_device=`` for a large output kept compact;
* ``checks_size``: it has ``check_input_size(width, height)``, which refuses a size it cannot work on (one
  line, before any work: ``pano video`` calls it before the first frame);
* ``scale``: output size / input size.

Calls keep no state: the same call twice gives the same result.
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
    """A filter's name and its declared capabilities (see the module's doc)."""

    name: str  # "dream", "upscale", "beauty", ...
    scale: int = 1  # output size / input size
    takes_init: bool = False
    takes_seed: bool = False
    supports_flat: bool = False
    takes_extent: bool = False
    checks_size: bool = False  # has ``check_input_size(width, height)``: refuses sizes it cannot work on, before any work


@dataclass(frozen=True)
class Extent:
    """Which borders of an image continue on the sphere: across ±180° (``wrap_x``) and over each pole."""

    wrap_x: bool = True
    pole_top: bool = True
    pole_bottom: bool = True

    @classmethod
    def of(cls, geometry: Any) -> "Extent":
        """The extent of a photosphere's GPano ``geometry`` (None or a flat photo: no border continues)."""
        if geometry is None:
            return FLAT
        wrap = geometry.crop_width >= geometry.full_width
        return cls(wrap, wrap and geometry.crop_top <= 0, wrap and geometry.crop_top + geometry.crop_height >= geometry.full_height)


FULL_SPHERE = Extent()
FLAT = Extent(False, False, False)


class SphereFilter(Protocol):
    info: FilterInfo
    device: torch.device

    def __call__(self, equi: torch.Tensor, *, progress: ProgressFn | None = None) -> torch.Tensor: ...

    def params(self) -> dict[str, Any]: ...
