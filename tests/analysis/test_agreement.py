"""analysis.agreement: our I-VT against the exporting program's labels, and the Tobii presets."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import cohen_kappa_score

from analysis.agreement import best_preset, cohen_kappa, compare, main, preset_score
from analysis.config import IVTConfig
from analysis.errors import InputError
from analysis.fixations import FIXATION, SACCADE, detect_fixations
from analysis.fixations.presets import PRESETS, describe
from analysis.io import read_recording
from tests.analysis.bids_fixture import write_tobii_export
from tests.analysis.test_io_realquirks import prolab_export


@pytest.mark.parametrize("seed", range(5))
def test_kappa_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    a = rng.random(500) < 0.6
    b = np.where(rng.random(500) < 0.8, a, ~a)
    k, po = cohen_kappa(a, b)
    assert k == pytest.approx(cohen_kappa_score(a, b))
    assert po == pytest.approx(np.mean(a == b))


def test_kappa_edge_cases():
    assert cohen_kappa(np.ones(5, bool), np.ones(5, bool))[0] == 1.0
    assert np.isnan(cohen_kappa(np.zeros(0, bool), np.zeros(0, bool))[0])


def _with_own_labels(tmp_path, config=None):
    """A recording whose 'Tobii' labels are our own I-VT output (so agreement must be perfect)."""
    w = prolab_export(tmp_path / "rec.tsv", n=900, rate=300.0)
    rec = read_recording(w["path"])
    res = detect_fixations(rec, "ivt", config)
    fix = res.labels == FIXATION
    movement = np.where(fix, "fixation", np.where(res.labels == SACCADE, "saccade", "unclassified")).astype(object)
    start = fix & ~np.r_[False, fix[:-1]]
    idx = pd.array(np.where(fix, np.cumsum(start), 0), dtype="Int64")
    idx[~fix] = pd.NA
    rec.labels = pd.DataFrame({"movement": movement, "event_index": idx})
    rec.meta.extra.pop("gaze_event_duration_ms", None)
    return rec, res


def test_own_labels_agree_perfectly(tmp_path):
    rec, res = _with_own_labels(tmp_path)
    r = compare(rec, PRESETS["prolab"].config)
    assert r["kappa"] == 1.0 and r["disagree"] == 0
    assert r["fixations_ours"] == r["fixations_tobii"] == len(res.fixations) > 5
    assert r["tobii_missed"] == r["tobii_split"] == r["ours_merged"] == r["ours_extra"] == 0
    # durations from sample runs: last - first sample + one interval = our event bounds
    assert r["mean_duration_ms_tobii"] == pytest.approx(r["mean_duration_ms_ours"], abs=0.01)


def test_split_and_boundary_disagreements_are_located(tmp_path):
    rec, res = _with_own_labels(tmp_path)
    lab = rec.labels.copy()
    fix = np.flatnonzero(lab["movement"] == "fixation")
    first_idx = lab["event_index"].iloc[fix[0]]
    members = np.flatnonzero((lab["event_index"] == first_idx).fillna(False).to_numpy())
    mid = members[len(members) // 2]
    # Tobii "splits" our first fixation in two: one saccade sample in the middle, new index after it
    lab.loc[mid, "movement"] = "saccade"
    lab.loc[mid, "event_index"] = pd.NA
    lab.loc[members[members > mid], "event_index"] = 10_000
    # and starts the second fixation one sample later (a boundary disagreement)
    second = np.flatnonzero((lab["event_index"] == lab["event_index"].iloc[fix[-1]]).fillna(False).to_numpy())
    lab.loc[second[0], "movement"] = "saccade"
    rec.labels = lab
    r = compare(rec, PRESETS["prolab"].config)
    assert r["fixations_tobii"] == r["fixations_ours"] + 1
    assert r["ours_merged"] == 1 and r["tobii_split"] == 0 and r["tobii_missed"] == 0
    assert r["disagree"] == 2 and r["ours_fix_tobii_not"] == 2
    assert r["disagree_at_boundary"] == 2      # both lie next to a change in Tobii's labels
    assert r["disagree_near_data_loss"] == 0   # the fixture loses no eye
    assert r["confusion"]["saccade"]["fixation"] == 2


def test_best_preset_weighs_kappa_and_count():
    a = {"kappa": 0.991, "count_diff_pct": 0.0}
    b = {"kappa": 0.992, "count_diff_pct": -2.5}
    assert best_preset({"prolab": a, "studio": b}) == "prolab"
    assert preset_score(b) == pytest.approx(0.992 - 0.025)
    assert best_preset({"x": {"kappa": float("nan"), "count_diff_pct": 0.0}, "y": a}) == "y"


def test_presets_cite_every_value():
    assert PRESETS["prolab"].config == IVTConfig()
    assert PRESETS["studio"].config.noise_reduction == "median"
    assert PRESETS["studio"].config.noise_window_samples == 3
    assert PRESETS["prolab_attention"].config.velocity_threshold_deg_s == 100.0
    for p in PRESETS.values():
        names = {f.name for f in dataclasses.fields(p.config)}
        assert names == set(p.sources), p.name
        assert all(p.sources[k] for k in names)
        assert len(describe(p)) == len(names)


def test_cli_reports_every_preset_and_the_best(tmp_path, capsys):
    w = prolab_export(tmp_path / "rec.tsv")
    out = tmp_path / "a.json"
    assert main([str(w["path"]), "--json", str(out), "--sources"]) == 0
    text = capsys.readouterr().out
    for name in PRESETS:
        assert f"preset {name}" in text
    assert "best:" in text and "sample kappa" in text and "Olsen (2012)" in text
    payload = json.loads(out.read_text())
    assert payload["best"] in PRESETS and set(payload["results"]) == set(PRESETS)


def test_cli_one_preset_and_a_config(tmp_path, capsys):
    w = prolab_export(tmp_path / "rec.tsv")
    cfg = tmp_path / "a.toml"
    cfg.write_text("[ivt]\nvelocity_threshold_deg_s = 45.0\n")
    assert main([str(w["path"]), "--preset", "studio", "--config", str(cfg)]) == 0
    text = capsys.readouterr().out
    assert "preset studio" in text and "preset config" in text and "preset prolab " not in text


def test_file_without_labels_is_an_input_error(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    df = pd.read_csv(w["path"], sep="\t", dtype=str, keep_default_na=False).drop(columns=["Eye movement type"])
    df.to_csv(w["path"], sep="\t", index=False)
    with pytest.raises(InputError, match="no per-sample classification"):
        main([str(w["path"]), "--screen-mm", "338", "270", "--distance-mm", "650"])
