"""Cross-check: our I-VT classifier agrees with pymovements' I-VT where the definitions coincide.

pymovements 0.28 ``events.ivt`` is Salvucci & Goldberg's I-VT: a sample is a fixation
candidate when the norm of its 2-D velocity is below the threshold; runs of candidates
are fixations when ``timesteps[last] - timesteps[first] >= minimum_duration``. Its
velocity comes from ``transforms.numpy.pix2deg`` (per-axis angle from a viewing
distance) and ``pos2vel``.

The definitions coincide when

* gaze moves along the horizontal line through the eye (then the exact angle between
  two gaze points is the difference of their per-axis angles),
* our 20 ms window spans the same samples as pymovements' velocity method: 1 interval
  at 60 Hz = ``method="preceding"``, 2 intervals at 120 Hz = ``method="neighbors"``,
* gap fill-in and merging are off, and the minimum duration is translated: pymovements
  measures first-to-last sample, ``(n - 1)`` intervals; we measure between sample
  midpoints, ``n`` intervals. So pymovements' ``minimum_duration = 3`` samples equals
  our ``min_fixation_ms = 3.5`` intervals (both keep runs of 4+ samples).
"""

from __future__ import annotations

import numpy as np
import pytest
from pymovements.events import ivt as pm_ivt
from pymovements.transforms.numpy import pix2deg, pos2vel

from analysis.config import IVTConfig
from analysis.fixations.ivt import ivt_filter
from analysis.recording import T60_GEOMETRY as G

CX, CY = 640.0, 512.0


def horizontal_signal(rate_hz: float, seed: int) -> np.ndarray:
    """Fixations (jitter ~0.3 px), slow drifts (20 and 40 deg/s), fast saccades, a few missing samples."""
    rng = np.random.default_rng(seed)
    deg_per_px = np.degrees(G.screen_mm[0] / G.screen_px[0] / G.distance_mm)
    parts = [CX - 400 + 150 * np.arange(int(rate_hz * 0.05))]  # start with a saccade (pymovements' v[0] = 0)
    for k in range(40):
        pos = rng.uniform(200, 1080)
        parts.append(pos + rng.normal(0, 0.3, int(rng.integers(2, 20) * rate_hz / 60)))
        kind = k % 4
        if kind == 1:  # drift below / above the 30 deg/s threshold
            speed = 20.0 if rng.random() < 0.5 else 40.0
            steps = int(rate_hz * 0.1)
            parts.append(parts[-1][-1] + speed / rate_hz / deg_per_px * np.arange(1, steps + 1))
        else:  # fast saccade to the next position
            parts.append(np.linspace(pos, rng.uniform(200, 1080), int(rate_hz * 0.04) + 2)[1:-1])
    parts.append(CX + 400 - 150 * np.arange(int(rate_hz * 0.05)))  # end with a saccade
    x = np.concatenate(parts)
    drop = rng.choice(np.arange(20, x.size - 20), 6, replace=False)
    x[drop] = np.nan
    return x


@pytest.mark.parametrize("rate_hz, method", [(60.0, "preceding"), (120.0, "neighbors")])
@pytest.mark.parametrize("seed", [1, 2])
def test_same_fixations_as_pymovements_ivt(rate_hz, method, seed):
    x = horizontal_signal(rate_hz, seed)
    n = x.size
    y = np.where(np.isnan(x), np.nan, CY)
    t = np.arange(n) / rate_hz
    valid = np.isfinite(x)
    cfg = IVTConfig(gap_fill=False, merge=False, discard_short=True, min_fixation_ms=3.5 * 1000.0 / rate_hz)
    ours = ivt_filter(t, x, y, x, y, valid, valid, G, None, cfg)

    deg = pix2deg(np.stack([x - CX, y - CY], axis=1), screen_px=G.screen_px,
                  screen_cm=(G.screen_mm[0] / 10, G.screen_mm[1] / 10), distance_cm=G.distance_mm / 10,
                  origin="center")
    vel = pos2vel(deg, sampling_rate=rate_hz, method=method)
    theirs = pm_ivt(vel, timesteps=np.arange(n), minimum_duration=3, velocity_threshold=30.0).frame

    assert ours.info["velocity_window_intervals"] == (1 if method == "preceding" else 2)
    assert len(theirs) > 15
    np.testing.assert_array_equal(ours.events.start, theirs["onset"].to_numpy())
    np.testing.assert_array_equal(ours.events.stop - 1, theirs["offset"].to_numpy())
    # the velocities themselves agree where both are defined (pymovements fills edges with 0)
    speed = np.hypot(vel[:, 0], vel[:, 1])
    both = np.isfinite(ours.velocity_deg_s) & np.isfinite(speed)
    np.testing.assert_allclose(ours.velocity_deg_s[both], speed[both], rtol=1e-9, atol=1e-9)
