"""Per-trial AOI metrics (Tobii Pro Lab interval-based metric definitions).

For each trial (one stimulus presentation, interval ``[onset_s, offset_s]`` on the
tracker clock) and its AOI (by default the stimulus image's on-screen rectangle,
:mod:`analysis.aoi`), the metrics below are computed from the fixations of
:func:`analysis.fixations.detect_fixations`. Definitions follow the Tobii Pro Lab User
Manual, chapter "Metrics" (interval/AOI-based eye-tracking metrics; paraphrased, see
``docs/metrics.md`` for the full text and the reasoning):

``total_fixation_s``
    "Total duration of fixations": sum of the durations of all fixations inside the AOI
    during the interval. The paper's Table 4 "Fixation time (s)" (Wei Pu, 2025).
``fixation_count``
    "Number of fixations": fixations inside the AOI during the interval. The paper's
    Table 4 "Number of watch".
``time_to_first_fixation_s``
    "Time to first fixation": from the start of the interval to the start of the first
    fixation inside the AOI; n/a (NaN) when the AOI was not fixated.
``first_fixation_duration_s``
    "Duration of first fixation": duration of that first fixation; n/a when none.
``visit_count``
    "Number of visits": a visit runs from the start of the first fixation inside the
    AOI to the end of the last fixation inside the AOI before a fixation outside it
    (or the end of the interval). Gaps without fixations (saccades, blinks, lost data)
    do not end a visit; only a fixation outside the AOI does.
``total_visit_duration_s``
    "Total duration of visits": sum of the visit durations (end of the visit's last
    fixation minus start of its first fixation, so saccades inside the AOI count).

A fixation is *inside* the AOI when its position (``x_px``, ``y_px``, the mean gaze
point of its samples, Olsen 2012, sec. 2.6) is inside the AOI.

**Fixations straddling the interval boundary.** We crop events to the interval, as we
understand Tobii Pro Lab does for interval/Time-of-Interest metrics (Tobii Pro Lab
User Manual, "Metrics"; the manual's exact wording on partially included events could
not be re-checked offline when this was written, see ``docs/metrics.md``): a fixation that overlaps the interval by more than zero seconds is
*clipped* to ``[max(onset, interval start), min(offset, interval end)]``; it counts once
in ``fixation_count``, contributes only its clipped duration to the durations, and
a fixation already in progress at the interval start gives
``time_to_first_fixation_s = 0``. Its position (hence ``in_aoi``) is that of the whole
fixation. Fixations touching the interval only at an end point (zero overlap) are not
counted.

All computations are vectorised over fixations (numpy ``searchsorted``/``bincount``);
there is no Python loop over samples or fixations.

CLI (batch processing of a whole dataset, see :mod:`analysis.batch`)::

    python -m analysis.metrics --data data/raw --out data/derivatives [--config analysis.toml]
           [--jobs N] [--aois AOIS.tsv] [--algorithm ivt|idt]
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.aoi import PolygonAOI, points_in_polygon, points_in_rect
from analysis.errors import InputError

log = logging.getLogger(__name__)

#: The AOI metrics, in output order (docs/metrics.md).
METRIC_COLUMNS: tuple[str, ...] = (
    "total_fixation_s",
    "fixation_count",
    "time_to_first_fixation_s",
    "first_fixation_duration_s",
    "visit_count",
    "total_visit_duration_s",
)

#: Per-trial data-quality columns, taken from :func:`analysis.quality.trial_quality`.
QUALITY_COLUMNS: tuple[str, ...] = (
    "valid_fraction",
    "valid_fraction_left",
    "valid_fraction_right",
    "longest_gap_s",
    "precision_rms_deg",
    "n_samples",
    "trial_duration_s",
)

#: Identifying columns of a trial row.
ID_COLUMNS: tuple[str, ...] = ("participant", "session", "trial", "stimulus_id", "artwork", "category", "method")

#: Columns of ``trial_metrics.tsv`` (docs/formats.md section 4), in order.
TRIAL_METRICS_COLUMNS: tuple[str, ...] = (
    *ID_COLUMNS,
    "total_fixation_s",
    "fixation_count",
    "time_to_first_fixation_s",
    "first_fixation_duration_s",
    "visit_count",
    "total_visit_duration_s",
    *QUALITY_COLUMNS,
    "excluded",
    "exclusion_reason",
)

#: Columns of ``aoi_metrics.tsv`` (polygon AOIs; one row per participant x trial x AOI).
AOI_METRICS_COLUMNS: tuple[str, ...] = (*ID_COLUMNS, "aoi_name", *METRIC_COLUMNS)

#: Columns of a per-recording fixation table (``fixations/sub-XX_ses-N_fixations.tsv``).
FIXATION_COLUMNS: tuple[str, ...] = (
    "onset_s", "offset_s", "duration_s", "x_px", "y_px", "n_samples", "trial", "stimulus_id", "in_aoi",
)

_FIX_REQUIRED = ("onset_s", "offset_s", "x_px", "y_px")
_TRIAL_REQUIRED = ("trial", "stimulus_id", "onset_s", "offset_s", "aoi_left", "aoi_top", "aoi_right", "aoi_bottom")


def _check_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lack columns {missing}")


def _sorted_fixations(fixations: pd.DataFrame) -> pd.DataFrame:
    _check_columns(fixations, _FIX_REQUIRED, "fixations")
    on = fixations["onset_s"].to_numpy(dtype=np.float64)
    if len(on) > 1 and np.any(np.diff(on) < 0):
        fixations = fixations.sort_values("onset_s", kind="stable")
    return fixations.reset_index(drop=True)


def overlapping_pairs(trials: pd.DataFrame, fixations: pd.DataFrame) -> pd.DataFrame:
    """All (trial, fixation) pairs whose time intervals overlap, clipped to the trial.

    Parameters
    ----------
    trials : DataFrame
        Trial table (``analysis.recording.TRIAL_COLUMNS``); intervals
        ``[onset_s, offset_s]``. Trials with a NaN onset/offset get no pairs.
    fixations : DataFrame
        Fixations with ``onset_s``, ``offset_s``, ``x_px``, ``y_px``, sorted by onset
        (see :func:`_sorted_fixations`).

    Returns
    -------
    DataFrame
        One row per overlapping pair, ordered by trial row then fixation onset:
        ``trial_row`` (position in ``trials``), ``fix_row`` (position in
        ``fixations``), ``on`` / ``off`` (fixation clipped to the trial interval, s),
        ``overlap_s`` (``off - on``, > 0), ``in_aoi`` (fixation position inside the
        trial's rectangle AOI).
    """
    f_on = fixations["onset_s"].to_numpy(dtype=np.float64)
    f_off = fixations["offset_s"].to_numpy(dtype=np.float64)
    t_on = trials["onset_s"].to_numpy(dtype=np.float64)
    t_off = trials["offset_s"].to_numpy(dtype=np.float64)
    ok = np.isfinite(t_on) & np.isfinite(t_off) & (t_off > t_on)
    # running maximum of offsets is monotone even if fixations overlapped each other
    off_max = np.maximum.accumulate(f_off) if len(f_off) else f_off
    first = np.searchsorted(off_max, np.where(ok, t_on, np.inf), side="right")
    last = np.searchsorted(f_on, np.where(ok, t_off, -np.inf), side="left")
    counts = np.maximum(last - first, 0)
    trial_row = np.repeat(np.arange(len(trials)), counts)
    # fixation index: first[t] + 0..counts[t]-1, built without a loop
    starts = np.repeat(first - np.cumsum(counts) + counts, counts)
    fix_row = starts + np.arange(counts.sum())
    on = np.maximum(f_on[fix_row], t_on[trial_row])
    off = np.minimum(f_off[fix_row], t_off[trial_row])
    keep = off > on
    trial_row, fix_row, on, off = trial_row[keep], fix_row[keep], on[keep], off[keep]
    x = fixations["x_px"].to_numpy(dtype=np.float64)[fix_row]
    y = fixations["y_px"].to_numpy(dtype=np.float64)[fix_row]
    rect = {k: trials[k].to_numpy(dtype=np.float64)[trial_row] for k in ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom")}
    in_aoi = points_in_rect(x, y, rect["aoi_left"], rect["aoi_top"], rect["aoi_right"], rect["aoi_bottom"])
    return pd.DataFrame({"trial_row": trial_row, "fix_row": fix_row, "on": on, "off": off,
                         "overlap_s": off - on, "in_aoi": in_aoi})


def interval_metrics(group: np.ndarray, n_groups: int, on: np.ndarray, off: np.ndarray,
                     interval_start: np.ndarray, hit: np.ndarray) -> dict[str, np.ndarray]:
    """Tobii Pro Lab interval metrics for many intervals at once (vectorised kernel).

    Parameters
    ----------
    group : ndarray of int, shape (n,)
        Interval index (0..n_groups-1) of each fixation, non-decreasing; within a
        group the fixations are in time order.
    n_groups : int
        Number of intervals.
    on, off : ndarray, shape (n,)
        Fixation start and end, already clipped to the interval (s).
    interval_start : ndarray, shape (n_groups,)
        Start of each interval (s).
    hit : ndarray of bool, shape (n,)
        Whether each fixation is inside the AOI.

    Returns
    -------
    dict of ndarray, shape (n_groups,)
        :data:`METRIC_COLUMNS`; counts are int64 (0 when no hit), durations float
        (0.0 when no hit), ``time_to_first_fixation_s`` and
        ``first_fixation_duration_s`` NaN when the AOI was not fixated.
    """
    group = np.asarray(group, dtype=np.int64)
    hit = np.asarray(hit, dtype=bool)
    dur = off - on
    g_hit = group[hit]
    fixation_count = np.bincount(g_hit, minlength=n_groups).astype(np.int64)
    total_fixation = np.bincount(g_hit, weights=dur[hit], minlength=n_groups)

    ttff = np.full(n_groups, np.nan)
    ffd = np.full(n_groups, np.nan)
    hit_idx = np.flatnonzero(hit)
    if len(hit_idx):
        is_first = np.r_[True, g_hit[1:] != g_hit[:-1]]
        first_idx = hit_idx[is_first]
        first_g = g_hit[is_first]
        ttff[first_g] = on[first_idx] - np.asarray(interval_start, dtype=np.float64)[first_g]
        ffd[first_g] = dur[first_idx]

    # visits: maximal runs of consecutive in-AOI fixations within one interval
    same_prev = np.r_[False, group[1:] == group[:-1]]
    same_next = np.r_[group[1:] == group[:-1], False]
    prev_hit = np.r_[False, hit[:-1]] & same_prev
    next_hit = np.r_[hit[1:], False] & same_next
    v_start = np.flatnonzero(hit & ~prev_hit)
    v_end = np.flatnonzero(hit & ~next_hit)
    visit_dur = off[v_end] - on[v_start]
    visit_count = np.bincount(group[v_start], minlength=n_groups).astype(np.int64)
    total_visit = np.bincount(group[v_start], weights=visit_dur, minlength=n_groups)
    return {
        "total_fixation_s": total_fixation,
        "fixation_count": fixation_count,
        "time_to_first_fixation_s": ttff,
        "first_fixation_duration_s": ffd,
        "visit_count": visit_count,
        "total_visit_duration_s": total_visit,
    }


def _id_columns(trials: pd.DataFrame, participant: str | None, session: str | None) -> dict[str, Any]:
    """Identifier columns (:data:`ID_COLUMNS`) as arrays; text as object arrays with None for missing."""
    n = len(trials)

    def text(col: str) -> np.ndarray:
        if col not in trials.columns:
            return np.full(n, None, dtype=object)
        v = trials[col].to_numpy(dtype=object, na_value=None)
        return np.array([None if x is None or (isinstance(x, float) and np.isnan(x)) else str(x) for x in v],
                        dtype=object)  # one value per trial, not per sample

    return {
        "participant": np.full(n, participant, dtype=object),
        "session": np.full(n, session, dtype=object),
        "trial": trials["trial"].to_numpy(dtype=np.int64),
        "stimulus_id": text("stimulus_id"),
        "artwork": text("artwork"),
        "category": text("category"),
        "method": text("method"),
    }


_TEXT_COLUMNS = ("participant", "session", "stimulus_id", "artwork", "category", "method", "exclusion_reason",
                 "aoi_name")


def _frame(data: dict[str, Any], columns: Sequence[str]) -> pd.DataFrame:
    """Build an output frame in one go; text columns get pandas' ``str`` dtype (missing = NA)."""
    out = pd.DataFrame({c: data[c] for c in columns}, columns=list(columns))
    return out.astype({c: "str" for c in columns if c in _TEXT_COLUMNS})


def _id_frame(trials: pd.DataFrame, participant: str | None, session: str | None) -> pd.DataFrame:
    return _frame(_id_columns(trials, participant, session), ID_COLUMNS)


def trial_metrics(trials: pd.DataFrame, fixations: pd.DataFrame, *, quality: pd.DataFrame | None = None,
                  participant: str | None = None, session: str | None = None) -> pd.DataFrame:
    """Per-trial metrics of the stimulus (rectangle) AOI, as ``trial_metrics.tsv`` rows.

    Parameters
    ----------
    trials : DataFrame
        Trial table of one recording (``analysis.recording.TRIAL_COLUMNS``); the AOI
        is each row's ``aoi_left/top/right/bottom`` rectangle (px).
    fixations : DataFrame
        Fixations of the same recording (``FixationResult.fixations``: ``onset_s``,
        ``offset_s``, ``x_px``, ``y_px``, ... on the same clock as ``trials``).
    quality : DataFrame, optional
        :func:`analysis.quality.trial_quality` of the recording; its
        :data:`QUALITY_COLUMNS` are joined on ``trial``. Without it they are n/a.
    participant, session : str, optional
        Identifiers written into every row (e.g. ``"sub-07"``, ``"ses-1"``).

    Returns
    -------
    DataFrame
        Exactly :data:`TRIAL_METRICS_COLUMNS`, one row per trial in trial-table order.
        ``excluded`` is False and ``exclusion_reason`` n/a until
        :func:`analysis.quality.apply_exclusions` fills them. Metric definitions and
        the handling of fixations that straddle the interval: module docstring and
        ``docs/metrics.md`` (Tobii Pro Lab User Manual, "Metrics").

    Examples
    --------
    >>> trials = pd.DataFrame({"trial": [1], "stimulus_id": ["david_ours"], "onset_s": [10.0],
    ...     "offset_s": [20.0], "aoi_left": [0.0], "aoi_top": [0.0], "aoi_right": [100.0], "aoi_bottom": [100.0]})
    >>> fix = pd.DataFrame({"onset_s": [9.5, 11.0, 12.0], "offset_s": [10.5, 11.5, 13.0],
    ...     "x_px": [50.0, 500.0, 50.0], "y_px": [50.0, 50.0, 50.0]})
    >>> m = trial_metrics(trials, fix)
    >>> [float(m.at[0, c]) for c in ("total_fixation_s", "fixation_count", "time_to_first_fixation_s", "visit_count")]
    [1.5, 2.0, 0.0, 2.0]
    """
    trials, fixations, pairs = _prepare(trials, fixations)
    return _trial_metrics(trials, pairs, quality, participant, session)


def _aoi_known(trials: pd.DataFrame) -> np.ndarray:
    """Trials whose AOI rectangle is fully known (finite edges)."""
    edges = trials[["aoi_left", "aoi_top", "aoi_right", "aoi_bottom"]].to_numpy(dtype=np.float64)
    return np.isfinite(edges).all(axis=1)


def _check_trial_numbers(trials: pd.DataFrame) -> None:
    """Trial numbers must be whole, within int64 and unique: ``1e30`` once became
    -9223372036854775808 in trial_metrics.tsv (issue 11). The readers refuse such files at the
    cell; this guards the Python API."""
    t = pd.to_numeric(trials["trial"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(t) & (t == np.round(t)) & (np.abs(t) < 2.0 ** 53))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"trial number {trials['trial'].iloc[i]!s} (row {i + 1} of the trial table) is not a whole "
                         "number", column="trial", expected="whole trial numbers",
                         fix="number the trials 1, 2, ... (the readers do)")
    dup = pd.Series(t).duplicated().to_numpy()
    if dup.any():
        raise InputError(f"trial {int(t[np.flatnonzero(dup)[0]])} appears twice in the trial table", column="trial",
                         expected="each trial number once", fix="number the trials uniquely")


def _prepare(trials: pd.DataFrame, fixations: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    _check_columns(trials, _TRIAL_REQUIRED, "trials")
    _check_trial_numbers(trials)
    trials = trials.reset_index(drop=True)
    fixations = _sorted_fixations(fixations)
    return trials, fixations, overlapping_pairs(trials, fixations)


def _trial_metrics(trials: pd.DataFrame, pairs: pd.DataFrame, quality: pd.DataFrame | None,
                   participant: str | None, session: str | None) -> pd.DataFrame:
    onset = trials["onset_s"].to_numpy(dtype=np.float64)
    offset = trials["offset_s"].to_numpy(dtype=np.float64)
    m = interval_metrics(pairs["trial_row"].to_numpy(), len(trials), pairs["on"].to_numpy(),
                         pairs["off"].to_numpy(), onset, pairs["in_aoi"].to_numpy())
    data: dict[str, Any] = _id_columns(trials, participant, session)
    data.update(m)
    no_interval = ~(np.isfinite(onset) & np.isfinite(offset)) | ~_aoi_known(trials)
    if no_interval.any():
        log.warning("%d trial(s) of %s %s have no onset/offset or no AOI rectangle; their metrics are n/a",
                    int(no_interval.sum()), participant, session)
        for col in METRIC_COLUMNS:
            v = m[col].astype(np.float64)
            v[no_interval] = np.nan
            data[col] = pd.array(v, dtype="Int64") if col in ("fixation_count", "visit_count") else v
    data.update(_quality_columns(trials, quality, offset - onset))
    data["excluded"] = np.zeros(len(trials), dtype=bool)
    data["exclusion_reason"] = np.full(len(trials), None, dtype=object)
    return _frame(data, TRIAL_METRICS_COLUMNS)


def _quality_columns(trials: pd.DataFrame, quality: pd.DataFrame | None, duration: np.ndarray) -> dict[str, Any]:
    """:data:`QUALITY_COLUMNS` aligned with ``trials`` by trial number (NaN where missing)."""
    n = len(trials)
    if quality is None or len(quality) == 0:
        out: dict[str, Any] = {c: np.full(n, np.nan) for c in QUALITY_COLUMNS}
        out["n_samples"] = pd.array([pd.NA] * n, dtype="Int64")
        out["trial_duration_s"] = duration
        return out
    _check_columns(quality, ("trial", *QUALITY_COLUMNS), "quality")
    q = quality.drop_duplicates("trial")
    pos = pd.Index(q["trial"].to_numpy()).get_indexer(trials["trial"].to_numpy())
    found = pos >= 0
    out = {}
    for c in QUALITY_COLUMNS:
        v = np.full(n, np.nan)
        v[found] = q[c].to_numpy(dtype=np.float64, na_value=np.nan)[pos[found]]
        out[c] = v
    out["n_samples"] = pd.array(np.where(found, out["n_samples"], np.nan), dtype="Int64")
    return out


def aoi_metrics(trials: pd.DataFrame, fixations: pd.DataFrame, aois: Sequence[PolygonAOI], *,
                participant: str | None = None, session: str | None = None) -> pd.DataFrame:
    """Metrics of polygon AOIs: one row per trial x polygon AOI of that trial's stimulus.

    Each polygon's image-relative vertices (:func:`analysis.aoi.read_aois`) are placed
    on the trial's on-screen rectangle; equivalently each fixation position is mapped
    into image-relative coordinates ``((x - left) / (right - left), (y - top) /
    (bottom - top))`` and tested with the even-odd rule. The metrics and the clipping
    at the interval boundary are exactly those of :func:`trial_metrics`.

    Returns
    -------
    DataFrame
        :data:`AOI_METRICS_COLUMNS`, ordered by trial then by AOI-file order. Trials
        whose stimulus has no polygon get no rows.
    """
    trials, fixations, pairs = _prepare(trials, fixations)
    return _aoi_metrics(trials, fixations, pairs, aois, participant, session)


def _aoi_metrics(trials: pd.DataFrame, fixations: pd.DataFrame, pairs: pd.DataFrame, aois: Sequence[PolygonAOI],
                 participant: str | None, session: str | None) -> pd.DataFrame:
    ids = _id_columns(trials, participant, session)
    tr = pairs["trial_row"].to_numpy()
    fr = pairs["fix_row"].to_numpy()
    left = trials["aoi_left"].to_numpy(dtype=np.float64)[tr]
    top = trials["aoi_top"].to_numpy(dtype=np.float64)[tr]
    width = trials["aoi_right"].to_numpy(dtype=np.float64)[tr] - left
    height = trials["aoi_bottom"].to_numpy(dtype=np.float64)[tr] - top
    with np.errstate(divide="ignore", invalid="ignore"):
        xr = (fixations["x_px"].to_numpy(dtype=np.float64)[fr] - left) / width
        yr = (fixations["y_px"].to_numpy(dtype=np.float64)[fr] - top) / height
    onset = trials["onset_s"].to_numpy(dtype=np.float64)
    no_interval = ~(np.isfinite(onset) & np.isfinite(trials["offset_s"].to_numpy(dtype=np.float64))) \
        | ~_aoi_known(trials)
    stim = ids["stimulus_id"]
    rows_all, order_all, names = [], [], []
    metrics: dict[str, list[np.ndarray]] = {c: [] for c in METRIC_COLUMNS}
    for order, aoi in enumerate(aois or ()):  # loop over AOIs (a handful), not over samples
        rows = np.flatnonzero(stim == aoi.stimulus_id)
        if len(rows) == 0:
            continue
        hit = points_in_polygon(xr, yr, aoi.vertices) if len(xr) else np.zeros(0, dtype=bool)
        m = interval_metrics(tr, len(trials), pairs["on"].to_numpy(), pairs["off"].to_numpy(), onset, hit)
        for col in METRIC_COLUMNS:
            v = m[col][rows].astype(np.float64)
            v[no_interval[rows]] = np.nan
            metrics[col].append(v)
        rows_all.append(rows)
        order_all.append(np.full(len(rows), order))
        names.extend([aoi.aoi_name] * len(rows))
    rows = np.concatenate(rows_all) if rows_all else np.zeros(0, dtype=np.int64)
    order = np.concatenate(order_all) if order_all else np.zeros(0, dtype=np.int64)
    data: dict[str, Any] = {c: ids[c][rows] for c in ID_COLUMNS}
    data["aoi_name"] = np.array(names, dtype=object)
    for col in METRIC_COLUMNS:
        v = np.concatenate(metrics[col]) if metrics[col] else np.zeros(0)
        data[col] = pd.array(v, dtype="Int64") if col in ("fixation_count", "visit_count") else v
    sort = np.lexsort((order, rows))          # by trial row, then AOI-file order
    data = {c: v[sort] for c, v in data.items()}
    return _frame(data, AOI_METRICS_COLUMNS)


def label_fixations(trials: pd.DataFrame, fixations: pd.DataFrame) -> pd.DataFrame:
    """Every fixation with the trial it belongs to and whether it hit the stimulus AOI.

    A fixation belongs to the trial whose interval it overlaps most (normally the only
    one); fixations outside every trial keep ``trial``/``stimulus_id``/``in_aoi`` n/a.
    Times are the fixation's own (not clipped), on the input clock.

    Returns
    -------
    DataFrame
        :data:`FIXATION_COLUMNS`, one row per fixation, in onset order.
    """
    trials, fixations, pairs = _prepare(trials, fixations)
    return _label_fixations(trials, fixations, pairs)


def _label_fixations(trials: pd.DataFrame, fixations: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    # keep, per fixation, the pair with the largest overlap (earliest trial on ties)
    best = pairs.sort_values(["fix_row", "overlap_s", "trial_row"], ascending=[True, False, True],
                             kind="stable").drop_duplicates("fix_row")
    n = len(fixations)
    trial_no = pd.array([pd.NA] * n, dtype="Int64")
    stim = pd.Series([None] * n, dtype="str")
    in_aoi = pd.array([pd.NA] * n, dtype="boolean")
    fr = best["fix_row"].to_numpy()
    trow = best["trial_row"].to_numpy()
    trial_no[fr] = trials["trial"].to_numpy(dtype=np.int64)[trow]
    stim.iloc[fr] = trials["stimulus_id"].astype("str").to_numpy()[trow]
    in_aoi[fr] = best["in_aoi"].to_numpy()
    unknown = ~_aoi_known(trials)[trow]          # trial without an AOI rectangle: in_aoi unknown
    if unknown.any():
        in_aoi[fr[unknown]] = pd.NA
    dur = (fixations["duration_s"].to_numpy(dtype=np.float64) if "duration_s" in fixations
           else fixations["offset_s"].to_numpy(dtype=np.float64) - fixations["onset_s"].to_numpy(dtype=np.float64))
    n_samp = (fixations["n_samples"].astype("Int64").array if "n_samples" in fixations
              else pd.array([pd.NA] * n, dtype="Int64"))
    return pd.DataFrame({
        "onset_s": fixations["onset_s"].to_numpy(dtype=np.float64),
        "offset_s": fixations["offset_s"].to_numpy(dtype=np.float64),
        "duration_s": dur,
        "x_px": fixations["x_px"].to_numpy(dtype=np.float64),
        "y_px": fixations["y_px"].to_numpy(dtype=np.float64),
        "n_samples": n_samp,
        "trial": trial_no,
        "stimulus_id": stim,
        "in_aoi": in_aoi,
    }, columns=list(FIXATION_COLUMNS))


def session_metrics(trials: pd.DataFrame, fixations: pd.DataFrame, *, quality: pd.DataFrame | None = None,
                    aois: Sequence[PolygonAOI] | None = None, participant: str | None = None,
                    session: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """:func:`trial_metrics`, :func:`aoi_metrics` (``None`` without AOIs) and
    :func:`label_fixations` of one recording, sharing one trial/fixation overlap join."""
    trials, fixations, pairs = _prepare(trials, fixations)
    tm = _trial_metrics(trials, pairs, quality, participant, session)
    am = _aoi_metrics(trials, fixations, pairs, aois, participant, session) if aois else None
    return tm, am, _label_fixations(trials, fixations, pairs)


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.metrics",
        description="Process every session of an Eye-Tracking-BIDS dataset: read the samples, detect "
                    "fixations, measure data quality, compute the per-trial AOI metrics (Tobii Pro Lab "
                    "definitions, docs/metrics.md), apply the quality exclusions and write the derivatives "
                    "(docs/derivatives.md). Exit code 0 ok, 1 failed, 2 bad input.")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="root of the raw BIDS dataset (the folder holding dataset_description.json), e.g. data/raw")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder to write the derivatives into (created if missing; our derivative files are "
                        "overwritten and those of an earlier run that this run does not produce are removed), "
                        "e.g. data/derivatives")
    p.add_argument("--config", metavar="TOML", default=None,
                   help="analysis configuration file (analysis/config.py documents every key and default); "
                        "default: the documented defaults")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="worker processes; 0 = one per CPU core, 1 = no pool (default: [report] jobs of the "
                        "config, itself 0 by default)")
    p.add_argument("--aois", metavar="AOIS.tsv", default=None,
                   help="optional polygon AOI file (columns stimulus_id, aoi_name, vertices in image-relative "
                        "0..1 coordinates; docs/metrics.md); adds aoi_metrics.tsv. The whole-image AOI is "
                        "always analysed")
    p.add_argument("--algorithm", choices=("ivt", "idt"), default=None,
                   help="fixation filter: ivt = Tobii I-VT (Olsen 2012), idt = dispersion threshold "
                        "(Salvucci & Goldberg 2000); default: [report] algorithm of the config, itself ivt")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="record a session the reader rejects as an excluded participant (exclusions.tsv, reason "
                        "'unreadable: ...') instead of stopping with exit code 2 (the default)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _check_not_raw(out, data) -> None:
    """Refuse an ``--out`` that is the raw dataset (or any folder holding a raw ``dataset_description.json``):
    the derivatives' ``dataset_description.json`` would overwrite the raw one (nothing recorded may be lost)."""
    import json

    desc = out / "dataset_description.json"
    raw = out.resolve() == data.resolve()
    if not raw and desc.is_file():
        try:
            raw = json.loads(desc.read_text(encoding="utf-8")).get("DatasetType", "raw") != "derivative"
        except (OSError, ValueError, AttributeError):
            raw = True  # not ours to overwrite
    if raw:
        raise InputError("--out is a raw dataset: writing the derivatives there would overwrite its "
                         "dataset_description.json", file=out,
                         expected="a separate folder for the derivatives, e.g. data/derivatives",
                         fix="give another --out folder")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m analysis.metrics`` (see :func:`build_parser`)."""
    import dataclasses
    import sys
    from pathlib import Path

    args = build_parser().parse_args(argv)

    from analysis.aoi import read_aois
    from analysis.batch import process_dataset, write_derivatives
    from analysis.config import load_config
    from analysis.errors import check_output_dir

    data = Path(args.data)
    if data.is_file():
        raise InputError("--data names a file, not the dataset folder", file=data,
                         expected="the root folder of a BIDS dataset", fix="pass --data the folder that holds it")
    if not data.is_dir():
        raise InputError("dataset folder not found", file=data, expected="the root folder of a BIDS dataset",
                         fix="pass --data the folder that holds dataset_description.json")
    check_output_dir(args.out, "--out")  # before any work: a typo must not cost a whole run
    _check_not_raw(Path(args.out), data)
    cfg = load_config(args.config)
    if args.algorithm is not None:
        cfg = dataclasses.replace(cfg, report=dataclasses.replace(cfg.report, algorithm=args.algorithm))
    if args.jobs is not None and args.jobs < 0:
        raise InputError(f"--jobs {args.jobs} is negative", column="--jobs", expected="0 (all cores) or a positive number",
                         fix="pass --jobs 0 or a positive integer")
    jobs = cfg.report.jobs if args.jobs is None else args.jobs
    aois = read_aois(args.aois) if args.aois else None
    result = process_dataset(data, cfg, jobs=jobs, aois=aois, progress=not args.no_progress,
                             on_error="exclude" if args.skip_unreadable else "raise")
    written = write_derivatives(result, Path(args.out))
    n_trials = len(result.trial_metrics)
    n_excl = int(result.trial_metrics["excluded"].sum()) if n_trials else 0
    print(f"{len(result.recording_quality)} session(s), {n_trials} trial(s), {n_excl} excluded; "
          f"wrote {len(written)} file(s) to {args.out}")
    if result.simulated:
        print("note: the dataset is SIMULATED (dataset_description.json); so are these derivatives")
    unreadable = int((~result.recording_quality["readable"].astype(bool)).sum()) if len(result.recording_quality) else 0
    if unreadable:
        print(f"warning: {unreadable} unreadable session(s) recorded as excluded (see exclusions.tsv)")
    if n_trials == 0:
        print("failed: no trial could be analysed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    import sys

    from analysis.errors import run_cli

    sys.exit(run_cli(main))
