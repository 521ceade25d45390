"""Photos on a local Ray instance (2 CPUs): the same bytes as the single-process run, inputs through the
object store, a worker killed mid-task, and the command line with --ray ADDRESS and Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from tests.distributed._jobs import Marking, kill_first_marker
from pano.commands.dream import DreamJob
from pano.distributed.photos import run_photos
from pano.filters.dream import DreamSettings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def photos(equirect_dir: Path, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    out = []
    for name in ("vrview_petra.jpg", "pannellum_examplepano.jpg", "panolens_suite.jpg"):
        p = folder / name
        Image.open(equirect_dir / name).convert("RGB").resize((256, 128), Image.LANCZOS).save(p, quality=92)
        out.append(p)
    return out


def dream_job(steps: int = 2) -> DreamJob:
    settings = replace(DreamSettings(), size=128, octaves=1, steps=steps, seed=3)
    return DreamJob(settings, None, None, "auto", None, None, "sphere", None, None, overwrite=True, quiet=True)


@pytest.fixture(scope="module")
def single_process(photos, tmp_path_factory) -> dict[str, bytes]:
    """Each photo dreamed by the single-process code path (the one `pano dream` runs without --ray), with the
    threads of a worker on the 2-CPU instance (1: torch's CPU sums depend on the thread count, so a dream on
    the CPU is reproducible for a given count; on a GPU, for a given device type)."""
    import torch

    folder = tmp_path_factory.mktemp("single")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        process = dream_job().open("cpu")
        out = {}
        for p in photos:
            process(p, folder / p.name)
            out[p.name] = (folder / p.name).read_bytes()
    finally:
        torch.set_num_threads(threads)
    return out


def test_same_bytes_as_single_process_with_inputs_shared_or_shipped(ray_local, photos, single_process, tmp_path):
    plans = []
    for ship in (False, True):
        folder = tmp_path / f"ship{ship}"
        folder.mkdir()
        written = run_photos(
            ray_local, dream_job(), [(p, folder / p.name) for p in photos], device="cpu", ship_inputs=ship,
            on_start=plans.append,
        )
        assert sorted(w.name for w in written) == sorted(p.name for p in photos)
        for p in photos:
            assert (folder / p.name).read_bytes() == single_process[p.name], (ship, p.name)
        assert not [f for f in folder.iterdir() if f.name.startswith(".")]  # no temporary files left
    assert plans[0].count == 2 and plans[0].device == "cpu"


def test_a_worker_killed_mid_task_is_restarted_and_its_photo_redone(ray_local, photos, single_process, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    job = Marking(dream_job(), str(marks))
    # the actor's process dies in the middle of its first photo
    result, first, pid = kill_first_marker(lambda: run_photos(ray_local, job, [(p, out / p.name) for p in photos], device="cpu"), marks)
    assert "error" not in result, result.get("error")
    photo = first.name.split("_", 1)[1]
    again = [m for m in marks.iterdir() if m.name.endswith(f"_{photo}") and m != first]
    assert again and int(again[0].name.split("_")[0]) != pid  # the photo was redone by another (restarted) process
    assert sorted(w.name for w in result["result"]) == sorted(p.name for p in photos)
    for p in photos:
        assert (out / p.name).read_bytes() == single_process[p.name]


def test_cli_ray_address_and_ctrl_c(ray_local, photos, single_process, tmp_path):
    address = ray_local.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    base = [sys.executable, "-m", "pano", "dream", *map(str, photos), "--size", "128", "--octaves", "1", "--seed", "3"]
    r = subprocess.run([*base, "--steps", "2", "-o", str(tmp_path / "out"), "--ray", address, "--device", "cpu"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "2 cpu workers" in r.stderr and "3/3" in r.stderr  # one bar for the batch, with the workers
    for p in photos:
        assert (tmp_path / "out" / f"{p.stem}_dream.jpg").read_bytes() == single_process[p.name]
    # Ctrl-C while the workers dream: exit 130, no partial output, the workers stopped (their CPUs free again)
    proc = subprocess.Popen([*base, "--steps", "400", "-o", str(tmp_path / "stopped"), "--ray", address],
                            stderr=subprocess.PIPE, text=True)
    seen = ""
    while "worker" not in seen:
        line = proc.stderr.readline()
        assert line, "the command ended before its workers started"
        seen += line
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    left = list((tmp_path / "stopped").iterdir())
    assert not [f for f in left if f.name.startswith(".")]
    assert all(f.read_bytes()[-2:] == b"\xff\xd9" for f in left)  # only complete JPEGs, if any
    deadline = time.monotonic() + 60
    while ray_local.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ray_local.available_resources().get("CPU", 0) == 2


@pytest.mark.gpu
def test_one_actor_per_gpu_gives_the_single_process_cuda_bytes(ray_local, photos, tmp_path):
    import torch

    if not torch.cuda.is_available() or not ray_local.cluster_resources().get("GPU"):
        pytest.skip("needs CUDA")
    process = dream_job().open("cuda")
    plans = []
    written = run_photos(ray_local, dream_job(), [(p, tmp_path / p.name) for p in photos], device="auto",
                         on_start=plans.append)
    assert plans[0].device == "cuda" and plans[0].count == int(ray_local.cluster_resources()["GPU"])
    assert len(written) == len(photos)
    for p in photos:
        process(p, tmp_path / f"single_{p.name}")
        assert (tmp_path / p.name).read_bytes() == (tmp_path / f"single_{p.name}").read_bytes(), p.name
