"""Condition makers for ``pano beauty``: the partial information pix2pix learns to turn back into a photo.

Two conditions, both image -> 3-channel image of the same size:

- ``edges``: the photo in grey, contrast-adjusted with CLAHE, then Canny. Edges are black lines on
  white (as in pix2pix's edges2shoes). Thresholds default to automatic ones around the median grey
  level of the contrast-adjusted image.
- ``clusters``: k-means colour quantisation into ``k`` regions (default 7). Clusters are ordered by
  the luminance of their centres, darkest first, and cluster ``i`` is painted ``PALETTE[i]``, so the
  mapping is stable from image to image. Centres can be fitted once (:func:`fit_cluster_centers`,
  e.g. on a whole sphere) and then assigned to many images (:func:`assign_clusters`, e.g. each view
  of that sphere), so overlapping views agree on which colour a region gets.

Array functions work on ``(H, W, 3)`` uint8 RGB (what the training data loader has); :func:`make_condition`
is the tensor front end: ``(B, 3, H, W)`` float in ``[0, 1]`` -> same shape, on the input's device.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import torch

__all__ = [
    "CONDITIONS",
    "PALETTE",
    "ConditionSpec",
    "assign_clusters",
    "assign_clusters_torch",
    "cluster_condition",
    "edge_condition",
    "fit_cluster_centers",
    "make_condition",
]

ConditionName = Literal["edges", "clusters"]
CONDITIONS: tuple[str, ...] = ("edges", "clusters")

#: Fixed, mutually distinct colours (RGB uint8) for the clusters, index = luminance rank of the cluster.
PALETTE: np.ndarray = np.array(
    [
        (230, 25, 75),  # red
        (60, 180, 75),  # green
        (255, 225, 25),  # yellow
        (0, 130, 200),  # blue
        (245, 130, 48),  # orange
        (145, 30, 180),  # purple
        (70, 240, 240),  # cyan
        (240, 50, 230),  # magenta
        (210, 245, 60),  # lime
        (250, 190, 212),  # pink
        (0, 128, 128),  # teal
        (170, 110, 40),  # brown
        (128, 0, 0),  # maroon
        (0, 0, 128),  # navy
        (128, 128, 128),  # grey
        (255, 255, 255),  # white
    ],
    dtype=np.uint8,
)

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_FIT_SAMPLES = 8192  # pixels k-means is fitted on (then every pixel is assigned to its nearest centre)


@dataclass(frozen=True)
class ConditionSpec:
    """A condition type and its parameters, as stored in the model file.

    Attributes:
        name: ``"edges"`` or ``"clusters"``.
        params: For ``edges``: ``clahe_clip`` (CLAHE clip limit, 0 = off), ``low``/``high`` (Canny
            thresholds, ``None`` = automatic), ``blur`` (Gaussian kernel before Canny, odd, 0/1 = off).
            For ``clusters``: ``k`` (number of clusters, 2..16), ``seed`` (k-means seed).
    """

    name: ConditionName = "clusters"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.name not in CONDITIONS:
            raise ValueError(f"unknown condition {self.name!r}: use one of {', '.join(CONDITIONS)}")
        defaults: dict[str, Any] = (
            {"clahe_clip": 2.0, "low": None, "high": None, "blur": 3} if self.name == "edges" else {"k": 7, "seed": 0}
        )
        unknown = set(self.params) - set(defaults)
        if unknown:
            raise ValueError(f"unknown {self.name} parameter(s): {', '.join(sorted(unknown))}")
        object.__setattr__(self, "params", {**defaults, **self.params})
        if self.name == "clusters" and not 2 <= int(self.params["k"]) <= len(PALETTE):
            raise ValueError(f"clusters k must be in 2..{len(PALETTE)}, got {self.params['k']}")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConditionSpec:
        return cls(name=data["name"], params=dict(data.get("params", {})))

    def __call__(self, rgb: np.ndarray, centers: np.ndarray | None = None) -> np.ndarray:
        """The condition of one ``(H, W, 3)`` uint8 RGB image, as ``(H, W, 3)`` uint8."""
        if self.name == "edges":
            return edge_condition(rgb, **self.params)
        if centers is None:
            return cluster_condition(rgb, k=int(self.params["k"]), seed=int(self.params["seed"]))
        return assign_clusters(rgb, centers)


def edge_condition(
    rgb: np.ndarray, clahe_clip: float = 2.0, low: float | None = None, high: float | None = None, blur: int = 3
) -> np.ndarray:
    """Canny edges of the contrast-adjusted photo, black lines on white.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.
        clahe_clip: CLAHE clip limit (8x8 tiles); 0 disables the contrast adjustment.
        low: Canny lower hysteresis threshold; ``None``: ``0.66 * median``.
        high: Canny upper threshold; ``None``: ``1.33 * median`` (at least ``low + 10``).
        blur: Gaussian blur kernel (odd) applied before Canny to suppress noise; 0 or 1 = none.

    Returns:
        ``(H, W, 3)`` uint8: 0 on edge pixels, 255 elsewhere.
    """
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    if clahe_clip and clahe_clip > 0:
        grey = cv2.createCLAHE(clipLimit=float(clahe_clip), tileGridSize=(8, 8)).apply(grey)
    if blur and blur > 1:
        grey = cv2.GaussianBlur(grey, (int(blur) | 1, int(blur) | 1), 0)
    med = float(np.median(grey))
    lo = float(low) if low is not None else max(0.0, 0.66 * med)
    hi = float(high) if high is not None else max(lo + 10.0, min(255.0, 1.33 * med))
    edges = cv2.Canny(grey, lo, hi)
    out = np.where(edges > 0, 0, 255).astype(np.uint8)
    return np.repeat(out[:, :, None], 3, axis=2)


def fit_cluster_centers(rgb: np.ndarray, k: int = 7, seed: int = 0) -> np.ndarray:
    """k-means colour centres of an image, ordered by luminance (darkest first).

    Fitted on at most 8192 pixels picked with ``seed`` (k-means++ initialisation, 3 attempts), so
    the cost does not grow with the image.

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.
        k: Number of clusters (2..16).
        seed: Seed for the pixel sample and k-means (same image + seed -> same centres).

    Returns:
        ``(k', 3)`` float32 RGB centres, ``k' <= k`` (fewer only if the image has fewer colours).
    """
    if not 2 <= k <= len(PALETTE):
        raise ValueError(f"k must be in 2..{len(PALETTE)}, got {k}")
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(pixels) > _FIT_SAMPLES:
        pixels = pixels[rng.choice(len(pixels), _FIT_SAMPLES, replace=False)]
    distinct = np.unique(pixels, axis=0)
    if len(distinct) <= k:
        centers = distinct
    else:
        cv2.setRNGSeed(int(seed))
        criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        _, labels, centers = cv2.kmeans(pixels, k, None, criteria, 3, cv2.KMEANS_PP_CENTERS)
        centers = centers[np.unique(labels)]  # drop empty clusters, if any
    order = np.argsort(centers @ _LUMA, kind="stable")
    return np.ascontiguousarray(centers[order], dtype=np.float32)


def assign_clusters(rgb: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """Paint each pixel with the palette colour of its nearest centre (centre ``i`` -> ``PALETTE[i]``).

    Args:
        rgb: ``(H, W, 3)`` uint8 RGB.
        centers: ``(k, 3)`` RGB centres in palette order (from :func:`fit_cluster_centers`).

    Returns:
        ``(H, W, 3)`` uint8 image with only colours from ``PALETTE[:k]``.
    """
    h, w = rgb.shape[:2]
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    c = centers.astype(np.float32)
    # |p - c|^2 = |p|^2 - 2 p.c + |c|^2; |p|^2 is the same for every centre
    d = -2.0 * pixels @ c.T + (c * c).sum(1)[None, :]
    labels = d.argmin(1)
    return PALETTE[labels].reshape(h, w, 3)


def cluster_condition(rgb: np.ndarray, k: int = 7, seed: int = 0) -> np.ndarray:
    """k-means colour quantisation of one image into ``k`` palette colours (see module docstring)."""
    return assign_clusters(rgb, fit_cluster_centers(rgb, k=k, seed=seed))


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(B, 3, H, W)`` float ``[0, 1]`` -> ``(B, H, W, 3)`` uint8 (rounded)."""
    return (images.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def from_uint8(arrays: np.ndarray, like: torch.Tensor | None = None) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 -> ``(B, 3, H, W)`` float ``[0, 1]`` (on ``like``'s device and dtype)."""
    t = torch.from_numpy(np.ascontiguousarray(arrays)).permute(0, 3, 1, 2).float() / 255.0
    if like is not None:
        t = t.to(device=like.device, dtype=like.dtype)
    return t


def assign_clusters_torch(images: torch.Tensor, centers: np.ndarray | torch.Tensor) -> torch.Tensor:
    """:func:`assign_clusters` for a batch of tensors, on their device (no trip through the CPU).

    The images are rounded to 8 bits first, as :func:`to_uint8` does, so every pixel gets the same
    centre as in :func:`assign_clusters` (up to float rounding where two centres are equally near).

    Args:
        images: ``(B, 3, H, W)`` float in ``[0, 1]``, any device.
        centers: ``(k, 3)`` RGB centres in palette order (0..255 units).

    Returns:
        ``(B, 3, H, W)`` float32 in ``[0, 1]``, palette colours only, on ``images``' device.
    """
    dev = images.device
    q = (images.detach().float().clamp(0, 1) * 255.0).round()
    c = torch.as_tensor(centers, dtype=torch.float32, device=dev)
    d = torch.einsum("bchw,kc->bkhw", q, c).mul_(-2.0).add_((c * c).sum(1)[None, :, None, None])
    labels = d.argmin(1)  # (B, H, W)
    palette = torch.as_tensor(PALETTE[: len(c)], dtype=torch.float32, device=dev) / 255.0
    return palette[labels].permute(0, 3, 1, 2)


def make_condition(
    images: torch.Tensor, spec: ConditionSpec, centers: np.ndarray | None = None, *, on_device: bool = True
) -> torch.Tensor:
    """The condition of a batch of images.

    ``clusters`` with shared ``centers`` is computed in torch on the images' device
    (:func:`assign_clusters_torch`); edges (OpenCV's CLAHE and Canny define them) and clusters fitted per
    image go through uint8 arrays on the CPU.

    Args:
        images: ``(B, 3, H, W)`` float in ``[0, 1]``, any device.
        spec: The condition type and parameters.
        centers: For ``clusters``: shared centres (e.g. fitted on the whole sphere) instead of
            fitting k-means on each image.
        on_device: ``False`` takes the CPU route for every condition (the reference the torch route is
            tested and benchmarked against).

    Returns:
        ``(B, 3, H, W)`` float in ``[0, 1]`` on ``images``' device and dtype.
    """
    if on_device and spec.name == "clusters" and centers is not None:
        return assign_clusters_torch(images, centers).to(images.dtype)
    arrays = to_uint8(images)
    out = np.stack([spec(a, centers) for a in arrays])
    return from_uint8(out, like=images)
