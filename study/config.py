"""Session configuration: TOML -> frozen dataclasses, validated on load.

Every default is documented where it is defined, with its source. A TOML file holds
any subset of the sections below; unknown sections or keys, wrong types and values
out of range raise :class:`~study.errors.StudyError` naming the file and the key.
``study/configs/default.toml`` lists every key with its default; ``quick.toml`` is a
2-trial x 1-s headless smoke session on the simulated tracker.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study.errors import StudyError

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

#: Participant-info field names that would identify a person; refused (pseudonymous data only).
IDENTIFYING_FIELDS = frozenset(
    {"name", "first_name", "firstname", "last_name", "lastname", "surname", "full_name",
     "email", "e_mail", "phone", "address", "birthdate", "date_of_birth", "dob", "student_id"}
)


@dataclass(frozen=True)
class StudySection:
    """Task identity and design.

    ``seed`` is the base of every per-participant random seed (counterbalancing order,
    simulated gaze); the per-participant seed is derived from it and the participant
    number and written to the session's planned order before the first trial.
    ``n_trials`` = 0 presents every stimulus of the manifest (18 in the paper's design,
    Wei Pu 2025, Table 4); a smaller number presents the first ``n_trials`` of the
    participant's planned order (smoke tests only).
    """

    task: str = "artview"
    seed: int = 20250925
    n_trials: int = 0
    practice: bool = True


#: The protocol's instruction screens, in the order shown (``Instructions`` of the events sidecar).
INSTRUCTIONS_TEXT = ("You will see a series of images. Look at each image freely, as you would in a museum.\n"
                     "Before each image, look at the cross in the centre.\n\nPress SPACE for a practice trial.")
START_TEXT = "The experiment starts now.\n\nPress SPACE to begin."


@dataclass(frozen=True)
class DatasetSection:
    """Dataset and task metadata written into the BIDS files (docs/formats.md section 2).

    BIDS 1.10 "Modality agnostic files" / "Task events": ``dataset_description.json``
    RECOMMENDS ``Authors`` and ``License`` (and names ``Acknowledgements``,
    ``HowToAcknowledge``, ``Funding``, ``EthicsApprovals``, ``ReferencesAndLinks``,
    ``DatasetDOI``); task sidecars RECOMMEND ``TaskName``, ``TaskDescription``,
    ``Instructions``, ``CogAtlasID``, ``CogPOID`` and the ``Institution*`` keys. Empty
    values are left out of the files (the BIDS validator then warns that the key is
    recommended): authors, license, institution and the ontology ids are the lab's to
    give (default: empty). ``name`` (default: the study's title), ``task_name``
    (default: "artwork free viewing") and ``task_description`` (default: empty = a
    description generated from the timing config) have defaults; ``Instructions`` is
    always the text of the protocol's instruction screens.
    ``head_stabilization``: ``StimulusPresentation.HeadStabilization`` ("chin-rest",
    "none", ...; default empty: the paper does not say).
    """

    name: str = "Eye tracking of AI-reconstructed artworks (replication of Wei Pu 2025)"
    authors: tuple[str, ...] = ()
    license: str = ""
    acknowledgements: str = ""
    how_to_acknowledge: str = ""
    funding: tuple[str, ...] = ()
    ethics_approvals: tuple[str, ...] = ()
    references_and_links: tuple[str, ...] = ()
    dataset_doi: str = ""
    task_name: str = "artwork free viewing"
    task_description: str = ""
    cogatlas_id: str = ""
    cogpo_id: str = ""
    institution_name: str = ""
    institution_address: str = ""
    institution_department: str = ""
    head_stabilization: str = ""


@dataclass(frozen=True)
class StimuliSection:
    """Where the stimuli are and how big they are shown.

    Images are scaled to fit inside ``max_width_px`` x ``max_height_px`` keeping their
    aspect ratio, centred on the screen. Default 1024 x 768 px: the largest 4:3 box that
    leaves a margin on the T60's 1280 x 1024 screen (paper, "Experimental Tools").
    """

    manifest: str = "data/stimuli/manifest.csv"
    max_width_px: int = 1024
    max_height_px: int = 768


@dataclass(frozen=True)
class ScreenSection:
    """Screen geometry. Defaults: Tobii T60 (paper, "Experimental Tools"): 17" TFT,
    1280 x 1024 px, 338 x 270 mm, 60 Hz, typical viewing distance 650 mm (Tobii T60/T120
    User Manual, sec. 2)."""

    resolution_px: tuple[int, int] = (1280, 1024)
    size_mm: tuple[float, float] = (338.0, 270.0)
    distance_mm: float = 650.0
    refresh_hz: float = 60.0
    fullscreen: bool = True
    screen_index: int = 0
    background: tuple[float, float, float] = (0.0, 0.0, 0.0)  # PsychoPy rgb (-1..1): mid grey
    foreground: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class TimingSection:
    """Durations in seconds.

    ``viewing_s`` (default 30 s): the paper does not state the viewing time. It must be
    longer than the longest mean total fixation time in its Table 4 (18.83 s, "David",
    ours) plus the time spent in saccades (fixations are ~90% of viewing time at most,
    so > 21 s), or the paper's fixation times could not have been observed; 30 s gives
    that with margin. ``fixation_s`` = 1 s (issue spec). ``iti_s`` = 1 s blank.
    ``drift_check_every`` = 6: a drift check after every 6th trial (3 per 18-trial
    session; 0 disables). Calibration/validation points are shown for ``*_point_s``
    (1 s; Titta's default pacing is 0.8 s minimum, Niehorster et al. 2020).
    ``auto_response_s``: how long the automatic responder waits before "pressing" a key.
    """

    fixation_s: float = 1.0
    viewing_s: float = 30.0
    iti_s: float = 1.0
    practice_viewing_s: float = 5.0
    drift_check_every: int = 6
    drift_check_s: float = 1.0
    calibration_point_s: float = 1.0
    validation_point_s: float = 1.0
    auto_response_s: float = 0.5


@dataclass(frozen=True)
class TrackerSection:
    """Eye tracker.

    ``sampling_rate_hz`` = 60 (Tobii T60, paper "Experimental Tools"). Calibration at 5
    or 9 points (Tobii Studio/Titta standard patterns), validation at 4-9 points.
    ``accuracy_threshold_deg`` = 1.0: recalibrate when the mean validation accuracy is
    worse (Holmqvist et al. 2011, "Eye Tracking", ch. 4; the T60's specified accuracy is
    0.5 deg). After ``max_calibration_attempts`` the session continues with the last
    calibration (the one active on the tracker; the analysis excludes participants on
    accuracy).
    ``model`` / ``address``: restrict Tobii discovery to one model or connect to one
    address (``tobii-ttp://...``); empty = the first tracker found.
    """

    kind: str = "tobii"
    sampling_rate_hz: float = 60.0
    model: str = ""
    address: str = ""
    calibration_points: int = 9
    validation_points: int = 5
    accuracy_threshold_deg: float = 1.0
    max_calibration_attempts: int = 3
    validation_settle_s: float = 0.3


@dataclass(frozen=True)
class RecorderSection:
    """Crash-safe recording. ``flush_interval_s`` = 0.25 s: the writer thread flushes and
    fsyncs at least this often, the most a crash can lose (issue spec: <= 250 ms).
    ``status_interval_s``: how often the experimenter's console line is refreshed."""

    flush_interval_s: float = 0.25
    status_interval_s: float = 1.0


@dataclass(frozen=True)
class RunSection:
    """How the session is run (each can be overridden on the command line).

    ``presenter``: ``psychopy`` (a window; the lab default) or ``headless`` (no window).
    ``clock``: ``real``, ``virtual`` (faster than real time; headless + simulated only) or
    ``auto`` (virtual for headless, real for PsychoPy). ``responder``: ``keyboard`` (the
    participant/experimenter presses keys) or ``auto`` (keys are pressed automatically
    after ``timing.auto_response_s``; for tests and CI).
    """

    presenter: str = "psychopy"
    clock: str = "auto"
    responder: str = "keyboard"


@dataclass(frozen=True)
class ParticipantField:
    """One participant-info field. ``type`` is ``int``, ``float``, ``str`` or ``choice``."""

    name: str
    type: str = "str"
    description: str = ""
    choices: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    auto: str = ""  # value the automatic responder enters

    def parse(self, text: str) -> Any:
        """Validate one entered value; raise StudyError when it does not fit."""
        text = text.strip()
        if text == "" or text.lower() == "n/a":
            return "n/a"
        if self.type == "choice":
            if text not in self.choices:
                raise StudyError(f"{self.name}: {text!r} is not one of the choices", expected=", ".join(self.choices))
            return text
        if self.type in ("int", "float"):
            try:
                value: float = int(text) if self.type == "int" else float(text)
            except ValueError:
                raise StudyError(f"{self.name}: {text!r} is not a number", expected=self.type) from None
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                raise StudyError(f"{self.name}: {value} out of range", expected=f"{self.min}..{self.max}")
            return value
        return text


@dataclass(frozen=True)
class ParticipantSection:
    """Fields of the participant info screen (the only ones written to participants.tsv).

    Default: age and sex, the usual BIDS participants.tsv columns; names and other
    identifying fields are refused (pseudonymous data only).
    """

    fields: tuple[ParticipantField, ...] = (
        ParticipantField("age", "int", "age in years", min=16, max=99, auto="21"),
        ParticipantField("sex", "choice", "self-reported sex", choices=("female", "male", "other", "n/a"), auto="n/a"),
    )


@dataclass(frozen=True)
class StudyConfig:
    """The whole session configuration."""

    study: StudySection = field(default_factory=StudySection)
    stimuli: StimuliSection = field(default_factory=StimuliSection)
    screen: ScreenSection = field(default_factory=ScreenSection)
    timing: TimingSection = field(default_factory=TimingSection)
    tracker: TrackerSection = field(default_factory=TrackerSection)
    recorder: RecorderSection = field(default_factory=RecorderSection)
    run: RunSection = field(default_factory=RunSection)
    participant: ParticipantSection = field(default_factory=ParticipantSection)
    dataset: DatasetSection = field(default_factory=DatasetSection)
    source: str = "<defaults>"

    def replace(self, **sections: Any) -> StudyConfig:
        """A copy with whole sections or single keys replaced: ``replace(tracker={"kind": "mouse"})``."""
        new = {}
        for name, value in sections.items():
            if isinstance(value, dict):
                value = dataclasses.replace(getattr(self, name), **value)
            new[name] = value
        cfg = dataclasses.replace(self, **new)
        _validate(cfg, cfg.source)
        return cfg

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d.pop("source")
        return d


#: Plausible screen geometry, the same limits as the analysis readers' ``GEOMETRY_LIMITS``
#: (analysis/io/_common.py; a test keeps the two equal), so a session is never recorded with a
#: geometry the analysis would refuse: resolution 16..32768 px, display 50..5000 mm per side,
#: viewing distance 150..3000 mm, pixel aspect (mm per px, x over y) 0.5..2.
GEOMETRY_LIMITS = {"px": (16, 32768), "mm": (50.0, 5000.0), "distance_mm": (150.0, 3000.0), "aspect": (0.5, 2.0)}
#: Plausible refresh rate of a display (default: 20..1000 Hz) and sampling rate of a tracker
#: (default: 1..10000 Hz; Tobii trackers run at 30..1200 Hz).
REFRESH_HZ_LIMITS = (20.0, 1000.0)
SAMPLING_HZ_LIMITS = (1.0, 10000.0)
#: Longest accepted single duration in [timing] (default: 3600 s; an infinite or absurd value
#: would show one screen for ever).
MAX_DURATION_S = 3600.0


def _check_screen(sc: ScreenSection, bad: Any) -> None:
    lo_px, hi_px = GEOMETRY_LIMITS["px"]
    lo_mm, hi_mm = GEOMETRY_LIMITS["mm"]
    lo_d, hi_d = GEOMETRY_LIMITS["distance_mm"]
    for name, v in zip(("width", "height"), sc.resolution_px):
        if not lo_px <= v <= hi_px:
            raise bad("screen.resolution_px", f"resolution {name} {v} px is implausible", f"{lo_px}..{hi_px} px")
    for name, v in zip(("width", "height"), sc.size_mm):
        if not (math.isfinite(v) and lo_mm <= v <= hi_mm):
            raise bad("screen.size_mm", f"screen {name} {v:g} mm is implausible",
                      f"{lo_mm:g}..{hi_mm:g} mm (the visible area, e.g. [338.0, 270.0] for a T60)")
    if not (math.isfinite(sc.distance_mm) and lo_d <= sc.distance_mm <= hi_d):
        raise bad("screen.distance_mm", f"viewing distance {sc.distance_mm:g} mm is implausible",
                  f"{lo_d:g}..{hi_d:g} mm (e.g. 650)")
    lo_a, hi_a = GEOMETRY_LIMITS["aspect"]
    aspect = (sc.size_mm[0] / sc.resolution_px[0]) / (sc.size_mm[1] / sc.resolution_px[1])
    if not lo_a <= aspect <= hi_a:
        raise bad("screen.size_mm", f"pixels would be {aspect:.2f} times wider than tall",
                  "size_mm and resolution_px of the same screen, width first")
    if not (math.isfinite(sc.refresh_hz) and REFRESH_HZ_LIMITS[0] <= sc.refresh_hz <= REFRESH_HZ_LIMITS[1]):
        raise bad("screen.refresh_hz", f"refresh rate {sc.refresh_hz:g} Hz is implausible",
                  f"{REFRESH_HZ_LIMITS[0]:g}..{REFRESH_HZ_LIMITS[1]:g} Hz (e.g. 60)")


_SECTIONS = {
    "study": StudySection, "stimuli": StimuliSection, "screen": ScreenSection, "timing": TimingSection,
    "tracker": TrackerSection, "recorder": RecorderSection, "run": RunSection, "dataset": DatasetSection,
}


def _coerce(value: Any, default: Any, key: str, file: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise StudyError(f"{key} must be true or false", file=file, column=key, expected="boolean")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise StudyError(f"{key} must be an integer, got {value!r}", file=file, column=key, expected="integer")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise StudyError(f"{key} must be a number, got {value!r}", file=file, column=key, expected="number")
        return float(value)
    if isinstance(default, str):
        if not isinstance(value, str):
            raise StudyError(f"{key} must be a string, got {value!r}", file=file, column=key, expected="string")
        return value
    if isinstance(default, tuple) and (not default or isinstance(default[0], str)):   # a list of texts, any length
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise StudyError(f"{key} must be a list of strings", file=file, column=key,
                             expected='e.g. ["First Author", "Second Author"]')
        return tuple(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or len(value) != len(default):
            raise StudyError(f"{key} must be a list of {len(default)} numbers", file=file, column=key,
                             expected=f"e.g. {list(default)}")
        return tuple(_coerce(v, d, key, file) for v, d in zip(value, default))
    return value


def _validate(cfg: StudyConfig, file: str) -> None:
    def bad(key: str, problem: str, expected: str) -> StudyError:
        return StudyError(problem, file=file, column=key, expected=expected)

    t, tr, s, sc, r = cfg.timing, cfg.tracker, cfg.stimuli, cfg.screen, cfg.recorder
    if not isinstance(cfg.study.task, str) or len(cfg.study.task) > 64 or \
            not re.fullmatch(r"[A-Za-z0-9]+", cfg.study.task):
        raise bad("study.task", f"task label {ascii(cfg.study.task)[:80]} is not a BIDS label",
                  "1-64 letters/digits (the task-<label> of the BIDS file names), e.g. artview")
    if tr.kind not in ("tobii", "simulated", "mouse"):
        raise bad("tracker.kind", f"unknown tracker {tr.kind!r}", "tobii | simulated | mouse")
    if cfg.run.presenter not in ("psychopy", "headless"):
        raise bad("run.presenter", f"unknown presenter {cfg.run.presenter!r}", "psychopy | headless")
    if cfg.run.clock not in ("auto", "real", "virtual"):
        raise bad("run.clock", f"unknown clock {cfg.run.clock!r}", "auto | real | virtual")
    if cfg.run.responder not in ("keyboard", "auto"):
        raise bad("run.responder", f"unknown responder {cfg.run.responder!r}", "keyboard | auto")
    if tr.calibration_points not in (5, 9):
        raise bad("tracker.calibration_points", f"{tr.calibration_points} calibration points", "5 or 9")
    if not 4 <= tr.validation_points <= 9:
        raise bad("tracker.validation_points", f"{tr.validation_points} validation points", "4..9")
    if not SAMPLING_HZ_LIMITS[0] <= tr.sampling_rate_hz <= SAMPLING_HZ_LIMITS[1]:
        raise bad("tracker.sampling_rate_hz", f"sampling rate {tr.sampling_rate_hz:g} Hz is implausible",
                  f"{SAMPLING_HZ_LIMITS[0]:g}..{SAMPLING_HZ_LIMITS[1]:g} Hz, e.g. 60 for a T60")
    if not (math.isfinite(tr.accuracy_threshold_deg) and tr.accuracy_threshold_deg > 0):
        raise bad("tracker.accuracy_threshold_deg", "threshold must be positive", "e.g. 1.0")
    if tr.max_calibration_attempts < 1:
        raise bad("tracker.max_calibration_attempts", "need at least one attempt", ">= 1")
    if not 0 < r.status_interval_s <= MAX_DURATION_S:
        raise bad("recorder.status_interval_s", f"status interval {r.status_interval_s:g} s", "0 < value, e.g. 1.0")
    if not 0 < r.flush_interval_s <= 0.25:
        raise bad("recorder.flush_interval_s", f"flush interval {r.flush_interval_s} s", "0 < value <= 0.25 s")
    for key in ("fixation_s", "viewing_s", "iti_s", "practice_viewing_s", "drift_check_s",
                "calibration_point_s", "validation_point_s", "auto_response_s"):
        if not 0 <= getattr(t, key) <= MAX_DURATION_S:
            raise bad(f"timing.{key}", f"duration {getattr(t, key):g} s is out of range",
                      f"0..{MAX_DURATION_S:g} seconds")
    if t.viewing_s <= 0:
        raise bad("timing.viewing_s", "viewing time must be positive", "e.g. 30")
    if not (math.isfinite(tr.validation_settle_s) and tr.validation_settle_s >= 0):
        raise bad("tracker.validation_settle_s", f"settle time {tr.validation_settle_s:g} s", ">= 0 seconds, e.g. 0.3")
    if tr.validation_settle_s >= t.validation_point_s > 0:
        raise bad("tracker.validation_settle_s", "settle time must be shorter than timing.validation_point_s",
                  "validation_settle_s < validation_point_s")
    if t.drift_check_every < 0 or cfg.study.n_trials < 0:
        raise bad("timing.drift_check_every / study.n_trials", "must be >= 0", ">= 0 (0 = off / all)")
    _check_screen(sc, bad)
    if s.max_width_px <= 0 or s.max_height_px <= 0:
        raise bad("stimuli.max_width_px/max_height_px", "image size must be positive", "> 0 px")
    names = [f.name for f in cfg.participant.fields]
    for f in cfg.participant.fields:
        if f.name.lower() in IDENTIFYING_FIELDS or "name" in f.name.lower():
            raise bad("participant.fields", f"field {f.name!r} would identify the participant",
                      "pseudonymous fields only (e.g. age, sex, handedness)")
        if not f.name.isidentifier() or f.name == "participant_id":
            raise bad("participant.fields", f"bad field name {f.name!r}", "a lower_case identifier, not participant_id")
        if f.type not in ("int", "float", "str", "choice"):
            raise bad("participant.fields", f"field {f.name!r} has type {f.type!r}", "int | float | str | choice")
        if f.type == "choice" and not f.choices:
            raise bad("participant.fields", f"choice field {f.name!r} has no choices", "choices = [...]")
    if len(set(names)) != len(names):
        raise bad("participant.fields", "duplicate field names", "unique names")


def _participant_section(raw: Any, file: str) -> ParticipantSection:
    if not isinstance(raw, dict) or set(raw) - {"fields"}:
        raise StudyError("[participant] takes only 'fields'", file=file, column="participant",
                         expected="[[participant.fields]] tables")
    fields = []
    for i, item in enumerate(raw.get("fields", [])):
        if not isinstance(item, dict):
            raise StudyError(f"participant.fields[{i}] is not a table", file=file, column="participant.fields")
        known = {f.name for f in dataclasses.fields(ParticipantField)}
        unknown = set(item) - known
        if unknown or "name" not in item:
            raise StudyError(f"participant.fields[{i}]: unknown keys {sorted(unknown)} or no name", file=file,
                             column="participant.fields", expected=", ".join(sorted(known)))
        kw = dict(item)
        where = f"participant.fields[{i}]"
        for key in ("name", "type", "description", "auto"):
            if key in kw and not isinstance(kw[key], str):
                raise StudyError(f"{where}.{key} must be a string, got {kw[key]!r}", file=file,
                                 column=f"{where}.{key}", expected="a string in quotes")
        for key in ("min", "max"):
            if key in kw and (isinstance(kw[key], bool) or not isinstance(kw[key], (int, float))
                              or not math.isfinite(kw[key])):
                raise StudyError(f"{where}.{key} must be a finite number, got {kw[key]!r}", file=file,
                                 column=f"{where}.{key}", expected="e.g. 16")
        choices = kw.get("choices", [])
        if not isinstance(choices, list) or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool)
                                                    for c in choices):
            raise StudyError(f"{where}.choices must be a list of texts", file=file, column=f"{where}.choices",
                             expected='e.g. ["female", "male", "other", "n/a"]')
        kw["choices"] = tuple(str(c) for c in choices)
        fields.append(ParticipantField(**kw))
    return ParticipantSection(fields=tuple(fields))


def build_section(cls: type, name: str, body: Any, file: str | Path) -> Any:
    """Build the frozen dataclass ``cls`` from the TOML table ``[name]``, checking keys and types.

    Shared by every TOML loader of the study package (session and simulation configs).
    Unknown keys and wrong types raise :class:`StudyError` naming the file and ``name.key``;
    a ``ValueError`` from the dataclass' own checks becomes a :class:`StudyError` too.
    """
    file = str(file)
    if not isinstance(body, dict):
        raise StudyError(f"[{name}] must be a table", file=file, column=name)
    defaults = cls()
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in body.items():
        if key not in known:
            raise StudyError(f"unknown key {key!r} in [{name}]", file=file, column=f"{name}.{key}",
                             expected="one of " + ", ".join(sorted(known)), fix="remove or rename the key")
        kwargs[key] = _coerce(value, getattr(defaults, key), f"{name}.{key}", file)
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise StudyError(str(exc), file=file, column=name, fix="correct the value") from None


def resolve_config_path(path: str | Path, what: str = "config") -> Path:
    """A TOML path, or a bare name such as ``quick`` / ``sim.toml`` looked up in ``study/configs/``."""
    p = Path(path)
    if p.is_file():
        return p
    cand = CONFIG_DIR / (p.name if p.suffix == ".toml" else p.name + ".toml")
    if cand.is_file():
        return cand
    raise StudyError(f"{what} file not found", file=p,
                     fix=f"give a TOML file, or one of {sorted(x.stem for x in CONFIG_DIR.glob('*.toml'))}")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; unreadable, non-UTF-8 or malformed files raise :class:`StudyError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StudyError(f"cannot read the file ({exc.strerror})", file=path, fix="give a readable TOML file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StudyError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", file=path, line=line,
                         expected="a UTF-8 encoded TOML file (TOML 1.0 requires UTF-8)",
                         fix="save the file as UTF-8 in your editor") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudyError(f"not valid TOML: {exc}", file=path, fix="fix the TOML syntax") from None


def load_config(path: str | Path | None = None) -> StudyConfig:
    """Load and validate a study config (``None`` -> all defaults).

    Parameters
    ----------
    path : str or Path, optional
        A TOML file; a bare name such as ``quick`` or ``quick.toml`` that does not exist
        as a file is looked up in ``study/configs/``.

    Raises
    ------
    StudyError
        Missing file, TOML syntax error, unknown section/key, wrong type, bad value.
    """
    if path is None:
        return StudyConfig()
    p = resolve_config_path(path)
    file = str(p)
    raw = read_toml(p)
    sections: dict[str, Any] = {}
    for name, body in raw.items():
        if name == "participant":
            sections[name] = _participant_section(body, file)
            continue
        if name not in _SECTIONS:
            raise StudyError(f"unknown section [{name}]", file=file, column=name,
                             expected=", ".join(sorted([*_SECTIONS, "participant"])))
        sections[name] = build_section(_SECTIONS[name], name, body, file)
    cfg = StudyConfig(**sections, source=file)
    _validate(cfg, file)
    return cfg
