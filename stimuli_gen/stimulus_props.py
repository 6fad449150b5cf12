"""Image-level properties of a stimulus that drive gaze independently of the method (numpy/scipy only, no torch).

* :func:`spectral_residual` -- the saliency map written next to every stimulus
  (``saliency_file`` in the manifest, docs/formats.md sec. 1): Hou & Zhang (2007),
  "Saliency detection: a spectral residual approach", CVPR. Grey level (BT.601 luma in
  [0, 1]) resized so that its longer side is ``SR_SIZE`` = 64 px (sec. 2.3: "the width
  (or height) of the input image [is resized] to 64 px"); A = log amplitude spectrum,
  R = A - h_3 * A with a 3 x 3 mean filter h_3 (Eq. 4; the spectrum is periodic, so the
  filter wraps), S = g * |IFFT(exp(R + iP))|^2 with a Gaussian g of sigma ``SR_SIGMA``
  = 2.5 px on the 64-px map (Eq. 5; sigma our choice, see stimuli_gen.saliency_edges).
  The training loss uses the torch version of the same steps
  (:func:`stimuli_gen.saliency_edges.spectral_residual_saliency`).
* :func:`mean_luminance`, :func:`rms_contrast` -- mean and standard deviation of the
  BT.601 luma of the 8-bit sRGB values scaled to [0, 1]; the standard deviation is the
  RMS contrast of Peli (1990), "Contrast in complex images", JOSA A 7(10), Eq. 1 (with
  intensities normalised to [0, 1]). These are pixel-value statistics, not photometric
  luminance (cd/m^2 needs the display's calibration).
* :func:`match_lowlevel` -- a gain/offset on all three channels that gives an image a
  target mean luma and RMS contrast (luma is linear in R, G, B, so the same affine map on
  the channels moves the luma by it), repeated to undo clipping at 0 and 255.
* :func:`grid_peak_ratio`, :func:`remove_grid` -- the periodic "checkerboard" pattern of
  stride-2 transposed convolutions (Odena et al. 2016, "Deconvolution and checkerboard
  artifacts", Distill) puts spectral peaks at multiples of 1/period cycles/px; the ratio
  measures them against the neighbouring spectrum, the filter replaces those bins (and the
  adjacent ones) by the mean of the surrounding ring (a notch filter).
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

SR_SIZE = 64      # Hou & Zhang (2007) sec. 2.3
SR_SIGMA = 2.5    # px on the 64-px map (our choice; see stimuli_gen.saliency_edges)
LUMA = np.array([0.299, 0.587, 0.114])   # ITU-R BT.601
GRID_PERIOD = 4   # two stride-2 transposed convolutions in G (CycleGAN ResNet generator) -> 4-px period


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma in [0, 1] of an H x W x 3 uint8 (or H x W grey) image."""
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    return x @ LUMA if x.ndim == 3 else x


def mean_luminance(rgb: np.ndarray) -> float:
    """Mean BT.601 luma in [0, 1] (see module docstring)."""
    return float(luma(rgb).mean())


def rms_contrast(rgb: np.ndarray) -> float:
    """RMS contrast: standard deviation of the luma in [0, 1] (Peli 1990, Eq. 1)."""
    return float(luma(rgb).std())


def spectral_residual(rgb: np.ndarray, size: int = SR_SIZE, sigma: float = SR_SIGMA) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of an image, at the image's size, scaled to max 1.

    Parameters
    ----------
    rgb : ndarray
        H x W x 3 uint8 RGB (or H x W grey) image.
    size : int
        Longer side of the reduced map (default: 64, Hou & Zhang 2007 sec. 2.3).
    sigma : float
        Gaussian smoothing on the reduced map in px (default: 2.5).

    Returns
    -------
    ndarray
        H x W float64 map, linear in saliency, maximum 1 (all zeros for a flat image).
    """
    g = luma(rgb)
    h, w = g.shape
    scale = size / max(h, w)
    sh, sw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(g.astype(np.float32)).resize((sw, sh), Image.Resampling.BOX),
                       dtype=np.float64)
    spec = np.fft.fft2(small)
    log_amp = np.log(np.abs(spec) + 1e-8)
    residual = log_amp - ndimage.uniform_filter(log_amp, size=3, mode="wrap")
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spec)))) ** 2
    sal = ndimage.gaussian_filter(sal, sigma, mode="wrap")
    if small.max() - small.min() < 1e-12:
        return np.zeros((h, w))
    big = np.asarray(Image.fromarray(sal.astype(np.float32)).resize((w, h), Image.Resampling.BILINEAR),
                     dtype=np.float64)
    big = np.clip(big, 0.0, None)
    top = big.max()
    return big / top if top > 0 else big


def saliency_png(rgb: np.ndarray) -> Image.Image:
    """The ``saliency_file`` image: 8-bit greyscale, the stimulus's size, linear in saliency, max 255."""
    s = spectral_residual(rgb)
    return Image.fromarray(np.round(s * 255.0).astype(np.uint8))


def match_lowlevel(rgb: np.ndarray, mean: float, rms: float, iterations: int = 4) -> np.ndarray:
    """Gain/offset on R, G, B so the luma has the given mean and RMS contrast (uint8 out).

    Each pass maps every channel value v to (v - m) * rms / s + mean (m, s the current
    luma mean and standard deviation, in [0, 1]) and clips to [0, 1]; further passes
    correct what the clipping moved. A flat image only gets its mean moved.
    """
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    for _ in range(iterations):
        y = x @ LUMA
        m, s = y.mean(), y.std()
        gain = rms / s if s > 1e-9 else 1.0
        x = np.clip((x - m) * gain + mean, 0.0, 1.0)
    return np.round(x * 255.0).astype(np.uint8)


def _grid_bins(n: int, period: int) -> np.ndarray:
    return np.arange(0, n, n // period) if n % period == 0 else np.array([0])


def grid_peak_ratio(rgb: np.ndarray, period: int = GRID_PERIOD) -> float:
    """Largest ratio of the amplitude spectrum at a grid frequency (k/period cycles/px, not DC) to its neighbours.

    The amplitude spectrum |F| of the luma (mean removed, Hann-windowed so that the image
    borders do not leak along the axes) at each bin (k H/period, l W/period), (k, l) !=
    (0, 0), divided by the median |F| of the 5 x 5 bins around it (centre excluded); the
    maximum over those bins. About 1 or less for an image without a periodic grid; an
    image size not divisible by ``period`` returns nan.
    """
    g = luma(rgb)
    h, w = g.shape
    if h % period or w % period:
        return float("nan")
    amp = np.abs(np.fft.fft2((g - g.mean()) * np.outer(np.hanning(h), np.hanning(w))))
    ratios = []
    off = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if (dy, dx) != (0, 0)]
    for ky in _grid_bins(h, period):
        for kx in _grid_bins(w, period):
            if ky == 0 and kx == 0:
                continue
            neigh = np.median([amp[(ky + dy) % h, (kx + dx) % w] for dy, dx in off])
            ratios.append(amp[ky, kx] / max(neigh, 1e-12))
    return float(max(ratios)) if ratios else float("nan")


def remove_grid(rgb: np.ndarray, period: int = GRID_PERIOD) -> np.ndarray:
    """Notch out the spectral bins of a ``period``-px grid (not DC) in each channel; uint8 out.

    The 3 x 3 bins around each grid bin (k H/period, l W/period), (k, l) != (0, 0), of each
    channel's 2-D FFT are replaced by the mean (complex) of the 16 bins of the ring around
    them (the grid of a generator is modulated by the image content, so its peak leaks into
    the adjacent bins). Needs H and W divisible by ``period`` and at least 6 bins between
    grid frequencies (H, W >= 6 period), else the image is returned unchanged; at 256 px
    and period 8 it replaces 0.9 % of the spectrum.
    """
    x = np.asarray(rgb, dtype=np.float64)
    h, w = x.shape[:2]
    if h % period or w % period or min(h, w) // period < 6:
        return np.asarray(rgb, dtype=np.uint8)
    spec = np.fft.fft2(x, axes=(0, 1))
    ring = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if max(abs(dy), abs(dx)) == 2]
    new = spec.copy()
    for ky in _grid_bins(h, period):
        for kx in _grid_bins(w, period):
            if ky == 0 and kx == 0:
                continue
            fill = np.mean([spec[(ky + dy) % h, (kx + dx) % w] for dy, dx in ring], axis=0)
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    new[(ky + dy) % h, (kx + dx) % w] = fill
    out = np.real(np.fft.ifft2(new, axes=(0, 1)))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
