"""Shapiro-Wilk test of normality (used on paired differences)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def shapiro_wilk(x, *, alpha: float = 0.05) -> pd.DataFrame:
    """Shapiro & Wilk (1965) W test that ``x`` comes from a normal distribution.

    For a paired t-test the assumption concerns the paired differences, so callers pass
    ``x - y``. NaN values are dropped. SciPy's implementation (Royston, 1995, AS R94)
    is used; it needs ``n >= 3``.

    Parameters
    ----------
    x : array_like
        The sample (e.g. per-participant differences between methods).
    alpha : float
        Level at which ``normal`` is set to False (default .05).

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``W``, ``p_val``, ``normal`` (``p_val > alpha``).

    References
    ----------
    Shapiro, S. S., & Wilk, M. B. (1965). An analysis of variance test for normality
    (complete samples). *Biometrika, 52*(3-4), 591-611.
    Royston, P. (1995). Remark AS R94. *Applied Statistics, 44*(4), 547-551.

    Examples
    --------
    >>> from analysis.stats import shapiro_wilk
    >>> res = shapiro_wilk([0.1, -0.4, 0.3, 0.25, -0.05, 0.6, -0.2])
    >>> bool(res.loc[0, "normal"])
    True
    """
    x = np.asarray(x, dtype=float).ravel()
    x = x[np.isfinite(x)]
    if x.size < 3 or np.ptp(x) == 0:
        return pd.DataFrame([{"n": int(x.size), "W": np.nan, "p_val": np.nan, "normal": False}])
    res = stats.shapiro(x)
    return pd.DataFrame([{"n": int(x.size), "W": float(res.statistic), "p_val": float(res.pvalue),
                          "normal": bool(res.pvalue > alpha)}])
