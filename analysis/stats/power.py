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

    This is not the same computation as :func:`crossed_power`, so neither is derived
    from the other: here the unit of analysis is the participant (one mean difference per
    participant, artworks averaged away), the only random factor is the participant, df
    is ``n - 1`` and power has a closed form; :func:`crossed_power` treats artworks as a
    second random factor (by-artwork method slopes), has Satterthwaite df that depend on
    the data, and is simulated. Even without artwork slope variance the tests differ
    (Satterthwaite df and pooling of mean squares), so one cannot stand in for the
    other. This one answers the paper's own analysis (paired t-tests over
    n = 50, Wei Pu 2025); :func:`crossed_power` answers the crossed model.

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


def _pooled_method_test(beta_hat, ss_p, df_p, ss_a, df_a, ss_e, df_e, n_p, n_a):
    """t, df of the method effect from the difference-stratum sums of squares (vectorised).

    REML in a balanced design equals the ANOVA estimator while every variance estimate is
    positive; a component estimated below zero is set to zero and its sum of squares
    pooled into the residual (Searle, Casella & McCulloch, 1992, ch. 4), at most twice.
    """
    ms_p, ms_a = ss_p / df_p, ss_a / df_a
    act_p = np.ones_like(ms_p, dtype=bool)
    act_a = np.ones_like(ms_a, dtype=bool)
    for _ in range(3):
        sse = ss_e + np.where(act_p, 0.0, ss_p) + np.where(act_a, 0.0, ss_a)
        dfe = df_e + np.where(act_p, 0, df_p) + np.where(act_a, 0, df_a)
        ms_e = sse / dfe
        act_p = act_p & (ms_p > ms_e)
        act_a = act_a & (ms_a > ms_e)
    sse = ss_e + np.where(act_p, 0.0, ss_p) + np.where(act_a, 0.0, ss_a)
    dfe = df_e + np.where(act_p, 0, df_p) + np.where(act_a, 0, df_a)
    ms_e = sse / dfe
    c_e = 1.0 - act_p.astype(float) - act_a.astype(float)
    v = (np.where(act_p, ms_p, 0.0) + np.where(act_a, ms_a, 0.0) + c_e * ms_e)
    den = (np.where(act_p, ms_p, 0.0) ** 2 / df_p + np.where(act_a, ms_a, 0.0) ** 2 / df_a
           + (c_e * ms_e) ** 2 / dfe)
    t = beta_hat / np.sqrt(v / (n_p * n_a))
    return t, v ** 2 / den


def balanced_method_test(diff: np.ndarray, total: np.ndarray, artwork_category) -> pd.DataFrame:
    """Satterthwaite t test of the method effect in a balanced crossed design, from the data.

    The model is ``y ~ method * category + (1 + method || participant) + (1 + method ||
    artwork)`` (method coded +-0.5) with one trial per participant, artwork and method.
    In a balanced design its REML fit separates into the method differences ``d`` (ours -
    pix2pix) and the sums ``s`` (ours + pix2pix) of each participant x artwork, and the
    t test of the method effect is ``mean(d) / sqrt((MS_P + MS_A - MS_E) / (P A))`` with
    Satterthwaite df ``(MS_P + MS_A - MS_E)^2 / (MS_P^2/df_P + MS_A^2/df_A + MS_E^2/df_E)``:
    MS_P the participant mean square of ``d`` (df P - 1), MS_A the artwork-within-category
    mean square of ``d`` (df A - C), MS_E the residual mean square pooled over ``d`` and
    ``s`` (df 2 (P - 1)(A - 1)) -- the quasi-F of Clark (1973) and Satterthwaite (1946).
    A variance estimated below zero is pooled into the residual (REML's zero).
    ``tests/analysis/test_stats_power.py`` checks it against ``mixedlm.lmer`` + Satterthwaite.

    Parameters
    ----------
    diff, total : numpy.ndarray
        ``(..., P, A)`` arrays of the differences and sums (leading axes: simulations).
    artwork_category : array_like
        Category of each of the A artworks (equal numbers per category).

    Returns
    -------
    pandas.DataFrame
        ``estimate``, ``t``, ``df``, ``p_value`` (one row per leading index).
    """
    d = np.asarray(diff, dtype=float)
    s = np.asarray(total, dtype=float)
    cats = pd.factorize(np.asarray(artwork_category))[0]
    n_p, n_a = d.shape[-2], d.shape[-1]
    n_c = int(cats.max()) + 1
    onehot = np.eye(n_c)[cats]  # A x C
    per_cat = onehot.sum(axis=0)

    def strata(x):
        grand = x.mean(axis=(-2, -1), keepdims=True)
        row = x.mean(axis=-1, keepdims=True)
        col = x.mean(axis=-2, keepdims=True)
        resid = ((x - row - col + grand) ** 2).sum(axis=(-2, -1))
        return grand[..., 0, 0], row, col, resid

    g_d, row_d, col_d, e_d = strata(d)
    _, _, _, e_s = strata(s)
    cat_mean = (col_d @ onehot) / per_cat  # (..., 1, C)
    ss_a = n_p * ((col_d - cat_mean @ onehot.T) ** 2).sum(axis=(-2, -1))
    ss_p = n_a * ((row_d - g_d[..., None, None]) ** 2).sum(axis=(-2, -1))
    beta = (cat_mean[..., 0, :]).mean(axis=-1)
    t, df = _pooled_method_test(beta, ss_p, n_p - 1, ss_a, n_a - n_c, e_d + e_s, 2 * (n_p - 1) * (n_a - 1),
                                n_p, n_a)
    p = 2 * stats.t.sf(np.abs(t), df)
    return pd.DataFrame({"estimate": np.atleast_1d(beta), "t": np.atleast_1d(t), "df": np.atleast_1d(df),
                         "p_value": np.atleast_1d(p)})


def crossed_power(effect: float, *, sd_participant_slope: float, sd_artwork_slope: float, sd_residual: float,
                  participants=(25, 50, 100), artworks=(9, 18, 36), categories: int = 3, n_sim: int = 5000,
                  alpha: float = 0.05, seed: int = 0) -> pd.DataFrame:
    """Simulated power of the crossed mixed model's method test over participants AND artworks.

    Data are simulated from ``y = b * method + participant and artwork intercepts +
    by-participant and by-artwork method slopes + residual`` (method +-0.5) for a balanced
    design (every participant sees every artwork under both methods, ``categories``
    categories with equal numbers of artworks), and each simulated data set is tested by
    the crossed model's Satterthwaite t test (:func:`balanced_method_test`). Because that
    test depends on the data only through four independent statistics -- the mean
    difference (normal) and three mean squares (scaled chi-squares, Searle, Casella &
    McCulloch, 1992) -- these are drawn directly, ``n_sim`` (default 5000) per design,
    seeded (default 0): thousands of simulations per design cost milliseconds, with
    Monte-Carlo SE at most 0.007. The intercept SDs do not enter the method test of a
    balanced design.

    Not the same computation as :func:`sensitivity_dz` (which is analytic, for the
    paired t-test over participants only, df ``n - 1``): here artworks are a second random
    factor, the df are Satterthwaite's and data-dependent, and the test has no closed-form
    power, hence the simulation. Both share nothing but the two-sided level ``alpha``.

    Parameters
    ----------
    effect : float
        Method effect on the model scale (e.g. log time ratio).
    sd_participant_slope, sd_artwork_slope, sd_residual : float
        Random-effect SDs of the method slopes and the residual SD (e.g. from the fitted
        crossed LMM; a slope removed from the model has SD 0).
    participants, artworks : sequences of int
        The designs (default 25, 50, 100 participants x 9, 18, 36 artworks; artworks must
        be a multiple of ``categories``, default 3).
    alpha : float
        Two-sided level (default .05).

    Returns
    -------
    pandas.DataFrame
        One row per design: ``participants``, ``artworks``, ``effect``, ``power``,
        ``mc_se`` (Monte-Carlo SE), ``n_sim``.

    References
    ----------
    Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
    components. *Biometrics Bulletin, 2*(6), 110-114.
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance components*. Wiley.
    Westfall, J., Kenny, D. A., & Judd, C. M. (2014). Statistical power and optimal design
    in experiments in which samples of participants respond to samples of stimuli.
    *JEP: General, 143*(5), 2020-2045.

    Examples
    --------
    >>> from analysis.stats import crossed_power
    >>> pw = crossed_power(0.3, sd_participant_slope=0.05, sd_artwork_slope=0.3, sd_residual=0.25,
    ...                    participants=[50], artworks=[9, 36], n_sim=2000)
    >>> bool(pw["power"].iloc[1] > pw["power"].iloc[0])
    True
    """
    if n_sim < 1:
        raise ValueError("n_sim must be positive")
    rng = np.random.default_rng(seed)
    s2w, s2z, s2 = sd_participant_slope ** 2, sd_artwork_slope ** 2, sd_residual ** 2
    rows = []
    for n_p in participants:
        for n_a in artworks:
            n_p, n_a = int(n_p), int(n_a)
            if n_p < 2 or n_a < 2 * categories or n_a % categories:
                raise ValueError(f"design {n_p} x {n_a}: need >= 2 participants and a multiple of {categories} "
                                 f"artworks, at least 2 per category")
            df_p, df_a, df_e = n_p - 1, n_a - categories, 2 * (n_p - 1) * (n_a - 1)
            beta = effect + rng.normal(0.0, np.sqrt((n_a * s2w + n_p * s2z + 2 * s2) / (n_p * n_a)), n_sim)
            ss_p = (n_a * s2w + 2 * s2) * rng.chisquare(df_p, n_sim)
            ss_a = (n_p * s2z + 2 * s2) * rng.chisquare(df_a, n_sim)
            ss_e = 2 * s2 * rng.chisquare(df_e, n_sim)
            t, df = _pooled_method_test(beta, ss_p, df_p, ss_a, df_a, ss_e, df_e, n_p, n_a)
            rej = 2 * stats.t.sf(np.abs(t), df) < alpha
            pw = float(rej.mean())
            rows.append({"participants": n_p, "artworks": n_a, "effect": float(effect), "power": pw,
                         "mc_se": float(np.sqrt(pw * (1 - pw) / n_sim)), "n_sim": int(n_sim)})
    return pd.DataFrame(rows)
