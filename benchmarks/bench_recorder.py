"""Benchmark of the crash-safe recorder (study.recorder.Recorder) at 1200 Hz.

Two variants:

* ``realtime`` (the issue's benchmark): a producer thread pushes 1200 Hz sample blocks
  (12 samples every 10 ms, Tobii-SDK-shaped, both eyes valid) in real time for
  ``--seconds`` (default 600 = a 10-minute session) while the writer thread appends,
  flushes and fsyncs every 250 ms. Reports CPU of the writer thread and of the whole
  process as a percentage of one core, the longest gap between flushes, and dropped
  samples (pushed - written, and gaps in the timestamps read back from the file).
* ``compressed`` (time-compressed, clearly labelled): the same 10 minutes of blocks are
  pushed as fast as possible; reports CPU-seconds per simulated minute.

Usage::

    python benchmarks/bench_recorder.py realtime --seconds 600
    python benchmarks/bench_recorder.py compressed --seconds 600
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from study.bids import read_raw_samples  # noqa: E402
from study.recorder import Recorder  # noqa: E402
from study.trackers.base import empty_gaze_block  # noqa: E402

RATE = 1200
BLOCK = 12  # samples per push (10 ms at 1200 Hz)
PERIOD_US = 1e6 / RATE


def template_block(rng: np.random.Generator) -> dict[str, np.ndarray]:
    b = empty_gaze_block(BLOCK)
    for eye in ("left", "right"):
        b[f"{eye}_gaze_point_on_display_area_x"][:] = rng.uniform(0.2, 0.8, BLOCK)
        b[f"{eye}_gaze_point_on_display_area_y"][:] = rng.uniform(0.2, 0.8, BLOCK)
        b[f"{eye}_gaze_point_valid"][:] = True
        b[f"{eye}_pupil_diameter"][:] = rng.normal(3.5, 0.1, BLOCK)
        b[f"{eye}_pupil_valid"][:] = True
        for c, v in zip("xyz", (-30.0, 155.0, 650.0)):
            b[f"{eye}_gaze_origin_in_user_coordinates_{c}"][:] = v + rng.normal(0, 0.5, BLOCK)
        b[f"{eye}_gaze_origin_valid"][:] = True
    return b


def make_block(tpl: dict[str, np.ndarray], k: int, t0: int) -> dict[str, np.ndarray]:
    b = {f: a.copy() for f, a in tpl.items()}
    idx = k * BLOCK + np.arange(BLOCK)
    b["system_time_stamp"] = t0 + np.round(idx * PERIOD_US).astype(np.int64)
    b["device_time_stamp"] = b["system_time_stamp"].copy()
    return b


def thread_cpu_s(native_id: int) -> float:
    """utime + stime of one thread (Linux /proc)."""
    with open(f"/proc/self/task/{native_id}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def process_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def check_file(path: Path, n_pushed: int) -> dict[str, int]:
    df = read_raw_samples(path)
    ts = df["system_time_stamp"].to_numpy()
    gaps = int(np.count_nonzero(np.diff(ts) > 1.5 * PERIOD_US))
    return {"rows": len(df), "missing": n_pushed - len(df), "timestamp_gaps": gaps}


def run(mode: str, seconds: float, folder: Path) -> dict[str, float]:
    rng = np.random.default_rng(0)
    tpl = template_block(rng)
    n_blocks = int(round(seconds * RATE / BLOCK))
    rec = Recorder(folder, flush_interval_s=0.25)
    rec.start()
    writer_id = rec._thread.native_id  # noqa: SLF001 - benchmark introspection
    t0 = 1_000_000
    cpu0, wcpu0, wall0 = process_cpu_s(), thread_cpu_s(writer_id), time.monotonic()
    if mode == "realtime":
        def producer() -> None:
            start = time.monotonic()
            for k in range(n_blocks):
                target = start + (k + 1) * BLOCK / RATE
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                rec.push_samples(make_block(tpl, k, t0))
        th = threading.Thread(target=producer)
        th.start()
        th.join()
    else:
        for k in range(n_blocks):
            rec.push_samples(make_block(tpl, k, t0))
    rec.sync(timeout=600)
    wcpu1 = thread_cpu_s(writer_id)
    rec.close()
    wall = time.monotonic() - wall0
    cpu = process_cpu_s() - cpu0
    wcpu = wcpu1 - wcpu0
    out = {"mode": mode, "simulated_s": seconds, "wall_s": wall, "samples": n_blocks * BLOCK,
           "writer_cpu_s": wcpu, "process_cpu_s": cpu,
           "writer_cpu_pct_of_core": 100 * wcpu / wall, "process_cpu_pct_of_core": 100 * cpu / wall,
           "writer_cpu_s_per_sim_min": wcpu / (seconds / 60), "process_cpu_s_per_sim_min": cpu / (seconds / 60),
           "max_flush_gap_s": rec.max_flush_gap_s, "flushes": rec.n_flushes,
           "late_flushes_gt_1.2x_interval": rec.n_late_flushes,
           "file_mb": (folder / "samples.tsv").stat().st_size / 1e6}
    out.update(check_file(folder / "samples.tsv", rec.n_pushed))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("realtime", "compressed"), help="real-time feed or as fast as possible")
    ap.add_argument("--seconds", type=float, default=600.0, help="simulated session length (default 600 s)")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary folder, removed)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.dir) if args.dir else Path(tmp)
        res = run(args.mode, args.seconds, folder)
    load = os.getloadavg()
    for k, v in res.items():
        print(f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}")
    print(f"loadavg: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cpus: {os.cpu_count()}")


if __name__ == "__main__":
    main()
