"""analysis.io: plain time/x/y/valid tables."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError
from analysis.io import detect_format, read_recording
from analysis.recording import T60_GEOMETRY
from tests.analysis.bids_fixture import write_plain_table


@pytest.mark.parametrize("sep,unit", [("\t", "s"), (",", "ms"), (";", "us")])
def test_plain_table(tmp_path, sep, unit):
    w = write_plain_table(tmp_path / "gaze.txt", sep=sep, time_unit=unit, header=("Time", "X", "y", "VALID"))
    assert detect_format(w["path"]) == "plain"
    rec = read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=60.0, time_unit=unit)
    assert rec.meta.format == "plain" and rec.meta.extra["eyes"] == ["combined"]
    np.testing.assert_allclose(rec.samples["time_s"], w["t_s"], atol=1e-6)
    lv = w["lvalid"]
    np.testing.assert_array_equal(rec.samples["left_valid"], lv)
    np.testing.assert_array_equal(rec.samples["right_valid"], lv)
    np.testing.assert_allclose(rec.samples["left_x_px"][lv], w["lx"][lv])
    np.testing.assert_allclose(rec.samples["right_y_px"][lv], w["ly"][lv])
    assert rec.counts["invalid_both"] == int((~lv).sum())
    assert rec.trials.empty


def test_plain_decimal_comma_and_truth_words(tmp_path):
    p = tmp_path / "g.tsv"
    p.write_text("time\tx\ty\tvalid\n0,0\t100,5\t200,25\ttrue\n0,1\t101,5\t201\tFalse\n0,2\t\t\tinvalid\n"
                 "0,3\t99\t199,75\tValid\n")
    rec = read_recording(p, format="plain", geometry=T60_GEOMETRY, rate_hz=10.0)
    assert rec.samples["left_valid"].tolist() == [True, False, False, True]
    assert rec.samples["left_x_px"].iloc[0] == 100.5 and rec.samples["left_y_px"].iloc[3] == 199.75


def test_plain_needs_geometry_and_rate(tmp_path):
    w = write_plain_table(tmp_path / "g.tsv")
    with pytest.raises(InputError, match="geometry") as err:
        read_recording(w["path"], rate_hz=60.0)
    assert "--screen-mm" in str(err.value)
    with pytest.raises(InputError, match="sampling rate") as err:
        read_recording(w["path"], geometry=T60_GEOMETRY)
    assert "--rate-hz" in str(err.value)
    with pytest.raises(InputError, match="time unit"):
        read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=60.0, time_unit="min")


def test_plain_bad_truth_value(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("time,x,y,valid\n0.0,1,1,1\n0.1,1,1,maybe\n")
    with pytest.raises(InputError) as err:
        read_recording(p, geometry=T60_GEOMETRY, rate_hz=10.0)
    assert err.value.line == 3 and err.value.column == "valid"
