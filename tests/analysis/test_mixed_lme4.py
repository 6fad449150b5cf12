"""The crossed mixed models against R's lme4 / lmerTest on a fixed data set (pingouin-style pinned values).

The reference numbers were computed with R 4 (Debian packages r-cran-lme4 1.1, lmerTest 3.1) from
the CSV that ``lme4_dataset()`` + ``design_columns`` + ``log`` produce, with:

    d <- read.csv("lme4_data.csv")
    fx <- "method_code + category_painting + category_sculpture + method_code:category_painting +
           method_code:category_sculpture"
    m <- lmerTest::lmer(log_total_fixation_s ~ <fx> + (1 + method_code | participant)
                        + (1 + method_code | artwork), data = d, REML = TRUE)
    coef(summary(m)); as.data.frame(VarCorr(m)); REMLcrit(m); isSingular(m)      # FALSE
    g <- lme4::glmer(fixation_count ~ <fx> + (1 + method_code | participant)
                     + (1 + method_code | artwork), data = d, family = poisson)
    coef(summary(g)); as.data.frame(VarCorr(g)); logLik(g); isSingular(g)       # FALSE
    sum(residuals(g, type = "pearson")^2); df.residual(g)

Tolerances: LMM fixed effects 1e-6; GLMM fixed effects 5e-5 absolute (lme4's Nelder-Mead stops
4e-7 log-likelihood units below the optimum mixedlm reaches); LMM standard errors and Satterthwaite
df 1e-4 relative (both are numerical derivatives); GLMM standard errors 2e-3 (lme4 takes them from
a finite-difference Hessian of the Laplace deviance); random-effect SDs 5e-4, correlations 2e-3
(the REML surface is flat in them: the criteria agree to 1e-9).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.stats import count_dispersion, crossed_lmm, crossed_poisson_glmm
from analysis.stats.mixed import METHOD_CODE, design_columns



def lme4_dataset() -> pd.DataFrame:
    """14 participants x 9 artworks (3 per category) x 2 methods; crossed intercepts and method slopes."""
    rng = np.random.default_rng(20251130)
    arts = [("a1", "painting"), ("a2", "painting"), ("a3", "painting"), ("b1", "sculpture"), ("b2", "sculpture"),
            ("b3", "sculpture"), ("c1", "craft"), ("c2", "craft"), ("c3", "craft")]
    n_p = 14
    u = rng.normal(0, 0.3, n_p)
    w = rng.normal(0, 0.25, n_p)
    v = rng.normal(0, 0.2, len(arts))
    z = rng.normal(0, 0.3, len(arts))
    rows = []
    for p in range(n_p):
        for a, (art, cat) in enumerate(arts):
            for m, x in (("ours", 0.5), ("pix2pix", -0.5)):
                eta = 2.3 + 0.35 * x + u[p] + v[a] + x * (w[p] + z[a])
                t = float(np.round(np.exp(eta + rng.normal(0, 0.3)), 4))
                c = int(rng.poisson(np.exp(eta + 0.7)))
                rows.append((f"p{p:02d}", art, cat, m, t, c))
    return pd.DataFrame(rows, columns=["participant", "artwork", "category", "method", "total_fixation_s",
                                       "fixation_count"])


# lmerTest: coef(summary(m))[, c("Estimate", "Std. Error", "df")]
LMM_FIXED = [[2.25020285330, 0.07152389575, 14.948639543],
             [0.35992557132, 0.10303558017, 7.913868650],
             [0.04005683733, 0.04582404552, 6.000268713],
             [-0.06470605812, 0.04582404552, 6.000268714],
             [0.10423992818, 0.13366996241, 6.000237765],
             [0.19548493820, 0.13366996241, 6.000237763]]
# as.data.frame(VarCorr(m))$sdcor: participant sd(Int), sd(method), cor; artwork sd(Int), sd(method), cor; residual
LMM_SDCOR = [0.23858006047, 0.15347644439, 0.35832567913, 0.07371456926, 0.25365850872, -0.30268684119,
             0.33530997664]
LMM_REMLCRIT = 239.8314945
# glmer: coef(summary(g))[, c("Estimate", "Std. Error")]
GLMM_FIXED = [[2.94247421550, 0.06685834215],
              [0.31746311563, 0.09979755887],
              [0.03323921746, 0.05605485686],
              [-0.06116529580, 0.05622106332],
              [0.09345918009, 0.12597853405],
              [0.07134227686, 0.12627533418]]
GLMM_SDCOR = [0.20096476795, 0.16596238616, -0.01019485398, 0.11084402479, 0.25299302963, -0.38030933306]
GLMM_LOGLIK = -761.1022622
PEARSON_CHI2, RESIDUAL_DF = 187.8671061, 240


def _sdcor(res) -> np.ndarray:
    v = res.variance
    return np.where(v["correlation"].notna(), v["correlation"], v["sd"]).astype(float)


@pytest.fixture(scope="module")
def data():
    return lme4_dataset()


@pytest.fixture(scope="module")
def lmm(data):
    return crossed_lmm(data, simplify=False)


@pytest.fixture(scope="module")
def glmm(data):
    return crossed_poisson_glmm(data, simplify=False)


def test_lmm_matches_lmertest_estimates_se_and_satterthwaite_df(lmm):
    ref = np.array(LMM_FIXED)
    assert lmm.fixed["term"].tolist()[:2] == ["(Intercept)", METHOD_CODE]
    np.testing.assert_allclose(lmm.fixed["estimate"], ref[:, 0], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(lmm.fixed["std_error"], ref[:, 1], rtol=1e-4)
    np.testing.assert_allclose(lmm.fixed["df"], ref[:, 2], rtol=1e-4)
    np.testing.assert_allclose(-2 * lmm.loglik, LMM_REMLCRIT, rtol=1e-7)
    np.testing.assert_allclose(_sdcor(lmm)[[0, 1, 3, 4, 6]], np.array(LMM_SDCOR)[[0, 1, 3, 4, 6]], rtol=5e-4)
    np.testing.assert_allclose(_sdcor(lmm)[[2, 5]], np.array(LMM_SDCOR)[[2, 5]], atol=2e-3)
    assert not lmm.singular and lmm.converged
    assert "Satterthwaite" in lmm.df_method
    # p and CI from t(df): a fixed-effect row is internally consistent
    r = lmm.fixed.iloc[1]
    from scipy import stats

    assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(r["estimate"] / r["std_error"]), r["df"]), rel=1e-9)
    assert r["ci_high"] - r["estimate"] == pytest.approx(stats.t.ppf(0.975, r["df"]) * r["std_error"], rel=1e-9)


def test_glmm_matches_lme4_glmer_laplace(glmm):
    ref = np.array(GLMM_FIXED)
    np.testing.assert_allclose(glmm.fixed["estimate"], ref[:, 0], atol=5e-5)
    assert glmm.loglik >= GLMM_LOGLIK - 1e-7  # the optimum is at least as good as lme4's
    np.testing.assert_allclose(glmm.fixed["std_error"], ref[:, 1], rtol=2e-3)
    np.testing.assert_allclose(glmm.loglik, GLMM_LOGLIK, rtol=1e-8)
    np.testing.assert_allclose(_sdcor(glmm)[[0, 1, 3, 4]], np.array(GLMM_SDCOR)[[0, 1, 3, 4]], rtol=5e-4)
    np.testing.assert_allclose(_sdcor(glmm)[[2, 5]], np.array(GLMM_SDCOR)[[2, 5]], atol=2e-3)
    assert glmm.family == "poisson" and not glmm.singular
    # between-within df (artworks - categories; SAS GLIMMIX DDFM=BETWITHIN), t-based p and CI
    from scipy import stats

    bw = glmm.data["artwork"].nunique() - glmm.data["category"].nunique()
    assert glmm.df_method == "between-within" and (glmm.fixed["df"] == bw).all()
    r = glmm.fixed.iloc[1]
    assert r["p_value"] == pytest.approx(2 * stats.t.sf(abs(r["estimate"] / r["std_error"]), bw), rel=1e-9)
    assert r["ci_high"] - r["estimate"] == pytest.approx(stats.t.ppf(0.975, bw) * r["std_error"], rel=1e-9)


def test_pearson_dispersion_matches_r_and_underdispersion_fits_no_negbin(glmm):
    d = count_dispersion(glmm).iloc[0]
    assert d["pearson_chi2"] == pytest.approx(PEARSON_CHI2, rel=1e-5)
    assert d["residual_df"] == RESIDUAL_DF
    assert d["dispersion_ratio"] < 1 and not d["negbin_fitted"] and d["preferred"] == "poisson"
    assert np.isnan(d["lrt_p"]) and d["theta"] == np.inf


def test_formulas_refit_from_the_written_columns(lmm, glmm, data):
    """The formula names only columns of the fitted data (what trial_metrics.csv holds), in lme4 syntax."""
    import re

    for res in (lmm, glmm):
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", res.formula))
        assert names <= set(res.data.columns), names - set(res.data.columns)
        assert "(1 + method_code | participant)" in res.formula
    coded, cats = design_columns(data)
    assert cats == ["category_painting", "category_sculpture"]
    craft = coded[coded["category"] == "craft"]
    assert (craft[cats] == -1).all().all() and set(coded[METHOD_CODE]) == {-0.5, 0.5}


def test_terms_hold_every_fitted_model_in_the_model_terms_format(lmm):
    cols = {"model", "formula", "family", "term", "estimate", "std_error", "df", "statistic", "p_value", "ci_low",
            "ci_high"}
    assert cols <= set(lmm.terms.columns)
    assert lmm.terms["model"].str.endswith("(used)").any()
    sd = lmm.terms[lmm.terms["term"] == "sd__Observation|Residual"]["estimate"].iloc[0]
    assert sd == pytest.approx(LMM_SDCOR[-1], rel=5e-4)


def test_simplification_keeps_a_simpler_structure_only_when_the_lrt_allows(data, lmm):
    """Regular maximal fit: correlations dropped (LRT p >= .20), then the next step rejected (Matuschek et al.)."""
    res = crossed_lmm(data)
    s = res.steps
    assert s["formula"].iloc[0] == lmm.formula
    assert s["decision"].iloc[0].startswith("simplified (LRT p = ") and s["lrt_p"].iloc[1] >= 0.20
    assert s["decision"].iloc[1] == "USED" and "||" in res.formula
    assert s["decision"].iloc[2].startswith("rejected (LRT p = ") and s["lrt_p"].iloc[2] < 0.20
    chi2 = 2 * (s["log_likelihood"].iloc[0] - s["log_likelihood"].iloc[1])
    assert s["lrt_chi2"].iloc[1] == pytest.approx(max(chi2, 0.0)) and s["lrt_df"].iloc[1] == 2


R_SCRIPT = """
suppressMessages(library(lmerTest))
d <- read.csv(commandArgs(TRUE)[1])
f <- as.formula(commandArgs(TRUE)[2])
m <- lmer(f, data = d, REML = TRUE)
s <- coef(summary(m))
write.csv(data.frame(term = rownames(s), estimate = s[, 1], std_error = s[, 2], df = s[, 3]),
          commandArgs(TRUE)[3], row.names = FALSE)
"""


def _r_has_lmertest() -> bool:
    import shutil
    import subprocess

    if shutil.which("Rscript") is None:
        return False
    return subprocess.run(["Rscript", "-e", "library(lmerTest)"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _r_has_lmertest(), reason="live oracle: needs Rscript with lmerTest (the pinned tests above "
                                                  "always run)")
def test_live_lmertest_refits_the_model_used_from_the_written_columns(tmp_path, data):
    """Refit the simplified model in R from the fitted data, as a reader of trial_metrics.csv would."""
    import subprocess

    res = crossed_lmm(data)
    csv, out, script = tmp_path / "trial_metrics.csv", tmp_path / "r.csv", tmp_path / "fit.R"
    res.data.to_csv(csv, index=False)
    script.write_text(R_SCRIPT, encoding="utf-8")
    subprocess.run(["Rscript", str(script), str(csv), res.formula, str(out)], check=True, timeout=120,
                   capture_output=True)
    ref = pd.read_csv(out)
    assert ref["term"].tolist() == res.fixed["term"].tolist()
    np.testing.assert_allclose(res.fixed["estimate"], ref["estimate"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(res.fixed["std_error"], ref["std_error"], rtol=1e-4)
    np.testing.assert_allclose(res.fixed["df"], ref["df"], rtol=1e-3)
