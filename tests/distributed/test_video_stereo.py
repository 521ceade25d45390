"""A stereo clip on the local Ray instance: each chunk keeps the eyes consistent as the single-process run
does (the left eye's output carried to the right along the input's disparity, with the carried state over
time), and with one chunk the Ray run gives the single-process run's frames exactly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests._stereo import stereo_eyes
from tests.video.clips import TintBlurNoise, encode_frames
from pano.distributed.video import Chunking, RayFrames
from pano.io.spherical import SphericalMetadata, write_spherical_metadata
from pano.video.pipeline import VideoOptions, process_video
from pano.video.source import join_eyes, split_eyes
from pano.video.stereo import stereo_mismatch

pytestmark = pytest.mark.slow

EYE_W, FRAMES = 128, 6
CHUNKS = Chunking(chunk=3, warmup=2, overlap=1)


@pytest.fixture(scope="module")
def stereo_clip(equirect_dir: Path, tmp_path_factory) -> Path:
    """Top-bottom eyes with a known disparity (background 2 px, a near box 8 px, two real photospheres),
    panning 2 px a frame; H.264 with Spherical metadata saying top-bottom."""
    left, right = stereo_eyes(equirect_dir, EYE_W, 2, 8)
    frames = [join_eyes([np.roll(e, 2 * i, 1) for e in (left, right)], "top-bottom") for i in range(FRAMES)]
    path = tmp_path_factory.mktemp("stereo") / "tb.mp4"
    encode_frames(path, frames, fps=10, audio=False, crf=16)
    write_spherical_metadata(path, SphericalMetadata(stereo="top-bottom"))
    return path


def _eyes(folder: Path) -> list[list[np.ndarray]]:
    return [split_eyes(cv2.imread(str(p))[..., ::-1], "top-bottom") for p in sorted(folder.glob("frame_*.png"))]


def soft_tint(device: str) -> TintBlurNoise:
    """The cheap real filter with a noise of +-0.05 (a dream's motifs differ between the eyes by about that
    much), built on ``device``; pickled by reference for the workers, like ``_jobs.tint``."""
    return TintBlurNoise(noise=0.1, device=device)


def _on_ray(ray, clip: Path, frames: Path, options: VideoOptions, chunking: Chunking) -> None:
    engine = RayFrames(ray, soft_tint, options, device="cpu", workers=2, chunking=chunking)
    try:
        process_video(clip, engine.filter, None, frames, options, engine=engine)
    finally:
        engine.close()


def test_ray_stereo_chunks_are_consistent_and_one_chunk_is_the_single_process_run(ray_local, stereo_clip, tmp_path):
    options = {eyes: VideoOptions(preset="ultrafast", blend=0.5, eyes=eyes) for eyes in ("consistent", "separate")}
    for eyes, opts in options.items():
        _on_ray(ray_local, stereo_clip, tmp_path / eyes, opts, CHUNKS)
    inputs = [split_eyes(f, "top-bottom") for f in _read(stereo_clip)]
    con, sep = _eyes(tmp_path / "consistent"), _eyes(tmp_path / "separate")
    assert len(con) == len(sep) == len(inputs) == FRAMES
    for k in range(FRAMES):  # every frame, also the warm-up-started and crossfaded ones at chunk edges
        m_in, m_con, m_sep = (stereo_mismatch(*eyes, *inputs[k]) for eyes in (inputs[k], con[k], sep[k]))
        assert m_con <= 1.3 * m_in < m_sep, (k, m_in, m_con, m_sep)

    # one chunk, no warm-up: the same frames as the single-process run
    _on_ray(ray_local, stereo_clip, tmp_path / "one_chunk", options["consistent"], Chunking(chunk=FRAMES, warmup=0, overlap=0))
    process_video(stereo_clip, soft_tint("cpu"), None, tmp_path / "local", options["consistent"])
    local, one = _eyes(tmp_path / "local"), _eyes(tmp_path / "one_chunk")
    assert len(local) == FRAMES and all(np.array_equal(a, b) for fa, fb in zip(local, one) for a, b in zip(fa, fb))


def _read(path: Path) -> list[np.ndarray]:
    from tests.video.clips import read_frames

    return read_frames(path)
