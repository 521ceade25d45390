"""A video's frames in chunks across Ray actors, coherent across chunk boundaries.

The frame range is cut into chunks of ``chunk`` frames. Chunk ``k`` owns frames ``[kC, (k+1)C)``; its actor
starts ``warmup`` frames early (processed, not written) so the state carried along the optical flow has settled,
and runs ``overlap`` frames past its end; over those frames its output is crossfaded into the next chunk's
(weight ``j/(overlap+1)`` for the next chunk on the ``j``-th shared frame). Frame ``i`` keeps seed + ``i`` (and
the filter's random rotations from it), and the chunks depend only on these three numbers, not on the number
of workers: 1 or 8 workers give the same frames, and a resumed run (which restarts the chunks that touch
the first missing frame) the same frames as an uninterrupted one.

The driver decodes the video (it need not be on the workers' storage: frames travel through the object store),
hands chunks to the actors a few at a time (memory stays bounded), and yields the finished frames in order to
:func:`pano.video.pipeline.process_video`, which encodes them with audio and 360 metadata as in a single-process
run. Optical flow is computed on the workers, and so is a stereo clip's disparity between the eyes: with
``eyes="consistent"`` each frame's left-eye output is carried to the right eye as in the single-process run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from pano.distributed.cluster import WorkerPlan, plan_workers, worker_setup
from pano.errors import PanoError
from pano.filters.base import FilterInfo

RETRIES = 3


@dataclass(frozen=True)
class Chunking:
    """Chunk length, warm-up frames before a chunk and crossfaded frames after it."""

    chunk: int = 32
    warmup: int = 6
    overlap: int = 4

    def __post_init__(self) -> None:
        if self.chunk < 1 or self.warmup < 0 or self.overlap < 0:
            raise ValueError("chunk must be >= 1, warmup and overlap >= 0")

    def start(self, k: int) -> int:
        return k * self.chunk

    def first_needed(self, done: int) -> int:
        """The first chunk whose frames (its own or its crossfaded tail) reach frame ``done``."""
        k = 0
        while self.start(k + 1) + self.overlap <= done:
            k += 1
        return k


class VideoWorker:
    """The actor: a filter built on its device from a picklable factory, run over chunks with coherence."""

    def __init__(self, factory: Callable[[str], Any], options: Any, device: str, threads: int) -> None:
        from pano.errors import PanoError  # noqa: PLC0415
        from pano.video.eye import EyeFilter  # noqa: PLC0415

        worker_setup(threads)
        self.options = options
        self.error: str | None = None
        try:
            self.filter = factory(device)
            self.eye_filter = EyeFilter(self.filter, options.blend_mode, options.blend, options.seed)
        except PanoError as exc:  # reported by describe(), as one line on the driver
            self.error = exc.format_message()

    def describe(self) -> tuple[FilterInfo | None, dict | None, str | None, str | None]:
        if self.error is not None:
            return None, None, None, self.error
        return self.filter.info, self.filter.params(), self.eye_filter.mode, None

    def run(self, first: int, keep_from: int, frames: list[Any]) -> list[list[np.ndarray]]:
        """Filter frames ``first, first+1, ...`` (their eyes, as object refs) with coherence starting afresh at
        ``first``; return the outputs (eyes) of frames ``keep_from`` and after."""
        import ray  # noqa: PLC0415 - inside a Ray worker

        from pano.video.coherence import estimate_motion  # noqa: PLC0415
        from pano.video.stereo import carry_across, estimate_disparity  # noqa: PLC0415

        opts = self.options
        with_motion = opts.coherence and opts.blend > 0
        consistent = getattr(opts, "eyes", "separate") == "consistent"
        prev_in: list[np.ndarray] | None = None
        prev_out: list[np.ndarray] | None = None
        kept = []
        for offset, ref in enumerate(frames):
            eyes = ray.get(ref)
            index = first + offset
            motions = [estimate_motion(p, e, opts.flow) for p, e in zip(prev_in, eyes)] if with_motion and prev_in else None
            # stereo, as in the single-process run: the left eye's output carried to the right eye along the
            # input's disparity, ahead of the right eye's own carried state (pano.video.stereo)
            disparity = estimate_disparity(eyes[0], eyes[1], opts.flow) if consistent and len(eyes) == 2 else None
            out: list[np.ndarray] = []
            for e, eye in enumerate(eyes):
                across = carry_across(disparity, out[0]) if e == 1 and disparity is not None else None
                out.append(self.eye_filter(index, eye, motions[e] if motions else None, prev_out[e] if prev_out else None, across))
            prev_in, prev_out = eyes, out
            if index >= keep_from:
                kept.append(out)
        return kept


@dataclass(frozen=True)
class RemoteFilter:
    """What the driver knows of the workers' filter (for the work folder's key and the blend mode)."""

    info: FilterInfo
    _params: dict
    mode: str

    def params(self) -> dict:
        return self._params


class RayFrames:
    """The frame engine for :func:`pano.video.pipeline.process_video` on Ray actors.

    Args:
        ray: the connected ``ray`` module.
        factory: picklable; ``factory(device)`` builds the filter on a worker.
        options: the :class:`pano.video.pipeline.VideoOptions` (coherence, blend, flow, seed).
        device: ``auto``, ``cpu`` or ``cuda`` (see :func:`pano.distributed.cluster.plan_workers`).
        workers: at most this many actors.
        chunking: chunk, warm-up and overlap lengths.
        on_start: called with the worker plan once the actors exist.
    """

    def __init__(self, ray: Any, factory: Callable[[str], Any], options: Any, *, device: str = "auto",
                 workers: int | None = None, chunking: Chunking = Chunking(),
                 on_start: Callable[[WorkerPlan], None] | None = None) -> None:
        self.ray, self.chunking = ray, chunking
        self.plan = plan_workers(ray, device, workers)
        actor_class = ray.remote(VideoWorker).options(
            num_cpus=self.plan.num_cpus, num_gpus=self.plan.num_gpus, max_restarts=RETRIES, max_task_retries=RETRIES
        )
        self.actors = [actor_class.remote(factory, options, self.plan.device, self.plan.num_cpus) for _ in range(self.plan.count)]
        try:
            info, params, mode, error = ray.get(self.actors[0].describe.remote())
            if error is not None:
                raise PanoError(error)
        except BaseException:
            self.close()
            raise
        self.filter = RemoteFilter(info, params, mode)
        if on_start:
            on_start(self.plan)

    def close(self) -> None:
        """Stop the actors (also mid-task: Ctrl-C)."""
        for actor in self.actors:
            self.ray.kill(actor, no_restart=True)
        self.actors = []

    def __call__(self, eyes: Iterator[list[np.ndarray]], done: int, limit: int | None
                 ) -> Iterator[tuple[int, list[np.ndarray], list[np.ndarray] | None]]:
        """Yield ``(index, input eyes, output eyes)`` in order; ``None`` for frames before ``done`` (the work
        folder has them)."""
        ray, c = self.ray, self.chunking
        raw: dict[int, list[np.ndarray]] = {}
        refs: dict[int, Any] = {}
        state = {"decoded": 0, "ended": False}
        source = iter(eyes)

        def available(i: int) -> bool:
            """Decode up to frame ``i``; False if the video (or ``limit``) ends before it."""
            while state["decoded"] <= i and not state["ended"]:
                if limit is not None and state["decoded"] >= limit:
                    state["ended"] = True
                    break
                try:
                    frame = next(source)
                except StopIteration:
                    state["ended"] = True
                    break
                raw[state["decoded"]] = frame
                refs[state["decoded"]] = ray.put(frame)
                state["decoded"] += 1
            return i < state["decoded"]

        results: dict[int, Any] = {}  # chunk -> ObjectRef, then its fetched frames
        fetched: dict[int, list[list[np.ndarray]]] = {}
        next_chunk = c.first_needed(done)
        in_flight = 2 * len(self.actors)

        def submit(upto_chunk: int) -> None:
            nonlocal next_chunk
            while next_chunk <= upto_chunk or len([k for k in results if k not in fetched]) < in_flight:
                s = c.start(next_chunk)
                if not available(s):
                    return
                available(s + c.chunk + c.overlap - 1)
                end = min(s + c.chunk + c.overlap, state["decoded"])
                first = max(0, s - c.warmup)
                actor = self.actors[next_chunk % len(self.actors)]
                results[next_chunk] = actor.run.remote(first, s, [refs[i] for i in range(first, end)])
                next_chunk += 1

        def output(k: int, i: int) -> list[np.ndarray]:
            if k not in fetched:
                fetched[k] = ray.get(results[k])
            return fetched[k][i - c.start(k)]

        i = 0
        while available(i):
            k = i // c.chunk
            if i < done:
                yield i, raw[i], None
            else:
                submit(k)
                out = output(k, i)
                j = i - c.start(k)
                if k > 0 and j < c.overlap and k - 1 in results:
                    w = (j + 1) / (c.overlap + 1)
                    prev = output(k - 1, i)
                    out = [_mix(a, b, w) for a, b in zip(prev, out)]
                yield i, raw[i], out
            # forget what no later chunk needs
            keep = min(i + 1, c.start(next_chunk) - c.warmup)
            for old in [f for f in raw if f < keep]:
                del raw[old]
                refs.pop(old, None)
            for old in [q for q in fetched if q < k - 1]:
                del fetched[old]
                results.pop(old, None)
            i += 1


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    """``(1-w) a + w b`` in 8 bits."""
    out = (1.0 - w) * a.astype(np.float32) + w * b.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def boundary_flicker(frames: list[np.ndarray], chunking: Chunking) -> tuple[float, float]:
    """``(largest frame-to-frame difference at a chunk boundary, median difference inside the chunks)``.

    The difference of frame ``i`` is the mean absolute difference to frame ``i-1`` (0..255). A boundary is
    every step into, through and out of a crossfade: frames ``s .. s+overlap`` for each chunk start ``s > 0``.
    """
    diffs = [float(np.mean(np.abs(b.astype(np.float32) - a.astype(np.float32)))) for a, b in zip(frames, frames[1:])]
    at: set[int] = set()
    k = 1
    while chunking.start(k) < len(frames):
        s = chunking.start(k)
        at.update(range(s, s + chunking.overlap + 1))
        k += 1
    boundary = [d for i, d in enumerate(diffs, start=1) if i in at]
    inside = [d for i, d in enumerate(diffs, start=1) if i not in at]
    if not boundary or not inside:
        raise ValueError("too few frames for these chunks: need a boundary and frames inside chunks")
    return max(boundary), float(np.median(inside))
