"""Reader of Tobii Studio 1.x/2.x "All-Data" text exports (format ``studio_alldata``).

Tobii Studio 1.x/2.x wrote, per recording, an "All-Data" TSV (Tobii Studio 1.x User Manual,
"Exporting data: All-Data export"; the column set read by UBC's EMDAT ``TobiiV2Recording``
and by FH-Potsdam/tobii_eyetracker_csv_reading): ``Timestamp`` (ms since the recording
start), ``Number``, ``GazePointXLeft``/``GazePointYLeft`` (pixels on the screen),
``CamXLeft``/``CamYLeft`` (eye in the camera, 0..1), ``DistanceLeft`` (eye to tracker, mm),
``PupilLeft`` (mm), ``ValidityLeft`` (Tobii codes 0-4), the same for the right eye,
``FixationIndex`` (Studio's own fixation number on the samples of each fixation),
``GazePointX``/``GazePointY``, ``Event``/``Descriptor`` (e.g. ``ImageStart`` rows without
gaze), ``StimuliName``, ``MediaWidth``/``MediaHeight``/``MediaPosX``/``MediaPosY`` and, in
later 2.x versions, ``MicroSecondTimestamp`` (µs, same origin). Numbers use the locale's
decimal separator (a decimal comma on German systems).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import plain
from analysis.io._gaze import (
    TOBII_MAX_VALID_CODE,
    column,
    first_present,
    finish_recording,
    median_finite,
    read_text_table,
    require_columns,
    resolve_geometry,
    tobii_code_validity,
)
from analysis.recording import LABEL_DTYPES, T60_GEOMETRY, Geometry, Recording

FORMAT = "studio_alldata"
LABEL = "Tobii Studio 1.x/2.x All-Data"
#: Header markers (all must be in one line) that tell this format from the Studio 3 export,
#: whose names are ``RecordingTimestamp`` and ``GazePointLeftX (ADCSpx)``.
MARKERS = ("GazePointXLeft", "ValidityLeft")
LOOKED_FOR = "Timestamp, GazePointXLeft, ValidityLeft (Tobii Studio 1.x/2.x All-Data)"

_NUMERIC = ("Timestamp", "MicroSecondTimestamp", "GazePointXLeft", "GazePointYLeft", "GazePointXRight",
            "GazePointYRight", "PupilLeft", "PupilRight", "ValidityLeft", "ValidityRight", "DistanceLeft",
            "DistanceRight", "FixationIndex", "MediaWidth", "MediaHeight", "MediaPosX", "MediaPosY")
_TEXT = ("Event", "Descriptor", "StimuliName")
#: Studio 1.x/2.x shows "No media" while no stimulus is on screen; those rows belong to no trial.
NO_MEDIA = "no media"


def sniff(header_line: str) -> bool:
    """True when a header line is an All-Data header (tab-separated names, no Studio 3 names)."""
    cells = set(header_line.replace(",", "\t").replace(";", "\t").split("\t"))
    return {"Timestamp", *MARKERS} <= {c.strip().strip('"') for c in cells}


#: The default 1280x1024 display is refused when the file shows a larger screen: a stimulus placed beyond
#: it, or more than this fraction of valid gaze beyond 105 % of its width/height (a 1920x1080 or T60XL
#: 1920x1200 recording). (default: 0.05)
DEFAULT_DISPLAY_MAX_BEYOND = 0.05


def _check_default_display(path: Path, s: pd.DataFrame, lv: np.ndarray, rv: np.ndarray, h: list[str]) -> None:
    w, hh = T60_GEOMETRY.screen_px
    media_right = column(s, "MediaPosX") + column(s, "MediaWidth") if "MediaPosX" in h and "MediaWidth" in h \
        else np.full(len(s), np.nan)
    media_bottom = column(s, "MediaPosY") + column(s, "MediaHeight") if "MediaPosY" in h and "MediaHeight" in h \
        else np.full(len(s), np.nan)
    xs = np.concatenate([column(s, "GazePointXLeft")[lv], column(s, "GazePointXRight")[rv]])
    ys = np.concatenate([column(s, "GazePointYLeft")[lv], column(s, "GazePointYRight")[rv]])
    with np.errstate(invalid="ignore"):
        beyond = float(np.mean((xs > 1.05 * w) | (ys > 1.05 * hh))) if len(xs) else 0.0
        media_out = bool(np.any(media_right > w) or np.any(media_bottom > hh))
    if media_out or beyond > DEFAULT_DISPLAY_MAX_BEYOND:
        what = ("a stimulus extends beyond it" if media_out else
                f"{beyond:.0%} of the valid gaze lies beyond it")
        raise InputError(f"the export gives no resolution and the default 1280x1024 display does not fit ({what})",
                         file=path, expected="the screen resolution and physical size of the recording display",
                         fix="pass --screen-px W H --screen-mm W H (Python: screen_px=(W, H), screen_mm=(W, H))")


def read_studio_alldata(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                        screen_px: tuple[int, int] | None = None, screen_mm: tuple[float, float] | None = None,
                        distance_mm: float | None = None) -> Recording:
    """Read a Tobii Studio 1.x/2.x All-Data export (``.tsv`` or ``.tsv.gz``).

    Parameters
    ----------
    path : path
        The export.
    geometry : Geometry, optional
        Full geometry; overrides everything else.
    rate_hz : float, optional
        Declared rate, checked against the timestamps (default: measured on the finest clock and
        snapped to the nominal Tobii rate, :func:`analysis.io._common.check_sampling`).
    screen_px, screen_mm, distance_mm : optional
        Override the resolution, display size and viewing distance. The export has gaze in pixels but
        no resolution or display size: like the Studio 3 reader, the Tobii T60/1750 display of the
        paper's lab (1280x1024 px, 338x270 mm, :data:`analysis.recording.T60_GEOMETRY`) is used for
        them (default) and named in ``meta.extra["geometry_source"]``; the viewing distance is the
        median ``DistanceLeft``/``DistanceRight`` of the file (default: T60's 650 mm when absent).

    Notes
    -----
    Sample rows are rows with a validity code; rows with only an ``Event`` are counted
    (``counts["event_rows"]``). Time is ``MicroSecondTimestamp`` when present (the finest clock),
    else ``Timestamp`` (ms). Validity: codes <= 1 are valid
    (:data:`analysis.io._gaze.TOBII_MAX_VALID_CODE`). ``FixationIndex`` becomes ``Recording.labels``
    (``movement`` = fixation where it is set, eyes_not_found where both eyes are invalid, else
    unclassified: Studio 1.x/2.x labels only fixations).
    """
    path = Path(path)
    t = read_text_table(path, markers=MARKERS, label=LABEL, numeric=_NUMERIC, text=_TEXT)
    h = t.header
    require_columns(h, {"timestamp": ("MicroSecondTimestamp", "Timestamp"),
                        "left gaze": ("GazePointXLeft",), "right gaze": ("GazePointXRight",),
                        "left validity": ("ValidityLeft",), "right validity": ("ValidityRight",)}, path, LABEL)
    for c in ("GazePointYLeft", "GazePointYRight"):
        if c not in h:
            raise InputError(f"{LABEL} file lacks the column {c}", file=path, line=1, column=c,
                             expected="GazePointX/Y Left/Right", fix="re-export with gaze data")
    df = t.df
    n_rows = len(df)
    lv_all, rv_all = column(df, "ValidityLeft"), column(df, "ValidityRight")
    is_sample = np.isfinite(lv_all) | np.isfinite(rv_all)
    blank = df.isna().all(axis=1).to_numpy()
    is_event = ~is_sample & ~blank
    s = df.loc[is_sample]
    lines = t.lines[is_sample]
    n = len(s)
    if n == 0:
        raise InputError(f"the {LABEL} export has no gaze sample rows", file=path, line=2,
                         expected="rows with ValidityLeft/ValidityRight codes", fix="export a recording with gaze data")

    tcol = first_present(h, "MicroSecondTimestamp")
    raw_us = column(s, tcol) if tcol else np.full(n, np.nan)
    if tcol is not None and np.isfinite(raw_us).all():
        time_s, unit, time_column = raw_us * 1e-6, "us", tcol
    else:
        time_s, unit, time_column = column(s, "Timestamp") * 1e-3, "ms", "Timestamp"

    lv = tobii_code_validity(column(s, "ValidityLeft"), path, lines, "ValidityLeft")
    rv = tobii_code_validity(column(s, "ValidityRight"), path, lines, "ValidityRight")
    dist_l = np.where(lv, column(s, "DistanceLeft"), np.nan)
    dist_r = np.where(rv, column(s, "DistanceRight"), np.nan)
    with np.errstate(invalid="ignore"):
        dist_l[dist_l <= 0] = np.nan
        dist_r[dist_r <= 0] = np.nan
    file_dist = median_finite(dist_l, dist_r)
    geom, sources = resolve_geometry(
        path, LABEL, geometry=geometry, screen_px=screen_px, screen_mm=screen_mm, distance_mm=distance_mm,
        # the default display only as a whole: a resolution without a size (or the reverse) is not mixed with it
        file_values={"screen_px": T60_GEOMETRY.screen_px if screen_mm is None else None,
                     "screen_mm": T60_GEOMETRY.screen_mm if screen_px is None else None,
                     "distance_mm": file_dist if file_dist is not None else T60_GEOMETRY.distance_mm},
        file_sources={"screen_px": "default: Tobii T60/1750 display (the export has no resolution)",
                      "screen_mm": "default: Tobii T60/1750 display (the export has no display size)",
                      "distance_mm": ("median DistanceLeft/DistanceRight" if file_dist is not None
                                      else "default: Tobii T60 (no DistanceLeft/Right)")},
        why={"screen_px": "the export has no resolution, and with --screen-mm the default display is not used",
             "screen_mm": "the export has no display size, and with --screen-px the default display is not used"})

    if sources["screen_px"].startswith("default"):
        _check_default_display(path, s, lv, rv, h)

    eyes = {}
    for eye, p, valid in (("left", "Left", lv), ("right", "Right", rv)):
        eyes[eye] = {"x": column(s, f"GazePointX{p}"), "y": column(s, f"GazePointY{p}"), "valid": valid,
                     "pupil": np.where(valid, column(s, f"Pupil{p}"), np.nan),
                     "columns": (f"GazePointX{p}", f"GazePointY{p}")}

    labels = None
    extra: dict = {"timestamp_unit": unit, "decimal": t.decimal, "delimiter": t.sep, "encoding": t.encoding,
                   "eyes": ["left", "right"], "geometry_source": sources,
                   "validity_max_code": TOBII_MAX_VALID_CODE}
    if "FixationIndex" in h:
        fi = column(s, "FixationIndex")
        with np.errstate(invalid="ignore"):
            bad = ~np.isnan(fi) & ~((fi >= 0) & (fi < 2**53) & (fi == np.round(fi)))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"FixationIndex {plain(fi[i])} is not a fixation number", file=path,
                             line=int(lines[i]), column="FixationIndex", expected="a whole number >= 0, or empty",
                             fix="correct the cell; the file was edited or is from another program")
        movement = np.where(np.isfinite(fi), "fixation", np.where(~lv & ~rv, "eyes_not_found", "unclassified"))
        labels = pd.DataFrame({"movement": movement.astype(object),
                               "event_index": pd.Series(fi).astype("Int64")}).astype(LABEL_DTYPES)
        extra["labels_source"] = "FixationIndex (Tobii Studio 1.x/2.x fixation filter)"

    trial_names = aoi = None
    if "StimuliName" in h:
        names = s["StimuliName"].astype(object)
        low = names.astype(str).str.strip().str.lower()
        trial_names = names.where(names.notna() & (low != NO_MEDIA).to_numpy(), None)
        if all(c in h for c in ("MediaPosX", "MediaPosY", "MediaWidth", "MediaHeight")):
            mx, my = column(s, "MediaPosX"), column(s, "MediaPosY")
            aoi = {"left": mx, "top": my, "right": mx + column(s, "MediaWidth"),
                   "bottom": my + column(s, "MediaHeight")}
    if is_event.any() and "Event" in h:
        ev = df.loc[is_event]
        offset = 0.0
        if unit == "us":  # put the ms event clock on the µs sample clock (same origin, rounding only)
            d = time_s - column(s, "Timestamp") * 1e-3
            offset = float(np.nanmedian(d)) if np.isfinite(d).any() else 0.0
        extra["events"] = pd.DataFrame({
            "time_s": column(ev, "Timestamp") * 1e-3 + offset,
            "event": ev["Event"].astype(object).to_numpy(),
            "descriptor": ev["Descriptor"].astype(object).to_numpy() if "Descriptor" in h else None,
            "line": t.lines[is_event]})
    return finish_recording(path, fmt=FORMAT, label=LABEL, time_s=time_s, lines=lines, time_column=time_column,
                            eyes=eyes, coords="px", geometry=geom, rate_hz=rate_hz, extra=extra,
                            trial_names=trial_names, aoi=aoi, labels=labels,
                            counts_extra={"event_rows": int(is_event.sum()), "blank_rows": int(blank.sum()),
                                          "rows_total": n_rows},
                            tracker_model="unknown (Tobii Studio 1.x/2.x)")
