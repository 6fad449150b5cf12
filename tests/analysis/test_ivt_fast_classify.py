"""The I-VT classifier without arctan2 (``ivt._classify``) labels every sample exactly as
comparing the exact velocity (``ivt._velocity``, arctan2-based) with the threshold does
(Olsen, 2012, sec. 3.1.4-3.1.5: fixation below, saccade at or above the threshold)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.fixations import ivt
from analysis.recording import T60_GEOMETRY as G


def _signal(rng: np.random.Generator, n: int, rate: float, near: float, threshold: float,
            jitter: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random gaze in which a fraction ``near`` of the steps move at almost exactly ``threshold``."""
    dt = 1.0 / rate
    t = 100.0 + np.arange(n) * dt + rng.normal(0, dt * jitter, n)
    t = np.maximum.accumulate(t)
    t[1:] = np.maximum(t[1:], t[:-1] + 1e-6)
    mm_per_px = G.mm_per_px[0]
    # step size (px) for the threshold velocity at the viewing distance, small-angle estimate
    step = np.tan(np.radians(threshold * dt)) * G.distance_mm / mm_per_px
    kind = rng.random(n)
    speed = np.where(kind < near, step * (1 + rng.normal(0, 1e-3, n)),   # near the threshold
                     np.where(kind < 0.7, rng.normal(0, 0.2 * step, n), rng.normal(0, 5 * step, n)))
    ang = rng.uniform(0, 2 * np.pi, n)
    x = 640 + np.cumsum(speed * np.cos(ang))
    y = 512 + np.cumsum(speed * np.sin(ang))
    x = 640 + (x - 640) % 1200 - 600
    y = 512 + (y - 512) % 900 - 450
    gaps = rng.random(n) < 0.02
    x[gaps] = np.nan
    y[gaps] = np.nan
    return t, x, y


def _compare(t, x, y, eye, n_int, threshold):
    dt = float(np.median(np.diff(t)))
    fast = ivt._classify(t, x, y, eye, G, n_int, threshold, dt)
    v = ivt._velocity(t, x, y, eye, G, n_int)
    exact = ivt._classify_exact(v, x, threshold)
    np.testing.assert_array_equal(fast, exact)
    return v


@pytest.mark.parametrize("rate,n_int", [(60, 1), (120, 2), (300, 6), (1200, 24)])
@pytest.mark.parametrize("with_eye", [False, True])
def test_fast_classification_equals_arctan2_classification(rate, n_int, with_eye):
    rng = np.random.default_rng(rate + 7 * with_eye)
    n = 70_000  # more than two blocks
    t, x, y = _signal(rng, n, rate, near=0.2, threshold=30.0)
    eye = None
    if with_eye:
        drift = np.cumsum(rng.normal(0, 0.5, n))
        ex, ey, ez = 150 + drift, 130 - drift, 600 + drift
        lost = rng.random(n) < 0.01
        eye = tuple(np.where(lost, np.nan, e) for e in (ex, ey, ez))
    v = _compare(t, x, y, eye, n_int, 30.0)
    assert np.sum(np.abs(v - 30.0) < 0.5) > 50  # the test really probes the threshold


def test_ties_at_exactly_the_threshold_are_saccades():
    rng = np.random.default_rng(3)
    t, x, y = _signal(rng, 5000, 60, near=0.3, threshold=30.0)
    v = ivt._velocity(t, x, y, None, G, 1)
    for k in np.flatnonzero(np.isfinite(v))[::97][:20]:
        thr = float(v[k])  # a sample exactly at the threshold: v >= threshold -> saccade
        _compare(t, x, y, None, 1, thr)
        dt = float(np.median(np.diff(t)))
        assert ivt._classify(t, x, y, None, G, 1, thr, dt)[k] == ivt.SACCADE


@pytest.mark.parametrize("threshold", [1e-4, 0.5, 5000.0, 40000.0])
def test_extreme_thresholds_fall_back_to_the_exact_velocity(threshold):
    rng = np.random.default_rng(11)
    t, x, y = _signal(rng, 40_000, 120, near=0.2, threshold=min(threshold, 1000.0))
    _compare(t, x, y, None, 2, threshold)


def test_pauses_and_irregular_timestamps():
    rng = np.random.default_rng(5)
    t, x, y = _signal(rng, 50_000, 300, near=0.2, threshold=30.0, jitter=0.3)
    t[20_000:] += 2.0      # a 2 s pause: windows across it are long
    t[45_000:] += 1e-4     # and a tiny one
    _compare(t, x, y, None, 6, 30.0)
    _compare(t, x, y, None, 1, 30.0)


@pytest.mark.parametrize("rate,n_int", [(60, 1), (1200, 24)])
def test_thresholds_a_hair_away_from_a_sample_velocity(rate, n_int):
    """Regular timestamps make the fast test's band as narrow as its margin; thresholds
    within 1e-13 .. 1e-5 (relative) of a sample's exact velocity must not flip its label."""
    rng = np.random.default_rng(rate)
    t, x, y = _signal(rng, 6000, rate, near=0.3, threshold=30.0, jitter=0.0)
    v = ivt._velocity(t, x, y, None, G, n_int)
    finite = np.flatnonzero(np.isfinite(v) & (v > 1.0))
    for k in finite[:: max(1, finite.size // 12)][:12]:
        for rel in (-1e-5, -1e-7, -1e-9, -1e-13, 0.0, 1e-13, 1e-9, 1e-7, 1e-5):
            _compare(t, x, y, None, n_int, float(v[k]) * (1.0 + rel))
