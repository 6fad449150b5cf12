"""Reader of PsychoPy ioHub HDF5 eye-tracker sample tables (format ``iohub``).

ioHub's data store (PsychoPy, ``psychopy.iohub.datastore``) writes an HDF5 file with one table
per event type under ``/data_collection/events/eyetracker/``: ``BinocularEyeSampleEvent`` or
``MonocularEyeSampleEvent`` (fields as ``psychopy/iohub/devices/eyetracker/eye_events.py``
defines them: ``time`` (s, PsychoPy clock), ``left_gaze_x``/``left_gaze_y`` and ``right_...``
(binocular) or ``gaze_x``/``gaze_y`` (monocular) in the Display's coordinate units,
``left_pupil_measure1`` (mm for Tobii), ``status``). The Tobii ioHub implementation
(``psychopy/iohub/devices/eyetracker/hw/tobii/eyetracker.py``) maps the normalised gaze to the
display with ``x = left + w * gx``, ``y = bottom + h * (1 - gy)`` (origin at the screen centre,
y up, in ``pix`` units) and sets ``status`` += 20 when the left eye's validity code is >= 2 and
+= 2 for the right eye.

Needs ``h5py`` (``pip install "artgaze[hdf5]"``); without it the reader stops with exit 2 and
the install command.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._gaze import finish_recording, resolve_geometry
from analysis.recording import Geometry, Recording

FORMAT = "iohub"
LABEL = "PsychoPy ioHub HDF5"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
SAMPLE_TABLES = ("/data_collection/events/eyetracker/BinocularEyeSampleEvent",
                 "/data_collection/events/eyetracker/MonocularEyeSampleEvent")
#: Experiment messages (``self.hub.sendMessageEvent`` / Builder's eye-tracker messages): fields ``time``, ``text``.
MESSAGE_TABLE = "/data_collection/events/experiment/MessageEvent"
LOOKED_FOR = "an HDF5 file with " + " or ".join(SAMPLE_TABLES)
INSTALL = 'pip install "artgaze[hdf5]"  (or: pip install h5py)'
#: Gaze this close to the origin in almost all samples is in ``norm``/``height``/``deg`` units, not pixels.
#: (default: 0.95 of the valid samples within |x|, |y| <= 1)
NON_PIX_FRACTION = 0.95


def sniff(head: bytes) -> bool:
    """True for an HDF5 file (signature at offset 0, HDF5 File Format Specification, "Superblock")."""
    return head.startswith(HDF5_MAGIC)


def _status_invalid(status: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(left invalid, right invalid) from ioHub's Tobii ``status`` (tens digit: left, units digit: right)."""
    st = np.asarray(status, dtype=np.int64)
    return (st // 10) % 10 >= 2, st % 10 >= 2


def read_iohub(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
               screen_px: tuple[int, int] | None = None, screen_mm: tuple[float, float] | None = None,
               distance_mm: float | None = None) -> Recording:
    """Read the eye-tracker samples of a PsychoPy ioHub HDF5 file.

    Parameters
    ----------
    path : path
        The ``.hdf5`` file.
    geometry : Geometry, optional
        Full geometry.
    rate_hz : float, optional
        Declared rate, checked against ``time`` (default: measured, snapped to the nominal Tobii rate).
    screen_px, screen_mm, distance_mm
        Required unless ``geometry`` is given: the HDF5 file keeps neither the display's resolution
        (needed to move ioHub's centre-origin ``pix`` coordinates to the top-left origin) nor its size
        or the viewing distance.

    Notes
    -----
    Only ``pix`` display units are read; gaze that looks like ``norm``/``height`` units
    (:data:`NON_PIX_FRACTION`) is refused. NaN gaze or a ``status`` flag makes the eye invalid. Eye
    positions are not read (ioHub's Tobii ``*_eye_cam_*`` fields are track-box-relative, not mm).
    """
    path = Path(path)
    try:
        import h5py
    except ImportError:
        raise InputError("reading ioHub HDF5 files needs the optional package h5py", file=path,
                         expected="h5py installed", fix=INSTALL) from None
    geom, sources = resolve_geometry(
        path, LABEL, geometry=geometry, screen_px=screen_px, screen_mm=screen_mm, distance_mm=distance_mm,
        file_values={}, file_sources={},
        why={"screen_px": "ioHub stores gaze in display units without the display's resolution",
             "screen_mm": "ioHub stores no display size", "distance_mm": "ioHub stores no viewing distance"})
    try:
        with h5py.File(path, "r") as f:
            name = next((n for n in SAMPLE_TABLES if n in f), None)
            if name is None:
                raise InputError("no eye-tracker sample table in the ioHub file", file=path,
                                 expected=LOOKED_FOR,
                                 fix="record with an eye tracker enabled in ioHub, or pick the right file")
            data = f[name][()]
            messages = f[MESSAGE_TABLE][()] if MESSAGE_TABLE in f else None
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise InputError(f"the HDF5 file could not be read ({exc})", file=path, expected="a complete ioHub HDF5 file",
                         fix="copy the file again from the recording computer") from None
    fields = set(data.dtype.names or ())
    binocular = name.endswith("BinocularEyeSampleEvent")
    need = {"time", "status"} | ({"left_gaze_x", "left_gaze_y", "right_gaze_x", "right_gaze_y"} if binocular
                                 else {"gaze_x", "gaze_y"})
    if not need <= fields:
        raise InputError(f"the ioHub sample table lacks the field(s) {', '.join(sorted(need - fields))}", file=path,
                         column=name, expected=", ".join(sorted(need)), fix="the file is not an ioHub data store")
    n = len(data)
    if n == 0:
        raise InputError("the ioHub sample table has no rows", file=path, column=name,
                         expected="one row per gaze sample", fix="record gaze data")
    rows = np.arange(1, n + 1)  # 1-based row of the table, reported as "line"
    time_s = np.asarray(data["time"], dtype=np.float64)
    w, h = geom.screen_px
    if binocular:
        inv_l, inv_r = _status_invalid(data["status"])
        src = {"left": ("left_gaze_x", "left_gaze_y", "left_pupil_measure1", inv_l),
               "right": ("right_gaze_x", "right_gaze_y", "right_pupil_measure1", inv_r)}
    else:
        bad = np.asarray(data["status"], dtype=np.int64) != 0
        src = {e: ("gaze_x", "gaze_y", "pupil_measure1", bad) for e in ("left", "right")}
    eyes = {}
    all_x, all_y = [], []
    for eye, (xc, yc, pc, invalid) in src.items():
        gx = np.asarray(data[xc], dtype=np.float64)
        gy = np.asarray(data[yc], dtype=np.float64)
        valid = ~invalid & np.isfinite(gx) & np.isfinite(gy)
        all_x.append(gx[valid])
        all_y.append(gy[valid])
        with np.errstate(invalid="ignore", over="ignore"):
            pupil = np.asarray(data[pc], dtype=np.float64) if pc in fields else np.full(n, np.nan)
        eyes[eye] = {"x": gx + w / 2.0, "y": h / 2.0 - gy, "valid": valid,
                     "pupil": np.where(valid & (pupil > 0), pupil, np.nan), "columns": (xc, yc)}
    ax, ay = np.concatenate(all_x), np.concatenate(all_y)
    if len(ax) >= 10 and np.mean((np.abs(ax) <= 1) & (np.abs(ay) <= 1)) >= NON_PIX_FRACTION:
        raise InputError("the gaze is within +-1 in almost every sample: the ioHub Display used norm or height "
                         "units, not pix", file=path, column=src["left"][0],
                         expected="gaze in pix units (ioHub Display 'reporting_unit_type: pix')",
                         fix="record with pix units, or convert the coordinates to pixels first")
    extra = {"table": name, "timestamp_unit": "s", "eyes": ["left", "right"] if binocular else ["combined"],
             "geometry_source": sources, "coordinates": "ioHub pix (origin screen centre, y up) -> top-left"}
    if messages is not None and messages.dtype.names and {"time", "text"} <= set(messages.dtype.names):
        text = [m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m) for m in messages["text"]]
        extra["events"] = pd.DataFrame({"time_s": np.asarray(messages["time"], dtype=np.float64), "event": text,
                                        "line": np.arange(1, len(text) + 1)})
    return finish_recording(path, fmt=FORMAT, label=LABEL, time_s=time_s, lines=rows, time_column="time",
                            eyes=eyes, coords="px", geometry=geom, rate_hz=rate_hz, extra=extra,
                            counts_extra={"rows_total": n})
