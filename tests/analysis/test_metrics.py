"""Per-trial AOI metrics (Tobii Pro Lab interval definitions) on hand-made fixation tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.aoi import PolygonAOI
from analysis.metrics import (
    AOI_METRICS_COLUMNS,
    FIXATION_COLUMNS,
    TRIAL_METRICS_COLUMNS,
    aoi_metrics,
    interval_metrics,
    label_fixations,
    main,
    trial_metrics,
)

IN = (50.0, 50.0)      # inside the AOI 0..100 x 0..100
OUT = (500.0, 500.0)   # outside


def trials_table(*intervals, aoi=(0.0, 0.0, 100.0, 100.0), stimuli=None):
    n = len(intervals)
    stimuli = stimuli or [f"stim{k + 1}_ours" for k in range(n)]
    return pd.DataFrame({
        "trial": np.arange(1, n + 1),
        "stimulus_id": stimuli,
        "artwork": [s.split("_")[0] for s in stimuli],
        "category": ["painting"] * n,
        "method": ["ours"] * n,
        "onset_s": [a for a, _ in intervals],
        "offset_s": [b for _, b in intervals],
        "aoi_left": [aoi[0]] * n, "aoi_top": [aoi[1]] * n, "aoi_right": [aoi[2]] * n, "aoi_bottom": [aoi[3]] * n,
    })


def fix_table(rows):
    """rows: (onset, offset, (x, y))"""
    on = np.array([r[0] for r in rows], dtype=float)
    off = np.array([r[1] for r in rows], dtype=float)
    return pd.DataFrame({"onset_s": on, "offset_s": off, "duration_s": off - on,
                         "x_px": [r[2][0] for r in rows], "y_px": [r[2][1] for r in rows],
                         "n_samples": np.round((off - on) * 60).astype(int)})


def row(m, k=0):
    return m.iloc[k]


def test_columns_are_exactly_the_documented_ones():
    m = trial_metrics(trials_table((0.0, 10.0)), fix_table([(1.0, 2.0, IN)]), participant="sub-01", session="ses-1")
    assert tuple(m.columns) == TRIAL_METRICS_COLUMNS
    assert row(m)["participant"] == "sub-01" and row(m)["session"] == "ses-1"
    assert row(m)["excluded"] is np.False_ or row(m)["excluded"] is False
    assert pd.isna(row(m)["exclusion_reason"])


def test_in_and_out_of_aoi_fixations():
    fx = fix_table([(1.0, 1.3, IN), (1.4, 1.6, OUT), (2.0, 2.5, IN), (3.0, 3.2, IN), (4.0, 4.4, OUT)])
    m = row(trial_metrics(trials_table((0.5, 10.0)), fx))
    assert m["total_fixation_s"] == pytest.approx(0.3 + 0.5 + 0.2)
    assert m["fixation_count"] == 3
    assert m["time_to_first_fixation_s"] == pytest.approx(0.5)
    assert m["first_fixation_duration_s"] == pytest.approx(0.3)
    # visits: [1.0-1.3] ended by the OUT fixation, then [2.0-3.2] (two fixations, gap not ending it)
    assert m["visit_count"] == 2
    assert m["total_visit_duration_s"] == pytest.approx(0.3 + 1.2)


def test_no_fixation_in_aoi_gives_na_ttff_and_zero_counts():
    fx = fix_table([(1.0, 1.3, OUT), (2.0, 2.5, OUT)])
    m = row(trial_metrics(trials_table((0.0, 10.0)), fx))
    assert m["fixation_count"] == 0 and m["visit_count"] == 0
    assert m["total_fixation_s"] == 0.0 and m["total_visit_duration_s"] == 0.0
    assert np.isnan(m["time_to_first_fixation_s"]) and np.isnan(m["first_fixation_duration_s"])
    # and with no fixations at all
    m = row(trial_metrics(trials_table((0.0, 10.0)), fix_table([])))
    assert m["fixation_count"] == 0 and np.isnan(m["time_to_first_fixation_s"])


def test_fixations_straddling_the_interval_are_clipped():
    # starts 0.5 s before the interval, ends 0.25 s after it starts; one at the end runs past offset
    fx = fix_table([(9.5, 10.25, IN), (11.0, 11.5, IN), (19.8, 20.6, IN), (20.6, 21.0, IN)])
    m = row(trial_metrics(trials_table((10.0, 20.0)), fx))
    assert m["fixation_count"] == 3          # the one after the interval is not counted
    assert m["time_to_first_fixation_s"] == 0.0
    assert m["first_fixation_duration_s"] == pytest.approx(0.25)
    assert m["total_fixation_s"] == pytest.approx(0.25 + 0.5 + 0.2)
    assert m["visit_count"] == 1
    assert m["total_visit_duration_s"] == pytest.approx(10.0)  # 10.0 .. 20.0 (clipped both ends)


def test_fixation_touching_the_interval_only_at_its_end_point_is_not_counted():
    fx = fix_table([(9.0, 10.0, IN), (20.0, 20.5, IN)])
    m = row(trial_metrics(trials_table((10.0, 20.0)), fx))
    assert m["fixation_count"] == 0 and np.isnan(m["time_to_first_fixation_s"])


def test_visits_split_by_an_outside_fixation_and_not_by_gaps():
    fx = fix_table([(1.0, 1.2, IN), (1.25, 1.5, IN),      # visit 1 (gap 50 ms in between)
                    (1.6, 1.8, OUT),                       # ends visit 1
                    (2.0, 2.3, IN),                        # visit 2
                    (2.4, 2.5, OUT), (2.6, 2.7, OUT),
                    (3.0, 3.5, IN), (5.0, 5.5, IN)])       # visit 3 spans a 1.5 s gap without fixations
    m = row(trial_metrics(trials_table((0.0, 10.0)), fx))
    assert m["visit_count"] == 3
    assert m["total_visit_duration_s"] == pytest.approx(0.5 + 0.3 + 2.5)
    assert m["fixation_count"] == 5
    assert m["total_fixation_s"] == pytest.approx(0.2 + 0.25 + 0.3 + 0.5 + 0.5)


def test_several_trials_are_independent_and_visits_do_not_run_across_trials():
    fx = fix_table([(1.0, 2.0, IN), (3.0, 4.0, OUT), (11.0, 12.0, IN), (12.5, 13.0, IN)])
    m = trial_metrics(trials_table((0.0, 5.0), (10.0, 15.0), (20.0, 25.0)), fx)
    assert m["fixation_count"].tolist() == [1, 2, 0]
    assert m["visit_count"].tolist() == [1, 1, 0]
    assert m["time_to_first_fixation_s"].iloc[:2].tolist() == pytest.approx([1.0, 1.0])
    assert np.isnan(m["time_to_first_fixation_s"].iloc[2])
    assert m["total_visit_duration_s"].tolist() == pytest.approx([1.0, 2.0, 0.0])
    assert m["trial"].tolist() == [1, 2, 3]


def test_unsorted_fixations_give_the_same_result():
    rows = [(1.0, 1.3, IN), (1.4, 1.6, OUT), (2.0, 2.5, IN), (11.0, 11.5, IN)]
    t = trials_table((0.0, 5.0), (10.0, 15.0))
    a = trial_metrics(t, fix_table(rows))
    b = trial_metrics(t, fix_table(rows[::-1]))
    pd.testing.assert_frame_equal(a, b)


def test_trial_without_interval_gets_na_metrics():
    t = trials_table((0.0, 5.0), (np.nan, np.nan))
    m = trial_metrics(t, fix_table([(1.0, 1.3, IN)]))
    assert m["fixation_count"].iloc[0] == 1
    assert pd.isna(m["fixation_count"].iloc[1]) and pd.isna(m["total_fixation_s"].iloc[1])


def test_quality_columns_are_joined_by_trial():
    t = trials_table((0.0, 5.0), (10.0, 15.0))
    q = pd.DataFrame({"participant": "sub-01", "session": "ses-1", "trial": [2, 1], "stimulus_id": ["b", "a"],
                      "n_samples": [300, 299], "valid_fraction_left": [0.9, 1.0], "valid_fraction_right": [0.8, 1.0],
                      "valid_fraction": [0.85, 1.0], "longest_gap_s": [0.2, 0.0], "precision_rms_deg": [0.05, 0.04],
                      "trial_duration_s": [5.0, 4.99]})
    m = trial_metrics(t, fix_table([]), quality=q)
    assert m["valid_fraction"].tolist() == [1.0, 0.85]
    assert m["n_samples"].tolist() == [299, 300]
    assert m["trial_duration_s"].tolist() == [4.99, 5.0]
    # without quality: n/a quality, duration from the interval
    m = trial_metrics(t, fix_table([]))
    assert m["valid_fraction"].isna().all() and m["trial_duration_s"].tolist() == [5.0, 5.0]


def test_interval_metrics_kernel_matches_a_plain_reference():
    rng = np.random.default_rng(3)
    n_groups = 7
    group = np.sort(rng.integers(0, n_groups, 200))
    on = np.empty(200)
    for g in range(n_groups):  # test-only reference construction
        k = group == g
        on[k] = np.sort(rng.uniform(0, 100, k.sum()))
    off = on + rng.uniform(0.01, 0.2, 200)
    hit = rng.random(200) < 0.6
    start = np.zeros(n_groups)
    got = interval_metrics(group, n_groups, on, off, start, hit)
    for g in range(n_groups):
        idx = np.flatnonzero(group == g)
        h = hit[idx]
        visits, cur = [], None
        for i, is_in in zip(idx, h):
            if is_in:
                cur = [on[i], off[i]] if cur is None else [cur[0], off[i]]
            elif cur is not None:
                visits.append(cur)
                cur = None
        if cur is not None:
            visits.append(cur)
        assert got["fixation_count"][g] == h.sum()
        assert got["total_fixation_s"][g] == pytest.approx((off[idx] - on[idx])[h].sum())
        assert got["visit_count"][g] == len(visits)
        assert got["total_visit_duration_s"][g] == pytest.approx(sum(b - a for a, b in visits))
        if h.any():
            assert got["time_to_first_fixation_s"][g] == on[idx[h][0]]


def test_polygon_aoi_metrics_rows_per_trial_and_aoi():
    # the image is shown at 100..300 x 100..300; "top" covers its upper half, "tri" a triangle
    t = trials_table((0.0, 10.0), (10.0, 20.0), aoi=(100.0, 100.0, 300.0, 300.0),
                     stimuli=["david_ours", "thinker_ours"])
    top = PolygonAOI("david_ours", "top", np.array([(0, 0), (1, 0), (1, 0.5), (0, 0.5)], dtype=float))
    tri = PolygonAOI("david_ours", "tri", np.array([(0, 1), (0.5, 0.5), (1, 1)], dtype=float))
    other = PolygonAOI("venus_de_milo_ours", "x", np.array([(0, 0), (1, 0), (1, 1)], dtype=float))
    fx = fix_table([(1.0, 1.5, (150.0, 120.0)),   # top half
                    (2.0, 2.2, (200.0, 280.0)),   # lower middle -> in the triangle
                    (3.0, 3.4, (110.0, 290.0)),   # lower-left corner: neither
                    (4.0, 4.1, (250.0, 150.0)),   # top again
                    (12.0, 13.0, (150.0, 120.0))])  # trial 2: no polygons for thinker
    m = aoi_metrics(t, fx, [top, tri, other], participant="sub-01", session="ses-1")
    assert tuple(m.columns) == AOI_METRICS_COLUMNS
    assert m["aoi_name"].tolist() == ["top", "tri"]
    assert m["trial"].tolist() == [1, 1]
    assert m["fixation_count"].tolist() == [2, 1]
    assert m["visit_count"].tolist() == [2, 1]
    assert m["total_fixation_s"].tolist() == pytest.approx([0.6, 0.2])
    assert m["time_to_first_fixation_s"].tolist() == pytest.approx([1.0, 2.0])
    assert aoi_metrics(t, fx, []).shape[0] == 0


def test_label_fixations_assigns_trial_and_in_aoi():
    t = trials_table((0.0, 5.0), (10.0, 15.0))
    fx = fix_table([(-1.0, -0.5, IN), (1.0, 1.3, IN), (4.9, 10.5, OUT), (11.0, 12.0, IN)])
    lab = label_fixations(t, fx)
    assert tuple(lab.columns) == FIXATION_COLUMNS
    assert lab["trial"].tolist()[1:] == [1, 2, 2]       # 4.9-10.5 overlaps trial 2 most
    assert pd.isna(lab["trial"].iloc[0]) and pd.isna(lab["stimulus_id"].iloc[0]) and pd.isna(lab["in_aoi"].iloc[0])
    assert lab["in_aoi"].tolist()[1:] == [True, False, True]
    assert lab["stimulus_id"].tolist()[1:] == ["stim1_ours", "stim2_ours", "stim2_ours"]
    assert lab["onset_s"].tolist() == [-1.0, 1.0, 4.9, 11.0]  # own times, not clipped


def test_cli_help_lists_every_option(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for opt in ("--data", "--out", "--config", "--jobs", "--aois", "--algorithm", "--skip-unreadable", "--no-progress"):
        assert opt in out


def test_session_metrics_equals_the_separate_functions():
    from analysis.metrics import session_metrics

    t = trials_table((0.0, 5.0), (10.0, 15.0), aoi=(0.0, 0.0, 100.0, 100.0), stimuli=["david_ours", "thinker_ours"])
    fx = fix_table([(1.0, 1.3, IN), (1.4, 1.6, OUT), (4.8, 10.2, (20.0, 20.0)), (11.0, 12.0, (80.0, 80.0))])
    poly = [PolygonAOI("david_ours", "tl", np.array([(0, 0), (0.6, 0), (0.6, 0.6), (0, 0.6)], dtype=float))]
    tm, am, lab = session_metrics(t, fx, aois=poly, participant="sub-01", session="1")
    pd.testing.assert_frame_equal(tm, trial_metrics(t, fx, participant="sub-01", session="1"))
    pd.testing.assert_frame_equal(am, aoi_metrics(t, fx, poly, participant="sub-01", session="1"))
    pd.testing.assert_frame_equal(lab, label_fixations(t, fx))
    # the fixation spanning both trials counts in each, clipped to each interval
    assert tm["fixation_count"].tolist() == [2, 2]
    assert tm["total_fixation_s"].tolist() == pytest.approx([0.3 + 0.2, 0.2 + 1.0])
    assert am["fixation_count"].tolist() == [2] and am["time_to_first_fixation_s"].tolist() == pytest.approx([1.0])
    assert session_metrics(t, fx)[1] is None


def test_trial_without_aoi_rectangle_gets_na_metrics_not_zeros():
    t = trials_table((0.0, 5.0), (10.0, 15.0))
    t.loc[1, "aoi_left"] = np.nan
    fx = fix_table([(1.0, 1.3, IN), (11.0, 11.5, IN)])
    m = trial_metrics(t, fx)
    assert m["fixation_count"].iloc[0] == 1
    assert pd.isna(m["fixation_count"].iloc[1]) and pd.isna(m["total_fixation_s"].iloc[1])
    lab = label_fixations(t, fx)
    assert lab["trial"].tolist() == [1, 2]
    assert lab["in_aoi"].iloc[0] == True and pd.isna(lab["in_aoi"].iloc[1])  # noqa: E712


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 30.0), st.floats(0.02, 1.0), st.booleans()), min_size=0, max_size=40),
       st.floats(0.0, 10.0), st.floats(1.0, 20.0))
def test_metric_invariants_hold_for_any_fixation_sequence(raw, t0, length):
    # non-overlapping fixations built from (gap, duration, inside) triples
    rows, t = [], 0.0
    for gap, dur, inside in raw:
        t += gap * 0.1
        rows.append((t, t + dur, IN if inside else OUT))
        t += dur
    m = row(trial_metrics(trials_table((t0, t0 + length)), fix_table(rows)))
    assert 0 <= m["visit_count"] <= m["fixation_count"]
    # interval times are clipped in absolute seconds, so sums carry float rounding (~1e-15)
    assert 0.0 <= m["total_fixation_s"] <= m["total_visit_duration_s"] + 1e-9
    assert m["total_visit_duration_s"] <= length + 1e-9
    if m["fixation_count"] == 0:
        assert np.isnan(m["time_to_first_fixation_s"]) and m["total_fixation_s"] == 0.0
    else:
        assert 0.0 <= m["time_to_first_fixation_s"] <= length
        assert 0.0 < m["first_fixation_duration_s"] <= m["total_fixation_s"] + 1e-12
    # counting by hand: fixations overlapping the interval and inside
    n_in = sum(1 for a, b, p in rows if p == IN and min(b, t0 + length) > max(a, t0))
    assert m["fixation_count"] == n_in


@pytest.mark.parametrize("trial, problem", [([1e30, 2], "not a whole number"), ([1, 1], "appears twice"),
                                            ([1.5, 2], "not a whole number")])
def test_trial_numbers_must_be_whole_and_unique(trial, problem):
    """Issue 11: 1e30 became -9223372036854775808 in trial_metrics.tsv; duplicates were accepted."""
    from analysis.errors import InputError
    from analysis.metrics import trial_metrics

    trials = pd.DataFrame({"trial": trial, "stimulus_id": ["a", "b"], "onset_s": [0.0, 1.0], "offset_s": [1.0, 2.0],
                           "aoi_left": 0.0, "aoi_top": 0.0, "aoi_right": 10.0, "aoi_bottom": 10.0})
    fix = pd.DataFrame({"onset_s": [0.1], "offset_s": [0.5], "x_px": [5.0], "y_px": [5.0]})
    with pytest.raises(InputError, match=problem):
        trial_metrics(trials, fix)
