"""Batch processing of a dataset end to end, on a tiny BIDS dataset with ground-truth fixations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.aoi import PolygonAOI
from analysis.batch import (
    DATASET_FIXATION_COLUMNS,
    EXCLUSION_COLUMNS,
    DatasetResult,
    process_dataset,
    write_derivatives,
)
from analysis.errors import InputError
from analysis.metrics import AOI_METRICS_COLUMNS, FIXATION_COLUMNS, TRIAL_METRICS_COLUMNS, main
from tests.analysis.bids_fixture import DEFAULT_TRIALS, ground_truth, write_bids_dataset

RATE = 60.0
DT = 1.0 / RATE
REPO = Path(__file__).resolve().parents[2]
PARTICIPANTS = ("sub-01", "sub-02")


def _trials():
    # 2 participants x 3 trials x 2-3 s; the third trial has a smaller image on the left
    third = {"stimulus_id": "thinker_ours", "artwork": "thinker", "category": "sculpture", "method": "ours",
             "duration_s": 2.0, "aoi": (100.0, 300.0, 500.0, 700.0), "gaze": None}
    return [dict(t, duration_s=2.5) for t in DEFAULT_TRIALS] + [third]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("raw")
    write_bids_dataset(root, PARTICIPANTS, trials=_trials(), seed=11)
    return root


@pytest.fixture(scope="module")
def result(dataset) -> DatasetResult:
    return process_dataset(dataset, jobs=1, progress=False)


@pytest.fixture(scope="module")
def written(result, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("deriv")
    write_derivatives(result, out)
    return out


def test_tables_have_the_documented_columns_and_order(result):
    assert tuple(result.trial_metrics.columns) == TRIAL_METRICS_COLUMNS
    assert tuple(result.fixations.columns) == DATASET_FIXATION_COLUMNS
    assert tuple(result.exclusions.columns) == EXCLUSION_COLUMNS
    tm = result.trial_metrics
    assert tm["participant"].tolist() == ["sub-01"] * 3 + ["sub-02"] * 3
    assert tm["trial"].tolist() == [1, 2, 3, 1, 2, 3]
    assert tm["stimulus_id"].tolist()[:3] == ["david_ours", "night_watch_pix2pix", "thinker_ours"]
    assert tm["category"].tolist()[:3] == ["sculpture", "painting", "sculpture"]
    rq = result.recording_quality
    assert rq[["participant", "session"]].values.tolist() == [["sub-01", "1"], ["sub-02", "1"]]
    for col in ("accuracy_deg", "n_samples_total", "invalid_left", "invalid_right", "invalid_both", "missing_samples"):
        assert col in rq.columns
    assert rq["missing_samples"].tolist() == [0, 0] and rq["invalid_both"].tolist() == [0, 0]
    assert rq["accuracy_deg"].tolist() == pytest.approx([0.5, 0.5])
    assert result.dataset_description["Simulated"] is True and result.simulated


def test_metrics_match_ground_truth_within_one_sample(result, dataset):
    tm = result.trial_metrics
    for sub in PARTICIPANTS:
        truth = ground_truth(dataset / sub / "ses-1")
        fix = result.fixations[result.fixations["participant"] == sub]
        for k in (1, 2, 3):
            row = tm[(tm["participant"] == sub) & (tm["trial"] == k)].iloc[0]
            gt = truth[(truth["segment"] == "stimulus") & (truth["trial"] == k)]
            det = fix[(fix["trial"] == k) & fix["in_aoi"].fillna(False).astype(bool)]
            # match every true fixation to the detected one nearest in onset
            d_on = det["onset_s"].to_numpy()
            nearest = np.abs(d_on[None, :] - gt["onset_s"].to_numpy()[:, None])
            j = nearest.argmin(axis=1)
            matched = nearest[np.arange(len(gt)), j] <= DT + 1e-6
            # every real (>= 100 ms) fixation is found, at its onset and length within one sample
            assert matched[gt["n_samples"].to_numpy() >= 6].all()
            dur_err = np.abs(det["duration_s"].to_numpy()[j[matched]] - gt["duration_s"].to_numpy()[matched])
            assert (dur_err <= DT + 1e-6).all()
            # no spurious fixations: each detected one is a distinct true one
            assert row["fixation_count"] == matched.sum() == len(set(j[matched])) == len(det)
            # total fixation time: within one sample per fixation of the truth
            truth_total = gt["duration_s"].to_numpy()[matched].sum()
            assert abs(row["total_fixation_s"] - truth_total) <= DT * matched.sum() + 1e-6
            # all gaze stays on the image: one visit spanning first to last fixation
            assert row["visit_count"] == 1
            assert row["total_visit_duration_s"] == pytest.approx(
                det["offset_s"].max() - det["onset_s"].min(), abs=1e-9)
            assert row["first_fixation_duration_s"] == pytest.approx(gt["duration_s"].iloc[0], abs=DT + 1e-6)


def test_ttff_is_measured_from_the_trial_onset(result, dataset):
    ev = pd.read_csv(next((dataset / "sub-01" / "ses-1" / "beh").glob("*_events.tsv")), sep="\t")
    stim = ev[ev["trial_type"] == "stimulus"].reset_index(drop=True)
    truth = ground_truth(dataset / "sub-01" / "ses-1")
    tz = 5000.0  # the fixture's TimestampZero (5e9 us)
    tm = result.trial_metrics[result.trial_metrics["participant"] == "sub-01"].reset_index(drop=True)
    for k in (1, 2, 3):
        first = truth[(truth["segment"] == "stimulus") & (truth["trial"] == k)]["onset_s"].iloc[0]
        expected = first - (tz + stim.loc[k - 1, "onset"])
        assert tm.loc[k - 1, "time_to_first_fixation_s"] == pytest.approx(expected, abs=DT)


def test_fixation_table_covers_every_fixation_and_agrees_with_metrics(result):
    fix = result.fixations
    tm = result.trial_metrics
    assert fix["trial"].isna().any()                      # instructions/cross/blank fixations kept
    inside = fix[fix["in_aoi"].fillna(False).astype(bool)]
    counts = inside.groupby(["participant", "trial"]).size()
    for _, row in tm.iterrows():
        assert counts.get((row["participant"], row["trial"]), 0) == row["fixation_count"]


def test_derivative_files_and_formatting(written, result):
    names = sorted(p.relative_to(written).as_posix() for p in written.rglob("*") if p.is_file())
    assert names == ["dataset_description.json", "exclusions.tsv", "fixations/sub-01_ses-1_fixations.tsv",
                     "fixations/sub-02_ses-1_fixations.tsv", "input_files.tsv", "recording_quality.tsv",
                     "trial_metrics.tsv"]
    tm_text = (written / "trial_metrics.tsv").read_text()
    assert tm_text.splitlines()[0].split("\t") == list(TRIAL_METRICS_COLUMNS)
    assert "\r" not in tm_text and "nan" not in tm_text.lower().replace("n/a", "")
    back = pd.read_csv(written / "trial_metrics.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    assert len(back) == len(result.trial_metrics)
    assert back["total_fixation_s"].to_numpy() == pytest.approx(result.trial_metrics["total_fixation_s"], abs=1e-6)
    assert set(back["excluded"].astype(str).str.lower()) <= {"true", "false"}
    fx_text = (written / "fixations" / "sub-01_ses-1_fixations.tsv").read_text().splitlines()
    assert fx_text[0].split("\t") == list(FIXATION_COLUMNS)
    assert fx_text[1].split("\t")[-3:] == ["n/a", "n/a", "n/a"]   # the instructions fixation
    desc = json.loads((written / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative" and desc["Simulated"] is True
    assert desc["Configuration"]["report"]["algorithm"] == "ivt"
    inputs = pd.read_csv(written / "input_files.tsv", sep="\t")
    assert "dataset_description.json" in set(inputs["path"])
    assert inputs["path"].str.endswith("_physio.tsv.gz").sum() == 4
    assert inputs["sha256"].str.fullmatch("[0-9a-f]{64}").all()


def test_byte_identical_across_reruns_and_worker_counts(dataset, written, tmp_path):
    again = tmp_path / "again"
    pooled = tmp_path / "pooled"
    process_dataset(dataset, jobs=1, progress=False, derivatives_dir=again)
    process_dataset(dataset, jobs=2, progress=False, derivatives_dir=pooled)
    files = sorted(p.relative_to(written) for p in written.rglob("*") if p.is_file())
    for rel in files:
        ref = (written / rel).read_bytes()
        assert (again / rel).read_bytes() == ref, rel
        assert (pooled / rel).read_bytes() == ref, rel


def test_polygon_aois_add_aoi_metrics(dataset, tmp_path):
    left_half = PolygonAOI("david_ours", "left_half", np.array([(0, 0), (0.5, 0), (0.5, 1), (0, 1)], dtype=float))
    right_half = PolygonAOI("david_ours", "right_half", np.array([(0.5, 0), (1, 0), (1, 1), (0.5, 1)], dtype=float))
    res = process_dataset(dataset, jobs=1, progress=False, aois=[left_half, right_half], derivatives_dir=tmp_path)
    am = res.aoi_metrics
    assert tuple(am.columns) == AOI_METRICS_COLUMNS
    assert am[["participant", "trial", "aoi_name"]].values.tolist() == [
        ["sub-01", 1, "left_half"], ["sub-01", 1, "right_half"], ["sub-02", 1, "left_half"], ["sub-02", 1, "right_half"]]
    # the two halves partition the image: their fixations add up to the whole-image metrics
    tm = res.trial_metrics[res.trial_metrics["trial"] == 1].set_index("participant")
    both = am.groupby("participant")[["fixation_count", "total_fixation_s"]].sum()
    assert both["fixation_count"].tolist() == tm.loc[both.index, "fixation_count"].tolist()
    assert both["total_fixation_s"].to_numpy() == pytest.approx(tm.loc[both.index, "total_fixation_s"].to_numpy())
    assert (tmp_path / "aoi_metrics.tsv").is_file()


def _broken_copy(dataset: Path, tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "broken"
    shutil.copytree(dataset, root)
    sidecar = next((root / "sub-02" / "ses-1" / "beh").glob("*eye1_physio.json"))
    sidecar.write_text("{not json", encoding="utf-8")
    return root


def test_unreadable_session_raises_by_default_or_is_recorded_as_excluded(dataset, tmp_path):
    root = _broken_copy(dataset, tmp_path)
    with pytest.raises(InputError) as err:
        process_dataset(root, jobs=1, progress=False)
    assert "eye1_physio.json" in str(err.value.file)
    res = process_dataset(root, jobs=2, progress=False, on_error="exclude")
    assert set(res.trial_metrics["participant"]) == {"sub-01"}
    ex = res.exclusions[res.exclusions["participant"] == "sub-02"]
    assert len(ex) == 1 and pd.isna(ex["trial"].iloc[0]) and ex["reason"].iloc[0].startswith("unreadable:")
    rq = res.recording_quality.set_index("participant")
    assert bool(rq.loc["sub-02", "readable"]) is False and bool(rq.loc["sub-01", "readable"]) is True
    write_derivatives(res, tmp_path / "out")
    lines = [ln.split("\t") for ln in (tmp_path / "out" / "recording_quality.tsv").read_text().splitlines()]
    col = lines[0].index("n_samples_total")
    assert lines[1][col].isdigit() and lines[2][col] == "n/a"    # counts stay integers next to n/a
    assert lines[2][lines[0].index("readable")] == "false"
    assert not (tmp_path / "out" / "fixations" / "sub-02_ses-1_fixations.tsv").exists()


def test_missing_dataset_and_bad_jobs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        process_dataset(tmp_path / "nope", progress=False)
    with pytest.raises(InputError):
        process_dataset(tmp_path, progress=False)  # exists, but no dataset_description.json


def test_cli_exit_codes(dataset, tmp_path, capsys):
    from analysis.errors import run_cli

    assert run_cli(main, ["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "dataset folder not found" in capsys.readouterr().err
    assert run_cli(main, ["--data", str(dataset), "--out", str(tmp_path / "o"), "--jobs", "-1"]) == 2
    bad_aois = tmp_path / "aois.tsv"
    bad_aois.write_text("stimulus_id\taoi_name\tvertices\ndavid_ours\tface\t0.1,0.1\n", encoding="utf-8")
    assert run_cli(main, ["--data", str(dataset), "--out", str(tmp_path / "o"), "--aois", str(bad_aois)]) == 2
    assert "line 2" in capsys.readouterr().err
    bad_cfg = tmp_path / "a.toml"
    bad_cfg.write_text("[ivt]\nvelocity_threshold_deg_s = -1\n", encoding="utf-8")
    assert run_cli(main, ["--data", str(dataset), "--out", str(tmp_path / "o"), "--config", str(bad_cfg)]) == 2
    broken = _broken_copy(dataset, tmp_path)
    assert run_cli(main, ["--data", str(broken), "--out", str(tmp_path / "b"), "--jobs", "1", "--no-progress"]) == 2
    assert run_cli(main, ["--data", str(broken), "--out", str(tmp_path / "b"), "--jobs", "1", "--no-progress",
                          "--skip-unreadable"]) == 0
    out = tmp_path / "ok"
    assert run_cli(main, ["--data", str(dataset), "--out", str(out), "--jobs", "1", "--algorithm", "idt",
                          "--no-progress"]) == 0
    assert (out / "trial_metrics.tsv").is_file()
    assert json.loads((out / "dataset_description.json").read_text())["Configuration"]["report"]["algorithm"] == "idt"


def test_cli_runs_as_a_module_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "analysis.metrics", "--data", str(tmp_path / "none"),
                           "--out", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "error:" in proc.stderr


def test_quality_exclusions_reach_trial_metrics_and_exclusions_file(tmp_path):
    root = tmp_path / "raw"
    trials = _trials()
    write_bids_dataset(root, ("sub-01",), trials=trials, seed=3)
    # sub-02 loses both eyes for most of trial 1 (instructions 1 s + cross 0.5 s -> trial 1 at 1.5-4.0 s)
    from tests.analysis.bids_fixture import write_bids_session

    write_bids_session(root, "sub-02", "1", trials=trials, seed=4, dropouts=[(1.6, 3.9)])
    res = process_dataset(root, jobs=1, progress=False, derivatives_dir=tmp_path / "out")
    tm = res.trial_metrics.set_index(["participant", "trial"])
    assert not tm.loc["sub-01", "excluded"].any()
    assert tm.loc["sub-02", "excluded"].all()        # 1 of 3 trials bad > 25 %: the whole recording goes
    assert "valid_fraction" in tm.loc[("sub-02", 1), "exclusion_reason"]
    assert tm.loc[("sub-02", 1), "valid_fraction"] < 0.5
    ex = pd.read_csv(tmp_path / "out" / "exclusions.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    assert list(ex.columns) == list(EXCLUSION_COLUMNS)
    assert ex["participant"].tolist() == ["sub-02", "sub-02"]
    assert ex["session"].tolist() == [1, 1]                              # unambiguous with several sessions
    assert pd.isna(ex["trial"].iloc[0]) and ex["trial"].iloc[1] == 1   # whole participant first, then the trial
    assert "trials excluded" in ex["reason"].iloc[0]
    rq = res.recording_quality.set_index("participant")
    assert rq.loc["sub-02", "invalid_both"] > 0 and rq.loc["sub-01", "invalid_both"] == 0


def test_all_sessions_unreadable_with_skip_fails_with_exit_1_and_lists_them(dataset, tmp_path, capsys):
    import shutil

    from analysis.errors import run_cli

    root = tmp_path / "allbad"
    shutil.copytree(dataset, root)
    for sidecar in root.glob("sub-*/ses-1/beh/*eye1_physio.json"):
        sidecar.write_text("{bad", encoding="utf-8")
    out = tmp_path / "out"
    assert run_cli(main, ["--data", str(root), "--out", str(out), "--no-progress", "--skip-unreadable"]) == 1
    assert "no trial" in capsys.readouterr().err
    ex = pd.read_csv(out / "exclusions.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    assert ex["participant"].tolist() == list(PARTICIPANTS)
    # reasons name the file relative to the dataset root, so they do not depend on where it lives
    assert ex["reason"].str.startswith("unreadable: sub-0").all()
    assert not ex["reason"].str.contains(str(tmp_path), regex=False).any()
    assert pd.read_csv(out / "trial_metrics.tsv", sep="\t").empty


def test_rewriting_removes_stale_derivatives_of_an_earlier_run(result, tmp_path):
    out = tmp_path / "deriv"
    (out / "fixations").mkdir(parents=True)
    stale = out / "fixations" / "sub-99_ses-1_fixations.tsv"
    stale.write_text("old\n")
    (out / "aoi_metrics.tsv").write_text("old\n")
    (out / "notes.txt").write_text("mine\n")
    write_derivatives(result, out)
    assert not stale.exists() and not (out / "aoi_metrics.tsv").exists()
    assert (out / "notes.txt").read_text() == "mine\n"           # other files are left alone
    assert (out / "fixations" / "sub-01_ses-1_fixations.tsv").is_file()


# ---------------------------------------------------------------- issue 11: participant accounting


def test_registered_participants_without_data_are_listed_not_dropped(dataset, tmp_path):
    import shutil

    from analysis.batch import MISSING_PARTICIPANT_COLUMNS
    from analysis.report.inputs import participant_accounting
    from tests.analysis.bids_fixture import physio_path, write_dataset_files

    root = tmp_path / "raw"
    shutil.copytree(dataset, root)
    shutil.copytree(root / "sub-02", root / "sub-03")
    for p in (root / "sub-03").rglob("sub-02_*"):
        p.rename(p.with_name(p.name.replace("sub-02", "sub-03")))
    physio_path(root / "sub-03" / "ses-1", "left").write_bytes(b"not gzip")
    write_dataset_files(root, ["sub-01", "sub-02", "sub-03", "sub-04", "sub-05"])
    (root / "sub-05").mkdir()
    out = tmp_path / "deriv"
    res = process_dataset(root, jobs=1, progress=False, on_error="exclude", derivatives_dir=out)
    assert res.registered_participants == ("sub-01", "sub-02", "sub-03", "sub-04", "sub-05")
    miss = res.missing_participants
    assert tuple(miss.columns) == MISSING_PARTICIPANT_COLUMNS
    assert miss["participant"].tolist() == ["sub-03", "sub-04", "sub-05"]
    reasons = dict(zip(miss["participant"], miss["reason"]))
    assert reasons["sub-03"].startswith("unreadable: sub-03/ses-1/beh/")
    assert reasons["sub-04"] == "no data: listed in participants.tsv but the folder sub-04/ is missing"
    assert reasons["sub-05"].startswith("no data: sub-05/ has no session folder")
    ex = res.exclusions
    whole = ex[ex["trial"].isna()]
    assert set(whole["participant"]) == {"sub-03", "sub-04", "sub-05"}
    acc = participant_accounting(res)
    assert (acc["registered"], acc["with_trials"], len(acc["missing"])) == (5, 2, 3)
    back = pd.read_csv(out / "missing_participants.tsv", sep="\t")
    assert back["participant"].tolist() == ["sub-03", "sub-04", "sub-05"]
    # a later run where everyone has data removes the stale file
    process_dataset(dataset, jobs=1, progress=False, derivatives_dir=out)
    assert not (out / "missing_participants.tsv").exists()


def test_complete_dataset_has_no_missing_participants(result):
    assert result.registered_participants == PARTICIPANTS
    assert len(result.missing_participants) == 0


def test_a_later_step_error_without_a_file_names_the_session(tmp_path):
    import gzip

    from tests.analysis.bids_fixture import physio_path, write_bids_session

    ses = write_bids_session(tmp_path / "raw", instructions_s=0.2, cross_s=0.1, blank_s=0.1)
    for eye in ("left", "right"):  # one sample: read fine, refused by the fixation filter
        p = physio_path(ses, eye)
        first = gzip.decompress(p.read_bytes()).decode().splitlines()[0]
        p.write_bytes(gzip.compress((first + "\n").encode()))
    with pytest.raises(InputError) as err:
        process_dataset(tmp_path / "raw", jobs=1, progress=False)
    assert Path(err.value.file) == ses.resolve() and "two samples" in err.value.problem
