"""Issue 16: one regression test per remaining defect, named after the invariant it keeps (the table of inputs
x commands is in test_bad_inputs_table.py, the video ones in tests/video/test_bad_video_inputs.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests._bad_inputs import TinyDisk, files_under, make_bad_input, run_pano, run_pano_process, sphere_jpeg, truncated_copy

TRAIN = ["--size", "32", "--batch", "1", "--ngf", "4", "--ndf", "4", "--num-workers", "0", "--checkpoint-every", "0",
         "--preview-every", "0", "--device", "cpu", "-q"]


def _photos(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sphere_jpeg(folder / f"p{i}.jpg", 48, 48, seed=i)
    return folder


def test_beauty_train_never_overwrites_a_checkpoint_without_overwrite(tmp_path: Path, capsys) -> None:
    """#12: NAME.ckpt.safetensors of another run is kept unless --overwrite (or continued with --resume)."""
    photos = _photos(tmp_path / "photos")
    ckpt = tmp_path / "m.ckpt.safetensors"
    ckpt.write_bytes(b"another run's checkpoint")
    got = run_pano(capsys, "beauty", "train", photos, "-o", tmp_path / "m.safetensors", "--steps", "1", *TRAIN)
    assert got.code == 2 and len(got.lines) == 1 and "--resume" in got.lines[0] and "--overwrite" in got.lines[0]
    assert ckpt.read_bytes() == b"another run's checkpoint" and not (tmp_path / "m.safetensors").exists()
    ok = run_pano(capsys, "beauty", "train", photos, "-o", tmp_path / "m.safetensors", "--steps", "1", "--overwrite", *TRAIN)
    assert ok.code == 0, ok.err
    assert ckpt.read_bytes() != b"another run's checkpoint" and (tmp_path / "m.safetensors").is_file()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    try:
        disk = TinyDisk(tmp_path / "disk", "16k")
    except OSError as exc:
        pytest.skip(f"no tmpfs for a full-disk test: {exc}")
    yield disk.path
    disk.close()


def test_beauty_train_full_disk_is_one_line_and_leaves_no_temp_file(tmp_path: Path, tiny_disk: Path) -> None:
    """#4: a full disk while saving the checkpoint is pano's one line (no SafetensorError traceback), exit 2,
    and no .part file is left on the disk."""
    photos = _photos(tmp_path / "photos")
    r = run_pano_process("beauty", "train", photos, "-o", tiny_disk / "m.safetensors", "--steps", "1", *TRAIN)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert len(lines) == 1 and "cannot write" in lines[0] and "disk space" in lines[0], r.stderr
    assert [p.name for p in tiny_disk.iterdir()] == []


def test_soften_wrap_seam_takes_any_width() -> None:
    """#5: the seam repair never fails on a sphere too narrow to have a seam band (1 to 3 columns)."""
    from pano.sphere.seam import soften_wrap_seam

    for w in (1, 2, 3, 8):
        x = torch.rand(1, 3, max(1, w // 2), w)
        y = soften_wrap_seam(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.equal(soften_wrap_seam(torch.ones(1, 3, 1, 1)), torch.ones(1, 3, 1, 1))


def test_upscale_one_pixel_image_is_one_line(tmp_path: Path, capsys) -> None:
    """#5, #13: a 1x1 image is no sphere (not 2:1), and too small for --full-sphere: one line each, exit 2."""
    one = make_bad_input("1x1", tmp_path)
    for extra, words in (([], "neither 2:1"), (["--full-sphere"], "too small for a sphere")):
        got = run_pano(capsys, "upscale", one, "-q", *extra)
        assert got.code == 2 and len(got.lines) == 1 and words in got.lines[0], got.err
        assert "--flat" in got.lines[0] and "--full-sphere to" not in got.lines[0]
    assert files_under(tmp_path) == {"one.png"}


def test_dream_thin_flat_photo_is_refused_before_the_model_loads(tmp_path: Path, capsys) -> None:
    """#6: a 3x1000 photo would give views (or an output) narrower than the network takes: one line saying so,
    before the model loads (an unknown --weights file would otherwise be the error)."""
    Image.new("RGB", (3, 1000), (120, 60, 30)).save(tmp_path / "thin.png")
    got = run_pano(capsys, "dream", tmp_path / "thin.png", "--flat", "-q", "--weights", tmp_path / "none.pth")
    assert got.code == 2 and len(got.lines) == 1, got.err
    assert "3x1000 photo" in got.lines[0] and "a larger photo" in got.lines[0]
    assert files_under(tmp_path) == {"thin.png"}


@pytest.mark.parametrize(
    "args, words",
    [
        (["--size", "128"], "use --octaves 2 or fewer, or --size 200 or more"),
        (["--size", "128", "--octaves", "2"], None),  # the advice works
        (["--octaves", "12", "--octave-scale", "4"], "use --octaves 2 or fewer"),
    ],
)
def test_dream_small_view_message_names_what_the_user_can_change(args, words, tmp_path: Path, capsys) -> None:
    """#16: views below the model's minimum are refused up front with the options that fix them (not "use a
    larger view size", which pano dream has no option for)."""
    from pano.filters.dream import DreamSettings, view_size_problem

    sphere = sphere_jpeg(tmp_path / "s.jpg", 2048, 1024)
    if words is None:
        assert view_size_problem(DreamSettings(size=128, octaves=2), 2048, 1024, 32) is None
        return
    got = run_pano(capsys, "dream", sphere, "-q", "--weights", tmp_path / "none.pth", *args)
    assert got.code == 2 and len(got.lines) == 1, got.err
    assert words in got.lines[0] and "efficientnet_lite0 needs views of at least 32 px" in got.lines[0]


def test_view_skips_what_it_cannot_show_and_serves_the_rest(tmp_path: Path) -> None:
    """#11: every named file is decoded before serving; each unshowable one is one line, the rest is served;
    nothing showable is one error line and no server."""
    from pano.commands.view import _showable, media_problem
    from pano.viewer.media import build_gallery

    good = sphere_jpeg(tmp_path / "good.jpg", 64, 32)
    bad = {name: make_bad_input(name, tmp_path) for name in ("zero-bytes", "text-named-jpg", "truncated-jpeg",
                                                              "decompression-bomb")}
    (tmp_path / "audio.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(64))  # not a playable video
    for path in [*bad.values(), tmp_path / "audio.mp4"]:
        assert media_problem(path, "video" if path.suffix == ".mp4" else "image") is not None, path
    assert media_problem(good, "image") is None
    files = [str(good), *map(str, bad.values()), str(tmp_path / "audio.mp4")]
    gallery = _showable(build_gallery(files), 0)
    assert [f.path.name for f in gallery.files] == ["good.jpg"]
    r = run_pano_process("view", *files[1:], "--port", "0", timeout=60)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert r.returncode == 2 and len(lines) == 1 and "nothing can be shown" in lines[0] and "4 more files" in lines[0]
    assert "open http" not in r.stdout


def test_stale_part_files_are_removed_by_the_next_write(tmp_path: Path) -> None:
    """#14: a temp file a killed run left (its process gone) is removed when the same output is written again;
    a live process's temp file and another output's are kept."""
    from pano.io.atomic import remove_stale_parts
    from pano.io.image import read_image, write_image

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.{int(gone.stdout)}-ab12cd.part.jpg"
    live = tmp_path / f".out.{os.getpid()}-ab12cd.part.jpg"
    other = tmp_path / ".out2.123-ab12cd.part.jpg"
    for p in (stale, live, other):
        p.write_bytes(b"half")
    write_image(read_image(sphere_jpeg(tmp_path / "in.jpg")).pixels, tmp_path / "out.jpg")
    assert not stale.exists() and live.exists() and other.exists() and (tmp_path / "out.jpg").is_file()
    assert remove_stale_parts(tmp_path / "out.jpg") == []


def test_truncated_image_is_an_error_for_video_as_for_every_command(tmp_path: Path, capsys) -> None:
    """#9: pano video of a truncated JPEG is the image commands' error, not a 1-frame video of a partial decode."""
    cut = truncated_copy(sphere_jpeg(tmp_path / "s.jpg", 256, 128), tmp_path / "cut.jpg", 0.5)
    answers = [run_pano(capsys, *args) for args in (["video", cut, "-q", "--filter", "upscale"], ["dream", cut, "-q"])]
    assert [a.code for a in answers] == [2, 2]
    assert answers[0].lines == answers[1].lines and "truncated or corrupt" in answers[0].lines[0]
    assert not (tmp_path / "cut_upscale.mp4").exists()


@pytest.mark.parametrize("option", ["--mask", "--guide"])
def test_dream_mask_and_guide_are_checked_before_the_model_loads(option: str, tmp_path: Path, capsys) -> None:
    """Every input is checked before any work: a truncated --mask/--guide is the answer, not the missing
    --weights file the model load would have tripped on."""
    sphere = sphere_jpeg(tmp_path / "s.jpg", 256, 128)
    cut = truncated_copy(sphere_jpeg(tmp_path / "m.jpg", 256, 128, seed=3), tmp_path / "cut.jpg", 0.4)
    got = run_pano(capsys, "dream", sphere, option, cut, "--weights", tmp_path / "none.pth", "-q")
    assert got.code == 2 and len(got.lines) == 1 and "cut.jpg is truncated or corrupt" in got.lines[0], got.err
