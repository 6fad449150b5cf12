import threading

import pandas as pd

from study.bids import _segment_offsets, _update_dataset
from study.config import StudyConfig


def test_participants_rows_survive_parallel_finalisation(tmp_path):
    cfg = StudyConfig()
    threads = [threading.Thread(target=_update_dataset, args=(tmp_path, f"sub-{i:02d}", {"age": 20 + i}, cfg, True))
               for i in range(1, 9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    table = pd.read_csv(tmp_path / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert table["participant_id"].tolist() == [f"sub-{i:02d}" for i in range(1, 9)]
    assert table["age"].tolist() == [str(20 + i) for i in range(1, 9)]
    assert table["sex"].tolist() == ["n/a"] * 8


def test_segment_clock_restart_is_shifted_to_stay_increasing():
    s = pd.DataFrame({"segment": [1, 1, 1, 2, 2], "system_time_stamp": [100, 200, 300, 50, 150]})
    off = _segment_offsets(s, rate_hz=10.0)           # 10 Hz: one period = 100000 us
    assert off == {1: 0, 2: 300 + 100000 - 50}
    s2 = pd.DataFrame({"segment": [1, 2], "system_time_stamp": [100, 10_000_000]})
    assert _segment_offsets(s2, 60.0) == {1: 0, 2: 0}
