"""Simulated eye tracker: a :class:`study.oculomotor.GazeModel` behind the Tobii interface.

It emits sample blocks shaped like the Tobii SDK gaze data (:data:`GAZE_FIELDS`) into the
same recorder as the Tobii tracker. Two clocks:

* **real time** (``realtime=True``): a thread wakes every ``block_s`` (default 20 ms),
  asks the model for the samples between the last block and *now* on the system clock
  (the Tobii SDK clock) and emits them, like the Tobii SDK's gaze callback;
* **virtual** (``realtime=False``): no thread; the protocol's virtual clock calls
  :meth:`advance` and the samples up to that time are generated synchronously, so a
  session runs as fast as the CPU allows.

Either way, :meth:`scene_changed` first generates the samples up to the flip with the
old scene, then switches the model to the new one, so the samples after a flip belong
to the scene that was on screen.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from study.trackers.base import DisplayArea, Scene, Tracker, TrackerInfo, check_gaze_block, system_time_us

log = logging.getLogger(__name__)


class SimulatedTracker(Tracker):
    """A tracker driven by a gaze model.

    Parameters
    ----------
    model : object
        Anything with ``generate(t0_us, duration_s, scene) -> (samples, events)`` (the
        ``study.oculomotor.GazeModel`` interface); its scenes are built by ``scene_type``.
    rate_hz : float
        Nominal sampling rate (the model's), written to the sidecar.
    screen_mm : (float, float)
        Display size; the display area is :meth:`DisplayArea.centred_above_tracker`.
    realtime : bool
        Real-time thread (True) or virtual clock (False).
    serial : str
        Pseudo serial number written to the sidecar (e.g. ``SIM-<seed>``).
    scene_type : callable, optional
        Builds the model's scene from the protocol's :class:`Scene` fields; default
        ``study.oculomotor.Scene``.
    on_truth : callable, optional
        Receives the model's ground-truth event lists (the simulator saves them).
    block_s : float
        Real-time emission period (20 ms; Tobii SDK callbacks deliver a few samples each).
    """

    supports_virtual_clock = True

    def __init__(self, model: Any, *, rate_hz: float, screen_mm: tuple[float, float], realtime: bool,
                 serial: str = "SIM-0", scene_type: Callable[..., Any] | None = None,
                 on_truth: Callable[[list[dict]], None] | None = None, block_s: float = 0.02) -> None:
        super().__init__()
        self.model = model
        self.realtime = bool(realtime)
        self.display_area = DisplayArea.centred_above_tracker(screen_mm)
        self.info = TrackerInfo(manufacturer="artgaze (simulated)", model="Simulated T60-like (study.oculomotor.GazeModel)",
                                serial=serial, firmware="n/a", sampling_rate_hz=float(rate_hz), address="simulated")
        if scene_type is None:
            from study.oculomotor import Scene as scene_type  # noqa: N813 - the model's scene class
        self._scene_type = scene_type
        self._on_truth = on_truth
        self._block_s = block_s
        self._lock = threading.Lock()
        self._scene = self._convert(Scene("blank"))
        self._next_us: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._virtual_now: int | None = None

    def _convert(self, scene: Scene) -> Any:
        return self._scene_type(kind=scene.kind, point_px=scene.point_px, aoi_px=scene.aoi_px,
                                stimulus_id=scene.stimulus_id, expected_duration_s=scene.expected_duration_s)

    def connect(self) -> TrackerInfo:
        return self.info

    def now_us(self) -> int:
        if not self.realtime and self._virtual_now is not None:
            return self._virtual_now
        return system_time_us()

    def start(self, t0_us: int | None = None) -> None:
        """Start at ``t0_us`` (virtual clock) or now (real time)."""
        self._next_us = int(t0_us) if t0_us is not None else system_time_us()
        self._virtual_now = self._next_us
        if self.realtime:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="simulated-tracker", daemon=True)
            self._thread.start()

    def _generate_until(self, until_us: int) -> None:
        # caller holds the lock
        if self._next_us is None or until_us <= self._next_us:
            return
        samples, truth = self.model.generate(self._next_us, (until_us - self._next_us) / 1e6, self._scene)
        self._next_us = until_us
        block = check_gaze_block(samples)
        self._emit(block)
        if self._on_truth is not None and truth:
            self._on_truth(truth)

    def _run(self) -> None:
        while not self._stop.wait(self._block_s):
            try:
                with self._lock:
                    self._generate_until(system_time_us())
            except Exception:  # noqa: BLE001 - a model error must not silently end the sample stream
                log.exception("the gaze model failed; no samples until the next scene")

    def advance(self, until_us: int) -> None:
        if self.realtime:
            raise RuntimeError("advance() is for the virtual clock; this tracker runs in real time")
        with self._lock:
            self._generate_until(int(until_us))
            self._virtual_now = max(self._virtual_now or 0, int(until_us))

    def scene_changed(self, scene: Scene, t_us: int) -> None:
        with self._lock:
            self._generate_until(int(t_us))
            self._scene = self._convert(scene)

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
            with self._lock:
                self._generate_until(system_time_us())
