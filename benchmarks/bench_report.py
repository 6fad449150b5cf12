"""Benchmark of the whole report: ``process_dataset`` + ``build_report``.

Default: a synthetic cohort of 50 participants x 18 trials at 60 Hz (stimulus
28.5 s, with fixation cross, blank and instructions: about 1.6 M binocular samples),
written once with ``tests/analysis/bids_fixture.write_bids_dataset`` into a temporary
folder (not timed). ``--data DIR`` benchmarks an existing dataset instead (e.g.
``data/demo``). Prints the total and a per-stage breakdown (preprocessing, then the
report stages: validate, table4, statistics, reference, figures, write).

Target (issue): the whole report under 30 s on 2 cores.

    python benchmarks/bench_report.py [--participants 50] [--duration 28.5] [--jobs 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_cohort(root: Path, participants: int, duration_s: float) -> int:
    from tests.analysis.bids_fixture import ARTWORK_CATEGORY, write_bids_dataset

    trials = [{"stimulus_id": f"{a}_{m}", "artwork": a, "category": c, "method": m, "duration_s": duration_s,
               "aoi": (240.0, 112.0, 1040.0, 912.0), "gaze": None}
              for a, c in ARTWORK_CATEGORY.items() for m in ("ours", "pix2pix")]
    labels = [f"sub-{i + 1:02d}" for i in range(participants)]
    write_bids_dataset(root, participants=labels, trials=trials, seed=1)
    per = round(60 * (1.0 + len(trials) * (duration_s + 1.0)))
    return per * participants


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--participants", type=int, default=50)
    ap.add_argument("--duration", type=float, default=28.5, help="stimulus duration per trial, s")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--data", type=Path, default=None, help="benchmark this dataset instead of a synthetic one")
    args = ap.parse_args()

    from analysis.batch import process_dataset
    from analysis.config import AnalysisConfig
    from analysis.report import build_report

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.data is None:
            t0 = time.perf_counter()
            n = make_cohort(tmp / "raw", args.participants, args.duration)
            data = tmp / "raw"
            print(f"synthetic cohort: {args.participants} participants x 18 trials, ~{n / 1e6:.2f} M samples per eye "
                  f"(written in {time.perf_counter() - t0:.1f} s, not timed)")
        else:
            data = args.data
            print(f"dataset: {data}")
        timings: dict[str, float] = {}
        t_start = time.perf_counter()
        cpu_start = time.process_time()
        t0 = time.perf_counter()
        result = process_dataset(data, AnalysisConfig(), jobs=args.jobs, progress=False)
        timings = {"preprocess (process_dataset)": time.perf_counter() - t0}
        stages: dict[str, float] = {}
        build_report(result, tmp / "report", data_dir=data, progress=False, timings=stages)
        total = time.perf_counter() - t_start
        timings.update({f"report: {k}": v for k, v in stages.items()})
        print(f"trials: {len(result.trial_metrics)}, fixations: {len(result.fixations)}")
        for k, v in timings.items():
            print(f"  {k:<32s} {v:7.2f} s")
        cpu = time.process_time() - cpu_start
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
        print(f"CPU time: parent {cpu:.1f} s, worker processes {child.ru_utime + child.ru_stime:.1f} s")
        print(f"TOTAL {total:.2f} s (target < 30 s on 2 cores): {'met' if total < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
