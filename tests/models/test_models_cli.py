"""``pano models``: through click's CliRunner and through the installed entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pano.cli import cli
from pano.models.registry import BACKBONES


def test_models_table_and_json(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    runner = CliRunner()
    table = runner.invoke(cli, ["models"])
    assert table.exit_code == 0, table.output
    for model_id in BACKBONES:
        assert model_id in table.output
    assert "stage5*" in table.output and "inception4c*" in table.output
    assert "present" in table.output and "download on first use" in table.output
    assert "realesr-animevideov3" in table.output and "CPU default" in table.output  # pano upscale's models
    result = runner.invoke(cli, ["models", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["id"] for r in rows] == list(BACKBONES)
    assert rows[0]["default"] and rows[0]["weights_present"]


def test_models_via_installed_entry_point(tmp_path: Path) -> None:
    exe = shutil.which("pano") or str(Path(sys.executable).with_name("pano"))
    env = {**os.environ, "PANO_OFFLINE": "1", "TORCH_HOME": str(tmp_path)}
    done = subprocess.run([exe, "models", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    googlenet = next(r for r in rows if r["id"] == "googlenet")
    assert googlenet["weights_present"] is False
    assert googlenet["weights_expected_at"] == str(tmp_path / "hub" / "checkpoints" / "googlenet-1378be20.pth")
