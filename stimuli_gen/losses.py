"""Losses of the asymmetric CycleGAN (Wei Pu 2025, Eqs. 9-14) and of Pix2Pix.

Notation: X = A = real photos, Y = B = artworks; G: X -> Y (ResNet), F: Y -> X (dense),
D_Y = ``D_B`` judges artworks, D_X = ``D_A`` judges photos; SEE = saliency-edge extractor.

* Adversarial, Eq. (9): least-squares GAN (Mao et al. 2017), as in CycleGAN (Zhu et al.
  2017 sec. 4: "we replace the negative log likelihood objective by a least-squares
  loss"): G minimises E[(D(G(x)) - 1)^2], D minimises E[(D(y) - 1)^2] + E[D(G(x))^2],
  halved for D ("we divide the objective by 2 while optimizing D").
* Identity, Eq. (10): E||G(y) - y||_1 + E||F(x) - x||_1 with weight
  lambda_id = 0.5 lambda_cyc (reference ``--lambda_identity 0.5``, which scales lambda_A/B;
  CycleGAN paper sec. 5.2 uses 0.5 lambda for paintings <-> photos).
* Feature-level cycle consistency, Eq. (11): E||phi(F(G(x))) - phi(x)||_1 +
  E||phi(G(F(y))) - phi(y)||_1 with phi = pre-trained VGG-19 features ("the L1 loss of the
  pre-trained high-level features in the VGG network"); without local VGG-19 weights phi
  is the identity (the CycleGAN pixel L1), with a logged warning.
* Saliency edge, Eq. (12): HED's class-balanced cross-entropy (Xie & Tu 2015, Eq. 2)
  between the real photo's salient-edge map S = SEE(x) and the edge map E(G(x)) of the
  generated artwork:  -beta y log p - (1 - beta)(1 - y) log(1 - p) with
  beta = |Y-| / |Y| (the fraction of non-edge pixels; for a soft target beta = mean(1 - y)),
  averaged over pixels. HED sums over pixels; the mean keeps lambda_edge independent of
  the image size (lambda_edge * mean = lambda_edge / (H W) * sum). At lambda_edge = 1 the
  term had 0.3-0.5 % of the gradient on G (it did nothing); the default lambda_edge = 100
  gives it about 20 % at 128 px (measured with benchmarks/pilot_sweep.py; table in
  docs/stimuli_gen.md, "Loss calibration").
* Total, Eq. (13): L = L_GAN(G, D_Y) + L_GAN(F, D_X) + lambda_cyc L_cyc + lambda_id L_id
  + lambda_edge L_edge, and Eq. (14): G*, F* = arg min_{G,F} max_{D_X, D_Y} L. The text of
  the paper lost the equations' symbols, so the weights are the reference CycleGAN ones
  (lambda_cyc = 10) and lambda_edge = 100 is our calibrated choice (see above).
* Pix2Pix (Isola et al. 2017, Eq. 4): conditional vanilla GAN (BCE with logits) +
  lambda_L1 ||y - G(x)||_1, lambda_L1 = 100.
"""

from __future__ import annotations

import logging

import torch
import torch.nn.functional as F
from torch import nn

from stimuli_gen.config import LossConfig

log = logging.getLogger(__name__)


class GANLoss(nn.Module):
    """Adversarial loss on raw discriminator scores: ``"lsgan"`` (MSE to 1/0) or ``"vanilla"`` (BCE with logits)."""

    def __init__(self, mode: str = "lsgan") -> None:
        super().__init__()
        if mode not in ("lsgan", "vanilla"):
            raise ValueError(f"unknown GAN mode {mode!r}; expected lsgan or vanilla")
        self.mode = mode

    def forward(self, scores: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        scores = scores.float()
        target = torch.full_like(scores, 1.0 if target_is_real else 0.0)
        if self.mode == "lsgan":
            return F.mse_loss(scores, target)
        return F.binary_cross_entropy_with_logits(scores, target)


def discriminator_loss(gan: GANLoss, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """0.5 (L(D(real), 1) + L(D(fake), 0)) (CycleGAN paper sec. 4; reference ``backward_D_basic``)."""
    return 0.5 * (gan(real_scores, True) + gan(fake_scores, False))


def balanced_bce(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Class-balanced BCE of HED (Xie & Tu 2015, Eq. 2), averaged over pixels.

    Parameters
    ----------
    pred : Tensor
        Edge probabilities in [0, 1] (clamped to [eps, 1 - eps]), any shape.
    target : Tensor
        Target edge map in [0, 1], same shape; beta is computed per sample.
    """
    pred = pred.float().clamp(eps, 1.0 - eps)
    target = target.float()
    dims = tuple(range(1, target.dim()))
    beta = (1.0 - target).mean(dim=dims, keepdim=True)  # |Y-| / |Y|
    loss = -(beta * target * torch.log(pred) + (1.0 - beta) * (1.0 - target) * torch.log(1.0 - pred))
    return loss.mean()


class CycleLoss(nn.Module):
    """Feature-level cycle consistency, Eq. (11): L1 between VGG-19 features (or pixels, as a fallback).

    With ``feature_norm = "relative"`` (default) the feature L1 is divided by the mean
    ``|phi(x)|`` of the batch's originals (detached): a relative error. VGG activations
    have no fixed scale (relu4_1 of the ImageNet weights is not in [-1, 1] like pixels,
    and a ReLU network's features and their Jacobian scale with its weights), so the raw
    L1 would make lambda_cyc = 10 mean something else for every weight file; the relative
    error has the same scale for any weights, and lambda_cyc = 10 is then calibrated
    against the pixel loss (docs/stimuli_gen.md, "Loss calibration"). The pixel fallback
    is the reference's plain L1.
    """

    def __init__(self, vgg19_weights: str = "", layer: str = "relu4_1", feature_norm: str = "relative") -> None:
        super().__init__()
        self.feature_norm = feature_norm
        if vgg19_weights:
            from stimuli_gen.vgg import load_vgg19
            self.phi: nn.Module | None = load_vgg19(vgg19_weights, layer)
        else:
            self.phi = None
            log.warning("no VGG-19 weights given ([loss] vgg19_weights): the cycle-consistency loss falls back "
                        "to pixel L1 (plain CycleGAN) instead of the paper's feature-level loss, Eq. (11)")

    @property
    def feature_level(self) -> bool:
        return self.phi is not None

    def forward(self, reconstructed: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
        if self.phi is None:
            return F.l1_loss(reconstructed.float(), original.float())
        with torch.no_grad():
            target = self.phi(original).float()
        loss = F.l1_loss(self.phi(reconstructed).float(), target)
        if self.feature_norm == "relative":
            loss = loss / target.abs().mean().clamp_min(1e-8)
        return loss


def identity_loss(same: torch.Tensor, original: torch.Tensor) -> torch.Tensor:
    """L1 of one identity term of Eq. (10), e.g. ||G(y) - y||_1."""
    return F.l1_loss(same.float(), original.float())


def generator_objective(cfg: LossConfig, *, adv_g: torch.Tensor, adv_f: torch.Tensor, cycle: torch.Tensor,
                        identity: torch.Tensor, edge: torch.Tensor) -> torch.Tensor:
    """The generators' side of Eq. (13): adv_G + adv_F + lambda_cyc cyc + lambda_id idt + lambda_edge edge.

    ``cycle`` and ``identity`` are the sums of both directions; ``lambda_id`` is
    ``identity_ratio * lambda_cyc`` (0.5 * 10 = 5 by default).
    """
    return adv_g + adv_f + cfg.lambda_cyc * cycle + cfg.lambda_id * identity + cfg.lambda_edge * edge


def pix2pix_generator_objective(cfg: LossConfig, adv: torch.Tensor, fake: torch.Tensor,
                                real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pix2Pix generator loss adv + lambda_L1 ||real - fake||_1 (Isola et al. 2017, Eq. 4); returns (total, L1)."""
    l1 = F.l1_loss(fake.float(), real.float())
    return adv + cfg.lambda_l1 * l1, l1
