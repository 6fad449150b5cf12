"""Table 4 aggregation on a hand-made trial-metrics table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis.aggregate import (
    check_trial_metrics,
    compare_with_paper,
    complete_participants,
    participant_values,
    table4,
)
from analysis.errors import InputError
from analysis.reference import load_table4


def _tm() -> pd.DataFrame:
    """3 participants x 2 artworks (david, thinker: sculpture; last_supper: painting) x 2 methods."""
    rows = []
    vals = {  # (participant, artwork, method): (time, count)
        ("s1", "last_supper", "ours"): (10.0, 40), ("s1", "last_supper", "pix2pix"): (6.0, 20),
        ("s1", "david", "ours"): (12.0, 50), ("s1", "david", "pix2pix"): (8.0, 25),
        ("s2", "last_supper", "ours"): (14.0, 44), ("s2", "last_supper", "pix2pix"): (7.0, 22),
        ("s2", "david", "ours"): (16.0, 60), ("s2", "david", "pix2pix"): (9.0, 30),
        ("s3", "last_supper", "ours"): (12.0, 42), ("s3", "last_supper", "pix2pix"): (99.0, 99),
        ("s3", "david", "ours"): (11.0, 55), ("s3", "david", "pix2pix"): (7.0, 24),
    }
    cat = {"last_supper": "painting", "david": "sculpture"}
    for (p, a, m), (t, c) in vals.items():
        rows.append({"participant": p, "session": "1", "trial": len(rows) + 1, "stimulus_id": f"{a}_{m}",
                     "artwork": a, "category": cat[a], "method": m, "total_fixation_s": t, "fixation_count": c,
                     "excluded": (p, a, m) == ("s3", "last_supper", "pix2pix"), "exclusion_reason": ""})
    return pd.DataFrame(rows)


def test_table4_cells_are_means_over_participants_with_sd_ci_n_and_sums():
    t = table4(_tm())
    row = t[(t["method"] == "ours") & (t["artwork"] == "last_supper")].iloc[0]
    v = np.array([10.0, 14.0, 12.0])
    assert row["fixation_time_s_mean"] == pytest.approx(12.0)
    assert row["fixation_time_s_sd"] == pytest.approx(2.0)
    h = stats.t.ppf(0.975, 2) * 2.0 / np.sqrt(3)
    assert (row["fixation_time_s_ci_low"], row["fixation_time_s_ci_high"]) == pytest.approx((12 - h, 12 + h))
    assert row["fixation_time_s_n"] == 3 and row["fixation_time_s_sum"] == pytest.approx(v.sum())
    assert row["fixation_count_mean"] == pytest.approx(42.0)


def test_excluded_trials_are_removed_first():
    t = table4(_tm())
    row = t[(t["method"] == "pix2pix") & (t["artwork"] == "last_supper")].iloc[0]
    assert row["fixation_time_s_mean"] == pytest.approx(6.5) and row["fixation_time_s_n"] == 2


def test_layout_method_block_category_rows_and_average():
    t = table4(_tm())
    assert t["method"].tolist() == ["ours"] * 5 + ["pix2pix"] * 5
    assert t["artwork"].tolist()[:5] == ["last_supper", "_category", "david", "_category", "_average"]
    assert t["level"].tolist()[:5] == ["artwork", "category", "artwork", "category", "overall"]
    avg = t[(t["method"] == "ours") & (t["level"] == "overall")].iloc[0]
    # participant means over the two artworks: s1 11, s2 15, s3 11.5
    assert avg["fixation_time_s_mean"] == pytest.approx(np.mean([11.0, 15.0, 11.5]))
    assert avg["fixation_time_s_sum"] == pytest.approx(np.mean([36.0, 39.0]))
    cat = t[(t["method"] == "ours") & (t["level"] == "category") & (t["category"] == "sculpture")].iloc[0]
    assert cat["fixation_count_mean"] == pytest.approx(55.0)


def test_participant_values_and_completeness():
    tm = _tm()
    complete, incomplete = complete_participants(tm)
    assert complete == ["s1", "s2"] and incomplete == ["s3"]
    ov = participant_values(tm, "overall")
    s3 = ov[(ov["participant"] == "s3") & (ov["method"] == "pix2pix")].iloc[0]
    assert s3["total_fixation_s"] == pytest.approx(7.0)  # only david remains


def test_compare_with_paper_gives_differences():
    t = table4(_tm())
    cmp = compare_with_paper(t, load_table4())
    r = cmp[(cmp["method"] == "ours") & (cmp["artwork"] == "david")].iloc[0]
    assert r["fixation_time_s_paper"] == pytest.approx(18.83)
    assert r["fixation_time_s_diff"] == pytest.approx(13.0 - 18.83)
    avg = cmp[(cmp["method"] == "pix2pix") & (cmp["artwork"] == "_average")].iloc[0]
    assert avg["fixation_count_paper"] == 20
    cat = cmp[(cmp["method"] == "ours") & (cmp["artwork"] == "_category") & (cmp["category"] == "painting")].iloc[0]
    assert cat["fixation_time_s_paper"] == pytest.approx((14.85 + 9.49 + 14.54) / 3)


@pytest.mark.parametrize("mutate, text", [
    (lambda d: d.iloc[0:0], "no trials"),
    (lambda d: d.drop(columns="fixation_count"), "lack column"),
    (lambda d: d.assign(method=d["method"].replace("pix2pix", "p2p")), "unknown method"),
    (lambda d: pd.concat([d, d.iloc[[0]]]), "more than once"),
])
def test_bad_trial_metrics_raise_input_error(mutate, text):
    with pytest.raises(InputError, match=text):
        check_trial_metrics(mutate(_tm()))
