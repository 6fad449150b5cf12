"""The tracker interface, the gaze sample block every tracker emits, and display geometry.

Gaze sample block
-----------------
Every tracker (Tobii, simulated, mouse) hands the recorder *sample blocks*: a ``dict``
mapping each name in :data:`GAZE_FIELDS` to a 1-D numpy array, all of the same length,
one element per sample. The names and meanings are those of the Tobii Pro SDK
``GazeData`` stream as TittaPy 2 returns it from ``EyeTracker.consume_N("gaze")``
(Tobii Pro SDK Python reference, "GazeData"; Niehorster, Andersson & Nyström (2020),
"Titta: A toolbox for creating PsychToolbox and Psychopy experiments with Tobii eye
trackers", Behavior Research Methods 52, 1970-1979):

========================================================  =======  =====================================
field                                                     dtype    meaning
========================================================  =======  =====================================
``system_time_stamp``                                     int64    µs, the SDK system clock
                                                                   (``TittaPy_v2.get_system_timestamp``,
                                                                   CLOCK_MONOTONIC on Linux); strictly
                                                                   increasing
``device_time_stamp``                                     int64    µs, the tracker's own clock
``{eye}_gaze_point_on_display_area_x`` / ``_y``           float64  gaze on the display area, normalised
                                                                   0..1, origin top-left, x right, y down
                                                                   (Tobii "Active Display Coordinate
                                                                   System"); NaN when invalid
``{eye}_gaze_point_valid``                                bool     the gaze point is valid
``{eye}_pupil_diameter``                                  float64  mm; NaN when invalid
``{eye}_pupil_valid``                                     bool
``{eye}_gaze_origin_in_user_coordinates_x`` / ``_y`` /    float64  eye position in mm in the Tobii
``_z``                                                             "User Coordinate System" (UCS):
                                                                   origin at the centre of the tracker's
                                                                   front panel, x to the user's right...
                                                                   (see :class:`DisplayArea`); NaN when
                                                                   invalid
``{eye}_gaze_origin_valid``                               bool
========================================================  =======  =====================================

with ``{eye}`` in ``left``/``right``. :func:`empty_gaze_block` builds a block and
:func:`check_gaze_block` validates one.

UCS and the display area
------------------------
Tobii UCS (Tobii Pro SDK, "Coordinate systems"): millimetres, origin in the centre of
the eye tracker's front panel, x horizontal pointing to the user's right, y vertical
pointing up, z pointing towards the user. The display area is given by the UCS
positions of its top-left, top-right and bottom-left corners (the SDK's
``DisplayArea``). :meth:`DisplayArea.centred_above_tracker` gives the geometry used for
simulated trackers: the screen centred horizontally above the tracker origin, in the
plane z = 0, not tilted, its bottom edge ``bottom_mm`` above the origin.
:meth:`DisplayArea.ucs_to_display_mm` converts UCS points to the display-area
coordinates of docs/formats.md §2 (origin at the display area's top-left, x right,
y down, z towards the viewer), the frame of the BIDS ``eye_x/eye_y/eye_z`` columns.
"""

from __future__ import annotations

import abc
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

EYES = ("left", "right")


def _eye_fields(eye: str) -> list[tuple[str, str]]:
    return [
        (f"{eye}_gaze_point_on_display_area_x", "float64"),
        (f"{eye}_gaze_point_on_display_area_y", "float64"),
        (f"{eye}_gaze_point_valid", "bool"),
        (f"{eye}_pupil_diameter", "float64"),
        (f"{eye}_pupil_valid", "bool"),
        (f"{eye}_gaze_origin_in_user_coordinates_x", "float64"),
        (f"{eye}_gaze_origin_in_user_coordinates_y", "float64"),
        (f"{eye}_gaze_origin_in_user_coordinates_z", "float64"),
        (f"{eye}_gaze_origin_valid", "bool"),
    ]


#: Field name -> numpy dtype of a gaze sample block, in recording-file column order.
GAZE_FIELDS: dict[str, str] = dict(
    [("system_time_stamp", "int64"), ("device_time_stamp", "int64")] + _eye_fields("left") + _eye_fields("right")
)
GAZE_FIELD_NAMES: tuple[str, ...] = tuple(GAZE_FIELDS)


def empty_gaze_block(n: int) -> dict[str, np.ndarray]:
    """A block of ``n`` samples: zero timestamps, NaN values, everything invalid."""
    block: dict[str, np.ndarray] = {}
    for name, dtype in GAZE_FIELDS.items():
        if dtype == "int64":
            block[name] = np.zeros(n, dtype=np.int64)
        elif dtype == "bool":
            block[name] = np.zeros(n, dtype=bool)
        else:
            block[name] = np.full(n, np.nan)
    return block


def check_gaze_block(block: dict[str, Any]) -> dict[str, np.ndarray]:
    """Validate a sample block and return it with every field as a numpy array of its dtype.

    Raises
    ------
    ValueError
        A field is missing, lengths differ, or timestamps are not strictly increasing.
        (Programming errors of a tracker, not user input.)
    """
    missing = [f for f in GAZE_FIELD_NAMES if f not in block]
    if missing:
        raise ValueError(f"gaze block lacks fields {missing}")
    out = {f: np.asarray(block[f]).astype(GAZE_FIELDS[f], copy=False) for f in GAZE_FIELD_NAMES}
    n = len(out["system_time_stamp"])
    bad = [f for f, a in out.items() if a.ndim != 1 or len(a) != n]
    if bad:
        raise ValueError(f"gaze block fields {bad} are not 1-D arrays of length {n}")
    if n > 1 and np.any(np.diff(out["system_time_stamp"]) <= 0):
        raise ValueError("gaze block system_time_stamp is not strictly increasing")
    return out


def concat_gaze_blocks(blocks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate sample blocks field by field (empty list -> empty block)."""
    if not blocks:
        return empty_gaze_block(0)
    return {f: np.concatenate([b[f] for b in blocks]) for f in GAZE_FIELD_NAMES}


def system_time_us() -> int:
    """Now on the Tobii SDK system clock, in µs.

    TittaPy's ``get_system_timestamp`` when TittaPy is installed, else the same clock
    read directly (on Linux the SDK clock is ``CLOCK_MONOTONIC``; the two agree to a
    few µs), so timestamps of simulated and real trackers live on one clock and
    different processes of one session (e.g. a resumed one) share it.
    """
    if _TITTA_TS is not None:
        return int(_TITTA_TS())
    return time.monotonic_ns() // 1000


try:  # pragma: no cover - depends on the installed extra
    from TittaPy_v2 import get_system_timestamp as _TITTA_TS  # type: ignore[import-not-found]
except Exception:  # noqa: BLE001 - any import failure means "not available"
    _TITTA_TS = None


@dataclass(frozen=True)
class DisplayArea:
    """The display area in the Tobii User Coordinate System (UCS), mm.

    Parameters
    ----------
    top_left, top_right, bottom_left : (float, float, float)
        UCS positions (mm) of the display area's corners, as the Tobii SDK's
        ``DisplayArea`` gives them.
    """

    top_left: tuple[float, float, float]
    top_right: tuple[float, float, float]
    bottom_left: tuple[float, float, float]

    @classmethod
    def centred_above_tracker(cls, screen_mm: tuple[float, float], bottom_mm: float = 20.0) -> DisplayArea:
        """Screen centred above the tracker origin, in the plane z = 0, no tilt.

        ``bottom_mm`` (default 20 mm) is the height of the screen's bottom edge above the
        UCS origin, roughly a screen-integrated tracker such as the T60 (Tobii T60/T120
        User Manual, fig. "User coordinate system").
        """
        w, h = float(screen_mm[0]), float(screen_mm[1])
        return cls(
            top_left=(-w / 2.0, bottom_mm + h, 0.0),
            top_right=(w / 2.0, bottom_mm + h, 0.0),
            bottom_left=(-w / 2.0, bottom_mm, 0.0),
        )

    def _axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
        tl = np.asarray(self.top_left, dtype=np.float64)
        ex = np.asarray(self.top_right, dtype=np.float64) - tl
        ey = np.asarray(self.bottom_left, dtype=np.float64) - tl
        w = float(np.linalg.norm(ex))
        h = float(np.linalg.norm(ey))
        ux, uy = ex / w, ey / h
        uz = np.cross(uy, ux)  # towards the viewer (y down x x right = +z towards user)
        return tl, ux, uy, uz, w, h

    @property
    def size_mm(self) -> tuple[float, float]:
        """Width and height of the display area (mm)."""
        _, _, _, _, w, h = self._axes()
        return w, h

    def ucs_to_display_mm(self, x, y, z) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """UCS points (mm) -> display-area coordinates (mm): origin top-left, x right, y down, z to viewer."""
        tl, ux, uy, uz, _, _ = self._axes()
        p = np.stack([np.asarray(x, float), np.asarray(y, float), np.asarray(z, float)], axis=-1) - tl
        return p @ ux, p @ uy, p @ uz

    def display_mm_to_ucs(self, dx, dy, dz) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Display-area coordinates (mm) -> UCS (mm); inverse of :meth:`ucs_to_display_mm`."""
        tl, ux, uy, uz, _, _ = self._axes()
        dx, dy, dz = (np.asarray(v, float) for v in (dx, dy, dz))
        p = tl + dx[..., None] * ux + dy[..., None] * uy + dz[..., None] * uz
        return p[..., 0], p[..., 1], p[..., 2]

    def norm_to_ucs(self, nx, ny) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Normalised display-area point (0..1, top-left origin) -> UCS point on the screen (mm)."""
        w, h = self.size_mm
        return self.display_mm_to_ucs(np.asarray(nx, float) * w, np.asarray(ny, float) * h, np.zeros_like(np.asarray(nx, float)))


@dataclass
class Scene:
    """What is on the screen, as the protocol tells the tracker (and the gaze model).

    Parameters
    ----------
    kind : str
        ``"cross"``, ``"stimulus"``, ``"blank"``, ``"calibration_point"`` or ``"text"``.
    point_px : (float, float), optional
        Target (fixation cross, calibration/validation point) in screen px, top-left origin.
    aoi_px : (float, float, float, float), optional
        Stimulus rectangle (left, top, right, bottom) in screen px.
    stimulus_id : str, optional
        Manifest ``stimulus_id`` of the stimulus shown.
    expected_duration_s : float, optional
        How long the protocol will show the scene (the gaze model scales its targets).

    Same fields as ``study.oculomotor.Scene``; the simulated tracker converts one into the other.
    """

    kind: str
    point_px: tuple[float, float] | None = None
    aoi_px: tuple[float, float, float, float] | None = None
    stimulus_id: str | None = None
    expected_duration_s: float | None = None

    KINDS = ("cross", "stimulus", "blank", "calibration_point", "text")

    def __post_init__(self) -> None:
        if self.kind not in self.KINDS:
            raise ValueError(f"scene kind {self.kind!r} not in {self.KINDS}")


@dataclass
class TrackerInfo:
    """Identity of the tracker, written into the physio sidecars."""

    manufacturer: str
    model: str
    serial: str
    firmware: str = "n/a"
    sampling_rate_hz: float = 60.0
    address: str = ""
    software: dict[str, str] = field(default_factory=dict)


SampleSink = Callable[[dict[str, np.ndarray]], None]


class Tracker(abc.ABC):
    """Common interface of the Tobii, simulated and mouse trackers.

    Life cycle: ``connect()`` -> ``set_sink(sink)`` -> ``start()`` ... ``stop()`` ->
    ``close()``. While started, every sample block goes to the sink (the recorder's
    ``push_samples``), from the tracker's own thread for real-time trackers.

    The protocol calls :meth:`scene_changed` right after each screen flip with the flip
    time on the tracker clock, :meth:`on_frame` once per drawn frame, and, when it runs
    on a virtual clock, :meth:`advance` to let time pass.
    """

    #: True when the tracker can run on a virtual clock (``advance``), i.e. faster than real time.
    supports_virtual_clock: bool = False
    #: True when the protocol must compute calibration itself (no hardware calibration).
    info: TrackerInfo
    display_area: DisplayArea

    def __init__(self) -> None:
        self._sink: SampleSink | None = None

    def set_sink(self, sink: SampleSink) -> None:
        """Where sample blocks go (called before :meth:`start`)."""
        self._sink = sink

    def _emit(self, block: dict[str, np.ndarray]) -> None:
        if self._sink is not None and len(block["system_time_stamp"]):
            self._sink(block)

    @abc.abstractmethod
    def connect(self) -> TrackerInfo:
        """Find and open the tracker; raise :class:`study.errors.StudyError` when there is none."""

    @abc.abstractmethod
    def start(self) -> None:
        """Start streaming gaze samples to the sink."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop streaming; every sample received so far has been handed to the sink."""

    def close(self) -> None:
        """Release the device."""

    def now_us(self) -> int:
        """Now on the tracker clock (µs); the system clock by default."""
        return system_time_us()

    def scene_changed(self, scene: Scene, t_us: int) -> None:
        """The screen changed to ``scene`` at tracker time ``t_us`` (flip time)."""

    def on_frame(self, t_us: int) -> None:
        """Called once per drawn frame (the mouse tracker samples here)."""

    def advance(self, until_us: int) -> None:
        """Virtual clock only: produce every sample up to ``until_us``."""
        raise NotImplementedError(f"{type(self).__name__} runs in real time only")

    # -- calibration -----------------------------------------------------------------
    def calibration_begin(self) -> None:
        """Enter calibration mode (Tobii); no-op for trackers without calibration."""

    def calibration_collect(self, point_norm: tuple[float, float]) -> None:
        """Collect calibration data at a normalised display point (the participant looks at it)."""

    def calibration_end(self) -> dict[str, Any]:
        """Compute and apply the calibration, leave calibration mode; returns a result summary."""
        return {"status": "not_applicable"}
