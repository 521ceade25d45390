"""The settings of each filter: plain, frozen, picklable dataclasses with a ``kind``, and nothing else.

:func:`pano.filters.factory.build_filter` turns one into a filter on a device; a settings object travels to a
Ray worker or a fresh process as it is (it holds paths, never tensors or models). The command-line options
of ``pano dream``/``upscale``/``beauty apply`` and the filter options of ``pano video`` are these fields
(``tests/filters/test_contract.py`` checks each command against them). Importing this module loads no torch.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, ClassVar, Literal

from pano.errors import InputError

Orientation = Literal["any", "upright"]


@dataclass(frozen=True)
class DreamSettings:
    """Everything that determines a dream (saved with the output so it can be reproduced)."""

    kind: ClassVar[str] = "dream"

    model: str = "efficientnet_lite0"
    layer: str | None = None  # None: the model's default dreaming layer
    channels: tuple[int, ...] | None = None
    size: int = 1024  # working resolution: longest side of the equirect, px (pano dream: default_working_size)
    # the classic notebook's strength: 4 octaves of 1.4x, 10 steps each of 1.5/255 after dividing the gradient
    # by its mean absolute value (deepdream.ipynb, Mordvintsev et al. 2015)
    octaves: int = 4
    octave_scale: float = 1.4
    steps: int = 10  # per octave
    step_size: float = 1.5 / 255  # in [0, 1] image units, after normalising the gradient
    fov_deg: float = 110.0  # field of view of each network view
    view_margin: float = 0.2  # feathered border of each view (fraction of its half-size)
    orientation: Orientation = "any"  # random rotations: any rotation, or upright views with random yaw
    blend: float = 0.0  # 0 = all dream, 1 = the original
    repair_seam: bool = True  # spread a stitching step at ±180° in the input before dreaming
    seed: int = 0
    flat: bool = False  # an ordinary photo: classic DeepDream with tiles and random-shift jitter
    tile: int = 512  # flat mode: tile size; both modes: largest view side before views are split
    batch: int = 0  # views per network call (0 = auto: all at once on a GPU; on a CPU about 250k pixels per
    # call, where larger batches overflow the caches: 466-px views ran 2.6x faster one by one, while small
    # views need batching against per-call overhead); halved on out-of-memory
    guide: str | None = None  # path of the guide image: dream towards its patterns
    mask: str | None = None  # path of the mask image: dream only where it is white
    weights: str | None = None  # a state dict file for the model (None: the model's own weights)
    precision: str = "auto"  # auto (bf16 on CUDA), fp32, bf16, fp16

    def with_preset(self, name: str) -> "DreamSettings":
        if name not in PRESETS:
            raise InputError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
        return replace(self, **PRESETS[name])


# Named for what they look like. A preset's layer applies to models that have it (EfficientNet-Lite's stageN).
PRESETS: dict[str, dict[str, Any]] = {
    "classic": {},  # the defaults: the classic notebook's strength on the model's default layer
    "subtle": {"step_size": 0.75 / 255},  # half of it: motifs just surfacing
    "intense": {"layer": "stage4", "step_size": 0.02},  # pano's look before 0.x: an even neon pattern
    "wild": {"layer": "stage4", "steps": 16, "step_size": 0.03, "octaves": 5},  # the scene dissolves
    "fine": {"octaves": 2, "steps": 12, "step_size": 0.01},  # small motifs only, no large ones
    "quick": {"size": 512, "octaves": 3, "steps": 6, "step_size": 0.01},  # a fast look at the idea
}


def dream_settings(preset: str = "classic", **options: Any) -> DreamSettings:
    """:class:`DreamSettings` of ``preset`` with ``options`` (field names) over it. A preset's layer is kept
    only where the model has it (an explicit ``layer`` is always kept, and checked when the model loads)."""
    if options.get("model") is None:  # None: the default model
        options.pop("model", None)
    settings = replace(DreamSettings().with_preset(preset), **_known(DreamSettings, "dream", options))
    if "layer" not in options and settings.layer is not None:
        from pano.models.registry import get_spec  # noqa: PLC0415 - torch loads here

        if settings.layer not in get_spec(settings.model).layers:
            settings = replace(settings, layer=None)
    return settings


@dataclass(frozen=True)
class UpscaleSettings:
    """``pano upscale``: a Real-ESRGAN-class model, seamless on the sphere."""

    kind: ClassVar[str] = "upscale"

    model: str = "auto"  # auto: realesrgan-x4plus on CUDA, realesr-animevideov3 on the CPU; a name or a file
    scale: int | None = None  # 2, 3 or 4 (default: the model's)
    tile: int | None = None  # core tile in input px (default: from free memory)
    precision: str = "auto"
    repair_seam: bool = True  # spread a stitching step at ±180° first
    flat: bool = False  # an ordinary photo: no wrap-around, no pole padding


@dataclass(frozen=True)
class BeautySettings:
    """``pano beauty apply``: a trained pix2pix model repaints the sphere in views."""

    kind: ClassVar[str] = "beauty"

    model: str | None = None  # the trained model file (.safetensors), required
    view_size: int | None = None  # default: the training size
    flat: bool = False
    precision: str = "auto"
    batch: int = 8  # views per generator call
    context: float = 0.25  # reflected border around each view's condition, fraction of the view


@dataclass(frozen=True)
class MirageFilterSettings:
    """``pano mirage`` as a filter: the classifier (``model``, ``weights``, ``labels``), the precision and the
    mirage's own :class:`pano.filters.mirage.MirageSettings` fields (``options``, as name/value pairs, so this
    module need not import the mirage)."""

    kind: ClassVar[str] = "mirage"

    model: str = "efficientnet_lite0"
    weights: str | None = None
    labels: str | None = None
    precision: str = "auto"
    options: tuple[tuple[str, Any], ...] = ()  # MirageSettings fields: (("steps", 20), ("seed", 3), ...)


FilterSettings = DreamSettings | UpscaleSettings | BeautySettings | MirageFilterSettings

#: Every registered filter, by kind.
SETTINGS: dict[str, type] = {cls.kind: cls for cls in (DreamSettings, UpscaleSettings, BeautySettings, MirageFilterSettings)}


def _known(cls: type, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise InputError(f"unknown {kind} option {unknown[0]!r}: see pano {kind} --help")
    return options


def settings_for(kind: str, **options: Any) -> FilterSettings:
    """The settings of filter ``kind`` from keyword options named as its fields (dream: plus ``preset``;
    mirage: any :class:`MirageSettings` field, ``style_layers`` may be comma-separated). Unknown kinds and
    options are a one-line :class:`InputError`."""
    if kind not in SETTINGS:
        raise InputError(f"unknown filter {kind!r}: use one of {', '.join(SETTINGS)}")
    if kind == "dream":
        return dream_settings(**options)
    if kind == "mirage":
        top = {k: options.pop(k) for k in ("model", "weights", "labels", "precision") if options.get(k) is not None}
        from pano.filters.mirage import MirageSettings  # noqa: PLC0415 - torch loads here

        _known(MirageSettings, kind, options)
        if isinstance(options.get("style_layers"), str):
            options["style_layers"] = tuple(options["style_layers"].split(","))
        return MirageFilterSettings(**top, options=tuple(sorted(options.items())))
    return SETTINGS[kind](**_known(SETTINGS[kind], kind, options))
