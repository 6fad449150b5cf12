"""Scale of the report: 50 vs 200 participants (issue 12: within 4x; it was 24x with the VB count model).

Processes ``data/demo`` once (not timed), then builds two cohorts by resampling its
participants with replacement (seeded; relabelled ``sub-001`` ...; trial metrics,
fixations and quality tables are copied with the new label) and times
``analysis.report.build_report`` on each: wall time per stage, and CPU time of this
process and of the worker that fits the count model. It also times the statistics alone
(``compute_statistics`` with the count model in the same process), which is where the
old count model made the report superlinear.

    python benchmarks/bench_report_scale.py [--data ../shared/realdata/... | data/demo] [--sizes 50 200]
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def resample(result, n: int, seed: int = 0):
    """A DatasetResult with ``n`` participants drawn with replacement from ``result``."""
    tm = result.trial_metrics
    src = sorted(tm["participant"].astype(str).unique())
    pick = np.random.default_rng(seed).choice(src, size=n, replace=True)
    mapping = pd.DataFrame({"participant": pick, "new": [f"sub-{i + 1:03d}" for i in range(n)]})

    def relabel(df):
        if df is None or "participant" not in getattr(df, "columns", []):
            return df
        out = df.assign(participant=df["participant"].astype(str)).merge(mapping, on="participant")
        return out.drop(columns="participant").rename(columns={"new": "participant"})[df.columns]

    return dataclasses.replace(result, trial_metrics=relabel(tm), fixations=relabel(result.fixations),
                               trial_quality=relabel(result.trial_quality),
                               recording_quality=relabel(result.recording_quality),
                               exclusions=relabel(result.exclusions))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=ROOT / "data" / "demo")
    ap.add_argument("--sizes", type=int, nargs="+", default=[50, 200])
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)

    from analysis.batch import process_dataset
    from analysis.config import AnalysisConfig
    from analysis.report import build_report
    from analysis.report.analyses import _random_part, compute_statistics

    base = process_dataset(args.data, AnalysisConfig(), jobs=args.jobs, progress=False)
    print(f"source: {args.data} ({base.trial_metrics['participant'].nunique()} participants)")
    rows = []
    for n in args.sizes:
        res = resample(base, n)
        t0, c0 = time.perf_counter(), time.process_time()
        st = compute_statistics(res.trial_metrics, seed=0)
        stats_wall, stats_cpu = time.perf_counter() - t0, time.process_time() - c0
        with tempfile.TemporaryDirectory() as tmp:
            stages: dict[str, float] = {}
            ch0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0, c0 = time.perf_counter(), time.process_time()
            build_report(res, Path(tmp), data_dir=args.data, progress=False, timings=stages)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            ch1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        child = (ch1.ru_utime + ch1.ru_stime) - (ch0.ru_utime + ch0.ru_stime)
        rows.append({"participants": n, "trials": len(res.trial_metrics), "statistics wall s": stats_wall,
                     "statistics CPU s": stats_cpu, "report wall s": wall, "report CPU s (parent)": cpu,
                     "report CPU s (worker)": child,
                     **{f"stage {k} s": v for k, v in stages.items()},
                     "time model (random part)": _random_part(st.lmm.formula) if st.lmm else "not fitted",
                     "count model (random part)": _random_part(st.glmm.formula) if st.glmm else "not fitted"})
        print(pd.Series(rows[-1]).to_string(), flush=True)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        for k in ("statistics wall s", "statistics CPU s", "report wall s"):
            print(f"ratio {b['participants']}/{a['participants']} {k}: {b[k] / a[k]:.2f}x (target <= 4x)")


if __name__ == "__main__":
    main()
