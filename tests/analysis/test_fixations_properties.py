"""Invariants of the fixation output on random recordings (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.config import IDTConfig, IVTConfig
from analysis.fixations import FIXATION, GAP
from analysis.fixations.idt import idt_filter
from analysis.fixations.ivt import ivt_filter
from analysis.recording import T60_GEOMETRY as G


def random_recording(seed: int, rate: float, n: int):
    rng = np.random.default_rng(seed)
    # piecewise-constant positions with noise, random jumps, random gaps per eye
    jumps = np.sort(rng.choice(np.arange(1, n), size=max(1, n // 25), replace=False))
    pos = rng.uniform(100, 1100, (jumps.size + 1, 2))
    seg = np.searchsorted(jumps, np.arange(n), side="right")
    x = pos[seg, 0] + rng.normal(0, 1.0, n)
    y = pos[seg, 1] + rng.normal(0, 1.0, n)
    lv = rng.random(n) > 0.05
    rv = rng.random(n) > 0.05
    blink = rng.integers(0, n, 3)
    for b in blink:
        width = int(rng.integers(1, 20))
        lv[b:b + width] = False
        rv[b:b + width] = False
    t = 50.0 + np.arange(n) / rate + rng.uniform(0, 0.05 / rate, n)
    return t, np.where(lv, x - 1, np.nan), np.where(lv, y, np.nan), np.where(rv, x + 1, np.nan), \
        np.where(rv, y, np.nan), lv, rv


def check_consistency(t, out, min_duration_s=None):
    ev = out.events
    labels = out.labels
    assert labels.dtype == np.int8 and labels.size == t.size
    assert set(np.unique(labels)) <= {0, 1, 2, 3}
    assert np.all(np.diff(ev.onset_s) > 0)
    assert np.all(ev.offset_s > ev.onset_s)
    assert np.all(ev.offset_s[:-1] <= ev.onset_s[1:] + 1e-12)  # no overlap
    np.testing.assert_allclose(ev.duration_s, ev.offset_s - ev.onset_s)
    if min_duration_s is not None:
        assert np.all(ev.duration_s >= min_duration_s - 1e-6)
    fix_in_events = 0
    for k in range(ev.onset_s.size):
        span = labels[ev.start[k]:ev.stop[k]]
        assert span[0] == FIXATION and span[-1] == FIXATION
        assert np.all((span == FIXATION) | (span == GAP) | (span == 0) | (span == 2))
        n_fix = int(np.sum(span == FIXATION))
        assert ev.n_samples[k] == n_fix
        sel = np.flatnonzero(span == FIXATION) + ev.start[k]
        np.testing.assert_allclose(ev.x_px[k], out.x_px[sel].mean(), rtol=1e-9)
        np.testing.assert_allclose(ev.y_px[k], out.y_px[sel].mean(), rtol=1e-9)
        fix_in_events += n_fix
    assert fix_in_events == int(np.sum(labels == FIXATION))  # no fixation sample outside an event
    assert np.all(labels[np.isnan(out.x_px)] == GAP)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([60.0, 120.0, 300.0, 1200.0]),
       n=st.integers(30, 1500), merge=st.booleans(), noise=st.sampled_from(["none", "median", "average"]))
def test_ivt_output_is_consistent(seed, rate, n, merge, noise):
    t, lx, ly, rx, ry, lv, rv = random_recording(seed, rate, n)
    cfg = IVTConfig(merge=merge, noise_reduction=noise)
    out = ivt_filter(t, lx, ly, rx, ry, lv, rv, G, None, cfg)
    check_consistency(t, out, min_duration_s=0.060)
    # gap samples only where the selected gaze is missing; velocity only where there is gaze
    assert np.all(np.isnan(out.velocity_deg_s[np.isnan(out.x_px)]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([60.0, 300.0]), n=st.integers(30, 1500))
def test_idt_output_is_consistent(seed, rate, n):
    t, lx, ly, rx, ry, lv, rv = random_recording(seed, rate, n)
    out = idt_filter(t, lx, ly, rx, ry, lv, rv, G, None, IDTConfig())
    check_consistency(t, out)
    # every fixation's dispersion is within the threshold
    from analysis.fixations.idt import gaze_angles_deg
    ax, ay = gaze_angles_deg(out.x_px, out.y_px, G)
    for s, e in zip(out.events.start, out.events.stop):
        d = np.ptp(ax[s:e]) + np.ptp(ay[s:e])
        assert d <= 1.0 + 1e-9
