"""analysis.io: Tobii Pro Lab (both header styles, decimal comma) and Tobii Studio exports."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.io import detect_format, read_recording
from analysis.recording import SAMPLE_COLUMNS, T60_GEOMETRY, Geometry
from tests.analysis.bids_fixture import simple_signal, write_tobii_export

PROLAB_CASES = [("classic", ".", "us"), ("classic", ",", "us"), ("classic", ".", "ms"),
                ("suffixed", ".", "us"), ("suffixed", ",", "us")]


def _check_signal(rec, w, time_atol=1e-6):
    s = rec.samples
    assert tuple(s.columns) == SAMPLE_COLUMNS
    np.testing.assert_allclose(s["time_s"], w["t_s"], atol=time_atol)
    np.testing.assert_array_equal(s["left_valid"], w["lvalid"])
    np.testing.assert_array_equal(s["right_valid"], w["rvalid"])
    lv, rv = w["lvalid"], w["rvalid"]
    np.testing.assert_allclose(s["left_x_px"][lv], w["lx"][lv])
    np.testing.assert_allclose(s["left_y_px"][lv], w["ly"][lv])
    np.testing.assert_allclose(s["right_x_px"][rv], w["rx"][rv])
    np.testing.assert_allclose(s["right_pupil_mm"][rv], w["rpupil"][rv])
    assert s["left_x_px"][~lv].isna().all() and s["right_y_px"][~rv].isna().all()
    np.testing.assert_allclose(s["left_eye_z_mm"][lv], 650.0)
    assert rec.counts["total"] == 120
    assert rec.counts["invalid_left"] == 4 and rec.counts["invalid_right"] == 3 and rec.counts["invalid_both"] == 3
    assert rec.counts["event_rows"] == 2  # counted, not samples


@pytest.mark.parametrize("style,decimal,unit", PROLAB_CASES)
def test_prolab_export(tmp_path, style, decimal, unit):
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab", style=style, decimal=decimal, time_unit=unit)
    assert detect_format(w["path"]) == "prolab"
    rec = read_recording(w["path"], screen_mm=(338.0, 270.0), distance_mm=650.0)
    _check_signal(rec, w)
    assert rec.meta.format == "prolab"
    assert rec.meta.extra["column_style"] == ("prolab-classic" if style == "classic" else "prolab-unit-suffixed")
    assert rec.meta.extra["timestamp_unit"] == unit
    assert rec.meta.extra["decimal"] == decimal
    assert rec.meta.geometry == Geometry((1280, 1024), (338.0, 270.0), 650.0)
    assert rec.meta.sampling_rate_hz == 60.0
    assert rec.counts["rows_total"] == 122


def test_prolab_trials_are_runs_of_the_stimulus_name(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab")
    rec = read_recording(w["path"], geometry=T60_GEOMETRY)
    tr = rec.trials
    assert tr["stimulus_id"].tolist() == ["david_ours", "mystery_image"]
    assert tr["artwork"].iloc[0] == "david" and tr["category"].iloc[0] == "sculpture" and tr["method"].iloc[0] == "ours"
    assert tr["artwork"].isna().iloc[1] and tr["method"].isna().iloc[1]
    assert tr["onset_s"].iloc[0] == pytest.approx(12.5)
    assert tr["offset_s"].iloc[0] == pytest.approx(12.5 + 60 / 60.0)
    assert tr["onset_s"].iloc[1] == pytest.approx(12.5 + 70 / 60.0)
    assert tr[["aoi_left", "aoi_top", "aoi_right", "aoi_bottom"]].iloc[0].tolist() == [240, 112, 1040, 912]
    assert list(rec.meta.extra["events"]["event"]) == ["ImageStimulusStart", "ImageStimulusEnd"]
    assert rec.labels["movement"].iloc[0] == "fixation"


def test_prolab_requires_screen_size_and_distance(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    text = str(err.value)
    assert "--screen-mm" in text and "--distance-mm" in text and "1280x1024" in text
    w = write_tobii_export(tmp_path / "nores.tsv", "prolab", resolution=None)
    with pytest.raises(InputError, match="--screen-px"):
        read_recording(w["path"], screen_mm=(338.0, 270.0), distance_mm=650.0)


def test_prolab_declared_rate_is_checked(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab")
    with pytest.raises(InputError, match="differs from the declared 120 Hz"):
        read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=120.0)


def test_studio_export(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "studio")
    assert detect_format(w["path"]) == "studio"
    rec = read_recording(w["path"])
    _check_signal(rec, w, time_atol=0.0005)  # Studio timestamps are integer ms
    # the paper's lab: Tobii T60 with Tobii Studio
    assert rec.meta.geometry == T60_GEOMETRY
    assert rec.trials["stimulus_id"].tolist() == ["david_ours", "mystery_image"]
    assert rec.trials["aoi_right"].iloc[0] == 1040.0
    np.testing.assert_array_equal(rec.labels["event_index"].iloc[:31].to_numpy(dtype=int), [1] * 30 + [2])
    assert (rec.labels["movement"] == "fixation").all()
    assert "GazeEventType" in rec.meta.extra["labels_source"]


def test_studio_validity_codes(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "studio")
    text = w["path"].read_text().splitlines()
    header = text[0].split("\t")
    vl = header.index("ValidityLeft")
    # sample rows start at line 3 (line 2 is an event row); make samples 0..3 codes 0..3
    for k, code in enumerate([0, 1, 2, 3]):
        cells = text[2 + k].split("\t")
        cells[vl] = str(code)
        text[2 + k] = "\t".join(cells)
    w["path"].write_text("\n".join(text) + "\n")
    rec = read_recording(w["path"])
    assert rec.samples["left_valid"].iloc[:4].tolist() == [True, True, False, False]


def test_studio_other_resolution_needs_geometry(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "studio", resolution=(1920, 1080))
    with pytest.raises(InputError, match="--screen-mm"):
        read_recording(w["path"])
    rec = read_recording(w["path"], screen_mm=(531.0, 299.0), distance_mm=600.0)
    assert rec.meta.geometry.screen_px == (1920, 1080)


def test_export_with_header_preamble_keeps_line_numbers(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "studio")
    lines = w["path"].read_text().splitlines()
    pre = ["Recording date:\t2025-01-01", "Participant:\tP01", ""]
    # break the 10th sample's timestamp to see the reported line
    cells = lines[11].split("\t")
    cells[lines[0].split("\t").index("RecordingTimestamp")] = "abc"
    lines[11] = "\t".join(cells)
    w["path"].write_text("\n".join(pre + lines) + "\n")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert err.value.line == 12 + len(pre) and err.value.column == "RecordingTimestamp"


def test_sensor_rows_other_than_eye_tracker_are_counted(tmp_path):
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab")
    lines = w["path"].read_text().splitlines()
    header = lines[0].split("\t")
    cells = [""] * len(header)
    cells[header.index("Recording timestamp")] = lines[5].split("\t")[header.index("Recording timestamp")]
    cells[header.index("Sensor")] = "Mouse"
    lines.insert(5, "\t".join(cells))
    w["path"].write_text("\n".join(lines) + "\n")
    rec = read_recording(w["path"], geometry=T60_GEOMETRY)
    assert rec.counts["other_rows"] == 1 and rec.counts["total"] == 120


def test_average_gaze_only_export(tmp_path):
    sig = simple_signal()
    w = write_tobii_export(tmp_path / "rec.tsv", "prolab", signal=sig)
    lines = w["path"].read_text().splitlines()
    header = lines[0].split("\t")
    drop = [header.index(c) for c in ("Gaze point left X", "Gaze point left Y", "Gaze point right X",
                                      "Gaze point right Y")]
    out = ["\t".join(c for i, c in enumerate(line.split("\t")) if i not in drop) for line in lines]
    w["path"].write_text("\n".join(out) + "\n")
    rec = read_recording(w["path"], geometry=T60_GEOMETRY)
    assert rec.meta.extra["eyes"] == ["average"]
    both = sig["lvalid"] & sig["rvalid"]
    np.testing.assert_allclose(rec.samples["left_x_px"][both], (sig["lx"][both] + sig["rx"][both]) / 2, atol=1e-3)
