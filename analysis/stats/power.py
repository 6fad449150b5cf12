"""Sensitivity analysis: the smallest standardised effect a paired t-test can detect."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats


def _power(dz: float, n: int, alpha: float) -> float:
    df = n - 1
    tcrit = stats.t.ppf(1.0 - alpha / 2.0, df)
    ncp = dz * np.sqrt(n)
    upper = 1.0 - stats.nct.cdf(tcrit, df, ncp)
    lower = stats.nct.cdf(-tcrit, df, ncp)
    return float(np.nan_to_num(upper, nan=1.0) + np.nan_to_num(lower, nan=0.0))


def sensitivity_dz(n: int, *, alpha: float = 0.05, power: float = 0.80) -> pd.DataFrame:
    """Smallest Cohen's d_z a two-sided paired t-test detects with the given power.

    Power is computed exactly from the noncentral t distribution with ``df = n - 1``
    and noncentrality ``d_z * sqrt(n)`` (Cohen, 1988, ch. 2; Faul et al., 2007,
    G*Power "sensitivity" analysis), counting both rejection tails, and solved for
    ``d_z`` with Brent's method. The result is cross-checked against
    :class:`statsmodels.stats.power.TTestPower` (column ``d_z_statsmodels``).

    Parameters
    ----------
    n : int
        Number of participants (pairs), ``>= 3``.
    alpha : float
        Two-sided significance level (default .05).
    power : float
        Target power (default .80, Cohen, 1988).

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``alpha``, ``power``, ``d_z``, ``d_z_statsmodels``.

    References
    ----------
    Cohen, J. (1988). *Statistical power analysis for the behavioral sciences* (2nd ed.).
    Erlbaum.
    Faul, F., Erdfelder, E., Lang, A.-G., & Buchner, A. (2007). G*Power 3. *Behavior
    Research Methods, 39*(2), 175-191.

    Examples
    --------
    >>> from analysis.stats import sensitivity_dz
    >>> round(float(sensitivity_dz(50).loc[0, "d_z"]), 3)
    0.404
    """
    if n < 3:
        raise ValueError("n must be at least 3")
    if not (0 < alpha < 1 and 0 < power < 1):
        raise ValueError("alpha and power must lie in (0, 1)")
    hi = 1.0
    while _power(hi, n, alpha) < power:  # bracket the root (power increases with d_z)
        hi *= 2.0
        if hi > 1e3:
            raise ValueError("no detectable effect size below d_z = 1000")
    dz = float(optimize.brentq(lambda d: _power(d, n, alpha) - power, 1e-9, hi, xtol=1e-12))
    from statsmodels.stats.power import TTestPower

    dz_sm = float(TTestPower().solve_power(effect_size=None, nobs=n, alpha=alpha, power=power,
                                           alternative="two-sided"))
    return pd.DataFrame([{"n": int(n), "alpha": alpha, "power": power, "d_z": dz, "d_z_statsmodels": dz_sm}])
