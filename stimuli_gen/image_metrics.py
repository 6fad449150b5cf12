"""Image-quality and domain metrics used to evaluate the generators (Wei Pu 2025, Tables 1-2, Fig. 3).

Every function works on numpy arrays and is vectorised (no Python loop over pixels).
Images are accepted as ``uint8`` (0..255) or float arrays in ``[0, 1]``, shaped
``(H, W)`` (grey) or ``(H, W, C)`` (colour, channels last). They are converted to float
in ``[0, 1]`` by :func:`as_float01`; colour images are reduced to grey level with the
ITU-R BT.601 luma weights where a metric is defined on grey levels.

The published measures are computed by scikit-image (van der Walt et al. 2014,
"scikit-image: image processing in Python", PeerJ 2:e453; the ``gan`` extra):
``skimage.metrics.structural_similarity`` for SSIM, ``skimage.measure.shannon_entropy``
for the grey-level entropy and ``skimage.filters.laplace`` / ``skimage.filters.sobel``
for the sharpness measures. This module fixes the conventions the paper needs (grey
level, ``[0, 1]`` range, levels, window, interior pixels) and keeps the citations.

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

#: SSIM defaults, Wang et al. (2004), Sec. III-C (the 11x11 window is the Gaussian
#: truncated at 3.5 sigma, scikit-image's ``structural_similarity``).
SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
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
    ``log2(levels)``. The entropy of the quantised levels is scikit-image's
    ``shannon_entropy`` (base 2).

    Parameters
    ----------
    image : ndarray
        ``(H, W)`` or ``(H, W, C)``; colour is reduced to luma (BT.601) first.
    levels : int, default 256
        Number of grey levels (256 = 8-bit images).
    """
    if levels < 2:
        raise ValueError("levels must be >= 2")
    from skimage.measure import shannon_entropy

    grey = to_grey(image)
    if grey.size == 0:
        raise ValueError("empty image")
    # Level k covers [k/levels, (k+1)/levels); for 8-bit grey input this is the pixel value.
    idx = np.minimum((grey * levels).astype(np.int64), levels - 1)
    return float(shannon_entropy(idx, base=2)) + 0.0  # + 0.0 turns -0.0 into 0.0


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


def _ssim_skimage(x: np.ndarray, y: np.ndarray, sigma: float, k1: float, k2: float):
    """scikit-image's SSIM of two float ``[0, 1]`` images: (mean, full map, window)."""
    from skimage.metrics import structural_similarity

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"SSIM needs images of the same shape, got {x.shape} and {y.shape}")
    if x.ndim not in (2, 3):
        raise ValueError(f"expected an (H, W) or (H, W, C) image, got shape {x.shape}")
    # scikit-image truncates the Gaussian at 3.5 sigma: 11x11 for sigma = 1.5.
    window = 2 * int(SSIM_TRUNCATE * sigma + 0.5) + 1
    if x.shape[0] < window or x.shape[1] < window:
        raise ValueError(f"images ({x.shape[0]}x{x.shape[1]}) are smaller than the {window}x{window} SSIM window")
    mean, full = structural_similarity(x, y, data_range=1.0, gaussian_weights=True, sigma=sigma,
                                       use_sample_covariance=False, K1=k1, K2=k2, full=True,
                                       channel_axis=2 if x.ndim == 3 else None)
    return float(mean), full, window


def ssim_map(x: np.ndarray, y: np.ndarray, sigma: float = SSIM_SIGMA, k1: float = SSIM_K1,
             k2: float = SSIM_K2) -> np.ndarray:
    """Local SSIM index map (Wang et al. 2004, Eq. 13) over every full window position.

    Local means, variances and covariance are Gaussian-weighted (Eq. 14-16) with standard
    deviation ``sigma`` (default 1.5) over a window of ``2 round(3.5 sigma) + 1`` pixels
    (11x11 by default, Sec. III-C); ``C1 = (k1 L)^2`` and ``C2 = (k2 L)^2`` with ``L = 1``
    (default k1 0.01, k2 0.03). Computed by ``skimage.metrics.structural_similarity``;
    only windows that lie fully inside the image are kept, so the map is
    ``(H - window + 1, W - window + 1[, C])``. Inputs must be float in ``[0, 1]``.
    """
    _, full, window = _ssim_skimage(x, y, sigma, k1, k2)
    pad = (window - 1) // 2
    return full[pad : full.shape[0] - pad, pad : full.shape[1] - pad]


def ssim(x: np.ndarray, y: np.ndarray, **kwargs) -> float:
    """Mean SSIM (MSSIM, Wang et al. 2004, Eq. 17) of two images.

    Images are converted to float in ``[0, 1]`` (``data_range`` 1). Colour images are
    compared per channel and the channel means averaged (scikit-image's
    ``channel_axis``). Defaults: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03
    (Wang et al. 2004, Sec. III-C), sample covariance off (the paper's Eq. 14-16).
    Computed by ``skimage.metrics.structural_similarity``. ``ssim(x, x) == 1``.

    Parameters
    ----------
    x, y : ndarray
        Same-shaped ``(H, W)`` or ``(H, W, C)`` images.
    **kwargs
        ``sigma``, ``k1``, ``k2`` as in :func:`ssim_map`.

    Returns
    -------
    float
        The mean of the local SSIM map over full windows.
    """
    fx, fy = as_float01(x), as_float01(y)
    return _ssim_skimage(fx, fy, kwargs.get("sigma", SSIM_SIGMA), kwargs.get("k1", SSIM_K1),
                         kwargs.get("k2", SSIM_K2))[0]


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


def laplacian_variance(image: np.ndarray) -> float:
    """Variance of the Laplacian of the grey image (Pech-Pacheco et al. 2000).

    The 4-neighbour Laplacian kernel ``[[0,1,0],[1,-4,1],[0,1,0]]`` is applied to the
    grey level in ``[0, 1]`` over interior pixels (``skimage.filters.laplace``, whose
    kernel has the opposite sign, which the variance ignores), and the variance of the
    response is returned. Higher means sharper; a constant image gives 0.
    """
    from skimage.filters import laplace

    grey = to_grey(image)
    if min(grey.shape) < 3:
        raise ValueError("image must be at least 3x3 pixels")
    return float(laplace(grey, ksize=3)[1:-1, 1:-1].var())


def tenengrad(image: np.ndarray, threshold: float = 0.0) -> float:
    """Tenengrad focus measure (Tenenbaum 1970; Krotkov 1987).

    Mean over interior pixels of ``Gx^2 + Gy^2`` where ``Gx``, ``Gy`` are the 3x3 Sobel
    responses (``skimage.filters.sobel`` times 4) of the grey level in ``[0, 1]``; squared magnitudes not above
    ``threshold`` (default 0, i.e. no threshold, as in Krotkov's unthresholded form)
    count as 0. Higher means sharper.
    """
    from skimage.filters import sobel

    grey = to_grey(image)
    if min(grey.shape) < 3:
        raise ValueError("image must be at least 3x3 pixels")
    # scikit-image's Sobel is normalised by 1/4 (smoothing weights [1, 2, 1] / 4): x 4 gives
    # the classic [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]] response Krotkov (1987) uses.
    gx = 4.0 * sobel(grey, axis=1)[1:-1, 1:-1]
    gy = 4.0 * sobel(grey, axis=0)[1:-1, 1:-1]
    g2 = gx**2 + gy**2
    return float(np.where(g2 > threshold, g2, 0.0).mean())
