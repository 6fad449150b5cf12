"""Raw gaze text files from Tobii SDK recorders, TX300/T-series (format ``tobii_raw``)."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.errors import InputError, run_cli
from analysis.io import detect_format, read_recording
from tests.analysis.formats_fixture import I2MC_EXCERPT, SCREEN_MM, write_tobii_raw


def test_real_i2mc_excerpt(tmp_path):
    p = tmp_path / "1.txt"
    p.write_text(I2MC_EXCERPT, encoding="utf-8")
    assert detect_format(p) == "tobii_raw"
    # a short fixation at the centre: too little spread to fit the display, so its size is asked for
    with pytest.raises(InputError) as e:
        read_recording(p, screen_px=(1920, 1080))
    assert "--screen-mm W H" in e.value.fix and "--distance-mm" not in e.value.fix
    rec = read_recording(p, screen_px=(1920, 1080), screen_mm=(528.0, 297.0))
    s = rec.samples
    assert rec.meta.sampling_rate_hz == 300.0                       # ~3.33 ms steps on the µs clock
    assert list(s["left_valid"]) == [False, False] + [True] * 7 + [False, False, True]
    assert s["left_x_px"].iloc[2] == pytest.approx(0.4982 * 1920)
    assert s["right_pupil_mm"].iloc[2] == pytest.approx(3.8441) and np.isnan(s["left_pupil_mm"].iloc[0])
    assert rec.meta.geometry.distance_mm == pytest.approx(np.median(
        [595.0995, 595.1257, 595.1494, 595.1420, 595.2219, 595.2313, 595.2450, 595.3249,
         596.9134, 596.8268, 596.8835, 596.7352, 596.7926, 596.8107, 596.7454, 596.5677]))


def test_fixture_tilted_display_jitter_and_glitch(tmp_path):
    w = write_tobii_raw(tmp_path / "raw.txt.gz")
    assert detect_format(w["path"]) == "tobii_raw"
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    g = rec.meta.geometry
    assert rec.meta.sampling_rate_hz == 300.0 and rec.meta.extra["timestamp_unit"] == "us"
    assert g.screen_mm == pytest.approx(SCREEN_MM, abs=0.1)        # 4-decimal cells: fit within 0.1 mm
    assert rec.counts["offscreen_samples"] == 1   # both eyes of one glitch sample
    assert rec.counts["invalid_both"] == len(w["invalid_rows"]) + 1
    assert not rec.samples["left_valid"].iloc[w["glitch_row"]]


def test_bad_validity_code(tmp_path):
    w = write_tobii_raw(tmp_path / "raw.txt", n=300)
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    cells = lines[9].split("\t")
    cells[13] = "9"
    lines[9] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert e.value.line == 10 and e.value.column == "LValidity" and "code 9 " in e.value.problem


def test_cli(tmp_path, capsys):
    from analysis.fixations.__main__ import main as fix_main
    from analysis.io.__main__ import main as io_main

    w = write_tobii_raw(tmp_path / "raw.txt")
    assert run_cli(io_main, [str(w["path"]), "--screen-px", "1920", "1080"]) == 0
    assert "rate:        300 Hz" in capsys.readouterr().out
    out = tmp_path / "fix.tsv"
    assert run_cli(fix_main, [str(w["path"]), "--screen-px", "1920", "1080", "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) > 5
