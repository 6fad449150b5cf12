"""Holm's sequentially rejective (step-down) multiple-test procedure."""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests


def holm(p_values, *, alpha: float = 0.05) -> pd.DataFrame:
    """Holm (1979) adjusted p-values for a family of tests.

    With the ``m`` finite p-values sorted ascending, ``p_(1) <= ... <= p_(m)``, the
    adjusted values are ``p~_(i) = min(1, max_{j<=i} (m - j + 1) p_(j))``; a hypothesis
    is rejected when its adjusted p-value is ``<= alpha``. This controls the family-wise
    error rate in the strong sense without any assumption about dependence. NaN
    p-values (tests that could not be computed) stay NaN and do not count in ``m``.
    The adjustment itself is statsmodels' ``multipletests(method="holm")``
    (Seabold & Perktold, 2010); this function adds the NaN handling and the tidy output.

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
    Seabold, S., & Perktold, J. (2010). statsmodels: Econometric and statistical modeling
    with Python. *Proceedings of the 9th Python in Science Conference*, 92-96.

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
    reject = np.zeros(p.shape, dtype=bool)
    finite = np.isfinite(p)
    if finite.any():
        rej, p_adj, _, _ = multipletests(p[finite], alpha=alpha, method="holm")
        adjusted[finite] = p_adj
        reject[finite] = rej
    return pd.DataFrame({"p_val": p, "p_holm": adjusted, "reject": reject})
