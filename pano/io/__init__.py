"""Reading and writing photospheres (EXIF, ICC, GPano XMP), atomic output, 360 video and its metadata.

Modules, each one idea: header (open and check a file), xmp, exif, gpano (GPano XMP <-> SphereGeometry),
decode (numpy pixels, reduced decodes), sphere_mode (full, partial or flat), encode (Pillow, 16-bit PNG and
TIFF), image (PanoImage: read_image, write_image), photosphere (load_sphere, save_sphere), png (one PNG
writer for frames and tiles), atomic, video, spherical (360 video metadata).

Imports are lazy so that ``pano info`` and the viewer start without torch.
"""

from __future__ import annotations

from pano._lazy import by_module, lazy_exports

_EXPORTS = by_module({
    "pano.io.image": ("PanoImage", "read_image", "write_image"),
    "pano.io.photosphere": ("LoadedSphere", "load_sphere", "save_sphere"),
    "pano.io.header": ("IMAGE_EXTENSIONS", "probe_image"),
    "pano.io.decode": ("decode_image",),
    "pano.io.gpano": ("parse_gpano", "gpano_xmp", "read_sphere_geometry"),
    "pano.io.xmp": ("read_xmp",),
    "pano.sphere.partial": ("SphereGeometry", "place_on_sphere", "crop_from_sphere"),  # their home before the split
    "pano.io.atomic": ("atomic_output",),
    "pano.io.png": ("write_png",),
})

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
