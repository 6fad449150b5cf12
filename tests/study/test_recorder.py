import threading

import numpy as np
import pandas as pd

from study.bids import read_raw_events, read_raw_samples
from study.recorder import EVENT_FIELDS, Recorder, read_state, repair_tail, write_state
from study.trackers.base import GAZE_FIELD_NAMES, empty_gaze_block


def block(t0, n, period=833):
    b = empty_gaze_block(n)
    b["system_time_stamp"][:] = t0 + np.arange(n) * period
    b["device_time_stamp"][:] = b["system_time_stamp"]
    b["left_gaze_point_on_display_area_x"][:] = np.linspace(0, 1, n)
    b["left_gaze_point_on_display_area_y"][:] = 0.25
    b["left_gaze_point_valid"][:] = True
    b["right_gaze_point_valid"][::2] = True
    b["right_gaze_point_on_display_area_x"][::2] = 0.5
    b["left_pupil_diameter"][:] = 3.5
    b["left_pupil_valid"][:] = True
    return b


def test_samples_from_threads_all_written_in_order(tmp_path):
    rec = Recorder(tmp_path, segment=3, flush_interval_s=0.05)
    rec.start()

    def producer():
        for i in range(50):
            rec.push_samples(block(1_000_000 + i * 12 * 833, 12))

    t = threading.Thread(target=producer)
    t.start()
    rec.push_event({"trial_type": "stimulus", "trial": 1, "onset_us": 5, "offset_us": 9, "stimulus_id": "a_ours"})
    t.join()
    rec.close()
    df = read_raw_samples(tmp_path / "samples.tsv")
    assert len(df) == 600 and rec.n_written == 600 and rec.n_pushed == 600
    assert list(df.columns) == [*GAZE_FIELD_NAMES, "segment"]
    assert (np.diff(df["system_time_stamp"]) == 833).all()
    assert (df["segment"] == 3).all()
    assert df["left_gaze_point_valid"].all() and df["right_gaze_point_valid"].sum() == 300
    assert df["right_gaze_point_on_display_area_x"].isna().sum() == 300
    np.testing.assert_allclose(df["left_gaze_point_on_display_area_x"][:12], np.linspace(0, 1, 12), atol=1e-7)
    ev = read_raw_events(tmp_path / "events.tsv")
    assert list(ev.columns) == list(EVENT_FIELDS)
    assert ev.loc[0, "stimulus_id"] == "a_ours" and ev.loc[0, "aoi_left"] == "n/a" and ev.loc[0, "segment"] == "3"
    assert rec.valid_percent() == 100.0


def test_sync_makes_data_durable_before_close(tmp_path):
    rec = Recorder(tmp_path, flush_interval_s=0.25)
    rec.start()
    rec.push_samples(block(10, 5))
    rec.sync()
    # another reader sees the samples while the recorder is still open
    assert len(pd.read_csv(tmp_path / "samples.tsv", sep="\t")) == 5
    rec.close()


def test_partial_last_line_is_repaired_and_appending_continues(tmp_path):
    rec = Recorder(tmp_path)
    rec.push_samples(block(10, 3))
    rec.close()
    with open(tmp_path / "samples.tsv", "a") as fh:
        fh.write("123\t45")                                # a kill in the middle of a write
    assert repair_tail(tmp_path / "samples.tsv") == 6
    rec2 = Recorder(tmp_path, segment=2)                   # resume appends to the same file, no second header
    rec2.push_samples(block(10_000, 2))
    rec2.close()
    df = read_raw_samples(tmp_path / "samples.tsv")
    assert df["segment"].tolist() == [1, 1, 1, 2, 2]


def test_state_is_replaced_atomically(tmp_path):
    write_state(tmp_path, {"completed": {"1": 1}})
    write_state(tmp_path, {"completed": {"1": 1, "2": 1}})
    assert read_state(tmp_path) == {"completed": {"1": 1, "2": 1}}
    assert not (tmp_path / "state.json.tmp").exists()
