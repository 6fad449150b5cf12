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


def blas_single_thread():
    """Context manager limiting BLAS to one thread while fitting small mixed models.

    The model matrices here are small (about 900 x 180); multi-threaded OpenBLAS only
    adds synchronisation cost and, on a busy machine, oversubscribes the cores (a
    tenfold slowdown was measured). Uses :mod:`threadpoolctl` when installed (it comes
    with scikit-learn, a pingouin dependency); otherwise does nothing.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
