"""min F' (Clark, 1973): a test that generalises over participants and items at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def min_f_prime(f1: float, df1: float, f2: float, df2: float) -> pd.DataFrame:
    """Clark's (1973) min F' from a by-participant F1 and a by-items F2 with 1 numerator df.

    ``min F' = F1 F2 / (F1 + F2)`` with numerator df 1 and denominator df
    ``(F1 + F2)^2 / (F1^2 / df2 + F2^2 / df1)``, where ``df1`` and ``df2`` are the error
    df of F1 and F2 (Clark, 1973, eq. 6; Raaijmakers, Schrijnemakers & Gremmen, 1999).
    For a paired t-test ``F = t^2``. min F' is a lower bound of the quasi-F ratio F' that
    treats participants and items as random, so its test is conservative.

    Parameters
    ----------
    f1, df1 : float
        By-participant F (e.g. the squared paired t over participant means) and its error df.
    f2, df2 : float
        By-items F (the squared paired t over artwork means) and its error df.

    Returns
    -------
    pandas.DataFrame
        One row: ``F1``, ``df1``, ``F2``, ``df2``, ``min_F``, ``df_num`` (1), ``df_den``,
        ``p_value``. All NaN when an input is not finite or an F is not positive.

    References
    ----------
    Clark, H. H. (1973). The language-as-fixed-effect fallacy: A critique of language
    statistics in psychological research. *J. Verbal Learn. Verbal Behav., 12*, 335-359.
    Raaijmakers, J. G. W., Schrijnemakers, J. M. C., & Gremmen, F. (1999). How to deal
    with "the language-as-fixed-effect fallacy". *J. Mem. Lang., 41*, 416-426.

    Examples
    --------
    >>> from analysis.stats import min_f_prime
    >>> r = min_f_prime(26.2 ** 2, 47, 3.08 ** 2, 8).iloc[0]
    >>> round(float(r["min_F"]), 2), round(float(r["df_den"]), 1)
    (9.36, 8.2)
    """
    vals = np.array([f1, df1, f2, df2], dtype=float)
    row = {"F1": vals[0], "df1": vals[1], "F2": vals[2], "df2": vals[3], "min_F": np.nan, "df_num": 1,
           "df_den": np.nan, "p_value": np.nan}
    if np.all(np.isfinite(vals)) and vals[0] > 0 and vals[2] > 0 and vals[1] > 0 and vals[3] > 0:
        F1, d1, F2, d2 = vals
        mf = F1 * F2 / (F1 + F2)
        dd = (F1 + F2) ** 2 / (F1 ** 2 / d2 + F2 ** 2 / d1)
        row.update(min_F=float(mf), df_den=float(dd), p_value=float(stats.f.sf(mf, 1, dd)))
    return pd.DataFrame([row])
