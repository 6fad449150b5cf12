"""Data quality of gaze recordings and the exclusions that follow from it.

Measures (docs/data-quality.md), per trial and per recording:

* **valid fraction** per eye and for "at least one eye valid" (data loss; Holmqvist,
  Nyström & Mulvey, 2012, "Eye tracker data quality: what it is and how to measure
  it", ETRA '12, sec. 2 "data loss"; Tobii Pro Lab reports the same as "gaze samples %").
* **longest gap**: the longest stretch without any valid eye, in seconds, measured
  between valid samples on the timestamps (so samples missing from the file count too).
* **precision (RMS-S2S)**: root mean square of the angular distances between
  consecutive valid samples, in degrees (Holmqvist, Nyström & Mulvey, 2012, sec. 3.2,
  eq. 2: ``theta_RMS = sqrt(mean(theta_i^2))``), computed per eye on consecutive
  samples where that eye is valid in both, pooled over the eyes. Holmqvist et al.
  measure it during fixations; pass per-sample fixation ``labels`` (1 = fixation) to
  restrict it to pairs of samples both inside fixations. Without labels saccades
  inflate it (then it is an upper bound). Angles are eye-centred
  (:func:`analysis.geometry.angle_between_deg`).
* **accuracy**: the mean validation accuracy from the recording's metadata (the
  sidecar's ``AverageCalibrationError``), when present.

:func:`apply_exclusions` applies :class:`analysis.config.QualityConfig` and lists every
exclusion with the measured value and the threshold.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from analysis.config import QualityConfig
from analysis.errors import InputError
from analysis.geometry import angle_between_deg
from analysis.recording import EYES, Recording

log = logging.getLogger(__name__)

TRIAL_QUALITY_COLUMNS = ("participant", "session", "trial", "stimulus_id", "n_samples", "valid_fraction_left",
                         "valid_fraction_right", "valid_fraction", "longest_gap_s", "precision_rms_deg",
                         "trial_duration_s")
EXCLUSION_COLUMNS = ("participant", "session", "trial", "stimulus_id", "reason")


class _Context:
    """Per-sample arrays shared by the trial and recording measures (computed once)."""

    def __init__(self, recording: Recording, labels: Any) -> None:
        s = recording.samples
        self.t = s["time_s"].to_numpy(dtype=np.float64)
        n = len(self.t)
        self.n = n
        self.T = 1.0 / float(recording.meta.sampling_rate_hz)
        self.valid = {e: s[f"{e}_valid"].to_numpy(dtype=bool) for e in EYES}
        self.any_valid = self.valid["left"] | self.valid["right"]
        if labels is not None:
            lab = np.asarray(labels)
            if lab.shape != (n,):
                raise ValueError(f"labels must have one value per sample ({n}), got shape {lab.shape}")
            fix = lab == 1
        else:
            fix = np.ones(n, dtype=bool)
        geom = recording.meta.geometry
        # squared S2S angles per pair (k, k+1), summed over eyes, and the number of pairs
        sq = np.zeros(max(n - 1, 0))
        cnt = np.zeros(max(n - 1, 0))
        for e in EYES:
            v = self.valid[e]
            ok = v[:-1] & v[1:] & fix[:-1] & fix[1:]
            if not ok.any():
                continue
            k = np.flatnonzero(ok)
            x = s[f"{e}_x_px"].to_numpy(dtype=np.float64)
            y = s[f"{e}_y_px"].to_numpy(dtype=np.float64)
            ex = s[f"{e}_eye_x_mm"].to_numpy(dtype=np.float64)
            ey = s[f"{e}_eye_y_mm"].to_numpy(dtype=np.float64)
            ez = s[f"{e}_eye_z_mm"].to_numpy(dtype=np.float64)
            a = angle_between_deg(x[k], y[k], x[k + 1], y[k + 1], geom, ex[k], ey[k], ez[k])
            sq[k] += a * a
            cnt[k] += 1
        self.cum_sq = np.r_[0.0, np.cumsum(sq)]
        self.cum_cnt = np.r_[0.0, np.cumsum(cnt)]
        self.cum_valid = {e: np.r_[0, np.cumsum(self.valid[e])] for e in EYES}
        self.cum_any = np.r_[0, np.cumsum(self.any_valid)]
        self.valid_idx = np.flatnonzero(self.any_valid)

    def window(self, i0: int, i1: int, onset: float, offset: float) -> dict[str, float]:
        """Measures over samples ``i0 <= i < i1`` of the window ``[onset, offset)``."""
        n = i1 - i0
        out: dict[str, float] = {"n_samples": n}
        for e in EYES:
            out[f"valid_fraction_{e}"] = (self.cum_valid[e][i1] - self.cum_valid[e][i0]) / n if n else np.nan
        out["valid_fraction"] = (self.cum_any[i1] - self.cum_any[i0]) / n if n else np.nan
        # longest gap between valid samples, window edges as virtual valid samples
        a, b = np.searchsorted(self.valid_idx, [i0, i1])
        tv = self.t[self.valid_idx[a:b]]
        edges = np.concatenate(([onset - self.T], tv, [offset]))
        gaps = np.diff(edges) - self.T
        out["longest_gap_s"] = float(max(0.0, gaps.max())) if len(gaps) else 0.0
        # precision: pairs (k, k+1) with i0 <= k and k + 1 < i1
        if n >= 2:
            pairs = self.cum_cnt[i1 - 1] - self.cum_cnt[i0]
            ssum = self.cum_sq[i1 - 1] - self.cum_sq[i0]
            out["precision_rms_deg"] = float(np.sqrt(ssum / pairs)) if pairs > 0 else np.nan
        else:
            out["precision_rms_deg"] = np.nan
        return out


def trial_quality(recording: Recording, labels: Any = None) -> pd.DataFrame:
    """Data-quality measures per trial.

    Parameters
    ----------
    recording : Recording
        Any reader's output; trials are ``recording.trials`` (samples with
        ``onset_s <= time_s < offset_s``).
    labels : array_like, optional
        One value per sample, 1 = fixation (e.g. from the I-VT filter). When given,
        precision is computed only on pairs of consecutive samples that are both in
        fixations (Holmqvist, Nyström & Mulvey, 2012, sec. 3.2).

    Returns
    -------
    pandas.DataFrame
        :data:`TRIAL_QUALITY_COLUMNS`: participant, session, trial, stimulus_id,
        n_samples, valid_fraction_left, valid_fraction_right, valid_fraction (at least
        one eye valid), longest_gap_s (longest time without a valid eye; a trial without
        valid samples has its whole duration), precision_rms_deg (RMS-S2S, NaN without
        a valid pair), trial_duration_s (``offset_s - onset_s``).

    Examples
    --------
    A 1 s trial at 10 Hz where samples 3-6 have no valid eye has a 0.4 s gap.
    """
    ctx = _Context(recording, labels)
    trials = recording.trials
    rows = []
    if len(trials):
        onsets = trials["onset_s"].to_numpy(dtype=np.float64)
        offsets = trials["offset_s"].to_numpy(dtype=np.float64)
        i0s = np.searchsorted(ctx.t, onsets, side="left")
        i1s = np.searchsorted(ctx.t, offsets, side="left")
        for k in range(len(trials)):
            m = ctx.window(int(i0s[k]), int(i1s[k]), float(onsets[k]), float(offsets[k]))
            m.update({"participant": recording.meta.participant, "session": recording.meta.session,
                      "trial": int(trials["trial"].iloc[k]), "stimulus_id": trials["stimulus_id"].iloc[k],
                      "trial_duration_s": float(offsets[k] - onsets[k])})
            rows.append(m)
    out = pd.DataFrame(rows, columns=list(TRIAL_QUALITY_COLUMNS))
    out["n_samples"] = out["n_samples"].astype(np.int64)
    out["trial"] = out["trial"].astype(np.int64)
    for c in ("valid_fraction_left", "valid_fraction_right", "valid_fraction", "longest_gap_s",
              "precision_rms_deg", "trial_duration_s"):
        out[c] = out[c].astype(np.float64)
    return out


def recording_quality(recording: Recording, labels: Any = None) -> dict[str, Any]:
    """The :func:`trial_quality` measures over the whole recording, plus metadata.

    Returns
    -------
    dict
        participant, session, n_samples, valid_fraction_left, valid_fraction_right,
        valid_fraction, longest_gap_s, precision_rms_deg, duration_s (first sample to
        last sample + one interval), n_trials, sampling_rate_hz, accuracy_deg
        (validation accuracy from the metadata, NaN when absent) and
        validation_precision_deg (validation RMS precision from the metadata, NaN when
        absent), precision_source (``"fixations"`` when ``labels`` restricted the
        precision to fixations, else ``"all_samples"``) and offscreen_samples (valid
        samples the reader marked invalid because they lay far off the display,
        ``Recording.counts["offscreen_samples"]``, which every reader of :mod:`analysis.io` sets
        through :func:`analysis.io._common.mark_offscreen`; 0 for a recording built without a reader).
    """
    ctx = _Context(recording, labels)
    if ctx.n:
        onset, offset = float(ctx.t[0]), float(ctx.t[-1]) + ctx.T
    else:
        onset = offset = 0.0
    m = ctx.window(0, ctx.n, onset, offset)
    meta = recording.meta
    out: dict[str, Any] = {"participant": meta.participant, "session": meta.session}
    out.update({k: (float(v) if k != "n_samples" else int(v)) for k, v in m.items()})
    out.update({
        "precision_source": "fixations" if labels is not None else "all_samples",
        "duration_s": offset - onset,
        "n_trials": int(len(recording.trials)),
        "sampling_rate_hz": float(meta.sampling_rate_hz),
        "accuracy_deg": float(meta.accuracy_deg) if meta.accuracy_deg is not None else np.nan,
        "validation_precision_deg": float(meta.precision_deg) if meta.precision_deg is not None else np.nan,
        # valid samples the reader marked invalid as off the display (docs/readers.md, "Off-screen samples")
        "offscreen_samples": int(recording.counts.get("offscreen_samples", 0)),
    })
    return out


def _need(df: pd.DataFrame, cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{what} lacks the column(s) {', '.join(missing)}", column=missing[0],
                         expected=", ".join(cols), fix=f"build {what} with analysis.quality")


def _key_text(value: Any) -> str:
    """Text of a participant/session key: ``1``, ``1.0`` and ``"1"`` match; missing -> ``"n/a"``."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "n/a"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _key_cols(trial_metrics: pd.DataFrame, rec: pd.DataFrame) -> list[str]:
    return ["participant", "session"] if "session" in trial_metrics.columns and "session" in rec.columns \
        else ["participant"]


def apply_exclusions(trial_metrics: pd.DataFrame, recording_quality: pd.DataFrame,
                     cfg: QualityConfig | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flag trials and recordings that fail the data-quality thresholds.

    Parameters
    ----------
    trial_metrics : DataFrame
        At least participant, session, trial, stimulus_id, valid_fraction (e.g. from
        :func:`trial_quality` or the trial-metrics derivative).
    recording_quality : DataFrame
        One row per participant/session with the :func:`recording_quality` keys
        (valid_fraction, accuracy_deg, precision_rms_deg; NaN = not measured).
    cfg : QualityConfig
        Thresholds (defaults and their sources: :class:`analysis.config.QualityConfig`).

    Rules
    -----
    Trial: ``valid_fraction < min_trial_valid_fraction`` (or no samples at all).
    Recording (all its trials excluded): ``valid_fraction < min_participant_valid_fraction``;
    ``accuracy_deg > max_accuracy_deg``; ``precision_rms_deg > max_precision_deg`` (only
    when ``precision_source`` is ``"fixations"`` or absent: RMS-S2S over all samples
    includes saccades and is not the Holmqvist et al. (2012) measure);
    more than ``max_excluded_trials_fraction`` of its trials excluded by the trial rule.
    A value that was not measured (NaN) never excludes.

    Returns
    -------
    (DataFrame, DataFrame)
        ``trial_metrics`` with ``excluded`` (bool) and ``exclusion_reason`` (str, None
        when kept); and the exclusions table :data:`EXCLUSION_COLUMNS` with one row per
        excluded trial (trial rule) and one row per excluded recording (``trial`` and
        ``stimulus_id`` missing), each reason naming the measured value and the threshold.
    """
    cfg = cfg or QualityConfig()
    _need(trial_metrics, ("participant", "trial", "stimulus_id", "valid_fraction"), "trial_metrics")
    _need(recording_quality, ("participant", "valid_fraction"), "recording_quality")
    tm = trial_metrics.copy()
    keys = _key_cols(tm, recording_quality)
    vf = tm["valid_fraction"].to_numpy(dtype=np.float64)
    trial_bad = np.isnan(vf) | (vf < cfg.min_trial_valid_fraction)
    reasons: list[list[str]] = [[] for _ in range(len(tm))]
    exclusions: list[dict[str, Any]] = []
    for i in np.flatnonzero(trial_bad):
        r = ("no samples in the trial" if np.isnan(vf[i]) else
             f"valid_fraction {vf[i]:.3f} < {cfg.min_trial_valid_fraction:.3f} (quality.min_trial_valid_fraction)")
        reasons[i].append(r)
        exclusions.append({"participant": tm["participant"].iloc[i],
                           "session": tm["session"].iloc[i] if "session" in tm.columns else None,
                           "trial": tm["trial"].iloc[i], "stimulus_id": tm["stimulus_id"].iloc[i], "reason": r})

    # match recordings on the text of participant/session (a session read back from a TSV
    # may be the integer 1 where the reader gave the string "1")
    def _keys(df: pd.DataFrame) -> list[tuple[str, ...]]:
        return list(zip(*(df[k].astype(object).map(_key_text).tolist() for k in keys)))

    key_of_trial = _keys(tm)
    rec_keys = _keys(recording_quality) if len(recording_quality) else []
    rec_rows = {k: recording_quality.iloc[i] for i, k in reversed(list(enumerate(rec_keys)))}
    all_keys = list(dict.fromkeys(key_of_trial + rec_keys))
    for key in all_keys:
        mask = np.fromiter((k == key for k in key_of_trial), dtype=bool, count=len(key_of_trial))
        rec_reasons: list[str] = []
        row = rec_rows.get(key)
        if row is None:
            log.warning("no recording-quality row for %s; only the trial rules apply", key)
        else:
            v = float(row["valid_fraction"]) if pd.notna(row["valid_fraction"]) else np.nan
            if np.isfinite(v) and v < cfg.min_participant_valid_fraction:
                rec_reasons.append(f"recording valid_fraction {v:.3f} < {cfg.min_participant_valid_fraction:.3f} "
                                   "(quality.min_participant_valid_fraction)")
            acc = row.get("accuracy_deg", np.nan)
            if acc is not None and pd.notna(acc) and float(acc) > cfg.max_accuracy_deg:
                rec_reasons.append(f"validation accuracy {float(acc):.3f} deg > {cfg.max_accuracy_deg:.3f} deg "
                                   "(quality.max_accuracy_deg)")
            prec = row.get("precision_rms_deg", np.nan)
            source = row.get("precision_source", "fixations")
            if isinstance(source, str) and source != "fixations":
                log.warning("%s: precision was measured on all samples (no fixation labels); the precision "
                            "threshold is not applied", key)
            elif prec is not None and pd.notna(prec) and float(prec) > cfg.max_precision_deg:
                rec_reasons.append(f"precision RMS-S2S {float(prec):.3f} deg > {cfg.max_precision_deg:.3f} deg "
                                   "(quality.max_precision_deg)")
        n_tr = int(mask.sum())
        if n_tr:
            n_bad = int((trial_bad & mask).sum())
            if n_bad / n_tr > cfg.max_excluded_trials_fraction:
                rec_reasons.append(f"{n_bad} of {n_tr} trials excluded ({n_bad / n_tr:.1%}) > "
                                   f"{cfg.max_excluded_trials_fraction:.1%} (quality.max_excluded_trials_fraction)")
        if rec_reasons:
            text = "; ".join(rec_reasons)
            for i in np.flatnonzero(mask):
                reasons[i].append("recording excluded: " + text)
            src = row if row is not None else tm.iloc[int(np.flatnonzero(mask)[0])]
            exclusions.append({"participant": src["participant"], "session": src["session"] if len(keys) > 1 else None,
                               "trial": None, "stimulus_id": None, "reason": text})
    tm["excluded"] = np.array([bool(r) for r in reasons], dtype=bool)
    tm["exclusion_reason"] = pd.Series(["; ".join(r) if r else None for r in reasons], index=tm.index,
                                       dtype=object)
    ex = pd.DataFrame(exclusions, columns=list(EXCLUSION_COLUMNS))
    ex["trial"] = pd.array(ex["trial"].tolist(), dtype="Int64")
    return tm, ex
