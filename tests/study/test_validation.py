import numpy as np

from study.trackers.base import DisplayArea, empty_gaze_block
from study.validation import ValidationResult, point_quality, validation_points


def test_accuracy_and_precision_of_known_offsets():
    area = DisplayArea.centred_above_tracker((400.0, 300.0), bottom_mm=0.0)
    n, d = 11, 600.0
    b = empty_gaze_block(n)
    b["system_time_stamp"][:] = np.arange(n)
    # eye straight in front of the screen centre, 600 mm away (UCS: centre at y = 150)
    off = d * np.tan(np.radians(1.0))                 # exactly 1 deg to the right of the centre target
    jitter = np.where(np.arange(n) % 2 == 0, 0.0, d * np.tan(np.radians(0.1)))
    for eye in ("left", "right"):
        b[f"{eye}_gaze_point_valid"][:] = True
        b[f"{eye}_gaze_point_on_display_area_x"][:] = (200.0 + off) / 400.0
        b[f"{eye}_gaze_point_on_display_area_y"][:] = (150.0 + jitter) / 300.0
        b[f"{eye}_gaze_origin_in_user_coordinates_x"][:] = 0.0
        b[f"{eye}_gaze_origin_in_user_coordinates_y"][:] = 150.0
        b[f"{eye}_gaze_origin_in_user_coordinates_z"][:] = d
    q = point_quality(b, (0.5, 0.5), area, distance_mm=9999.0)
    assert abs(q.accuracy_deg - 1.0) < 0.01
    # successive samples alternate 0.1 deg apart (vertical), RMS-S2S ~0.1 deg
    assert abs(q.precision_rms_deg - 0.1) < 0.005
    assert q.valid_fraction == 1.0


def test_invalid_samples_and_pass_rule():
    area = DisplayArea.centred_above_tracker((400.0, 300.0))
    b = empty_gaze_block(4)
    b["system_time_stamp"][:] = np.arange(4)
    q = point_quality(b, (0.5, 0.5), area, 600.0)
    assert np.isnan(q.accuracy_deg) and q.valid_fraction == 0.0
    res = ValidationResult([q])
    assert not res.passed(10.0)                       # a point without data never passes
    assert len(validation_points(4)) == 4 and len(validation_points(9)) == 9
