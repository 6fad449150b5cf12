"""SIGKILL during a trial, then --resume: one complete dataset, nothing lost beyond one flush interval."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study.bids import read_raw_samples
from study.errors import StudyError
from study.session import run_session
from study.trackers.base import system_time_us

STEM = "sub-09_ses-1_task-artview"
FLUSH_S = 0.1
#: scheduling slack on top of the flush interval: the simulated tracker emits every 20 ms, the
#: writer needs a few ms to format and fsync, and on an oversubscribed CI machine a thread can
#: wait for the CPU (benchmarks/RESULTS.md, "Recorder": 0.3 % of flushes late, by up to 0.3 s,
#: at load 7 on 2 cores). Without flushing, Python's 8 KiB file buffer alone would hold ~1.3 s
#: of 60 Hz samples, so this bound still tells a flushing recorder from one that is not.
SLACK_S = 0.25


def _cmd(config, manifest, root, *extra):
    return [sys.executable, "-m", "study.run", "--participant", "sub-09", "--config", str(config), "--data", str(root),
            "--manifest", str(manifest), "--clock", "real", "--quiet", *extra]


def test_sigkill_then_resume(fast_config, manifest, tmp_path):
    cfg = fast_config.read_text().replace("n_trials = 2", "n_trials = 3") \
        .replace("validation_point_s = 0.5", "validation_point_s = 0.3").replace("validation_settle_s = 0.25",
                                                                               "validation_settle_s = 0.1")
    assert f"flush_interval_s = {FLUSH_S}" in cfg
    config = tmp_path / "kill.toml"
    config.write_text(cfg)
    root = tmp_path / "raw"
    rec = root / "sub-09" / "ses-1" / ".recording"
    env = {**os.environ, "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.Popen(_cmd(config, manifest, root), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # wait until trial 1 is complete, then into trial 2 (drift check 0.4 s + cross 0.3 s + stimulus 1 s)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = rec / "state.json"
            if state.exists():
                try:
                    if "1" in json.loads(state.read_text())["completed"]:
                        break
                except (json.JSONDecodeError, KeyError):
                    pass
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        else:
            raise AssertionError("trial 1 never completed")
        time.sleep(0.9)                                     # inside trial 2's stimulus
        t_kill = system_time_us()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    state = json.loads((rec / "state.json").read_text())
    assert set(state["completed"]) == {"1"}
    raw = read_raw_samples(rec / "samples.tsv")
    ts = raw["system_time_stamp"].to_numpy()
    # the sample count matches the recorded time: samples cover [first, t_kill] but for at most one flush interval
    lost_s = (t_kill - ts[-1]) / 1e6
    assert 0 <= lost_s <= FLUSH_S + SLACK_S, lost_s
    expected = (t_kill - ts[0]) / 1e6 * 60.0
    assert expected - len(ts) <= (FLUSH_S + SLACK_S) * 60.0 + 2
    assert np.all(np.diff(ts) > 0)
    n_before = len(ts)

    # a plain rerun is refused; --resume continues at trial 2 and keeps what was recorded
    with pytest.raises(StudyError, match="--resume"):
        run_session(config, "sub-09", 1, data_root=root, manifest=manifest)
    done = subprocess.run(_cmd(config, manifest, root, "--resume"), env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ses = root / "sub-09" / "ses-1"
    assert not rec.exists()
    ev = pd.read_csv(ses / "beh" / f"{STEM}_events.tsv", sep="\t", dtype=str)
    stim = ev[ev.trial_type == "stimulus"]
    assert stim["trial"].tolist() == ["1", "2", "3"]                       # no duplicate, no lost trial
    plan = [p["stimulus_id"] for p in state["plan"]]
    assert stim["stimulus_id"].tolist() == plan
    onsets = stim["tracker_onset_us"].astype(np.int64).tolist()
    assert onsets[0] < t_kill < onsets[1]                                   # trial 1 kept from the first run
    assert (ev[ev.trial_type == "fixation_cross"]["trial"].tolist()) == ["0", "1", "2", "3"]
    phys = pd.read_csv(ses / "beh" / f"{STEM}_recording-eye1_physio.tsv.gz", sep="\t", header=None)
    assert len(phys) > n_before and np.all(np.diff(phys[0].to_numpy()) > 0)
    assert np.array_equal(phys[0].to_numpy()[:n_before], ts)                # the first run's samples, all kept
    side = json.loads((ses / "beh" / f"{STEM}_recording-eye1_physio.json").read_text())
    assert [s["segment"] for s in side["Segments"]] == [1, 2]
