"""Test support: write small, valid project-format BIDS datasets (docs/formats.md, section 2).

Not package code. Dependency-free (numpy, pandas, json, gzip, hashlib). Import it from
any test as::

    from tests.analysis.bids_fixture import write_bids_session, write_bids_dataset, ground_truth

(``python -m pytest`` puts the repository root on ``sys.path``; ``tests`` is a namespace
package.)

What is written, per session (exactly the layout of docs/formats.md section 2)::

    <root>/dataset_description.json          BIDSVersion 1.10.0, DatasetType raw, "Simulated"
    <root>/participants.tsv, participants.json
    <root>/sub-XX/ses-N/beh/sub-XX_ses-N_task-artview_events.tsv (+ .json)
    <root>/sub-XX/ses-N/beh/sub-XX_ses-N_task-artview_recording-eye1_physio.tsv.gz (+ .json)  left eye
    <root>/sub-XX/ses-N/beh/sub-XX_ses-N_task-artview_recording-eye2_physio.tsv.gz (+ .json)  right eye
    <root>/sub-XX/ses-N/sub-XX_ses-N_checksums.sha256

and, outside the raw tree (BIDS ``sourcedata/`` is ignored by raw-data readers), the
ground truth of the synthetic signal::

    <root>/sourcedata/fixture_truth/sub-XX_ses-N_fixations.tsv

Session timeline (all on one continuous sample clock, starting at ``TimestampZero``):
``instructions`` (``instructions_s``, gaze on the screen centre), then per trial a
``fixation_cross`` (``cross_s``, gaze on the centre), the ``stimulus`` (``duration_s``),
and a ``blank`` (``blank_s``, gaze on the centre); finally an ``end`` event.

Synthetic gaze when a trial gives no ``gaze``: a fixation train. Each fixation lasts a
uniform random 200-500 ms at a uniform random position inside the trial's AOI (20 px
inset), at least ``min_jump_px`` (default 150 px) from the previous one; consecutive
fixations are joined by linear saccades of ``saccade_ms`` (default 40 ms, at least two
samples). With the T60 geometry 150 px over 40-50 ms is > 60 deg/s, far above the I-VT
threshold of 30 deg/s, and the Gaussian noise (``noise_px``, default 0.5 px, about
0.01 deg) keeps fixation velocities far below it.

Ground-truth fixations (``ground_truth(session_dir)`` or the TSV above) have columns
``segment`` (instructions | fixation_cross | stimulus | blank), ``trial`` (0 outside
stimuli), ``stimulus_id`` ("" outside stimuli), ``onset_s`` (tracker clock, first sample
of the fixation), ``last_sample_s`` (tracker clock, its last sample), ``n_samples``,
``duration_s`` (= n_samples / rate_hz), ``x_px``, ``y_px`` (noise-free position). A
fixation cut short by the end of its segment is still listed (with its real length).
Trials given with explicit ``gaze`` have no ground truth rows.

Vendor exports for the reader tests: :func:`simple_signal` (a small binocular signal
with known invalid samples), :func:`write_tobii_export` (Tobii Pro Lab classic or
unit-suffixed headers, decimal point or comma, or Tobii Studio, with event-only rows)
and :func:`write_plain_table` (``time, x, y, valid``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.recording import T60_GEOMETRY, Geometry

TASK = "artview"
#: Tracker clock at the first sample (µs); Tobii ``system_time_stamp`` values are large.
DEFAULT_TIMESTAMP_ZERO_US = 5_000_000_000

ARTWORK_CATEGORY = {
    "last_supper": "painting", "night_watch": "painting", "virgin_of_the_rocks": "painting",
    "david": "sculpture", "thinker": "sculpture", "venus_de_milo": "sculpture",
    "terracotta_warriors": "craft", "tang_sancai": "craft", "blue_white_porcelain": "craft",
}

DEFAULT_TRIALS: tuple[dict[str, Any], ...] = (
    {"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
     "duration_s": 3.0, "aoi": (240.0, 112.0, 1040.0, 912.0), "gaze": None},
    {"stimulus_id": "night_watch_pix2pix", "artwork": "night_watch", "category": "painting",
     "method": "pix2pix", "duration_s": 3.0, "aoi": (140.0, 212.0, 1140.0, 812.0), "gaze": None},
)

EYE_RECORDING = {"left": "eye1", "right": "eye2"}
#: Eye (gaze origin) offsets from the screen centre line, mm (half a 64 mm interpupillary distance).
EYE_OFFSET_MM = {"left": -32.0, "right": 32.0}

TRUTH_COLUMNS = ["segment", "trial", "stimulus_id", "onset_s", "last_sample_s", "n_samples",
                 "duration_s", "x_px", "y_px"]


def session_prefix(participant: str, session: str) -> str:
    """``sub-XX_ses-N`` for a participant label (with ``sub-``) and a session number."""
    return f"{participant}_ses-{session}"


def _n(seconds: float, rate_hz: float) -> int:
    return max(0, int(round(seconds * rate_hz)))


class _Train:
    """Builds a continuous gaze path segment by segment, recording ground-truth fixations."""

    def __init__(self, n_total: int, rate_hz: float, t_s: np.ndarray, rng: np.random.Generator,
                 centre: tuple[float, float], saccade_ms: float, min_jump_px: float) -> None:
        self.x = np.full(n_total, np.nan)
        self.y = np.full(n_total, np.nan)
        self.rate = rate_hz
        self.t = t_s
        self.rng = rng
        self.pos = centre
        self.centre = centre
        self.n_sac = max(2, _n(saccade_ms / 1000.0, rate_hz))
        self.min_jump = min_jump_px
        self.truth: list[dict[str, Any]] = []

    def _saccade(self, start: int, stop: int, target: tuple[float, float]) -> int:
        n = min(self.n_sac, stop - start)
        if n <= 0:
            return start
        frac = np.arange(1, n + 1) / (self.n_sac + 1)
        self.x[start:start + n] = self.pos[0] + frac * (target[0] - self.pos[0])
        self.y[start:start + n] = self.pos[1] + frac * (target[1] - self.pos[1])
        if n < self.n_sac:  # cut by the segment end: gaze is mid-saccade
            self.pos = (float(self.x[start + n - 1]), float(self.y[start + n - 1]))
        return start + n

    def _fixate(self, start: int, stop: int, target: tuple[float, float], seg: str, trial: int, sid: str) -> None:
        if stop <= start:
            return
        self.x[start:stop] = target[0]
        self.y[start:stop] = target[1]
        self.pos = target
        n = stop - start
        self.truth.append({"segment": seg, "trial": trial, "stimulus_id": sid,
                           "onset_s": float(self.t[start]), "last_sample_s": float(self.t[stop - 1]),
                           "n_samples": int(n), "duration_s": n / self.rate,
                           "x_px": float(target[0]), "y_px": float(target[1])})

    def centre_segment(self, start: int, stop: int, seg: str) -> None:
        if self.pos != self.centre:
            start = self._saccade(start, stop, self.centre)
            if start >= stop:
                return
        self._fixate(start, stop, self.centre, seg, 0, "")

    def _pick(self, aoi: Sequence[float]) -> tuple[float, float]:
        lo_x, hi_x = aoi[0] + 20.0, max(aoi[0] + 20.0, aoi[2] - 20.0)
        lo_y, hi_y = aoi[1] + 20.0, max(aoi[1] + 20.0, aoi[3] - 20.0)
        best, best_d = self.pos, -1.0
        for _ in range(100):
            cand = (float(self.rng.uniform(lo_x, hi_x)), float(self.rng.uniform(lo_y, hi_y)))
            d = float(np.hypot(cand[0] - self.pos[0], cand[1] - self.pos[1]))
            if d >= self.min_jump:
                return cand
            if d > best_d:
                best, best_d = cand, d
        return best

    def stimulus_segment(self, start: int, stop: int, aoi: Sequence[float], trial: int, sid: str) -> None:
        i = start
        while i < stop:
            target = self._pick(aoi)
            i = self._saccade(i, stop, target)
            if i >= stop:
                break
            n_fix = _n(float(self.rng.uniform(0.2, 0.5)), self.rate)
            end = min(stop, i + max(1, n_fix))
            self._fixate(i, end, target, "stimulus", trial, sid)
            i = end


def _fmt_physio(df: pd.DataFrame) -> bytes:
    text = df.to_csv(sep="\t", header=False, index=False, na_rep="n/a", lineterminator="\n",
                     float_format="%.4f")
    return text.encode("utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_dataset_files(root: str | Path, participants: Sequence[str], *, simulated: bool = True) -> Path:
    """Write ``dataset_description.json``, ``participants.tsv`` and ``participants.json`` at ``root``.

    ``participants.tsv`` lists ``participants`` in the given order (duplicates are written
    as given, so tests can build a broken dataset).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    desc = {
        "Name": "artgaze test fixture",
        "BIDSVersion": "1.10.0",
        "DatasetType": "raw",
        "GeneratedBy": [{"Name": "tests.analysis.bids_fixture", "Version": "1.0"}],
        "Simulated": bool(simulated),
    }
    (root / "dataset_description.json").write_text(json.dumps(desc, indent=2) + "\n", encoding="utf-8")
    pd.DataFrame({"participant_id": list(participants)}).to_csv(
        root / "participants.tsv", sep="\t", index=False, lineterminator="\n")
    (root / "participants.json").write_text(
        json.dumps({"participant_id": {"Description": "pseudonymous participant label"}}, indent=2) + "\n",
        encoding="utf-8")
    return root


def _add_participant(root: Path, participant: str, simulated: bool) -> None:
    tsv = root / "participants.tsv"
    if not (root / "dataset_description.json").exists() or not tsv.exists():
        write_dataset_files(root, [participant], simulated=simulated)
        return
    existing = pd.read_csv(tsv, sep="\t", dtype=str)["participant_id"].tolist()
    if participant not in existing:
        write_dataset_files(root, existing + [participant], simulated=simulated)


def write_bids_session(
    root: str | Path,
    participant: str = "sub-01",
    session: str = "1",
    *,
    rate_hz: float = 60.0,
    trials: Sequence[dict[str, Any]] | None = None,
    geometry: Geometry = T60_GEOMETRY,
    simulated: bool = True,
    seed: int = 0,
    eyes: Sequence[str] = ("left", "right"),
    write_eye_position: bool = True,
    timestamp_zero_us: int = DEFAULT_TIMESTAMP_ZERO_US,
    instructions_s: float = 1.0,
    cross_s: float = 0.5,
    blank_s: float = 0.5,
    noise_px: float = 0.5,
    saccade_ms: float = 40.0,
    min_jump_px: float = 150.0,
    dropouts: Sequence[tuple[float, float]] = (),
    accuracy_deg: float = 0.5,
    precision_deg: float = 0.1,
    sidecar_overrides: dict[str, dict[str, Any]] | None = None,
    tracker_model: str = "Tobii T60",
) -> Path:
    """Write one valid session (and the dataset files if missing); return the session folder.

    Parameters
    ----------
    root : path
        Dataset root (created if missing). ``dataset_description.json`` and
        ``participants.tsv`` are created, or the participant is appended.
    participant : str
        Label with the ``sub-`` prefix, e.g. ``"sub-07"``.
    session : str
        Session number without ``ses-``.
    rate_hz : float
        Sampling rate; timestamps are ``timestamp_zero_us + round(i * 1e6 / rate_hz)``.
    trials : list of dict
        Keys ``stimulus_id``, ``artwork``, ``category``, ``method``, ``duration_s``,
        ``aoi`` (left, top, right, bottom px) and optional ``gaze``: an ``(n, 2)`` px array
        with ``n == round(duration_s * rate_hz)`` used verbatim for the stimulus period
        (NaN rows become invalid samples for both eyes). Default: :data:`DEFAULT_TRIALS`.
    geometry : Geometry
        Written to the sidecars (``ScreenSize`` in metres, ``ScreenDistance`` in metres).
    eyes : sequence of "left"/"right"
        Which ``recording-eye1`` (left) / ``recording-eye2`` (right) files to write.
    write_eye_position : bool
        Whether the physio files carry ``eye_x/eye_y/eye_z`` columns.
    dropouts : sequence of (start_s, stop_s)
        Intervals, in seconds after ``TimestampZero``, where both eyes are invalid
        (samples with ``start_s <= t < stop_s``).
    sidecar_overrides : dict
        ``{"left": {...}, "right": {...}}`` keys merged into that eye's sidecar (e.g. a
        different ``SamplingFrequency`` to build a broken dataset).

    Returns
    -------
    pathlib.Path
        ``<root>/<participant>/ses-<session>``.
    """
    root = Path(root)
    trials = list(DEFAULT_TRIALS if trials is None else trials)
    for eye in eyes:
        if eye not in EYE_RECORDING:
            raise ValueError(f"unknown eye {eye!r}")
    rng = np.random.default_rng(seed)
    centre = (geometry.screen_px[0] / 2.0, geometry.screen_px[1] / 2.0)

    # -- timeline in samples
    segments: list[tuple[str, int, dict[str, Any] | None, int]] = [("instructions", _n(instructions_s, rate_hz), None, 0)]
    for k, tr in enumerate(trials, start=1):
        segments.append(("fixation_cross", _n(cross_s, rate_hz), tr, k))
        segments.append(("stimulus", _n(float(tr["duration_s"]), rate_hz), tr, k))
        segments.append(("blank", _n(blank_s, rate_hz), tr, k))
    n_total = sum(s[1] for s in segments) + 1  # one last sample for the "end" event
    ts_us = timestamp_zero_us + np.round(np.arange(n_total) * 1e6 / rate_hz).astype(np.int64)
    t_s = ts_us / 1e6

    train = _Train(n_total, rate_hz, t_s, rng, centre, saccade_ms, min_jump_px)
    explicit = np.zeros(n_total, dtype=bool)
    events: list[dict[str, Any]] = []
    i = 0
    for kind, n, tr, k in segments:
        start, stop = i, i + n
        if kind == "stimulus":
            assert tr is not None
            gaze = tr.get("gaze")
            if gaze is not None:
                gaze = np.asarray(gaze, dtype=np.float64)
                if gaze.shape != (n, 2):
                    raise ValueError(f"trial {k}: gaze must have shape ({n}, 2), got {gaze.shape}")
                train.x[start:stop] = gaze[:, 0]
                train.y[start:stop] = gaze[:, 1]
                explicit[start:stop] = True
                last = gaze[~np.isnan(gaze).any(axis=1)]
                if len(last):
                    train.pos = (float(last[-1, 0]), float(last[-1, 1]))
            else:
                train.stimulus_segment(start, stop, tr["aoi"], k, tr["stimulus_id"])
        else:
            train.centre_segment(start, stop, kind)
        row: dict[str, Any] = {"onset": (ts_us[start] - timestamp_zero_us) / 1e6, "duration": n / rate_hz,
                               "trial_type": kind, "trial": "n/a", "stimulus_id": "n/a", "artwork": "n/a",
                               "category": "n/a", "method": "n/a", "stim_file": "n/a",
                               "tracker_onset_us": int(ts_us[start]), "aoi_left": "n/a", "aoi_top": "n/a",
                               "aoi_right": "n/a", "aoi_bottom": "n/a", "dropped_frames": 0}
        if kind == "stimulus":
            assert tr is not None
            left, top, right, bottom = tr["aoi"]
            row.update({"trial": k, "stimulus_id": tr["stimulus_id"],
                        "artwork": tr.get("artwork") or "n/a", "category": tr.get("category") or "n/a",
                        "method": tr.get("method") or "n/a", "stim_file": f"{tr['stimulus_id']}.png",
                        "aoi_left": left, "aoi_top": top, "aoi_right": right, "aoi_bottom": bottom})
        events.append(row)
        i = stop
    # the final sample: keep the last position
    train.x[-1], train.y[-1] = train.pos
    events.append({"onset": (ts_us[-1] - timestamp_zero_us) / 1e6, "duration": 0.0, "trial_type": "end",
                   "trial": "n/a", "stimulus_id": "n/a", "artwork": "n/a", "category": "n/a", "method": "n/a",
                   "stim_file": "n/a", "tracker_onset_us": int(ts_us[-1]), "aoi_left": "n/a", "aoi_top": "n/a",
                   "aoi_right": "n/a", "aoi_bottom": "n/a", "dropped_frames": 0})

    rel = t_s - timestamp_zero_us / 1e6
    invalid = np.isnan(train.x) | np.isnan(train.y)
    for a, b in dropouts:
        invalid |= (rel >= a) & (rel < b)

    # -- files
    ses_dir = root / participant / f"ses-{session}"
    beh = ses_dir / "beh"
    beh.mkdir(parents=True, exist_ok=True)
    _add_participant(root, participant, simulated)
    prefix = f"{session_prefix(participant, session)}_task-{TASK}"

    ev = pd.DataFrame(events)
    ev.to_csv(beh / f"{prefix}_events.tsv", sep="\t", index=False, lineterminator="\n", float_format="%.6f")
    (beh / f"{prefix}_events.json").write_text(json.dumps({
        "onset": {"Description": "seconds after TimestampZero", "Units": "s"},
        "duration": {"Units": "s"},
        "trial_type": {"Description": "phase of the protocol"},
        "tracker_onset_us": {"Description": "onset on the tracker clock", "Units": "us"},
    }, indent=2) + "\n", encoding="utf-8")

    columns = ["timestamp", "x_coordinate", "y_coordinate", "pupil_size", "validity"]
    if write_eye_position:
        columns += ["eye_x", "eye_y", "eye_z"]
    overrides = sidecar_overrides or {}
    for eye in eyes:
        noise = rng.normal(0.0, noise_px, size=(n_total, 2)) if noise_px > 0 else np.zeros((n_total, 2))
        gx = np.where(invalid, np.nan, train.x + np.where(explicit, 0.0, noise[:, 0]))
        gy = np.where(invalid, np.nan, train.y + np.where(explicit, 0.0, noise[:, 1]))
        data: dict[str, Any] = {
            "timestamp": ts_us,
            "x_coordinate": gx,
            "y_coordinate": gy,
            "pupil_size": np.where(invalid, np.nan, 3.0 + 0.05 * rng.standard_normal(n_total)),
            "validity": (~invalid).astype(np.int64),
        }
        if write_eye_position:
            data["eye_x"] = np.where(invalid, np.nan, geometry.screen_mm[0] / 2.0 + EYE_OFFSET_MM[eye])
            data["eye_y"] = np.where(invalid, np.nan, geometry.screen_mm[1] / 2.0)
            data["eye_z"] = np.where(invalid, np.nan, float(geometry.distance_mm))
        df = pd.DataFrame(data, columns=columns)
        name = f"{prefix}_recording-{EYE_RECORDING[eye]}_physio"
        with gzip.open(beh / f"{name}.tsv.gz", "wb", compresslevel=1) as fh:
            fh.write(_fmt_physio(df))
        sidecar: dict[str, Any] = {
            "SamplingFrequency": float(rate_hz),
            "StartTime": 0.0,
            "Columns": columns,
            "PhysioType": "eyetrack",
            "RecordedEye": eye,
            "SampleCoordinateUnits": "pixel",
            "SampleCoordinateSystem": "gaze-on-screen",
            "EnvironmentCoordinates": "top-left",
            "Manufacturer": "Tobii",
            "ManufacturersModelName": tracker_model,
            "DeviceSerialNumber": "FIXTURE-0001",
            "SoftwareVersions": "bids_fixture 1.0",
            "ScreenSize": [geometry.screen_mm[0] / 1000.0, geometry.screen_mm[1] / 1000.0],
            "ScreenResolution": [int(geometry.screen_px[0]), int(geometry.screen_px[1])],
            "ScreenDistance": geometry.distance_mm / 1000.0,
            "ScreenRefreshRate": 60.0,
            "TimestampZero": int(timestamp_zero_us),
            "CalibrationType": "HV9",
            "CalibrationCount": 1,
            "AverageCalibrationError": float(accuracy_deg),
            "MaximalCalibrationError": float(accuracy_deg) * 2.0,
            "ValidationPrecisionRMS": float(precision_deg),
            "CalibrationLog": [{"attempt": 1, "type": "validation", "accuracy_deg": float(accuracy_deg),
                                "precision_deg": float(precision_deg)}],
            "timestamp": {"Description": "tracker clock (system_time_stamp)", "Units": "us"},
            "x_coordinate": {"Units": "pixel"},
            "y_coordinate": {"Units": "pixel"},
            "pupil_size": {"Units": "mm"},
            "validity": {"Description": "1 = valid gaze point for this eye"},
        }
        if write_eye_position:
            for c in ("eye_x", "eye_y", "eye_z"):
                sidecar[c] = {"Units": "mm"}
        sidecar.update(overrides.get(eye, {}))
        (beh / f"{name}.json").write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")

    truth = pd.DataFrame(train.truth, columns=TRUTH_COLUMNS)
    truth_dir = root / "sourcedata" / "fixture_truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    truth.to_csv(truth_dir / f"{session_prefix(participant, session)}_fixations.tsv", sep="\t", index=False,
                 lineterminator="\n")

    write_checksums(ses_dir)
    return ses_dir


def write_checksums(ses_dir: str | Path) -> Path:
    """(Re)write ``sub-XX_ses-N_checksums.sha256`` (sha256sum format, paths relative to the session)."""
    ses_dir = Path(ses_dir)
    participant = ses_dir.parent.name
    session = ses_dir.name.removeprefix("ses-")
    out = ses_dir / f"{session_prefix(participant, session)}_checksums.sha256"
    lines = [f"{_sha256(p)}  {p.relative_to(ses_dir).as_posix()}"
             for p in sorted(ses_dir.rglob("*")) if p.is_file() and p != out]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_bids_dataset(
    root: str | Path,
    participants: Sequence[str] = ("sub-01", "sub-02"),
    session: str = "1",
    **kwargs: Any,
) -> list[Path]:
    """Write one session per participant (seed = ``kwargs['seed'] + index``); return the session folders.

    All other keyword arguments go to :func:`write_bids_session`.
    """
    root = Path(root)
    seed = int(kwargs.pop("seed", 0))
    write_dataset_files(root, list(participants), simulated=kwargs.get("simulated", True))
    return [write_bids_session(root, p, session, seed=seed + k, **kwargs) for k, p in enumerate(participants)]


def ground_truth(session_dir: str | Path) -> pd.DataFrame:
    """The ground-truth fixations written for a session by :func:`write_bids_session`."""
    session_dir = Path(session_dir)
    participant = session_dir.parent.name
    session = session_dir.name.removeprefix("ses-")
    root = session_dir.parent.parent
    path = root / "sourcedata" / "fixture_truth" / f"{session_prefix(participant, session)}_fixations.tsv"
    return pd.read_csv(path, sep="\t", keep_default_na=False,
                       dtype={"segment": str, "stimulus_id": str, "trial": np.int64})


def physio_path(session_dir: str | Path, eye: str = "left") -> Path:
    """Path of the ``_physio.tsv.gz`` of ``eye`` in a session written by :func:`write_bids_session`."""
    session_dir = Path(session_dir)
    participant = session_dir.parent.name
    session = session_dir.name.removeprefix("ses-")
    prefix = f"{session_prefix(participant, session)}_task-{TASK}"
    return session_dir / "beh" / f"{prefix}_recording-{EYE_RECORDING[eye]}_physio.tsv.gz"


def events_path(session_dir: str | Path) -> Path:
    """Path of the ``_events.tsv`` of a session written by :func:`write_bids_session`."""
    session_dir = Path(session_dir)
    participant = session_dir.parent.name
    session = session_dir.name.removeprefix("ses-")
    return session_dir / "beh" / f"{session_prefix(participant, session)}_task-{TASK}_events.tsv"


# --------------------------------------------------------------------------- vendor exports

def simple_signal(n: int = 120, rate_hz: float = 60.0, seed: int = 0) -> dict[str, np.ndarray]:
    """A small binocular test signal: fixations of 30 samples on a 3 x 2 grid, a few invalid samples.

    Returns arrays ``t_s`` (from 0), ``lx, ly, rx, ry`` (px), ``lvalid, rvalid`` (bool),
    ``lpupil, rpupil`` (mm). Samples 10-12 have no valid eye, sample 40 only the right eye.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    k = i // 30
    x = 400.0 + 200.0 * (k % 3)
    y = 300.0 + 250.0 * ((k // 3) % 2)
    lvalid = np.ones(n, dtype=bool)
    rvalid = np.ones(n, dtype=bool)
    lvalid[10:13] = rvalid[10:13] = False
    if n > 40:
        lvalid[40] = False
    return {"t_s": i / rate_hz,
            "lx": np.round(x - 5 + rng.normal(0, 0.5, n), 3), "ly": np.round(y + rng.normal(0, 0.5, n), 3),
            "rx": np.round(x + 5 + rng.normal(0, 0.5, n), 3), "ry": np.round(y + rng.normal(0, 0.5, n), 3),
            "lvalid": lvalid, "rvalid": rvalid,
            "lpupil": np.round(3.0 + rng.normal(0, 0.05, n), 3), "rpupil": np.round(3.1 + rng.normal(0, 0.05, n), 3)}


def write_tobii_export(
    path: str | Path,
    program: str = "prolab",
    *,
    signal: dict[str, np.ndarray] | None = None,
    style: str = "classic",
    decimal: str = ".",
    time_unit: str = "us",
    stimuli: Sequence[tuple[str | None, int]] = (("david_ours", 60), (None, 10), ("mystery_image", 50)),
    events: Sequence[tuple[int, str]] = ((0, "ImageStimulusStart"), (59, "ImageStimulusEnd")),
    resolution: tuple[int, int] | None = (1280, 1024),
    media: tuple[float, float, float, float] | None = (240.0, 112.0, 800.0, 800.0),
    t0_s: float = 12.5,
) -> dict[str, Any]:
    """Write a Tobii Pro Lab (``program="prolab"``) or Tobii Studio (``"studio"``) TSV export.

    Parameters
    ----------
    style : {"classic", "suffixed"}
        Pro Lab header style: ``Gaze point left X`` / ``Gaze point left X [DACS px]``.
    decimal : {".", ","}
        Decimal separator (Pro Lab writes a comma in some locales).
    time_unit : {"us", "ms"}
        Unit of a classic Pro Lab ``Recording timestamp`` (Studio is always ms,
        suffixed Pro Lab always ``[μs]``).
    stimuli : sequence of (name or None, n_samples)
        Presented stimulus / media name per run of samples; lengths must add up to the
        signal length.
    events : sequence of (sample_index, name)
        An event-only row inserted before that sample (same timestamp).

    Returns
    -------
    dict
        The signal written, plus ``path``, ``n_event_rows`` and ``stimulus`` (per sample name).
    """
    path = Path(path)
    sig = simple_signal() if signal is None else signal
    n = len(sig["t_s"])
    names: list[str | None] = []
    for name, k in stimuli:
        names += [name] * k
    if len(names) != n:
        raise ValueError(f"stimuli cover {len(names)} samples, the signal has {n}")
    t_s = sig["t_s"] + t0_s
    if program == "studio" or time_unit == "ms" and style == "classic":
        ts = np.round(t_s * 1000.0, 3) if program == "prolab" else np.round(t_s * 1000.0).astype(np.int64)
    else:
        ts = np.round(t_s * 1e6).astype(np.int64)
    lv, rv = sig["lvalid"], sig["rvalid"]

    def gz(a: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.where(v, a, -1.0 if program == "studio" else np.nan)

    mw = mh = mx = my = np.full(n, np.nan)
    if media is not None:
        has = np.array([nm is not None for nm in names])
        mx, my = np.where(has, media[0], np.nan), np.where(has, media[1], np.nan)
        mw, mh = np.where(has, media[2], np.nan), np.where(has, media[3], np.nan)
    ex = {"l": 137.0, "r": 201.0}
    if program == "prolab":
        sfx = style == "suffixed"
        c = {
            "time": "Recording timestamp [μs]" if sfx else "Recording timestamp",
            "gx": "Gaze point X [DACS px]" if sfx else "Gaze point X",
            "gy": "Gaze point Y [DACS px]" if sfx else "Gaze point Y",
            "lx": "Gaze point left X [DACS px]" if sfx else "Gaze point left X",
            "ly": "Gaze point left Y [DACS px]" if sfx else "Gaze point left Y",
            "rx": "Gaze point right X [DACS px]" if sfx else "Gaze point right X",
            "ry": "Gaze point right Y [DACS px]" if sfx else "Gaze point right Y",
            "lp": "Pupil diameter left [mm]" if sfx else "Pupil diameter left",
            "rp": "Pupil diameter right [mm]" if sfx else "Pupil diameter right",
            "lex": "Eye position left X [DACS mm]" if sfx else "Eye position left X (DACSmm)",
            "lez": "Eye position left Z [DACS mm]" if sfx else "Eye position left Z (DACSmm)",
            "rex": "Eye position right X [DACS mm]" if sfx else "Eye position right X (DACSmm)",
            "rez": "Eye position right Z [DACS mm]" if sfx else "Eye position right Z (DACSmm)",
            "mw": "Presented Media width [px]" if sfx else "Presented Media width",
            "mh": "Presented Media height [px]" if sfx else "Presented Media height",
            "mx": "Presented Media position X [DACS px]" if sfx else "Presented Media position X (DACSpx)",
            "my": "Presented Media position Y [DACS px]" if sfx else "Presented Media position Y (DACSpx)",
            "ged": "Gaze event duration [ms]" if sfx else "Gaze event duration",
        }
        data: dict[str, Any] = {
            "Participant name": ["P01"] * n,
            "Recording resolution height" + (" [px]" if sfx else ""): [resolution[1] if resolution else np.nan] * n,
            "Recording resolution width" + (" [px]" if sfx else ""): [resolution[0] if resolution else np.nan] * n,
            c["time"]: ts, "Sensor": ["Eye Tracker"] * n, "Event": [None] * n,
            c["gx"]: np.where(lv | rv, (np.where(lv, sig["lx"], sig["rx"]) + np.where(rv, sig["rx"], sig["lx"])) / 2,
                              np.nan),
            c["gy"]: np.where(lv | rv, (np.where(lv, sig["ly"], sig["ry"]) + np.where(rv, sig["ry"], sig["ly"])) / 2,
                              np.nan),
            c["lx"]: gz(sig["lx"], lv), c["ly"]: gz(sig["ly"], lv),
            c["rx"]: gz(sig["rx"], rv), c["ry"]: gz(sig["ry"], rv),
            c["lp"]: np.where(lv, sig["lpupil"], np.nan), c["rp"]: np.where(rv, sig["rpupil"], np.nan),
            "Validity left": np.where(lv, "Valid", "Invalid"), "Validity right": np.where(rv, "Valid", "Invalid"),
            c["lex"]: np.where(lv, ex["l"], np.nan), c["lez"]: np.where(lv, 650.0, np.nan),
            c["rex"]: np.where(rv, ex["r"], np.nan), c["rez"]: np.where(rv, 650.0, np.nan),
            "Presented Stimulus name": names,
            c["mw"]: mw, c["mh"]: mh, c["mx"]: mx, c["my"]: my,
            "Eye movement type": ["Fixation"] * n, c["ged"]: np.full(n, 500.0),
        }
        if resolution is None:
            del data["Recording resolution height" + (" [px]" if sfx else "")]
            del data["Recording resolution width" + (" [px]" if sfx else "")]
        if media is None:
            for k in ("mw", "mh", "mx", "my"):
                del data[c[k]]
        time_col, event_col = c["time"], "Event"
    else:
        data = {
            "ParticipantName": ["P01"] * n,
            "RecordingResolution": [f"{resolution[0]} x {resolution[1]}" if resolution else None] * n,
            "MediaName": names,
            "MediaPosX (ADCSpx)": mx, "MediaPosY (ADCSpx)": my, "MediaWidth": mw, "MediaHeight": mh,
            "RecordingTimestamp": ts, "StudioEvent": [None] * n, "FixationIndex": (np.arange(n) // 30 + 1),
            "GazeEventType": ["Fixation"] * n, "GazeEventDuration": np.full(n, 500),
            "GazePointLeftX (ADCSpx)": gz(sig["lx"], lv), "GazePointLeftY (ADCSpx)": gz(sig["ly"], lv),
            "GazePointRightX (ADCSpx)": gz(sig["rx"], rv), "GazePointRightY (ADCSpx)": gz(sig["ry"], rv),
            "GazePointX (ADCSpx)": np.where(lv | rv, sig["lx"], -1.0),
            "GazePointY (ADCSpx)": np.where(lv | rv, sig["ly"], -1.0),
            "EyePosLeftX (ADCSmm)": np.where(lv, ex["l"], np.nan), "EyePosLeftZ (ADCSmm)": np.where(lv, 650.0, np.nan),
            "EyePosRightX (ADCSmm)": np.where(rv, ex["r"], np.nan), "EyePosRightZ (ADCSmm)": np.where(rv, 650.0, np.nan),
            "PupilLeft": np.where(lv, sig["lpupil"], -1.0), "PupilRight": np.where(rv, sig["rpupil"], -1.0),
            "ValidityLeft": np.where(lv, 0, 4), "ValidityRight": np.where(rv, 0, 4),
        }
        if resolution is None:
            del data["RecordingResolution"]
        if media is None:
            for k in ("MediaPosX (ADCSpx)", "MediaPosY (ADCSpx)", "MediaWidth", "MediaHeight"):
                del data[k]
        time_col, event_col = "RecordingTimestamp", "StudioEvent"
    df = pd.DataFrame(data)
    # event-only rows: timestamp and event name, everything else empty
    if events:
        ev_rows = pd.DataFrame({col: [None] * len(events) for col in df.columns})
        ev_rows[time_col] = [ts[i] for i, _ in events]
        ev_rows[event_col] = [name for _, name in events]
        if program == "prolab":
            ev_rows["Participant name"] = "P01"
        order = np.r_[[i - 0.5 for i, _ in events], np.arange(n)]
        df = pd.concat([ev_rows, df], ignore_index=True).iloc[np.argsort(order, kind="stable")]
    text = df.to_csv(sep="\t", index=False, na_rep="", lineterminator="\n")
    if decimal == ",":
        import re

        text = re.sub(r"(?<=\d)\.(?=\d)", ",", text)
    path.write_text(text, encoding="utf-8")
    out = dict(sig)
    out.update({"path": path, "n_event_rows": len(events), "stimulus": names, "t_s": t_s})
    return out


def write_plain_table(path: str | Path, *, signal: dict[str, np.ndarray] | None = None, sep: str = "\t",
                      time_unit: str = "s", header: Sequence[str] = ("time", "x", "y", "valid")) -> dict[str, Any]:
    """Write a plain ``time, x, y, valid`` table from the left eye of :func:`simple_signal`."""
    sig = simple_signal() if signal is None else signal
    factor = {"s": 1.0, "ms": 1e3, "us": 1e6}[time_unit]
    df = pd.DataFrame({header[0]: np.round(sig["t_s"] * factor, 6), header[1]: np.where(sig["lvalid"], sig["lx"], np.nan),
                       header[2]: np.where(sig["lvalid"], sig["ly"], np.nan),
                       header[3]: sig["lvalid"].astype(int)})
    Path(path).write_text(df.to_csv(sep=sep, index=False, na_rep="", lineterminator="\n"), encoding="utf-8")
    return dict(sig, path=Path(path))
