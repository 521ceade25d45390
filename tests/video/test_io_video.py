"""PyAV streaming: probe, decode, encode at a constant rate, audio copied unchanged, overlap threads."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from tests.video.clips import read_frames

from pano.errors import InputError, OutputError
from pano.io.video import (
    BackgroundWriter,
    Prefetch,
    VideoWriter,
    choose_codec,
    iter_video_frames,
    probe_video,
)


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(c.streams.audio[0]) if p.dts is not None]


def test_probe_and_decode(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.width, info.height, info.fps, info.frame_count) == (128, 64, Fraction(10), 8)
    assert info.has_audio and info.duration_s == pytest.approx(0.8)
    frames = list(iter_video_frames(clip))
    assert len(frames) == 8 and frames[0].shape == (64, 128, 3) and frames[0].dtype == np.uint8
    assert len(list(iter_video_frames(clip, every=3))) == 3  # frames 0, 3, 6


def test_writer_copies_audio_unchanged_at_constant_rate(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    frames = read_frames(clip)
    with VideoWriter(out, 128, 64, Fraction(10), "h264", crf=20, preset="ultrafast", audio_from=clip) as w:
        for f in frames:
            w.write(255 - f)
    assert _audio_packets(out) == _audio_packets(clip)  # bit-exact remux, never re-encoded
    with av.open(str(out)) as c, av.open(str(clip)) as i:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert v.frames == 8 and a.duration * a.time_base == i.streams.audio[0].duration * i.streams.audio[0].time_base
        pts = sorted(p.pts for p in c.demux(v) if p.pts is not None)
        steps = {b - a for a, b in zip(pts, pts[1:])}
        assert len(steps) == 1  # constant frame rate
    decoded = read_frames(out)
    assert np.abs(decoded[3].astype(int) - (255 - frames[3])).mean() < 6


def test_h265_and_codec_choice(tmp_path: Path) -> None:
    assert choose_codec("auto", 5760, 2880) == "h264"
    assert choose_codec("auto", 7680, 3840) == "h265"
    with pytest.raises(OutputError, match="--codec h265"):
        choose_codec("h264", 7680, 3840)
    with pytest.raises(OutputError):
        choose_codec("h265", 16384, 8192)
    out = tmp_path / "x.mp4"
    with VideoWriter(out, 128, 64, Fraction(30000, 1001), "h265", preset="ultrafast") as w:
        for i in range(3):
            w.write(np.full((64, 128, 3), 40 * i, np.uint8))
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "hevc" and v.average_rate == Fraction(30000, 1001) and v.frames == 3


def test_odd_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        VideoWriter(tmp_path / "odd.mp4", 129, 64, Fraction(10))


def test_bad_inputs_are_input_errors(tmp_path: Path, clip: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8)
    with pytest.raises(InputError, match="cannot read"):
        probe_video(corrupt)
    # an audio-only file: no video stream
    audio_only = tmp_path / "sound.m4a"
    with av.open(str(clip)) as i, av.open(str(audio_only), "w") as o:
        s = o.add_stream_from_template(i.streams.audio[0])
        for p in i.demux(i.streams.audio[0]):
            if p.dts is not None:
                p.stream = s
                o.mux(p)
    with pytest.raises(InputError, match="no video stream"):
        probe_video(audio_only)


def test_prefetch_and_background_writer_keep_order_and_errors() -> None:
    assert list(Prefetch(range(50), depth=2)) == list(range(50))
    assert list(Prefetch(range(5), enabled=False)) == list(range(5))

    def failing():
        yield 1
        raise InputError("decode failed")

    it = Prefetch(failing())
    assert next(it) == 1
    with pytest.raises(InputError, match="decode failed"):
        next(it)

    seen: list[int] = []
    w = BackgroundWriter(seen.append, depth=2)
    for i in range(20):
        w.submit(i)
    w.close()
    assert seen == list(range(20))

    def sink(item: int) -> None:
        raise OutputError("disk full")

    w = BackgroundWriter(sink)
    w.submit(1)
    with pytest.raises(OutputError, match="disk full"):
        w.close()

