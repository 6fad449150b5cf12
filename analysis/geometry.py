"""Visual-angle geometry shared by the fixation filters and the quality measures.

The angle between two gaze points is measured **from the eye**, with exact 3-D
geometry (not the small-angle shortcut), as the Tobii I-VT velocity calculator does
(Olsen, 2012, sec. 2.4: "the visual angle between the two gaze points ... calculated
using the eye position"). When the tracker gives no eye position, the eye is placed
at the viewing distance in front of the screen centre.
"""

from __future__ import annotations

import numpy as np

from analysis.recording import Geometry


def px_to_mm(x_px: np.ndarray, y_px: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Convert screen pixels to millimetres on the display area (same origin)."""
    sx, sy = geometry.mm_per_px
    return np.asarray(x_px, dtype=np.float64) * sx, np.asarray(y_px, dtype=np.float64) * sy


def default_eye_position(geometry: Geometry) -> tuple[float, float, float]:
    """Eye in front of the screen centre at the viewing distance (display-area mm)."""
    return geometry.screen_mm[0] / 2.0, geometry.screen_mm[1] / 2.0, float(geometry.distance_mm)


def angle_between_deg(
    x1_px: np.ndarray,
    y1_px: np.ndarray,
    x2_px: np.ndarray,
    y2_px: np.ndarray,
    geometry: Geometry,
    eye_x_mm: np.ndarray | float | None = None,
    eye_y_mm: np.ndarray | float | None = None,
    eye_z_mm: np.ndarray | float | None = None,
) -> np.ndarray:
    """Visual angle (degrees) between gaze points 1 and 2 seen from the eye.

    Parameters
    ----------
    x1_px, y1_px, x2_px, y2_px : array_like
        Gaze points on the screen in pixels (top-left origin).
    geometry : Geometry
        Screen size and resolution; its viewing distance is used where the eye
        position is missing (NaN or ``None``).
    eye_x_mm, eye_y_mm, eye_z_mm : array_like or float, optional
        Eye (gaze origin) in display-area coordinates, mm; ``z`` is the distance to
        the screen plane.

    Returns
    -------
    numpy.ndarray
        Angles in degrees; NaN where a gaze point is NaN.

    Examples
    --------
    >>> g = Geometry((1000, 1000), (500.0, 500.0), 500.0)
    >>> round(float(angle_between_deg(500, 500, 500 + 1000 * np.tan(np.radians(1)), 500, g)[()]), 6)
    1.0
    """
    ax, ay = px_to_mm(x1_px, y1_px, geometry)
    bx, by = px_to_mm(x2_px, y2_px, geometry)
    dx, dy, dz = default_eye_position(geometry)
    ex = np.asarray(dx if eye_x_mm is None else eye_x_mm, dtype=np.float64)
    ey = np.asarray(dy if eye_y_mm is None else eye_y_mm, dtype=np.float64)
    ez = np.asarray(dz if eye_z_mm is None else eye_z_mm, dtype=np.float64)
    missing = np.isnan(ex) | np.isnan(ey) | np.isnan(ez)
    if np.any(missing):
        ex = np.where(missing, dx, ex)
        ey = np.where(missing, dy, ey)
        ez = np.where(missing, dz, ez)
    # vectors from the eye to each gaze point (screen plane is z = 0)
    v1x, v1y, v1z = ax - ex, ay - ey, -ez
    v2x, v2y, v2z = bx - ex, by - ey, -ez
    cx = v1y * v2z - v1z * v2y
    cy = v1z * v2x - v1x * v2z
    cz = v1x * v2y - v1y * v2x
    cross = np.sqrt(cx * cx + cy * cy + cz * cz)
    dot = v1x * v2x + v1y * v2y + v1z * v2z
    return np.degrees(np.arctan2(cross, dot))
