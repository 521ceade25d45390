"""``pano view`` on the command line: help, one-line errors, and the real process serving,
printing its URL (and QR code with --lan) and stopping cleanly on Ctrl-C."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import ssl
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from pano.cli import cli


@pytest.fixture(scope="module")
def sphere(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("view_cli")
    Image.new("RGB", (64, 32), (200, 40, 40)).save(folder / "s.jpg")
    Image.new("RGB", (64, 32), (40, 40, 200)).save(folder / "s_dream.jpg")
    return folder / "s.jpg"


def test_help_documents_headsets() -> None:
    result = CliRunner().invoke(cli, ["view", "--help"])
    assert result.exit_code == 0
    for words in ["adb reverse tcp:8360 tcp:8360", "--lan", "--compare", "--port", "--open", "x_dream.jpg", "--stereo", "top-bottom"]:
        assert words in result.output, words


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["view"], "name something to show"),
        (["view", "nope.jpg"], "does not exist"),
        (["view", "--compare", "nope.jpg", "nope2.jpg"], "does not exist"),
    ],
)
def test_errors_are_one_line(args: list[str], words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_port_in_use(sphere: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        result = CliRunner().invoke(cli, ["view", str(sphere), "--port", str(port)])
    assert result.exit_code == 2
    assert f"port {port} is in use" in result.output and "--port 0" in result.output


class Running:
    """``python -m pano view ...`` in a subprocess, its stdout read line by line in a thread."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pano", "view", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def wait_for(self, prefix: str, timeout: float = 60) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                self.proc.kill()
                raise AssertionError(f"no line starting {prefix!r}; got {self.seen}") from None
            self.seen.append(line)
            if line.strip().startswith(prefix):
                return line.strip()

    def interrupt(self) -> tuple[int, str, str]:
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=15)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        assert self.proc.stderr is not None
        return rc, "".join(self.seen + rest), self.proc.stderr.read()


def test_serves_and_stops_on_ctrl_c(sphere: Path) -> None:
    run = Running([str(sphere.parent), "--port", "0"])
    try:
        url = run.wait_for("open ").split()[1]
        assert url.startswith("http://127.0.0.1:")
        port = url.rsplit(":", 1)[1].strip("/")
        assert run.wait_for("Quest over USB") == (
            f"Quest over USB: adb reverse tcp:{port} tcp:{port}, then open http://localhost:{port}/ in the headset"
        )
        with urllib.request.urlopen(url + "manifest.json", timeout=10) as r:
            items = json.load(r)["items"]
        assert [(i["a"]["name"], i["b"]["name"]) for i in items] == [("s.jpg", "s_dream.jpg")]
    finally:
        rc, out, err = run.interrupt()
    assert rc == 0, err
    assert "pano view: stopped" in out and "Traceback" not in err


def test_lan_https_token_and_qr(sphere: Path, tmp_path: Path) -> None:
    run = Running([str(sphere), "--lan", "--port", "0"], env={"XDG_CONFIG_HOME": str(tmp_path)})
    try:
        url = run.wait_for("open ").split()[1]
        assert url.startswith("https://") and "/?t=" in url
        run.wait_for("scan to open")
        qr = run.wait_for("Ctrl-C")
        assert any("\u2588" in line or "\u2580" in line for line in run.seen)  # the QR code's blocks
        assert qr
        cert = tmp_path / "pano" / "tls" / "cert.pem"
        assert cert.is_file()
        port, token = url.split(":")[2].split("/")[0], url.split("?t=")[1]
        ctx = ssl.create_default_context(cafile=str(cert))
        ctx.check_hostname = False  # we connect over loopback; the certificate names the LAN address
        base = f"https://127.0.0.1:{port}"
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(base + "/manifest.json", timeout=10, context=ctx)
        assert denied.value.code == 403
        with urllib.request.urlopen(f"{base}/manifest.json?t={token}", timeout=10, context=ctx) as r:
            assert r.status == 200 and json.load(r)["items"][0]["a"]["name"] == "s.jpg"
    finally:
        rc, out, err = run.interrupt()
    assert rc == 0, err


def test_second_view_reuses_the_tile_cache(tmp_path: Path) -> None:
    """Two `pano view` runs of the same large photo: the first builds its tile pyramid in the user's
    cache folder (XDG_CACHE_HOME), the second serves those very files (nothing rebuilt or rewritten);
    nothing is ever written beside the photo."""
    photos, cache = tmp_path / "photos", tmp_path / "cache"
    photos.mkdir()
    Image.new("RGB", (4200, 2100), (90, 140, 200)).save(photos / "big.jpg", quality=90)  # wider than 4096: tiled

    def one_run() -> bytes:
        run = Running([str(photos / "big.jpg"), "--port", "0"], env={"XDG_CACHE_HOME": str(cache)})
        try:
            url = run.wait_for("open ").split()[1]
            with urllib.request.urlopen(url + "manifest.json", timeout=10) as r:
                assert json.load(r)["items"][0]["a"]["tiles"] == "/tiles/0/"
            with urllib.request.urlopen(url + "tiles/0/2/0/1_1.jpg", timeout=300) as r:
                return r.read()
        finally:
            rc, _, err = run.interrupt()
            assert rc == 0, err

    first = one_run()
    folders = list((cache / "pano" / "tiles").iterdir())
    assert len(folders) == 1 and not folders[0].name.startswith(".")
    files = {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folders[0].rglob("*")}
    assert len([p for p in files if p.suffix == ".jpg"]) == 6 * (1 + 4 + 16)
    second = one_run()
    assert second == first
    assert {p: (p.stat().st_mtime_ns, p.stat().st_ino) for p in folders[0].rglob("*")} == files  # not rebuilt
    assert list((cache / "pano" / "tiles").iterdir()) == folders
    assert [p.name for p in photos.iterdir()] == ["big.jpg"]
