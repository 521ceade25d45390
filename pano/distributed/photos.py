"""A batch of photos on Ray actors.

A *photo job* is a picklable object with ``open(device) -> process`` where ``process(src, dst)`` reads the
image file ``src`` and writes the finished output file ``dst`` (the command's own single-process code, so the
output, metadata included, is the same). Each actor opens the job once on its device (the model stays
loaded) and runs it on one photo at a time in a private temporary folder, removed after each photo.

Inputs: the driver puts each file's bytes in Ray's object store; an actor on a node that sees the same file
(same path, size and modification time) reads it there and leaves the bytes alone. Outputs come back as bytes
and are written on the driver, atomically. Actors are restarted and their task retried when their process
dies; Ctrl-C (or any error) kills them, and leaves only complete outputs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pano.distributed.cluster import WorkerPlan, plan_workers, worker_setup
from pano.errors import PanoError
from pano.io.atomic import atomic_output

RETRIES = 3


class PhotoJob(Protocol):
    def open(self, device: str) -> Callable[[Path, Path], None]: ...


@dataclass(frozen=True)
class PhotoInput:
    """What an actor gets for one photo: where it is on the driver, and its bytes in the object store."""

    path: str
    size: int
    mtime_ns: int
    data: Any  # an ObjectRef to the bytes
    output_name: str


class PhotoWorker:
    """The actor: one opened job on one device."""

    def __init__(self, job: PhotoJob, device: str, threads: int) -> None:
        worker_setup(threads)
        self.process = job.open(device)

    def pid(self) -> int:
        return os.getpid()

    def run(self, index: int, item: PhotoInput, ship: bool) -> tuple[int, bytes | None, str | None]:
        """``(index, output bytes, None)``, or ``(index, None, message)`` for a user-facing error."""
        import ray  # noqa: PLC0415 - inside a Ray worker

        from pano.errors import PanoError  # noqa: PLC0415

        task = Path(tempfile.mkdtemp(prefix="pano-ray-"))
        try:
            src = Path(item.path)
            shared = False
            if not ship:
                try:
                    st = src.stat()
                    shared = st.st_size == item.size and st.st_mtime_ns == item.mtime_ns
                except OSError:
                    shared = False
            if not shared:
                src = task / "in" / Path(item.path).name
                src.parent.mkdir()
                src.write_bytes(ray.get(item.data))
            dst = task / "out" / item.output_name
            dst.parent.mkdir()
            try:
                self.process(src, dst)
            except PanoError as exc:
                return index, None, exc.format_message().replace(str(src), item.path)
            return index, dst.read_bytes(), None
        finally:
            shutil.rmtree(task, ignore_errors=True)


def run_photos(
    ray: Any,
    job: PhotoJob,
    pairs: Sequence[tuple[Path, Path]],
    *,
    device: str = "auto",
    workers: int | None = None,
    overwrite: bool = False,
    ship_inputs: bool = False,
    on_start: Callable[[WorkerPlan], None] | None = None,
    on_done: Callable[[int, Path], None] | None = None,
) -> list[Path]:
    """Run ``job`` on every ``(input, output)`` pair on Ray actors; write each output on this machine.

    Args:
        ray: the connected ``ray`` module (see :func:`pano.distributed.cluster.ray_session`).
        job: a picklable photo job.
        device: ``auto`` (one actor per GPU, else CPU actors), ``cpu`` or ``cuda``.
        workers: at most this many actors.
        overwrite: replace outputs that exist.
        ship_inputs: always send the input bytes through the object store (default: only to nodes that do not
            see the input file).
        on_start: called with the worker plan once the actors are asked for.
        on_done: ``on_done(index, output)`` after each output is written.

    Returns:
        The outputs written, in the order they finished.
    """
    if not pairs:
        return []
    plan = plan_workers(ray, device, workers)
    plan = WorkerPlan(min(plan.count, len(pairs)), plan.num_cpus, plan.num_gpus)
    actor_class = ray.remote(PhotoWorker).options(
        num_cpus=plan.num_cpus, num_gpus=plan.num_gpus, max_restarts=RETRIES, max_task_retries=RETRIES
    )
    actors = [actor_class.remote(job, plan.device, plan.num_cpus) for _ in range(plan.count)]
    if on_start:
        on_start(plan)
    written: list[Path] = []
    try:
        queue = list(enumerate(pairs))
        running: dict[Any, Any] = {}  # task ref -> actor
        idle = list(actors)

        def submit(actor: Any) -> None:
            index, (src, dst) = queue.pop(0)
            st = Path(src).stat()
            item = PhotoInput(str(src), st.st_size, st.st_mtime_ns, ray.put(Path(src).read_bytes()), Path(dst).name)
            running[actor.run.remote(index, item, ship_inputs)] = actor

        while queue and idle:
            submit(idle.pop())
        while running:
            ready, _ = ray.wait(list(running), num_returns=1)
            actor = running.pop(ready[0])
            index, data, error = ray.get(ready[0])
            if error is not None:
                raise PanoError(error)
            dst = Path(pairs[index][1])
            with atomic_output(dst, overwrite) as tmp:
                tmp.write_bytes(data)
            written.append(dst)
            if on_done:
                on_done(index, dst)
            if queue:
                submit(actor)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
    return written
