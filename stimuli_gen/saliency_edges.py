"""Saliency-edge extractor (SEE) of the asymmetric CycleGAN (Wei Pu 2025).

Paper, sec. "Significant Edge Extraction Module": the salient-edge map of a real
photo is a saliency mask of the salient object (a pre-trained PFAN, Zhao & Wu 2019)
times an edge map (HED, Xie & Tu 2015, "which can extract edges with different
degrees of thickness"); the map feeds the saliency edge loss, Eq. (12).

Backends are pluggable (``[saliency]`` in the config):

* saliency ``"spectral_residual"`` (default, weight-free): Hou & Zhang (2007),
  "Saliency detection: a spectral residual approach", CVPR. The image is reduced to
  64 x 64 (sec. 2.3: "the width (or height) of the input image [is resized] to 64 px"),
  A = log amplitude spectrum, R = A - h_3 * A with a 3 x 3 mean filter (Eq. 4),
  S = g * |IFFT(exp(R + iP))|^2 smoothed by a Gaussian g (Eq. 5); we use sigma = 2.5 px
  on the 64-px map (our choice: in our odd-one-out test sigma = 8 px halves the odd
  item's contrast); the spectrum is treated as periodic (circular padding for h_3);
  min-max normalised to [0, 1] and resized back. The mask is the soft normalised map.
* saliency ``"pfan"``: a local file of a PFAN (Zhao & Wu 2019), saved with
  ``torch.export.save`` (``.pt2``) or as TorchScript (any other suffix): PFAN's reference
  implementation is Keras and its public PyTorch port (sairajk/PyTorch-Pyramid-Feature-
  Attention-Network-for-Saliency-Detection, ``SODModel``) needs its own class, so a whole
  exported program is expected. ``[saliency] pfan_interface`` says how to call it:
  ``"sodmodel"`` (default) is that port's interface -- input RGB in [0, 1] normalised
  with the ImageNet mean/std (its ``dataloader.py``), output the tuple ``(masks,
  ca_act_reg)`` with ``masks`` N x 1 x H x W after a sigmoid, H and W multiples of 16
  (its bilinear x2/x4 up-samplings of the VGG-16 stages); :class:`PFANAdapter`
  normalises, pads to a multiple of 16 (replicate) and crops back, and keeps the masks.
  ``"plain"``: a module that already maps RGB in [0, 1] to N x 1 x H x W in [0, 1].
* edges ``"gradient"`` (default, weight-free, differentiable): multi-scale gradient
  magnitude. Grey image in [0, 1], Gaussian blur at sigma in (1, 2, 4) px, Sobel
  derivatives, scale-normalised magnitude sigma * |grad| (Lindeberg 1998), mapped to
  [0, 1) by 1 - exp(-m / 0.1) and averaged over the scales (the multi-scale fusion of
  HED's side outputs, Xie & Tu 2015 sec. 2.3). 0.1 makes a step of 1/4 of the grey range
  give ~0.6 (our choice).
* edges ``"hed"``: :class:`stimuli_gen.hed.HED` (VGG16-based HED) from a local state dict.

The generated image's edge map (:meth:`SaliencyEdgeExtractor.edges`) is differentiable
with either edge backend (HED's weights are frozen, gradients flow to the image).
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stimuli_gen.config import SaliencyConfig
from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)

EDGE_SCALES = (1.0, 2.0, 4.0)
EDGE_TAU = 0.1
SR_SIZE = 64
SR_SIGMA = 2.5


def to_unit(img: torch.Tensor) -> torch.Tensor:
    """Map the pipeline's [-1, 1] images to [0, 1]."""
    return (img + 1.0) * 0.5


def grey(img01: torch.Tensor) -> torch.Tensor:
    """ITU-R BT.601 luma of an N x 3 x H x W RGB tensor in [0, 1] (single channel passes through)."""
    if img01.shape[1] == 1:
        return img01
    w = img01.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (img01[:, :3] * w).sum(1, keepdim=True)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius ceil(3 sigma), replicate padding) of an N x 1 x H x W tensor."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1))
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1))


def gradient_edges(img: torch.Tensor, scales: tuple[float, ...] = EDGE_SCALES, tau: float = EDGE_TAU) -> torch.Tensor:
    """Differentiable multi-scale gradient edge map in [0, 1) of images in [-1, 1] (see module docstring)."""
    g = grey(to_unit(img if img.dtype == torch.float64 else img.float()))
    sobel = g.new_tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]) / 8.0
    kernels = torch.stack([sobel, sobel.t()]).unsqueeze(1)
    maps = []
    for s in scales:
        d = F.conv2d(F.pad(gaussian_blur(g, s), (1, 1, 1, 1), mode="replicate"), kernels)
        mag = s * torch.sqrt((d * d).sum(1, keepdim=True) + 1e-8)
        maps.append(1.0 - torch.exp(-mag / tau))
    return torch.stack(maps).mean(0)


def spectral_residual_saliency(img: torch.Tensor, size: int = SR_SIZE, sigma: float = SR_SIGMA) -> torch.Tensor:
    """Spectral-residual saliency (Hou & Zhang 2007) of images in [-1, 1], normalised to [0, 1] per image."""
    g = grey(to_unit(img.float()))
    small = F.interpolate(g, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    spec = torch.fft.fft2(small[:, 0])
    log_amp = torch.log(spec.abs() + 1e-8)
    phase = torch.angle(spec)
    mean = F.avg_pool2d(F.pad(log_amp.unsqueeze(1), (1, 1, 1, 1), mode="circular"), 3, stride=1)[:, 0]
    residual = log_amp - mean
    sal = torch.fft.ifft2(torch.exp(torch.complex(residual, phase))).abs() ** 2
    sal = gaussian_blur(sal.unsqueeze(1), sigma)
    lo = sal.amin(dim=(2, 3), keepdim=True)
    hi = sal.amax(dim=(2, 3), keepdim=True)
    sal = (sal - lo) / (hi - lo).clamp_min(1e-12)
    return F.interpolate(sal, size=img.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)


class PFANAdapter(nn.Module):
    """Calls a PFAN with the public PyTorch port's interface (see module docstring) as ``RGB [0, 1] -> saliency``.

    Parameters
    ----------
    net : nn.Module
        The loaded program.
    interface : {"sodmodel", "plain"}
        ``"sodmodel"`` (default): ImageNet-normalised input (mean 0.485, 0.456, 0.406, std
        0.229, 0.224, 0.225), tuple output whose first element is the mask, sizes padded to
        a multiple of 16. ``"plain"``: passed through.
    """

    MULTIPLE = 16

    def __init__(self, net: nn.Module, interface: str = "sodmodel") -> None:
        super().__init__()
        self.net = net
        self.interface = interface
        from stimuli_gen.vgg import IMAGENET_MEAN, IMAGENET_STD

        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        if self.interface == "plain":
            out = self.net(rgb01)
        else:
            h, w = rgb01.shape[-2:]
            ph, pw = -h % self.MULTIPLE, -w % self.MULTIPLE
            x = (rgb01 - self.mean) / self.std
            if ph or pw:
                x = F.pad(x, (0, pw, 0, ph), mode="replicate")
            out = self.net(x)
            if isinstance(out, (tuple, list)):
                out = out[0]
            out = out[..., :h, :w]
        if isinstance(out, (tuple, list)):
            raise InputError("the PFAN model returns a tuple", column="saliency.pfan_interface",
                             expected="pfan_interface = \"sodmodel\" for the public PyTorch port (masks, ca_act_reg)",
                             fix="set [saliency] pfan_interface = \"sodmodel\"")
        if out.dim() == 3:
            out = out.unsqueeze(1)
        if out.dim() != 4 or out.shape[1] != 1 or tuple(out.shape[-2:]) != tuple(rgb01.shape[-2:]):
            raise InputError(f"the PFAN model returned shape {tuple(out.shape)}", column="saliency.pfan_weights",
                             expected=f"N x 1 x {rgb01.shape[-2]} x {rgb01.shape[-1]} saliency masks",
                             fix="export the model that outputs the saliency mask (see docs/stimuli_gen.md)")
        return out.float().clamp(0, 1)


def load_pfan(path: str, interface: str = "sodmodel") -> nn.Module:
    """Load a PFAN saliency model from a local file: ``torch.export`` (``.pt2``) or TorchScript (other suffixes).

    The module must map N x 3 x H x W RGB in [0, 1] to N x 1 x H x W saliency in [0, 1];
    export it with dynamic H/W (``torch.export.Dim``) if it should accept any size.
    TorchScript is deprecated in torch 2.13 but still loads; prefer ``torch.export.save``.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError("PFAN weight file not found", file=p,
                         fix="give the path of a local file in [saliency] pfan_weights (nothing is downloaded)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if p.suffix == ".pt2":
                net = torch.export.load(str(p)).module()
            else:
                net = torch.jit.load(str(p), map_location="cpu")
                net.eval()
    except Exception as exc:
        raise InputError(f"cannot load the PFAN model ({type(exc).__name__})", file=p,
                         expected="a torch.export .pt2 file or a TorchScript file",
                         fix="export the model with torch.export.save (or torch.jit.save)") from None
    for prm in net.parameters():
        prm.requires_grad_(False)
    return PFANAdapter(net, interface)


class SaliencyEdgeExtractor(nn.Module):
    """Salient-edge maps of real photos and edge maps of generated images.

    Parameters
    ----------
    cfg : SaliencyConfig
        Backend choice and local weight paths (defaults are weight-free).
    """

    def __init__(self, cfg: SaliencyConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or SaliencyConfig()
        self.cfg = cfg
        self.pfan = load_pfan(cfg.pfan_weights, cfg.pfan_interface) if cfg.saliency == "pfan" else None
        if cfg.edges == "hed":
            from stimuli_gen.hed import load_hed
            self.hed = load_hed(cfg.hed_weights)
        else:
            self.hed = None

    def saliency(self, img: torch.Tensor) -> torch.Tensor:
        """Saliency mask in [0, 1], N x 1 x H x W, of images in [-1, 1] (no gradient)."""
        with torch.no_grad():
            if self.pfan is not None:
                return self.pfan(to_unit(img.float()))
            return spectral_residual_saliency(img)

    def edges(self, img: torch.Tensor) -> torch.Tensor:
        """Differentiable edge map in [0, 1], N x 1 x H x W, of images in [-1, 1]."""
        if self.hed is not None:
            return self.hed(to_unit(img.float()))
        return gradient_edges(img)

    def salient_edges(self, photo: torch.Tensor) -> torch.Tensor:
        """The target of Eq. (12): saliency(photo) * edges(photo), in [0, 1], without gradient."""
        with torch.no_grad():
            return self.saliency(photo) * self.edges(photo)
