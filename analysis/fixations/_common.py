"""Building blocks shared by the fixation filters: label codes, runs, gap fill-in, eye selection.

Every function here works on whole numpy arrays (no Python loop over samples). The
gap fill-in and eye selection implement steps 1 and 2 of the Tobii I-VT filter
(Olsen, 2012, sec. 3.1.1 and 3.1.2) and are reused by the I-DT filter so that both
algorithms see the same gaze signal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError

#: Per-sample label codes (``FixationResult.labels``, int8).
UNKNOWN: int = 0   #: gaze present but not classified (no velocity, or a discarded short fixation)
FIXATION: int = 1  #: sample belongs to a fixation
SACCADE: int = 2   #: velocity at or above threshold (I-VT) / outside every fixation (I-DT)
GAP: int = 3       #: no gaze for this sample after gap fill-in and eye selection

LABEL_NAMES: dict[int, str] = {UNKNOWN: "unknown", FIXATION: "fixation", SACCADE: "saccade", GAP: "gap"}

#: Columns of ``FixationResult.fixations`` (and of the CLI's events TSV), in order.
FIXATION_COLUMNS: tuple[str, ...] = ("onset_s", "offset_s", "duration_s", "x_px", "y_px", "n_samples")

EYE_SELECTIONS: tuple[str, ...] = ("average", "left", "right", "strict_average")

#: Tolerance for comparing durations (s). Tobii timestamps are integer microseconds,
#: so half a microsecond separates "equal" from "one tick longer" exactly.
TIME_TOL_S: float = 0.5e-6


@dataclass
class FixationResult:
    """Output of :func:`analysis.fixations.detect_fixations`.

    Attributes
    ----------
    fixations : pandas.DataFrame
        One row per fixation, sorted by onset, with columns :data:`FIXATION_COLUMNS`:
        ``onset_s``, ``offset_s``, ``duration_s`` (seconds on the input clock; event
        boundaries lie halfway between samples), ``x_px``, ``y_px`` (mean of the
        fixation's gaze points) and ``n_samples`` (gaze samples that make it up).
    labels : numpy.ndarray of int8
        One label per input sample: 0 unknown, 1 fixation, 2 saccade, 3 gap
        (see :data:`LABEL_NAMES`).
    time_s : numpy.ndarray
        The input timestamps (s).
    x_px, y_px : numpy.ndarray
        The gaze signal the classifier saw: after gap fill-in, eye selection and
        (I-VT) noise reduction; NaN where there is none.
    velocity_deg_s : numpy.ndarray or None
        Angular velocity per sample (I-VT; NaN where none could be computed), or
        ``None`` for I-DT. The I-VT classifier does not need it, so it is computed
        on first access (then kept): pass a zero-argument callable returning the
        array instead of the array to defer it.
    algorithm : str
        ``"ivt"`` or ``"idt"``.
    config : IVTConfig or IDTConfig
        The parameters used.
    """

    fixations: pd.DataFrame
    labels: np.ndarray
    time_s: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    velocity_deg_s: np.ndarray | None
    algorithm: str
    config: Any
    info: dict[str, Any] = field(default_factory=dict)

    def labels_frame(self) -> pd.DataFrame:
        """Per-sample ``time_s`` and ``label`` (int8) as a DataFrame."""
        return pd.DataFrame({"time_s": self.time_s, "label": self.labels})


def _get_velocity(self: FixationResult) -> np.ndarray | None:
    v = self.__dict__.get("_velocity_deg_s")
    if callable(v):
        v = v()
        self.__dict__["_velocity_deg_s"] = v
    return v


def _set_velocity(self: FixationResult, value: Any) -> None:
    self.__dict__["_velocity_deg_s"] = value


# ``velocity_deg_s`` stays a dataclass field (same constructor, fields(), replace());
# the property makes a callable given for it lazy.
FixationResult.velocity_deg_s = property(_get_velocity, _set_velocity,  # type: ignore[assignment]
                                         doc="Angular velocity per sample (deg/s), computed on first access.")


@dataclass
class EventArrays:
    """Fixations as parallel arrays (one element per fixation, sorted by onset).

    ``start``/``stop`` are sample indices: the fixation spans samples
    ``start <= i < stop``.
    """

    onset_s: np.ndarray
    offset_s: np.ndarray
    duration_s: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    n_samples: np.ndarray
    start: np.ndarray
    stop: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "onset_s": self.onset_s,
            "offset_s": self.offset_s,
            "duration_s": self.duration_s,
            "x_px": self.x_px,
            "y_px": self.y_px,
            "n_samples": self.n_samples.astype(np.int64),
        }, columns=list(FIXATION_COLUMNS))


def check_time(time_s: np.ndarray) -> np.ndarray:
    """Return ``time_s`` as float64 after checking it is finite and strictly increasing."""
    t = np.asarray(time_s, dtype=np.float64)
    if t.ndim != 1:
        raise InputError("timestamps must be one-dimensional", expected="a 1-D array of seconds")
    # one pass: strictly increasing (NaN compares false) with finite ends => all finite
    increasing = bool(np.greater(t[1:], t[:-1]).all()) if t.size > 1 else True
    if t.size and increasing and np.isfinite(t[0]) and np.isfinite(t[-1]):
        return t
    finite = np.isfinite(t)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InputError(f"timestamp of sample {bad} is not a finite number", column="time_s",
                         expected="finite timestamps", fix="remove or repair the sample")
    if not increasing:
        bad = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise InputError(f"timestamps are not strictly increasing at sample {bad}", column="time_s",
                         expected="strictly increasing timestamps",
                         fix="sort the samples by time and remove duplicates")
    return t


#: At most this many inter-sample intervals, evenly spread over the recording, enter
#: the median sampling interval (all of them for recordings up to this length).
MEDIAN_INTERVALS: int = 1 << 13


def median_interval(time_s: np.ndarray) -> float:
    """Median sampling interval (s), the measured sampling period.

    The median inter-sample interval is used (not the nominal rate) so that dropped
    samples and clock jitter do not bias it (Olsen, 2012, sec. 3.1.4, bases the
    window's sample count on the data's measured sampling frequency). For recordings
    longer than :data:`MEDIAN_INTERVALS` samples the median is taken over that many
    intervals evenly spread over the whole recording (every k-th interval), which
    keeps this step O(1) in memory; the window's sample count is a rounded ratio and
    does not change with such an estimate.
    """
    n = time_s.size
    if n < 2:
        raise InputError("at least two samples are needed to measure the sampling interval",
                         expected=">= 2 samples", fix="give a longer recording")
    step = max(1, (n - 1) // MEDIAN_INTERVALS)
    first = time_s[:-1:step]
    return float(np.median(time_s[1::step][:first.size] - first))


def runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and stop (exclusive) indices of every run of ``True`` in a boolean array."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    edges = np.flatnonzero(m[1:] != m[:-1]) + 1
    if m[0]:
        edges = np.concatenate(([0], edges))
    if m[-1]:
        edges = np.concatenate((edges, [m.size]))
    edges = edges.astype(np.int64, copy=False)
    return edges[0::2], edges[1::2]


def expand(starts: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of all samples in the ranges ``[starts[k], stops[k])`` and their range number ``k``."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(stops, dtype=np.int64) - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    owner = np.repeat(np.arange(starts.size, dtype=np.int64), lengths)
    offsets = np.cumsum(lengths) - lengths
    idx = np.arange(total, dtype=np.int64) - offsets[owner] + starts[owner]
    return idx, owner


def event_bounds(time_s: np.ndarray, start: np.ndarray, stop: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Onset/offset of events spanning samples ``[start, stop)``, at sample midpoints.

    An event's onset is halfway between its first sample and the sample before it;
    its offset halfway between its last sample and the sample after it (Olsen, 2012,
    sec. 3.1.5: each sample stands for the time around it, so the event boundary lies
    between the last sample of one class and the first of the next). At the first and
    last sample of the recording, where there is no neighbour, half the median
    sampling interval ``dt`` is used.
    """
    t = time_s
    n = t.size
    first = t[start]
    before = np.where(start > 0, t[np.maximum(start - 1, 0)], first - dt)
    last = t[stop - 1]
    after = np.where(stop < n, t[np.minimum(stop, n - 1)], last + dt)
    return 0.5 * (before + first), 0.5 * (last + after)


def segment_sums(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Sums of ``values[start[k]:stop[k]]`` for non-empty, non-overlapping ranges sorted by start."""
    if start.size == 0:
        return np.zeros(0, dtype=np.float64)
    idx = np.empty(2 * start.size, dtype=np.int64)
    idx[0::2] = start
    idx[1::2] = stop
    tail_open = idx[-1] >= values.size
    if tail_open:
        idx = idx[:-1]
    sums = np.add.reduceat(values, idx)[0::2]
    return sums


# ---------------------------------------------------------------------------
# Step 1: gap fill-in (Olsen 2012, sec. 3.1.1)
# ---------------------------------------------------------------------------

@dataclass
class GapFill:
    """Samples of one eye to be filled by linear interpolation.

    ``idx`` are the filled sample indices; each lies between valid samples ``prev``
    and ``next`` with interpolation weight ``w`` = (t - t_prev) / (t_next - t_prev).
    """

    idx: np.ndarray
    prev: np.ndarray
    next: np.ndarray
    w: np.ndarray

    def interpolate(self, values: np.ndarray) -> np.ndarray:
        a = values[self.prev]
        return a + self.w * (values[self.next] - a)

    def where(self, keep: np.ndarray) -> GapFill:
        """Only the filled samples whose ``keep`` (bool per sample of the recording) is set."""
        k = keep[self.idx]
        return GapFill(idx=self.idx[k], prev=self.prev[k], next=self.next[k], w=self.w[k])


def find_gaps(time_s: np.ndarray, valid: np.ndarray, max_gap_s: float) -> GapFill:
    """Step 1 of the Tobii I-VT filter: which invalid samples of one eye are filled.

    A *gap* is a run of consecutive invalid samples. It is filled when it has a valid
    sample on both sides and the time from the last valid sample before it to the
    first valid sample after it is at most ``max_gap_s`` (+ :data:`TIME_TOL_S`).
    That is the span the straight line is drawn across, and the time during which the
    eye was not tracked plus one sampling interval; a 75 ms limit at 60 Hz fills up to
    3 missing samples (4 intervals = 66.7 ms). Gaps at the start or end of the
    recording are never filled.

    Source: Olsen (2012), "The Tobii I-VT Fixation Filter", sec. 3.1.1 "Gap fill-in
    interpolation": linear interpolation of each eye's data over gaps shorter than the
    "max gap length", default 75 ms (Tobii Pro Lab preset "Tobii I-VT (Fixation)").
    """
    starts, stops = runs(~valid)
    n = valid.size
    inner = (starts > 0) & (stops < n)
    starts, stops = starts[inner], stops[inner]
    prev = starts - 1
    nxt = stops
    span = time_s[nxt] - time_s[prev]
    ok = span <= max_gap_s + TIME_TOL_S
    starts, stops, prev, nxt, span = starts[ok], stops[ok], prev[ok], nxt[ok], span[ok]
    idx, owner = expand(starts, stops)
    p = prev[owner]
    q = nxt[owner]
    w = (time_s[idx] - time_s[p]) / span[owner]
    return GapFill(idx=idx, prev=p, next=q, w=w)


# ---------------------------------------------------------------------------
# Step 2: eye selection (Olsen 2012, sec. 3.1.2)
# ---------------------------------------------------------------------------

def combine_eyes(left: np.ndarray, right: np.ndarray, left_ok: np.ndarray, right_ok: np.ndarray,
                 mode: str, out: np.ndarray | None = None) -> np.ndarray:
    """Step 2 for one coordinate: combine the two eyes' values per ``mode``.

    ``average``: mean of both eyes where both are valid, the valid eye's value where
    only one is, NaN otherwise. ``strict_average``: mean only where both are valid.
    ``left``/``right``: that eye only. (Olsen, 2012, sec. 3.1.2; Tobii Pro Lab "Eye
    selection": Left, Right, Average, Strict average; preset: Average.)
    """
    if out is None:
        out = np.empty(np.shape(left))
    if mode in ("left", "right"):
        src, ok = (left, left_ok) if mode == "left" else (right, right_ok)
        np.copyto(out, src)
        np.copyto(out, np.nan, where=~ok)
        return out
    if mode == "strict_average":
        np.add(left, right, out=out)
        out *= 0.5
        np.copyto(out, np.nan, where=~(left_ok & right_ok))
        return out
    # average: with invalid values set to NaN, (fmin + fmax) / 2 is the mean of two
    # valid values (the same sum, so bit-identical), the valid one if only one is, NaN if none
    lc = np.where(left_ok, left, np.nan)
    rc = np.where(right_ok, right, np.nan)
    np.fmin(lc, rc, out=out)
    np.fmax(lc, rc, out=lc)
    out += lc
    out *= 0.5
    return out


#: Samples per block for the element-wise passes of steps 1-2: temporaries of a block
#: (128 KiB) stay in the L2 cache while a block's ~0.1 ms of numpy calls amortises
#: their per-call overhead; results do not depend on it.
BLOCK: int = 1 << 14


def _valid_mask(flag: np.ndarray, coords: Any) -> np.ndarray:
    """``flag & isfinite(c)`` for every coordinate array in ``coords``, block by block."""
    n = flag.size
    out = np.empty(n, dtype=bool)
    tmp = np.empty(min(n, BLOCK), dtype=bool)
    for c0 in range(0, n, BLOCK):  # blocks of samples
        c1 = min(c0 + BLOCK, n)
        o = out[c0:c1]
        np.copyto(o, flag[c0:c1])
        t = tmp[:c1 - c0]
        for c in coords:
            np.isfinite(c[c0:c1], out=t)
            o &= t
    return out


def _pad(ok: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> None:
    """``out`` = -0.0 where ``ok``, +NaN (as ``np.nan``) where not; arithmetic, no ``np.where``.

    ``v + out`` is then ``v`` exactly where ``ok`` (``-0.0`` is the additive identity for
    every ``v``, signed zeros included) and NaN where not. ``-0.0 / 0`` gives the
    platform's default NaN, whose sign bit varies, so the sign is set explicitly.
    """
    np.copyto(out, ok)                   # 1.0 / 0.0
    np.subtract(0.5, out, out=scratch)   # sign source: -0.5 where ok, +0.5 where not
    np.divide(-0.0, out, out=out)        # -0.0 / NaN
    np.copysign(out, scratch, out=out)


def _select_blocks(lx: np.ndarray, ly: np.ndarray, rx: np.ndarray, ry: np.ndarray, lflag: np.ndarray,
                   rflag: np.ndarray, mode: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-eye validity (flag and finite coordinates) and the selected gaze, in one pass of blocks.

    Returns ``x, y, left_valid, right_valid``; the same as :func:`_valid_mask` followed
    by :func:`_combine_blocks`, but each block's data are read while still in cache.
    """
    n = lx.size
    x = np.empty(n)
    y = np.empty(n)
    lv = np.empty(n, dtype=bool)
    rv = np.empty(n, dtype=bool)
    tmp = np.empty(min(n, BLOCK), dtype=bool)
    fbuf = [np.empty(min(n, BLOCK)) for _ in range(4)] if mode == "average" else []
    with np.errstate(divide="ignore", invalid="ignore"):  # -0.0 / 0 -> NaN, intended
        for c0 in range(0, n, BLOCK):  # blocks of samples
            c1 = min(c0 + BLOCK, n)
            t = tmp[:c1 - c0]
            for flag, cx, cy, out in ((lflag, lx, ly, lv), (rflag, rx, ry, rv)):
                o = out[c0:c1]
                np.isfinite(cx[c0:c1], out=o)
                o &= flag[c0:c1]
                np.isfinite(cy[c0:c1], out=t)
                o &= t
            if mode != "average":
                combine_eyes(lx[c0:c1], rx[c0:c1], lv[c0:c1], rv[c0:c1], mode, out=x[c0:c1])
                combine_eyes(ly[c0:c1], ry[c0:c1], lv[c0:c1], rv[c0:c1], mode, out=y[c0:c1])
                continue
            # average, as combine_eyes but without np.where (see _pad)
            m = c1 - c0
            pl, pr, lc, rc = fbuf[0][:m], fbuf[1][:m], fbuf[2][:m], fbuf[3][:m]
            _pad(lv[c0:c1], pl, lc)
            _pad(rv[c0:c1], pr, rc)
            for left, right, out in ((lx, rx, x), (ly, ry, y)):
                o = out[c0:c1]
                np.add(left[c0:c1], pl, out=lc)
                np.add(right[c0:c1], pr, out=rc)
                np.fmin(lc, rc, out=o)
                np.fmax(lc, rc, out=lc)
                o += lc
                o *= 0.5
    return x, y, lv, rv


def _combine_blocks(left: np.ndarray, right: np.ndarray, left_ok: np.ndarray, right_ok: np.ndarray,
                    mode: str) -> np.ndarray:
    """:func:`combine_eyes` over the whole recording, block by block (same result)."""
    return _combine_blocks_many([left], [right], left_ok, right_ok, mode)[0]


def _combine_blocks_many(lefts: list[np.ndarray], rights: list[np.ndarray], left_ok: np.ndarray,
                         right_ok: np.ndarray, mode: str) -> list[np.ndarray]:
    """:func:`combine_eyes` for several coordinates sharing the validity masks, block by block.

    Same result as :func:`combine_eyes` per coordinate; for ``average`` without
    ``np.where``: the values padded by :func:`_pad` (themselves where the eye is valid,
    NaN where not) give the same ``fmin``/``fmax`` sum as in :func:`combine_eyes`.
    """
    n = left_ok.size
    outs = [np.empty(n) for _ in lefts]
    w = min(n, BLOCK)
    if mode == "average":
        pl, pr, lc, rc = (np.empty(w) for _ in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):  # -0.0 / 0 -> NaN, intended
        for c0 in range(0, n, BLOCK):  # blocks of samples
            c1 = min(c0 + BLOCK, n)
            if mode != "average":
                for left, right, out in zip(lefts, rights, outs):
                    combine_eyes(left[c0:c1], right[c0:c1], left_ok[c0:c1], right_ok[c0:c1], mode,
                                 out=out[c0:c1])
                continue
            m = c1 - c0
            bl, br, bc, bd = pl[:m], pr[:m], lc[:m], rc[:m]
            _pad(left_ok[c0:c1], bl, bc)
            _pad(right_ok[c0:c1], br, bd)
            for left, right, out in zip(lefts, rights, outs):
                o = out[c0:c1]
                np.add(left[c0:c1], bl, out=bc)
                np.add(right[c0:c1], br, out=bd)
                np.fmin(bc, bd, out=o)
                np.fmax(bc, bd, out=bc)
                o += bc
                o *= 0.5
    return outs


def _check_mode(mode: str) -> None:
    if mode not in EYE_SELECTIONS:
        raise InputError(f"eye selection {mode!r} is not known", column="eye_selection",
                         expected="one of " + ", ".join(EYE_SELECTIONS), fix="pick one of the allowed values")


def _as_float(a: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.shape != (n,):
        raise InputError(f"{name} has shape {arr.shape}, the timestamps have ({n},)", column=name,
                         expected="one value per sample", fix="pass arrays of equal length")
    return arr


def _as_bool(a: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.shape != (n,):
        raise InputError(f"{name} has shape {arr.shape}, the timestamps have ({n},)", column=name,
                         expected="one value per sample", fix="pass arrays of equal length")
    return arr.astype(bool, copy=False)


def select_gaze(
    time_s: np.ndarray,
    left_x: Any, left_y: Any, right_x: Any, right_y: Any,
    left_valid: Any, right_valid: Any,
    eye_xyz: tuple[Any, Any, Any, Any, Any, Any] | None,
    mode: str,
    gap_fill: bool,
    max_gap_s: float,
    fill_both_eyes_lost: bool = True,
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None, dict[str, int]]:
    """Steps 1 and 2: per-eye gap fill-in, then eye selection.

    An eye's sample is valid when its validity flag is set and both coordinates are
    finite. Gap fill-in (when ``gap_fill``) interpolates each eye separately
    (:func:`find_gaps`), including that eye's position when given. The filled values
    are patched into the selection only at the filled samples, so the raw arrays are
    neither copied nor modified.

    ``fill_both_eyes_lost`` (default: True, Olsen 2012 sec. 3.1.1: each eye is filled
    on its own, whatever the other eye did): when False, an eye's gap is still found and
    interpolated across as above, but only its samples at which the *other* eye is valid
    are filled; samples where both eyes were lost (Tobii's ``EyesNotFound``) stay
    missing, however short. That is what Tobii Pro Lab 1.145 did in a real export
    (docs/fixations.md, "Presets"; ``prolab_1x`` in :mod:`analysis.fixations.presets`).

    Returns
    -------
    x, y : numpy.ndarray
        Selected gaze (px), NaN where none.
    eye : tuple of three arrays or None
        Selected eye position (mm, display-area coordinates), averaging the eyes
        whose position is known for ``average``/``strict_average``; NaN where unknown.
    counts : dict
        ``filled_left``/``filled_right``: samples filled per eye.
    """
    _check_mode(mode)
    n = time_s.size
    lx = _as_float(left_x, n, "left_x")
    ly = _as_float(left_y, n, "left_y")
    rx = _as_float(right_x, n, "right_x")
    ry = _as_float(right_y, n, "right_y")
    x, y, lv, rv = _select_blocks(lx, ly, rx, ry, _as_bool(left_valid, n, "left_valid"),
                                  _as_bool(right_valid, n, "right_valid"), mode)

    eyes = None
    if eye_xyz is not None:
        if len(eye_xyz) != 6:
            raise InputError("eye_xyz must hold six arrays", expected="(left_x, left_y, left_z, right_x, right_y, right_z) in mm")
        eyes = [_as_float(a, n, f"eye_xyz[{k}]") for k, a in enumerate(eye_xyz)]

    if mode == "left":
        use_left, use_right = True, False
    elif mode == "right":
        use_left, use_right = False, True
    else:
        use_left = use_right = True

    fill_l = find_gaps(time_s, lv, max_gap_s) if (gap_fill and use_left) else None
    fill_r = find_gaps(time_s, rv, max_gap_s) if (gap_fill and use_right) else None
    if not fill_both_eyes_lost:
        fill_l = None if fill_l is None else fill_l.where(rv)
        fill_r = None if fill_r is None else fill_r.where(lv)
    counts = {"filled_left": 0 if fill_l is None else int(fill_l.idx.size),
              "filled_right": 0 if fill_r is None else int(fill_r.idx.size)}

    eye_mode = "average" if mode == "strict_average" else mode
    eye_sel = None
    if eyes is not None:
        lev = _valid_mask(lv, eyes[0:3])
        rev = _valid_mask(rv, eyes[3:6])
        eye_sel = tuple(_combine_blocks_many(eyes[0:3], eyes[3:6], lev, rev, eye_mode))

    patches = [f.idx for f in (fill_l, fill_r) if f is not None and f.idx.size]
    if patches:
        # Recompute the selection at every sample where an eye was filled, from the
        # gathered raw values with the filled ones substituted.
        touched = np.zeros(n, dtype=bool)
        for f in patches:
            touched[f] = True
        p = np.flatnonzero(touched)
        del touched
        g = {"lx": lx[p], "ly": ly[p], "rx": rx[p], "ry": ry[p], "lv": lv[p], "rv": rv[p]}
        ge = [e[p] for e in eyes] if eyes is not None else None
        for fill, side in ((fill_l, "l"), (fill_r, "r")):
            if fill is None or not fill.idx.size:
                continue
            pos = np.searchsorted(p, fill.idx)
            g[side + "x"][pos] = fill.interpolate(lx if side == "l" else rx)
            g[side + "y"][pos] = fill.interpolate(ly if side == "l" else ry)
            g[side + "v"][pos] = True
            if ge is not None:
                off = 0 if side == "l" else 3
                for k in range(3):
                    ge[off + k][pos] = fill.interpolate(eyes[off + k])
        x[p] = combine_eyes(g["lx"], g["rx"], g["lv"], g["rv"], mode)
        y[p] = combine_eyes(g["ly"], g["ry"], g["lv"], g["rv"], mode)
        if eye_sel is not None and ge is not None:
            glev = g["lv"] & np.isfinite(ge[0]) & np.isfinite(ge[1]) & np.isfinite(ge[2])
            grev = g["rv"] & np.isfinite(ge[3]) & np.isfinite(ge[4]) & np.isfinite(ge[5])
            for k in range(3):
                eye_sel[k][p] = combine_eyes(ge[k], ge[k + 3], glev, grev, eye_mode)
    return x, y, eye_sel, counts


def recording_arrays(recording: Any) -> dict[str, Any]:
    """The arrays a filter needs from an :class:`analysis.recording.Recording`.

    Eye positions are passed only when at least one is present in the samples; the
    viewing distance of the recording's geometry is used otherwise (and, per
    sample, wherever the eye position is missing).
    """
    s = recording.samples
    out: dict[str, Any] = {
        "time_s": s["time_s"].to_numpy(dtype=np.float64),
        "left_x": s["left_x_px"].to_numpy(dtype=np.float64),
        "left_y": s["left_y_px"].to_numpy(dtype=np.float64),
        "right_x": s["right_x_px"].to_numpy(dtype=np.float64),
        "right_y": s["right_y_px"].to_numpy(dtype=np.float64),
        "left_valid": s["left_valid"].to_numpy(dtype=bool),
        "right_valid": s["right_valid"].to_numpy(dtype=bool),
        "geometry": recording.meta.geometry,
        "eye_xyz": None,
    }
    cols = [f"{e}_eye_{a}_mm" for e in ("left", "right") for a in "xyz"]
    eye = [s[c].to_numpy(dtype=np.float64) for c in cols]
    if any(np.isfinite(a).any() for a in eye):
        out["eye_xyz"] = tuple(eye)
    return out


def prepare_gaze(time_s, left_x, left_y, right_x, right_y, left_valid, right_valid, eye_xyz,
                 eye_selection: str, gap_fill: bool, max_gap_s: float, fill_both_eyes_lost: bool = True):
    """The common start of every detector: checked timestamps, their median interval, and
    gap-filled, eye-selected gaze (Olsen 2012, sec. 3.1.1-3.1.2; :func:`select_gaze`).

    Returns ``(t, dt, x, y, eye, counts)``. Raises :class:`~analysis.errors.InputError`
    for fewer than two samples.
    """
    t = check_time(time_s)
    if t.size < 2:
        raise InputError("at least two samples are needed for fixation detection", expected=">= 2 samples",
                         fix="give a longer recording")
    dt = median_interval(t)
    x, y, eye, counts = select_gaze(t, left_x, left_y, right_x, right_y, left_valid, right_valid, eye_xyz,
                                    eye_selection, gap_fill, max_gap_s, fill_both_eyes_lost)
    return t, dt, x, y, eye, counts
