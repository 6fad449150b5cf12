"""Batch processing of a whole dataset: read -> fixations -> quality -> metrics -> derivatives.

:func:`process_dataset` runs every session of an Eye-Tracking-BIDS dataset root
(docs/formats.md section 2) through the analysis pipeline in a process pool and
collects the results in a :class:`DatasetResult`; :func:`write_derivatives` writes them
as the TSV derivatives of docs/derivatives.md, byte-identical for identical input and
configuration (whatever the number of workers or their completion order).

Per session (in a worker process)::

    analysis.io.read_recording(session)                  -> Recording
    analysis.fixations.detect_fixations(rec, algorithm)  -> FixationResult
    analysis.quality.trial_quality / recording_quality   -> per-trial / per-recording quality
    analysis.metrics.trial_metrics (+ aoi_metrics)       -> Tobii Pro Lab AOI metrics

Only the small tables travel back from a worker (fixations, metrics, quality, file
hashes), never the sample table. Then, in the parent, the exclusion rules
(:func:`analysis.quality.apply_exclusions`, :class:`analysis.config.QualityConfig`)
mark excluded trials and participants.

**Sessions that cannot be read.** By default (``on_error="raise"``) a session that
raises :class:`~analysis.errors.InputError` (from the reader: corrupt file, unfinished
``.recording/`` session, inconsistent sidecars, ...; or from a later step, e.g. the
fixation filter rejecting non-increasing timestamps) stops the run with that error,
naming the file and the fix: bad input is never silently dropped. With
``on_error="exclude"`` (CLI ``--skip-unreadable``) the session is instead recorded as
an excluded participant: a row in ``exclusions`` (``trial`` n/a, reason
``unreadable: <message>``, or ``unprocessable: <message>`` when it was read but a later
step rejected it) and a ``recording_quality`` row with ``readable = False``; it
contributes no trials. Programming errors (anything that is not an ``InputError``)
always propagate.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis.aoi import PolygonAOI, check_aois_match
from analysis.config import AnalysisConfig
from analysis.errors import InputError
from analysis.quality import EXCLUSION_COLUMNS  # columns of exclusions.tsv (docs/formats.md section 4)
from analysis.metrics import (
    AOI_METRICS_COLUMNS,
    FIXATION_COLUMNS,
    TRIAL_METRICS_COLUMNS,
    session_metrics,
)

log = logging.getLogger(__name__)

#: Version of the derivative formats written here (docs/derivatives.md).
DERIVATIVES_VERSION = "1.0"

#: Float format of every derivative TSV: microsecond resolution for times in seconds.
FLOAT_FORMAT = "%.6f"

#: Columns of ``DatasetResult.fixations`` (the per-session files drop participant/session).
DATASET_FIXATION_COLUMNS: tuple[str, ...] = ("participant", "session", *FIXATION_COLUMNS)


#: Columns of ``input_files.tsv``.
INPUT_FILE_COLUMNS: tuple[str, ...] = ("path", "bytes", "sha256")

#: Leading columns of ``recording_quality.tsv``; the quality module's own columns follow.
RECORDING_ID_COLUMNS: tuple[str, ...] = ("participant", "session", "readable")

#: Columns of ``DatasetResult.missing_participants`` and ``missing_participants.tsv``.
MISSING_PARTICIPANT_COLUMNS: tuple[str, ...] = ("participant", "reason")

#: Sample counts appended to ``recording_quality`` (``Recording.counts``; nothing dropped silently).
COUNT_COLUMNS: tuple[str, ...] = ("n_samples_total", "invalid_left", "invalid_right", "invalid_both",
                                  "missing_samples")


@dataclass
class DatasetResult:
    """Everything :func:`process_dataset` computed for a dataset.

    Attributes
    ----------
    trial_metrics : DataFrame
        ``trial_metrics.tsv`` rows (:data:`analysis.metrics.TRIAL_METRICS_COLUMNS`), one
        per participant x session x trial, ``excluded``/``exclusion_reason`` filled by
        :func:`analysis.quality.apply_exclusions`.
    fixations : DataFrame
        Every fixation (:data:`DATASET_FIXATION_COLUMNS`): participant, session, onset,
        offset, duration, position, n_samples, trial, stimulus_id, in_aoi.
    trial_quality : DataFrame
        :func:`analysis.quality.trial_quality` of every session, concatenated.
    recording_quality : DataFrame
        One row per participant x session: :data:`RECORDING_ID_COLUMNS`, the
        :func:`analysis.quality.recording_quality` values (incl. ``accuracy_deg``),
        the sample counts :data:`COUNT_COLUMNS`.
    exclusions : DataFrame
        :data:`EXCLUSION_COLUMNS`; ``trial`` n/a for a whole participant.
    dataset_description : dict
        The raw dataset's ``dataset_description.json`` (incl. ``"Simulated"``).
    input_files : DataFrame
        :data:`INPUT_FILE_COLUMNS` for every file read (path relative to the root).
    config : AnalysisConfig
        The configuration used (with the algorithm actually run).
    aoi_metrics : DataFrame
        Polygon-AOI metrics (:data:`analysis.metrics.AOI_METRICS_COLUMNS`); empty when
        no AOI file was given.
    aois_given : bool
        Whether polygon AOIs were given (then ``aoi_metrics.tsv`` is written).
    registered_participants : tuple of str
        ``participant_id`` of every row of ``participants.tsv``, in file order.
    missing_participants : DataFrame
        :data:`MISSING_PARTICIPANT_COLUMNS` (participant, reason): every participant who
        contributes no trial row to ``trial_metrics``, with the reason: registered in
        ``participants.tsv`` but without a data folder (``no data: ...``) or without a
        session folder, every session unreadable (``unreadable: ...``, only with
        ``on_error="exclude"``), or no stimulus trial in the events. Sorted by participant.
        Registered participants without data also get an ``exclusions`` row (trial and
        session n/a), so no registered participant is dropped silently (issue 11: "Complete
        participants: 3 of 3" when 4 were registered).
    """

    trial_metrics: pd.DataFrame
    fixations: pd.DataFrame
    trial_quality: pd.DataFrame
    recording_quality: pd.DataFrame
    exclusions: pd.DataFrame
    dataset_description: dict[str, Any]
    input_files: pd.DataFrame
    config: AnalysisConfig
    aoi_metrics: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(AOI_METRICS_COLUMNS)))
    aois_given: bool = False
    registered_participants: tuple[str, ...] = ()
    missing_participants: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(MISSING_PARTICIPANT_COLUMNS)))

    @property
    def simulated(self) -> bool:
        """True when the raw dataset declares ``"Simulated": true``."""
        return bool(self.dataset_description.get("Simulated", False))


# --------------------------------------------------------------------------- helpers


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            block = fh.read(chunk)
            if not block:
                break
            h.update(block)
    return h.hexdigest()


def _labels_from_path(path: Path) -> tuple[str, str]:
    """``("sub-XX", "N")`` from a session folder path (or a file inside it)."""
    parts = path.resolve().parts
    sub = next((p for p in reversed(parts) if p.startswith("sub-")), path.name)
    ses = next((p for p in reversed(parts) if p.startswith("ses-")), "ses-1")
    return sub, ses.removeprefix("ses-")


def _norm_participant(label: str | None, fallback: str) -> str:
    """Participant label with its ``sub-`` prefix (as ``RecordingMeta.participant``)."""
    if not label:
        return fallback
    label = str(label)
    return label if label.startswith("sub-") else f"sub-{label}"


def _norm_session(label: str | None, fallback: str) -> str:
    """Session label without ``ses-`` (as ``RecordingMeta.session`` of the BIDS reader)."""
    if label is None or str(label) == "":
        return fallback
    return str(label).removeprefix("ses-")


def session_prefix(participant: str, session: str) -> str:
    """``sub-XX_ses-N``: the file-name prefix of a session's derivatives."""
    return f"{participant}_ses-{str(session).removeprefix('ses-')}"


def _session_files(session: Path) -> list[Path]:
    folder = session if session.is_dir() else session.parent
    return sorted(p for p in folder.rglob("*") if p.is_file() and ".recording" not in p.parts)


def _fixation_config(cfg: AnalysisConfig, algorithm: str) -> Any:
    return cfg.ivt if algorithm == "ivt" else cfg.idt


@dataclass
class _Task:
    index: int
    path: Path
    root: Path
    config: AnalysisConfig
    aois: tuple[PolygonAOI, ...]


def _run_session(task: _Task) -> dict[str, Any]:
    """Worker: one session through the pipeline; returns small tables only (picklable)."""
    from analysis.fixations import detect_fixations
    from analysis.io import read_recording
    from analysis.quality import recording_quality, trial_quality

    fb_sub, fb_ses = _labels_from_path(task.path)
    files = [(p.relative_to(task.root).as_posix(), p.stat().st_size, sha256_file(p))
             for p in _session_files(task.path)]
    stage = "read"
    try:
        rec = read_recording(task.path)
        stage = "process"
        participant = _norm_participant(rec.meta.participant, fb_sub)
        session = _norm_session(rec.meta.session, fb_ses)
        algorithm = task.config.report.algorithm
        fx = detect_fixations(rec, algorithm=algorithm, config=_fixation_config(task.config, algorithm))
        tq = trial_quality(rec, labels=fx.labels)
        rq = dict(recording_quality(rec, labels=fx.labels))
        tm, am, lab = session_metrics(rec.trials, fx.fixations, quality=tq, aois=task.aois,
                                      participant=participant, session=session)
    except InputError as exc:
        # InputError's fields do not survive pickling as an exception: send them as a dict
        return {"index": task.index, "participant": fb_sub, "session": fb_ses, "files": files, "stage": stage,
                "error": {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(exc).items()}}
    counts = rec.counts or {}
    rq.setdefault("accuracy_deg", rec.meta.accuracy_deg)
    for key, src in zip(COUNT_COLUMNS, ("total", "invalid_left", "invalid_right", "invalid_both", "missing_samples")):
        rq.setdefault(key, counts.get(src))
    lab.insert(0, "session", session)
    lab.insert(0, "participant", participant)
    stimuli = rec.trials["stimulus_id"].dropna().astype(str).unique().tolist()
    return {"index": task.index, "participant": participant, "session": session, "files": files,
            "trial_metrics": tm, "aoi_metrics": am, "fixations": lab, "trial_quality": tq,
            "recording_quality": rq, "stimuli": stimuli, "error": None}


def _resolve_jobs(jobs: int, n_tasks: int) -> int:
    if jobs < 0:
        raise InputError(f"jobs = {jobs} is negative", column="jobs", expected="0 (all cores) or a positive number",
                         fix="use 0 or a positive number of worker processes")
    n = (os.cpu_count() or 1) if jobs == 0 else jobs
    return max(1, min(n, n_tasks))


# --------------------------------------------------------------------------- public API


def process_dataset(
    root: str | Path,
    config: AnalysisConfig | None = None,
    *,
    jobs: int = 0,
    aois: Sequence[PolygonAOI] | None = None,
    progress: bool = True,
    derivatives_dir: str | Path | None = None,
    on_error: str = "raise",
) -> DatasetResult:
    """Process every session of a BIDS dataset root in a process pool.

    Parameters
    ----------
    root : str or Path
        Dataset root (holds ``dataset_description.json``; docs/formats.md section 2).
    config : AnalysisConfig, optional
        Fixation filter, quality thresholds and algorithm (``config.report.algorithm``);
        default: the documented defaults (:mod:`analysis.config`).
    jobs : int
        Worker processes (:class:`concurrent.futures.ProcessPoolExecutor`); 0 = one per
        CPU core (``os.cpu_count()``), 1 = run in this process. Never more workers
        than sessions. The result does not depend on ``jobs``.
    aois : sequence of PolygonAOI, optional
        Polygon AOIs (:func:`analysis.aoi.read_aois`); adds ``aoi_metrics``.
    progress : bool
        Show a tqdm progress bar (one step per session).
    derivatives_dir : str or Path, optional
        When given, :func:`write_derivatives` writes the result there.
    on_error : {"raise", "exclude"}
        What to do with a session the reader rejects (module docstring).

    Returns
    -------
    DatasetResult
        Tables ordered by participant, session, then trial/onset, whatever the
        completion order of the workers.

    Raises
    ------
    InputError
        Root missing or without sessions, or (``on_error="raise"``) an unreadable
        session (the reader's error, naming the file).
    """
    from analysis.io import find_sessions, read_dataset_description, read_participants
    from analysis.quality import apply_exclusions

    if on_error not in ("raise", "exclude"):
        raise ValueError("on_error must be 'raise' or 'exclude'")
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", file=root, expected="the root folder of a BIDS dataset",
                         fix="give the folder that holds dataset_description.json")
    cfg = config or AnalysisConfig()
    description = dict(read_dataset_description(root))
    sessions = sorted(Path(p) for p in find_sessions(root))
    registered = tuple(str(p) for p in read_participants(root)["participant_id"])
    if not sessions:
        raise InputError("no sessions found in the dataset", file=root,
                         expected="sub-<label>/ses-<n>/beh/ folders with _physio.tsv.gz and _events.tsv files",
                         fix="point at the dataset root (e.g. data/raw) or record a session first")
    aoi_tuple = tuple(aois or ())
    root_abs = root.resolve()
    tasks = [_Task(i, s.resolve(), root_abs, cfg, aoi_tuple) for i, s in enumerate(sessions)]
    workers = _resolve_jobs(jobs, len(tasks))
    log.info("processing %d session(s) of %s with %d worker(s), algorithm %s",
             len(tasks), root, workers, cfg.report.algorithm)

    outputs: list[dict[str, Any] | None] = [None] * len(tasks)
    if workers == 1:
        with tqdm(total=len(tasks), desc="sessions", unit="session", disable=not progress) as bar:
            for t in tasks:
                outputs[t.index] = _run_session(t)
                bar.update(1)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            # submit (and so start the workers) before tqdm starts its monitor thread
            futures = {pool.submit(_run_session, t): t.index for t in tasks}
            with tqdm(total=len(tasks), desc="sessions", unit="session", disable=not progress) as bar:
                for fut in as_completed(futures):
                    outputs[futures[fut]] = fut.result()
                    bar.update(1)

    done = [o for o in outputs if o is not None]
    failed = [o for o in done if o["error"] is not None]
    if failed and on_error == "raise":
        err = dict(failed[0]["error"])
        if not err.get("file"):  # a later step's error without a file: name the session it came from
            err["file"] = str(sessions[failed[0]["index"]])
        raise InputError(**err)
    ok = [o for o in done if o["error"] is None]
    ok.sort(key=lambda o: (o["participant"], o["session"], o["index"]))

    tm = _concat([o["trial_metrics"] for o in ok], TRIAL_METRICS_COLUMNS)
    tq = _concat([o["trial_quality"] for o in ok], None)
    fixations = _concat([o["fixations"] for o in ok], DATASET_FIXATION_COLUMNS)
    am = _concat([o["aoi_metrics"] for o in ok if o["aoi_metrics"] is not None], AOI_METRICS_COLUMNS)
    rq = _recording_quality_frame(ok, failed)
    if aoi_tuple:
        check_aois_match(list(aoi_tuple), {s for o in ok for s in o["stimuli"]})

    readable = rq[rq["readable"].astype(bool)].drop(columns=["readable"]).reset_index(drop=True)
    if ok:
        tm, exclusions = apply_exclusions(tm, readable, cfg.quality)
    else:  # every session unreadable (on_error="exclude"): nothing to apply the rules to
        exclusions = pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
    tm = tm[list(TRIAL_METRICS_COLUMNS)].reset_index(drop=True)
    no_data = _participants_without_sessions(root, registered, sessions)
    exclusions = _exclusions_frame(exclusions, failed, root_abs, no_data)
    missing = _missing_participants(no_data, failed, ok, tm, root_abs)
    if len(missing):
        log.warning("%d participant(s) contribute no trials: %s", len(missing),
                    "; ".join(f"{p} ({r})" for p, r in missing.itertuples(index=False)))

    root_files = [p for p in (root / "dataset_description.json", root / "participants.tsv",
                              root / "participants.json") if p.is_file()]
    files = [(p.relative_to(root).as_posix(), p.stat().st_size, sha256_file(p)) for p in root_files]
    # session files are listed relative to the root, so the table does not depend on where the dataset lives
    files += [f for o in done for f in o["files"]]
    input_files = pd.DataFrame(sorted(set(files)), columns=list(INPUT_FILE_COLUMNS))

    result = DatasetResult(trial_metrics=tm, fixations=fixations, trial_quality=tq, recording_quality=rq,
                           exclusions=exclusions, dataset_description=description, input_files=input_files,
                           config=cfg, aoi_metrics=am, aois_given=bool(aoi_tuple),
                           registered_participants=registered, missing_participants=missing)
    if description.get("Simulated"):
        log.warning("dataset %s is SIMULATED (dataset_description.json \"Simulated\": true)", root)
    if derivatives_dir is not None:
        write_derivatives(result, derivatives_dir)
    return result


def _concat(frames: list[pd.DataFrame], columns: Sequence[str] | None) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame(columns=list(columns) if columns else [])
    out = pd.concat(frames, ignore_index=True)
    return out[list(columns)] if columns else out


def _recording_quality_frame(ok: list[dict[str, Any]], failed: list[dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for o in ok:
        row = {"participant": o["participant"], "session": o["session"], "readable": True}
        row.update({k: v for k, v in o["recording_quality"].items() if k not in ("participant", "session")})
        rows.append(row)
    for o in failed:
        rows.append({"participant": o["participant"], "session": o["session"], "readable": False})
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=list(RECORDING_ID_COLUMNS))
    rest = [c for c in frame.columns if c not in RECORDING_ID_COLUMNS and c not in COUNT_COLUMNS]
    cols = [*RECORDING_ID_COLUMNS, *rest, *[c for c in COUNT_COLUMNS if c in frame.columns]]
    frame["readable"] = frame["readable"].astype(bool)
    for c in frame.columns:  # keep counts integer when unreadable rows add n/a
        vals = [v for r in rows for k, v in r.items() if k == c and v is not None]
        if c != "readable" and vals and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                            for v in vals):
            frame[c] = frame[c].astype("Int64")
    return frame[cols].sort_values(["participant", "session"], kind="stable").reset_index(drop=True)


def _unreadable_reason(error: dict[str, Any], root: Path, stage: str = "read") -> str:
    """``unreadable: <reader's message>`` (or ``unprocessable: ...`` when the data were read but
    a later step rejected them) on one line, the file relative to the dataset root."""
    err = dict(error)
    if err.get("file"):
        try:
            err["file"] = Path(err["file"]).resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    prefix = "unreadable: " if stage == "read" else "unprocessable: "
    return prefix + str(InputError(**err)).replace("\n  ", "; ")


def _participants_without_sessions(root: Path, registered: Sequence[str], sessions: Sequence[Path]
                                   ) -> list[tuple[str, str]]:
    """``(participant, reason)`` for each registered participant without a session folder."""
    with_data = {s.parent.name for s in sessions}
    out = []
    for p in registered:
        if p in with_data:
            continue
        if (root / p).is_dir():
            reason = f"no data: {p}/ has no session folder (ses-<label>/beh/)"
        else:
            reason = f"no data: listed in participants.tsv but the folder {p}/ is missing"
        out.append((p, reason))
    return out


def _missing_participants(no_data: list[tuple[str, str]], failed: list[dict[str, Any]],
                          ok: list[dict[str, Any]], tm: pd.DataFrame, root: Path) -> pd.DataFrame:
    """:attr:`DatasetResult.missing_participants`: every participant without a trial row, with the reason."""
    rows = dict(no_data)
    have = set(tm["participant"].astype(str)) if len(tm) else set()
    for o in failed:
        p = str(o["participant"])
        if p not in have:
            rows.setdefault(p, _unreadable_reason(o["error"], root, o.get("stage", "read")))
    for o in ok:
        p = str(o["participant"])
        if p not in have:
            rows.setdefault(p, "no trials: the events file has no stimulus rows")
    frame = pd.DataFrame(sorted(rows.items()), columns=list(MISSING_PARTICIPANT_COLUMNS))
    return frame.astype("str") if len(frame) else frame


def _exclusions_frame(exclusions: pd.DataFrame, failed: list[dict[str, Any]], root: Path,
                      no_data: Sequence[tuple[str, str]] = ()) -> pd.DataFrame:
    ex = exclusions.copy() if exclusions is not None else pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
    for c in EXCLUSION_COLUMNS:
        if c not in ex.columns:
            ex[c] = pd.NA
    extra = pd.DataFrame({
        "participant": [o["participant"] for o in failed],
        "session": [str(o["session"]) for o in failed],
        "trial": pd.array([pd.NA] * len(failed), dtype="Int64"),
        "stimulus_id": pd.Series([None] * len(failed), dtype="str"),
        "reason": [_unreadable_reason(o["error"], root, o.get("stage", "read")) for o in failed],
    })
    absent = pd.DataFrame({
        "participant": [p for p, _ in no_data],
        "session": pd.Series([None] * len(no_data), dtype="str"),
        "trial": pd.array([pd.NA] * len(no_data), dtype="Int64"),
        "stimulus_id": pd.Series([None] * len(no_data), dtype="str"),
        "reason": [r for _, r in no_data],
    })
    parts = [p for p in (ex[list(EXCLUSION_COLUMNS)], extra, absent) if len(p)]
    if not parts:
        return pd.DataFrame(columns=list(EXCLUSION_COLUMNS))
    out = pd.concat(parts, ignore_index=True)
    out["trial"] = pd.to_numeric(out["trial"], errors="coerce").astype("Int64")
    # whole-participant rows (trial n/a) first, then by trial
    out["_whole"] = out["trial"].isna()
    out["session"] = out["session"].astype("str")
    out = out.sort_values(["participant", "session", "_whole", "trial", "stimulus_id"],
                          ascending=[True, True, False, True, True],
                          kind="stable", na_position="first")
    return out.drop(columns="_whole").reset_index(drop=True)


# --------------------------------------------------------------------------- writing


def _format_column(s: pd.Series) -> list[str]:
    """One column as TSV cells: ``n/a`` for missing, ``true``/``false``, ints plain, floats ``%.6f``."""
    na = s.isna().to_numpy()
    if pd.api.types.is_bool_dtype(s.dtype):
        vals = s.to_numpy(dtype=object, na_value=None)
        cells = ["true" if v else "false" for v in vals]
    elif pd.api.types.is_integer_dtype(s.dtype):
        vals = s.to_numpy(dtype=object, na_value=0)
        cells = [str(int(v)) for v in vals]
    elif pd.api.types.is_float_dtype(s.dtype):
        v = s.to_numpy(dtype=np.float64, na_value=np.nan)
        na = na | ~np.isfinite(v)
        v = np.where(na, 0.0, v) + 0.0          # + 0.0 turns -0.0 into 0.0
        cells = [FLOAT_FORMAT % x for x in v.tolist()]
    else:
        cells = []
        for x in s.to_numpy(dtype=object, na_value=None).tolist():
            if isinstance(x, (bool, np.bool_)):
                cells.append("true" if x else "false")
            elif isinstance(x, (float, np.floating)):
                cells.append(FLOAT_FORMAT % x if np.isfinite(x) else "n/a")
            elif x is None:
                cells.append("n/a")
            else:
                cells.append(str(x).replace("\t", " ").replace("\n", " "))
    if na.any():
        for i in np.flatnonzero(na).tolist():
            cells[i] = "n/a"
    return cells


def tsv_text(df: pd.DataFrame) -> str:
    """A frame as derivative TSV text (header; ``n/a``; ``%.6f`` floats; ``true``/``false``; ``\\n``)."""
    columns = [_format_column(df[c]) for c in df.columns]
    lines = ["\t".join(str(c) for c in df.columns)]
    lines.extend("\t".join(row) for row in zip(*columns))
    return "\n".join(lines) + "\n"


def write_tsv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a derivative TSV (:func:`tsv_text`): byte-identical for identical frames."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tsv_text(df).encode("utf-8"))
    return path


def _derivative_description(result: DatasetResult) -> dict[str, Any]:
    from analysis import __version__

    raw = result.dataset_description
    return {
        "Name": f"{raw.get('Name', 'dataset')} - fixations and trial metrics",
        "BIDSVersion": raw.get("BIDSVersion", "1.10.0"),
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "artgaze analysis.metrics", "Version": __version__,
                         "Description": "Tobii I-VT/I-DT fixations, Tobii Pro Lab AOI metrics, quality exclusions"}],
        "Simulated": bool(raw.get("Simulated", False)),
        "DerivativesFormatVersion": DERIVATIVES_VERSION,
        "Configuration": result.config.to_dict(),
    }


def _remove_stale(out: Path, written: list[Path], aois_given: bool) -> None:
    """Delete derivative files of an earlier run that this run does not produce.

    Only our own file patterns are touched (``fixations/sub-*_ses-*_fixations.tsv`` of
    sessions no longer in the dataset, ``aoi_metrics.tsv`` when no AOIs were given,
    ``missing_participants.tsv`` when every participant has data), so
    the folder always describes exactly one run.
    """
    keep = {p.resolve() for p in written}
    stale = [p for p in (out / "fixations").glob("sub-*_ses-*_fixations.tsv") if p.resolve() not in keep]
    for name in ("aoi_metrics.tsv", "missing_participants.tsv"):  # written only when there is something
        if (out / name).is_file() and (out / name).resolve() not in keep:
            stale.append(out / name)
    for p in sorted(stale):
        log.info("removing stale derivative %s (not produced by this run)", p)
        p.unlink()


def write_derivatives(result: DatasetResult, out_dir: str | Path) -> list[Path]:
    """Write the derivative files of docs/derivatives.md; return the paths written.

    Files: ``fixations/sub-XX_ses-N_fixations.tsv`` (one per readable session, header
    only when it has no fixation), ``trial_metrics.tsv``, ``exclusions.tsv``,
    ``recording_quality.tsv``, ``input_files.tsv``, ``dataset_description.json`` and,
    with polygon AOIs, ``aoi_metrics.tsv``, and ``missing_participants.tsv`` when a participant
    contributes no trial (:attr:`DatasetResult.missing_participants`). Column order is fixed, floats are written
    with ``%.6f``, missing values as ``n/a`` and lines end in ``\\n``, so rerunning on
    the same input writes byte-identical files. Derivative files of an earlier run that
    this run does not produce (a removed session's fixations, ``aoi_metrics.tsv``
    without AOIs) are deleted.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    fix = result.fixations
    readable = result.recording_quality[result.recording_quality["readable"].astype(bool)] \
        if len(result.recording_quality) else result.recording_quality
    groups = (fix.groupby(["participant", "session"], sort=False).indices if len(fix) else {})
    for sub, ses in readable[["participant", "session"]].itertuples(index=False):
        idx = groups.get((sub, ses))
        frame = (fix.iloc[idx][list(FIXATION_COLUMNS)] if idx is not None
                 else pd.DataFrame(columns=list(FIXATION_COLUMNS)))
        written.append(write_tsv(frame, out / "fixations" / f"{session_prefix(sub, ses)}_fixations.tsv"))
    written.append(write_tsv(result.trial_metrics[list(TRIAL_METRICS_COLUMNS)], out / "trial_metrics.tsv"))
    written.append(write_tsv(result.exclusions[list(EXCLUSION_COLUMNS)], out / "exclusions.tsv"))
    written.append(write_tsv(result.recording_quality, out / "recording_quality.tsv"))
    written.append(write_tsv(result.input_files[list(INPUT_FILE_COLUMNS)], out / "input_files.tsv"))
    if result.aois_given:
        written.append(write_tsv(result.aoi_metrics[list(AOI_METRICS_COLUMNS)], out / "aoi_metrics.tsv"))
    if len(result.missing_participants):
        written.append(write_tsv(result.missing_participants[list(MISSING_PARTICIPANT_COLUMNS)],
                                 out / "missing_participants.tsv"))
    _remove_stale(out, written, result.aois_given)
    desc = out / "dataset_description.json"
    desc.write_text(json.dumps(_derivative_description(result), indent=2, sort_keys=False) + "\n", encoding="utf-8")
    written.append(desc)
    log.info("wrote %d derivative file(s) to %s", len(written), out)
    return written
