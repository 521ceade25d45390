"""PANO_MODELS_DIR: a folder of weight files found before the packages that ship them (the bare GPU machine)."""

from __future__ import annotations

import shutil

import torch

from pano.models.registry import get_spec
from pano.models.sr import load_sr_model, ncnn_model_dir, ncnn_param_path

STEM = "realesr-animevideov3-x4"


def test_sr_weights_come_from_the_folder_when_there(tmp_path, monkeypatch) -> None:
    package = ncnn_model_dir()
    for suffix in (".param", ".bin"):
        shutil.copyfile(package / f"{STEM}{suffix}", tmp_path / f"{STEM}{suffix}")
    # a different .bin in the folder proves the folder's file is the one read
    bin_file = tmp_path / f"{STEM}.bin"
    data = bytearray(bin_file.read_bytes())
    data[-4:] = b"\x00\x00\x80\x3f"  # last float of the last bias -> 1.0
    bin_file.write_bytes(bytes(data))

    monkeypatch.setenv("PANO_MODELS_DIR", str(tmp_path))
    assert ncnn_param_path(STEM) == tmp_path / f"{STEM}.param"
    from_folder = load_sr_model("realesr-animevideov3").model.state_dict()
    monkeypatch.delenv("PANO_MODELS_DIR")
    assert ncnn_param_path(STEM) == package / f"{STEM}.param"
    from_package = load_sr_model("realesr-animevideov3").model.state_dict()
    differ = [k for k in from_package if not torch.equal(from_package[k], from_folder[k])]
    assert differ == [list(from_package)[-1]]  # only the edited tensor: everything else read the same
    assert from_folder[differ[0]].flatten()[-1] == 1.0


def test_a_folder_without_the_file_falls_back_to_the_package(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PANO_MODELS_DIR", str(tmp_path))
    assert ncnn_param_path(STEM) == ncnn_model_dir() / f"{STEM}.param"
    weights = get_spec("efficientnet_lite0").weights
    assert weights.local_path() is not None and weights.local_path().parent != tmp_path


def test_efficientnet_weights_come_from_the_folder(tmp_path, monkeypatch) -> None:
    weights = get_spec("efficientnet_lite0").weights
    installed = weights.local_path()
    (tmp_path / installed.name).symlink_to(installed)
    monkeypatch.setenv("PANO_MODELS_DIR", str(tmp_path))
    assert weights.local_path() == tmp_path / installed.name
    assert weights.fetch() == tmp_path / installed.name
