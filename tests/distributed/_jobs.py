"""Jobs for the fault tests: wrappers that record which worker process started which photo or frame, and
the kill of a worker in the middle of its work."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
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


def kill_first_marker(work: Callable[[], Any], marks: Path, wait_s: float = 300, join_s: float = 600) -> tuple[dict, Path, int]:
    """Run ``work`` on a thread; as soon as a marking job has written its first mark ``<pid>_<what>`` in
    ``marks``, SIGKILL that worker process; wait for ``work`` to end. Returns ``({"result": ...} or
    {"error": exc}, the first mark, the killed pid)``."""
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            out["error"] = exc

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not list(marks.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.02)
    first = next(marks.iterdir())
    pid = int(first.name.split("_")[0])
    os.kill(pid, signal.SIGKILL)
    thread.join(join_s)
    return out, first, pid
