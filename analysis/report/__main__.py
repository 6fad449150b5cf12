"""CLI: ``python -m analysis.report [--data DIR] [--out reports/] [--config analysis.toml]``."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from analysis.errors import run_cli

DEFAULT_DATA = Path("data/demo")
DEFAULT_MANIFEST = Path("data/stimuli/manifest.csv")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m analysis.report",
        description="Process an Eye-Tracking-BIDS dataset and write the Table 4 replication report "
                    "(report.html, report.md, tables/*.csv|tex, figures/*.png|svg). See docs/report.md.")
    p.add_argument("--data", type=Path, default=None,
                   help=f"dataset root holding dataset_description.json (default: the bundled simulated demo "
                        f"cohort {DEFAULT_DATA}; create it with `python -m study.simulate --participants 50 "
                        f"--out data/demo`)")
    p.add_argument("--out", type=Path, default=Path("reports"), help="output folder (default: reports/)")
    p.add_argument("--config", type=Path, default=None,
                   help="analysis TOML file ([ivt], [idt], [quality], [report]); default: the documented defaults "
                        "of analysis.config")
    p.add_argument("--manifest", type=Path, default=None,
                   help=f"stimulus manifest to check the events against and to draw images under the heatmaps "
                        f"(default: {DEFAULT_MANIFEST} when it exists; otherwise stimuli are checked against the "
                        "paper's nine artworks)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes for the preprocessing (default: [report].jobs of the config; 0 = all cores)")
    p.add_argument("--skip-unreadable", action="store_true",
                   help="record unreadable sessions as excluded participants instead of stopping (default: stop)")
    p.add_argument("--keep-onset-fixation", action="store_true",
                   help="heatmaps and scanpaths keep the fixation already in progress at stimulus onset (begun on "
                        "the fixation cross); default: leave it out, as the captions say")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from analysis.config import load_config
    from analysis.errors import InputError, check_output_dir
    from analysis.report.inputs import check_data_dir

    check_output_dir(args.out, "--out")  # before any work: a typo must not cost a whole run
    config = load_config(args.config)
    data = args.data if args.data is not None else DEFAULT_DATA
    check_data_dir(data, is_default=args.data is None)
    if args.jobs is not None and args.jobs < 0:
        raise InputError("--jobs must be >= 0", column="--jobs", expected="0 (all cores) or a positive number",
                         fix="give e.g. --jobs 2")
    manifest = args.manifest
    if manifest is not None and manifest.is_dir():
        raise InputError("--manifest names a folder", file=manifest, expected="the stimulus manifest.csv file",
                         fix="give the manifest file itself, e.g. data/stimuli/manifest.csv")
    if manifest is not None and not manifest.is_file():
        raise InputError("manifest not found", file=manifest, fix="give an existing manifest.csv or omit --manifest")
    if manifest is None and DEFAULT_MANIFEST.is_file():
        manifest = DEFAULT_MANIFEST

    from analysis.batch import process_dataset
    from analysis.report.build import build_report

    t0 = time.perf_counter()
    jobs = args.jobs if args.jobs is not None else config.report.jobs
    result = process_dataset(data, config, jobs=jobs, progress=not args.no_progress,
                             on_error="exclude" if args.skip_unreadable else "raise")
    if result.dataset_description.get("Simulated"):
        print("NOTE: the dataset is SIMULATED (dataset_description.json \"Simulated\": true); every output says so.",
              file=sys.stderr)
    paths = build_report(result, args.out, data_dir=data, manifest_path=manifest, progress=not args.no_progress,
                         drop_onset_fixation=not args.keep_onset_fixation)
    logging.getLogger("analysis.report").info("report written in %.1f s", time.perf_counter() - t0)
    print(terminal_summary(paths, simulated=bool(result.dataset_description.get("Simulated"))))
    return 0


def terminal_summary(paths: dict, *, simulated: bool) -> str:
    """What the terminal shows at the end: the headline result and where the report is."""
    kind = f" ({paths['headline_kind']})" if paths.get("headline_kind") else ""
    lines = ["", "HEADLINE RESULT" + kind + (" -- SIMULATED DATA" if simulated else "")]
    lines += [f"  - {s}" for s in paths.get("headline") or ["no headline test could be computed on these data"]]
    html = Path(paths["html"]).resolve()
    lines += ["", f"Report: {html}", f"  open it in a browser: {html.as_uri()}",
              f"  also {paths['md']}, {len(paths['tables'])} table files in {Path(paths['html']).parent / 'tables'}, "
              f"{len(paths['figures'])} figure files in {Path(paths['html']).parent / 'figures'}"]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run_cli(main))
