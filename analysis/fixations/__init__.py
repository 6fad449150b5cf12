"""Fixation detection: the Tobii I-VT filter (Olsen, 2012) and I-DT (Salvucci & Goldberg, 2000).

Public API
----------
``detect_fixations(recording, algorithm="ivt", config=None) -> FixationResult``
    Run a registered algorithm on an :class:`analysis.recording.Recording`.
``ALGORITHMS``
    Registry name -> array-level filter: ``"ivt"`` -> :func:`analysis.fixations.ivt.ivt_filter`,
    ``"idt"`` -> :func:`analysis.fixations.idt.idt_filter` (same call signature).
``tobii_ivt(time_s, left_x, left_y, right_x, right_y, left_valid, right_valid, geometry, eye_xyz=None, config=None)``
    The Tobii I-VT filter on plain arrays, returning ``(fixations, labels)``.

Per-sample label codes (int8): 0 unknown, 1 fixation, 2 saccade, 3 gap (no gaze).
See ``docs/fixations.md`` for every parameter, its default and its source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from analysis.config import IDTConfig, IVTConfig
from analysis.errors import InputError
from analysis.fixations._common import (
    FIXATION,
    FIXATION_COLUMNS,
    GAP,
    LABEL_NAMES,
    SACCADE,
    UNKNOWN,
    EventArrays,
    FixationResult,
    recording_arrays,
)
from analysis.fixations.idt import idt_filter
from analysis.fixations.ivt import ivt_filter, tobii_ivt

#: Registry of fixation algorithms (name -> array-level filter), as in pymovements.
ALGORITHMS: dict[str, Callable[..., Any]] = {"ivt": ivt_filter, "idt": idt_filter}

_CONFIG_TYPES: dict[str, type] = {"ivt": IVTConfig, "idt": IDTConfig}

__all__ = [
    "ALGORITHMS", "FIXATION", "FIXATION_COLUMNS", "GAP", "LABEL_NAMES", "SACCADE", "UNKNOWN",
    "EventArrays", "FixationResult", "detect_fixations", "idt_filter", "ivt_filter", "tobii_ivt",
]


def detect_fixations(recording: Any, algorithm: str = "ivt",
                     config: IVTConfig | IDTConfig | None = None) -> FixationResult:
    """Detect fixations in a recording.

    Parameters
    ----------
    recording : analysis.recording.Recording
        Normalised samples (both eyes, validity, optional eye positions) and the
        screen geometry in ``recording.meta.geometry``.
    algorithm : {"ivt", "idt"}
        ``"ivt"``: the Tobii I-VT fixation filter, Olsen (2012), all seven steps
        (defaults: Tobii Pro Lab "Tobii I-VT (Fixation)" preset). ``"idt"``:
        dispersion threshold, Salvucci & Goldberg (2000).
    config : IVTConfig or IDTConfig, optional
        Parameters matching ``algorithm``; ``None`` uses the documented defaults.

    Returns
    -------
    FixationResult
        ``fixations`` (onset_s, offset_s, duration_s, x_px, y_px, n_samples; sorted
        by onset), ``labels`` (int8 per sample), the gaze signal the classifier saw,
        and (I-VT) the velocity per sample (computed on first access).

    Raises
    ------
    InputError
        Unknown algorithm, a config of the wrong type or with invalid values, or
        timestamps that are not strictly increasing.
    """
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown fixation algorithm {algorithm!r}", column="algorithm",
                         expected="one of " + ", ".join(sorted(ALGORITHMS)), fix="use 'ivt' or 'idt'")
    cfg = _CONFIG_TYPES[algorithm]() if config is None else config
    if not isinstance(cfg, _CONFIG_TYPES[algorithm]):
        raise InputError(f"algorithm {algorithm!r} needs a {_CONFIG_TYPES[algorithm].__name__}, "
                         f"got {type(cfg).__name__}", expected=_CONFIG_TYPES[algorithm].__name__,
                         fix="pass the config that belongs to the algorithm, or None")
    arrays = recording_arrays(recording)
    out = ALGORITHMS[algorithm](config=cfg, **arrays)
    # I-VT: the velocity is computed only if the caller reads result.velocity_deg_s
    velocity = out.velocity_fn() if hasattr(out, "velocity_fn") else getattr(out, "velocity_deg_s", None)
    return FixationResult(fixations=out.events.to_frame(), labels=out.labels, time_s=arrays["time_s"],
                          x_px=out.x_px, y_px=out.y_px, velocity_deg_s=velocity, algorithm=algorithm,
                          config=cfg, info=out.info)
