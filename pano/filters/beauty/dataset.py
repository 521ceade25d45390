"""The training photos of ``pano beauty train``: a folder of photos with pix2pix's augmentation and the
condition (:class:`PhotoFolder`), and the batches of each step (:class:`_StepBatches`).

Each photo is resized so its shorter side is ``round(1.12 * size)``, randomly cropped to ``size x size``
and randomly flipped; the condition is computed on the crop, in the data-loader workers. Augmentation
randomness comes from per-sample seeds derived from ``(seed, step)``, so a resumed run sees the same
samples whatever the worker count.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from pano.errors import InputError
from pano.filters.conditions import ConditionSpec
from pano.io.header import IMAGE_EXTENSIONS as READ_EXTENSIONS

__all__ = ["IMAGE_EXTENSIONS", "LOAD_SCALE", "PhotoFolder"]

IMAGE_EXTENSIONS = READ_EXTENSIONS | {".bmp"}  # training photos are decoded by Pillow, which reads BMP too
LOAD_SCALE = 1.12  # resize to size * 1.12, then random-crop size (pix2pix: 286 -> 256)


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
