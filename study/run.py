"""``python -m study.run``: run (or resume) one eye-tracking session.

Examples
--------
A lab session on the Tobii tracker (settings in study.toml)::

    python -m study.run --participant sub-07 --config study.toml

A 2-trial smoke session, headless, simulated tracker (faster than real time)::

    python -m study.run --participant sub-01 --config quick --data /tmp/raw

Continue a session that was interrupted (crash, power cut, Escape)::

    python -m study.run --participant sub-07 --resume

Exit codes: 0 finished, 1 failed, interrupted or stopped by a full disk (resume it with
``--resume``), 2 bad input (bad id, bad ``--data``, existing session, session in use by
another process, changed stimuli, no tracker found, bad config).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from study.errors import run_cli


class _StatusLine:
    """The experimenter's console line, rewritten in place (carriage return) on stderr."""

    def __init__(self) -> None:
        self.active = False

    def __call__(self, line: str) -> None:
        sys.stderr.write("\r" + line.ljust(100))
        sys.stderr.flush()
        self.active = True

    def break_line(self) -> None:
        if self.active:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self.active = False

    def break_filter(self, record: logging.LogRecord) -> bool:
        self.break_line()
        return True


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m study.run",
        description="Run one eye-tracking session of the artwork study (participant info, calibration, validation, "
                    "practice, trials, drift checks) and record it crash-safely into a BIDS dataset.",
        epilog="Exit codes: 0 ok, 1 failed/interrupted/disk full (use --resume), 2 bad input or session in use. "
               "See docs/study.md.")
    p.add_argument("--participant", required=True, metavar="sub-XX",
                   help="pseudonymous participant label matching sub-[A-Za-z0-9]+ (at most 64 characters), e.g. sub-07 "
                        "(never a name); "
                        "its number drives the counterbalancing")
    p.add_argument("--session", type=int, default=1, metavar="N", help="session number, the ses-N label (default 1)")
    p.add_argument("--tracker", choices=("tobii", "simulated", "mouse"), default=None,
                   help="eye tracker: tobii (TittaPy / Tobii Pro SDK), simulated (gaze model) or mouse (piloting); "
                        "default: [tracker] kind of the config")
    p.add_argument("--config", default=None, metavar="TOML",
                   help="study config file, or the name of a shipped one (default, quick); default: built-in defaults "
                        "(= study/configs/default.toml)")
    p.add_argument("--data", default="data/raw", metavar="DIR",
                   help="dataset root, a folder (created if missing; default data/raw)")
    p.add_argument("--manifest", default=None, metavar="CSV",
                   help="stimulus manifest (default: [stimuli] manifest of the config, data/stimuli/manifest.csv)")
    p.add_argument("--resume", action="store_true",
                   help="continue an unfinished session at its next unfinished trial, keeping what was recorded")
    p.add_argument("--presenter", choices=("psychopy", "headless"), default=None,
                   help="psychopy (a window) or headless (no window, same protocol steps); default: [run] presenter")
    p.add_argument("--headless", action="store_true", help="shorthand for --presenter headless")
    p.add_argument("--clock", choices=("auto", "real", "virtual"), default=None,
                   help="real or virtual (faster than real time; headless + simulated only); default: [run] clock")
    p.add_argument("--responder", choices=("keyboard", "auto"), default=None,
                   help="keyboard (a person presses keys) or auto (keys pressed automatically; tests/CI); "
                        "default: [run] responder")
    p.add_argument("--quiet", action="store_true", help="no live status line")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from study.config import load_config
    from study.presenters import SessionAborted
    from study.session import run_session

    cfg = load_config(args.config)
    status = _StatusLine()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:   # a log message starts on a fresh line
        handler.addFilter(status.break_filter)
    try:
        out = run_session(cfg, args.participant, args.session, tracker=args.tracker,
                          presenter="headless" if args.headless else args.presenter, data_root=args.data,
                          clock=args.clock, responder=args.responder, resume=args.resume, manifest=args.manifest,
                          status=None if args.quiet else status)
    except SessionAborted:
        status.break_line()
        print(f"session interrupted; continue it with: python -m study.run --participant {args.participant} "
              f"--session {args.session} --data {args.data} --resume", file=sys.stderr)
        return 1
    finally:
        status.break_line()
        for handler in handlers:
            handler.removeFilter(status.break_filter)
    print(f"session finalised: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(run_cli(main))
