"""Safe weight loading (no pickle ever runs code), safetensors, and the download cache without a network."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from pano.errors import ModelError
from pano.models.weights import download_weights, load_state_dict_file, save_state_dict_file


class _Exploit:
    """Unpickling this runs ``touch MARKER``: what a malicious checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"weight": torch.zeros(3), "payload": _Exploit(marker)}, evil)
    with pytest.raises(ModelError, match=r"refusing to load .*evil\.pth: it is not a plain weights file \(unsafe pickle\)"):
        load_state_dict_file(evil)
    assert not marker.exists()
    with pytest.raises(ModelError) as info:
        load_state_dict_file(evil)
    assert "\n" not in info.value.format_message()


def test_safetensors_round_trip_and_unwrapping(tmp_path: Path) -> None:
    state = {"conv.weight": torch.randn(4, 3, 3, 3), "conv.bias": torch.randn(4), "bn.num": torch.tensor(7)}
    st = tmp_path / "w.safetensors"
    save_file(state, str(st))
    loaded = load_state_dict_file(st)
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)
    wrapped = tmp_path / "ckpt.pth"
    torch.save({"epoch": 3, "params": {"x": torch.ones(1)}, "params_ema": {f"module.{k}": v for k, v in state.items()}}, wrapped)
    loaded = load_state_dict_file(wrapped)
    assert loaded.keys() == state.keys() and torch.equal(loaded["conv.weight"], state["conv.weight"])
    saved = save_state_dict_file(state, tmp_path / "again.safetensors")
    assert torch.equal(load_state_dict_file(saved)["conv.bias"], state["conv.bias"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.pth", None, "does not exist"),
        ("empty.pth", b"", "truncated, corrupt or not a weights file"),
        ("text.pth", b"this is not a checkpoint\n", "truncated, corrupt or not a weights file"),
        ("text.safetensors", b"\x00\x01 nope", "cannot read .* as safetensors"),
        ("list.pth", "list", "holds a list, not a state dict"),
    ],
)
def test_bad_files_are_one_line_errors(tmp_path: Path, name: str, content, message: str) -> None:
    path = tmp_path / name
    if content == "list":
        torch.save([torch.zeros(1)], path)
    elif content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=message) as info:
        load_state_dict_file(path)
    assert "\n" not in info.value.format_message()


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.pth"
    torch.save({"w": torch.randn(1000)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError, match="truncated, corrupt or not a weights file"):
        load_state_dict_file(path)


def test_download_offline_names_file_url_and_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PANO_OFFLINE", "1")
    url = "https://example.invalid/models/net-0123abcd.pth"
    with pytest.raises(ModelError) as info:
        download_weights(url, None, "0123abcd", cache_dir=tmp_path / "cache")
    msg = info.value.format_message()
    assert msg.startswith(f"needs net-0123abcd.pth from {url}: no network")
    assert f"put it in {tmp_path / 'cache'} (or pass --weights FILE)" in msg
    # A file already in the cache is used without any network.
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "net-0123abcd.pth").write_bytes(b"x")
    assert download_weights(url, None, None, cache_dir=tmp_path / "cache") == tmp_path / "cache" / "net-0123abcd.pth"


def test_download_checks_sha256_and_is_atomic(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("PANO_OFFLINE", raising=False)
    source = tmp_path / "server" / "weights.pth"
    source.parent.mkdir()
    source.write_bytes(os.urandom(3000))
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    cache = tmp_path / "cache"
    with pytest.raises(ModelError, match="does not match its sha256"):
        download_weights(source.as_uri(), "weights.pth", "deadbeef", cache_dir=cache, progress=False)
    assert list(cache.iterdir()) == [], "a failed download must leave nothing behind"
    got = download_weights(source.as_uri(), "weights.pth", digest[:8], cache_dir=cache, progress=False)
    assert got == cache / "weights.pth" and got.read_bytes() == source.read_bytes()
    assert list(cache.iterdir()) == [got]
    with pytest.raises(ModelError, match=r"needs gone\.pth from file:.*put it in"):
        download_weights((tmp_path / "gone.pth").as_uri(), None, None, cache_dir=cache, progress=False)
