"""I-DT (Salvucci & Goldberg 2000) on hand-built signals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.config import IDTConfig
from analysis.errors import InputError
from analysis.fixations import FIXATION, GAP, SACCADE
from analysis.fixations.idt import gaze_angles_deg, idt_filter
from analysis.recording import T60_GEOMETRY as G

CX, CY = 640.0, 512.0
MM_PER_PX = G.screen_mm[0] / G.screen_px[0]


def deg_to_px(deg: float) -> float:
    """x (px) seen at ``deg`` horizontally from the default eye (in front of the centre)."""
    return CX + G.distance_mm * math.tan(math.radians(deg)) / MM_PER_PX


def run(t, x, y, cfg=None):
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    v = np.isfinite(x)
    return idt_filter(t, x, y, x, y, v, v, G, None, cfg or IDTConfig())


def test_gaze_angles_are_exact_per_axis():
    ax, ay = gaze_angles_deg(np.array([deg_to_px(3.0), CX]), np.array([CY, CY]), G)
    np.testing.assert_allclose(ax, [3.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(ay, [0.0, 0.0], atol=1e-12)


def test_idt_hand_signal_100_hz():
    """30 samples at A, 3 saccade samples, 8 at B (80 ms < 100 ms), 3 saccade, 20 at C."""
    rate = 100.0
    parts = [(30, deg_to_px(-5)), (1, deg_to_px(-2)), (1, deg_to_px(1)), (1, deg_to_px(3)),
             (8, deg_to_px(4)), (3, deg_to_px(8)), (20, deg_to_px(10))]
    x = np.concatenate([np.full(c, p) for c, p in parts])
    n = x.size
    t = 100.0 + np.arange(n) / rate
    out = run(t, x, np.full(n, CY))
    ev = out.events
    np.testing.assert_array_equal(ev.start, [0, 44])
    np.testing.assert_array_equal(ev.stop, [30, 64])
    np.testing.assert_allclose(ev.onset_s, [t[0] - 0.005, t[44] - 0.005], atol=1e-9)
    np.testing.assert_allclose(ev.duration_s, [0.30, 0.20], atol=1e-9)
    np.testing.assert_allclose(ev.x_px, [deg_to_px(-5), deg_to_px(10)])
    assert (out.labels[:30] == FIXATION).all() and (out.labels[30:44] == SACCADE).all()
    assert (out.labels[44:] == FIXATION).all()
    assert out.info["min_window_samples"] == 10


def test_idt_window_grows_until_dispersion_exceeds_threshold():
    """A slow horizontal drift of 0.1 deg/sample: a window of 11 samples spans exactly 1.0 deg."""
    rate = 100.0
    n = 40
    ang = 0.1 * np.arange(n)
    x = np.array([deg_to_px(a) for a in ang])
    t = np.arange(n) / rate
    out = run(t, x, np.full(n, CY), IDTConfig(dispersion_deg=1.0 + 1e-9))
    # windows of 11 samples (dispersion 1.0 deg) are fixations; the 12th sample breaks it
    np.testing.assert_array_equal(out.events.start, [0, 11, 22])
    np.testing.assert_array_equal(out.events.stop, [11, 22, 33])
    assert (out.labels[33:] == SACCADE).all()  # 7 samples left: shorter than the 10-sample window


def test_idt_missing_samples_break_windows_and_gap_fill_bridges_them():
    rate = 100.0
    n = 60
    x = np.full(n, CX)
    x[25] = np.nan
    t = np.arange(n) / rate
    out = run(t, x, np.full(n, CY))
    np.testing.assert_array_equal(out.events.start, [0, 26])
    np.testing.assert_array_equal(out.events.stop, [25, 60])
    assert out.labels[25] == GAP
    filled = run(t, x, np.full(n, CY), IDTConfig(gap_fill=True))
    np.testing.assert_array_equal(filled.events.start, [0])
    np.testing.assert_array_equal(filled.events.stop, [60])


def test_idt_rejects_bad_config():
    t = np.arange(20) / 100.0
    with pytest.raises(InputError, match="dispersion_deg"):
        run(t, np.full(20, CX), np.full(20, CY), IDTConfig(dispersion_deg=0.0))
    with pytest.raises(InputError, match="eye_selection"):
        run(t, np.full(20, CX), np.full(20, CY), IDTConfig(eye_selection="mean"))
