"""torchvision nets load from local state dicts with no network; without one, one line says what to fetch where."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision

from pano.errors import ModelError
from pano.models.backbones import load_backbone
from pano.models.registry import BACKBONES, UrlWeights


@pytest.fixture()
def offline_home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("PANO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture(scope="module")
def googlenet_state(tmp_path_factory) -> tuple[Path, torchvision.models.GoogLeNet]:
    torch.manual_seed(1)
    net = torchvision.models.googlenet(weights=None, init_weights=False).eval()  # with aux heads, like the real file
    path = tmp_path_factory.mktemp("tv") / "my_googlenet.pth"
    torch.save(net.state_dict(), path)
    return path, net


def test_googlenet_loads_a_user_state_dict_offline(offline_home: Path, googlenet_state) -> None:
    path, reference = googlenet_state
    backbone = load_backbone("googlenet", weights=path, layers=["inception4c"])
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        ours = backbone.logits(x)
        theirs = reference(backbone.normalize(x))
        act = backbone(x)["inception4c"]
    torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
    assert act.shape == (1, 512, 4, 4)


def test_googlenet_loads_from_the_torch_cache_offline(offline_home: Path, googlenet_state) -> None:
    path, _ = googlenet_state
    spec = BACKBONES["googlenet"]
    assert isinstance(spec.weights, UrlWeights) and spec.weights.url == torchvision.models.GoogLeNet_Weights.IMAGENET1K_V1.url
    offline_home.mkdir(parents=True)
    (offline_home / spec.weights.filename).write_bytes(path.read_bytes())
    assert spec.weights_path() == offline_home / spec.weights.filename
    backbone = load_backbone("googlenet")
    assert backbone.spec.default_layer == "inception4c"


@pytest.mark.parametrize("model_id", ["googlenet", "inception_v3", "vgg16", "vgg19"])
def test_missing_weights_offline_say_which_file_and_where(offline_home: Path, model_id: str) -> None:
    spec = BACKBONES[model_id]
    with pytest.raises(ModelError) as info:
        load_backbone(model_id)
    msg = info.value.format_message()
    assert msg == (
        f"needs {spec.weights.filename} from {spec.weights.url}: no network (PANO_OFFLINE is set); "
        f"download it and put it in {offline_home} (or pass --weights FILE)"
    )


def test_weights_for_another_net_are_refused(offline_home: Path, googlenet_state) -> None:
    path, _ = googlenet_state
    with pytest.raises(ModelError, match="does not fit efficientnet_lite0|does not fit EfficientNet-Lite0"):
        load_backbone("efficientnet_lite0", weights=path)
