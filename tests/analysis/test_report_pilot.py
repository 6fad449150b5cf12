"""A pilot dataset gives a whole report through the command line: exit 0, "needs more data", no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.analysis.bids_fixture import ARTWORK_CATEGORY, write_bids_dataset, write_dataset_files

ROOT = Path(__file__).resolve().parents[2]


def _trials() -> list[dict]:
    return [{"stimulus_id": f"{a}_{m}", "artwork": a, "category": c, "method": m, "duration_s": 1.5,
             "aoi": (240.0, 112.0, 1040.0, 912.0), "gaze": None}
            for a, c in ARTWORK_CATEGORY.items() for m in ("ours", "pix2pix")]


def _report(data: Path, out: Path) -> tuple[subprocess.CompletedProcess, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "analysis.report", "--data", str(data), "--out", str(out),
                          "--jobs", "1", "--no-progress"], capture_output=True, text=True, timeout=600, env=env,
                         cwd=ROOT)
    md = (out / "report.md").read_text(encoding="utf-8") if (out / "report.md").is_file() else ""
    return run, md, md.split("## Summary", 1)[-1].split("## Table 4", 1)[0]


@pytest.mark.parametrize("registered, with_data", [(("sub-01",), ("sub-01",)),
                                                   (("sub-01", "sub-02", "sub-03"), ("sub-01", "sub-02"))])
def test_pilot_dataset_gives_a_full_report_that_says_what_needs_more_data(tmp_path, registered, with_data):
    data = tmp_path / "pilot"
    write_bids_dataset(data, participants=with_data, trials=_trials(), seed=5)
    write_dataset_files(data, list(registered))            # registered in participants.tsv, maybe without data
    run, md, summary = _report(data, tmp_path / "out")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr + run.stdout
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    for section in ("Summary", "Table 4, replicated", "Inferential statistics", "Figures", "Data quality"):
        assert f"<h2>{section}</h2>" in html and f"## {section}" in md
    assert "### Needs more data" in summary
    n_reg, n_data = len(registered), len(with_data)
    missing = [p for p in registered if p not in with_data]
    head = f"{n_reg} participant(s) registered, {n_data} with data"
    assert head + (f" (1 missing: {missing[0]}: no data: listed in participants.tsv but the folder {missing[0]}/ "
                   "is missing)" if missing else ";") in summary
    assert f"Complete participants: {n_data} of {n_reg}" in md
    assert "HEADLINE RESULT (crossed random-effects model) -- SIMULATED DATA" in run.stdout
    if n_data == 1:   # no mixed model, no by-participant test: each named with the reason
        assert "By-participant paired tests (and min F'): 1 participant(s) with complete data; at least 2" in summary
        assert "Crossed linear mixed model of fixation time (and the simulated power): the crossed linear mixed " \
               "model needs at least 2 participants" in summary
        assert "The crossed random-effects model of total fixation time was not fitted" in run.stdout
        assert "tables/by_category.csv" not in md and "tables/primary_wilcoxon.csv" not in md
    else:             # fitted, but flagged as a pilot check; the RM-ANOVA needs 3
        assert "Two-way RM-ANOVA: 2 complete participants; at least 3 are needed." in summary
        assert "treat the mixed-model results as a pilot check" in summary
        assert "Ours vs Pix2Pix, total fixation time, generalising over participants and artworks" in run.stdout
        assert "tables/normality.csv" not in md and "= nan" not in md
        gone = pd.read_csv(tmp_path / "out" / "tables" / "missing_participants.csv", comment="#")
        assert list(gone["participant"]) == missing
