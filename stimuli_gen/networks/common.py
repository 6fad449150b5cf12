"""Shared building blocks: normalisation layers, weight init, CycleGAN encoder/decoder.

Sources: Zhu et al. (2017), CycleGAN, appendix 7.2 ("c7s1-64, d128, d256, R256 x 9,
u128, u64, c7s1-3"), and the reference code junyanz/pytorch-CycleGAN-and-pix2pix
(``models/networks.py``: ``get_norm_layer``, ``init_weights``, ``ResnetGenerator``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

NormFactory = Callable[[int], nn.Module]


def norm_factory(norm: str) -> NormFactory:
    """Return a constructor ``f(channels) -> nn.Module`` for ``norm``.

    ``"instance"``: InstanceNorm2d without affine parameters or running statistics (the
    reference CycleGAN default, after Ulyanov et al. 2016); ``"batch"``: BatchNorm2d with
    affine parameters and running statistics (the reference Pix2Pix default);
    ``"none"``: identity.
    """
    if norm == "instance":
        return lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)
    if norm == "batch":
        return lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)
    if norm == "none":
        return lambda c: nn.Identity()
    raise ValueError(f"unknown norm {norm!r}; expected instance, batch or none")


def conv_bias(norm: str) -> bool:
    """Convs carry a bias unless followed by BatchNorm, whose shift makes it redundant (reference ``use_bias``)."""
    return norm != "batch"


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Initialise conv/linear weights ~ N(0, gain) and biases to 0; BatchNorm weights ~ N(1, gain).

    CycleGAN paper sec. 4 and Pix2Pix paper sec. 3.3 / reference ``init_type='normal'``,
    ``init_gain=0.02``.
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net


def encoder(input_nc: int, ngf: int, norm: str) -> nn.Sequential:
    """c7s1-ngf, d(2 ngf), d(4 ngf): reflection pad + 7x7 conv, then two stride-2 3x3 convs."""
    nf, bias = norm_factory(norm), conv_bias(norm)
    layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, bias=bias), nf(ngf), nn.ReLU(True)]
    for i in range(2):
        c = ngf * 2 ** i
        layers += [nn.Conv2d(c, 2 * c, 3, stride=2, padding=1, bias=bias), nf(2 * c), nn.ReLU(True)]
    return nn.Sequential(*layers)


def decoder(ngf: int, output_nc: int, norm: str) -> nn.Sequential:
    """u(2 ngf), u(ngf), c7s1-output_nc: two stride-1/2 transposed convs, 7x7 conv, tanh."""
    nf, bias = norm_factory(norm), conv_bias(norm)
    layers: list[nn.Module] = []
    for i in (2, 1):
        c = ngf * 2 ** i
        layers += [nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1, bias=bias),
                   nf(c // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def check_input(x: torch.Tensor, channels: int, multiple: int, name: str) -> None:
    """Raise a clear ValueError for a wrongly shaped NCHW input."""
    if x.dim() != 4 or x.shape[1] != channels:
        raise ValueError(f"{name} expects an N x {channels} x H x W tensor, got shape {tuple(x.shape)}")
    if x.shape[2] % multiple or x.shape[3] % multiple:
        raise ValueError(f"{name} needs H and W divisible by {multiple}, got {tuple(x.shape[2:])}")
