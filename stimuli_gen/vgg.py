"""VGG-19 convolutional features for the feature-level cycle-consistency loss (paper Eq. 11).

Simonyan & Zisserman (2015), configuration E: 16 3x3 convs in 5 stages (64, 64 | 128,
128 | 256 x 4 | 512 x 4 | 512 x 4), ReLU after each conv, 2x2 max-pooling between
stages. The ``features`` module reproduces torchvision's ``vgg19().features`` index
layout exactly (conv at 0, 2, 5, 7, 10, ...; pools at 4, 9, 18, 27, 36), so the standard
ImageNet state dict (``vgg19-dcbb9e9d.pth``, keys ``features.N.weight``; the classifier
keys are ignored) or a features-only dict (keys ``N.weight``) loads unchanged from a
local path. Inputs are the pipeline's [-1, 1] RGB images, mapped to [0, 1] and
normalised with the ImageNet mean/std the weights were trained with.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from stimuli_gen.checkpoint import frozen, read_torch_file
from stimuli_gen.errors import InputError

_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
# index of the ReLU after the first conv of each stage in torchvision's vgg19().features
LAYER_INDEX = {"relu1_1": 1, "relu2_1": 6, "relu3_1": 11, "relu4_1": 20, "relu5_1": 29}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(True)]
            cin = int(v)
    return nn.Sequential(*layers)


class VGG19Features(nn.Module):
    """Frozen VGG-19 truncated after ``layer``; forward maps [-1, 1] RGB to that layer's activations."""

    def __init__(self, layer: str = "relu4_1") -> None:
        super().__init__()
        self.features = _features()
        self.layer = layer
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        x = ((img + 1.0) * 0.5 - self.mean) / self.std
        return self.features[: LAYER_INDEX[self.layer] + 1](x)


def load_vgg19(path: str | Path, layer: str = "relu4_1") -> VGG19Features:
    """Load a local torchvision-layout VGG-19 state dict into a frozen :class:`VGG19Features` (eval mode)."""
    path = Path(path)
    sd = read_torch_file(path, "VGG-19 weight", expected="a local torchvision vgg19 state dict",
                         missing_fix="set [loss] vgg19_weights to an existing file, or leave it empty for the "
                                     "pixel L1 fallback",
                         unreadable_fix="check the file")
    if not isinstance(sd, dict):
        raise InputError("the VGG-19 file is not a state dict", file=path, expected="a dict of tensors",
                         fix="save model.state_dict()")
    feats = {k[len("features."):]: v for k, v in sd.items() if k.startswith("features.")}
    if not feats:
        feats = dict(sd)
    net = VGG19Features(layer)
    try:
        net.features.load_state_dict(feats)
    except RuntimeError as exc:
        raise InputError(f"the VGG-19 state dict does not fit: {str(exc).splitlines()[0]}", file=path,
                         expected="torchvision vgg19 keys features.0.weight ... features.34.bias",
                         fix="use torchvision's vgg19 ImageNet weights (vgg19-dcbb9e9d.pth)") from None
    return frozen(net)
