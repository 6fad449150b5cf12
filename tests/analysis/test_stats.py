"""analysis.stats checked against independent computations on fixed small data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import (
    crossed_lmm,
    crossed_poisson_glmm,
    holm,
    paired_ttest,
    rm_anova_2way,
    sensitivity_dz,
    shapiro_wilk,
    wilcoxon_signed_rank,
)

X = np.array([14.2, 12.9, 16.1, 11.4, 15.0, 13.3, 17.8, 12.0, 14.9, 13.7])
Y = np.array([10.1, 11.7, 12.2, 10.9, 12.8, 9.4, 13.5, 11.8, 10.2, 12.9])


def test_paired_ttest_matches_scipy_and_hand_dz():
    res = paired_ttest(X, Y).iloc[0]
    ref = stats.ttest_rel(X, Y)
    d = X - Y
    assert res["t"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res["p_val"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert res["df"] == len(X) - 1
    assert res["d_z"] == pytest.approx(d.mean() / d.std(ddof=1), rel=1e-12)
    assert res["d_z"] == pytest.approx(res["t"] / np.sqrt(len(X)), rel=1e-12)
    h = stats.t.ppf(0.975, len(X) - 1) * d.std(ddof=1) / np.sqrt(len(X))
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((d.mean() - h, d.mean() + h), rel=1e-12)


def test_dz_ci_inverts_the_noncentral_t():
    res = paired_ttest(X, Y).iloc[0]
    n, df = len(X), len(X) - 1
    assert stats.nct.cdf(res["t"], df, res["d_z_ci_low"] * np.sqrt(n)) == pytest.approx(0.975, abs=1e-8)
    assert stats.nct.cdf(res["t"], df, res["d_z_ci_high"] * np.sqrt(n)) == pytest.approx(0.025, abs=1e-8)
    assert res["d_z_ci_low"] < res["d_z"] < res["d_z_ci_high"]


def test_dz_is_not_pingouins_paired_cohen_d():
    import pingouin as pg

    d_av = float(pg.compute_effsize(X, Y, paired=True, eftype="cohen"))
    assert paired_ttest(X, Y).loc[0, "d_z"] != pytest.approx(d_av, rel=1e-3)


def test_paired_ttest_drops_nan_pairs_and_reports_them():
    x = np.append(X, [np.nan, 3.0])
    y = np.append(Y, [1.0, np.nan])
    res = paired_ttest(x, y).iloc[0]
    assert res["n"] == len(X) and res["n_dropped"] == 2
    assert res["t"] == pytest.approx(stats.ttest_rel(X, Y).statistic)


def test_paired_ttest_large_effect_has_finite_ci():
    rng = np.random.default_rng(0)
    x = rng.normal(45, 3, 49)
    res = paired_ttest(x, x - 15 + rng.normal(0, 3, 49)).iloc[0]
    assert np.isfinite(res["d_z_ci_low"]) and np.isfinite(res["d_z_ci_high"])


def test_wilcoxon_matches_scipy_and_hand_rank_biserial():
    res = wilcoxon_signed_rank(X, Y).iloc[0]
    ref = stats.wilcoxon(X, Y)
    assert res["W"] == ref.statistic and res["p_val"] == pytest.approx(ref.pvalue)
    d = X - Y
    ranks = stats.rankdata(np.abs(d))
    wp, wm = ranks[d > 0].sum(), ranks[d < 0].sum()
    assert (res["W_plus"], res["W_minus"]) == (wp, wm)
    assert res["r_rb"] == pytest.approx((wp - wm) / (wp + wm))


def test_wilcoxon_discards_zero_differences():
    res = wilcoxon_signed_rank([1, 2, 3, 4, 5, 6], [1, 1, 1, 6, 1, 1]).iloc[0]
    # differences 0, 1, 2, -2, 4, 5 -> zero dropped, ranks of |1,2,2,4,5| = 1, 2.5, 2.5, 4, 5
    assert res["n_zero"] == 1
    assert res["W_plus"] == 1 + 2.5 + 4 + 5 and res["W_minus"] == 2.5
    assert res["r_rb"] == pytest.approx((12.5 - 2.5) / 15)


def test_holm_by_hand_and_against_statsmodels():
    from statsmodels.stats.multitest import multipletests

    p = [0.04, 0.01, 0.20, 0.03, 0.02]
    # sorted .01,.02,.03,.04,.20 -> x5,x4,x3,x2,x1 = .05,.08,.09,.08,.20 -> cumulative max .05,.08,.09,.09,.20
    expected = [0.09, 0.05, 0.20, 0.09, 0.08]
    res = holm(p)
    assert res["p_holm"].tolist() == pytest.approx(expected)
    assert res["reject"].tolist() == [False, True, False, False, False]
    assert res["p_holm"].to_numpy() == pytest.approx(multipletests(p, method="holm")[1])


def test_holm_leaves_nan_out_of_the_family():
    res = holm([0.01, np.nan, 0.04])
    assert res["p_holm"].iloc[0] == pytest.approx(0.02) and res["p_holm"].iloc[2] == pytest.approx(0.04)
    assert np.isnan(res["p_holm"].iloc[1]) and not res["reject"].iloc[1]


def test_holm_all_nan_and_empty_families():
    res = holm([np.nan, np.nan])
    assert res["p_holm"].isna().all() and not res["reject"].any()
    assert holm([]).empty


def test_holm_ties_and_the_reject_boundary_by_hand():
    # m = 3, sorted .0125,.0125,.05 -> x3,x2,x1 = .0375,.025,.05 -> cumulative max .0375,.0375,.05
    res = holm([0.05, 0.0125, 0.0125])
    assert res["p_holm"].tolist() == pytest.approx([0.05, 0.0375, 0.0375])
    assert res["reject"].tolist() == [True, True, True]
    assert res["reject"].dtype == bool


def test_shapiro_wilk_matches_scipy():
    d = X - Y
    res = shapiro_wilk(d).iloc[0]
    ref = stats.shapiro(d)
    assert res["W"] == pytest.approx(ref.statistic) and res["p_val"] == pytest.approx(ref.pvalue)
    assert res["normal"] == (ref.pvalue > 0.05)


def test_sensitivity_dz_has_the_target_power():
    from statsmodels.stats.power import TTestPower

    res = sensitivity_dz(50).iloc[0]
    assert res["d_z"] == pytest.approx(0.4042, abs=5e-4)
    assert TTestPower().power(effect_size=res["d_z"], nobs=50, alpha=0.05) == pytest.approx(0.80, abs=1e-6)
    assert res["d_z_statsmodels"] == pytest.approx(res["d_z"], abs=1e-4)
    assert sensitivity_dz(20).loc[0, "d_z"] > res["d_z"]


def _design(n: int, seed: int, reps: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    arts = {"painting": ["a1", "a2", "a3"], "sculpture": ["b1", "b2", "b3"], "craft": ["c1", "c2", "c3"]}
    rows = []
    for p in range(n):
        pe = rng.normal(0, 0.2)
        for c, al in arts.items():
            for a in al:
                for m in ("ours", "pix2pix"):
                    for _ in range(reps):
                        t = float(np.exp(np.log(12) + 0.3 * (m == "ours") + pe + rng.normal(0, 0.25)))
                        rows.append((f"s{p:02d}", a, c, m, t, int(rng.poisson(30 + 12 * (m == "ours")))))
    return pd.DataFrame(rows, columns=["participant", "artwork", "category", "method", "total_fixation_s",
                                       "fixation_count"])


def test_rm_anova_method_effect_equals_squared_paired_t():
    df = _design(10, 1)
    aov = rm_anova_2way(df, "total_fixation_s").set_index("Source")
    means = df.groupby(["participant", "method"])["total_fixation_s"].mean().unstack()
    t = stats.ttest_rel(means["ours"], means["pix2pix"]).statistic
    assert aov.loc["method", "F"] == pytest.approx(t**2, rel=1e-9)
    assert set(aov.columns) >= {"p_GG_corr", "eps", "W_spher", "p_spher", "n"}
    assert aov["n"].iloc[0] == 10


def test_rm_anova_averages_cells_and_drops_incomplete_subjects():
    df = _design(8, 2)
    cells = df.groupby(["participant", "method", "category"], as_index=False)["total_fixation_s"].mean()
    a = rm_anova_2way(df, "total_fixation_s")
    b = rm_anova_2way(cells, "total_fixation_s")
    assert a["F"].to_numpy() == pytest.approx(b["F"].to_numpy())
    short = df[~((df["participant"] == "s00") & (df["category"] == "craft") & (df["method"] == "ours"))]
    c = rm_anova_2way(short, "total_fixation_s")
    assert c["n"].iloc[0] == 7 and c["n_dropped"].iloc[0] == 1


def test_crossed_lmm_drops_zeros_and_simplifies_a_singular_maximal_fit():
    """_design has no artwork or slope variance: the maximal fit is singular and is simplified (Bates et al.)."""
    df = _design(6, 3)
    df.loc[0, "total_fixation_s"] = 0.0
    res = crossed_lmm(df)
    assert res.n_dropped == 1 and "1 row(s)" in res.note
    steps = res.steps
    assert steps["singular"].iloc[0] and steps["decision"].iloc[0] == "rejected (singular)"
    used = steps[steps["decision"] == "USED"]
    assert len(used) == 1 and used["formula"].iloc[0] == res.formula
    assert res.singular == bool(used["singular"].iloc[0])
    # every step after a singular one removes something, and correlations go first
    assert "||" in steps["formula"].iloc[1] or "(1 | " in steps["formula"].iloc[1]
    row = res.fixed.set_index("term").loc["method_code"]
    assert row["ratio"] == pytest.approx(np.exp(row["estimate"]))
    assert 0.15 < row["estimate"] < 0.45  # simulated log ratio 0.3
    assert np.isfinite(row["df"]) and row["df"] > 1
    off = crossed_lmm(df, zero_offset=0.1)
    assert off.n_dropped == 0 and "+ 0.1" in off.note and off.data["log_total_fixation_s"].notna().all()


def test_crossed_poisson_glmm_recovers_the_rate_ratio_deterministically():
    df = _design(6, 4)
    res = crossed_poisson_glmm(df)
    m = res.fixed.set_index("term").loc["method_code"]
    assert m["ratio"] == pytest.approx(42 / 30, rel=0.05)
    assert m["ratio_ci_low"] < 42 / 30 < m["ratio_ci_high"]
    assert isinstance(res.converged, bool) and isinstance(res.warnings, list)
    again = crossed_poisson_glmm(df)
    pd.testing.assert_frame_equal(res.fixed, again.fixed)


def test_mixed_models_refuse_designs_they_cannot_fit():
    df = _design(4, 5)
    with pytest.raises(ValueError, match="at least 2 participants and 2 artworks"):
        crossed_lmm(df[df["participant"] == "s00"])
    with pytest.raises(ValueError, match="both methods"):
        crossed_poisson_glmm(df[df["method"] == "ours"])


def test_a_failing_simplification_fit_is_reported_not_raised(monkeypatch):
    import analysis.stats.mixed as mixed

    real = mixed._fit

    def flaky(formula, df, family):
        if "||" in formula:
            raise FloatingPointError("overflow in the deviance")
        return real(formula, df, family)

    monkeypatch.setattr(mixed, "_fit", flaky)
    res = crossed_lmm(_design(6, 3))  # maximal fit singular -> zero-correlation fit fails -> maximal kept
    assert res.steps["decision"].tolist() == ["USED", "fit failed (FloatingPointError)"]
    assert res.singular and any("fit failed" in w for w in res.warnings)

    def broken(formula, df, family):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(mixed, "_fit", broken)
    with pytest.raises(ValueError, match="could not be fitted"):
        crossed_lmm(_design(6, 3))
