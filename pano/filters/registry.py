"""Filters by name: ``make_filter("dream" | "upscale" | "beauty" | "mirage", **options)`` -> a sphere filter.

Used by ``pano video`` (and anything else that takes ``--filter NAME``). Options are the filter's own
keyword arguments, named like the command-line options of ``pano dream`` / ``upscale`` / ``beauty apply``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from pano.errors import InputError


def make_dream(
    model: str | None = None,
    layer: str | None = None,
    weights: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    preset: str = "classic",
    guide: str | None = None,
    **settings: Any,
):
    """A :class:`pano.filters.dream.DreamFilter`; ``settings`` are :class:`DreamSettings` fields
    (``size``, ``steps``, ``octaves``, ``step_size``, ``seed``, ...)."""
    import torch

    from pano.device import resolve_device, resolve_precision
    from pano.filters.dream import DreamFilter, DreamSettings
    from pano.io.image import read_image
    from pano.models.backbones import load_backbone
    from pano.models.registry import DEFAULT_BACKBONE, get_spec

    known = {f.name for f in fields(DreamSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InputError(f"unknown dream option {unknown[0]!r}: see pano dream --help")
    dev = resolve_device(device)
    model = model or DEFAULT_BACKBONE
    cfg = replace(DreamSettings().with_preset(preset), **settings, model=model, guide=guide)
    spec = get_spec(model)
    layer = layer or (cfg.layer if cfg.layer in spec.layers else None) or spec.default_layer
    backbone = load_backbone(model, weights=weights, device=dev, layers=[layer]).to(memory_format=torch.channels_last)
    guide_t = read_image(guide, mode="flat").pixels if guide else None
    return DreamFilter(backbone, cfg, layer=layer, dtype=resolve_precision(precision, dev), guide=guide_t)


def make_upscale(**options: Any):
    """A :class:`pano.filters.upscale.UpscaleFilter` (``model``, ``scale``, ``tile``, ``device``, ``precision``)."""
    from pano.filters.upscale import UpscaleFilter

    return UpscaleFilter(**options)


def make_beauty(model: str | None = None, **options: Any):
    """A :class:`pano.filters.beauty.BeautyFilter` from a trained model file (``model=PATH``)."""
    from pano.filters.beauty import BeautyFilter, load_model

    if not model:
        raise InputError("the beauty filter needs a trained model: --model MODEL.safetensors (see pano beauty train)")
    device = options.pop("device", "auto")
    return BeautyFilter(load_model(model, device=device), **options)


def make_mirage(
    model: str | None = None,
    weights: str | None = None,
    labels: str | None = None,
    device: str = "auto",
    precision: str = "auto",
    **settings: Any,
):
    """A :class:`pano.filters.mirage.MirageFilter`; ``settings`` are :class:`MirageSettings` fields (``size``,
    ``steps``, ``scales``, ``content_weight``, ``init``, ``seed``, ...; ``style_layers`` comma-separated)."""
    from pano.device import resolve_device, resolve_precision
    from pano.filters.mirage import MirageFilter, MirageSettings
    from pano.models.classifier import load_classifier
    from pano.models.registry import DEFAULT_BACKBONE

    known = {f.name for f in fields(MirageSettings)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InputError(f"unknown mirage option {unknown[0]!r}: see pano mirage --help")
    if isinstance(settings.get("style_layers"), str):
        settings["style_layers"] = tuple(settings["style_layers"].split(","))
    dev = resolve_device(device)
    model = model or DEFAULT_BACKBONE
    cfg = replace(MirageSettings(), **settings, model=model)
    clf = load_classifier(model, weights=weights, labels=labels, device=dev)
    return MirageFilter(clf, cfg, dtype=resolve_precision(precision, dev))


FILTERS: dict[str, Callable[..., Any]] = {"dream": make_dream, "upscale": make_upscale, "beauty": make_beauty, "mirage": make_mirage}


def make_filter(name: str, **options: Any):
    """Build the filter ``name`` with ``options``; unknown names are a one-line :class:`InputError`."""
    if name not in FILTERS:
        raise InputError(f"unknown filter {name!r}: use one of {', '.join(FILTERS)}")
    return FILTERS[name](**options)
