"""Batches: several inputs (files, folders, globs), -o as an output folder, finished outputs skipped on a
re-run, --overwrite; and without --ray, Ray is never imported (with --ray but no Ray: one line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from pano.commands.batch import expand_inputs, plan_batch
from pano.errors import InputError, OutputError

UPSCALE = ["upscale", "--scale", "2", "--device", "cpu", "-q"]


@pytest.fixture(scope="module")
def spheres(equirect_dir: Path, tmp_path_factory) -> Path:
    """Three small real spheres (64x32) in a folder, plus a non-image file."""
    folder = tmp_path_factory.mktemp("spheres")
    for name in ("vrview_petra.jpg", "pannellum_examplepano.jpg", "panolens_suite.jpg"):
        Image.open(equirect_dir / name).convert("RGB").resize((64, 32), Image.LANCZOS).save(folder / name)
    (folder / "notes.txt").write_text("not an image")
    return folder


def run_pano(*args):
    """The command in this process (torch loads once); ``returncode`` and ``stderr`` like a subprocess's."""
    from click.testing import CliRunner

    from pano.cli import cli

    r = CliRunner().invoke(cli, [str(a) for a in args])
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    r.returncode = r.exit_code
    return r


def test_expansion_and_naming(spheres: Path, tmp_path: Path) -> None:
    files, single = expand_inputs([spheres])
    assert [f.name for f in files] == sorted(["vrview_petra.jpg", "pannellum_examplepano.jpg", "panolens_suite.jpg"])
    assert not single
    files, single = expand_inputs([spheres / "vrview_petra.jpg", spheres / "v*.jpg"])  # duplicates collapse
    assert len(files) == 1 and not single
    assert expand_inputs([spheres / "vrview_petra.jpg"])[1]
    with pytest.raises(InputError, match="matches no file"):
        expand_inputs([spheres / "*.png"])
    with pytest.raises(InputError, match="does not exist"):
        expand_inputs([spheres / "missing.jpg"])
    batch = plan_batch([spheres], tmp_path / "out", False, "x2")
    assert (tmp_path / "out").is_dir() and len(batch.items) == 3 and not batch.single
    assert all(i.output == tmp_path / "out" / f"{i.input.stem}_x2.jpg" and not i.done for i in batch.items)
    (tmp_path / "file").write_text("")
    with pytest.raises(OutputError, match="output folder"):
        plan_batch([spheres], tmp_path / "file", False, "x2")
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    for d in (a, b):
        Image.new("RGB", (64, 32)).save(d / "same.jpg")
    with pytest.raises(InputError, match="both write"):
        plan_batch([a, b], tmp_path / "out2", False, "x2")


def test_batch_writes_one_output_each_and_resumes(spheres: Path, tmp_path: Path) -> None:
    work = tmp_path / "in"
    work.mkdir()
    for f in spheres.glob("*.jpg"):
        (work / f.name).write_bytes(f.read_bytes())
    # beside the inputs, from a folder
    r = run_pano(*UPSCALE, work)
    assert r.returncode == 0, r.stderr
    outs = sorted(work.glob("*_x2.jpg"))
    assert len(outs) == 3 and all(Image.open(o).size == (128, 64) for o in outs)
    # a re-run skips finished outputs (also the outputs are not taken as inputs); one missing output is redone
    stamps = {o: o.stat().st_mtime_ns for o in outs}
    outs[0].unlink()
    r = run_pano("upscale", "--scale", "2", "--device", "cpu", work)
    assert r.returncode == 0, r.stderr
    assert "2 of 3 outputs exist" in r.stderr and "[1/1]" in r.stderr
    assert outs[0].exists() and all(o.stat().st_mtime_ns == stamps[o] for o in outs[1:])
    assert not list(work.glob("*_x2_x2.jpg"))
    # --overwrite redoes them all
    r = run_pano(*UPSCALE, work, "--overwrite")
    assert r.returncode == 0 and all(o.stat().st_mtime_ns != stamps[o] for o in outs[1:])
    # files and globs into an output folder
    r = run_pano(*UPSCALE, work / "vrview_petra.jpg", str(work / "pan*.jpg"), "-o", tmp_path / "big")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "big").iterdir()) == [
        "pannellum_examplepano_x2.jpg", "panolens_suite_x2.jpg", "vrview_petra_x2.jpg"]
    assert (tmp_path / "big" / "vrview_petra_x2.jpg").read_bytes() == (work / "vrview_petra_x2.jpg").read_bytes()
    # a single file keeps the single-file rules: an existing output is an error without --overwrite
    again = run_pano(*UPSCALE, work / "vrview_petra.jpg")
    assert again.returncode == 2 and "--overwrite" in again.stderr and len(again.stderr.strip().splitlines()) == 1


_NO_RAY = """
import sys
from pano.cli import main
{block}
try:
    main({args!r})
except SystemExit as exc:
    print("ray imported:", "ray" in sys.modules, file=sys.stderr)
    raise
"""


def test_without_ray_flag_ray_is_not_imported_and_without_ray_one_line(spheres: Path, tmp_path: Path) -> None:
    args = [*UPSCALE, str(spheres / "vrview_petra.jpg"), str(spheres / "panolens_suite.jpg"), "-o", str(tmp_path / "o")]
    r = subprocess.run([sys.executable, "-c", _NO_RAY.format(block="", args=args)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "ray imported: False" in r.stderr and len(list((tmp_path / "o").iterdir())) == 2
    # Ray not installed: --ray answers with one line saying how to install it, before any work
    block = "sys.modules['ray'] = None  # import ray -> ImportError, as without the extra"
    args = [*UPSCALE, str(spheres / "vrview_petra.jpg"), "-o", str(tmp_path / "p.jpg"), "--ray"]
    r = subprocess.run([sys.executable, "-c", _NO_RAY.format(block=block, args=args)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 2
    lines = [line for line in r.stderr.strip().splitlines() if not line.startswith("ray imported")]
    assert len(lines) == 1 and "pip install 'pano[ray]'" in lines[0] and not (tmp_path / "p.jpg").exists()


def test_ray_flag_followed_by_an_input_gives_the_input_back(spheres: Path) -> None:
    from pano.commands.batch import ray_address

    a, b = spheres / "vrview_petra.jpg", spheres / "panolens_suite.jpg"
    assert ray_address(str(a), [b]) == ("local", [a, b])  # pano dream --ray a.jpg b.jpg
    assert ray_address("local", [a]) == ("local", [a])  # pano dream a.jpg --ray
    assert ray_address("10.0.0.5:6379", [a]) == ("10.0.0.5:6379", [a])
    assert ray_address(None, [a]) == (None, [a])
    with pytest.raises(InputError, match="not an address"):
        ray_address("nowhere", [a])
