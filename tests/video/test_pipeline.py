"""The video pipeline end to end on real encoded clips: coherence, resume, stereo, timelapse, fades."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from tests.video.clips import TintBlurNoise, encode_frames, make_clip, read_frames

from pano.errors import InputError
from pano.io.spherical import SphericalMetadata, read_spherical_metadata, write_spherical_metadata
from pano.io.video import iter_video_frames, probe_video
from pano.video.coherence import flicker
from pano.video.pipeline import VideoOptions, process_video
from pano.video.state import work_dir_for

FAST = dict(preset="ultrafast")


def _pngs(folder: Path) -> list[np.ndarray]:
    return [cv2.imread(str(p)) for p in sorted(folder.glob("frame_*.png"))]


def test_coherence_lowers_flicker_on_a_real_clip(real_clip: Path, tmp_path: Path) -> None:
    inputs = read_frames(real_clip)
    runs = {}
    for coherent in (False, True):
        frames = tmp_path / f"frames_{coherent}"
        process_video(
            real_clip,
            TintBlurNoise(noise=0.3),
            None,
            frames,
            VideoOptions(coherence=coherent, blend=0.8, **FAST),
        )
        runs[coherent] = flicker(_pngs(frames)) / flicker(inputs)
    # the noisy filter flickers far more than the input; carrying the previous frame calms it
    assert runs[False] > 1.5
    assert runs[True] < 0.6 * runs[False], runs


def test_output_has_audio_metadata_and_every_frame(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = process_video(clip, TintBlurNoise(), out, options=VideoOptions(**FAST))
    info = probe_video(out)
    assert result.frames == 8 and info.frame_count == 8 and (info.width, info.height) == (128, 64)
    assert info.has_audio and result.audio
    assert info.duration_s == pytest.approx(probe_video(clip).duration_s, abs=0.01)
    with av.open(str(out)) as c:
        a = c.streams.audio[0]
        assert float(a.duration * a.time_base) == pytest.approx(0.8, abs=0.05)
    meta = read_spherical_metadata(out)
    assert meta.v1 and meta.v2 and meta.stereo == "mono"
    assert not work_dir_for(out).exists()  # cleaned up on success
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.mp4"]


def test_upscaling_filter_and_silent_input(silent_clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "up.mp4"
    filt = TintBlurNoise(scale=2)
    result = process_video(silent_clip, filt, out, options=VideoOptions(**FAST))
    info = probe_video(out)
    assert (info.width, info.height) == (256, 128) and not info.has_audio and not result.audio
    assert info.frame_count == 8 and filt.shapes[0] == (1, 3, 64, 128)


def test_resume_after_interrupt_equals_uninterrupted(clip: Path, tmp_path: Path) -> None:
    opts = VideoOptions(seed=7, blend=0.6, **FAST)
    full = tmp_path / "full"
    process_video(clip, TintBlurNoise(), None, full, opts)

    out = tmp_path / "resumed.mp4"
    frames = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        process_video(clip, TintBlurNoise(fail_at=5), out, frames, opts)
    assert not out.exists()
    assert len(list(work_dir_for(out).glob("f*.png"))) == 5  # every finished frame was kept

    with pytest.raises(InputError, match="other input or options"):
        process_video(clip, TintBlurNoise(), out, frames, VideoOptions(seed=8, resume=True, overwrite=True, **FAST))

    filt = TintBlurNoise()
    result = process_video(clip, filt, out, frames, VideoOptions(seed=7, blend=0.6, resume=True, **FAST))
    assert result.resumed_frames == 5 and filt.calls == 3  # only the missing frames were filtered
    expected, got = _pngs(full), _pngs(frames)
    assert len(got) == 8 and all(np.array_equal(a, b) for a, b in zip(expected, got))
    assert len(read_frames(out)) == 8 and not work_dir_for(out).exists()


def test_stereo_top_bottom_with_non_square_pixels_keeps_every_sample(tmp_path: Path) -> None:
    """Coded 128x72 with 9:16 pixels and V1 top-bottom metadata (like vrview_congo): each eye holds
    128 samples per 360° across and 36 per 180° down, so the eyes are processed and written at
    128x64 (the denser axis), not squeezed to 72x36 (the display size, 44 % of each row lost)."""
    rng = np.random.default_rng(1)
    cols = np.arange(128)
    stripes = np.where((cols // 2) % 2 == 0, 230, 30).astype(np.uint8)  # 32 cycles per 360°: above 72 px's reach
    top = np.repeat(stripes[None, :, None], 36, 0).repeat(3, 2)
    bottom = rng.integers(0, 80, (36, 128, 3), dtype=np.uint8)
    frames = [np.concatenate([np.roll(top, 4 * i, 1), np.roll(bottom, 4 * i, 1)]) for i in range(4)]
    path = tmp_path / "tb.mp4"
    encode_frames(path, frames, fps=10, audio=False, sample_aspect=Fraction(9, 16))
    write_spherical_metadata(path, SphericalMetadata(stereo="top-bottom", yaw_deg=30.0))
    assert probe_video(path).sample_aspect == Fraction(9, 16)

    filt = TintBlurNoise(noise=0.0)
    out = tmp_path / "tb_out.mp4"
    result = process_video(path, filt, out, options=VideoOptions(**FAST))
    assert set(filt.shapes) == {(1, 3, 64, 128)} and filt.calls == 8  # 2 eyes x 4 frames, each 2:1
    assert result.layout == "top-bottom"
    meta = read_spherical_metadata(out)
    assert meta.stereo == "top-bottom" and meta.yaw_deg == pytest.approx(30.0)  # layout and pose kept
    info = probe_video(out)
    assert (info.width, info.height, info.sample_aspect) == (128, 128, 1)
    first = read_frames(out)[0].astype(float)
    assert first[:64].mean() > first[64:].mean() + 80  # the bright eye stays on top
    # the stripes survive: the output's top eye is the filter run on the coded eye (vertically
    # stretched), up to the codec; the display-size path (72 px around) loses them
    import torch

    from pano.video.source import fit

    coded_top = read_frames(path)[0][:36]

    def filtered(eye: np.ndarray) -> np.ndarray:
        y = TintBlurNoise(noise=0.0)(torch.from_numpy(eye).permute(2, 0, 1)[None].float() / 255.0)
        return (y[0].permute(1, 2, 0) * 255.0).numpy()

    full = filtered(fit(coded_top, (128, 64)))
    squeezed = filtered(fit(fit(coded_top, (72, 36)), (128, 64)))
    err_out = np.abs(first[:64] - full)[8:-8].mean()
    err_squeezed = np.abs(squeezed - full)[8:-8].mean()
    assert err_out < 2.0 and err_squeezed > 5 * err_out, (err_out, err_squeezed)


def test_real_stereo_clip_preview(video360_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "congo.mp4"
    result = process_video(
        video360_dir / "vrview_congo_1024.mp4",
        TintBlurNoise(noise=0.0),
        out,
        options=VideoOptions(width=64, max_frames=3, **FAST),
    )
    assert (result.width, result.height, result.frames) == (64, 64, 3)
    meta = read_spherical_metadata(out)
    assert meta.stereo == "top-bottom" and meta.v1 and meta.v2
    info = probe_video(out)
    assert info.has_audio and info.frame_count == 3
    with av.open(str(out)) as c:  # audio cut to the preview's length
        a = c.streams.audio[0]
        assert float(a.duration * a.time_base) < 0.3


def test_not_two_to_one_without_metadata_leaves_nothing(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "flat.mp4", width=96, height=64, frames=2, audio=False)
    out = tmp_path / "flat_out.mp4"
    with pytest.raises(InputError, match="not 2:1"):
        process_video(path, TintBlurNoise(), out, options=VideoOptions(**FAST))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.mp4"]


def test_fades_and_strength_keyframes(clip: Path, tmp_path: Path) -> None:
    raw = read_frames(clip)
    frames = tmp_path / "faded"
    # 8 frames at 10 fps: fade in over 0.4 s, fade out over the last 0.2 s
    process_video(clip, TintBlurNoise(noise=0.0), None, frames, VideoOptions(fade_in_s=0.4, fade_out_s=0.2, coherence=False))
    full = tmp_path / "full"
    process_video(clip, TintBlurNoise(noise=0.0), None, full, VideoOptions(coherence=False))
    got = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB).astype(int) for f in _pngs(frames)]
    dream = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB).astype(int) for f in _pngs(full)]
    assert np.array_equal(got[0], raw[0])  # strength 0: the raw world
    assert np.array_equal(got[7], raw[7])
    assert np.array_equal(got[4], dream[4])  # strength 1 in the middle
    half = (raw[2].astype(int) + dream[2]) / 2  # t = 0.2 s: strength 0.5
    assert np.abs(got[2] - half).max() <= 1

    keyed = tmp_path / "keyed"
    process_video(clip, TintBlurNoise(noise=0.0), None, keyed, VideoOptions(strength="0:1,0.7:0", coherence=False))
    got = [cv2.cvtColor(f, cv2.COLOR_BGR2RGB).astype(int) for f in _pngs(keyed)]
    assert np.array_equal(got[0], dream[0]) and np.array_equal(got[7], raw[7])
    with pytest.raises(InputError, match="seconds:strength"):
        process_video(clip, TintBlurNoise(), None, tmp_path / "x", VideoOptions(strength="zero"))


def test_timelapse_folder_sorted_by_exif_time(equirect_dir: Path, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "photos"
    folder.mkdir()
    names = ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]
    times = ["2024:05:01 10:00:03", "2024:05:01 10:00:01", "2024:05:01 10:00:04", "2024:05:01 10:00:02"]
    sources = sorted(equirect_dir.glob("*.jpg"))[:4]
    for name, when, src in zip(names, times, sources):
        im = Image.open(src).convert("RGB").resize((128, 64))
        exif = Image.Exif()
        exif.get_ifd(0x8769)[36867] = when
        im.save(folder / name, exif=exif, quality=95)
    by_name = tmp_path / "by_name"
    process_video(folder, TintBlurNoise(noise=0.0), None, by_name, VideoOptions(coherence=False))
    by_time = tmp_path / "by_time"
    process_video(folder, TintBlurNoise(noise=0.0), None, by_time, VideoOptions(coherence=False, sort="time"))
    n, t = _pngs(by_name), _pngs(by_time)
    assert len(n) == len(t) == 4
    order = [1, 3, 0, 2]  # b, d, a, c
    assert all(np.array_equal(t[k], n[order[k]]) for k in range(4))

    out = tmp_path / "lapse.mp4"
    result = process_video(folder, TintBlurNoise(), out, options=VideoOptions(every=2, fps=Fraction(5), **FAST))
    info = probe_video(out)
    assert result.frames == 2 and info.frame_count == 2 and info.fps == 5 and not info.has_audio


def test_every_and_fps_drop_audio_when_duration_changes(clip: Path, tmp_path: Path) -> None:
    out = tmp_path / "every.mp4"
    result = process_video(clip, TintBlurNoise(), out, options=VideoOptions(every=2, **FAST))
    assert result.frames == 4 and not result.audio and result.notes
    out2 = tmp_path / "same_duration.mp4"
    result = process_video(clip, TintBlurNoise(), out2, options=VideoOptions(every=2, fps=Fraction(5), **FAST))
    assert result.audio and probe_video(out2).duration_s == pytest.approx(0.8, abs=0.01)


def test_decoded_stream_matches_input_frames(clip: Path) -> None:
    assert len(list(iter_video_frames(clip))) == probe_video(clip).frame_count


def test_filters_that_take_init_get_the_carried_frame_and_per_frame_seeds(clip: Path, tmp_path: Path) -> None:
    from tests.video.clips import InitAware

    filt = InitAware(noise=0.3)
    process_video(clip, filt, None, tmp_path / "a", VideoOptions(seed=5, max_frames=4))
    assert filt.inits == [False, True, True, True] and filt.seeds == [5, 6, 7, 8]
    off = InitAware()
    process_video(clip, off, None, tmp_path / "b", VideoOptions(coherence=False, max_frames=3))
    assert off.inits == [False, False, False]


def test_audio_an_mp4_cannot_hold_is_dropped_with_a_note(clip: Path, tmp_path: Path) -> None:
    """PCM audio in a MOV cannot be remuxed into MP4: the video is still made, without audio."""
    mov = tmp_path / "pcm.mov"
    with av.open(str(clip)) as i, av.open(str(mov), "w") as o:
        v = o.add_stream_from_template(i.streams.video[0])
        a = o.add_stream("pcm_s16le", rate=44100)
        a.layout = "mono"
        for p in i.demux(i.streams.video[0]):
            if p.dts is not None:
                p.stream = v
                o.mux(p)
        samples = np.zeros((1, 44100 // 2), np.int16)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = 44100, 0
        for p in a.encode(frame):
            o.mux(p)
        for p in a.encode(None):
            o.mux(p)
    assert probe_video(mov).audio_codec == "pcm_s16le"
    out = tmp_path / "pcm_out.mp4"
    result = process_video(mov, TintBlurNoise(), out, options=VideoOptions(**FAST))
    assert not result.audio and any("pcm_s16le" in n for n in result.notes)
    assert probe_video(out).frame_count == 8 and not probe_video(out).has_audio
