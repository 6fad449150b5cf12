"""Timestamp units: the one check of every reader that the timestamps are in the unit assumed.

A plain table in milliseconds read as seconds, a BIDS physio file whose sidecar says
``"Units": "ms"`` over microsecond timestamps, a Pro Lab ``[ms]`` column holding seconds or a
Studio export in µs give a sampling rate 1000 times off (issues 10 and 11: 59,992 Hz or
0.06 Hz). :func:`check_time_unit` reads the median sample interval in each candidate unit and
compares the rate it gives with the declared sampling rate (within
:data:`~analysis.io._common.RATE_TOLERANCE`) or, without one, with the rates any video eye
tracker has (:data:`~analysis.io._common.PLAUSIBLE_RATE_HZ`); it names the unit the file seems
to use, so the fix is one flag, one sidecar key or a re-export. Readers of files whose clock
has no stated unit (SDK dumps, classic Pro Lab exports) infer it the same way
(:func:`timestamp_seconds`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from analysis.errors import InputError
from analysis.io._common import (  # noqa: F401 - MAX_INTERVAL_S, check_time_jumps re-exported
    MAX_INTERVAL_S,
    PLAUSIBLE_RATE_HZ,
    RATE_TOLERANCE,
    TIME_UNITS,
    check_time_jumps,
    plain,
)

#: Seconds per unit of the timestamp units the plain and BIDS readers accept.
UNIT_SECONDS: dict[str, float] = {u: TIME_UNITS[u] for u in ("s", "ms", "us")}
#: Candidate units, tried in this order (at most one can fit: they are 1000x apart and the
#: plausible rates span 250x).
CANDIDATE_UNITS = ("us", "ms", "s", "ns")
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}
#: Other spellings of the units (BIDS sidecars, Pro Lab headers).
UNIT_ALIASES = {"µs": "us", "μs": "us", "microseconds": "us"}


def _hz(rate: float) -> str:
    """A rate as a person writes it: ``59,999`` or ``0.06``."""
    return f"{rate:,.0f}" if rate >= 1000 else f"{rate:.3g}"


def _median_interval(raw_t: np.ndarray) -> float | None:
    """Median of the positive finite intervals, ``None`` with fewer than two of them."""
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.diff(np.asarray(raw_t, dtype=np.float64))
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if len(d) >= 2 else None


def _rate(median_interval: float, unit: str) -> float:
    return 1.0 / (median_interval * TIME_UNITS[unit])


def _matches(rate: float, declared_hz: float | None) -> bool:
    """``rate`` agrees with the declared rate within :data:`RATE_TOLERANCE` (10 %) or, without a
    declared rate, lies in :data:`PLAUSIBLE_RATE_HZ` (10-2500 Hz)."""
    if declared_hz is not None:
        return abs(rate - declared_hz) / declared_hz <= RATE_TOLERANCE
    lo, hi = PLAUSIBLE_RATE_HZ
    return lo <= rate <= hi


def seeming_unit(raw_t: np.ndarray, declared_hz: float | None = None,
                 units: Sequence[str] = CANDIDATE_UNITS) -> str | None:
    """The unit of ``units`` in which the timestamps give a plausible rate.

    Parameters
    ----------
    raw_t : array
        Timestamps as written in the file (any unit), increasing.
    declared_hz : float, optional
        The declared sampling rate; without it any rate in :data:`PLAUSIBLE_RATE_HZ` is
        plausible (default: None).
    units : sequence of str
        The candidate units, in order (default: :data:`CANDIDATE_UNITS`).

    Returns
    -------
    str or None
        The first unit whose rate is plausible, ``None`` when none is (or fewer than three samples).
    """
    med = _median_interval(raw_t)
    if med is None or (declared_hz is not None and not (0 < declared_hz < float("inf"))):
        return None
    return next((u for u in units if _matches(_rate(med, u), declared_hz)), None)


def check_time_unit(raw_t: np.ndarray, unit: str, path: str | Path, column: str, *,
                    declared_hz: float | None = None, stated: bool = True,
                    units: Sequence[str] = CANDIDATE_UNITS, fix: str | None = None) -> str:
    """Check (or, when ``stated`` is false, infer) the unit of a timestamp column.

    Parameters
    ----------
    raw_t : array
        Timestamps as written in the file.
    unit : str
        The declared (or, unstated, the default) unit: ``s``, ``ms``, ``us`` or ``ns``
        (``µs`` and ``microseconds`` are read as ``us``).
    path, column :
        File and column named in the message.
    declared_hz : float, optional
        The declared sampling rate (sidecar or flag). With it, a declared unit that misses the rate
        while another unit hits it is refused, and a miss by every unit is left to
        :func:`analysis.io._common.check_sampling` (it names the rate). Without it the rate must lie
        in :data:`PLAUSIBLE_RATE_HZ`, and a miss by every unit is refused here (default: None).
    stated : bool
        Whether the file or the user stated ``unit``; if not, the first plausible unit is
        returned instead of an error (default: True).
    units : sequence of str
        Candidate units (default: :data:`CANDIDATE_UNITS`; the plain and BIDS readers pass
        :data:`UNIT_SECONDS`'s, the units their flags and sidecars can name).
    fix : str, optional
        How to declare the right unit; ``<unit>`` is replaced by the unit the file seems to use
        (default: re-export with the unit the header names).

    Returns
    -------
    str
        The unit, a key of :data:`analysis.io._common.TIME_UNITS`.

    Raises
    ------
    InputError
        "the timestamps seem to be in milliseconds, not seconds" with both rates.
    """
    unit = UNIT_ALIASES.get(unit, unit)
    med = _median_interval(raw_t)
    if med is None or unit not in TIME_UNITS:
        return unit
    if declared_hz is not None and not (0 < declared_hz < float("inf")):
        return unit  # an impossible declared rate is check_sampling's error
    if _matches(_rate(med, unit), declared_hz):
        return unit
    other = seeming_unit(raw_t, declared_hz, units)
    if other is not None and not stated:
        return other
    if other is None and declared_hz is not None:
        return unit
    lo, hi = PLAUSIBLE_RATE_HZ
    target = f"the declared {declared_hz:g} Hz" if declared_hz is not None else f"a tracker's {lo:g}-{hi:g} Hz"
    if other is None:
        problem = (f"the timestamps read as {_UNIT_WORDS[unit]} give {_hz(_rate(med, unit))} Hz, not {target}, "
                   f"and no unit does (median interval {plain(med)} in the file)")
    else:
        problem = (f"the timestamps seem to be in {_UNIT_WORDS[other]}, not {_UNIT_WORDS[unit]}: read as {unit} they "
                   f"give {_hz(_rate(med, unit))} Hz, read as {other} {_hz(_rate(med, other))} Hz ({target})")
    raise InputError(
        problem, file=path, column=column,
        expected=f"timestamps in {_UNIT_WORDS[unit]} at {target.removeprefix('the declared ')}",
        fix=(fix or "the values are in <unit>: re-export the recording with the timestamp in the unit its header names")
        .replace("<unit>", other or "?"))


def timestamp_seconds(raw: np.ndarray, unit: str | None, path: str | Path, column: str,
                      units: Sequence[str] = ("us", "ms")) -> tuple[np.ndarray, str]:
    """Timestamps in seconds, from ``unit`` or, when ``None``, the unit :func:`check_time_unit` infers.

    For clocks whose unit no header states (Tobii Pro SDK dumps, TX300 raw files: µs; older
    recorders: ms); at any Tobii rate (30-1200 Hz) a µs interval is > 800, a ms one < 34.
    """
    if unit is None:
        unit = check_time_unit(raw, units[0], path, column, stated=False, units=units)
    return np.asarray(raw, dtype=np.float64) * TIME_UNITS[unit], unit
