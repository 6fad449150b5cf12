"""Tobii eye trackers through TittaPy (the Tobii Pro SDK wrapper of Titta).

TittaPy (``TittaPy_v2``, shipped with the ``TittaPy`` package that bundles the Tobii Pro
SDK; Niehorster, Andersson & Nyström 2020, "Titta", Behavior Research Methods 52) buffers
the SDK's gaze stream in C++; a polling thread here consumes the buffer every 10 ms
(``EyeTracker.consume_N("gaze")``) and hands the blocks to the recorder, so the SDK
never drops samples while Python is busy. Calibration uses the SDK's screen-based
calibration (``enter_calibration_mode`` / ``calibration_collect_data`` /
``calibration_compute_and_apply``) with the targets drawn by the protocol; validation
(accuracy and precision) is computed by :mod:`study.validation` from the recorded
samples, as Titta does.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import numpy as np

from study.errors import StudyError
from study.trackers.base import (GAZE_FIELD_NAMES, GAZE_FIELDS, DisplayArea, Tracker, TrackerInfo,
                                 system_time_us)

log = logging.getLogger(__name__)


def _import_tittapy():
    try:
        import TittaPy_v2 as tp  # type: ignore[import-not-found]
    except ImportError as exc:
        raise StudyError(f"TittaPy is not installed ({exc})", column="--tracker tobii",
                         fix='pip install -e ".[study]" (TittaPy bundles the Tobii Pro SDK)') from None
    return tp


def find_tracker(model: str = "", address: str = "", attempts: int = 3, wait_s: float = 1.0) -> dict[str, Any]:
    """Find a Tobii tracker: the one at ``address``, else the first (of ``model``) found.

    Discovery is retried ``attempts`` times ``wait_s`` apart (trackers on a network can
    take a moment to answer; Titta retries the same way).

    Raises
    ------
    StudyError
        No tracker found: the message says what was searched and what to check.
    """
    tp = _import_tittapy()
    sdk = tp.get_SDK_version()
    if address:
        try:
            found = tp.get_eye_tracker_from_address(address)
            if found:
                return dict(found)
        except Exception as exc:  # noqa: BLE001 - the SDK raises RuntimeError subclasses
            log.info("no tracker at %s: %s", address, exc)
        raise StudyError(
            f"no Tobii eye tracker answered at address {address!r}",
            column="tracker.address",
            expected=f"a Tobii tracker reachable at that address (Tobii Pro SDK {sdk} via TittaPy)",
            fix=("check that the tracker is powered and its cable (USB or Ethernet) is plugged in; that the Tobii "
                 "runtime/service is running and Tobii Pro Eye Tracker Manager lists the tracker at this address; "
                 "or leave [tracker] address empty to search for any tracker"))
    seen: list[dict[str, Any]] = []
    for i in range(max(1, attempts)):
        seen = [dict(t) for t in tp.find_all_eye_trackers()]
        match = [t for t in seen if not model or t.get("model") == model]
        if match:
            return match[0]
        if i + 1 < attempts:
            time.sleep(wait_s)
    others = ", ".join(f"{t.get('model')} at {t.get('address')}" for t in seen) or "none"
    raise StudyError(
        f"no Tobii eye tracker{' of model ' + repr(model) if model else ''} found",
        column="--tracker tobii",
        expected=(f"a tracker found by the Tobii Pro SDK {sdk} (TittaPy find_all_eye_trackers: USB and local "
                  f"network, {attempts} attempts); trackers seen: {others}"),
        fix=("check the tracker's power and cable (USB/Ethernet); that the Tobii runtime/service is installed and "
             "running and Tobii Pro Eye Tracker Manager can see the tracker (T60-class trackers: same subnet, "
             "network configured in Eye Tracker Manager); or set [tracker] address = \"tobii-ttp://...\" in the "
             "config; to pilot without a tracker use --tracker simulated or --tracker mouse"))


class TobiiTracker(Tracker):
    """A Tobii tracker via TittaPy.

    Parameters
    ----------
    rate_hz : float
        Sampling rate to set (60 for a T60; must be in the tracker's supported frequencies).
    model, address : str
        Restrict discovery (see :func:`find_tracker`).
    screen_mm : (float, float)
        Fallback display area when the tracker reports none.
    poll_s : float
        Buffer polling period (10 ms).
    """

    def __init__(self, *, rate_hz: float, model: str = "", address: str = "", screen_mm: tuple[float, float] = (338.0, 270.0),
                 poll_s: float = 0.01, discovery_attempts: int = 3) -> None:
        super().__init__()
        self.rate_hz = float(rate_hz)
        self.model = model
        self.address = address
        self.poll_s = poll_s
        self.discovery_attempts = discovery_attempts
        self.display_area = DisplayArea.centred_above_tracker(screen_mm)
        self._et = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def connect(self) -> TrackerInfo:
        tp = _import_tittapy()
        found = find_tracker(self.model, self.address, attempts=self.discovery_attempts)
        self._et = et = tp.EyeTracker(found["address"])
        supported = [float(f) for f in et.supported_frequencies]
        if not any(abs(f - self.rate_hz) < 1e-6 for f in supported):
            raise StudyError(f"the tracker cannot sample at {self.rate_hz:g} Hz", column="tracker.sampling_rate_hz",
                             expected=f"one of {supported}", fix="set [tracker] sampling_rate_hz to a supported rate")
        if abs(float(et.frequency) - self.rate_hz) > 1e-6:
            et.frequency = self.rate_hz
        da = et.display_area
        try:
            self.display_area = DisplayArea(tuple(da["top_left"]), tuple(da["top_right"]), tuple(da["bottom_left"]))
        except (KeyError, TypeError):
            log.warning("tracker reported no display area; using the configured screen size")
        self.info = TrackerInfo(manufacturer="Tobii", model=str(et.model), serial=str(et.serial_number),
                                firmware=str(et.firmware_version), sampling_rate_hz=float(et.frequency),
                                address=str(found["address"]),
                                software={"TobiiProSDK": tp.get_SDK_version(), "runtime": str(getattr(et, "runtime_version", "n/a"))})
        log.info("connected to %s %s (%s) at %g Hz", self.info.manufacturer, self.info.model, self.info.serial,
                 self.info.sampling_rate_hz)
        return self.info

    def now_us(self) -> int:
        return system_time_us()

    def start(self) -> None:
        if self._et is None:
            raise RuntimeError("connect() first")
        if not self._et.start("gaze"):
            raise StudyError("the tracker refused to start the gaze stream", fix="restart the tracker and the session (--resume)")
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="tobii-poll", daemon=True)
        self._thread.start()

    def _consume(self) -> None:
        with self._lock:
            data = self._et.consume_N("gaze", 1 << 30)
        if not data:
            return
        missing = [f for f in GAZE_FIELD_NAMES if f not in data]
        if missing:
            raise RuntimeError(f"TittaPy gaze data lacks fields {missing}")
        n = len(data["system_time_stamp"])
        if n:
            self._emit({f: np.asarray(data[f]).astype(GAZE_FIELDS[f], copy=False) for f in GAZE_FIELD_NAMES})

    def _run(self) -> None:
        failures = 0
        while not self._stop.wait(self.poll_s):
            try:
                self._consume()
                failures = 0
            except Exception:  # noqa: BLE001 - keep polling: the SDK keeps buffering meanwhile
                failures += 1
                if failures in (1, 100) or failures % 1000 == 0:
                    log.exception("reading the Tobii gaze buffer failed (%d times in a row)", failures)

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._thread = None
        if self._et is not None:
            self._consume()
            self._et.stop("gaze")

    def close(self) -> None:
        self._et = None

    # -- calibration (Tobii Pro SDK screen-based calibration through TittaPy) -----------
    def _wait_result(self, timeout_s: float = 10.0) -> dict[str, Any]:
        t_end = time.monotonic() + timeout_s
        while time.monotonic() < t_end:
            res = self._et.calibration_retrieve_result()
            if res is not None:
                return dict(res)
            time.sleep(0.005)
        raise StudyError("the tracker did not answer a calibration request", fix="check the tracker and recalibrate")

    def calibration_begin(self) -> None:
        self._et.enter_calibration_mode(False)
        self._wait_result()

    def calibration_collect(self, point_norm: tuple[float, float]) -> None:
        self._et.calibration_collect_data([float(point_norm[0]), float(point_norm[1])])
        res = self._wait_result()
        log.debug("calibration point %s: %s", point_norm, res.get("status_string"))

    def calibration_end(self) -> dict[str, Any]:
        self._et.calibration_compute_and_apply()
        res = self._wait_result(30.0)
        self._et.leave_calibration_mode(False)
        try:
            self._wait_result()
        except StudyError:
            pass
        return {"status": str(res.get("status_string", res.get("status", "unknown")))}
