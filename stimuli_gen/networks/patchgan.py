"""The 70x70 PatchGAN discriminator (Isola et al. 2017, sec. 3.2.2 and appendix 6.1.2).

Paper (Wei Pu 2025): "we use a 70x70 PatchGAN as the discriminator". Layout C64-C128-
C256-C512 then a 1-channel conv: 4x4 convs, stride 2 for the first three, stride 1 for
the last two, no norm on the first layer, LeakyReLU(0.2), no sigmoid (the loss applies
it: LSGAN uses raw scores, the vanilla GAN loss uses BCE-with-logits). With ndf = 64 it
has 2,764,737 parameters for 3 input channels (reference ``NLayerDiscriminator``). The
conditional Pix2Pix discriminator is the same network on cat(A, B) (6 channels).
"""

from __future__ import annotations

import torch
from torch import nn

from stimuli_gen.networks.common import conv_bias, norm_factory


class PatchDiscriminator(nn.Module):
    """PatchGAN with ``n_layers`` stride-2 stages (3 -> 70x70 receptive field); outputs N x 1 x h x w scores."""

    def __init__(self, input_nc: int = 3, ndf: int = 64, n_layers: int = 3, norm: str = "instance") -> None:
        super().__init__()
        nf, bias = norm_factory(norm), conv_bias(norm)
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2 ** n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=bias),
                       nf(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        self.input_nc = input_nc

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != self.input_nc:
            raise ValueError(f"PatchDiscriminator expects N x {self.input_nc} x H x W, got {tuple(x.shape)}")
        return self.model(x)
