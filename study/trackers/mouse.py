"""Mouse as gaze, for piloting a session without an eye tracker.

The pointer position is sampled once per drawn frame (PsychoPy's mouse can only be
read from the drawing thread), so the sampling rate is the screen refresh rate. Both
eyes get the pointer position; pupil and eye position are unknown (NaN, invalid).
"""

from __future__ import annotations

import numpy as np

from study.errors import StudyError
from study.trackers.base import DisplayArea, Tracker, TrackerInfo, empty_gaze_block, system_time_us


class MouseTracker(Tracker):
    """Pointer position as gaze; needs the PsychoPy presenter's window.

    Parameters
    ----------
    screen_px, screen_mm : tuple
        Screen resolution and size (display area centred above the origin).
    refresh_hz : float
        Screen refresh rate = sampling rate.
    """

    def __init__(self, *, screen_px: tuple[int, int], screen_mm: tuple[float, float], refresh_hz: float) -> None:
        super().__init__()
        self.screen_px = screen_px
        self.display_area = DisplayArea.centred_above_tracker(screen_mm)
        self.info = TrackerInfo(manufacturer="artgaze", model="Mouse (pilot; not an eye tracker)", serial="n/a",
                                sampling_rate_hz=float(refresh_hz), address="mouse")
        self._mouse = None
        self._running = False
        self._last_ts = -1

    def attach_window(self, win) -> None:
        """Attach the PsychoPy window whose mouse is read."""
        from psychopy import event

        self._mouse = event.Mouse(win=win, visible=True)

    def connect(self) -> TrackerInfo:
        return self.info

    def start(self) -> None:
        if self._mouse is None:
            raise StudyError("the mouse tracker needs a window", column="--tracker mouse",
                             fix="run with the PsychoPy presenter (not --headless)")
        self._running = True

    def stop(self) -> None:
        self._running = False

    def now_us(self) -> int:
        return system_time_us()

    def on_frame(self, t_us: int) -> None:
        if not self._running or self._mouse is None or t_us <= self._last_ts:
            return
        x, y = self._mouse.getPos()  # pix units, centre origin, y up
        w, h = self.screen_px
        nx, ny = (x + w / 2.0) / w, (h / 2.0 - y) / h
        b = empty_gaze_block(1)
        b["system_time_stamp"][:] = t_us
        b["device_time_stamp"][:] = t_us
        for eye in ("left", "right"):
            b[f"{eye}_gaze_point_on_display_area_x"][:] = nx
            b[f"{eye}_gaze_point_on_display_area_y"][:] = ny
            b[f"{eye}_gaze_point_valid"][:] = bool(np.isfinite(nx) and np.isfinite(ny))
        self._last_ts = t_us
        self._emit(b)
