"""Proof of recovery: compare the analysis pipeline with a simulated cohort's ground truth.

::

    python -m analysis.validate --data data/demo [--truth DIR] [--config analysis.toml]
           [--algorithm ivt|idt] [--jobs N] [--out reports/validation] [--iou 0.5]
           [--kappa-goal 0.9] [--cell-goal 0.03]

``--data`` is a dataset written by ``python -m study.simulate`` (``"Simulated": true``);
its ground truth lies in ``<data>/derivatives/ground_truth/`` (docs/simulation.md).
Every session goes through the same steps as :func:`analysis.batch.process_dataset`
(:func:`analysis.io.read_recording` -> :func:`analysis.fixations.detect_fixations` ->
:func:`analysis.metrics.trial_metrics`); the *true* fixations go through the same
:func:`~analysis.metrics.trial_metrics`, so only fixation detection differs. Measures:

Sample level
    Cohen's (1960) kappa of "fixation" vs "not fixation" over every sample inside a
    stimulus trial: the detector's per-sample label 1 (fixation) against "the sample's
    timestamp lies inside a true fixation". (Sample-level agreement as in Andersson et
    al. 2017, *Behav. Res. Methods* 49:616-637, and Startsev, Agtzidis & Dorr 2019,
    *Behav. Res. Methods* 51:556-572.)
Event level
    F1 of fixation detection. A detected and a true fixation *match* when their
    temporal intersection over union (IoU) is at least ``--iou`` (default 0.5); with
    IoU > 0.5 a fixation can match at most one other, so matching is one-to-one
    (Startsev et al. 2019, "event-level ... IoU >= 0.5"; Hooge et al. 2018, *Behav. Res.
    Methods* 50:1864-1881, on event matching between coders). Only fixations whose
    midpoint lies inside a stimulus trial take part (matched once over the whole session;
    a pair counts when both are in a trial). ``precision = matched / detected``,
    ``recall = matched / true``, ``F1`` their harmonic mean.
Unmatched fixations (diagnostic, no goal)
    What happened to each unmatched true fixation (merged with a neighbour, split,
    lost, shifted) and detection (merger, fragment, spurious, shifted), with the
    separation of merged pairs and the share of splits at a loss of gaze
    (:func:`classify_unmatched`): it tells a count bias that comes from the filter's
    definition (step 6 merges fixations <= 0.5 deg apart, Olsen 2012 sec. 3.1.6) from one
    that comes from the tracker (gaze loss longer than the gap fill-in).
Trial level
    Bias (detected - true) of the fixation count and total fixation time on the image,
    per trial: mean, SD and mean absolute difference.
Table 4
    Per stimulus (artwork x method): the mean over participants of the detected total
    fixation time and count, against (a) the *realised* mean of the true fixations (the
    generating value in the data) and (b) the simulator's target (paper Table 4 after
    the target handling recorded in ``generating_parameters.tsv``). Relative error per
    cell.

Goals (checked here, never in timed tests): kappa >= ``--kappa-goal`` (0.9) and every
per-stimulus mean (time and count) within ``--cell-goal`` (3 %) of the realised value.
The run ends with one summary line carrying kappa, F1 and the worst cell error; the
exit code is 0 when the goals are met, 1 when any is missed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import AnalysisConfig, load_config
from analysis.errors import InputError, run_cli

log = logging.getLogger(__name__)

TRUTH_SUBDIR = Path("derivatives") / "ground_truth"
GOAL_KAPPA = 0.9
GOAL_CELL = 0.03
EVENT_REQUIRED = ("type", "onset_us", "offset_us", "x_px", "y_px", "start_x_px", "start_y_px", "amplitude_deg",
                  "peak_velocity_deg_s")


# --------------------------------------------------------------------------- measures
def cohen_kappa(tp: int, fp: int, fn: int, tn: int) -> float:
    """Cohen's kappa of a 2 x 2 confusion table (Cohen 1960).

    Examples
    --------
    >>> round(cohen_kappa(45, 5, 5, 45), 3)
    0.8
    >>> cohen_kappa(10, 0, 0, 10)
    1.0
    """
    n = tp + fp + fn + tn
    if n == 0:
        return float("nan")
    po = (tp + tn) / n
    pe = ((tp + fp) * (tp + fn) + (fn + tn) * (fp + tn)) / (n * n)
    if pe >= 1.0:
        return 1.0 if po == 1.0 else float("nan")
    return float((po - pe) / (1.0 - pe))


def in_intervals(t: np.ndarray, on: np.ndarray, off: np.ndarray) -> np.ndarray:
    """Whether each time lies in one of the sorted, non-overlapping intervals ``[on, off)``."""
    t = np.asarray(t, dtype=np.float64)
    if len(on) == 0:
        return np.zeros(len(t), bool)
    i = np.searchsorted(on, t, side="right") - 1
    ok = i >= 0
    out = np.zeros(len(t), bool)
    out[ok] = t[ok] < off[i[ok]]
    return out


def nearest_distance(t: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Distance from each time to the nearest of the sorted ``points`` (inf when there are none)."""
    t = np.asarray(t, dtype=np.float64)
    if len(points) == 0:
        return np.full(len(t), np.inf)
    j = np.searchsorted(points, t)
    left = np.abs(t - points[np.clip(j - 1, 0, len(points) - 1)])
    right = np.abs(points[np.clip(j, 0, len(points) - 1)] - t)
    return np.minimum(left, right)


def match_events(det_on: np.ndarray, det_off: np.ndarray, true_on: np.ndarray, true_off: np.ndarray,
                 iou: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one matching of detected and true events by temporal IoU >= ``iou``.

    Returns ``(det_match, true_match)``: for each detected event the index of its true
    match (-1 if none), and for each true event the index of its detected match. Pairs
    are taken greedily by decreasing IoU (with ``iou > 0.5`` the result is unique).
    """
    det_on, det_off = np.asarray(det_on, float), np.asarray(det_off, float)
    true_on, true_off = np.asarray(true_on, float), np.asarray(true_off, float)
    order_t = np.argsort(true_on, kind="stable")
    t_on, t_off = true_on[order_t], true_off[order_t]
    cand: list[tuple[float, int, int]] = []
    for d in range(len(det_on)):   # loop over events, not samples
        hi = np.searchsorted(t_on, det_off[d], side="left")
        lo = np.searchsorted(t_off, det_on[d], side="right") if np.all(np.diff(t_off) >= 0) else 0
        for j in range(lo, hi):
            inter = min(det_off[d], t_off[j]) - max(det_on[d], t_on[j])
            if inter <= 0:
                continue
            union = max(det_off[d], t_off[j]) - min(det_on[d], t_on[j])
            r = inter / union
            if r >= iou:
                cand.append((r, d, int(order_t[j])))
    det_match = np.full(len(det_on), -1, dtype=np.int64)
    true_match = np.full(len(true_on), -1, dtype=np.int64)
    for _, d, j in sorted(cand, key=lambda c: (-c[0], c[1], c[2])):
        if det_match[d] < 0 and true_match[j] < 0:
            det_match[d] = j
            true_match[j] = d
    return det_match, true_match


def f1_score(matched: int, n_detected: int, n_true: int) -> tuple[float, float, float]:
    """Precision, recall and F1 from match counts."""
    precision = matched / n_detected if n_detected else float("nan")
    recall = matched / n_true if n_true else float("nan")
    f1 = 2 * matched / (n_detected + n_true) if (n_detected + n_true) else float("nan")
    return precision, recall, f1


TRUE_OUTCOMES = ("merged", "split", "lost", "shifted")
DETECTED_OUTCOMES = ("merger", "fragment", "spurious", "shifted")
SMALL_SEPARATION_DEG = 1.0
SHORT_FIXATION_S = 0.1


def _overlaps(on: np.ndarray, off: np.ndarray, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the sorted, non-overlapping intervals ``[on, off)`` that overlap ``[a, b)``, and by how much."""
    idx = np.arange(np.searchsorted(off, a, side="right"), np.searchsorted(on, b, side="left"))
    return idx, np.minimum(off[idx], b) - np.maximum(on[idx], a)


def classify_unmatched(det_on: np.ndarray, det_off: np.ndarray, true_on: np.ndarray, true_off: np.ndarray,
                       det_match: np.ndarray, true_match: np.ndarray) -> tuple[list[str], list[str], np.ndarray]:
    """What happened to every unmatched true fixation and every unmatched detection.

    Outcomes of an unmatched **true** fixation (first rule that applies):

    ``merged``
        a detection covers at least half of it *and* at least half of another true
        fixation: the detector joined them (an undetected saccade, or step 6's merge);
    ``split``
        two or more detections overlap it: the detector cut it (e.g. at a loss of gaze
        longer than the gap fill-in);
    ``lost``
        no detection overlaps it (too short once its edge samples are lost, or no gaze);
    ``shifted``
        one detection overlaps it, but with IoU below the matching threshold.

    Outcomes of an unmatched **detection**: ``merger`` (covers at least half of two or
    more true fixations), ``fragment`` (overlaps a ``split`` true fixation), ``spurious``
    (overlaps no true fixation), ``shifted`` (otherwise).

    Returns ``(true_outcome, det_outcome, partner)``: outcome strings (``""`` for
    matched events) and, for ``merged`` true fixations, the index of the other true
    fixation the detection covers (-1 otherwise). Intervals are sorted, non-overlapping.
    """
    det_on, det_off = np.asarray(det_on, float), np.asarray(det_off, float)
    true_on, true_off = np.asarray(true_on, float), np.asarray(true_off, float)
    t_len = np.maximum(true_off - true_on, 1e-12)
    true_out = [""] * len(true_on)
    partner = np.full(len(true_on), -1, dtype=np.int64)
    covered_by = []                       # per detection: true fixations it covers >= half of
    for d in range(len(det_on)):          # loops over events, each against its neighbours only
        idx, ov = _overlaps(true_on, true_off, det_on[d], det_off[d])
        covered_by.append(idx[ov >= 0.5 * t_len[idx]])
    for j in np.flatnonzero(np.asarray(true_match) < 0):
        idx, ov = _overlaps(det_on, det_off, true_on[j], true_off[j])
        hits = idx[ov > 0]
        merged_with = [k for d in hits for k in covered_by[d] if j in covered_by[d] and k != j]
        if len(hits) == 0:
            true_out[j] = "lost"
        elif merged_with:
            true_out[j] = "merged"
            partner[j] = min(merged_with, key=lambda k: abs(k - j))
        elif len(hits) >= 2:
            true_out[j] = "split"
        else:
            true_out[j] = "shifted"
    det_out = [""] * len(det_on)
    for d in np.flatnonzero(np.asarray(det_match) < 0):
        idx, ov = _overlaps(true_on, true_off, det_on[d], det_off[d])
        hits = idx[ov > 0]
        if len(hits) == 0:
            det_out[d] = "spurious"
        elif len(covered_by[d]) >= 2:
            det_out[d] = "merger"
        elif any(true_out[j] == "split" for j in hits):
            det_out[d] = "fragment"
        else:
            det_out[d] = "shifted"
    return true_out, det_out, partner


# --------------------------------------------------------------------------- ground truth
def truth_dir_for(data: Path, truth: str | Path | None) -> Path:
    d = Path(truth) if truth is not None else data / TRUTH_SUBDIR
    if not d.is_dir():
        raise InputError("ground-truth folder not found", file=d,
                         expected="derivatives/ground_truth/ written by python -m study.simulate",
                         fix="validate a simulated dataset (e.g. --data data/demo) or give --truth DIR")
    for name in ("trials.tsv", "generating_parameters.tsv"):
        if not (d / name).is_file():
            raise InputError(f"ground truth lacks {name}", file=d / name,
                             fix="re-run python -m study.simulate; the ground truth is incomplete")
    return d


def read_truth_table(path: Path, required: Sequence[str]) -> pd.DataFrame:
    try:
        df = pd.read_csv(path, sep="\t", na_values=["n/a"], keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise InputError(f"cannot read the table: {exc}", file=path, fix="re-run python -m study.simulate") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"missing columns {missing}", file=path, line=1, column=missing[0],
                         expected=", ".join(required), fix="re-run python -m study.simulate")
    return df


def true_fixations(events: pd.DataFrame) -> pd.DataFrame:
    """True fixations as an ``analysis.metrics`` fixation frame (tracker clock, s)."""
    f = events[events["type"] == "fixation"]
    return pd.DataFrame({
        "onset_s": f["onset_us"].to_numpy(dtype=np.float64) / 1e6,
        "offset_s": f["offset_us"].to_numpy(dtype=np.float64) / 1e6,
        "duration_s": (f["offset_us"] - f["onset_us"]).to_numpy(dtype=np.float64) / 1e6,
        "x_px": f["x_px"].to_numpy(dtype=np.float64),
        "y_px": f["y_px"].to_numpy(dtype=np.float64),
    }).sort_values("onset_s", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- per session
def _confusion(det: np.ndarray, tru: np.ndarray) -> dict[str, int]:
    return {"tp": int(np.sum(det & tru)), "fp": int(np.sum(det & ~tru)),
            "fn": int(np.sum(~det & tru)), "tn": int(np.sum(~det & ~tru))}


@dataclass
class _Task:
    session: Path
    events_file: Path
    config: AnalysisConfig
    algorithm: str
    iou: float


def _session_labels(session: Path) -> tuple[str, str]:
    return session.parent.name, session.name


def validate_session(task: _Task) -> dict[str, Any]:
    """Worker: detection vs truth for one session; returns small tables and counts."""
    from analysis.fixations import FIXATION, detect_fixations
    from analysis.io import read_recording
    from analysis.metrics import ID_COLUMNS, trial_metrics
    from analysis.recording import Recording
    from analysis.true_gaze import perfect_samples

    participant, session = _session_labels(task.session)
    rec = read_recording(task.session)
    cfg = task.config.ivt if task.algorithm == "ivt" else task.config.idt
    fx = detect_fixations(rec, algorithm=task.algorithm, config=cfg)
    events = read_truth_table(task.events_file, EVENT_REQUIRED)
    tfix = true_fixations(events)
    trials = rec.trials
    t_on = trials["onset_s"].to_numpy(dtype=np.float64)
    t_off = trials["offset_s"].to_numpy(dtype=np.float64)
    order = np.argsort(t_on)
    t_on, t_off = t_on[order], t_off[order]
    # sample level
    time_s = fx.time_s
    in_trial = in_intervals(time_s, t_on, t_off)
    det = (fx.labels == FIXATION)[in_trial]
    tru = in_intervals(time_s, tfix["onset_s"].to_numpy(), tfix["offset_s"].to_numpy())[in_trial]
    conf = _confusion(det, tru)
    # the same detector on a perfect measurement of the same eye movements (analysis.true_gaze)
    perfect = Recording(samples=perfect_samples(time_s, events, rec.meta.geometry), trials=rec.trials, meta=rec.meta)
    pfx = detect_fixations(perfect, algorithm=task.algorithm, config=cfg)
    conf_perfect = _confusion((pfx.labels == FIXATION)[in_trial], tru)
    # secondary views (reported, not goals): samples where the tracker had gaze from at least
    # one eye, and samples more than half a sample interval away from any true fixation boundary
    s = rec.samples
    has_gaze = (s["left_valid"].to_numpy(bool) | s["right_valid"].to_numpy(bool))[in_trial]
    half = 0.5 * float(np.median(np.diff(time_s))) if len(time_s) > 1 else 0.0
    bounds = np.sort(np.concatenate([tfix["onset_s"].to_numpy(), tfix["offset_s"].to_numpy()]))
    away = (nearest_distance(time_s, bounds) > half)[in_trial]
    conf_valid = _confusion(det[has_gaze], tru[has_gaze])
    conf_away = _confusion(det[away], tru[away])
    # event level
    dfix = fx.fixations
    d_mid = (dfix["onset_s"].to_numpy() + dfix["offset_s"].to_numpy()) / 2
    tr_mid = (tfix["onset_s"].to_numpy() + tfix["offset_s"].to_numpy()) / 2
    dsel = in_intervals(d_mid, t_on, t_off)
    tsel = in_intervals(tr_mid, t_on, t_off)
    d_on, d_off = dfix["onset_s"].to_numpy(), dfix["offset_s"].to_numpy()
    tr_on, tr_off = tfix["onset_s"].to_numpy(), tfix["offset_s"].to_numpy()
    # one matching over the whole session; a pair counts when both fixations are in a trial
    dm, tm = match_events(d_on, d_off, tr_on, tr_off, task.iou)
    hit = dsel & (dm >= 0)
    hit[hit] = tsel[dm[hit]]
    onset_err = d_on[hit] - tr_on[dm[hit]]
    offset_err = d_off[hit] - tr_off[dm[hit]]
    outcomes = _outcome_counts(fx, rec.meta.geometry, tfix, tsel, dsel, dm, tm)
    # trial level, same metric code for both
    det_tm = trial_metrics(trials, dfix, participant=participant, session=session)
    true_tm = trial_metrics(trials, tfix, participant=participant, session=session)
    ids = list(ID_COLUMNS)
    keep = [*ids, "total_fixation_s", "fixation_count"]
    both = det_tm[keep].merge(true_tm[keep], on=ids, suffixes=("_detected", "_true"))
    perfect_tm = trial_metrics(trials, pfx.fixations, participant=participant, session=session)[keep]
    both = both.merge(perfect_tm.rename(columns={"total_fixation_s": "total_fixation_s_perfect",
                                                 "fixation_count": "fixation_count_perfect"}), on=ids)
    return {"participant": participant, "session": session, "confusion": conf, "confusion_valid": conf_valid,
            "confusion_perfect": conf_perfect,
            "confusion_away": conf_away,
            "events": {"matched": int(hit.sum()), "detected": int(dsel.sum()), "true": int(tsel.sum()),
                       "onset_err_sum": float(onset_err.sum()), "offset_err_sum": float(offset_err.sum()),
                       "onset_abs_sum": float(np.abs(onset_err).sum()), "offset_abs_sum": float(np.abs(offset_err).sum())},
            "trials": both, "outcomes": outcomes}


def _outcome_counts(fx: Any, geometry: Any, tfix: pd.DataFrame, tsel: np.ndarray, dsel: np.ndarray,
                    dm: np.ndarray, tm: np.ndarray) -> dict[str, Any]:
    """Per session: :func:`classify_unmatched` outcomes of the fixations in stimulus trials.

    Classification sees every fixation of the session (``dm``/``tm``: the session's
    matching), so a trial's first fixation merged with the one on the fixation cross
    before it counts as merged.
    """
    from analysis.fixations import GAP
    from analysis.geometry import angle_between_deg

    d_on, d_off = fx.fixations["onset_s"].to_numpy(), fx.fixations["offset_s"].to_numpy()
    tr_on, tr_off = tfix["onset_s"].to_numpy(), tfix["offset_s"].to_numpy()
    true_out, det_out, partner = classify_unmatched(d_on, d_off, tr_on, tr_off, dm, tm)
    true_out = np.where(tsel, np.asarray(true_out, dtype=object), "")
    det_out = np.where(dsel, np.asarray(det_out, dtype=object), "")
    gap_t = fx.time_s[fx.labels == GAP]
    n_gap = np.searchsorted(gap_t, tr_off, side="left") - np.searchsorted(gap_t, tr_on, side="left")
    merged = np.flatnonzero(true_out == "merged")
    sep = angle_between_deg(tfix["x_px"].to_numpy()[merged], tfix["y_px"].to_numpy()[merged],
                            tfix["x_px"].to_numpy()[partner[merged]], tfix["y_px"].to_numpy()[partner[merged]],
                            geometry) if len(merged) else np.zeros(0)
    lost = true_out == "lost"
    split = true_out == "split"
    return {"true": {o: int(np.sum(true_out == o)) for o in TRUE_OUTCOMES},
            "detected": {o: int(np.sum(det_out == o)) for o in DETECTED_OUTCOMES},
            "merged_separation_deg": [float(v) for v in sep],
            "lost_short": int(np.sum(lost & ((tr_off - tr_on) < SHORT_FIXATION_S))),
            "lost_no_gaze": int(np.sum(lost & (n_gap > 0))),
            "split_no_gaze": int(np.sum(split & (n_gap > 0)))}


# --------------------------------------------------------------------------- dataset
@dataclass
class ValidationResult:
    kappa: float
    kappa_views: dict[str, float]
    confusion: dict[str, int]
    precision: float
    recall: float
    f1: float
    event_counts: dict[str, float]
    trials: pd.DataFrame          # per trial: detected and true metrics
    bias: pd.DataFrame            # per metric: mean/sd/mean abs of detected - true
    table4: pd.DataFrame          # per stimulus: detected / realised / target means and errors
    worst: dict[str, Any]
    truth_consistency_max_abs: float
    goals: dict[str, Any]
    simulated: bool
    outcomes: dict[str, Any]      # aggregate_outcomes: what happened to the unmatched fixations

    @property
    def passed(self) -> bool:
        return bool(self.goals["kappa_ok"] and self.goals["cells_ok"])

    def summary_line(self) -> str:
        w = self.worst
        return (f"VALIDATION {'PASS' if self.passed else 'FAIL'}: kappa={self.kappa:.3f} "
                f"(goal >= {self.goals['kappa_goal']}), F1={self.f1:.3f} (IoU >= {self.goals['iou']}), "
                f"worst cell error={100 * w['rel_error']:.2f}% ({w['stimulus_id']} {w['metric']}; "
                f"goal <= {100 * self.goals['cell_goal']:.1f}%), "
                f"worst vs target={100 * w['rel_error_vs_target']:.2f}%")


def aggregate_outcomes(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sum the per-session outcome counts; summarise the separations of merged fixations."""
    sep = np.asarray([v for p in parts for v in p["merged_separation_deg"]], dtype=np.float64)
    return {"true": {o: int(sum(p["true"][o] for p in parts)) for o in TRUE_OUTCOMES},
            "detected": {o: int(sum(p["detected"][o] for p in parts)) for o in DETECTED_OUTCOMES},
            "merged_separation_median_deg": float(np.median(sep)) if len(sep) else float("nan"),
            "merged_separation_below_1deg": float(np.mean(sep < SMALL_SEPARATION_DEG)) if len(sep) else float("nan"),
            **{k: int(sum(p[k] for p in parts)) for k in ("lost_short", "lost_no_gaze", "split_no_gaze")}}


def _find_sessions(data: Path) -> list[Path]:
    from analysis.io import find_sessions
    return sorted(Path(p) for p in find_sessions(data))


def recovery_table(trials: pd.DataFrame, params: pd.DataFrame) -> pd.DataFrame:
    """Per-stimulus means over participants: detected, realised (true) and target, with relative errors."""
    g = trials.groupby(["stimulus_id", "artwork", "category", "method"], sort=True, dropna=False)
    t = g.agg(n=("participant", "size"),
              detected_time_s=("total_fixation_s_detected", "mean"),
              true_time_s=("total_fixation_s_true", "mean"),
              detected_count=("fixation_count_detected", "mean"),
              true_count=("fixation_count_true", "mean"),
              perfect_time_s=("total_fixation_s_perfect", "mean"),
              perfect_count=("fixation_count_perfect", "mean")).reset_index()
    p = params.set_index("stimulus_id")
    for col in ("target_fixation_time_s", "target_fixation_count", "paper_fixation_time_s", "paper_fixation_count"):
        t[col] = t["stimulus_id"].map(p[col]) if col in p.columns else np.nan
    t["target_handling"] = t["stimulus_id"].map(p["target_handling"]) if "target_handling" in p.columns else None
    t["time_rel_error"] = (t["detected_time_s"] - t["true_time_s"]) / t["true_time_s"]
    t["count_rel_error"] = (t["detected_count"] - t["true_count"]) / t["true_count"]
    t["perfect_time_rel_error"] = (t["perfect_time_s"] - t["true_time_s"]) / t["true_time_s"]
    t["perfect_count_rel_error"] = (t["perfect_count"] - t["true_count"]) / t["true_count"]
    t["time_rel_error_vs_target"] = (t["detected_time_s"] - t["target_fixation_time_s"]) / t["target_fixation_time_s"]
    t["count_rel_error_vs_target"] = (t["detected_count"] - t["target_fixation_count"]) / t["target_fixation_count"]
    t["true_time_vs_target"] = (t["true_time_s"] - t["target_fixation_time_s"]) / t["target_fixation_time_s"]
    t["true_count_vs_target"] = (t["true_count"] - t["target_fixation_count"]) / t["target_fixation_count"]
    return t


def validate_dataset(data: str | Path, *, truth: str | Path | None = None, config: AnalysisConfig | None = None,
                     algorithm: str | None = None, jobs: int = 0, iou: float = 0.5,
                     kappa_goal: float = GOAL_KAPPA, cell_goal: float = GOAL_CELL,
                     progress: bool = True) -> ValidationResult:
    """Validate fixation detection on a simulated dataset against its ground truth.

    Parameters
    ----------
    data : path
        Dataset root written by ``study.simulate``.
    truth : path, optional
        Ground-truth folder (default ``<data>/derivatives/ground_truth``).
    config : AnalysisConfig, optional
        Filter parameters (default: documented defaults).
    algorithm : {"ivt", "idt"}, optional
        Default: ``config.report.algorithm``.
    jobs : int
        Worker processes; 0 = one per core, 1 = in this process.
    iou : float
        Event-matching threshold (temporal IoU), default 0.5.
    kappa_goal, cell_goal : float
        Goals (kappa >= 0.9; every per-stimulus mean within 3 % of the realised value).

    Raises
    ------
    InputError
        Missing dataset or ground truth, or a session without its ground-truth events.
    """
    from tqdm import tqdm

    from analysis.io import read_dataset_description

    data = Path(data)
    if not data.is_dir():
        raise InputError("dataset folder not found", file=data, fix="give the root of a simulated dataset, e.g. data/demo")
    if not 0 < iou <= 1:
        raise InputError(f"IoU threshold {iou} out of range", column="--iou", expected="0 < iou <= 1")
    cfg = config or AnalysisConfig()
    algorithm = algorithm or cfg.report.algorithm
    if algorithm not in ("ivt", "idt"):
        raise InputError(f"unknown algorithm {algorithm!r}", column="--algorithm", expected="ivt | idt")
    description = dict(read_dataset_description(data))
    tdir = truth_dir_for(data, truth)
    params = read_truth_table(tdir / "generating_parameters.tsv", ("stimulus_id", "target_handling"))
    gt_trials = read_truth_table(tdir / "trials.tsv", ("participant", "session", "trial", "true_total_fixation_s",
                                                       "true_fixation_count"))
    sessions = _find_sessions(data)
    if not sessions:
        raise InputError("no sessions in the dataset", file=data, expected="sub-XX/ses-N folders")
    tasks = []
    for s in sessions:
        sub, ses = _session_labels(s)
        ev = tdir / f"{sub}_{ses}_events.tsv.gz"
        if not ev.is_file():
            raise InputError(f"no ground-truth events for {sub} {ses}", file=ev,
                             fix="validate the dataset the ground truth was generated with")
        tasks.append(_Task(s, ev, cfg, algorithm, iou))
    n_jobs = min(len(tasks), (os.cpu_count() or 1) if jobs <= 0 else jobs)
    if n_jobs <= 1:
        results = [validate_session(t) for t in tqdm(tasks, desc="validate", unit="session", disable=not progress)]
    else:
        with ProcessPoolExecutor(max_workers=n_jobs) as pool:
            results = list(tqdm(pool.map(validate_session, tasks), total=len(tasks), desc="validate",
                                unit="session", disable=not progress))
    conf = {k: sum(r["confusion"][k] for r in results) for k in ("tp", "fp", "fn", "tn")}
    kappa = cohen_kappa(**conf)
    kappa_views = {
        "valid_gaze_only": cohen_kappa(**{k: sum(r["confusion_valid"][k] for r in results) for k in conf}),
        "boundary_tolerant": cohen_kappa(**{k: sum(r["confusion_away"][k] for r in results) for k in conf}),
        "perfect_tracker": cohen_kappa(**{k: sum(r["confusion_perfect"][k] for r in results) for k in conf}),
    }
    ev = {k: sum(r["events"][k] for r in results) for k in results[0]["events"]}
    precision, recall, f1 = f1_score(ev["matched"], ev["detected"], ev["true"])
    m = max(ev["matched"], 1)
    event_counts = {"matched": ev["matched"], "detected": ev["detected"], "true": ev["true"],
                    "mean_onset_error_ms": 1000 * ev["onset_err_sum"] / m,
                    "mean_offset_error_ms": 1000 * ev["offset_err_sum"] / m,
                    "mean_abs_onset_error_ms": 1000 * ev["onset_abs_sum"] / m,
                    "mean_abs_offset_error_ms": 1000 * ev["offset_abs_sum"] / m}
    outcomes = aggregate_outcomes([r["outcomes"] for r in results])
    trials = pd.concat([r["trials"] for r in results], ignore_index=True)
    trials = trials.sort_values(["participant", "session", "trial"], kind="stable").reset_index(drop=True)
    # consistency of the simulator's own per-trial truth with analysis.metrics on the true fixations
    gt = gt_trials.copy()
    gt["participant"] = gt["participant"].astype(str)
    gt["session"] = gt["session"].astype(str)
    chk = trials.merge(gt[["participant", "session", "trial", "true_total_fixation_s", "true_fixation_count"]],
                       on=["participant", "session", "trial"], how="left")
    cons = float(np.nanmax(np.abs(np.concatenate([
        chk["total_fixation_s_true"].to_numpy(float) - chk["true_total_fixation_s"].to_numpy(float),
        chk["fixation_count_true"].to_numpy(float) - chk["true_fixation_count"].to_numpy(float)])))) if len(chk) else 0.0
    bias_rows = []
    for metric in ("total_fixation_s", "fixation_count"):
        d = trials[f"{metric}_detected"].to_numpy(float) - trials[f"{metric}_true"].to_numpy(float)
        dp = trials[f"{metric}_perfect"].to_numpy(float) - trials[f"{metric}_true"].to_numpy(float)
        bias_rows.append({"metric": metric, "n_trials": len(d), "mean_bias": float(np.mean(d)),
                          "perfect_tracker_relative_bias": float(np.mean(dp) / trials[f"{metric}_true"].mean()),
                          "sd_bias": float(np.std(d, ddof=1)) if len(d) > 1 else float("nan"),
                          "mean_abs_diff": float(np.mean(np.abs(d))),
                          "mean_true": float(trials[f"{metric}_true"].mean()),
                          "relative_bias": float(np.mean(d) / trials[f"{metric}_true"].mean())})
    bias = pd.DataFrame(bias_rows)
    table4 = recovery_table(trials, params)
    err = pd.concat([
        pd.DataFrame({"stimulus_id": table4["stimulus_id"], "metric": "total_fixation_s",
                      "rel_error": table4["time_rel_error"], "rel_error_vs_target": table4["time_rel_error_vs_target"]}),
        pd.DataFrame({"stimulus_id": table4["stimulus_id"], "metric": "fixation_count",
                      "rel_error": table4["count_rel_error"], "rel_error_vs_target": table4["count_rel_error_vs_target"]}),
    ], ignore_index=True)
    i = int(np.nanargmax(np.abs(err["rel_error"].to_numpy(float))))
    worst = {"stimulus_id": str(err.at[i, "stimulus_id"]), "metric": str(err.at[i, "metric"]),
             "rel_error": float(abs(err.at[i, "rel_error"])),
             "rel_error_vs_target": float(np.nanmax(np.abs(err["rel_error_vs_target"].to_numpy(float))))
             if err["rel_error_vs_target"].notna().any() else float("nan")}
    goals = {"kappa_goal": kappa_goal, "cell_goal": cell_goal, "iou": iou,
             "kappa_ok": bool(np.isfinite(kappa) and kappa >= kappa_goal),
             "cells_ok": bool(np.all(np.abs(err["rel_error"].to_numpy(float)) <= cell_goal)),  # NaN fails
             "cells_failing": [f"{s} {m}" for s, m, e in zip(err["stimulus_id"], err["metric"],
                                                              err["rel_error"].to_numpy(float))
                               if not abs(e) <= cell_goal]}
    return ValidationResult(kappa=kappa, kappa_views=kappa_views, confusion=conf, precision=precision, recall=recall, f1=f1,
                            event_counts=event_counts, trials=trials, bias=bias, table4=table4, worst=worst,
                            truth_consistency_max_abs=cons, goals=goals, outcomes=outcomes,
                            simulated=bool(description.get("Simulated", False)))


# --------------------------------------------------------------------------- output
def _write_tsv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, sep="\t", index=False, na_rep="n/a", float_format="%.6f", lineterminator="\n")


def write_outputs(res: ValidationResult, out: Path) -> list[Path]:
    """``summary.json``, ``table4_recovery.tsv``, ``trial_bias.tsv``, ``trials.tsv`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "table4_recovery.tsv", out / "trial_bias.tsv", out / "trials.tsv", out / "summary.json"]
    _write_tsv(res.table4, paths[0])
    _write_tsv(res.bias, paths[1])
    _write_tsv(res.trials, paths[2])
    summary = {"kappa": res.kappa, "kappa_views": res.kappa_views, "confusion": res.confusion, "precision": res.precision, "recall": res.recall,
               "f1": res.f1, "events": res.event_counts, "worst_cell": res.worst, "goals": res.goals,
               "passed": res.passed, "simulated": res.simulated,
               "truth_consistency_max_abs": res.truth_consistency_max_abs, "unmatched_outcomes": res.outcomes,
               "summary_line": res.summary_line()}
    paths[3].write_text(json.dumps(summary, indent=2, sort_keys=True, default=float) + "\n", encoding="utf-8")
    return paths


def _share(n: int, of: int) -> str:
    return f"{100 * n / of:.0f}%" if of else "n/a"


def _outcome_lines(res: ValidationResult) -> list[str]:
    o = res.outcomes
    t, d, n_true = o["true"], o["detected"], max(res.event_counts["true"], 1)
    return [
        "unmatched fixations by outcome (true fixations / detections without a match):",
        f"  merged with a neighbour: {t['merged']} true ({100 * t['merged'] / n_true:.2f}% of true); separation "
        f"from it: median {o['merged_separation_median_deg']:.2f} deg, below {SMALL_SEPARATION_DEG:g} deg in "
        f"{100 * o['merged_separation_below_1deg']:.0f}%" if t["merged"] else "  merged with a neighbour: 0 true",
        f"  split: {t['split']} true ({100 * t['split'] / n_true:.2f}%) into {d['fragment']} unmatched fragments; "
        f"with samples without gaze after gap fill-in: {_share(o['split_no_gaze'], t['split'])}",
        f"  lost (no detection overlaps): {t['lost']} true ({100 * t['lost'] / n_true:.2f}%); shorter than "
        f"{1000 * SHORT_FIXATION_S:.0f} ms: {_share(o['lost_short'], t['lost'])}; with samples without gaze: "
        f"{_share(o['lost_no_gaze'], t['lost'])}",
        f"  shifted (overlap, IoU below {res.goals['iou']}): {t['shifted']} true, {d['shifted']} detections; "
        f"detections covering >= 2 true fixations: {d['merger']}; overlapping none: {d['spurious']}",
    ]


def report_text(res: ValidationResult) -> str:
    c = res.confusion
    lines = [
        f"samples in stimulus trials: {sum(c.values())} (tp {c['tp']}, fp {c['fp']}, fn {c['fn']}, tn {c['tn']})",
        f"sample-level Cohen's kappa (fixation vs not): {res.kappa:.4f}  [goal metric]",
        f"  (not goals) kappa on samples with gaze from >= 1 eye: {res.kappa_views['valid_gaze_only']:.4f}; "
        f"excluding samples within half a sample interval of a true fixation boundary: "
        f"{res.kappa_views['boundary_tolerant']:.4f}",
        f"  reference, the same detector on a perfect tracker (the true eye movements at the same timestamps: no "
        f"noise, offset, drift or data loss; blinks kept): kappa {res.kappa_views['perfect_tracker']:.4f} "
        f"(this detector with no tracker error at this sampling rate)",
        f"event-level (IoU >= {res.goals['iou']}): detected {res.event_counts['detected']}, true "
        f"{res.event_counts['true']}, matched {res.event_counts['matched']}; precision {res.precision:.3f}, "
        f"recall {res.recall:.3f}, F1 {res.f1:.3f}; mean onset error {res.event_counts['mean_onset_error_ms']:.1f} ms, "
        f"offset error {res.event_counts['mean_offset_error_ms']:.1f} ms",
    ]
    lines += _outcome_lines(res)
    lines.append("per-trial bias (detected - true):")
    for _, b in res.bias.iterrows():
        lines.append(f"  {b['metric']:<18} mean {b['mean_bias']:+.4f} (relative {100 * b['relative_bias']:+.2f}%), "
                     f"SD {b['sd_bias']:.4f}, mean |diff| {b['mean_abs_diff']:.4f}; perfect tracker "
                     f"{100 * b['perfect_tracker_relative_bias']:+.2f}%")
    lines.append(f"simulator truth vs analysis.metrics on true fixations: max |diff| {res.truth_consistency_max_abs:.2e}")
    lines.append("Table 4 recovery (means over participants; rel. error vs realised truth | vs target | "
                 "perfect tracker vs realised truth):")
    lines.append(f"  {'stimulus':<28}{'time det':>9}{'true':>8}{'target':>8}{'err%':>7}{'vs tgt%':>8}{'perf%':>7}"
                 f"{'count det':>10}{'true':>7}{'target':>8}{'err%':>7}{'vs tgt%':>8}{'perf%':>7}  handling")
    for _, r in res.table4.iterrows():
        lines.append(
            f"  {r['stimulus_id']:<28}{r['detected_time_s']:>9.2f}{r['true_time_s']:>8.2f}"
            f"{r['target_fixation_time_s']:>8.2f}{100 * r['time_rel_error']:>+7.2f}{100 * r['time_rel_error_vs_target']:>+8.2f}"
            f"{100 * r['perfect_time_rel_error']:>+7.2f}"
            f"{r['detected_count']:>10.1f}{r['true_count']:>7.1f}{r['target_fixation_count']:>8.1f}"
            f"{100 * r['count_rel_error']:>+7.2f}{100 * r['count_rel_error_vs_target']:>+8.2f}"
            f"{100 * r['perfect_count_rel_error']:>+7.2f}  {r['target_handling']}")
    if not res.simulated:
        lines.append("warning: the dataset does not declare \"Simulated\": true")
    if not res.passed:
        missed = []
        if not res.goals["kappa_ok"]:
            missed.append(f"kappa {res.kappa:.3f} < {res.goals['kappa_goal']}")
        if not res.goals["cells_ok"]:
            missed.append("cells beyond the goal: " + ", ".join(res.goals["cells_failing"]))
        lines.append("GOALS MISSED: " + "; ".join(missed))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.validate",
        description="Compare fixation detection with the ground truth of a simulated dataset (study.simulate): "
                    "sample-level Cohen's kappa, event-level F1, per-trial bias and the recovered Table 4. "
                    "Exit 0 when the goals are met, 1 when missed, 2 for bad input.")
    p.add_argument("--data", default="data/demo", help="simulated dataset root (default data/demo)")
    p.add_argument("--truth", default=None, help="ground-truth folder (default <data>/derivatives/ground_truth)")
    p.add_argument("--config", default=None, help="analysis TOML (analysis.config); default: documented defaults")
    p.add_argument("--algorithm", choices=("ivt", "idt"), default=None,
                   help="fixation algorithm (default: [report] algorithm of the config, ivt)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes; 0 = one per core (default), 1 = serial")
    p.add_argument("--out", default="reports/validation",
                   help="folder for summary.json, table4_recovery.tsv, trial_bias.tsv, trials.tsv "
                        "(default reports/validation)")
    p.add_argument("--iou", type=float, default=0.5, help="temporal IoU needed for an event match (default 0.5)")
    p.add_argument("--kappa-goal", type=float, default=GOAL_KAPPA, help="goal for sample-level kappa (default 0.9)")
    p.add_argument("--cell-goal", type=float, default=GOAL_CELL,
                   help="goal for every per-stimulus relative error vs the realised truth (default 0.03)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cfg = load_config(args.config)
    res = validate_dataset(args.data, truth=args.truth, config=cfg, algorithm=args.algorithm, jobs=args.jobs,
                           iou=args.iou, kappa_goal=args.kappa_goal, cell_goal=args.cell_goal,
                           progress=not args.no_progress)
    write_outputs(res, Path(args.out))
    print(report_text(res))
    print(res.summary_line())
    return 0 if res.passed else 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_cli(main))
