"""User-facing input errors and the CLI wrapper that turns them into exit code 2.

Every reader, validator and CLI in :mod:`analysis` raises :class:`InputError` for
input a user can fix. The message names the file, the line and column where known,
what was expected and how to fix it. CLIs wrap their ``main`` in :func:`run_cli`
so a user never sees a traceback for bad input (exit code 2), while programming
errors still surface (exit code 1).
"""

from __future__ import annotations

import logging
import os
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
        1-based line number in ``file`` (the header is line 1).
    column : str, optional
        Column name (or 1-based index) in ``file``.
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


def _first_existing(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _check_parent(path: Path, option: str) -> None:
    anc = _first_existing(path.parent if str(path.parent) else Path("."))
    if not anc.is_dir():
        raise InputError(f"{option} cannot be created: {anc} is a file, not a folder", file=path,
                         expected="a path whose parent folders are folders", fix=f"give another {option} path")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise InputError(f"{option} cannot be written: no write permission in {anc}", file=path,
                         expected="a writable location", fix=f"give a writable {option} path")


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """Check, before any work starts, that ``path`` can be the output folder of a command.

    The folder may be missing (it is created when the results are written), but it must not be a
    file, none of its parents may be a file, and the nearest existing parent must be writable;
    otherwise an :class:`InputError` is raised at once, so a user does not lose a long run to a
    typo (issue 11: ``report --out`` naming a file failed only after all processing).

    Parameters
    ----------
    path : str or Path
        The output folder.
    option : str
        The command-line option that gave it, for the message (default: "--out").

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} names a file, not a folder", file=path,
                         expected="a folder (created if missing) for the output files",
                         fix=f"give a folder with {option}, or move the file away")
    _check_parent(path, option)
    return path


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """Check, before any work starts, that ``path`` can be written as an output file.

    Refuses an existing folder, a parent that is a file, and an unwritable location
    (:func:`check_output_dir` for folders).

    Parameters
    ----------
    path : str or Path
        The output file.
    option : str
        The command-line option that gave it (default: "--out").

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{option} names a folder, not a file", file=path,
                         expected="the path of the file to write, e.g. out/fixations.tsv",
                         fix=f"give a file name with {option}")
    if path.exists() and not os.access(path, os.W_OK):
        raise InputError(f"{option} cannot be written: the file is read-only", file=path,
                         expected="a writable file", fix=f"give another {option} path or make the file writable")
    _check_parent(path, option)
    return path
