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

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import (
    TIME_UNITS,
    TOBII_NOMINAL_RATES_HZ,
    align_clock,
    build_samples,
    check_geometry,
    check_row_widths,
    check_sampling,
    check_timestamps,
    compression_of,
    fit_screen_mm,
    implausible_eye_position,
    index_clock,
    mark_offscreen,
    median_distance_mm,
    plain,
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
from analysis.io.units import check_time_unit
from analysis.recording import T60_GEOMETRY, Geometry, Recording, RecordingMeta

log = logging.getLogger(__name__)

#: Tobii Studio validity codes (Tobii Studio User Manual, "Validity codes"; Tobii's own
#: explanation): 0 = certain the data belongs to this eye, 1 = one eye recorded and
#: probably assigned correctly, 2 = one eye recorded and its side unknown, 3 = the data
#: is probably wrong, 4 = missing / definitely wrong. Tobii recommends discarding codes
#: 2 and higher, so codes 0 and 1 are valid here.
STUDIO_MAX_VALID_CODE = 1

#: Pro Lab's own segments that are not stimuli: the calibration (and validation) that Pro Lab
#: records as a "Presented Stimulus name" (Tobii Pro Lab User Manual, "Calibration"); their samples
#: belong to no trial (counted in ``meta.extra["calibration_samples"]``).
NON_STIMULUS_NAMES = ("eyetracker calibration", "eye tracker calibration", "eyetracker validation",
                      "eye tracker validation")

#: Tobii's per-sample movement names -> ``Recording.labels["movement"]`` (Pro Lab ``Eye movement
#: type``: Fixation, Saccade, Unclassified, EyesNotFound; Studio ``GazeEventType``: Fixation,
#: Saccade, Unclassified). An empty cell is ``unclassified``.
MOVEMENT_NAMES = {"fixation": "fixation", "saccade": "saccade", "unclassified": "unclassified",
                  "eyesnotfound": "eyes_not_found", "": "unclassified"}

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
    _Spec("ettime", "eyetracker timestamp", ("", "us")),
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
    _Spec("lxmm", "gaze point left x", ("dacsmm",)),
    _Spec("lymm", "gaze point left y", ("dacsmm",)),
    _Spec("rxmm", "gaze point right x", ("dacsmm",)),
    _Spec("rymm", "gaze point right y", ("dacsmm",)),
    _Spec("rex", "eye position right x", ("dacsmm",)),
    _Spec("rey", "eye position right y", ("dacsmm",)),
    _Spec("rez", "eye position right z", ("dacsmm",)),
    _Spec("stim", "presented stimulus name", ("",), "text"),
    _Spec("event", "event", ("",), "text"),
    _Spec("emt", "eye movement type", ("",), "text"),
    _Spec("emtidx", "eye movement type index", ("",)),
    _Spec("ged", "gaze event duration", ("", "ms")),
    _Spec("ged", "eye movement event duration", ("", "ms")),   # Pro Lab 24 name
    _Spec("acc", "average validation accuracy", ("°", "deg")),
    _Spec("prec", "average validation precision rms", ("°", "deg")),
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
    _Spec("ettime", "eyetrackertimestamp", ("",)),
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
    _Spec("lxmm", "gazepointleftx", ("adcsmm",)),
    _Spec("lymm", "gazepointlefty", ("adcsmm",)),
    _Spec("rxmm", "gazepointrightx", ("adcsmm",)),
    _Spec("rymm", "gazepointrighty", ("adcsmm",)),
    _Spec("rex", "eyeposrightx", ("adcsmm",)),
    _Spec("rey", "eyeposrighty", ("adcsmm",)),
    _Spec("rez", "eyeposrightz", ("adcsmm",)),
    _Spec("stim", "medianame", ("",), "text"),
    _Spec("event", "studioevent", ("",), "text"),
    _Spec("emt", "gazeeventtype", ("",), "text"),
    _Spec("ged", "gazeeventduration", ("", "ms")),
    _Spec("fixidx", "fixationindex", ("",)),
    _Spec("sacidx", "saccadeindex", ("",)),
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
        raise InputError(f"validity code {plain(raw[i])} is not one of 0-4", file=path, line=int(lines[i]), column=column,
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


def _resolution(df: pd.DataFrame, cols: dict[str, str], path: Path, program: str) -> tuple[int, int] | None:
    """The export's screen resolution (px), checked to be whole positive finite numbers."""
    if program == "prolab":
        pairs = [(cols.get("resw"), _first_number(df, cols.get("resw"))),
                 (cols.get("resh"), _first_number(df, cols.get("resh")))]
        if any(v is None for _, v in pairs):
            return None
        for col, v in pairs:
            if not (np.isfinite(v) and v >= 1 and v == int(v)):
                raise InputError(f"screen resolution {plain(v)} px is not a whole positive number", file=path,
                                 column=col, expected="the recording's resolution in pixels, e.g. 1920",
                                 fix="re-export the recording; the cell was edited or damaged")
        return int(pairs[0][1]), int(pairs[1][1])  # type: ignore[arg-type]
    if "res" not in cols:
        return None
    vals = df[cols["res"]].dropna()
    if not len(vals):
        return None
    m = re.match(r"^\s*(\d{1,6})\s*[xX×]\s*(\d{1,6})\s*$", str(vals.iloc[0]))
    if not m:
        raise InputError(f"recording resolution {str(vals.iloc[0])!r} is not W x H", file=path, column=cols["res"],
                         expected="e.g. 1920 x 1080", fix="re-export the recording; the cell was edited or damaged")
    return int(m.group(1)), int(m.group(2))


def _geometry(df_s: pd.DataFrame, cols: dict[str, str], res: tuple[int, int] | None, path: Path, program: str,
              label: str, geometry: Geometry | None, screen_mm: tuple[float, float] | None,
              distance_mm: float | None) -> tuple[Geometry, dict[str, str]]:
    """Screen geometry: the caller's, else flags, else derived from the export's own columns.

    Also tells (``source["eye_y"]``) whether the export's mm y axis points up (Tobii Studio's
    ADCS), in which case the reader turns the eye positions to the pixels' y-down.
    """
    n = len(df_s)
    source: dict[str, str] = {}
    fits: list[Any] = [None, None]
    if res is not None and any(k in cols for k in ("lxmm", "rxmm")):
        for i, (axis, size) in enumerate((("x", res[0]), ("y", res[1]))):
            px = np.concatenate([to_float(df_s, cols.get(f"{e}{axis}"), n) for e in "lr"])
            mmv = np.concatenate([to_float(df_s, cols.get(f"{e}{axis}mm"), n) for e in "lr"])
            fits[i] = fit_screen_mm(px, mmv, size)
    if fits[1] is not None and fits[1][2]:
        source["eye_y"] = "flipped: the export's mm y axis points up (gaze px vs mm fit)"
    if geometry is not None:
        if res is not None and tuple(res) != tuple(geometry.screen_px):
            log.warning("%s: export resolution %s differs from the given geometry %s; using the given geometry",
                        path, res, geometry.screen_px)
        return geometry, {"screen_px": "given", "screen_mm": "given", "distance_mm": "given", **source}
    missing: list[str] = []
    names = ({"res": "Recording resolution width/height", "mm": "Gaze point left/right X/Y [DACS mm]",
              "z": "Eye position left/right Z [DACS mm]"} if program == "prolab" else
             {"res": "RecordingResolution", "mm": "GazePointLeftX/Y (ADCSmm)", "z": "EyePosLeftZ/EyePosRightZ (ADCSmm)"})
    if res is not None:
        source["screen_px"] = "export (" + ", ".join(cols[k] for k in ("resw", "resh", "res") if k in cols) + ")"
    mm: tuple[float, float] | None = None
    if screen_mm is not None:
        mm = (float(screen_mm[0]), float(screen_mm[1]))
        source["screen_mm"] = "given (--screen-mm)"
    elif all(f is not None for f in fits):
        mm = (round(fits[0][0], 1), round(fits[1][0], 1))
        used = ", ".join(cols[k] for k in ("lxmm", "lymm", "rxmm", "rymm") if k in cols)
        source["screen_mm"] = f"export: gaze in px vs mm ({used}), residual {max(f[1] for f in fits):.2f} mm"
    if mm is None and screen_mm is None:
        missing.append(f"screen size: needs {names['mm']} with {names['res']}")
    dist: float | None = None
    if distance_mm is not None:
        dist = float(distance_mm)
        source["distance_mm"] = "given (--distance-mm)"
    else:
        z = np.concatenate([to_float(df_s, cols.get(k), n) for k in ("lez", "rez")])
        d = median_distance_mm(z)
        if d is not None:
            dist = round(d, 1)
            used = ", ".join(cols[k] for k in ("lez", "rez") if k in cols)
            source["distance_mm"] = f"export: median eye position Z ({used})"
        else:
            missing.append(f"viewing distance: needs {names['z']}")
    if res is None:
        missing.insert(0, f"resolution: needs {names['res']}")
    if res is not None and mm is not None and dist is not None:
        geom = Geometry(screen_px=res, screen_mm=mm, distance_mm=dist)
        check_geometry(geom, file=path, source="the screen geometry " + (
            "derived from the export" if "export" in " ".join(source.values()) else "given"),
            fix="give the true values with --screen-mm W H and --distance-mm D")
        return geom, source
    if program == "studio" and (res is None or res == T60_GEOMETRY.screen_px):
        # The paper's lab: Tobii T60 with Tobii Studio (paper, "Experimental Tools")
        log.info("%s: no geometry in the export; using the Tobii T60 geometry %s", path, T60_GEOMETRY)
        return T60_GEOMETRY, {k: "Tobii T60 default (the paper's tracker)" for k in ("screen_px", "screen_mm",
                                                                                      "distance_mm")}
    what = f"the export's resolution is {res[0]}x{res[1]} px" if res else "the export has no resolution"
    raise InputError(f"the {label} export lacks the screen geometry ({what}; " + "; ".join(missing) + ")", file=path,
                     expected="the physical screen size (mm) and the viewing distance (mm)",
                     fix=MISSING_GEOMETRY_FIX)


def _labels(s: pd.DataFrame, cols: dict[str, str], program: str, path: Path,
            lines: np.ndarray) -> tuple[pd.DataFrame | None, str | None]:
    """Tobii's own per-sample classification as ``Recording.labels`` (movement, event_index)."""
    n = len(s)
    if "emt" not in cols:
        if program != "studio" or "fixidx" not in cols:
            return None, None
        # Studio without GazeEventType (older exports): a FixationIndex marks Studio's fixations
        fi = to_float(s, cols["fixidx"], n)
        ok = np.isfinite(fi) & (np.abs(fi) < 2**53)
        idx = pd.array(np.where(ok, fi, 0).astype(np.int64), dtype="Int64")
        idx[~ok] = pd.NA
        movement = np.where(ok, "fixation", "unclassified").astype(object)
        return (pd.DataFrame({"movement": movement, "event_index": idx}),
                f"Tobii Studio: {cols['fixidx']} (no GazeEventType: samples without an index are unclassified)")
    low = normalised_text(s[cols["emt"]])
    key = np.char.replace(low.astype(str), " ", "") if n else np.array([], dtype=str)
    known = np.isin(key, list(MOVEMENT_NAMES))
    unknown: dict[str, int] = {}
    if not known.all():
        # the labels only serve the agreement check: an unknown name is kept as unclassified and
        # reported, it does not refuse the recording
        vals, cnt = np.unique(s[cols["emt"]].to_numpy(dtype=object)[~known].astype(str), return_counts=True)
        unknown = {str(v): int(c) for v, c in zip(vals, cnt)}
        i = int(np.flatnonzero(~known)[0])
        log.warning("%s line %d column %r: eye movement type(s) %s not among Tobii's (Fixation, Saccade, "
                    "Unclassified, EyesNotFound); read as unclassified", path, int(lines[i]), cols["emt"],
                    ", ".join(repr(v) for v in unknown))
        key = np.where(known, key, "unclassified")
    movement = np.vectorize(MOVEMENT_NAMES.get, otypes=[object])(key) if n else np.array([], dtype=object)
    if program == "prolab":
        idx = to_float(s, cols.get("emtidx"), n)
        source = cols["emt"] + (f" + {cols['emtidx']}" if "emtidx" in cols else "")
    else:
        fi, si = to_float(s, cols.get("fixidx"), n), to_float(s, cols.get("sacidx"), n)
        idx = np.where(movement == "fixation", fi, np.where(movement == "saccade", si, np.nan))
        source = cols["emt"] + "".join(f" + {cols[k]}" for k in ("fixidx", "sacidx") if k in cols)
    ok = np.isfinite(idx) & (np.abs(idx) < 2**53)
    event_index = pd.array(np.where(ok, idx, 0).astype(np.int64), dtype="Int64")
    event_index[~ok] = pd.NA
    frame = pd.DataFrame({"movement": movement, "event_index": event_index})
    if unknown:
        source += " (unknown names read as unclassified: " + ", ".join(f"{v!r} x {c}" for v, c in unknown.items()) + ")"
    return frame, f"{'Tobii Pro Lab' if program == 'prolab' else 'Tobii Studio'}: {source}"


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
    quoting = sep == ","  # comma-separated exports (EyeT4Empathy) quote cells holding a decimal comma
    if sep == r"\s+":
        header = lines[hi].split()
    else:
        header = next(csv.reader([lines[hi]], delimiter=sep, quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE))
    cols, units = _map_columns(header, specs)
    names = ({"time": "Recording timestamp", "gaze": "Gaze point left/right X/Y (or Gaze point X/Y)",
              "lval": "Validity left", "rval": "Validity right"} if program == "prolab" else
             {"time": "RecordingTimestamp", "gaze": "GazePointLeftX/Y, GazePointRightX/Y (ADCSpx)",
              "lval": "ValidityLeft", "rval": "ValidityRight"})
    _require(cols, path, label, names)
    dups = [c for c in cols.values() if header.count(c) > 1]
    if dups:
        dup = dups[0]
        raise InputError(f"the header names the column {dup!r} twice", file=path, line=hi + 1, column=dup,
                         expected="each column name once", fix="re-export the file; the header was edited")
    if quoting:
        decimal = "both" if re.search(r'"-?\d+,\d+"', "\n".join(lines[hi + 1:])) else "."
    else:
        decimal = sniff_decimal(lines[hi + 1:], sep)
    check_row_widths(path, sep=sep, header_line=hi, width=len(header), encoding=enc, quoting=quoting, header=header)
    spec_kind = {s.key: s.kind for s in specs}
    if program == "studio":
        spec_kind["lval"] = spec_kind["rval"] = "num"
    numeric = [c for k, c in cols.items() if spec_kind[k] == "num"]
    text = [c for k, c in cols.items() if spec_kind[k] == "text"]
    usecols = list(cols.values())
    df, first = read_table(path, sep=sep, header_line=hi, usecols=usecols, numeric=numeric,
                           text=text, decimal=decimal, encoding=enc,
                           compression=compression_of(path),
                           quoting=csv.QUOTE_MINIMAL if quoting else csv.QUOTE_NONE)
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

    # --- time: the recording clock (ms) checked for its unit; the tracker clock (µs) for timing
    raw_t = to_float(s, cols["time"], n)
    stated = program == "studio" or bool(units["time"])
    unit = check_time_unit(raw_t, "ms" if program == "studio" else (units["time"] or "us"), path, cols["time"],
                           stated=stated)
    rec_t = raw_t * TIME_UNITS[unit]
    clock: dict[str, Any] = {"clock": cols["time"]}
    t = rec_t
    if "ettime" in cols:
        raw_et = to_float(s, cols["ettime"], n)
        if n and np.isfinite(raw_et).all():
            et_unit = check_time_unit(raw_et, "us", path, cols["ettime"], stated=bool(units.get("ettime")))
            et = raw_et * TIME_UNITS[et_unit]
            check_timestamps(et, path, lines_s, cols["ettime"])
            aligned = align_clock(et, rec_t)
            if aligned is not None:
                t, fit = aligned
                clock = {"clock": f"{cols['ettime']} aligned to {cols['time']}", **fit}
            else:
                clock["clock_note"] = (f"{cols['ettime']} does not run in step with {cols['time']}; "
                                       f"sample timing uses {cols['time']}")
        else:
            clock["clock_note"] = f"{cols['ettime']} is missing on some samples; sample timing uses {cols['time']}"
    column_t = cols["ettime"] if clock["clock"] != cols["time"] else cols["time"]
    check_timestamps(t, path, lines_s, column_t)
    nominal, missing = check_sampling(t, rate_hz, path, lines_s, column_t, known_rates=TOBII_NOMINAL_RATES_HZ)
    if clock["clock"] == cols["time"]:
        # only the whole-ms recording clock: regular sample times at the nominal rate, aligned to it
        regular = index_clock(t, nominal)
        if regular is not None:
            t, fit = regular
            clock.update({"clock": f"sample count at {nominal:g} Hz aligned to {cols['time']}", **fit})

    # --- geometry
    res = _resolution(df, cols, path, program)
    geom, geometry_source = _geometry(s, cols, res, path, program, label, geometry, screen_mm, distance_mm)

    # --- per eye
    eyes: dict[str, dict[str, np.ndarray]] = {}
    per_eye = all(k in cols for k in ("lx", "ly", "rx", "ry"))
    offscreen = np.zeros(n, dtype=bool)
    bad_eye_pos = 0
    for eye, p in (("left", "l"), ("right", "r")):
        xcol, ycol = (cols[f"{p}x"], cols[f"{p}y"]) if per_eye else (cols["gx"], cols["gy"])
        vcol = cols[f"{p}val"]
        if program == "studio":
            valid = _studio_validity(to_float(s, vcol, n), path, lines_s, vcol)
        else:
            valid = _prolab_validity(val_text[f"{p}val"][is_sample], s[vcol], path, lines_s, vcol)
        x, y = to_float(s, xcol, n), to_float(s, ycol, n)
        ex, ey, ez = (to_float(s, cols.get(f"{p}e{a}"), n) for a in "xyz")
        if "eye_y" in geometry_source:
            ey = geom.screen_mm[1] - ey
        odd = implausible_eye_position(ex, ey, ez)
        if odd.any():
            ex, ey, ez = (np.where(odd, np.nan, a) for a in (ex, ey, ez))
            bad_eye_pos += int(odd.sum())
        pupil = to_float(s, cols.get(f"{p}pupil"), n)
        pupil = np.where(np.isfinite(pupil), pupil, np.nan)
        far = mark_offscreen(x, y, valid & np.isfinite(x) & np.isfinite(y), geom.screen_px, path, lines_s,
                             (xcol, ycol))
        offscreen |= far
        eyes[eye] = {"x": x, "y": y, "valid": valid & ~far, "pupil": pupil, "ex": ex, "ey": ey, "ez": ez}
    samples = build_samples(t, eyes, geom)

    # --- trials: runs of one presented stimulus / media name (calibration segments are no trial)
    extra: dict[str, Any] = {}
    if "stim" in cols:
        stim = s[cols["stim"]].reset_index(drop=True)
        calib = np.isin(normalised_text(stim), NON_STIMULUS_NAMES)
        extra["calibration_samples"] = int(calib.sum())
        stim = stim.where(~calib, None)
        aoi = None
        if all(k in cols for k in ("mx", "my", "mw", "mh")):
            mx, my = to_float(s, cols["mx"], n), to_float(s, cols["my"], n)
            aoi = {"left": mx, "top": my, "right": mx + to_float(s, cols["mw"], n),
                   "bottom": my + to_float(s, cols["mh"], n)}
        trials = trials_from_runs(stim, t, nominal, aoi)
    else:
        trials = trials_from_runs(pd.Series([], dtype=object), t, nominal)

    labels, labels_source = _labels(s, cols, program, path, lines_s)
    extra.update({
        "column_style": ("prolab-unit-suffixed" if units["time"] else "prolab-classic") if program == "prolab"
        else "studio",
        "timestamp_unit": unit, "decimal": decimal, "delimiter": sep, "encoding": enc,
        "eyes": ["left", "right"] if per_eye else ["average"], "geometry_source": geometry_source, **clock,
    })
    if labels_source:
        extra["labels_source"] = labels_source
    if "ged" in cols:
        ged = to_float(s, cols["ged"], n)
        with np.errstate(invalid="ignore"):
            extra["gaze_event_duration_ms"] = np.where(np.isfinite(ged) & (ged >= 0) & (ged < 1e9), ged, np.nan)
    if is_event.any() and "event" in cols:
        ev = df.loc[is_event]
        extra["events"] = pd.DataFrame({
            "time_s": to_float(ev, cols["time"], len(ev)) * TIME_UNITS[unit],
            "event": ev[cols["event"]].astype(object).to_numpy(), "line": all_lines[is_event]})
    participant = None
    if "participant" in cols:
        pv = df[cols["participant"]].dropna()
        participant = str(pv.iloc[0]) if len(pv) else None
    acc, prec = _first_number(df, cols.get("acc")), _first_number(df, cols.get("prec"))
    meta = RecordingMeta(source=str(path), format=program, sampling_rate_hz=nominal, geometry=geom,
                         tracker_model="unknown", participant=participant, extra=extra,
                         accuracy_deg=acc if acc is not None and np.isfinite(acc) else None,
                         precision_deg=prec if prec is not None and np.isfinite(prec) else None)
    counts = finish_counts(samples, event_rows=int(is_event.sum()), blank_rows=int(blank.sum()),
                           other_rows=int(is_other.sum()), missing_samples=missing, rows_total=n_rows,
                           offscreen_samples=int(offscreen.sum()), implausible_eye_positions=bad_eye_pos)
    return Recording(samples=samples, trials=trials, meta=meta, counts=counts, labels=labels)


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
    when its median sample interval gives a tracker's rate in µs, else in the unit that does
    (:func:`analysis.io.units.check_time_unit`). Sample rows are rows with
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
