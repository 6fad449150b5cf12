"""``python -m analysis.io``: summary output and exit codes."""

from __future__ import annotations

from analysis.errors import run_cli
from analysis.io.__main__ import main
from tests.analysis.bids_fixture import write_bids_session, write_tobii_export


def test_cli_summary_of_a_bids_session(tmp_path, capsys):
    ses = write_bids_session(tmp_path)
    assert run_cli(main, [str(ses), "--verify"]) == 0
    out = capsys.readouterr().out
    assert "format:      bids" in out and "rate:        60 Hz" in out and "1280x1024 px, 338x270 mm" in out
    assert "total=541" in out and "david_ours" in out and "SIMULATED" in out


def test_cli_bad_input_exit_2_without_traceback(tmp_path, capsys):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    assert run_cli(main, [str(w["path"])]) == 2
    err = capsys.readouterr().err
    assert "--screen-mm" in err and "Traceback" not in err
    assert run_cli(main, [str(w["path"]), "--screen-mm", "338", "270", "--distance-mm", "650"]) == 0
    assert "prolab-classic" in capsys.readouterr().out
    assert run_cli(main, [str(w["path"]), "--screen-px", "1280", "1024"]) == 2
