"""Benchmark and real-file check of the issue-10 readers (studio_alldata, tobii_sdk, tobii_raw, eprime, iohub).

Run from the project root::

    python benchmarks/bench_formats.py [--rows 300000] [--realdata ../shared/realdata]

For each format it writes one synthetic file of ``--rows`` samples with
tests/analysis/formats_fixture.py (the files the tests use, only longer) and times
``read_recording(path, format="auto")`` (best of ``--repeats``). With ``--realdata`` it also
reads every file of that folder that one of these readers detects, without geometry flags,
and prints its format, rate, geometry (and its source) and counts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.errors import InputError  # noqa: E402
from analysis.io import read_recording  # noqa: E402
from analysis.io._extra import detect_extra_format  # noqa: E402
from tests.analysis import formats_fixture as ff  # noqa: E402

CASES = {
    "studio_alldata": (lambda p, n: ff.write_studio_alldata(p, n=n), ".tsv", {}),
    "tobii_sdk (tobii_research tuples, CSV)": (lambda p, n: ff.write_tobii_sdk(p, n=n), ".csv",
                                               {"screen_px": (1920, 1080)}),
    "tobii_sdk (Titta columns, TSV)": (lambda p, n: ff.write_tobii_sdk(p, n=n, style="titta", sep="\t"), ".tsv",
                                       {"screen_px": (1920, 1080)}),
    "tobii_raw": (lambda p, n: ff.write_tobii_raw(p, n=n), ".txt", {"screen_px": (1920, 1080)}),
    "eprime": (lambda p, n: ff.write_eprime(p, n=n, trial_len=max(n // 20, 1)), ".gazedata",
               {"screen_mm": (518.0, 324.0)}),
    "iohub": (lambda p, n: ff.write_iohub(p, n=n), ".hdf5",
              {"screen_px": (1920, 1080), "screen_mm": (509.2, 286.4), "distance_mm": 600.0}),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--realdata", type=Path, default=None)
    args = ap.parse_args()
    print(f"| format | rows | file MB | read s (best of {args.repeats}) | samples/s |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for name, (write, suffix, kw) in CASES.items():
            path = Path(d) / f"f{suffix}"
            write(path, args.rows)
            best = float("inf")
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                rec = read_recording(path, **kw)
                best = min(best, time.perf_counter() - t0)
            print(f"| {name} | {rec.n_samples} | {path.stat().st_size / 1e6:.0f} | {best:.2f} | "
                  f"{rec.n_samples / best:,.0f} |")
            path.unlink()
    if args.realdata:
        for p in sorted(args.realdata.glob("*")):
            fmt = detect_extra_format(p) if p.is_file() else None
            if fmt is None:
                continue
            try:
                rec = read_recording(p)
            except InputError as exc:
                print(f"{p.name}: {fmt}: refused: {exc}")
                continue
            m = rec.meta
            print(f"{p.name}: {fmt}, {m.sampling_rate_hz:g} Hz, {m.geometry}, source {m.extra['geometry_source']}, "
                  f"counts {rec.counts}, labels {None if rec.labels is None else m.extra.get('labels_source')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
