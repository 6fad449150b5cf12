"""analysis.validate: agreement measures on hand-checkable inputs and the CLI on a tiny simulated cohort."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.validate import (
    classify_unmatched,
    cohen_kappa,
    f1_score,
    in_intervals,
    match_events,
    nearest_distance,
    validate_dataset,
)

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


def test_validate_dataset_on_a_tiny_cohort(cohort):
    res = validate_dataset(cohort, jobs=1, progress=False)
    assert len(res.trials) == 8
    assert res.truth_consistency_max_abs < 1e-6
    assert 0.5 < res.kappa <= 1.0 and 0.8 < res.f1 <= 1.0
    assert set(res.kappa_views) == {"valid_gaze_only", "boundary_tolerant", "perfect_tracker"}
    assert 0.5 < res.kappa_views["perfect_tracker"] <= 1.0
    assert {"fixation_count_perfect", "total_fixation_s_perfect"} <= set(res.trials.columns)
    assert res.table4["perfect_count_rel_error"].notna().all()
    line = res.summary_line()
    assert line.startswith("VALIDATION ") and "kappa=" in line and "F1=" in line and "worst cell error=" in line
    assert set(res.table4["stimulus_id"]) == set(res.trials["stimulus_id"])
    # every unmatched true fixation in a trial gets an outcome (matching for the outcomes sees
    # the whole session, so the totals agree with the event-level counts up to edge cases)
    unmatched = res.event_counts["true"] - res.event_counts["matched"]
    assert abs(sum(res.outcomes["true"].values()) - unmatched) <= 2


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analysis.validate", *args], capture_output=True, text=True, cwd=REPO)


def test_cli_exit_codes_follow_the_goals(cohort, tmp_path):
    ok = _cli("--data", str(cohort), "--out", str(tmp_path / "a"), "--jobs", "1", "--no-progress",
              "--kappa-goal", "0", "--cell-goal", "100")
    assert ok.returncode == 0, ok.stderr
    last = ok.stdout.strip().splitlines()[-1]
    assert last.startswith("VALIDATION PASS: kappa=")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["passed"] is True and summary["summary_line"] == last
    assert (tmp_path / "a" / "table4_recovery.tsv").is_file()
    assert set(summary["unmatched_outcomes"]["true"]) == {"merged", "split", "lost", "shifted"}
    assert "unmatched fixations by outcome" in ok.stdout and "merged with a neighbour" in ok.stdout
    missed = _cli("--data", str(cohort), "--out", str(tmp_path / "b"), "--jobs", "1", "--no-progress",
                  "--kappa-goal", "1.01")
    assert missed.returncode == 1
    assert "GOALS MISSED" in missed.stdout and missed.stdout.strip().splitlines()[-1].startswith("VALIDATION FAIL")


def test_missing_ground_truth_is_bad_input(tmp_path, cohort):
    with pytest.raises(InputError, match="ground-truth folder not found"):
        validate_dataset(cohort, truth=tmp_path / "none", jobs=1, progress=False)
    proc = _cli("--data", str(tmp_path / "nothing"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "nothing" in proc.stderr
