"""Readers of Tobii Pro Lab and Tobii Studio TSV data exports.

Column names follow the export documentation of each program (docs/readers.md has the
full mapping):

* Tobii Pro Lab "Data export" (Tobii Pro Lab User Manual, section "Data export"), in
  two header styles: the classic one (``Recording timestamp``, ``Gaze point left X``,
  ``Eye position left X (DACSmm)``) and the newer unit-suffixed one
  (``Recording timestamp [μs]``, ``Gaze point left X [DACS px]``,
  ``Eye position left X [DACS mm]``). Validity is ``Valid``/``Invalid`` per eye.
* Tobii Studio "Data export" (Tobii Studio User Manual, section "Data export",
  ``RecordingTimestamp`` in ms, ``GazePointLeftX (ADCSpx)``, ``ValidityLeft`` 0-4).

Both keep one row per sample plus rows that carry only an event (``Event`` /
``StudioEvent``); those are counted (``event_rows``) and never become samples.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import (
    build_samples,
    check_coordinates,
    check_sampling,
    check_timestamps,
    find_header,
    finish_counts,
    head_lines,
    normalised_text,
    read_table,
    sniff_decimal,
    sniff_delimiter,
    to_float,
    trials_from_runs,
)
from analysis.recording import T60_GEOMETRY, Geometry, Recording, RecordingMeta

log = logging.getLogger(__name__)

#: Tobii Studio validity codes (Tobii Studio User Manual, "Validity codes"; Tobii's own
#: explanation): 0 = certain the data belongs to this eye, 1 = one eye recorded and
#: probably assigned correctly, 2 = one eye recorded and its side unknown, 3 = the data
#: is probably wrong, 4 = missing / definitely wrong. Tobii recommends discarding codes
#: 2 and higher, so codes 0 and 1 are valid here.
STUDIO_MAX_VALID_CODE = 1

#: Classic Pro Lab ``Recording timestamp`` has no unit in its name (it was ms in early
#: Pro Lab versions and µs later). The unit is inferred from the data: at any Tobii
#: rate (30-1200 Hz) a sample interval is 0.8-33 ms, i.e. < 200 in ms but > 800 in µs.
CLASSIC_US_MIN_MEDIAN_INTERVAL = 200.0

MISSING_GEOMETRY_FIX = ("pass the screen size and viewing distance: --screen-mm W H --distance-mm D "
                        "(and --screen-px W H when the export has no resolution columns), or geometry= in Python")


def _split_name(name: str) -> tuple[str, str]:
    """``"Gaze point X [DACS px]"`` -> ``("gaze point x", "dacspx")``; no unit -> ``""``."""
    name = name.strip().strip('"')
    m = re.match(r"^(.*?)\s*[\[(]([^\])]*)[\])]\s*$", name)
    base, unit = (m.group(1), m.group(2)) if m else (name, "")
    base = re.sub(r"\s+", " ", base).strip().lower()
    unit = re.sub(r"\s+", "", unit).lower().replace("μ", "u").replace("µ", "u")
    return base, unit


@dataclass(frozen=True)
class _Spec:
    key: str
    base: str
    units: tuple[str, ...]
    kind: str = "num"  # num | text


PROLAB_SPECS = (
    _Spec("time", "recording timestamp", ("", "us", "ms")),
    _Spec("gx", "gaze point x", ("", "dacspx")),
    _Spec("gy", "gaze point y", ("", "dacspx")),
    _Spec("lx", "gaze point left x", ("", "dacspx")),
    _Spec("ly", "gaze point left y", ("", "dacspx")),
    _Spec("rx", "gaze point right x", ("", "dacspx")),
    _Spec("ry", "gaze point right y", ("", "dacspx")),
    _Spec("lval", "validity left", ("",), "text"),
    _Spec("rval", "validity right", ("",), "text"),
    _Spec("lpupil", "pupil diameter left", ("", "mm")),
    _Spec("rpupil", "pupil diameter right", ("", "mm")),
    _Spec("lex", "eye position left x", ("dacsmm",)),
    _Spec("ley", "eye position left y", ("dacsmm",)),
    _Spec("lez", "eye position left z", ("dacsmm",)),
    _Spec("rex", "eye position right x", ("dacsmm",)),
    _Spec("rey", "eye position right y", ("dacsmm",)),
    _Spec("rez", "eye position right z", ("dacsmm",)),
    _Spec("stim", "presented stimulus name", ("",), "text"),
    _Spec("event", "event", ("",), "text"),
    _Spec("emt", "eye movement type", ("",), "text"),
    _Spec("ged", "gaze event duration", ("", "ms")),
    _Spec("resw", "recording resolution width", ("", "px")),
    _Spec("resh", "recording resolution height", ("", "px")),
    _Spec("sensor", "sensor", ("",), "text"),
    _Spec("mx", "presented media position x", ("dacspx",)),
    _Spec("my", "presented media position y", ("dacspx",)),
    _Spec("mw", "presented media width", ("", "px")),
    _Spec("mh", "presented media height", ("", "px")),
    _Spec("participant", "participant name", ("",), "text"),
)

STUDIO_SPECS = (
    _Spec("time", "recordingtimestamp", ("",)),
    _Spec("gx", "gazepointx", ("adcspx",)),
    _Spec("gy", "gazepointy", ("adcspx",)),
    _Spec("lx", "gazepointleftx", ("adcspx",)),
    _Spec("ly", "gazepointlefty", ("adcspx",)),
    _Spec("rx", "gazepointrightx", ("adcspx",)),
    _Spec("ry", "gazepointrighty", ("adcspx",)),
    _Spec("lval", "validityleft", ("",)),
    _Spec("rval", "validityright", ("",)),
    _Spec("lpupil", "pupilleft", ("", "mm")),
    _Spec("rpupil", "pupilright", ("", "mm")),
    _Spec("lex", "eyeposleftx", ("adcsmm",)),
    _Spec("ley", "eyeposlefty", ("adcsmm",)),
    _Spec("lez", "eyeposleftz", ("adcsmm",)),
    _Spec("rex", "eyeposrightx", ("adcsmm",)),
    _Spec("rey", "eyeposrighty", ("adcsmm",)),
    _Spec("rez", "eyeposrightz", ("adcsmm",)),
    _Spec("stim", "medianame", ("",), "text"),
    _Spec("event", "studioevent", ("",), "text"),
    _Spec("emt", "gazeeventtype", ("",), "text"),
    _Spec("ged", "gazeeventduration", ("", "ms")),
    _Spec("fixidx", "fixationindex", ("",)),
    _Spec("mx", "mediaposx", ("adcspx",)),
    _Spec("my", "mediaposy", ("adcspx",)),
    _Spec("mw", "mediawidth", ("", "px")),
    _Spec("mh", "mediaheight", ("", "px")),
    _Spec("res", "recordingresolution", ("",), "text"),
    _Spec("participant", "participantname", ("",), "text"),
)


def _map_columns(header: list[str], specs: tuple[_Spec, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """Map spec keys to actual header names; return (key -> column, key -> unit)."""
    parsed = [(h, *_split_name(h)) for h in header]
    cols: dict[str, str] = {}
    units: dict[str, str] = {}
    for spec in specs:
        if spec.key in cols:
            continue
        for raw, base, unit in parsed:
            if base == spec.base and unit in spec.units:
                cols[spec.key] = raw
                units[spec.key] = unit
                break
    return cols, units


def _require(cols: dict[str, str], path: Path, program: str, names: dict[str, str]) -> None:
    missing = []
    if "time" not in cols:
        missing.append(names["time"])
    per_eye = all(k in cols for k in ("lx", "ly", "rx", "ry"))
    avg = all(k in cols for k in ("gx", "gy"))
    if not per_eye and not avg:
        missing.append(names["gaze"])
    for k in ("lval", "rval"):
        if k not in cols:
            missing.append(names[k])
    if missing:
        raise InputError(f"{program} export lacks the column(s) {', '.join(missing)}", file=path, line=1,
                         column=missing[0],
                         expected=f"a {program} data export with timestamp, gaze point and validity columns",
                         fix="re-export with the gaze point, validity (and pupil/eye position) data types selected")


def _studio_validity(raw: np.ndarray, path: Path, lines: np.ndarray, column: str) -> np.ndarray:
    bad = ~(np.isnan(raw) | np.isin(raw, (0, 1, 2, 3, 4)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"validity code {raw[i]!r} is not one of 0-4", file=path, line=int(lines[i]), column=column,
                         expected="Tobii Studio validity codes 0 (certain) ... 4 (eye not found)",
                         fix="re-export; the file was edited or is from another program")
    return ~np.isnan(raw) & (raw <= STUDIO_MAX_VALID_CODE)


def _prolab_validity(low: np.ndarray, raw: pd.Series, path: Path, lines: np.ndarray, column: str) -> np.ndarray:
    """``Valid``/``Invalid`` (any case) -> bool; ``low`` is the normalised text of ``raw``."""
    ok = np.isin(low, ["valid", "invalid", ""])
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(f"validity {raw.iloc[i]!r} is neither Valid nor Invalid", file=path, line=int(lines[i]),
                         column=column, expected="Valid | Invalid (Tobii Pro Lab)",
                         fix="re-export; the file was edited or is from another program")
    return low == "valid"


def _first_number(df: pd.DataFrame, col: str | None) -> float | None:
    if col is None or col not in df.columns:
        return None
    s = df[col].dropna()
    return float(s.iloc[0]) if len(s) else None


def _read_export(path: Path, program: str, geometry: Geometry | None, rate_hz: float | None,
                 screen_mm: tuple[float, float] | None, distance_mm: float | None) -> Recording:
    specs = PROLAB_SPECS if program == "prolab" else STUDIO_SPECS
    marker = "Recording timestamp" if program == "prolab" else "RecordingTimestamp"
    label = "Tobii Pro Lab" if program == "prolab" else "Tobii Studio"
    lines, enc = head_lines(path)
    hi = find_header(lines, [marker])
    if hi is None:
        raise InputError(f"no {marker!r} header found", file=path, line=1, column=marker,
                         expected=f"a {label} data export (tab-separated, header row with {marker!r})",
                         fix="export the data from the program as TSV, or pick the right --format")
    sep = sniff_delimiter(lines[hi])
    header = lines[hi].split(sep) if sep != r"\s+" else lines[hi].split()
    cols, units = _map_columns(header, specs)
    names = ({"time": "Recording timestamp", "gaze": "Gaze point left/right X/Y (or Gaze point X/Y)",
              "lval": "Validity left", "rval": "Validity right"} if program == "prolab" else
             {"time": "RecordingTimestamp", "gaze": "GazePointLeftX/Y, GazePointRightX/Y (ADCSpx)",
              "lval": "ValidityLeft", "rval": "ValidityRight"})
    _require(cols, path, label, names)
    decimal = sniff_decimal(lines[hi + 1:], sep)
    spec_kind = {s.key: s.kind for s in specs}
    if program == "studio":
        spec_kind["lval"] = spec_kind["rval"] = "num"
    numeric = [c for k, c in cols.items() if spec_kind[k] == "num"]
    text = [c for k, c in cols.items() if spec_kind[k] == "text"]
    df, first = read_table(path, sep=sep, header_line=hi, usecols=list(cols.values()), numeric=numeric,
                           text=text, decimal=decimal, encoding=enc)
    n_rows = len(df)
    if n_rows == 0:
        raise InputError("the export has a header but no rows", file=path, line=hi + 2,
                         expected="one row per gaze sample", fix="export a recording that has data")
    all_lines = np.arange(n_rows) + first

    # --- classify rows: samples, event-only rows, blank rows, other rows
    # a row with a timestamp is never blank; only rows without one are checked cell by cell
    no_time = np.flatnonzero(np.isnan(to_float(df, cols["time"], n_rows)))
    blank = np.zeros(n_rows, dtype=bool)
    if len(no_time):
        blank[no_time] = df.iloc[no_time].isna().all(axis=1).to_numpy()
    if program == "prolab":
        val_text = {k: normalised_text(df[cols[k]]) for k in ("lval", "rval")}
        has_validity = (val_text["lval"] != "") | (val_text["rval"] != "")
    else:
        has_validity = np.isfinite(to_float(df, cols["lval"], n_rows)) | np.isfinite(to_float(df, cols["rval"], n_rows))
    if "sensor" in cols:
        sensor = normalised_text(df[cols["sensor"]])
        is_sample = (sensor == "eye tracker") | (has_validity & (sensor == ""))
    else:
        is_sample = has_validity
    is_event = ~is_sample & ~blank
    if "event" in cols:
        is_event &= df[cols["event"]].notna().to_numpy()
    else:
        is_event &= False
    is_other = ~is_sample & ~blank & ~is_event
    s = df.loc[is_sample]
    lines_s = all_lines[is_sample]
    n = len(s)

    # --- time
    raw_t = to_float(s, cols["time"], n)
    unit = units["time"]
    if program == "studio":
        unit = "ms"
    elif unit == "":
        d = np.diff(raw_t)
        d = d[np.isfinite(d) & (d > 0)]
        unit = "us" if len(d) and float(np.median(d)) >= CLASSIC_US_MIN_MEDIAN_INTERVAL else "ms"
    t = raw_t * (1e-6 if unit == "us" else 1e-3)
    check_timestamps(t, path, lines_s, cols["time"])
    nominal, missing = check_sampling(t, rate_hz, path, lines_s, cols["time"])

    # --- geometry
    if program == "prolab":
        resw, resh = _first_number(df, cols.get("resw")), _first_number(df, cols.get("resh"))
        res = (int(resw), int(resh)) if resw and resh else None
    else:
        res = None
        if "res" in cols:
            vals = df[cols["res"]].dropna()
            if len(vals):
                m = re.match(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$", str(vals.iloc[0]))
                if m:
                    res = (int(m.group(1)), int(m.group(2)))
    if geometry is not None:
        geom = geometry
        if res is not None and tuple(res) != tuple(geometry.screen_px):
            log.warning("%s: export resolution %s differs from the given geometry %s; using the given geometry",
                        path, res, geometry.screen_px)
    elif screen_mm is not None and distance_mm is not None and res is not None:
        geom = Geometry(screen_px=res, screen_mm=(float(screen_mm[0]), float(screen_mm[1])),
                        distance_mm=float(distance_mm))
    elif program == "studio" and (res is None or res == T60_GEOMETRY.screen_px):
        # The paper's lab: Tobii T60 with Tobii Studio (paper, "Experimental Tools")
        geom = T60_GEOMETRY
        log.info("%s: no geometry given; using the Tobii T60 geometry %s", path, T60_GEOMETRY)
    else:
        what = f"the export's resolution is {res[0]}x{res[1]} px" if res else "the export has no resolution"
        raise InputError(f"{label} exports do not carry the screen size and viewing distance ({what})", file=path,
                         expected="the physical screen size (mm) and the viewing distance (mm)",
                         fix=MISSING_GEOMETRY_FIX)

    # --- per eye
    eyes: dict[str, dict[str, np.ndarray]] = {}
    per_eye = all(k in cols for k in ("lx", "ly", "rx", "ry"))
    for eye, p in (("left", "l"), ("right", "r")):
        xcol, ycol = (cols[f"{p}x"], cols[f"{p}y"]) if per_eye else (cols["gx"], cols["gy"])
        vcol = cols[f"{p}val"]
        if program == "studio":
            valid = _studio_validity(to_float(s, vcol, n), path, lines_s, vcol)
        else:
            valid = _prolab_validity(val_text[f"{p}val"][is_sample], s[vcol], path, lines_s, vcol)
        x, y = to_float(s, xcol, n), to_float(s, ycol, n)
        check_coordinates(x, y, valid & np.isfinite(x) & np.isfinite(y), geom, path, lines_s, (xcol, ycol))
        eyes[eye] = {"x": x, "y": y, "valid": valid, "pupil": to_float(s, cols.get(f"{p}pupil"), n),
                     "ex": to_float(s, cols.get(f"{p}ex"), n), "ey": to_float(s, cols.get(f"{p}ey"), n),
                     "ez": to_float(s, cols.get(f"{p}ez"), n)}
    samples = build_samples(t, eyes, geom)

    # --- trials: runs of one presented stimulus / media name
    if "stim" in cols:
        aoi = None
        if all(k in cols for k in ("mx", "my", "mw", "mh")):
            mx, my = to_float(s, cols["mx"], n), to_float(s, cols["my"], n)
            aoi = {"left": mx, "top": my, "right": mx + to_float(s, cols["mw"], n),
                   "bottom": my + to_float(s, cols["mh"], n)}
        trials = trials_from_runs(s[cols["stim"]].reset_index(drop=True), t, nominal, aoi)
    else:
        trials = trials_from_runs(pd.Series([], dtype=object), t, nominal)

    extra: dict[str, Any] = {
        "column_style": ("prolab-unit-suffixed" if units["time"] else "prolab-classic") if program == "prolab"
        else "studio",
        "timestamp_unit": unit, "decimal": decimal, "delimiter": sep, "encoding": enc,
        "eyes": ["left", "right"] if per_eye else ["average"],
    }
    if "emt" in cols:
        extra["eye_movement_type"] = s[cols["emt"]].to_numpy(dtype=object)
    if "ged" in cols:
        extra["gaze_event_duration_ms"] = to_float(s, cols["ged"], n)
    if "fixidx" in cols:
        extra["fixation_index"] = to_float(s, cols["fixidx"], n)
    if is_event.any() and "event" in cols:
        ev = df.loc[is_event]
        extra["events"] = pd.DataFrame({
            "time_s": to_float(ev, cols["time"], len(ev)) * (1e-6 if unit == "us" else 1e-3),
            "event": ev[cols["event"]].astype(object).to_numpy(), "line": all_lines[is_event]})
    participant = None
    if "participant" in cols:
        pv = df[cols["participant"]].dropna()
        participant = str(pv.iloc[0]) if len(pv) else None
    meta = RecordingMeta(source=str(path), format=program, sampling_rate_hz=nominal, geometry=geom,
                         tracker_model="unknown", participant=participant, extra=extra)
    counts = finish_counts(samples, event_rows=int(is_event.sum()), blank_rows=int(blank.sum()),
                           other_rows=int(is_other.sum()), missing_samples=missing, rows_total=n_rows)
    return Recording(samples=samples, trials=trials, meta=meta, counts=counts)


def read_prolab(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                screen_mm: tuple[float, float] | None = None, distance_mm: float | None = None) -> Recording:
    """Read a Tobii Pro Lab TSV data export (classic or unit-suffixed headers).

    Parameters
    ----------
    path : path
        The ``.tsv`` export (decimal point or decimal comma, detected).
    geometry : Geometry, optional
        Full screen geometry; overrides the export's ``Recording resolution``.
    rate_hz : float, optional
        Declared sampling rate, checked against the timestamps (10 %); by default the
        rate is measured (1 / median interval).
    screen_mm, distance_mm : optional
        Physical screen size and viewing distance, combined with the export's
        ``Recording resolution width/height``. Pro Lab exports do not carry them, so
        one of ``geometry`` or these two is required.

    Notes
    -----
    The classic ``Recording timestamp`` has no unit in its header; it is read as µs
    when the median sample interval is >= 200 (units), else ms
    (:data:`CLASSIC_US_MIN_MEDIAN_INTERVAL`). Sample rows are rows with
    ``Sensor == "Eye Tracker"`` when a ``Sensor`` column exists, else rows with a
    validity value; rows with only an ``Event`` are counted as ``event_rows``.
    """
    return _read_export(Path(path), "prolab", geometry, rate_hz, screen_mm, distance_mm)


def read_studio(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                screen_mm: tuple[float, float] | None = None, distance_mm: float | None = None) -> Recording:
    """Read a Tobii Studio TSV data export.

    ``RecordingTimestamp`` is in ms; gaze in ADCS pixels (active display, origin
    top-left); ``ValidityLeft/Right`` codes 0-1 are valid (:data:`STUDIO_MAX_VALID_CODE`,
    Tobii's recommendation to discard codes >= 2). Without ``geometry`` the paper's Tobii
    T60 geometry (:data:`analysis.recording.T60_GEOMETRY`) is used when the export's
    ``RecordingResolution`` is 1280x1024 or absent; any other resolution needs
    ``screen_mm`` and ``distance_mm`` (or ``geometry``). Optional columns ``MediaPosX
    (ADCSpx)``, ``MediaPosY (ADCSpx)``, ``MediaWidth``, ``MediaHeight`` give the AOI.
    """
    return _read_export(Path(path), "studio", geometry, rate_hz, screen_mm, distance_mm)
