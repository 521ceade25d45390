"""The one PNG writer for pano's own frames (video resume state, ``--frames`` folders, beauty's previews):
a uint8 RGB array, written atomically (temporary file, then rename) by OpenCV with libpng's own complaints
kept off stderr, so that pano's one line is the only one. Photospheres with metadata go through
:func:`pano.io.image.write_image` instead."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pano.errors import OutputError
from pano.io.atomic import atomic_output
from pano.io.decode import quiet_stderr


def write_png(path: str | os.PathLike, rgb: np.ndarray, compression: int = 3) -> Path:
    """Write an ``(H, W, 3)`` uint8 RGB array as ``path`` (replacing it), atomically.

    Args:
        path: The PNG file.
        rgb: The pixels.
        compression: zlib level 0-9 (1 for frames kept only until the video is encoded).

    Returns:
        The path written.

    Raises:
        OutputError: the encoder or the disk failed (full disk, read-only folder); nothing is left behind.
    """
    import cv2

    path = Path(path)
    try:
        with atomic_output(path, overwrite=True) as tmp, quiet_stderr():
            bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
            ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, int(compression)])
            if not ok:
                raise OSError("the PNG encoder failed")
            buf.tofile(str(tmp))
    except (OSError, cv2.error) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).strip() or type(exc).__name__
        raise OutputError(f"cannot write {path} ({why}): check free disk space") from None
    return path
