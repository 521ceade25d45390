"""``pano beauty``: train a pix2pix net on a folder of photos, then let it repaint spheres.

A pix2pix net (:mod:`pano.models.pix2pix`) learns to turn a *condition* of a photo (its edges or its
colour clusters, :mod:`pano.filters.conditions`) back into the photo. Trained only on flowers, it
repaints whatever it is shown as flowers.

Training (:func:`train`)
    The paper's setup: U-Net generator, 70x70 PatchGAN on ``concat(condition, image)``, loss
    ``BCE-with-logits GAN + 100 * L1``, Adam (lr 2e-4, beta1 0.5). Each photo is resized so its
    shorter side is ``round(1.12 * size)``, randomly cropped to ``size x size`` and randomly flipped;
    the condition is computed on the crop, in the data-loader workers. On CUDA: bf16 autocast
    (fp16 + ``GradScaler`` where bf16 is missing), channels-last tensors, cuDNN autotuning.
    Augmentation randomness comes from per-sample seeds derived from ``(seed, step)``, and the
    torch RNG (dropout) is checkpointed, so a resumed run continues exactly where it stopped.

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

Checkpoint (``MODEL.ckpt.safetensors``, beside the model)
    Same container: ``G.*`` and ``D.*`` weights, ``optG.*``/``optD.*`` Adam moments, the torch
    (and CUDA) RNG states as tensors; JSON metadata with the step, the config, the optimizers' param
    groups and the grad-scaler state. ``train(..., resume=True)`` continues from it.

Applying (:class:`BeautyFilter`)
    Per perspective view of the sphere (overlapping, feathered, through
    :func:`pano.pipeline.map_sphere`): condition of the view -> generator -> stitched. For the
    ``clusters`` condition the k-means centres are fitted once on the whole sphere and every view is
    painted with them, so overlapping views agree. ``flat=True`` treats the input as an ordinary photo.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from pano.device import autocast, resolve_precision
from pano.errors import InputError, ModelError, OutputError
from pano.filters.base import FilterInfo, ProgressFn
from pano.filters.conditions import ConditionSpec, fit_cluster_centers, make_condition, to_uint8
from pano.io.atomic import atomic_output
from pano.io.header import IMAGE_EXTENSIONS as READ_EXTENSIONS
from pano.models.pix2pix import PatchDiscriminator, UNetGenerator, init_weights, unet_depth

__all__ = [
    "IMAGE_EXTENSIONS",
    "BeautyFilter",
    "BeautyModel",
    "PhotoFolder",
    "TrainConfig",
    "TrainResult",
    "checkpoint_path",
    "generate",
    "l1_on_photos",
    "load_model",
    "save_model",
    "train",
]

FORMAT = "pano-beauty"
FORMAT_VERSION = 1
META_KEY = "pano.beauty"
IMAGE_EXTENSIONS = READ_EXTENSIONS | {".bmp"}  # training photos are decoded by Pillow, which reads BMP too
LOAD_SCALE = 1.12  # resize to size * 1.12, then random-crop size (pix2pix: 286 -> 256)


# --------------------------------------------------------------------------------------------- model file


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


# --------------------------------------------------------------------------------------------- data


def _open_rgb(path: Path, min_side: int):
    """Decode an image as RGB PIL, letting JPEG decode at reduced size when it is much larger than needed."""
    from PIL import Image, ImageOps

    with Image.open(path) as im:
        im.draft("RGB", (min_side, min_side))  # JPEG only: DCT scaling, keeps both sides >= min_side
        im = ImageOps.exif_transpose(im)
        return im.convert("RGB")


class PhotoFolder(torch.utils.data.Dataset):
    """The training photos of a folder (recursively), with the pix2pix augmentation and the condition.

    Files with an image extension that cannot be decoded are skipped (listed in :attr:`skipped`).
    Items are addressed by ``(index, sample_seed)`` so that augmentation is reproducible whatever the
    worker count; each item is ``(condition, photo)``, two ``(3, size, size)`` float tensors in ``[0, 1]``.

    Args:
        folder: Folder of photos.
        size: Crop side in pixels.
        condition: The condition maker.

    Raises:
        InputError: the folder does not exist, or holds no readable image.
    """

    def __init__(self, folder: str | os.PathLike, size: int, condition: ConditionSpec) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise InputError(f"training folder {self.folder} does not exist: give a folder of photos")
        self.size = size
        self.load_size = int(round(size * LOAD_SCALE))
        self.condition = condition
        candidates = sorted(p for p in self.folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        self.files: list[Path] = []
        self.skipped: list[Path] = []
        for p in candidates:
            try:
                _open_rgb(p, 8)
                self.files.append(p)
            except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
                self.skipped.append(p)
        if not self.files:
            extra = f" ({len(self.skipped)} unreadable)" if self.skipped else ""
            raise InputError(
                f"no readable images in {self.folder}{extra}: put .jpg/.png photos in it ({', '.join(sorted(IMAGE_EXTENSIONS))})"
            )

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int) -> np.ndarray:
        """Photo ``index`` resized so its shorter side is ``load_size``, ``(h, w, 3)`` uint8."""
        from PIL import Image

        im = _open_rgb(self.files[index], self.load_size)
        w, h = im.size
        s = self.load_size / min(w, h)
        im = im.resize((max(self.load_size, round(w * s)), max(self.load_size, round(h * s))), Image.BICUBIC, reducing_gap=3.0)
        return np.asarray(im)

    def crop(self, index: int, sample_seed: int | None) -> np.ndarray:
        """A ``size x size`` crop: random position and flip from ``sample_seed``, centre crop for ``None``."""
        img = self.load(index)
        h, w = img.shape[:2]
        if sample_seed is None:
            y, x, flip = (h - self.size) // 2, (w - self.size) // 2, False
        else:
            rng = np.random.default_rng(sample_seed)
            y, x = int(rng.integers(0, h - self.size + 1)), int(rng.integers(0, w - self.size + 1))
            flip = bool(rng.integers(0, 2))
        out = img[y : y + self.size, x : x + self.size]
        return np.ascontiguousarray(out[:, ::-1] if flip else out)

    def __getitem__(self, item: tuple[int, int | None] | int) -> tuple[torch.Tensor, torch.Tensor]:
        index, sample_seed = item if isinstance(item, tuple) else (item, None)
        photo = self.crop(index, sample_seed)
        cond = self.condition(photo)
        to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float().div_(255.0)  # noqa: E731
        return to_t(cond), to_t(photo)


class _StepBatches(torch.utils.data.Sampler):
    """Batches of ``(index, sample_seed)`` for steps ``start .. total-1``: a fresh permutation per epoch."""

    def __init__(self, n: int, batch: int, seed: int, start: int, total: int) -> None:
        self.n, self.batch, self.seed, self.start, self.total = n, batch, seed, start, total
        self.per_epoch = math.ceil(n / batch)

    def __len__(self) -> int:
        return max(0, self.total - self.start)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        perm, epoch = None, -1
        for step in range(self.start, self.total):
            e, pos = divmod(step, self.per_epoch)
            if e != epoch:
                g = torch.Generator().manual_seed(self.seed * 1_000_003 + e)
                perm, epoch = torch.randperm(self.n, generator=g).tolist(), e
            idx = perm[pos * self.batch : (pos + 1) * self.batch] or perm[: self.batch]
            yield [(i, (self.seed * 1_000_003 + step) * 4099 + j) for j, i in enumerate(idx)]


# --------------------------------------------------------------------------------------------- training


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


StepFn = Callable[[int, int, dict[str, float]], None]


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
    on_step: StepFn | None = None,
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
        on_step: Called after every step with ``(step, total_steps, losses)``; losses
            (``D``, ``G``, ``L1``) are refreshed every 10 steps to avoid GPU syncs.

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
        if on_step:
            on_step(step, total, losses)
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


# --------------------------------------------------------------------------------------------- applying


class BeautyFilter:
    """Repaint a sphere (or a flat photo) with a trained beauty model.

    Args:
        model: A loaded :class:`BeautyModel` (its generator on the device to run on).
        view_size: Side of the perspective views in pixels (default: the training size).
        flat: Treat the input as an ordinary photo: resized so its shorter side is ``view_size``,
            repainted whole, resized back.
        precision: ``auto`` / ``fp32`` / ``bf16`` / ``fp16`` (see :func:`pano.device.resolve_precision`).
        batch: Views per generator call.
        context: Reflected border added around each view's condition before the generator, as a
            fraction of the view size per side (cropped off after): the U-Net's zero-padding border
            effects then fall outside the view, which removes their trace where views meet
            (measured on a 256x128 sphere, 64-px views: cube-edge ratio 1.30 without, 0.99 with 0.25).

    Shape:
        ``(1, 3, H, W)`` in ``[0, 1]`` -> ``(1, 3, H, W)`` in ``[0, 1]``.
    """

    info = FilterInfo(name="beauty", scale=1, supports_flat=True)

    def __init__(
        self,
        model: BeautyModel,
        *,
        view_size: int | None = None,
        flat: bool = False,
        precision: str = "auto",
        batch: int = 8,
        context: float = 0.25,
    ) -> None:
        self.model = model
        self.view_size = int(view_size or model.size)
        if self.view_size < 16:
            raise InputError(f"--view-size {self.view_size} is too small: use at least 16")
        self.flat = flat
        self.precision = precision
        self.batch = batch
        self.context = float(context)
        self.device = next(model.generator.parameters()).device
        self.dtype = resolve_precision(precision, self.device)  # type: ignore[arg-type]
        model.generator.eval()

    def params(self) -> dict[str, Any]:
        return {
            "filter": "beauty",
            "condition": self.model.condition.to_json(),
            "model_size": self.model.size,
            "model_step": self.model.step,
            "view_size": self.view_size,
            "flat": self.flat,
            "context": self.context,
        }

    def _views_fn(self, centers: np.ndarray | None) -> Callable[[torch.Tensor], torch.Tensor]:
        def fn(views: torch.Tensor) -> torch.Tensor:
            h, w = views.shape[-2:]
            ph, pw = min(h - 1, round(h * self.context)), min(w - 1, round(w * self.context))
            outs = []
            for i in range(0, views.shape[0], self.batch):
                chunk = views[i : i + self.batch]
                cond = make_condition(chunk, self.model.condition, centers)
                if ph or pw:  # context around the view, so the U-Net's border effects fall outside it
                    cond = F.pad(cond, (pw, pw, ph, ph), mode="reflect")
                out = generate(self.model.generator, cond, dtype=self.dtype)
                outs.append(out[..., ph : ph + h, pw : pw + w].to(views.dtype))
            return torch.cat(outs).to(views.device)

        return fn

    def _centers(self, image: torch.Tensor) -> np.ndarray | None:
        spec = self.model.condition
        if spec.name != "clusters":
            return None
        return fit_cluster_centers(to_uint8(image[:1])[0], k=int(spec.params["k"]), seed=int(spec.params["seed"]))

    def __call__(self, equi: torch.Tensor, *, progress: ProgressFn | None = None) -> torch.Tensor:
        if equi.ndim != 4 or equi.shape[1] != 3:
            raise InputError(f"beauty needs an RGB image, got a tensor of shape {tuple(equi.shape)}")
        equi = equi.to(self.device, torch.float32)
        centers = self._centers(equi)
        fn = self._views_fn(centers)
        if self.flat:
            h, w = equi.shape[-2:]
            s = self.view_size / min(h, w)
            small = F.interpolate(equi, size=(max(1, round(h * s)), max(1, round(w * s))), mode="bilinear", antialias=True, align_corners=False)
            out = fn(small)
            if progress:
                progress(1, 1, "beauty")
            return F.interpolate(out, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)
        from pano.pipeline import map_sphere

        return map_sphere(equi, fn, view_size=self.view_size, progress=progress).clamp(0, 1)
