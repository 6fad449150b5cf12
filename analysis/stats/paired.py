"""Paired-samples t-test with Cohen's d_z and its noncentral-t confidence interval."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stats._util import paired_arrays


def _nct_ci(t_obs: float, df: int, confidence: float) -> tuple[float, float]:
    """Confidence interval for the noncentrality parameter by inverting the noncentral t.

    Finds ``ncp_lo``/``ncp_hi`` with ``P(T <= t_obs | ncp_lo) = 1 - a/2`` and
    ``P(T <= t_obs | ncp_hi) = a/2`` (Steiger & Fouladi, 1997, "pivoting" the CDF).
    """
    a = 1.0 - confidence

    def root(target: float) -> float:
        def f(ncp: float) -> float:
            cdf = stats.nct.cdf(t_obs, df, ncp)
            if not np.isfinite(cdf):  # far tails: SciPy returns NaN where the CDF is 0 or 1
                cdf = 1.0 if ncp < t_obs else 0.0
            return float(cdf) - target

        lo, hi = t_obs - 10.0, t_obs + 10.0
        while f(lo) < 0:
            lo -= 10.0
        while f(hi) > 0:
            hi += 10.0
        return float(optimize.brentq(f, lo, hi, xtol=1e-12))

    return root(1.0 - a / 2.0), root(a / 2.0)


def paired_ttest(x, y, *, confidence: float = 0.95) -> pd.DataFrame:
    """Paired-samples (dependent) t-test of ``x - y`` against zero.

    Pairs containing NaN are dropped (their number is reported in ``n_dropped``);
    callers that need listwise deletion across several tests drop participants first
    (see :func:`analysis.aggregate.complete_participants`).

    Parameters
    ----------
    x, y : array_like
        Paired observations, one value per participant (same order).
    confidence : float
        Level of both confidence intervals (default 0.95).

    Returns
    -------
    pandas.DataFrame
        One row: ``n``, ``n_dropped``, ``mean_x``, ``mean_y``, ``mean_diff``,
        ``sd_diff``, ``ci_low``/``ci_high`` (CI of the mean difference), ``t``,
        ``df``, ``p_val`` (two-sided), ``d_z``, ``d_z_ci_low``/``d_z_ci_high``.

    Notes
    -----
    ``t = mean(d) / (sd(d) / sqrt(n))`` with ``df = n - 1`` (Student, 1908; identical to
    :func:`scipy.stats.ttest_rel`). The standardised effect is Cohen's d_z
    ``= mean(d) / sd(d) = t / sqrt(n)`` (Cohen, 1988, eq. 2.3.5; Lakens, 2013). Its CI
    inverts the noncentral t distribution: find the noncentrality parameters whose
    distribution puts ``t`` at the 97.5th and 2.5th percentile and divide them by
    ``sqrt(n)`` (Steiger & Fouladi, 1997; Cumming & Finch, 2001; Algina & Keselman,
    2003). This is **not** pingouin's paired ``cohen_d``, which is d_av (mean
    difference over the average of the two SDs).

    References
    ----------
    Algina, J., & Keselman, H. J. (2003). Approximate confidence intervals for effect
    sizes. *Educational and Psychological Measurement, 63*(4), 537-553.
    Cumming, G., & Finch, S. (2001). A primer on the understanding, use, and calculation
    of confidence intervals that are based on central and noncentral distributions.
    *Educational and Psychological Measurement, 61*(4), 532-574.
    Lakens, D. (2013). Calculating and reporting effect sizes to facilitate cumulative
    science. *Frontiers in Psychology, 4*, 863.
    Steiger, J. H., & Fouladi, R. T. (1997). Noncentrality interval estimation and the
    evaluation of statistical models. In *What if there were no significance tests?*
    (pp. 221-257). Erlbaum.

    Examples
    --------
    >>> from analysis.stats import paired_ttest
    >>> res = paired_ttest([5.0, 6.0, 7.0, 9.0], [4.0, 4.5, 6.0, 6.0])
    >>> round(float(res.loc[0, "t"]), 3), int(res.loc[0, "df"])
    (3.434, 3)
    >>> round(float(res.loc[0, "d_z"]), 3)
    1.717
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    x, y, dropped = paired_arrays(x, y)
    n = x.size
    d = x - y
    row: dict[str, float | int] = {"n": n, "n_dropped": dropped,
                                   "mean_x": float(np.mean(x)) if n else np.nan,
                                   "mean_y": float(np.mean(y)) if n else np.nan}
    nan_rest = dict.fromkeys(["mean_diff", "sd_diff", "ci_low", "ci_high", "t", "df", "p_val",
                              "d_z", "d_z_ci_low", "d_z_ci_high"], np.nan)
    if n < 2:
        row.update(nan_rest)
        return pd.DataFrame([row])
    mean_d = float(np.mean(d))
    sd_d = float(np.std(d, ddof=1))
    df = n - 1
    se = sd_d / np.sqrt(n)
    tcrit = float(stats.t.ppf(0.5 + confidence / 2.0, df))
    row.update(mean_diff=mean_d, sd_diff=sd_d, ci_low=mean_d - tcrit * se, ci_high=mean_d + tcrit * se)
    if sd_d == 0.0:
        row.update(t=np.nan, df=df, p_val=np.nan, d_z=np.nan, d_z_ci_low=np.nan, d_z_ci_high=np.nan)
        return pd.DataFrame([row])
    t = mean_d / se
    p = float(2.0 * stats.t.sf(abs(t), df))
    lo, hi = _nct_ci(t, df, confidence)
    row.update(t=float(t), df=df, p_val=p, d_z=float(t / np.sqrt(n)),
               d_z_ci_low=lo / np.sqrt(n), d_z_ci_high=hi / np.sqrt(n))
    return pd.DataFrame([row])
