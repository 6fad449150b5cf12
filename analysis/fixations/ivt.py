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
step loops over samples in Python: steps 4-5 work in blocks of :data:`BLOCK` samples
(a loop over blocks, to bound temporary memory), the event steps work on run
boundaries with numpy reductions. Steps 4 and 5 are fused in :func:`_classify`, which
decides "velocity below the threshold" without ``arctan2`` and gives the same labels
as comparing :func:`_velocity`'s output; the velocities themselves are computed by
:func:`_velocity` only when :attr:`IVTOutput.velocity_deg_s` is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
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
    event_bounds,
    expand,
    runs,
    segment_sums,
    prepare_gaze,
)
from analysis.geometry import angle_between_deg, default_eye_position
from analysis.recording import Geometry

log = logging.getLogger(__name__)

#: Samples per block in the velocity calculator and classifier (bounds temporaries to
#: a few MB, mostly in cache, while amortising the per-call overhead of the ~40 numpy
#: calls per block; the result does not depend on it).
BLOCK: int = 1 << 15

#: Tolerance when comparing angles (deg) against the merge threshold.
ANGLE_TOL_DEG: float = 1e-9


class IVTOutput:
    """Everything :func:`ivt_filter` computes.

    ``events``: the fixations; ``labels``: int8 per sample (0 unknown, 1 fixation,
    2 saccade, 3 gap); ``x_px``/``y_px``: the gaze signal after steps 1-3;
    ``velocity_deg_s``: step 4's output (NaN where none); ``info``: counts and the
    derived window size.

    The classifier (step 5) does not need the velocities themselves (see
    :func:`_classify`), so ``velocity_deg_s`` is computed on first access, by
    :func:`_velocity`, and then kept; pass ``velocity_fn`` (no arguments, returns the
    array) instead of ``velocity_deg_s`` for that.
    """

    def __init__(self, events: EventArrays, labels: np.ndarray, x_px: np.ndarray, y_px: np.ndarray,
                 velocity_deg_s: np.ndarray | None = None, info: dict[str, Any] | None = None, *,
                 velocity_fn: Callable[[], np.ndarray] | None = None) -> None:
        self.events = events
        self.labels = labels
        self.x_px = x_px
        self.y_px = y_px
        self.info = {} if info is None else info
        self._velocity = velocity_deg_s
        self._velocity_fn = velocity_fn

    @property
    def velocity_deg_s(self) -> np.ndarray:
        """Step 4's angular velocity per sample (deg/s, NaN where none), computed on first access."""
        if self._velocity is None and self._velocity_fn is not None:
            self._velocity = self._velocity_fn()
            self._velocity_fn = None
        return self._velocity  # type: ignore[return-value]

    def velocity_fn(self) -> Callable[[], np.ndarray]:
        """A zero-argument callable returning :attr:`velocity_deg_s` (without computing it now)."""
        return lambda: self.velocity_deg_s

    def __repr__(self) -> str:
        return (f"IVTOutput({self.events.onset_s.size} fixations, {self.labels.size} samples, "
                f"info={self.info!r})")


def validate_ivt_config(config: IVTConfig) -> None:
    """Reject parameter values the filter cannot use, with an :class:`InputError`."""
    if not isinstance(config, IVTConfig):
        raise InputError(f"the I-VT filter needs an IVTConfig, got {type(config).__name__}",
                         expected="analysis.config.IVTConfig", fix="pass IVTConfig(...) or None for the defaults")
    choices = {"eye_selection": ("average", "left", "right", "strict_average"),
               "noise_reduction": ("none", "median", "average", "moving_median", "moving_average"),
               "velocity_window_at_gaps": ("unknown", "shift")}
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

#: Tobii Pro Lab's names of the noise-reduction methods ("Moving median", "Moving average") -> ours.
NOISE_ALIASES: dict[str, str] = {"moving_median": "median", "moving_average": "average"}


def _noise_reduction(x: np.ndarray, y: np.ndarray, method: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Step 3: moving median or moving average of the selected gaze, centred on each sample.

    ``method``: ``none``, ``median`` or ``average`` (``moving_median`` and
    ``moving_average``, Pro Lab's names, are the same two). It runs on the gaze after
    gap fill-in and eye selection (Olsen's order), so with ``strict_average`` it
    averages the both-eyes means, and gap-filled samples take part in the window.
    On a real Pro Lab 24.21 export labelled with "Strict average" + "Moving average"
    this centred 3-sample mean fits Tobii's labels best (kappa 0.96 with
    ``velocity_window_at_gaps = "shift"``; a trailing mean 0.86, the mean over the
    valid samples only before gap fill-in 0.93; docs/fixations.md "Presets").

    The window holds ``window`` samples (odd), centred on the sample. Where the full
    window would reach past the start/end of the data or into missing samples, it is
    shrunk symmetrically to the largest odd size that stays inside valid data, so the
    output sample remains centred (down to the sample itself). Missing samples stay
    missing.

    Source: Olsen (2012), sec. 3.1.3 "Noise reduction": moving median or moving
    average, window size in samples; Tobii Pro Lab preset: noise reduction off,
    window 3 samples when enabled.
    """
    method = NOISE_ALIASES.get(method, method)
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
              n_int: int, at_gaps: str = "unknown") -> np.ndarray:
    """Step 4: angular velocity (deg/s) of every sample.

    The window spans ``n_int`` sampling intervals around sample ``i``: from
    ``i - a`` to ``i + b`` with ``b = n_int // 2`` and ``a = n_int - b`` (centred when
    ``n_int`` is even; one sample more before ``i`` when odd, e.g. the previous and
    the current sample at 60 Hz). The velocity is the visual angle between the
    window's first and last gaze points divided by the time between them. The angle
    is measured from the eye (exact 3-D geometry, :func:`analysis.geometry.angle_between_deg`)
    using sample ``i``'s eye position when known, the viewing distance in front of
    the screen centre otherwise. No velocity (NaN) where the window reaches outside
    the recording or contains a missing sample; with ``at_gaps = "shift"`` such a
    sample takes the nearest complete window that contains it instead
    (:func:`_shifted_windows`).

    Used for :attr:`IVTOutput.velocity_deg_s` (on first access) and as the reference
    for :func:`_classify`, which labels the samples without computing this array.

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
    if at_gaps == "shift":
        i, i1 = _shifted_windows(np.isnan(x), n_int, a)
        v[i] = _window_velocity(time_s, x, y, eye, geometry, i, i1, i1 + n_int)
    return v


def _window_velocity(time_s: np.ndarray, x: np.ndarray, y: np.ndarray,
                     eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None, geometry: Geometry,
                     i: np.ndarray, i1: np.ndarray, i2: np.ndarray) -> np.ndarray:
    """Velocity (deg/s) of samples ``i`` over windows ``i1 .. i2``, seen from sample ``i``'s eye."""
    if eye is None:
        v = angle_between_deg(x[i1], y[i1], x[i2], y[i2], geometry)
    else:
        v = angle_between_deg(x[i1], y[i1], x[i2], y[i2], geometry, eye[0][i], eye[1][i], eye[2][i])
    v /= time_s[i2] - time_s[i1]
    return v


def _shifted_windows(missing: np.ndarray, n_int: int, a: int) -> tuple[np.ndarray, np.ndarray]:
    """Velocity windows shifted off gaps: ``(i, start)`` for every sample whose centred window is incomplete.

    For each sample ``i`` with gaze whose window ``[i - a, i - a + n_int]`` (see
    :func:`_velocity`) reaches outside the recording or holds a missing sample, the
    window of the same ``n_int`` intervals is shifted by the fewest samples (``+1``
    before ``-1``, then ``+2``, ``-2`` ...) to one that still contains ``i``, lies inside
    the recording and holds no missing sample; ``start`` is its first sample. Samples for
    which no such window exists are not returned (they keep no velocity). E.g. at
    120 Hz (``n_int = 2``) the first sample after a gap gets the window ``i .. i + 2``.

    This is :attr:`analysis.config.IVTConfig.velocity_window_at_gaps` ``= "shift"``:
    measured on real Tobii Pro Lab 24.21 exports, where Tobii classifies the samples
    next to a gap that our centred window leaves without a velocity (docs/fixations.md,
    "Presets"; the cemGr reconstruction of these exports calls it a shifted valid
    window). Olsen (2012, sec. 3.1.4) does not say what happens there. The loop runs
    over the ``2 n_int`` shifts, not over samples.
    """
    n = missing.size
    cs = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(missing, out=cs[1:])
    # full[s]: the window starting at s lies inside the recording and has no missing sample
    full = np.zeros(n, dtype=bool)
    if n > n_int:
        full[:n - n_int] = cs[n_int + 1:] == cs[:n - n_int]
    nominal = np.arange(n) - a
    ok = np.zeros(n, dtype=bool)
    inside = (nominal >= 0) & (nominal < n)
    ok[inside] = full[nominal[inside]]
    cand = np.flatnonzero(~ok & ~missing)
    start = np.full(cand.size, -1, dtype=np.int64)
    for k in range(1, n_int + 1):  # shifts, nearest first
        for d in (k, -k):
            s = cand - a + d
            good = (start < 0) & (s >= 0) & (s <= cand) & (s + n_int >= cand) & (s < n)
            good[good] = full[s[good]]
            start[good] = s[good]
    keep = start >= 0
    return cand[keep], start[keep]


# ---------------------------------------------------------------------------
# Step 5: I-VT classifier (Olsen 2012, sec. 3.1.5)
# ---------------------------------------------------------------------------

#: Relative safety margin of the fast classification (see :func:`_classify`): tangents
#: within this fraction of a block's threshold tangents are decided by the exact velocity.
FAST_MARGIN: float = 1e-7

#: The fast classification is used where every threshold angle of a block lies in
#: [FAST_MIN_RAD, FAST_MAX_RAD] (radians); other blocks use the exact velocity.
FAST_MIN_RAD: float = 1e-5
FAST_MAX_RAD: float = 1.2


def _classify(time_s: np.ndarray, x: np.ndarray, y: np.ndarray,
              eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None, geometry: Geometry,
              n_int: int, threshold: float, dt: float, at_gaps: str = "unknown") -> np.ndarray:
    """Steps 4 + 5: label each sample by its angular velocity, without computing most velocities.

    Velocity below ``threshold`` -> fixation (1); at or above -> saccade (2); no
    velocity (as defined by :func:`_velocity`) -> unknown (0), or gap (3) where the
    sample has no gaze at all. The labels are exactly those of comparing
    :func:`_velocity`'s output with ``threshold`` (``v < threshold`` fixation,
    ``v >= threshold`` saccade).

    How: with the eye-to-gaze vectors ``v1``, ``v2`` of the window's end points (the
    same exact 3-D eye-centred geometry as :func:`analysis.geometry.angle_between_deg`;
    both vectors share ``z = -eye_z``), ``cross = |v1 x v2|`` and ``dot = v1 . v2``, the
    angle is ``atan2(cross, dot)`` and the velocity is below the threshold iff the
    angle is below ``theta = threshold * dt_i`` (``dt_i`` the window's duration). For
    ``theta < 90 deg``, ``angle < theta`` iff ``cross < dot * tan(theta)`` (``dot > 0``);
    ``cross > dot * tan(theta)`` covers ``dot <= 0`` too. Per block of :data:`BLOCK`
    samples, with the smallest and largest ``theta`` of the block, ``cross < dot *
    tan(theta_min) * (1 - FAST_MARGIN)`` is surely a fixation sample and ``cross > dot
    * tan(theta_max) * (1 + FAST_MARGIN)`` surely a saccade sample. The few samples in
    between (velocity within the block's timing jitter of the threshold), samples
    whose window spans more than twice the usual duration (recording pauses), and
    whole blocks whose threshold angles lie outside [:data:`FAST_MIN_RAD`,
    :data:`FAST_MAX_RAD`] get the exact velocity (:func:`analysis.geometry.angle_between_deg`,
    as in :func:`_velocity`) and are compared as above. The margin (1e-7) is orders
    of magnitude above the rounding error of either computation (< 1e-9 relative for
    angles >= 1e-5 rad), so ties at exactly the threshold are decided by the exact
    velocity and the result does not depend on the shortcut.

    Source: Olsen (2012), sec. 3.1.4 "Velocity calculator" (20 ms window, angle
    between the window's first and last gaze points seen from the eye) and sec. 3.1.5
    "I-VT classifier": velocity threshold 30 deg/s (Tobii Pro Lab preset).
    """
    n = x.size
    b = n_int // 2
    a = n_int - b
    labels = np.zeros(n, dtype=np.int8)
    sx, sy = geometry.mm_per_px
    dx0, dy0, dz0 = default_eye_position(geometry)
    k = float(np.radians(threshold))  # rad/s: theta_i = k * dt_i
    cap = 2.0 * n_int * dt            # longer windows (pauses) are judged exactly
    lo_i, hi_i = a, n - b
    if hi_i > lo_i:
        w = min(BLOCK, hi_i - lo_i)
        U = np.empty(w + n_int)
        W = np.empty(w + n_int)
        f = [np.empty(w) for _ in range(5)]
        gbuf = np.empty(w, dtype=bool)
        sbuf = np.empty(w, dtype=bool)
        bnd = np.empty(w, dtype=bool)
        band: list[np.ndarray] = []  # sample indices decided by the exact velocity
        for c0 in range(lo_i, hi_i, BLOCK):  # blocks of samples
            c1 = min(c0 + BLOCK, hi_i)
            m = c1 - c0
            u, wv = U[:m + n_int], W[:m + n_int]
            np.multiply(x[c0 - a:c1 + b], sx, out=u)
            np.multiply(y[c0 - a:c1 + b], sy, out=wv)
            d1, d2, cr, dot, tmp = (g[:m] for g in f)
            if eye is None:
                u -= dx0
                wv -= dy0
                u1, u2, w1, w2 = u[:m], u[n_int:], wv[:m], wv[n_int:]
                ez2: Any = dz0 * dz0
            else:
                ex, ey, ez = eye[0][c0:c1], eye[1][c0:c1], eye[2][c0:c1]
                miss = np.isnan(ex) | np.isnan(ey) | np.isnan(ez)
                if miss.any():
                    ex, ey, ez = np.where(miss, dx0, ex), np.where(miss, dy0, ey), np.where(miss, dz0, ez)
                u1, u2 = u[:m] - ex, u[n_int:] - ex
                w1, w2 = wv[:m] - ey, wv[n_int:] - ey
                ez2 = ez * ez
            # |v1 x v2|^2 = ez^2 ((u2-u1)^2 + (w2-w1)^2) + (u1 w2 - w1 u2)^2
            np.subtract(u2, u1, out=d1)
            d1 *= d1
            np.subtract(w2, w1, out=d2)
            d2 *= d2
            d1 += d2
            d1 *= ez2
            np.multiply(u1, w2, out=cr)
            np.multiply(w1, u2, out=tmp)
            cr -= tmp
            cr *= cr
            cr += d1
            np.sqrt(cr, out=cr)
            # v1 . v2 = u1 u2 + w1 w2 + ez^2
            np.multiply(u1, u2, out=dot)
            np.multiply(w1, w2, out=tmp)
            dot += tmp
            dot += ez2
            # window durations and the block's threshold tangents
            np.subtract(time_s[c0 + b:c1 + b], time_s[c0 - a:c1 - a], out=d2)
            t_lo, t_hi = float(d2.min()), float(d2.max())
            ge, sc, bd = gbuf[:m], sbuf[:m], bnd[:m]
            lab = labels[c0:c1]
            long_win = None
            if t_hi > cap:
                long_win = d2 > cap
                t_hi = cap
            if k * t_lo < FAST_MIN_RAD or k * t_hi > FAST_MAX_RAD:
                np.isfinite(cr, out=bd)  # the whole block exactly
            else:
                tan_lo = np.tan(k * t_lo) * (1.0 - FAST_MARGIN)
                tan_hi = np.tan(k * t_hi) * (1.0 + FAST_MARGIN)
                # ge: not surely a fixation; sc: surely a saccade (sc implies ge); the
                # band ge & ~sc = ge ^ sc is decided exactly. NaN (a window end without
                # gaze) compares False, and such samples are relabelled below.
                np.multiply(dot, tan_lo, out=tmp)
                np.greater_equal(cr, tmp, out=ge)
                np.multiply(dot, tan_hi, out=tmp)
                np.greater(cr, tmp, out=sc)
                if long_win is not None:
                    sc &= ~long_win
                np.bitwise_xor(ge, sc, out=bd)
                np.add(ge.view(np.int8), np.int8(FIXATION), out=lab)  # 1 fixation, 2 saccade
            idx = np.flatnonzero(bd)
            if idx.size:
                idx += c0
                band.append(idx)
        if band:  # all blocks' undecided samples in one call
            idx = np.concatenate(band)
            labels[idx] = _exact_labels(time_s, x, y, eye, geometry, a, b, idx, threshold)
    # no velocity (unknown) where the window reaches outside the recording or contains
    # a missing sample (a run of missing samples [s, e) touches samples s-b .. e+a-1);
    # gap where the sample itself has no gaze
    labels[:lo_i] = UNKNOWN
    labels[max(hi_i, lo_i):] = UNKNOWN
    s0, s1 = runs(np.isnan(x))
    if s0.size:
        idx, _ = expand(np.maximum(s0 - b, 0), np.minimum(s1 + a, n))
        labels[idx] = UNKNOWN
        idx, _ = expand(s0, s1)
        labels[idx] = GAP
    if at_gaps == "shift":  # samples next to gaps and the ends: the nearest complete window
        i, i1 = _shifted_windows(np.isnan(x), n_int, a)
        if i.size:
            labels[i] = _labels_from_velocity(_window_velocity(time_s, x, y, eye, geometry, i, i1, i1 + n_int),
                                              threshold)
    return labels


def _exact_labels(time_s: np.ndarray, x: np.ndarray, y: np.ndarray,
                  eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None, geometry: Geometry,
                  a: int, b: int, i: np.ndarray, threshold: float) -> np.ndarray:
    """Labels of samples ``i`` from their exact velocity (the same operations as :func:`_velocity`)."""
    return _labels_from_velocity(_window_velocity(time_s, x, y, eye, geometry, i, i - a, i + b), threshold)


def _labels_from_velocity(velocity: np.ndarray, threshold: float) -> np.ndarray:
    """Step 5 on given velocities: < threshold fixation, >= threshold saccade, NaN unknown."""
    labels = np.zeros(velocity.size, dtype=np.int8)
    np.copyto(labels, np.int8(FIXATION), where=velocity < threshold)
    np.copyto(labels, np.int8(SACCADE), where=velocity >= threshold)
    return labels


def _classify_exact(velocity: np.ndarray, x: np.ndarray, threshold: float) -> np.ndarray:
    """Step 5 from :func:`_velocity`'s output (the reference for :func:`_classify`)."""
    labels = _labels_from_velocity(velocity, threshold)
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
           max_gap_s: float, max_angle_deg: float, covers_gaps: bool = False) -> _Fix:
    """Step 6: merge consecutive fixations close in time and space.

    Two consecutive fixations (as classified in step 5) are merged when the time
    between them (next onset minus previous offset, both at sample midpoints) is at
    most ``max_gap_s`` and the visual angle between their positions, seen from the
    eye (mean eye position of the two fixations, or the viewing distance), is at most
    ``max_angle_deg``. Each pair is judged on the step-5 fixations; a chain of
    mergeable pairs becomes one fixation. The samples between merged fixations that
    have gaze become fixation samples; the merged position is the mean of all its
    fixation samples' gaze points. With ``covers_gaps`` (default: False) the samples
    without gaze between them are labelled fixation too (the merged fixation is one
    event spanning that time, and Tobii Pro Lab's export labels every sample in it
    ``Fixation``: 35 of 35 such samples in a real Pro Lab 1.145 export, docs/fixations.md
    "Presets"); they still add nothing to the position.

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
    if covers_gaps:
        labels[idx] = FIXATION
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
    # steps 1 + 2
    t, dt, x, y, eye, counts = prepare_gaze(time_s, left_x, left_y, right_x, right_y, left_valid, right_valid,
                                            eye_xyz, cfg.eye_selection, cfg.gap_fill, cfg.max_gap_ms / 1000.0,
                                            cfg.fill_both_eyes_lost)
    # step 3
    x, y = _noise_reduction(x, y, cfg.noise_reduction, cfg.noise_window_samples)
    # steps 4 + 5 (the velocities themselves are computed only when asked for)
    n_int = window_intervals(cfg.velocity_window_ms / 1000.0, dt)
    labels = _classify(t, x, y, eye, geometry, n_int, cfg.velocity_threshold_deg_s, dt, cfg.velocity_window_at_gaps)
    fix = _fixation_runs(t, labels, x, y, eye if cfg.merge else None, dt)
    n_classified = int(fix.start.size)
    # step 6
    if cfg.merge:
        fix = _merge(fix, labels, x, y, geometry, cfg.merge_max_gap_ms / 1000.0, cfg.merge_max_angle_deg,
                     cfg.merge_covers_gaps)
    n_merged = n_classified - int(fix.start.size)
    # step 7
    n_before = int(fix.start.size)
    if cfg.discard_short:
        fix = _discard_short(fix, labels, cfg.min_fixation_ms / 1000.0)
        if cfg.merge and cfg.merge_covers_gaps:  # covered samples without gaze of discarded fixations: gaps again
            labels[(labels == UNKNOWN) & np.isnan(x)] = GAP
    n_discarded = n_before - int(fix.start.size)
    events = EventArrays(
        onset_s=fix.onset, offset_s=fix.offset, duration_s=fix.offset - fix.onset,
        x_px=fix.sx / fix.count if fix.count.size else np.zeros(0), y_px=fix.sy / fix.count if fix.count.size else np.zeros(0),
        n_samples=fix.count, start=fix.start, stop=fix.stop,
    )
    info = {"sampling_interval_s": dt, "velocity_window_intervals": n_int, "fixations_classified": n_classified,
            "fixations_merged_away": n_merged, "fixations_discarded": n_discarded, **counts}
    log.debug("I-VT: %s", info)
    return IVTOutput(events=events, labels=labels, x_px=x, y_px=y, info=info,
                     velocity_fn=lambda: _velocity(t, x, y, eye, geometry, n_int, cfg.velocity_window_at_gaps))


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
