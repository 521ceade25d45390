"""Files a job needs on every node (a guide image, a mask, a model file), carried by value.

A :class:`CarriedFile` keeps the driver's path and the file's bytes. On a node that sees the same file (same
path, same size) the path is used as it is; elsewhere the bytes are written to a private temporary file. So a
job pickled to a Ray worker works whether or not the node shares the driver's storage.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class CarriedFile:
    path: str
    data: bytes = field(repr=False)

    def local(self) -> Path:
        """A path to this file's bytes on this node."""
        p = Path(self.path)
        if not self.data:  # it was missing on the driver too: the opener reports it
            return p
        try:
            if p.is_file() and p.stat().st_size == len(self.data):
                return p
        except OSError:
            pass
        digest = hashlib.sha256(self.data).hexdigest()[:16]
        folder = Path(tempfile.gettempdir()) / f"pano-carried-{os.getuid() if hasattr(os, 'getuid') else 0}"
        folder.mkdir(exist_ok=True)
        target = folder / f"{digest}_{p.name}"
        if not target.is_file() or target.stat().st_size != len(self.data):
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            tmp.write_bytes(self.data)
            os.replace(tmp, target)
        return target


def carry_file(path: str | os.PathLike | None) -> CarriedFile | None:
    """``path``'s bytes with its name (None stays None). Missing files are left to the code that opens them,
    for its own one-line error: they carry no bytes."""
    if path is None:
        return None
    p = Path(path)
    return CarriedFile(str(p), p.read_bytes() if p.is_file() else b"")
