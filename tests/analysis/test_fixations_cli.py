"""``python -m analysis.fixations``: end to end on files written by the test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import run_cli
from analysis.fixations import detect_fixations
from analysis.fixations.__main__ import main
from analysis.io import read_recording
from tests.analysis.bids_fixture import ground_truth, write_bids_session

REPO = Path(__file__).resolve().parents[2]
GEOM_ARGS = ["--screen-px", "1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "650"]


def write_plain(path: Path) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """60 Hz fixation train (jumps between positions) with a 2-sample blink, as time/x/y/valid."""
    rate = 60.0
    positions = [(300.0, 300.0), (900.0, 350.0), (640.0, 800.0)]
    counts = [18, 24, 30]
    x = np.concatenate([np.full(c, p[0]) for c, p in zip(counts, positions)])
    y = np.concatenate([np.full(c, p[1]) for c, p in zip(counts, positions)])
    valid = np.ones(x.size, bool)
    valid[50:52] = False  # filled in by step 1 (3 intervals = 50 ms <= 75 ms)
    t = 12.0 + np.arange(x.size) / rate
    table = pd.DataFrame({"time": t, "x": np.where(valid, x, np.nan), "y": np.where(valid, y, np.nan),
                          "valid": valid.astype(int)})
    table.to_csv(path, sep="\t", index=False, na_rep="", float_format="%.6f")
    return t, positions


def test_cli_plain_table_end_to_end(tmp_path):
    src = tmp_path / "gaze.tsv"
    t, positions = write_plain(src)
    out = tmp_path / "out" / "fixations.tsv"
    labels = tmp_path / "labels.tsv"
    code = run_cli(main, [str(src), "--format", "plain", *GEOM_ARGS, "--rate", "60", "--out", str(out),
                          "--labels", str(labels)])
    assert code == 0
    fx = pd.read_csv(out, sep="\t")
    assert list(fx.columns) == ["onset_s", "offset_s", "duration_s", "x_px", "y_px", "n_samples"]
    np.testing.assert_allclose(fx["x_px"], [p[0] for p in positions])
    np.testing.assert_allclose(fx["y_px"], [p[1] for p in positions])
    # window = previous + current sample: the first sample after each jump is a saccade sample
    dt = 1 / 60
    np.testing.assert_allclose(fx["onset_s"], [t[1] - dt / 2, t[19] - dt / 2, t[43] - dt / 2], atol=2e-6)
    np.testing.assert_allclose(fx["offset_s"], [t[17] + dt / 2, t[41] + dt / 2, t[-1] + dt / 2], atol=2e-6)
    np.testing.assert_array_equal(fx["n_samples"], [17, 23, 29])
    lab = pd.read_csv(labels, sep="\t")
    assert list(lab.columns) == ["time_s", "label"] and len(lab) == t.size
    assert set(lab["label"]) <= {0, 1, 2, 3}
    assert lab["label"].iloc[0] == 0 and lab["label"].iloc[18] == 2 and lab["label"].iloc[50] == 1


def test_cli_idt_and_config_file(tmp_path):
    src = tmp_path / "gaze.tsv"
    write_plain(src)
    cfg = tmp_path / "analysis.toml"
    cfg.write_text("[idt]\nmin_duration_ms = 350.0\ngap_fill = true\n", encoding="utf-8")
    out = tmp_path / "idt.tsv"
    code = run_cli(main, [str(src), "--format", "plain", *GEOM_ARGS, "--rate", "60", "--algorithm", "idt",
                          "--config", str(cfg), "--out", str(out)])
    assert code == 0
    fx = pd.read_csv(out, sep="\t")
    np.testing.assert_allclose(fx["x_px"], [900.0, 640.0])  # the 300 ms fixation is below 350 ms
    np.testing.assert_allclose(fx["duration_s"], [0.4, 0.5], atol=1e-5)


def test_cli_bids_session_matches_ground_truth(tmp_path):
    ses = write_bids_session(tmp_path / "raw", "sub-01", "1")
    out = tmp_path / "fix.tsv"
    assert run_cli(main, [str(ses), "--out", str(out)]) == 0
    fx = pd.read_csv(out, sep="\t")
    truth = ground_truth(ses)
    same = detect_fixations(read_recording(ses)).fixations
    np.testing.assert_allclose(fx[["onset_s", "x_px"]].to_numpy(), same[["onset_s", "x_px"]].to_numpy(), atol=1e-6)

    def matches(row, table, start_col, stop_col):
        overlap = (table[start_col] <= row["offset_s"]) & (table[stop_col] >= row["onset_s"])
        near = np.hypot(table["x_px"] - row["x_px"], table["y_px"] - row["y_px"]) < 1.0
        return bool((overlap & near).any())

    truth_iv = truth.assign(offset_s=truth["last_sample_s"])
    assert all(matches(r, truth_iv, "onset_s", "offset_s") for _, r in fx.iterrows())
    long_truth = truth_iv[truth_iv["n_samples"] >= 6]  # >= 100 ms: well above the 60 ms minimum
    fx_iv = fx.rename(columns={"onset_s": "a", "offset_s": "b"})
    for _, r in long_truth.iterrows():
        row = {"onset_s": r["onset_s"], "offset_s": r["offset_s"], "x_px": r["x_px"], "y_px": r["y_px"]}
        assert matches(row, fx_iv, "a", "b"), r.to_dict()


def test_cli_bad_input_exit_code_2(tmp_path, capsys):
    src = tmp_path / "gaze.tsv"
    write_plain(src)
    # a plain table without geometry
    assert run_cli(main, [str(src), "--format", "plain", "--rate", "60", "--out", str(tmp_path / "o.tsv")]) == 2
    assert "geometry" in capsys.readouterr().err
    # incomplete geometry options
    assert run_cli(main, [str(src), "--screen-px", "1280", "1024", "--rate", "60",
                          "--out", str(tmp_path / "o.tsv")]) == 2
    assert "--screen-mm" in capsys.readouterr().err
    # a bad config value
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[ivt]\neye_selection = \"both\"\n", encoding="utf-8")
    assert run_cli(main, [str(src), "--format", "plain", *GEOM_ARGS, "--rate", "60", "--config", str(cfg),
                          "--out", str(tmp_path / "o.tsv")]) == 2
    assert "eye_selection" in capsys.readouterr().err


def test_cli_as_a_process_missing_file_and_help(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "analysis.fixations", str(tmp_path / "nope.tsv"),
                           "--out", str(tmp_path / "o.tsv")], capture_output=True, text=True, env=env, cwd=REPO)
    assert proc.returncode == 2
    assert "nope.tsv" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o.tsv").exists()
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
