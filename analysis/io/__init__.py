"""Readers: every supported gaze format -> one :class:`analysis.recording.Recording`.

Formats (docs/readers.md has each column mapping, unit and error):

* ``bids``: the project's Eye-Tracking-BIDS sessions (docs/formats.md section 2),
* ``prolab``: Tobii Pro Lab TSV data exports (classic and unit-suffixed headers),
* ``studio``: Tobii Studio TSV data exports,
* ``plain``: a ``time, x, y, valid`` TSV/CSV table,
* ``studio_alldata``, ``tobii_sdk``, ``tobii_raw``, ``eprime``, ``iohub``: Tobii Studio 1.x/2.x
  All-Data exports, Tobii Pro SDK/Titta gaze tables, Tobii SDK raw TX300 files, E-Prime
  ``.gazedata`` files and PsychoPy ioHub HDF5 files (:mod:`analysis.io._extra`).

Public API: :func:`read_recording`, :func:`detect_format`, :func:`find_sessions`,
:func:`read_dataset_description`, :func:`read_participants`, :func:`verify_checksums`. Bad input raises
:class:`analysis.errors.InputError` naming the file, line, column and the fix; samples
are never dropped silently (``Recording.counts``).
"""

from __future__ import annotations

from pathlib import Path

from analysis.errors import InputError
from analysis.io._common import find_header, geometry_from_args, head_lines
from analysis.io._common import plain as plain_number  # the name "plain" is the plain-table reader module
from analysis.io.bids import find_sessions, read_bids, read_dataset_description, read_participants, verify_checksums
from analysis.io.plain import read_plain
from analysis.io.tobii import read_prolab, read_studio
from analysis.io._extra import FORMATS as EXTRA_FORMATS, READERS as EXTRA_READERS, detect_extra_format, looked_for_text
from analysis.recording import Geometry, Recording

__all__ = ["FORMATS", "detect_format", "find_sessions", "read_dataset_description", "read_participants",
           "read_recording", "verify_checksums"]

FORMATS = ("auto", "bids", "prolab", "studio", "plain", *EXTRA_FORMATS)


def detect_format(path: str | Path) -> str:
    """Tell the format of ``path``: ``bids``, ``prolab``, ``studio``, ``plain`` or one of ``_extra.FORMATS``.

    A folder, a ``*_physio.tsv.gz`` or ``*_physio.json``/``*_events.tsv`` file is
    ``bids``; otherwise the header decides: ``RecordingTimestamp`` -> ``studio``,
    ``Recording timestamp`` -> ``prolab``, ``time, x, y, valid`` -> ``plain``; before those, an
    HDF5 signature or a header of the issue-10 formats (:func:`analysis.io._extra.detect_extra_format`).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("path not found", file=path, fix="check the path")
    if path.is_dir():
        return "bids"
    name = path.name
    if name.endswith(("_physio.tsv.gz", "_physio.json", "_events.tsv", "_events.json")):
        return "bids"
    extra = detect_extra_format(path)
    if extra is not None:
        return extra
    lines, _ = head_lines(path)  # gzipped exports (.tsv.gz, .csv.gz) are read decompressed
    if find_header(lines, ["RecordingTimestamp"]) is not None:
        return "studio"
    if find_header(lines, ["Recording timestamp"]) is not None:
        return "prolab"
    first = lines[0].lower() if lines else ""
    cells = {c.strip().strip('"') for c in first.replace(";", "\t").replace(",", "\t").split()}
    if {"time", "x", "y", "valid"} <= cells:
        return "plain"
    raise InputError("unknown column style: not a BIDS physio file, Tobii Pro Lab or Tobii Studio export, "
                     "or plain time/x/y/valid table", file=path, line=1,
                     expected="'Recording timestamp' (Pro Lab), 'RecordingTimestamp' (Studio) or "
                              "time, x, y, valid (plain); " + looked_for_text(),
                     fix="export the data as TSV from Tobii Pro Lab or Tobii Studio, or rename the columns of a "
                         "plain table to time, x, y, valid")


def read_recording(
    path: str | Path,
    format: str = "auto",
    *,
    geometry: Geometry | None = None,
    rate_hz: float | None = None,
    screen_px: tuple[int, int] | None = None,
    screen_mm: tuple[float, float] | None = None,
    distance_mm: float | None = None,
    time_unit: str = "s",
    verify: bool = False,
) -> Recording:
    """Read one recording in any supported format.

    Parameters
    ----------
    path : path
        BIDS: a session folder ``sub-XX/ses-N``, its ``beh/`` folder or one of its
        physio files (both eyes are read and merged on timestamp). Exports/plain: the file.
    format : {"auto", "bids", "prolab", "studio", "plain"}
        ``auto`` uses :func:`detect_format`.
    geometry : Geometry, optional
        Screen geometry. BIDS: overrides the sidecar. Pro Lab: required unless
        ``screen_mm`` and ``distance_mm`` are given (the export has the resolution).
        Studio: defaults to the Tobii T60 (the paper's tracker). Plain: required.
    rate_hz : float, optional
        Nominal sampling rate. BIDS: overrides ``SamplingFrequency``. Exports: checked
        against the timestamps (default: measured). Plain: required.
    screen_px : (int, int), optional
        Screen resolution for the formats that give gaze normalised (tobii_sdk, tobii_raw, eprime,
        iohub; docs/readers.md says which need it); other formats take it inside ``geometry``.
    screen_mm, distance_mm : optional
        Physical screen size and viewing distance for exports that give only the
        resolution (Pro Lab, Studio with a non-T60 resolution).
    time_unit : {"s", "ms", "us"}
        Plain tables only: unit of the ``time`` column.
    verify : bool
        BIDS only: first check the session's ``*_checksums.sha256`` (:func:`verify_checksums`).

    Returns
    -------
    Recording
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}", file=path, expected=", ".join(FORMATS),
                         fix="pick one of the formats (--format)")
    geometry = geometry_from_args(geometry)
    if rate_hz is not None and not (rate_hz > 0):
        raise InputError(f"sampling rate {plain_number(rate_hz)} must be positive", file=path, fix="correct --rate-hz")
    fmt = detect_format(path) if format == "auto" else format
    if fmt in EXTRA_READERS:
        return EXTRA_READERS[fmt](path, geometry=geometry, rate_hz=rate_hz, screen_px=screen_px, screen_mm=screen_mm,
                                  distance_mm=distance_mm)
    if screen_px is not None and geometry is None:
        raise InputError("--screen-px needs --screen-mm and --distance-mm for this format", file=path,
                         expected="--screen-px W H --screen-mm W H --distance-mm D",
                         fix="give all three, or only --screen-mm and --distance-mm to use the file's resolution")
    if fmt == "bids":
        return read_bids(path, geometry=geometry, rate_hz=rate_hz, verify=verify)
    if fmt == "prolab":
        return read_prolab(path, geometry=geometry, rate_hz=rate_hz, screen_mm=screen_mm, distance_mm=distance_mm)
    if fmt == "studio":
        return read_studio(path, geometry=geometry, rate_hz=rate_hz, screen_mm=screen_mm, distance_mm=distance_mm)
    return read_plain(path, geometry=geometry, rate_hz=rate_hz, time_unit=time_unit)
