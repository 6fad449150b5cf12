"""The Tobii I-VT fixation filter (Olsen, 2012), all seven steps, vectorised.

Source: Olsen, A. (2012). *The Tobii I-VT Fixation Filter: Algorithm description.*
Tobii Technology, sec. 3.1 "How it is implemented", sub-sections 3.1.1-3.1.7, in this
order:

1. gap fill-in interpolation (per eye, linear, max gap length 75 ms),
2. eye selection (average | left | right | strict average),
3. noise reduction (off by default; moving median or moving average),
4. velocity calculator (angular velocity over a 20 ms window),
5. I-VT classifier (velocity threshold 30 deg/s),
6. merge adjacent fixations (max time between 75 ms, max angle between 0.5 deg),
7. discard short fixations (minimum duration 60 ms).

The defaults are Tobii Pro Lab's "Tobii I-VT (Fixation)" preset (Tobii Pro Lab User
Manual, "Gaze filters"), held in :class:`analysis.config.IVTConfig`.

Every step is a private function below, applied in order by :func:`ivt_filter`. No
step loops over samples in Python: the velocity calculator works in blocks of
:data:`BLOCK` samples (a loop over blocks, to bound temporary memory), the event steps
work on run boundaries with numpy reductions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analysis.config import IVTConfig
from analysis.errors import InputError
from analysis.fixations._common import (
    FIXATION,
    GAP,
    SACCADE,
    TIME_TOL_S,
    UNKNOWN,
    EventArrays,
    check_time,
    event_bounds,
    expand,
    median_interval,
    runs,
    segment_sums,
    select_gaze,
)
from analysis.geometry import angle_between_deg
from analysis.recording import Geometry

log = logging.getLogger(__name__)

#: Samples per block in the velocity calculator (bounds temporaries to a few MB and
#: keeps them in cache; the result does not depend on it).
BLOCK: int = 1 << 13

#: Tolerance when comparing angles (deg) against the merge threshold.
ANGLE_TOL_DEG: float = 1e-9


@dataclass
class IVTOutput:
    """Everything :func:`ivt_filter` computes.

    ``events``: the fixations; ``labels``: int8 per sample (0 unknown, 1 fixation,
    2 saccade, 3 gap); ``x_px``/``y_px``: the gaze signal after steps 1-3;
    ``velocity_deg_s``: step 4's output (NaN where none); ``info``: counts and the
    derived window size.
    """

    events: EventArrays
    labels: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    velocity_deg_s: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def validate_ivt_config(config: IVTConfig) -> None:
    """Reject parameter values the filter cannot use, with an :class:`InputError`."""
    if not isinstance(config, IVTConfig):
        raise InputError(f"the I-VT filter needs an IVTConfig, got {type(config).__name__}",
                         expected="analysis.config.IVTConfig", fix="pass IVTConfig(...) or None for the defaults")
    choices = {"eye_selection": ("average", "left", "right", "strict_average"),
               "noise_reduction": ("none", "median", "average")}
    for key, allowed in choices.items():
        if getattr(config, key) not in allowed:
            raise InputError(f"ivt.{key} = {getattr(config, key)!r} is not allowed", column=f"ivt.{key}",
                             expected="one of " + ", ".join(allowed), fix="pick one of the allowed values")
    for key in ("max_gap_ms", "velocity_window_ms", "velocity_threshold_deg_s"):
        if not getattr(config, key) > 0:
            raise InputError(f"ivt.{key} must be positive", column=f"ivt.{key}", expected="a number > 0",
                             fix="use a positive value")
    for key in ("merge_max_gap_ms", "merge_max_angle_deg", "min_fixation_ms"):
        if not getattr(config, key) >= 0:
            raise InputError(f"ivt.{key} must not be negative", column=f"ivt.{key}", expected="a number >= 0",
                             fix="use a value >= 0")
    w = config.noise_window_samples
    if config.noise_reduction != "none" and (w < 3 or w % 2 == 0):
        raise InputError(f"ivt.noise_window_samples = {w} is not an odd number >= 3",
                         column="ivt.noise_window_samples", expected="an odd window size such as 3, 5, 7",
                         fix="use an odd window so that it is centred on the sample")


# ---------------------------------------------------------------------------
# Step 3: noise reduction (Olsen 2012, sec. 3.1.3)
# ---------------------------------------------------------------------------

def _noise_reduction(x: np.ndarray, y: np.ndarray, method: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: moving median or moving average of the selected gaze, centred on each sample.

    The window holds ``window`` samples (odd), centred on the sample. Where the full
    window would reach past the start/end of the data or into missing samples, it is
    shrunk symmetrically to the largest odd size that stays inside valid data, so the
    output sample remains centred (down to the sample itself). Missing samples stay
    missing.

    Source: Olsen (2012), sec. 3.1.3 "Noise reduction": moving median or moving
    average, window size in samples; Tobii Pro Lab preset: noise reduction off,
    window 3 samples when enabled.
    """
    if method == "none":
        return x, y
    n = x.size
    h = window // 2
    half = _half_widths(np.isnan(x), h)
    xo = x.copy()
    yo = y.copy()
    reduce = np.median if method == "median" else np.mean
    w = 2 * h + 1
    # full windows, block by block over sliding views (no copy of the whole signal)
    for c0 in range(h, n - h, BLOCK):  # blocks of samples
        c1 = min(c0 + BLOCK, n - h)
        full = half[c0:c1] == h
        if not full.any():
            continue
        for src, dst in ((x, xo), (y, yo)):
            win = np.lib.stride_tricks.sliding_window_view(src[c0 - h:c1 + h], w)
            with np.errstate(invalid="ignore"):
                dst[c0:c1][full] = reduce(win[full], axis=1)
    # shrunken windows near gaps and the recording edges (few samples)
    for k in range(1, h):  # loop over window sizes, not samples; k = 0 leaves the sample as is
        at = np.flatnonzero(half == k)
        if at.size == 0:
            continue
        win_idx = at[:, None] + np.arange(-k, k + 1)
        xo[at] = reduce(x[win_idx], axis=1)
        yo[at] = reduce(y[win_idx], axis=1)
    return xo, yo


def _half_widths(missing: np.ndarray, h: int) -> np.ndarray:
    """Half-width of the centred window per sample: ``min(h, valid samples to the left, to the right)``.

    -1 for missing samples. int16 (windows up to 65 535 samples).
    """
    n = missing.size
    half = np.full(n, h, dtype=np.int16)
    half[missing] = -1
    start, stop = runs(~missing)
    # only the first and last h samples of each run of valid samples have less room
    for edge_start, edge_stop in ((start, np.minimum(start + h, stop)), (np.maximum(stop - h, start), stop)):
        idx, owner = expand(edge_start, edge_stop)
        room = np.minimum(idx - start[owner], stop[owner] - 1 - idx)
        half[idx] = np.minimum(room, h)
    return half


# ---------------------------------------------------------------------------
# Step 4: velocity calculator (Olsen 2012, sec. 3.1.4)
# ---------------------------------------------------------------------------

def window_intervals(window_s: float, dt: float) -> int:
    """Number of sampling intervals the velocity window spans: ``max(1, round(window / dt))``.

    At 60 Hz a 20 ms window spans 1 interval (2 samples: the previous and the current
    one), at 120 Hz 2 intervals (the previous, current and next sample), at 300 Hz 6,
    at 1200 Hz 24 (Olsen, 2012, sec. 3.1.4: the number of samples in the window
    follows from the window length and the data's sampling frequency).
    """
    return max(1, int(np.floor(window_s / dt + 0.5)))


def _velocity(time_s: np.ndarray, x: np.ndarray, y: np.ndarray,
              eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None, geometry: Geometry,
              n_int: int) -> np.ndarray:
    """Step 4: angular velocity (deg/s) of every sample.

    The window spans ``n_int`` sampling intervals around sample ``i``: from
    ``i - a`` to ``i + b`` with ``b = n_int // 2`` and ``a = n_int - b`` (centred when
    ``n_int`` is even; one sample more before ``i`` when odd, e.g. the previous and
    the current sample at 60 Hz). The velocity is the visual angle between the
    window's first and last gaze points divided by the time between them. The angle
    is measured from the eye (exact 3-D geometry, :func:`analysis.geometry.angle_between_deg`)
    using sample ``i``'s eye position when known, the viewing distance in front of
    the screen centre otherwise. No velocity (NaN) where the window reaches outside
    the recording or contains a missing sample.

    Source: Olsen (2012), sec. 3.1.4 "Velocity calculator": window length 20 ms,
    angular velocity from the first and last sample of the window, using the eye
    position reported by the tracker.
    """
    n = x.size
    b = n_int // 2
    a = n_int - b
    v = np.full(n, np.nan)
    lo, hi = a, n - b
    for c0 in range(lo, hi, BLOCK):  # blocks of samples, to bound temporary memory
        c1 = min(c0 + BLOCK, hi)
        m = c1 - c0
        x1, y1 = x[c0 - a:c1 - a], y[c0 - a:c1 - a]
        x2, y2 = x[c0 + b:c1 + b], y[c0 + b:c1 + b]
        if eye is None:
            ang = angle_between_deg(x1, y1, x2, y2, geometry)
        else:
            ang = angle_between_deg(x1, y1, x2, y2, geometry, eye[0][c0:c1], eye[1][c0:c1], eye[2][c0:c1])
        ang /= time_s[c0 + b:c1 + b] - time_s[c0 - a:c1 - a]
        if n_int > 1:  # interior samples: the end points are already NaN-checked by the angle
            miss = np.isnan(x[c0 - a:c1 + b])
            cs = np.zeros(miss.size + 1, dtype=np.int32)
            np.cumsum(miss, out=cs[1:])
            touched = cs[n_int + 1:n_int + 1 + m] != cs[:m]
            ang[touched] = np.nan
        v[c0:c1] = ang
    return v


# ---------------------------------------------------------------------------
# Step 5: I-VT classifier (Olsen 2012, sec. 3.1.5)
# ---------------------------------------------------------------------------

def _classify(velocity: np.ndarray, x: np.ndarray, threshold: float) -> np.ndarray:
    """Step 5: label each sample by its velocity.

    Velocity below ``threshold`` -> fixation (1); at or above -> saccade (2); no
    velocity -> unknown (0), or gap (3) where the sample has no gaze at all.

    Source: Olsen (2012), sec. 3.1.5 "I-VT classifier": velocity threshold 30 deg/s
    (Tobii Pro Lab preset).
    """
    labels = np.zeros(velocity.size, dtype=np.int8)
    np.copyto(labels, np.int8(FIXATION), where=velocity < threshold)
    np.copyto(labels, np.int8(SACCADE), where=velocity >= threshold)
    np.copyto(labels, np.int8(GAP), where=np.isnan(x))
    return labels


@dataclass
class _Fix:
    start: np.ndarray
    stop: np.ndarray
    onset: np.ndarray
    offset: np.ndarray
    sx: np.ndarray       # sums of gaze x, y over the fixation samples
    sy: np.ndarray
    count: np.ndarray    # number of fixation samples
    eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None  # mean eye position (mm), NaN if unknown


def _fixation_runs(time_s: np.ndarray, labels: np.ndarray, x: np.ndarray, y: np.ndarray,
                   eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None, dt: float) -> _Fix:
    """Step 5 (events): consecutive fixation samples form a fixation.

    Boundaries lie at sample midpoints (:func:`analysis.fixations._common.event_bounds`);
    the position is the mean of the fixation's gaze points (Olsen, 2012, sec. 3.1.5).
    """
    start, stop = runs(labels == FIXATION)
    onset, offset = event_bounds(time_s, start, stop, dt)
    sx = segment_sums(x, start, stop)
    sy = segment_sums(y, start, stop)
    eye_mean = None
    if eye is not None and start.size:
        eye_mean = _eye_means(eye, start, stop)
    return _Fix(start, stop, onset, offset, sx, sy, (stop - start).astype(np.int64), eye_mean)


def _eye_means(eye: tuple[np.ndarray, np.ndarray, np.ndarray], start: np.ndarray,
               stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean eye position over each fixation's samples where it is known (NaN if never)."""
    known = np.isfinite(eye[0]) & np.isfinite(eye[1]) & np.isfinite(eye[2])
    cnt = segment_sums(known.astype(np.float64), start, stop)
    with np.errstate(invalid="ignore", divide="ignore"):
        return tuple(segment_sums(np.where(known, e, 0.0), start, stop) / cnt for e in eye)  # type: ignore[return-value]


# ---------------------------------------------------------------------------
# Step 6: merge adjacent fixations (Olsen 2012, sec. 3.1.6)
# ---------------------------------------------------------------------------

def _merge(fix: _Fix, labels: np.ndarray, x: np.ndarray, y: np.ndarray, geometry: Geometry,
           max_gap_s: float, max_angle_deg: float) -> _Fix:
    """Step 6: merge consecutive fixations close in time and space.

    Two consecutive fixations (as classified in step 5) are merged when the time
    between them (next onset minus previous offset, both at sample midpoints) is at
    most ``max_gap_s`` and the visual angle between their positions, seen from the
    eye (mean eye position of the two fixations, or the viewing distance), is at most
    ``max_angle_deg``. Each pair is judged on the step-5 fixations; a chain of
    mergeable pairs becomes one fixation. The samples between merged fixations that
    have gaze become fixation samples; the merged position is the mean of all its
    fixation samples' gaze points.

    Source: Olsen (2012), sec. 3.1.6 "Merge adjacent fixations": max time between
    fixations 75 ms, max angle between fixations 0.5 deg (Tobii Pro Lab preset).
    """
    k = fix.start.size
    if k < 2:
        return fix
    gap = fix.onset[1:] - fix.offset[:-1]
    close_t = gap <= max_gap_s + TIME_TOL_S
    if not close_t.any():
        return fix
    with np.errstate(invalid="ignore", divide="ignore"):
        px = fix.sx / fix.count
        py = fix.sy / fix.count
    if fix.eye is None:
        ang = angle_between_deg(px[:-1], py[:-1], px[1:], py[1:], geometry)
    else:
        ex, ey, ez = (_pair_mean(e[:-1], e[1:]) for e in fix.eye)
        ang = angle_between_deg(px[:-1], py[:-1], px[1:], py[1:], geometry, ex, ey, ez)
    merge = close_t & (ang <= max_angle_deg + ANGLE_TOL_DEG)
    if not merge.any():
        return fix
    new_group = np.concatenate(([True], ~merge))
    first = np.flatnonzero(new_group)
    last = np.flatnonzero(np.concatenate((~merge, [True])))
    group = np.cumsum(new_group) - 1
    pairs = np.flatnonzero(merge)
    idx, owner = expand(fix.stop[pairs], fix.start[pairs + 1])
    has_gaze = ~np.isnan(x[idx])
    idx = idx[has_gaze]
    owner_group = group[pairs[owner[has_gaze]]]
    labels[idx] = FIXATION
    ng = first.size
    sx = np.add.reduceat(fix.sx, first) + np.bincount(owner_group, weights=x[idx], minlength=ng)
    sy = np.add.reduceat(fix.sy, first) + np.bincount(owner_group, weights=y[idx], minlength=ng)
    count = np.add.reduceat(fix.count, first) + np.bincount(owner_group, minlength=ng)
    start, stop = fix.start[first], fix.stop[last]
    eye = None
    if fix.eye is not None:
        w = fix.count.astype(np.float64)
        eye = tuple(_group_mean(e, w, first) for e in fix.eye)  # type: ignore[assignment]
    return _Fix(start, stop, fix.onset[first], fix.offset[last], sx, sy, count, eye)


def _pair_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of two arrays where both are finite, the finite one where only one is, else NaN."""
    fa, fb = np.isfinite(a), np.isfinite(b)
    total = np.where(fa, a, 0.0) + np.where(fb, b, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / (fa.astype(np.float64) + fb)


def _group_mean(values: np.ndarray, weights: np.ndarray, first: np.ndarray) -> np.ndarray:
    ok = np.isfinite(values)
    num = np.add.reduceat(np.where(ok, values * weights, 0.0), first)
    den = np.add.reduceat(np.where(ok, weights, 0.0), first)
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den


# ---------------------------------------------------------------------------
# Step 7: discard short fixations (Olsen 2012, sec. 3.1.7)
# ---------------------------------------------------------------------------

def _discard_short(fix: _Fix, labels: np.ndarray, min_duration_s: float) -> _Fix:
    """Step 7: fixations shorter than ``min_duration_s`` are no fixations.

    Their samples are relabelled unknown (0), as Tobii Pro Lab classifies them
    "Unclassified". Duration = offset - onset (sample midpoints); a fixation of exactly
    the minimum is kept.

    Source: Olsen (2012), sec. 3.1.7 "Discard short fixations": minimum fixation
    duration 60 ms (Tobii Pro Lab preset).
    """
    short = (fix.offset - fix.onset) < min_duration_s - TIME_TOL_S
    if not short.any():
        return fix
    idx, _ = expand(fix.start[short], fix.stop[short])
    sub = labels[idx]
    labels[idx] = np.where(sub == FIXATION, np.int8(UNKNOWN), sub)
    keep = ~short
    eye = None if fix.eye is None else tuple(e[keep] for e in fix.eye)
    return _Fix(fix.start[keep], fix.stop[keep], fix.onset[keep], fix.offset[keep], fix.sx[keep],
                fix.sy[keep], fix.count[keep], eye)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# The whole filter
# ---------------------------------------------------------------------------

def ivt_filter(
    time_s: Any,
    left_x: Any, left_y: Any, right_x: Any, right_y: Any,
    left_valid: Any, right_valid: Any,
    geometry: Geometry,
    eye_xyz: tuple[Any, Any, Any, Any, Any, Any] | None = None,
    config: IVTConfig | None = None,
) -> IVTOutput:
    """Run the Tobii I-VT fixation filter (Olsen, 2012) on sample arrays.

    Parameters
    ----------
    time_s : array_like
        Timestamps (s), strictly increasing.
    left_x, left_y, right_x, right_y : array_like
        Gaze per eye in screen pixels (top-left origin), NaN when invalid.
    left_valid, right_valid : array_like of bool
        Tracker validity per eye.
    geometry : Geometry
        Screen size/resolution and viewing distance.
    eye_xyz : tuple of six arrays, optional
        Eye positions (mm, display-area coordinates, z = distance from the screen):
        ``(left_x, left_y, left_z, right_x, right_y, right_z)``. Without them (or
        where NaN), the eye is placed at ``geometry.distance_mm`` in front of the
        screen centre.
    config : IVTConfig, optional
        Filter parameters; default Tobii Pro Lab's "Tobii I-VT (Fixation)" preset.

    Returns
    -------
    IVTOutput

    Notes
    -----
    Steps, in order (Olsen, 2012, sec. 3.1.1-3.1.7): gap fill-in
    (:func:`analysis.fixations._common.find_gaps`), eye selection
    (:func:`analysis.fixations._common.select_gaze`), :func:`_noise_reduction`,
    :func:`_velocity`, :func:`_classify` and :func:`_fixation_runs`, :func:`_merge`,
    :func:`_discard_short`.
    """
    cfg = IVTConfig() if config is None else config
    validate_ivt_config(cfg)
    t = check_time(time_s)
    n = t.size
    if n < 2:
        raise InputError("at least two samples are needed for fixation detection", expected=">= 2 samples",
                         fix="give a longer recording")
    dt = median_interval(t)
    # steps 1 + 2
    x, y, eye, counts = select_gaze(t, left_x, left_y, right_x, right_y, left_valid, right_valid, eye_xyz,
                                    cfg.eye_selection, cfg.gap_fill, cfg.max_gap_ms / 1000.0)
    # step 3
    x, y = _noise_reduction(x, y, cfg.noise_reduction, cfg.noise_window_samples)
    # step 4
    n_int = window_intervals(cfg.velocity_window_ms / 1000.0, dt)
    velocity = _velocity(t, x, y, eye, geometry, n_int)
    # step 5
    labels = _classify(velocity, x, cfg.velocity_threshold_deg_s)
    fix = _fixation_runs(t, labels, x, y, eye if cfg.merge else None, dt)
    n_classified = int(fix.start.size)
    # step 6
    if cfg.merge:
        fix = _merge(fix, labels, x, y, geometry, cfg.merge_max_gap_ms / 1000.0, cfg.merge_max_angle_deg)
    n_merged = n_classified - int(fix.start.size)
    # step 7
    n_before = int(fix.start.size)
    if cfg.discard_short:
        fix = _discard_short(fix, labels, cfg.min_fixation_ms / 1000.0)
    n_discarded = n_before - int(fix.start.size)
    events = EventArrays(
        onset_s=fix.onset, offset_s=fix.offset, duration_s=fix.offset - fix.onset,
        x_px=fix.sx / fix.count if fix.count.size else np.zeros(0), y_px=fix.sy / fix.count if fix.count.size else np.zeros(0),
        n_samples=fix.count, start=fix.start, stop=fix.stop,
    )
    info = {"sampling_interval_s": dt, "velocity_window_intervals": n_int, "fixations_classified": n_classified,
            "fixations_merged_away": n_merged, "fixations_discarded": n_discarded, **counts}
    log.debug("I-VT: %s", info)
    return IVTOutput(events=events, labels=labels, x_px=x, y_px=y, velocity_deg_s=velocity, info=info)


def tobii_ivt(
    time_s: Any,
    left_x: Any, left_y: Any, right_x: Any, right_y: Any,
    left_valid: Any, right_valid: Any,
    geometry: Geometry,
    eye_xyz: tuple[Any, Any, Any, Any, Any, Any] | None = None,
    config: IVTConfig | None = None,
) -> tuple[EventArrays, np.ndarray]:
    """The Tobii I-VT filter on arrays: ``(fixations, labels)``.

    Same parameters as :func:`ivt_filter`; returns only the fixations
    (:class:`~analysis.fixations._common.EventArrays`) and the per-sample int8 labels
    (0 unknown, 1 fixation, 2 saccade, 3 gap).
    """
    out = ivt_filter(time_s, left_x, left_y, right_x, right_y, left_valid, right_valid, geometry, eye_xyz, config)
    return out.events, out.labels
