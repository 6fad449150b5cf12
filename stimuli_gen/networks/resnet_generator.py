"""Generator G (photo -> art): the CycleGAN ResNet generator.

Paper (Wei Pu 2025, sec. "Asymmetric loop consistency structure"): "Generator G is a
residual block-based structure"; CycleGAN generator "two convolutional layers with a
step size of 2, ... two transposed convolutional layers ..., 9 residual blocks ...,
instance regularization". Layout after Zhu et al. (2017) appendix 7.2 and Johnson et
al. (2016): c7s1-64, d128, d256, 9 x R256 (reflection padding), u128, u64, c7s1-3, tanh.
With ngf = 64 and 9 blocks it has 11,378,179 parameters, like the reference
``ResnetGenerator`` (the test pins this number).
"""

from __future__ import annotations

import torch
from torch import nn

from stimuli_gen.networks.common import check_input, conv_bias, decoder, encoder, norm_factory


class ResidualBlock(nn.Module):
    """x + [pad, conv3x3, norm, ReLU, pad, conv3x3, norm](x) with reflection padding (He et al. 2016)."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        nf, bias = norm_factory(norm), conv_bias(norm)
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), nf(channels), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3, bias=bias), nf(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResnetGenerator(nn.Module):
    """CycleGAN ResNet generator mapping N x input_nc x H x W in [-1, 1] to [-1, 1].

    Parameters
    ----------
    input_nc, output_nc : int
        Channels in and out (3 for RGB).
    ngf : int
        Width of the first layer (reference default 64).
    n_blocks : int
        Residual blocks in the transformation module (9 for 256 px; CycleGAN paper).
    norm : str
        ``"instance"`` (default, CycleGAN paper sec. 4), ``"batch"`` or ``"none"``.
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 9,
                 norm: str = "instance") -> None:
        super().__init__()
        self.input_nc = input_nc
        self.encoder = encoder(input_nc, ngf, norm)
        self.transform = nn.Sequential(*[ResidualBlock(4 * ngf, norm) for _ in range(n_blocks)])
        self.decoder = decoder(ngf, output_nc, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_nc, 4, "ResnetGenerator")
        return self.decoder(self.transform(self.encoder(x)))
