"""Calibration/validation point layouts and validation accuracy/precision in degrees.

Accuracy at a validation point is the mean angular offset between the gaze points
and the target, seen from the eye (gaze origin; the viewing distance in front of the
screen centre when the tracker gives none); precision is the RMS of the angular
distances between successive samples (RMS-S2S). Both follow Holmqvist, Nyström &
Mulvey (2012), "Eye tracker data quality: what it is and how to measure it", ETRA,
and Titta's validation (Niehorster et al. 2020), which uses the same two measures.
Samples in the first ``settle_s`` after the point appears are skipped (the saccade
to the point; Titta uses the last part of each point's presentation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from study.trackers.base import DisplayArea

#: Calibration points (normalised, top-left origin): Titta/Tobii standard 5- and 9-point patterns.
CALIBRATION_POINTS: dict[int, tuple[tuple[float, float], ...]] = {
    5: ((0.5, 0.5), (0.1, 0.1), (0.9, 0.1), (0.1, 0.9), (0.9, 0.9)),
    9: tuple((x, y) for y in (0.1, 0.5, 0.9) for x in (0.1, 0.5, 0.9)),
}

#: Validation points, first n of these (4 = Titta's four points at 0.25/0.75; more add centre and edges).
_VALIDATION_ORDER = ((0.25, 0.25), (0.75, 0.25), (0.75, 0.75), (0.25, 0.75), (0.5, 0.5),
                     (0.5, 0.15), (0.85, 0.5), (0.5, 0.85), (0.15, 0.5))


def validation_points(n: int) -> tuple[tuple[float, float], ...]:
    """The ``n`` (4..9) validation points, normalised display coordinates."""
    if not 4 <= n <= 9:
        raise ValueError("validation uses 4..9 points")
    return _VALIDATION_ORDER[:n]


@dataclass
class PointQuality:
    point_norm: tuple[float, float]
    accuracy_deg: float
    precision_rms_deg: float
    n_samples: int
    valid_fraction: float


@dataclass
class ValidationResult:
    """Per-point and summary accuracy and precision (deg)."""

    points: list[PointQuality] = field(default_factory=list)

    @property
    def accuracy_deg(self) -> float:
        a = [p.accuracy_deg for p in self.points if np.isfinite(p.accuracy_deg)]
        return float(np.mean(a)) if a else float("nan")

    @property
    def max_accuracy_deg(self) -> float:
        a = [p.accuracy_deg for p in self.points if np.isfinite(p.accuracy_deg)]
        return float(np.max(a)) if a else float("nan")

    @property
    def precision_rms_deg(self) -> float:
        a = [p.precision_rms_deg for p in self.points if np.isfinite(p.precision_rms_deg)]
        return float(np.mean(a)) if a else float("nan")

    def passed(self, threshold_deg: float) -> bool:
        acc = self.accuracy_deg
        return bool(np.isfinite(acc) and acc <= threshold_deg and all(np.isfinite(p.accuracy_deg) for p in self.points))

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else round(float(v), 4)

        return {
            "accuracy_deg": num(self.accuracy_deg),
            "max_accuracy_deg": num(self.max_accuracy_deg),
            "precision_rms_deg": num(self.precision_rms_deg),
            "points": [
                {"x_norm": p.point_norm[0], "y_norm": p.point_norm[1], "accuracy_deg": num(p.accuracy_deg),
                 "precision_rms_deg": num(p.precision_rms_deg), "n_samples": p.n_samples,
                 "valid_fraction": round(p.valid_fraction, 4)}
                for p in self.points
            ],
        }


def _angles(vx: np.ndarray, vy: np.ndarray, vz: np.ndarray, wx, wy, wz) -> np.ndarray:
    cx = vy * wz - vz * wy
    cy = vz * wx - vx * wz
    cz = vx * wy - vy * wx
    return np.degrees(np.arctan2(np.sqrt(cx * cx + cy * cy + cz * cz), vx * wx + vy * wy + vz * wz))


def point_quality(block: dict[str, np.ndarray], target_norm: tuple[float, float], area: DisplayArea,
                  distance_mm: float) -> PointQuality:
    """Accuracy and precision of one validation point from the samples recorded there.

    Parameters
    ----------
    block : dict
        Gaze sample block (Tobii SDK fields) of the samples to evaluate.
    target_norm : (float, float)
        Target, normalised display coordinates.
    area : DisplayArea
        Display area in UCS (mm).
    distance_mm : float
        Viewing distance used where the eye position is unknown.
    """
    w, h = area.size_mm
    tx, ty = target_norm[0] * w, target_norm[1] * h
    n = len(block["system_time_stamp"])
    accs, precs, valid_any = [], [], np.zeros(n, dtype=bool)
    for eye in ("left", "right"):
        valid = np.asarray(block[f"{eye}_gaze_point_valid"], bool)
        valid_any |= valid
        if valid.sum() == 0:
            continue
        gx = np.asarray(block[f"{eye}_gaze_point_on_display_area_x"], float)[valid] * w
        gy = np.asarray(block[f"{eye}_gaze_point_on_display_area_y"], float)[valid] * h
        ox = np.asarray(block[f"{eye}_gaze_origin_in_user_coordinates_x"], float)[valid]
        oy = np.asarray(block[f"{eye}_gaze_origin_in_user_coordinates_y"], float)[valid]
        oz = np.asarray(block[f"{eye}_gaze_origin_in_user_coordinates_z"], float)[valid]
        ex, ey, ez = area.ucs_to_display_mm(ox, oy, oz)
        missing = ~(np.isfinite(ex) & np.isfinite(ey) & np.isfinite(ez))
        ex = np.where(missing, w / 2.0, ex)
        ey = np.where(missing, h / 2.0, ey)
        ez = np.where(missing, distance_mm, ez)
        # vectors eye -> gaze and eye -> target (screen plane z = 0)
        vx, vy, vz = gx - ex, gy - ey, -ez
        accs.append(float(np.mean(_angles(vx, vy, vz, tx - ex, ty - ey, -ez))))
        if len(gx) > 1:
            s2s = _angles(vx[1:], vy[1:], vz[1:], vx[:-1], vy[:-1], vz[:-1])
            precs.append(float(np.sqrt(np.mean(s2s ** 2))))
    return PointQuality(
        point_norm=(float(target_norm[0]), float(target_norm[1])),
        accuracy_deg=float(np.mean(accs)) if accs else float("nan"),
        precision_rms_deg=float(np.mean(precs)) if precs else float("nan"),
        n_samples=n,
        valid_fraction=float(valid_any.mean()) if n else 0.0,
    )
