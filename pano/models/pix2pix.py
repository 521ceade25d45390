"""pix2pix networks: a U-Net generator with skip connections and dropout, and a PatchGAN discriminator.

Follows Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks" (2017),
and the layout of its reference implementation:

- :class:`UNetGenerator`: ``depth`` stride-2 4x4 convolutions down (C64-C128-C256-C512-C512-...,
  LeakyReLU 0.2, batch norm except on the first and the innermost layer), the mirror of that up
  with transposed convolutions (ReLU, batch norm), each decoder layer fed the concatenation of the
  layer below and the encoder layer of the same size (the skips), dropout 0.5 in the decoder
  layers that sit between 512-channel layers, and ``tanh`` at the end. For 256 px the paper uses 8
  downs (the bottleneck is 1x1); :func:`unet_depth` makes the depth follow the training size, so
  64 px (6 downs) and 128 px (7 downs) models have the same structure.
- :class:`PatchDiscriminator`: the 70x70 PatchGAN (``n_layers=3``): C64-C128-C256-C512 then a
  1-channel convolution, giving one real/fake logit per 70x70 patch of the (condition, image) pair.

Both take and return tensors in ``[-1, 1]``; :func:`init_weights` applies the paper's
N(0, 0.02) initialisation. The generator accepts any ``H, W`` divisible by ``2**depth``
(:meth:`UNetGenerator.forward_padded` pads to that and crops back).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "PatchDiscriminator",
    "UNetGenerator",
    "init_weights",
    "patch_receptive_field",
    "unet_depth",
]


def unet_depth(size: int, max_depth: int = 8) -> int:
    """The number of U-Net downsamplings for square training crops of ``size`` pixels.

    ``log2(size)`` (the bottleneck is 1x1, as in the paper's 256 px / 8-down generator), capped at
    ``max_depth``.

    Args:
        size: Training crop side in pixels; a power of two, at least 16.
        max_depth: Upper bound on the depth (8 = the paper's 256 px generator).

    Returns:
        The depth, e.g. 6 for 64 px, 7 for 128 px, 8 for 256 px and larger.

    Raises:
        ValueError: ``size`` is not a power of two >= 16.

    Example:
        >>> unet_depth(64), unet_depth(256), unet_depth(512)
        (6, 8, 8)
    """
    if size < 16 or size & (size - 1):
        raise ValueError(f"size must be a power of two >= 16, got {size}")
    return min(int(math.log2(size)), max_depth)


class UNetGenerator(nn.Module):
    """The pix2pix U-Net generator ("U-Net 256" of the paper for ``depth=8``).

    Args:
        in_channels: Channels of the condition image.
        out_channels: Channels of the generated image.
        ngf: Filters of the first layer (64 in the paper); layers double up to ``8 * ngf``.
        depth: Number of stride-2 downsamplings (see :func:`unet_depth`).
        dropout: Dropout probability in the inner 512-channel decoder layers (0.5 in the paper).

    Shape:
        - Input: ``(B, in_channels, H, W)`` in ``[-1, 1]``, ``H`` and ``W`` divisible by ``2**depth``.
        - Output: ``(B, out_channels, H, W)`` in ``[-1, 1]``.
    """

    def __init__(
        self, in_channels: int = 3, out_channels: int = 3, ngf: int = 64, depth: int = 8, dropout: float = 0.5
    ) -> None:
        super().__init__()
        if depth < 2:
            raise ValueError(f"depth must be >= 2, got {depth}")
        self.depth = depth
        ch = [ngf * min(2**i, 8) for i in range(depth)]  # channels of encoder output i
        self.down = nn.ModuleList()
        for i in range(depth):
            if i == 0:
                self.down.append(nn.Conv2d(in_channels, ch[0], 4, 2, 1))
            elif i == depth - 1:  # innermost: no norm (its output is 1x1 at the training size)
                self.down.append(nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1)))
            else:
                self.down.append(
                    nn.Sequential(
                        nn.LeakyReLU(0.2), nn.Conv2d(ch[i - 1], ch[i], 4, 2, 1, bias=False), nn.BatchNorm2d(ch[i])
                    )
                )
        self.up = nn.ModuleList()
        for i in range(depth):  # up[i] produces the tensor of encoder level i-1's size
            if i == 0:
                self.up.append(nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * ch[0], out_channels, 4, 2, 1), nn.Tanh()))
                continue
            c_in = ch[i] if i == depth - 1 else 2 * ch[i]
            layers: list[nn.Module] = [
                nn.ReLU(),
                nn.ConvTranspose2d(c_in, ch[i - 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(ch[i - 1]),
            ]
            if dropout > 0 and i < depth - 1 and ch[i - 1] == 8 * ngf:
                layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (``2**depth``)."""
        return 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for layer in self.down:
            x = layer(x)
            skips.append(x)
        y = self.up[-1](skips[-1])
        for i in range(self.depth - 2, -1, -1):
            y = self.up[i](torch.cat([skips[i], y], dim=1))
        return y

    def forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on any size: reflect-pads ``H, W`` up to a multiple of ``2**depth``, crops back."""
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph == 0 and pw == 0:
            return self(x)
        mode = "reflect" if ph < h and pw < w else "replicate"
        xp = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode=mode)
        return self(xp)[..., ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]


class PatchDiscriminator(nn.Module):
    """The PatchGAN discriminator: one real/fake logit per overlapping patch.

    With ``n_layers=3`` each output logit sees a 70x70 patch (see :func:`patch_receptive_field`).

    Args:
        in_channels: Channels of the input; for pix2pix the condition and the image concatenated (6).
        ndf: Filters of the first layer (64 in the paper).
        n_layers: Number of stride-2 layers after the first (3 = the 70x70 PatchGAN).

    Shape:
        - Input: ``(B, in_channels, H, W)`` in ``[-1, 1]``.
        - Output: ``(B, 1, H', W')`` logits (``H' = H/8 - 2`` for ``n_layers=3``).
    """

    def __init__(self, in_channels: int = 6, ndf: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, 2, 1), nn.LeakyReLU(0.2)]
        c = ndf
        for n in range(1, n_layers + 1):
            c_out = ndf * min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(c, c_out, 4, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c = c_out
        layers.append(nn.Conv2d(c, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)
        self.n_layers = n_layers

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def patch_receptive_field(n_layers: int = 3) -> int:
    """The side in pixels of the patch each :class:`PatchDiscriminator` logit sees.

    Example:
        >>> patch_receptive_field(3)
        70
    """
    # layers from the output back: final conv (k4 s1), the stride-1 layer, then n_layers stride-2 ones
    strides = [2] * n_layers + [1, 1]
    rf = 1
    for s in reversed(strides):
        rf = (rf - 1) * s + 4
    return rf


def init_weights(module: nn.Module, std: float = 0.02) -> nn.Module:
    """The paper's initialisation: conv weights ~ N(0, std), norm weights ~ N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
    return module
