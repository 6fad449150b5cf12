"""min F', the balanced crossed-model test and its simulated power, and the NB theta step, against oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.stats import balanced_method_test, crossed_power, min_f_prime
from analysis.stats.mixed import design_columns, theta_ml

CATS = np.repeat(["painting", "sculpture", "craft"], 3)


def _balanced(seed: int, n_p: int = 12, sd_w: float = 0.2, sd_z: float = 0.3, effect: float = 0.3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    u, w = rng.normal(0, 0.3, n_p), rng.normal(0, sd_w, n_p)
    v, z = rng.normal(0, 0.2, 9), rng.normal(0, sd_z, 9)
    rows = [(f"s{p}", f"a{a}", CATS[a], m, 2 + effect * x + u[p] + v[a] + x * (w[p] + z[a]) + rng.normal(0, 0.25))
            for p in range(n_p) for a in range(9) for m, x in (("ours", 0.5), ("pix2pix", -0.5))]
    return pd.DataFrame(rows, columns=["participant", "artwork", "category", "method", "y"])


def _diff_sum(df: pd.DataFrame):
    wide = df.pivot_table(index=["participant", "artwork"], columns="method", values="y")
    d = (wide["ours"] - wide["pix2pix"]).unstack("artwork")
    s = (wide["ours"] + wide["pix2pix"]).unstack("artwork")
    cats = df.drop_duplicates("artwork").set_index("artwork").loc[d.columns, "category"].to_numpy()
    return d.to_numpy(), s.to_numpy(), cats


def test_min_f_prime_reproduces_clark_and_the_issue_numbers():
    # issue 12: t(47) = 26.2 by participants, t(8) = 3.08 by items -> min F'(1, 8.2) = 9.4, p = .015
    r = min_f_prime(26.2 ** 2, 47, 3.08 ** 2, 8).iloc[0]
    assert r["min_F"] == pytest.approx(9.36, abs=0.01) and r["df_den"] == pytest.approx(8.22, abs=0.01)
    assert r["p_value"] == pytest.approx(stats.f.sf(r["min_F"], 1, r["df_den"]))
    assert round(r["p_value"], 3) == 0.015
    # by hand: F1 = F2 = 10, df 10 and 20 -> min F' = 5, df = 400 / (100/20 + 100/10) = 26.67
    h = min_f_prime(10, 10, 10, 20).iloc[0]
    assert h["min_F"] == 5 and h["df_den"] == pytest.approx(400 / 15)
    assert np.isnan(min_f_prime(np.nan, 5, 3, 4).iloc[0]["min_F"])


@pytest.mark.parametrize("seed", [3, 11])
def test_balanced_method_test_equals_lmer_satterthwaite(seed):
    """The power simulation's test is the crossed LMM's Satterthwaite t test (mixedlm, = lmerTest)."""
    import mixedlm as ml

    df = _balanced(seed)
    got = balanced_method_test(*_diff_sum(df)).iloc[0]
    coded, cats = design_columns(df)
    fx = " + ".join(["method_code", *cats] + [f"method_code:{c}" for c in cats])
    fit = ml.lmer(f"y ~ {fx} + (1 + method_code || participant) + (1 + method_code || artwork)", coded)
    assert not fit.isSingular()
    se = np.sqrt(np.diag(np.asarray(fit.vcov())))[1]
    assert got["estimate"] == pytest.approx(fit.fixef()["method_code"], rel=1e-9)
    assert got["t"] == pytest.approx(fit.fixef()["method_code"] / se, rel=1e-5)
    assert got["df"] == pytest.approx(ml.satterthwaite_df(fit).df[1], rel=1e-4)


def test_crossed_power_agrees_with_a_trial_level_simulation():
    """Drawing the sufficient statistics gives the rejection rate of simulating whole data sets."""
    sd_w, sd_z, sd_e, b, n_p = 0.2, 0.3, 0.25, 0.3, 12
    pw = crossed_power(b, sd_participant_slope=sd_w, sd_artwork_slope=sd_z, sd_residual=sd_e, participants=[n_p],
                       artworks=[9], n_sim=20000, seed=1).iloc[0]
    rng = np.random.default_rng(2)
    n = 4000
    u, w = rng.normal(0, 0.3, (n, n_p, 1)), rng.normal(0, sd_w, (n, n_p, 1))
    v, z = rng.normal(0, 0.2, (n, 1, 9)), rng.normal(0, sd_z, (n, 1, 9))
    yo = 2 + b / 2 + u + v + 0.5 * (w + z) + rng.normal(0, sd_e, (n, n_p, 9))
    yp = 2 - b / 2 + u + v - 0.5 * (w + z) + rng.normal(0, sd_e, (n, n_p, 9))
    direct = float((balanced_method_test(yo - yp, yo + yp, CATS)["p_value"] < 0.05).mean())
    se = np.sqrt(pw["power"] * (1 - pw["power"]) * (1 / 20000 + 1 / n))
    assert abs(pw["power"] - direct) < 4 * se
    assert 0.3 < pw["power"] < 0.9  # a design where the answer is informative


def test_crossed_power_grid_is_seeded_and_has_the_right_size_and_monotonicity():
    kw = dict(sd_participant_slope=0.05, sd_artwork_slope=0.3, sd_residual=0.25, n_sim=4000, seed=5)
    a = crossed_power(0.3, **kw)
    pd.testing.assert_frame_equal(a, crossed_power(0.3, **kw))
    assert len(a) == 9 and set(a["artworks"]) == {9, 18, 36}
    by_art = a[a["participants"] == 50].set_index("artworks")["power"]
    assert by_art[9] < by_art[18] < by_art[36]
    null = crossed_power(0.0, **kw)
    assert (null["power"] < 0.05 + 4 * null["mc_se"] + 0.01).all()  # the test holds its level
    with pytest.raises(ValueError, match="multiple of 3"):
        crossed_power(0.3, **kw, artworks=[10])


def test_theta_ml_matches_mass_theta_ml():
    # R: MASS::theta.ml(y, mu, limit = 100) -> 13.0518603702
    y = np.array([0, 3, 7, 1, 12, 5, 2, 9, 4, 15, 0, 6])
    mu = np.array([2, 4, 5, 2.5, 7, 4, 3, 6, 4.5, 8, 1.5, 5])
    assert theta_ml(y, mu) == pytest.approx(13.0518603702, rel=1e-5)
