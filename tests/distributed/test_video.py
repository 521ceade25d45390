"""A real 360 clip in chunks on a local Ray instance (2 CPUs): flicker at the chunk boundaries, the same frames
with 1 or 2 workers, audio and 360 metadata, Ctrl-C and --resume, a worker killed mid-chunk."""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.distributed._jobs import SlowMarkingTint, kill_first_marker, tint
from tests.video.clips import encode_frames
from pano.distributed.video import Chunking, RayFrames, boundary_flicker
from pano.io.spherical import read_spherical_metadata
from pano.video.pipeline import VideoOptions, process_video
from pano.video.state import work_dir_for

pytestmark = pytest.mark.slow

CHUNKS = Chunking(chunk=6, warmup=4, overlap=3)
OPTIONS = VideoOptions(preset="ultrafast", blend=0.5)


@pytest.fixture(scope="module")
def battle(video360_dir: Path, tmp_path_factory) -> Path:
    """24 frames of a real 360 clip (every 2nd frame from 5.2 s in: a moving shot without a cut), 128x64, AAC audio."""
    import cv2

    frames = []
    with av.open(str(video360_dir / "panolens_1941-battle-low.mp4")) as c:
        for i, frame in enumerate(c.decode(video=0)):
            if i >= 130 and i % 2 == 0:
                frames.append(cv2.resize(frame.to_ndarray(format="rgb24"), (128, 64), interpolation=cv2.INTER_AREA))
            if len(frames) == 24:
                break
    path = tmp_path_factory.mktemp("clip") / "battle.mp4"
    encode_frames(path, frames, fps=12, audio=True)
    return path


def pngs(folder: Path) -> list[np.ndarray]:
    import cv2

    return [cv2.imread(str(p))[..., ::-1] for p in sorted(folder.glob("frame_*.png"))]


def run(ray, clip: Path, out: Path | None, frames: Path, chunking: Chunking = CHUNKS, workers: int | None = None,
        options: VideoOptions = OPTIONS, progress=None, factory=tint):
    engine = RayFrames(ray, factory, options, device="cpu", workers=workers, chunking=chunking)
    try:
        return process_video(clip, engine.filter, out, frames, options, progress=progress, engine=engine)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def chunked(ray_local, battle: Path, tmp_path_factory) -> Path:
    """The clip in chunks of 6 (4 warm-up frames, 3 crossfaded), 2 workers: the output folder."""
    folder = tmp_path_factory.mktemp("chunked")
    run(ray_local, battle, folder / "out.mp4", folder / "frames")
    return folder


def test_flicker_at_chunk_boundaries_is_like_inside_and_naive_chunks_fail(ray_local, battle, chunked, tmp_path):
    edge, inside = boundary_flicker(pngs(chunked / "frames"), CHUNKS)
    naive = Chunking(chunk=6, warmup=0, overlap=0)
    run(ray_local, battle, None, tmp_path / "naive", chunking=naive)
    naive_edge, naive_inside = boundary_flicker(pngs(tmp_path / "naive"), naive)
    print(f"boundary/inside flicker: chunked {edge / inside:.2f}, naive chunks {naive_edge / naive_inside:.2f}")
    assert edge <= 1.2 * inside
    assert naive_edge > 1.2 * naive_inside  # chunks that start cold and cut hard: caught


def test_audio_metadata_one_worker_same_frames_and_resume_after_ctrl_c(ray_local, battle, chunked, tmp_path):
    out = chunked / "out.mp4"
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 24 and len(c.streams.audio) == 1
    meta = read_spherical_metadata(out)
    assert meta.v1 and meta.v2 and meta.stereo == "mono"
    expected = pngs(chunked / "frames")
    assert len(expected) == 24
    # Ctrl-C on the driver after 10 frames (one worker): no output file, the finished frames kept for --resume
    stopped = tmp_path / "stopped.mp4"

    def interrupt(done: int, total: int, label: str = "") -> None:
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(ray_local, battle, stopped, tmp_path / "frames", workers=1, progress=interrupt)
    assert not stopped.exists() and work_dir_for(stopped).is_dir()
    deadline = time.monotonic() + 60  # the workers are stopped: their CPUs are free again
    while ray_local.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_local.available_resources().get("CPU", 0) == 2
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".stopped") and "part" in p.name]
    resumed = run(ray_local, battle, stopped, tmp_path / "frames", workers=1,
                  options=VideoOptions(preset="ultrafast", blend=0.5, resume=True))
    assert resumed.resumed_frames == 10 and resumed.frames == 24
    got = pngs(tmp_path / "frames")
    for i, (a, b) in enumerate(zip(got, expected)):  # 1 worker + resume == 2 workers uninterrupted
        assert np.array_equal(a, b), i


def test_cli_video_on_ray_address(ray_local, battle, tmp_path):
    import subprocess
    import sys

    address = ray_local.get_runtime_context().gcs_address
    out = tmp_path / "up.mp4"
    r = subprocess.run(
        [sys.executable, "-m", "pano", "video", str(battle), "-o", str(out), "--filter", "upscale", "--scale", "2",
         "--max-frames", "6", "--chunk", "3", "--chunk-warmup", "1", "--chunk-overlap", "1", "--encode-preset",
         "ultrafast", "--ray", address, "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
    )
    assert r.returncode == 0, r.stderr
    assert "2 cpu workers" in r.stderr and "6/6" in r.stderr  # one bar on the driver, with the workers
    with av.open(str(out)) as c:
        v = c.streams.video[0]
        assert v.frames == 6 and (v.width, v.height) == (256, 128) and len(c.streams.audio) == 1
    assert read_spherical_metadata(out).v2


def test_a_worker_killed_mid_chunk_is_restarted_and_the_video_is_complete_and_the_same(ray_local, battle, chunked, tmp_path):
    """The actor's process is killed (SIGKILL) while it is in the middle of its first chunk: Ray restarts the
    actor and retries the chunk, and the video comes out whole, with the frames of the unkilled run."""
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "out.mp4"
    # one frame into a chunk of 13 (4 warm-up, 6 own, 3 crossfaded) of 0.1 s each
    result, _, pid = kill_first_marker(
        lambda: run(ray_local, battle, out, tmp_path / "frames", factory=SlowMarkingTint(str(marks), 0.1)), marks)
    assert "error" not in result, result.get("error")
    pids = {m.name.split("_")[0] for m in marks.iterdir()}
    assert len(pids) >= 3  # the two actors and the restarted one
    assert len([m for m in marks.iterdir() if m.name.startswith(f"{pid}_")]) < 13  # it died mid-chunk
    with av.open(str(out)) as c:
        assert c.streams.video[0].frames == 24 and len(c.streams.audio) == 1
    assert read_spherical_metadata(out).v2
    got, expected = pngs(tmp_path / "frames"), pngs(chunked / "frames")
    assert len(got) == 24
    for i, (a, b) in enumerate(zip(got, expected)):
        assert np.array_equal(a, b), i
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary files left
