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

from analysis.errors import InputError
from analysis.io._common import (
    build_samples,
    check_coordinates,
    check_sampling,
    check_timestamps,
    empty_trials_frame,
    finish_counts,
    head_lines,
    normalised_text,
    read_table,
    sniff_decimal,
    sniff_delimiter,
    to_float,
)
from analysis.recording import Geometry, Recording, RecordingMeta

TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6}
REQUIRED = ("time", "x", "y", "valid")
_TRUE = {"1", "1.0", "true", "t", "valid", "yes", "y"}
_FALSE = {"0", "0.0", "false", "f", "invalid", "no", "n"}


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
    if time_unit not in TIME_UNITS:
        raise InputError(f"unknown time unit {time_unit!r}", file=path, expected="s, ms or us",
                         fix="pass time_unit='s' | 'ms' | 'us' (--time-unit)")
    lines, enc = head_lines(path)
    if not lines or not lines[0].strip():
        raise InputError("the first line is empty", file=path, line=1, expected="a header row: time, x, y, valid",
                         fix="put the header on the first line")
    sep = sniff_delimiter(lines[0])
    header = lines[0].split(sep) if sep != r"\s+" else lines[0].split()
    lookup = {h.strip().strip('"').lower(): h.strip().strip('"') for h in header}
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
    t = to_float(s, tcol, n) * TIME_UNITS[time_unit]
    check_timestamps(t, path, lines_s, tcol)
    nominal, missing_samples = check_sampling(t, float(rate_hz), path, lines_s, tcol)
    v = normalised_text(s[vcol])
    ok = np.isin(v, list(_TRUE | _FALSE | {""}))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(f"valid value {s[vcol].iloc[i]!r} is not a truth value", file=path, line=int(lines_s[i]),
                         column=vcol, expected="1/0, true/false, valid/invalid or yes/no",
                         fix="correct the cell")
    valid = np.isin(v, list(_TRUE))
    x, y = to_float(s, xcol, n), to_float(s, ycol, n)
    check_coordinates(x, y, valid & np.isfinite(x) & np.isfinite(y), geometry, path, lines_s, (xcol, ycol))
    eye = {"x": x, "y": y, "valid": valid}
    samples = build_samples(t, {"left": eye, "right": eye}, geometry)
    meta = RecordingMeta(source=str(path), format="plain", sampling_rate_hz=nominal, geometry=geometry,
                         extra={"eyes": ["combined"], "time_unit": time_unit, "delimiter": sep, "decimal": decimal})
    counts = finish_counts(samples, blank_rows=int(blank.sum()), event_rows=0, missing_samples=missing_samples,
                           rows_total=len(df))
    return Recording(samples=samples, trials=empty_trials_frame(), meta=meta, counts=counts)
