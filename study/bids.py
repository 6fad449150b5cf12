"""Finalise an in-progress recording into the Eye-Tracking-BIDS layout of docs/formats.md §2.

Input: ``sub-XX/ses-N/.recording/`` (``samples.tsv``, ``events.tsv``, ``state.json``
written by :mod:`study.recorder` and :mod:`study.session`). Output, in
``sub-XX/ses-N/beh/``: per eye a header-less ``_physio.tsv.gz`` and its JSON sidecar,
``_events.tsv`` + ``_events.json``; the dataset's ``participants.tsv``/``.json`` and
``dataset_description.json`` are created or updated, and
``sub-XX_ses-N_checksums.sha256`` lists every file of the session; the presented images
are copied into the dataset's ``stimuli/`` folder (``stim_file`` is relative to it), and
``README`` and ``.bidsignore`` are created when missing. Every file is written to a
temporary name, fsynced and renamed.

Finalising is atomic from the user's point of view. Until the last final file (the
checksum list) is on disk, ``.recording/`` is untouched and a crash leaves a session
that ``--resume`` finalises again from scratch (same bytes). Then one ``rename`` of
``.recording/`` to ``.recording-finalised/`` marks the session finished (the commit
point); only after that is the old recording deleted, file by file. A crash during the
deletion leaves a finished, verifiable session plus ``.recording-finalised/``;
``--resume`` verifies the checksums and completes the cleanup
(:func:`complete_cleanup`).

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
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from study.config import INSTRUCTIONS_TEXT, START_TEXT, StudyConfig
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


#: ``.recording/`` is renamed to this once every final file is written (the commit point).
FINALISED_DIR = ".recording-finalised"
#: The dataset's stimulus folder (BIDS: ``stim_file`` paths are relative to ``/stimuli``).
STIMULI_DIR = "stimuli"
#: Lines of the dataset's ``.bidsignore``: the session checksum lists are not BIDS files.
BIDSIGNORE_LINES = ("*_checksums.sha256",)
#: HED schema of the ``trial_type`` annotations (HED 8.3.0, validated by bids-validator-deno 3.0.2).
HED_VERSION = "8.3.0"
#: HED annotation of each ``trial_type`` (HED 8.3.0 standard schema tags).
TRIAL_TYPE_HED = {
    "calibration": "Experiment-procedure, Sensory-event, Visual-presentation, Circle",
    "validation": "Experiment-procedure, Sensory-event, Visual-presentation, Circle",
    "drift_check": "Experiment-procedure, Sensory-event, Visual-presentation, Circle",
    "instructions": "Sensory-event, Instructional, Visual-presentation, Textblock",
    "practice": "Sensory-event, Visual-presentation, Image",
    "fixation_cross": "Sensory-event, Cue, Visual-presentation, Cross",
    "stimulus": "Sensory-event, Experimental-stimulus, Visual-presentation, Image",
    "blank": "Sensory-event, Visual-presentation, Background-view",
    "end": "Sensory-event, Instructional, Visual-presentation, Textblock",
}
TRIAL_TYPE_DESCRIPTIONS = {
    "calibration": "tracker calibration (5 or 9 points)", "validation": "validation points (accuracy, precision)",
    "instructions": "instruction screen", "practice": "practice image (neutral noise, not a study stimulus)",
    "fixation_cross": "central fixation cross before an image", "stimulus": "an artwork image (a trial)",
    "blank": "blank inter-trial interval", "drift_check": "central drift-check point", "end": "end screen",
}

#: Fault injection for tests: called with a short description after every file operation of
#: :func:`finalise` and :func:`complete_cleanup` (None in normal use).
FAULT_HOOK: Callable[[str], None] | None = None


def _op(what: str) -> None:
    if FAULT_HOOK is not None:
        FAULT_HOOK(what)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via ``path.tmp`` + fsync + rename; on error remove the temporary file."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _op(f"wrote {tmp.name}")
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        raise
    _op(f"renamed to {path.name}")


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


def finalise(ses_dir: str | Path, cfg: StudyConfig, stimulus_files: Iterable[Path] | None = None) -> Path:
    """Turn ``ses_dir/.recording`` into the BIDS files of docs/formats.md §2.

    Parameters
    ----------
    ses_dir : path
        The session folder ``sub-XX/ses-N`` holding ``.recording/``.
    cfg : StudyConfig
        The session's config (screen geometry, ``[dataset]`` metadata).
    stimulus_files : iterable of Path, optional
        The presented images, copied into the dataset's ``stimuli/`` folder; default:
        every image of the manifest the session started with (``state.json``).

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
    _remove_tree(ses_dir / FINALISED_DIR)   # (a leftover cannot coexist with a recording; be safe)
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
    if not beh.is_dir():
        beh.mkdir(parents=True)
        _op("created beh/")
    stem = f"{participant}_ses-{session}_task-{task}"

    # calibration summary: the last validation of each calibration run that the data used
    log_entries = state.get("calibration_log", [])
    validations = [e for e in log_entries if e.get("reason") != "drift_check"]
    used = validations[-1] if validations else {}
    cal_type = used.get("CalibrationType", f"HV{cfg.tracker.calibration_points}")
    n_cal = len(validations)
    dropped_total = int(pd.to_numeric(ev["dropped_frames"], errors="coerce").fillna(0).sum())
    written: list[Path] = []

    ds = cfg.dataset
    task_name = ds.task_name or task
    tobii = any(sg.get("tracker_kind") == "tobii" for sg in state["segments"])
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
            "TaskName": task_name,
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
            **({"EyeTrackingMethod": "P-CR"} if tobii else {}),   # Tobii: pupil-centre corneal reflection
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
    present = {c: sorted(set(ev[c][ev["trial_type"] == "stimulus"]) - {"", "n/a"}) for c in ("category", "method")}
    ev_json = {
        "TaskName": task_name,
        "TaskDescription": ds.task_description or _task_description(cfg),
        "Instructions": "\n\n".join((INSTRUCTIONS_TEXT, START_TEXT)),
        **_nonempty({"CogAtlasID": ds.cogatlas_id, "CogPOID": ds.cogpo_id, "InstitutionName": ds.institution_name,
                     "InstitutionAddress": ds.institution_address,
                     "InstitutionalDepartmentName": ds.institution_department}),
        "onset": {"Description": "onset from the first sample of the session (TimestampZero in the physio sidecar); "
                                 "flip time mapped to the tracker clock", "Units": "s"},
        "duration": {"Description": "until the next screen's flip", "Units": "s"},
        "trial_type": {"Description": "the screen shown", "Levels": dict(TRIAL_TYPE_DESCRIPTIONS),
                       "HED": dict(TRIAL_TYPE_HED)},
        "trial": {"Description": "1-based experimental trial; 0 = practice; n/a otherwise"},
        "stimulus_id": {"Description": "manifest stimulus_id (docs/formats.md section 1)"},
        "artwork": {"Description": "the artwork the image reconstructs (manifest column artwork)"},
        "category": {"Description": "artwork category (manifest column category; paper: painting, sculpture, "
                                    "craft)", "Levels": {c: f"{c} artwork" for c in present["category"]}},
        "method": {"Description": "reconstruction method of the image (manifest column method)",
                   "Levels": {m: f"image reconstructed by {m}" for m in present["method"]}},
        "stim_file": {"Description": "the image shown, relative to the dataset's stimuli/ folder"},
        "tracker_onset_us": {"Description": "onset on the tracker clock", "Units": "us"},
        "aoi_left": {"Description": "image rectangle on screen, top-left origin", "Units": "pixel"},
        "aoi_top": {"Units": "pixel"}, "aoi_right": {"Units": "pixel"}, "aoi_bottom": {"Units": "pixel"},
        "dropped_frames": {"Description": "frames dropped during this event (PsychoPy frame-interval recording)"},
        "StimulusPresentation": {"OperatingSystem": os.uname().sysname if hasattr(os, "uname") else "n/a",
                                 **({"SoftwareName": "PsychoPy", "SoftwareRRID": "RRID:SCR_006571",
                                     **_nonempty({"SoftwareVersion": last_seg.get("presenter_version", "")})}
                                    if last_seg["presenter"] == "psychopy" else
                                    {"SoftwareName": "artgaze headless presenter", "SoftwareVersion": _version()}),
                                 "ScreenDistance": sc.distance_mm / 1000.0,
                                 "ScreenOrigin": ["top", "left"],
                                 "ScreenRefreshRate": sc.refresh_hz,
                                 "ScreenResolution": [W, H],
                                 "ScreenSize": [sc.size_mm[0] / 1000.0, sc.size_mm[1] / 1000.0],
                                 **_nonempty({"HeadStabilization": ds.head_stabilization})},
    }
    ev_json_path = beh / f"{stem}_events.json"
    _write_atomic(ev_json_path, _json_bytes(ev_json))
    written.append(ev_json_path)

    simulated = any(s.get("tracker_kind") == "simulated" for s in state["segments"])
    if stimulus_files is None:
        from study.manifest import read_manifest

        stimulus_files = [st.path for st in read_manifest(Path(state["manifest"]), verify=True)]
    shown = set(ev["stim_file"]) - {"", "n/a"}
    images = [Path(f) for f in stimulus_files if Path(f).name in shown]
    if (rec / "practice.png").is_file() and "practice.png" in shown:
        images.append(rec / "practice.png")
    missing_images = shown - {p.name for p in images}
    if missing_images:
        raise StudyError(f"the presented images {sorted(missing_images)} are not in the stimulus manifest",
                         file=state.get("manifest"), fix="restore the manifest the session started with")
    _update_dataset(ses_dir.parent.parent, participant, state.get("participant_info", {}), cfg, simulated, images)

    checks = ses_dir / f"{participant}_ses-{session}_checksums.sha256"
    lines = [f"{sha256_file(p)}  {p.relative_to(ses_dir).as_posix()}\n" for p in sorted(written)]
    _write_atomic(checks, "".join(lines).encode("utf-8"))
    # commit point: one rename marks the session finished; then the old recording is deleted
    os.rename(rec, ses_dir / FINALISED_DIR)
    _fsync_dir(ses_dir)
    _op(f"renamed {RECORDING_DIR} to {FINALISED_DIR}")
    _remove_tree(ses_dir / FINALISED_DIR)
    log.info("finalised %s (%d samples per eye, %d events)", ses_dir, len(samples), len(ev_out))
    return beh


def _remove_tree(folder: Path) -> None:
    """Delete a folder file by file (deepest first), fsyncing its parent at the end."""
    if not folder.exists():
        return
    for path in sorted(folder.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if path.is_dir() and not path.is_symlink():
            path.rmdir()
        else:
            path.unlink()
        _op(f"removed {path.name}")
    folder.rmdir()
    _fsync_dir(folder.parent)
    _op(f"removed {folder.name}")


def complete_cleanup(ses_dir: str | Path) -> bool:
    """Finish a finalisation that stopped while deleting the old recording.

    Verifies the session's checksum list (every final file is present and unchanged),
    then removes ``.recording-finalised/``. Returns False when there was nothing to do.

    Raises
    ------
    StudyError
        A final file is missing or changed: the leftover is kept (it still holds the
        raw recording) and the message says what to check.
    """
    ses_dir = Path(ses_dir)
    leftover = ses_dir / FINALISED_DIR
    if not leftover.exists():
        return False
    checks = sorted(ses_dir.glob("*_checksums.sha256"))
    problems = []
    if not checks:
        problems.append("no *_checksums.sha256")
    for ck in checks:
        for n, line in enumerate(ck.read_text(encoding="utf-8").splitlines(), 1):
            digest, _, name = line.partition("  ")
            target = ses_dir / name
            if not target.is_file() or sha256_file(target) != digest:
                problems.append(f"{ck.name} line {n}: {name} is missing or changed")
    if problems:
        raise StudyError("the session's final files do not match their checksums, so the leftover recording in "
                         f"{FINALISED_DIR}/ is kept: " + "; ".join(problems[:5]), file=ses_dir,
                         fix=f"move {FINALISED_DIR} back to {RECORDING_DIR} and run --resume to finalise again")
    _remove_tree(leftover)
    return True


def _nonempty(d: dict[str, Any]) -> dict[str, Any]:
    """The items whose value is not empty (unset config values are left out of the files)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v not in ("", (), [], None)}


def _task_description(cfg: StudyConfig) -> str:
    t = cfg.timing
    return (f"Free viewing of artwork images: each trial shows a fixation cross ({t.fixation_s:g} s), one image "
            f"({t.viewing_s:g} s) and a blank screen ({t.iti_s:g} s); every participant sees every image once in a "
            f"counterbalanced order (the two reconstructions of one artwork never consecutive)"
            + (f", with a drift check every {t.drift_check_every} trials." if t.drift_check_every else "."))


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


def _update_dataset(root: Path, participant: str, info: dict[str, Any], cfg: StudyConfig, simulated: bool,
                    images: Iterable[Path] = ()) -> None:
    """Create/update dataset_description.json, participants.tsv and participants.json,
    copy ``images`` into ``stimuli/`` and create ``README`` / ``.bidsignore`` when missing.

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
        copy_stimuli(root, images)
        _update_dataset_locked(root, participant, info, cfg, simulated)


def _update_dataset_locked(root: Path, participant: str, info: dict[str, Any], cfg: StudyConfig, simulated: bool) -> None:
    dd_path = root / "dataset_description.json"
    dd: dict[str, Any] = {}
    if dd_path.exists():
        dd = json.loads(dd_path.read_text(encoding="utf-8"))
    dd.setdefault("Name", cfg.dataset.name or "Eye-tracking dataset")
    dd["BIDSVersion"] = BIDS_VERSION
    dd["DatasetType"] = "raw"
    dd["GeneratedBy"] = [{"Name": "artgaze study", "Version": _version(),
                          "Description": "python -m study.run (PsychoPy protocol, crash-safe recorder)"}]
    dd["Simulated"] = bool(dd.get("Simulated", False)) or simulated
    ds = cfg.dataset
    dd.update(_nonempty({"Authors": ds.authors, "License": ds.license, "Acknowledgements": ds.acknowledgements,
                         "HowToAcknowledge": ds.how_to_acknowledge, "Funding": ds.funding,
                         "EthicsApprovals": ds.ethics_approvals, "ReferencesAndLinks": ds.references_and_links,
                         "DatasetDOI": ds.dataset_doi}))
    dd["HEDVersion"] = HED_VERSION
    _write_atomic(dd_path, _json_bytes(dd))

    readme = root / "README"
    if not any((root / n).exists() for n in ("README", "README.md", "README.rst", "README.txt")):
        _write_atomic(readme, _readme_text(cfg, simulated).encode("utf-8"))
    ignore = root / ".bidsignore"
    have = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    add = [line for line in BIDSIGNORE_LINES if line not in have]
    if add:
        _write_atomic(ignore, "".join(f"{line}\n" for line in [*have, *add]).encode("utf-8"))

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


def check_stimuli(root: Path, images: Iterable[Path]) -> None:
    """Refuse images whose name is taken in ``root/stimuli`` by a different file (checked at session start)."""
    for src in images:
        dst = Path(root) / STIMULI_DIR / Path(src).name
        if dst.is_file() and dst.resolve() != Path(src).resolve() and sha256_file(dst) != sha256_file(Path(src)):
            raise StudyError(f"the dataset's stimuli/ already holds a different {dst.name}", file=dst,
                             expected="one image per file name in a dataset (stim_file names are relative to stimuli/)",
                             fix="give the images distinct file names in the manifest, or record into another --data")


def copy_stimuli(root: Path, images: Iterable[Path]) -> None:
    """Copy the presented images into ``root/stimuli/`` (kept when identical; a different file is refused)."""
    images = list(images)
    check_stimuli(root, images)
    for src in images:
        dst = Path(root) / STIMULI_DIR / Path(src).name
        if dst.is_file():
            continue
        if not dst.parent.is_dir():
            dst.parent.mkdir(parents=True)
            _op(f"created {STIMULI_DIR}/")
        _write_atomic(dst, Path(src).read_bytes())


def _readme_text(cfg: StudyConfig, simulated: bool) -> str:
    ds = cfg.dataset
    lines = [ds.name or "Eye-tracking dataset", "=" * len(ds.name or "Eye-tracking dataset"), ""]
    if simulated:
        lines += ["SIMULATED DATA: the participants and the tracker are simulated (study.simulate); no person",
                  "was recorded.", ""]
    lines += [
        f"Task {cfg.study.task!r} ({ds.task_name}): {ds.task_description or _task_description(cfg)}",
        "",
        "Recorded with the artgaze study package (python -m study.run). Layout (Eye-Tracking-BIDS, BIDS 1.10):",
        "- sub-XX/ses-N/beh/*_recording-eye1|eye2_physio.tsv.gz + .json: gaze samples per eye",
        "- sub-XX/ses-N/beh/*_events.tsv + .json: screens and trials (stim_file is relative to stimuli/)",
        "- sub-XX/ses-N/sub-XX_ses-N_checksums.sha256: SHA-256 of every session file (listed in .bidsignore)",
        "- stimuli/: the images shown; participants.tsv/.json: pseudonymous participant information",
        "",
        "This README was written when the first session was finalised; edit it freely (it is never overwritten).",
        "",
    ]
    return "\n".join(lines)
