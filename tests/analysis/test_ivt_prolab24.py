"""Tobii Pro Lab 24 settings of the I-VT filter on hand-checkable signals.

``velocity_window_at_gaps = "shift"`` (the nearest complete velocity window next to a
gap), the Pro Lab names of the noise reductions (``moving_average``,
``moving_median``) and the ``prolab_strict_ma`` preset (strict average + moving
average 3), as measured on a real Pro Lab 24.21 export (docs/fixations.md, "Presets").
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from analysis.config import IVTConfig
from analysis.errors import InputError
from analysis.fixations import FIXATION, GAP, SACCADE, UNKNOWN
from analysis.fixations.ivt import _shifted_windows, ivt_filter
from analysis.fixations.presets import PRESETS
from analysis.recording import T60_GEOMETRY as G

CY = 512.0
DT = 1 / 120.0  # 120 Hz: a 20 ms window spans 2 intervals (samples i-1 .. i+1)


def run(x, cfg, lx=None, rx=None, lv=None, rv=None):
    x = np.asarray(x, float)
    t = np.arange(x.size) * DT
    lx = x if lx is None else np.asarray(lx, float)
    rx = x if rx is None else np.asarray(rx, float)
    lv = np.isfinite(lx) if lv is None else lv
    rv = np.isfinite(rx) if rv is None else rv
    y = np.full(x.size, CY)
    return ivt_filter(t, lx, y, rx, y, lv, rv, G, None, cfg)


def test_shifted_windows_by_hand():
    """Missing sample 4 of 10, 2-interval windows centred (a = 1).

    Sample 0 (window -1..1, outside) -> 0..2; sample 3 (2..4 holds 4) -> 1..3;
    sample 5 (4..6) -> 5..7; sample 9 (8..10, outside) -> 7..9. Sample 4 itself has no gaze.
    """
    missing = np.zeros(10, bool)
    missing[4] = True
    i, start = _shifted_windows(missing, 2, 1)
    assert i.tolist() == [0, 3, 5, 9]
    assert start.tolist() == [0, 1, 5, 7]
    # a sample between two missing ones has no complete window of 2 intervals containing it
    missing[6] = True
    i, start = _shifted_windows(missing, 2, 1)
    assert 5 not in i.tolist()


def test_shift_gives_the_gap_edges_a_velocity():
    """A still signal with a 10-sample gap (too long to fill): the samples next to it.

    With the Olsen window (``unknown``) the last sample before and the first after the
    gap have no velocity (unknown); shifted they are fixation samples (velocity 0).
    """
    x = np.full(40, 500.0)
    x[15:25] = np.nan
    base = IVTConfig(gap_fill=False, merge=False, discard_short=False)
    off = run(x, base)
    assert off.labels[14] == UNKNOWN and off.labels[25] == UNKNOWN and off.labels[0] == UNKNOWN
    on = run(x, dataclasses.replace(base, velocity_window_at_gaps="shift"))
    assert on.labels[14] == FIXATION and on.labels[25] == FIXATION and on.labels[0] == FIXATION
    assert (on.labels[15:25] == GAP).all()
    v = on.velocity_deg_s
    assert v[14] == 0.0 and v[25] == 0.0 and np.isnan(v[20])
    # everything away from the gap is unchanged
    keep = np.r_[1:14, 26:39]
    np.testing.assert_array_equal(on.labels[keep], off.labels[keep])


def test_shifted_velocity_uses_the_window_after_the_gap():
    """First sample after the gap: window = samples 25..27, so its velocity is that of the ramp after.

    The signal moves 4 px per sample after the gap, from 636 px, so the window 25..27
    spans 636 -> 644 px, symmetric about the screen centre (640 px, in front of the eye):
    angle = 2 atan(4 px x mm/px / 650 mm), over 2 intervals (16.7 ms). Before the gap it is still.
    """
    x = np.full(40, 500.0)
    x[15:25] = np.nan
    x[25:] = 636.0 + 4.0 * np.arange(15)
    out = run(x, IVTConfig(gap_fill=False, merge=False, discard_short=False, velocity_window_at_gaps="shift"))
    mm_per_px = G.screen_mm[0] / G.screen_px[0]
    want = 2 * math.degrees(math.atan(4 * mm_per_px / G.distance_mm)) / (2 * DT)
    assert out.velocity_deg_s[25] == pytest.approx(want, rel=1e-9)
    assert out.labels[25] == (FIXATION if want < 30 else SACCADE)


def test_moving_average_alias_equals_average():
    x = np.full(20, 500.0)
    x[10] = 530.0
    a = run(x, IVTConfig(noise_reduction="average"))
    b = run(x, IVTConfig(noise_reduction="moving_average"))
    np.testing.assert_array_equal(a.x_px, b.x_px)
    np.testing.assert_allclose(b.x_px[9:12], [510.0, 510.0, 510.0])
    m = run(x, IVTConfig(noise_reduction="moving_median"))
    assert m.x_px[10] == 500.0


def test_strict_average_then_moving_average_by_hand():
    """Strict average, then a centred 3-sample mean over the both-eyes means.

    Left eye 400, right 420 (mean 410); at sample 5 the right eye is lost: with gap
    fill-in off the strict average has no gaze there, and the windows of samples 4
    and 6 shrink to themselves (410). At sample 10 the right eye reads 450 (mean 425):
    samples 9-11 average to 415.
    """
    n = 16
    lx = np.full(n, 400.0)
    rx = np.full(n, 420.0)
    rx[5] = np.nan
    rx[10] = 450.0
    cfg = IVTConfig(eye_selection="strict_average", noise_reduction="moving_average", gap_fill=False)
    out = run(lx, cfg, lx=lx, rx=rx)
    assert np.isnan(out.x_px[5]) and out.labels[5] == GAP
    assert out.x_px[4] == 410.0 and out.x_px[6] == 410.0
    np.testing.assert_allclose(out.x_px[9:12], [415.0, 415.0, 415.0])
    # with gap fill-in (Olsen step 1, per eye) the right eye is filled at 5 first: 410 there
    filled = run(lx, dataclasses.replace(cfg, gap_fill=True), lx=lx, rx=rx)
    assert filled.x_px[5] == pytest.approx(410.0)


def test_prolab_strict_ma_preset_and_sources():
    p = PRESETS["prolab_strict_ma"]
    c = p.config
    assert (c.eye_selection, c.noise_reduction, c.noise_window_samples, c.velocity_window_at_gaps) == (
        "strict_average", "moving_average", 3, "shift")
    assert c.velocity_threshold_deg_s == 30.0 and c.velocity_window_ms == 20.0
    for name in ("eye_selection", "noise_reduction", "noise_window_samples", "velocity_window_at_gaps"):
        assert p.sources[name]
    # the default stays Olsen's
    assert IVTConfig().velocity_window_at_gaps == "unknown"


def test_bad_velocity_window_at_gaps_is_refused():
    with pytest.raises(InputError, match="velocity_window_at_gaps"):
        run(np.full(10, 500.0), IVTConfig(velocity_window_at_gaps="extend"))


def test_config_recipe_loads(tmp_path):
    """The docs' [ivt] recipe for the prolab_strict_ma settings is a valid config file."""
    from analysis.config import load_config

    p = tmp_path / "c.toml"
    p.write_text('[ivt]\neye_selection = "strict_average"\nnoise_reduction = "moving_average"\n'
                 'noise_window_samples = 3\nvelocity_window_at_gaps = "shift"\n', encoding="utf-8")
    assert load_config(p).ivt == PRESETS["prolab_strict_ma"].config
    p.write_text('[ivt]\nvelocity_window_at_gaps = "extend"\n', encoding="utf-8")
    with pytest.raises(InputError, match="velocity_window_at_gaps"):
        load_config(p)
