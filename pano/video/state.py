"""Resume state: finished frames kept as lossless PNGs in a work folder beside the output.

``.OUT.mp4.pano-work/`` holds ``state.json`` (a hash of everything that changes the filtered
frames: input identity, filter parameters, seed, coherence settings, sizes) and one
``f000000.png`` per finished frame, each written to a temporary name and renamed, so a kill -9
leaves only whole frames. A resumed run reloads them, continues after the last one, and the
final video is encoded from all frames. The folder is deleted once the output is complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from pano.errors import InputError, OutputError
from pano.io.png import write_png

_STATE = "state.json"
_VERSION = 1


def work_dir_for(target: Path) -> Path:
    """The work folder for an output file or frames folder: ``.NAME.pano-work`` beside it."""
    return target.parent / f".{target.name}.pano-work"


def state_key(fields: dict[str, Any]) -> str:
    """A stable hash of JSON-able ``fields``."""
    blob = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


class WorkDir:
    """Finished frames of one job.

    Args:
        path: the work folder.
        key: :func:`state_key` of the job.
    """

    def __init__(self, path: Path, key: str) -> None:
        self.path = path
        self.key = key

    def _is_ours(self) -> bool:
        return (self.path / _STATE).is_file()

    def start(self, resume: bool) -> int:
        """Prepare the folder and return how many frames are already finished (0 unless resuming).

        Raises:
            InputError: ``resume`` and the folder belongs to a different job.
            OutputError: the folder path is taken by something that is not pano's.
        """
        if self.path.exists() and not self._is_ours():
            raise OutputError(f"{self.path} exists and is not a pano work folder: move it away")
        if resume and self._is_ours():
            try:
                state = json.loads((self.path / _STATE).read_text())
            except (OSError, ValueError):
                state = {}
            if state.get("key") != self.key:
                raise InputError(
                    f"{self.path} was made with other input or options: rerun them unchanged, "
                    "or drop --resume to start over"
                )
            return self.count_done()
        if self.path.exists():
            shutil.rmtree(self.path)
        self.path.mkdir()
        (self.path / _STATE).write_text(json.dumps({"version": _VERSION, "key": self.key}))
        return 0

    def frame_path(self, index: int) -> Path:
        return self.path / f"f{index:06d}.png"

    def count_done(self) -> int:
        """Number of consecutive finished frames from frame 0."""
        n = 0
        while self.frame_path(n).is_file():
            n += 1
        return n

    def save(self, index: int, rgb: np.ndarray) -> None:
        """Store frame ``index`` (uint8 RGB) atomically."""
        write_png(self.frame_path(index), rgb, compression=1)

    def load(self, index: int) -> np.ndarray:
        """Frame ``index`` as uint8 RGB."""
        bgr = cv2.imread(str(self.frame_path(index)), cv2.IMREAD_COLOR)
        if bgr is None:
            raise InputError(f"{self.frame_path(index)} is unreadable: drop --resume to start over")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def remove(self) -> None:
        if self._is_ours():
            shutil.rmtree(self.path, ignore_errors=True)
