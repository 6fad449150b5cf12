"""Typed analysis configuration, loaded from TOML and validated on load.

Every default is documented where it is defined, with its source. A TOML file holds
any subset of the sections below; unknown sections or keys are rejected with an
:class:`~analysis.errors.InputError` naming the file and the key.

.. code-block:: toml

    [ivt]                       # Olsen (2012); Tobii Pro Lab "Tobii I-VT (Fixation)" preset
    velocity_threshold_deg_s = 30.0
    [idt]
    dispersion_deg = 1.0
    [quality]
    min_trial_valid_fraction = 0.5
    [report]
    seed = 20250925
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.errors import InputError


@dataclass(frozen=True)
class IVTConfig:
    """Parameters of the Tobii I-VT fixation filter (:mod:`analysis.fixations.ivt`).

    Defaults are Tobii Pro Lab's "Tobii I-VT (Fixation)" preset, as documented in
    Olsen, A. (2012). *The Tobii I-VT Fixation Filter: Algorithm description*.
    Tobii Technology, sec. 3.1.1-3.1.7, and the Tobii Pro Lab User Manual (section
    "Gaze filters"). See docs/fixations.md for the exact definition of each.
    """

    gap_fill: bool = True                 # step 1, Olsen (2012) sec. 3.1.1: gap fill-in on
    max_gap_ms: float = 75.0              # step 1: "max gap length" 75 ms (last valid before -> first valid after)
    eye_selection: str = "average"        # step 2, sec. 3.1.2: left | right | average | strict_average
    noise_reduction: str = "none"         # step 3, sec. 3.1.3: none | median | average (preset: off);
    #                                       moving_median / moving_average: Pro Lab's names for the same two
    noise_window_samples: int = 3         # step 3: odd window size in samples (Pro Lab default 3)
    velocity_window_ms: float = 20.0      # step 4, sec. 3.1.4: window length 20 ms
    velocity_threshold_deg_s: float = 30.0  # step 5, sec. 3.1.5: 30 deg/s
    merge: bool = True                    # step 6, sec. 3.1.6: merge adjacent fixations on
    merge_max_gap_ms: float = 75.0        # step 6: max time between fixations 75 ms
    merge_max_angle_deg: float = 0.5      # step 6: max angle between fixations 0.5 deg
    discard_short: bool = True            # step 7, sec. 3.1.7: discard short fixations on
    min_fixation_ms: float = 60.0         # step 7: minimum fixation duration 60 ms
    # Tobii Pro Lab 1.x behaviour measured on a real export (analysis.fixations.presets, "prolab_1x"):
    fill_both_eyes_lost: bool = True      # step 1: also fill samples where both eyes are lost (Olsen: per eye)
    merge_covers_gaps: bool = False       # step 6: samples without gaze between merged fixations -> fixation
    # Tobii Pro Lab 24 behaviour measured on real exports (preset "prolab_strict_ma", docs/fixations.md):
    velocity_window_at_gaps: str = "unknown"  # step 4: unknown (no velocity) | shift (nearest fully valid window)


@dataclass(frozen=True)
class IDTConfig:
    """Parameters of the dispersion-threshold (I-DT) identification (:mod:`analysis.fixations.idt`).

    Salvucci, D. D., & Goldberg, J. H. (2000). Identifying fixations and saccades in
    eye-tracking protocols. ETRA '00, 71-78 (sec. 3.2, I-DT). Defaults: dispersion
    threshold 1.0 deg, minimum duration 100 ms (the values the paper recommends).
    Salvucci & Goldberg have no gap fill-in, so it is off by default; when on it is
    the Tobii I-VT step 1 (Olsen, 2012, sec. 3.1.1, 75 ms).
    """

    dispersion_deg: float = 1.0
    min_duration_ms: float = 100.0
    eye_selection: str = "average"
    gap_fill: bool = False
    max_gap_ms: float = 75.0


@dataclass(frozen=True)
class QualityConfig:
    """Exclusion thresholds for data quality (docs/data-quality.md; applied by
    :func:`analysis.quality.apply_exclusions`).

    A trial is excluded when fewer than ``min_trial_valid_fraction`` of its samples are
    valid; a recording (participant session) is excluded when its overall valid
    fraction is below ``min_participant_valid_fraction``, its validation accuracy is
    worse than ``max_accuracy_deg``, its RMS-S2S precision within fixations is worse
    than ``max_precision_deg``, or more than ``max_excluded_trials_fraction`` of its
    trials are excluded.

    Sources of the defaults (the measures are published; most cut-offs are not, and
    are marked as this project's conventions, to be fixed in a pre-registration):

    * ``min_trial_valid_fraction = 0.5``: project convention. A trial in which the
      tracker lost both eyes for more than half of the viewing time cannot support the
      paper's total-fixation-duration and fixation-count measures (Table 4).
    * ``min_participant_valid_fraction = 0.7``: project convention. The measure is
      Tobii Pro Lab's "gaze samples" percentage (share of samples with at least one
      valid eye; Tobii Pro Lab User Manual, recording data quality); the cut-off is ours.
    * ``max_accuracy_deg = 1.0``: twice the 0.5 deg accuracy specified for the Tobii
      T60 (Tobii T60/T120 Eye Tracker User Manual, technical specifications), the
      paper's tracker (accuracy as defined by Holmqvist et al., 2011, *Eye Tracking:
      A comprehensive guide to methods and measures*, ch. 2).
    * ``max_precision_deg = 0.5``: project convention for RMS-S2S within fixations
      (Holmqvist, Nystroem & Mulvey, 2012, ETRA '12, sec. 3.2, define the measure, not a
      cut-off); set well above the noise of a working remote 60 Hz tracker so only
      clearly abnormal recordings are excluded.
    * ``max_excluded_trials_fraction = 0.25``: project convention: a participant who
      loses more than a quarter of the 18 trials (5 or more) no longer contributes a
      balanced set of artworks x methods to the paired comparisons.
    """

    min_trial_valid_fraction: float = 0.5
    min_participant_valid_fraction: float = 0.7
    max_accuracy_deg: float = 1.0
    max_precision_deg: float = 0.5
    max_excluded_trials_fraction: float = 0.25


@dataclass(frozen=True)
class ReportConfig:
    """Options of ``python -m analysis.report``."""

    algorithm: str = "ivt"          # ivt | idt
    seed: int = 20250925            # bootstrap / any resampling; paper publication date
    alpha: float = 0.05             # two-sided significance level (conventional; Holm family-wise)
    power: float = 0.80             # sensitivity analysis (Cohen, 1988)
    jobs: int = 0                   # worker processes; 0 = all cores


@dataclass(frozen=True)
class AnalysisConfig:
    ivt: IVTConfig = field(default_factory=IVTConfig)
    idt: IDTConfig = field(default_factory=IDTConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    report: ReportConfig = field(default_factory=ReportConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_SECTIONS = {"ivt": IVTConfig, "idt": IDTConfig, "quality": QualityConfig, "report": ReportConfig}


def _build(section: str, cls: type, values: Any, path: Path) -> Any:
    if not isinstance(values, dict):
        raise InputError(f"[{section}] must be a table", file=path, column=section,
                         expected=f"a [{section}] table", fix=f"write the keys under a [{section}] header")
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InputError(f"unknown key {key!r} in [{section}]", file=path, column=f"{section}.{key}",
                             expected="one of " + ", ".join(sorted(known)), fix="remove or rename the key")
        default = getattr(cls(), key)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if ok and not math.isfinite(float(value)):
                raise InputError(f"{section}.{key} = {value} is not a finite number", file=path,
                                 column=f"{section}.{key}", expected=f"a number like {default!r}",
                                 fix="give a finite number (nan and inf are not values)")
            value = float(value) if ok else value
        else:
            ok = isinstance(value, type(default))
        if not ok:
            raise InputError(f"{section}.{key} has the wrong type ({type(value).__name__})", file=path,
                             column=f"{section}.{key}", expected=f"a {type(default).__name__} like {default!r}",
                             fix="correct the value")
        kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | Path | None) -> AnalysisConfig:
    """Load and validate an analysis TOML file; ``None`` gives the documented defaults."""
    if path is None:
        return AnalysisConfig()
    path = Path(path)
    if path.is_dir():
        raise InputError("a folder was given where the configuration file was expected", file=path,
                         expected="a .toml file", fix="give the path of the .toml file itself")
    if not path.is_file():
        raise InputError("configuration file not found", file=path, fix="give the path of an existing .toml file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"the configuration file could not be read ({exc.strerror})", file=path,
                         fix="check the file's permissions") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(f"the configuration file is not UTF-8 text (byte 0x{raw[exc.start]:02x})", file=path,
                         line=line, column=str(col), expected="UTF-8 text (TOML files are UTF-8 by definition)",
                         fix="save the file as UTF-8 (e.g. in your editor: Save with encoding UTF-8)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        what = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) if m else str(exc)
        raise InputError(f"not valid TOML: {what}", file=path, line=int(m.group(1)) if m else None,
                         column=m.group(2) if m else None, fix="correct the TOML syntax") from None
    kwargs = {}
    for section, values in data.items():
        if section not in _SECTIONS:
            raise InputError(f"unknown section [{section}]", file=path, column=section,
                             expected="one of " + ", ".join(f"[{s}]" for s in _SECTIONS),
                             fix="remove or rename the section")
        kwargs[section] = _build(section, _SECTIONS[section], values, path)
    cfg = AnalysisConfig(**kwargs)
    _check_values(cfg, path)
    # the filters' own parameter checks, run now (not in a worker after hours of reading) and naming this file
    from analysis.fixations.idt import validate_idt_config
    from analysis.fixations.ivt import validate_ivt_config

    try:
        validate_ivt_config(cfg.ivt)
        validate_idt_config(cfg.idt)
    except InputError as exc:
        exc.file = path
        raise
    return cfg


def _check_values(cfg: AnalysisConfig, path: Path) -> None:
    choices = {
        ("ivt", "eye_selection"): {"left", "right", "average", "strict_average"},
        ("ivt", "noise_reduction"): {"none", "median", "average", "moving_median", "moving_average"},
        ("ivt", "velocity_window_at_gaps"): {"unknown", "shift"},
        ("idt", "eye_selection"): {"left", "right", "average", "strict_average"},
        ("report", "algorithm"): {"ivt", "idt"},
    }
    for (section, key), allowed in choices.items():
        value = getattr(getattr(cfg, section), key)
        if value not in allowed:
            raise InputError(f"{section}.{key} = {value!r} is not allowed", file=path, column=f"{section}.{key}",
                             expected="one of " + ", ".join(sorted(allowed)), fix="pick one of the allowed values")
    positive = [("ivt", "max_gap_ms"), ("ivt", "velocity_window_ms"), ("ivt", "velocity_threshold_deg_s"),
                ("ivt", "noise_window_samples"), ("idt", "dispersion_deg"), ("idt", "min_duration_ms")]
    for section, key in positive:
        if getattr(getattr(cfg, section), key) <= 0:
            raise InputError(f"{section}.{key} must be positive", file=path, column=f"{section}.{key}",
                             expected="a number > 0", fix="use a positive value")
    for key in ("min_trial_valid_fraction", "min_participant_valid_fraction", "max_excluded_trials_fraction"):
        if not 0.0 <= getattr(cfg.quality, key) <= 1.0:
            raise InputError(f"quality.{key} must be a fraction", file=path, column=f"quality.{key}",
                             expected="a number between 0 and 1", fix="use e.g. 0.5 for 50 %")
    for key in ("max_accuracy_deg", "max_precision_deg"):
        if getattr(cfg.quality, key) <= 0:
            raise InputError(f"quality.{key} must be positive", file=path, column=f"quality.{key}",
                             expected="degrees > 0", fix="use a positive value")
    for key in ("alpha", "power"):
        if not 0.0 < getattr(cfg.report, key) < 1.0:
            raise InputError(f"report.{key} must lie strictly between 0 and 1", file=path, column=f"report.{key}",
                             expected="e.g. 0.05 for alpha, 0.80 for power", fix="use a number in (0, 1)")
    if not 0 <= cfg.report.seed < 2**32:
        raise InputError(f"report.seed = {cfg.report.seed} is outside 0..2**32-1", file=path, column="report.seed",
                         expected="a whole number 0..4294967295 (numpy and statsmodels seeds)",
                         fix="use e.g. the default 20250925")
    if cfg.report.jobs < 0:
        raise InputError("report.jobs must be >= 0", file=path, column="report.jobs",
                         expected="0 (all cores) or a positive number of worker processes", fix="use e.g. 2")
