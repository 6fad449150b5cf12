"""Reader of gaze data written through the Tobii Pro SDK from Python scripts (format ``tobii_sdk``).

Two column styles, both one row per ``GazeData`` sample (Tobii Pro SDK Python reference,
``tobii_research.GazeData`` and its ``as_dict``-style dictionary keys; Titta/TittaPy,
Niehorster, Andersson & Nyström 2020, ``TittaPy.EyeTracker.consume_N("gaze")`` field names,
which this project's own tracker code uses, study/trackers/base.py):

* **tobii_research dictionaries** written with ``csv.DictWriter`` or ``pandas``: one column
  per key, tuple cells such as ``(0.51, 0.48)``: ``device_time_stamp``, ``system_time_stamp``
  (µs), ``left_gaze_point_on_display_area`` (normalised 0..1, origin top-left),
  ``left_gaze_point_in_user_coordinate_system`` (mm, UCS), ``left_gaze_point_validity`` (0/1),
  ``left_pupil_diameter`` (mm), ``left_pupil_validity``,
  ``left_gaze_origin_in_user_coordinate_system`` (mm, UCS), ``left_gaze_origin_validity``, and
  the same for ``right_``.
* **Titta/TittaPy flattened** columns: ``left_gaze_point_on_display_area_x``/``_y``,
  ``left_gaze_point_in_user_coordinates_x``/``_y``/``_z``, ``left_gaze_point_valid`` (True/False),
  ``left_pupil_diameter``, ``left_pupil_valid``, ``left_gaze_origin_in_user_coordinates_x``/``_y``/``_z``,
  ``left_gaze_origin_valid``.

Tab, comma or semicolon separated (quoted tuple cells honoured), ``.gz`` read directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import read_head, truth_column
from analysis.io._gaze import (
    TextTable,
    column,
    display_area_from_ucs,
    first_present,
    finish_recording,
    median_finite,
    read_text_table,
    require_columns,
    resolve_geometry,
    tuple_column,
)
from analysis.io.units import timestamp_seconds
from analysis.recording import Geometry, Recording

FORMAT = "tobii_sdk"
LABEL = "Tobii Pro SDK (tobii_research / Titta)"
MARKERS = ("gaze_point_on_display_area",)
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
INSTALL = 'pip install "artgaze[hdf5]"  (or: pip install tables)'
_NUMERIC = ("system_time_stamp", "device_time_stamp") + tuple(
    f"{e}_{name}_{a}" for e in ("left", "right") for name in (
        "gaze_point_on_display_area", "gaze_point_in_user_coordinates", "gaze_point_in_user_coordinate_system",
        "gaze_origin_in_user_coordinates", "gaze_origin_in_user_coordinate_system") for a in "xyz") + tuple(
    f"{e}_pupil_diameter" for e in ("left", "right"))
LOOKED_FOR = ("system_time_stamp or device_time_stamp, left_gaze_point_on_display_area[_x], "
              "left_gaze_point_validity / left_gaze_point_valid (Tobii Pro SDK, Titta)")


def sniff(header_line: str) -> bool:
    """True for a header with a ``*_gaze_point_on_display_area*`` column and an SDK time stamp."""
    low = header_line.lower()
    return "left_gaze_point_on_display_area" in low and "time_stamp" in low


def _vec(t, name: str | None, flat: bool, k: int, path: Path, lines: np.ndarray) -> np.ndarray:
    """A k-vector per row, from one tuple column or from ``_x``/``_y``/``_z`` columns."""
    n = len(t.df)
    if name is None:
        return np.full((n, k), np.nan)
    if flat:
        return np.c_[tuple(column(t.df, f"{name}_{a}") for a in "xyz"[:k])]
    return tuple_column(t.df, name, k, path, lines)


def _ucs_name(header: list[str], stem: str, flat: bool) -> str | None:
    """The UCS column of ``stem`` (e.g. ``left_gaze_point``): the tuple column, or the prefix of the
    ``_x``/``_y``/``_z`` columns (Titta: ``..._in_user_coordinates_x``); ``None`` when absent."""
    names = (f"{stem}_in_user_coordinates", f"{stem}_in_user_coordinate_system")
    if flat:
        return next((n for n in names if f"{n}_x" in header), None)
    return next((n for n in names[::-1] if n in header), None)


def _read_titta_hdf5(path: Path) -> TextTable:
    """The ``gaze`` table of a Titta HDF5 file (``Titta.save_data``: pandas ``to_hdf(..., key="gaze")``)."""
    try:
        import tables  # noqa: F401  (pandas' HDF5 backend)
    except ImportError:
        raise InputError("reading Titta HDF5 files needs the optional package tables (PyTables)", file=path,
                         expected="tables installed", fix=INSTALL) from None
    try:
        with pd.HDFStore(path, mode="r") as store:
            if "/gaze" not in store.keys():
                raise InputError("no gaze table in the HDF5 file", file=path, column="gaze",
                                 expected="a Titta file with a 'gaze' table, or an ioHub data store",
                                 fix="save the data with Titta's save_data, or pick the right file")
            df = store["gaze"]
            msg = store["msg"] if "/msg" in store.keys() else None
    except InputError:
        raise
    except Exception as exc:  # PyTables raises many types (HDF5ExtError, NoSuchNodeError, ...) on corrupt files
        raise InputError(f"the HDF5 file could not be read ({type(exc).__name__}: {exc})", file=path,
                         expected="a complete Titta HDF5 file",
                         fix="copy the file again from the recording computer") from None
    if not isinstance(df, pd.DataFrame):
        raise InputError("the 'gaze' entry of the HDF5 file is not a table", file=path, column="gaze",
                         expected="a pandas DataFrame written by Titta", fix="pick the right file")
    df = df.reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    t = TextTable(df=df, lines=np.arange(1, len(df) + 1), header=list(df.columns), sep="hdf5", decimal=".",
                  encoding="binary")
    if isinstance(msg, pd.DataFrame) and {"system_time_stamp", "msg"} <= set(msg.columns):
        t.events = pd.DataFrame({"time_s": pd.to_numeric(msg["system_time_stamp"], errors="coerce").to_numpy(
            dtype=np.float64) * 1e-6, "event": msg["msg"].astype(str).to_numpy(), "line": np.arange(1, len(msg) + 1)})
    return t


def read_tobii_sdk(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                   screen_px: tuple[int, int] | None = None, screen_mm: tuple[float, float] | None = None,
                   distance_mm: float | None = None) -> Recording:
    """Read a Tobii Pro SDK gaze-data table (tobii_research dictionaries or Titta columns).

    Parameters
    ----------
    path : path
        The table (``.tsv``/``.csv``, optionally ``.gz``).
    geometry : Geometry, optional
        Full geometry; overrides everything else.
    rate_hz : float, optional
        Declared rate, checked against the time stamps (default: measured, snapped to the nominal
        Tobii rate).
    screen_px : (int, int)
        The screen resolution. Required: the SDK gives gaze only normalised to the display area.
    screen_mm, distance_mm : optional
        Display size and viewing distance. By default derived from the file when it has the gaze
        point in UCS (the display area is fitted, :func:`analysis.io._gaze.display_area_from_ucs`,
        and the distance is the median distance of the gaze origins from that plane); with only the
        gaze origin the distance is its median UCS ``z`` (the tracker sits in the display plane of a
        screen-based setup, Tobii Pro SDK "Coordinate systems") and ``screen_mm`` is required.

    Notes
    -----
    Time: ``device_time_stamp`` (the tracker's clock, evenly spaced) shifted by the median difference
    onto ``system_time_stamp`` (the clock experiment messages use); either one alone when only one is
    present. Unit µs, or ms when the median interval is below 200
    (:func:`analysis.io.units.timestamp_seconds`).
    A gaze sample is valid when its validity is 1/True/Valid.
    """
    path = Path(path)
    if read_head(path, 8).startswith(HDF5_MAGIC):
        t = _read_titta_hdf5(path)
    else:
        t = read_text_table(path, markers=MARKERS, label=LABEL, numeric=_NUMERIC)
    h = t.header
    flat = "left_gaze_point_on_display_area_x" in h
    gp = "gaze_point_on_display_area"
    require_columns(h, {"timestamp": ("system_time_stamp", "device_time_stamp"),
                        "left gaze": (f"left_{gp}_x" if flat else f"left_{gp}",),
                        "right gaze": (f"right_{gp}_x" if flat else f"right_{gp}",),
                        "left validity": ("left_gaze_point_validity", "left_gaze_point_valid"),
                        "right validity": ("right_gaze_point_validity", "right_gaze_point_valid")}, path, LABEL)
    df = t.df
    blank = df.isna().all(axis=1).to_numpy()
    t.df = df.loc[~blank]
    lines = t.lines[~blank]
    tcol = first_present(h, "system_time_stamp", "device_time_stamp")
    time_s, unit = timestamp_seconds(column(t.df, tcol), None, path, tcol)
    if tcol == "system_time_stamp" and "device_time_stamp" in h:
        # Sample timing from the tracker's own clock (evenly spaced; the system stamps carry the
        # host's jitter), shifted onto the system clock that experiment messages use (Tobii Pro SDK,
        # "Timestamp and timing": both in µs, device_time_stamp from the tracker, system_time_stamp
        # from the computer's monotonic clock).
        dev, _ = timestamp_seconds(column(t.df, "device_time_stamp"), unit, path, "device_time_stamp")
        with np.errstate(invalid="ignore"):
            offset = np.nanmedian(time_s - dev) if np.isfinite(time_s - dev).any() else np.nan
        if np.isfinite(offset) and np.isfinite(dev).all():
            time_s, tcol = dev + offset, "device_time_stamp"

    eyes: dict[str, dict[str, Any]] = {}
    ucs_points, origins = [], {}
    for eye in ("left", "right"):
        g2 = _vec(t, f"{eye}_{gp}", flat, 2, path, lines)
        vcol = first_present(h, f"{eye}_gaze_point_validity", f"{eye}_gaze_point_valid")
        valid = truth_column(t.df, vcol, path, lines)
        g3 = _vec(t, _ucs_name(h, f"{eye}_gaze_point", flat), flat, 3, path, lines)
        origin = _vec(t, _ucs_name(h, f"{eye}_gaze_origin", flat), flat, 3, path, lines)
        ovcol = first_present(h, f"{eye}_gaze_origin_validity", f"{eye}_gaze_origin_valid")
        ovalid = truth_column(t.df, ovcol, path, lines) if ovcol else np.isfinite(origin).all(axis=1)
        origin[~ovalid] = np.nan
        pupil = column(t.df, f"{eye}_pupil_diameter")
        pvcol = first_present(h, f"{eye}_pupil_validity", f"{eye}_pupil_valid")
        if pvcol:
            pupil = np.where(truth_column(t.df, pvcol, path, lines), pupil, np.nan)
        g3v = g3.copy()
        g3v[~valid] = np.nan
        ucs_points.append((np.where(valid, g2[:, 0], np.nan), np.where(valid, g2[:, 1], np.nan), g3v))
        origins[eye] = origin
        xname = f"{eye}_{gp}_x" if flat else f"{eye}_{gp}"
        eyes[eye] = {"x": g2[:, 0], "y": g2[:, 1], "valid": valid, "pupil": pupil,
                     "columns": (xname, f"{eye}_{gp}_y" if flat else xname)}

    xn = np.concatenate([p[0] for p in ucs_points])
    yn = np.concatenate([p[1] for p in ucs_points])
    g3 = np.concatenate([p[2] for p in ucs_points])
    area = display_area_from_ucs(xn, yn, g3)
    file_values: dict[str, Any] = {"screen_px": None}
    file_sources = {}
    why = {"screen_px": "the SDK gives gaze normalised to the display area only"}
    if area is not None:
        for eye in ("left", "right"):
            da = area.to_display_mm(origins[eye])
            eyes[eye].update(ex=da[:, 0], ey=da[:, 1], ez=da[:, 2])
        file_values["screen_mm"] = area.size_mm
        file_sources["screen_mm"] = "display area fitted to the gaze points in UCS"
        dist = median_finite(eyes["left"]["ez"], eyes["right"]["ez"])
        file_values["distance_mm"] = dist
        file_sources["distance_mm"] = "median distance of the gaze origins from the fitted display area"
    else:
        dist = median_finite(origins["left"][:, 2], origins["right"][:, 2])
        file_values["distance_mm"] = dist
        file_sources["distance_mm"] = "median gaze origin z in UCS"
        why["screen_mm"] = ("no gaze point in user coordinates spread over the display, so the display "
                            "size cannot be fitted")
        why["distance_mm"] = "no gaze origin in user coordinates"
    geom, sources = resolve_geometry(path, LABEL, geometry=geometry, screen_px=screen_px, screen_mm=screen_mm,
                                     distance_mm=distance_mm, file_values=file_values,
                                     file_sources=file_sources, why=why)
    extra = {"column_style": "titta-flat" if flat else "tobii_research-dict", "timestamp_column": tcol,
             "timestamp_unit": unit, "delimiter": t.sep, "decimal": t.decimal, "encoding": t.encoding,
             "eyes": ["left", "right"], "geometry_source": sources}
    if t.events is not None:
        extra["events"] = t.events  # Titta's messages, on the system_time_stamp clock
    return finish_recording(path, fmt=FORMAT, label=LABEL, time_s=time_s, lines=lines, time_column=tcol,
                            eyes=eyes, coords="norm", geometry=geom, rate_hz=rate_hz, extra=extra,
                            counts_extra={"blank_rows": int(blank.sum()), "rows_total": len(df)})
