"""Sphere filters (dream, upscale, beauty) behind one protocol (:mod:`pano.filters.base`) and a registry."""

from __future__ import annotations

from pano._lazy import lazy_exports

_EXPORTS = {
    "FilterInfo": "pano.filters.base",
    "SphereFilter": "pano.filters.base",
    "make_filter": "pano.filters.registry",
    "build_filter": "pano.filters.factory",
    "Extent": "pano.filters.base",
    "UpscaleSettings": "pano.filters.settings",
    "BeautySettings": "pano.filters.settings",
    "MirageFilterSettings": "pano.filters.settings",
    "DreamFilter": "pano.filters.dream",
    "DreamSettings": "pano.filters.settings",
    "UpscaleFilter": "pano.filters.upscale",
    "BeautyFilter": "pano.filters.beauty",
    "MirageFilter": "pano.filters.mirage",
    "MirageSettings": "pano.filters.mirage",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
