"""pano mirage --ray on the local Ray instance (2 CPUs): the same bytes as the single-process run."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from pano.commands.mirage import MirageJob
from pano.filters.mirage import MirageSettings
from tests._cli import run_pano_here

pytestmark = pytest.mark.slow

SETTINGS = replace(MirageSettings(), size=128, scales=1, steps=2, seed=3)


@pytest.fixture(scope="module")
def photos(equirect_dir: Path, tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("mirage_photos")
    out = []
    for name in ("vrview_petra.jpg", "panolens_suite.jpg"):
        p = folder / name
        Image.open(equirect_dir / name).convert("RGB").resize((256, 128), Image.LANCZOS).save(p, quality=92)
        out.append(p)
    return out


def test_cli_ray_gives_the_single_process_bytes(ray_local, photos, tmp_path):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a worker's threads on the 2-CPU instance: torch's CPU sums depend on the count
    try:
        process = MirageJob(SETTINGS, None, None, "auto", "sphere", None, overwrite=True, quiet=True).open("cpu")
        single = {}
        for p in photos:
            process(p, tmp_path / f"single_{p.name}")
            single[p.name] = (tmp_path / f"single_{p.name}").read_bytes()
    finally:
        torch.set_num_threads(threads)
    address = ray_local.get_runtime_context().gcs_address
    r = subprocess.run(
        [sys.executable, "-m", "pano", "mirage", *map(str, photos), "--size", "128", "--scales", "1", "--steps", "2",
         "--seed", "3", "-o", str(tmp_path / "out"), "--ray", address, "--device", "cpu"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "2 cpu workers" in r.stderr and "2/2" in r.stderr
    for p in photos:
        assert (tmp_path / "out" / f"{p.stem}_mirage.jpg").read_bytes() == single[p.name], p.name
    bad = run_pano_here("mirage", *photos, "--json-log", tmp_path / "log.jsonl", "-o", tmp_path / "o2")  # refused before any work: no process needed
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and not (tmp_path / "log.jsonl").exists()
