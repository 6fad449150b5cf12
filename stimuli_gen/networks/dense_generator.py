"""Generator F (art -> photo): the CycleGAN encoder/decoder around dense blocks.

Paper (Wei Pu 2025, sec. "Asymmetric loop consistency structure"): "Generator F is a
dense block-based structure"; "replacing the residual blocks in the conversion module
with dense blocks can effectively improve the characterization ability of the
generator", so that F "has stronger feature characterization capability than
Generator G". The paper gives no sizes; our documented choice:

* dense blocks after Huang et al. (2017), "Densely connected convolutional networks"
  (CVPR), DenseNet-BC: each layer is norm-ReLU-conv1x1(4k)-norm-ReLU-conv3x3(k) and its
  k output maps are concatenated to its input (sec. 3, "Dense connectivity",
  "Bottleneck layers", bottleneck width 4k);
* each block is followed by a transition layer norm-ReLU-conv1x1 that compresses the
  C + L k channels back to C = 4 ngf (sec. 3 "Compression"), *without* the 2x2 average
  pooling, because the decoder needs the encoder's resolution;
* defaults: 3 blocks x 6 layers (DenseNet-121's first block has 6 layers), growth rate
  k = 2 ngf = 128 at ngf = 64. Then F's transformation module has about 1.6x the
  parameters of G's 9 residual blocks (F: 17,480,707 vs G: 11,378,179 parameters in total at
  ngf = 64), i.e. clearly more capacity, at a comparable depth (3 x (2 x 6 + 1) = 39
  convs against G's 18). The test pins F > G for both the default and tiny sizes.
"""

from __future__ import annotations

import torch
from torch import nn

from stimuli_gen.networks.common import check_input, conv_bias, decoder, encoder, norm_factory


class DenseLayer(nn.Module):
    """norm-ReLU-conv1x1(4k)-norm-ReLU-conv3x3(k); returns cat(x, new k maps)."""

    def __init__(self, in_channels: int, growth: int, norm: str) -> None:
        super().__init__()
        nf, bias = norm_factory(norm), conv_bias(norm)
        self.body = nn.Sequential(
            nf(in_channels), nn.ReLU(True), nn.Conv2d(in_channels, 4 * growth, 1, bias=bias),
            nf(4 * growth), nn.ReLU(True), nn.ReflectionPad2d(1), nn.Conv2d(4 * growth, growth, 3, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, self.body(x)], dim=1)


class DenseBlock(nn.Module):
    """``n_layers`` densely connected layers followed by a compressing transition layer (C + L k -> C)."""

    def __init__(self, channels: int, n_layers: int, growth: int, norm: str) -> None:
        super().__init__()
        nf, bias = norm_factory(norm), conv_bias(norm)
        self.layers = nn.Sequential(*[DenseLayer(channels + i * growth, growth, norm) for i in range(n_layers)])
        wide = channels + n_layers * growth
        self.transition = nn.Sequential(nf(wide), nn.ReLU(True), nn.Conv2d(wide, channels, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transition(self.layers(x))


class DenseGenerator(nn.Module):
    """Encoder (as G) -> ``n_blocks`` dense blocks with transitions -> decoder (as G).

    Parameters
    ----------
    input_nc, output_nc, ngf, norm
        As :class:`~stimuli_gen.networks.resnet_generator.ResnetGenerator`.
    n_blocks : int
        Dense blocks (default 3, our choice; see module docstring).
    n_layers : int
        Layers per dense block (default 6).
    growth : int
        Growth rate k (default 2 ngf = 128).
    """

    def __init__(self, input_nc: int = 3, output_nc: int = 3, ngf: int = 64, n_blocks: int = 3,
                 n_layers: int = 6, growth: int = 128, norm: str = "instance") -> None:
        super().__init__()
        self.input_nc = input_nc
        self.encoder = encoder(input_nc, ngf, norm)
        self.transform = nn.Sequential(*[DenseBlock(4 * ngf, n_layers, growth, norm) for _ in range(n_blocks)])
        self.decoder = decoder(ngf, output_nc, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.input_nc, 4, "DenseGenerator")
        return self.decoder(self.transform(self.encoder(x)))
