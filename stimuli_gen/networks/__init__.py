"""Networks of the asymmetric CycleGAN (Wei Pu 2025) and the Pix2Pix baseline (torch only, no torchvision).

* :class:`ResnetGenerator` -- G, photo -> art (CycleGAN ResNet generator, 9 residual blocks)
* :class:`DenseGenerator` -- F, art -> photo (same encoder/decoder, dense blocks)
* :class:`PatchDiscriminator` -- 70x70 PatchGAN (also the conditional Pix2Pix D on cat(A, B))
* :class:`UnetGenerator` -- Pix2Pix U-Net-256

:func:`build_networks` builds the set a configuration asks for, initialised N(0, 0.02).
"""

from __future__ import annotations

from torch import nn

from stimuli_gen.config import ModelConfig
from stimuli_gen.networks.common import count_parameters, init_weights
from stimuli_gen.networks.dense_generator import DenseGenerator
from stimuli_gen.networks.patchgan import PatchDiscriminator
from stimuli_gen.networks.resnet_generator import ResnetGenerator
from stimuli_gen.networks.unet import UnetGenerator

__all__ = ["DenseGenerator", "PatchDiscriminator", "ResnetGenerator", "UnetGenerator", "build_generators",
           "build_networks", "count_parameters", "init_weights"]


def build_generators(m: ModelConfig) -> dict[str, nn.Module]:
    """The generators of ``m.kind``: ``{"G": ..., "F": ...}`` (cyclegan_asym) or ``{"G": ...}`` (pix2pix)."""
    norm = m.norm_for_kind()
    if m.kind == "cyclegan_asym":
        nets = {"G": ResnetGenerator(m.input_nc, m.output_nc, m.ngf, m.n_res_blocks, norm),
                "F": DenseGenerator(m.output_nc, m.input_nc, m.ngf, m.n_dense_blocks, m.dense_layers,
                                    m.growth_per_ngf * m.ngf, norm)}
    elif m.kind == "pix2pix":
        nets = {"G": UnetGenerator(m.input_nc, m.output_nc, m.ngf, m.unet_downs, norm, m.dropout)}
    else:
        raise ValueError(f"unknown model kind {m.kind!r}")
    for net in nets.values():
        init_weights(net, m.init_gain)
    return nets


def build_networks(m: ModelConfig) -> dict[str, nn.Module]:
    """Generators plus discriminators: D_B judges B (G's outputs), D_A judges A (F's outputs); Pix2Pix: D on cat(A, B)."""
    nets = build_generators(m)
    norm = m.norm_for_kind()
    if m.kind == "cyclegan_asym":
        nets["D_B"] = PatchDiscriminator(m.output_nc, m.ndf, m.n_layers_d, norm)
        nets["D_A"] = PatchDiscriminator(m.input_nc, m.ndf, m.n_layers_d, norm)
    else:
        nets["D"] = PatchDiscriminator(m.input_nc + m.output_nc, m.ndf, m.n_layers_d, norm)
    for key in nets:
        if key.startswith("D"):
            init_weights(nets[key], m.init_gain)
    return nets
