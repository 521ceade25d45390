"""``pano beauty train``: pix2pix GAN training on a folder of photos, with checkpoints to resume from.

The paper's setup: U-Net generator, 70x70 PatchGAN on ``concat(condition, image)``, loss
``BCE-with-logits GAN + 100 * L1``, Adam (lr 2e-4, beta1 0.5); data from
:class:`pano.filters.beauty.dataset.PhotoFolder`. On CUDA: bf16 autocast (fp16 + ``GradScaler`` where
bf16 is missing), channels-last tensors, cuDNN autotuning. The torch RNG (dropout) is checkpointed, so a
resumed run continues exactly where it stopped.

Checkpoint (``MODEL.ckpt.safetensors``, beside the model)
    The model file's container (:mod:`pano.filters.beauty.model_file`): ``G.*`` and ``D.*`` weights,
    ``optG.*``/``optD.*`` Adam moments, the torch (and CUDA) RNG states as tensors; JSON metadata with the
    step, the config, the optimizers' param groups and the grad-scaler state. ``train(..., resume=True)``
    continues from it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from pano.device import autocast, resolve_precision
from pano.errors import InputError, ModelError, OutputError
from pano.filters.base import ProgressFn
from pano.filters.beauty.dataset import PhotoFolder, _StepBatches
from pano.filters.beauty.model_file import (
    FORMAT,
    FORMAT_VERSION,
    META_KEY,
    BeautyModel,
    _read_safetensors,
    _state_tensors,
    _write_safetensors,
    generate,
    save_model,
)
from pano.filters.conditions import ConditionSpec, to_uint8
from pano.models.pix2pix import PatchDiscriminator, UNetGenerator, init_weights, unet_depth

__all__ = ["TrainConfig", "TrainResult", "TrainStart", "checkpoint_path", "l1_on_photos", "preview_folder", "train"]

@dataclass
class TrainConfig:
    """Training arguments (all stored in the model file).

    Attributes:
        condition: Condition type and parameters.
        size: Crop side in pixels (power of two; the U-Net depth follows it).
        steps: Total optimisation steps; if ``None``, ``epochs`` passes over the folder.
        epochs: Used when ``steps`` is ``None`` (default 100).
        batch: Photos per step.
        lr: Adam learning rate (both nets).
        beta1: Adam beta1.
        l1_weight: Weight of the L1 term (100 in the paper).
        ngf: Generator base width.
        ndf: Discriminator base width.
        dropout: Generator dropout.
        seed: Seed for initialisation, shuffling and augmentation.
        num_workers: Data-loader worker processes (0 = load in the main process).
        checkpoint_every: Save checkpoint and model every this many steps (0 = only at the end).
        preview_every: Save a preview grid every this many steps (0 = never).
        precision: ``auto`` (bf16 on CUDA where supported, else fp16 on CUDA, fp32 on CPU), fp32, bf16, fp16.
        channels_last: Channels-last memory format; ``None`` = on CUDA only.
    """

    condition: ConditionSpec = field(default_factory=ConditionSpec)
    size: int = 256
    steps: int | None = None
    epochs: int | None = None
    batch: int = 4
    lr: float = 2e-4
    beta1: float = 0.5
    l1_weight: float = 100.0
    ngf: int = 64
    ndf: int = 64
    dropout: float = 0.5
    seed: int = 0
    num_workers: int = 2
    checkpoint_every: int = 500
    preview_every: int = 500
    precision: str = "auto"
    channels_last: bool | None = None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["condition"] = self.condition.to_json()
        return d

    def total_steps(self, n_images: int) -> int:
        if self.steps is not None:
            return int(self.steps)
        return int(self.epochs if self.epochs is not None else 100) * math.ceil(n_images / self.batch)


@dataclass
class TrainStart:
    """What :func:`train` reports once before the first step (through ``on_start``)."""

    images: int
    skipped: list[Path]
    start_step: int
    total_steps: int
    steps_per_epoch: int
    device: str
    dtype: str
    resumed_from: Path | None


@dataclass
class TrainResult:
    """The outcome of :func:`train`."""

    model_path: Path
    checkpoint_path: Path
    step: int
    images: int
    skipped: list[Path]
    losses: dict[str, float]
    seconds: float
    previews: list[Path] = field(default_factory=list)
    model: BeautyModel | None = None  # the trained generator (train mode) and its metadata


def checkpoint_path(model_path: str | os.PathLike) -> Path:
    """``NAME.safetensors`` -> ``NAME.ckpt.safetensors`` beside it."""
    p = Path(model_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}.ckpt.safetensors")


def preview_folder(model_path: str | os.PathLike) -> Path:
    p = Path(model_path)
    stem = p.name[: -len(p.suffix)] if p.suffix else p.name
    return p.with_name(f"{stem}_previews")


class _Nets:
    """Generator, discriminator, optimizers and grad scaler of one training run."""

    def __init__(self, config: TrainConfig, device: torch.device, dtype: torch.dtype, channels_last: bool) -> None:
        self.G = init_weights(UNetGenerator(3, 3, config.ngf, unet_depth(config.size), config.dropout)).to(device)
        self.D = init_weights(PatchDiscriminator(6, config.ndf, 3)).to(device)
        if channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        betas = (config.beta1, 0.999)
        fused = device.type == "cuda"
        self.optG = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas, fused=fused or None)
        self.optD = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas, fused=fused or None)
        self.scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


def _opt_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors, scalars = {}, {}
    for pid, state in sd["state"].items():
        for name, v in state.items():
            if torch.is_tensor(v):
                tensors[f"{prefix}.{pid}.{name}"] = v.detach().to("cpu").contiguous().clone()
            else:
                scalars.setdefault(str(pid), {})[name] = v
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _load_opt(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    state: dict[int, dict[str, Any]] = {}
    for key, v in tensors.items():
        if key.startswith(prefix + "."):
            _, pid, name = key.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    for pid, values in meta.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(values)
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def _save_checkpoint(path: Path, nets: _Nets, step: int, config: TrainConfig) -> None:
    tensors = {**_state_tensors(nets.G, "G."), **_state_tensors(nets.D, "D.")}
    tg, mg = _opt_tensors(nets.optG, "optG")
    td, md = _opt_tensors(nets.optD, "optD")
    tensors.update(tg)
    tensors.update(td)
    tensors["rng.torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    meta = {
        "format": FORMAT + "-checkpoint",
        "format_version": FORMAT_VERSION,
        "step": step,
        "config": config.to_json(),
        "optG": mg,
        "optD": md,
        "scaler": nets.scaler.state_dict(),
    }
    _write_safetensors(path, tensors, {META_KEY: json.dumps(meta)}, overwrite=True)


def _load_checkpoint(path: Path, nets: _Nets, device: torch.device) -> int:
    tensors, meta = _read_safetensors(path, "checkpoint")
    try:
        nets.G.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("G.")})
        nets.D.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
        _load_opt(nets.optG, "optG", tensors, meta["optG"])
        _load_opt(nets.optD, "optD", tensors, meta["optD"])
    except (KeyError, RuntimeError, ValueError) as exc:
        raise ModelError(f"checkpoint {path} does not fit this model ({str(exc).splitlines()[0]}): train without --resume") from exc
    if meta.get("scaler"):
        nets.scaler.load_state_dict(meta["scaler"])
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    return int(meta["step"])


def _checkpoint_config(path: Path) -> TrainConfig:
    _, meta = _read_safetensors(path, "checkpoint")
    cfg = dict(meta["config"])
    cfg["condition"] = ConditionSpec.from_json(cfg["condition"])
    return TrainConfig(**cfg)


def _pix2pix_step(
    nets: _Nets, cond: torch.Tensor, real: torch.Tensor, l1_weight: float, device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One pix2pix update of D then G; returns detached (loss_D, loss_G_GAN, loss_L1)."""
    G, D = nets.G, nets.D
    with autocast(device, dtype):
        fake = G(cond)
        d_real = D(torch.cat([cond, real], 1))
        d_fake = D(torch.cat([cond, fake.detach()], 1))
        loss_d = 0.5 * (
            F.binary_cross_entropy_with_logits(d_real.float(), torch.ones_like(d_real, dtype=torch.float32))
            + F.binary_cross_entropy_with_logits(d_fake.float(), torch.zeros_like(d_fake, dtype=torch.float32))
        )
    nets.optD.zero_grad(set_to_none=True)
    nets.scaler.scale(loss_d).backward()
    nets.scaler.step(nets.optD)

    D.requires_grad_(False)
    with autocast(device, dtype):
        d_fake_g = D(torch.cat([cond, fake], 1))
        loss_gan = F.binary_cross_entropy_with_logits(d_fake_g.float(), torch.ones_like(d_fake_g, dtype=torch.float32))
        loss_l1 = (fake.float() - real.float()).abs().mean()
        loss_g = loss_gan + l1_weight * loss_l1
    nets.optG.zero_grad(set_to_none=True)
    nets.scaler.scale(loss_g).backward()
    nets.scaler.step(nets.optG)
    nets.scaler.update()
    D.requires_grad_(True)
    return loss_d.detach(), loss_gan.detach(), loss_l1.detach()



def _save_preview(path: Path, generator: UNetGenerator, cond: torch.Tensor, real: torch.Tensor, dtype: torch.dtype) -> None:
    """Rows of (condition | output | real) as one PNG."""
    from pano.io.png import write_png

    was_training = generator.training
    generator.eval()
    out = generate(generator, cond, dtype=dtype).cpu()
    generator.train(was_training)
    rows = torch.cat([cond.cpu(), out, real.cpu()], dim=3)  # (B, 3, s, 3s)
    grid = torch.cat(list(rows), dim=1)  # (3, B*s, 3s)
    write_png(path, to_uint8(grid[None])[0])


def l1_on_photos(generator: UNetGenerator, dataset: PhotoFolder, indices: list[int], dtype: torch.dtype = torch.float32) -> float:
    """Mean L1 distance (in ``[0, 1]`` units) between the generator's output and the photos (centre crops, eval mode)."""
    items = [dataset[(i, None)] for i in indices]
    cond = torch.stack([c for c, _ in items])
    real = torch.stack([r for _, r in items])
    was_training = generator.training
    generator.eval()
    out = generate(generator, cond, dtype=dtype).cpu()
    generator.train(was_training)
    return float((out - real).abs().mean())


def train(
    folder: str | os.PathLike,
    model_path: str | os.PathLike,
    config: TrainConfig,
    *,
    device: torch.device,
    resume: bool = False,
    overwrite: bool = False,
    on_start: Callable[[TrainStart], None] | None = None,
    progress: ProgressFn | None = None,
) -> TrainResult:
    """Train a pix2pix model on the photos of ``folder`` and write it to ``model_path``.

    Checkpoints (``checkpoint_path(model_path)``) and the model file are written every
    ``config.checkpoint_every`` steps and at the end; preview grids go to ``NAME_previews/``.

    Args:
        folder: Folder of photos (searched recursively; unreadable images are skipped and counted).
        model_path: The model file to write (``.safetensors``).
        config: Training arguments. With ``resume``, the architecture and condition come from the
            checkpoint; steps, batch, lr etc. from ``config``.
        device: Where to train.
        resume: Continue from the checkpoint beside ``model_path``.
        overwrite: Replace an existing model file (implied by ``resume``).
        on_start: Called once before the first step with the run's facts (image count, skipped files...).
        progress: pano's one progress callback, ``progress(step, total_steps, label)`` after every step; every
            10 steps (and at the last) the label holds the losses, ``"D=0.693, G=2.104, L1=0.182"`` (read from the
            device only then, to avoid GPU syncs), else it is empty. The final losses are in the result.

    Returns:
        A :class:`TrainResult`.

    Raises:
        InputError: empty or missing folder, or ``resume`` without a checkpoint.
        OutputError: the model file exists (without ``overwrite``/``resume``) or cannot be written.
    """
    from pano.io.atomic import check_output_path

    t0 = time.perf_counter()
    model_path = Path(model_path)
    ckpt = checkpoint_path(model_path)
    if model_path.suffix.lower() != ".safetensors":
        raise OutputError(f"a beauty model is a .safetensors file, not {model_path.name}: name it NAME.safetensors")
    check_output_path(model_path, overwrite=overwrite or resume)
    if not resume and ckpt.exists() and not overwrite:
        raise OutputError(f"checkpoint {ckpt} already exists: continue it with --resume, or replace it with --overwrite")
    if resume:
        if not ckpt.is_file():
            raise InputError(f"no checkpoint {ckpt} to resume from: train without --resume first")
        saved = _checkpoint_config(ckpt)
        config = replace(
            config, condition=saved.condition, size=saved.size, ngf=saved.ngf, ndf=saved.ndf, dropout=saved.dropout, seed=saved.seed
        )
    unet_depth(config.size)  # validates the size
    dtype = resolve_precision(config.precision, device)  # type: ignore[arg-type]
    if config.precision == "auto" and device.type == "cuda" and dtype == torch.float32:
        dtype = torch.float16
    channels_last = config.channels_last if config.channels_last is not None else device.type == "cuda"
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    dataset = PhotoFolder(folder, config.size, config.condition)
    total = config.total_steps(len(dataset))
    torch.manual_seed(config.seed)
    nets = _Nets(config, device, dtype, channels_last)
    start = _load_checkpoint(ckpt, nets, device) if resume else 0
    sampler = _StepBatches(len(dataset), config.batch, config.seed, start, total)
    if on_start:
        on_start(
            TrainStart(len(dataset), dataset.skipped, start, total, sampler.per_epoch, str(device), str(dtype).replace("torch.", ""), ckpt if resume else None)
        )
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_sampler=sampler,
        num_workers=config.num_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
        prefetch_factor=4 if config.num_workers > 0 else None,
        generator=torch.Generator().manual_seed(config.seed),  # leaves the global RNG (dropout) alone
    )
    preview_items = [dataset[(i, None)] for i in range(min(4, len(dataset)))]
    preview_cond = torch.stack([c for c, _ in preview_items])
    preview_real = torch.stack([r for _, r in preview_items])
    previews: list[Path] = []
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def to_device(x: torch.Tensor) -> torch.Tensor:
        x = x.to(device, non_blocking=True).mul_(2).sub_(1)
        return x.contiguous(memory_format=memory_format)

    def finish_model(step: int) -> BeautyModel:
        training = {**config.to_json(), "images": len(dataset)}
        model = BeautyModel(nets.G, config.condition, config.size, training, step)
        save_model(model_path, model, overwrite=True)
        return model

    losses: dict[str, float] = {}
    pending: list[torch.Tensor] | None = None
    step = start
    nets.G.train()
    nets.D.train()
    for cond, real in loader:
        ld, lg, l1 = _pix2pix_step(nets, to_device(cond), to_device(real), config.l1_weight, device, dtype)
        step += 1
        pending = [ld, lg, l1]
        if step % 10 == 0 or step == total:
            losses = {"D": float(ld), "G": float(lg), "L1": float(l1)}
            pending = None
            if progress:
                progress(step, total, ", ".join(f"{k}={v:.3f}" for k, v in losses.items()))
        elif progress:
            progress(step, total, "")
        if config.preview_every and step % config.preview_every == 0:
            p = preview_folder(model_path) / f"step_{step:07d}.png"
            p.parent.mkdir(exist_ok=True)
            _save_preview(p, nets.G, preview_cond, preview_real, dtype)
            previews.append(p)
        if config.checkpoint_every and step % config.checkpoint_every == 0 and step < total:
            _save_checkpoint(ckpt, nets, step, config)
            finish_model(step)
    if pending is not None:
        losses = {"D": float(pending[0]), "G": float(pending[1]), "L1": float(pending[2])}
    _save_checkpoint(ckpt, nets, step, config)
    model = finish_model(step)
    return TrainResult(
        model_path, ckpt, step, len(dataset), dataset.skipped, losses, time.perf_counter() - t0, previews, model
    )
