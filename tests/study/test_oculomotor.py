"""Behaviour of the generative oculomotor + tracker model (study.oculomotor)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from study.trackers.base import GAZE_FIELD_NAMES, check_gaze_block
from study.trackers.base import Scene as BaseScene
from study.oculomotor import (
    METHOD_CONTRAST,
    SAMPLE_KEYS,
    GazeModel,
    OculomotorParams,
    Scene,
    draw_participant_effects,
    landing_grid,
    merge_event_pieces,
    profile_exponent,
    profile_peak_ratio,
    trial_factors,
    trial_level_cohort,
)

AOI = (256.0, 128.0, 1024.0, 896.0)   # a 768 x 768 image centred on the 1280 x 1024 T60 screen
CENTRE = (640.0, 512.0)


def run(model: GazeModel, scenes: list[tuple[Scene, float]], t0: int = 5_000_000, chunk_s: float = 0.25):
    """Drive the model like a tracker on a virtual clock: contiguous chunks per scene."""
    blocks, pieces, t = [], [], t0
    for scene, dur in scenes:
        end = t + int(round(dur * 1e6))
        while t < end:
            step = min(int(chunk_s * 1e6), end - t)
            s, ev = model.generate(t, step / 1e6, scene)
            blocks.append(s)
            pieces += ev
            t += step
    samples = {k: np.concatenate([b[k] for b in blocks]) for k in SAMPLE_KEYS}
    return samples, merge_event_pieces(pieces)


def test_sample_block_has_tobii_fields_and_a_jittered_60hz_clock():
    model = GazeModel(OculomotorParams(), seed=3)
    s, _ = run(model, [(Scene("cross", CENTRE), 20.0)])
    assert tuple(s) == SAMPLE_KEYS
    assert SAMPLE_KEYS == GAZE_FIELD_NAMES           # the recorder's contract (study.trackers.base)
    check_gaze_block(s)
    ts = s["system_time_stamp"]
    assert ts.dtype == np.int64
    d = np.diff(ts)
    assert np.all(d > 0)
    assert abs(d.mean() - 1e6 / 60) < 20
    assert 100 < d.std() < 1500          # jitter present, but small
    assert len(ts) == pytest.approx(20 * 60, abs=2)
    x = s["left_gaze_point_on_display_area_x"]
    valid = s["left_gaze_point_valid"]
    assert np.all(np.isnan(x[~valid]))
    assert np.all(np.isfinite(x[valid]))
    assert np.all(np.isnan(s["left_pupil_diameter"][~valid]))


def test_same_seed_same_calls_identical_and_other_seed_differs():
    scenes = [(Scene("cross", CENTRE), 1.0), (Scene("stimulus", aoi_px=AOI, stimulus_id="a"), 5.0)]
    a, ea = run(GazeModel(seed=11, targets={"a": (2.0, 8)}), scenes)
    b, eb = run(GazeModel(seed=11, targets={"a": (2.0, 8)}), scenes)
    c, _ = run(GazeModel(seed=12, targets={"a": (2.0, 8)}), scenes)
    for k in SAMPLE_KEYS:
        np.testing.assert_array_equal(a[k], b[k])
    assert ea == eb
    assert not np.array_equal(a["system_time_stamp"], c["system_time_stamp"])


def test_events_tile_time_without_overlap_and_samples_follow_them():
    model = GazeModel(seed=5, targets={"s1": (10.0, 40)})
    s, ev = run(model, [(Scene("cross", CENTRE), 1.0), (Scene("stimulus", aoi_px=AOI, stimulus_id="s1"), 30.0),
                        (Scene("blank"), 1.0), (Scene("text", aoi_px=(200, 400, 1080, 600)), 3.0)])
    on = np.array([e["onset_us"] for e in ev])
    off = np.array([e["offset_us"] for e in ev])
    assert np.all(off > on)
    np.testing.assert_array_equal(on[1:], off[:-1])           # contiguous, never overlapping
    kinds = [e["type"] for e in ev]
    assert set(kinds) <= {"fixation", "saccade", "blink"}
    for a, b in zip(kinds, kinds[1:]):
        assert not (a == "saccade" and b == "saccade")
    # every sample inside a blink is invalid for both eyes
    ts = s["system_time_stamp"]
    for e in ev:
        if e["type"] == "blink" and e["offset_us"] < off.max():   # the last event is cut by the end of the run
            m = (ts >= e["onset_us"]) & (ts < e["offset_us"])
            assert not s["left_gaze_point_valid"][m].any() and not s["right_gaze_point_valid"][m].any()
            assert 0.1 - 1e-6 <= (e["offset_us"] - e["onset_us"]) / 1e6 <= 0.3 + 1e-6
    fix = [e for e in ev if e["type"] == "fixation" and e["offset_us"] < off.max()]   # the last one is cut by the run end
    assert min((e["offset_us"] - e["onset_us"]) for e in fix) >= 0.08e6 - 1


def test_saccades_follow_the_main_sequence_with_a_smooth_profile():
    p = OculomotorParams()
    model = GazeModel(p, seed=8)
    _, ev = run(model, [(Scene("stimulus", aoi_px=AOI, stimulus_id="x"), 60.0)])
    sac = [e for e in ev if e["type"] == "saccade"]
    assert len(sac) > 50
    amp = np.array([e["amplitude_deg"] for e in sac])
    dur_ms = np.array([(e["offset_us"] - e["onset_us"]) / 1000 for e in sac])
    np.testing.assert_allclose(dur_ms, 2.2 * amp + 21.0, atol=0.01)          # Carpenter (1988)
    vp = np.array([e["peak_velocity_deg_s"] for e in sac])
    expected = 600 * (1 - np.exp(-amp / 10))
    inside = (expected * dur_ms / 1000 / amp > 1.5) & (expected * dur_ms / 1000 / amp < 2.18)
    np.testing.assert_allclose(vp[inside], expected[inside], rtol=0.01)      # saturating main sequence
    assert np.all(np.diff(vp[np.argsort(amp)][::5]) > -60)                    # grows with amplitude (noisy order)


def test_velocity_profile_family():
    assert profile_peak_ratio(2.0) == pytest.approx(1.875)          # minimum jerk
    assert profile_peak_ratio(1.0) == pytest.approx(1.5)
    assert profile_exponent(1.875 * 10 / 0.043, 10, 0.043) == pytest.approx(2.0, abs=1e-3)
    # the position profile is smooth: zero velocity at both ends, single peak in the middle
    from scipy.special import betainc
    tau = np.linspace(0, 1, 2001)
    v = np.gradient(betainc(3.0, 3.0, tau), tau)
    assert v[0] < 1e-3 and v[-1] < 1e-3
    assert abs(tau[np.argmax(v)] - 0.5) < 1e-3


def test_free_viewing_fixations_are_right_skewed_with_scene_median():
    model = GazeModel(seed=21)
    _, ev = run(model, [(Scene("stimulus", aoi_px=AOI, stimulus_id="none"), 400.0)], chunk_s=5.0)
    d = np.array([(e["offset_us"] - e["onset_us"]) / 1e6 for e in ev if e["type"] == "fixation"])[1:]
    assert 0.22 < np.median(d) < 0.28
    assert d.mean() > np.median(d)
    skew = np.mean((d - d.mean()) ** 3) / d.std() ** 3
    assert skew > 0.5


def _on_image(ev, onset, offset):
    """Clipped total time and count of true fixations inside AOI during [onset, offset)."""
    l, t, r, b = AOI
    tot, n = 0.0, 0
    for e in ev:
        if e["type"] != "fixation":
            continue
        a, z = max(e["onset_us"], onset), min(e["offset_us"], offset)
        if z > a and l <= e["x_px"] <= r and t <= e["y_px"] <= b:
            tot += (z - a) / 1e6
            n += 1
    return tot, n


@pytest.mark.parametrize("target", [(14.85, 62), (7.17, 18)])
def test_expected_on_image_time_and_count_hit_the_target(target):
    totals, counts = [], []
    for seed in range(40):
        model = GazeModel(seed=1000 + seed, targets={"s": target})
        t_on = 5_000_000 + 1_000_000
        _, ev = run(model, [(Scene("cross", CENTRE), 1.0), (Scene("stimulus", aoi_px=AOI, stimulus_id="s"), 30.0),
                            (Scene("blank"), 0.5)], chunk_s=2.0)
        tot, n = _on_image(ev, t_on, t_on + 30_000_000)
        totals.append(tot)
        counts.append(n)
    # between-participant SD 15 % and Poisson counts: the mean of 40 is within about 6 %
    assert np.mean(totals) == pytest.approx(target[0], rel=0.08)
    assert np.mean(counts) == pytest.approx(target[1], rel=0.08)
    assert np.std(totals) > 0.03 * target[0]          # participants differ


def test_precision_accuracy_and_loss_match_parameters():
    p = OculomotorParams(precision_rms_deg=0.4, accuracy_deg=0.5, drift_sd_deg=0.0, blink_rate_per_min=0.0,
                         loss_fraction=0.05)
    model = GazeModel(p, seed=4)
    s, ev = run(model, [(Scene("blank"), 300.0)], chunk_s=10.0)
    ts = s["system_time_stamp"]
    ppd = model.px_per_deg
    gx = s["left_gaze_point_on_display_area_x"] * 1280
    gy = s["left_gaze_point_on_display_area_y"] * 1024
    fix = [e for e in ev if e["type"] == "fixation"]
    idx = np.searchsorted([e["onset_us"] for e in fix], ts, side="right") - 1
    ok = idx >= 0
    in_fix = np.zeros(len(ts), bool)
    in_fix[ok] = ts[ok] < np.array([e["offset_us"] for e in fix])[idx[ok]]
    tx = np.array([e["x_px"] for e in fix])[np.clip(idx, 0, None)]
    ty = np.array([e["y_px"] for e in fix])[np.clip(idx, 0, None)]
    # accuracy: mean error during fixations equals the left eye's offset
    m = in_fix & np.isfinite(gx)
    err = np.array([np.mean(gx[m] - tx[m]), np.mean(gy[m] - ty[m])]) / ppd
    np.testing.assert_allclose(err, model.offset_deg[0], atol=0.03)
    # precision: RMS of sample-to-sample distances inside one fixation = this participant's drawn precision
    same = m[1:] & m[:-1] & (idx[1:] == idx[:-1])
    s2s = np.hypot(np.diff(gx), np.diff(gy))[same] / ppd
    assert np.sqrt(np.mean(s2s ** 2)) == pytest.approx(model.effects.precision_deg, rel=0.05)
    # data loss (no blinks here): half the bursts hit both eyes, a quarter only the left one
    loss = model.effects.loss_fraction
    assert (~s["left_gaze_point_valid"]).mean() == pytest.approx(loss * 0.75, rel=0.3)
    assert (~s["left_gaze_point_valid"] & ~s["right_gaze_point_valid"]).mean() == pytest.approx(loss * 0.5, rel=0.3)


def test_without_spread_every_participant_has_the_configured_precision_and_loss():
    p = OculomotorParams(precision_between_log_sd=0.0, loss_between_log_sd=0.0)
    e = GazeModel(p, seed=1).effects
    assert e.precision_deg == pytest.approx(0.3) and e.loss_fraction == pytest.approx(0.03)


def test_participants_differ_in_data_quality_with_the_documented_spread():
    p = OculomotorParams()
    rng = np.random.default_rng(0)
    eff = [draw_participant_effects(p, rng) for _ in range(4000)]
    prec = np.array([e.precision_deg for e in eff])
    loss = np.array([e.loss_fraction for e in eff])
    assert np.median(prec) == pytest.approx(0.3, rel=0.03)
    assert np.std(np.log(prec)) == pytest.approx(0.35, rel=0.05)
    assert np.mean(loss) == pytest.approx(0.03, rel=0.05)            # the cohort mean stays loss_fraction
    assert np.quantile(loss, 0.95) == pytest.approx(0.03 * math.exp(1.645 * 0.8 - 0.32), rel=0.1)
    slopes = np.array([e.method_slope for e in eff])
    assert np.std(slopes) == pytest.approx(0.25, rel=0.05)


def test_trial_factors_have_expectation_one_for_both_methods():
    """The random effects leave every Table 4 cell mean on target (E f = 1), whatever the method."""
    p = OculomotorParams()
    rng = np.random.default_rng(1)
    for method in ("ours", "pix2pix"):
        c = METHOD_CONTRAST[method]
        f = np.array([trial_factors(draw_participant_effects(p, rng), c, float(rng.normal(0, p.trial_sd)), p)
                      for _ in range(20000)])
        np.testing.assert_allclose(f.mean(axis=0), [1.0, 1.0], atol=0.01)
    # the slope moves the two methods in opposite directions
    e = draw_participant_effects(p, np.random.default_rng(2))
    big = type(e)(e.looking, e.duration, 0.8, e.precision_deg, e.loss_fraction)
    assert trial_factors(big, 0.5, 0.0, p)[0] / trial_factors(big, -0.5, 0.0, p)[0] == pytest.approx(math.exp(0.8))


def test_trial_level_cohort_recovers_the_cell_means_and_the_participant_slope():
    p = OculomotorParams()
    cells = {"a_ours": (15.0, 60.0), "a_pix2pix": (10.0, 20.0)}
    rows = trial_level_cohort(cells, {"a_ours": "ours", "a_pix2pix": "pix2pix"}, 3000, p, seed=3)
    import pandas as pd

    df = pd.DataFrame(rows)
    m = df.groupby("stimulus_id")[["total_fixation_s", "fixation_count"]].mean()
    assert m.at["a_ours", "total_fixation_s"] == pytest.approx(15.0, rel=0.02)
    assert m.at["a_pix2pix", "fixation_count"] == pytest.approx(20.0, rel=0.02)
    w = df.pivot(index="participant", columns="stimulus_id", values="total_fixation_s")
    slope = df.groupby("participant")["method_slope"].first()
    # participants with a larger drawn slope look relatively longer at "ours"
    r = np.corrcoef(np.log(w["a_ours"] / w["a_pix2pix"]), slope.loc[w.index])[0, 1]
    assert r > 0.4
    assert (w["a_ours"] < w["a_pix2pix"]).mean() > 0.05            # some look longer at Pix2Pix


def _on_image_positions(model: GazeModel, sid: str, seconds: float = 60.0) -> np.ndarray:
    _, ev = run(model, [(Scene("cross", CENTRE), 1.0), (Scene("stimulus", aoi_px=AOI, stimulus_id=sid), seconds)],
                chunk_s=5.0)
    l, t, r, b = AOI
    xy = np.array([(e["x_px"], e["y_px"]) for e in ev if e["type"] == "fixation" and e["scene_kind"] == "stimulus"
                   and l <= e["x_px"] <= r and t <= e["y_px"] <= b])
    return xy


def test_fixations_follow_the_saliency_map():
    # a map that is salient only in the upper-left quarter of the image
    sal = np.zeros((64, 64))
    sal[:32, :32] = 1.0
    xy = np.concatenate([_on_image_positions(GazeModel(seed=s, targets={"s": (20.0, 80.0)}, saliency={"s": sal}), "s")
                         for s in range(3)])
    l, t, r, b = AOI
    upper_left = (xy[:, 0] < (l + r) / 2) & (xy[:, 1] < (t + b) / 2)
    # weight 1 vs the floor 0.1 (times the central bias, symmetric in the quadrants): most fixations land there
    assert upper_left.mean() > 0.6
    # without a map the four quadrants are equally likely (central bias alone)
    xy0 = np.concatenate([_on_image_positions(GazeModel(seed=s, targets={"s": (20.0, 80.0)}), "s") for s in range(3)])
    ul0 = (xy0[:, 0] < (l + r) / 2) & (xy0[:, 1] < (t + b) / 2)
    assert 0.15 < ul0.mean() < 0.35


def test_central_bias_pulls_fixations_towards_the_image_centre():
    l, t, r, b = AOI
    xy = np.concatenate([_on_image_positions(GazeModel(seed=s, targets={"s": (20.0, 80.0)}), "s") for s in range(3)])
    half = (r - l) / 2
    dx = (xy[:, 0] - (l + r) / 2) / half
    dy = (xy[:, 1] - (t + b) / 2) / half
    # uniform over the eligible region would give SD 0.52 (x and y); the bias narrows both, y more than x
    assert np.std(dx) < 0.45 and np.std(dy) < np.std(dx)


def test_inhibition_of_return_makes_the_eyes_move_on():
    def refixation_share(strength: float) -> float:
        d = []
        for s in range(3):
            p = OculomotorParams(ior_strength=strength)
            xy = _on_image_positions(GazeModel(p, seed=s, targets={"s": (20.0, 80.0)}), "s")
            # distance of each fixation to the one two before it
            d.append(np.hypot(*(xy[2:] - xy[:-2]).T))
        return float(np.mean(np.concatenate(d) < 1.0 * 43.0))
    assert refixation_share(0.9) < refixation_share(0.0)


def test_landing_grid_block_averages_and_scales_to_one():
    a = np.zeros((100, 200))
    a[:, 100:] = 2.0
    g = landing_grid(a, 8)
    assert g.shape == (4, 8)
    np.testing.assert_allclose(g[:, :4], 0.0)
    np.testing.assert_allclose(g[:, 4:], 1.0)
    assert landing_grid(None, 8).shape == (8, 8) and landing_grid(None, 8).min() == 1.0


def test_blinks_arrive_at_the_configured_rate():
    model = GazeModel(OculomotorParams(blink_rate_per_min=15.0), seed=9)
    _, ev = run(model, [(Scene("blank"), 600.0)], chunk_s=20.0)
    n = sum(e["type"] == "blink" for e in ev)
    assert 150 * 0.75 < n < 150 * 1.25


def test_scene_change_waits_for_a_saccadic_latency():
    model = GazeModel(seed=2)
    _, ev = run(model, [(Scene("cross", (100.0, 100.0)), 2.0), (Scene("cross", (1100.0, 900.0)), 2.0)])
    change = 5_000_000 + 2_000_000
    first = next(e for e in ev if e["type"] == "saccade" and e["onset_us"] >= change)
    assert first["onset_us"] - change >= 80_000
    land = next(e for e in ev if e["type"] == "fixation" and e["onset_us"] >= first["offset_us"])
    assert math.hypot(land["x_px"] - 1100, land["y_px"] - 900) < 1


def test_accepts_the_study_scene_class():
    model = GazeModel(seed=1, targets={"s": (5.0, 20)})
    s, ev = model.generate(1_000_000, 3.0, BaseScene("stimulus", aoi_px=AOI, stimulus_id="s"))
    assert len(s["system_time_stamp"]) > 150 and ev


def test_invalid_parameters_are_refused():
    with pytest.raises(ValueError, match="precision_rms_deg"):
        OculomotorParams(precision_rms_deg=-0.1)
    with pytest.raises(ValueError, match="loss_fraction"):
        OculomotorParams(loss_fraction=1.5)
    with pytest.raises(ValueError, match="kind"):
        Scene("movie")
    with pytest.raises(ValueError, match="target"):
        GazeModel(seed=1, targets={"s": (0.0, 3)})
