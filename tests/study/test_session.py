"""End-to-end sessions: headless (virtual clock) and the real PsychoPy path under Xvfb."""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.fixations import detect_fixations
from analysis.io import read_recording
from analysis.metrics import trial_metrics
from study.errors import StudyError
from study.run import main as run_main
from study.session import run_session

STEM = "sub-05_ses-1_task-artview"


def check_dataset(root, ses, n_trials=2):
    """The files of docs/formats.md §2, checked directly."""
    beh = ses / "beh"
    dd = json.loads((root / "dataset_description.json").read_text())
    assert dd["BIDSVersion"] == "1.10.0" and dd["DatasetType"] == "raw" and dd["Simulated"] is True
    parts = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str)
    assert list(parts.columns) == ["participant_id", "age", "sex"] and "sub-05" in parts["participant_id"].tolist()
    assert not (ses / ".recording").exists()
    ev = pd.read_csv(beh / f"{STEM}_events.tsv", sep="\t", dtype=str)
    assert list(ev.columns) == ["onset", "duration", "trial_type", "trial", "stimulus_id", "artwork", "category",
                                "method", "stim_file", "tracker_onset_us", "aoi_left", "aoi_top", "aoi_right",
                                "aoi_bottom", "dropped_frames"]
    stim = ev[ev.trial_type == "stimulus"]
    assert stim["trial"].tolist() == [str(k) for k in range(1, n_trials + 1)]
    assert {"calibration", "validation", "instructions", "practice", "fixation_cross", "blank", "end",
            "drift_check"} <= set(ev.trial_type)
    # AOI: 80x60 (ours) -> 1024x768, 60x80 (pix2pix) -> 576x768, centred on 1280x1024
    for _, r in stim.iterrows():
        box = tuple(float(r[c]) for c in ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom"))
        assert box == ((128.0, 128.0, 1152.0, 896.0) if r.method == "ours" else (352.0, 128.0, 928.0, 896.0))
    for eye_no, eye in ((1, "left"), (2, "right")):
        side = json.loads((beh / f"{STEM}_recording-eye{eye_no}_physio.json").read_text())
        assert side["RecordedEye"] == eye and side["SamplingFrequency"] == 60.0 and side["PhysioType"] == "eyetrack"
        assert side["Columns"] == ["timestamp", "x_coordinate", "y_coordinate", "pupil_size", "validity",
                                   "eye_x", "eye_y", "eye_z"]
        assert side["ScreenSize"] == [0.338, 0.27] and side["ScreenDistance"] == 0.65
        assert side["AverageCalibrationError"] is not None and side["CalibrationCount"] >= 1
        data = pd.read_csv(beh / f"{STEM}_recording-eye{eye_no}_physio.tsv.gz", sep="\t", header=None,
                           na_values="n/a")
        assert data.shape[1] == 8
        ts = data[0].to_numpy()
        assert np.all(np.diff(ts) > 0) and ts[0] == side["TimestampZero"]
        onsets = ev["tracker_onset_us"].astype(np.int64).to_numpy()
        assert np.allclose(ev["onset"].astype(float), (onsets - ts[0]) / 1e6, atol=1e-6)
    lines = (ses / "sub-05_ses-1_checksums.sha256").read_text().splitlines()
    assert len(lines) == 6
    for line in lines:
        digest, name = line.split("  ")
        assert hashlib.sha256((ses / name).read_bytes()).hexdigest() == digest
    return ev


def test_headless_session_gives_a_dataset_the_analysis_turns_into_trial_metrics(fast_config, manifest, tmp_path):
    root = tmp_path / "raw"
    lines = []
    ses = run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest, status=lines.append)
    ev = check_dataset(root, ses)
    assert any("trial 2/2" in s and "Hz" in s and "valid" in s for s in lines)     # the experimenter's line
    rec = read_recording(ses)
    assert rec.meta.sampling_rate_hz == 60.0 and len(rec.trials) == 2
    planned = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())["PlannedOrder"]
    assert rec.trials["stimulus_id"].tolist() == planned
    fix = detect_fixations(rec)
    metrics = trial_metrics(rec.trials, fix.fixations, participant="sub-05", session="ses-1")
    assert len(metrics) == 2 and (metrics["fixation_count"] >= 1).all()
    assert (metrics["total_fixation_s"] > 0.2).all()                             # the model looks at the image
    # the same session is never overwritten; a finished one cannot be resumed
    with pytest.raises(StudyError, match="never overwritten"):
        run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    with pytest.raises(StudyError, match="never overwritten"):
        run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest, resume=True)
    # a second participant updates participants.tsv without losing the first
    run_session(fast_config, "sub-06", 1, data_root=root, manifest=manifest)
    parts = pd.read_csv(root / "participants.tsv", sep="\t", dtype=str)
    assert parts["participant_id"].tolist() == ["sub-05", "sub-06"]
    assert len(ev[ev.trial_type == "drift_check"]) == 1                      # after trial 1 of 2


def test_start_us_and_started_utc_pin_the_clock_and_the_stamp(fast_config, manifest, tmp_path):
    start, stamp = 12_345_000_000, "2025-09-25T00:00:00Z"
    ses = run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest, presenter="headless",
                      clock="virtual", start_us=start, started_utc=stamp)
    for eye_no in (1, 2):
        side = json.loads((ses / "beh" / f"{STEM}_recording-eye{eye_no}_physio.json").read_text())
        assert [s["started_utc"] for s in side["Segments"]] == [stamp]
        assert side["Segments"][0]["start_us"] >= start
        assert start <= side["TimestampZero"] < start + 60_000_000            # the first sample, on the pinned clock
        data = pd.read_csv(ses / "beh" / f"{STEM}_recording-eye{eye_no}_physio.tsv.gz", sep="\t", header=None,
                           na_values="n/a")
        assert data[0].iloc[0] == side["TimestampZero"]
    # start_us is for the virtual clock only; a stamp must be a UTC stamp (refused before anything is written)
    with pytest.raises(StudyError, match="virtual clock"):
        run_session(fast_config, "sub-06", 1, data_root=tmp_path / "raw", manifest=manifest, presenter="headless",
                    clock="real", start_us=start)
    with pytest.raises(StudyError, match="UTC stamp"):
        run_session(fast_config, "sub-06", 1, data_root=tmp_path / "raw", manifest=manifest, presenter="headless",
                    clock="virtual", started_utc="25.09.2025")
    assert not (tmp_path / "raw" / "sub-06").exists()


def test_cli_bad_input_exit_codes(fast_config, manifest, tmp_path, capsys):
    from study.errors import run_cli

    assert run_cli(run_main, ["--participant", "Anna Smith", "--config", str(fast_config)]) == 2
    assert "pseudonym" in capsys.readouterr().err
    assert run_cli(run_main, ["--participant", "sub-01", "--config", str(fast_config), "--data", str(tmp_path / "r"),
                              "--manifest", str(manifest), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    assert run_cli(run_main, ["--participant", "sub-01", "--config", str(fast_config), "--data", str(tmp_path / "r"),
                              "--manifest", str(manifest), "--quiet"]) == 0
    assert (tmp_path / "r" / "sub-01" / "ses-1" / "beh").is_dir()


def test_psychopy_session_under_xvfb(fast_config, manifest, tmp_path):
    """The real PsychoPy path: window, win.flip() onsets, frame counting (needs a display: xvfb-run)."""
    root = tmp_path / "raw"
    ses = run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest, presenter="psychopy",
                      responder="auto")
    ev = check_dataset(root, ses)
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    assert side["Segments"][0]["presenter"] == "psychopy" and side["Segments"][0]["clock"] == "real"
    assert "clock_sync" in side["Segments"][0]
    stim = ev[ev.trial_type == "stimulus"]
    # flip-timed: the stimulus is never shown for less than the viewing time (minus half a frame)
    assert (stim["duration"].astype(float) >= 1.0 - 0.5 / 60).all()
    assert (ev["dropped_frames"].astype(int) >= 0).all()
    rec = read_recording(ses)
    # real-time simulated tracker: about 60 samples per second of session
    span = rec.samples["time_s"].iloc[-1] - rec.samples["time_s"].iloc[0]
    assert abs(len(rec.samples) / span - 60.0) < 2.0


def test_unfinished_session_refused_by_reader_and_requires_resume(fast_config, manifest, tmp_path, monkeypatch):
    import study.session as session_mod

    root = tmp_path / "raw"

    def boom(self, trial, *a, **k):
        if trial == 2:
            raise KeyboardInterrupt("power cut")
        return orig(self, trial, *a, **k)

    orig = session_mod._Protocol.show_trial
    monkeypatch.setattr(session_mod._Protocol, "show_trial", boom)
    with pytest.raises(KeyboardInterrupt):
        run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    ses = root / "sub-05" / "ses-1"
    assert (ses / ".recording" / "state.json").exists()
    with pytest.raises(InputError, match="resume"):
        read_recording(ses)
    with pytest.raises(StudyError, match="--resume"):
        run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    monkeypatch.setattr(session_mod._Protocol, "show_trial", orig)
    run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest, resume=True)
    ev = check_dataset(root, ses)
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    assert [s["segment"] for s in side["Segments"]] == [1, 2]
    assert [c["reason"] for c in side["CalibrationLog"] if c["reason"] != "drift_check"] == ["initial", "resume"]
    assert (ev.trial_type == "practice").sum() == 1


def test_recalibrates_while_accuracy_is_above_threshold(fast_config, manifest, tmp_path):
    cfg = fast_config.read_text().replace("accuracy_threshold_deg = 3.0", "accuracy_threshold_deg = 0.01") \
        .replace("drift_check_every = 1", "drift_check_every = 0")
    p = tmp_path / "strict.toml"
    p.write_text(cfg)
    ses = run_session(p, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest)
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    attempts = [c for c in side["CalibrationLog"] if c["reason"] == "initial"]
    assert [c["attempt"] for c in attempts] == [1, 2]            # max_calibration_attempts = 2
    assert not any(c["passed"] for c in attempts)
    assert side["CalibrationCount"] == 2
    assert side["AverageCalibrationError"] == attempts[-1]["accuracy_deg"] > 0.01   # the calibration in use
    ev = pd.read_csv(ses / "beh" / f"{STEM}_events.tsv", sep="\t", dtype=str)
    assert (ev.trial_type == "calibration").sum() == 2 and (ev.trial_type == "validation").sum() == 2
    assert (ev.trial_type == "stimulus").sum() == 2              # the session continued


def test_nothing_is_written_when_the_screen_cannot_open(fast_config, manifest, tmp_path, monkeypatch):
    import study.session as session_mod

    def no_display(*a, **k):
        raise StudyError("no display")

    monkeypatch.setattr(session_mod, "HeadlessPresenter", no_display)
    with pytest.raises(StudyError, match="no display"):
        run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest)
    assert not (tmp_path / "raw").exists()       # so a plain rerun works, no --resume needed


def test_crash_while_finalising_is_finished_by_resume(fast_config, manifest, tmp_path, monkeypatch):
    import study.bids as bids_mod

    real = bids_mod.finalise

    def crash(*a, **k):
        raise KeyboardInterrupt("killed while finalising")

    monkeypatch.setattr(bids_mod, "finalise", crash)
    with pytest.raises(KeyboardInterrupt):
        run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest)
    monkeypatch.setattr(bids_mod, "finalise", real)
    ses = run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest, resume=True)
    check_dataset(tmp_path / "raw", ses)
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    assert len(side["Segments"]) == 1                      # no second run: nothing left to record


def test_interrupted_during_calibration_resumes_with_intro_and_practice(fast_config, manifest, tmp_path, monkeypatch):
    import study.session as session_mod

    orig = session_mod._Protocol.calibrate_and_validate

    def boom(self, reason):
        raise KeyboardInterrupt("cable pulled")

    monkeypatch.setattr(session_mod._Protocol, "calibrate_and_validate", boom)
    with pytest.raises(KeyboardInterrupt):
        run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest)
    monkeypatch.setattr(session_mod._Protocol, "calibrate_and_validate", orig)
    ses = run_session(fast_config, "sub-05", 1, data_root=tmp_path / "raw", manifest=manifest, resume=True)
    ev = check_dataset(tmp_path / "raw", ses)
    assert (ev.trial_type == "practice").sum() == 1          # the intro had not happened yet: it is shown now
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    assert [c["reason"] for c in side["CalibrationLog"] if c["reason"] != "drift_check"] == ["initial"]
    parts = pd.read_csv(tmp_path / "raw" / "participants.tsv", sep="\t", dtype=str)
    assert parts.loc[0, "age"] == "21"                        # info entered before the interruption is kept
