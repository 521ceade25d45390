"""Seamless super-resolution of equirectangular spheres: overlapping tiles, sphere-aware padding.

How a sphere is upscaled (:func:`upscale_tensor`):

1. **Padding that continues the sphere.** Across longitude ±180° the image wraps (circular padding,
   never reflect: reflect would mirror content that is not there and leave a seam). Beyond a pole
   the correct neighbour of row ``j`` is row ``j`` itself on the opposite meridian: walking over the
   north pole at longitude ``lon`` you come down at ``lon + 180°``. So the rows above the top are the
   top rows flipped vertically and rolled by ``W/2`` (``pole`` padding, as py360convert's sampler
   does). For partial panoramas that do not span 360° (or do not reach a pole) the edges get reflect
   padding: there is nothing beyond them, and reflection keeps the network's statistics.
   **Pole caps** (``pole_views``): near a pole the equirect stretches texture horizontally and the
   network would sharpen it into radial streaks (a star in the headset). The caps above
   ``POLE_BLEND_START_DEG`` are therefore also upscaled in perspective views straight up and down
   (square pixels) and blended in over 55°..65° of latitude, where the equirect's stretch (1.7-2.4x)
   is still mild. On spheres with no preferred place this keeps the pole measure at or below the
   input's; equirect tiles alone raise it by 0.15-0.25 (concentric rings).
2. **Overlapping tiles, feathered.** The core image is cut into equal tiles that overlap by
   ``overlap`` pixels; each tile is run with ``context`` extra pixels on every side (cropped from the
   output). Longitude tiles lie on a circle, so the tile that crosses ±180° is blended like any other
   and the seam is an ordinary interior position. Each tile's output is weighted by a separable
   linear ramp over the overlap, divided by the per-row and per-column sums of the ramps: the weights
   are an exact partition of unity, so no tile grid or seam is left, and no 2-D weight buffer exists.
3. **Bounded memory.** Tiles are processed band by band (one row of tiles); a float32 band buffer
   accumulates the band, finished rows are written into a preallocated output (float on the model's
   device for ``pano dream --upscale``, or uint8 on the CPU for big files: an 8192x4096 result then
   needs 100 MB plus one band). The tile size comes from free memory; out of memory, the batch and
   then the tile are halved and the run restarts (reported through ``progress``).
4. **No block grid.** A compact net (animevideov3) leaves a faint grid at its input's pixel
   boundaries; :func:`soften_block_grid` evens it out on every tile's output.
5. **A stitched seam.** Many stitchers leave a small colour step at ±180°; SR would sharpen it into a
   line. :class:`UpscaleFilter` spreads it over ``W / 128`` columns first (``repair_seam``).
6. **Scale.** ``scale`` below the model's own (``--scale 2`` with an x4 model) downsamples each
   tile's output, context included, with antialiased bicubic before blending.

GPU: tiles of a band are batched, the model runs in fp16/bf16 when the descriptor supports it, in
channels_last memory format.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from pano.device import is_out_of_memory, resolve_device, resolve_precision
from pano.errors import DeviceError, InputError, ModelError
from pano.filters.base import FLAT, FULL_SPHERE, Extent, FilterInfo, ProgressFn
from pano.sphere.resize import resize_equirect
from pano.sphere.padding import pad_sphere
from pano.sphere.seam import soften_wrap_seam

__all__ = [
    "UpscaleFilter",
    "upscale_tensor",
    "pad_sphere",
    "auto_tile",
    "soften_block_grid",
    "DEFAULT_OVERLAP",
    "DEFAULT_CONTEXT",
]

#: Input pixels shared by neighbouring tiles (feathered).
DEFAULT_OVERLAP = 16
#: Input pixels of context around every tile (run, then cropped away). Real-ESRGAN uses 10.
DEFAULT_CONTEXT = 16
MIN_TILE = 32
#: Pole caps: beyond this latitude (degrees) the result comes from a view straight up/down ...
POLE_BLEND_END_DEG = 65.0
#: ... blended in from this latitude; below it the equirect tiles alone.
POLE_BLEND_START_DEG = 55.0


# --------------------------------------------------------------------------------------------
# tile plan


@dataclass(frozen=True)
class _Span:
    start: int  # in core input pixels (may pass the end on a circle)
    size: int


def _spans(length: int, tile: int, overlap: int, circular: bool) -> list[_Span]:
    """Equal-size spans covering ``[0, length)`` with at least ``overlap`` shared between neighbours."""
    if circular:
        n = max(1, math.ceil(length / (tile - overlap)))
        if n == 1:
            return [_Span(0, length)]
        stride = length / n
        size = math.ceil(stride) + overlap
        return [_Span(round(j * stride), size) for j in range(n)]
    if length <= tile:
        return [_Span(0, length)]
    n = math.ceil((length - overlap) / (tile - overlap))
    size = min(length, math.ceil((length - overlap) / n) + overlap)
    return [_Span(round(j * (length - size) / (n - 1)), size) for j in range(n)]


def _ramp(size: int, ramp: int, device: torch.device) -> Tensor:
    t = torch.arange(size, device=device, dtype=torch.float32) + 0.5
    if ramp <= 0:
        return torch.ones(size, device=device)
    return torch.minimum(t, size - t).div(ramp).clamp(max=1.0)


def _normalised_weights(spans: list[_Span], length: int, s: int, ramp: int, circular: bool, device) -> list[Tensor]:
    """Per span, its 1-D output-space weights divided by the sum over spans (a partition of unity)."""
    raw = [_ramp(sp.size * s, ramp, device) for sp in spans]
    total = torch.zeros(length * s, device=device)
    index = []
    for sp, w in zip(spans, raw):
        pos = torch.arange(sp.start * s, (sp.start + sp.size) * s, device=device)
        pos = pos.remainder(length * s) if circular else pos
        total.index_add_(0, pos, w)
        index.append(pos)
    return [w / total[pos] for w, pos in zip(raw, index)]


# --------------------------------------------------------------------------------------------
# memory


def _free_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4 << 30


def _bytes_per_input_pixel(descriptor: Any, dtype: torch.dtype) -> int:
    """A conservative activation estimate: ~4 live 64-channel maps at output resolution."""
    elem = torch.finfo(dtype).bits // 8
    s = int(descriptor.scale)
    if getattr(descriptor.architecture, "id", "") == "Compact":
        return elem * (64 * 6 + 3 * s * s * 3)
    return elem * 64 * s * s * 4


def auto_tile(descriptor: Any, device: torch.device, dtype: torch.dtype, context: int = DEFAULT_CONTEXT) -> tuple[int, int]:
    """``(tile, batch)`` from free memory: CUDA uses up to 60 % of free memory (tile <= 1024, up to 8
    tiles a batch), the CPU up to a quarter of available memory, capped at 1.5 GB (batch 1), so that
    an 8192x4096 result stays within a few GB of RSS."""
    per_px = _bytes_per_input_pixel(descriptor, dtype)
    free = _free_bytes(device)
    if device.type == "cuda":
        budget = 0.6 * free
        tile = int(min(1024, math.sqrt(budget / per_px) - 2 * context))
        tile = max(MIN_TILE, tile // 16 * 16)
        batch = int(max(1, min(8, budget // (per_px * (tile + 2 * context) ** 2))))
        return tile, batch
    budget = min(0.25 * free, 1.5 * (1 << 30))
    tile = int(min(512, math.sqrt(budget / per_px) - 2 * context))
    return max(MIN_TILE, tile // 16 * 16), 1


# --------------------------------------------------------------------------------------------
# pole caps


@dataclass
class _Cap:
    rows: slice  # output rows the cap touches
    pixels: Tensor  # (1, 3, n_rows, W*s) float32: the upscaled polar view resampled into the equirect
    alpha: Tensor  # (n_rows,) weight of ``pixels`` against the equirect tiles


def _smoothstep(t: Tensor) -> Tensor:
    t = t.clamp(0, 1)
    return t * t * (3 - 2 * t)


def _pole_caps(equi: Tensor, s: int, run_flat, pole_top: bool, pole_bottom: bool) -> list[_Cap]:
    """Upscale the polar caps in perspective views straight up and down and resample them into the equirect.

    Near a pole the equirect stretches the image horizontally by ``1 / cos(lat)``; a network run there
    sharpens the stretched texture into radial streaks (a star at the pole in a headset). In a view
    centred on the pole the pixels are square again, so the network sees ordinary image statistics.
    The view's centre pixel matches the equirect's vertical resolution (``pi / H``); its field of view
    reaches ``DEFAULT_CONTEXT`` view pixels beyond the blend band (``POLE_BLEND_START_DEG`` .. ``END``),
    so the band lies where the network had full context, as in the tiles, and no further: the view
    already samples the band 1.5x more finely than its centre (perspective), and every extra pixel is
    network time (at 2048x1024 a view reaching 70 % of its half-size had 2.5x the pixels).
    """
    from pano.filters.view_loop import views_through
    from pano.sphere.convention import lonlat_to_direction
    from pano.sphere.rotation import rotation_matrix
    from pano.sphere.views import view_coordinates

    _, _, h, w = equi.shape
    dev = equi.device
    pixel = math.pi / h  # view pixel at the centre, radians (tangent plane units)
    band_px = math.tan(math.radians(90.0 - POLE_BLEND_START_DEG)) / pixel
    size = max(16, 2 * math.ceil(band_px + DEFAULT_CONTEXT))
    fov_deg = 2 * math.degrees(math.atan(size / 2 * pixel))
    oh, ow = h * s, w * s
    n_rows = math.ceil(oh * (90.0 - POLE_BLEND_START_DEG) / 180.0) + 1
    tops = [top for top, wanted in ((True, pole_top), (False, pole_bottom)) if wanted]
    if not tops:
        return []
    rots = torch.cat([rotation_matrix(0.0, 90.0 if top else -90.0, 0.0, device=dev)[None] for top in tops])
    # one view at a time: run_flat tiles it; out of memory there is upscale_tensor's to handle (smaller tiles)
    views_up = views_through(equi.float(), rots, fov_deg, size, lambda v: run_flat(v.clamp(0, 1)), batch=1, mode="bicubic")
    caps = []
    for k, top in enumerate(tops):
        rot = rots[k : k + 1]
        view_up = views_up[k : k + 1]  # (1, 3, size*s, size*s)
        rows = torch.arange(n_rows, device=dev) if top else torch.arange(oh - n_rows, oh, device=dev)
        lat = (0.5 - (rows.float() + 0.5) / oh) * math.pi
        lon = ((torch.arange(ow, device=dev, dtype=torch.float32) + 0.5) / ow - 0.5) * (2 * math.pi)
        dirs = lonlat_to_direction(lon[None, :].expand(len(rows), ow), lat[:, None].expand(len(rows), ow))
        gx, gy, _front = view_coordinates(dirs, rot, fov_deg, (size * s, size * s))
        grid = torch.stack((gx[0], gy[0]), -1)[None]
        pixels = F.grid_sample(view_up, grid, mode="bicubic", padding_mode="border", align_corners=False).clamp(0, 1)
        alpha = _smoothstep((lat.abs().rad2deg() - POLE_BLEND_START_DEG) / (POLE_BLEND_END_DEG - POLE_BLEND_START_DEG))
        r0 = int(rows[0])
        caps.append(_Cap(slice(r0, r0 + len(rows)), pixels, alpha))
    return caps


def _blend_caps(acc: Tensor, y0: int, caps: list[_Cap]) -> None:
    """Blend the caps into the float rows ``acc`` (output rows ``y0 ..``), in place."""
    y1 = y0 + acc.shape[-2]
    for cap in caps:
        a, b = max(y0, cap.rows.start), min(y1, cap.rows.stop)
        if a >= b:
            continue
        alpha = cap.alpha[a - cap.rows.start : b - cap.rows.start].view(1, 1, -1, 1)
        part = acc[:, :, a - y0 : b - y0]
        part.mul_(1 - alpha).add_(cap.pixels[:, :, a - cap.rows.start : b - cap.rows.start] * alpha)


# --------------------------------------------------------------------------------------------
# the tile loop


class _OutOfMemory(Exception):
    pass


def _model_dtype(descriptor: Any) -> torch.dtype:
    try:
        return next(descriptor.model.parameters()).dtype
    except StopIteration:  # pragma: no cover - every SR model has parameters
        return torch.float32


#: Compact nets: fraction of the step across every ``scale``-px block boundary moved to each side.
BLOCK_GRID_SOFTENING = 0.1


def soften_block_grid(y: Tensor, block: int, alpha: float = BLOCK_GRID_SOFTENING) -> Tensor:
    """Even out the faint ``block``-px grid a compact SR net leaves, in place; returns ``y``.

    ``SRVGGNetCompact`` (animevideov3) adds a nearest-neighbour upsampled copy of its input to its
    output; the residual cancels the copy's steps only partly, so the column (and row) pairs that straddle
    an input-pixel boundary carry about 25 % more gradient energy than the others: a faint grid of
    ``block``-px squares over the whole image. Across each boundary the two pixels exchange ``alpha`` of
    their difference, which brings the boundary pairs back to the image's average (measured on real photos:
    1.25 -> 1.02 of the mean, PSNR unchanged to within 0.05 dB). The grid is that of the model's input, so
    ``y`` must start on a block boundary (tiles start on whole input pixels), and ±180° falls on one too.
    """
    if block < 2 or alpha <= 0:
        return y
    for left, right in (
        (y[..., :, block - 1 : -1 : block], y[..., :, block::block]),
        (y[..., block - 1 : -1 : block, :], y[..., block::block, :]),
    ):
        step = (right - left).mul_(alpha)
        left.add_(step)
        right.sub_(step)
    return y


def _leaves_block_grid(descriptor: Any) -> bool:
    return getattr(descriptor.architecture, "id", "") == "Compact"


def _run(descriptor: Any, batch: Tensor, out_scale: int) -> Tensor:
    """Model on a batch of tiles ``(N, 3, h, w)`` -> ``(N, 3, h*out_scale, w*out_scale)`` float32 in [0, 1]."""
    n, _, h, w = batch.shape
    req = getattr(descriptor, "size_requirements", None)
    pad_h = pad_w = 0
    if req is not None and not req.none:
        pad_w, pad_h = req.get_padding(w, h)
    x = batch.to(device=descriptor.device, dtype=_model_dtype(descriptor))
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
    if x.device.type == "cuda":
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():  # not inference_mode: the result is updated in place outside it
        y = descriptor.model(x)
    y = y.float()
    ms = int(descriptor.scale)
    if _leaves_block_grid(descriptor):
        soften_block_grid(y, ms)
    if pad_h or pad_w:
        y = y[..., : h * ms, : w * ms]
    if out_scale != ms:
        # the package's one resize; a tile carries its sphere neighbours as context (pad_sphere), which is cut off
        # after this, so its own borders are clamped like a crop's
        y = resize_equirect(y, (h * out_scale, w * out_scale), wrap_x=False, pole_top=False, pole_bottom=False)
    return y.clamp_(0, 1)


def _to_output(acc: Tensor, dtype: torch.dtype) -> Tensor:
    if dtype == torch.uint8:
        return acc.mul(255).round_().clamp_(0, 255).to(torch.uint8)
    return acc.to(dtype)


def _upscale_once(
    equi: Tensor,
    descriptor: Any,
    s: int,
    tile: int,
    batch: int,
    overlap: int,
    context: int,
    wrap_x: bool,
    pole_top: bool,
    pole_bottom: bool,
    out: Tensor,
    progress: ProgressFn | None,
    pole_views: bool = True,
) -> None:
    _, _, h, w = equi.shape
    dev = descriptor.device
    caps: list[_Cap] = []
    if pole_views and wrap_x and pole_top and pole_bottom:  # the views need the whole sphere
        def run_flat(view: Tensor) -> Tensor:
            flat = torch.empty((1, 3, view.shape[-2] * s, view.shape[-1] * s), device=dev)
            _upscale_once(view, descriptor, s, tile, batch, overlap, context, False, False, False, flat, None, False)
            return flat

        caps = _pole_caps(equi.to(dev), s, run_flat, pole_top, pole_bottom)
    # rows entirely inside a pole cap (latitude beyond POLE_BLEND_END_DEG) come from the cap alone
    cap_rows = int(h * (90.0 - POLE_BLEND_END_DEG) / 180.0)
    y_lo = cap_rows if any(c.rows.start == 0 for c in caps) else 0
    y_hi = h - cap_rows if any(c.rows.stop == h * s for c in caps) else h
    overlap = min(overlap, max(0, tile // 3))
    ys = _spans(y_hi - y_lo, tile, overlap, circular=False)
    xs = _spans(w, tile, overlap, circular=wrap_x)
    wy = _normalised_weights(ys, y_hi - y_lo, s, overlap * s, False, dev)
    wx = _normalised_weights(xs, w, s, overlap * s, wrap_x, dev)
    right = max(sp.start + sp.size for sp in xs) - w + context
    padded = pad_sphere(equi.to(dev), context, context, context, right, wrap_x=wrap_x, pole_top=pole_top, pole_bottom=pole_bottom)
    out_w = w * s

    def emit(rows: Tensor, y0: int) -> None:  # finished float rows -> the output
        if caps:
            _blend_caps(rows, y0, caps)
        out[:, :, y0 : y0 + rows.shape[-2]] = _to_output(rows, out.dtype).to(out.device)

    if y_lo > 0:
        emit(torch.zeros((1, 3, y_lo * s, out_w), device=dev), 0)
    total = len(ys) * len(xs)
    done = 0
    carry: Tensor | None = None  # float32 rows [carry_y0, band end) from the previous band
    carry_y0 = 0
    for i, sy in enumerate(ys):
        r0 = y_lo + sy.start  # first core row of the band
        band_y0, band_y1 = r0 * s, (r0 + sy.size) * s
        acc = torch.zeros((1, 3, band_y1 - band_y0, out_w), device=dev, dtype=torch.float32)
        if carry is not None:
            acc[:, :, carry_y0 - band_y0 : carry_y0 - band_y0 + carry.shape[-2]] += carry
        wyi = wy[i].view(1, 1, -1, 1)
        for b0 in range(0, len(xs), batch):
            group = xs[b0 : b0 + batch]
            tiles = torch.cat(
                [padded[:, :, r0 : r0 + sy.size + 2 * context, sx.start : sx.start + sx.size + 2 * context] for sx in group]
            )
            try:
                y = _run(descriptor, tiles, s)
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is retried
                if is_out_of_memory(exc):
                    raise _OutOfMemory() from exc
                raise
            y = y[..., context * s : (context + sy.size) * s, context * s : (context + group[0].size) * s]
            for k, sx in enumerate(group):
                contrib = y[k : k + 1] * wyi * wx[b0 + k].view(1, 1, 1, -1)
                x0 = sx.start * s
                x1 = x0 + sx.size * s
                if x1 <= out_w:
                    acc[..., x0:x1] += contrib
                else:  # crosses longitude ±180°
                    split = out_w - x0
                    acc[..., x0:] += contrib[..., :split]
                    acc[..., : x1 - out_w] += contrib[..., split:]
                done += 1
            if progress is not None:
                progress(done, total, "upscale")
        final = (y_lo + ys[i + 1].start) * s if i + 1 < len(ys) else y_hi * s
        emit(acc[:, :, : final - band_y0], band_y0)
        carry, carry_y0 = acc[:, :, final - band_y0 :], final
    if y_hi < h:
        emit(torch.zeros((1, 3, (h - y_hi) * s, out_w), device=dev), y_hi * s)


def upscale_tensor(
    equi: Tensor,
    descriptor: Any,
    scale: int | None = None,
    tile: int | None = None,
    *,
    batch: int | None = None,
    overlap: int = DEFAULT_OVERLAP,
    context: int = DEFAULT_CONTEXT,
    wrap_x: bool = True,
    pole_top: bool = True,
    pole_bottom: bool = True,
    pole_views: bool = True,
    out_dtype: torch.dtype = torch.float32,
    out_device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Upscale an equirect sphere with a spandrel SR model, seamlessly (see the module docstring).

    The model runs where ``descriptor`` is (move it first: ``descriptor.to(device, dtype)``); the
    input moves there too, so ``pano dream --upscale`` never goes through the CPU.

    Args:
        equi: ``(1, 3, H, W)`` float in [0, 1], any device.
        descriptor: a spandrel ``ImageModelDescriptor`` (see :func:`pano.models.sr.load_sr_model`).
        scale: output / input size, at most the model's scale (default the model's). Below it, the
            model's output is downsampled with antialiased bicubic.
        tile: core tile size in input pixels (default from free memory, :func:`auto_tile`).
        batch: tiles per forward pass (default from free memory; 1 on the CPU).
        overlap: input pixels shared by neighbouring tiles (feathered).
        context: input pixels of context around each tile.
        wrap_x: the image spans 360° of longitude (circular padding and tiles).
        pole_top, pole_bottom: the top/bottom row is a pole (pole padding; needs ``wrap_x``).
        pole_views: upscale the polar caps in views straight up/down (see the module docstring); full
            spheres only (``wrap_x``, ``pole_top`` and ``pole_bottom``).
        out_dtype: ``torch.float32`` (or 16) in [0, 1], or ``torch.uint8`` in [0, 255].
        out_device: where the result is allocated (default: the input's device).
        progress: ``progress(done, total, label)``; out-of-memory retries are reported here too.

    Returns:
        ``(1, 3, H*scale, W*scale)`` of ``out_dtype`` on ``out_device``. A uint8 result is stored
        channels-last (``result[0].permute(1, 2, 0).numpy()`` needs no copy).

    Raises:
        InputError: not a ``(1, 3, H, W)`` tensor.
        ModelError: ``scale`` above the model's.
        DeviceError: out of memory even with the smallest tile.
    """
    if equi.dim() != 4 or equi.shape[0] != 1 or equi.shape[1] != 3:
        raise InputError(f"upscale takes a (1, 3, H, W) image, got {tuple(equi.shape)}")
    ms = int(descriptor.scale)
    s = ms if scale is None else int(scale)
    if not 1 <= s <= ms:
        raise ModelError(f"the model upscales x{ms}; scale {s} is not possible: use --scale {ms} or lower, or another --model")
    _, _, h, w = equi.shape
    device = descriptor.device
    dtype = _model_dtype(descriptor)
    if tile is None or batch is None:
        auto_t, auto_b = auto_tile(descriptor, device, dtype, context)
        tile = tile if tile is not None else auto_t
        batch = batch if batch is not None else auto_b
    tile = max(MIN_TILE, int(tile))
    batch = max(1, int(batch))
    out_device = torch.device(out_device) if out_device is not None else equi.device
    if out_dtype == torch.uint8:
        out = torch.empty((h * s, w * s, 3), dtype=torch.uint8, device=out_device).permute(2, 0, 1)[None]
    else:
        out = torch.empty((1, 3, h * s, w * s), dtype=out_dtype, device=out_device)
    while True:
        try:
            _upscale_once(
                equi, descriptor, s, tile, batch, overlap, context, wrap_x, pole_top, pole_bottom, out, progress, pole_views
            )
            return out
        except _OutOfMemory:
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if batch > 1:
                batch //= 2
            elif tile // 2 >= MIN_TILE:
                tile //= 2
            else:
                raise DeviceError(
                    f"out of memory on {device} even with {tile}-pixel tiles: free memory, or use --device cpu"
                ) from None
            if progress is not None:
                progress(0, 0, f"out of memory: retrying with tile {tile}, batch {batch}")


# --------------------------------------------------------------------------------------------
# the filter


class UpscaleFilter:
    """``pano upscale`` as a sphere filter (see :mod:`pano.filters.base`).

    Args:
        model: a registry name, a model file (see :func:`pano.models.sr.load_sr_model`), or ``"auto"``
            (the default): ``realesrgan-x4plus`` on CUDA (the quality choice; target on an H100: a 2048x1024
            sphere in under 3 s, not yet measured), ``realesr-animevideov3`` on the CPU (x4plus needs about 36 MFLOP per
            input pixel: 64x64 in 0.9 s on 2 CPU cores, so about 8 minutes for a 2048x1024 sphere; the compact net
            about 1/30 of that).
        scale: 2, 3 or 4 (at most the model's scale; default the model's).
        tile: core tile size in input pixels (default: from free memory).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
        precision: ``"auto"`` (bf16 on CUDA when supported, else fp32), ``"fp32"``, ``"bf16"``, ``"fp16"``.
        descriptor: an already loaded spandrel descriptor (skips loading ``model``).
        quiet: no download progress bar.
        repair_seam: on images that span 360°, spread a stitching step at ±180° over a narrow band first
            (:func:`pano.sphere.seam.soften_wrap_seam`, as ``pano dream`` does); SR would otherwise sharpen
            it into a visible line. Nothing farther than ``W / 128`` columns from the seam changes.
    """

    def __init__(
        self,
        model: str = "auto",
        scale: int | None = None,
        tile: int | None = None,
        device: str | torch.device = "auto",
        precision: str = "auto",
        *,
        descriptor: Any = None,
        quiet: bool = False,
        repair_seam: bool = True,
        flat: bool = False,
    ) -> None:
        from pano.models.sr import DEFAULT_SR_MODEL, FAST_SR_MODEL, load_sr_model

        self.device = resolve_device(device)
        if str(model) == "auto":
            model = DEFAULT_SR_MODEL if self.device.type == "cuda" else FAST_SR_MODEL
        self.model_name = str(model)
        descriptor = descriptor if descriptor is not None else load_sr_model(model, quiet=quiet)
        dtype = resolve_precision(precision, self.device)  # type: ignore[arg-type]
        if dtype == torch.float16 and not descriptor.supports_half:
            raise DeviceError(f"model {model} does not support fp16: use --precision bf16 or fp32")
        if dtype == torch.bfloat16 and not descriptor.supports_bfloat16:
            if precision == "auto":
                dtype = torch.float32
            else:
                raise DeviceError(f"model {model} does not support bf16: use --precision fp32")
        self.dtype = dtype
        self.descriptor = descriptor.to(self.device).to(dtype).eval()
        if self.device.type == "cuda":
            self.descriptor.model.to(memory_format=torch.channels_last)
        self.model_scale = int(self.descriptor.scale)
        self.scale = self.model_scale if scale is None else int(scale)
        if not 1 <= self.scale <= self.model_scale:
            raise ModelError(
                f"model {model} upscales x{self.model_scale}; --scale {self.scale} is not possible: "
                f"use --scale {self.model_scale} or lower, or an x{self.scale} model"
            )
        self.tile = tile
        self.repair_seam = repair_seam
        self.flat = flat
        self.info = FilterInfo(name="upscale", scale=self.scale, supports_flat=True, takes_extent=True)

    def __call__(
        self,
        equi: Tensor,
        *,
        progress: ProgressFn | None = None,
        extent: Extent | None = None,
        out_dtype: torch.dtype = torch.float32,
        out_device: torch.device | str | None = None,
    ) -> Tensor:
        """Upscale ``(1, 3, H, W)`` -> ``(1, 3, H*scale, W*scale)`` (``out_dtype`` on ``out_device``, default float32
        on ``equi``'s device): a full sphere, a flat photo (``flat``), or a partial panorama's ``extent``."""
        e = extent if extent is not None else FLAT if self.flat else FULL_SPHERE
        return self.upscale(equi, wrap_x=e.wrap_x, pole_top=e.pole_top, pole_bottom=e.pole_bottom,
                            out_dtype=out_dtype, out_device=out_device, progress=progress)

    def upscale(
        self,
        equi: Tensor,
        *,
        wrap_x: bool = True,
        pole_top: bool = True,
        pole_bottom: bool = True,
        out_dtype: torch.dtype = torch.float32,
        out_device: torch.device | str | None = None,
        progress: ProgressFn | None = None,
    ) -> Tensor:
        """:func:`upscale_tensor` with this filter's model, scale and tile; flags for partial panoramas."""
        if wrap_x and self.repair_seam:
            equi = soften_wrap_seam(equi)
        return upscale_tensor(
            equi,
            self.descriptor,
            self.scale,
            self.tile,
            wrap_x=wrap_x,
            pole_top=pole_top,
            pole_bottom=pole_bottom,
            out_dtype=out_dtype,
            out_device=out_device,
            progress=progress,
        )

    def params(self) -> dict[str, Any]:
        """JSON-able parameters that reproduce the result."""
        return {
            "filter": "upscale",
            "model": self.model_name,
            "scale": self.scale,
            "model_scale": self.model_scale,
            "tile": self.tile,
            "precision": str(self.dtype).replace("torch.", ""),
            "overlap": DEFAULT_OVERLAP,
            "context": DEFAULT_CONTEXT,
            "repair_seam": self.repair_seam,
            **({"flat": True} if self.flat else {}),
        }
