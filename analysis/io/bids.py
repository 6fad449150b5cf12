"""Reader of the project's Eye-Tracking-BIDS datasets (docs/formats.md section 2).

Layout, columns and sidecar keys follow BIDS 1.10 "Physiological recordings: eye
tracking" (one headerless ``_physio.tsv.gz`` per recorded eye, columns named in the
JSON sidecar's ``Columns``) with the project's extensions (``TimestampZero``,
``ValidationPrecisionRMS``, ``Simulated``). See docs/readers.md for the mapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io._common import (
    COORD_TOLERANCE_SCREENS,
    RATE_TOLERANCE,
    check_geometry,
    check_sampling,
    check_timestamps,
    empty_trials_frame,
    finish_counts,
    head_lines,
    locate_non_numeric,
    mark_offscreen,
    read_table,
    build_samples,
)
from analysis.io.units import MAX_INTERVAL_S, UNIT_ALIASES, UNIT_SECONDS, check_time_unit
from analysis.recording import TRIAL_DTYPES, Geometry, Recording, RecordingMeta

log = logging.getLogger(__name__)

#: BIDS labels (BIDS 1.10, "Entities": a label is alphanumeric). Always applied with ``fullmatch``:
#: ``re.match`` with ``$`` also accepts a trailing newline (``"sub-01\n"``; issue 11).
PARTICIPANT_RE = re.compile(r"sub-[A-Za-z0-9]+")
SESSION_RE = re.compile(r"ses-[A-Za-z0-9]+")
REQUIRED_COLUMNS = ("timestamp", "x_coordinate", "y_coordinate")
EYE_BY_RECORDING = {"eye1": "left", "eye2": "right"}
RESUME_FIX = "finish it with `python -m study.run --participant {p} --resume` (or move the session away)"
_TIME_UNITS = {**UNIT_SECONDS, **{alias: UNIT_SECONDS[u] for alias, u in UNIT_ALIASES.items()}}


# --------------------------------------------------------------------------- dataset level

def load_json(path: Path) -> dict[str, Any]:
    """Load a JSON object; InputError with line/column on a syntax error."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("file not found", file=path, fix="check the path; the dataset is incomplete") from None
    except (UnicodeDecodeError, OSError) as exc:
        raise InputError(f"file could not be read as UTF-8 text ({exc})", file=path,
                         fix="restore the file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=path, line=exc.lineno, column=str(exc.colno),
                         expected="a JSON object", fix="correct the JSON syntax") from None
    if not isinstance(data, dict):
        raise InputError("the JSON file does not hold an object", file=path, line=1, expected="{...}",
                         fix="restore the file")
    return data


def read_dataset_description(root: str | Path) -> dict[str, Any]:
    """Read and check ``dataset_description.json`` of a dataset root.

    Requires ``BIDSVersion`` and, when present, a boolean ``Simulated`` (the project's
    extension, docs/formats.md section 2).
    """
    root = Path(root)
    path = root / "dataset_description.json"
    if path.is_dir():
        raise InputError("dataset_description.json is a folder", file=path, expected="a JSON file",
                         fix="restore it (the study writes it)")
    if not path.is_file():
        raise InputError("not a BIDS dataset: dataset_description.json is missing", file=root,
                         expected="a dataset root with dataset_description.json, participants.tsv and sub-*/ses-*",
                         fix="give the dataset root (e.g. data/raw), not a participant or session folder")
    desc = load_json(path)
    if "BIDSVersion" not in desc:
        raise InputError("BIDSVersion is missing", file=path, column="BIDSVersion", expected='"BIDSVersion": "1.10.0"',
                         fix="add the key (the study writes it)")
    if "Simulated" in desc and not isinstance(desc["Simulated"], bool):
        raise InputError(f"Simulated must be true or false, not {desc['Simulated']!r}", file=path,
                         column="Simulated", expected="true | false", fix="correct the value")
    return desc


def read_participants(root: str | Path) -> pd.DataFrame:
    """Read ``participants.tsv``: ``participant_id`` unique, matching ``sub-[A-Za-z0-9]+``."""
    root = Path(root)
    path = root / "participants.tsv"
    if path.is_dir():
        raise InputError("participants.tsv is a folder", file=path, expected="a tab-separated file",
                         fix="restore it; the study writes it with one row per participant")
    if not path.is_file():
        raise InputError("participants.tsv is missing", file=root, expected="participants.tsv at the dataset root",
                         fix="restore it; the study writes it with one row per participant")
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=["n/a"],
                         skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        raise InputError("participants.tsv is empty", file=path, expected="a header with participant_id",
                         fix="restore it") from None
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"participants.tsv could not be read ({exc})", file=path, fix="restore it") from None
    if "participant_id" not in df.columns:
        raise InputError("column participant_id is missing", file=path, line=1, column="participant_id",
                         expected="a tab-separated header starting with participant_id", fix="restore the header")
    ids = df["participant_id"].astype(object)
    bad = ~ids.fillna("").str.fullmatch(PARTICIPANT_RE.pattern).astype(bool)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"participant label {ids.iloc[i]!r} is not a BIDS label", file=path, line=i + 2,
                         column="participant_id", expected="sub-<letters/digits>, e.g. sub-07 (pseudonyms only)",
                         fix="correct the label")
    dup = ids.duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(np.flatnonzero((ids == ids.iloc[i]).to_numpy())[0])
        raise InputError(f"participant {ids.iloc[i]} is listed twice (first at line {first + 2})", file=path,
                         line=i + 2, column="participant_id", expected="each participant once",
                         fix="remove the duplicate row")
    return df


def find_sessions(root: str | Path) -> list[Path]:
    """Sorted ``sub-*/ses-*`` session folders of a dataset root.

    Raises InputError for a folder that is not a dataset, an empty dataset, an
    unfinished session (a ``.recording/`` folder inside; run ``python -m study.run
    --participant X --resume``) and duplicate participants in ``participants.tsv``.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", file=root, fix="give the dataset root, e.g. data/raw")
    read_dataset_description(root)
    participants = read_participants(root)
    sessions = sorted(p for p in root.glob("sub-*/ses-*") if p.is_dir()
                      and PARTICIPANT_RE.fullmatch(p.parent.name) and SESSION_RE.fullmatch(p.name))
    if not sessions:
        raise InputError("the dataset has no sessions", file=root, expected="folders sub-XX/ses-N/beh",
                         fix="record at least one session (python -m study.run) or give the right root")
    for s in sessions:
        if (s / ".recording").exists():
            raise InputError(f"session {s.parent.name}/{s.name} is unfinished (it still has a .recording/ folder)",
                             file=s, fix=RESUME_FIX.format(p=s.parent.name))
    listed = set(participants["participant_id"])
    for p in sorted({s.parent.name for s in sessions} - listed):
        log.warning("%s has data but is not listed in %s", p, root / "participants.tsv")
    return sessions


def verify_checksums(session: str | Path) -> int:
    """Check every file listed in the session's ``sub-XX_ses-N_checksums.sha256``.

    The study writes the file when it finalises a session (``sha256sum`` format, paths
    relative to the session folder; docs/formats.md section 2). Returns the number of
    files checked; raises InputError (line of the checksum file) for a missing or
    changed file, and when the session has no checksum file.
    """
    ses = resolve_session(Path(session))
    files = sorted(ses.glob("*_checksums.sha256"))
    if not files:
        raise InputError("the session has no *_checksums.sha256", file=ses,
                         expected="sub-XX_ses-N_checksums.sha256 written when the session was finalised",
                         fix="finish the session with python -m study.run --resume, or restore the file")
    ck = files[0]
    n = 0
    for lineno, text in enumerate(ck.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        if not text.strip():
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", text.strip())
        if not m:
            raise InputError("not a sha256sum line", file=ck, line=lineno, expected="<64 hex digits>  <path>",
                             fix="restore the checksum file")
        target = ses / m.group(2)
        if not target.is_file():
            raise InputError(f"listed file {m.group(2)} is missing", file=ck, line=lineno,
                             fix="restore the file from a backup of the session")
        h = hashlib.sha256()
        with open(target, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest().lower() != m.group(1).lower():
            raise InputError(f"{m.group(2)} was changed after the session was recorded (checksum mismatch)",
                             file=ck, line=lineno, fix="restore the original file from a backup of the session")
        n += 1
    return n


# --------------------------------------------------------------------------- one session

def resolve_session(path: Path) -> Path:
    """Session folder from a session folder, its ``beh/`` folder or one of its files."""
    if not path.exists():
        raise InputError("path not found", file=path, fix="check the path")
    if path.is_file():
        path = path.parent
    if path.name == "beh":
        path = path.parent
    if (path / "dataset_description.json").is_file() and not (path / "beh").is_dir():
        raise InputError("this is a dataset root, not a session", file=path,
                         expected="a session folder sub-XX/ses-N (or its beh/ folder or a physio file)",
                         fix="read one session, or list them with analysis.io.find_sessions(root)")
    if (path / ".recording").exists():
        p = path.parent.name if PARTICIPANT_RE.fullmatch(path.parent.name) else "<id>"
        raise InputError(f"session {path.parent.name}/{path.name} is unfinished (it still has a .recording/ folder)",
                         file=path, fix=RESUME_FIX.format(p=p))
    if not (path / "beh").is_dir():
        raise InputError("no beh/ folder: not a BIDS session", file=path,
                         expected="sub-XX/ses-N/beh/*_physio.tsv.gz", fix="give a session folder of the dataset")
    return path


def _sidecar_geometry(sc: dict[str, Any], path: Path) -> Geometry:
    """Geometry from a physio sidecar (BIDS: ``ScreenSize`` and ``ScreenDistance`` in metres).

    Every value passes :func:`analysis.io._common.check_geometry` (plausible physical ranges), so a
    sidecar with ``ScreenSize [NaN, NaN]``, a distance of 1e-6 m or a negative resolution is refused
    naming the sidecar and the key, not accepted or reported later as an impossible gaze coordinate.
    """
    expected = "ScreenResolution [w, h] px, ScreenSize [w, h] in metres, ScreenDistance in metres"
    for key in ("ScreenResolution", "ScreenSize", "ScreenDistance"):
        if key not in sc:
            raise InputError(f"sidecar key {key} is missing", file=path, column=key, expected=expected,
                             fix="add it, or pass the geometry (--screen-px, --screen-mm, --distance-mm)")
    for key, n in (("ScreenResolution", 2), ("ScreenSize", 2), ("ScreenDistance", 0)):
        v = sc[key]
        items = v if n else [v]
        if (n and (not isinstance(v, list) or len(v) != n)) or not all(
                isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
            raise InputError(f"{key} is {json.dumps(v)[:60]}, not {'a pair of numbers' if n else 'a number'}",
                             file=path, column=key, expected=expected, fix="correct the sidecar")
    res = sc["ScreenResolution"]
    size = [float(v) * 1000.0 for v in sc["ScreenSize"]]
    dist = float(sc["ScreenDistance"]) * 1000.0
    if all(np.isfinite(size)) and np.isfinite(dist) and (size[0] > 5000 or dist > 20000):
        raise InputError("ScreenSize/ScreenDistance look like millimetres", file=path, column="ScreenSize",
                         expected="metres (BIDS), e.g. [0.338, 0.270] and 0.65", fix="convert to metres")
    geometry = Geometry(screen_px=(res[0], res[1]), screen_mm=(size[0], size[1]), distance_mm=dist)
    check_geometry(geometry, file=path, source="the sidecar's ScreenResolution/ScreenSize/ScreenDistance "
                                              "(sizes converted from metres to mm)",
                   fix="correct the sidecar (BIDS: metres), or pass the geometry "
                       "(--screen-px, --screen-mm, --distance-mm)")
    return Geometry(screen_px=(int(res[0]), int(res[1])), screen_mm=(size[0], size[1]), distance_mm=dist)


def _read_eye(physio: Path, sidecar: dict[str, Any], sc_path: Path, rate_override: float | None
              ) -> dict[str, Any]:
    cols = sidecar.get("Columns")
    if not isinstance(cols, list) or not all(isinstance(c, str) for c in cols):
        raise InputError("sidecar key Columns is missing or not a list of names", file=sc_path, column="Columns",
                         expected='"Columns": ["timestamp", "x_coordinate", "y_coordinate", "pupil_size", "validity", ...]',
                         fix="restore the sidecar")
    missing = [c for c in REQUIRED_COLUMNS if c not in cols]
    if missing:
        raise InputError(f"Columns lacks {missing}", file=sc_path, column="Columns",
                         expected="timestamp, x_coordinate, y_coordinate (+ pupil_size, validity, eye_x/y/z)",
                         fix="restore the sidecar")
    if "SamplingFrequency" not in sidecar and rate_override is None:
        raise InputError("sidecar key SamplingFrequency is missing", file=sc_path, column="SamplingFrequency",
                         expected="the sampling rate in Hz", fix="add it or pass rate_hz (--rate-hz)")
    unit_info = sidecar.get("timestamp", {})
    if not isinstance(unit_info, dict):
        raise InputError(f"sidecar key timestamp is {json.dumps(unit_info)[:60]}, not an object", file=sc_path,
                         column="timestamp", expected='"timestamp": {"Units": "us", ...}', fix="correct the sidecar")
    unit = unit_info.get("Units", "us")
    if not isinstance(unit, str) or unit not in _TIME_UNITS:
        raise InputError(f"unknown timestamp unit {json.dumps(unit)[:60]}", file=sc_path, column="timestamp.Units",
                         expected='one string: "us" (docs/formats.md), "ms" or "s"', fix="correct the unit")
    lines, _ = head_lines(physio, max_lines=5)
    if lines and len(lines[0].split("\t")) != len(cols):
        raise InputError(f"rows have {len(lines[0].split(chr(9)))} cells but the sidecar names {len(cols)} Columns",
                         file=physio, line=1, expected=f"{len(cols)} tab-separated cells: {', '.join(cols)}",
                         fix="the physio file and its sidecar do not belong together; restore them")
    df, first = read_table(physio, sep="\t", header_line=None, names=cols, numeric=cols, compression="gzip")
    n = len(df)
    file_lines = np.arange(n) + first
    declared_raw = rate_override if rate_override is not None else sidecar["SamplingFrequency"]
    if isinstance(declared_raw, bool) or not isinstance(declared_raw, (int, float)) or not (
            0 < declared_raw < float("inf")):
        raise InputError(f"SamplingFrequency {json.dumps(declared_raw)[:60]} is not a positive number",
                         file=sc_path if rate_override is None else None,
                         column="SamplingFrequency" if rate_override is None else "rate_hz",
                         expected="the sampling rate in Hz, e.g. 60",
                         fix="correct the sidecar or pass rate_hz (--rate / --rate-hz)")
    declared = float(declared_raw)
    raw_t = df["timestamp"].to_numpy(dtype=np.float64)
    t = raw_t * _TIME_UNITS[unit]
    check_timestamps(t, physio, file_lines, "timestamp")
    check_time_unit(raw_t, unit, physio, "timestamp", declared_hz=declared, units=tuple(UNIT_SECONDS),
                    fix=f'set "timestamp": {{"Units": "<unit>"}} in {sc_path.name} to the unit the file uses')
    d = np.diff(t)
    if len(d) and abs(1.0 / float(np.median(d)) - declared) / declared > RATE_TOLERANCE:
        # the timestamps are in the declared unit (checked above), so the declared rate is at fault:
        # name where it came from (the sidecar key, or the --rate flag), not the physio file
        measured = 1.0 / float(np.median(d))
        raise InputError(f"{'SamplingFrequency' if rate_override is None else 'the given rate'} {declared:g} Hz disagrees "
                         f"with the timestamps of {physio.name}: they are {measured:.4g} Hz (median interval "
                         f"{float(np.median(d)) * 1000:.4g} ms)",
                         file=sc_path if rate_override is None else None,
                         column="SamplingFrequency" if rate_override is None else "rate_hz",
                         expected=f"the rate the timestamps show, within {RATE_TOLERANCE:.0%}",
                         fix="correct SamplingFrequency in the sidecar" if rate_override is None
                         else "give the true rate (rate_hz, --rate / --rate-hz), or omit it to use the sidecar's")
    nominal, missing = check_sampling(t, declared, physio, file_lines, "timestamp")
    if "validity" in df.columns:
        v = df["validity"].to_numpy(dtype=np.float64)
        bad = ~(np.isnan(v) | (v == 0) | (v == 1))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"validity {v[i]:g} is not 0 or 1", file=physio, line=int(file_lines[i]),
                             column="validity", expected="0 (invalid) or 1 (valid)", fix="restore the file")
        valid = v == 1
    else:
        valid = np.ones(n, dtype=bool)
    x = df["x_coordinate"].to_numpy(dtype=np.float64)
    y = df["y_coordinate"].to_numpy(dtype=np.float64)
    return {"t": t, "x": x, "y": y, "valid": valid, "lines": file_lines, "rate": nominal, "missing": missing,
            "pupil": df["pupil_size"].to_numpy(dtype=np.float64) if "pupil_size" in df else None,
            "ex": df["eye_x"].to_numpy(dtype=np.float64) if "eye_x" in df else None,
            "ey": df["eye_y"].to_numpy(dtype=np.float64) if "eye_y" in df else None,
            "ez": df["eye_z"].to_numpy(dtype=np.float64) if "eye_z" in df else None}


def _scatter(values: np.ndarray | None, idx: np.ndarray, n: int, fill: Any = np.nan) -> np.ndarray | None:
    if values is None:
        return None
    out = np.full(n, fill, dtype=values.dtype if values.dtype == bool else np.float64)
    out[idx] = values
    return out


#: Largest trial number accepted (a study has tens of trials; anything beyond is a corrupt cell, and
#: numbers above 2**53 could not even be stored exactly: ``1e30`` once became -9223372036854775808).
MAX_TRIAL_NUMBER = 1_000_000


def _trial_numbers(st: pd.DataFrame, path: Path, lines: np.ndarray) -> np.ndarray:
    """The ``trial`` column of the stimulus rows: whole numbers 1..:data:`MAX_TRIAL_NUMBER`, unique.

    Without the column the trials are numbered 1, 2, ... in file order; an empty cell in a file that
    has the column is an error (a silently invented number could collide with a real one).
    """
    if "trial" not in st.columns:
        return np.arange(1, len(st) + 1, dtype=np.int64)
    trial = pd.to_numeric(st["trial"]).to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(trial) & (trial >= 1) & (trial <= MAX_TRIAL_NUMBER) & (trial == np.round(trial)))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raw = st["trial"].iloc[i]
        raise InputError(f"trial number {'(empty)' if pd.isna(raw) else repr(str(raw))} on a stimulus row is not a "
                         "whole number from 1", file=path, line=int(lines[i]), column="trial",
                         expected=f"the trial's number, a whole number 1..{MAX_TRIAL_NUMBER}", fix="restore the file")
    trial = trial.astype(np.int64)
    dup = pd.Series(trial).duplicated().to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        first = int(lines[int(np.flatnonzero(trial == trial[i])[0])])
        raise InputError(f"trial {int(trial[i])} appears on two stimulus rows (first at line {first})", file=path,
                         line=int(lines[i]), column="trial", expected="each trial number once",
                         fix="restore the file; a session's events must come from one run of the study")
    return trial


def _check_aoi_rectangles(aoi: dict[str, np.ndarray], path: Path, lines: np.ndarray,
                          screen_px: tuple[int, int] | None) -> None:
    """A stimulus row's AOI rectangle: all four edges or none, left < right, top < bottom, and within
    one screen of the display (:data:`analysis.io._common.COORD_TOLERANCE_SCREENS`, the off-screen rule)."""
    edges = np.column_stack([aoi[s] for s in ("left", "top", "right", "bottom")])
    known = np.isfinite(edges)
    partial = known.any(axis=1) & ~known.all(axis=1)
    with np.errstate(invalid="ignore"):
        inverted = known.all(axis=1) & ((edges[:, 0] >= edges[:, 2]) | (edges[:, 1] >= edges[:, 3]))
        if screen_px is not None:
            w, h = screen_px
            k = COORD_TOLERANCE_SCREENS
            lim = np.array([[-k * w, -k * h, -k * w, -k * h]]), np.array([[(1 + k) * w, (1 + k) * h] * 2])
            outside = (known & ((edges < lim[0]) | (edges > lim[1]))).any(axis=1)
        else:
            outside = np.zeros(len(edges), bool)
    for bad, what in ((partial, "has only some of aoi_left/top/right/bottom"),
                      (outside, f"lies more than one screen outside the {screen_px and 'x'.join(map(str, screen_px))} "
                                "px display"),
                      (inverted, "is empty or inverted (left >= right or top >= bottom)")):
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            cells = ", ".join(f"{v:g}" if np.isfinite(v) else "n/a" for v in edges[i])
            raise InputError(f"the AOI rectangle ({cells}) {what}", file=path, line=int(lines[i]),
                             column="aoi_left/aoi_top/aoi_right/aoi_bottom",
                             expected="the image's rectangle on the screen in pixels, left < right, top < bottom "
                                      "(all four, or n/a for none)", fix="restore the events file")


def read_events(path: Path, timestamp_zero_s: float | None,
                recording_span_s: tuple[float, float] | None = None,
                screen_px: tuple[int, int] | None = None) -> pd.DataFrame:
    """Trials from ``_events.tsv`` rows with ``trial_type == "stimulus"`` (docs/formats.md section 2).

    Parameters
    ----------
    path : Path
        The events file.
    timestamp_zero_s : float or None
        Tracker-clock time of onset 0 (for rows without ``tracker_onset_us``).
    recording_span_s : (float, float), optional
        First and last sample time of the recording. A stimulus onset more than
        :data:`analysis.io.units.MAX_INTERVAL_S` (one day) away from it is a corrupt cell
        (e.g. ``tracker_onset_us = 1e30``), refused at its line (default: None, unchecked).
    screen_px : (int, int), optional
        Display resolution: AOI rectangles must lie within one screen of it (default: None,
        only their shape is checked).
    """
    try:
        ev = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_values=["n/a", ""],
                         skip_blank_lines=False)
    except pd.errors.EmptyDataError:
        raise InputError("the events file is empty", file=path, expected="a header with onset, duration, trial_type",
                         fix="restore the file") from None
    except IsADirectoryError:
        raise InputError("a folder has the name of the events file", file=path,
                         expected="a tab-separated events file", fix="restore the events file") from None
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise InputError(f"the events file could not be read ({exc})", file=path, fix="restore the file") from None
    for col in ("onset", "duration", "trial_type"):
        if col not in ev.columns:
            raise InputError(f"column {col} is missing", file=path, line=1, column=col,
                             expected="onset, duration, trial_type, trial, stimulus_id, ... (docs/formats.md)",
                             fix="restore the header")
    numeric = [c for c in ("onset", "duration", "trial", "tracker_onset_us",
                           "aoi_left", "aoi_top", "aoi_right", "aoi_bottom") if c in ev.columns]
    locate_non_numeric(ev, numeric, path, 2, ".")
    stim_mask = (ev["trial_type"] == "stimulus").fillna(False).to_numpy(dtype=bool)
    st = ev.loc[stim_mask]
    lines = np.flatnonzero(stim_mask) + 2
    if st.empty:
        return empty_trials_frame()
    onset = pd.to_numeric(st["onset"]).to_numpy(dtype=np.float64)
    duration = pd.to_numeric(st["duration"]).to_numpy(dtype=np.float64)
    for arr, col in ((onset, "onset"), (duration, "duration")):
        bad = ~np.isfinite(arr) | (((arr < 0) | (arr > MAX_INTERVAL_S)) if col == "duration"
                                   else np.zeros(len(arr), bool))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{col} {st[col].iloc[i]!s} on a stimulus row is missing, negative or over a day",
                             file=path, line=int(lines[i]), column=col,
                             expected="seconds" + (f", 0..{MAX_INTERVAL_S:g}" if col == "duration" else ""),
                             fix="restore the file")
    if "tracker_onset_us" in st.columns:
        tracker = pd.to_numeric(st["tracker_onset_us"]).to_numpy(dtype=np.float64) / 1e6
    else:
        tracker = np.full(len(st), np.nan)
    if timestamp_zero_s is not None:
        tracker = np.where(np.isnan(tracker), timestamp_zero_s + onset, tracker)
    if recording_span_s is not None:
        lo, hi = recording_span_s
        with np.errstate(invalid="ignore"):
            far = (tracker < lo - MAX_INTERVAL_S) | (tracker > hi + MAX_INTERVAL_S) | np.isinf(tracker)
        if far.any():
            i = int(np.flatnonzero(far)[0])
            col_at_fault = "tracker_onset_us" if "tracker_onset_us" in st.columns and pd.notna(
                st["tracker_onset_us"].iloc[i]) else "onset"
            raise InputError(f"stimulus onset {float(tracker[i]):.6g} s (tracker clock) lies more than one day "
                             f"outside the recording ({lo:.6g}..{hi:.6g} s)", file=path, line=int(lines[i]),
                             column=col_at_fault, expected="an onset within the recording of this session",
                             fix="restore the events file; the cell is corrupt")
    if np.isnan(tracker).any():
        i = int(np.flatnonzero(np.isnan(tracker))[0])
        raise InputError("stimulus onset cannot be placed on the tracker clock", file=path, line=int(lines[i]),
                         column="tracker_onset_us",
                         expected="tracker_onset_us, or TimestampZero in the physio sidecar",
                         fix="restore the events file or the sidecar")
    trial = _trial_numbers(st, path, lines)

    def col(name: str) -> np.ndarray:
        if name not in st.columns:
            return np.full(len(st), None, dtype=object)
        s = st[name].astype(object)
        return s.where(s.notna(), None).to_numpy(dtype=object)

    def num(name: str) -> np.ndarray:
        if name not in st.columns:
            return np.full(len(st), np.nan)
        return pd.to_numeric(st[name]).to_numpy(dtype=np.float64)

    _check_aoi_rectangles({side: num(f"aoi_{side}") for side in ("left", "top", "right", "bottom")}, path, lines,
                          screen_px)
    trials = pd.DataFrame({
        "trial": trial, "stimulus_id": col("stimulus_id"), "artwork": col("artwork"), "category": col("category"),
        "method": col("method"), "onset_s": tracker, "offset_s": tracker + duration,
        "aoi_left": num("aoi_left"), "aoi_top": num("aoi_top"), "aoi_right": num("aoi_right"),
        "aoi_bottom": num("aoi_bottom"),
    })
    return trials.astype(TRIAL_DTYPES)[list(TRIAL_DTYPES)]


def _timestamp_zero_s(sc: dict[str, Any], path: Path, first_sample_s: float) -> float:
    """Tracker-clock time (s) of event onset 0: ``TimestampZero`` (µs), else the first sample minus
    ``StartTime`` (s; BIDS: the physio file's start relative to the events' onset 0, default 0)."""
    for key, scale in (("TimestampZero", 1e-6), ("StartTime", 1.0)):
        if key not in sc or sc[key] is None:
            continue
        v = sc[key]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
            raise InputError(f"{key} is {json.dumps(v)[:60]}, not a number", file=path, column=key,
                             expected=("the tracker timestamp (µs) of event onset 0" if key == "TimestampZero"
                                       else "seconds from event onset 0 to the first sample, e.g. 0"),
                             fix="correct the sidecar")
        if key == "TimestampZero":
            return float(v) * scale
        return first_sample_s - float(v)
    return first_sample_s


def read_bids(path: str | Path, *, geometry: Geometry | None = None, rate_hz: float | None = None,
              verify: bool = False) -> Recording:
    """Read one session of a project BIDS dataset into a :class:`~analysis.recording.Recording`.

    Parameters
    ----------
    path : path
        Session folder ``sub-XX/ses-N``, its ``beh/`` folder, or one of its files.
    geometry : Geometry, optional
        Overrides the sidecar's ``ScreenResolution``/``ScreenSize``/``ScreenDistance``.
    rate_hz : float, optional
        Overrides the sidecar's ``SamplingFrequency``.
    verify : bool
        First check the session's checksums (:func:`verify_checksums`).

    Notes
    -----
    The eyes (``recording-eye1`` = left, ``recording-eye2`` = right, or the sidecar's
    ``RecordedEye``) are merged on timestamp; a timestamp present in only one file
    makes the other eye invalid for that row (counted as ``rows_only_left`` /
    ``rows_only_right``). A missing eye file (monocular recording) leaves that eye
    invalid throughout.
    """
    if geometry is not None:
        check_geometry(geometry)
    ses = resolve_session(Path(path))
    if verify:
        verify_checksums(ses)
    beh = ses / "beh"
    physio = sorted(beh.glob("*_physio.tsv.gz"))
    if not physio:
        raise InputError("no *_physio.tsv.gz in the session", file=beh,
                         expected="sub-XX_ses-N_task-<task>_recording-eye1_physio.tsv.gz (+ eye2)",
                         fix="the session was not finalised; run study.run --resume, or restore the files")
    sidecars: dict[str, dict[str, Any]] = {}
    sidecar_paths: dict[str, Path] = {}
    files: dict[str, Path] = {}
    for p in physio:
        sc_path = p.with_name(p.name[: -len(".tsv.gz")] + ".json")
        sc = load_json(sc_path)
        m = re.search(r"_recording-(eye[12])_", p.name)
        eye = sc.get("RecordedEye") or (EYE_BY_RECORDING.get(m.group(1)) if m else None)
        if eye not in ("left", "right"):
            raise InputError(f"cannot tell which eye this file holds (RecordedEye = {eye!r})", file=sc_path,
                             column="RecordedEye", expected='"left" or "right"', fix="set RecordedEye")
        if eye in files:
            raise InputError(f"two physio files for the {eye} eye", file=p, fix="remove the stray file")
        if sc.get("PhysioType", "eyetrack") != "eyetrack":
            raise InputError(f"PhysioType is {sc.get('PhysioType')!r}", file=sc_path, column="PhysioType",
                             expected='"eyetrack"', fix="this is not an eye-tracking recording")
        files[eye], sidecars[eye], sidecar_paths[eye] = p, sc, sc_path
    if len(files) == 2 and rate_hz is None:
        ra, rb = (sidecars[e].get("SamplingFrequency") for e in ("left", "right"))
        if ra != rb:
            raise InputError(f"mixed sampling rates: left eye {ra!r} Hz, right eye {rb!r} Hz",
                             file=sidecar_paths["right"], column="SamplingFrequency",
                             expected=f"the same SamplingFrequency as {sidecar_paths['left'].name}",
                             fix="both eyes come from one tracker stream; restore the sidecars")
    eyes: dict[str, dict[str, Any]] = {}
    for eye, p in files.items():
        eyes[eye] = _read_eye(p, sidecars[eye], sidecar_paths[eye], rate_hz)
        eyes[eye]["file"] = p
    first_eye = next(iter(eyes))
    sc0 = sidecars[first_eye]
    geom = geometry if geometry is not None else _sidecar_geometry(sc0, sidecar_paths[first_eye])
    if geometry is None:
        for eye in eyes:
            if eye != first_eye and _sidecar_geometry(sidecars[eye], sidecar_paths[eye]) != geom:
                raise InputError("the two eyes' sidecars give different screen geometry", file=sidecar_paths[eye],
                                 column="ScreenResolution/ScreenSize/ScreenDistance",
                                 expected=f"the same values as {sidecar_paths[first_eye].name}",
                                 fix="both eyes were recorded on one screen; restore the sidecars")
    # off-screen glitches are marked invalid and counted; most samples off the display is refused
    # (docs/readers.md section 6, "Off-screen samples")
    for eye, e in eyes.items():
        e["far"] = mark_offscreen(e["x"], e["y"], e["valid"] & np.isfinite(e["x"]) & np.isfinite(e["y"]),
                                  geom.screen_px, e["file"], e["lines"], ("x_coordinate", "y_coordinate"))
        e["valid"] = e["valid"] & ~e["far"]

    # merge on timestamp
    all_t = np.unique(np.concatenate([e["t"] for e in eyes.values()]))
    n = len(all_t)
    merged: dict[str, dict[str, np.ndarray]] = {}
    only: dict[str, int] = {}
    offscreen = np.zeros(n, dtype=bool)
    for eye, e in eyes.items():
        idx = np.searchsorted(all_t, e["t"])
        offscreen |= _scatter(e["far"], idx, n, fill=False)
        merged[eye] = {"x": _scatter(e["x"], idx, n), "y": _scatter(e["y"], idx, n),
                       "valid": _scatter(e["valid"], idx, n, fill=False)}
        for key in ("pupil", "ex", "ey", "ez"):
            merged[eye][key] = _scatter(e[key], idx, n)
        only[eye] = n - len(e["t"])
    # rows present in one eye file only (the other eye counts as missing for that row)
    counts_extra = {"rows_only_left": only.get("right", 0) if len(eyes) == 2 else 0,
                    "rows_only_right": only.get("left", 0) if len(eyes) == 2 else 0,
                    "missing_samples": max(e["missing"] for e in eyes.values()),
                    "event_rows": 0, "blank_rows": 0, "offscreen_samples": int(offscreen.sum())}
    samples = build_samples(all_t, merged, geom)

    tz_s = _timestamp_zero_s(sc0, sidecar_paths[first_eye], float(all_t[0]))
    events = sorted(beh.glob("*_events.tsv"))
    if not events:
        raise InputError("no *_events.tsv in the session", file=beh,
                         expected="sub-XX_ses-N_task-<task>_events.tsv", fix="restore the events file")
    trials = read_events(events[0], tz_s, (float(all_t[0]), float(all_t[-1])), tuple(geom.screen_px))

    participant = ses.parent.name if PARTICIPANT_RE.fullmatch(ses.parent.name) else None
    session = ses.name.removeprefix("ses-") if SESSION_RE.fullmatch(ses.name) else None
    extra: dict[str, Any] = {"eyes": sorted(eyes), "physio_files": [str(e["file"]) for e in eyes.values()],
                             "events_file": str(events[0]), "timestamp_zero_s": tz_s}
    for key in ("Manufacturer", "DeviceSerialNumber", "SoftwareVersions", "CalibrationType", "CalibrationCount",
                "MaximalCalibrationError", "CalibrationLog", "ScreenRefreshRate"):
        if key in sc0:
            extra[key] = sc0[key]
    root = ses.parent.parent
    if (root / "dataset_description.json").is_file():
        extra["simulated"] = bool(read_dataset_description(root).get("Simulated", False))

    def _num(key: str) -> float | None:
        """A data-quality value in degrees: absent, null or NaN = not measured; else a number >= 0."""
        v = sc0.get(key)
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < float("inf"):
            raise InputError(f"{key} is {json.dumps(v)[:60]}, not an angle in degrees", file=sidecar_paths[first_eye],
                             column=key, expected="a number of degrees >= 0, or null when not measured",
                             fix="correct the sidecar")
        return float(v)

    meta = RecordingMeta(
        source=str(ses), format="bids", sampling_rate_hz=float(eyes[first_eye]["rate"]), geometry=geom,
        tracker_model=str(sc0.get("ManufacturersModelName", "unknown")), participant=participant, session=session,
        accuracy_deg=_num("AverageCalibrationError"), precision_deg=_num("ValidationPrecisionRMS"), extra=extra,
    )
    return Recording(samples=samples, trials=trials, meta=meta, counts=finish_counts(samples, **counts_extra))
