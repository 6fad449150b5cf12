"""analysis.io on the quirks of real Tobii exports (issue 10), each on a small fixture with that quirk.

The fixtures are written here (``prolab_export``/``studio_export``) in the shape of real Pro Lab 24 and
Studio 3.x exports, plus one unchanged excerpt of a real EyeT4Empathy export (CC BY 4.0,
tests/analysis/data/README.md).
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InputError
from analysis.io import detect_format, read_recording
from analysis.quality import recording_quality
from analysis.recording import Geometry

DATA = Path(__file__).parent / "data"

W, H = 1920, 1080
MM_PER_PX = 0.275          # a 24-inch 1920x1080 display: 528 x 297 mm
EYE_Z = 600.0


def _signal(n: int, rate: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Fixations of 300 ms at shifting places, both eyes valid, small noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    place = (t // 0.3).astype(int)
    cx = 400 + (place * 157) % 1100
    cy = 300 + (place * 97) % 500
    return {"t": t, "x": cx + rng.normal(0, 1.0, n), "y": cy + rng.normal(0, 1.0, n)}


def _fmt(values: np.ndarray, decimal: str, digits: int = 1) -> list[str]:
    out = [("" if not np.isfinite(v) else f"{v:.{digits}f}") for v in np.asarray(values, dtype=float)]
    return [c.replace(".", decimal) for c in out] if decimal == "," else out


def prolab_export(path: Path, *, n: int = 600, rate: float = 300.0, decimal: str = ",", time_unit: str = "ms",
                  stimulus: list[str] | None = None, extra: dict[str, list[str]] | None = None,
                  with_mm: bool = True, with_eye_z: bool = True, events: bool = True,
                  x: np.ndarray | None = None, rec_scale: float = 1.0, gz: bool = False,
                  duration_name: str = "Eye movement event duration [ms]") -> dict:
    """A Tobii Pro Lab 24 unit-suffixed export: ms recording clock, µs tracker clock, px and mm gaze."""
    sig = _signal(n, rate)
    gx = sig["x"] if x is None else x
    gy = sig["y"]
    t0_us = 6_223_715_132
    et = t0_us + np.round(sig["t"] * 1e6).astype(np.int64)
    rec_ms = np.round(0.203e3 + sig["t"] * 1e3).astype(np.int64)        # whole ms, like Pro Lab
    rec = (rec_ms / 1000.0 if time_unit == "s" else rec_ms) * rec_scale
    px = [f"{int(round(v))}" for v in gx]
    py = [f"{int(round(v))}" for v in gy]
    stim = stimulus if stimulus is not None else ["Eyetracker Calibration"] * (n // 3) + ["david_ours"] * (n - n // 3)
    cols: dict[str, list[str]] = {
        "Recording timestamp [" + ("s" if time_unit == "s" else "ms") + "]":
            [f"{v:.10g}".replace(".", decimal) for v in rec],
        "Sensor": ["Eye Tracker"] * n,
        "Recording resolution height [px]": [str(H)] * n,
        "Recording resolution width [px]": [str(W)] * n,
        "Eyetracker timestamp [μs]": [str(v) for v in et],
        "Event": [""] * n,
        "Gaze point X [DACS px]": px, "Gaze point Y [DACS px]": py,
        "Gaze point left X [DACS px]": px, "Gaze point left Y [DACS px]": py,
        "Gaze point right X [DACS px]": px, "Gaze point right Y [DACS px]": py,
        "Validity left": ["Valid"] * n, "Validity right": ["Valid"] * n,
        "Presented Stimulus name": stim,
        "Eye movement type": ["Fixation"] * n,
        duration_name: ["300"] * n,
        "Eye movement type index": [str(1 + int(v // 0.3)) for v in sig["t"]],
    }
    if with_eye_z:
        cols["Eye position left Z [DACS mm]"] = _fmt(np.full(n, EYE_Z), decimal)
        cols["Eye position right Z [DACS mm]"] = _fmt(np.full(n, EYE_Z + 4), decimal)
    if with_mm:
        for e in ("left", "right"):
            cols[f"Gaze point {e} X [DACS mm]"] = _fmt(np.round(gx) * MM_PER_PX, decimal)
            cols[f"Gaze point {e} Y [DACS mm]"] = _fmt(np.round(gy) * MM_PER_PX, decimal)
    for k, v in (extra or {}).items():
        cols[k] = v
    header = list(cols)
    rows = ["\t".join(header)]
    rows += ["\t".join(cols[c][i] for c in header) for i in range(n)]
    if events:
        # an event-only row on the recording clock before sample 250 (the stimulus onset in ms)
        at = min(250, n // 2)
        ev = {c: "" for c in header}
        ev[header[0]] = cols[header[0]][at]
        ev["Event"] = "ImageStimulusStart"
        rows.insert(1 + at, "\t".join(ev[c] for c in header))
    text = "\n".join(rows) + "\n"
    if gz:
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return {"path": path, "t": sig["t"], "rec_ms": rec_ms, "n": n, "header": header}


def _set_cell(path: Path, line: int, column: str, value: str, sep: str = "\t") -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(sep)
    cells = lines[line - 1].split(sep)
    cells[header.index(column)] = value
    lines[line - 1] = sep.join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- 1. gzip

@pytest.mark.parametrize("name", ["rec.tsv.gz", "rec.csv.gz"])
def test_gzipped_export_is_detected_and_read(tmp_path, name):
    plain = prolab_export(tmp_path / "rec.tsv")
    gz = tmp_path / name
    with open(plain["path"], "rb") as src, gzip.open(gz, "wb") as dst:
        shutil.copyfileobj(src, dst)
    assert detect_format(gz) == "prolab"
    a, b = read_recording(plain["path"]), read_recording(gz)
    pd.testing.assert_frame_equal(a.samples, b.samples)
    assert b.meta.sampling_rate_hz == 300.0


# ---------------------------------------------------------------- 2. clock and rate

def test_tracker_clock_gives_true_rate_and_even_intervals(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", rate=300.0)
    rec = read_recording(w["path"])
    assert rec.meta.sampling_rate_hz == 300.0
    d = np.diff(rec.samples["time_s"].to_numpy())
    # the ms clock alternates 3 and 4 ms; the µs clock does not
    assert np.allclose(d, 1 / 300.0, atol=2e-6)
    assert set(np.round(np.diff(w["rec_ms"]))) == {3.0, 4.0}
    assert rec.meta.extra["clock"].startswith("Eyetracker timestamp")
    # samples stay on the recording clock: events (ms clock) line up with the sample they precede
    ev = rec.meta.extra["events"]
    assert abs(ev["time_s"].iloc[0] - rec.samples["time_s"].iloc[250]) < 1e-3
    assert abs(rec.samples["time_s"].iloc[0] - 0.203) < 1e-3


def test_ms_only_clock_is_snapped_to_the_nominal_rate(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", rate=120.0)
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    df = df.drop(columns=["Eyetracker timestamp [μs]"])
    df.to_csv(w["path"], sep="\t", index=False)
    rec = read_recording(w["path"])
    assert rec.meta.sampling_rate_hz == 120.0   # median interval 8 ms would say 125 Hz
    # regular sample times rebuilt at 120 Hz and aligned to the ms clock: no 8/9 ms alternation
    assert rec.meta.extra["clock"] == "sample count at 120 Hz aligned to Recording timestamp [ms]"
    d = np.diff(rec.samples["time_s"].to_numpy())
    assert np.allclose(d, 1 / 120.0, atol=1e-6)
    assert np.abs(rec.samples["time_s"].to_numpy() - w["rec_ms"] / 1000.0).max() < 1e-3
    ev = rec.meta.extra["events"]
    assert abs(ev["time_s"].iloc[0] - rec.samples["time_s"].iloc[250]) < 1e-3


# ---------------------------------------------------------------- 3. off-screen samples

def test_a_glitch_sample_is_marked_invalid_and_counted(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    for col in ("Gaze point left X [DACS px]", "Gaze point right X [DACS px]", "Gaze point X [DACS px]"):
        _set_cell(w["path"], 101, col, "7778")      # one sample 4 screens to the right
    rec = read_recording(w["path"])
    assert not rec.samples["left_valid"].iloc[99] and not rec.samples["right_valid"].iloc[99]
    assert rec.samples["left_valid"].iloc[98]
    assert rec.counts["offscreen_samples"] == 1
    assert recording_quality(rec)["offscreen_samples"] == 1


def test_most_samples_off_the_display_means_wrong_resolution(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", with_mm=False)
    with pytest.raises(InputError) as err:
        read_recording(w["path"], geometry=Geometry((640, 480), (300.0, 225.0), 600.0))
    msg = str(err.value)
    assert "resolution or the unit" in msg and "640x480" in msg and err.value.line is not None


def test_impossible_eye_positions_are_dropped_and_counted(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    _set_cell(w["path"], 50, "Eye position left Z [DACS mm]", "inf")
    _set_cell(w["path"], 51, "Eye position left Z [DACS mm]", "-3,5")
    rec = read_recording(w["path"])
    z = rec.samples["left_eye_z_mm"]
    assert z.iloc[48:50].isna().all() and z.iloc[47] == EYE_Z
    assert rec.counts["implausible_eye_positions"] == 2
    assert rec.samples["left_valid"].iloc[48]          # the gaze itself stays valid


# ---------------------------------------------------------------- 4. quoting and row width

def test_real_eyet4empathy_excerpt_quoted_decimal_commas_and_index_column():
    path = DATA / "eyet4empathy_p60_t0_excerpt.csv.gz"
    assert detect_format(path) == "prolab"
    rec = read_recording(path)
    m = rec.meta
    assert m.extra["delimiter"] == "," and m.extra["decimal"] == "both"
    assert m.sampling_rate_hz == 120.0
    s = rec.samples
    # line 4 of the file (third data row): 844,6161522,...,Valid,Valid,"228,1","144,9","433,1",...
    i = int(np.flatnonzero(np.isclose(s["time_s"], 6.161940, atol=1e-3))[0])
    assert s["left_x_px"].iloc[i] == -193.0 and s["right_x_px"].iloc[i] == 418.0
    assert s["left_eye_z_mm"].iloc[i] == pytest.approx(433.1)     # quoted "433,1", not split in two
    assert s["right_pupil_mm"].isna().iloc[i]
    assert rec.labels is not None and set(rec.labels["movement"]) <= {"fixation", "saccade", "unclassified",
                                                                      "eyes_not_found"}
    assert rec.labels["event_index"].iloc[i] == 88
    assert m.geometry.screen_px == (1920, 1080)
    assert 500 < m.geometry.screen_mm[0] < 560 and 400 < m.geometry.distance_mm < 700


def test_unquoted_decimal_comma_in_a_csv_shifts_cells_and_is_refused(tmp_path):
    lines = gzip.decompress((DATA / "eyet4empathy_p60_t0_excerpt.csv.gz").read_bytes()).decode("utf-8").splitlines()
    lines[4] = lines[4].replace('"228,1"', "228,1", 1)     # file line 5: one more cell
    path = tmp_path / "e.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_recording(path)
    e = err.value
    assert e.line == 5 and "72 cells, the header 71" in e.problem


def test_a_row_with_a_missing_cell_names_line_and_column(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    cells = lines[40].split("\t")
    del cells[3]
    lines[40] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert err.value.line == 41 and err.value.column == w["header"][-1]


# ---------------------------------------------------------------- 5. geometry from the file

def test_geometry_is_derived_from_px_mm_and_eye_position(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    rec = read_recording(w["path"])
    g = rec.meta.geometry
    assert g.screen_px == (W, H)
    assert g.screen_mm == pytest.approx((W * MM_PER_PX, H * MM_PER_PX), abs=0.2)
    assert g.distance_mm == pytest.approx(EYE_Z + 2, abs=2.1)   # median over both eyes
    src = rec.meta.extra["geometry_source"]
    assert "DACS mm" in src["screen_mm"] and "eye position" in src["distance_mm"]
    # flags override what the file says
    rec2 = read_recording(w["path"], screen_mm=(530.0, 300.0), distance_mm=650.0)
    assert rec2.meta.geometry.screen_mm == (530.0, 300.0) and rec2.meta.geometry.distance_mm == 650.0


def test_missing_geometry_columns_are_named(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", with_mm=False, with_eye_z=False)
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    msg = str(err.value)
    assert "Gaze point left/right X/Y [DACS mm]" in msg and "Eye position left/right Z [DACS mm]" in msg
    assert "--screen-mm" in msg
    # only the distance missing: the screen size still comes from the file
    w = prolab_export(tmp_path / "rec2.tsv", with_eye_z=False)
    rec = read_recording(w["path"], distance_mm=640.0)
    assert rec.meta.geometry.distance_mm == 640.0 and rec.meta.geometry.screen_mm[0] == pytest.approx(528.0, abs=0.2)


def test_derived_geometry_is_checked_for_plausibility(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", with_eye_z=False)
    with pytest.raises(InputError, match="viewing distance 5 mm"):
        read_recording(w["path"], distance_mm=5.0)


# ---------------------------------------------------------------- 6. renamed columns, calibration

def test_pro_lab_24_duration_name_and_calibration_is_no_trial(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    rec = read_recording(w["path"])
    assert "gaze_event_duration_ms" in rec.meta.extra
    assert rec.trials["stimulus_id"].tolist() == ["david_ours"]
    assert rec.trials["trial"].tolist() == [1]
    assert rec.meta.extra["calibration_samples"] == 200
    assert rec.trials["onset_s"].iloc[0] == pytest.approx(rec.samples["time_s"].iloc[200])


# ---------------------------------------------------------------- 7. messages

def test_decimal_point_cell_in_a_decimal_comma_file_gives_line_and_column(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", decimal=",")
    _set_cell(w["path"], 31, "Eye position left Z [DACS mm]", "1493.0")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    e = err.value
    assert e.line == 31 and e.column == "Eye position left Z [DACS mm]" and "1493.0" in e.problem
    assert "decimal comma" in str(e)


def test_messages_show_plain_numbers(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    _set_cell(w["path"], 20, "Eyetracker timestamp [μs]", "6223700000")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert "np.float64" not in str(err.value) and "6223.7 after" in str(err.value)
    assert err.value.line == 20 and err.value.column == "Eyetracker timestamp [μs]"


# ---------------------------------------------------------------- 8. units and resolution

def test_pro_lab_timestamps_in_seconds_under_a_ms_header(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv", rate=60.0, time_unit="ms", rec_scale=1e-3, decimal=".")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    msg = str(err.value)
    assert "seem to be in seconds, not milliseconds" in msg and "np." not in msg
    assert re.search(r"read as ms they give 5\d,\d\d\d Hz, read as s 5\d\.\d Hz", msg)


def test_studio_timestamps_in_microseconds(tmp_path):
    from tests.analysis.bids_fixture import write_tobii_export
    w = write_tobii_export(tmp_path / "s.tsv", "studio")
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    df["RecordingTimestamp"] = (df["RecordingTimestamp"].astype(np.int64) * 1000).astype(str)
    df.to_csv(w["path"], sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert "seem to be in microseconds, not milliseconds: read as ms they give 0.0588 Hz, read as us 58.8 Hz" \
        in str(err.value)


@pytest.mark.parametrize("value", ["inf", "-1", "1920,5", "0"])
def test_impossible_resolution_is_an_input_error(tmp_path, value):
    w = prolab_export(tmp_path / "rec.tsv")
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    df["Recording resolution width [px]"] = value
    df.to_csv(w["path"], sep="\t", index=False)
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert err.value.column == "Recording resolution width [px]"


# ---------------------------------------------------------------- labels

def test_labels_carry_tobii_classification(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    rec = read_recording(w["path"])
    assert len(rec.labels) == len(rec.samples)
    assert (rec.labels["movement"] == "fixation").all()
    assert rec.labels["event_index"].iloc[0] == 1 and rec.labels["event_index"].iloc[-1] == 7
    assert rec.meta.extra["labels_source"] == "Tobii Pro Lab: Eye movement type + Eye movement type index"


def test_studio_mm_y_axis_points_up(tmp_path):
    """Tobii Studio's ADCS mm run y up from the bottom edge (real Studio 3.4.5 exports): the size is still
    derived, and eye positions are turned to the pixels' y-down."""
    from tests.analysis.bids_fixture import write_tobii_export
    w = write_tobii_export(tmp_path / "s.tsv", "studio", resolution=(1920, 1080))
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    sx, sy, h_mm = 0.2672, 0.3269, 1080 * 0.3269
    for e in ("Left", "Right"):
        x = pd.to_numeric(df[f"GazePoint{e}X (ADCSpx)"], errors="coerce")
        y = pd.to_numeric(df[f"GazePoint{e}Y (ADCSpx)"], errors="coerce")
        ok = x >= 0
        df[f"GazePoint{e}X (ADCSmm)"] = np.where(ok, (x * sx).round(2).astype(str), "")
        df[f"GazePoint{e}Y (ADCSmm)"] = np.where(ok, (h_mm - y * sy).round(2).astype(str), "")
        df[f"EyePos{e}Y (ADCSmm)"] = np.where(ok, "50.0", "")
    df.to_csv(w["path"], sep="\t", index=False)
    rec = read_recording(w["path"])
    g = rec.meta.geometry
    assert g.screen_mm == pytest.approx((1920 * sx, h_mm), abs=0.2) and g.distance_mm == 650.0
    assert "eye_y" in rec.meta.extra["geometry_source"]
    ey = rec.samples["left_eye_y_mm"].dropna()
    assert np.allclose(ey, g.screen_mm[1] - 50.0)


def test_classic_header_in_seconds_is_inferred(tmp_path):
    """The classic 'Recording timestamp' names no unit: seconds are recognised by the plausible rate
    (the old rule read them as ms: 59,992 Hz)."""
    from tests.analysis.bids_fixture import write_tobii_export
    w = write_tobii_export(tmp_path / "p.tsv", "prolab", style="classic", time_unit="ms")
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    df["Recording timestamp"] = (pd.to_numeric(df["Recording timestamp"]) / 1000.0).map(lambda v: f"{v:.6f}")
    df.to_csv(w["path"], sep="\t", index=False)
    rec = read_recording(w["path"], screen_mm=(338.0, 270.0), distance_mm=650.0)
    assert rec.meta.extra["timestamp_unit"] == "s" and rec.meta.sampling_rate_hz == 60.0
    np.testing.assert_allclose(rec.samples["time_s"], w["t_s"], atol=1e-6)


@pytest.mark.parametrize("chunk", [5, 7, 64, 1 << 24])
def test_row_width_check_across_chunks_and_quotes(tmp_path, monkeypatch, chunk):
    """The byte-level width check gives the same answer whatever the chunking (quotes spanning chunks)."""
    import analysis.io._common as common
    monkeypatch.setattr(common, "ROW_CHECK_CHUNK_BYTES", chunk)
    good = 'a,b,c\r\n1,"2,5",3\n\n"x,y,z",2,3\n4,5,"6,,7"\n'
    p = tmp_path / "g.csv"
    p.write_text(good, encoding="utf-8")
    common.check_row_widths(p, sep=",", header_line=0, width=3, encoding="utf-8", quoting=True, header=["a", "b", "c"])
    p.write_text(good + '1,"2,5"\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        common.check_row_widths(p, sep=",", header_line=0, width=3, encoding="utf-8", quoting=True,
                                header=["a", "b", "c"])
    assert err.value.line == 6 and err.value.column == "c"
    gz = tmp_path / "g.csv.gz"
    gz.write_bytes(gzip.compress((good + "1,2,3,4\n").encode()))
    with pytest.raises(InputError) as err:
        common.check_row_widths(gz, sep=",", header_line=0, width=3, encoding="utf-8", quoting=True,
                                header=["a", "b", "c"])
    assert err.value.line == 6 and "4 cells, the header 3" in err.value.problem


def test_unknown_movement_names_are_unclassified_not_refused(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    _set_cell(w["path"], 60, "Eye movement type", "Blink")
    rec = read_recording(w["path"])
    assert rec.labels["movement"].iloc[58] == "unclassified" and rec.labels["movement"].iloc[57] == "fixation"
    assert "'Blink' x 1" in rec.meta.extra["labels_source"]


def test_tracker_clock_out_of_step_falls_back_to_the_recording_clock(tmp_path):
    w = prolab_export(tmp_path / "rec.tsv")
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False)
    col = "Eyetracker timestamp [μs]"
    et = pd.to_numeric(df[col], errors="coerce")
    et[et.index >= 400] += 1_000_000           # the tracker clock jumps 1 s; the recording clock does not
    df[col] = et.map(lambda v: "" if pd.isna(v) else str(int(v)))
    df.to_csv(w["path"], sep="\t", index=False)
    rec = read_recording(w["path"])
    assert "does not run in step" in rec.meta.extra["clock_note"]
    assert rec.meta.extra["clock"].endswith("aligned to Recording timestamp [ms]")
    assert rec.meta.sampling_rate_hz == 300.0
    d = np.diff(rec.samples["time_s"].to_numpy())
    assert d.max() < 0.004                      # no 1 s jump: the recording clock was used
