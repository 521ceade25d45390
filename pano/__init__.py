"""pano: neural-network dreams for 360° photospheres and videos.

The public API is what this module re-exports (``__all__``); names load lazily, so ``import pano`` and
``pano --help`` stay fast. The sphere convention is documented in :mod:`pano.sphere.convention`.

Example:
    >>> import pano  # doctest: +SKIP
    >>> sphere = pano.load_sphere("sphere.jpg", full_width=1024)  # doctest: +SKIP
    >>> dream = pano.make_filter("dream", steps=10)  # doctest: +SKIP
    >>> pano.save_sphere(dream(sphere.equirect), "sphere_dream.jpg", sphere)  # doctest: +SKIP
"""

from __future__ import annotations

from pano._lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "load_sphere": "pano.io.image",
    "save_sphere": "pano.io.image",
    "read_image": "pano.io.image",
    "write_image": "pano.io.image",
    "SphereGeometry": "pano.io.gpano",
    "make_filter": "pano.filters.registry",
    "DreamFilter": "pano.filters.dream",
    "DreamSettings": "pano.filters.dream",
    "UpscaleFilter": "pano.filters.upscale",
    "BeautyFilter": "pano.filters.beauty",
    "load_backbone": "pano.models.backbones",
    "map_sphere": "pano.pipeline",
    "sphere_scores": "pano.metrics",
    "PanoError": "pano.errors",
    "InputError": "pano.errors",
    "ModelError": "pano.errors",
    "OutputError": "pano.errors",
    "DeviceError": "pano.errors",
    "resolve_device": "pano.device",
}

__all__ = ["__version__", *sorted(_EXPORTS)]

__getattr__ = lazy_exports(__name__, _EXPORTS)
