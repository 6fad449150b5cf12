"""Tobii Studio 1.x/2.x All-Data exports (format ``studio_alldata``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError, run_cli
from analysis.io import detect_format, read_recording
from tests.analysis.formats_fixture import write_studio_alldata

#: Header and two rows of FH-Potsdam/tobii_eyetracker_csv_reading "Rec 02-All-Data.tsv" (MIT licence),
#: shortened to the first 21 columns: decimal comma, ms Timestamp, FixationIndex 0 on the first fixation.
FH_POTSDAM_EXCERPT = (
    "Timestamp\tDateTimeStamp\tDateTimeStampStartOffset\tNumber\tGazePointXLeft\tGazePointYLeft\tCamXLeft\t"
    "CamYLeft\tDistanceLeft\tPupilLeft\tValidityLeft\tGazePointXRight\tGazePointYRight\tCamXRight\tCamYRight\t"
    "DistanceRight\tPupilRight\tValidityRight\tFixationIndex\tGazePointX\tGazePointY\n"
    "2\t15:01:53.705\t00:00:00.001\t0\t120,6538\t491,6567\t0,6254438\t0,5012803\t700,8522\t3,752605\t0\t"
    "93,21285\t460,1132\t0,3693034\t0,5054296\t700,3253\t3,900721\t0\t0\t107\t476\n"
    "22\t15:01:53.725\t00:00:00.021\t1\t128,8321\t489,8939\t0,625669\t0,5013974\t700,8522\t3,82947\t0\t"
    "100,3868\t468,6223\t0,3695045\t0,5054775\t700,3253\t3,89001\t0\t0\t115\t479\n"
    "42\t15:01:53.745\t00:00:00.041\t2\t121,7171\t490,4232\t0,6256843\t0,5015215\t702,2396\t3,825959\t0\t"
    "99,7998\t476,4247\t0,3696259\t0,5057353\t700,3578\t3,879475\t0\t0\t111\t483\n")


def test_real_excerpt_decimal_comma_and_fixation_index(tmp_path):
    p = tmp_path / "Rec 02-All-Data.tsv"
    p.write_text(FH_POTSDAM_EXCERPT, encoding="utf-8")
    assert detect_format(p) == "studio_alldata"
    rec = read_recording(p)
    s = rec.samples
    assert rec.meta.sampling_rate_hz == 50.0                     # 20 ms steps on the ms clock
    assert s["left_x_px"].iloc[0] == pytest.approx(120.6538)    # decimal comma read
    assert s["right_pupil_mm"].iloc[2] == pytest.approx(3.879475)
    assert rec.meta.geometry.distance_mm == pytest.approx(np.median([700.8522, 700.8522, 702.2396,
                                                                     700.3253, 700.3253, 700.3578]))
    assert list(rec.labels["movement"]) == ["fixation"] * 3 and list(rec.labels["event_index"]) == [0, 0, 0]
    assert rec.meta.extra["labels_source"].startswith("FixationIndex")


def test_fixture_gz_microsecond_clock_events_trials_labels_glitch(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv.gz")
    assert detect_format(w["path"]) == "studio_alldata"
    rec = read_recording(w["path"])
    m, c = rec.meta, rec.counts
    assert m.format == "studio_alldata" and m.sampling_rate_hz == 50.0
    assert m.extra["timestamp_unit"] == "us"                    # the finest clock, not the rounded ms one
    d = np.diff(rec.samples["time_s"].to_numpy())
    assert np.all(np.abs(d - 0.02) < 1e-4)
    assert c["total"] == w["n"] and c["event_rows"] == 1 and c["rows_total"] == w["n"] + 1
    assert c["invalid_both"] == len(w["invalid_rows"]) + 1      # three lost samples + the glitch
    assert c["offscreen_samples"] == 1 and not rec.samples["left_valid"].iloc[w["glitch_row"]]
    assert rec.samples["left_valid"].sum() == w["n"] - 4
    # trials: "No media" rows belong to no trial; the AOI comes from MediaPos/MediaWidth/Height
    assert len(rec.trials) == 1
    tr = rec.trials.iloc[0]
    assert tr["stimulus_id"] == "art" and tr["onset_s"] == pytest.approx(rec.samples["time_s"].iloc[w["start"]])
    assert (tr["aoi_left"], tr["aoi_top"], tr["aoi_right"], tr["aoi_bottom"]) == (140, 112, 1140, 912)
    # Studio's own labels: fixation where FixationIndex is set
    lab = rec.labels
    assert int((lab["movement"] == "fixation").sum()) == w["fixation_samples"]
    assert lab["event_index"].max() == w["n_fixations"] - 1
    assert set(lab["movement"][~rec.samples["left_valid"] & ~rec.samples["right_valid"]]) <= {"eyes_not_found",
                                                                                             "fixation"}
    ev = m.extra["events"]
    assert list(ev["event"]) == ["ImageStart"] and ev["line"].iloc[0] == w["start"] + 2
    assert m.extra["geometry_source"]["distance_mm"].startswith("median DistanceLeft")


def test_flags_override_the_default_display(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv")
    rec = read_recording(w["path"], screen_px=(1280, 1024), screen_mm=(376.0, 301.0), distance_mm=600.0)
    g = rec.meta.geometry
    assert g.screen_mm == (376.0, 301.0) and g.distance_mm == 600.0
    assert rec.meta.extra["geometry_source"] == {"screen_px": "flag", "screen_mm": "flag", "distance_mm": "flag"}


def test_bad_validity_code_and_bad_number_name_line_and_column(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv", decimal=".")
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    cells = lines[5].split("\t")
    cells[10] = "7"
    lines[5] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert e.value.line == 6 and e.value.column == "ValidityLeft" and "7" in e.value.problem
    cells[10] = "0"
    cells[4] = "12x"
    lines[5] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert e.value.line == 6 and e.value.column == "GazePointXLeft"


def test_mostly_off_display_is_refused_as_wrong_unit(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv", decimal=".")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(128, 102), screen_mm=(338.0, 270.0), distance_mm=650.0)
    assert "resolution or the unit of the gaze columns seems wrong" in e.value.problem and "np." not in str(e.value)


def test_cli_summary_and_fixations(tmp_path, capsys):
    from analysis.fixations.__main__ import main as fix_main
    from analysis.io.__main__ import main as io_main

    w = write_studio_alldata(tmp_path / "rec.tsv.gz")
    assert run_cli(io_main, [str(w["path"])]) == 0
    out = capsys.readouterr().out
    assert "format:      studio_alldata" in out and "rate:        50 Hz" in out and "offscreen_samples=1" in out
    out_tsv = tmp_path / "fix.tsv"
    assert run_cli(fix_main, [str(w["path"]), "--out", str(out_tsv)]) == 0
    assert out_tsv.read_text(encoding="utf-8").startswith("onset_s")


def test_fractional_fixation_index_is_an_error_not_a_crash(tmp_path):
    # found by fuzzing: a FixationIndex of 1.5 made the Int64 label column raise TypeError
    w = write_studio_alldata(tmp_path / "rec.tsv", decimal=".")
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    cells = lines[3].split("\t")
    cells[18] = "1.5"
    lines[3] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert e.value.line == 4 and e.value.column == "FixationIndex" and "1.5" in e.value.problem


def test_default_display_refused_when_the_recording_was_larger(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv", res=(1920, 1080), glitch_row=None)
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert "default 1280x1024 display does not fit" in e.value.problem and "--screen-px W H" in e.value.fix
    rec = read_recording(w["path"], screen_px=(1920, 1080), screen_mm=(509.0, 286.0))
    assert rec.counts["offscreen_samples"] == 0 and rec.meta.geometry.screen_px == (1920, 1080)


def test_resolution_flag_alone_does_not_borrow_the_default_display_size(tmp_path):
    w = write_studio_alldata(tmp_path / "rec.tsv", res=(1920, 1080), glitch_row=None)
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert "--screen-mm W H" in e.value.fix and "--screen-px" not in e.value.fix
