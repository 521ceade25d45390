"""The pix2pix networks: U-Net depth follows the size, skips and dropout are there, PatchGAN sees 70x70."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pano.models.pix2pix import PatchDiscriminator, UNetGenerator, init_weights, patch_receptive_field, unet_depth


@pytest.mark.parametrize(("size", "depth", "dropouts"), [(64, 6, 1), (128, 7, 2), (256, 8, 3)])
def test_unet_depth_follows_size_and_bottleneck_is_1x1(size: int, depth: int, dropouts: int) -> None:
    assert unet_depth(size) == depth
    g = UNetGenerator(ngf=8, depth=depth).eval()
    x = torch.rand(2, 3, size, size) * 2 - 1
    feats = []
    hook = g.down[-1].register_forward_hook(lambda m, i, o: feats.append(o.shape))
    y = g(x)
    hook.remove()
    assert y.shape == x.shape and y.abs().max() <= 1
    assert feats[0][-2:] == (1, 1)  # the paper's 1x1 bottleneck at the training size
    # the paper's dropout layers: the inner 8*ngf decoder blocks (3 of them at 256 px)
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == dropouts


def test_paper_generator_size() -> None:
    """U-Net 256 with ngf 64 has the 54.4 M parameters of the reference implementation."""
    with torch.device("meta"):  # no memory, no init cost
        g = UNetGenerator(ngf=64, depth=8)
    assert sum(p.numel() for p in g.parameters()) == 54_414_531


def test_skips_carry_detail() -> None:
    """The output depends on the input through the shallow skip: a 1-pixel change moves output pixels near it."""
    torch.manual_seed(0)
    g = init_weights(UNetGenerator(ngf=8, depth=6)).eval()
    x = (torch.rand(1, 3, 64, 64) * 2 - 1).requires_grad_(True)
    g(x)[0, :, 10, 10].sum().backward()
    grad = x.grad[0].abs().sum(0)
    assert grad[8:13, 8:13].sum() > 0
    assert grad[8:13, 8:13].sum() > grad[40:, 40:].sum()


def test_forward_padded_any_size() -> None:
    g = UNetGenerator(ngf=8, depth=6).eval()
    y = g.forward_padded(torch.rand(1, 3, 70, 100) * 2 - 1)
    assert y.shape == (1, 3, 70, 100)


def test_patchgan_receptive_field_is_70() -> None:
    assert patch_receptive_field(3) == 70
    d = PatchDiscriminator(in_channels=6, ndf=8).eval()
    x = torch.zeros(1, 6, 128, 128, requires_grad=True)
    out = d(x)
    assert out.shape == (1, 1, 14, 14)
    out[0, 0, 5, 5].backward()
    rows, cols = x.grad[0].abs().sum(0).nonzero().unbind(1)
    assert int(rows.max() - rows.min()) + 1 == 70
    assert int(cols.max() - cols.min()) + 1 == 70


def test_init_weights_paper_statistics() -> None:
    torch.manual_seed(0)
    g = init_weights(UNetGenerator(ngf=16, depth=6))
    w = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(w.std()) - 0.02) < 0.002 and abs(float(w.mean())) < 0.001


def test_bad_size() -> None:
    with pytest.raises(ValueError, match="power of two"):
        unet_depth(100)
