"""Image metrics pinned on hand-checkable images (stimuli_gen.image_metrics)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage import data
from skimage.metrics import structural_similarity

from stimuli_gen import image_metrics as im


def _noisy(img: np.ndarray, sd: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(float) + rng.normal(0, sd, img.shape), 0, 255).astype(np.uint8)


def test_entropy_constant_image_is_zero():
    assert im.image_entropy(np.full((16, 16), 137, np.uint8)) == 0.0
    assert im.image_entropy(np.zeros((5, 7, 3))) == 0.0


def test_entropy_two_level_half_half_is_one_bit():
    img = np.zeros((8, 8), np.uint8)
    img[:, 4:] = 200
    assert im.image_entropy(img) == pytest.approx(1.0, abs=1e-12)


def test_entropy_uniform_256_levels_is_eight_bits_and_four_levels_two_bits():
    assert im.image_entropy(np.tile(np.arange(256, dtype=np.uint8), (3, 1))) == pytest.approx(8.0)
    assert im.image_entropy(np.repeat(np.array([0, 60, 120, 250], np.uint8), 10)[None, :]) == pytest.approx(2.0)


def test_domain_entropy_is_mean_and_ratio_is_richer_over_poorer():
    const = np.full((4, 4), 9, np.uint8)
    half = np.zeros((4, 4), np.uint8)
    half[:2] = 255
    four = np.array([[0, 60, 120, 250]] * 4, np.uint8)
    assert im.domain_entropy([const, half]) == pytest.approx(0.5)
    assert im.domain_entropy([half, four]) == pytest.approx(1.5)
    assert im.entropy_ratio(1.5, 0.5) == pytest.approx(3.0)
    assert im.entropy_ratio(0.5, 1.5) == pytest.approx(3.0)
    assert im.entropy_ratio(2.0, 2.0) == 1.0
    with pytest.raises(ValueError):
        im.domain_entropy([])


def test_ssim_identity_is_one():
    x = data.camera()[::4, ::4]
    assert im.ssim(x, x) == pytest.approx(1.0, abs=1e-12)
    rgb = data.astronaut()[::4, ::4]
    assert im.ssim(rgb, rgb) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("sd", [5.0, 25.0, 60.0])
def test_ssim_matches_scikit_image_grey(sd):
    x = data.camera()[::2, ::2]
    y = _noisy(x, sd)
    ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255)
    assert im.ssim(x, y) == pytest.approx(ref, abs=1e-9)
    assert im.ssim(x, y) < 1.0


def test_ssim_matches_scikit_image_colour_and_decreases_with_noise():
    x = data.astronaut()[::4, ::4]
    ys = [_noisy(x, sd, seed=1) for sd in (5, 30, 80)]
    ours = [im.ssim(x, y) for y in ys]
    for y, value in zip(ys, ours):
        ref = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=2)
        assert value == pytest.approx(ref, abs=1e-9)
    assert ours[0] > ours[1] > ours[2]


def test_ssim_rejects_shape_mismatch_and_tiny_images():
    with pytest.raises(ValueError, match="same shape"):
        im.ssim(np.zeros((20, 20)), np.zeros((20, 21)))
    with pytest.raises(ValueError, match="smaller than"):
        im.ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_cosine_similarity_hand_values():
    assert im.cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(0.0)
    assert im.cosine_similarity(np.array([1.0, 1.0]), np.array([2.0, 2.0])) == pytest.approx(1.0)
    assert im.cosine_similarity(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == pytest.approx(2**-0.5)
    # uint8 images are scaled: an image and its half-intensity copy point the same way
    x = data.camera()[::8, ::8]
    assert im.cosine_similarity(x, (x // 2).astype(np.uint8)) > 0.99
    assert im.cosine_similarity(np.zeros(4), np.ones(4)) == 0.0


def test_sharpness_higher_for_sharp_than_blurred():
    sharp = data.camera()[::2, ::2].astype(float) / 255
    blurred = ndimage.gaussian_filter(sharp, 2.0)
    assert im.laplacian_variance(sharp) > 3 * im.laplacian_variance(blurred)
    assert im.tenengrad(sharp) > 2 * im.tenengrad(blurred)
    flat = np.full((10, 10), 0.3)
    assert im.laplacian_variance(flat) == pytest.approx(0.0, abs=1e-20)
    assert im.tenengrad(flat) == pytest.approx(0.0, abs=1e-20)


def test_tenengrad_on_a_step_edge_by_hand():
    # vertical step 0 -> 1: Sobel Gx = 4 on the two columns next to the step, Gy = 0
    img = np.zeros((5, 6))
    img[:, 3:] = 1.0
    # interior is 3x4; columns 1 and 2 of the interior straddle the step
    assert im.tenengrad(img) == pytest.approx(2 * 3 * 16 / 12)
    assert im.tenengrad(img, threshold=20.0) == 0.0


def test_float_images_outside_unit_range_are_rejected():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        im.image_entropy(np.array([[0.0, 2.0]]))


# The metrics are computed by scikit-image; these tests check our use of it (grey level,
# [0, 1] range, quantisation, interior pixels, kernel scale and sign) against the
# definitions written out directly in numpy.


def _correlate3_valid(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    h, w = img.shape
    return sum(kernel[i, j] * img[i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3))


def test_sharpness_equals_the_kernel_definitions_on_interior_pixels():
    rgb = data.astronaut()[::5, ::5]
    grey = rgb[..., :3].astype(float) / 255 @ np.array([0.299, 0.587, 0.114])
    lap = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], float)
    sx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
    assert im.laplacian_variance(rgb) == pytest.approx(_correlate3_valid(grey, lap).var(), rel=1e-12)
    g2 = _correlate3_valid(grey, sx) ** 2 + _correlate3_valid(grey, sx.T) ** 2
    assert im.tenengrad(rgb) == pytest.approx(g2.mean(), rel=1e-12)
    assert im.tenengrad(rgb, threshold=0.5) == pytest.approx(np.where(g2 > 0.5, g2, 0).mean(), rel=1e-12)


@pytest.mark.parametrize("levels", [256, 16])
def test_entropy_equals_the_histogram_definition(levels):
    rgb = data.astronaut()[::4, ::4]
    idx = np.minimum((im.to_grey(rgb) * levels).astype(int), levels - 1)
    p = np.bincount(idx.ravel(), minlength=levels) / idx.size
    p = p[p > 0]
    assert im.image_entropy(rgb, levels) == pytest.approx(-(p * np.log2(p)).sum(), abs=1e-12)


def test_ssim_map_covers_full_windows_only_and_averages_to_ssim():
    x = data.camera()[::8, ::8]
    y = _noisy(x, 20.0)
    m = im.ssim_map(im.as_float01(x), im.as_float01(y))
    assert m.shape == (x.shape[0] - 10, x.shape[1] - 10)
    assert float(m.mean()) == pytest.approx(im.ssim(x, y), abs=1e-12)
    rgb = data.astronaut()[::8, ::8]
    assert im.ssim_map(im.as_float01(rgb), im.as_float01(rgb)).shape == (rgb.shape[0] - 10, rgb.shape[1] - 10, 3)
