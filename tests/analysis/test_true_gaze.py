"""analysis.true_gaze: the perfect-tracker reference rebuilds the simulator's true gaze."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.recording import T60_GEOMETRY
from analysis.true_gaze import perfect_samples, profile_exponent, true_gaze


def _events() -> pd.DataFrame:
    nan = np.nan
    rows = [  # type, onset_us, offset_us, x, y, start_x, start_y, amplitude, peak velocity
        ("fixation", 0, 200_000, 100.0, 100.0, nan, nan, nan, nan),
        # 4 deg in 30 ms with the minimum-jerk peak ratio 1.875 -> n = 2
        ("saccade", 200_000, 230_000, 200.0, 100.0, 100.0, 100.0, 4.0, 1.875 * 4.0 / 0.03),
        ("fixation", 230_000, 500_000, 200.0, 100.0, nan, nan, nan, nan),
        ("blink", 500_000, 600_000, nan, nan, nan, nan, nan, nan),
        ("fixation", 600_000, 800_000, 210.0, 90.0, nan, nan, nan, nan),
    ]
    return pd.DataFrame(rows, columns=["type", "onset_us", "offset_us", "x_px", "y_px", "start_x_px", "start_y_px",
                                       "amplitude_deg", "peak_velocity_deg_s"])


def test_profile_exponent_inverts_the_peak_ratio():
    np.testing.assert_allclose(profile_exponent(np.array([1.5, 1.875]), np.array([1.0, 1.0]), np.array([1.0, 1.0])),
                               [1.0, 2.0], atol=1e-6)
    assert profile_exponent(np.array([np.nan]), np.array([2.0]), np.array([0.03]))[0] == 2.0


def test_true_gaze_follows_fixations_saccades_and_blinks():
    t = np.array([0.1, 0.2, 0.2075, 0.215, 0.2225, 0.2299, 0.3, 0.55, 0.7, 0.9])
    x, y, valid = true_gaze(t, _events())
    assert x[0] == 100.0 and x[6] == 200.0 and x[8] == 210.0 and y[8] == 90.0
    assert x[1] == pytest.approx(100.0) and x[3] == pytest.approx(150.0)     # symmetric profile: half-way at mid-time
    # minimum jerk: covered fraction 10 tau^3 - 15 tau^4 + 6 tau^5 at tau = 0.25
    assert x[2] == pytest.approx(100.0 + 100.0 * (10 * 0.25 ** 3 - 15 * 0.25 ** 4 + 6 * 0.25 ** 5))
    assert np.all(np.diff(x[1:6]) > 0) and np.all(y[:7] == 100.0)
    assert not valid[7] and np.isnan(x[7])                                   # blink: no gaze
    assert not valid[9]                                                      # after the last event
    s = perfect_samples(t, _events(), T60_GEOMETRY)
    assert (s["left_valid"] == s["right_valid"]).all() and s["left_x_norm"].iloc[0] == pytest.approx(100 / 1280)


def test_reconstruction_matches_a_simulated_perfect_tracker(tmp_path):
    """Cross-check with study.simulate: with no tracker error the recorded gaze is the true gaze."""
    from analysis.io import read_recording
    from tests.analysis.sim_fixture import simulate_tiny

    perfect = {"precision_rms_deg": 0.0, "accuracy_deg": 0.0, "drift_sd_deg": 0.0, "head_sd_mm": 0.0,
               "loss_fraction": 0.0}
    root = simulate_tiny(tmp_path, participants=1, n_trials=2, viewing_s=2.0, seed=11, oculomotor=perfect)
    ses = next(root.glob("sub-*/ses-*"))
    rec = read_recording(ses)
    events = pd.read_csv(next((root / "derivatives" / "ground_truth").glob("*_events.tsv.gz")), sep="\t",
                         na_values=["n/a"], keep_default_na=False)
    assert (events["type"] == "saccade").sum() > 5
    x, y, valid = true_gaze(rec.samples["time_s"].to_numpy(), events)
    ok = rec.samples["left_valid"].to_numpy()
    np.testing.assert_array_equal(valid, ok)                   # blinks are the only loss
    # the compact encoding writes whole pixels and the truth 2 decimals
    assert np.max(np.abs(x[ok] - rec.samples["left_x_px"].to_numpy()[ok])) <= 0.51
    assert np.max(np.abs(y[ok] - rec.samples["left_y_px"].to_numpy()[ok])) <= 0.51
