"""analysis.quality: measures on hand-made signals and the exclusion rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.config import QualityConfig
from analysis.errors import InputError
from analysis.io import read_recording
from analysis.quality import TRIAL_QUALITY_COLUMNS, apply_exclusions, recording_quality, trial_quality
from analysis.recording import Geometry, Recording, RecordingMeta, empty_samples
from tests.analysis.bids_fixture import write_bids_session

#: eye 500 mm in front of the centre of a 500 x 500 mm, 1000 x 1000 px screen: 0.5 mm/px
GEOM = Geometry((1000, 1000), (500.0, 500.0), 500.0)


def _recording(x, y, lvalid, rvalid=None, rate=10.0, trials=None, accuracy=None):
    n = len(x)
    s = empty_samples(n)
    s["time_s"] = 100.0 + np.arange(n) / rate
    rvalid = lvalid if rvalid is None else rvalid
    for eye, v in (("left", np.asarray(lvalid)), ("right", np.asarray(rvalid))):
        s[f"{eye}_valid"] = v
        s[f"{eye}_x_px"] = np.where(v, x, np.nan)
        s[f"{eye}_y_px"] = np.where(v, y, np.nan)
    if trials is None:
        trials = [(1, "david_ours", 100.0, 100.0 + n / rate)]
    tr = pd.DataFrame({"trial": [t[0] for t in trials], "stimulus_id": [t[1] for t in trials],
                       "artwork": None, "category": None, "method": None,
                       "onset_s": [t[2] for t in trials], "offset_s": [t[3] for t in trials],
                       "aoi_left": np.nan, "aoi_top": np.nan, "aoi_right": np.nan, "aoi_bottom": np.nan})
    meta = RecordingMeta(source="mem", format="plain", sampling_rate_hz=rate, geometry=GEOM, participant="sub-01",
                         session="1", accuracy_deg=accuracy)
    return Recording(samples=s, trials=tr, meta=meta)


def _px_for_deg(deg):
    """Horizontal offset (px) from the screen centre seen at ``deg`` from the centre."""
    return 2.0 * 500.0 * np.tan(np.radians(deg))  # 500 mm distance, 0.5 mm/px


def test_valid_fraction_and_known_gap():
    n = 20  # 2 s at 10 Hz
    valid = np.ones(n, dtype=bool)
    valid[3:7] = False  # 4 samples without a valid eye: 0.4 s
    rvalid = valid.copy()
    rvalid[10:12] = False  # right eye only: not a gap
    rec = _recording(np.full(n, 500.0), np.full(n, 500.0), valid, rvalid)
    q = trial_quality(rec)
    assert tuple(q.columns) == TRIAL_QUALITY_COLUMNS
    row = q.iloc[0]
    assert row["n_samples"] == 20
    assert row["valid_fraction_left"] == pytest.approx(16 / 20)
    assert row["valid_fraction_right"] == pytest.approx(14 / 20)
    assert row["valid_fraction"] == pytest.approx(16 / 20)
    assert row["longest_gap_s"] == pytest.approx(0.4)
    assert row["trial_duration_s"] == pytest.approx(2.0)
    assert (row["participant"], row["session"], row["stimulus_id"]) == ("sub-01", "1", "david_ours")


def test_gap_at_trial_edges_and_all_invalid():
    n = 20
    valid = np.ones(n, dtype=bool)
    valid[:2] = False
    valid[-5:] = False
    rec = _recording(np.full(n, 500.0), np.full(n, 500.0), valid)
    assert trial_quality(rec)["longest_gap_s"].iloc[0] == pytest.approx(0.5)
    rec = _recording(np.full(n, 500.0), np.full(n, 500.0), np.zeros(n, dtype=bool))
    q = trial_quality(rec).iloc[0]
    assert q["longest_gap_s"] == pytest.approx(2.0) and q["valid_fraction"] == 0.0
    assert np.isnan(q["precision_rms_deg"])


def test_missing_samples_in_the_timestamps_count_as_gap():
    n = 20
    rec = _recording(np.full(n, 500.0), np.full(n, 500.0), np.ones(n, dtype=bool))
    s = rec.samples.drop(index=range(8, 11)).reset_index(drop=True)  # 3 samples missing from the file
    rec = Recording(samples=s, trials=rec.trials, meta=rec.meta)
    q = trial_quality(rec).iloc[0]
    assert q["longest_gap_s"] == pytest.approx(0.3) and q["n_samples"] == 17


def test_precision_rms_of_known_alternation():
    # gaze alternates between the centre and a point 0.2 deg to its right: every S2S distance is 0.2 deg
    n = 40
    x = np.where(np.arange(n) % 2 == 0, 500.0, 500.0 + _px_for_deg(0.2))
    rec = _recording(x, np.full(n, 500.0), np.ones(n, dtype=bool))
    assert trial_quality(rec)["precision_rms_deg"].iloc[0] == pytest.approx(0.2, rel=1e-6)
    # RMS, not mean: distances 0.1 and 0.3 alternating -> sqrt((0.01 + 0.09) / 2)
    pos = np.cumsum(np.r_[0.0, np.tile([0.1, 0.3], 10)])  # 21 samples, 20 pairs
    x2 = 500.0 + _px_for_deg(pos)
    rec2 = _recording(x2, np.full(len(x2), 500.0), np.ones(len(x2), dtype=bool))
    assert trial_quality(rec2)["precision_rms_deg"].iloc[0] == pytest.approx(np.sqrt(0.05), rel=1e-3)


def test_precision_within_fixations_only():
    # two fixations with 0.2-deg alternation, a 10-deg saccade between them
    n = 40
    ecc = np.where(np.arange(n) < 20, 0.0, 10.0) + np.where(np.arange(n) % 2 == 0, 0.0, 0.2)
    x = 500.0 + _px_for_deg(ecc)
    labels = np.ones(n, dtype=int)
    labels[19:21] = 2  # saccade samples
    rec = _recording(x, np.full(n, 500.0), np.ones(n, dtype=bool))
    with_labels = trial_quality(rec, labels)["precision_rms_deg"].iloc[0]
    assert with_labels == pytest.approx(0.2, rel=1e-6)
    assert trial_quality(rec)["precision_rms_deg"].iloc[0] > 1.0  # the saccade inflates it
    with pytest.raises(ValueError):
        trial_quality(rec, labels[:-1])


def test_precision_skips_pairs_with_an_invalid_sample():
    n = 30
    x = np.where(np.arange(n) % 2 == 0, 500.0, 500.0 + _px_for_deg(0.2))
    valid = np.ones(n, dtype=bool)
    x = x.copy()
    x[15] = 900.0  # would be a huge jump if it were used
    valid[15] = False
    rec = _recording(x, np.full(n, 500.0), valid)
    assert trial_quality(rec)["precision_rms_deg"].iloc[0] == pytest.approx(0.2, rel=1e-6)


def test_recording_quality_and_trials_windows():
    n = 40
    valid = np.ones(n, dtype=bool)
    valid[25:35] = False
    rec = _recording(np.full(n, 500.0), np.full(n, 500.0), valid,
                     trials=[(1, "a_ours", 100.0, 101.0), (2, "b_ours", 102.0, 104.0)], accuracy=0.7)
    q = trial_quality(rec)
    assert q["n_samples"].tolist() == [10, 20]
    assert q["valid_fraction"].tolist() == [1.0, 0.5]
    assert q["longest_gap_s"].tolist() == pytest.approx([0.0, 1.0])
    r = recording_quality(rec)
    assert r["n_samples"] == 40 and r["valid_fraction"] == pytest.approx(0.75)
    assert r["longest_gap_s"] == pytest.approx(1.0) and r["duration_s"] == pytest.approx(4.0)
    assert r["accuracy_deg"] == 0.7 and np.isnan(r["validation_precision_deg"])
    assert r["n_trials"] == 2 and r["precision_source"] == "all_samples"
    assert recording_quality(rec, np.ones(n))["precision_source"] == "fixations"


def test_quality_on_a_bids_fixture(tmp_path):
    ses = write_bids_session(tmp_path, dropouts=[(2.0, 2.5)], accuracy_deg=0.45)
    rec = read_recording(ses)
    q = trial_quality(rec)
    # trial 1 runs 1.5-4.5 s after TimestampZero; the dropout removes 0.5 s of it
    assert q["valid_fraction"].iloc[0] == pytest.approx(150 / 180)
    assert q["longest_gap_s"].iloc[0] == pytest.approx(0.5, abs=1e-5)
    assert q["valid_fraction"].iloc[1] == 1.0
    assert recording_quality(rec)["accuracy_deg"] == 0.45


def _metrics(vfs, participant="sub-01", session="1"):
    return pd.DataFrame({"participant": participant, "session": session, "trial": np.arange(1, len(vfs) + 1),
                         "stimulus_id": [f"s{i}" for i in range(len(vfs))], "valid_fraction": vfs})


def test_trial_exclusion_reason_names_value_and_threshold():
    tm = _metrics([0.9, 0.42, 0.8, 0.95])
    rq = pd.DataFrame([{"participant": "sub-01", "session": "1", "valid_fraction": 0.8, "accuracy_deg": 0.5,
                        "precision_rms_deg": 0.1, "precision_source": "fixations"}])
    out, ex = apply_exclusions(tm, rq, QualityConfig())
    assert out["excluded"].tolist() == [False, True, False, False]
    reason = out["exclusion_reason"].iloc[1]
    assert "0.420" in reason and "0.500" in reason and "min_trial_valid_fraction" in reason
    assert out["exclusion_reason"].iloc[0] is None
    assert len(ex) == 1 and ex["trial"].iloc[0] == 2 and ex["stimulus_id"].iloc[0] == "s1"
    assert list(ex.columns) == ["participant", "session", "trial", "stimulus_id", "reason"]


def test_recording_exclusions():
    tm = pd.concat([_metrics([0.9] * 4, "sub-01"), _metrics([0.9] * 4, "sub-02"), _metrics([0.9, 0.1, 0.2, 0.9], "sub-03"),
                    _metrics([0.9] * 4, "sub-04")], ignore_index=True)
    rq = pd.DataFrame([
        {"participant": "sub-01", "session": "1", "valid_fraction": 0.95, "accuracy_deg": 1.4,
         "precision_rms_deg": 0.1, "precision_source": "fixations"},
        {"participant": "sub-02", "session": "1", "valid_fraction": 0.6, "accuracy_deg": np.nan,
         "precision_rms_deg": 0.7, "precision_source": "fixations"},
        {"participant": "sub-03", "session": "1", "valid_fraction": 0.9, "accuracy_deg": 0.3,
         "precision_rms_deg": 0.1, "precision_source": "fixations"},
        {"participant": "sub-04", "session": "1", "valid_fraction": 0.9, "accuracy_deg": 0.3,
         "precision_rms_deg": 3.0, "precision_source": "all_samples"},
    ])
    out, ex = apply_exclusions(tm, rq, QualityConfig())
    by = out.groupby("participant")["excluded"].all()
    assert by.to_dict() == {"sub-01": True, "sub-02": True, "sub-03": True, "sub-04": False}
    rec_rows = ex[ex["trial"].isna()].set_index("participant")["reason"]
    assert "accuracy 1.400 deg > 1.000 deg" in rec_rows["sub-01"]
    assert "valid_fraction 0.600 < 0.700" in rec_rows["sub-02"] and "0.700 deg > 0.500 deg" in rec_rows["sub-02"]
    assert "2 of 4 trials excluded (50.0%) > 25.0%" in rec_rows["sub-03"]
    assert "sub-04" not in rec_rows.index  # precision over all samples is not the fixation measure
    # sub-03: two trial rows + one recording row
    assert (ex["participant"] == "sub-03").sum() == 3
    assert out.loc[out["participant"] == "sub-01", "exclusion_reason"].str.startswith("recording excluded").all()


def test_thresholds_come_from_the_config():
    tm = _metrics([0.42])
    rq = pd.DataFrame([{"participant": "sub-01", "session": "1", "valid_fraction": 0.42}])
    out, _ = apply_exclusions(tm, rq, QualityConfig(min_trial_valid_fraction=0.4, min_participant_valid_fraction=0.4,
                                                    max_excluded_trials_fraction=1.0))
    assert not out["excluded"].any()


def test_exclusions_need_the_columns():
    with pytest.raises(InputError, match="valid_fraction"):
        apply_exclusions(pd.DataFrame({"participant": ["a"], "trial": [1], "stimulus_id": ["x"]}),
                         pd.DataFrame({"participant": ["a"], "valid_fraction": [1.0]}))


def test_quality_config_is_validated_on_load(tmp_path):
    from analysis.config import load_config

    p = tmp_path / "a.toml"
    p.write_text("[quality]\nmin_trial_valid_fraction = 1.5\n")
    with pytest.raises(InputError) as err:
        load_config(p)
    assert err.value.column == "quality.min_trial_valid_fraction"
    p.write_text("[quality]\nmax_accuracy_deg = 0\n")
    with pytest.raises(InputError, match="max_accuracy_deg"):
        load_config(p)
    p.write_text("[quality]\nmax_precision_deg = 0.3\n")
    assert load_config(p).quality.max_precision_deg == 0.3


def test_recordings_match_across_session_types():
    # trial metrics read back from a TSV may carry session 1 (int) where the reader gave "1"
    tm = _metrics([0.9, 0.9], session=1)
    rq = pd.DataFrame([{"participant": "sub-01", "session": "1", "valid_fraction": 0.2}])
    out, ex = apply_exclusions(tm, rq)
    assert out["excluded"].all()
    assert ex["session"].tolist() == ["1"] and ex["trial"].isna().all()
