import numpy as np
import pytest

from study.errors import StudyError
from study.oculomotor import GazeModel, OculomotorParams
from study.trackers.base import GAZE_FIELD_NAMES, DisplayArea, Scene
from study.trackers.simulated import SimulatedTracker
from study.trackers.tobii import TobiiTracker, find_tracker


def test_display_area_round_trip_and_axes():
    a = DisplayArea.centred_above_tracker((338.0, 270.0), bottom_mm=20.0)
    # UCS point in front of the screen centre -> display-area mm (top-left origin, y down, z to viewer)
    x, y, z = a.ucs_to_display_mm(0.0, 20.0 + 135.0, 650.0)
    assert np.allclose([x, y, z], [169.0, 135.0, 650.0])
    x, y, z = a.ucs_to_display_mm(-169.0, 290.0, 0.0)             # top-left corner
    assert np.allclose([x, y, z], [0.0, 0.0, 0.0])
    back = a.display_mm_to_ucs(np.array([10.0]), np.array([20.0]), np.array([30.0]))
    assert np.allclose(a.ucs_to_display_mm(*back), [[10.0], [20.0], [30.0]])
    assert a.size_mm == pytest.approx((338.0, 270.0))


def test_tittapy_without_tracker_gives_clear_error():
    with pytest.raises(StudyError) as e:
        find_tracker(attempts=1)
    text = str(e.value)
    assert "no Tobii eye tracker found" in text
    assert "find_all_eye_trackers" in text and "Tobii Pro SDK" in text     # what was searched
    assert "cable" in text and "Eye Tracker Manager" in text and "address" in text  # what to check
    with pytest.raises(StudyError):
        TobiiTracker(rate_hz=60, discovery_attempts=1).connect()


def test_simulated_tracker_virtual_clock_emits_contiguous_tobii_blocks():
    model = GazeModel(OculomotorParams(), seed=3, rate_hz=60.0)
    got = []
    trk = SimulatedTracker(model, rate_hz=60.0, screen_mm=(338.0, 270.0), realtime=False)
    trk.set_sink(got.append)
    trk.start(1_000_000)
    trk.scene_changed(Scene("cross", point_px=(640, 512)), 1_000_000)
    trk.advance(2_000_000)
    trk.scene_changed(Scene("stimulus", aoi_px=(128, 128, 1152, 896), stimulus_id="david_ours",
                            expected_duration_s=3.0), 2_000_000)
    trk.advance(5_000_000)
    ts = np.concatenate([b["system_time_stamp"] for b in got])
    assert set(got[0]) == set(GAZE_FIELD_NAMES)
    assert np.all(np.diff(ts) > 0) and ts[0] >= 1_000_000 and ts[-1] < 5_000_000
    assert abs(len(ts) - 240) <= 2                                   # 4 s at 60 Hz
    x = np.concatenate([b["left_gaze_point_on_display_area_x"] for b in got]) * 1280
    valid = np.concatenate([b["left_gaze_point_valid"] for b in got])
    stim = (ts >= 2_300_000) & valid
    assert np.mean((x[stim] > 100) & (x[stim] < 1180)) > 0.8           # looking at the image
    with pytest.raises(RuntimeError):
        SimulatedTracker(model, rate_hz=60.0, screen_mm=(338.0, 270.0), realtime=True).advance(1)


def test_mouse_tracker_turns_pointer_into_gaze_on_both_eyes():
    from study.trackers.mouse import MouseTracker

    class FakeMouse:
        def getPos(self):          # PsychoPy pix units: centre origin, y up
            return (-320.0, 256.0)

    got = []
    trk = MouseTracker(screen_px=(1280, 1024), screen_mm=(338.0, 270.0), refresh_hz=60.0)
    with pytest.raises(StudyError):
        trk.start()                                  # no window attached
    trk._mouse = FakeMouse()
    trk.set_sink(got.append)
    trk.start()
    trk.on_frame(1000)
    trk.on_frame(1000)                               # same flip time: no duplicate sample
    trk.on_frame(17667)
    ts = np.concatenate([b["system_time_stamp"] for b in got])
    assert ts.tolist() == [1000, 17667]
    b = got[0]
    for eye in ("left", "right"):
        assert b[f"{eye}_gaze_point_on_display_area_x"][0] == pytest.approx(0.25)   # 320 px from the left
        assert b[f"{eye}_gaze_point_on_display_area_y"][0] == pytest.approx(0.25)   # 256 px from the top
        assert b[f"{eye}_gaze_point_valid"][0] and not b[f"{eye}_pupil_valid"][0]


class _FakeEyeTracker:
    """Stands in for TittaPy_v2.EyeTracker (same method names and return shapes)."""

    def __init__(self, address):
        self.address = address
        self.model, self.serial_number, self.firmware_version = "Tobii T60", "TT060-1", "1.0"
        self.supported_frequencies = [60.0]
        self.frequency = 60.0
        self.display_area = {"top_left": [-169.0, 290.0, 0.0], "top_right": [169.0, 290.0, 0.0],
                             "bottom_left": [-169.0, 20.0, 0.0]}
        self.calls, self._results, self._buffer = [], [], []

    def start(self, stream):
        self.calls.append(("start", stream))
        return True

    def stop(self, stream):
        self.calls.append(("stop", stream))

    def consume_N(self, stream, n):
        from study.trackers.base import concat_gaze_blocks
        data, self._buffer = concat_gaze_blocks(self._buffer), []
        return data

    def enter_calibration_mode(self, mono):
        self.calls.append(("enter", mono))
        self._results.append({"status_string": "ok"})

    def calibration_collect_data(self, xy):
        self.calls.append(("collect", tuple(xy)))
        self._results.append({"status_string": "ok"})

    def calibration_compute_and_apply(self):
        self.calls.append(("compute",))
        self._results.append({"status_string": "calibration_status.success"})

    def leave_calibration_mode(self, mono):
        self.calls.append(("leave", mono))
        self._results.append({"status_string": "ok"})

    def calibration_retrieve_result(self):
        return self._results.pop(0) if self._results else None


def _fake_tittapy(monkeypatch, trackers):
    import types

    import study.trackers.tobii as tobii_mod

    made = []
    mod = types.SimpleNamespace(
        get_SDK_version=lambda: "2.1.0.1", find_all_eye_trackers=lambda: trackers,
        get_eye_tracker_from_address=lambda a: next((t for t in trackers if t["address"] == a), None),
        EyeTracker=lambda a: made.append(_FakeEyeTracker(a)) or made[-1])
    monkeypatch.setattr(tobii_mod, "_import_tittapy", lambda: mod)
    return made


def test_tobii_tracker_connects_sets_rate_streams_and_calibrates(monkeypatch):
    from study.trackers.base import empty_gaze_block

    made = _fake_tittapy(monkeypatch, [{"address": "tobii-ttp://a", "model": "Tobii T60"}])
    trk = TobiiTracker(rate_hz=60, model="Tobii T60", poll_s=0.005)
    info = trk.connect()
    et = made[0]
    assert (info.model, info.serial, info.sampling_rate_hz, info.address) == ("Tobii T60", "TT060-1", 60.0, "tobii-ttp://a")
    assert trk.display_area.size_mm == pytest.approx((338.0, 270.0))
    got = []
    trk.set_sink(got.append)
    b = empty_gaze_block(3)
    b["system_time_stamp"][:] = [1, 2, 3]
    et._buffer.append(b)
    trk.start()
    trk.stop()                                        # stop() drains what the SDK buffered
    assert ("start", "gaze") in et.calls and ("stop", "gaze") in et.calls
    assert np.concatenate([g["system_time_stamp"] for g in got]).tolist() == [1, 2, 3]
    trk.calibration_begin()
    trk.calibration_collect((0.1, 0.9))
    res = trk.calibration_end()
    assert [c[0] for c in et.calls[-4:]] == ["enter", "collect", "compute", "leave"]
    assert et.calls[-3] == ("collect", (0.1, 0.9)) and "success" in res["status"]


def test_tobii_unsupported_rate_and_wrong_model_are_refused(monkeypatch):
    _fake_tittapy(monkeypatch, [{"address": "tobii-ttp://a", "model": "Tobii T60"}])
    with pytest.raises(StudyError, match="cannot sample at 120 Hz"):
        TobiiTracker(rate_hz=120).connect()
    with pytest.raises(StudyError) as e:
        TobiiTracker(rate_hz=60, model="Tobii Pro Spectrum", discovery_attempts=1).connect()
    assert "Tobii T60 at tobii-ttp://a" in str(e.value)          # says what it did see
    with pytest.raises(StudyError, match="tobii-ttp://b"):
        TobiiTracker(rate_hz=60, address="tobii-ttp://b").connect()
