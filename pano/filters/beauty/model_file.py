"""The pano beauty model file: a pix2pix generator in one safetensors file with JSON metadata, and running it.

Model file (``MODEL.safetensors``, :func:`save_model` / :func:`load_model`)
    One `safetensors <https://huggingface.co/docs/safetensors>`_ file, read without pickle:

    - tensors: the generator's ``state_dict`` (weights and batch-norm running statistics), fp32;
    - header metadata key ``"pano.beauty"``: a JSON object::

        {
          "format": "pano-beauty", "format_version": 1,
          "condition": {"name": "clusters", "params": {"k": 7, "seed": 0}},
          "size": 256,                        # training crop side (px); default view size
          "architecture": {"generator": "unet", "in_channels": 3, "out_channels": 3,
                           "ngf": 64, "depth": 8, "dropout": 0.5},
          "training": {...},                  # the TrainConfig fields, the image count
          "step": 10000,                      # optimisation steps done
          "pano_version": "0.1.0"
        }

    Inspect it with ``safetensors.safe_open(path, "pt").metadata()["pano.beauty"]``.

The training checkpoint (:mod:`pano.filters.beauty.training`) uses the same container and metadata key.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pano.device import autocast
from pano.errors import ModelError, OutputError
from pano.filters.conditions import ConditionSpec
from pano.io.atomic import atomic_output
from pano.models.pix2pix import UNetGenerator

__all__ = ["FORMAT", "FORMAT_VERSION", "META_KEY", "BeautyModel", "generate", "load_model", "save_model"]

FORMAT = "pano-beauty"
FORMAT_VERSION = 1
META_KEY = "pano.beauty"


@dataclass
class BeautyModel:
    """A trained generator with what is needed to use it.

    Attributes:
        generator: The U-Net (on some device, in eval mode after :func:`load_model`).
        condition: The condition the generator was trained on.
        size: Training crop side in pixels.
        training: The training arguments (JSON-able).
        step: Optimisation steps done.
    """

    generator: UNetGenerator
    condition: ConditionSpec
    size: int
    training: dict[str, Any] = field(default_factory=dict)
    step: int = 0

    def architecture(self) -> dict[str, Any]:
        g = self.generator
        return {
            "generator": "unet",
            "in_channels": g.down[0].in_channels,
            "out_channels": g.up[0][1].out_channels,
            "ngf": g.down[0].out_channels,
            "depth": g.depth,
            "dropout": _dropout_p(g),
        }

    def metadata(self) -> dict[str, Any]:
        from pano import __version__

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "condition": self.condition.to_json(),
            "size": self.size,
            "architecture": self.architecture(),
            "training": self.training,
            "step": self.step,
            "pano_version": __version__,
        }


def _dropout_p(g: nn.Module) -> float:
    return next((m.p for m in g.modules() if isinstance(m, nn.Dropout)), 0.0)


def _build_generator(arch: dict[str, Any]) -> UNetGenerator:
    return UNetGenerator(
        in_channels=int(arch.get("in_channels", 3)),
        out_channels=int(arch.get("out_channels", 3)),
        ngf=int(arch["ngf"]),
        depth=int(arch["depth"]),
        dropout=float(arch.get("dropout", 0.5)),
    )


def _state_tensors(module: nn.Module, prefix: str = "") -> dict[str, torch.Tensor]:
    return {prefix + k: v.detach().to("cpu").contiguous().clone() for k, v in module.state_dict().items()}


def save_model(path: str | os.PathLike, model: BeautyModel, *, overwrite: bool = False) -> Path:
    """Write ``model`` as a pano beauty model file (format in the module docstring), atomically.

    Returns:
        The path written.
    """
    path = Path(path)
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in _state_tensors(model.generator).items()}
    _write_safetensors(path, tensors, {META_KEY: json.dumps(model.metadata())}, overwrite)
    return path


def _write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str], overwrite: bool) -> None:
    """``save_file`` through a temporary file; a full disk or a failing write is one :class:`OutputError`."""
    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        with atomic_output(path, overwrite=overwrite) as tmp:
            save_file(tensors, str(tmp), metadata=metadata)
    except (SafetensorError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else " ".join(str(exc).split())[:100]
        raise OutputError(f"cannot write {path} ({why}): free some disk space or choose another -o/--output") from None


def _read_safetensors(path: Path, what: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    from safetensors import safe_open

    if not path.is_file():
        raise ModelError(f"{what} {path} not found: check the path (train one with `pano beauty train`)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{what} {path} is not a readable safetensors file ({exc}): retrain or re-download it") from exc
    if META_KEY not in meta:
        raise ModelError(f"{path} is not a pano beauty {what} (no {META_KEY!r} metadata): train one with `pano beauty train`")
    try:
        info = json.loads(meta[META_KEY])
    except json.JSONDecodeError as exc:
        raise ModelError(f"{what} {path} has corrupt metadata: retrain it") from exc
    return tensors, info


def load_model(path: str | os.PathLike, device: torch.device | str = "cpu") -> BeautyModel:
    """Load a model file written by :func:`save_model` (no pickle), generator in eval mode on ``device``.

    Raises:
        ModelError: the file is missing, not safetensors, not a beauty model, or of a newer format.
    """
    path = Path(path)
    tensors, info = _read_safetensors(path, "model")
    if info.get("format") != FORMAT:
        raise ModelError(f"{path} is not a pano beauty model (format {info.get('format')!r}): train one with `pano beauty train`")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelError(f"{path} needs a newer pano (model format {info['format_version']}): upgrade pano")
    try:
        generator = _build_generator(info["architecture"])
        generator.load_state_dict(tensors, strict=True)
        condition = ConditionSpec.from_json(info["condition"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelError(f"model {path} does not match its own metadata ({str(exc).splitlines()[0]}): retrain it") from exc
    generator.to(device).eval()
    return BeautyModel(generator, condition, int(info["size"]), dict(info.get("training", {})), int(info.get("step", 0)))



@torch.inference_mode()
def generate(generator: UNetGenerator, condition: torch.Tensor, *, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Run the generator on conditions in ``[0, 1]`` (any size; padded to its multiple), output in ``[0, 1]``.

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)``.
    """
    device = next(generator.parameters()).device
    x = condition.to(device=device, dtype=torch.float32) * 2 - 1
    with autocast(device, dtype):
        y = generator.forward_padded(x)
    return ((y.float() + 1) / 2).clamp(0, 1)
