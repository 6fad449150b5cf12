"""stimuli_gen.stimulus_props: spectral-residual saliency (hand-checkable cases), low-level matching, grid filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from stimuli_gen import stimulus_props as sp


def test_impulse_has_a_flat_spectrum_so_its_saliency_is_the_gaussian_around_it():
    # |F| of a single bright pixel is 1 everywhere: log amplitude 0, spectral residual 0,
    # so exp(R + iP) = F and the inverse FFT returns the impulse; S = g * impulse^2 = g.
    img = np.zeros((64, 64), np.uint8)
    img[20, 40] = 255
    s = sp.spectral_residual(img)
    expected = np.zeros((64, 64))
    expected[20, 40] = 1.0
    expected = ndimage.gaussian_filter(expected, sp.SR_SIGMA, mode="wrap")
    expected /= expected.max()
    assert np.unravel_index(s.argmax(), s.shape) == (20, 40)
    assert s.max() == 1.0
    np.testing.assert_allclose(s, expected, atol=1e-6)


def _bars(odd, size=128, cell=16, seed=0):
    """8 x 8 vertical bars at jittered positions, one horizontal bar (a pop-out target)."""
    rs = np.random.default_rng(seed)
    img = np.zeros((size, size, 3), np.uint8)
    for i in range(size // cell):
        for j in range(size // cell):
            y, x = i * cell + int(rs.integers(0, 4)), j * cell + int(rs.integers(0, 4))
            if (i, j) == odd:
                img[y + 6:y + 9, x + 1:x + 12] = 255
            else:
                img[y + 1:y + 12, x + 6:x + 9] = 255
    return img


@pytest.mark.parametrize("odd", [(2, 5), (6, 1)])
def test_odd_one_out_is_the_most_salient_and_agrees_with_the_training_version(odd):
    img = _bars(odd)
    s = sp.spectral_residual(img)
    y, x = odd[0] * 16, odd[1] * 16
    row, col = np.unravel_index(s.argmax(), s.shape)
    assert y - 4 <= row < y + 20 and x - 4 <= col < x + 20
    torch = pytest.importorskip("torch")
    from stimuli_gen.saliency_edges import spectral_residual_saliency

    t = spectral_residual_saliency(torch.from_numpy(img).permute(2, 0, 1)[None].float() / 127.5 - 1)[0, 0].numpy()
    assert np.corrcoef(s.ravel(), t.ravel())[0, 1] > 0.9


def test_flat_image_has_zero_saliency():
    assert not sp.spectral_residual(np.full((10, 20, 3), 7, np.uint8)).any()


def test_saliency_png_contract_size_mode_and_max():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (50, 80, 3), dtype=np.uint8)
    png = sp.saliency_png(img)
    assert png.mode == "L" and png.size == (80, 50) and np.asarray(png).max() == 255


def test_luminance_and_contrast_and_matching():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:, :2] = 255
    assert sp.mean_luminance(img) == pytest.approx(0.5)
    assert sp.rms_contrast(img) == pytest.approx(0.5)
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)
    out = sp.match_lowlevel(photo, 0.3, 0.1)
    assert sp.mean_luminance(out) == pytest.approx(0.3, abs=0.003)
    assert sp.rms_contrast(out) == pytest.approx(0.1, abs=0.003)


def test_grid_ratio_and_notch_filter():
    rng = np.random.default_rng(2)
    smooth = (ndimage.gaussian_filter(rng.standard_normal((64, 64)), 3) * 400 + 128).clip(0, 255)
    img = np.repeat(smooth[..., None], 3, axis=2).astype(np.uint8)
    grid = img.copy()
    grid[::4, ::4] = np.minimum(grid[::4, ::4].astype(int) + 60, 255).astype(np.uint8)
    assert sp.grid_peak_ratio(img) < 3 < 10 < sp.grid_peak_ratio(grid)
    cleaned = sp.remove_grid(grid)
    assert sp.grid_peak_ratio(cleaned) < 3
    assert np.isnan(sp.grid_peak_ratio(img[:63]))
    np.testing.assert_array_equal(sp.remove_grid(img[:63]), img[:63])
