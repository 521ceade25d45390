"""A photo job wrapper for the fault test: records which worker process started which photo."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Marking:
    """``job`` as it is, but each call first writes ``<marks>/<pid>_<input name>``."""

    job: Any
    marks: str

    def open(self, device: str):
        process = self.job.open(device)

        def run(src: Path, dst: Path) -> None:
            (Path(self.marks) / f"{os.getpid()}_{Path(src).name}").write_text("")
            process(src, dst)

        return run


def tint(device: str):
    """The video tests' cheap real filter (a noisy tint that flickers like a dream), built on ``device``."""
    from tests.video.clips import TintBlurNoise

    return TintBlurNoise(device=device)


@dataclass(frozen=True)
class SlowMarkingTint:
    """:func:`tint` (the same frames), but each frame first writes ``<marks>/<pid>_<n>`` and then takes
    ``delay`` seconds, so a test can find an actor's process and kill it in the middle of a chunk."""

    marks: str
    delay: float = 0.1

    def __call__(self, device: str):
        import time

        from tests.video.clips import TintBlurNoise

        marks, delay = Path(self.marks), self.delay

        class Slow(TintBlurNoise):
            def __call__(self, equi, progress=None):
                (marks / f"{os.getpid()}_{self.calls}").write_text("")
                time.sleep(delay)
                return super().__call__(equi, progress)

        return Slow(device=device)
