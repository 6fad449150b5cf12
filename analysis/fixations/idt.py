"""Dispersion-threshold identification (I-DT), Salvucci & Goldberg (2000).

Source: Salvucci, D. D., & Goldberg, J. H. (2000). Identifying fixations and saccades
in eye-tracking protocols. *Proceedings of ETRA 2000*, 71-78, sec. 3.2 "Dispersion-based
algorithms", I-DT pseudocode: a window covering the duration threshold slides over
the samples; while its dispersion ``D = (max x - min x) + (max y - min y)`` stays at or
below the dispersion threshold the window grows, and the points in it form a
fixation; otherwise the window's first point is dropped. Defaults 1.0 deg and
100 ms as in :class:`analysis.config.IDTConfig`.

The gaze first passes eye selection (and, when enabled, gap fill-in) exactly as in
the Tobii I-VT filter (:func:`analysis.fixations._common.select_gaze`) so both filters
see the same signal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from analysis.config import IDTConfig
from analysis.errors import InputError
from analysis.fixations._common import (
    FIXATION,
    GAP,
    SACCADE,
    TIME_TOL_S,
    EventArrays,
    event_bounds,
    segment_sums,
    prepare_gaze,
)
from analysis.geometry import default_eye_position, px_to_mm
from analysis.recording import Geometry

log = logging.getLogger(__name__)


@dataclass
class IDTOutput:
    """Everything :func:`idt_filter` computes (``labels``: 1 fixation, 2 saccade, 3 gap)."""

    events: EventArrays
    labels: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def validate_idt_config(config: IDTConfig) -> None:
    """Reject parameter values I-DT cannot use, with an :class:`InputError`."""
    if not isinstance(config, IDTConfig):
        raise InputError(f"the I-DT filter needs an IDTConfig, got {type(config).__name__}",
                         expected="analysis.config.IDTConfig", fix="pass IDTConfig(...) or None for the defaults")
    allowed = ("average", "left", "right", "strict_average")
    if config.eye_selection not in allowed:
        raise InputError(f"idt.eye_selection = {config.eye_selection!r} is not allowed", column="idt.eye_selection",
                         expected="one of " + ", ".join(allowed), fix="pick one of the allowed values")
    for key in ("dispersion_deg", "min_duration_ms", "max_gap_ms"):
        if not getattr(config, key) > 0:
            raise InputError(f"idt.{key} must be positive", column=f"idt.{key}", expected="a number > 0",
                             fix="use a positive value")


def gaze_angles_deg(x_px: np.ndarray, y_px: np.ndarray, geometry: Geometry,
                    eye: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal and vertical gaze angle (deg) of screen points, seen from the eye.

    ``atan((x_mm - eye_x) / eye_z)`` and ``atan((y_mm - eye_y) / eye_z)``: exact per
    axis, with the eye at ``geometry.distance_mm`` in front of the screen centre where
    its position is unknown (the same convention as :mod:`analysis.geometry`).
    """
    xm, ym = px_to_mm(x_px, y_px, geometry)
    dx, dy, dz = default_eye_position(geometry)
    if eye is None:
        ex, ey, ez = dx, dy, dz
    else:
        known = np.isfinite(eye[0]) & np.isfinite(eye[1]) & np.isfinite(eye[2])
        ex = np.where(known, eye[0], dx)
        ey = np.where(known, eye[1], dy)
        ez = np.where(known, eye[2], dz)
    return np.degrees(np.arctan2(xm - ex, ez)), np.degrees(np.arctan2(ym - ey, ez))


def _dispersion(ax: np.ndarray, ay: np.ndarray, i: int, j: int) -> float:
    """Salvucci & Goldberg's dispersion of samples ``i..j`` (inclusive); inf if any is missing."""
    sx, sy = ax[i:j + 1], ay[i:j + 1]
    d = (sx.max() - sx.min()) + (sy.max() - sy.min())
    return float(d) if np.isfinite(d) else np.inf


def idt_filter(
    time_s: Any,
    left_x: Any, left_y: Any, right_x: Any, right_y: Any,
    left_valid: Any, right_valid: Any,
    geometry: Geometry,
    eye_xyz: tuple[Any, Any, Any, Any, Any, Any] | None = None,
    config: IDTConfig | None = None,
) -> IDTOutput:
    """Identify fixations by dispersion threshold (I-DT; Salvucci & Goldberg, 2000).

    Parameters are those of :func:`analysis.fixations.ivt.ivt_filter`, with an
    :class:`~analysis.config.IDTConfig`.

    Notes
    -----
    * The initial window holds ``k = ceil(min_duration / dt)`` samples (``dt``: median
      sampling interval), i.e. it covers the duration threshold with the midpoint
      convention used for every event here (``k * dt >= min_duration``).
    * Dispersion is measured in degrees of visual angle per axis
      (:func:`gaze_angles_deg`); a window with a missing sample is never a fixation.
    * The dispersion of all initial windows is computed at once with running
      min/max filters (van Herk/Gil-Werman, ``scipy.ndimage``); only starting points
      whose initial window qualifies are visited, and each fixation is grown by
      doubling then bisection on its end (dispersion never shrinks as the window
      grows). The Python loop is over fixations, not samples.
    * Labels: 1 fixation, 2 saccade (gaze present, not in a fixation, as in the
      original's two-class output), 3 gap.
    """
    cfg = IDTConfig() if config is None else config
    validate_idt_config(cfg)
    t, dt, x, y, eye, counts = prepare_gaze(time_s, left_x, left_y, right_x, right_y, left_valid, right_valid,
                                            eye_xyz, cfg.eye_selection, cfg.gap_fill, cfg.max_gap_ms / 1000.0)
    n = t.size
    ax, ay = gaze_angles_deg(x, y, geometry, eye)
    k = max(1, int(np.ceil(cfg.min_duration_ms / 1000.0 / dt - TIME_TOL_S / dt)))
    thr = cfg.dispersion_deg
    labels = np.where(np.isnan(x), np.int8(GAP), np.int8(SACCADE)).astype(np.int8)
    starts: list[int] = []
    stops: list[int] = []
    if n >= k:
        miss = np.isnan(ax) | np.isnan(ay)
        fx = np.where(miss, 0.0, ax)
        fy = np.where(miss, 0.0, ay)
        # running max/min over windows [i, i + k - 1]: centred filters shifted by `origin`
        origin = -(k // 2)
        m = n - k + 1
        spread = (maximum_filter1d(fx, k, origin=origin, mode="nearest")[:m]
                  - minimum_filter1d(fx, k, origin=origin, mode="nearest")[:m]
                  + maximum_filter1d(fy, k, origin=origin, mode="nearest")[:m]
                  - minimum_filter1d(fy, k, origin=origin, mode="nearest")[:m])
        cs = np.concatenate(([0], np.cumsum(miss, dtype=np.int64)))
        clean = cs[k:k + m] == cs[:m]
        candidates = np.flatnonzero(clean & (spread <= thr))
        pos = 0
        while True:
            c = int(np.searchsorted(candidates, pos))
            if c >= candidates.size:
                break
            i = int(candidates[c])
            j = i + k - 1  # last index known to qualify
            step = k
            hi = None
            while hi is None:  # doubling: find an end that fails (or the end of data)
                probe = min(j + step, n - 1)
                if probe == j:
                    break
                if _dispersion(ax, ay, i, probe) <= thr:
                    j = probe
                    step *= 2
                else:
                    hi = probe
            if hi is not None:  # bisection between j (qualifies) and hi (fails)
                while hi - j > 1:
                    mid = (j + hi) // 2
                    if _dispersion(ax, ay, i, mid) <= thr:
                        j = mid
                    else:
                        hi = mid
            starts.append(i)
            stops.append(j + 1)
            pos = j + 1
    start = np.asarray(starts, dtype=np.int64)
    stop = np.asarray(stops, dtype=np.int64)
    if start.size:
        cover = np.zeros(n + 1, dtype=np.int32)
        np.add.at(cover, start, 1)
        np.add.at(cover, stop, -1)
        labels[np.cumsum(cover[:n]) > 0] = FIXATION
    onset, offset = event_bounds(t, start, stop, dt)
    cnt = stop - start
    with np.errstate(invalid="ignore", divide="ignore"):
        ev = EventArrays(onset_s=onset, offset_s=offset, duration_s=offset - onset,
                         x_px=segment_sums(x, start, stop) / cnt, y_px=segment_sums(y, start, stop) / cnt,
                         n_samples=cnt, start=start, stop=stop)
    info = {"sampling_interval_s": dt, "min_window_samples": k, **counts}
    log.debug("I-DT: %s", info)
    return IDTOutput(events=ev, labels=labels, x_px=x, y_px=y, info=info)
