"""HED edge detector (Xie & Tu 2015, "Holistically-nested edge detection", ICCV), loaded from local weights.

The standard VGG16-based HED: the 13 conv layers of VGG16 (Simonyan & Zisserman 2015)
in five stages; a 1x1 side-output conv after the last conv of each stage; side outputs
bilinearly up-sampled to the input size and fused by a 1x1 conv over the 5 maps, then a
sigmoid (Xie & Tu 2015, sec. 2.3-2.4, Fig. 3).

Expected weight file: a ``torch.save`` state dict with the key layout of the widely used
PyTorch port sniklaus/pytorch-hed (``network-bsds500.pytorch``): ``netVggOne.0.weight`` ...
``netVggFiv.5.bias``, ``netScoreOne.weight`` ... ``netScoreFiv.bias``, ``netCombine.0.weight``,
``netCombine.0.bias``; the older ``moduleVggOne...`` prefix is accepted too. As in that
port, the input is RGB in [0, 1]; the network sees BGR x 255 minus the Caffe BSDS mean
(104.00698793, 116.66876762, 122.67891434). Nothing is downloaded: pass the path in
``[saliency] hed_weights``.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from stimuli_gen.checkpoint import frozen, read_torch_file
from stimuli_gen.errors import InputError

BGR_MEAN = (104.00698793, 116.66876762, 122.67891434)


def _stage(cin: int, cout: int, n: int, pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [nn.MaxPool2d(2, 2)] if pool else []
    for i in range(n):
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1), nn.ReLU(False)]
    return nn.Sequential(*layers)


class HED(nn.Module):
    """VGG16 HED; forward maps N x 3 x H x W RGB in [0, 1] to an N x 1 x H x W edge probability map."""

    def __init__(self) -> None:
        super().__init__()
        self.netVggOne = _stage(3, 64, 2, False)
        self.netVggTwo = _stage(64, 128, 2, True)
        self.netVggThr = _stage(128, 256, 3, True)
        self.netVggFou = _stage(256, 512, 3, True)
        self.netVggFiv = _stage(512, 512, 3, True)
        self.netScoreOne = nn.Conv2d(64, 1, 1)
        self.netScoreTwo = nn.Conv2d(128, 1, 1)
        self.netScoreThr = nn.Conv2d(256, 1, 1)
        self.netScoreFou = nn.Conv2d(512, 1, 1)
        self.netScoreFiv = nn.Conv2d(512, 1, 1)
        self.netCombine = nn.Sequential(nn.Conv2d(5, 1, 1), nn.Sigmoid())

    def forward(self, rgb01: torch.Tensor) -> torch.Tensor:
        x = rgb01[:, [2, 1, 0]] * 255.0 - rgb01.new_tensor(BGR_MEAN).view(1, 3, 1, 1)
        size = rgb01.shape[-2:]
        sides = []
        for stage, score in ((self.netVggOne, self.netScoreOne), (self.netVggTwo, self.netScoreTwo),
                             (self.netVggThr, self.netScoreThr), (self.netVggFou, self.netScoreFou),
                             (self.netVggFiv, self.netScoreFiv)):
            x = stage(x)
            sides.append(F.interpolate(score(x), size=size, mode="bilinear", align_corners=False))
        return self.netCombine(torch.cat(sides, 1))


def load_hed(path: str | Path) -> HED:
    """Build :class:`HED` and load a local state dict (frozen, eval mode); clear errors for a wrong file."""
    path = Path(path)
    sd = read_torch_file(path, "HED weight", expected="a local torch.save state dict",
                         missing_fix="set [saliency] hed_weights to an existing file (nothing is downloaded)",
                         unreadable_fix="check the file")
    if not isinstance(sd, dict):
        raise InputError("the HED file is not a state dict", file=path, expected="a dict of tensors",
                         fix="save net.state_dict(), not the module")
    sd = {k.replace("module", "net", 1) if k.startswith("module") else k: v for k, v in sd.items()}
    net = HED()
    try:
        net.load_state_dict(sd)
    except RuntimeError as exc:
        raise InputError(f"the HED state dict does not fit: {str(exc).splitlines()[0]}", file=path,
                         expected="the sniklaus/pytorch-hed key layout (netVggOne.0.weight, ...) and shapes",
                         fix="convert the keys to that layout (see stimuli_gen/hed.py)") from None
    return frozen(net)
