"""Simulate a whole cohort through the real protocol and recorder, with ground truth.

::

    python -m study.simulate --participants 50 --out data/demo [--seed S]
           [--targets data/reference/paper_table4.csv] [--config sim.toml]

For each participant ``sub-01 .. sub-NN`` a :class:`study.oculomotor.GazeModel` (seeded
from ``--seed`` and the participant number) drives a
:class:`study.trackers.simulated.SimulatedTracker` on a virtual clock, and
``study.session.run_session`` runs the same protocol, recorder and BIDS finaliser as
``python -m study.run`` with the headless presenter, faster than real time. The result
is an Eye-Tracking-BIDS dataset (docs/formats.md section 2) marked ``"Simulated": true``.

The model's true events go to ``<out>/derivatives/ground_truth/`` (see
docs/simulation.md, "Ground-truth files"):

``dataset_description.json``
    BIDS derivative description.
``generating_parameters.tsv``
    One row per stimulus: the paper's Table 4 values, the target the simulator used,
    ``target_handling`` (what was done with physiologically implausible cells) and a note.
``participants.tsv``
    Per participant: seed, drawn random effects (looking, duration, method slope), data
    quality (precision, data loss), accuracy offsets, pupil.
``trials.tsv``
    Per participant x trial: the realised true total fixation time and count on the
    image (Tobii Pro Lab interval clipping, as analysis.metrics) and the planned values.
``sub-XX_ses-1_events.tsv.gz``
    Every true fixation, saccade and blink with tracker-clock times (us), position,
    amplitude, peak velocity, scene and trial.
``sub-XX/ses-N/beh/``
    The noise-free gaze of the session (the perfect tracker; :func:`write_true_gaze`),
    laid out like the recorded session, for ``analysis.validate``.
``simulation.json``
    All parameters, the seed, the command, the target-handling decision and which
    stimuli had a saliency map (the manifest's optional ``saliency_file``).

Output is deterministic: the same seed and configuration give byte-identical files
(virtual clock, seeded generators, gzip with mtime 0 and no file name, sorted rows,
fixed float formatting).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import gzip
import hashlib
import io
import json
import logging
import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from study.config import build_section, read_toml, resolve_config_path
from study.errors import StudyError, run_cli
from study.oculomotor import GazeModel, OculomotorParams, landing_grid, max_jitter_us, merge_event_pieces

log = logging.getLogger(__name__)

TARGET_COLUMNS = ("method", "category", "artwork", "paper_name", "fixation_time_s", "fixation_count")
HANDLING_MODES = ("cap", "reproduce", "refuse")
ARTWORKS = {
    "painting": ("last_supper", "night_watch", "virgin_of_the_rocks"),
    "sculpture": ("david", "thinker", "venus_de_milo"),
    "craft": ("terracotta_warriors", "tang_sancai", "blue_white_porcelain"),
}
METHODS = ("ours", "pix2pix")

EVENT_COLUMNS = (
    "event_id", "type", "trial", "stimulus_id", "scene_kind", "in_aoi",
    "onset_us", "offset_us", "onset_s", "duration_s", "x_px", "y_px", "start_x_px", "start_y_px",
    "amplitude_deg", "peak_velocity_deg_s",
)
TRIAL_COLUMNS = (
    "participant", "session", "trial", "stimulus_id", "artwork", "category", "method", "onset_s", "duration_s",
    "true_total_fixation_s", "true_fixation_count", "target_fixation_time_s", "target_fixation_count",
    "planned_fixations_on_image", "planned_fixations_off_image", "planned_mean_fixation_s",
    "planned_total_fixation_s", "carried_fixation", "target_handling", "trial_effect", "f_time", "f_count",
)
#: participants.tsv of the ground truth: the drawn random effects and data quality (docs/simulation.md).
PARTICIPANT_COLUMNS = ("participant", "gaze_seed", "looking", "duration", "method_slope", "precision_deg",
                       "loss_fraction", "offset_left_x_deg", "offset_left_y_deg", "offset_right_x_deg",
                       "offset_right_y_deg", "pupil_mm")
PARAM_COLUMNS = (
    "stimulus_id", "artwork", "category", "method", "paper_fixation_time_s", "paper_fixation_count",
    "paper_mean_fixation_s", "target_fixation_time_s", "target_fixation_count", "target_mean_fixation_s",
    "target_handling", "note", "targets_file_line",
)


# ---------------------------------------------------------------------------------------
# configuration
@dataclass(frozen=True)
class SimulationSection:
    """``[simulation]``: cohort size, seed, which study config and manifest to use.

    ``compact`` (default true): re-encode the physio files compactly
    (:func:`compact_session`) so the 50-participant demo cohort fits in the repository.
    """

    participants: int = 50
    seed: int = 20250925
    session: int = 1
    study_config: str = ""
    manifest: str = ""
    fallback_image_px: int = 256
    compact: bool = True


#: Shared plausibility bounds (docs/formats.md, "Plausibility bounds"), read, never imported, by study and analysis.
PLAUSIBILITY_FILE = "data/reference/plausibility.toml"


@dataclass(frozen=True)
class TargetsSection:
    """``[targets]``: where the targets come from and what to do with implausible cells.

    ``handling``: ``cap`` (default) keeps the cell's total fixation time and raises its
    fixation count so the mean fixation duration is the plausibility bound;
    ``reproduce`` keeps both values (long fixations); ``refuse`` drops the cell's target
    (the stimulus is viewed like an artwork without target). The bound is
    ``max_mean_fixation_s`` of ``plausibility_file`` (default: 0.6 s in
    data/reference/plausibility.toml, about twice the scene-viewing mean fixation
    duration of ~0.3 s, Rayner 2009; Henderson & Hollingworth 1999); a positive
    ``max_mean_fixation_s`` here overrides the file (default: 0 = use the file). See
    docs/simulation.md.
    """

    file: str = "data/reference/paper_table4.csv"
    handling: str = "cap"
    max_mean_fixation_s: float = 0.0
    plausibility_file: str = PLAUSIBILITY_FILE


def _repo_path(path: str | Path) -> Path:
    """``path`` as given, or (when relative and absent) relative to the repository root."""
    p = Path(path)
    if p.exists() or p.is_absolute():
        return p
    alt = Path(__file__).resolve().parents[1] / p
    return alt if alt.exists() else p


def max_mean_fixation_s(targets: TargetsSection) -> float:
    """The plausibility bound on a cell's mean fixation duration (s) the simulator uses.

    ``[targets] max_mean_fixation_s`` when positive, else ``max_mean_fixation_s`` of
    ``[targets] plausibility_file`` (data/reference/plausibility.toml, shared with the
    report; default: 0.6 s, Rayner 2009).

    Raises
    ------
    StudyError
        The file is missing, not TOML, or lacks a positive ``max_mean_fixation_s``.
    """
    if targets.max_mean_fixation_s > 0:
        return float(targets.max_mean_fixation_s)
    path = _repo_path(targets.plausibility_file)
    fix = f"restore {PLAUSIBILITY_FILE} or set [targets] max_mean_fixation_s in the simulation config"
    if not path.is_file():
        raise StudyError("plausibility file not found", file=path, column="targets.plausibility_file", fix=fix)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"not valid TOML: {exc}", file=path, fix=fix) from None
    value = data.get("max_mean_fixation_s")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise StudyError(f"max_mean_fixation_s is {value!r}", file=path, column="max_mean_fixation_s",
                         expected="a positive number of seconds, e.g. 0.6", fix=fix)
    return float(value)


#: Dataset metadata of a simulated cohort (BIDS dataset_description.json; study.config.DatasetSection):
#: the toolkit wrote it, under the project's licence, so the validator's Authors/License warnings go.
SIMULATED_DATASET = {
    "authors": ["artgaze simulator (python -m study.simulate)"],
    "license": "MIT",
}


@dataclass(frozen=True)
class SimConfig:
    simulation: SimulationSection = field(default_factory=SimulationSection)
    targets: TargetsSection = field(default_factory=TargetsSection)
    oculomotor: OculomotorParams = field(default_factory=OculomotorParams)
    study_overrides: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"tracker": {"kind": "simulated", "sampling_rate_hz": 60.0},
                                 "dataset": dict(SIMULATED_DATASET)})
    source: str = "<defaults>"


def load_sim_config(path: str | Path | None) -> SimConfig:
    """Load and validate a simulation TOML (``None``: the documented defaults)."""
    if path is None:
        return SimConfig()
    p = resolve_config_path(path, "simulation config")
    data = read_toml(p)
    known = {"simulation", "targets", "oculomotor", "study_overrides"}
    for key in data:
        if key not in known:
            raise StudyError(f"unknown section [{key}]", file=p, column=key,
                             expected="one of " + ", ".join(f"[{k}]" for k in sorted(known)),
                             fix="remove or rename the section")
    sim = build_section(SimulationSection, "simulation", data.get("simulation", {}), p)
    tgt = build_section(TargetsSection, "targets", data.get("targets", {}), p)
    ocu = build_section(OculomotorParams, "oculomotor", data.get("oculomotor", {}), p)
    overrides = data.get("study_overrides", SimConfig().study_overrides)
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise StudyError("[study_overrides] must hold one table per study config section", file=p,
                         column="study_overrides", expected="[study_overrides.tracker] kind = \"simulated\"")
    cfg = SimConfig(simulation=sim, targets=tgt, oculomotor=ocu, study_overrides=overrides, source=str(p))
    _check(cfg, p)
    return cfg


def _check(cfg: SimConfig, path: Path | None) -> None:
    s, t = cfg.simulation, cfg.targets
    if s.participants < 1:
        raise StudyError("need at least one participant", file=path, column="simulation.participants", expected=">= 1")
    if t.handling not in HANDLING_MODES:
        raise StudyError(f"targets.handling = {t.handling!r} is not allowed", file=path, column="targets.handling",
                         expected=" | ".join(HANDLING_MODES), fix="pick one of the allowed values")
    if t.max_mean_fixation_s < 0 or 0 < t.max_mean_fixation_s <= cfg.oculomotor.fixation_min_s:
        raise StudyError("targets.max_mean_fixation_s is too small", file=path, column="targets.max_mean_fixation_s",
                         expected=f"0 (use {t.plausibility_file}) or > oculomotor.fixation_min_s "
                                  f"({cfg.oculomotor.fixation_min_s} s)")
    if s.fallback_image_px < 16:
        raise StudyError("fallback image too small", file=path, column="simulation.fallback_image_px", expected=">= 16")
    if s.session < 1:
        raise StudyError("session number must be >= 1", file=path, column="simulation.session", expected="e.g. 1")


# ---------------------------------------------------------------------------------------
# targets
@dataclass(frozen=True)
class Target:
    """One artwork x method cell: the paper's values and what the simulator uses."""

    stimulus_id: str
    artwork: str
    category: str
    method: str
    paper_time_s: float
    paper_count: float
    time_s: float | None       # None when refused
    count: float | None
    handling: str               # as_paper | capped_mean_fixation | reproduced_long_fixations | refused
    note: str
    line: int


def read_targets(path: str | Path) -> list[tuple[int, dict[str, str]]]:
    """Read and validate a Table-4-shaped targets CSV (docs/formats.md section 5).

    Returns ``(line, row)`` pairs of the per-artwork rows (``artwork != "_average"``).

    Raises
    ------
    StudyError
        Missing file, missing column (line 1), bad method/category/artwork, a value that is
        not a positive number (with line and column), or a duplicate cell.
    """
    path = Path(path)
    fix = "correct the file; it follows docs/formats.md section 5 (data/reference/paper_table4.csv is an example)"
    if not path.is_file():
        raise StudyError("targets file not found", file=path, fix="give --targets an existing CSV such as "
                         "data/reference/paper_table4.csv")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StudyError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path,
                         expected="a UTF-8 CSV", fix=fix) from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise StudyError("targets file is empty", file=path, line=1, expected=",".join(TARGET_COLUMNS), fix=fix) from None
    header = [h.strip() for h in header]
    for col in TARGET_COLUMNS:
        if col not in header:
            raise StudyError(f"missing column {col!r}", file=path, line=1, column=col,
                             expected="header " + ",".join(TARGET_COLUMNS), fix=fix)
    idx = {c: header.index(c) for c in TARGET_COLUMNS}
    rows: list[tuple[int, dict[str, str]]] = []
    seen: dict[tuple[str, str], int] = {}
    known_art = {a: c for c, arts in ARTWORKS.items() for a in arts}
    for line, values in enumerate(reader, start=2):
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            raise StudyError(f"{len(values)} fields, the header has {len(header)}", file=path, line=line,
                             expected=f"{len(header)} comma-separated fields", fix=fix)
        row = {c: values[i].strip() for c, i in idx.items()}
        if row["artwork"] == "_average":
            continue
        if row["method"] not in METHODS:
            raise StudyError(f"unknown method {row['method']!r}", file=path, line=line, column="method",
                             expected=" | ".join(METHODS), fix=fix)
        if row["artwork"] not in known_art:
            raise StudyError(f"unknown artwork {row['artwork']!r}", file=path, line=line, column="artwork",
                             expected="a slug of docs/formats.md section 1, e.g. david", fix=fix)
        if row["category"] != known_art[row["artwork"]]:
            raise StudyError(f"category {row['category']!r} does not match artwork {row['artwork']!r}", file=path,
                             line=line, column="category", expected=known_art[row["artwork"]], fix=fix)
        for col in ("fixation_time_s", "fixation_count"):
            try:
                v = float(row[col])
            except ValueError:
                raise StudyError(f"{row[col]!r} is not a number", file=path, line=line, column=col,
                                 expected="a positive number, e.g. 14.85", fix=fix) from None
            if not (math.isfinite(v) and v > 0):
                raise StudyError(f"{row[col]!r} is not positive", file=path, line=line, column=col,
                                 expected="a positive number", fix=fix)
        if float(row["fixation_count"]) < 1:
            raise StudyError("fixation count below 1", file=path, line=line, column="fixation_count",
                             expected=">= 1 fixation", fix=fix)
        key = (row["artwork"], row["method"])
        if key in seen:
            raise StudyError(f"duplicate cell {key[0]}/{key[1]} (first on line {seen[key]})", file=path, line=line,
                             column="artwork", expected="one row per artwork x method", fix=fix)
        seen[key] = line
        rows.append((line, row))
    if not rows:
        raise StudyError("no per-artwork rows", file=path, expected="rows with artwork != _average", fix=fix)
    return rows


def build_targets(rows: list[tuple[int, dict[str, str]]], handling: str, max_mean_s: float,
                  viewing_s: float) -> list[Target]:
    """Apply the target-handling decision to every cell (docs/simulation.md, "Targets").

    A cell is *implausible* when its mean fixation duration (time / count) exceeds
    ``max_mean_s``. ``cap``: keep the time, count = time / max_mean_s. ``reproduce``: keep
    both. ``refuse``: no target. Cells whose time exceeds ``viewing_s`` are always refused.
    """
    out = []
    for line, r in rows:
        t, n = float(r["fixation_time_s"]), float(r["fixation_count"])
        mean = t / n
        sid = f"{r['artwork']}_{r['method']}"
        if t >= viewing_s:
            out.append(Target(sid, r["artwork"], r["category"], r["method"], t, n, None, None, "refused",
                              f"total fixation time {t} s does not fit in the {viewing_s} s viewing time", line))
        elif mean <= max_mean_s:
            out.append(Target(sid, r["artwork"], r["category"], r["method"], t, n, t, n, "as_paper", "", line))
        elif handling == "cap":
            out.append(Target(sid, r["artwork"], r["category"], r["method"], t, n, t, t / max_mean_s,
                              "capped_mean_fixation",
                              f"paper mean fixation {mean:.3f} s > {max_mean_s} s: time kept, count raised to "
                              f"{t / max_mean_s:.2f}", line))
        elif handling == "reproduce":
            out.append(Target(sid, r["artwork"], r["category"], r["method"], t, n, t, n, "reproduced_long_fixations",
                              f"paper mean fixation {mean:.3f} s > {max_mean_s} s reproduced with long fixations", line))
        else:
            out.append(Target(sid, r["artwork"], r["category"], r["method"], t, n, None, None, "refused",
                              f"paper mean fixation {mean:.3f} s > {max_mean_s} s: no target, default viewing", line))
    return out


# ---------------------------------------------------------------------------------------
# deterministic writing
def fmt(v: Any, digits: int = 4) -> str:
    """Fixed formatting: ``n/a`` for missing, integers as such, floats with ``digits`` decimals."""
    if v is None:
        return "n/a"
    if isinstance(v, (bool, np.bool_)):
        return "1" if v else "0"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        if not math.isfinite(float(v)):
            return "n/a"
        s = f"{float(v):.{digits}f}"
        return "0." + "0" * digits if s == "-0." + "0" * digits else s
    return str(v).replace("\t", " ").replace("\n", " ")


def tsv_text(columns: Sequence[str], rows: list[dict[str, Any]], digits: dict[str, int] | None = None) -> str:
    digits = digits or {}
    lines = ["\t".join(columns)]
    for r in rows:
        lines.append("\t".join(fmt(r.get(c), digits.get(c, 4)) for c in columns))
    return "\n".join(lines) + "\n"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


def write_gzip(path: Path, text: str) -> None:
    """Gzip with mtime 0 and no embedded file name: identical input -> identical bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    path.write_bytes(buf.getvalue())


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


# ---------------------------------------------------------------------------------------
# ground truth
def participant_label(i: int, n: int) -> str:
    return f"sub-{i:0{max(2, len(str(n)))}d}"


def participant_gaze_seed(seed: int, number: int) -> int:
    """Seed of a participant's gaze model, derived from the cohort seed and the number."""
    return int(hashlib.sha256(f"artgaze-gaze:{seed}:{number}".encode()).hexdigest()[:12], 16)


def assign_trials(events: list[dict], trials: list[dict]) -> None:
    """Give every event the trial whose stimulus interval it overlaps most (``None`` if none)."""
    if not trials:
        for e in events:
            e["trial"] = None
        return
    on = np.array([t["onset_us"] for t in trials], dtype=np.int64)
    off = np.array([t["offset_us"] for t in trials], dtype=np.int64)
    for e in events:
        ov = np.minimum(off, e["offset_us"]) - np.maximum(on, e["onset_us"])
        j = int(np.argmax(ov))
        e["trial"] = int(trials[j]["trial"]) if ov[j] > 0 else None


def trial_truth(events: list[dict], trial: dict) -> tuple[float, int]:
    """True total fixation time and count on the image during a trial.

    Same definition as ``analysis.metrics`` (Tobii Pro Lab interval metrics): fixations
    overlapping the interval are clipped to it; a fixation is on the image when its
    position is inside the AOI rectangle (edges included).
    """
    l, t, r, b = trial["aoi"]
    total, count = 0.0, 0
    for e in events:
        if e["type"] != "fixation":
            continue
        a = max(e["onset_us"], trial["onset_us"])
        z = min(e["offset_us"], trial["offset_us"])
        if z > a and l <= e["x_px"] <= r and t <= e["y_px"] <= b:
            total += (z - a) / 1e6
            count += 1
    return total, count


def read_stimulus_trials(events_tsv: Path) -> list[dict]:
    """Stimulus rows of a session's BIDS ``_events.tsv`` (tracker-clock interval, AOI)."""
    with open(events_tsv, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    out = []
    for r in rows:
        if r.get("trial_type") != "stimulus":
            continue
        on = int(float(r["tracker_onset_us"]))
        out.append({
            "trial": int(float(r["trial"])), "stimulus_id": r["stimulus_id"], "artwork": r.get("artwork"),
            "category": r.get("category"), "method": r.get("method"), "onset_s": float(r["onset"]),
            "duration_s": float(r["duration"]), "onset_us": on, "offset_us": on + int(round(float(r["duration"]) * 1e6)),
            "aoi": tuple(float(r[k]) for k in ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom")),
        })
    return out


def ground_truth_rows(participant: str, session: str, pieces: list[dict], trials: list[dict], plans: list[dict],
                      targets: dict[str, Target], timestamp_zero_us: int) -> tuple[list[dict], list[dict]]:
    """Event rows and trial rows of one session's ground truth."""
    events = merge_event_pieces(pieces)
    assign_trials(events, trials)
    by_trial = {t["trial"]: t for t in trials}
    ev_rows = []
    for e in events:
        tr = by_trial.get(e["trial"]) if e["trial"] is not None else None
        in_aoi = None
        if e["type"] == "fixation" and tr is not None:
            l, t, r, b = tr["aoi"]
            in_aoi = bool(l <= e["x_px"] <= r and t <= e["y_px"] <= b)
        sacc = e["type"] == "saccade"
        ev_rows.append({
            "participant": participant, "session": session, "event_id": e["event_id"], "type": e["type"],
            "trial": e["trial"], "stimulus_id": e.get("stimulus_id"), "scene_kind": e.get("scene_kind"),
            "in_aoi": in_aoi, "onset_us": e["onset_us"], "offset_us": e["offset_us"],
            "onset_s": (e["onset_us"] - timestamp_zero_us) / 1e6, "duration_s": (e["offset_us"] - e["onset_us"]) / 1e6,
            "x_px": None if e["type"] == "blink" else e["x_px"], "y_px": None if e["type"] == "blink" else e["y_px"],
            "start_x_px": e["start_x_px"] if sacc else None, "start_y_px": e["start_y_px"] if sacc else None,
            "amplitude_deg": e["amplitude_deg"] if sacc else None,
            "peak_velocity_deg_s": e["peak_velocity_deg_s"] if sacc else None,
        })
    plan_by_onset = sorted(plans, key=lambda p: p["scene_onset_us"])
    tr_rows = []
    for tr in trials:
        total, count = trial_truth(events, tr)
        plan = None
        for p in plan_by_onset:   # the plan made at this trial's flip
            if p["stimulus_id"] == tr["stimulus_id"] and abs(p["scene_onset_us"] - tr["onset_us"]) < 100_000:
                plan = p
        tg = targets.get(tr["stimulus_id"])
        tr_rows.append({
            "participant": participant, "session": session, "trial": tr["trial"], "stimulus_id": tr["stimulus_id"],
            "artwork": tr["artwork"], "category": tr["category"], "method": tr["method"],
            "onset_s": tr["onset_s"], "duration_s": tr["duration_s"],
            "true_total_fixation_s": total, "true_fixation_count": count,
            "target_fixation_time_s": plan["target_time_s"] if plan else None,
            "target_fixation_count": plan["target_count"] if plan else None,
            "planned_fixations_on_image": plan["n_on_planned"] if plan else None,
            "planned_fixations_off_image": plan["n_off_planned"] if plan else None,
            "planned_mean_fixation_s": plan["mean_duration_on_s"] if plan else None,
            "planned_total_fixation_s": plan["total_on_planned_s"] if plan else None,
            "carried_fixation": plan["carried_fixation"] if plan else None,
            "target_handling": tg.handling if tg else "no_target",
            "trial_effect": plan["trial_effect"] if plan else None,
            "f_time": plan["f_time"] if plan else None, "f_count": plan["f_count"] if plan else None,
        })
    return ev_rows, tr_rows


EVENT_DIGITS = {"onset_s": 6, "duration_s": 6, "x_px": 2, "y_px": 2, "start_x_px": 2, "start_y_px": 2,
                "amplitude_deg": 3, "peak_velocity_deg_s": 1}
TRIAL_DIGITS = {"trial_effect": 6, "f_time": 6, "f_count": 6, "onset_s": 6, "duration_s": 6, "true_total_fixation_s": 6, "target_fixation_time_s": 4,
                "target_fixation_count": 4, "planned_mean_fixation_s": 6, "planned_total_fixation_s": 6}


def parameters_rows(targets: list[Target], manifest_ids: Sequence[str]) -> list[dict]:
    by_id = {t.stimulus_id: t for t in targets}
    rows = []
    for sid in sorted(set(manifest_ids) | set(by_id)):
        t = by_id.get(sid)
        if t is None:
            art, _, meth = sid.rpartition("_")
            rows.append({"stimulus_id": sid, "artwork": art, "method": meth, "target_handling": "no_target",
                         "note": "stimulus not in the targets file: default viewing"})
            continue
        rows.append({
            "stimulus_id": sid, "artwork": t.artwork, "category": t.category, "method": t.method,
            "paper_fixation_time_s": t.paper_time_s, "paper_fixation_count": t.paper_count,
            "paper_mean_fixation_s": t.paper_time_s / t.paper_count,
            "target_fixation_time_s": t.time_s, "target_fixation_count": t.count,
            "target_mean_fixation_s": (t.time_s / t.count) if t.time_s is not None else None,
            "target_handling": t.handling, "note": t.note or ("in manifest" if sid in manifest_ids else "not in manifest"),
            "targets_file_line": t.line,
        })
    return rows


# ---------------------------------------------------------------------------------------
# stand-in stimuli when no manifest exists
def fallback_manifest(folder: Path, size_px: int) -> Path:
    """Write 18 stand-in images (``size_px`` square PNG, one per artwork x method) and a manifest.

    Used only when the configured manifest does not exist (no stimuli generated yet).
    Images are flat colour fields with a simple per-artwork pattern, labelled
    ``checkpoint_id = demo-standin-sim``; the study scales them into its stimulus box
    (``[stimuli] max_width_px x max_height_px``, default 1024 x 768, so a square image
    is shown at 768 x 768 px, about 17.7 deg square on the T60; docs/simulation.md).
    """
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    k = 0
    for category, arts in ARTWORKS.items():
        for art in arts:
            for method in METHODS:
                k += 1
                rng = np.random.default_rng(k)
                base = rng.integers(40, 215, size=3)
                yy, xx = np.mgrid[0:size_px, 0:size_px]
                stripes = ((xx // (8 + 4 * k % 5) + yy // (8 + 3 * k % 7)) % 2).astype(np.int64)
                img = np.clip(base[None, None, :] + (stripes[..., None] * (30 if method == "ours" else 12)), 0, 255)
                name = f"{art}_{method}.png"
                path = folder / name
                buf = io.BytesIO()
                Image.fromarray(img.astype(np.uint8)).save(buf, format="PNG", optimize=False)
                path.write_bytes(buf.getvalue())
                rows.append([f"{art}_{method}", art, category, method, name,
                             hashlib.sha256(buf.getvalue()).hexdigest(), str(size_px), str(size_px), "demo-standin-sim"])
    manifest = folder / "manifest.csv"
    lines = [",".join(("stimulus_id", "artwork", "category", "method", "file", "sha256", "width_px", "height_px",
                       "checkpoint_id"))]
    lines += [",".join(r) for r in rows]
    write_text(manifest, "\n".join(lines) + "\n")
    return manifest


# ---------------------------------------------------------------------------------------
# the cohort
def _study_config(sim: SimConfig, seed: int, manifest: Path) -> Any:
    from study.config import load_config

    cfg = load_config(sim.simulation.study_config or None)
    overrides = {k: dict(v) for k, v in sim.study_overrides.items()}
    overrides.setdefault("tracker", {})["kind"] = "simulated"
    overrides.setdefault("study", {})["seed"] = int(seed)
    overrides.setdefault("stimuli", {})["manifest"] = str(manifest)
    try:
        return cfg.replace(**overrides)
    except TypeError as exc:   # an unknown key in [study_overrides.<section>]
        raise StudyError(f"bad [study_overrides]: {exc}", file=sim.source, column="study_overrides",
                         fix="use section and key names of the study config (docs: study/configs/default.toml)") from None


#: Physio columns kept by the compact demo encoding, with their decimals (None: as written).
COMPACT_COLUMNS = {"timestamp": None, "x_coordinate": 0, "y_coordinate": 0, "pupil_size": 2, "validity": None}


def compact_session(ses_dir: Path) -> None:
    """Re-encode a finalised session's physio files compactly (the shipped demo cohort).

    Drops the optional eye-position columns ``eye_x/eye_y/eye_z`` (docs/formats.md
    section 2 allows omitting them; the analysis then uses ``ScreenDistance``), writes
    gaze in whole pixels (as Tobii Studio exports gaze, ``GazePointX (ADCSpx)``) and the
    pupil to 0.01 mm; updates each sidecar's ``Columns`` (and drops the removed column
    descriptions) and rewrites the session's checksum file. Quantisation to whole pixels
    adds an error of SD 0.29 px (0.007 deg), negligible against the 0.3 deg tracker noise.
    """
    for sidecar in sorted(ses_dir.rglob("*_physio.json")):
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        cols = list(meta["Columns"])
        physio = sidecar.with_name(sidecar.name[: -len(".json")] + ".tsv.gz")
        import pandas as pd

        raw = pd.read_csv(physio, sep="\t", header=None, names=cols, dtype=str, keep_default_na=False,
                          compression="gzip")
        keep = [c for c in cols if c in COMPACT_COLUMNS]
        out_cols = []
        for c in keep:
            vals = raw[c].to_numpy(dtype=str)
            d = COMPACT_COLUMNS[c]
            if d is not None:
                arr = pd.to_numeric(raw[c].mask(raw[c] == "n/a"), errors="raise").to_numpy(dtype=np.float64)
                txt = np.char.mod(f"%.{d}f", np.nan_to_num(arr, nan=0.0))
                vals = np.where(np.isfinite(arr), txt, "n/a")
            out_cols.append(np.asarray(vals, dtype=str))
        rows = out_cols[0]
        for col in out_cols[1:]:
            rows = np.char.add(np.char.add(rows, "\t"), col)
        text = "\n".join(rows.tolist()) + "\n" if len(rows) else ""
        write_gzip(physio, text)
        for c in cols:
            if c not in keep:
                meta.pop(c, None)
        meta["Columns"] = keep
        meta["SimulatedCompactEncoding"] = ("eye position columns dropped; gaze rounded to whole pixels, pupil to "
                                            "0.01 mm (study.simulate.compact_session)")
        sidecar.write_bytes((json.dumps(meta, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode("utf-8"))
    checks = sorted(ses_dir.glob("*_checksums.sha256"))
    for ck in checks:
        files = sorted(p for p in ses_dir.rglob("*") if p.is_file() and p != ck)
        ck.write_bytes("".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(ses_dir).as_posix()}\n"
                               for p in files).encode("utf-8"))


#: Decimals of the noise-free gaze written to the ground truth (px).
TRUE_GAZE_DIGITS = 2


def write_true_gaze(session_dir: Path, out_dir: Path, model: GazeModel) -> list[Path]:
    """Write the session's noise-free gaze as a BIDS session under ``out_dir`` (the perfect tracker).

    For the first ``*_physio.tsv.gz`` of the finalised session (``recording-eye1``; both
    eyes look at the same point, so one file is written), the same file (same name,
    sidecar, timestamps and rows) with ``x_coordinate``/``y_coordinate`` replaced by where
    the eye really looked at that sample's timestamp (no noise, accuracy offset, drift or
    data loss; ``TRUE_GAZE_DIGITS`` decimals), ``validity`` 0 only during blinks, and
    ``pupil_size`` the participant's mean pupil diameter (n/a in blinks). The session's
    ``*_events.tsv``/``.json`` are copied, so ``analysis.io.read_recording(out_dir)`` reads
    it like any recording (docs/formats.md, "Ground-truth gaze").
    """
    import shutil

    import pandas as pd

    if not model.truth_samples:
        raise RuntimeError("the gaze model recorded no true gaze (record_truth=False?)")
    ts = np.concatenate([b[0] for b in model.truth_samples])
    tx = np.concatenate([b[1] for b in model.truth_samples])
    ty = np.concatenate([b[2] for b in model.truth_samples])
    blink = np.concatenate([b[3] for b in model.truth_samples])
    order = np.argsort(ts, kind="stable")
    ts, tx, ty, blink = ts[order], tx[order], ty[order], blink[order]
    written = []
    physio = sorted(session_dir.rglob("*_physio.tsv.gz"))
    # both eyes look at the same point: the first eye's file carries the true gaze (half the size)
    skip = {p for p in physio[1:]} | {p.with_name(p.name[: -len(".tsv.gz")] + ".json") for p in physio[1:]}
    for src in sorted(session_dir.rglob("*")):
        if not src.is_file() or src.name.endswith("_checksums.sha256") or src in skip:
            continue
        dst = out_dir / src.relative_to(session_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not src.name.endswith("_physio.tsv.gz"):
            shutil.copyfile(src, dst)
            written.append(dst)
            continue
        sidecar = src.with_name(src.name[: -len(".tsv.gz")] + ".json")
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
        cols = list(meta["Columns"])
        raw = pd.read_csv(src, sep="\t", header=None, names=cols, dtype=str, keep_default_na=False,
                          compression="gzip")
        t = raw["timestamp"].to_numpy(dtype=np.int64)
        i = np.clip(np.searchsorted(ts, t), 0, len(ts) - 1)
        if not np.array_equal(ts[i], t):
            raise RuntimeError(f"{src.name}: recorded timestamps without a true gaze sample")
        ok = ~blink[i]
        px = np.char.mod(f"%.{TRUE_GAZE_DIGITS}f", tx[i])
        py = np.char.mod(f"%.{TRUE_GAZE_DIGITS}f", ty[i])
        raw["x_coordinate"] = np.where(ok, px, "n/a")
        raw["y_coordinate"] = np.where(ok, py, "n/a")
        if "validity" in raw:
            raw["validity"] = np.where(ok, "1", "0")
        if "pupil_size" in raw:
            raw["pupil_size"] = np.where(ok, f"{model.pupil_base:.2f}", "n/a")
        keep = [c for c in cols if c not in ("eye_x", "eye_y", "eye_z")]   # the reader then uses ScreenDistance
        for c in cols:
            if c not in keep:
                meta.pop(c, None)
        meta["Columns"] = keep
        meta["SimulatedTrueGaze"] = ("noise-free gaze of study.oculomotor.GazeModel at the recorded timestamps: no "
                                     "noise, offset, drift or data loss; validity 0 only in blinks "
                                     "(study.simulate.write_true_gaze)")
        write_text(dst.with_name(sidecar.name), json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        rows = raw[keep].to_numpy(dtype=str)
        text = "\n".join("\t".join(r) for r in rows.tolist()) + "\n" if len(rows) else ""
        write_gzip(dst, text)
        written.append(dst)
    return written


#: Tracker-clock start (us) of every simulated session: a fixed value makes runs byte-identical
#: (a real Tobii ``system_time_stamp`` is the monotonic clock, about this order of magnitude).
SIM_T0_US = 10_000_000_000


#: Start stamp (UTC) of every simulated session, written into the sidecars: the paper's publication date.
SIM_STARTED_UTC = "2025-09-25T00:00:00Z"


def _run_virtual_session(run_session: Any, cfg: Any, label: str, session: int, tracker: Any, out: Path) -> Path:
    """One headless, virtual-clock session through ``study.session.run_session``.

    For reproducible files the virtual clock starts at :data:`SIM_T0_US` and the
    sessions' start stamp is :data:`SIM_STARTED_UTC` (``run_session``'s ``start_us`` and
    ``started_utc``; by default it reads both from the system clock).
    """
    return Path(run_session(cfg, label, session, tracker=tracker, presenter="headless", data_root=out,
                            clock="virtual", responder="auto", start_us=SIM_T0_US, started_utc=SIM_STARTED_UTC))


def _timestamp_zero(session_dir: Path) -> int:
    for js in sorted(session_dir.rglob("*_physio.json")):
        meta = json.loads(js.read_text(encoding="utf-8"))
        if "TimestampZero" in meta:
            return int(meta["TimestampZero"])
    raise RuntimeError(f"no physio sidecar with TimestampZero under {session_dir}")


def simulate(out: str | Path, *, participants: int | None = None, seed: int | None = None,
             targets_file: str | Path | None = None, config: str | Path | None = None,
             progress: bool = True) -> Path:
    """Simulate a cohort into ``out`` (BIDS) with ground truth in ``out/derivatives/ground_truth``.

    Parameters
    ----------
    out : path
        Dataset root to create (must not contain participant folders already).
    participants, seed, targets_file : optional
        Override ``[simulation] participants``, ``[simulation] seed``, ``[targets] file``.
    config : path or name, optional
        Simulation TOML (``sim.toml`` in ``study/configs`` by name); ``None``: defaults.

    Returns
    -------
    Path
        The dataset root.
    """
    from tqdm import tqdm

    sim = load_sim_config(config)
    n = participants if participants is not None else sim.simulation.participants
    if n < 1:
        raise StudyError("need at least one participant", column="--participants", expected=">= 1")
    seed = int(seed if seed is not None else sim.simulation.seed)
    tfile = Path(targets_file if targets_file is not None else sim.targets.file)
    bound_s = max_mean_fixation_s(sim.targets)
    targets = build_targets(read_targets(tfile), sim.targets.handling, bound_s, sim.oculomotor.viewing_s)
    out = Path(out)
    if out.exists() and any(out.glob("sub-*")):
        raise StudyError("output folder already holds participants", file=out,
                         fix="give an empty or new --out folder (the simulator never overwrites recordings)")
    from study.config import load_config
    base_cfg = load_config(sim.simulation.study_config or None)
    configured = Path(sim.simulation.manifest or base_cfg.stimuli.manifest)
    manifest = configured
    fallback = not configured.is_file()
    if fallback:
        manifest = out / "stimuli" / "manifest.csv"      # written below, once the config is known to be good
    cfg = _study_config(sim, seed, manifest)
    rate = cfg.tracker.sampling_rate_hz
    if sim.oculomotor.jitter_us > max_jitter_us(rate):
        raise StudyError(f"oculomotor.jitter_us = {sim.oculomotor.jitter_us:g} is too large for a "
                         f"{rate:g} Hz tracker: the readers would take the jittered intervals for a "
                         f"change of sampling rate", file=sim.source, column="oculomotor.jitter_us",
                         expected=f"<= {max_jitter_us(rate):.0f} us (1/24 of the sampling interval)",
                         fix="lower oculomotor.jitter_us for fast trackers, e.g. 300 * 60 / rate_hz")
    if fallback:
        out.mkdir(parents=True, exist_ok=True)
        log.warning("manifest %s not found: using %d px stand-in images in %s/stimuli", configured,
                    sim.simulation.fallback_image_px, out)
        fallback_manifest(out / "stimuli", sim.simulation.fallback_image_px)
    from study.manifest import read_manifest, read_saliency
    stimuli = read_manifest(manifest)     # a bad manifest or saliency map stops the run before anything is written
    manifest_ids = [s.stimulus_id for s in stimuli]
    methods = {s.stimulus_id: s.method for s in stimuli}
    cells = int(sim.oculomotor.saliency_grid)
    saliency = {s.stimulus_id: landing_grid(m, cells) for s in stimuli
                if (m := read_saliency(s, manifest)) is not None}
    no_map = sorted(set(manifest_ids) - set(saliency))
    if no_map:
        log.warning("no saliency map for %d of %d stimuli (%s): their fixations follow the central bias alone "
                    "(docs/simulation.md, \"Where the eyes go\")", len(no_map), len(manifest_ids), ", ".join(no_map))
    out.mkdir(parents=True, exist_ok=True)
    used = {t.stimulus_id: t for t in targets if t.time_s is not None and t.stimulus_id in manifest_ids}
    model_targets = {sid: (t.time_s, t.count) for sid, t in used.items()}
    by_id = {t.stimulus_id: t for t in targets}

    from study.session import run_session
    from study.trackers.simulated import SimulatedTracker

    sc = cfg.screen
    gt = out / "derivatives" / "ground_truth"
    all_trials: list[dict] = []
    traits: list[dict] = []
    label_session = sim.simulation.session
    for i in tqdm(range(1, n + 1), desc="participants", unit="sub", disable=not progress):
        label = participant_label(i, n)
        gseed = participant_gaze_seed(seed, i)
        model = GazeModel(sim.oculomotor, seed=gseed, screen_px=tuple(sc.resolution_px), screen_mm=tuple(sc.size_mm),
                          distance_mm=sc.distance_mm, rate_hz=cfg.tracker.sampling_rate_hz, targets=model_targets,
                          stimulus_methods=methods, saliency=saliency, record_truth=True)
        pieces: list[dict] = []
        tracker = SimulatedTracker(model, rate_hz=cfg.tracker.sampling_rate_hz, screen_mm=tuple(sc.size_mm),
                                   realtime=False, serial=f"SIM-{gseed:012x}", on_truth=pieces.extend)
        session_dir = _run_virtual_session(run_session, cfg, label, label_session, tracker, out)
        if sim.simulation.compact:
            compact_session(session_dir)
        ev_tsv = sorted(session_dir.rglob("*_events.tsv"))
        if not ev_tsv:
            raise RuntimeError(f"the session wrote no events.tsv under {session_dir}")
        trials = read_stimulus_trials(ev_tsv[0])
        ev_rows, tr_rows = ground_truth_rows(label, f"ses-{label_session}", pieces, trials, model.plans, by_id,
                                             _timestamp_zero(session_dir))
        write_gzip(gt / f"{label}_ses-{label_session}_events.tsv.gz", tsv_text(EVENT_COLUMNS, ev_rows, EVENT_DIGITS))
        write_true_gaze(session_dir, gt / label / f"ses-{label_session}", model)
        all_trials += tr_rows
        traits.append({"participant": label, "gaze_seed": gseed, **model.participant_traits()})
    all_trials.sort(key=lambda r: (r["participant"], r["trial"]))
    write_text(gt / "trials.tsv", tsv_text(TRIAL_COLUMNS, all_trials, TRIAL_DIGITS))
    trait_cols = PARTICIPANT_COLUMNS
    write_text(gt / "participants.tsv", tsv_text(trait_cols, traits, {c: 6 for c in trait_cols}))
    write_text(gt / "generating_parameters.tsv", tsv_text(PARAM_COLUMNS, parameters_rows(targets, manifest_ids)))
    write_json(gt / "dataset_description.json", {
        "Name": "Ground truth of the simulated cohort", "BIDSVersion": "1.10.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "study.simulate", "Description": "true events of study.oculomotor.GazeModel"}],
        "Simulated": True,
    })
    write_json(gt / "simulation.json", {
        "command": "python -m study.simulate",
        "participants": n, "seed": seed, "session": label_session,
        "targets_file": tfile.as_posix(), "target_handling": dataclasses.asdict(sim.targets),
        "oculomotor": sim.oculomotor.to_dict(), "study_overrides": sim.study_overrides,
        "manifest": "stand-in images (no stimulus manifest found)" if fallback else manifest.as_posix(),
        "stand_in_stimuli": fallback, "config": sim.source,
        "screen_px": list(sc.resolution_px), "screen_mm": list(sc.size_mm), "distance_mm": sc.distance_mm,
        "sampling_rate_hz": cfg.tracker.sampling_rate_hz, "viewing_s": cfg.timing.viewing_s,
        "max_mean_fixation_s": bound_s,
        "saliency_maps": {sid: (s.saliency_path.name if s.saliency_path is not None else None) for s in stimuli
                          for sid in [s.stimulus_id]},
        "central_bias_only": no_map,
    })
    _mark_simulated(out)
    return out


def _mark_simulated(out: Path) -> None:
    """Make the dataset say ``"Simulated": true`` (docs/formats.md section 2) and name the simulator.

    Keeps the finaliser's keys and order; adds a ``GeneratedBy`` entry for
    ``study.simulate`` (once) and a ``Name`` that says the data are simulated.
    """
    dd = out / "dataset_description.json"
    meta = json.loads(dd.read_text(encoding="utf-8")) if dd.is_file() else {
        "Name": "Simulated artwork-viewing cohort", "BIDSVersion": "1.10.0", "DatasetType": "raw"}
    meta["Simulated"] = True
    if not str(meta.get("Name", "")).startswith("SIMULATED"):
        meta["Name"] = "SIMULATED cohort: " + str(meta.get("Name", "artwork viewing"))
    gen = list(meta.get("GeneratedBy", []))
    if not any(g.get("Name") == "study.simulate" for g in gen if isinstance(g, dict)):
        gen.append({"Name": "study.simulate",
                    "Description": "simulated participants (study.oculomotor.GazeModel) on a simulated T60-like "
                                   "tracker, recorded through study.session.run_session; ground truth in "
                                   "derivatives/ground_truth (docs/simulation.md)"})
    meta["GeneratedBy"] = gen
    dd.write_bytes((json.dumps(meta, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m study.simulate",
        description="Simulate a cohort of eye-tracking sessions through the real protocol and recorder "
                    "(headless, virtual clock) and write the ground truth under <out>/derivatives/ground_truth/. "
                    "See docs/simulation.md.")
    p.add_argument("--participants", type=int, default=None,
                   help="number of participants sub-01..sub-NN (default: [simulation] participants = 50)")
    p.add_argument("--out", required=True, help="dataset root to create, e.g. data/demo (must hold no sub-* folders)")
    p.add_argument("--seed", type=int, default=None,
                   help="cohort seed; the same seed and config give byte-identical files (default: [simulation] seed)")
    p.add_argument("--targets", default=None,
                   help="Table-4-shaped CSV of per artwork x method targets (default: [targets] file = "
                        "data/reference/paper_table4.csv)")
    p.add_argument("--config", default=None,
                   help="simulation TOML, a path or a name in study/configs/ (default: built-in defaults, "
                        "identical to study/configs/sim.toml)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = simulate(args.out, participants=args.participants, seed=args.seed, targets_file=args.targets,
                   config=args.config, progress=not args.no_progress)
    print(f"simulated cohort written to {out} (ground truth in {out / 'derivatives' / 'ground_truth'})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_cli(main))
