"""Timestamp-unit check: a file whose timestamps are in another unit than declared is refused.

A plain table in milliseconds read as seconds, or a BIDS physio file whose sidecar says
``"Units": "ms"`` over microsecond timestamps, gives a sampling rate 1000 times off (issue 11:
59,992 Hz or 0.06 Hz). :func:`check_time_unit` compares the median sample interval, read in
each candidate unit, with the declared sampling rate (or, without one, with the rates of
screen-based trackers, :data:`analysis.io._common.KNOWN_RATES_HZ`) and names the unit the
file seems to use, so the fix is one flag or one sidecar key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.errors import InputError
from analysis.io._common import (  # noqa: F401 - MAX_INTERVAL_S, check_time_jumps re-exported
    KNOWN_RATES_HZ, MAX_INTERVAL_S, RATE_TOLERANCE, SNAP_TOLERANCE, TIME_UNITS, check_time_jumps)

#: Seconds per unit of the timestamp units the readers accept.
UNIT_SECONDS: dict[str, float] = {u: TIME_UNITS[u] for u in ("s", "ms", "us")}
_UNIT_WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
_ALIASES = {"µs": "us", "μs": "us", "microseconds": "us"}


def _hz(rate: float) -> str:
    """A rate as a person writes it: ``59,999`` or ``0.06``."""
    return f"{rate:,.0f}" if rate >= 1000 else f"{rate:.3g}"


def _rate(median_interval: float, unit: str) -> float:
    return 1.0 / (median_interval * UNIT_SECONDS[unit])


def _matches(rate: float, declared_hz: float | None) -> bool:
    """``rate`` agrees with the declared rate within :data:`RATE_TOLERANCE` (10 %) or, without a
    declared rate, with a known tracker rate within :data:`SNAP_TOLERANCE` (2 %)."""
    if declared_hz is not None:
        return abs(rate - declared_hz) / declared_hz <= RATE_TOLERANCE
    known = np.asarray(KNOWN_RATES_HZ)
    return bool((np.abs(known - rate) / known <= SNAP_TOLERANCE).any())


def seeming_unit(raw_t: np.ndarray, declared_hz: float | None = None) -> str | None:
    """The unit (``"s"``, ``"ms"`` or ``"us"``) in which the timestamps give a plausible rate.

    Parameters
    ----------
    raw_t : array
        Timestamps as written in the file (any unit), increasing.
    declared_hz : float, optional
        The declared sampling rate; without it the rates of screen-based Tobii trackers
        (:data:`~analysis.io._common.KNOWN_RATES_HZ`) are the plausible ones (default: None).

    Returns
    -------
    str or None
        The first unit whose rate is plausible, ``None`` when none is (or fewer than two samples).
    """
    d = np.diff(np.asarray(raw_t, dtype=np.float64))
    d = d[np.isfinite(d) & (d > 0)]
    if len(d) == 0 or (declared_hz is not None and not (0 < declared_hz < float("inf"))):
        return None
    med = float(np.median(d))
    for unit in UNIT_SECONDS:
        if _matches(_rate(med, unit), declared_hz):
            return unit
    return None


def check_time_unit(raw_t: np.ndarray, unit: str, declared_hz: float | None, path: str | Path, column: str, *,
                    fix: str) -> None:
    """Refuse timestamps that are evidently in another unit than ``unit``; name the unit they seem to use.

    Passes silently when the declared unit gives a plausible rate, or when no unit does (then the
    general sampling-rate check, :func:`analysis.io._common.check_sampling`, reports the mismatch).

    Parameters
    ----------
    raw_t : array
        Timestamps as written in the file.
    unit : str
        The declared unit (``s``, ``ms``, ``us``; ``µs`` and ``microseconds`` are read as ``us``).
    declared_hz : float, optional
        The declared sampling rate (sidecar or flag); ``None`` compares with known tracker rates.
    path, column :
        File and column named in the message.
    fix : str
        How to declare the right unit; ``<unit>`` is replaced by the unit the file seems to use.

    Raises
    ------
    InputError
        "the timestamps seem to be in milliseconds, not seconds" with both rates.
    """
    unit = _ALIASES.get(unit, unit)
    d = np.diff(np.asarray(raw_t, dtype=np.float64))
    d = d[np.isfinite(d) & (d > 0)]
    if len(d) == 0 or unit not in UNIT_SECONDS:
        return
    if declared_hz is not None and not (0 < declared_hz < float("inf")):
        return  # an impossible declared rate is check_sampling's error
    med = float(np.median(d))
    if _matches(_rate(med, unit), declared_hz):
        return
    other = seeming_unit(raw_t, declared_hz)
    if other is None or other == unit:
        return
    target = f"the declared {declared_hz:g} Hz" if declared_hz is not None else "a tracker rate"
    raise InputError(
        f"the timestamps seem to be in {_UNIT_WORDS[other]}, not {_UNIT_WORDS[unit]}: read as {unit} they give "
        f"{_hz(_rate(med, unit))} Hz, read as {other} {_hz(_rate(med, other))} Hz ({target})",
        file=path, column=column,
        expected=f"timestamps in {_UNIT_WORDS[unit]} at about {target.removeprefix('the declared ')}",
        fix=fix.replace("<unit>", other))
