"""User-facing input errors for :mod:`stimuli_gen` and the CLI wrapper (exit code 2).

Same shape as ``analysis.errors`` (which :mod:`stimuli_gen` may not import, see
docs/contributing.md): every reader, config loader and CLI raises :class:`InputError`
for input a user can fix; :func:`run_cli` turns it into a message on stderr and exit
code 2, without a traceback. Programming errors still surface (exit code 1).
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
class InputError(Exception):
    """Bad input that the user can fix.

    Parameters
    ----------
    problem : str
        What is wrong, in one sentence.
    file : str or Path, optional
        The offending file.
    line : int, optional
        1-based line number in ``file``.
    column : str, optional
        Column, key (``section.key`` for TOML) or 1-based index in ``file``.
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


def run_cli(main: Callable[[Sequence[str] | None], int | None], argv: Sequence[str] | None = None) -> int:
    """Run a CLI ``main`` and map outcomes to exit codes 0/1/2 without user-facing tracebacks."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        code = main(argv)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK if code is None else int(code)
