"""analysis.event_agreement measures on hand-checkable inputs; analysis.validate on a tiny simulated cohort and its CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.event_agreement import (
    classify_unmatched,
    cohen_kappa,
    event_agreement,
    f1_score,
    in_intervals,
    match_events,
    nearest_distance,
    sample_agreement,
)
from analysis.validate import GOALS, REPORTED, ValidationResult, true_method_effects, validate_dataset

REPO = Path(__file__).resolve().parents[2]


def test_cohen_kappa_hand_values():
    assert cohen_kappa(45, 5, 5, 45) == pytest.approx(0.8)
    assert cohen_kappa(10, 0, 0, 10) == 1.0
    # chance agreement only: both raters say "yes" half the time, independently
    assert cohen_kappa(25, 25, 25, 25) == pytest.approx(0.0)
    # po = 0.7, pe = 0.6*0.5 + 0.4*0.5 = 0.5 -> 0.4
    assert cohen_kappa(40, 20, 10, 30) == pytest.approx(0.4)
    assert np.isnan(cohen_kappa(0, 0, 0, 0))


def test_interval_helpers():
    on, off = np.array([1.0, 3.0]), np.array([2.0, 4.0])
    np.testing.assert_array_equal(in_intervals([0.5, 1.0, 1.99, 2.0, 3.5, 4.0], on, off),
                                  [False, True, True, False, True, False])
    np.testing.assert_allclose(nearest_distance(np.array([0.0, 1.4, 5.0]), np.array([1.0, 2.0])), [1.0, 0.4, 3.0])
    assert np.all(np.isinf(nearest_distance(np.array([1.0]), np.array([]))))


def test_event_matching_by_iou():
    true_on = np.array([0.0, 1.0, 2.0, 3.0])
    true_off = np.array([0.9, 1.9, 2.9, 3.9])
    det_on = np.array([0.05, 1.0, 1.5, 3.0])   # 1: exact; 2: half-overlapping -> IoU 0.4/1.4 < 0.5
    det_off = np.array([0.95, 1.45, 2.9, 3.5])
    dm, tm = match_events(det_on, det_off, true_on, true_off, 0.5)
    # det0 vs true0: inter 0.85, union 0.95 -> match; det1 [1.0,1.45] vs true1: 0.45/0.9 = 0.5 -> match
    # det2 [1.5,2.9] vs true2: 0.9/1.4 = 0.64 -> match; det3 [3.0,3.5] vs true3: 0.5/0.9 = 0.56 -> match
    np.testing.assert_array_equal(dm, [0, 1, 2, 3])
    np.testing.assert_array_equal(tm, [0, 1, 2, 3])
    dm, tm = match_events(det_on, det_off, true_on, true_off, 0.6)
    np.testing.assert_array_equal(dm, [0, -1, 2, -1])
    # one long detection spanning two true fixations matches at most one of them
    dm, tm = match_events(np.array([0.0]), np.array([1.9]), true_on[:2], true_off[:2], 0.4)
    assert (tm >= 0).sum() == 1
    p, r, f = f1_score(3, 4, 6)
    assert (p, r, f) == pytest.approx((0.75, 0.5, 0.6))


def test_unmatched_fixations_are_classified_by_what_the_detector_did():
    # true fixations (s):      0: [0, 1)   1: [1.1, 2)   2: [3, 4)   3: [5, 5.2)   4: [6, 7)   5: [8, 9)
    true_on = np.array([0.0, 1.1, 3.0, 5.0, 6.0, 8.0])
    true_off = np.array([1.0, 2.0, 4.0, 5.2, 7.0, 9.0])
    # detections: one spanning true 0 and 1 (the saccade between them missed), two halves of
    # true 2 (cut by a loss of gaze), none near true 3, a short piece of true 4 (IoU 0.2),
    # an exact copy of true 5, and one where nothing was
    det_on = np.array([0.0, 3.0, 3.55, 6.0, 8.0, 10.0])
    det_off = np.array([2.0, 3.45, 4.0, 6.2, 9.0, 10.5])
    dm, tm = match_events(det_on, det_off, true_on, true_off, 0.5)
    np.testing.assert_array_equal(tm, [0, -1, -1, -1, -1, 4])   # [0, 2) vs [0, 1): IoU 0.5 -> matched
    true_out, det_out, partner = classify_unmatched(det_on, det_off, true_on, true_off, dm, tm)
    assert true_out == ["", "merged", "split", "lost", "shifted", ""]
    assert partner[1] == 0 and partner[2] == -1
    assert det_out == ["", "fragment", "fragment", "shifted", "", "spurious"]
    # a detection covering two true fixations, matched to neither, is a merger
    t_out, d_out, _ = classify_unmatched(np.array([0.0]), np.array([3.0]), np.array([0.0, 1.5]),
                                         np.array([1.4, 3.0]), np.array([-1]), np.array([-1, -1]))
    assert d_out == ["merger"] and t_out == ["merged", "merged"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from tests.analysis.sim_fixture import simulate_tiny

    return simulate_tiny(tmp_path_factory.mktemp("val"), participants=2, n_trials=4, viewing_s=3.0, seed=3)


def test_sample_and_event_agreement_score_any_detector_against_any_reference():
    # reference: fixations [0, 1) and [2, 3) s; a coder who ends the first one 0.2 s late
    t = np.arange(0, 3, 0.1) + 0.05
    ref_on, ref_off = np.array([0.0, 2.0]), np.array([1.0, 3.0])
    coder = in_intervals(t, np.array([0.0, 2.0]), np.array([1.2, 3.0]))
    s = sample_agreement(t, coder, ref_on, ref_off)
    assert s["confusion"] == {"tp": 20, "fp": 2, "fn": 0, "tn": 8} and s["n"] == 30
    assert s["kappa"] == pytest.approx(cohen_kappa(20, 2, 0, 8))
    # leaving out samples within 0.06 s of a reference boundary (0, 1, 2, 3 s) drops 0.05, 0.95, 1.05, 1.95,
    # 2.05 and 2.95; of the two late samples only 1.15 remains
    tol = sample_agreement(t, coder, ref_on, ref_off, boundary_tolerance_s=0.06)
    assert tol["n"] == 30 - 6 and tol["confusion"]["fp"] == 1
    ev = event_agreement(np.array([0.0, 2.0]), np.array([1.2, 3.0]), ref_on, ref_off)
    assert ev["matched"] == 2 and ev["f1"] == 1.0
    # one detection spanning both reference fixations: both merged, the detection a merger
    ev = event_agreement(np.array([0.0]), np.array([3.0]), ref_on, ref_off)
    assert ev["matched"] == 0 and list(ev["ref_outcome"]) == ["merged", "merged"]
    assert list(ev["det_outcome"]) == ["merger"]


def test_true_method_effects_average_the_artworks():
    import pandas as pd

    params = pd.DataFrame({
        "stimulus_id": ["a_ours", "a_pix2pix", "b_ours", "b_pix2pix", "c_ours", "c_pix2pix"],
        "artwork": ["a", "a", "b", "b", "c", "c"], "category": ["painting"] * 4 + ["craft"] * 2,
        "method": ["ours", "pix2pix"] * 3, "target_handling": "as_paper",
        "target_fixation_time_s": [4.0, 2.0, 9.0, 3.0, 2.0, 2.0],
        "target_fixation_count": [10.0, 10.0, 20.0, 10.0, 5.0, 10.0]})
    eff = true_method_effects(params).set_index(["measure", "scope"])
    assert eff.at[("fixation_time_s", "overall"), "difference"] == pytest.approx((2 + 6 + 0) / 3)
    assert eff.at[("fixation_time_s", "painting"), "log_ratio"] == pytest.approx((np.log(2) + np.log(3)) / 2)
    assert eff.at[("fixation_count", "craft"), "log_ratio"] == pytest.approx(np.log(0.5))
    assert eff.at[("fixation_count", "overall"), "n_artworks"] == 3


def _result(**measures) -> ValidationResult:
    import pandas as pd

    base = {"kappa_boundary_tolerant": 0.95, "kappa_drop_vs_perfect": 0.01, "worst_cell_error_vs_perfect": 0.01,
            "worst_time_cell_error_vs_truth": 0.02, "effects_in_ci": 1.0, "kappa_vs_truth": 0.85,
            "kappa_perfect": 0.86, "event_f1": 0.9, "count_bias_vs_truth": -0.03}
    base.update(measures)
    return ValidationResult(measures=base, kappa_views={}, confusion={}, precision=1.0, recall=1.0, event_counts={},
                            trials=pd.DataFrame(), bias=pd.DataFrame(), table4=pd.DataFrame(), worst={},
                            truth_consistency_max_abs=0.0, simulated=True, outcomes={}, effects=pd.DataFrame())


def test_summary_line_says_ok_only_when_every_goal_holds_and_names_each_goal_missed():
    ok = _result()
    assert ok.passed and ok.summary_line().startswith("VALIDATION OK |")
    for key in (*GOALS, *REPORTED):
        assert f"{key}=" in ok.summary_line()
    bad = _result(kappa_boundary_tolerant=0.89, worst_cell_error_vs_perfect=float("nan"))
    assert not bad.passed
    line = bad.summary_line()
    assert line.startswith("VALIDATION FAILED, missed: kappa_boundary_tolerant 0.8900 (goal >= 0.9); "
                           "worst_cell_error_vs_perfect n/a (goal <= 0.02) |")
    assert _result(kappa_drop_vs_perfect=0.05).passed and not _result(kappa_drop_vs_perfect=0.0501).passed


def test_validate_dataset_on_a_tiny_cohort(cohort):
    res = validate_dataset(cohort, jobs=1, effects=False, progress=False)
    assert len(res.trials) == 8
    assert res.truth_consistency_max_abs < 1e-6
    m = res.measures
    assert set(m) == {*GOALS, *REPORTED}
    assert 0.5 < m["kappa_vs_truth"] <= 1.0 and 0.8 < m["event_f1"] <= 1.0
    assert 0.5 < m["kappa_perfect"] <= 1.0
    assert m["kappa_drop_vs_perfect"] == pytest.approx(m["kappa_perfect"] - m["kappa_vs_truth"])
    assert m["kappa_boundary_tolerant"] >= m["kappa_vs_truth"]
    assert np.isnan(m["effects_in_ci"])                  # not computed here
    assert {"fixation_count_perfect", "total_fixation_s_perfect"} <= set(res.trials.columns)
    t4 = res.table4
    worst = np.abs(t4[["time_rel_error_vs_perfect", "count_rel_error_vs_perfect"]].to_numpy()).max()
    assert m["worst_cell_error_vs_perfect"] == pytest.approx(worst)
    assert m["worst_time_cell_error_vs_truth"] == pytest.approx(np.abs(t4["time_rel_error"]).max())
    assert set(t4["stimulus_id"]) == set(res.trials["stimulus_id"])
    # every unmatched true fixation in a trial gets an outcome (matching for the outcomes sees
    # the whole session, so the totals agree with the event-level counts up to edge cases)
    unmatched = res.event_counts["true"] - res.event_counts["matched"]
    assert abs(sum(res.outcomes["true"].values()) - unmatched) <= 2


def test_perfect_tracker_is_the_simulators_noise_free_gaze_file(cohort):
    """The ground-truth gaze session is read by the ordinary reader and sits on the true events."""
    import gzip

    import pandas as pd

    from analysis.io import read_recording

    gt = cohort / "derivatives" / "ground_truth"
    rec = read_recording(cohort / "sub-01" / "ses-1")
    perfect = read_recording(gt / "sub-01" / "ses-1")
    np.testing.assert_array_equal(rec.samples["time_s"].to_numpy(), perfect.samples["time_s"].to_numpy())
    with gzip.open(gt / "sub-01_ses-1_events.tsv.gz", "rt") as fh:
        ev = pd.read_csv(fh, sep="\t", na_values=["n/a"], keep_default_na=False)
    fix = ev[ev["type"] == "fixation"]
    t = perfect.samples["time_s"].to_numpy()
    on, off = fix["onset_us"].to_numpy() / 1e6, fix["offset_us"].to_numpy() / 1e6
    i = np.searchsorted(on, t, side="right") - 1
    inside = (i >= 0) & (t < off[np.clip(i, 0, None)])
    x = perfect.samples["left_x_px"].to_numpy()
    # during a true fixation the perfect gaze is the fixation's position (2 decimals), and valid
    np.testing.assert_allclose(x[inside], fix["x_px"].to_numpy()[i[inside]], atol=0.011)
    assert perfect.samples["left_valid"].to_numpy()[inside].all()
    blinks = ev[ev["type"] == "blink"]
    for on_us, off_us in zip(blinks["onset_us"], blinks["offset_us"]):
        sel = (t >= on_us / 1e6) & (t < off_us / 1e6)
        assert not perfect.samples["left_valid"].to_numpy()[sel].any()
    # and differs from the recorded gaze by the tracker's noise, offset and drift
    recorded = rec.samples["left_x_px"].to_numpy()
    both = inside & rec.samples["left_valid"].to_numpy()
    assert np.nanstd(recorded[both] - x[both]) > 1.0


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.validate", *args], capture_output=True, text=True, cwd=REPO)


def test_cli_json_has_exactly_the_issue_keys_and_the_exit_code_follows_the_goals(cohort, tmp_path):
    proc = _cli("--data", str(cohort), "--out", str(tmp_path / "a"), "--json", str(tmp_path / "m.json"),
                "--jobs", "1", "--no-progress", "--no-effects")
    assert proc.returncode in (0, 1), proc.stderr
    last = proc.stdout.strip().splitlines()[-1]
    measures = json.loads((tmp_path / "m.json").read_text())
    assert list(measures) == [*GOALS, *REPORTED]
    assert measures["effects_in_ci"] is None
    missed = [k for k, (op, b) in GOALS.items()
              if not (measures[k] is not None and (measures[k] >= b if op == ">=" else measures[k] <= b))]
    if missed:
        assert proc.returncode == 1 and last.startswith("VALIDATION FAILED, missed: ")
        assert all(k in last.split("|")[0] for k in missed)
    else:
        assert proc.returncode == 0 and last.startswith("VALIDATION OK |")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["summary_line"] == last
    assert set(summary["unmatched_outcomes"]["true"]) == {"merged", "split", "lost", "shifted"}
    assert "unmatched fixations by outcome" in proc.stdout and "merged with a neighbour" in proc.stdout


def test_missing_ground_truth_is_bad_input(tmp_path, cohort):
    with pytest.raises(InputError, match="ground-truth folder not found"):
        validate_dataset(cohort, truth=tmp_path / "none", jobs=1, progress=False)
    proc = _cli("--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nothing" in proc.stderr


def test_headline_rows_are_read_on_their_own_scale():
    import pandas as pd

    from analysis.validate import _headline_scale

    # a ratio interval (E's headline may give ratio columns): compared on the log scale
    scale, lo, hi = _headline_scale(pd.Series({"ci_low": 0.1, "ci_high": 0.5, "ratio_ci_low": 1.2, "ratio_ci_high": 1.8}))
    assert scale == "log_ratio" and lo == pytest.approx(np.log(1.2)) and hi == pytest.approx(np.log(1.8))
    assert _headline_scale(pd.Series({"ci_low": 1.5, "ci_high": 2.5, "scale": "ratio"}))[1] == pytest.approx(np.log(1.5))
    assert _headline_scale(pd.Series({"ci_low": 0.2, "ci_high": 0.6, "family": "poisson"}))[0] == "log_ratio"
    assert _headline_scale(pd.Series({"ci_low": 0.2, "ci_high": 0.6, "formula": "log(total_fixation_s) ~ method"
                                      }))[0] == "log_ratio"
    assert _headline_scale(pd.Series({"ci_low": 2.0, "ci_high": 6.0, "family": "gaussian",
                                      "formula": "total_fixation_s ~ method"})) == ("difference", 2.0, 6.0)


def test_effects_coverage_compares_each_interval_with_the_truth_on_its_scale():
    import pandas as pd

    from analysis.validate import effects_coverage

    iv = pd.DataFrame({"measure": ["fixation_time_s", "fixation_count", "fixation_time_s", "fixation_time_s"],
                       "scope": ["overall", "overall", "painting", "overall"],
                       "model": ["headline", "headline", "by_category_t", "by_items_t"],
                       "scale": ["log_ratio", "log_ratio", "difference", "difference"],
                       "ci_low": [0.3, 1.2, 1.0, -9.0], "ci_high": [0.5, 1.4, 3.0, 9.0], "source": "x"})
    truth = pd.DataFrame({"measure": ["fixation_time_s", "fixation_count", "fixation_time_s"],
                          "scope": ["overall", "overall", "painting"], "difference": [5.0, 40.0, 4.0],
                          "log_ratio": [0.42, 1.09, 0.3], "n_artworks": [9, 9, 3]})
    cov = effects_coverage(iv, truth)
    assert len(cov) == 3                                   # by-items rows are not counted in effects_in_ci
    assert list(cov["inside"]) == [True, False, False]
    assert list(cov["true_effect"]) == [0.42, 1.09, 4.0]


def test_method_effect_intervals_come_from_the_reports_statistics():
    """On a small trial-level cohort: one overall row per model and measure, one per category and measure."""
    import pandas as pd

    from analysis.metrics import TRIAL_METRICS_COLUMNS
    from analysis.validate import INTERVAL_MODELS, method_effect_intervals
    from study.oculomotor import OculomotorParams, trial_level_cohort
    from study.simulate import ARTWORKS

    cells, methods, cat = {}, {}, {}
    for category, arts in ARTWORKS.items():
        for k, art in enumerate(arts):
            cells[f"{art}_ours"], cells[f"{art}_pix2pix"] = (12.0 + k, 40.0 + 5 * k), (9.0, 20.0)
            methods[f"{art}_ours"], methods[f"{art}_pix2pix"] = "ours", "pix2pix"
            cat[art] = category
    tm = pd.DataFrame(trial_level_cohort(cells, methods, 8, OculomotorParams(), seed=4))
    tm["artwork"] = tm["stimulus_id"].str.rsplit("_", n=1).str[0]
    tm["method"] = tm["stimulus_id"].map(methods)
    tm["category"] = tm["artwork"].map(cat)
    tm["session"], tm["trial"], tm["excluded"] = "ses-1", tm.groupby("participant").cumcount() + 1, False
    for c in TRIAL_METRICS_COLUMNS:
        if c not in tm.columns:
            tm[c] = np.nan
    iv = method_effect_intervals(tm[list(TRIAL_METRICS_COLUMNS)])
    assert set(iv["model"]) == set(INTERVAL_MODELS)
    overall = iv[iv["scope"] == "overall"]
    assert len(overall) == 6 and set(overall["measure"]) == {"fixation_time_s", "fixation_count"}
    assert set(iv.loc[iv["model"] == "by_category_t", "scope"]) == set(ARTWORKS)
    assert (iv["ci_low"] < iv["ci_high"]).all()
    # the headline rows are the report's crossed models (log-time LMM, Poisson GLMM): their ratio intervals
    # (Statistics.headline, scale "ratio") are compared with the true effect on the log-ratio scale
    from analysis.report.analyses import compute_statistics
    from analysis.validate import effects_coverage

    head = compute_statistics(tm[list(TRIAL_METRICS_COLUMNS)]).headline.set_index("measure")
    assert set(head["scale"]) == {"ratio"}
    hl = iv[iv["model"] == "headline"].set_index("measure")
    assert set(hl["scale"]) == {"log_ratio"}
    for m in ("fixation_time_s", "fixation_count"):
        assert hl.at[m, "ci_low"] == pytest.approx(np.log(head.at[m, "ci_low"]))
        assert hl.at[m, "ci_high"] == pytest.approx(np.log(head.at[m, "ci_high"]))
    # the generating cells: ours / Pix2Pix = (12 + k) / 9 s and (40 + 5k) / 20 fixations, k = 0, 1, 2
    k = np.arange(3)
    truth = pd.DataFrame({"measure": ["fixation_time_s", "fixation_count"], "scope": "overall",
                          "difference": [np.nan, np.nan],
                          "log_ratio": [np.log((12 + k) / 9).mean(), np.log((40 + 5 * k) / 20).mean()],
                          "n_artworks": 9})
    cov = effects_coverage(iv, truth)
    assert len(cov) == 2 and cov["inside"].all(), cov
