"""Reading and writing photospheres (EXIF, ICC, GPano XMP), atomic output, 360 video and its metadata.

Imports are lazy so that ``pano info`` and the viewer start without torch.
"""

from __future__ import annotations

from pano._lazy import lazy_exports

_EXPORTS = {
    "PanoImage": "pano.io.image",
    "LoadedSphere": "pano.io.image",
    "read_image": "pano.io.image",
    "write_image": "pano.io.image",
    "load_sphere": "pano.io.image",
    "save_sphere": "pano.io.image",
    "SphereGeometry": "pano.io.gpano",
    "parse_gpano": "pano.io.gpano",
    "gpano_xmp": "pano.io.gpano",
    "read_sphere_geometry": "pano.io.gpano",
    "place_on_sphere": "pano.io.gpano",
    "crop_from_sphere": "pano.io.gpano",
    "atomic_output": "pano.io.atomic",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
