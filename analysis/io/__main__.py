"""``python -m analysis.io FILE``: read one recording and print a summary.

Shows the detected format, sampling rate, screen geometry, tracker, sample counts
(nothing is dropped silently) and the trials. Exit codes: 0 ok, 2 bad input (the
message names the file, line, column and the fix), 1 other failure.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from analysis.errors import run_cli
from analysis.io import FORMATS, read_recording
from analysis.recording import Geometry, Recording


def add_reader_arguments(p: argparse.ArgumentParser) -> None:
    """The options every command that reads one recording shares (path, format, geometry, rate)."""
    p.add_argument("path", help="BIDS session folder (sub-XX/ses-N), its beh/ folder or a physio file; or an export file")
    p.add_argument("--format", choices=FORMATS, default="auto", help="input format (default: auto-detect)")
    p.add_argument("--screen-px", nargs=2, type=int, metavar=("W", "H"),
                   help="screen resolution in pixels (with --screen-mm and --distance-mm: full geometry; "
                        "overrides the file's); alone: the resolution for files with normalised gaze "
                        "(tobii_sdk, tobii_raw, eprime, iohub)")
    p.add_argument("--screen-mm", nargs=2, type=float, metavar=("W", "H"),
                   help="physical size of the display area in mm (default: derived from the export's px and mm "
                        "gaze columns where it has both)")
    p.add_argument("--distance-mm", type=float, metavar="D",
                   help="eye-to-screen viewing distance in mm (default: the export's median eye position Z)")
    p.add_argument("--rate-hz", "--rate", dest="rate_hz", type=float, metavar="HZ",
                   help="nominal sampling rate in Hz (required for plain tables; checked against the timestamps "
                        "otherwise; --rate is an alias)")
    p.add_argument("--time-unit", choices=("s", "ms", "us"), default="s",
                   help="unit of the time column of a plain table (default: s)")
    p.add_argument("--verify", action="store_true",
                   help="BIDS: first check the session's checksum file (files changed after recording are an error)")


def read_from_args(args: argparse.Namespace) -> Recording:
    """Read the recording the options of :func:`add_reader_arguments` name."""
    geometry = None
    if args.screen_px and args.screen_mm and args.distance_mm:
        geometry = Geometry(tuple(args.screen_px), tuple(args.screen_mm), float(args.distance_mm))
    # --screen-px alone: for formats with normalised gaze (read_recording refuses it for the others)
    screen_px = tuple(args.screen_px) if args.screen_px and geometry is None else None
    return read_recording(args.path, args.format, geometry=geometry, rate_hz=args.rate_hz, screen_px=screen_px,
                          screen_mm=tuple(args.screen_mm) if args.screen_mm else None,
                          distance_mm=args.distance_mm, time_unit=args.time_unit, verify=args.verify)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.io",
        description="Read a gaze recording (project BIDS session, Tobii Pro Lab or Tobii Studio TSV export, "
                    "gzipped or not, plain time/x/y/valid table, Tobii Studio 1.x/2.x All-Data export, Tobii Pro SDK/Titta "
                    "gaze table, Tobii SDK raw TX300 file, E-Prime .gazedata, PsychoPy ioHub HDF5) and print a summary. See docs/readers.md.")
    add_reader_arguments(p)
    p.add_argument("--trials", type=int, default=20, help="how many trials to list (default: 20)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rec = read_from_args(args)
    m = rec.meta
    g = m.geometry
    t = rec.samples["time_s"]
    print(f"file:        {m.source}")
    print(f"format:      {m.format}" + (f" ({m.extra['column_style']})" if "column_style" in m.extra else ""))
    print(f"tracker:     {m.tracker_model}")
    if m.participant or m.session:
        print(f"participant: {m.participant}  session: {m.session}")
    print(f"rate:        {m.sampling_rate_hz:g} Hz")
    print(f"geometry:    {g.screen_px[0]}x{g.screen_px[1]} px, {g.screen_mm[0]:g}x{g.screen_mm[1]:g} mm, "
          f"viewing distance {g.distance_mm:g} mm")
    for key, src in m.extra.get("geometry_source", {}).items():
        print(f"  {key + ':':12s} {src}")
    if "clock" in m.extra:
        print(f"clock:       {m.extra['clock']}" + (f" (note: {m.extra['clock_note']})" if "clock_note" in m.extra else ""))
    if rec.labels is not None:
        print(f"labels:      {m.extra.get('labels_source', 'yes')}")
    if m.accuracy_deg is not None or m.precision_deg is not None:
        print(f"validation:  accuracy {m.accuracy_deg} deg, precision {m.precision_deg} deg")
    if len(t):
        print(f"time:        {t.iloc[0]:.3f} .. {t.iloc[-1]:.3f} s ({t.iloc[-1] - t.iloc[0]:.1f} s)")
    print("counts:      " + ", ".join(f"{k}={v}" for k, v in rec.counts.items()))
    if m.extra.get("simulated"):
        print("note:        SIMULATED dataset (dataset_description.json \"Simulated\": true)")
    print(f"trials:      {len(rec.trials)}")
    if len(rec.trials):
        cols = ["trial", "stimulus_id", "artwork", "category", "method", "onset_s", "offset_s"]
        print(rec.trials[cols].head(args.trials).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
