"""Device and precision choice: the only place that asks torch which accelerators exist."""

from __future__ import annotations

from contextlib import nullcontext
from typing import ContextManager, Literal

import torch

from pano.errors import DeviceError

Precision = Literal["auto", "fp32", "bf16", "fp16"]

#: Device types pano runs on (``--device``); torch knows more (xpu, meta, ...) that pano does not support.
SUPPORTED_DEVICE_TYPES = ("cpu", "cuda", "mps")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """``"auto"`` -> CUDA if present, else CPU; otherwise the named device, checked to exist."""
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise DeviceError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from exc
    if device.type not in SUPPORTED_DEVICE_TYPES:  # xpu, meta, hpu...: torch knows them, pano's models do not run there
        raise DeviceError(f"pano does not run on {device.type!r} devices: use auto, cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {name!r} requested but CUDA is not available: use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(f"device {name!r} does not exist ({torch.cuda.device_count()} CUDA devices)")
    elif device.type == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise DeviceError(f"device {name!r} requested but MPS is not available: use --device cpu")
    return device


def resolve_precision(precision: Precision, device: torch.device) -> torch.dtype:
    """The compute dtype for ``precision`` on ``device``. ``auto``: bf16 on CUDA when supported, else fp32."""
    if precision == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision == "fp16":
        if device.type != "cuda":
            raise DeviceError("fp16 is only supported on CUDA: use --precision fp32 or bf16 on the CPU")
        return torch.float16
    raise DeviceError(f"unknown precision {precision!r}: use auto, fp32, bf16 or fp16")


def autocast(device: torch.device, dtype: torch.dtype) -> ContextManager:
    """An autocast context for ``dtype`` on ``device`` (a no-op for fp32)."""
    if dtype == torch.float32:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def is_out_of_memory(exc: BaseException) -> bool:
    """True for CUDA (and CPU allocator) out-of-memory errors, which callers retry with smaller batches."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def halve_batch_on_oom(exc: BaseException, batch: int, device: torch.device) -> int:
    """The batch to retry with after ``exc``: half of ``batch`` if ``exc`` is an out-of-memory error and the
    batch can still shrink (the CUDA cache is emptied first); otherwise ``exc`` is raised again."""
    if not is_out_of_memory(exc) or batch <= 1:
        raise exc
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return max(1, batch // 2)
