"""Spherical Video V1/V2 metadata: written by pano, parsed back, media left intact."""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
import pytest
from tests.video.clips import make_clip, read_frames

from pano.errors import InputError
from pano.io.spherical import (
    SPHERICAL_V1_UUID,
    SphericalMetadata,
    read_spherical_metadata,
    write_spherical_metadata,
)


def test_plain_clip_has_no_metadata(silent_clip: Path) -> None:
    meta = read_spherical_metadata(silent_clip)
    assert meta.projection is None and not meta.v1 and not meta.v2


@pytest.mark.parametrize("stereo", ["mono", "top-bottom", "left-right"])
def test_write_then_read_back_v1_and_v2(clip: Path, stereo: str) -> None:
    before = read_frames(clip)
    write_spherical_metadata(clip, SphericalMetadata(stereo=stereo, yaw_deg=90.0, pitch_deg=-10.5))
    meta = read_spherical_metadata(clip)
    assert meta.v1 and meta.v2
    assert meta.projection == "equirectangular" and meta.stereo == stereo
    assert meta.yaw_deg == pytest.approx(90.0) and meta.pitch_deg == pytest.approx(-10.5)
    after = read_frames(clip)
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(before, after))
    with av.open(str(clip)) as c:  # audio survives untouched
        assert c.streams.audio and c.streams.audio[0].frames > 0


def test_v1_and_v2_boxes_sit_where_players_look(clip: Path) -> None:
    write_spherical_metadata(clip, SphericalMetadata(stereo="top-bottom"))
    data = clip.read_bytes()
    assert data.count(SPHERICAL_V1_UUID) == 1
    assert b"<GSpherical:StereoMode>top-bottom</GSpherical:StereoMode>" in data
    st3d = data.index(b"st3d")
    assert data[st3d + 8] == 1  # version/flags (4 bytes) then stereo_mode: 1 = top-bottom
    avc1 = data.index(b"avc1")
    assert avc1 < st3d < data.index(b"sv3d") < data.index(b"equi")
    # rewriting replaces, never duplicates
    write_spherical_metadata(clip, SphericalMetadata(stereo="mono"))
    data = clip.read_bytes()
    assert data.count(SPHERICAL_V1_UUID) == 1 and data.count(b"sv3d") == 1
    assert read_spherical_metadata(clip).stereo == "mono"


def test_moov_before_mdat_shifts_chunk_offsets(tmp_path: Path) -> None:
    """A faststart file (moov first) must still decode after moov grows."""
    src = make_clip(tmp_path / "plain.mp4", frames=6, audio=True)
    fast = tmp_path / "fast.mp4"
    with av.open(str(src)) as i, av.open(str(fast), "w", options={"movflags": "faststart"}) as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        for packet in i.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            o.mux(packet)
    data = fast.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")
    before = read_frames(fast)
    write_spherical_metadata(fast, SphericalMetadata())
    assert read_spherical_metadata(fast).v2
    after = read_frames(fast)
    assert len(after) == 6 and all(np.array_equal(a, b) for a, b in zip(before, after))


def test_reads_real_stereo_v1(video360_dir: Path) -> None:
    meta = read_spherical_metadata(video360_dir / "vrview_congo_1024.mp4")
    assert meta.v1 and meta.projection == "equirectangular" and meta.stereo == "top-bottom"
    assert read_spherical_metadata(video360_dir / "panolens_1941-battle-low.mp4").projection is None


def test_not_an_mp4_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.mp4"
    bad.write_bytes(struct.pack(">I4s", 100, b"ftyp") + b"short")
    with pytest.raises(InputError):
        read_spherical_metadata(bad)
