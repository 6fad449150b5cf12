"""Noise-free gaze from a simulated cohort's ground-truth events (the "perfect tracker" reference).

``analysis.validate`` compares fixation detection with the truth. Part of the
disagreement comes from the tracker (noise, offset, drift, data loss) and part from the
detector itself at the recording's sampling rate (a 60 Hz velocity window spans a whole
sample interval). To tell them apart, validate also runs the same detector on a *perfect
measurement* of the same eye movements: this module rebuilds, at the recording's own
timestamps, where the eye really looked.

Model (docs/simulation.md, "Saccades"; the events file of ``derivatives/ground_truth``):

* during a **fixation** the gaze is at the fixation's position ``(x_px, y_px)``;
* during a **saccade** it moves on the straight line from ``(start_x_px, start_y_px)`` to
  the landing point ``(x_px, y_px)`` with the symmetric velocity profile
  ``v(tau) ~ (tau (1 - tau))**n``, so the covered fraction is the regularised incomplete
  beta function ``I_tau(n + 1, n + 1)``; ``n = 2`` is the minimum-jerk profile (Flash &
  Hogan 1985, J. Neurosci. 5:1688). ``n`` follows from the recorded peak velocity:
  ``Vp * D / A = 0.25**n / B(n + 1, n + 1)``, limited to ``1 <= n <= 4``;
* during a **blink** there is no gaze (both eyes invalid), as on a real tracker.

There is no noise, accuracy offset, drift, head movement or data loss.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import beta as beta_fn
from scipy.special import betainc

from analysis.recording import EYES, Geometry, empty_samples

#: The profile exponent's range (docs/simulation.md).
PROFILE_N_RANGE = (1.0, 4.0)
_N_GRID = np.linspace(*PROFILE_N_RANGE, 301)
_K_GRID = 0.25 ** _N_GRID / beta_fn(_N_GRID + 1.0, _N_GRID + 1.0)   # increasing in n


def profile_exponent(peak_velocity_deg_s: np.ndarray, amplitude_deg: np.ndarray, duration_s: np.ndarray) -> np.ndarray:
    """Exponent ``n`` of each saccade's ``(tau (1 - tau))**n`` profile (2 where unknown).

    Examples
    --------
    >>> float(profile_exponent(np.array([1.875 * 4 / 0.03]), np.array([4.0]), np.array([0.03]))[0])
    2.0
    """
    v, a, d = (np.asarray(z, dtype=np.float64) for z in (peak_velocity_deg_s, amplitude_deg, duration_s))
    with np.errstate(invalid="ignore", divide="ignore"):
        k = v * d / a
    n = np.interp(k, _K_GRID, _N_GRID)
    return np.where(np.isfinite(k) & (a > 0) & (d > 0), np.round(n, 9), 2.0)


def true_gaze(time_s: np.ndarray, events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the eye looked at each time: ``(x_px, y_px, valid)``.

    Parameters
    ----------
    time_s : array
        Sample times on the tracker clock (s).
    events : DataFrame
        Ground-truth events (``type``, ``onset_us``, ``offset_us``, ``x_px``, ``y_px``,
        ``start_x_px``, ``start_y_px``, ``amplitude_deg``, ``peak_velocity_deg_s``) that
        tile the recording. Times outside every event, and blinks, have no gaze.
    """
    t = np.asarray(time_s, dtype=np.float64)
    ev = events.sort_values("onset_us", kind="stable")
    on = ev["onset_us"].to_numpy(np.float64) / 1e6
    off = ev["offset_us"].to_numpy(np.float64) / 1e6
    kind = ev["type"].to_numpy(str)
    ex = ev["x_px"].to_numpy(np.float64)
    ey = ev["y_px"].to_numpy(np.float64)
    x = np.full(len(t), np.nan)
    y = np.full(len(t), np.nan)
    if len(on) == 0:
        return x, y, np.zeros(len(t), bool)
    i = np.searchsorted(on, t, side="right") - 1
    inside = (i >= 0) & (t < off[np.clip(i, 0, None)])
    j = np.where(inside, i, 0)
    k = np.where(inside, kind[j], "")
    fix = k == "fixation"
    x[fix], y[fix] = ex[j[fix]], ey[j[fix]]
    sac = k == "saccade"
    if sac.any():
        s = j[sac]
        sx = ev["start_x_px"].to_numpy(np.float64)[s]
        sy = ev["start_y_px"].to_numpy(np.float64)[s]
        dur = off[s] - on[s]
        n = profile_exponent(ev["peak_velocity_deg_s"].to_numpy(np.float64)[s],
                             ev["amplitude_deg"].to_numpy(np.float64)[s], dur)
        tau = np.clip((t[sac] - on[s]) / np.maximum(dur, 1e-9), 0.0, 1.0)
        frac = betainc(n + 1.0, n + 1.0, tau)
        x[sac] = sx + (ex[s] - sx) * frac
        y[sac] = sy + (ey[s] - sy) * frac
    valid = np.isfinite(x) & np.isfinite(y)
    return x, y, valid


def perfect_samples(time_s: np.ndarray, events: pd.DataFrame, geometry: Geometry) -> pd.DataFrame:
    """A ``Recording.samples`` table of the true gaze, both eyes identical, no eye position or pupil."""
    x, y, valid = true_gaze(time_s, events)
    s = empty_samples(len(x))
    s["time_s"] = np.asarray(time_s, dtype=np.float64)
    w, h = geometry.screen_px
    for eye in EYES:
        s[f"{eye}_x_px"], s[f"{eye}_y_px"] = x, y
        s[f"{eye}_x_norm"], s[f"{eye}_y_norm"] = x / w, y / h
        s[f"{eye}_valid"] = valid
    return s
