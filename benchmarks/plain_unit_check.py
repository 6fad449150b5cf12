"""Oracle check of the timestamp-unit check (issue 11) on real tracker clocks.

Takes the tracker timestamps and gaze of real Tobii exports (../shared/realdata, see its README;
real clock jitter, gaps and dropouts, 50-300 Hz), writes each as a plain ``time, x, y, valid``
table in s, ms and us, and reads every table with every declared ``time_unit`` through
:func:`analysis.io.plain.read_plain` at the export's nominal rate. Expected: the right unit
reads (rate = the nominal rate), every wrong unit is refused with "the timestamps seem to be
in <right unit>". Prints one line per case and a summary; exit 1 on any unexpected outcome.
A table refused for another reason with the right unit declared (the D2Lab export has valid gaze
more than a screen below its 1920 x 1080 display, which the coordinate check refuses) is
counted as n/a: it says nothing about the unit check.

Usage: ``python benchmarks/plain_unit_check.py [REALDATA_DIR]`` (default ../shared/realdata).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.io.plain import read_plain
from analysis.recording import Geometry

WORDS = {"s": "seconds", "ms": "milliseconds", "us": "microseconds"}
SCALE_FROM_US = {"s": 1e-6, "ms": 1e-3, "us": 1.0}

#: file, timestamp column (unit), x, y, validity columns, decimal, nominal rate (README of realdata)
SOURCES = [
    ("cemGr_I-VT-normal_Data_export_short.tsv.gz", "Eyetracker timestamp [μs]", 1.0,
     "Gaze point X [DACS px]", "Gaze point Y [DACS px]", ("Validity left", "Validity right"), ",", 300.0),
    ("cemGr_I-VT-StrictAverage_frequency120_movingAverage_Data_export_short.tsv.gz", "Eyetracker timestamp [μs]",
     1.0, "Gaze point X [DACS px]", "Gaze point Y [DACS px]", ("Validity left", "Validity right"), ",", 120.0),
    ("D2Lab_TobiiStudio345_data.tsv.gz", "EyeTrackerTimestamp", 1.0, "GazePointX (ADCSpx)", "GazePointY (ADCSpx)",
     ("ValidityLeft", "ValidityRight"), ".", 120.0),
    ("FHPotsdam_TobiiStudio_Rec02.tsv.gz", "Timestamp", 1e3, "GazePointXLeft", "GazePointYLeft",
     ("ValidityLeft", "ValidityRight"), ",", 50.0),
]
GEOMETRY = Geometry(screen_px=(1920, 1080), screen_mm=(527.0, 296.0), distance_mm=650.0)


def _valid(v: pd.Series) -> np.ndarray:
    """Pro Lab ``Valid``/``Invalid``; Studio validity codes 0-4 (0 and 1: the eye was found)."""
    num = pd.to_numeric(v, errors="coerce")
    if num.notna().any():
        return (num <= 1).to_numpy()
    return (v.astype(str).str.strip().str.lower() == "valid").to_numpy()


def load(folder: Path, name, tcol, to_us, xcol, ycol, vcols, decimal) -> pd.DataFrame:
    df = pd.read_csv(folder / name, sep="\t", decimal=decimal, low_memory=False, usecols=[tcol, xcol, ycol, *vcols])
    df = df[pd.to_numeric(df[tcol], errors="coerce").notna()]
    t_us = pd.to_numeric(df[tcol]).to_numpy(dtype=np.float64) * to_us
    keep = np.r_[True, np.diff(t_us) > 0]  # one row per sample (exports repeat a sample on event rows)
    valid = np.ones(len(df), bool)
    for c in vcols:
        valid &= _valid(df[c])
    x = pd.to_numeric(df[xcol], errors="coerce").to_numpy()
    y = pd.to_numeric(df[ycol], errors="coerce").to_numpy()
    return pd.DataFrame({"t_us": t_us, "x": x, "y": y, "valid": (valid & np.isfinite(x) & np.isfinite(y))})[keep]


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else Path("../shared/realdata")
    bad = other = 0
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, tcol, to_us, xcol, ycol, vcols, decimal, rate in SOURCES:
            if not (folder / name).is_file():
                print(f"skip {name}: not in {folder}")
                continue
            data = load(folder, name, tcol, to_us, xcol, ycol, vcols, decimal)
            for written in ("s", "ms", "us"):
                p = Path(tmp) / f"{written}.tsv"
                out = pd.DataFrame({"time": data["t_us"] * SCALE_FROM_US[written], "x": data["x"], "y": data["y"],
                                    "valid": data["valid"].astype(int)})
                out.to_csv(p, sep="\t", index=False, float_format="%.9f", na_rep="")
                for declared in ("s", "ms", "us"):
                    n += 1
                    try:
                        rec = read_plain(p, geometry=GEOMETRY, rate_hz=rate, time_unit=declared)
                        outcome = f"read, {rec.meta.sampling_rate_hz:g} Hz, {rec.n_samples} samples"
                        ok = declared == written
                    except InputError as exc:
                        outcome = "refused: " + exc.problem[:110]
                        ok = declared != written and f"seem to be in {WORDS[written]}" in exc.problem
                        if declared == written and "seem to be in" not in exc.problem:
                            other += 1  # refused for another reason (e.g. gaze off the assumed screen)
                            ok = None
                    bad += ok is False
                    tag = {True: "ok ", False: "BAD", None: "n/a"}[ok]
                    print(f"{tag} {name[:40]:40s} {rate:5g} Hz written {written:2s} "
                          f"declared {declared:2s}: {outcome}")
    print(f"{n - bad - other} of {n} cases as expected, {bad} wrong, {other} refused for a reason other than "
          "the unit (right unit declared; n/a)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
