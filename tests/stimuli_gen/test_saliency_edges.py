"""Saliency-edge extractor: spectral residual odd-one-out, differentiable edges, HED/PFAN loaders."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from stimuli_gen.config import SaliencyConfig
from stimuli_gen.errors import InputError
from stimuli_gen.hed import HED, load_hed
from stimuli_gen.saliency_edges import SaliencyEdgeExtractor, gradient_edges, spectral_residual_saliency


def _search_display(odd=(2, 5), size=128, cell=16, seed=0):
    """8 x 8 vertical bars at jittered positions, one horizontal bar (a pop-out target)."""
    rs = np.random.default_rng(seed)
    img = -torch.ones(1, 3, size, size)
    for i in range(size // cell):
        for j in range(size // cell):
            y, x = i * cell + int(rs.integers(0, 4)), j * cell + int(rs.integers(0, 4))
            if (i, j) == odd:
                img[..., y + 6:y + 9, x + 1:x + 12] = 1
            else:
                img[..., y + 1:y + 12, x + 6:x + 9] = 1
    return img


@pytest.mark.parametrize("odd", [(2, 5), (6, 1)])
def test_spectral_residual_highlights_the_odd_one_out(odd):
    img = _search_display(odd)
    s = spectral_residual_saliency(img)[0, 0]
    assert s.shape == (128, 128) and float(s.min()) >= 0 and float(s.max()) <= 1
    y, x = odd[0] * 16, odd[1] * 16
    inside = s[y:y + 16, x:x + 16].mean()
    outside = (s.sum() - s[y:y + 16, x:x + 16].sum()) / (128 * 128 - 256)
    assert inside > 2.5 * outside
    row, col = divmod(int(s.argmax()), 128)
    assert y - 4 <= row < y + 20 and x - 4 <= col < x + 20


def test_gradient_edges_mark_a_step_and_are_differentiable():
    img = -torch.ones(1, 3, 32, 32)
    img[..., 16:] = 1.0  # horizontal step at column 16
    e = gradient_edges(img)[0, 0]
    assert e.shape == (32, 32) and float(e.min()) >= 0 and float(e.max()) < 1
    assert e[:, 15:17].mean() > 0.8 and e[:, :4].max() < 0.05 and e[:, -4:].max() < 0.05
    x = (torch.rand(1, 3, 16, 16) * 2 - 1).requires_grad_(True)
    gradient_edges(x).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradient_edges_pass_gradcheck():
    torch.manual_seed(0)
    x = (torch.rand(1, 1, 5, 5, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: gradient_edges(t, scales=(1.0,)), (x,), eps=1e-6, atol=1e-5)


def test_salient_edges_are_saliency_times_edges_without_gradient():
    see = SaliencyEdgeExtractor()
    img = _search_display()
    target = see.salient_edges(img)
    assert not target.requires_grad
    assert torch.allclose(target, spectral_residual_saliency(img) * gradient_edges(img))
    # the pop-out bar's edges survive, the distractors' edges are damped
    assert target[0, 0, 32:48, 80:96].max() > 2 * target[0, 0, 96:112, 16:32].max()


def test_hed_loads_a_sniklaus_layout_state_dict(tmp_path):
    torch.manual_seed(0)
    sd = {k.replace("net", "module", 1): v for k, v in HED().state_dict().items()}  # the older key prefix
    assert "moduleVggOne.0.weight" in sd and "moduleCombine.0.weight" in sd
    path = tmp_path / "hed.pt"
    torch.save(sd, path)
    see = SaliencyEdgeExtractor(SaliencyConfig(edges="hed", hed_weights=str(path)))
    x = (torch.rand(1, 3, 32, 32) * 2 - 1).requires_grad_(True)
    e = see.edges(x)
    assert e.shape == (1, 1, 32, 32) and float(e.detach().min()) >= 0 and float(e.detach().max()) <= 1
    e.mean().backward()
    assert x.grad.abs().sum() > 0  # differentiable w.r.t. the image, weights frozen
    assert not any(p.requires_grad for p in see.hed.parameters())


def test_bad_hed_and_pfan_files_are_clear_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_hed(tmp_path / "none.pt")
    bad = tmp_path / "bad.pt"
    torch.save({"netVggOne.0.weight": torch.zeros(1)}, bad)
    with pytest.raises(InputError, match="does not fit"):
        load_hed(bad)
    with pytest.raises(InputError, match="PFAN"):
        SaliencyEdgeExtractor(SaliencyConfig(saliency="pfan", pfan_weights=str(bad)))


class _CentreSaliency(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = torch.zeros_like(x[:, :1])
        h, w = x.shape[-2:]
        m[..., h // 4:3 * h // 4, w // 4:3 * w // 4] = 1.0
        return m


def test_pfan_backend_loads_a_torchscript_model(tmp_path):
    # (the torch.export .pt2 branch of load_pfan is not exercised here: exporting takes seconds)
    path = tmp_path / "pfan.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(_CentreSaliency()).save(str(path))
    see = SaliencyEdgeExtractor(SaliencyConfig(saliency="pfan", pfan_weights=str(path), pfan_interface="plain"))
    img = torch.rand(1, 3, 16, 16) * 2 - 1
    sal = see.saliency(img)
    assert float(sal[0, 0, 8, 8]) == 1.0 and float(sal[0, 0, 0, 0]) == 0.0
    assert float(see.salient_edges(img)[0, 0, :4].max()) == 0.0


class _FakeSODModel(torch.nn.Module):
    """The interface of the public PyTorch PFAN port (SODModel): ImageNet-normalised input, sizes that are
    multiples of 16, a tuple (sigmoid masks, channel-attention regulariser) out."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.conv.weight.fill_(1.0)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        torch._assert(x.shape[-1] % 16 == 0 and x.shape[-2] % 16 == 0, "H and W must be multiples of 16")
        return torch.sigmoid(self.conv(x)), x.abs().mean()


def test_pfan_adapter_normalises_pads_and_unpacks_the_public_ports_tuple(tmp_path):
    path = tmp_path / "sod.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(_FakeSODModel()).save(str(path))
    see = SaliencyEdgeExtractor(SaliencyConfig(saliency="pfan", pfan_weights=str(path)))  # default: sodmodel
    img = torch.rand(2, 3, 20, 27) * 2 - 1
    sal = see.saliency(img)
    assert sal.shape == (2, 1, 20, 27)
    x01 = (img + 1) / 2
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    expected = torch.sigmoid(((x01 - mean) / std).sum(1, keepdim=True))
    torch.testing.assert_close(sal, expected)
    plain = SaliencyEdgeExtractor(SaliencyConfig(saliency="pfan", pfan_weights=str(path), pfan_interface="plain"))
    with pytest.raises(InputError, match="pfan_interface"):
        plain.saliency(torch.zeros(1, 3, 32, 32))  # called raw, the port returns a tuple
