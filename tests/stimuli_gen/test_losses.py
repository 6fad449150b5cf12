"""Each loss on hand-made tensors: LSGAN, vanilla GAN, HED balanced BCE, identity weight, cycle loss, Eq. (13)."""

from __future__ import annotations

import logging
import math

import pytest
import torch

from stimuli_gen.config import LossConfig
from stimuli_gen.errors import InputError
from stimuli_gen.losses import (CycleLoss, GANLoss, balanced_bce, discriminator_loss, generator_objective,
                                identity_loss, pix2pix_generator_objective)
from stimuli_gen.vgg import LAYER_INDEX, VGG19Features, load_vgg19


def test_lsgan_values():
    gan = GANLoss("lsgan")
    s = torch.tensor([[0.5, 2.0]])
    assert gan(s, True).item() == pytest.approx((0.25 + 1.0) / 2)
    assert gan(s, False).item() == pytest.approx((0.25 + 4.0) / 2)
    # D objective is halved (CycleGAN sec. 4)
    assert discriminator_loss(gan, torch.tensor([1.0]), torch.tensor([1.0])).item() == pytest.approx(0.5)


def test_vanilla_gan_is_bce_with_logits():
    gan = GANLoss("vanilla")
    s = torch.tensor([0.0, 2.0])
    sig = 1 / (1 + math.exp(-2.0))
    assert gan(s, True).item() == pytest.approx(-(math.log(0.5) + math.log(sig)) / 2)
    assert gan(s, False).item() == pytest.approx(-(math.log(0.5) + math.log(1 - sig)) / 2)
    with pytest.raises(ValueError):
        GANLoss("wgan")


def test_balanced_bce_matches_the_hed_formula_by_hand():
    y = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    p = torch.tensor([[[[0.8, 0.1], [0.3, 0.5]]]])
    beta = 3 / 4  # |Y-| / |Y|
    by_hand = -(beta * math.log(0.8) + (1 - beta) * (math.log(0.9) + math.log(0.7) + math.log(0.5))) / 4
    assert balanced_bce(p, y).item() == pytest.approx(by_hand, rel=1e-6)


def test_balanced_bce_beta_is_per_sample_and_weights_rare_edges():
    y = torch.zeros(2, 1, 4, 4)
    y[0, 0, 0, 0] = 1  # 1 edge pixel of 16 in sample 0
    y[1, 0, :2] = 1    # 8 of 16 in sample 1
    p = torch.full_like(y, 0.5)
    # with p = 0.5 every pixel costs log 2 times its class weight: beta * n_pos + (1 - beta) * n_neg
    per0 = (15 / 16 * 1 + 1 / 16 * 15) / 16
    per1 = (0.5 * 8 + 0.5 * 8) / 16
    assert balanced_bce(p, y).item() == pytest.approx(math.log(2) * (per0 + per1) / 2, rel=1e-6)
    # missing the single edge pixel costs beta / (1 - beta) = 15 times a false edge on the background
    y0 = y[:1]
    miss = y0.clone()
    miss[0, 0, 0, 0] = 0.1
    false_alarm = y0.clone()
    false_alarm[0, 0, 2, 2] = 0.9
    assert balanced_bce(miss, y0).item() == pytest.approx(15 * balanced_bce(false_alarm, y0).item(), rel=1e-3)


def test_balanced_bce_is_differentiable():
    p = torch.full((1, 1, 4, 4), 0.4, requires_grad=True)
    y = torch.zeros(1, 1, 4, 4)
    y[..., 1, 1] = 1
    balanced_bce(p, y).backward()
    assert p.grad[0, 0, 1, 1] < 0 < p.grad[0, 0, 0, 0]


def test_identity_weight_is_half_lambda_cyc_and_objective_is_eq13():
    cfg = LossConfig()
    assert cfg.lambda_cyc == 10.0 and cfg.lambda_id == 5.0
    assert LossConfig(lambda_cyc=4.0).lambda_id == pytest.approx(2.0)
    one = torch.tensor(1.0)
    zero = torch.tensor(0.0)
    terms = dict(adv_g=zero, adv_f=zero, cycle=zero, identity=zero, edge=zero)
    assert generator_objective(cfg, **{**terms, "identity": one}).item() == pytest.approx(0.5 * cfg.lambda_cyc)
    assert generator_objective(cfg, **{**terms, "cycle": one}).item() == pytest.approx(cfg.lambda_cyc)
    assert generator_objective(cfg, **{**terms, "edge": one}).item() == pytest.approx(cfg.lambda_edge)
    assert generator_objective(cfg, **{**terms, "adv_g": one, "adv_f": 2 * one}).item() == pytest.approx(3.0)
    assert identity_loss(torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)).item() == pytest.approx(1.0)


def test_pix2pix_objective_is_gan_plus_100_l1():
    fake, real = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    total, l1 = pix2pix_generator_objective(LossConfig(), torch.tensor(0.7), fake, real)
    assert l1.item() == pytest.approx(0.5)
    assert total.item() == pytest.approx(0.7 + 100 * 0.5)


def test_cycle_loss_falls_back_to_pixel_l1_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="stimuli_gen.losses"):
        loss = CycleLoss("")
    assert "pixel L1" in caplog.text and not loss.feature_level
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 0.25)
    assert loss(a, b).item() == pytest.approx(0.25)


def test_vgg19_layout_matches_torchvision_and_feature_loss_loads(tmp_path):
    net = VGG19Features()
    keys = list(net.features.state_dict())
    convs = sorted({int(k.split(".")[0]) for k in keys})
    assert convs == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]  # torchvision vgg19().features
    assert LAYER_INDEX["relu4_1"] == 20
    torch.manual_seed(0)
    full = {f"features.{k}": v for k, v in VGG19Features().features.state_dict().items()}
    full["classifier.0.weight"] = torch.zeros(2, 2)  # ignored, as in the torchvision file
    path = tmp_path / "vgg19.pth"
    torch.save(full, path)
    loss = CycleLoss(str(path), "relu2_1")
    assert loss.feature_level
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    rec = (x + 0.3 * torch.randn_like(x)).requires_grad_(True)
    value = loss(rec, x)
    value.backward()
    assert value.item() > 0 and rec.grad.abs().sum() > 0
    assert loss(x, x).item() == 0.0
    assert not any(p.requires_grad for p in loss.phi.parameters())  # frozen


def test_relative_feature_loss_does_not_depend_on_the_weights_scale(tmp_path):
    """Scaling every conv of a ReLU net by c scales relu2_1 by c**3 (biases zeroed): the raw L1 and
    its gradient follow, the relative L1 does not."""
    torch.manual_seed(1)
    sd = {f"features.{k}": v for k, v in VGG19Features().features.state_dict().items()}
    sd = {k: torch.zeros_like(v) if k.endswith("bias") else v for k, v in sd.items()}
    torch.save(sd, tmp_path / "w1.pth")
    torch.save({k: 2 * v for k, v in sd.items()}, tmp_path / "w2.pth")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    rec0 = x + 0.3 * torch.randn_like(x)
    out = {}
    for norm in ("relative", "none"):
        for w in ("w1", "w2"):
            rec = rec0.clone().requires_grad_(True)
            value = CycleLoss(str(tmp_path / f"{w}.pth"), "relu2_1", norm)(rec, x)
            value.backward()
            out[norm, w] = (value.item(), rec.grad.norm().item())
    assert out["none", "w2"][0] == pytest.approx(8 * out["none", "w1"][0], rel=1e-4)
    assert out["relative", "w2"][0] == pytest.approx(out["relative", "w1"][0], rel=1e-4)
    assert out["relative", "w2"][1] == pytest.approx(out["relative", "w1"][1], rel=1e-4)


def test_bad_vgg_file_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")
    bad = tmp_path / "bad.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="does not fit"):
        load_vgg19(bad)
