"""Pix2Pix U-Net generator (Isola et al. 2017, sec. 3.2.1 and appendix 6.1.1).

Paper (Wei Pu 2025, Pix2Pix section): U-Net "jump connections ... between each i-layer
and n-i-layers", convolution + batch normalisation + ReLU. Encoder C64-C128-C256-C512-
C512-C512-C512-C512 (4x4 convs, stride 2, LeakyReLU 0.2, no norm on the first and the
innermost layer), decoder mirrors it with ReLU and transposed convs on the concatenated
skip features, dropout 0.5 in the three innermost ngf*8 decoder blocks below the
bottleneck (reference ``UnetGenerator(num_downs=8, use_dropout=True)``), tanh output.
``num_downs = 8`` is "unet_256" (54,413,955 parameters at ngf 64 with batch norm; the reference prints 54.414 M); H and W
must be divisible by 2**num_downs.
"""

from __future__ import annotations

import torch
from torch import nn

from stimuli_gen.networks.common import check_input, conv_bias, norm_factory


class UnetBlock(nn.Module):
    """One U-Net level: down(x) -> submodule -> up, concatenated with x (except at the outermost level)."""

    def __init__(self, outer: int, inner: int, norm: str, submodule: nn.Module | None = None,
                 outermost: bool = False, in_channels: int | None = None, out_channels: int | None = None,
                 dropout: bool = False) -> None:
        super().__init__()
        nf, bias = norm_factory(norm), conv_bias(norm)
        in_channels = outer if in_channels is None else in_channels
        self.outermost = outermost
        down_conv = nn.Conv2d(in_channels, inner, 4, stride=2, padding=1, bias=bias)
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(2 * inner, out_channels or outer, 4, stride=2, padding=1),
                  nn.Tanh()]
        elif submodule is None:  # innermost: no norm on the bottleneck
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, stride=2, padding=1, bias=bias), nf(outer)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, nf(inner)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(2 * inner, outer, 4, stride=2, padding=1, bias=bias), nf(outer)]
            if dropout:
                up.append(nn.Dropout(0.5))
        self.down = nn.Sequential(*down)
        self.submodule = submodule if submodule is not None else nn.Identity()
        self.up = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.up(self.submodule(self.down(x)))
        return y if self.outermost else torch.cat([x, y], dim=1)


class UnetGenerator(nn.Module):
    """U-Net with ``num_downs`` down-samplings (8 for 256 px), skip connections and inner dropout."""

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, num_downs: int = 8,
                 norm: str = "batch", dropout: bool = True) -> None:
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"UnetGenerator needs num_downs >= 5, got {num_downs}")
        self.input_nc, self.num_downs = input_nc, num_downs
        block = UnetBlock(ngf * 8, ngf * 8, norm)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, block, dropout=dropout)
        for mult in (4, 2, 1):
            block = UnetBlock(ngf * mult, ngf * mult * 2, norm, block)
        self.model = UnetBlock(output_nc, ngf, norm, block, outermost=True, in_channels=input_nc,
                               out_channels=output_nc)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_nc, 2 ** self.num_downs, "UnetGenerator")
        return self.model(x)
