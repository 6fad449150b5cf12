"""Detection and dispatch of the issue-10 formats (analysis/io/_extra.py)."""

from __future__ import annotations

import pytest

from analysis.errors import InputError
from analysis.io import FORMATS, detect_format, read_recording
from analysis.io._extra import LOOKED_FOR
from tests.analysis.formats_fixture import write_eprime, write_tobii_raw


def test_unknown_file_lists_every_format_and_the_columns_looked_for(tmp_path):
    p = tmp_path / "mystery.tsv"
    p.write_text("a\tb\tc\n1\t2\t3\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        detect_format(p)
    text = e.value.expected
    for fmt, columns in LOOKED_FOR.items():
        assert fmt in text and columns in text
    assert "Recording timestamp" in text and "time, x, y, valid" in text
    assert {"studio_alldata", "tobii_sdk", "tobii_raw", "eprime", "iohub"} <= set(FORMATS)


def test_explicit_wrong_format_names_the_header_looked_for(tmp_path):
    w = write_eprime(tmp_path / "b.gazedata", n=100)
    with pytest.raises(InputError) as e:
        read_recording(w["path"], format="tobii_raw", screen_px=(1920, 1080))
    assert "LGazePos2dx" in e.value.expected and e.value.line == 1


def test_header_after_a_preamble_is_found(tmp_path):
    w = write_tobii_raw(tmp_path / "raw.txt", n=300)
    text = w["path"].read_text(encoding="utf-8")
    w["path"].write_text("Recorder v1.2\nParticipant: P01\n" + text, encoding="utf-8")
    assert detect_format(w["path"]) == "tobii_raw"
    rec = read_recording(w["path"], screen_px=(1920, 1080))
    assert rec.n_samples == 300
    # line numbers stay file lines: the sample row 10 is file line 13
    lines = w["path"].read_text(encoding="utf-8").splitlines()
    cells = lines[12].split("\t")
    cells[13] = "9"
    lines[12] = "\t".join(cells)
    w["path"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert e.value.line == 13
