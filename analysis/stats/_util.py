"""Small shared helpers for :mod:`analysis.stats` (not public API)."""

from __future__ import annotations

import numpy as np


def paired_arrays(x, y) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``x`` and ``y`` as float arrays without the pairs that contain NaN.

    Returns the two arrays and the number of pairs dropped. Raises ``ValueError`` when
    the inputs have different lengths (a programming error, not user input).
    """
    x = np.asarray(x, dtype=float).ravel()
    y = np.asarray(y, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"paired samples need equal lengths, got {x.size} and {y.size}")
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep], int((~keep).sum())
