"""Tobii I-VT filter (Olsen 2012): each of the seven steps pinned on hand-built signals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from analysis.config import IVTConfig
from analysis.errors import InputError
from analysis.fixations import FIXATION, GAP, SACCADE, UNKNOWN, detect_fixations, tobii_ivt
from analysis.fixations._common import find_gaps, select_gaze
from analysis.fixations.ivt import ivt_filter, window_intervals
from analysis.recording import (
    T60_GEOMETRY,
    Geometry,
    Recording,
    RecordingMeta,
    count_samples,
    empty_samples,
    empty_trials,
)

G = T60_GEOMETRY  # 1280 x 1024 px, 338 x 270 mm, 650 mm
CX, CY = 640.0, 512.0  # screen centre in px (exactly in front of the default eye)
MM_PER_PX = G.screen_mm[0] / G.screen_px[0]


def px_for_angle(deg: float, distance_mm: float = G.distance_mm) -> float:
    """Horizontal offset (px) from the screen centre seen at ``deg`` from the default eye."""
    return distance_mm * math.tan(math.radians(deg)) / MM_PER_PX


def run(t, x, y, valid=None, cfg=None, eye_xyz=None, geometry=G):
    """Both eyes identical (binocular average = the signal)."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    v = np.isfinite(x) if valid is None else np.asarray(valid, bool)
    return ivt_filter(t, x, y, x, y, v, v, geometry, eye_xyz, cfg or IVTConfig())


# --------------------------------------------------------------------------- step 1

def test_gap_of_75_ms_is_filled_and_76_ms_is_not():
    """Gap = time from the last valid sample before to the first valid sample after."""
    t = np.arange(400) / 1000.0
    x = 500.0 + np.arange(400)  # a slow line, so the interpolated values are checkable
    for span_ms, filled in ((75, True), (76, False)):
        valid = np.ones(400, bool)
        valid[101:100 + span_ms] = False  # last valid before: 100; first after: 100 + span
        xv = np.where(valid, x, np.nan)
        gaps = find_gaps(t, valid, 0.075)
        out = run(t, xv, np.full(400, CY), valid)
        inner = slice(101, 100 + span_ms)
        if filled:
            assert gaps.idx.tolist() == list(range(101, 175))
            np.testing.assert_allclose(out.x_px[inner], x[inner], rtol=0, atol=1e-9)
            assert out.info["filled_left"] == out.info["filled_right"] == 74
        else:
            assert gaps.idx.size == 0
            assert np.isnan(out.x_px[inner]).all()
            assert (out.labels[inner] == GAP).all()


def test_gap_fill_is_per_eye_and_never_at_the_edges():
    t = np.arange(20) / 60.0
    lx = np.full(20, 400.0)
    rx = np.full(20, 420.0)
    lv = np.ones(20, bool)
    rv = np.ones(20, bool)
    lv[5:7] = False   # 3 intervals = 50 ms: filled in the left eye only
    lv[:2] = False    # leading gap: no valid sample before -> never filled
    rv[15:] = False   # trailing gap in the right eye -> never filled
    lx[~lv] = np.nan
    rx[~rv] = np.nan
    y = np.full(20, CY)
    x, _, _, counts = select_gaze(t, lx, y, rx, y, lv, rv, None, "average", True, 0.075)
    assert counts == {"filled_left": 2, "filled_right": 0}
    np.testing.assert_allclose(x[5:7], 410.0)       # both eyes again -> mean
    np.testing.assert_allclose(x[:2], 420.0)        # only the right eye
    np.testing.assert_allclose(x[15:], 400.0)       # only the left eye
    x_off, _, _, _ = select_gaze(t, lx, y, rx, y, lv, rv, None, "average", False, 0.075)
    np.testing.assert_allclose(x_off[5:7], 420.0)   # without fill-in: the right eye alone


def test_fill_both_eyes_lost_off_fills_only_where_the_other_eye_is_valid():
    """60 Hz; left eye lost at samples 5-6, right eye at 6: sample 6 has both eyes lost.

    The left gap (last valid 4, first valid 7: 3 intervals = 50 ms) is interpolated
    across in both cases: left 400 -> 430 over 3 intervals gives 410 at sample 5. With
    ``fill_both_eyes_lost=False`` only sample 5 (right eye valid) is filled, sample 6
    stays missing.
    """
    t = np.arange(12) / 60.0
    lx = np.where(np.arange(12) < 7, 400.0, 430.0)
    rx = np.full(12, 500.0)
    lv = np.ones(12, bool)
    rv = np.ones(12, bool)
    lv[5:7] = False
    rv[6] = False
    lx[~lv] = np.nan
    rx[~rv] = np.nan
    y = np.full(12, CY)
    x, _, _, counts = select_gaze(t, lx, y, rx, y, lv, rv, None, "average", True, 0.075)
    assert counts == {"filled_left": 2, "filled_right": 1}
    np.testing.assert_allclose(x[5:7], [(410.0 + 500.0) / 2, (420.0 + 500.0) / 2])
    x, _, _, counts = select_gaze(t, lx, y, rx, y, lv, rv, None, "average", True, 0.075, False)
    assert counts == {"filled_left": 1, "filled_right": 0}
    assert x[5] == pytest.approx((410.0 + 500.0) / 2) and np.isnan(x[6])
    out = ivt_filter(t, lx, y, rx, y, lv, rv, G, None, IVTConfig(fill_both_eyes_lost=False))
    assert out.labels[6] == GAP and out.info["filled_left"] == 1 and out.info["filled_right"] == 0


# --------------------------------------------------------------------------- step 2

def test_eye_selection_modes():
    t = np.arange(4) / 60.0
    lx = np.array([400.0, 400.0, np.nan, np.nan])
    rx = np.array([420.0, np.nan, 420.0, np.nan])
    lv = np.isfinite(lx)
    rv = np.isfinite(rx)
    y = np.full(4, CY)
    expect = {
        "average": [410.0, 400.0, 420.0, np.nan],
        "strict_average": [410.0, np.nan, np.nan, np.nan],
        "left": [400.0, 400.0, np.nan, np.nan],
        "right": [420.0, np.nan, 420.0, np.nan],
    }
    for mode, want in expect.items():
        x, _, _, _ = select_gaze(t, lx, y, rx, y, lv, rv, None, mode, False, 0.075)
        np.testing.assert_array_equal(x, want, err_msg=mode)


def test_validity_flag_false_hides_finite_coordinates():
    t = np.arange(3) / 60.0
    lx = np.array([400.0, 400.0, 400.0])
    rx = np.array([420.0, 420.0, 420.0])
    lv = np.array([True, False, True])
    rv = np.array([True, True, False])
    x, _, _, _ = select_gaze(t, lx, lx, rx, rx, lv, rv, None, "average", False, 0.075)
    np.testing.assert_array_equal(x, [410.0, 420.0, 400.0])


# --------------------------------------------------------------------------- step 3

def test_noise_reduction_median_removes_a_spike_and_shrinks_at_gaps():
    n = 12
    t = np.arange(n) / 60.0
    x = np.full(n, 500.0)
    x[4] = 600.0          # single-sample spike
    x[8] = np.nan         # a missing sample: windows shrink around it
    x[7] = 550.0          # next to the gap: the window shrinks to the sample itself
    cfg = IVTConfig(noise_reduction="median", noise_window_samples=3, gap_fill=False)
    out = run(t, x, np.full(n, CY), cfg=cfg)
    assert out.x_px[4] == 500.0
    assert out.x_px[7] == 550.0
    assert out.x_px[0] == 500.0 and np.isnan(out.x_px[8])
    off = run(t, x, np.full(n, CY), cfg=dataclasses.replace(cfg, noise_reduction="none"))
    assert off.x_px[4] == 600.0


def test_noise_reduction_moving_average_window_3_and_5():
    n = 11
    t = np.arange(n) / 60.0
    x = np.full(n, 500.0)
    x[5] = 530.0
    y = np.full(n, CY)
    out = run(t, x, y, cfg=IVTConfig(noise_reduction="average", noise_window_samples=3))
    np.testing.assert_allclose(out.x_px[3:8], [500, 510, 510, 510, 500])
    out5 = run(t, x, y, cfg=IVTConfig(noise_reduction="average", noise_window_samples=5))
    np.testing.assert_allclose(out5.x_px[2:9], [500, 506, 506, 506, 506, 506, 500])
    # first sample: window shrinks to itself; second: to 3 samples
    x[0], x[1] = 560.0, 500.0
    edge = run(t, x, y, cfg=IVTConfig(noise_reduction="average", noise_window_samples=5))
    assert edge.x_px[0] == 560.0
    np.testing.assert_allclose(edge.x_px[1], (560 + 500 + 500) / 3)


@pytest.mark.parametrize("method", ["median", "average"])
def test_noise_reduction_matches_a_sample_by_sample_reference(method):
    """Random signal with gaps, longer than one processing block; window 5."""
    rng = np.random.default_rng(3)
    n = 20000
    x = rng.normal(500, 20, n)
    x[rng.choice(n, 300, replace=False)] = np.nan
    x[9000:9003] = np.nan
    h = 2
    want = x.copy()
    for i in range(n):  # reference: shrink the window symmetrically until it holds no NaN
        if np.isnan(x[i]):
            continue
        k = h
        while k > 0 and (i - k < 0 or i + k >= n or np.isnan(x[i - k:i + k + 1]).any()):
            k -= 1
        win = x[i - k:i + k + 1]
        want[i] = np.median(win) if method == "median" else np.mean(win)
    t = np.arange(n) / 300.0
    out = run(t, x, np.where(np.isnan(x), np.nan, CY),
              cfg=IVTConfig(noise_reduction=method, noise_window_samples=5, gap_fill=False))
    np.testing.assert_allclose(out.x_px, want, rtol=0, atol=1e-9)


def test_even_noise_window_is_rejected():
    t = np.arange(10) / 60.0
    with pytest.raises(InputError, match="odd"):
        run(t, np.full(10, CX), np.full(10, CY), cfg=IVTConfig(noise_reduction="median", noise_window_samples=4))


# --------------------------------------------------------------------------- step 4

def test_velocity_window_sample_count_from_measured_interval():
    assert window_intervals(0.020, 1 / 60) == 1      # previous + current sample
    assert window_intervals(0.020, 1 / 120) == 2     # previous, current, next
    assert window_intervals(0.020, 1 / 300) == 6
    assert window_intervals(0.020, 1 / 1200) == 24
    assert window_intervals(0.020, 1 / 30) == 1
    t = 5000.0 + np.arange(2400) / 1200.0
    out = run(t, np.full(2400, CX), np.full(2400, CY))
    assert out.info["velocity_window_intervals"] == 24


def test_velocity_from_viewing_distance_exact_geometry():
    """Two points on the horizontal line through the eye: angle = atan(b/D) - atan(a/D)."""
    t = np.arange(3) / 60.0
    a_px, b_px = 100.0, 400.0  # offsets from the centre, px
    x = np.array([CX + a_px, CX + b_px, CX + b_px])
    out = run(t, x, np.full(3, CY), cfg=IVTConfig(gap_fill=False))
    d = G.distance_mm
    want = math.degrees(math.atan(b_px * MM_PER_PX / d) - math.atan(a_px * MM_PER_PX / d)) * 60.0
    assert np.isnan(out.velocity_deg_s[0])  # window reaches before the recording
    assert out.velocity_deg_s[1] == pytest.approx(want, rel=1e-12)
    assert out.velocity_deg_s[2] == 0.0


def test_velocity_uses_the_eye_position_when_present():
    """Eye 600 mm in front of point A, B 600*tan(1 deg) mm to its right: exactly 1 deg."""
    n = 3
    t = np.arange(n) / 60.0
    ex_mm, ey_mm, ez_mm = 100.0, 80.0, 600.0
    ax_px, ay_px = ex_mm / MM_PER_PX, ey_mm / (G.screen_mm[1] / G.screen_px[1])
    bx_px = ax_px + ez_mm * math.tan(math.radians(1.0)) / MM_PER_PX
    x = np.array([ax_px, bx_px, bx_px])
    y = np.full(n, ay_px)
    # both eyes at the same position so the averaged eye position is exactly that point
    eye = tuple(np.full(n, v) for v in (ex_mm, ey_mm, ez_mm, ex_mm, ey_mm, ez_mm))
    with_eye = run(t, x, y, eye_xyz=eye)
    assert with_eye.velocity_deg_s[1] == pytest.approx(60.0, rel=1e-9)  # 1 deg in 1/60 s
    without = run(t, x, y)
    assert abs(without.velocity_deg_s[1] - 60.0) > 1.0  # viewing distance 650 mm, off-centre
    # left eye only: the left eye's position is used, the right one's ignored
    eye_lr = tuple(np.full(n, v) for v in (ex_mm, ey_mm, ez_mm, 0.0, 0.0, 300.0))
    left = ivt_filter(t, x, y, x + 50, y, np.ones(n, bool), np.ones(n, bool), G, eye_lr,
                      IVTConfig(eye_selection="left"))
    assert left.velocity_deg_s[1] == pytest.approx(60.0, rel=1e-9)


def test_no_velocity_where_the_window_touches_missing_data():
    n = 2400
    t = np.arange(n) / 1200.0
    x = np.full(n, CX)
    x[1000] = np.nan
    out = run(t, x, np.full(n, CY), cfg=IVTConfig(gap_fill=False, merge=False))
    v = out.velocity_deg_s
    assert np.isnan(v[:12]).all() and not np.isnan(v[12])          # recording start
    assert np.isnan(v[-12:]).all() and not np.isnan(v[-13])        # recording end
    assert np.isnan(v[988:1013]).all()                              # within 12 of the gap
    assert v[987] == 0.0 and v[1013] == 0.0
    assert out.labels[1000] == GAP and out.labels[995] == UNKNOWN
    # with step 6 the two halves merge and the samples between with gaze join the fixation
    merged = run(t, x, np.full(n, CY), cfg=IVTConfig(gap_fill=False))
    assert merged.events.onset_s.size == 1
    assert merged.labels[995] == FIXATION and merged.labels[1000] == GAP


# --------------------------------------------------------------------------- step 5

def _train(rate_hz: float, durations_s, positions):
    """Fixations at ``positions`` with instantaneous jumps between them."""
    counts = [int(round(d * rate_hz)) for d in durations_s]
    x = np.concatenate([np.full(c, p[0]) for c, p in zip(counts, positions)])
    y = np.concatenate([np.full(c, p[1]) for c, p in zip(counts, positions)])
    jumps = np.cumsum(counts)[:-1]  # first sample of each new position
    return x, y, jumps, counts


@pytest.mark.parametrize("rate_hz", [60.0, 1200.0])
def test_fixation_train_is_recovered_exactly(rate_hz):
    durations = [0.30, 0.25, 0.40, 0.35, 0.50]
    positions = [(300, 300), (900, 350), (640, 800), (200, 700), (1000, 900)]
    x, y, jumps, counts = _train(rate_hz, durations, positions)
    n = x.size
    t = 7000.0 + np.arange(n) / rate_hz
    out = run(t, x, y)
    n_int = window_intervals(0.02, 1 / rate_hz)
    b = n_int // 2
    a = n_int - b
    # sample i is a fixation sample iff its window [i-a, i+b] contains no jump and lies inside
    bounds = np.concatenate(([0], jumps, [n]))
    first = bounds[:-1] + a
    stop = bounds[1:] - b
    ev = out.events
    assert ev.onset_s.size == len(durations)
    np.testing.assert_array_equal(ev.start, first)
    np.testing.assert_array_equal(ev.stop, stop)
    half = 0.5 / rate_hz
    np.testing.assert_allclose(ev.onset_s, t[first] - half, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ev.offset_s, t[stop - 1] + half, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ev.duration_s, (stop - first) / rate_hz, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(ev.x_px, [p[0] for p in positions])
    np.testing.assert_array_equal(ev.y_px, [p[1] for p in positions])
    np.testing.assert_array_equal(ev.n_samples, stop - first)
    # labels: fixation inside, saccade around each jump, unknown at the recording edges
    fix_mask = np.zeros(n, bool)
    for s, e in zip(first, stop):
        fix_mask[s:e] = True
    assert (out.labels[fix_mask] == FIXATION).all()
    assert (out.labels[a:n - b][~fix_mask[a:n - b]] == SACCADE).all()
    assert (out.labels[:a] == UNKNOWN).all() and (out.labels[n - b:] == UNKNOWN).all()


def test_threshold_30_deg_s_below_is_fixation_at_or_above_is_saccade():
    rate = 60.0
    n = 40
    t = np.arange(n) / rate
    # constant angular speed along the horizontal line through the eye
    speed = np.where(np.arange(n) < 20, 29.0, 31.0)
    ang = np.concatenate(([0.0], np.cumsum(speed[1:] / rate)))
    x = CX + G.distance_mm * np.tan(np.radians(ang - 2.0)) / MM_PER_PX
    out = run(t, x, np.full(n, CY), cfg=IVTConfig(discard_short=False, merge=False))
    np.testing.assert_allclose(out.velocity_deg_s[1:], speed[1:], rtol=1e-9)
    assert (out.labels[1:20] == FIXATION).all() and (out.labels[20:] == SACCADE).all()


# --------------------------------------------------------------------------- step 6

def _two_fixations(angle_deg: float):
    """1000 Hz; fixation A at the centre, 50 missing samples, fixation B at ``angle_deg``.

    With the 20-sample velocity window the last velocity of A is 10 samples before the
    gap and the first of B 10 after it: 50 + 20 = 70 ms between the fixations.
    """
    rate = 1000.0
    t = np.arange(700) / rate
    x = np.full(700, CX)
    x[350:] = CX + px_for_angle(angle_deg)
    x[300:350] = np.nan
    return t, x, np.full(700, CY)


def test_merge_covers_gaps_labels_the_missing_samples_between_merged_fixations():
    """The 50 missing samples between two merged fixations become fixation samples with
    ``merge_covers_gaps``; the event (bounds, sample count, position) is the same."""
    t, x, y = _two_fixations(0.4)
    plain = run(t, x, y, cfg=IVTConfig(gap_fill=False))
    out = run(t, x, y, cfg=IVTConfig(gap_fill=False, merge_covers_gaps=True))
    assert (plain.labels[300:350] == GAP).all()
    assert (out.labels[290:360] == FIXATION).all()
    assert (out.labels != plain.labels).sum() == 50
    for f in ("onset_s", "offset_s", "n_samples", "x_px", "y_px"):
        np.testing.assert_array_equal(getattr(out.events, f), getattr(plain.events, f), err_msg=f)
    # not merged (0.6 deg apart): nothing is covered
    t, x, y = _two_fixations(0.6)
    apart = run(t, x, y, cfg=IVTConfig(gap_fill=False, merge_covers_gaps=True))
    assert apart.events.onset_s.size == 2 and (apart.labels[300:350] == GAP).all()


def test_merge_covers_gaps_then_discarded_gives_the_gaps_back():
    """1000 Hz, 120 samples, no gaze at 50-59: fixations 10-39 and 70-109 (20-sample
    window), 30 ms apart, merged into one of 100 ms; with a 150 ms minimum it is
    discarded: samples with gaze unknown, the missing ones gaps again."""
    t = np.arange(120) / 1000.0
    x = np.full(120, CX)
    x[50:60] = np.nan
    y = np.where(np.isnan(x), np.nan, CY)
    kept = run(t, x, y, cfg=IVTConfig(gap_fill=False, merge_covers_gaps=True))
    assert kept.events.onset_s.size == 1 and (kept.labels[10:110] == FIXATION).all()
    out = run(t, x, y, cfg=IVTConfig(gap_fill=False, merge_covers_gaps=True, min_fixation_ms=150.0))
    assert out.events.onset_s.size == 0
    assert (out.labels[50:60] == GAP).all()
    assert (out.labels[:50] == UNKNOWN).all() and (out.labels[60:] == UNKNOWN).all()


def test_prolab_1x_preset_on_an_x3_like_loss_pattern():
    """120 Hz, steady gaze, both eyes lost at every third sample (as in a real Pro Lab 1.145
    X3-120 export). ``prolab`` fills the 8 ms gaps and finds one fixation; ``prolab_1x``
    leaves them and finds none (no velocity window without a lost sample): every sample is
    unknown or a gap, as Tobii labelled them ('Unclassified' / 'EyesNotFound'). Inside a
    fixation, two such losses (samples 180 and 183: the fixations before and after end
    at 178 and start at 185, 50 ms apart) are bridged by merging, and the lost samples
    are labelled fixation."""
    from analysis.fixations.presets import PRESETS
    n = 120
    t = np.arange(n) / 120.0
    lost = np.arange(n) % 3 == 0
    x = np.where(lost, np.nan, CX)
    y = np.where(lost, np.nan, CY)
    both = run(t, x, y, cfg=PRESETS["prolab"].config)
    assert both.events.onset_s.size == 1
    one_x = run(t, x, y, cfg=PRESETS["prolab_1x"].config)
    assert one_x.events.onset_s.size == 0
    assert set(np.unique(one_x.labels[lost])) == {GAP}
    assert set(np.unique(one_x.labels[~lost])) == {UNKNOWN}
    # the pattern for 12 samples inside a 1 s fixation
    n = 120 * 3
    t = np.arange(n) / 120.0
    lost = np.zeros(n, bool)
    lost[[180, 183]] = True
    x = np.where(lost, np.nan, CX)
    y = np.where(lost, np.nan, CY)
    out = run(t, x, y, cfg=PRESETS["prolab_1x"].config)
    assert out.events.onset_s.size == 1
    assert (out.labels[1:-1] == FIXATION).all()


@pytest.mark.parametrize("angle, merged", [(0.4, True), (0.6, False)])
def test_merge_fixations_70_ms_apart(angle, merged):
    t, x, y = _two_fixations(angle)
    cfg = IVTConfig(gap_fill=False)  # keep the 50 ms gap (fill-in would bridge it)
    apart = run(t, x, y, cfg=dataclasses.replace(cfg, merge=False)).events
    assert apart.onset_s.size == 2
    assert apart.onset_s[1] - apart.offset_s[0] == pytest.approx(0.070, abs=1e-9)
    out = run(t, x, y, cfg=cfg)
    ev = out.events
    if merged:
        assert ev.onset_s.size == 1
        assert ev.onset_s[0] == pytest.approx(apart.onset_s[0])
        assert ev.offset_s[0] == pytest.approx(apart.offset_s[1])
        # the samples between with gaze (10 + 10) join; the missing ones stay gaps
        assert ev.n_samples[0] == apart.n_samples.sum() + 20
        assert (out.labels[290:300] == FIXATION).all() and (out.labels[300:350] == GAP).all()
        want_x = (CX * 290 + (CX + px_for_angle(angle)) * 340) / 630
        assert ev.x_px[0] == pytest.approx(want_x, rel=1e-12)
    else:
        assert ev.onset_s.size == 2


def test_merge_needs_the_time_criterion_too():
    t, x, y = _two_fixations(0.4)
    out = run(t, x, y, cfg=IVTConfig(gap_fill=False, merge_max_gap_ms=69.0))
    assert out.events.onset_s.size == 2


# --------------------------------------------------------------------------- step 7

def test_short_fixation_55_ms_is_discarded_60_ms_kept():
    rate = 1000.0
    n = 1000
    t = np.arange(n) / rate
    x = np.full(n, np.nan)
    # valid runs: a fixation keeps (run - 20) samples of velocity -> 55 and 60 ms fixations
    x[100:175] = 300.0
    x[400:480] = 900.0
    out = run(t, x, np.where(np.isnan(x), np.nan, CY), cfg=IVTConfig(gap_fill=False))
    ev = out.events
    assert ev.onset_s.size == 1
    assert ev.duration_s[0] == pytest.approx(0.060, abs=1e-9)
    assert ev.x_px[0] == 900.0
    assert (out.labels[110:165] == UNKNOWN).all()
    assert out.info["fixations_discarded"] == 1
    kept = run(t, x, np.where(np.isnan(x), np.nan, CY), cfg=IVTConfig(gap_fill=False, discard_short=False))
    assert kept.events.duration_s[0] == pytest.approx(0.055, abs=1e-9)


# --------------------------------------------------------------------------- API

def _recording(t, lx, ly, rx, ry, geometry=G, eye=None) -> Recording:
    s = empty_samples(t.size)
    s["time_s"] = t
    s["left_x_px"], s["left_y_px"], s["right_x_px"], s["right_y_px"] = lx, ly, rx, ry
    s["left_valid"] = np.isfinite(lx)
    s["right_valid"] = np.isfinite(rx)
    if eye is not None:
        for col, arr in zip([f"{e}_eye_{a}_mm" for e in ("left", "right") for a in "xyz"], eye):
            s[col] = arr
    meta = RecordingMeta(source="test", format="plain", sampling_rate_hz=60.0, geometry=geometry)
    return Recording(samples=s, trials=empty_trials(), meta=meta, counts=count_samples(s))


def test_detect_fixations_on_a_recording_matches_the_array_function():
    x, y, _, _ = _train(60.0, [0.3, 0.4, 0.3], [(300, 300), (900, 350), (640, 800)])
    t = np.arange(x.size) / 60.0
    res = detect_fixations(_recording(t, x - 5, y, x + 5, y))
    assert list(res.fixations.columns) == ["onset_s", "offset_s", "duration_s", "x_px", "y_px", "n_samples"]
    assert res.labels.dtype == np.int8 and res.labels.size == t.size
    ev, labels = tobii_ivt(t, x - 5, y, x + 5, y, np.ones(t.size, bool), np.ones(t.size, bool), G)
    pd.testing.assert_frame_equal(res.fixations, ev.to_frame())
    np.testing.assert_array_equal(res.labels, labels)
    np.testing.assert_array_equal(res.fixations["x_px"], [300, 900, 640])
    assert res.fixations["onset_s"].is_monotonic_increasing
    lf = res.labels_frame()
    assert list(lf.columns) == ["time_s", "label"]


def test_detect_fixations_uses_recording_eye_positions():
    n = 60
    t = np.arange(n) / 60.0
    x = np.full(n, 300.0)
    x[30:] = 300.0 + px_for_angle(0.3)
    eye = tuple(np.full(n, v) for v in (100.0, 80.0, 400.0, 100.0, 80.0, 400.0))
    with_eye = detect_fixations(_recording(t, x, np.full(n, CY), x, np.full(n, CY), eye=eye))
    without = detect_fixations(_recording(t, x, np.full(n, CY), x, np.full(n, CY)))
    assert not np.allclose(with_eye.velocity_deg_s[30], without.velocity_deg_s[30])


def test_bad_inputs_raise_input_errors():
    t = np.arange(10) / 60.0
    x = np.full(10, CX)
    with pytest.raises(InputError, match="strictly increasing"):
        run(t[::-1].copy(), x, x)
    t_nan = t.copy()
    t_nan[4] = np.nan
    with pytest.raises(InputError, match="sample 4 is not a finite number"):
        run(t_nan, x, x)
    with pytest.raises(InputError, match="eye selection|eye_selection"):
        run(t, x, x, cfg=IVTConfig(eye_selection="both"))
    with pytest.raises(InputError, match="unknown fixation algorithm"):
        detect_fixations(_recording(t, x, x, x, x), algorithm="ihmm")
    with pytest.raises(InputError, match="needs a IVTConfig|needs an IVTConfig|IVTConfig"):
        from analysis.config import IDTConfig
        detect_fixations(_recording(t, x, x, x, x), algorithm="ivt", config=IDTConfig())
    with pytest.raises(InputError, match="shape"):
        ivt_filter(t, x[:5], x, x, x, np.ones(10, bool), np.ones(10, bool), G)


def test_all_missing_and_tiny_recordings():
    t = np.arange(10) / 60.0
    nan = np.full(10, np.nan)
    out = run(t, nan, nan)
    assert out.events.onset_s.size == 0 and (out.labels == GAP).all()
    assert detect_fixations(_recording(t, nan, nan, nan, nan)).fixations.empty
    geometry = Geometry((100, 100), (100.0, 100.0), 500.0)
    two = run(np.array([0.0, 0.1]), [50.0, 50.0], [50.0, 50.0], geometry=geometry,
              cfg=IVTConfig(discard_short=False))
    assert two.events.onset_s.size == 1
