"""study.simulate: targets, determinism, ground-truth consistency, recovery by the real pipeline, CLI errors."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from study.errors import StudyError
from study.simulate import (
    EVENT_COLUMNS,
    build_targets,
    fallback_manifest,
    read_targets,
    simulate,
)

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "data" / "reference" / "paper_table4.csv"


def _config(tmp: Path, *, participants: int, n_trials: int, viewing_s: float, name: str = "sim.toml") -> Path:
    """A simulation config on the quick study timing with its own stand-in stimuli."""
    stim = tmp / "stimuli"
    if not (stim / "manifest.csv").is_file():
        fallback_manifest(stim, 64)
    cfg = tmp / name
    cfg.write_text(
        f"""
[simulation]
participants = {participants}
study_config = "quick"
manifest = "{(stim / 'manifest.csv').as_posix()}"
[study_overrides.tracker]
kind = "simulated"
[study_overrides.study]
n_trials = {n_trials}
practice = false
[study_overrides.timing]
viewing_s = {viewing_s}
drift_check_every = 6
""",
        encoding="utf-8",
    )
    return cfg


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two identical runs and one with another seed of a 2-participant x 2-trial x 1-s cohort."""
    tmp = tmp_path_factory.mktemp("tiny")
    cfg = _config(tmp, participants=2, n_trials=2, viewing_s=1.0)
    a = simulate(tmp / "a", config=cfg, seed=5, progress=False)
    b = simulate(tmp / "b", config=cfg, seed=5, progress=False)
    c = simulate(tmp / "c", config=cfg, seed=6, progress=False)
    return a, b, c


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_a_byte_identical_dataset(tiny):
    a, b, c = tiny
    fa, fb, fc = _files(a), _files(b), _files(c)
    assert fa.keys() == fb.keys()
    different = [k for k in fa if fa[k] != fb[k]]
    assert different == []
    physio = [k for k in fa if k.endswith("_physio.tsv.gz") and k.startswith("sub-")]
    assert len(physio) == 4
    truth_physio = [k for k in fa if k.endswith("_physio.tsv.gz") and k.startswith("derivatives/ground_truth/sub-")]
    assert len(truth_physio) == 2                          # the noise-free gaze of both participants (one eye file)
    assert any(fa[k] != fc[k] for k in physio)           # another seed, other data
    # gzip members carry no time stamp (bytes 4..7 = mtime)
    assert all(fa[k][4:8] == b"\0\0\0\0" for k in fa if k.endswith(".gz"))


def test_dataset_is_marked_simulated_and_ground_truth_is_complete(tiny):
    a = tiny[0]
    import json

    assert json.loads((a / "dataset_description.json").read_text())["Simulated"] is True
    gt = a / "derivatives" / "ground_truth"
    for name in ("dataset_description.json", "generating_parameters.tsv", "participants.tsv", "trials.tsv",
                 "simulation.json", "sub-01_ses-1_events.tsv.gz", "sub-02_ses-1_events.tsv.gz"):
        assert (gt / name).is_file(), name
    params = pd.read_csv(gt / "generating_parameters.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    assert len(params) == 18
    row = params.set_index("stimulus_id").loc["david_pix2pix"]
    assert row["target_handling"] == "capped_mean_fixation"
    assert row["target_fixation_time_s"] == pytest.approx(8.69)
    assert row["target_fixation_count"] == pytest.approx(8.69 / 0.6, abs=1e-3)
    # physio sidecars list only the compact columns
    sidecar = next((a / "sub-01").rglob("*eye1_physio.json"))
    assert json.loads(sidecar.read_text())["Columns"] == ["timestamp", "x_coordinate", "y_coordinate",
                                                          "pupil_size", "validity"]


def test_ground_truth_is_self_consistent(tiny):
    a = tiny[0]
    gt = a / "derivatives" / "ground_truth"
    trials = pd.read_csv(gt / "trials.tsv", sep="\t", na_values=["n/a"], keep_default_na=False)
    assert len(trials) == 4
    for sub in ("sub-01", "sub-02"):
        with gzip.open(gt / f"{sub}_ses-1_events.tsv.gz", "rt") as fh:
            ev = pd.read_csv(fh, sep="\t", na_values=["n/a"], keep_default_na=False)
        assert tuple(ev.columns) == EVENT_COLUMNS
        on, off = ev["onset_us"].to_numpy(), ev["offset_us"].to_numpy()
        assert np.all(off > on)
        assert np.all(np.diff(on) > 0)
        np.testing.assert_array_equal(on[1:], off[:-1])          # events tile the session: no overlap, no gap
        np.testing.assert_allclose(ev["duration_s"], (off - on) / 1e6, atol=1e-6)
        fix = ev[ev["type"] == "fixation"]
        assert np.all(fix["onset_us"].to_numpy()[1:] >= fix["offset_us"].to_numpy()[:-1])
        # per trial: the clipped durations of the in-AOI fixations sum to the trial's true total
        events_tsv = next((a / sub / "ses-1" / "beh").glob("*_events.tsv"))
        bids = pd.read_csv(events_tsv, sep="\t", na_values=["n/a"], keep_default_na=False)
        for _, tr in bids[bids["trial_type"] == "stimulus"].iterrows():
            t0 = int(tr["tracker_onset_us"])
            t1 = t0 + round(tr["duration"] * 1e6)
            inside = ((fix["x_px"] >= tr["aoi_left"]) & (fix["x_px"] <= tr["aoi_right"])
                      & (fix["y_px"] >= tr["aoi_top"]) & (fix["y_px"] <= tr["aoi_bottom"]))
            clip = (np.minimum(fix["offset_us"], t1) - np.maximum(fix["onset_us"], t0)).clip(lower=0)
            use = inside & (clip > 0)
            row = trials[(trials["participant"] == sub) & (trials["trial"] == int(tr["trial"]))].iloc[0]
            assert row["true_total_fixation_s"] == pytest.approx(clip[use].sum() / 1e6, abs=1e-6)
            assert row["true_fixation_count"] == int(use.sum())
            assert set(fix.loc[use, "trial"]) <= {int(tr["trial"])}


def test_small_cohort_is_recovered_by_the_analysis_pipeline(tmp_path):
    """4 participants x 18 trials x 3 s through the real reader, I-VT filter and metrics."""
    from analysis.validate import validate_dataset

    cfg = _config(tmp_path, participants=4, n_trials=0, viewing_s=3.0)
    root = simulate(tmp_path / "cohort", config=cfg, seed=11, progress=False)
    res = validate_dataset(root, jobs=1, effects=False, progress=False)
    assert len(res.trials) == 4 * 18
    assert res.truth_consistency_max_abs < 1e-6          # simulator truth == analysis.metrics on true fixations
    assert res.measures["event_f1"] > 0.9
    assert res.measures["kappa_vs_truth"] > 0.7
    time_bias = res.bias.set_index("metric").loc["total_fixation_s"]
    count_bias = res.bias.set_index("metric").loc["fixation_count"]
    assert abs(time_bias["relative_bias"]) < 0.05
    assert abs(count_bias["relative_bias"]) < 0.10
    # pooled over the cohort, detected time and count on the images are close to the truth
    t4 = res.table4
    assert abs(t4["detected_time_s"].sum() / t4["true_time_s"].sum() - 1) < 0.05
    assert abs(t4["detected_count"].sum() / t4["true_count"].sum() - 1) < 0.10


def test_targets_reader_accepts_the_paper_table_and_applies_the_decision():
    rows = read_targets(PAPER)
    assert len(rows) == 18
    capped = {t.stimulus_id: t for t in build_targets(rows, "cap", 0.6, 30.0)}
    assert {k for k, t in capped.items() if t.handling != "as_paper"} == {"david_pix2pix", "tang_sancai_pix2pix",
                                                                           "thinker_pix2pix"}
    assert capped["tang_sancai_pix2pix"].time_s == pytest.approx(8.24)
    assert capped["tang_sancai_pix2pix"].count == pytest.approx(8.24 / 0.6)
    assert capped["last_supper_ours"].count == 62
    kept = {t.stimulus_id: t for t in build_targets(rows, "reproduce", 0.6, 30.0)}
    assert kept["david_pix2pix"].count == 5 and kept["david_pix2pix"].handling == "reproduced_long_fixations"
    refused = {t.stimulus_id: t for t in build_targets(rows, "refuse", 0.6, 30.0)}
    assert refused["david_pix2pix"].time_s is None and refused["david_pix2pix"].handling == "refused"


@pytest.mark.parametrize(
    "mutate, line, column",
    [
        (lambda ls: ls.__setitem__(2, ls[2].replace(",44", ",forty-four")), 3, "fixation_count"),
        (lambda ls: ls.__setitem__(0, ls[0].replace("fixation_time_s", "time")), 1, "fixation_time_s"),
        (lambda ls: ls.__setitem__(5, ls[5].replace("ours,", "cyclegan,", 1)), 6, "method"),
        (lambda ls: ls.__setitem__(2, ls[2].replace(",9.49,", ",-9.49,")), 3, "fixation_time_s"),
    ],
)
def test_bad_targets_are_refused_with_file_line_and_column(tmp_path, mutate, line, column):
    lines = PAPER.read_text(encoding="utf-8").splitlines()
    mutate(lines)
    bad = tmp_path / "bad_targets.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(StudyError) as info:
        read_targets(bad)
    assert info.value.line == line and info.value.column == column
    assert "bad_targets.csv" in str(info.value)


def test_cli_bad_targets_exits_2_without_traceback(tmp_path):
    lines = PAPER.read_text(encoding="utf-8").splitlines()
    lines[7] = lines[7].replace(",67", ",n/a")
    bad = tmp_path / "targets.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "study.simulate", "--participants", "1", "--out",
                           str(tmp_path / "out"), "--targets", str(bad)], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "targets.csv" in proc.stderr and "line 8" in proc.stderr and "fixation_count" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_missing_targets_file_exits_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "study.simulate", "--out", str(tmp_path / "o"), "--targets",
                           str(tmp_path / "nope.csv")], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "nope.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_timestamp_jitter_too_large_for_the_rate_is_refused_before_anything_is_written(tmp_path):
    from study.oculomotor import GazeModel, OculomotorParams, max_jitter_us

    assert max_jitter_us(60.0) == pytest.approx(694.4, abs=0.1) and max_jitter_us(300.0) == pytest.approx(138.9, abs=0.1)
    with pytest.raises(ValueError, match="jitter_us"):
        GazeModel(OculomotorParams(jitter_us=300.0), seed=1, rate_hz=300.0)
    cfg = _config(tmp_path, participants=1, n_trials=2, viewing_s=1.0)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('kind = "simulated"', 'kind = "simulated"\nsampling_rate_hz = 300.0'),
                   encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "study.simulate", "--out", str(tmp_path / "out"), "--config", str(cfg)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "jitter_us" in proc.stderr and "300 Hz" in proc.stderr and "sim.toml" in proc.stderr
    assert not (tmp_path / "out").exists()


def _with_saliency(tmp: Path, size: int | None = None, mode: str = "L") -> Path:
    """The stand-in stimuli with a saliency map per stimulus (bright upper-left quarter), named in the manifest."""
    from PIL import Image

    stim = tmp / "stimuli"
    fallback_manifest(stim, 64)
    man = stim / "manifest.csv"
    lines = man.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",saliency_file"]
    for line in lines[1:]:
        sid = line.split(",")[0]
        n = size or 64
        a = np.zeros((n, n), np.uint8)
        a[: n // 2, : n // 2] = 255
        img = Image.fromarray(a).convert(mode)
        img.save(stim / f"{sid}_saliency.png")
        out.append(line + f",{sid}_saliency.png")
    man.write_text("\n".join(out) + "\n", encoding="utf-8")
    return man


def test_saliency_maps_of_the_manifest_steer_the_simulated_fixations(tmp_path):
    import json

    _with_saliency(tmp_path)
    cfg = _config(tmp_path, participants=1, n_trials=4, viewing_s=8.0)
    root = simulate(tmp_path / "out", config=cfg, seed=2, progress=False)
    meta = json.loads((root / "derivatives" / "ground_truth" / "simulation.json").read_text())
    assert meta["central_bias_only"] == [] and meta["saliency_maps"]["david_ours"] == "david_ours_saliency.png"
    with gzip.open(root / "derivatives" / "ground_truth" / "sub-01_ses-1_events.tsv.gz", "rt") as fh:
        ev = pd.read_csv(fh, sep="\t", na_values=["n/a"], keep_default_na=False)
    bids = pd.read_csv(next((root / "sub-01").rglob("*_events.tsv")), sep="\t", na_values=["n/a"],
                       keep_default_na=False)
    st = bids[bids["trial_type"] == "stimulus"].iloc[0]
    cx, cy = (st["aoi_left"] + st["aoi_right"]) / 2, (st["aoi_top"] + st["aoi_bottom"]) / 2
    fix = ev[(ev["type"] == "fixation") & (ev["in_aoi"] == 1)]
    upper_left = ((fix["x_px"] < cx) & (fix["y_px"] < cy)).mean()
    assert upper_left > 0.5          # 1/4 of the image, but most fixations after the first


@pytest.mark.parametrize("size, mode, expected", [(32, "L", "32 x 32 px"), (64, "RGB", "mode RGB")])
def test_a_saliency_map_of_the_wrong_size_or_mode_is_refused_before_anything_is_written(tmp_path, size, mode,
                                                                                        expected):
    _with_saliency(tmp_path, size=size, mode=mode)
    cfg = _config(tmp_path, participants=1, n_trials=2, viewing_s=1.0)
    proc = subprocess.run([sys.executable, "-m", "study.simulate", "--out", str(tmp_path / "out"), "--config", str(cfg)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert expected in proc.stderr and "saliency_file" in proc.stderr and "manifest.csv" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_the_plausibility_bound_is_read_from_the_shared_file(tmp_path):
    from study.simulate import TargetsSection, max_mean_fixation_s

    assert max_mean_fixation_s(TargetsSection()) == 0.6                     # data/reference/plausibility.toml
    f = tmp_path / "p.toml"
    f.write_text("max_mean_fixation_s = 0.75\n", encoding="utf-8")
    assert max_mean_fixation_s(TargetsSection(plausibility_file=str(f))) == 0.75
    assert max_mean_fixation_s(TargetsSection(max_mean_fixation_s=0.5, plausibility_file=str(f))) == 0.5
    f.write_text("other = 1\n", encoding="utf-8")
    with pytest.raises(StudyError, match="max_mean_fixation_s"):
        max_mean_fixation_s(TargetsSection(plausibility_file=str(f)))
