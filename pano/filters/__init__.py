"""Sphere filters (dream, upscale, beauty) behind one protocol (:mod:`pano.filters.base`) and a registry."""

from __future__ import annotations

import importlib

_EXPORTS = {
    "FilterInfo": "pano.filters.base",
    "SphereFilter": "pano.filters.base",
    "make_filter": "pano.filters.registry",
    "DreamFilter": "pano.filters.dream",
    "DreamSettings": "pano.filters.dream",
    "UpscaleFilter": "pano.filters.upscale",
    "BeautyFilter": "pano.filters.beauty",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'pano.filters' has no attribute {name!r}")
