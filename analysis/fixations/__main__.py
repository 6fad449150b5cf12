"""Command line: ``python -m analysis.fixations SAMPLES --out EVENTS.tsv [options]``.

Reads one recording with :func:`analysis.io.read_recording`, detects fixations with
the Tobii I-VT filter (default) or I-DT, and writes one row per fixation. Exit codes:
0 ok, 1 failed, 2 bad input (message, no traceback). See docs/fixations.md.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path


from analysis.config import load_config
from analysis.errors import InputError, check_output_file, run_cli
from analysis.fixations import ALGORITHMS, FIXATION_COLUMNS, detect_fixations
from analysis.io import FORMATS
from analysis.io._common import GEOMETRY_LIMITS, check_geometry
from analysis.recording import Geometry

log = logging.getLogger("analysis.fixations")

EPILOG = """\
output (EVENTS.tsv): tab-separated, header row, one row per fixation sorted by onset:
  onset_s, offset_s, duration_s  seconds on the recording's clock (boundaries halfway between samples)
  x_px, y_px                     fixation position: mean gaze point, screen pixels (origin top-left)
  n_samples                      gaze samples in the fixation
labels (--labels): time_s, label with 0 unknown, 1 fixation, 2 saccade, 3 gap (no gaze).

examples:
  python -m analysis.fixations data/raw/sub-07/ses-1 --out sub-07_fixations.tsv
  python -m analysis.fixations export.tsv --format prolab --screen-mm 509 286 --distance-mm 650 --out fix.tsv
  python -m analysis.fixations gaze.tsv --format plain --screen-px 1280 1024 --screen-mm 338 270 \\
      --distance-mm 650 --rate-hz 60 --out fix.tsv --labels labels.tsv --algorithm idt
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m analysis.fixations",
        description="Detect fixations in one gaze recording with the Tobii I-VT fixation filter "
                    "(Olsen 2012; Tobii Pro Lab 'Tobii I-VT (Fixation)' preset) or I-DT "
                    "(Salvucci & Goldberg 2000), and write them as a TSV table.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("samples", metavar="SAMPLES",
                   help="the recording: a BIDS session folder (sub-XX/ses-N) or one of its physio files, "
                        "a Tobii Pro Lab or Tobii Studio TSV export, or a plain time/x/y/valid table")
    p.add_argument("--out", required=True, metavar="EVENTS.tsv", help="where to write the fixation table (TSV)")
    p.add_argument("--format", default="auto", choices=list(FORMATS),
                   help="input format; 'auto' (default) tells it from the path and header")
    p.add_argument("--algorithm", default="ivt", choices=sorted(ALGORITHMS),
                   help="'ivt' (default): Tobii I-VT filter, all seven steps; 'idt': dispersion threshold")
    p.add_argument("--screen-px", nargs=2, type=int, metavar=("W", "H"),
                   help="screen resolution in pixels; with --screen-mm and --distance-mm it replaces the "
                        "geometry of the file (BIDS sidecar); required for plain tables; alone: the resolution "
                        "for files with normalised gaze (tobii_sdk, tobii_raw, eprime, iohub)")
    p.add_argument("--screen-mm", nargs=2, type=float, metavar=("W", "H"),
                   help="physical size of the display area in millimetres (needed for exports that give "
                        "only the resolution, and for plain tables)")
    p.add_argument("--distance-mm", type=float, metavar="D",
                   help="eye-to-screen viewing distance in millimetres, used where the data have no eye "
                        "position (typical: 650 for a Tobii T60)")
    p.add_argument("--rate-hz", "--rate", dest="rate", type=float, metavar="HZ",
                   help="nominal sampling rate in Hz (required for plain tables; otherwise taken from the "
                        "file and checked against the timestamps; --rate is an alias)")
    p.add_argument("--time-unit", default="s", choices=["s", "ms", "us"],
                   help="unit of the 'time' column of a plain table (default s)")
    p.add_argument("--labels", metavar="LABELS.tsv",
                   help="also write the per-sample labels: time_s, label (0 unknown, 1 fixation, 2 saccade, 3 gap)")
    p.add_argument("--config", metavar="analysis.toml",
                   help="TOML file with an [ivt] or [idt] section overriding the documented defaults "
                        "(see docs/fixations.md)")
    return p


GEOMETRY_FIX = "correct --screen-px, --screen-mm and --distance-mm"


def _geometry(args: argparse.Namespace) -> Geometry | None:
    """The geometry flags, checked by :func:`analysis.io._common.check_geometry` (plausible ranges,
    the same check as for sidecars and exports); partial flags (size and distance for an export that
    gives the resolution) are checked against the same limits."""
    if args.screen_px is None:
        lo_mm, hi_mm = GEOMETRY_LIMITS["mm"]
        lo_d, hi_d = GEOMETRY_LIMITS["distance_mm"]
        problems = [f"screen {n} {v:g} mm is outside {lo_mm:g}..{hi_mm:g} mm"
                    for n, v in zip(("width", "height"), args.screen_mm or ()) if not lo_mm <= v <= hi_mm]
        if args.distance_mm is not None and not lo_d <= args.distance_mm <= hi_d:
            problems.append(f"viewing distance {args.distance_mm:g} mm is outside {lo_d:g}..{hi_d:g} mm")
        if problems:
            raise InputError("implausible values in the screen geometry: " + "; ".join(problems),
                             expected=f"display size {lo_mm:g}..{hi_mm:g} mm per side, viewing distance "
                                      f"{lo_d:g}..{hi_d:g} mm", fix=GEOMETRY_FIX)
        return None
    if args.screen_mm is None or args.distance_mm is None:
        return None  # --screen-px alone: passed on as screen_px (formats with normalised gaze)
    return check_geometry(Geometry(screen_px=(args.screen_px[0], args.screen_px[1]),
                                   screen_mm=(args.screen_mm[0], args.screen_mm[1]), distance_mm=args.distance_mm),
                          fix=GEOMETRY_FIX)


def _write_tsv(frame, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, sep="\t", index=False, na_rep="n/a", float_format="%.6f", lineterminator="\n")
    except OSError as exc:
        raise InputError(f"cannot write the output: {exc.strerror}", file=path,
                         fix="choose a writable path") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from analysis.io import read_recording

    check_output_file(args.out, "--out")  # before any work
    if args.labels:
        check_output_file(args.labels, "--labels")
        if Path(args.labels).resolve() == Path(args.out).resolve():
            raise InputError("--labels and --out name the same file", file=args.out,
                             expected="two different files", fix="give --labels another name")
    if args.rate is not None and not 0 < args.rate < float("inf"):
        raise InputError(f"--rate-hz {args.rate:g} is not a positive number", column="--rate-hz",
                         expected="the nominal sampling rate in Hz, e.g. 60", fix="correct --rate-hz")
    cfg_all = load_config(args.config)
    config = cfg_all.ivt if args.algorithm == "ivt" else cfg_all.idt
    geometry = _geometry(args)
    screen_mm = tuple(args.screen_mm) if args.screen_mm is not None else None
    rec = read_recording(args.samples, format=args.format, geometry=geometry, rate_hz=args.rate,
                         screen_px=tuple(args.screen_px) if args.screen_px is not None and geometry is None else None,
                         screen_mm=screen_mm if geometry is None else None,
                         distance_mm=args.distance_mm if geometry is None else None,
                         time_unit=args.time_unit)
    result = detect_fixations(rec, algorithm=args.algorithm, config=config)
    out = Path(args.out)
    _write_tsv(result.fixations[list(FIXATION_COLUMNS)], out)
    if args.labels:
        _write_tsv(result.labels_frame(), Path(args.labels))
    fx = result.fixations
    log.info("%s: %d samples, %d fixations (%.1f s in fixations) -> %s", args.samples, rec.n_samples, len(fx),
             float(fx["duration_s"].sum()) if len(fx) else 0.0, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
