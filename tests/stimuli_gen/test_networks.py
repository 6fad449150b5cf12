"""Shapes, parameter counts, structure and initialisation of every network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from stimuli_gen.config import ModelConfig
from stimuli_gen.networks import (DenseGenerator, PatchDiscriminator, ResnetGenerator, UnetGenerator, build_networks,
                                  count_parameters, init_weights)
from stimuli_gen.networks.dense_generator import DenseBlock
from stimuli_gen.networks.resnet_generator import ResidualBlock


def _on_meta(factory):
    with torch.device("meta"):
        return factory()


@pytest.mark.parametrize("factory, expected", [
    # the reference junyanz code prints 11.378 M (G), 2.765 M (D), 54.414 M (unet_256) and 2.769 M (pix2pix D)
    (lambda: ResnetGenerator(3, 3, 64, 9, "instance"), 11_378_179),
    (lambda: PatchDiscriminator(3, 64, 3, "instance"), 2_764_737),
    (lambda: PatchDiscriminator(6, 64, 3, "batch"), 2_768_705),
    (lambda: UnetGenerator(3, 3, 64, 8, "batch", True), 54_413_955),
    (lambda: DenseGenerator(3, 3, 64, 3, 6, 128, "instance"), 17_480_707),
])
def test_full_size_parameter_counts(factory, expected):
    assert count_parameters(_on_meta(factory)) == expected


def test_tiny_parameter_counts_follow_the_formula():
    # G at ngf 8, 2 blocks: encoder + blocks + decoder, counted by hand
    ngf, c = 8, 32
    enc = (3 * 49 * ngf + ngf) + (ngf * 9 * 2 * ngf + 2 * ngf) + (2 * ngf * 9 * c + c)
    blocks = 2 * 2 * (c * 9 * c + c)
    dec = (c * 9 * 2 * ngf + 2 * ngf) + (2 * ngf * 9 * ngf + ngf) + (ngf * 49 * 3 + 3)
    assert count_parameters(ResnetGenerator(3, 3, ngf, 2)) == enc + blocks + dec


@pytest.mark.parametrize("size", [32, 48])
def test_generator_and_discriminator_shapes(size):
    torch.manual_seed(0)
    nets = build_networks(ModelConfig(kind="cyclegan_asym", ngf=8, ndf=8, n_res_blocks=2, n_dense_blocks=2,
                                      dense_layers=3))
    x = torch.rand(2, 3, size, size) * 2 - 1
    for name in ("G", "F"):
        y = nets[name](x)
        assert y.shape == x.shape
        assert y.abs().max() <= 1.0  # tanh output
    # 70x70 PatchGAN: three stride-2 and two stride-1 4x4 convs
    assert nets["D_A"](x).shape == (2, 1, size // 8 - 2, size // 8 - 2)


def test_pix2pix_shapes_dropout_and_conditional_discriminator():
    nets = build_networks(ModelConfig(kind="pix2pix", ngf=8, ndf=8, unet_downs=6))
    g, d = nets["G"], nets["D"]
    assert sum(isinstance(m, nn.Dropout) for m in g.modules()) == 6 - 5
    x = torch.rand(1, 3, 64, 64) * 2 - 1
    assert g(x).shape == x.shape
    assert d(torch.cat([x, x], 1)).shape == (1, 1, 6, 6)
    with pytest.raises(ValueError, match="6 x H x W"):
        d(x)  # the conditional D needs (A, B)
    g.eval()
    assert torch.equal(g(x), g(x))  # eval: no dropout, running BN statistics
    g.train()
    torch.manual_seed(1)
    y1 = g(torch.cat([x, x]))
    torch.manual_seed(2)
    y2 = g(torch.cat([x, x]))
    assert not torch.equal(y1, y2)  # train: dropout active


def test_unet_skip_connections_carry_the_input():
    g = UnetGenerator(3, 3, 8, 5, "batch", False)
    outer = g.model
    # the outermost up-conv sees 2 * ngf channels: the inner output concatenated with the skip
    up = [m for m in outer.up if isinstance(m, nn.ConvTranspose2d)][0]
    assert up.in_channels == 16
    inner = outer.submodule
    x = torch.rand(1, 8, 16, 16)
    assert torch.equal(inner(x)[:, :8], x)  # skip connection: input passes through unchanged


def test_f_has_dense_blocks_and_more_capacity_than_g():
    for ngf in (8, 64):
        m = ModelConfig(ngf=ngf)
        g = _on_meta(lambda: ResnetGenerator(3, 3, ngf, m.n_res_blocks))
        f = _on_meta(lambda: DenseGenerator(3, 3, ngf, m.n_dense_blocks, m.dense_layers, m.growth_per_ngf * ngf))
        assert any(isinstance(mod, DenseBlock) for mod in f.modules())
        assert not any(isinstance(mod, ResidualBlock) for mod in f.modules())
        assert sum(isinstance(mod, ResidualBlock) for mod in g.modules()) == 9
        assert count_parameters(f) > 1.3 * count_parameters(g)
        assert count_parameters(f.transform) > count_parameters(g.transform)


def test_dense_layer_concatenates_features():
    block = DenseBlock(16, n_layers=3, growth=4, norm="instance")
    assert block.layers(torch.rand(1, 16, 8, 8)).shape[1] == 16 + 3 * 4
    assert block(torch.rand(1, 16, 8, 8)).shape[1] == 16  # transition compresses back


def test_patchgan_receptive_field_is_70():
    d = PatchDiscriminator(1, 4, 3, "none")
    x = torch.rand(1, 1, 160, 160, requires_grad=True)
    out = d(x)
    out[0, 0, out.shape[2] // 2, out.shape[3] // 2].backward()
    rows = (x.grad[0, 0].abs().sum(1) > 0).nonzero()
    cols = (x.grad[0, 0].abs().sum(0) > 0).nonzero()
    assert int(rows.max() - rows.min() + 1) == 70
    assert int(cols.max() - cols.min() + 1) == 70


def test_init_is_normal_0_002():
    torch.manual_seed(0)
    g = init_weights(ResnetGenerator(3, 3, 16, 2), 0.02)
    w = torch.cat([m.weight.detach().flatten() for m in g.modules() if isinstance(m, nn.Conv2d)])
    assert abs(float(w.mean())) < 2e-3 and abs(float(w.std()) - 0.02) < 1e-3
    assert all(float(m.bias.detach().abs().max()) == 0 for m in g.modules() if isinstance(m, nn.Conv2d) and m.bias is not None)
    u = init_weights(UnetGenerator(3, 3, 16, 5, "batch"), 0.02)
    bn = torch.cat([m.weight.detach() for m in u.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(float(bn.mean()) - 1.0) < 5e-3


def test_bad_input_shapes_give_clear_errors():
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(3, 3, 8, 1)(torch.rand(1, 3, 30, 30))
    with pytest.raises(ValueError, match="N x 3 x H x W"):
        ResnetGenerator(3, 3, 8, 1)(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="divisible by 32"):
        UnetGenerator(3, 3, 8, 5)(torch.rand(1, 3, 48, 48))
