"""User-facing errors of :mod:`study` and the CLI wrapper that maps them to exit code 2.

Same shape as ``analysis.errors`` (``study`` may not import ``analysis``): a
:class:`StudyError` names the file, line and column where known, what was expected and
how to fix it. CLIs wrap ``main`` in :func:`run_cli` so a user never sees a traceback for
bad input (exit code 2) while programming errors still surface (exit code 1).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


@dataclass
class StudyError(Exception):
    """A problem the user (experimenter) can fix.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str or Path, optional
        The offending file.
    line : int, optional
        1-based line number in ``file`` (a CSV header is line 1).
    column : str, optional
        Column name or config key.
    expected : str, optional
        What was expected instead.
    fix : str, optional
        How to fix it.
    """

    problem: str
    file: str | Path | None = None
    line: int | None = None
    column: str | None = None
    expected: str | None = None
    fix: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.problem)

    def __str__(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        text = (", ".join(where) + ": " if where else "") + self.problem
        if self.expected:
            text += f"\n  expected: {self.expected}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class RecordingStopped(Exception):
    """A session stopped on a fault outside the user's input (disk full, I/O error).

    What was recorded is kept for ``--resume``; the message says what was kept and what
    to do. :func:`run_cli` prints it without a traceback and exits with
    :data:`EXIT_FAILED` (1: "failed or interrupted, resume it").
    """


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main`` and map outcomes to exit codes 0/1/2 without user-facing tracebacks."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = main(argv)
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecordingStopped as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if code is None else int(code)
