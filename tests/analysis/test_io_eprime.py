"""E-Prime Extensions for Tobii ``.gazedata`` files (format ``eprime``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError, run_cli
from analysis.io import detect_format, read_recording
from tests.analysis.formats_fixture import write_eprime


def test_gazedata_resolution_from_cursor_trials_and_missing(tmp_path):
    w = write_eprime(tmp_path / "Block1.gazedata")
    assert detect_format(w["path"]) == "eprime"
    with pytest.raises(InputError) as e:
        read_recording(w["path"])
    assert "--screen-mm W H" in e.value.fix and "--screen-px" not in e.value.fix and "--distance" not in e.value.fix
    rec = read_recording(w["path"], screen_mm=(518.0, 324.0))
    g = rec.meta.geometry
    assert g.screen_px == w["screen_px"]                            # CursorX/Y over the normalised gaze
    assert rec.meta.extra["geometry_source"]["screen_px"].startswith("CursorX")
    assert g.distance_mm == pytest.approx(np.median([577.3 + 0.01 * i for i in range(w["n"])
                                                     if i not in w["invalid_rows"]]), abs=0.01)
    assert rec.meta.sampling_rate_hz == 60.0 and rec.meta.participant == "001"
    assert rec.counts["invalid_both"] == len(w["invalid_rows"])
    assert np.isnan(rec.samples["left_x_px"].iloc[w["invalid_rows"][0]])   # -1 cells never become gaze
    assert len(rec.trials) == w["n_trials"] and list(rec.trials["stimulus_id"]) == ["1", "2", "3"]


def test_flags_override_and_a_missing_cursor_asks_for_the_resolution(tmp_path):
    w = write_eprime(tmp_path / "b.gazedata")
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    lines = ["\t".join(c for j, c in enumerate(line.split("\t")) if j not in (5, 6)) for line in lines]
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_mm=(518.0, 324.0))
    assert "--screen-px W H" in e.value.fix
    rec = read_recording(w["path"], screen_px=(1680, 1050), screen_mm=(474.0, 296.0), distance_mm=600.0)
    assert rec.meta.geometry.screen_px == (1680, 1050) and rec.meta.geometry.distance_mm == 600.0


def test_non_monotonic_tettime_names_the_line(tmp_path):
    w = write_eprime(tmp_path / "b.gazedata")
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    lines[20], lines[21] = lines[21], lines[20]
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_mm=(518.0, 324.0))
    assert e.value.line == 22 and e.value.column == "TETTime" and "np." not in str(e.value)


def test_cli(tmp_path, capsys):
    from analysis.fixations.__main__ import main as fix_main
    from analysis.io.__main__ import main as io_main

    w = write_eprime(tmp_path / "b.gazedata")
    assert run_cli(io_main, [str(w["path"]), "--screen-mm", "518", "324"]) == 0
    assert "format:      eprime" in capsys.readouterr().out
    out = tmp_path / "fix.tsv"
    assert run_cli(fix_main, [str(w["path"]), "--screen-mm", "518", "324", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) > 3


def test_control_character_in_the_header_is_an_error_not_a_crash(tmp_path):
    # found by fuzzing: a vertical tab splits the header for Python's splitlines but not for pandas,
    # so the columns were shifted and a KeyError escaped
    w = write_eprime(tmp_path / "b.gazedata")
    raw = w["path"].read_bytes()
    w["path"].write_bytes(b"\x0b" + raw[1:])
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_mm=(518.0, 324.0))
    assert "header row" in e.value.problem and e.value.line == 2
