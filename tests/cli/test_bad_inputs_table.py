"""Issue 16: the same bad input gets the same kind of answer from every command that takes it.

Every case is made here (no file in the repository) and run through the console entry point: exactly
one line on stderr, exit code 2, no traceback, nothing written next to the input. Where the cause is the
same for every command, so is the message (the ``SAME_WORDS`` column)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._bad_inputs import files_under, make_bad_input, run_pano, sphere_jpeg

CASES = ["missing", "zero-bytes", "directory", "text-named-jpg", "truncated-jpeg", "decompression-bomb", "bmp",
         "1x1", "impossible-gpano"]

#: words every command's one line must hold for the case (None: the commands word it their own way)
SAME_WORDS = {
    "missing": "does not exist",
    "zero-bytes": "is empty",
    "directory": None,  # a folder is a timelapse for video and a gallery for view; click refuses it elsewhere
    "text-named-jpg": "not an image pano can read",
    "truncated-jpeg": "truncated or corrupt",
    "decompression-bomb": "--max-pixels 20000000000",
    "bmp": None,  # "pano reads JPEG, PNG, WebP and TIFF"; view: "not something a browser can show"
    "1x1": "neither 2:1",
    "impossible-gpano": "CroppedAreaImageWidthPixels=300 is wider than FullPanoWidthPixels=200",
}


def _commands(path: Path, folder: Path) -> dict[str, list[str | Path]]:
    model = folder / "model.safetensors"  # never loaded: the image is refused first
    model.write_bytes(b"not read")
    return {
        "dream": ["dream", path, "-q"],
        "upscale": ["upscale", path, "-q"],
        "beauty apply": ["beauty", "apply", model, path, "-q"],
        "video": ["video", path, "-q", "--filter", "upscale"],
        "view": ["view", path, "--port", "0"],
        "info": ["info", path],
    }


#: (case, command) pairs that are not errors: info reports what it sees, view shows any decodable image
NOT_ERRORS = {("1x1", "info"), ("impossible-gpano", "info"), ("1x1", "view"), ("impossible-gpano", "view")}


@pytest.mark.parametrize("case", CASES)
def test_bad_input_same_answer_from_every_command(case: str, tmp_path: Path, capsys) -> None:
    """Invariant: a bad input is exactly one line on stderr and exit 2 from every command, before any work,
    and nothing is left beside it."""
    for name, args in _commands(make_bad_input(case, tmp_path), tmp_path).items():
        if (case, name) in NOT_ERRORS:
            continue
        before = files_under(tmp_path)
        got = run_pano(capsys, *args)
        assert got.code == 2, (case, name, got.code, got.err)
        assert len(got.lines) == 1, (case, name, got.err)
        assert got.lines[0].startswith("pano: error: ") and "Traceback" not in got.err, (case, name, got.err)
        if SAME_WORDS[case] is not None:
            assert SAME_WORDS[case] in got.lines[0], (case, name, got.lines[0])
        assert files_under(tmp_path) == before, (case, name)  # no output, no temp file, no work folder


def test_info_reports_what_other_commands_refuse(tmp_path: Path, capsys) -> None:
    """#13: a 1x1 image is flat, not a full sphere; an impossible GPano block is reported with its field."""
    one = run_pano(capsys, "info", make_bad_input("1x1", tmp_path))
    assert one.code == 0 and "projection  flat (not a photosphere)" in one.out and "--full-sphere" not in one.out
    wide = run_pano(capsys, "info", make_bad_input("impossible-gpano", tmp_path))
    assert wide.code == 0 and "projection  flat" in wide.out and "CroppedAreaImageWidthPixels=300" in wide.out


@pytest.mark.parametrize("device", ["xpu", "meta", "nonsense", "cuda:x"])
def test_unsupported_device_is_one_line_on_every_command(device: str, tmp_path: Path, capsys) -> None:
    """#7: --device xpu|meta|... is one clear line and exit 2 on every command that takes --device."""
    sphere = sphere_jpeg(tmp_path / "s.jpg")
    photos = tmp_path / "photos"
    photos.mkdir()
    sphere_jpeg(photos / "a.jpg", 64, 64)
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"not read")
    runs = {
        "dream": ["dream", sphere],
        "upscale": ["upscale", sphere],
        "beauty apply": ["beauty", "apply", model, sphere],
        "beauty train": ["beauty", "train", photos, "-o", tmp_path / "new.safetensors", "--steps", "1"],
        "video": ["video", sphere, "--filter", "upscale"],
    }
    for name, args in runs.items():
        before = files_under(tmp_path)
        got = run_pano(capsys, *args, "--device", device, "-q")
        assert got.code == 2 and len(got.lines) == 1, (name, got.err)
        assert "device" in got.lines[0] and "use auto, cpu, cuda or cuda:N" in got.lines[0], (name, got.lines[0])
        assert files_under(tmp_path) == before, name


@pytest.mark.parametrize(
    "args, words",
    [
        (["dream", "{sphere}", "--size", "0"], "Invalid value for '--size'"),
        (["dream", "{sphere}", "--octaves", "0"], "Invalid value for '--octaves'"),
        (["upscale"], "Missing argument 'IN...'"),
        (["upscale", "{sphere}", "--scale", "5"], "Invalid value for '--scale'"),
        (["beauty", "train"], "Missing argument 'FOLDER'"),
        (["video"], "Missing argument 'IN'"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_click_usage_errors_are_one_line(args: list[str], words: str, tmp_path: Path, capsys) -> None:
    """#17: click's own usage errors are one line (naming the command's --help), exit 2; --help keeps its usage."""
    sphere = sphere_jpeg(tmp_path / "s.jpg")
    (tmp_path / "dir.jpg").mkdir()
    got = run_pano(capsys, *[a.format(sphere=sphere, folder=tmp_path) for a in args])
    assert got.code == 2 and len(got.lines) == 1, got.err
    assert got.lines[0].startswith("pano: error: ") and words in got.lines[0] and "--help)" in got.lines[0]
    from click.testing import CliRunner

    from pano.cli import cli

    direct = CliRunner().invoke(cli, [a.format(sphere=sphere, folder=tmp_path) for a in args])  # the group itself
    assert direct.exit_code == 2 and direct.output.count("\n") == 1 and words in direct.output, direct.output
    helped = run_pano(capsys, *[a for a in args[:1] if a != "nonsense"], "--help")
    assert helped.code == 0 and helped.out.startswith("Usage: pano")


@pytest.mark.parametrize(
    "args",
    [
        ["dream", "{sphere}", "--model", "no_such_model", "-o", "{folder}/out.gif"],
        ["upscale", "{sphere}", "--model", "{folder}/no_such.pth", "-o", "{folder}/out.gif"],
        ["beauty", "apply", "{folder}/garbage.safetensors", "{sphere}", "-o", "{folder}/out.gif"],
        ["beauty", "train", "{folder}/photos", "-o", "{folder}/m.gif"],
    ],
)
def test_output_extension_refused_before_any_work(args: list[str], tmp_path: Path, capsys) -> None:
    """#18 (and #12's -o m.gif): an output pano cannot write is refused before the model loads: the model named
    here does not exist or is garbage, so any later check would answer about the model instead."""
    sphere = sphere_jpeg(tmp_path / "s.jpg")
    (tmp_path / "garbage.safetensors").write_bytes(b"garbage")
    (tmp_path / "photos").mkdir()
    sphere_jpeg(tmp_path / "photos" / "a.jpg", 64, 64)
    before = files_under(tmp_path)
    got = run_pano(capsys, *[a.format(sphere=sphere, folder=tmp_path) for a in args])
    assert got.code == 2 and len(got.lines) == 1, got.err
    assert ".gif" in got.lines[0] and "no_such" not in got.lines[0] and "garbage" not in got.lines[0], got.lines[0]
    assert files_under(tmp_path) == before
