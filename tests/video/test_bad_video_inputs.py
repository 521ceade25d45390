"""Issue 16, the video defects: bad filter options, bad frames, truncated videos, interrupts, full disks and
leftovers. Clips are encoded here with PyAV; the cheap real filter of clips.py stands in for the dream
where the filter itself is not what is tested."""

from __future__ import annotations

import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from tests._bad_inputs import TinyDisk, files_under, png_claiming, run_pano, run_pano_process, sphere_jpeg, truncated_copy
from tests.video.clips import make_clip

TINT = ["--filter", "tests.video.clips:TintBlurNoise", "--noise", "0.1"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_clip(tmp_path_factory.mktemp("bad_video") / "clip.mp4", frames=4, audio=False)


def faststart_clip(path: Path, frames: int = 30, width: int = 128, height: int = 64) -> Path:
    """An H.264 MP4 with its index first (``movflags=faststart``), so that a cut file still opens and
    declares all ``frames`` while holding only the first ones."""
    import av

    rng = np.random.default_rng(0)
    with av.open(str(path), "w", options={"movflags": "faststart"}) as out:
        v = out.add_stream("libx264", rate=10, options={"crf": "20", "preset": "ultrafast"})
        v.width, v.height, v.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 10)
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
    return path


def test_video_channels_option_reaches_the_dream(clip: Path, tmp_path: Path, capsys) -> None:
    """#1: --channels through pano video is parsed like pano dream's (one value or a list) and dreams."""
    out = tmp_path / "c.mp4"
    got = run_pano(capsys, "video", clip, "-o", out, "--max-frames", "1", "-q", "--device", "cpu",
                   "--channels", "3", "--size", "128", "--octaves", "1", "--steps", "1")
    assert got.code == 0, got.err
    assert out.is_file() and out.stat().st_size > 0
    from pano.commands.filter_options import settings_options

    assert settings_options("dream", ["--channels", "3"])["channels"] == (3,)
    assert settings_options("dream", ["--channels", "3,17,40-42"])["channels"] == (3, 17, 40, 41, 42)
    # the other options keep the types their filters take; dream's --jitter/--fov map as in pano dream
    assert settings_options("upscale", ["--scale", "2", "--tile", "64"]) == {"scale": 2, "tile": 64}
    assert settings_options("dream", ["--jitter", "upright", "--fov", "90"]) == {"orientation": "upright", "fov_deg": 90.0}


@pytest.mark.parametrize(
    "option, words",
    [
        (["--step-size", "abc"], "'--step-size': 'abc' is not a valid float"),
        (["--steps", "0"], "'--steps': 0 is not in the range 1<=x<=10000"),
        (["--size", "0"], "'--size': 0 is not in the range 64<=x<=32768"),
        (["--octaves", "100"], "'--octaves': 100 is not in the range 1<=x<=12"),
        (["--channels", "x"], "use channel numbers like 3,17,40-45"),
        (["--preset", "sparkly"], "'--preset'"),  # no such look
        (["--size", "64"], "use --size 72 or more with --octaves 1"),  # valid for dream's option, too small for this clip's views
    ],
)
def test_video_filter_options_are_checked_as_the_dream_checks_them(option, words, clip, tmp_path, capsys) -> None:
    """#2, #16: a dream option pano dream refuses is refused by pano video the same way, in one line, before any
    frame, with no work folder or output left; a too-small view names what to change."""
    got = run_pano(capsys, "video", clip, "-o", tmp_path / "c.mp4", "-q", "--device", "cpu", *option)
    assert got.code == 2 and len(got.lines) == 1, got.err
    assert words in got.lines[0], got.lines[0]
    assert files_under(tmp_path) == set()


def _folder(tmp_path: Path, n: int = 3) -> Path:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(n):
        sphere_jpeg(folder / f"f{i}.jpg", 128, 64, seed=i)
    return folder


def test_decompression_bomb_in_a_timelapse_folder_is_one_line_and_leaves_nothing(tmp_path, capsys) -> None:
    """#3: a bomb header among a folder's images is refused before any frame; no work folder is made."""
    folder = _folder(tmp_path)
    png_claiming(folder / "f9.png", 200_000, 100_000)
    got = run_pano(capsys, "video", folder, "-o", tmp_path / "t.mp4", "-q", *TINT)
    assert got.code == 2 and len(got.lines) == 1 and "--max-pixels" in got.lines[0], got.err
    assert files_under(tmp_path) - files_under(folder.parent) == set()
    assert not list(tmp_path.glob(".*"))


def test_truncated_frame_in_a_folder_removes_the_work_folder(tmp_path, capsys) -> None:
    """#9, #15: a truncated image mid-folder is an error as everywhere; --resume could not get past it, so the
    work folder goes too, with the temp video, the output and the --frames-out frames."""
    folder = _folder(tmp_path)
    truncated_copy(folder / "f1.jpg", folder / "f1.jpg", 0.4)  # the second frame is cut
    got = run_pano(capsys, "video", folder, "-o", tmp_path / "t.mp4", "--frames-out", tmp_path / "pngs", "-q", *TINT)
    assert got.code == 2 and len(got.lines) == 1 and "truncated or corrupt" in got.lines[0], got.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]  # no .t.mp4.pano-work, no .part, no pngs/


def test_truncated_video_warns_with_the_frame_count_and_strict_refuses_it(tmp_path, capsys) -> None:
    """#10: a video that ends before its container says gives one warning line with the frames read; with
    --strict it is an error and nothing is written."""
    whole = faststart_clip(tmp_path / "whole.mp4", frames=30)
    cut = truncated_copy(whole, tmp_path / "cut.mp4", 1 / 3)
    from pano.io.video import probe_video

    assert probe_video(cut).declared_frames == 30  # the container still declares every frame
    got = run_pano(capsys, "video", cut, "-o", tmp_path / "out.mp4", "-q", *TINT)
    assert got.code == 0, got.err
    assert len(got.lines) == 1 and got.lines[0].startswith("pano: warning: cut.mp4 ended early: "), got.err
    read = int(got.lines[0].split("ended early: ")[1].split(" of ")[0])
    assert 0 < read < 30 and "of the 30 frames its container declares" in got.lines[0]
    assert probe_video(tmp_path / "out.mp4").frame_count == read
    complete = run_pano(capsys, "video", whole, "-o", tmp_path / "whole_out.mp4", "-q", "--strict", *TINT)
    assert complete.code == 0 and complete.lines == [], complete.err  # a whole file: no warning
    strict = run_pano(capsys, "video", cut, "-o", tmp_path / "strict.mp4", "-q", "--strict", *TINT)
    assert strict.code == 2 and len(strict.lines) == 1 and "ended early" in strict.lines[0], strict.err
    assert not (tmp_path / "strict.mp4").exists() and not list(tmp_path.glob(".strict*"))


def test_ctrl_c_is_one_line_and_keeps_the_work_folder_only_when_resume_can_use_it(clip, tmp_path, capsys) -> None:
    """#15, #19: an interrupt after two frames keeps them for --resume and says so in one line; an interrupt
    before any frame keeps nothing. --resume then finishes with no leftovers."""
    out = tmp_path / "c.mp4"
    got = run_pano(capsys, "video", clip, "-o", out, "-q", *TINT, "--fail-at", "2")
    assert got.code == 130 and len(got.lines) == 1, got.err
    work = tmp_path / ".c.mp4.pano-work"
    assert "--resume" in got.lines[0] and str(work) in got.lines[0] and len(list(work.glob("f*.png"))) == 2
    early = run_pano(capsys, "video", clip, "-o", tmp_path / "e.mp4", "-q", *TINT, "--fail-at", "0")
    assert early.code == 130 and len(early.lines) == 1 and "nothing was kept" in early.lines[0], early.err
    assert not (tmp_path / ".e.mp4.pano-work").exists()
    done = run_pano(capsys, "video", clip, "-o", out, "-q", "--resume", *TINT)
    assert done.code == 0, done.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.mp4"]


def test_stale_part_file_of_a_killed_run_is_removed_by_the_next_run(clip, tmp_path, capsys) -> None:
    """#14: kill -9 leaves .NAME.PID-XXXX.part.EXT; the next run of the same output removes it (a live run's
    file and other outputs' files are left alone)."""
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # that process has exited
    stale = tmp_path / f".c.{dead_pid}-k3j2x9.part.mp4"
    old_style = tmp_path / ".c.k3j2x9ab.part.mp4"
    live = tmp_path / f".c.{os.getpid()}-abcdef.part.mp4"
    other = tmp_path / f".c.b.{dead_pid}-abcdef.part.mp4"  # belongs to c.b.mp4
    for p in (stale, old_style, live, other):
        p.write_bytes(b"half a video")
    got = run_pano(capsys, "video", clip, "-o", tmp_path / "c.mp4", "-q", "--max-frames", "1", *TINT)
    assert got.code == 0, got.err
    assert not stale.exists() and not old_style.exists() and live.exists() and other.exists()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    try:
        disk = TinyDisk(tmp_path / "disk", "96k")
    except OSError as exc:
        pytest.skip(f"no tmpfs for a full-disk test: {exc}")
    yield disk.path
    disk.close()


def test_full_disk_during_video_is_one_line_and_cleans_up(clip, tiny_disk: Path, tmp_path: Path) -> None:
    """#15, #19: a full disk mid-run is pano's one line (libpng's own complaint kept off stderr), no .part and
    no half-filled --frames-out folder; the finished frames stay for --resume only if there are any."""
    sphere = np.random.default_rng(0).integers(0, 255, (64, 128, 3), dtype=np.uint8)
    noisy = make_clip(tmp_path / "noisy.mp4", frames=12, audio=False, source=sphere)
    r = run_pano_process("video", noisy, "-o", tiny_disk / "c.mp4", "--frames-out", tiny_disk / "pngs", "-q",
                         *TINT, "--noise", "0.5")
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "libpng" not in r.stderr, r.stderr
    assert "space" in lines[0] or "No space" in lines[0], lines[0]
    left = sorted(p.name for p in tiny_disk.iterdir())
    assert not [n for n in left if ".part" in n] and "pngs" not in left and "c.mp4" not in left, left
    work = tiny_disk / ".c.mp4.pano-work"
    if work.exists():
        assert "--resume" in lines[0] and list(work.glob("f*.png"))


def test_sigterm_mid_video_cleans_up_like_ctrl_c(tmp_path: Path) -> None:
    """Temp files are cleaned on every exit path: SIGTERM mid-run is Ctrl-C's one line and exit 130, with no
    .part file left and the finished frames kept for --resume."""
    import signal
    import time

    clip = make_clip(tmp_path / "long.mp4", frames=100, audio=False)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}  # pano and tests.video.clips
    proc = subprocess.Popen([sys.executable, "-m", "pano", "video", str(clip), "-o", str(tmp_path / "o.mp4"), "-q",
                             *TINT], stderr=subprocess.PIPE, text=True, env=env)
    work = tmp_path / ".o.mp4.pano-work"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(work.glob("f000002.png")):
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be signalled")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130 and len(lines) == 1 and "--resume" in lines[0], err
    assert not [p.name for p in tmp_path.iterdir() if ".part" in p.name] and list(work.glob("f*.png"))


def test_decode_report_says_why_a_stream_ended_early(tmp_path: Path) -> None:
    """#10: the warning covers fewer frames than declared, a shorter duration (no stored count: one frame of
    slack) and a decode error; a stream not read to its end (--max-frames) or read whole gives none."""
    from dataclasses import replace

    from pano.io.video import DecodeReport, probe_video

    info = probe_video(faststart_clip(tmp_path / "whole.mp4", frames=10))
    assert info.declared_frames == 10
    assert DecodeReport(frames=10, finished=True).shortfall(info) is None
    assert DecodeReport(frames=3, finished=False).shortfall(info) is None
    assert "3 of the 10 frames its container declares" in DecodeReport(frames=3, finished=True).shortfall(info)
    by_duration = replace(info, declared_frames=0, frame_count=10)
    assert DecodeReport(frames=9, finished=True).shortfall(by_duration) is None
    assert "8 of the 10 frames its duration implies" in DecodeReport(frames=8, finished=True).shortfall(by_duration)
    broken = DecodeReport(frames=4, finished=True, error="Invalid data found when processing input")
    assert "decoding stopped after 4 frames (Invalid data" in broken.shortfall(info)
