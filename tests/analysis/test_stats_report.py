"""The report's Statistics contract (headline, inference, machine tables, not_run) and pilot datasets."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from analysis.aggregate import ARTWORKS, CATEGORIES
from analysis.report.analyses import attach_glmm, compute_statistics, fit_count_model

MODEL_TERMS = ["measure", "model", "formula", "family", "term", "estimate", "std_error", "df", "statistic",
               "p_value", "ci_low", "ci_high"]
JARGON = {"mean_x", "mean_y", "ng2", "ddof1", "ddof2", "W_spher", "p_val", "p_unc"}


def trial_metrics(n: int = 8, seed: int = 4) -> pd.DataFrame:
    """n participants x the paper's 9 artworks x 2 methods, with artwork and participant method effects."""
    rng = np.random.default_rng(seed)
    cats = dict(zip(ARTWORKS, np.repeat(CATEGORIES, 3)))
    art_slope = dict(zip(ARTWORKS, rng.normal(0, 0.15, 9)))
    rows = []
    for p in range(n):
        pe, ps = rng.normal(0, 0.2), rng.normal(0, 0.05)
        for i, a in enumerate(ARTWORKS):
            for m, x in (("ours", 0.5), ("pix2pix", -0.5)):
                eta = np.log(12) + x * (0.3 + art_slope[a] + ps) + pe
                rows.append({"participant": f"sub-{p + 1:02d}", "session": "1", "trial": 2 * i + (x < 0) + 1,
                             "stimulus_id": f"{a}_{m}", "artwork": a, "category": cats[a], "method": m,
                             "total_fixation_s": float(np.exp(eta + rng.normal(0, 0.25))),
                             "fixation_count": int(rng.poisson(np.exp(eta + 1.0))), "excluded": False,
                             "exclusion_reason": ""})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def st():
    return compute_statistics(trial_metrics(), seed=0)


def test_headline_is_the_crossed_model_per_measure(st):
    h = st.headline.set_index("measure")
    assert list(h.index) == ["fixation_time_s", "fixation_count"]
    for col in ("effect", "estimate", "ci_low", "ci_high", "df", "statistic", "p_value", "formula", "family",
                "singular", "df_method"):
        assert col in h.columns
    t = h.loc["fixation_time_s"]
    assert t["family"] == "gaussian" and "Satterthwaite" in t["df_method"] and np.isfinite(t["df"])
    assert t["ci_low"] < t["estimate"] < t["ci_high"] and t["estimate"] == pytest.approx(np.exp(t["log_estimate"]))
    assert 1.1 < t["estimate"] < 1.7  # simulated time ratio exp(0.3) = 1.35
    c = h.loc["fixation_count"]
    assert c["family"] == "poisson" and c["statistic_name"] == "t" and c["df_method"] == "between-within"
    assert c["df"] == c["artworks"] - 3  # between-within: artworks - categories
    assert re.search(r"t\(\d+\) = ", st.sentences["headline_fixation_count"])
    for k in ("headline_fixation_time_s", "headline_fixation_count"):
        assert "generalising over participants and artworks" in st.sentences[k]
    assert re.search(r"t\(\d+\.\d\) = ", st.sentences["headline_fixation_time_s"])
    assert "min F'(1, " in st.sentences["headline_fixation_time_s"]


def test_inference_tables_are_ordered_readable_and_numeric(st):
    names = [n for n, _, _ in st.inference]
    assert names[:2] == ["method_tests", "random_effects_selection"]
    assert {"mixed_fixed_effects", "mixed_variance_components", "count_dispersion", "crossed_power"} <= set(names)
    for name, caption, df in st.inference:
        assert caption and len(df), name
        assert not (set(df.columns) & JARGON), (name, set(df.columns) & JARGON)
        for col in [c for c in df.columns if c == "p" or c.startswith("p ") or c.endswith(" p")]:
            assert pd.api.types.is_numeric_dtype(df[col]), (name, col)
    tests = dict(zip(*[[n for n, _, _ in st.inference], [d for _, _, d in st.inference]]))["method_tests"]
    assert tests["Test"].tolist()[:4] == ["paired t, by participants", "paired t, by items", "min F' (Clark, 1973)",
                                          tests["Test"].iloc[3]]
    assert tests["Test"].iloc[3].startswith("crossed mixed model")
    sel = dict((n, d) for n, _, d in st.inference)["random_effects_selection"]
    assert (sel["Decision"] == "USED").sum() == 2  # one model used per measure


def test_machine_tables_let_anyone_refit_in_r(st):
    tm, terms = st.machine_tables["trial_metrics"], st.machine_tables["model_terms"]
    assert list(terms.columns) == MODEL_TERMS
    assert set(terms["family"]) == {"gaussian", "poisson"}
    for formula in terms["formula"].unique():
        names = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", formula))
        assert names <= set(tm.columns), names - set(tm.columns)
    used = terms[terms["model"].str.endswith("(used)") & (terms["term"] == "method_code")].set_index("measure")
    h = st.headline.set_index("measure")
    for m in ("fixation_time_s", "fixation_count"):
        assert used.loc[m, "estimate"] == pytest.approx(h.loc[m, "log_estimate"])
    assert np.allclose(tm["log_total_fixation_s"], np.log(tm["total_fixation_s"]))
    assert st.not_run == []


def test_count_model_from_the_worker_gives_the_same_statistics(st):
    tm = trial_metrics()
    part = compute_statistics(tm, seed=0, fit_glmm=False)
    assert list(part.headline["measure"]) == ["fixation_time_s"]
    attach_glmm(part, fit_count_model(tm, 0))
    pd.testing.assert_frame_equal(part.headline, st.headline)
    pd.testing.assert_frame_equal(part.machine_tables["model_terms"], st.machine_tables["model_terms"])


@pytest.mark.parametrize("case, expect", [
    ("one participant", "participant"),
    ("one artwork", "artwork"),
    ("no pix2pix", "both ours and pix2pix"),
])
def test_pilot_datasets_say_what_needs_more_data(case, expect):
    tm = trial_metrics(4)
    sub = {"one participant": tm[tm["participant"] == "sub-01"],
           "one artwork": tm[tm["artwork"] == "david"],
           "no pix2pix": tm[tm["method"] == "ours"]}[case].reset_index(drop=True)
    st = compute_statistics(sub, seed=0)
    assert st.lmm is None and st.glmm is None and st.headline.empty
    assert st.not_run and any(expect in s for s in st.not_run), st.not_run
    assert "was not fitted" in st.sentences["headline_fixation_time_s"]
    assert list(st.machine_tables["model_terms"].columns) == MODEL_TERMS
    assert len(st.machine_tables["trial_metrics"]) == len(sub)


def test_few_participants_fit_but_are_flagged_as_a_pilot():
    st = compute_statistics(trial_metrics(3), seed=0, fit_glmm=False)
    assert st.lmm is not None
    assert any("fewer than 5 levels" in s for s in st.not_run)
