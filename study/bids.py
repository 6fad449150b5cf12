"""Finalise an in-progress recording into the Eye-Tracking-BIDS layout of docs/formats.md §2.

Input: ``sub-XX/ses-N/.recording/`` (``samples.tsv``, ``events.tsv``, ``state.json``
written by :mod:`study.recorder` and :mod:`study.session`). Output, in
``sub-XX/ses-N/beh/``: per eye a header-less ``_physio.tsv.gz`` and its JSON sidecar,
``_events.tsv`` + ``_events.json``; the dataset's ``participants.tsv``/``.json`` and
``dataset_description.json`` are created or updated, and
``sub-XX_ses-N_checksums.sha256`` lists every file of the session. Every file is
written to a temporary name, fsynced and renamed; ``.recording/`` is removed last, so
a crash while finalising leaves a session that ``--resume`` finalises again.

Segments (a session resumed after a crash has several) are joined: every trial is
kept from the segment that completed it (an interrupted attempt's rows are dropped,
its samples are kept), and a later segment whose clock restarted (reboot) is shifted
so that timestamps stay strictly increasing (the shift is recorded in the sidecar).
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from study.config import StudyConfig
from study.errors import StudyError
from study.manifest import sha256_file
from study.recorder import EVENTS_FILE, SAMPLES_FILE, read_state, repair_tail
from study.trackers.base import GAZE_FIELD_NAMES, GAZE_FIELDS, DisplayArea

log = logging.getLogger(__name__)

RECORDING_DIR = ".recording"
BIDS_VERSION = "1.10.0"
PHYSIO_COLUMNS = ["timestamp", "x_coordinate", "y_coordinate", "pupil_size", "validity", "eye_x", "eye_y", "eye_z"]
EVENT_COLUMNS = ["onset", "duration", "trial_type", "trial", "stimulus_id", "artwork", "category", "method",
                 "stim_file", "tracker_onset_us", "aoi_left", "aoi_top", "aoi_right", "aoi_bottom", "dropped_frames"]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _json_bytes(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n").encode("utf-8")


def _clean(obj: Any) -> Any:
    """NaN -> None recursively (JSON has no NaN)."""
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.generic):
        return _clean(obj.item())
    return obj


def read_raw_samples(path: Path) -> pd.DataFrame:
    """Read the in-progress ``samples.tsv`` (partial last line removed first)."""
    repair_tail(path)
    dtypes: dict[str, Any] = {f: ("int64" if GAZE_FIELDS[f] in ("int64", "bool") else "float64") for f in GAZE_FIELD_NAMES}
    dtypes["segment"] = "int64"
    df = pd.read_csv(path, sep="\t", dtype=dtypes, na_values=["nan"], keep_default_na=False)
    for f in GAZE_FIELD_NAMES:
        if GAZE_FIELDS[f] == "bool":
            df[f] = df[f].astype(bool)
    return df


def read_raw_events(path: Path) -> pd.DataFrame:
    """Read the in-progress ``events.tsv``."""
    repair_tail(path)
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    return df


def _segment_offsets(samples: pd.DataFrame, rate_hz: float) -> dict[int, int]:
    offsets: dict[int, int] = {}
    prev_last: int | None = None
    for seg in sorted(samples["segment"].unique()):
        ts = samples.loc[samples["segment"] == seg, "system_time_stamp"]
        off = 0
        if prev_last is not None and int(ts.iloc[0]) <= prev_last:
            off = prev_last + int(round(1e6 / rate_hz)) - int(ts.iloc[0])
        offsets[int(seg)] = off
        prev_last = int(ts.iloc[-1]) + off
    return offsets


def _fmt(x: np.ndarray, decimals: int) -> np.ndarray:
    out = np.char.mod(f"%.{decimals}f", np.nan_to_num(x, nan=0.0))
    return np.where(np.isfinite(x), out, "n/a")


def _physio_bytes(cols: list[np.ndarray]) -> bytes:
    lines = "\n".join("\t".join(r) for r in zip(*cols))
    raw = (lines + "\n").encode("ascii") if lines else b""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(raw)
    return buf.getvalue()


def finalise(ses_dir: str | Path, cfg: StudyConfig) -> Path:
    """Turn ``ses_dir/.recording`` into the BIDS files of docs/formats.md §2.

    Returns
    -------
    Path
        ``ses_dir/beh``.

    Raises
    ------
    StudyError
        No recording, unfinished trials, or no samples.
    """
    ses_dir = Path(ses_dir)
    rec = ses_dir / RECORDING_DIR
    state = read_state(rec)
    if state is None:
        raise StudyError("no in-progress recording to finalise", file=rec)
    missing = [p["trial"] for p in state["plan"] if str(p["trial"]) not in state["completed"]]
    if missing:
        raise StudyError(f"trials {missing} are not recorded yet", file=rec,
                         fix="continue the session with --resume")
    participant, session, task = state["participant"], int(state["session"]), state["task"]
    last_seg = state["segments"][-1]
    tracker = last_seg["tracker"]
    rate = float(tracker["sampling_rate_hz"])
    sc = cfg.screen
    W, H = sc.resolution_px
    da = last_seg["display_area_ucs_mm"]
    area = DisplayArea(tuple(da["top_left"]), tuple(da["top_right"]), tuple(da["bottom_left"]))

    samples = read_raw_samples(rec / SAMPLES_FILE)
    if samples.empty:
        raise StudyError("the recording has no samples", file=rec / SAMPLES_FILE,
                         fix="check the tracker connection and record the session again")
    offsets = _segment_offsets(samples, rate)
    ts = samples["system_time_stamp"].to_numpy(np.int64) + samples["segment"].map(offsets).to_numpy(np.int64)
    order = np.argsort(ts, kind="stable")
    samples = samples.iloc[order].reset_index(drop=True)
    ts = ts[order]
    keep = np.concatenate([[True], np.diff(ts) > 0])  # exact duplicate timestamps cannot be two samples
    if not keep.all():
        log.warning("dropping %d samples with duplicate timestamps", int((~keep).sum()))
        samples, ts = samples[keep].reset_index(drop=True), ts[keep]
    t_zero = int(ts[0])

    events = read_raw_events(rec / EVENTS_FILE)
    completed = {int(k): int(v) for k, v in state["completed"].items()}
    trial_num = pd.to_numeric(events["trial"].replace("n/a", np.nan), errors="coerce")
    seg = events["segment"].astype(int)
    is_exp = trial_num >= 1
    keep_ev = ~is_exp | np.array([completed.get(int(t), -1) == s if t == t else False
                                  for t, s in zip(trial_num, seg)], dtype=bool)
    # practice rows: keep the practice of the first segment that completed it (it is run once)
    events = events[keep_ev].copy()
    seg = events["segment"].astype(int)
    onset_us = events["onset_us"].astype(np.int64) + seg.map(offsets).fillna(0).astype(np.int64)
    offset_us = events["offset_us"].astype(np.int64) + seg.map(offsets).fillna(0).astype(np.int64)
    ev = pd.DataFrame({
        "onset": ((onset_us - t_zero) / 1e6).round(6),
        "duration": ((offset_us - onset_us) / 1e6).round(6),
        "trial_type": events["trial_type"],
        "trial": events["trial"],
        "stimulus_id": events["stimulus_id"],
        "artwork": events["artwork"],
        "category": events["category"],
        "method": events["method"],
        "stim_file": events["stim_file"],
        "tracker_onset_us": onset_us,
        "aoi_left": events["aoi_left"], "aoi_top": events["aoi_top"],
        "aoi_right": events["aoi_right"], "aoi_bottom": events["aoi_bottom"],
        "dropped_frames": events["dropped_frames"],
    }).sort_values("tracker_onset_us", kind="stable")
    stim_rows = ev[ev["trial_type"] == "stimulus"]
    dup = stim_rows["trial"].duplicated()
    if dup.any():  # pragma: no cover - guarded by the completed map
        raise RuntimeError(f"duplicate trials {stim_rows['trial'][dup].tolist()}")

    beh = ses_dir / "beh"
    beh.mkdir(parents=True, exist_ok=True)
    stem = f"{participant}_ses-{session}_task-{task}"

    # calibration summary: the last validation of each calibration run that the data used
    log_entries = state.get("calibration_log", [])
    validations = [e for e in log_entries if e.get("reason") != "drift_check"]
    used = validations[-1] if validations else {}
    cal_type = used.get("CalibrationType", f"HV{cfg.tracker.calibration_points}")
    n_cal = len(validations)
    dropped_total = int(pd.to_numeric(ev["dropped_frames"], errors="coerce").fillna(0).sum())
    written: list[Path] = []

    for eye_no, eye in ((1, "left"), (2, "right")):
        valid = samples[f"{eye}_gaze_point_valid"].to_numpy(bool)
        gx = samples[f"{eye}_gaze_point_on_display_area_x"].to_numpy(float) * W
        gy = samples[f"{eye}_gaze_point_on_display_area_y"].to_numpy(float) * H
        gx = np.where(valid, gx, np.nan)
        gy = np.where(valid, gy, np.nan)
        pv = samples[f"{eye}_pupil_valid"].to_numpy(bool)
        pupil = np.where(pv, samples[f"{eye}_pupil_diameter"].to_numpy(float), np.nan)
        ov = samples[f"{eye}_gaze_origin_valid"].to_numpy(bool)
        ux, uy, uz = (samples[f"{eye}_gaze_origin_in_user_coordinates_{c}"].to_numpy(float) for c in "xyz")
        ex, ey, ez = area.ucs_to_display_mm(ux, uy, uz)
        ex, ey, ez = (np.where(ov, v, np.nan) for v in (ex, ey, ez))
        cols = [ts.astype(str), _fmt(gx, 3), _fmt(gy, 3), _fmt(pupil, 4), valid.astype(int).astype(str),
                _fmt(ex, 2), _fmt(ey, 2), _fmt(ez, 2)]
        physio = beh / f"{stem}_recording-eye{eye_no}_physio.tsv.gz"
        _write_atomic(physio, _physio_bytes(cols))
        written.append(physio)
        sidecar = {
            "SamplingFrequency": rate,
            "StartTime": 0,
            "Columns": PHYSIO_COLUMNS,
            "PhysioType": "eyetrack",
            "RecordedEye": eye,
            "SampleCoordinateUnits": "pixel",
            "SampleCoordinateSystem": "gaze-on-screen",
            "EnvironmentCoordinates": "top-left",
            "Manufacturer": tracker["manufacturer"],
            "ManufacturersModelName": tracker["model"],
            "DeviceSerialNumber": tracker["serial"],
            "SoftwareVersions": "; ".join([f"artgaze study {_version()}", f"firmware {tracker.get('firmware', 'n/a')}",
                                           *[f"{k} {v}" for k, v in (tracker.get("software") or {}).items()]]),
            "ScreenSize": [sc.size_mm[0] / 1000.0, sc.size_mm[1] / 1000.0],
            "ScreenResolution": [W, H],
            "ScreenDistance": sc.distance_mm / 1000.0,
            "ScreenRefreshRate": sc.refresh_hz,
            "CalibrationType": cal_type,
            "CalibrationCount": n_cal,
            "AverageCalibrationError": used.get("accuracy_deg"),
            "MaximalCalibrationError": used.get("max_accuracy_deg"),
            "ValidationPrecisionRMS": used.get("precision_rms_deg"),
            "CalibrationLog": log_entries,
            "TimestampZero": t_zero,
            "TimestampUnits": "us",
            "DroppedFrames": dropped_total,
            "SegmentTimestampOffsets": {str(k): v for k, v in offsets.items()},
            "Segments": state["segments"],
            "CounterbalanceSeed": state["seed"],
            "PlannedOrder": [p["stimulus_id"] for p in state["plan"]],
            "timestamp": {"LongName": "tracker timestamp", "Description": "Tobii SDK system_time_stamp (tracker clock)",
                          "Units": "us"},
            "x_coordinate": {"LongName": "gaze x on screen", "Description": "top-left origin, x right; n/a when invalid",
                             "Units": "pixel"},
            "y_coordinate": {"LongName": "gaze y on screen", "Description": "top-left origin, y down; n/a when invalid",
                             "Units": "pixel"},
            "pupil_size": {"Description": "pupil diameter; n/a when invalid", "Units": "mm"},
            "validity": {"Description": "1 when the tracker reported a valid gaze point for this eye",
                         "Levels": {"0": "invalid", "1": "valid"}},
            "eye_x": {"Description": "gaze origin, display-area coordinates (origin top-left, x right)", "Units": "mm"},
            "eye_y": {"Description": "gaze origin, display-area coordinates (y down)", "Units": "mm"},
            "eye_z": {"Description": "gaze origin, distance from the screen plane (towards the viewer)", "Units": "mm"},
        }
        side = beh / f"{stem}_recording-eye{eye_no}_physio.json"
        _write_atomic(side, _json_bytes(_clean(sidecar)))
        written.append(side)

    ev_out = ev.copy()
    ev_out["tracker_onset_us"] = ev_out["tracker_onset_us"].astype(str)
    ev_out = ev_out.replace("", "n/a").fillna("n/a")
    ev_path = beh / f"{stem}_events.tsv"
    buf = io.StringIO()
    ev_out[EVENT_COLUMNS].to_csv(buf, sep="\t", index=False, lineterminator="\n")
    _write_atomic(ev_path, buf.getvalue().encode("utf-8"))
    written.append(ev_path)
    ev_json = {
        "onset": {"Description": "onset from the first sample of the session (TimestampZero in the physio sidecar); "
                                 "flip time mapped to the tracker clock", "Units": "s"},
        "duration": {"Description": "until the next screen's flip", "Units": "s"},
        "trial_type": {"Levels": {k: k for k in ("calibration", "validation", "instructions", "practice",
                                                 "fixation_cross", "stimulus", "blank", "drift_check", "end")}},
        "trial": {"Description": "1-based experimental trial; 0 = practice; n/a otherwise"},
        "stimulus_id": {"Description": "manifest stimulus_id"},
        "stim_file": {"Description": "image file name"},
        "tracker_onset_us": {"Description": "onset on the tracker clock", "Units": "us"},
        "aoi_left": {"Description": "image rectangle on screen, top-left origin", "Units": "pixel"},
        "aoi_top": {"Units": "pixel"}, "aoi_right": {"Units": "pixel"}, "aoi_bottom": {"Units": "pixel"},
        "dropped_frames": {"Description": "frames dropped during this event (PsychoPy frame-interval recording)"},
        "StimulusPresentation": {"OperatingSystem": os.uname().sysname if hasattr(os, "uname") else "n/a",
                                 "SoftwareName": "PsychoPy" if last_seg["presenter"] == "psychopy" else "artgaze headless",
                                 "ScreenDistance": sc.distance_mm / 1000.0,
                                 "ScreenResolution": [W, H],
                                 "ScreenSize": [sc.size_mm[0] / 1000.0, sc.size_mm[1] / 1000.0]},
    }
    ev_json_path = beh / f"{stem}_events.json"
    _write_atomic(ev_json_path, _json_bytes(ev_json))
    written.append(ev_json_path)

    simulated = any(s.get("tracker_kind") == "simulated" for s in state["segments"])
    _update_dataset(ses_dir.parent.parent, participant, state.get("participant_info", {}), cfg, simulated)

    checks = ses_dir / f"{participant}_ses-{session}_checksums.sha256"
    lines = [f"{sha256_file(p)}  {p.relative_to(ses_dir).as_posix()}\n" for p in sorted(written)]
    _write_atomic(checks, "".join(lines).encode("utf-8"))
    # the practice image is regenerated deterministically; nothing else of .recording is needed any more
    shutil.rmtree(rec)
    _fsync_dir(ses_dir)
    log.info("finalised %s (%d samples per eye, %d events)", ses_dir, len(samples), len(ev_out))
    return beh


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("artgaze")
    except Exception:  # noqa: BLE001
        return "0+unknown"


def _update_dataset(root: Path, participant: str, info: dict[str, Any], cfg: StudyConfig, simulated: bool) -> None:
    """Create/update dataset_description.json, participants.tsv and participants.json.

    Holds an exclusive ``fcntl`` lock on ``root/.study.lock`` so that sessions finalised
    in parallel (e.g. a simulated cohort) do not lose each other's participants.tsv rows.
    """
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".study.lock", "a") as lock:
        try:
            import fcntl

            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - not POSIX
            pass
        _update_dataset_locked(root, participant, info, cfg, simulated)


def _update_dataset_locked(root: Path, participant: str, info: dict[str, Any], cfg: StudyConfig, simulated: bool) -> None:
    dd_path = root / "dataset_description.json"
    dd: dict[str, Any] = {}
    if dd_path.exists():
        dd = json.loads(dd_path.read_text(encoding="utf-8"))
    dd.setdefault("Name", "Eye tracking of AI-reconstructed artworks (replication of Wei Pu 2025)")
    dd["BIDSVersion"] = BIDS_VERSION
    dd["DatasetType"] = "raw"
    dd["GeneratedBy"] = [{"Name": "artgaze study", "Version": _version(),
                          "Description": "python -m study.run (PsychoPy protocol, crash-safe recorder)"}]
    dd["Simulated"] = bool(dd.get("Simulated", False)) or simulated
    _write_atomic(dd_path, _json_bytes(dd))

    p_path = root / "participants.tsv"
    fields = [f.name for f in cfg.participant.fields]
    if p_path.exists():
        table = pd.read_csv(p_path, sep="\t", dtype=str, keep_default_na=False)
    else:
        table = pd.DataFrame({"participant_id": pd.Series(dtype=str)})
    for f in fields:
        if f not in table.columns:
            table[f] = "n/a"
    row = {"participant_id": participant, **{f: str(info.get(f, "n/a")) for f in fields}}
    table = table[table["participant_id"] != participant]
    table = pd.concat([table, pd.DataFrame([row])], ignore_index=True).fillna("n/a")
    table = table.sort_values("participant_id", kind="stable")
    buf = io.StringIO()
    table.to_csv(buf, sep="\t", index=False, lineterminator="\n")
    _write_atomic(p_path, buf.getvalue().encode("utf-8"))

    pj_path = root / "participants.json"
    pj: dict[str, Any] = json.loads(pj_path.read_text(encoding="utf-8")) if pj_path.exists() else {}
    pj["participant_id"] = {"Description": "pseudonymous participant label (no names are recorded)"}
    for f in cfg.participant.fields:
        d: dict[str, Any] = {"Description": f.description or f.name}
        if f.choices:
            d["Levels"] = {c: c for c in f.choices}
        if f.type == "int" and f.name == "age":
            d["Units"] = "year"
        pj[f.name] = d
    _write_atomic(pj_path, _json_bytes(pj))
