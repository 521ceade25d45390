"""``pano video`` through click: default names, filter options passed through, one-line errors, kill -9 + --resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.video.clips import make_clip, read_frames

from pano.cli import cli
from pano.commands.video import parse_filter_options
from pano.io.spherical import read_spherical_metadata
from pano.io.video import probe_video
from pano.video.state import work_dir_for


def test_parse_filter_options() -> None:
    opts = parse_filter_options(["--steps", "10", "--octave-scale=1.3", "--no-tile", "--layer", "mixed4c", "--fast"])
    assert opts == {"steps": 10, "octave_scale": 1.3, "tile": False, "layer": "mixed4c", "fast": True}


def test_help_lists_the_options() -> None:
    result = CliRunner().invoke(cli, ["video", "--help"])
    assert result.exit_code == 0
    for flag in ("--filter", "--every", "--fps", "--fade-in", "--strength", "--coherence", "--resume", "--codec", "--crf", "--frames-out", "--sort"):
        assert flag in result.output


def test_default_output_name_and_passthrough(clip: Path, tint_module: str) -> None:
    result = CliRunner().invoke(
        cli, ["video", str(clip), "--filter", tint_module, "--noise", "0.1", "--scale", "2", "--encode-preset", "ultrafast", "-q"]
    )
    assert result.exit_code == 0, result.output
    out = clip.with_name("clip_make.mp4")
    info = probe_video(out)
    assert (info.width, info.height, info.frame_count) == (256, 128, 8) and info.has_audio
    assert read_spherical_metadata(out).v2
    again = CliRunner().invoke(cli, ["video", str(clip), "--filter", tint_module, "-q"])
    assert again.exit_code == 2 and "--overwrite" in again.output
    mkv = CliRunner().invoke(cli, ["video", str(clip), "--filter", tint_module, "-o", str(clip.with_suffix(".mkv"))])
    assert mkv.exit_code == 2 and ".mp4" in mkv.output


@pytest.mark.parametrize("kind", ["missing", "corrupt", "flat", "not-a-video"])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path: Path, tint_module: str, kind: str) -> None:
    src = tmp_path / "in.mp4"
    if kind == "corrupt":
        src.write_bytes(b"\x00\x00\x00\x18ftypisom" + os.urandom(4000))
    elif kind == "flat":
        make_clip(src, width=96, height=64, frames=2, audio=False)
    elif kind == "not-a-video":
        src.write_text("hello")
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(cli, ["video", str(src), "--filter", tint_module, "-o", str(out), "-q"])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ([] if kind == "missing" else ["in.mp4"])


_SLOW_RUN = textwrap.dedent(
    """
    import sys, time, types
    sys.path.insert(0, {root_dir!r})  # the checkout: tests.video.clips
    from tests.video.clips import TintBlurNoise

    class Slow(TintBlurNoise):
        def __call__(self, equi, progress=None):
            time.sleep(float({delay!r}))
            return super().__call__(equi)

    module = types.ModuleType("slowfilters")
    module.make = lambda **kw: Slow(**kw)
    sys.modules["slowfilters"] = module
    from pano.cli import main
    main(sys.argv[1:])
    """
)


def _run(script: Path, args: list[str], delay: float) -> subprocess.Popen:
    script.write_text(_SLOW_RUN.format(root_dir=str(Path(__file__).resolve().parents[2]), delay=delay))
    return subprocess.Popen([sys.executable, str(script), "video", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_then_resume_gives_the_same_frames(tmp_path: Path, tint_module: str) -> None:
    clip = make_clip(tmp_path / "clip.mp4", frames=10)
    common = ["--seed", "3", "--encode-preset", "ultrafast", "-q"]
    ref = CliRunner().invoke(cli, ["video", str(clip), "--filter", tint_module, *common, "--frames-out", str(tmp_path / "ref")])
    assert ref.exit_code == 0, ref.output

    out = tmp_path / "out.mp4"
    args = [str(clip), *common, "-o", str(out), "--frames-out", str(tmp_path / "got")]
    proc = _run(tmp_path / "slow.py", [*args, "--filter", "slowfilters:make"], 0.3)
    work = work_dir_for(out)
    deadline = time.time() + 90
    while time.time() < deadline and len(list(work.glob("f*.png"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed: " + proc.communicate()[1].decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list(work.glob("f*.png")))
    assert 3 <= done < 10 and not out.exists()

    # the same job (same filter and parameters), resumed in-process
    resumed = CliRunner().invoke(cli, ["video", *args, "--filter", tint_module, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    ref_frames = sorted((tmp_path / "ref").glob("frame_*.png"))
    got_frames = sorted((tmp_path / "got").glob("frame_*.png"))
    assert len(got_frames) == len(ref_frames) == 10
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(ref_frames, got_frames))
    assert len(read_frames(out)) == 10 and not work.exists()
    assert probe_video(out).has_audio


def test_frames_out_only(clip: Path, tmp_path: Path, tint_module: str) -> None:
    frames = tmp_path / "seq"
    result = CliRunner().invoke(cli, ["video", str(clip), "--filter", tint_module, "--frames-out", str(frames), "--every", "2", "-q"])
    assert result.exit_code == 0, result.output
    assert len(list(frames.glob("frame_*.png"))) == 4
    assert not clip.with_name("clip_make.mp4").exists()


def test_real_dream_through_the_registry(real_clip: Path, tmp_path: Path) -> None:
    """pano's DeepDream (tiny settings passed through) on a real clip: coherent frames, metadata, audio."""
    import cv2

    out, frames = tmp_path / "dream.mp4", tmp_path / "frames"
    args = ["video", str(real_clip), "--filter", "dream", "--size", "128", "--octaves", "1", "--steps", "1", "--step-size", "0.02"]
    args += ["--max-frames", "2", "--device", "cpu", "-o", str(out), "--frames-out", str(frames), "--encode-preset", "ultrafast", "-q"]
    result = CliRunner().invoke(cli, args)
    if result.exit_code == 2 and "weights" in result.output:  # pragma: no cover - weights ship with the test install
        pytest.skip(result.output)
    assert result.exit_code == 0, result.output
    got = [cv2.imread(str(p)) for p in sorted(frames.glob("frame_*.png"))]
    raw = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in read_frames(real_clip)[:2]]
    assert len(got) == 2 and all(abs(g.astype(int) - r).mean() > 3 for g, r in zip(got, raw))  # it dreamed
    info = probe_video(out)
    assert info.frame_count == 2 and info.has_audio and read_spherical_metadata(out).v1
