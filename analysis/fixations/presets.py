"""Tobii I-VT presets named after the Tobii programs, each value with its source.

A preset is an :class:`analysis.config.IVTConfig` plus where each of its values comes
from. ``python -m analysis.agreement`` runs every preset on an export and reports which
one reproduces the program's own per-sample classification best (docs/readers.md,
"Agreement with Tobii's labels").

Sources
-------
* Olsen, A. (2012). *The Tobii I-VT Fixation Filter: Algorithm description.* Tobii
  Technology, sec. 3.1.1-3.1.7 (the seven steps and their default values).
* Tobii Pro Lab User Manual (v1.x and 24.x), "Gaze filters" / "Fixation filters": the
  presets "Tobii I-VT (Fixation)" and "Tobii I-VT (Attention)".
* Tobii Studio User's Manual (v3.4.x), section "Fixation filters" ("Tobii I-VT fixation
  filter" defaults). Olsen (2012) sec. 3 is "The Tobii Studio implementation of the Tobii
  I-VT filter" (introduced in Tobii Studio 2.3); Tobii's white paper *Determining the Tobii
  I-VT Fixation Filter's Default Values* (August 2012) explains how the defaults were chosen.

The manuals could not be consulted directly while this table was written (docs/limitations.md):
the Studio noise-reduction default (on, moving median, 3 samples) is the Studio manual's value as
the project records it, and it is corroborated by a measurement: on a real Tobii Studio 3.4.5
export our I-VT agrees with Studio's own labels at kappa 0.81 with it and 0.73 without it
(benchmarks/RESULTS.md, "Real exports").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from analysis.config import IVTConfig


@dataclass(frozen=True)
class Preset:
    """A named I-VT configuration and the source of each value.

    Attributes
    ----------
    name : str
        Short name used on the command line (``prolab``, ``studio``, ...).
    program : str
        The program and filter name it reproduces.
    config : IVTConfig
        The parameters.
    sources : dict
        Config field -> source of its value, in words.
    """

    name: str
    program: str
    config: IVTConfig
    sources: dict[str, str] = field(default_factory=dict)


_OLSEN = "Olsen (2012) sec. {}"
_PROLAB = "Tobii Pro Lab User Manual, 'Gaze filters', preset {}"
_STUDIO = "Tobii Studio User's Manual 3.4, 'Tobii I-VT fixation filter' defaults"

#: Where each value of the Pro Lab "Tobii I-VT (Fixation)" preset comes from.
_PROLAB_FIXATION_SOURCES = {
    "gap_fill": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": gap fill-in on; " + _OLSEN.format("3.1.1"),
    "max_gap_ms": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": max gap length 75 ms; " + _OLSEN.format("3.1.1"),
    "eye_selection": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": eye selection Average; " + _OLSEN.format("3.1.2"),
    "noise_reduction": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": noise reduction off",
    "noise_window_samples": "not used (noise reduction off)",
    "velocity_window_ms": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": window length 20 ms; " + _OLSEN.format("3.1.4"),
    "velocity_threshold_deg_s": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": 30 deg/s; " + _OLSEN.format("3.1.5"),
    "merge": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": merge adjacent fixations on; " + _OLSEN.format("3.1.6"),
    "merge_max_gap_ms": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": max time between 75 ms; " + _OLSEN.format("3.1.6"),
    "merge_max_angle_deg": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": max angle 0.5 deg; " + _OLSEN.format("3.1.6"),
    "discard_short": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": discard short fixations on; " + _OLSEN.format("3.1.7"),
    "min_fixation_ms": _PROLAB.format("'Tobii I-VT (Fixation)'") + ": minimum duration 60 ms; " + _OLSEN.format("3.1.7"),
    "fill_both_eyes_lost": _OLSEN.format("3.1.1") + ": each eye's gaps are filled on their own",
    "merge_covers_gaps": _OLSEN.format("3.1.6") + " (samples without gaze are not classified; they stay gaps)",
    "velocity_window_at_gaps": _OLSEN.format("3.1.4") + " (no velocity where the window holds a missing sample)",
}

#: What Tobii Pro Lab 24.21 does at gaps, measured on real exports (cemGr/Tobii-I-VT-Filter-Reconstruction,
#: MIT: the "Tobii I-VT (Fixation)", right-eye and strict-average + moving-average exports of one Pro Spectrum;
#: benchmarks/RESULTS.md "Real exports"). Not in any Tobii document the project could consult.
_PROLAB_24_MEASURED = {
    "velocity_window_at_gaps": "measured, Pro Lab 24.21 exports: Tobii classifies the sample next to a gap, "
                               "which a centred window leaves without a velocity (14 such samples labelled "
                               "'Fixation' in the 120 Hz strict-average export); the nearest complete window "
                               "raises kappa from 0.953 to 0.962 there, 0.9908 -> 0.9943 on the 'Tobii I-VT "
                               "(Fixation)' export and 0.9866 -> 0.9880 on the right-eye one",
}

#: What Tobii Pro Lab 1.145 did differently, measured on a real export (EyeT4Empathy, Lencastre et
#: al. 2022, participant 60 trial 0: Pro Lab 1.145.28180, X3-120, 120 Hz; benchmarks/RESULTS.md "Real
#: exports", docs/fixations.md "Presets"). Not in any Tobii document the project could consult.
_PROLAB_1X_MEASURED = {
    "fill_both_eyes_lost": "measured, Pro Lab 1.145 export: none of its 478 single samples with both eyes lost "
                           "(8.3 ms gaps, far below the 75 ms max gap length) was interpolated: 443 are "
                           "'EyesNotFound' with their neighbours 'Unclassified' (no velocity across them), the "
                           "other 35 lie inside merged fixations; single-eye losses were filled (kappa 0.62 "
                           "without any gap fill-in, 0.93 with this preset). Pro Lab 24.21 does fill such samples "
                           "(cemGr 120 Hz export: 383 of them labelled 'Fixation', 42 'Saccade')",
    "merge_covers_gaps": "measured, Pro Lab 1.145 export: all 35 samples with both eyes lost between merged "
                         "fixations are labelled 'Fixation' (the merged fixation spans them)",
}

#: The presets, by name. ``prolab`` is :class:`IVTConfig`'s defaults (the project's filter).
PRESETS: dict[str, Preset] = {
    "prolab": Preset(
        "prolab", "Tobii Pro Lab, 'Tobii I-VT (Fixation)'", IVTConfig(), dict(_PROLAB_FIXATION_SOURCES)),
    "prolab_attention": Preset(
        "prolab_attention", "Tobii Pro Lab, 'Tobii I-VT (Attention)'",
        IVTConfig(velocity_threshold_deg_s=100.0),
        {**_PROLAB_FIXATION_SOURCES,
         "velocity_threshold_deg_s": _PROLAB.format("'Tobii I-VT (Attention)'") + ": 100 deg/s (all other values "
                                     "as 'Tobii I-VT (Fixation)')"}),
    "prolab_1x": Preset(
        "prolab_1x", "Tobii Pro Lab 1.x (as measured on 1.145), 'Tobii I-VT (Fixation)'",
        IVTConfig(fill_both_eyes_lost=False, merge_covers_gaps=True),
        {**_PROLAB_FIXATION_SOURCES, **_PROLAB_1X_MEASURED}),
    "prolab_strict_ma": Preset(
        "prolab_strict_ma", "Tobii Pro Lab 24, a custom I-VT: eye selection 'Strict average', noise reduction "
        "'Moving average' (window 3), other values as 'Tobii I-VT (Fixation)'",
        IVTConfig(eye_selection="strict_average", noise_reduction="moving_average", noise_window_samples=3,
                  velocity_window_at_gaps="shift"),
        {**_PROLAB_FIXATION_SOURCES, **_PROLAB_24_MEASURED,
         "eye_selection": _PROLAB.format("(custom I-VT)") + ": eye selection 'Strict average' (both eyes "
                          "valid, else no gaze); " + _OLSEN.format("3.1.2"),
         "noise_reduction": _PROLAB.format("(custom I-VT)") + ": noise reduction 'Moving average' (centred "
                            "mean of the selected gaze, after gap fill-in and eye selection); " + _OLSEN.format("3.1.3"),
         "noise_window_samples": _PROLAB.format("(custom I-VT)") + ": window size 3 samples (the default when "
                                 "noise reduction is on; an export's settings are in its file name only: MA-5 "
                                 "fits the cemGr 120 Hz export at kappa 0.77, MA-3 at 0.96)"}),
    "studio": Preset(
        "studio", "Tobii Studio, 'I-VT filter' (Tobii I-VT fixation filter, defaults)",
        IVTConfig(noise_reduction="median", noise_window_samples=3),
        {**{k: f"{_STUDIO}; " + v.split("; ", 1)[-1] for k, v in _PROLAB_FIXATION_SOURCES.items()},
         "noise_reduction": f"{_STUDIO}: noise reduction on, moving median (corroborated on a real Studio 3.4.5 "
                            "export: kappa 0.81 with it, 0.73 without; benchmarks/RESULTS.md)",
         "noise_window_samples": f"{_STUDIO}: window size 3 samples"}),
}


def preset_config(name: str) -> IVTConfig:
    """The :class:`IVTConfig` of preset ``name`` (a key of :data:`PRESETS`)."""
    return PRESETS[name].config


def describe(preset: Preset) -> list[str]:
    """One line per config field: ``name = value  (source)``."""
    out = []
    for f in dataclasses.fields(preset.config):
        out.append(f"{f.name} = {getattr(preset.config, f.name)!s}  ({preset.sources.get(f.name, 'IVTConfig default')})")
    return out
