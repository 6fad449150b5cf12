"""Reader of E-Prime Extensions for Tobii ``.gazedata`` files (format ``eprime``).

E-Prime Extensions for Tobii (Psychology Software Tools; Tobii SDK 2 era, T60/T120 labs) log
one tab-separated row per sample (column set as documented by the lookr/littlelisteners R
packages, Mahr, ``read_gazedata``): ``Subject``, ``Session``, ``ID``, ``TETTime`` (tracker
time, ms, with decimals), ``RTTime`` (E-Prime clock, ms), ``CursorX``/``CursorY`` (the gaze
point averaged over the valid eyes, **pixels**; -1 when missing), ``TimestampSec``/
``TimestampMicrosec``, ``XGazePosLeftEye``/``YGazePosLeftEye`` (gaze on the screen, 0..1,
origin top-left; -1 when missing), ``XCameraPosLeftEye``/``YCameraPosLeftEye``,
``DiameterPupilLeftEye`` (mm), ``DistanceLeftEye`` (eye to tracker, mm), ``ValidityLeftEye``
(Tobii codes 0-4), the same for the right eye, then the experiment's own attribute columns
(``TrialId``, ``Target``, ``Stimulus`` ...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analysis.io._gaze import (
    column,
    first_present,
    finish_recording,
    median_finite,
    read_text_table,
    require_columns,
    resolve_geometry,
    tobii_code_validity,
)
from analysis.recording import Geometry, Recording

FORMAT = "eprime"
LABEL = "E-Prime Extensions for Tobii .gazedata"
MARKERS = ("XGazePosLeftEye",)
LOOKED_FOR = "TETTime, XGazePosLeftEye, ValidityLeftEye (E-Prime Extensions for Tobii .gazedata)"
_NUMERIC = ("TETTime", "RTTime", "CursorX", "CursorY", "XGazePosLeftEye", "YGazePosLeftEye", "XGazePosRightEye",
            "YGazePosRightEye", "DiameterPupilLeftEye", "DiameterPupilRightEye", "DistanceLeftEye",
            "DistanceRightEye", "ValidityLeftEye", "ValidityRightEye")
_TEXT = ("Subject", "Session", "TrialId", "TrialID")
#: Resolution derived from CursorX/Y over the normalised gaze: the ratio must agree within 1 % over the
#: samples with both eyes valid (rounding of CursorX to whole pixels). (default: 0.01)
CURSOR_RATIO_TOLERANCE = 0.01
CURSOR_MIN_SAMPLES = 10


def sniff(header_line: str) -> bool:
    """True for a header with ``TETTime`` and ``XGazePosLeftEye``."""
    return "TETTime" in header_line and "XGazePosLeftEye" in header_line


def _resolution_from_cursor(cx: np.ndarray, cy: np.ndarray, xn: np.ndarray, yn: np.ndarray) -> tuple[int, int] | None:
    """Screen resolution from ``CursorX/Y`` (px) over the mean normalised gaze, when consistent; else ``None``.

    E-Prime writes ``CursorX = floor(mean gaze x * width)`` (the real lookr files: 0.61337 x 1920 = 1177.7
    is written 1177), so the ratio scatters just below the width. The width is the integer near the median
    ratio for which ``floor`` (or ``round``) of ``x * width`` reproduces the most cursor cells.
    """
    out = []
    for c, g in ((cx, xn), (cy, yn)):
        ok = np.isfinite(c) & np.isfinite(g) & (c >= 0) & (g > 0.05) & (g <= 1)
        if ok.sum() < CURSOR_MIN_SAMPLES:
            return None
        with np.errstate(all="ignore"):
            r = c[ok] / g[ok]
            med = float(np.median(r))
            q1, q3 = np.percentile(r, [25, 75])
        if not np.isfinite(med) or med <= 0 or med > 1e5 or (q3 - q1) / med > CURSOR_RATIO_TOLERANCE:
            return None
        cands = np.arange(int(np.floor(med)) - 1, int(np.ceil(med)) + 3)
        cands = cands[cands > 0]
        prod = np.outer(cands, g[ok])
        hits = np.maximum((np.floor(prod) == c[ok]).sum(axis=1), (np.round(prod) == c[ok]).sum(axis=1))
        out.append(int(cands[int(np.argmax(hits))]))
    return out[0], out[1]


def read_eprime(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
                screen_px: tuple[int, int] | None = None, screen_mm: tuple[float, float] | None = None,
                distance_mm: float | None = None) -> Recording:
    """Read an E-Prime Extensions for Tobii ``.gazedata`` file.

    Parameters
    ----------
    path : path
        The ``.gazedata`` file (optionally ``.gz``).
    geometry : Geometry, optional
        Full geometry; overrides everything else.
    rate_hz : float, optional
        Declared rate, checked against ``TETTime`` (default: measured, snapped to the nominal Tobii rate).
    screen_px : (int, int), optional
        Resolution; by default derived from ``CursorX/CursorY`` (pixels) over the mean of the valid
        eyes' normalised gaze (:data:`CURSOR_RATIO_TOLERANCE`).
    screen_mm : (float, float)
        Display size. Required: the file has no physical size.
    distance_mm : float, optional
        Viewing distance; by default the median ``DistanceLeftEye``/``DistanceRightEye`` of valid samples.

    Notes
    -----
    Validity codes <= 1 are valid (:data:`analysis.io._gaze.TOBII_MAX_VALID_CODE`); -1 cells (missing)
    are never valid. Trials are the runs of ``TrialId`` (the stimulus id is the TrialId value).
    """
    path = Path(path)
    t = read_text_table(path, markers=MARKERS, label=LABEL, numeric=_NUMERIC, text=_TEXT)
    h = t.header
    require_columns(h, {"timestamp": ("TETTime",), "left gaze": ("XGazePosLeftEye",),
                        "right gaze": ("XGazePosRightEye",), "left validity": ("ValidityLeftEye",),
                        "right validity": ("ValidityRightEye",)}, path, LABEL)
    df = t.df
    blank = df.isna().all(axis=1).to_numpy()
    s = df.loc[~blank]
    lines = t.lines[~blank]
    time_s = column(s, "TETTime") * 1e-3
    eyes: dict[str, dict[str, Any]] = {}
    for eye, p in (("left", "Left"), ("right", "Right")):
        valid = tobii_code_validity(column(s, f"Validity{p}Eye"), path, lines, f"Validity{p}Eye")
        xn, yn = column(s, f"XGazePos{p}Eye"), column(s, f"YGazePos{p}Eye")
        valid &= (xn != -1) | (yn != -1)
        pupil = column(s, f"DiameterPupil{p}Eye")
        dist = column(s, f"Distance{p}Eye")
        eyes[eye] = {"x": xn, "y": yn, "valid": valid, "pupil": np.where(valid & (pupil > 0), pupil, np.nan),
                     "dist": np.where(valid & (dist > 0), dist, np.nan),
                     "columns": (f"XGazePos{p}Eye", f"YGazePos{p}Eye")}
    lv, rv = eyes["left"]["valid"], eyes["right"]["valid"]
    both = lv & rv
    with np.errstate(invalid="ignore"):
        xm = np.where(both, (eyes["left"]["x"] + eyes["right"]["x"]) / 2, np.nan)
        ym = np.where(both, (eyes["left"]["y"] + eyes["right"]["y"]) / 2, np.nan)
    res = None
    if "CursorX" in h and "CursorY" in h:
        res = _resolution_from_cursor(column(s, "CursorX"), column(s, "CursorY"), xm, ym)
    file_dist = median_finite(eyes["left"]["dist"], eyes["right"]["dist"])
    geom, sources = resolve_geometry(
        path, LABEL, geometry=geometry, screen_px=screen_px, screen_mm=screen_mm, distance_mm=distance_mm,
        file_values={"screen_px": res, "distance_mm": file_dist},
        file_sources={"screen_px": "CursorX/CursorY over the mean normalised gaze",
                      "distance_mm": "median DistanceLeftEye/DistanceRightEye"},
        why={"screen_px": "no CursorX/CursorY columns consistent with the normalised gaze",
             "screen_mm": "a .gazedata file records no physical display size",
             "distance_mm": "no valid DistanceLeftEye/DistanceRightEye"})
    trial_col = first_present(h, "TrialId", "TrialID")
    trial_names = s[trial_col].astype(object) if trial_col else None
    participant = None
    if "Subject" in h:
        sub = s["Subject"].dropna()
        participant = str(sub.iloc[0]) if len(sub) else None
    extra = {"timestamp_unit": "ms", "delimiter": t.sep, "decimal": t.decimal, "encoding": t.encoding,
             "eyes": ["left", "right"], "geometry_source": sources}
    return finish_recording(path, fmt=FORMAT, label=LABEL, time_s=time_s, lines=lines, time_column="TETTime",
                            eyes=eyes, coords="norm", geometry=geom, rate_hz=rate_hz, extra=extra,
                            trial_names=trial_names, participant=participant,
                            counts_extra={"blank_rows": int(blank.sum()), "rows_total": len(df)})
