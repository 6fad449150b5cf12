"""Holm's sequentially rejective (step-down) multiple-test procedure."""

from __future__ import annotations

import numpy as np
import pandas as pd


def holm(p_values, *, alpha: float = 0.05) -> pd.DataFrame:
    """Holm (1979) adjusted p-values for a family of tests.

    With the ``m`` finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted values are ``p~_(i) = min(1, max_{j<=i} (m - j + 1) p_(j))``; a hypothesis
    is rejected when its adjusted p-value is ``<= alpha``. This controls the family-wise
    error rate in the strong sense without any assumption about dependence. NaN
    p-values (tests that could not be computed) stay NaN and do not count in ``m``.

    Parameters
    ----------
    p_values : array_like
        Unadjusted p-values, in the order of the family.
    alpha : float
        Family-wise error rate (default .05).

    Returns
    -------
    pandas.DataFrame
        Columns ``p_val`` (as given), ``p_holm`` and ``reject``, in the input order.

    References
    ----------
    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics, 6*(2), 65-70.

    Examples
    --------
    >>> from analysis.stats import holm
    >>> holm([0.01, 0.04, 0.03])["p_holm"].round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float).ravel()
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m:
        order = finite[np.argsort(p[finite], kind="stable")]
        factors = m - np.arange(m)
        stepped = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
        adjusted[order] = stepped
    reject = np.where(np.isfinite(adjusted), adjusted <= alpha, False)
    return pd.DataFrame({"p_val": p, "p_holm": adjusted, "reject": reject.astype(bool)})
