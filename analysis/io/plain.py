"""Reader of plain gaze tables: columns ``time``, ``x``, ``y``, ``valid`` (TSV or CSV).

For data from any other source (own scripts, other trackers). The header names are
matched case-insensitively; the delimiter (tab, comma, semicolon, whitespace) and a
decimal comma are detected. The table has one gaze point per row (binocular average or
one eye); it is stored as both eyes of the sample table, identically, and
``meta.extra["eyes"] == ["combined"]`` says so. Screen geometry and sampling rate must
be given: a plain table carries neither.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import (
    build_samples,
    check_geometry,
    check_sampling,
    check_timestamps,
    empty_trials_frame,
    finish_counts,
    head_lines,
    mark_offscreen,
    read_table,
    sniff_decimal,
    sniff_delimiter,
    to_float,
    truth_column,
)
from analysis.io.units import UNIT_SECONDS, check_time_unit
from analysis.recording import Geometry, Recording, RecordingMeta

TIME_UNITS = UNIT_SECONDS
REQUIRED = ("time", "x", "y", "valid")


def read_plain(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
               time_unit: str = "s") -> Recording:
    """Read a plain ``time, x, y, valid`` table.

    Parameters
    ----------
    path : path
        TSV/CSV file with a header row.
    geometry : Geometry
        Required: screen resolution, size and viewing distance.
    rate_hz : float
        Required: the nominal sampling rate (checked against the timestamps, 10 %).
    time_unit : {"s", "ms", "us"}
        Unit of the ``time`` column (default seconds).

    Notes
    -----
    ``valid`` accepts 1/0, true/false, valid/invalid, yes/no (any case); an empty
    cell is invalid. ``x``/``y`` are screen pixels (origin top-left).
    """
    path = Path(path)
    if geometry is None:
        raise InputError("a plain gaze table needs the screen geometry", file=path,
                         expected="screen resolution (px), size (mm) and viewing distance (mm)",
                         fix="pass geometry=Geometry(...) or --screen-px W H --screen-mm W H --distance-mm D")
    if rate_hz is None:
        raise InputError("a plain gaze table needs the sampling rate", file=path,
                         expected="the tracker's nominal sampling rate in Hz", fix="pass rate_hz= or --rate-hz")
    check_geometry(geometry, file=None)
    if isinstance(rate_hz, bool) or not isinstance(rate_hz, (int, float)) or not 0 < rate_hz < float("inf"):
        raise InputError(f"sampling rate {rate_hz} is not a positive number", file=path,
                         expected="the tracker's nominal sampling rate in Hz, e.g. 60", fix="correct --rate")
    if time_unit not in TIME_UNITS:
        raise InputError(f"unknown time unit {time_unit!r}", file=path, expected="s, ms or us",
                         fix="pass time_unit='s' | 'ms' | 'us' (--time-unit)")
    lines, enc = head_lines(path)
    if not lines or not lines[0].strip():
        raise InputError("the first line is empty", file=path, line=1, expected="a header row: time, x, y, valid",
                         fix="put the header on the first line")
    sep = sniff_delimiter(lines[0])
    lookup = _header_lookup(path, sep, enc)
    missing = [c for c in REQUIRED if c not in lookup]
    if missing:
        raise InputError(f"missing column(s) {', '.join(missing)}", file=path, line=1, column=missing[0],
                         expected="a header with time, x, y, valid (any case)",
                         fix="rename the columns, or pick the right --format")
    decimal = sniff_decimal(lines[1:], sep)
    tcol, xcol, ycol, vcol = (lookup[c] for c in REQUIRED)
    quoting = 0  # csv.QUOTE_MINIMAL: plain CSV may quote its header
    # all columns are read (no usecols) so that a row with extra cells is an error, not ignored
    df, first = read_table(path, sep=sep, header_line=0, numeric=[tcol, xcol, ycol], text=[vcol],
                           decimal=decimal, encoding=enc, quoting=quoting)
    df = df[[tcol, xcol, ycol, vcol]]
    blank = df.isna().all(axis=1).to_numpy()
    s = df.loc[~blank]
    n = len(s)
    lines_s = np.flatnonzero(~blank) + first
    if n == 0:
        raise InputError("the table has a header but no rows", file=path, line=2,
                         expected="one row per gaze sample", fix="give a file with data")
    raw_t = to_float(s, tcol, n)
    t = raw_t * TIME_UNITS[time_unit]
    check_timestamps(t, path, lines_s, tcol)
    check_time_unit(raw_t, time_unit, path, tcol, declared_hz=float(rate_hz), units=tuple(UNIT_SECONDS),
                    fix="give the unit of the time column: --time-unit <unit> (time_unit='<unit>')")
    nominal, missing_samples = check_sampling(t, float(rate_hz), path, lines_s, tcol)
    valid = truth_column(s, vcol, path, lines_s)
    x, y = to_float(s, xcol, n), to_float(s, ycol, n)
    # off-screen glitches are marked invalid and counted; most samples off the display is refused
    # (docs/readers.md section 6, "Off-screen samples")
    far = mark_offscreen(x, y, valid & np.isfinite(x) & np.isfinite(y), geometry.screen_px, path, lines_s,
                         (xcol, ycol))
    valid &= ~far
    eye = {"x": x, "y": y, "valid": valid}
    samples = build_samples(t, {"left": eye, "right": eye}, geometry)
    meta = RecordingMeta(source=str(path), format="plain", sampling_rate_hz=nominal, geometry=geometry,
                         extra={"eyes": ["combined"], "time_unit": time_unit, "delimiter": sep, "decimal": decimal})
    counts = finish_counts(samples, blank_rows=int(blank.sum()), event_rows=0, missing_samples=missing_samples,
                           offscreen_samples=int(far.sum()), rows_total=len(df))
    return Recording(samples=samples, trials=empty_trials_frame(), meta=meta, counts=counts)


def _header_lookup(path: Path, sep: str, encoding: str) -> dict[str, str]:
    """Normalised header name (stripped of spaces and quotes, lower case) -> the column name pandas gives it.

    Read by pandas itself, so a header such as ``time, x, y, valid`` (spaces after the commas) maps
    ``"x"`` to pandas' ``" x"``, and duplicated names to pandas' ``x.1`` (the first one wins).
    """
    try:
        cols = pd.read_csv(path, sep=sep, nrows=0, encoding=encoding, engine="python" if sep == r"\s+" else "c",
                           index_col=False).columns
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"the header row could not be read ({exc})", file=path, line=1,
                         expected="a header row: time, x, y, valid", fix="correct the header") from None
    lookup: dict[str, str] = {}
    for c in cols:
        lookup.setdefault(str(c).strip().strip('"').strip().lower(), str(c))
    return lookup
