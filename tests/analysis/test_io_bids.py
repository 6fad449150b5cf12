"""analysis.io: the project BIDS reader and dataset helpers (docs/formats.md section 2)."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.io import (
    detect_format,
    find_sessions,
    read_dataset_description,
    read_participants,
    read_recording,
)
from analysis.recording import SAMPLE_COLUMNS, TRIAL_COLUMNS, T60_GEOMETRY, Geometry
from tests.analysis.bids_fixture import (
    events_path,
    ground_truth,
    physio_path,
    write_bids_dataset,
    write_bids_session,
    write_dataset_files,
)


def _physio(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", header=None, na_values=["n/a"])


def test_bids_session_values_match_the_files(tmp_path):
    ses = write_bids_session(tmp_path, "sub-07", "2", accuracy_deg=0.4, precision_deg=0.12)
    rec = read_recording(ses)
    assert rec.meta.format == "bids"
    assert tuple(rec.samples.columns) == SAMPLE_COLUMNS
    assert tuple(rec.trials.columns) == TRIAL_COLUMNS
    left = _physio(physio_path(ses, "left"))
    right = _physio(physio_path(ses, "right"))
    np.testing.assert_allclose(rec.samples["time_s"], left[0] / 1e6)
    np.testing.assert_allclose(rec.samples["left_x_px"], left[1])
    np.testing.assert_allclose(rec.samples["right_y_px"], right[2])
    np.testing.assert_allclose(rec.samples["left_pupil_mm"], left[3])
    np.testing.assert_allclose(rec.samples["left_x_norm"], left[1] / 1280)
    np.testing.assert_allclose(rec.samples["right_eye_z_mm"], right[7])
    assert rec.samples["left_valid"].all() and rec.samples["right_valid"].all()
    # meta from the sidecar: metres -> mm, identity from the path
    assert rec.meta.geometry == Geometry((1280, 1024), (338.0, 270.0), 650.0)
    assert rec.meta.sampling_rate_hz == 60.0
    assert rec.meta.tracker_model == "Tobii T60"
    assert rec.meta.accuracy_deg == pytest.approx(0.4)
    assert rec.meta.precision_deg == pytest.approx(0.12)
    assert (rec.meta.participant, rec.meta.session) == ("sub-07", "2")
    assert rec.meta.extra["simulated"] is True
    assert rec.counts["total"] == len(left) and rec.counts["invalid_both"] == 0


def test_bids_trials_come_from_stimulus_events_on_the_tracker_clock(tmp_path):
    ses = write_bids_session(tmp_path)
    rec = read_recording(ses)
    ev = pd.read_csv(events_path(ses), sep="\t", na_values=["n/a"])
    stim = ev[ev["trial_type"] == "stimulus"]
    assert list(rec.trials["stimulus_id"]) == ["david_ours", "night_watch_pix2pix"]
    assert list(rec.trials["trial"]) == [1, 2]
    np.testing.assert_allclose(rec.trials["onset_s"], stim["tracker_onset_us"] / 1e6)
    np.testing.assert_allclose(rec.trials["offset_s"] - rec.trials["onset_s"], [3.0, 3.0])
    assert list(rec.trials["category"]) == ["sculpture", "painting"]
    assert rec.trials.loc[0, ["aoi_left", "aoi_top", "aoi_right", "aoi_bottom"]].tolist() == [240, 112, 1040, 912]
    # every ground-truth stimulus fixation lies inside its trial
    truth = ground_truth(ses)
    st = truth[truth["segment"] == "stimulus"]
    for _, f in st.iterrows():
        tr = rec.trials[rec.trials["trial"] == f["trial"]].iloc[0]
        assert tr["onset_s"] <= f["onset_s"] < tr["offset_s"]


def test_bids_onset_falls_back_to_timestamp_zero(tmp_path):
    ses = write_bids_session(tmp_path)
    ev = pd.read_csv(events_path(ses), sep="\t", dtype=str, keep_default_na=False)
    ev = ev.drop(columns=["tracker_onset_us"])
    ev.to_csv(events_path(ses), sep="\t", index=False)
    rec = read_recording(ses)
    # TimestampZero 5000 s + onset 1.5 s
    assert rec.trials["onset_s"].iloc[0] == pytest.approx(5001.5)


@pytest.mark.parametrize("which", ["session", "beh", "physio", "sidecar"])
def test_bids_accepts_session_beh_or_a_file(tmp_path, which):
    ses = write_bids_session(tmp_path)
    path = {"session": ses, "beh": ses / "beh", "physio": physio_path(ses, "right"),
            "sidecar": physio_path(ses, "left").with_name(physio_path(ses, "left").name.replace(".tsv.gz", ".json"))}[which]
    assert detect_format(path) == "bids"
    rec = read_recording(path)
    assert rec.n_samples == 541 and rec.meta.participant == "sub-01"


def test_bids_monocular_recording_leaves_the_other_eye_invalid(tmp_path):
    ses = write_bids_session(tmp_path, eyes=("left",))
    rec = read_recording(ses)
    assert rec.samples["left_valid"].all()
    assert not rec.samples["right_valid"].any()
    assert rec.samples["right_x_px"].isna().all()
    assert rec.counts["invalid_right"] == rec.counts["total"] and rec.counts["invalid_both"] == 0
    assert rec.meta.extra["eyes"] == ["left"]


def test_bids_without_eye_position_columns(tmp_path):
    ses = write_bids_session(tmp_path, write_eye_position=False)
    rec = read_recording(ses)
    assert rec.samples["left_eye_z_mm"].isna().all()
    assert rec.samples["left_valid"].all()


def test_bids_dropouts_are_counted_not_dropped(tmp_path):
    ses = write_bids_session(tmp_path, dropouts=[(2.0, 2.5)])
    rec = read_recording(ses)
    assert rec.counts["total"] == 541
    assert rec.counts["invalid_both"] == 30  # 0.5 s at 60 Hz
    assert rec.samples.loc[~rec.samples["left_valid"], "left_x_px"].isna().all()


def test_bids_eyes_merged_on_timestamp(tmp_path):
    ses = write_bids_session(tmp_path)
    p = physio_path(ses, "right")
    lines = gzip.open(p, "rt").read().splitlines()
    with gzip.open(p, "wt") as fh:
        fh.write("\n".join(lines[:100] + lines[105:]) + "\n")
    rec = read_recording(ses)
    assert rec.counts["total"] == 541
    assert rec.counts["rows_only_left"] == 5 and rec.counts["rows_only_right"] == 0
    assert not rec.samples["right_valid"].iloc[100:105].any()
    assert rec.samples["left_valid"].iloc[100:105].all()


def test_bids_geometry_and_rate_overrides(tmp_path):
    ses = write_bids_session(tmp_path)
    g = Geometry((1280, 1024), (400.0, 320.0), 700.0)
    rec = read_recording(ses, geometry=g, rate_hz=61.0)
    assert rec.meta.geometry == g
    assert rec.meta.sampling_rate_hz == 61.0


def test_bids_other_rate(tmp_path):
    ses = write_bids_session(tmp_path, rate_hz=120.0)
    rec = read_recording(ses)
    assert rec.meta.sampling_rate_hz == 120.0
    assert rec.counts["total"] == 1081


def test_find_sessions_and_dataset_files(tmp_path):
    sessions = write_bids_dataset(tmp_path, ["sub-02", "sub-01", "sub-10"])
    found = find_sessions(tmp_path)
    assert found == sorted(sessions)
    assert read_dataset_description(tmp_path)["Simulated"] is True
    assert read_participants(tmp_path)["participant_id"].tolist() == ["sub-02", "sub-01", "sub-10"]


def test_find_sessions_rejects_empty_dataset(tmp_path):
    write_dataset_files(tmp_path, ["sub-01"])
    with pytest.raises(InputError, match="no sessions"):
        find_sessions(tmp_path)


def test_find_sessions_rejects_non_dataset(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(InputError, match="dataset_description.json") as err:
        find_sessions(tmp_path / "stuff")
    assert "dataset root" in str(err.value)


def test_find_sessions_rejects_unfinished_session(tmp_path):
    sessions = write_bids_dataset(tmp_path, ["sub-01", "sub-02"])
    (sessions[1] / ".recording").mkdir()
    with pytest.raises(InputError) as err:
        find_sessions(tmp_path)
    text = str(err.value)
    assert "unfinished" in text and "python -m study.run --participant sub-02 --resume" in text
    with pytest.raises(InputError, match="--resume"):
        read_recording(sessions[1])


def test_find_sessions_rejects_duplicate_participants(tmp_path):
    write_bids_dataset(tmp_path, ["sub-01", "sub-02"])
    write_dataset_files(tmp_path, ["sub-01", "sub-02", "sub-01"])
    with pytest.raises(InputError) as err:
        find_sessions(tmp_path)
    assert err.value.line == 4 and err.value.column == "participant_id"
    assert "sub-01" in str(err.value) and "line 2" in str(err.value)


def test_dataset_root_is_not_a_session(tmp_path):
    write_bids_dataset(tmp_path, ["sub-01"])
    with pytest.raises(InputError, match="dataset root"):
        read_recording(tmp_path)


def test_bad_dataset_description_json_names_the_line(tmp_path):
    write_bids_dataset(tmp_path, ["sub-01"])
    (tmp_path / "dataset_description.json").write_text('{\n  "BIDSVersion": "1.10.0",\n  "Simulated": tru\n}\n')
    with pytest.raises(InputError) as err:
        read_dataset_description(tmp_path)
    assert err.value.line == 3


def test_sidecar_screen_keys_required_without_geometry(tmp_path):
    ses = write_bids_session(tmp_path)
    for eye in ("left", "right"):
        sc = physio_path(ses, eye).with_name(physio_path(ses, eye).name.replace(".tsv.gz", ".json"))
        d = json.loads(sc.read_text())
        del d["ScreenDistance"]
        sc.write_text(json.dumps(d))
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.column == "ScreenDistance" and "--distance-mm" in str(err.value)
    rec = read_recording(ses, geometry=T60_GEOMETRY)
    assert rec.meta.geometry == T60_GEOMETRY


def test_verify_checksums(tmp_path):
    from analysis.io import verify_checksums

    ses = write_bids_session(tmp_path)
    assert verify_checksums(ses) == 6
    assert read_recording(ses, verify=True).n_samples == 541
    ev = events_path(ses)
    ev.write_text(ev.read_text().replace("david_ours", "david_oursX"))
    with pytest.raises(InputError) as err:
        read_recording(ses, verify=True)
    assert "checksum mismatch" in err.value.problem and err.value.line == 2
    assert err.value.file.name == "sub-01_ses-1_checksums.sha256"
    ses2 = write_bids_session(tmp_path / "other")
    physio_path(ses2, "right").unlink()
    with pytest.raises(InputError, match="missing"):
        verify_checksums(ses2)


# ---------------------------------------------------------------- issue 11: bad sidecars and events


_SMALL = dict(trials=[{"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
                       "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None},
                      {"stimulus_id": "thinker_ours", "artwork": "thinker", "category": "sculpture",
                       "method": "ours", "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None}],
              instructions_s=0.2, cross_s=0.1, blank_s=0.1)


def _sidecar_path(ses, eye="left"):
    p = physio_path(ses, eye)
    return p.with_name(p.name.replace(".tsv.gz", ".json"))


def _edit_sidecars(ses, fn, eyes=("left", "right")):
    for eye in eyes:
        sc = _sidecar_path(ses, eye)
        d = json.loads(sc.read_text())
        fn(d)
        sc.write_text(json.dumps(d))


def _set_trial_cells(ses, values):
    """Set the ``trial`` cell of the stimulus rows of the events file, in order."""
    ev = events_path(ses)
    lines = ev.read_text().splitlines()
    col = lines[0].split("\t").index("trial")
    rows = [i for i, line in enumerate(lines) if "\tstimulus\t" in line]
    for i, v in zip(rows, values):
        cells = lines[i].split("\t")
        cells[col] = v
        lines[i] = "\t".join(cells)
    ev.write_text("\n".join(lines) + "\n")
    return [i + 1 for i in rows]


@pytest.mark.parametrize("key, value, problem", [
    ("timestamp", {"Units": ["us"]}, 'unknown timestamp unit ["us"]'),
    ("timestamp", "us", "not an object"),
    ("StartTime", "zero", 'StartTime is "zero", not a number'),
    ("TimestampZero", "zero", 'TimestampZero is "zero", not a number'),
    ("SamplingFrequency", "60", "is not a positive number"),
    ("ScreenResolution", 1280, "not a pair of numbers"),
])
def test_bad_sidecar_values_name_the_sidecar_and_key(tmp_path, key, value, problem):
    ses = write_bids_session(tmp_path, **_SMALL)

    def edit(d):
        if key == "StartTime":
            d.pop("TimestampZero", None)
        d[key] = value
    _edit_sidecars(ses, edit)
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert problem in err.value.problem
    assert err.value.file == _sidecar_path(ses, "left")
    assert err.value.column.startswith(key)


@pytest.mark.parametrize("key, value, named", [
    ("ScreenSize", [float("nan"), float("nan")], "screen width nan mm"),
    ("ScreenDistance", 1e-6, "viewing distance 0.001 mm"),
    ("ScreenResolution", [-1280, 1024], "resolution width -1280 px"),
    ("ScreenResolution", [1280.5, 1024], "resolution width 1280.5 px"),
])
def test_implausible_sidecar_geometry_is_refused(tmp_path, key, value, named):
    ses = write_bids_session(tmp_path, **_SMALL)
    _edit_sidecars(ses, lambda d: d.__setitem__(key, value))
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.file == _sidecar_path(ses, "left")
    assert "implausible values in the sidecar" in err.value.problem and named in err.value.problem
    assert "gaze coordinate" not in str(err.value)


def test_eyes_with_different_geometry_name_the_second_sidecar(tmp_path):
    ses = write_bids_session(tmp_path, **_SMALL)
    _edit_sidecars(ses, lambda d: d.__setitem__("ScreenDistance", 0.7), eyes=("right",))
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.file == _sidecar_path(ses, "right") and "different screen geometry" in err.value.problem


def test_timestamps_in_another_unit_than_declared_name_the_unit(tmp_path):
    ses = write_bids_session(tmp_path, **_SMALL)
    _edit_sidecars(ses, lambda d: d.__setitem__("timestamp", {**d.get("timestamp", {}), "Units": "ms"}))
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert "seem to be in microseconds, not milliseconds" in err.value.problem
    assert err.value.file == physio_path(ses, "left") and '"Units": "us"' in err.value.fix


def test_start_time_places_events_when_timestamp_zero_is_absent(tmp_path):
    ses = write_bids_session(tmp_path, **_SMALL)
    ref = read_recording(ses).trials
    _edit_sidecars(ses, lambda d: (d.pop("TimestampZero"), d.__setitem__("StartTime", 0)))
    ev = events_path(ses)
    df = pd.read_csv(ev, sep="\t", dtype=str, keep_default_na=False).drop(columns="tracker_onset_us")
    df.to_csv(ev, sep="\t", index=False)
    got = read_recording(ses).trials
    assert got["onset_s"].to_numpy() == pytest.approx(ref["onset_s"].to_numpy(), abs=1e-6)


def test_events_file_that_is_a_folder(tmp_path):
    ses = write_bids_session(tmp_path, **_SMALL)
    ev = events_path(ses)
    ev.unlink()
    ev.mkdir()
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.file == ev and "folder" in err.value.problem


@pytest.mark.parametrize("values, problem, which", [
    (["1e30", "2"], "trial number '1e30'", 0),
    (["1", "1"], "trial 1 appears on two stimulus rows", 1),
    (["-3", "2"], "trial number '-3'", 0),
    (["1.5", "2"], "trial number '1.5'", 0),
    (["n/a", "2"], "trial number (empty)", 0),
])
def test_trial_numbers_must_be_whole_positive_and_unique(tmp_path, values, problem, which):
    ses = write_bids_session(tmp_path, **_SMALL)
    lines = _set_trial_cells(ses, values)
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert problem in err.value.problem
    assert err.value.file == events_path(ses) and err.value.column == "trial" and err.value.line == lines[which]


def test_identifiers_are_full_matches(tmp_path):
    from analysis.io.bids import PARTICIPANT_RE, SESSION_RE

    assert PARTICIPANT_RE.fullmatch("sub-01") and not PARTICIPANT_RE.fullmatch("sub-01\n")
    assert not SESSION_RE.fullmatch("ses-1\n")
    write_bids_session(tmp_path, "sub-01", **_SMALL)
    (tmp_path / "sub-02\n" / "ses-1" / "beh").mkdir(parents=True)
    assert [s.parent.name for s in find_sessions(tmp_path)] == ["sub-01"]
    tsv = tmp_path / "participants.tsv"
    tsv.write_text('participant_id\n"sub-01\n"\n')
    with pytest.raises(InputError, match="not a BIDS label"):
        read_participants(tmp_path)


@pytest.mark.parametrize("column, value", [("tracker_onset_us", "1e30"), ("onset", "1e30"), ("duration", "1e30"),
                                           ("duration", "-1")])
def test_corrupt_onset_or_duration_is_refused_at_its_cell(tmp_path, column, value):
    ses = write_bids_session(tmp_path, **_SMALL)
    ev = events_path(ses)
    df = pd.read_csv(ev, sep="\t", dtype=str, keep_default_na=False)
    if column == "onset":
        df = df.drop(columns="tracker_onset_us")
    i = int(df.index[df["trial_type"] == "stimulus"][1])
    df.loc[i, column] = value
    df.to_csv(ev, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.file == ev and err.value.line == i + 2 and err.value.column == column


@pytest.mark.parametrize("value, ok", [(None, True), (0.4, True), (-1, False), ("0.4", False), (True, False)])
def test_quality_values_in_the_sidecar(tmp_path, value, ok):
    ses = write_bids_session(tmp_path, **_SMALL)
    _edit_sidecars(ses, lambda d: d.__setitem__("AverageCalibrationError", value))
    if ok:
        assert read_recording(ses).meta.accuracy_deg == value
    else:
        with pytest.raises(InputError) as err:
            read_recording(ses)
        assert err.value.column == "AverageCalibrationError" and err.value.file == _sidecar_path(ses)


@pytest.mark.parametrize("edits, words", [({"aoi_left": "1e30"}, "outside the 1280x1024 px display"),
                                          ({"aoi_left": "2000", "aoi_right": "100"}, "inverted"),
                                          ({"aoi_top": "n/a"}, "only some of")])
def test_aoi_rectangle_in_events_is_checked(tmp_path, edits, words):
    ses = write_bids_session(tmp_path, **_SMALL)
    ev = events_path(ses)
    df = pd.read_csv(ev, sep="\t", dtype=str, keep_default_na=False)
    i = int(df.index[df["trial_type"] == "stimulus"][0])
    for k, v in edits.items():
        df.loc[i, k] = v
    df.to_csv(ev, sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert words in err.value.problem and err.value.line == i + 2 and err.value.file == ev
