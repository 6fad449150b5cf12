"""The paper's reference values and the code-computed inconsistency checks."""

from __future__ import annotations

import pytest

from analysis.reference import check_reference, load_table4, load_text_values

# Table 4 as printed in Wei Pu (2025), transcribed independently of data/reference/paper_table4.csv.
PRINTED = {
    "ours": [14.85, 62, 9.49, 44, 14.54, 75, 18.83, 92, 16.26, 64, 14.22, 67, 14.31, 67, 12.73, 71, 18.77, 32, 14.89, 64],
    "pix2pix": [11.04, 20, 13.23, 23, 13.3, 37, 8.69, 5, 6.76, 8, 10.15, 34, 9.44, 29, 8.24, 5, 7.17, 18, 9.78, 20],
}


def test_table4_csv_matches_the_printed_table():
    t = load_table4()
    for method, vals in PRINTED.items():
        sub = t[t["method"] == method]
        got = [v for pair in zip(sub["fixation_time_s"], sub["fixation_count"]) for v in pair]
        assert got == pytest.approx(vals)
    assert len(t) == 20 and set(t["artwork"]) >= {"david", "tang_sancai", "_average"}


def _find(checks, **kw):
    sel = checks
    for k, v in kw.items():
        sel = sel[sel[k] == v]
    assert len(sel) >= 1, kw
    return sel


def test_craft_count_about_50_is_flagged_with_the_computed_mean():
    c = check_reference()
    row = _find(c, check="text_vs_table", category="craft", quantity="fixation_count").iloc[0]
    assert row["computed"] == pytest.approx((67 + 71 + 32) / 3)
    assert row["stated"] == 50 and not row["consistent"] and "56.67" in row["message"]
    ok = _find(c, check="text_vs_table", category="painting", quantity="fixation_time_s").iloc[0]
    assert ok["consistent"] and ok["computed"] == pytest.approx(12.96)


def test_printed_averages_equal_the_row_means():
    c = _find(check_reference(), check="average_row")
    assert len(c) == 4 and c["consistent"].all()


def test_conclusion_gives_the_same_values_for_both_methods():
    c = _find(check_reference(), check="conclusion", method="ours vs pix2pix")
    assert len(c) == 2 and not c["consistent"].any()
    ours = _find(check_reference(), check="conclusion", method="ours", quantity="fixation_time_s").iloc[0]
    assert ours["stated"] == pytest.approx(9.78) and ours["computed"] == pytest.approx(14.889, abs=1e-3)


def test_exactly_three_pix2pix_rows_imply_unphysiological_fixation_durations():
    # 0.6 s from data/reference/plausibility.toml: the same three cells the simulator caps
    c = _find(check_reference(), check="implied_fixation_duration")
    bad = c[~c["consistent"]]
    assert sorted(bad["artwork"]) == ["david", "tang_sancai", "thinker"] and set(bad["method"]) == {"pix2pix"}
    assert bad["computed"].min() == pytest.approx(6.76 / 8) and (c["stated"] == 0.6).all()
    assert c[c["artwork"] == "david"].set_index("method").loc["pix2pix", "computed"] == pytest.approx(8.69 / 5)


def test_checks_are_computed_from_the_values_not_typed_in():
    t = load_table4()
    t.loc[(t["method"] == "ours") & (t["artwork"] == "blue_white_porcelain"), "fixation_count"] = 12  # craft mean 50
    c = check_reference(t, load_text_values())
    row = _find(c, check="text_vs_table", category="craft", quantity="fixation_count").iloc[0]
    assert row["consistent"] and row["computed"] == pytest.approx(50.0)
    avg = _find(c, check="average_row", method="ours", quantity="fixation_count").iloc[0]
    assert not avg["consistent"]  # the printed Average no longer fits the rows


def test_sum_wording_is_flagged_and_text_values_carry_quotes():
    c = _find(check_reference(), check="sum_wording")
    assert not c["consistent"].any()
    tv = load_text_values()
    assert tv["quote"].str.len().min() > 40
    assert set(tv["value"]) >= {14.89, 64, 9.78, 20, 12.96, 16.44, 15.27, 60, 74, 50}


def test_plausibility_file_holds_each_bound_once_with_its_source(tmp_path):
    from analysis.errors import InputError
    from analysis.reference import load_plausibility, max_plausible_mean_fixation_s

    bounds = load_plausibility()
    assert bounds["max_mean_fixation_s"][0] == max_plausible_mean_fixation_s() == 0.6
    assert "Rayner" in bounds["max_mean_fixation_s"][1]
    bad = tmp_path / "p.toml"
    bad.write_text("max_mean_fixation_s = -1\n[source]\nmax_mean_fixation_s = 'x'\n", encoding="utf-8")
    with pytest.raises(InputError, match="positive number"):
        load_plausibility(bad)
    bad.write_text("max_mean_fixation_s = 0.6\n", encoding="utf-8")
    with pytest.raises(InputError, match="no source"):
        load_plausibility(bad)
