"""Where a (partial) equirectangular panorama lies on the full sphere, and moving its pixels there and back.

A photosphere file may hold only a crop of the full sphere: ``full_width`` x ``full_height`` is the full
sphere, and the image itself is the ``crop_width`` x ``crop_height`` rectangle whose top-left corner is at
(``crop_left``, ``crop_top``) in it. Full-sphere pixel column 0 is longitude -180°, the centre column
longitude 0 (see :mod:`pano.sphere.convention`); a crop may cross ±180° (``left + width > full_width``),
it then wraps around. The file format that stores it (Google's GPano XMP) is :mod:`pano.io.gpano`.

No torch at import: ``pano info`` and the viewer use :class:`SphereGeometry` without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported where pixels are moved
    import torch

@dataclass(frozen=True)
class SphereGeometry:
    """Where an equirectangular image lies on the full sphere (all sizes in pixels).

    Attributes:
        full_width: Width of the full 360° panorama.
        full_height: Height of the full 180° panorama (about ``full_width / 2``).
        crop_left: Column of the image's left edge in the full panorama.
        crop_top: Row of the image's top edge in the full panorama.
        crop_width: Image width.
        crop_height: Image height.
        projection: GPano ``ProjectionType``; pano processes ``"equirectangular"`` only.
        heading_deg: ``PoseHeadingDegrees`` (compass heading of the image centre), kept, never applied.
        pitch_deg: ``PosePitchDegrees``, kept, never applied.
        roll_deg: ``PoseRollDegrees``, kept, never applied.
        use_panorama_viewer: ``UsePanoramaViewer`` (None when the file did not say).
        initial_heading_deg: ``InitialViewHeadingDegrees``.
        initial_pitch_deg: ``InitialViewPitchDegrees``.
        initial_roll_deg: ``InitialViewRollDegrees``.
        initial_hfov_deg: ``InitialHorizontalFOVDegrees``.
        extra: Other GPano fields as ``(name, value)`` pairs, written back verbatim.
    """

    full_width: int
    full_height: int
    crop_left: int
    crop_top: int
    crop_width: int
    crop_height: int
    projection: str = "equirectangular"
    heading_deg: float | None = None
    pitch_deg: float | None = None
    roll_deg: float | None = None
    use_panorama_viewer: bool | None = None
    initial_heading_deg: float | None = None
    initial_pitch_deg: float | None = None
    initial_roll_deg: float | None = None
    initial_hfov_deg: float | None = None
    extra: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def full_sphere(cls, width: int, height: int) -> SphereGeometry:
        """The geometry of a plain equirectangular image covering the whole sphere.

        Example:
            >>> SphereGeometry.full_sphere(4096, 2048).is_full
            True
        """
        return cls(width, height, 0, 0, width, height, use_panorama_viewer=True)

    @property
    def placement(self) -> tuple[int, int, int, int, int, int]:
        """``(full_width, full_height, crop_left, crop_top, crop_width, crop_height)``."""
        return (self.full_width, self.full_height, self.crop_left, self.crop_top, self.crop_width, self.crop_height)

    @property
    def is_full(self) -> bool:
        """True when the image is the whole sphere (crop == full panorama)."""
        return (
            self.crop_left == 0
            and self.crop_top == 0
            and self.crop_width == self.full_width
            and self.crop_height == self.full_height
        )

    @property
    def wraps(self) -> bool:
        """True when the crop crosses longitude ±180° (its right edge passes the full width)."""
        return self.crop_left + self.crop_width > self.full_width

    @property
    def lon_range_deg(self) -> float:
        """Degrees of longitude the image covers (360 for a full sphere)."""
        return min(360.0, 360.0 * self.crop_width / self.full_width)

    @property
    def lat_range_deg(self) -> float:
        """Degrees of latitude the image covers (180 for a full sphere)."""
        return min(180.0, 180.0 * self.crop_height / self.full_height)

    def lon_lat_bounds_deg(self) -> tuple[float, float, float, float]:
        """``(lon_min, lon_max, lat_min, lat_max)`` of the image's edges in degrees.

        ``lon_min`` is in [-180, 180); ``lon_max = lon_min + lon_range_deg`` may pass 180 when the crop
        wraps around. Latitudes are in [-90, 90], +90 at the top.

        Example:
            >>> SphereGeometry(400, 200, 100, 50, 200, 100).lon_lat_bounds_deg()
            (-90.0, 90.0, -45.0, 45.0)
        """
        lon_min = (self.crop_left % self.full_width) / self.full_width * 360.0 - 180.0
        lat_max = 90.0 - self.crop_top / self.full_height * 180.0
        return (lon_min, lon_min + self.lon_range_deg, lat_max - self.lat_range_deg, lat_max)

    def scaled(self, factor: float) -> SphereGeometry:
        """The same geometry for the image resized by ``factor`` (all pixel fields rounded).

        Example:
            >>> SphereGeometry(400, 200, 100, 50, 200, 100).scaled(2).crop_left
            200
        """
        if factor <= 0 or not math.isfinite(factor):
            raise ValueError(f"scale factor must be positive, got {factor}")
        return replace(
            self,
            full_width=max(1, round(self.full_width * factor)),
            full_height=max(1, round(self.full_height * factor)),
            crop_left=round(self.crop_left * factor),
            crop_top=round(self.crop_top * factor),
            crop_width=max(1, round(self.crop_width * factor)),
            crop_height=max(1, round(self.crop_height * factor)),
        )

    def fitted(self, width: int, height: int) -> SphereGeometry | None:
        """This geometry for an image of ``width`` x ``height`` (e.g. decoded at reduced size, or
        resized after the XMP was written), or None when the aspect ratios disagree (> 2 %)."""
        if (width, height) == (self.crop_width, self.crop_height):
            return self
        fx, fy = width / self.crop_width, height / self.crop_height
        if abs(fx - fy) > 0.02 * max(fx, fy) + 1.0 / min(self.crop_width, self.crop_height):
            return None
        g = self.scaled(fx)
        # keep it full when it was full, and the crop exactly the image size
        if self.is_full:
            return replace(g, full_width=width, full_height=height, crop_left=0, crop_top=0,
                           crop_width=width, crop_height=height)
        g = replace(g, crop_width=width, crop_height=height)
        if self.crop_width == self.full_width:  # 360° strip: stays exactly 360°
            g = replace(g, full_width=width, crop_left=0)
        if self.crop_height == self.full_height:
            g = replace(g, full_height=height, crop_top=0)
        return g

    def to_dict(self) -> dict[str, object]:
        """JSON-able dict of every field plus the derived ones (``is_full``, ranges, bounds)."""
        d: dict[str, object] = {k: getattr(self, k) for k in self.__dataclass_fields__ if k != "extra"}
        d["extra"] = dict(self.extra)
        d["is_full"] = self.is_full
        d["lon_range_deg"] = self.lon_range_deg
        d["lat_range_deg"] = self.lat_range_deg
        d["lon_lat_bounds_deg"] = list(self.lon_lat_bounds_deg())
        return d



#: Below this height an image is 2:1 only when exactly so (a 1x1 or 3x1 image is no sphere).
_SMALL_SPHERE_HEIGHT = 8


def is_two_to_one(width: float, height: float) -> bool:
    """True when ``width`` is twice ``height`` within a tolerance that scales with the size: 1 px or
    0.5 % of the width, whichever is larger; exactly 2:1 below 8 px of height.

    Example:
        >>> is_two_to_one(4097, 2048), is_two_to_one(1, 1), is_two_to_one(4, 2), is_two_to_one(100, 48)
        (True, False, True, False)
    """
    if height < _SMALL_SPHERE_HEIGHT:
        return height >= 1 and width == 2 * height
    return abs(width - 2 * height) <= max(1.0, 0.005 * width)



Fill = Literal["edge", "mean"]


def _lerp_axis(x: torch.Tensor, pos: torch.Tensor, dim: int, wrap: bool) -> torch.Tensor:
    """Linear interpolation of ``x`` along ``dim`` at centre-indexed positions ``pos`` (1-D).

    Positions outside [0, n-1] are clamped (edge extension), or wrapped when ``wrap``.
    """
    import torch

    n = x.shape[dim]
    i0 = torch.floor(pos)
    w = (pos - i0).to(x.dtype)
    i0 = i0.long()
    i1 = i0 + 1
    if wrap:
        i0, i1 = i0 % n, i1 % n
    else:
        i0, i1 = i0.clamp(0, n - 1), i1.clamp(0, n - 1)
    shape = [1] * x.dim()
    shape[dim] = -1
    a = x.index_select(dim, i0.to(x.device))
    return a.lerp_(x.index_select(dim, i1.to(x.device)), w.to(x.device).view(shape))  # in place: one less copy


def _antialias_down(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize down (per axis, only where the target is smaller) with an antialiasing filter."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    th, tw = min(h, max(1, height)), min(w, max(1, width))
    if (th, tw) == (h, w):
        return x
    dtype = x.dtype
    y = F.interpolate(x.float() if dtype in (torch.float16, torch.bfloat16) else x,
                      size=(th, tw), mode="bilinear", antialias=True, align_corners=False)
    return y.to(dtype)


def working_full_size(geometry: SphereGeometry, full_width: int | None = None) -> tuple[int, int]:
    """``(height, width)`` of the full-sphere equirect :func:`place_on_sphere` makes: W even, W = 2H."""
    fw = geometry.full_width if full_width is None else int(full_width)
    fw = max(2, 2 * round(fw / 2))
    return fw // 2, fw


def place_on_sphere(
    pixels: torch.Tensor,
    geometry: SphereGeometry,
    full_width: int | None = None,
    fill: Fill = "edge",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Put a (partial) panorama at its true position on the full sphere.

    Args:
        pixels: The image, ``(1, C, h, w)`` float; ``(h, w)`` need not equal the geometry's crop
            size (a reduced decode is resampled to it).
        geometry: Where the image lies on the sphere.
        full_width: Width of the full equirect to make (default: the geometry's full width). Use a
            working width (e.g. 4096) to save memory; the crop is resampled, with antialiasing when
            it shrinks. Rounded to even; the height is half of it (pano's W = 2H convention).
        fill: What goes where the image does not reach: ``"edge"`` extends the nearest image edge
            (no hard border for a filter to react to; the default), ``"mean"`` the image's mean
            colour.

    Returns:
        ``(equirect, mask)``: ``(1, C, FH, FW)`` and ``(1, 1, FH, FW)``, mask 1 where a pixel centre
        lies inside the image, 0 elsewhere. Same device and dtype as ``pixels``. A crop crossing
        ±180° wraps around.

    Example:
        >>> import torch
        >>> g = SphereGeometry(400, 200, 350, 50, 100, 100)   # wraps: lon 135°..225°
        >>> eq, m = place_on_sphere(torch.rand(1, 3, 100, 100), g, full_width=40)
        >>> eq.shape, int(m.sum())
        (torch.Size([1, 3, 20, 40]), 100)
    """
    import torch

    if pixels.dim() != 4:
        raise ValueError(f"pixels must be (1, C, h, w), got {tuple(pixels.shape)}")
    g = geometry
    FH, FW = working_full_size(g, full_width)
    sx, sy = FW / g.full_width, FH / g.full_height  # full-sphere source px -> working px
    # shrink the crop first (antialias) when the working sphere samples it more coarsely
    src = _antialias_down(pixels, math.ceil(g.crop_height * sy), math.ceil(g.crop_width * sx))
    sh, sw = src.shape[-2:]
    dev = pixels.device
    # working pixel centre -> edge coordinate in full-sphere source px -> crop-relative fraction
    u = (torch.arange(FW, dtype=torch.float64) + 0.5) / sx
    a = torch.remainder(u - g.crop_left, g.full_width)  # [0, full_width): wraps around ±180°
    inside_x = a < g.crop_width
    # outside: clamp to the nearer crop edge (going around the sphere)
    gap = g.full_width - g.crop_width
    a = torch.where(inside_x, a, torch.where(a - g.crop_width < gap / 2, torch.full_like(a, g.crop_width),
                                              torch.zeros_like(a)))
    v = (torch.arange(FH, dtype=torch.float64) + 0.5) / sy - g.crop_top
    inside_y = (v >= 0) & (v < g.crop_height)
    # crop fraction -> centre index in src
    px = (a / g.crop_width * sw - 0.5).clamp(0, sw - 1)
    py = (v / g.crop_height * sh - 0.5).clamp(0, sh - 1)
    out = _lerp_axis(src, py.float(), dim=2, wrap=False)
    out = _lerp_axis(out, px.float(), dim=3, wrap=False)
    mask = (inside_y.view(-1, 1) & inside_x.view(1, -1)).to(device=dev, dtype=pixels.dtype)[None, None]
    if fill == "mean":
        mean = pixels.mean(dim=(2, 3), keepdim=True)
        out = out * mask + mean * (1 - mask)
    elif fill != "edge":
        raise ValueError(f"fill must be 'edge' or 'mean', got {fill!r}")
    return out, mask


def crop_from_sphere(
    equirect: torch.Tensor,
    geometry: SphereGeometry,
    out_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Cut a (partial) panorama back out of a full-sphere equirect: the inverse of :func:`place_on_sphere`.

    Args:
        equirect: ``(1, C, FH, FW)`` full sphere of any size (e.g. the working size, or 4x it after
            upscaling).
        geometry: The crop to cut (its position on the sphere).
        out_size: ``(h, w)`` of the result; default the geometry's crop size.

    Returns:
        ``(1, C, h, w)``, resampled bilinearly with wrap-around at ±180°, antialiased where the
        equirect is denser than the output.
    """
    import torch

    if equirect.dim() != 4:
        raise ValueError(f"equirect must be (1, C, H, W), got {tuple(equirect.shape)}")
    g = geometry
    h, w = out_size if out_size is not None else (g.crop_height, g.crop_width)
    FH, FW = equirect.shape[-2:]
    # equirect px per output px along each axis; shrink the sphere first where it is > 1
    dx = g.crop_width / w * FW / g.full_width
    dy = g.crop_height / h * FH / g.full_height
    from pano.sphere.resize import resize_equirect

    eh, ew = min(FH, math.ceil(FH / max(dy, 1.0))), min(FW, math.ceil(FW / max(dx, 1.0)))
    eq = resize_equirect(equirect.float() if equirect.dtype in (torch.float16, torch.bfloat16) else equirect, (eh, ew),
                         mode="bilinear").to(equirect.dtype)  # antialiased, wrapping at ±180° and across the poles
    EH, EW = eq.shape[-2:]
    sx, sy = EW / g.full_width, EH / g.full_height
    u = g.crop_left + (torch.arange(w, dtype=torch.float64) + 0.5) * g.crop_width / w  # source edge coords
    v = g.crop_top + (torch.arange(h, dtype=torch.float64) + 0.5) * g.crop_height / h
    px = torch.remainder(u * sx - 0.5, EW)
    py = (v * sy - 0.5).clamp(0, EH - 1)
    out = _lerp_axis(eq, py.float(), dim=2, wrap=False)
    return _lerp_axis(out, px.float(), dim=3, wrap=True)
