"""The WebXR viewer behind ``pano view``: a small web server plus a WebGL2 page (package data).

Example:
    >>> from pano.viewer import build_gallery, ViewerServer  # doctest: +SKIP
    >>> with ViewerServer(build_gallery(["sphere.jpg", "sphere_dream.jpg"]), port=0) as srv:  # doctest: +SKIP
    ...     print(srv.url)
"""

from __future__ import annotations

from pano.viewer.media import Gallery, GalleryItem, MediaFile, build_gallery
from pano.viewer.qr import qr_matrix, qr_terminal
from pano.viewer.server import ViewerServer

__all__ = ["Gallery", "GalleryItem", "MediaFile", "ViewerServer", "build_gallery", "qr_matrix", "qr_terminal"]
