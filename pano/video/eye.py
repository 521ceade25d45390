"""One eye of one frame through a sphere filter, with the frames carried onto it (the previous output along
the optical flow, the other eye's output along the disparity): the step that :mod:`pano.video.pipeline`,
:mod:`pano.video.stereo` and the Ray video workers share.

The carried frames go where the filter's declared capabilities allow (:func:`resolve_mode`): into its start
image (a dream or a mirage), its input, or blended into its output. The frame goes to the filter's device once,
each carry once; the blends run there and the result comes back as uint8.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from pano.errors import InputError
from pano.filters.base import SphereFilter
from pano.sphere.resize import resize_equirect
from pano.video.coherence import BlendMode, Carry, Motion, carry, layer


def resolve_mode(filt: SphereFilter, mode: str) -> BlendMode:
    """``auto``: ``both`` for filters that declare ``takes_init`` (pano's dream and mirage), else ``output``
    (map filters: upscale, beauty)."""
    if mode != "auto":
        if mode == "init" and not filt.info.takes_init:
            raise InputError(f"filter {filt.info.name} takes no init image: use --blend-mode input or output")
        return mode  # type: ignore[return-value]
    return "both" if filt.info.takes_init and filt.info.scale == 1 else "output"


def check_filter(filt: Any) -> None:
    """A filter from elsewhere (``--filter module:factory``) must follow :class:`pano.filters.base.SphereFilter`:
    ``info``, ``device``, ``params()`` and a call; refused in one line otherwise."""
    missing = [name for name in ("info", "device", "params") if not hasattr(filt, name)]
    if missing or not callable(filt):
        what = missing[0] if missing else "__call__"
        raise InputError(f"{type(filt).__name__} is not a sphere filter: it has no {what} (see pano.filters.base)")


class EyeFilter:
    """Runs a filter on one eye with the carried frames; holds no state between calls.

    Args:
        filt: a :class:`pano.filters.base.SphereFilter` (checked: refused in one line if it is none).
        blend_mode: where the carried frame goes (see :func:`resolve_mode`).
        blend: how much of the previous output, carried along the flow, to keep where it is trusted.
        seed: base seed; frame ``i`` runs with ``seed + i``.
    """

    def __init__(self, filt: SphereFilter, blend_mode: str = "auto", blend: float = 0.5, seed: int = 0) -> None:
        self.filt = filt
        self.blend, self.seed = blend, seed
        check_filter(filt)
        self.mode = resolve_mode(filt, blend_mode)
        self.scale = filt.info.scale
        self.device = torch.device(filt.device)
        self.pass_seed = filt.info.takes_seed
        self.takes_init = filt.info.takes_init and self.scale == 1

    def _tensor(self, rgb: np.ndarray) -> torch.Tensor:
        """A ``(H, W, 3)`` uint8 frame as ``(1, 3, H, W)`` float in ``[0, 1]`` on the filter's device."""
        t = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device, non_blocking=True)
        return t.permute(2, 0, 1)[None].float().div_(255.0)

    def _carried(self, carried: Carry, hw: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A carry on the filter's device at ``hw``: its image ``(1, 3, h, w)`` and confidence ``(1, 1, h, w)``,
        resampled there as a sphere where its size is another (the carried output of a scaling filter)."""
        both = np.concatenate([carried.warped, carried.confidence], axis=-1)  # one upload
        t = torch.from_numpy(np.ascontiguousarray(both, dtype=np.float32)).to(self.device, non_blocking=True)
        t = t.permute(2, 0, 1)[None]
        if tuple(t.shape[-2:]) != tuple(hw):
            t = resize_equirect(t, hw)
        return t[:, :3], t[:, 3:].clamp(0, 1)

    def __call__(
        self,
        index: int,
        cur: np.ndarray,
        motion: Motion | None,
        prev_out: np.ndarray | None,
        across: Carry | None = None,
    ) -> np.ndarray:
        """Filter ``cur``; ``across`` (stereo) is the other eye's output carried onto this eye, kept
        fully where trusted and ahead of this eye's own previous output. The frame goes to the filter's
        device once, the carries once each; the blends run there and the result comes back as uint8."""
        temporal = carry(motion, prev_out) if motion is not None and prev_out is not None else None
        carried = layer([(across, 1.0), (temporal, self.blend)])  # confidence holds the blend weight
        kwargs: dict[str, Any] = {}
        if self.pass_seed:
            kwargs["seed"] = self.seed + index
        x = self._tensor(cur)
        if carried is not None and self.mode in ("init", "input", "both"):
            warped, conf = self._carried(carried, x.shape[-2:])
            start = torch.lerp(x, warped, conf)  # (1 - c)·frame + c·carried
            if self.mode == "init" or (self.mode == "both" and self.takes_init):
                kwargs["init"] = start
            else:
                x = start
        torch.manual_seed(self.seed + index)
        y = self.filt(x, **kwargs)  # the filter owns its autograd mode (dream needs gradients)
        y = y.detach().float().clamp(0, 1)
        # the other eye's output always goes into this one's (where trusted): that is the consistency
        out_carry = carried if self.mode in ("output", "both") else layer([(across, 1.0)])
        if out_carry is not None:
            warped, conf = self._carried(out_carry, y.shape[-2:])
            y = torch.lerp(y, warped, conf)
        return (y[0].permute(1, 2, 0) * 255.0 + 0.5).to(torch.uint8).cpu().numpy()


__all__ = ["EyeFilter", "check_filter", "resolve_mode"]
