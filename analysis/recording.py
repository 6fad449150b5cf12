"""The one normalised sample table every reader yields (see docs/formats.md, "Sample table").

A :class:`Recording` is what every reader in :mod:`analysis.io` returns, whatever the
source format (project BIDS, Tobii Pro Lab, Tobii Studio, plain TSV/CSV):

* ``samples``: a pandas DataFrame with exactly :data:`SAMPLE_COLUMNS`, one row per
  tracker sample, sorted by strictly increasing ``time_s`` (seconds on the tracker clock).
  Gaze is in screen pixels (origin top-left of the display area, x right, y down) and
  in normalised display coordinates (0..1, same origin). Invalid samples keep their row
  with ``*_valid == False`` and NaN coordinates: samples are never dropped.
* ``trials``: a DataFrame with :data:`TRIAL_COLUMNS`, one row per stimulus presentation
  (times on the same tracker clock, AOI rectangle in screen pixels; NaN when unknown).
* ``meta``: :class:`RecordingMeta` (geometry, sampling rate, tracker model, provenance).
* ``counts``: how many samples were invalid or missing per eye, so nothing is dropped silently.
* ``labels``: the exporting program's own per-sample classification, when the file has one
  (e.g. Tobii Pro Lab ``Eye movement type``, Tobii Studio ``GazeEventType``/``FixationIndex``),
  aligned row for row with ``samples`` (:data:`LABEL_COLUMNS`); ``None`` when the file has none.
  ``meta.extra["labels_source"]`` names the column(s) and program it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

EYES = ("left", "right")

#: Columns of ``Recording.samples``, in order, with their dtypes.
SAMPLE_DTYPES: dict[str, str] = {
    "time_s": "float64",          # tracker clock, seconds
    "left_x_px": "float64",       # gaze on screen, pixels, NaN when invalid
    "left_y_px": "float64",
    "right_x_px": "float64",
    "right_y_px": "float64",
    "left_x_norm": "float64",     # gaze on screen, 0..1 of the display area
    "left_y_norm": "float64",
    "right_x_norm": "float64",
    "right_y_norm": "float64",
    "left_valid": "bool",
    "right_valid": "bool",
    "left_pupil_mm": "float64",   # NaN when absent
    "right_pupil_mm": "float64",
    "left_eye_x_mm": "float64",   # gaze origin in display-area coordinates (mm), NaN when absent
    "left_eye_y_mm": "float64",
    "left_eye_z_mm": "float64",
    "right_eye_x_mm": "float64",
    "right_eye_y_mm": "float64",
    "right_eye_z_mm": "float64",
}
SAMPLE_COLUMNS: tuple[str, ...] = tuple(SAMPLE_DTYPES)

#: Columns of ``Recording.trials``.
TRIAL_DTYPES: dict[str, str] = {
    "trial": "int64",          # 1-based presentation index within the recording
    "stimulus_id": "object",
    "artwork": "object",       # NaN/None when unknown
    "category": "object",      # painting | sculpture | craft, or None
    "method": "object",        # ours | pix2pix, or None
    "onset_s": "float64",      # tracker clock, seconds
    "offset_s": "float64",
    "aoi_left": "float64",     # stimulus rectangle on screen, pixels; NaN when unknown
    "aoi_top": "float64",
    "aoi_right": "float64",
    "aoi_bottom": "float64",
}
TRIAL_COLUMNS: tuple[str, ...] = tuple(TRIAL_DTYPES)

#: Columns of ``Recording.labels`` (the vendor's own per-sample classification).
LABEL_DTYPES: dict[str, str] = {
    "movement": "object",      # fixation | saccade | unclassified | eyes_not_found (lower case)
    "event_index": "Int64",    # the vendor's fixation/event number; <NA> when the sample has none
}
LABEL_COLUMNS: tuple[str, ...] = tuple(LABEL_DTYPES)


@dataclass(frozen=True)
class Geometry:
    """Screen geometry needed to convert pixels to visual angle.

    Parameters
    ----------
    screen_px : (int, int)
        Resolution (width, height) in pixels.
    screen_mm : (float, float)
        Size of the active display area (width, height) in millimetres.
    distance_mm : float
        Eye-to-screen viewing distance in millimetres, used when the tracker gives no
        eye position.
    """

    screen_px: tuple[int, int]
    screen_mm: tuple[float, float]
    distance_mm: float

    @property
    def mm_per_px(self) -> tuple[float, float]:
        return (self.screen_mm[0] / self.screen_px[0], self.screen_mm[1] / self.screen_px[1])


#: Tobii T60 (paper, "Experimental Tools"): 17-inch 1280x1024 TFT, 338 x 270 mm,
#: typical viewing distance 650 mm (Tobii T60/T120 User Manual, section 2).
T60_GEOMETRY = Geometry(screen_px=(1280, 1024), screen_mm=(338.0, 270.0), distance_mm=650.0)


@dataclass
class RecordingMeta:
    """Metadata of one recording."""

    source: str                       # path of the file read
    format: str                       # bids | prolab | studio | plain | analysis.io._extra.FORMATS
    sampling_rate_hz: float           # nominal (sidecar/export) or measured
    geometry: Geometry
    tracker_model: str = "unknown"
    participant: str | None = None    # pseudonymous id, e.g. "sub-07"
    session: str | None = None
    accuracy_deg: float | None = None   # mean validation accuracy, when present
    precision_deg: float | None = None  # validation precision (RMS-S2S), when present
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recording:
    """A normalised gaze recording: samples, trials, metadata and sample counts."""

    samples: pd.DataFrame
    trials: pd.DataFrame
    meta: RecordingMeta
    counts: dict[str, int] = field(default_factory=dict)
    labels: pd.DataFrame | None = None

    def __post_init__(self) -> None:
        missing = [c for c in SAMPLE_COLUMNS if c not in self.samples.columns]
        if missing:
            raise ValueError(f"samples lack columns {missing}")
        missing = [c for c in TRIAL_COLUMNS if c not in self.trials.columns]
        if missing:
            raise ValueError(f"trials lack columns {missing}")
        if self.labels is not None:
            missing = [c for c in LABEL_COLUMNS if c not in self.labels.columns]
            if missing:
                raise ValueError(f"labels lack columns {missing}")
            if len(self.labels) != len(self.samples):
                raise ValueError("labels must have one row per sample")

    @property
    def n_samples(self) -> int:
        return len(self.samples)


def empty_samples(n: int) -> pd.DataFrame:
    """A sample table of ``n`` rows: NaN coordinates, invalid eyes, zero time."""
    data: dict[str, np.ndarray] = {}
    for name, dtype in SAMPLE_DTYPES.items():
        if dtype == "bool":
            data[name] = np.zeros(n, dtype=bool)
        else:
            data[name] = np.full(n, np.nan)
    return pd.DataFrame(data, columns=list(SAMPLE_COLUMNS))


def empty_trials() -> pd.DataFrame:
    """A trial table with no rows and the documented columns and dtypes."""
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in TRIAL_DTYPES.items()})


def count_samples(samples: pd.DataFrame) -> dict[str, int]:
    """Counts of total, per-eye invalid and both-eyes-invalid samples (reported, never dropped)."""
    left = samples["left_valid"].to_numpy()
    right = samples["right_valid"].to_numpy()
    return {
        "total": int(len(samples)),
        "invalid_left": int((~left).sum()),
        "invalid_right": int((~right).sum()),
        "invalid_both": int((~left & ~right).sum()),
    }
