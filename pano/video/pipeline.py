"""The video frame loop: decode -> (carry previous output along the flow) -> filter -> fade -> encode.

:func:`process_video` streams a 360 video or a folder of photospheres through any
:class:`pano.filters.base.SphereFilter` (for stereo input: the left eye, then the right eye
finished from the left eye's output carried along the disparity, see :mod:`pano.video.stereo`), and writes an MP4 with
Spherical V1+V2 metadata (and the input's audio when the timing is unchanged) and/or an image
sequence. Decoding runs ahead on one thread and PNG saving + encoding run behind on another, so
they overlap with the filter. Every finished frame is kept in a work folder until the output is
complete, so an interrupted run continues with ``resume=True`` and ends with the same frames.

Optical flow needs only the input, so it is computed on the decode thread as well; the filter
thread only warps the previous output.

Determinism: before frame ``i`` the torch seed is ``seed + i`` (and a filter that declares ``takes_seed``
gets it), and coherence always uses the 8-bit previous output, exactly what the work
folder stores; so a resumed run repeats the uninterrupted one frame for frame.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pano.errors import InputError, OutputError
from pano.filters.base import ProgressFn, SphereFilter
from pano.io.atomic import atomic_output, check_output_path
from pano.io.png import write_png
from pano.io.spherical import SphericalMetadata, write_spherical_metadata
from pano.io.video import BackgroundWriter, Codec, Prefetch, VideoWriter, choose_codec
from pano.video.coherence import Motion, estimate_motion
from pano.video.flow import FlowMethod
from pano.video.source import FrameSource, VideoSource, fit, join_eyes, split_eyes
from pano.video.eye import EyeFilter
from pano.video.stereo import StereoEyes, carry_across, with_disparity
from pano.video.state import WorkDir, state_key, work_dir_for
from pano.video.strength import StrengthCurve, mix, parse_keyframes
from pano.video.timelapse import IMAGE_SUFFIXES, FolderSource, SortKey

# (eyes, done, max_frames) -> (index, input eyes, output eyes | None for a resumed frame), in order
FrameEngine = Callable[[Iterator[list[np.ndarray]], int, int | None], Iterator[tuple[int, list[np.ndarray], list[np.ndarray] | None]]]

#: Image files pano does not read, which FFmpeg would open as one-frame videos: refused as images are.
OTHER_IMAGE_SUFFIXES = {".bmp", ".gif", ".tga", ".ppm", ".pgm", ".heic", ".avif", ".jxl"}


@dataclass(frozen=True)
class VideoOptions:
    """Options of :func:`process_video` (the CLI flags of ``pano video``).

    Attributes:
        every: keep every Nth input frame (timelapse).
        fps: output frame rate (default: the input's; 24 for a folder of images).
        width: resample each eye to this 2:1 width before filtering (default: the input's).
        max_frames: stop after this many output frames (a preview); the audio is cut to match.
        fade_in_s, fade_out_s: crossfade from/to the raw world at the start/end, seconds.
        strength: keyframes ``"t:s,..."`` (output seconds : strength 0..1), or None.
        coherence: carry the previous output along the optical flow.
        blend: how much of the carried output to keep where the flow is trusted, 0..1.
        blend_mode: ``auto`` (``both`` for dream: the carried frame is its start image and is
            blended into its output; ``output`` for map filters), or one of
            ``init``/``input``/``output``/``both``.
        flow: optical flow method.
        codec, crf, preset: encoder settings.
        seed: base seed; frame ``i`` uses ``seed + i``.
        sort: order of a folder's images (``name`` or EXIF ``time``).
        resume: continue an interrupted run from its work folder.
        overwrite: replace existing outputs.
        overlap: decode/encode on background threads (False: all inline, for benchmarks).
        strict: a video that ends early (fewer frames than its container declares, or a decode
            error) is an error instead of a warning.
        eyes: stereo input: ``consistent`` filters the left eye, carries its output to the right
            eye along the input's disparity and finishes the right eye from there (the same dream
            in both eyes, see :mod:`pano.video.stereo`); ``separate`` filters each eye on its own.
    """

    every: int = 1
    fps: Fraction | None = None
    width: int | None = None
    max_frames: int | None = None
    fade_in_s: float = 0.0
    fade_out_s: float = 0.0
    strength: str | None = None
    coherence: bool = True
    blend: float = 0.5
    blend_mode: Literal["auto", "init", "input", "output", "both"] = "auto"
    flow: FlowMethod = "dis"
    codec: Codec = "auto"
    crf: int | None = None
    preset: str = "medium"
    seed: int = 0
    sort: SortKey = "name"
    resume: bool = False
    overwrite: bool = False
    overlap: bool = True
    strict: bool = False
    eyes: StereoEyes = "consistent"


@dataclass
class VideoResult:
    """What :func:`process_video` did."""

    output: Path | None
    frames_out: Path | None
    frames: int
    resumed_frames: int
    width: int
    height: int
    fps: Fraction
    layout: str
    audio: bool
    codec: str | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. the input ended early (one line each)


def open_source(path: str | os.PathLike, options: VideoOptions) -> FrameSource:
    """A video file or a folder of photospheres as a frame source."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist: check the name of the video or folder")
    if options.every < 1:
        raise InputError("--every must be 1 or more")
    if options.width is not None and options.width < 8:
        raise InputError("--width must be at least 8 pixels")
    if path.is_dir():
        return FolderSource.open(path, options.fps or 24, options.every, options.sort, options.width)
    if path.suffix.lower() in IMAGE_SUFFIXES | OTHER_IMAGE_SUFFIXES:  # one image: read like every image, not by FFmpeg
        return FolderSource.of_image(path, options.fps or 24, options.width)
    return VideoSource.open(path, options.every, options.width)


def process_video(
    input_path: str | os.PathLike,
    filt: SphereFilter,
    output: str | os.PathLike | None,
    frames_out: str | os.PathLike | None = None,
    options: VideoOptions = VideoOptions(),
    progress: ProgressFn | None = None,
    engine: FrameEngine | None = None,
) -> VideoResult:
    """Run ``filt`` over every (kept) frame of a 360 video or photosphere folder.

    Args:
        input_path: a video file or a folder of 2:1 photospheres.
        filt: any sphere filter (``filt(equi (1,3,H,W) in [0,1]) -> (1,3,H*s,W*s)``).
        output: the MP4 to write (atomically), or None for ``frames_out`` only.
        frames_out: a folder to receive ``frame_000000.png``... (created if missing), or None.
        options: see :class:`VideoOptions`.
        progress: ``progress(done, total, label)`` after each frame (``done`` starts at the resumed count).
        engine: filters the frames elsewhere (:class:`pano.distributed.video.RayFrames`): called as
            ``engine(eyes, done, max_frames)``, it yields ``(index, input eyes, output eyes or None for a frame
            before done)`` in order; ``filt`` then only describes the filter (``info``, ``params()``, ``mode``).

    Returns:
        A :class:`VideoResult`.

    Raises:
        InputError: bad input or options. OutputError: the outputs cannot be written.
    """
    if output is None and frames_out is None:
        raise OutputError("nothing to write: give -o/--output or --frames-out")
    output = Path(output) if output is not None else None
    frames_dir = Path(frames_out) if frames_out is not None else None
    check_outputs(output, frames_dir, options)
    if not 0.0 <= options.blend <= 1.0:
        raise InputError("--blend must be between 0 and 1")
    keyframes = parse_keyframes(options.strength) if options.strength else None

    source = open_source(input_path, options)
    scale = filt.info.scale
    eye_w, eye_h = source.eye_size
    out_eye = (eye_w * scale, eye_h * scale)
    n_eyes = 1 if source.layout == "mono" else 2
    width = out_eye[0] * (2 if source.layout == "left-right" else 1)
    height = out_eye[1] * (2 if source.layout == "top-bottom" else 1)
    codec = choose_codec(options.codec, width, height) if output is not None else None
    fps = Fraction(options.fps) if options.fps else source.fps
    total = source.frame_count
    if options.max_frames is not None:
        if options.max_frames < 1:
            raise InputError("--max-frames must be 1 or more")
        total = min(total, options.max_frames) if total else options.max_frames
    notes: list[str] = []
    keep_audio = source.audio_path is not None and abs(float(fps * options.every / source.fps) - 1.0) < 1e-3
    if source.audio_path is not None and not keep_audio:
        notes.append("audio dropped: --every/--fps change the video's duration")
    info = getattr(source, "info", None)
    if info is not None and info.has_audio and source.audio_path is None:
        notes.append(f"audio dropped: an MP4 cannot hold {info.audio_codec} audio without re-encoding")
    curve = StrengthCurve(float(fps), total, options.fade_in_s, options.fade_out_s, keyframes)
    mode = filt.mode if engine is not None else None  # type: ignore[attr-defined]
    eye_filter = EyeFilter(filt, options.blend_mode, options.blend, options.seed) if engine is None else None
    if filt.info.checks_size:  # e.g. dream views too small for its model: refused before any frame
        filt.check_input_size(*source.eye_size)  # type: ignore[attr-defined]

    key = state_key(
        {
            "source": source.identity(),
            "every": options.every,
            "filter": filt.info.name,
            "scale": scale,
            "params": _jsonable(filt.params()),
            "seed": options.seed,
            "coherence": options.coherence,
            "blend": options.blend if options.coherence else None,
            "mode": eye_filter.mode if eye_filter is not None else mode,
            "flow": options.flow,
            "eye": source.eye_size,
            "eyes": options.eyes if n_eyes == 2 else None,
        }
    )
    work = WorkDir(work_dir_for(output if output is not None else frames_dir), key)  # type: ignore[arg-type]
    done = work.start(options.resume)
    made_frames_dir = frames_dir is not None and not frames_dir.exists()
    try:
        return _run(source, eye_filter, work, done, output, frames_dir, options, progress, scale, width, height,
                    codec, fps, total, n_eyes, out_eye, keep_audio, curve, notes, input_path, engine)
    except BaseException as exc:
        _clean_up_after(exc, work, frames_dir, made_frames_dir)
        raise


def _clean_up_after(exc: BaseException, work: WorkDir, frames_dir: Path | None, made_frames_dir: bool) -> None:
    """After a failed run: the frames written to ``--frames-out`` go (they are remade from the work folder);
    the work folder stays only when ``--resume`` can use it (an interrupt or a write error, with frames in
    it), and an :class:`OutputError` then says so."""
    if frames_dir is not None and frames_dir.is_dir():
        for png in frames_dir.glob("frame_*.png"):
            png.unlink(missing_ok=True)
        if made_frames_dir:
            try:
                frames_dir.rmdir()
            except OSError:
                pass
    resumable = isinstance(exc, KeyboardInterrupt | SystemExit | OutputError) and work.count_done() > 0
    if not resumable:
        work.remove()
    elif isinstance(exc, OutputError):
        exc.message = (f"{exc.format_message()}; the {work.count_done()} finished frames are kept in {work.path}: "
                       "run the same command with --resume once it can write")


def _run(source, eye_filter, work, done, output, frames_dir, options, progress, scale, width, height,  # noqa: PLR0913
         codec, fps, total, n_eyes, out_eye, keep_audio, curve, notes, input_path,
         engine: FrameEngine | None = None) -> VideoResult:
    """The frame loop of :func:`process_video` (checks done, work folder ready)."""
    if frames_dir is not None:
        frames_dir.mkdir(exist_ok=True)
    if progress:
        progress(min(done, total), total, "")

    pose = source.spherical  # keep the input's initial view / pose
    meta = SphericalMetadata(
        stereo=source.layout,
        yaw_deg=pose.yaw_deg if pose else 0.0,
        pitch_deg=pose.pitch_deg if pose else 0.0,
        roll_deg=pose.roll_deg if pose else 0.0,
    )
    count = 0
    with _maybe_atomic(output, options.overwrite) as tmp:
        writer = (
            VideoWriter(
                tmp, width, height, fps, codec, options.crf, options.preset,
                audio_from=source.audio_path if keep_audio else None,
            )
            if tmp is not None
            else None
        )

        def sink(item: tuple[int, list[np.ndarray], np.ndarray, bool]) -> None:
            index, raw_eyes, filtered, is_new = item
            if is_new:
                work.save(index, filtered)
            s = curve(index)
            if s < 1.0:
                raw = join_eyes([fit(e, out_eye) for e in raw_eyes], source.layout)
                final = mix(raw, filtered, s)
            else:
                final = filtered
            if writer is not None:
                writer.write(final)
            if frames_dir is not None:
                write_png(frames_dir / f"frame_{index:06d}.png", final)

        back = BackgroundWriter(sink, depth=4, enabled=options.overlap)
        with_motion = options.coherence and options.blend > 0 and engine is None
        across = n_eyes == 2 and options.eyes == "consistent" and engine is None
        frames = Prefetch(
            source.eyes() if engine is not None
            else with_disparity(_with_motion(source, done, with_motion, options.flow), done, across, options.flow),
            depth=4,
            enabled=options.overlap,
        )
        prev_out: list[np.ndarray] | None = None
        try:
            if engine is not None:  # the frames are filtered elsewhere (pano.distributed.video)
                for index, eyes, out_eyes in engine(frames, done, options.max_frames):
                    is_new = out_eyes is not None
                    filtered = join_eyes(out_eyes, source.layout) if is_new else _resumed(work, index, (height, width))
                    back.submit((index, eyes, filtered, is_new))
                    count = index + 1
                    if progress and is_new:
                        progress(count, max(total, count), "")
            else:
                for index, (eyes, motions, disparity) in enumerate(frames):
                    if options.max_frames is not None and index >= options.max_frames:
                        break
                    if len(eyes) != n_eyes:  # pragma: no cover - sources keep their layout
                        raise InputError("eye count changed mid-stream")
                    is_new = index >= done
                    if not is_new:
                        filtered = _resumed(work, index, (height, width))
                        out_eyes = split_eyes(filtered, source.layout)
                    else:
                        out_eyes = []
                        for e, eye in enumerate(eyes):
                            other = carry_across(disparity, out_eyes[0]) if e == 1 and disparity is not None else None
                            motion = motions[e] if motions else None
                            out_eyes.append(eye_filter(index, eye, motion, prev_out[e] if prev_out else None, other))
                        filtered = join_eyes(out_eyes, source.layout)
                    prev_out = out_eyes
                    back.submit((index, eyes, filtered, is_new))
                    count = index + 1
                    if progress and is_new:
                        progress(count, max(total, count), "")
        except BaseException:
            frames.close()
            try:
                back.close()  # keep every finished frame for --resume
            except BaseException:  # noqa: BLE001 - the first error is the one to report
                pass
            if writer is not None:
                writer.abort()
            raise
        frames.close()
        back.close()
        if count == 0:
            raise InputError(f"{input_path}: no frames could be decoded: check the file")
        warnings = []
        shortfall = source.shortfall() if hasattr(source, "shortfall") else None
        if shortfall is not None and (options.max_frames is None or count < options.max_frames):
            if options.strict:
                raise InputError(f"{shortfall}; without --strict the {count} frames read are kept")
            warnings.append(shortfall)
        if writer is not None:
            writer.close(trim_audio=options.max_frames is not None)
            write_spherical_metadata(tmp, meta)
    work.remove()
    return VideoResult(
        output=output,
        frames_out=frames_dir,
        frames=count,
        resumed_frames=min(done, count),
        width=width,
        height=height,
        fps=fps,
        layout=source.layout,
        audio=keep_audio and writer is not None,
        codec=codec,
        notes=notes,
        warnings=warnings,
    )


def _resumed(work: WorkDir, index: int, shape: tuple[int, int]) -> np.ndarray:
    """A finished frame from the work folder (``--resume``)."""
    filtered = work.load(index)
    if filtered.shape[:2] != shape:
        raise InputError(f"{work.path} holds frames of another size: drop --resume to start over")
    return filtered


def _with_motion(
    source: FrameSource, start: int, enabled: bool, method: FlowMethod
) -> Iterator[tuple[list[np.ndarray], list[Motion] | None]]:
    """The source's eyes with each eye's motion from the previous frame (for frames >= ``start``
    after the first; None otherwise). Runs on the decode thread, so flow overlaps the filter."""
    prev: list[np.ndarray] | None = None
    for index, eyes in enumerate(source.eyes()):
        motions = None
        if enabled and prev is not None and index >= start:
            motions = [estimate_motion(p, e, method) for p, e in zip(prev, eyes)]
        prev = eyes
        yield eyes, motions


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def check_outputs(output: Path | None, frames_dir: Path | None, options: VideoOptions) -> None:
    """The video output (.mp4/.mov/.m4v, writable, not there unless --overwrite) and the frames folder,
    checked before any work."""
    if output is not None:
        if output.suffix.lower() not in (".mp4", ".mov", ".m4v"):
            raise OutputError(f"{output}: pano writes .mp4 (or .mov) 360 videos: name the output NAME.mp4")
        check_output_path(output, options.overwrite)
    if frames_dir is not None:
        check_frames_dir(frames_dir, options.overwrite, options.resume)


def check_frames_dir(path: Path, overwrite: bool, resume: bool) -> None:
    if path.exists() and not path.is_dir():
        raise OutputError(f"--frames-out {path} is a file: name a folder")
    if not path.parent.is_dir():
        raise OutputError(f"folder {path.parent} does not exist: create it or choose another --frames-out")
    if path.is_dir() and any(path.glob("frame_*.png")) and not (overwrite or resume):
        raise OutputError(f"{path} already holds frames: use --overwrite or choose another --frames-out")


class _maybe_atomic:
    """``atomic_output(path)`` when a path is given, else a context yielding None."""

    def __init__(self, path: Path | None, overwrite: bool) -> None:
        self._cm = atomic_output(path, overwrite) if path is not None else None

    def __enter__(self) -> Path | None:
        return self._cm.__enter__() if self._cm is not None else None

    def __exit__(self, *exc: Any) -> Any:
        return self._cm.__exit__(*exc) if self._cm is not None else None


__all__ = ["VideoOptions", "VideoResult", "open_source", "process_video"]
