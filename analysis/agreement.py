"""``python -m analysis.agreement EXPORT``: our Tobii I-VT against the program's own labels.

Tobii Pro Lab and Tobii Studio exports carry the program's classification of every
sample (Pro Lab ``Eye movement type``, Studio ``GazeEventType``/``FixationIndex``; read
into :attr:`analysis.recording.Recording.labels`). This command runs the project's
I-VT filter (:mod:`analysis.fixations.ivt`) on the same samples with each preset of
:data:`analysis.fixations.presets.PRESETS` and reports, per preset:

* sample-level Cohen's kappa, fixation vs not fixation (Cohen, 1960,
  "A coefficient of agreement for nominal scales", Educ. Psychol. Meas. 20, 37-46:
  ``kappa = (p_o - p_e) / (1 - p_e)``), and the raw agreement ``p_o``;
* fixation counts and mean fixation durations, ours and Tobii's;
* where they disagree: a confusion table (Tobii's movement x our label), how many of the
  disagreeing samples lie within two samples of a Tobii fixation boundary (onset/offset
  placement) or of a sample with an eye lost (gap fill-in / eye selection), and the
  event-level picture: Tobii fixations we miss, split or merge, and
  fixations of ours that Tobii does not have.

The output ends with the preset that reproduces the file best: the highest
``kappa - 0.01 x |fixation count difference in %|`` (:func:`preset_score`). Exit codes: 0 ok, 2 bad input (including an
export without Tobii labels), 1 other failure.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import IVTConfig, load_config
from analysis.errors import InputError, run_cli
from analysis.event_agreement import cohen_kappa as table_kappa
from analysis.fixations import FIXATION, LABEL_NAMES, detect_fixations
from analysis.fixations.presets import PRESETS, Preset, describe
from analysis.io.__main__ import add_reader_arguments, read_from_args
from analysis.recording import Recording

#: Disagreements within this many samples of a change in Tobii's fixation labels are
#: "at a boundary" (onset/offset placement rather than a different event).
BOUNDARY_SAMPLES = 2

TOBII_MOVEMENTS = ("fixation", "saccade", "unclassified", "eyes_not_found")


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Cohen's kappa and raw agreement ``p_o`` of two boolean label arrays (Cohen, 1960).

    The 2 x 2 table of ``a`` (reference) against ``b`` goes to
    :func:`analysis.event_agreement.cohen_kappa`, the project's one kappa; kappa is 1.0 when both
    raters agree on every sample of a single class, NaN for empty input.
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.size == 0:
        return float("nan"), float("nan")
    tp, fp = int((a & b).sum()), int((~a & b).sum())
    fn, tn = int((a & ~b).sum()), int((~a & ~b).sum())
    return table_kappa(tp=tp, fp=fp, fn=fn, tn=tn), (tp + tn) / a.size


def _runs_ids(mask: np.ndarray, index: np.ndarray | None) -> np.ndarray:
    """Per-sample event id (0 = none): Tobii's event index where given, else run number."""
    ids = np.zeros(mask.size, dtype=np.int64)
    if not mask.any():
        return ids
    start = mask & ~np.r_[False, mask[:-1]]
    run = np.cumsum(start)
    if index is not None:
        idx = np.where(mask, index, -1)
        # a new event where the index changes inside a run of fixation samples, too
        change = mask & (start | (idx != np.r_[-1, idx[:-1]]))
        run = np.cumsum(change)
    ids[mask] = run[mask]
    return ids


def _durations(ids: np.ndarray, time_s: np.ndarray, rate_hz: float) -> np.ndarray:
    """Duration (s) of each event id >= 1: last sample - first sample + one interval."""
    k = ids > 0
    if not k.any():
        return np.zeros(0)
    _, first = np.unique(ids[k], return_index=True)
    _, last_rev = np.unique(ids[k][::-1], return_index=True)
    t = time_s[k]
    last = t.size - 1 - last_rev
    return t[last] - t[first] + 1.0 / rate_hz


def compare(recording: Recording, config: IVTConfig) -> dict[str, Any]:
    """Run our I-VT with ``config`` and compare it with ``recording.labels``.

    Returns
    -------
    dict
        ``kappa``, ``agreement``, ``n_samples``, ``fixations_ours``, ``fixations_tobii``,
        ``count_diff_pct`` (ours relative to Tobii's, %), ``mean_duration_ms_ours``,
        ``mean_duration_ms_tobii``, ``confusion`` (Tobii movement -> our label -> samples),
        ``disagree`` (samples), ``disagree_at_boundary``, ``tobii_missed``, ``tobii_split``,
        ``disagree_near_data_loss``, ``ours_merged``, ``ours_extra`` (event counts).
    """
    if recording.labels is None:
        raise InputError("the file has no per-sample classification from the exporting program",
                         file=recording.meta.source,
                         expected="a Tobii Pro Lab export with 'Eye movement type' or a Tobii Studio export with "
                                  "'GazeEventType'/'FixationIndex'",
                         fix="export again with the eye movement type / fixation columns selected")
    res = detect_fixations(recording, "ivt", config)
    t = res.time_s
    ours = res.labels == FIXATION
    movement = recording.labels["movement"].to_numpy(dtype=object)
    tobii = movement == "fixation"
    kappa, po = cohen_kappa(tobii, ours)
    rate = float(recording.meta.sampling_rate_hz)

    idx = recording.labels["event_index"].to_numpy(dtype=np.float64, na_value=np.nan)
    tobii_ids = _runs_ids(tobii, np.where(np.isfinite(idx), idx, -2).astype(np.int64))
    fx = res.fixations
    our_ids = np.zeros(t.size, dtype=np.int64)
    if len(fx):
        # sample i belongs to fixation j when onset_j <= t_i < offset_j (bounds lie between samples)
        j = np.searchsorted(fx["onset_s"].to_numpy(), t, side="right") - 1
        inside = (j >= 0) & (t < fx["offset_s"].to_numpy()[np.maximum(j, 0)]) & ours
        our_ids[inside] = j[inside] + 1
    n_tobii = int(np.unique(tobii_ids[tobii_ids > 0]).size)
    n_ours = int(len(fx))
    ged = recording.meta.extra.get("gaze_event_duration_ms")
    if ged is not None and n_tobii:
        k = tobii_ids > 0
        _, first = np.unique(tobii_ids[k], return_index=True)
        tobii_dur_ms = np.asarray(ged)[k][first]
        dur_source = "export's event duration column"
    else:
        tobii_dur_ms = _durations(tobii_ids, t, rate) * 1000.0
        dur_source = "sample runs"

    both = (tobii_ids > 0) & (our_ids > 0)
    pairs = np.unique(np.stack([tobii_ids[both], our_ids[both]], axis=1), axis=0) if both.any() else np.zeros((0, 2))
    t_ids = np.unique(tobii_ids[tobii_ids > 0])
    o_ids = np.arange(1, n_ours + 1)
    per_tobii = pd.Series(pairs[:, 1]).groupby(pairs[:, 0]).nunique() if len(pairs) else pd.Series(dtype=int)
    per_ours = pd.Series(pairs[:, 0]).groupby(pairs[:, 1]).nunique() if len(pairs) else pd.Series(dtype=int)

    disagree = tobii != ours
    change = np.flatnonzero(tobii[1:] != tobii[:-1]) + 0.5
    if change.size and disagree.any():
        pos = np.flatnonzero(disagree)
        k = np.clip(np.searchsorted(change, pos), 1, change.size) - 1
        dist = np.minimum(np.abs(pos - change[k]), np.abs(pos - change[np.minimum(k + 1, change.size - 1)]))
        at_boundary = int((dist <= BOUNDARY_SAMPLES).sum())
    else:
        at_boundary = 0

    # disagreements next to data loss: within BOUNDARY_SAMPLES of a sample where an eye is invalid
    lost = ~(recording.samples["left_valid"].to_numpy(dtype=bool) & recording.samples["right_valid"].to_numpy(dtype=bool))
    near_loss = np.convolve(lost.astype(np.int32), np.ones(2 * BOUNDARY_SAMPLES + 1, dtype=np.int32), "same") > 0
    at_loss = int((disagree & near_loss).sum())

    confusion: dict[str, dict[str, int]] = {}
    for m in TOBII_MOVEMENTS:
        sel = movement == m
        confusion[m] = {LABEL_NAMES[c]: int((res.labels[sel] == c).sum()) for c in sorted(LABEL_NAMES)}

    mean_ours = float(fx["duration_s"].mean() * 1000.0) if n_ours else float("nan")
    finite = np.asarray(tobii_dur_ms, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    mean_tobii = float(finite.mean()) if len(finite) else float("nan")
    return {
        "kappa": float(kappa), "agreement": float(po), "n_samples": int(t.size),
        "fixations_ours": n_ours, "fixations_tobii": n_tobii,
        "count_diff_pct": (100.0 * (n_ours - n_tobii) / n_tobii) if n_tobii else float("nan"),
        "mean_duration_ms_ours": mean_ours, "mean_duration_ms_tobii": mean_tobii,
        "tobii_duration_source": dur_source,
        "disagree": int(disagree.sum()), "disagree_at_boundary": at_boundary, "disagree_near_data_loss": at_loss,
        "tobii_fix_ours_not": int((tobii & ~ours).sum()), "ours_fix_tobii_not": int((ours & ~tobii).sum()),
        "tobii_missed": int(np.setdiff1d(t_ids, per_tobii.index.to_numpy()).size),
        "tobii_split": int((per_tobii >= 2).sum()),
        "ours_merged": int((per_ours >= 2).sum()),
        "ours_extra": int(np.setdiff1d(o_ids, per_ours.index.to_numpy()).size),
        "confusion": confusion,
    }


#: Weight of the fixation-count difference in :func:`best_preset`'s score: a 1 % count
#: difference costs as much as 0.01 kappa (project convention: kappa alone cannot tell
#: presets apart that differ by a sample or two, while a count difference changes the
#: fixation-count measure of the paper's Table 4 directly).
COUNT_WEIGHT = 0.01


def preset_score(r: dict[str, Any]) -> float:
    """``kappa - COUNT_WEIGHT * |fixation count difference in %|`` (-inf when undefined)."""
    k, c = r["kappa"], r["count_diff_pct"]
    if not (np.isfinite(k) and np.isfinite(c)):
        return -np.inf
    return float(k - COUNT_WEIGHT * abs(c))


def best_preset(results: dict[str, dict[str, Any]]) -> str:
    """Name of the result with the highest :func:`preset_score` (first listed on ties)."""
    names = list(results)
    scores = [preset_score(results[n]) for n in names]
    return names[int(np.argmax(scores))]


def format_result(name: str, program: str, r: dict[str, Any]) -> str:
    """Human-readable block for one preset."""
    lines = [
        f"preset {name} ({program})",
        f"  sample kappa (fixation vs not): {r['kappa']:.4f}   agreement {100 * r['agreement']:.2f} % "
        f"of {r['n_samples']} samples",
        f"  fixations: ours {r['fixations_ours']}, Tobii {r['fixations_tobii']} ({r['count_diff_pct']:+.1f} %)",
        f"  mean fixation duration: ours {r['mean_duration_ms_ours']:.1f} ms, Tobii {r['mean_duration_ms_tobii']:.1f} ms "
        f"(Tobii's from the {r['tobii_duration_source']})",
        f"  disagreeing samples: {r['disagree']} ({r['disagree_at_boundary']} within {BOUNDARY_SAMPLES} samples of a "
        f"Tobii fixation boundary, {r['disagree_near_data_loss']} within {BOUNDARY_SAMPLES} of a sample with an eye "
        f"lost); Tobii fixation / ours not: {r['tobii_fix_ours_not']}, ours fixation / Tobii not: "
        f"{r['ours_fix_tobii_not']}",
        f"  events: Tobii fixations we miss {r['tobii_missed']}, split {r['tobii_split']}; ours merging several "
        f"Tobii fixations {r['ours_merged']}, ours Tobii lacks {r['ours_extra']}",
        "  confusion (rows Tobii, columns ours): " + "; ".join(
            f"{m}: " + ", ".join(f"{c} {v}" for c, v in row.items() if v) for m, row in r["confusion"].items()
            if any(row.values())),
    ]
    return "\n".join(lines)


def run_presets(recording: Recording, presets: Sequence[Preset],
                extra: dict[str, IVTConfig] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`compare` for each preset (and each extra named config)."""
    out = {p.name: compare(recording, p.config) for p in presets}
    for name, cfg in (extra or {}).items():
        out[name] = compare(recording, cfg)
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.agreement",
        description="Run the project's Tobii I-VT filter on an export and report its agreement with the exporting "
                    "program's own per-sample classification (Tobii Pro Lab 'Eye movement type', Tobii Studio "
                    "'GazeEventType'/'FixationIndex'), for each preset named after the Tobii programs. "
                    "See docs/readers.md.")
    add_reader_arguments(p)
    p.add_argument("--preset", action="append", choices=sorted(PRESETS),
                   help="preset(s) to run (repeatable; default: all)")
    p.add_argument("--config", metavar="TOML",
                   help="also run the [ivt] section of this analysis config (reported as preset 'config')")
    p.add_argument("--sources", action="store_true", help="list every preset value with its source")
    p.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.json and Path(args.json).is_dir():
        raise InputError("--json points at a folder", file=args.json, expected="a file path",
                         fix="give a file name such as agreement.json")
    extra = {"config": load_config(args.config).ivt} if args.config else {}
    rec = read_from_args(args)
    names = args.preset or list(PRESETS)
    presets = [PRESETS[n] for n in names]
    results = run_presets(rec, presets, extra)
    m = rec.meta
    print(f"file:     {m.source}")
    print(f"format:   {m.format}, {m.sampling_rate_hz:g} Hz, {len(rec.samples)} samples")
    print(f"labels:   {m.extra.get('labels_source', '?')}")
    for p in presets:
        print()
        print(format_result(p.name, p.program, results[p.name]))
        if args.sources:
            print("  values: " + "\n          ".join(describe(p)))
    for name in extra:
        print()
        print(format_result(name, f"[ivt] of {args.config}", results[name]))
    best = best_preset(results)
    r = results[best]
    print()
    print(f"best:     {best} reproduces the file best (kappa {r['kappa']:.4f}, fixations "
          f"{r['count_diff_pct']:+.1f} %; score kappa - {COUNT_WEIGHT:g} x |count difference %| = "
          f"{preset_score(r):.4f})")
    if args.json:
        payload = {"file": m.source, "format": m.format, "sampling_rate_hz": m.sampling_rate_hz, "best": best,
                   "results": results,
                   "configs": {p.name: asdict(p.config) for p in presets}}
        try:
            Path(args.json).write_text(json.dumps(payload, indent=2, default=float) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InputError(f"cannot write the JSON file ({exc.strerror})", file=args.json,
                             fix="give a writable path") from None
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
