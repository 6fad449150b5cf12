"""Reader of raw gaze text files from Tobii SDK recorders for the TX300/T-series (format ``tobii_raw``).

Recorders built on the Tobii Analytics SDK 3 write one tab-separated row per sample with the
SDK's ``GazeDataItem`` fields; the I2MC example data (Hessels, Niehorster, Kemner & Hooge 2017,
github.com/royhessels/I2MC, ``example data``; importer ``importTobiiTX300.m``, Python
``import_funcs.tobii_TX300``) are such files from a TX300 at 300 Hz:

``Time`` (µs, tracker clock), ``LEyePos3dx/y/z`` (eye in UCS, mm), ``LEyePos3dRelx/y/z`` (eye in
the track box, 0..1), ``LGazePos2dx/y`` (gaze on the display area, 0..1, origin top-left; -1 when
missing), ``LGazePos3dx/y/z`` (gaze point in UCS, mm), ``LPupilDm`` (mm; -1 when missing),
``LValidity`` (Tobii codes 0-4), the same with ``R`` for the right eye, and ``RelTimestamp``
(ms since the first sample).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.io._gaze import (
    column,
    display_area_from_ucs,
    finish_recording,
    median_finite,
    read_text_table,
    require_columns,
    resolve_geometry,
    tobii_code_validity,
)
from analysis.io.units import timestamp_seconds
from analysis.recording import Geometry, Recording

FORMAT = "tobii_raw"
LABEL = "Tobii SDK raw gaze (TX300/T-series)"
MARKERS = ("LGazePos2dx",)
LOOKED_FOR = "Time or RelTimestamp, LGazePos2dx, LValidity (Tobii SDK raw gaze, I2MC example data)"
_NUMERIC = tuple(f"{e}{c}" for e in "LR" for c in (
    "EyePos3dx", "EyePos3dy", "EyePos3dz", "GazePos2dx", "GazePos2dy", "GazePos3dx", "GazePos3dy", "GazePos3dz",
    "PupilDm", "Validity")) + ("Time", "RelTimestamp")


def sniff(header_line: str) -> bool:
    """True for a header with ``LGazePos2dx`` and ``LValidity``."""
    return "LGazePos2dx" in header_line and "LValidity" in header_line


def read_tobii_raw(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                   screen_px: tuple[int, int] | None = None, screen_mm: tuple[float, float] | None = None,
                   distance_mm: float | None = None) -> Recording:
    """Read a raw Tobii SDK gaze file (TX300/T-series, as in the I2MC example data).

    Parameters
    ----------
    path : path
        The tab-separated file (optionally ``.gz``).
    geometry : Geometry, optional
        Full geometry; overrides everything else.
    rate_hz : float, optional
        Declared rate, checked against the time stamps (default: measured on ``Time``, snapped to the
        nominal Tobii rate; TX300: 300 Hz).
    screen_px : (int, int)
        The screen resolution. Required: gaze is normalised to the display area (I2MC's importer
        takes it as ``res`` for the same reason).
    screen_mm, distance_mm : optional
        Display size and viewing distance; by default derived from the file: the display area is
        fitted to ``*GazePos3d`` against ``*GazePos2d`` (:func:`analysis.io._gaze.display_area_from_ucs`),
        the eye positions ``*EyePos3d`` are expressed in display-area coordinates and the viewing
        distance is their median distance from the display.

    Notes
    -----
    Time is ``Time`` (µs; the finest clock) or, without it, ``RelTimestamp`` (ms). Validity codes
    <= 1 are valid (:data:`analysis.io._gaze.TOBII_MAX_VALID_CODE`, I2MC: ``LValidity > 1`` is missing);
    samples more than one screen off the display are glitches, marked invalid and counted.
    """
    path = Path(path)
    t = read_text_table(path, markers=MARKERS, label=LABEL, numeric=_NUMERIC)
    h = t.header
    require_columns(h, {"timestamp": ("Time", "RelTimestamp"), "left gaze": ("LGazePos2dx",),
                        "right gaze": ("RGazePos2dx",), "left validity": ("LValidity",),
                        "right validity": ("RValidity",)}, path, LABEL)
    df = t.df
    blank = df.isna().all(axis=1).to_numpy()
    s = df.loc[~blank]
    lines = t.lines[~blank]
    if "Time" in h:
        time_s, unit = timestamp_seconds(column(s, "Time"), None, path, "Time")
        tcol = "Time"
    else:
        time_s, unit, tcol = column(s, "RelTimestamp") * 1e-3, "ms", "RelTimestamp"

    eyes: dict[str, dict[str, Any]] = {}
    pts, eye_ucs = [], {}
    for eye, p in (("left", "L"), ("right", "R")):
        valid = tobii_code_validity(column(s, f"{p}Validity"), path, lines, f"{p}Validity")
        xn, yn = column(s, f"{p}GazePos2dx"), column(s, f"{p}GazePos2dy")
        g3 = np.c_[column(s, f"{p}GazePos3dx"), column(s, f"{p}GazePos3dy"), column(s, f"{p}GazePos3dz")]
        e3 = np.c_[column(s, f"{p}EyePos3dx"), column(s, f"{p}EyePos3dy"), column(s, f"{p}EyePos3dz")]
        e3[~valid] = np.nan
        pupil = column(s, f"{p}PupilDm")
        pupil = np.where(valid & (pupil > 0), pupil, np.nan)
        pts.append((np.where(valid, xn, np.nan), np.where(valid, yn, np.nan), g3))
        eye_ucs[eye] = e3
        eyes[eye] = {"x": xn, "y": yn, "valid": valid, "pupil": pupil,
                     "columns": (f"{p}GazePos2dx", f"{p}GazePos2dy")}
    area = display_area_from_ucs(np.concatenate([p[0] for p in pts]), np.concatenate([p[1] for p in pts]),
                                 np.concatenate([p[2] for p in pts]))
    file_values: dict[str, Any] = {"screen_px": None}
    file_sources: dict[str, str] = {}
    why = {"screen_px": "gaze is normalised to the display area (LGazePos2dx/y) and no resolution is recorded"}
    if area is not None:
        for eye in ("left", "right"):
            da = area.to_display_mm(eye_ucs[eye])
            eyes[eye].update(ex=da[:, 0], ey=da[:, 1], ez=da[:, 2])
        file_values["screen_mm"] = area.size_mm
        file_sources["screen_mm"] = "display area fitted to *GazePos3d against *GazePos2d"
        file_values["distance_mm"] = median_finite(eyes["left"]["ez"], eyes["right"]["ez"])
        file_sources["distance_mm"] = "median distance of *EyePos3d from the fitted display area"
    else:
        why["screen_mm"] = "no *GazePos3d columns with gaze spread over the display to fit the display size"
        file_values["distance_mm"] = median_finite(eye_ucs["left"][:, 2], eye_ucs["right"][:, 2])
        file_sources["distance_mm"] = "median *EyePos3dz (eye to tracker, UCS)"
        why["distance_mm"] = "no *EyePos3dz columns"
    geom, sources = resolve_geometry(path, LABEL, geometry=geometry, screen_px=screen_px, screen_mm=screen_mm,
                                     distance_mm=distance_mm, file_values=file_values, file_sources=file_sources,
                                     why=why)
    extra = {"timestamp_column": tcol, "timestamp_unit": unit, "delimiter": t.sep, "decimal": t.decimal,
             "encoding": t.encoding, "eyes": ["left", "right"], "geometry_source": sources}
    return finish_recording(path, fmt=FORMAT, label=LABEL, time_s=time_s, lines=lines, time_column=tcol,
                            eyes=eyes, coords="norm", geometry=geom, rate_hz=rate_hz, extra=extra,
                            counts_extra={"blank_rows": int(blank.sum()), "rows_total": len(df)})
