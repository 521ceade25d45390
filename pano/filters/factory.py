"""One way to build a filter: ``build_filter(settings, device)``.

``settings`` is one of the frozen dataclasses of :mod:`pano.filters.settings` (its ``kind`` names the filter);
``device`` is where the filter runs (``"cpu"``, ``"cuda:1"``, a :class:`torch.device`; ``"auto"`` is the
caller's choice to make, as the CLI does). The CLI, ``pano video``, the Ray workers and Python callers all build
filters here. ``parts`` hands over what a caller has already loaded, so a batch of files loads a model once:
``backbone=`` (dream), ``classifier=`` (mirage), ``model=`` (beauty: a loaded :class:`BeautyModel`),
``descriptor=`` (upscale; ``quiet=False`` shows a download's progress), ``guide=`` (dream: the guide image, read under the caller's pixel limit) and
``mask=`` (dream: the mask already placed on the sphere, for a partial
photosphere; otherwise ``settings.mask`` is read from its path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pano.errors import InputError
from pano.filters.settings import BeautySettings, DreamSettings, MirageFilterSettings, UpscaleSettings


def build_filter(settings: Any, device: Any, **parts: Any):
    """The filter that ``settings`` describe, on ``device`` (see the module's doc)."""
    builder = _BUILDERS.get(type(settings))
    if builder is None:
        raise InputError(f"no filter is built from {type(settings).__name__}: use the settings of pano.filters.settings")
    import torch  # noqa: PLC0415

    from pano.device import resolve_device  # noqa: PLC0415

    dev = device if isinstance(device, torch.device) else resolve_device(str(device))
    unknown = sorted(set(parts) - _PARTS[type(settings)])
    if unknown:
        raise TypeError(f"build_filter({settings.kind}) takes no part {unknown[0]!r}")
    return builder(settings, dev, **parts)


def _dream(s: DreamSettings, dev, backbone=None, guide=None, mask=None):
    import torch  # noqa: PLC0415

    from pano.device import resolve_precision  # noqa: PLC0415
    from pano.filters.dream import DreamFilter  # noqa: PLC0415
    from pano.io.image import read_image  # noqa: PLC0415
    from pano.models.registry import get_spec  # noqa: PLC0415

    layer = s.layer or get_spec(s.model).default_layer
    if backbone is None:
        from pano.models.backbones import load_backbone  # noqa: PLC0415

        backbone = load_backbone(s.model, weights=s.weights, device=dev, layers=[layer]).to(memory_format=torch.channels_last)
    if guide is None and s.guide:
        guide = read_image(s.guide, mode="flat").pixels
    if mask is None and s.mask:
        mask = gray(read_image(s.mask, mode="flat").pixels)
    return DreamFilter(backbone, s, layer=layer, dtype=resolve_precision(s.precision, dev), guide=guide, mask=mask)


def gray(pixels):
    """``(1, 1, H, W)`` luma (Rec. 601) of ``(1, 3, H, W)`` RGB: a mask image."""
    import torch  # noqa: PLC0415

    return (pixels[:, :3] * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)


def _upscale(s: UpscaleSettings, dev, descriptor=None, quiet=True):
    from pano.filters.upscale import UpscaleFilter  # noqa: PLC0415

    return UpscaleFilter(s.model, scale=s.scale, tile=s.tile, device=dev, precision=s.precision, descriptor=descriptor,
                         quiet=quiet, repair_seam=s.repair_seam, flat=s.flat)


def _beauty(s: BeautySettings, dev, model=None):
    from pano.filters.beauty import BeautyFilter, load_model  # noqa: PLC0415

    if model is None:
        if not s.model:
            raise InputError("the beauty filter needs a trained model: --model MODEL.safetensors (see pano beauty train)")
        model = load_model(s.model, device=dev)
    return BeautyFilter(model, view_size=s.view_size, flat=s.flat, precision=s.precision, batch=s.batch, context=s.context)


def _mirage(s: MirageFilterSettings, dev, classifier=None, on_report=None, report_every=0, top=3):
    from pano.device import resolve_precision  # noqa: PLC0415
    from pano.filters.mirage import MirageFilter, MirageSettings  # noqa: PLC0415
    from pano.models.classifier import load_classifier  # noqa: PLC0415

    settings = MirageSettings(**{**dict(s.options), "model": s.model})
    if classifier is None:
        classifier = load_classifier(s.model, weights=s.weights, labels=s.labels, device=dev)
    return MirageFilter(classifier, settings, dtype=resolve_precision(s.precision, dev), on_report=on_report,
                        report_every=report_every, top=top)


_BUILDERS: dict[type, Callable[..., Any]] = {
    DreamSettings: _dream, UpscaleSettings: _upscale, BeautySettings: _beauty, MirageFilterSettings: _mirage,
}
_PARTS: dict[type, set[str]] = {
    DreamSettings: {"backbone", "guide", "mask"}, UpscaleSettings: {"descriptor", "quiet"}, BeautySettings: {"model"},
    MirageFilterSettings: {"classifier", "on_report", "report_every", "top"},  # the last three: the progress report
}
