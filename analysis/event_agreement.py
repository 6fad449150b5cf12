"""Agreement between an event detector and reference events: sample kappa, event matching, what went wrong.

Reusable for any detector against any reference: a simulated cohort's ground truth
(``analysis.validate``), a human coder, or the tracker vendor's own classification.
Inputs are plain arrays (sample times and labels; event onsets and offsets on the same
clock), so nothing here depends on where the events came from.

Sample level
    Cohen's (1960) kappa of "in an event" vs "not" over the samples
    (:func:`sample_agreement`; sample-level agreement as in Andersson et al. 2017,
    *Behav. Res. Methods* 49:616-637, and Startsev, Agtzidis & Dorr 2019, *Behav. Res.
    Methods* 51:556-572). With ``boundary_tolerance_s`` the samples within that distance
    of a reference event boundary are left out (half a sampling interval: a boundary that
    falls between two samples cannot be placed exactly by any detector).
Event level
    One-to-one matching by temporal intersection over union (IoU) >= 0.5 (default: 0.5;
    Startsev et al. 2019; Hooge et al. 2018, *Behav. Res. Methods* 50:1864-1881, on event
    matching between coders), precision, recall and F1 (:func:`event_agreement`).
Unmatched events
    Each unmatched reference event is merged, split, lost or shifted, each unmatched
    detection a merger, fragment, spurious or shifted (:func:`classify_unmatched`).
"""

from __future__ import annotations

from typing import Any

import numpy as np


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


def sample_agreement(time_s: np.ndarray, detected: np.ndarray, ref_on: np.ndarray, ref_off: np.ndarray, *,
                     select: np.ndarray | None = None, boundary_tolerance_s: float = 0.0) -> dict[str, Any]:
    """Sample-level agreement of a detector's labels with reference events.

    Parameters
    ----------
    time_s : array
        Sample times (s).
    detected : array of bool
        Whether the detector put each sample in an event (e.g. ``labels == FIXATION``).
    ref_on, ref_off : array
        Reference events ``[on, off)`` on the same clock, sorted and non-overlapping.
    select : array of bool, optional
        Samples that take part (e.g. those inside stimulus trials); default all.
    boundary_tolerance_s : float
        Leave out samples within this distance of a reference onset or offset
        (default: 0, every selected sample).

    Returns
    -------
    dict
        ``confusion`` (``tp``, ``fp``, ``fn``, ``tn``), ``kappa`` and ``n``.
    """
    t = np.asarray(time_s, dtype=np.float64)
    det = np.asarray(detected, dtype=bool)
    on, off = np.asarray(ref_on, dtype=np.float64), np.asarray(ref_off, dtype=np.float64)
    keep = np.ones(len(t), bool) if select is None else np.asarray(select, dtype=bool).copy()
    if boundary_tolerance_s > 0:
        keep &= nearest_distance(t, np.sort(np.concatenate([on, off]))) > boundary_tolerance_s
    ref = in_intervals(t, on, off)
    d, r = det[keep], ref[keep]
    conf = {"tp": int(np.sum(d & r)), "fp": int(np.sum(d & ~r)), "fn": int(np.sum(~d & r)), "tn": int(np.sum(~d & ~r))}
    return {"confusion": conf, "kappa": cohen_kappa(**conf), "n": int(keep.sum())}


def event_agreement(det_on: np.ndarray, det_off: np.ndarray, ref_on: np.ndarray, ref_off: np.ndarray, *,
                    iou: float = 0.5, det_select: np.ndarray | None = None,
                    ref_select: np.ndarray | None = None) -> dict[str, Any]:
    """Event-level agreement: IoU matching, precision/recall/F1 and the unmatched breakdown.

    Matching runs over all events (so an event just outside the selection can still take
    its partner); a pair counts when both are selected. ``det_select``/``ref_select``:
    e.g. events whose midpoint lies in a stimulus trial (default all).

    Returns
    -------
    dict
        ``matched``, ``n_detected``, ``n_reference``, ``precision``, ``recall``, ``f1``,
        ``det_match``/``ref_match`` (index of the partner, -1 none, over all events),
        ``hit`` (selected detections with a selected partner), ``ref_outcome`` and
        ``det_outcome`` (:func:`classify_unmatched`, ``""`` where matched or not
        selected), ``partner`` (for ``merged`` reference events).
    """
    d_on, d_off = np.asarray(det_on, float), np.asarray(det_off, float)
    r_on, r_off = np.asarray(ref_on, float), np.asarray(ref_off, float)
    dsel = np.ones(len(d_on), bool) if det_select is None else np.asarray(det_select, bool)
    rsel = np.ones(len(r_on), bool) if ref_select is None else np.asarray(ref_select, bool)
    dm, rm = match_events(d_on, d_off, r_on, r_off, iou)
    hit = dsel & (dm >= 0)
    hit[hit] = rsel[dm[hit]]
    precision, recall, f1 = f1_score(int(hit.sum()), int(dsel.sum()), int(rsel.sum()))
    ref_out, det_out, partner = classify_unmatched(d_on, d_off, r_on, r_off, dm, rm)
    return {"matched": int(hit.sum()), "n_detected": int(dsel.sum()), "n_reference": int(rsel.sum()),
            "precision": precision, "recall": recall, "f1": f1, "det_match": dm, "ref_match": rm, "hit": hit,
            "ref_outcome": np.where(rsel, np.asarray(ref_out, dtype=object), ""),
            "det_outcome": np.where(dsel, np.asarray(det_out, dtype=object), ""), "partner": partner}
