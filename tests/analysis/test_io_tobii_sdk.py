"""Gaze data written through the Tobii Pro SDK from Python (format ``tobii_sdk``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError, run_cli
from analysis.io import detect_format, read_recording
from tests.analysis.formats_fixture import EYE_UCS, SCREEN_MM, write_tobii_sdk


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_tobii_research_dicts_quoted_tuples_geometry_from_ucs(tmp_path, sep):
    w = write_tobii_sdk(tmp_path / "gaze.csv", sep=sep)
    assert detect_format(w["path"]) == "tobii_sdk"
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    g = rec.meta.geometry
    assert rec.meta.sampling_rate_hz == 120.0 and rec.meta.extra["column_style"] == "tobii_research-dict"
    # timing from the tracker clock (no host jitter), placed on the system clock
    d = np.diff(rec.samples["time_s"].to_numpy())
    assert np.allclose(d, 1 / 120, atol=1e-6) and rec.meta.extra["timestamp_column"] == "device_time_stamp"
    assert rec.samples["time_s"].iloc[0] == pytest.approx(1_005.000150, abs=1e-6)   # median offset 1000.000150 s
    assert g.screen_px == (1920, 1080)
    assert g.screen_mm == pytest.approx(SCREEN_MM, abs=0.01)
    # untilted display, eye 620 mm in front of it: display-area coordinates are known exactly
    assert g.distance_mm == pytest.approx(620.0, abs=0.01)
    s = rec.samples
    ok = s["left_valid"].to_numpy()
    assert np.allclose(s["left_x_norm"][ok], w["xn"][ok]) and np.allclose(s["left_y_px"][ok], w["yn"][ok] * 1080)
    assert np.nanmedian(s["left_eye_x_mm"]) == pytest.approx(SCREEN_MM[0] / 2 + EYE_UCS["left"][0], abs=0.01)
    assert rec.counts["invalid_both"] == len(w["invalid_rows"])
    assert np.isnan(s["left_pupil_mm"].iloc[w["invalid_rows"][0]]) and s["left_pupil_mm"].iloc[0] == 3.2


def test_titta_columns_tilted_display(tmp_path):
    w = write_tobii_sdk(tmp_path / "gaze.tsv", style="titta", sep="\t", tilt_deg=25.0)
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    a = np.radians(25.0)
    e = EYE_UCS["left"]
    # distance of the eye from the tilted display plane (UCS: top edge tilted back by 25 degrees)
    top = np.array([0.0, 15.0 + SCREEN_MM[1] * np.cos(a), -SCREEN_MM[1] * np.sin(a)])
    normal = np.array([0.0, np.sin(a), np.cos(a)])
    assert np.nanmedian(rec.samples["left_eye_z_mm"]) == pytest.approx(float((e - top) @ normal), abs=0.01)
    assert rec.meta.extra["column_style"] == "titta-flat"


def test_missing_resolution_names_exactly_the_flag(tmp_path):
    w = write_tobii_sdk(tmp_path / "gaze.csv")
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert "--screen-px W H" in e.value.fix and "--screen-mm" not in e.value.fix
    w = write_tobii_sdk(tmp_path / "nouc.csv", with_ucs=False)
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert "--screen-mm W H" in e.value.fix and "--screen-px" not in e.value.fix and "--distance-mm" not in e.value.fix
    rec = read_recording(w["path"], screen_px=(1920, 1080), screen_mm=SCREEN_MM)
    assert rec.meta.geometry.distance_mm == pytest.approx(620.0)   # gaze origin z
    assert rec.meta.extra["geometry_source"]["distance_mm"] == "median gaze origin z in UCS"


def test_malformed_tuple_and_validity_cells(tmp_path):
    w = write_tobii_sdk(tmp_path / "gaze.csv")
    text = w["path"].read_text(encoding="utf-8").splitlines()
    text[4] = text[4].replace('"(', '"(0.1, ', 1)           # a 3-tuple in a 2-tuple column
    w["path"].write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert e.value.line == 5 and e.value.column == "left_gaze_point_on_display_area"
    w = write_tobii_sdk(tmp_path / "gaze2.tsv", style="titta", sep="\t")
    text = w["path"].read_text(encoding="utf-8").splitlines()
    text[3] = text[3].replace("True", "maybe", 1)
    w["path"].write_text("\n".join(text) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert e.value.line == 4 and e.value.column == "left_gaze_point_valid"


def test_glitch_sample_is_marked_invalid_and_counted(tmp_path):
    w = write_tobii_sdk(tmp_path / "gaze.tsv", style="titta", sep="\t")
    text = w["path"].read_text(encoding="utf-8").splitlines()
    header = text[0].split("\t")
    cells = text[101].split("\t")
    cells[header.index("left_gaze_point_on_display_area_x")] = "7.5"
    text[101] = "\t".join(cells)
    w["path"].write_text("\n".join(text) + "\n", encoding="utf-8")
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    assert rec.counts["offscreen_samples"] == 1
    assert not rec.samples["left_valid"].iloc[100] and rec.samples["right_valid"].iloc[100]


def test_cli_screen_px_alone(tmp_path, capsys):
    from analysis.fixations.__main__ import main as fix_main
    from analysis.io.__main__ import main as io_main

    w = write_tobii_sdk(tmp_path / "gaze.csv.gz")
    assert run_cli(io_main, [str(w["path"])]) == 2
    assert "--screen-px" in capsys.readouterr().err
    assert run_cli(io_main, [str(w["path"]), "--screen-px", "1920", "1080"]) == 0
    assert "format:      tobii_sdk" in capsys.readouterr().out
    out = tmp_path / "fix.tsv"
    assert run_cli(fix_main, [str(w["path"]), "--screen-px", "1920", "1080", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) > 5


def test_titta_hdf5_file(tmp_path):
    pytest.importorskip("tables")
    from tests.analysis.formats_fixture import write_titta_hdf5

    w = write_titta_hdf5(tmp_path / "testfile.h5")
    assert detect_format(w["path"]) == "tobii_sdk"
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    assert rec.meta.sampling_rate_hz == 120.0 and rec.meta.extra["delimiter"] == "hdf5"
    assert rec.meta.geometry.screen_mm == pytest.approx(SCREEN_MM, abs=0.01)
    ok = rec.samples["left_valid"].to_numpy()
    assert np.allclose(rec.samples["left_x_norm"][ok], w["xn"][ok])
    assert rec.counts["invalid_both"] == len(w["invalid_rows"])
    ev = rec.meta.extra["events"]
    # the message was sent at the first sample's system time stamp: aligned within the host's jitter
    assert list(ev["event"]) == ["onset_art.png"]
    assert ev["time_s"].iloc[0] == pytest.approx(rec.samples["time_s"].iloc[0], abs=0.003)
