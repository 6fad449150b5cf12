"""Presenters: draw the protocol's screens and time them on the tracker clock.

* :class:`PsychoPyPresenter`: a PsychoPy window. Every screen change is a
  ``win.flip()``; the flip timestamp (PsychoPy clock) is mapped to the tracker clock
  with :class:`ClockMap` and is the event onset. Dropped frames are counted with
  PsychoPy's frame-interval recording (``win.nDroppedFrames``; a frame counts as
  dropped when its interval exceeds ``refreshThreshold`` = 1.2 refresh periods, the
  PsychoPy default).
* :class:`HeadlessPresenter`: no window, same protocol steps. On the *virtual* clock
  time is the tracker's time and advances only when the protocol waits (so a session
  runs faster than real time); on the *real* clock it sleeps.

Both call ``tracker.scene_changed(scene, onset_us)`` right after each flip.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from study.errors import StudyError
from study.trackers.base import Scene, Tracker, system_time_us

log = logging.getLogger(__name__)


class SessionAborted(Exception):
    """The experimenter pressed Escape; the recording stays resumable."""


class ClockMap:
    """Map a local clock (s) to the tracker clock (µs): ``tracker_us = local_s * 1e6 + offset``.

    The offset is estimated by bracketing a tracker-clock read between two local reads
    and keeping the tightest of ``n`` tries (Cristian's algorithm); with TittaPy the
    tracker clock is the SDK's ``get_system_timestamp``.
    """

    def __init__(self, local_now: Callable[[], float], tracker_now: Callable[[], int]) -> None:
        self.local_now = local_now
        self.tracker_now = tracker_now
        self.offset_us = 0.0
        self.uncertainty_us = float("inf")
        self.syncs: list[dict[str, float]] = []

    def sync(self, n: int = 20) -> None:
        best = None
        for _ in range(n):
            a = self.local_now()
            t = self.tracker_now()
            b = self.local_now()
            rtt = (b - a) * 1e6
            if best is None or rtt < best[0]:
                best = (rtt, t - (a + b) / 2 * 1e6)
        assert best is not None
        self.offset_us, self.uncertainty_us = best[1], best[0] / 2
        self.syncs.append({"offset_us": round(self.offset_us, 1), "uncertainty_us": round(self.uncertainty_us, 1)})

    def to_tracker(self, local_s: float) -> int:
        return int(round(local_s * 1e6 + self.offset_us))


class Presenter:
    """Common part of the presenters (see module docstring)."""

    virtual = False

    def __init__(self, tracker: Tracker, screen_px: tuple[int, int], auto_response_s: float, responder: str) -> None:
        self.tracker = tracker
        self.screen_px = screen_px
        self.auto_response_s = auto_response_s
        self.responder = responder
        self.on_tick: Callable[[], None] | None = None
        self.dropped_frames = 0
        self.current: Scene | None = None

    @property
    def centre(self) -> tuple[float, float]:
        return (self.screen_px[0] / 2.0, self.screen_px[1] / 2.0)

    def now_us(self) -> int:
        raise NotImplementedError

    def _tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick()

    def close(self) -> None:
        pass


class HeadlessPresenter(Presenter):
    """No window. ``clock="virtual"``: time advances only in :meth:`hold_until` (needs a
    tracker that supports the virtual clock); ``clock="real"``: sleeps in real time."""

    def __init__(self, tracker: Tracker, screen_px: tuple[int, int], *, clock: str = "virtual",
                 auto_response_s: float = 0.5, responder: str = "auto", t0_us: int | None = None,
                 step_s: float = 1.0) -> None:
        super().__init__(tracker, screen_px, auto_response_s, responder)
        if responder != "auto":
            raise StudyError("a headless session has no keyboard", column="--responder",
                             expected="--responder auto with --headless")
        if clock not in ("virtual", "real"):
            raise ValueError(clock)
        self.virtual = clock == "virtual"
        if self.virtual and not tracker.supports_virtual_clock:
            raise StudyError(f"the {type(tracker).__name__} cannot run on a virtual clock", column="--clock",
                             fix="use --clock real, or the simulated tracker")
        self._now = int(t0_us) if t0_us is not None else system_time_us()
        self.step_s = step_s

    def now_us(self) -> int:
        return self._now if self.virtual else system_time_us()

    def start_time_us(self) -> int:
        return self.now_us()

    def show(self, scene: Scene, *, image: Path | None = None, size_px: tuple[int, int] | None = None,
             text: str | None = None) -> int:
        onset = self.now_us()
        self.current = scene
        self.tracker.scene_changed(scene, onset)
        return onset

    def hold_until(self, t_us: int) -> int:
        while True:
            now = self.now_us()
            if now >= t_us:
                break
            nxt = min(int(t_us), now + int(self.step_s * 1e6))
            if self.virtual:
                self.tracker.advance(nxt)
                self._now = nxt
            else:
                time.sleep(max(0.0, (nxt - now) / 1e6))
            self._tick()
        return self.now_us()

    def wait_response(self, keys: tuple[str, ...] = ("space",)) -> str:
        self.hold_until(self.now_us() + int(self.auto_response_s * 1e6))
        return keys[0]

    def text_entry(self, prompt: str, auto_value: str) -> str:
        self.hold_until(self.now_us() + int(self.auto_response_s * 1e6))
        return auto_value


_KEY_CHARS = {"space": " ", "period": ".", "minus": "-", "comma": ",", "slash": "/", "underscore": "_"}


class PsychoPyPresenter(Presenter):
    """A PsychoPy window in pixel units (centre origin, y up; converted to top-left px here).

    Parameters
    ----------
    tracker : Tracker
    screen_px : (int, int)
        Window size; must match the screen the tracker's display area describes.
    fullscreen : bool
    screen_index : int
    screen_mm, distance_mm : physical screen size and viewing distance (PsychoPy monitor)
    refresh_hz : float
        Nominal refresh rate (frame pacing where the driver does not block on flip, e.g. Xvfb).
    background, foreground : rgb in -1..1
    responder : ``"keyboard"`` or ``"auto"``
    """

    def __init__(self, tracker: Tracker, screen_px: tuple[int, int], *, fullscreen: bool, screen_index: int,
                 refresh_hz: float, background, foreground, auto_response_s: float, responder: str,
                 screen_mm: tuple[float, float] = (338.0, 270.0), distance_mm: float = 650.0) -> None:
        super().__init__(tracker, screen_px, auto_response_s, responder)
        try:
            from psychopy import core, event, visual
        except Exception as exc:  # noqa: BLE001
            raise StudyError(f"PsychoPy could not start ({exc})",
                             fix='install it (pip install -e ".[study]") and run on a display (or under '
                                 'xvfb-run), or use --headless') from None
        self._core, self._event, self._visual = core, event, visual
        try:
            from psychopy import monitors

            mon = monitors.Monitor("artgaze", width=screen_mm[0] / 10.0, distance=distance_mm / 10.0, autoLog=False)
            mon.setSizePix(list(screen_px))
            self.win = visual.Window(size=list(screen_px), fullscr=fullscreen, screen=screen_index, units="pix",
                                     monitor=mon,
                                     color=list(background), colorSpace="rgb", allowGUI=False, waitBlanking=True,
                                     checkTiming=False)
        except Exception as exc:  # noqa: BLE001 - no display, GL failure
            raise StudyError(f"could not open a PsychoPy window ({exc})",
                             fix="run on a machine with a display, or under xvfb-run, or use --headless") from None
        actual = tuple(int(v) for v in self.win.size)
        if actual != tuple(screen_px):
            self.win.close()
            raise StudyError(f"the window is {actual[0]}x{actual[1]} px but [screen] resolution_px is "
                             f"{screen_px[0]}x{screen_px[1]}", column="screen.resolution_px",
                             expected="the screen's real resolution (the AOIs are computed from it)",
                             fix="set [screen] resolution_px (and size_mm) to the display's values")
        self.win.mouseVisible = responder != "auto"
        self.frame_s = 1.0 / refresh_hz
        self.win.recordFrameIntervals = True
        self.win.refreshThreshold = 1.2 * self.frame_s
        self.fg = list(foreground)
        self.clock = ClockMap(core.getTime, tracker.now_us)
        self.clock.sync()
        self._drawables: list = []
        self._image_cache: dict[str, object] = {}
        self._last_flip = core.getTime()
        if hasattr(tracker, "attach_window"):
            tracker.attach_window(self.win)

    def now_us(self) -> int:
        return self.clock.to_tracker(self._core.getTime())

    def to_pix(self, point_px: tuple[float, float]) -> tuple[float, float]:
        """Top-left screen px -> PsychoPy pix units (centre origin, y up)."""
        return (point_px[0] - self.screen_px[0] / 2.0, self.screen_px[1] / 2.0 - point_px[1])

    def preload(self, image: Path, size_px: tuple[int, int]) -> None:
        """Load and scale an image once (Lanczos, in PIL) so it is drawn 1:1, pixel for pixel.

        Scaling on the CPU with a Lanczos filter instead of OpenGL's bilinear sampling keeps
        the reconstructed artworks' detail (no aliasing on downscaling) and makes every
        displayed pixel well defined.
        """
        key = f"{image}|{size_px}"
        if key not in self._image_cache:
            from PIL import Image

            with Image.open(image) as im:
                scaled = im.convert("RGB").resize((int(size_px[0]), int(size_px[1])), Image.LANCZOS)
            self._image_cache[key] = self._visual.ImageStim(self.win, image=scaled, size=list(size_px), units="pix",
                                                            pos=(0, 0), interpolate=False)

    def _build(self, scene: Scene, image: Path | None, size_px, text: str | None) -> list:
        v = self._visual
        out: list = []
        if scene.kind == "stimulus" and image is not None:
            self.preload(image, size_px)
            stim = self._image_cache[f"{image}|{size_px}"]
            if scene.aoi_px is not None:
                l, t, r, b = scene.aoi_px
                stim.pos = self.to_pix(((l + r) / 2.0, (t + b) / 2.0))
            out.append(stim)
        elif scene.kind == "cross":
            x, y = self.to_pix(scene.point_px or self.centre)
            out += [v.Rect(self.win, width=40, height=4, pos=(x, y), fillColor=self.fg, lineColor=None),
                    v.Rect(self.win, width=4, height=40, pos=(x, y), fillColor=self.fg, lineColor=None)]
        elif scene.kind == "calibration_point":
            x, y = self.to_pix(scene.point_px or self.centre)
            out += [v.Circle(self.win, radius=15, pos=(x, y), fillColor=self.fg, lineColor=None),
                    v.Circle(self.win, radius=3, pos=(x, y), fillColor=[-1, -1, -1], lineColor=None)]
        if text:
            out.append(v.TextStim(self.win, text=text, color=self.fg, height=28, wrapWidth=self.screen_px[0] * 0.8,
                                  pos=(0, 0) if scene.kind == "text" else (0, -self.screen_px[1] * 0.4)))
        return out

    def _flip(self) -> int:
        # frame pacing where flip does not block on vertical blank (Xvfb, some drivers)
        wait = self._last_flip + self.frame_s * 0.95 - self._core.getTime()
        if wait > 0:
            time.sleep(wait)
        for d in self._drawables:
            d.draw()
        t = self.win.flip()
        self._last_flip = t
        onset = self.clock.to_tracker(t)
        self.tracker.on_frame(onset)
        if self._event.getKeys(keyList=["escape"]):
            raise SessionAborted("escape pressed")
        self.dropped_frames = int(self.win.nDroppedFrames)
        return onset

    def show(self, scene: Scene, *, image: Path | None = None, size_px: tuple[int, int] | None = None,
             text: str | None = None) -> int:
        self._drawables = self._build(scene, image, size_px, text)
        onset = self._flip()
        self.current = scene
        self.tracker.scene_changed(scene, onset)
        return onset

    def hold_until(self, t_us: int) -> int:
        last = self.now_us()
        # flip until the next flip would land at or after t_us
        while last + self.frame_s * 1e6 / 2 < t_us:
            last = self._flip()
            self._tick()
        return last

    def wait_response(self, keys: tuple[str, ...] = ("space",)) -> str:
        if self.responder == "auto":
            self.hold_until(self.now_us() + int(self.auto_response_s * 1e6))
            return keys[0]
        self._event.clearEvents()
        while True:
            self._flip()
            self._tick()
            got = self._event.getKeys(keyList=list(keys))
            if got:
                return got[0]

    def text_entry(self, prompt: str, auto_value: str) -> str:
        if self.responder == "auto":
            self._drawables = self._build(Scene("text"), None, None, f"{prompt}\n\n{auto_value}")
            self.hold_until(self.now_us() + int(self.auto_response_s * 1e6))
            return auto_value
        typed = ""
        self._event.clearEvents()
        while True:
            self._drawables = self._build(Scene("text"), None, None, f"{prompt}\n\n{typed}_")
            self._flip()
            for k in self._event.getKeys():
                if k in ("return", "num_enter"):
                    return typed
                if k == "backspace":
                    typed = typed[:-1]
                elif k.startswith("num_") and len(k) == 5:
                    typed += k[-1]
                elif len(k) == 1:
                    typed += k
                elif k in _KEY_CHARS:
                    typed += _KEY_CHARS[k]

    def close(self) -> None:
        try:
            self.win.close()
        except Exception:  # noqa: BLE001 - closing twice etc.
            pass
