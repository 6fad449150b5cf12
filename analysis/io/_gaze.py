"""Shared machinery of the readers of SDK dumps and older Tobii programs (issue 10).

The readers of :mod:`analysis.io.studio_alldata`, :mod:`analysis.io.tobii_sdk`,
:mod:`analysis.io.tobii_raw`, :mod:`analysis.io.eprime` and :mod:`analysis.io.iohub`
turn their source into per-eye arrays and hand them to :func:`finish_recording`, which
applies the same checks to every format, all from :mod:`analysis.io._common` (timestamps,
sampling rate snapped to the nominal rate, geometry through :func:`~analysis.io._common.check_geometry`,
off-screen samples marked invalid and counted by :func:`~analysis.io._common.mark_offscreen`). Geometry that the file does not carry
is asked for with exactly the missing flags (:func:`resolve_geometry`).
"""

from __future__ import annotations

import csv
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import (
    build_samples,
    check_geometry,
    check_sampling,
    check_timestamps,
    compression_of,
    empty_trials_frame,
    find_header,
    finish_counts,
    head_lines,
    mark_offscreen,
    plain,
    read_table,
    sniff_decimal,
    sniff_delimiter,
    trials_from_runs,
)
from analysis.recording import EYES, Geometry, Recording, RecordingMeta

#: Tobii validity codes 0-4 (Tobii Analytics SDK 3 Developer's Guide, "Validity codes"; Tobii Studio
#: User Manual; Tobii T60/T120 User Manual): 0 = certain the data belongs to this eye, 1 = probably,
#: 2 = one eye found, side unknown, 3 = probably wrong, 4 = eye not found. Codes above 1 are discarded,
#: as Tobii recommends and as I2MC's TX300 importer does (Hessels et al. 2017, ``importTobiiTX300.m``:
#: ``LValidity > 1`` is missing). (default: 1)
TOBII_MAX_VALID_CODE = 1



# --------------------------------------------------------------------------- reading text tables

@dataclass
class TextTable:
    """A delimited table read with the shared checks of :func:`analysis.io._common.read_table`."""

    df: pd.DataFrame
    lines: np.ndarray        # 1-based file line of every row
    header: list[str]
    sep: str
    decimal: str
    encoding: str
    events: pd.DataFrame | None = None   # messages stored beside the samples (Titta HDF5), if any


def read_text_table(path: Path, *, markers: Sequence[str], label: str, numeric: Sequence[str] = (),
                    text: Sequence[str] = ()) -> TextTable:
    """Find the header (first line holding one of ``markers``) and read the whole table.

    All columns are read (no ``usecols``), so a row wider than the header is an error
    naming its line; quoting is honoured for comma-separated files. ``numeric``/``text``
    name the columns to type (those absent from the header are ignored).
    """
    lines, enc = head_lines(path)
    hi = find_header(lines, markers)
    if hi is None:
        raise InputError(f"no {label} header found", file=path, line=1,
                         expected=f"a header row with {', '.join(repr(m) for m in markers)}",
                         fix="pick the right --format, or check the file is complete")
    sep = sniff_delimiter(lines[hi])
    header = parse_header(lines[hi], sep)
    decimal = sniff_decimal(lines[hi + 1:], sep)
    present = set(header)
    quoting = csv.QUOTE_MINIMAL if sep == "," else csv.QUOTE_NONE
    df, first = read_table(path, sep=sep, header_line=hi, numeric=[c for c in numeric if c in present],
                           text=[c for c in text if c in present], decimal=decimal, encoding=enc,
                           compression=compression_of(path), quoting=quoting)
    got = [str(c) for c in df.columns]
    same = len(got) == len(header) and all(g == h or (not h and g.startswith("Unnamed: ")) for g, h in zip(got, header))
    if not same:
        dup = sorted({h for h in header if h and header.count(h) > 1})
        raise InputError("the header row has a duplicated column name " + ", ".join(repr(d) for d in dup) if dup else
                         "the header row could not be read as one row (a stray line break or control character?)",
                         file=path, line=hi + 1, expected="one header row of unique column names",
                         fix="re-export the file, or remove the stray character / rename the duplicate")
    return TextTable(df=df, lines=np.arange(len(df)) + first, header=header, sep=sep, decimal=decimal, encoding=enc)


def parse_header(line: str, sep: str) -> list[str]:
    """Header cells of one line (quotes honoured, surrounding spaces removed)."""
    if sep == r"\s+":
        return line.split()
    return [c.strip() for c in next(csv.reader([line], delimiter=sep))]


def require_columns(header: Sequence[str], groups: dict[str, Sequence[str]], path: Path, label: str) -> None:
    """Each group (a description -> acceptable column names) needs one column present; else name them all."""
    present = set(header)
    missing = [f"{what} ({' or '.join(names)})" for what, names in groups.items() if not present & set(names)]
    if missing:
        raise InputError(f"{label} file lacks the column(s): {'; '.join(missing)}", file=path, line=1,
                         column=next(iter(groups[missing[0].split(' (')[0]])),
                         expected=f"a {label} file with timestamp, gaze and validity columns",
                         fix="record/export the gaze data with those columns, or pick the right --format")


def first_present(header: Sequence[str], *names: str) -> str | None:
    """The first of ``names`` that is a column of ``header``."""
    present = set(header)
    for n in names:
        if n in present:
            return n
    return None


def column(df: pd.DataFrame, name: str | None) -> np.ndarray:
    """A numeric column as float64 (all NaN when ``name`` is None)."""
    if name is None or name not in df.columns:
        return np.full(len(df), np.nan)
    return df[name].to_numpy(dtype=np.float64, na_value=np.nan)


def tobii_code_validity(raw: np.ndarray, path: Path, lines: np.ndarray, name: str) -> np.ndarray:
    """Tobii 0-4 validity codes -> bool (code <= :data:`TOBII_MAX_VALID_CODE`); another value is an error."""
    bad = ~(np.isnan(raw) | np.isin(raw, (0, 1, 2, 3, 4)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"validity code {plain(raw[i])} is not one of 0-4", file=path, line=int(lines[i]),
                         column=name, expected="Tobii validity codes 0 (certain) ... 4 (eye not found)",
                         fix="correct the cell; the file was edited or is from another program")
    return ~np.isnan(raw) & (raw <= TOBII_MAX_VALID_CODE)


def tuple_column(df: pd.DataFrame, name: str, k: int, path: Path, lines: np.ndarray) -> np.ndarray:
    """Cells like ``(0.51, 0.48)`` (a Python tuple written by ``str()``) -> an ``(n, k)`` float array.

    Empty cells and ``nan`` parts are NaN; any other shape is an error naming the cell.
    """
    s = df[name].astype(object).where(df[name].notna(), "")
    fast = _tuple_column_fast(s.to_numpy(dtype=object), k)
    if fast is not None:
        return fast
    txt = s.astype(str).str.strip()
    inner = txt.str.replace(r"^[\(\[]\s*|\s*[\)\]]$", "", regex=True)
    empty = inner.str.len().to_numpy() == 0
    parts = inner.str.split(",", expand=True)
    n = len(df)
    out = np.full((n, k), np.nan)
    if n == 0 or empty.all():
        return out
    ncells = parts.notna().sum(axis=1).to_numpy()
    wrong = ~empty & (ncells != k)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise InputError(f"cell {txt.iloc[i]!r} is not a tuple of {k} numbers", file=path, line=int(lines[i]),
                         column=name, expected=f"({', '.join(['number'] * k)}) as the Tobii Pro SDK writes it",
                         fix="correct the cell; empty cells are read as missing")
    for j in range(k):
        part = parts[j].astype(object).where(parts[j].notna(), "").astype(str).str.strip()
        num = pd.to_numeric(part, errors="coerce").to_numpy(dtype=np.float64)
        bad = ~empty & np.isnan(num) & ~part.str.lower().isin(["nan", ""]).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"cell {txt.iloc[i]!r} holds a part that is not a number", file=path,
                             line=int(lines[i]), column=name, expected=f"a tuple of {k} numbers",
                             fix="correct the cell; empty cells are read as missing")
        out[:, j] = num
    out[empty] = np.nan
    return out


_BRACKETS = str.maketrans({"(": " ", ")": " ", "[": " ", "]": " "})


def _tuple_column_fast(cells: np.ndarray, k: int) -> np.ndarray | None:
    """All cells well-formed: parse them in one go (10x faster than per-part string ops); else ``None``."""
    try:
        text = [str(c) for c in cells]
        empty = np.array([not c.strip() for c in text], dtype=bool)
        joined = ",".join(c for c, e in zip(text, empty) if not e).translate(_BRACKETS)
        expected = k * int((~empty).sum())
        if joined.count(",") != expected - 1 if expected else joined.strip():
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a token that is not a number ends the parse early: fall back
            vals = np.fromstring(joined, dtype=np.float64, sep=",") if expected else np.empty(0)
        if len(vals) != expected:
            return None
    except (ValueError, TypeError, DeprecationWarning):
        return None
    out = np.full((len(cells), k), np.nan)
    out[~empty] = vals.reshape(-1, k)
    return out


# --------------------------------------------------------------------------- geometry

@dataclass(frozen=True)
class DisplayArea:
    """The display area in Tobii UCS (mm): ``point(xn, yn) = origin + xn * u + yn * v``.

    Fitted from samples that give the gaze point both normalised and in UCS
    (:func:`display_area_from_ucs`); ``u`` runs along the top edge (width), ``v`` down the
    left edge (height).
    """

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def size_mm(self) -> tuple[float, float]:
        return float(np.linalg.norm(self.u)), float(np.linalg.norm(self.v))

    def to_display_mm(self, p: np.ndarray) -> np.ndarray:
        """UCS points ``(n, 3)`` -> display-area coordinates (docs/formats.md section 2: origin top-left,
        x right, y down, z towards the viewer), mm."""
        uh = self.u / np.linalg.norm(self.u)
        vh = self.v / np.linalg.norm(self.v)
        nh = np.cross(vh, uh)
        nh = nh / np.linalg.norm(nh)
        d = np.asarray(p, dtype=np.float64) - self.origin
        with np.errstate(all="ignore"):
            return np.c_[d @ uh, d @ vh, d @ nh]


#: Fit requirements: enough on-screen samples spread over the display, and a plane fit within 5 mm
#: RMS (the UCS gaze point lies on the display by construction, Tobii Pro SDK "Coordinate systems").
FIT_MIN_SAMPLES = 20
FIT_MIN_SPREAD = 0.2
FIT_MAX_RMS_MM = 5.0


def display_area_from_ucs(xn: np.ndarray, yn: np.ndarray, g3: np.ndarray) -> DisplayArea | None:
    """Least-squares fit of the display area from normalised and UCS gaze points; ``None`` if not possible.

    Tobii's gaze point in UCS is the intersection of the gaze ray with the display area (Tobii Pro SDK,
    "Coordinate systems"), so ``g3 = origin + xn * u + yn * v`` exactly; only samples on the display
    (0..1) are used, so off-screen glitches do not bias the fit.
    """
    ok = (np.isfinite(xn) & np.isfinite(yn) & np.isfinite(g3).all(axis=1)
          & (xn >= 0) & (xn <= 1) & (yn >= 0) & (yn <= 1))
    if ok.sum() < FIT_MIN_SAMPLES or np.ptp(xn[ok]) < FIT_MIN_SPREAD or np.ptp(yn[ok]) < FIT_MIN_SPREAD:
        return None
    a = np.c_[np.ones(int(ok.sum())), xn[ok], yn[ok]]
    with np.errstate(all="ignore"):
        try:
            coef, *_ = np.linalg.lstsq(a, g3[ok], rcond=None)
        except np.linalg.LinAlgError:
            return None
        rms = float(np.sqrt(np.mean(np.sum((a @ coef - g3[ok]) ** 2, axis=1))))
    if not np.isfinite(rms) or rms > FIT_MAX_RMS_MM:
        return None
    return DisplayArea(origin=coef[0], u=coef[1], v=coef[2])


MISSING_FLAG = {"screen_px": "--screen-px W H", "screen_mm": "--screen-mm W H", "distance_mm": "--distance-mm D"}
PY_ARG = {"screen_px": "screen_px=(W, H)", "screen_mm": "screen_mm=(W, H)", "distance_mm": "distance_mm=D"}


def resolve_geometry(path: Path, label: str, *, geometry: Geometry | None, screen_px: Sequence[int] | None,
                     screen_mm: Sequence[float] | None, distance_mm: float | None,
                     file_values: dict[str, Any], file_sources: dict[str, str],
                     why: dict[str, str]) -> tuple[Geometry, dict[str, str]]:
    """Combine flags and what the file gives into a checked :class:`Geometry`.

    Flags win over the file. When a value is in neither, the error names exactly the missing
    flags and says why the file lacks them (``why``). Returns the geometry and where each part
    came from (``meta.extra["geometry_source"]``).
    """
    if geometry is not None:
        check_geometry(geometry, file=path)
        return geometry, {"screen_px": "given", "screen_mm": "given", "distance_mm": "given"}
    given = {"screen_px": screen_px, "screen_mm": screen_mm, "distance_mm": distance_mm}
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in ("screen_px", "screen_mm", "distance_mm"):
        if given[key] is not None:
            values[key], sources[key] = given[key], "flag"
        elif file_values.get(key) is not None:
            values[key], sources[key] = file_values[key], file_sources[key]
    missing = [k for k in ("screen_px", "screen_mm", "distance_mm") if k not in values]
    if missing:
        reasons = "; ".join(f"{k.replace('_', ' ')}: {why.get(k, 'not in the file')}" for k in missing)
        raise InputError(f"the {label} file does not give the whole screen geometry ({reasons})", file=path,
                         expected=", ".join(k.replace("_", " ") for k in missing),
                         fix="pass " + " ".join(MISSING_FLAG[k] for k in missing)
                             + " (Python: " + ", ".join(PY_ARG[k] for k in missing) + ")")
    try:
        px = (int(round(float(values["screen_px"][0]))), int(round(float(values["screen_px"][1]))))
        mm = (float(values["screen_mm"][0]), float(values["screen_mm"][1]))
        dist = float(values["distance_mm"])
    except (TypeError, ValueError, IndexError, OverflowError):
        raise InputError("the screen geometry is not numeric", file=path,
                         expected="screen size in px and mm and a viewing distance in mm",
                         fix="check " + ", ".join(MISSING_FLAG.values())) from None
    src = ", ".join(f"{k}: {v}" for k, v in sources.items())
    geom = check_geometry(Geometry(px, mm, dist), file=path, source=f"the screen geometry ({src})",
                          fix="check the flags, or pass " + " ".join(MISSING_FLAG.values()) + " to override the file")
    return geom, sources


# --------------------------------------------------------------------------- assembling

def finish_recording(path: Path, *, fmt: str, label: str, time_s: np.ndarray, lines: np.ndarray,
                     time_column: str, eyes: dict[str, dict[str, Any]], coords: str,
                     geometry: Geometry, rate_hz: float | None, extra: dict[str, Any],
                     trial_names: pd.Series | None = None, aoi: dict[str, np.ndarray] | None = None,
                     labels: pd.DataFrame | None = None, counts_extra: dict[str, int] | None = None,
                     participant: str | None = None, tracker_model: str = "unknown") -> Recording:
    """Check timing, convert gaze to pixels, mark off-screen samples and build the :class:`Recording`.

    ``eyes[eye]`` has ``x``, ``y`` in ``coords`` (``"norm"``: 0..1 of the display area, origin
    top-left; ``"px"``: pixels, origin top-left), ``valid`` (bool), optional ``pupil`` and
    ``ex``/``ey``/``ez`` (display-area mm) and ``columns`` (the x/y column names, for messages).
    """
    check_timestamps(time_s, path, lines, time_column)
    nominal, missing = check_sampling(time_s, rate_hz, path, lines, time_column)
    w, h = geometry.screen_px
    ready: dict[str, dict[str, np.ndarray]] = {}
    offscreen = np.zeros(len(time_s), dtype=bool)
    for eye in EYES:
        e = eyes[eye]
        x = np.asarray(e["x"], dtype=np.float64)
        y = np.asarray(e["y"], dtype=np.float64)
        if coords == "norm":
            with np.errstate(over="ignore", invalid="ignore"):
                x, y = x * w, y * h
        valid = np.asarray(e["valid"], dtype=bool) & np.isfinite(x) & np.isfinite(y)
        far = mark_offscreen(x, y, valid, geometry.screen_px, path, lines, tuple(e.get("columns", ("x", "y"))))
        offscreen |= far
        valid &= ~far
        ready[eye] = {"x": x, "y": y, "valid": valid, "pupil": e.get("pupil"),
                      "ex": e.get("ex"), "ey": e.get("ey"), "ez": e.get("ez")}
    samples = build_samples(time_s, ready, geometry)
    if trial_names is not None:
        trials = trials_from_runs(trial_names.reset_index(drop=True), time_s, nominal, aoi)
    else:
        trials = empty_trials_frame()
    counts = finish_counts(samples, missing_samples=missing, offscreen_samples=int(offscreen.sum()), **(counts_extra or {}))
    meta = RecordingMeta(source=str(path), format=fmt, sampling_rate_hz=nominal, geometry=geometry,
                         tracker_model=tracker_model, participant=participant, extra=extra)
    if labels is not None:
        labels = labels.reset_index(drop=True)
    return Recording(samples=samples, trials=trials, meta=meta, counts=counts, labels=labels)


def median_finite(*arrays: np.ndarray) -> float | None:
    """Median of the finite values of all arrays, or ``None`` when there are none."""
    vals = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    return float(np.median(vals)) if len(vals) else None
