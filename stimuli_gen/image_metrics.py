"""Image-quality and domain metrics used to evaluate the generators (Wei Pu 2025, Tables 1-2, Fig. 3).

Every function works on numpy arrays and is vectorised (no Python loop over pixels).
Images are accepted as ``uint8`` (0..255) or float arrays in ``[0, 1]``, shaped
``(H, W)`` (grey) or ``(H, W, C)`` (colour, channels last). They are converted to float
in ``[0, 1]`` by :func:`as_float01`; colour images are reduced to grey level with the
ITU-R BT.601 luma weights where a metric is defined on grey levels.

Metrics and their sources
-------------------------
- :func:`ssim` -- structural similarity, Wang, Bovik, Sheikh & Simoncelli (2004),
  "Image quality assessment: from error visibility to structural similarity",
  IEEE TIP 13(4):600-612, Eq. (13) with an 11x11 circular-symmetric Gaussian window,
  sigma = 1.5, K1 = 0.01, K2 = 0.03 (Sec. III-C of that paper). Used in Wei Pu (2025),
  Table 2 ("SSIM").
- :func:`cosine_similarity` -- cosine of the angle between two images seen as vectors
  (Salton & McGill 1983, *Introduction to Modern Information Retrieval*, the vector
  space model). Wei Pu (2025), Table 2 reports it as "COSIN" without a formula; we use
  the flattened pixel intensities in ``[0, 1]`` (or any feature vectors passed in).
- :func:`laplacian_variance` -- variance of the Laplacian, Pech-Pacheco, Cristobal,
  Chamorro-Martinez & Fernandez-Valdivia (2000), "Diatom autofocusing in brightfield
  microscopy: a comparative study", ICPR 2000, vol. 3, pp. 314-317.
- :func:`tenengrad` -- Tenengrad focus measure, Tenenbaum (1970), *Accommodation in
  computer vision*, PhD thesis, Stanford; as formulated by Krotkov (1987), "Focusing",
  IJCV 1(3):223-237: mean of the squared Sobel gradient magnitude above a threshold.
  Wei Pu (2025), Fig. 3 ("the clarity of the generated image") reports sharpness
  without naming the measure, so we report both.
- :func:`image_entropy`, :func:`domain_entropy`, :func:`entropy_ratio` -- Shannon
  (1948) entropy of the grey-level histogram, averaged over a domain's images and
  compared between two domains, Wei Pu (2025), Sec. "information asymmetry" (the
  domain-entropy and entropy-ratio equations, after ref. [30]).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np

log = logging.getLogger(__name__)

#: ITU-R BT.601 luma weights used to turn RGB into a grey level.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

#: SSIM defaults, Wang et al. (2004), Sec. III-C.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def as_float01(image: np.ndarray) -> np.ndarray:
    """Return ``image`` as float64 in ``[0, 1]``.

    ``uint8`` input is divided by 255, ``uint16`` by 65535, ``bool`` becomes 0/1, and
    float input must already lie in ``[0, 1]`` (a ``ValueError`` says otherwise).
    """
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float64) / 65535.0
    if arr.dtype == bool:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float64)
        if out.size and (np.nanmin(out) < -1e-9 or np.nanmax(out) > 1 + 1e-9):
            raise ValueError(
                f"float image values must lie in [0, 1], got [{np.nanmin(out):.3g}, {np.nanmax(out):.3g}]"
            )
        return np.clip(out, 0.0, 1.0)
    raise ValueError(f"unsupported image dtype {arr.dtype}; expected uint8, uint16, bool or float in [0, 1]")


def to_grey(image: np.ndarray) -> np.ndarray:
    """Grey level in ``[0, 1]`` (ITU-R BT.601 luma for RGB; alpha is ignored)."""
    arr = as_float01(image)
    if arr.ndim == 2:
        return arr
    if arr.ndim == 3 and arr.shape[2] == 1:
        return arr[..., 0]
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        return arr[..., :3] @ LUMA_WEIGHTS
    raise ValueError(f"expected an (H, W) or (H, W, C) image with C in 1/3/4, got shape {arr.shape}")


# --------------------------------------------------------------------------- entropy


def image_entropy(image: np.ndarray, levels: int = 256) -> float:
    """Shannon entropy (bits) of an image's grey-level histogram.

    ``H(I) = -sum_k p_k log2 p_k`` where ``p_k`` is the fraction of pixels at grey
    level ``k`` of ``levels`` equal-width levels over ``[0, 1]`` (Shannon 1948; the
    per-image term of the domain-entropy equation in Wei Pu 2025). A constant image
    has entropy 0; a two-level half/half image has entropy 1 bit; the maximum is
    ``log2(levels)``.

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``; colour is reduced to luma (BT.601) first.
    levels : int, default 256
        Number of grey levels (256 = 8-bit images).
    """
    if levels < 2:
        raise ValueError("levels must be >= 2")
    grey = to_grey(image)
    if grey.size == 0:
        raise ValueError("empty image")
    # Level k covers [k/levels, (k+1)/levels); for 8-bit grey input this is the pixel value.
    idx = np.minimum((grey * levels).astype(np.int64), levels - 1)
    counts = np.bincount(idx.ravel(), minlength=levels)
    p = counts[counts > 0] / grey.size
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0 turns -0.0 into 0.0


def domain_entropy(images: Iterable[np.ndarray], levels: int = 256) -> float:
    """Mean grey-level entropy of a domain's images (Wei Pu 2025, domain-entropy equation).

    ``H(D) = (1 / N) sum_i H(I_i)`` over the ``N`` images of domain ``D``, with ``H``
    from :func:`image_entropy`.
    """
    values = [image_entropy(im, levels) for im in images]
    if not values:
        raise ValueError("domain_entropy needs at least one image")
    return float(np.mean(values))


def entropy_ratio(h_a: float, h_b: float) -> float:
    """Information-entropy ratio of two domains (Wei Pu 2025, entropy-ratio equation).

    The paper's equation is lost in the text we have; the prose says the ratio is
    *larger* for asymmetric tasks than for symmetric ones, so we report the entropy of
    the richer domain over that of the poorer one, ``max(H_A, H_B) / min(H_A, H_B)``
    (>= 1; 1 means equal information richness). The directional ``H_A / H_B`` is
    reported next to it by :mod:`stimuli_gen.evaluate`.
    """
    lo, hi = sorted((float(h_a), float(h_b)))
    if lo < 0:
        raise ValueError("entropies must be non-negative")
    if lo == 0:
        return float("inf") if hi > 0 else 1.0
    return hi / lo


# --------------------------------------------------------------------------- SSIM


def gaussian_window_1d(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian weights; the 2-D SSIM window is their outer product."""
    if size < 1 or size % 2 == 0:
        raise ValueError("window size must be a positive odd integer")
    x = np.arange(size) - (size - 1) / 2.0
    w = np.exp(-(x**2) / (2.0 * sigma**2))
    return w / w.sum()


def _filter_valid(img: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D (or channels-last 3-D) array with ``w``."""
    k = w.size
    h, wd = img.shape[:2]
    rows = sum(w[i] * img[i : h - k + 1 + i] for i in range(k))
    return sum(w[j] * rows[:, j : wd - k + 1 + j] for j in range(k))


def ssim_map(x: np.ndarray, y: np.ndarray, data_range: float = 1.0, window: int = SSIM_WINDOW,
             sigma: float = SSIM_SIGMA, k1: float = SSIM_K1, k2: float = SSIM_K2) -> np.ndarray:
    """Local SSIM index map (Wang et al. 2004, Eq. 13) over every full window position.

    Local means, variances and covariance are Gaussian-weighted (Eq. 14-16), the window
    is ``window x window`` with standard deviation ``sigma``; ``C1 = (k1 L)^2`` and
    ``C2 = (k2 L)^2`` with ``L = data_range``. Only windows that lie fully inside the
    image are used, so the map is ``(H - window + 1, W - window + 1[, C])``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of the same shape, got {x.shape} and {y.shape}")
    if x.shape[0] < window or x.shape[1] < window:
        raise ValueError(f"images ({x.shape[0]}x{x.shape[1]}) are smaller than the {window}x{window} SSIM window")
    w = gaussian_window_1d(window, sigma)
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    mu_x = _filter_valid(x, w)
    mu_y = _filter_valid(y, w)
    sxx = _filter_valid(x * x, w) - mu_x**2
    syy = _filter_valid(y * y, w) - mu_y**2
    sxy = _filter_valid(x * y, w) - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return num / den


def ssim(x: np.ndarray, y: np.ndarray, **kwargs) -> float:
    """Mean SSIM (MSSIM, Wang et al. 2004, Eq. 17) of two images.

    Images are converted to float in ``[0, 1]`` (``data_range`` 1). Colour images are
    compared per channel and the channel means averaged (the usual convention, e.g.
    scikit-image's ``channel_axis``). Defaults: 11x11 Gaussian window, sigma 1.5,
    K1 0.01, K2 0.03 (Wang et al. 2004, Sec. III-C). ``ssim(x, x) == 1``.

    Parameters
    ----------
    x, y : ndarray
        Same-shaped ``(H, W)`` or ``(H, W, C)`` images.
    **kwargs
        ``window``, ``sigma``, ``k1``, ``k2`` passed to :func:`ssim_map`.
    """
    fx, fy = as_float01(x), as_float01(y)
    return float(ssim_map(fx, fy, data_range=1.0, **kwargs).mean())


# --------------------------------------------------------------------------- cosine


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity ("COSIN", Wei Pu 2025, Table 2) between two images or feature vectors.

    ``cos(a, b) = <a, b> / (||a|| ||b||)`` with ``a`` and ``b`` flattened (vector-space
    model, Salton & McGill 1983). Images (integer dtypes) are first scaled to
    ``[0, 1]``; float arrays are used as given, so feature vectors can be compared too.
    Two all-zero inputs give 1 (identical), one all-zero input gives 0.
    """
    a_arr, b_arr = np.asarray(a), np.asarray(b)
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"cosine similarity needs equal shapes, got {a_arr.shape} and {b_arr.shape}")
    if not np.issubdtype(a_arr.dtype, np.floating):
        a_arr = as_float01(a_arr)
    if not np.issubdtype(b_arr.dtype, np.floating):
        b_arr = as_float01(b_arr)
    va = a_arr.astype(np.float64).ravel()
    vb = b_arr.astype(np.float64).ravel()
    na, nb = np.linalg.norm(va), np.linalg.norm(vb)
    if na == 0 and nb == 0:
        return 1.0
    if na == 0 or nb == 0:
        return 0.0
    return float(np.clip(va @ vb / (na * nb), -1.0, 1.0))


# --------------------------------------------------------------------------- sharpness


def _correlate3(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """'valid' 3x3 correlation, vectorised as a sum of shifted slices."""
    h, w = img.shape
    out = np.zeros((h - 2, w - 2))
    for i in range(3):
        for j in range(3):
            if kernel[i, j]:
                out += kernel[i, j] * img[i : h - 2 + i, j : w - 2 + j]
    return out


LAPLACIAN_KERNEL = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float64)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)
SOBEL_Y = SOBEL_X.T


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (Pech-Pacheco et al. 2000).

    The 4-neighbour Laplacian kernel ``[[0,1,0],[1,-4,1],[0,1,0]]`` is applied to the
    grey level in ``[0, 1]`` over interior pixels, and the variance of the response is
    returned. Higher means sharper; a constant image gives 0.
    """
    grey = to_grey(image)
    if min(grey.shape) < 3:
        raise ValueError("image must be at least 3x3 pixels")
    return float(_correlate3(grey, LAPLACIAN_KERNEL).var())


def tenengrad(image: np.ndarray, threshold: float = 0.0) -> float:
    """Tenengrad focus measure (Tenenbaum 1970; Krotkov 1987).

    Mean over interior pixels of ``Gx^2 + Gy^2`` where ``Gx``, ``Gy`` are the 3x3 Sobel
    responses of the grey level in ``[0, 1]``; squared magnitudes not above
    ``threshold`` (default 0, i.e. no threshold, as in Krotkov's unthresholded form)
    count as 0. Higher means sharper.
    """
    grey = to_grey(image)
    if min(grey.shape) < 3:
        raise ValueError("image must be at least 3x3 pixels")
    g2 = _correlate3(grey, SOBEL_X) ** 2 + _correlate3(grey, SOBEL_Y) ** 2
    return float(np.where(g2 > threshold, g2, 0.0).mean())
