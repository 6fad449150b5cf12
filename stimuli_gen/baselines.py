"""Trivial image-translation baselines and distribution distances, so an evaluation number can be read.

The paper's metrics (Wei Pu 2025, Tables 1-2: domain-classification accuracy, SSIM, COSIN)
are reported next to what methods with no learning score on the same test images:

* ``identity``: the input image itself (no translation);
* ``colour transfer``: Reinhard et al. (2001), "Color transfer between images", IEEE
  CG&A 21(5): each input's per-channel mean and standard deviation in a decorrelated
  colour space are set to the target domain's (pooled over all of its training pixels).
  We use CIELAB (skimage.color.rgb2lab, D65) instead of Reinhard's l-alpha-beta, a
  common variant; no texture changes;
* ``mean image``: the pixel-wise mean of the target domain's training images (the same
  constant output for every input).

Distribution distances between a set of images and the real target domain:

* KID, Binkowski et al. (2018), "Demystifying MMD GANs", ICLR, sec. 3/app. D: the
  unbiased estimate of the squared MMD with the kernel k(x, y) = (x.y / d + 1)^3 on
  d-dimensional features, averaged over ``subsets`` random subsets of ``subset_size``
  images per set (default 100 subsets of min(1000, n) images, as their code);
* FID, Heusel et al. (2017), "GANs trained by a two time-scale update rule...", NeurIPS:
  |mu_1 - mu_2|^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)) of Gaussians fitted to the features
  (biased for small sets: compare FIDs only at equal set sizes).

Features (:func:`feature_extractor`): with a local VGG-19 weight file (torchvision layout,
the one ``[loss] vgg19_weights`` takes) the 512 channels of ``relu5_1``, averaged over
the image; without one, the fallback is the domain classifier's hand-made features at
8 x 8 (stimuli_gen.evaluate.classifier_features: RGB thumbnail + colour histograms).
Published KID/FID use Inception-v3 pool features, so neither set of numbers is
comparable with published values; they compare the sets of one evaluation with each other.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

KID_SUBSETS = 100        # Binkowski et al. 2018 reference code
KID_SUBSET_SIZE = 1000   # Binkowski et al. 2018 reference code
FALLBACK_THUMBNAIL = 8   # fallback features: 8 x 8 x 3 thumbnail + 3 x 16 histogram bins = 240 values (our choice:
                         # FID's matrix square root is cubic in the dimension)


def lab_statistics(images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of CIELAB over all pixels of ``images`` (uint8 RGB)."""
    from skimage.color import rgb2lab

    pix = np.concatenate([rgb2lab(im).reshape(-1, 3) for im in images])
    return pix.mean(axis=0), pix.std(axis=0)


def colour_transfer(rgb: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Reinhard et al. (2001) colour transfer of one uint8 RGB image to the given CIELAB mean/std."""
    from skimage.color import lab2rgb, rgb2lab

    lab = rgb2lab(rgb)
    m, s = lab.reshape(-1, 3).mean(axis=0), lab.reshape(-1, 3).std(axis=0)
    out = (lab - m) / np.maximum(s, 1e-6) * std + mean
    out[..., 0] = np.clip(out[..., 0], 0, 100)
    return np.round(np.clip(lab2rgb(out), 0, 1) * 255).astype(np.uint8)


def mean_image(images: Sequence[np.ndarray]) -> np.ndarray:
    """Pixel-wise mean of equally sized uint8 RGB images."""
    return np.round(np.mean(np.stack([im.astype(np.float64) for im in images]), axis=0)).astype(np.uint8)


def make_baselines(inputs: Sequence[tuple[str, np.ndarray]], target: Sequence[np.ndarray],
                   out: str | Path) -> dict[str, Path]:
    """Write the three baselines for ``inputs`` ((file name, uint8 RGB)) into ``out/<baseline>/``.

    ``target`` are the target domain's training images (same size as the inputs for the
    mean image). Returns {label: folder}; each folder holds one PNG per input, named by
    the input's stem, so the baselines pair with references exactly as generated images.
    """
    out = Path(out)
    mean, std = lab_statistics(target)
    avg = mean_image(target)
    makers: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "baseline: identity": lambda im: im,
        "baseline: colour transfer": lambda im: colour_transfer(im, mean, std),
        "baseline: mean image": lambda im: avg,
    }
    folders = {}
    for label, make in makers.items():
        folder = out / label.split(": ")[1].replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        for name, im in inputs:
            Image.fromarray(make(im)).save(folder / f"{Path(name).stem}.png")
        folders[label] = folder
    return folders


# --------------------------------------------------------------------------- distances


def kid(x: np.ndarray, y: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018) between feature sets; returns (mean, std) over subsets.

    Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3 on subsets of m = min(subset_size, |x|, |y|)
    rows drawn without replacement per subset (seeded).
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d = x.shape[1]
    m = min(subset_size, len(x), len(y))
    if m < 2:
        raise ValueError("KID needs at least 2 images per set")
    rs = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        a = x[rs.choice(len(x), m, replace=False)]
        b = y[rs.choice(len(y), m, replace=False)]
        kxx = (a @ a.T / d + 1) ** 3
        kyy = (b @ b.T / d + 1) ** 3
        kxy = (a @ b.T / d + 1) ** 3
        vals[i] = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                   - 2 * kxy.mean())
    return float(vals.mean()), float(vals.std())


def fid(x: np.ndarray, y: np.ndarray) -> float:
    """Frechet distance (Heusel et al. 2017) between Gaussians fitted to two feature sets."""
    from scipy import linalg

    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    mu1, mu2 = x.mean(axis=0), y.mean(axis=0)
    s1, s2 = np.atleast_2d(np.cov(x, rowvar=False)), np.atleast_2d(np.cov(y, rowvar=False))
    with warnings.catch_warnings():  # fewer images than features: singular covariances, expected
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():  # regularise (as pytorch-fid does)
            off = np.eye(len(s1)) * 1e-6
            covmean = linalg.sqrtm((s1 + off) @ (s2 + off))
    covmean = np.real(covmean)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def feature_extractor(vgg19_weights: str | Path | None) -> tuple[Callable[[np.ndarray], np.ndarray], str]:
    """The feature function for KID/FID and its description (see module docstring for the fallback)."""
    if vgg19_weights:
        import torch

        from stimuli_gen.vgg import load_vgg19

        net = load_vgg19(vgg19_weights, "relu5_1")

        def vgg(rgb: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float() / 127.5 - 1.0
            with torch.no_grad():
                return net(x).mean(dim=(2, 3))[0].double().numpy()

        return vgg, f"VGG-19 relu5_1, spatial mean ({Path(vgg19_weights).name})"
    from stimuli_gen.evaluate import classifier_features

    return (lambda rgb: classifier_features(rgb, FALLBACK_THUMBNAIL).astype(np.float64),
            "fallback: 8x8 RGB thumbnail + colour histograms, 240 values (no --feature-weights; not Inception/VGG "
            "features)")
