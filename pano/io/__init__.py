"""Reading and writing photospheres (EXIF, ICC, GPano XMP), atomic output, 360 video and its metadata.

Modules, each one idea: header (open and check a file), xmp, exif, gpano (GPano XMP <-> SphereGeometry),
decode (numpy pixels, reduced decodes), sphere_mode (full, partial or flat), encode (Pillow, 16-bit PNG and
TIFF), image (PanoImage: read_image, write_image), photosphere (load_sphere, save_sphere), png (one PNG
writer for frames and tiles), atomic, video, spherical (360 video metadata).

Imports are lazy so that ``pano info`` and the viewer start without torch.
"""

from __future__ import annotations

from pano._lazy import lazy_exports

_EXPORTS = {
    "PanoImage": "pano.io.image",
    "read_image": "pano.io.image",
    "write_image": "pano.io.image",
    "IMAGE_EXTENSIONS": "pano.io.image",
    "LoadedSphere": "pano.io.photosphere",
    "load_sphere": "pano.io.photosphere",
    "save_sphere": "pano.io.photosphere",
    "decode_image": "pano.io.decode",
    "probe_image": "pano.io.header",
    "parse_gpano": "pano.io.gpano",
    "gpano_xmp": "pano.io.gpano",
    "read_sphere_geometry": "pano.io.gpano",
    "read_xmp": "pano.io.xmp",
    "SphereGeometry": "pano.sphere.partial",
    "place_on_sphere": "pano.sphere.partial",
    "crop_from_sphere": "pano.sphere.partial",
    "atomic_output": "pano.io.atomic",
    "write_png": "pano.io.png",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
