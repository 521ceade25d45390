"""Streaming video input and output with PyAV: decode frame by frame, encode H.264/H.265, copy audio.

Nothing here holds more than a few frames: :func:`iter_video_frames` decodes lazily,
:class:`VideoWriter` encodes each frame as it arrives and interleaves the input's audio packets
(copied unchanged, never re-encoded) by time. :class:`Prefetch` and :class:`BackgroundWriter`
move decoding and encoding onto threads so they overlap with compute (FFmpeg releases the GIL).

Frames are ``(H, W, 3)`` ``uint8`` RGB numpy arrays (numpy lives in ``io/``; the pipeline turns
them into tensors).
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np

from pano.errors import InputError, OutputError
from pano.io.spherical import SphericalMetadata, read_spherical_metadata

Codec = Literal["auto", "h264", "h265"]
T = TypeVar("T")

#: Largest side H.264 output keeps (players and hardware decoders handle 5760x2880); above: H.265.
H264_MAX_SIDE = 5760
#: Largest side of H.265 output.
H265_MAX_SIDE = 8192
_ENCODERS = {"h264": "libx264", "h265": "libx265"}
_DEFAULT_CRF = {"h264": 18, "h265": 20}
#: Audio codecs an MP4 holds, so they can be copied without re-encoding.
MP4_AUDIO_CODECS = frozenset({"aac", "mp3", "mp2", "ac3", "eac3", "opus", "alac", "flac"})


@dataclass(frozen=True)
class VideoInfo:
    """What pano needs to know about an input video.

    Attributes:
        path: the file.
        width, height: coded frame size in pixels.
        sample_aspect: pixel aspect ratio (width / height of one pixel; 1 for square pixels).
        fps: average frame rate.
        frame_count: number of frames (from the container, else estimated from the duration).
        duration_s: duration of the video stream, seconds.
        has_audio: the file has an audio stream (copied to the output when timing allows).
        audio_codec: the audio stream's codec name (``"aac"``, ...), or None.
        spherical: the file's Spherical V1/V2 metadata (``projection`` None when absent).
    """

    path: Path
    width: int
    height: int
    sample_aspect: Fraction
    fps: Fraction
    frame_count: int
    duration_s: float
    has_audio: bool
    audio_codec: str | None = None
    spherical: SphericalMetadata = field(default_factory=lambda: SphericalMetadata(projection=None))
    declared_frames: int = 0  # the container's own frame count (0: not stored; frame_count is then estimated)

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) once the pixel aspect ratio is applied (width is scaled)."""
        return int(round(self.width * self.sample_aspect)), self.height


def _av():
    import av  # noqa: PLC0415 - PyAV is heavy; import on use

    return av


def _open_error(path: Path, exc: BaseException) -> InputError:
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split())[:120]
    return InputError(f"{path}: cannot read this video ({reason}): check the file")


def probe_video(path: str | os.PathLike) -> VideoInfo:
    """Open ``path`` and describe its first video stream.

    Raises:
        InputError: missing or corrupt file, or no video stream.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file: check the path")
    av = _av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path}: has no video stream: give pano a video file")
            v = container.streams.video[0]
            cc = v.codec_context
            if not cc.width or not cc.height:
                raise InputError(f"{path}: video stream has no frame size: check the file")
            fps = Fraction(v.average_rate or v.guessed_rate or v.base_rate or 30)
            duration = 0.0
            if v.duration and v.time_base:
                duration = float(v.duration * v.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            declared = int(v.frames or 0)
            count = declared or int(round(duration * fps))
            sar = Fraction(v.sample_aspect_ratio) if v.sample_aspect_ratio else Fraction(1)
            info = dict(
                width=cc.width,
                height=cc.height,
                sample_aspect=sar if sar > 0 else Fraction(1),
                fps=fps,
                frame_count=count,
                declared_frames=declared,
                duration_s=duration,
                has_audio=bool(container.streams.audio),
                audio_codec=container.streams.audio[0].codec_context.name if container.streams.audio else None,
            )
    except InputError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise _open_error(path, exc) from exc
    try:
        spherical = read_spherical_metadata(path)
    except InputError:  # not ISO BMFF (mkv, webm, ...): no Spherical V1/V2 boxes to read
        spherical = SphericalMetadata(projection=None)
    return VideoInfo(path=path, spherical=spherical, **info)


@dataclass
class DecodeReport:
    """How far :func:`iter_video_frames` got: filled in while it runs.

    Attributes:
        frames: frames decoded so far (all of them, before ``every`` drops some).
        finished: the stream was read to its end, or to a decode error.
        error: the decode error that ended the stream early, or None.
    """

    frames: int = 0
    finished: bool = False
    error: str | None = None

    def shortfall(self, info: VideoInfo) -> str | None:
        """A one-line warning when the stream ended before what ``info`` (its container) declares:
        fewer frames (or, without a stored count, a shorter duration by more than a frame), or a
        decode error; None when it was complete or not read to its end."""
        if not self.finished:
            return None
        name = info.path.name
        if self.error is not None:
            return f"{name}: decoding stopped after {self.frames} frames ({self.error}): the rest of the video is missing"
        expected = info.declared_frames or info.frame_count
        slack = 0 if info.declared_frames else 1
        if expected and self.frames < expected - slack:
            what = "frames its container declares" if info.declared_frames else "frames its duration implies"
            return f"{name} ended early: {self.frames} of the {expected} {what} could be read (truncated file?)"
        return None


def iter_video_frames(path: str | os.PathLike, every: int = 1, report: DecodeReport | None = None) -> Iterator[np.ndarray]:
    """Decode the first video stream frame by frame as ``(H, W, 3)`` uint8 RGB (coded size).

    Args:
        path: the video file.
        every: keep every ``every``-th frame (1 = all), starting with the first.
        report: filled in as frames are decoded; with it, a decode error after the first frame ends
            the stream (``report.error`` says why) instead of raising.

    Raises:
        InputError: the file cannot be decoded (with ``report``: not even its first frame).
    """
    path = Path(path)
    av = _av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise _open_error(path, exc) from exc
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        for frame in container.decode(stream):
            if report is not None:
                report.frames += 1
            if index % every == 0:
                yield frame.to_ndarray(format="rgb24")
            index += 1
        if report is not None:
            report.finished = True
    except av.error.FFmpegError as exc:
        if report is None or report.frames == 0:
            raise _open_error(path, exc) from exc
        report.error, report.finished = " ".join(str(exc).split())[:100], True
    finally:
        container.close()


def choose_codec(codec: Codec, width: int, height: int) -> Literal["h264", "h265"]:
    """The codec for a ``width`` x ``height`` output: ``auto`` is H.264 up to 5760 px, else H.265.

    Raises:
        OutputError: the size is beyond what the codec (or players) handle.
    """
    side = max(width, height)
    if codec == "auto":
        codec = "h264" if side <= H264_MAX_SIDE else "h265"
    if codec == "h264" and side > H264_MAX_SIDE:
        raise OutputError(f"{width}x{height} is too large for H.264 players: use --codec h265")
    if codec == "h265" and side > H265_MAX_SIDE:
        raise OutputError(f"{width}x{height} is too large for H.265 (max {H265_MAX_SIDE} px): use a smaller size")
    if codec not in _ENCODERS:
        raise OutputError(f"unknown codec {codec!r}: use h264 or h265")
    return codec  # type: ignore[return-value]


class VideoWriter:
    """Encode RGB frames to an MP4 at a constant frame rate, copying another file's audio.

    Args:
        path: output file (``.mp4``/``.mov``).
        width, height: frame size, both even.
        fps: constant output frame rate.
        codec: ``h264`` (libx264) or ``h265`` (libx265), yuv420p either way.
        crf: constant-rate-factor quality (lower = better; default 18 for H.264, 20 for H.265).
        preset: x264/x265 speed preset.
        audio_from: a file whose first audio stream is remuxed unchanged into the output.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        width: int,
        height: int,
        fps: Fraction,
        codec: Literal["h264", "h265"] = "h264",
        crf: int | None = None,
        preset: str = "medium",
        audio_from: str | os.PathLike | None = None,
    ) -> None:
        if width % 2 or height % 2:
            raise OutputError(f"frame size {width}x{height} must be even for yuv420p video")
        av = _av()
        self.path = Path(path)
        self.width, self.height = width, height
        self.fps = Fraction(fps).limit_denominator(1001 * 1000)
        self.frames_written = 0
        self._audio_in = None
        self._audio_packets: Iterator[Any] | None = None
        self._pending_audio: Any = None
        crf = _DEFAULT_CRF[codec] if crf is None else crf
        try:
            self._out = av.open(str(self.path), mode="w")
            options = {"crf": str(crf), "preset": preset}
            if codec == "h265":
                options["x265-params"] = "log-level=error"
            self._stream = self._out.add_stream(_ENCODERS[codec], rate=self.fps, options=options)
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = "yuv420p"
            self._tb = 1 / self.fps  # frame pts count frames: constant frame rate
            self._stream.codec_context.time_base = self._tb
            if codec == "h265":
                self._stream.codec_tag = "hvc1"  # what Apple players require
            if audio_from is not None:
                self._audio_in = av.open(str(audio_from))
                if self._audio_in.streams.audio:
                    a_in = self._audio_in.streams.audio[0]
                    self._audio_stream = self._out.add_stream_from_template(a_in)
                    self._audio_tb = a_in.time_base
                    self._audio_packets = iter(self._audio_in.demux(a_in))
        except (av.error.FFmpegError, OSError, ValueError) as exc:
            self._close_quietly()
            raise OutputError(f"cannot write video {self.path}: {' '.join(str(exc).split())[:120]}") from exc

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._close_quietly()

    def write(self, rgb: np.ndarray) -> None:
        """Encode one ``(height, width, 3)`` uint8 RGB frame."""
        av = _av()
        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"frame {rgb.shape} {rgb.dtype} != ({self.height}, {self.width}, 3) uint8")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = self._tb
        self._mux_audio_until(float(self.frames_written / self.fps))
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames_written += 1

    def _mux_audio_until(self, t_s: float | None) -> None:
        """Mux audio packets whose time is before ``t_s`` (all remaining when None)."""
        while self._audio_packets is not None:
            packet = self._pending_audio
            if packet is None:
                packet = next(self._audio_packets, None)
                if packet is None:
                    self._audio_packets = None
                    return
                if packet.dts is None:  # the demuxer's final flush packet
                    continue
            if t_s is not None and packet.pts is not None and float(packet.pts * self._audio_tb) > t_s:
                self._pending_audio = packet
                return
            self._pending_audio = None
            packet.stream = self._audio_stream
            self._out.mux(packet)

    def close(self, trim_audio: bool = False) -> None:
        """Flush the encoder and the remaining audio, and finish the file.

        Args:
            trim_audio: drop audio after the last video frame (for a shortened video); by default
                all of the audio is copied.
        """
        av = _av()
        try:
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            self._mux_audio_until(float(self.frames_written / self.fps) if trim_audio else None)
            self._out.close()
        except av.error.FFmpegError as exc:
            self._close_quietly()
            raise OutputError(f"cannot finish video {self.path}: {' '.join(str(exc).split())[:120]}") from exc
        finally:
            if self._audio_in is not None:
                self._audio_in.close()
                self._audio_in = None

    def abort(self) -> None:
        """Close without finishing (after an error); the caller deletes the partial file."""
        self._close_quietly()

    def _close_quietly(self) -> None:
        for c in (getattr(self, "_out", None), self._audio_in):
            try:
                if c is not None:
                    c.close()
            except Exception:  # noqa: BLE001 - already failing; keep the first error
                pass
        self._audio_in = None


# ------------------------------------------------------------------------------- overlap


_DONE = object()


class Prefetch(Iterator[T]):
    """Run an iterator on a background thread, ``depth`` items ahead; errors re-raise on ``next``.

    Args:
        items: the iterable to consume (e.g. :func:`iter_video_frames`).
        depth: how many items may wait in the queue (bounds memory).
        enabled: False runs the iterator inline (for benchmarks without overlap).
    """

    def __init__(self, items: Iterable[T], depth: int = 4, enabled: bool = True) -> None:
        self._enabled = enabled
        self._it = iter(items)
        if not enabled:
            return
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pano-decode", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for item in self._it:
                while not self._stop.is_set():
                    try:
                        self._q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
            self._q.put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            self._q.put(exc)

    def __next__(self) -> T:
        if not self._enabled:
            return next(self._it)
        item = self._q.get()
        if item is _DONE:
            self._q.put(_DONE)
            raise StopIteration
        if isinstance(item, BaseException):
            self._q.put(_DONE)
            raise item
        return item

    def close(self) -> None:
        """Stop the background thread (it finishes its current item)."""
        if self._enabled:
            self._stop.set()
            try:
                while True:
                    self._q.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=5)
        close = getattr(self._it, "close", None)
        if close is not None and not (self._enabled and self._thread.is_alive()):
            close()


class BackgroundWriter:
    """Call ``sink(item)`` for each submitted item on a background thread, in order.

    ``submit`` blocks when ``depth`` items wait; an error raised by ``sink`` re-raises on the
    next ``submit`` or on ``close``. ``enabled=False`` calls ``sink`` inline.
    """

    def __init__(self, sink: Callable[[Any], None], depth: int = 4, enabled: bool = True) -> None:
        self._sink = sink
        self._enabled = enabled
        self._error: BaseException | None = None
        if enabled:
            self._q: queue.Queue = queue.Queue(maxsize=depth)
            self._thread = threading.Thread(target=self._run, name="pano-encode", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is _DONE:
                return
            if self._error is not None:
                continue
            try:
                self._sink(item)
            except BaseException as exc:  # noqa: BLE001 - handed to the producer
                self._error = exc

    def submit(self, item: Any) -> None:
        if self._error is not None:
            raise self._error
        if self._enabled:
            self._q.put(item)
        else:
            self._sink(item)

    def close(self) -> None:
        """Wait for every submitted item to be handled; re-raise the first error."""
        if self._enabled:
            self._q.put(_DONE)
            self._thread.join()
        if self._error is not None:
            raise self._error
