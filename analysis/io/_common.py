"""Shared machinery of the readers: robust table reading, validation and normalisation.

Every reader turns its source into per-eye arrays and hands them to
:func:`build_samples`; the checks here (timestamps, sampling rate, coordinates,
numeric cells) are the same for every format, so every format fails the same way:
with an :class:`~analysis.errors.InputError` naming the file, the 1-based line (the
header is line 1) and the column, what was expected and the fix (docs/readers.md).
"""

from __future__ import annotations

import csv
import warnings
import logging
import re
import zlib
import gzip
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.errors import InputError
from analysis.recording import EYES, SAMPLE_COLUMNS, SAMPLE_DTYPES, TRIAL_DTYPES, Geometry, count_samples

log = logging.getLogger(__name__)

#: Artwork slug -> category (docs/formats.md section 1; paper Table 3).
ARTWORK_CATEGORY: dict[str, str] = {
    "last_supper": "painting", "night_watch": "painting", "virgin_of_the_rocks": "painting",
    "david": "sculpture", "thinker": "sculpture", "venus_de_milo": "sculpture",
    "terracotta_warriors": "craft", "tang_sancai": "craft", "blue_white_porcelain": "craft",
}
METHODS = ("ours", "pix2pix")
_IMAGE_EXT = re.compile(r"\.(png|jpe?g|bmp|tiff?|gif|webp)$", re.IGNORECASE)

#: Tolerance for gaze coordinates: a valid sample may lie off the display (people look
#: past the screen edge and trackers report it), but not more than one full screen
#: width/height beyond it, i.e. x in [-W, 2W] and y in [-H, 2H]. Anything further is
#: not a gaze position on this display: wrong resolution, wrong unit or a corrupt cell.
COORD_TOLERANCE_SCREENS = 1.0

#: Sampling-rate rules (docs/readers.md, "Sampling rate"): the measured median interval
#: may differ from the declared rate by at most 10 %; intervals shorter than
#: 0.75 x the nominal interval are "too short" and more than max(5, 1 %) of them mean
#: the file mixes sampling rates (e.g. a 120 Hz stretch in a 60 Hz file).
RATE_TOLERANCE = 0.10
SHORT_INTERVAL_FRACTION = 0.75
MAX_SHORT_INTERVALS_FRACTION = 0.01
MAX_SHORT_INTERVALS_MIN = 5
#: Nominal sampling rates of Tobii screen-based trackers, the only rates a Tobii Pro Lab or
#: Tobii Studio export can have: Tobii X2-30 (30/40 Hz), Tobii 1750/X50 (50 Hz), T60/X60/X2-60/Nano
#: (60 Hz), Pro Spark/Eye Tracker 5 class (90 Hz), T120/X120/X3-120 (120 Hz), Pro Spectrum
#: (60/120/150/300/600/1200 Hz), Pro Fusion (60/120/250 Hz), TX300 (60/120/250/300 Hz) (Tobii Pro
#: product descriptions / user manuals of each tracker, technical specifications). Export readers snap
#: the measured rate to this table (:data:`SNAP_TOLERANCE`).
TOBII_NOMINAL_RATES_HZ = (30.0, 40.0, 50.0, 60.0, 90.0, 120.0, 150.0, 250.0, 300.0, 600.0, 1200.0)
#: Rates other readers snap to: Tobii's plus the 500 and 1000 Hz of EyeLink-class trackers (SR Research
#: EyeLink 1000 Plus user manual), which ioHub and plain tables may hold. A measured rate within 2 % of
#: one of them is reported as that rate; other measured rates are reported as measured.
KNOWN_RATES_HZ = tuple(sorted(TOBII_NOMINAL_RATES_HZ + (500.0, 1000.0)))
SNAP_TOLERANCE = 0.02
#: Any video eye tracker samples between 10 Hz (webcam trackers) and 2000 Hz (EyeLink 1000 Plus,
#: SR Research user manual); a timestamp column whose median interval gives a rate outside
#: this range is in another unit than assumed (:func:`analysis.io.units.check_time_unit`).
PLAUSIBLE_RATE_HZ = (10.0, 2500.0)
#: Seconds per timestamp unit.
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
#: Off-screen rule (docs/readers.md, "Off-screen samples"): a valid sample further than
#: :data:`COORD_TOLERANCE_SCREENS` screens beyond the display edge is not a gaze position on the
#: display (a glitch, or a participant looking far away) and is marked invalid and counted
#: (``counts["offscreen_samples"]``). Only when more than this fraction of the valid samples lie
#: outside the display itself (with :data:`OFFSCREEN_MARGIN` of its size around it) does the pattern
#: say the resolution or unit is wrong, and the recording is refused.
OFFSCREEN_REFUSE_FRACTION = 0.5
OFFSCREEN_MARGIN = 0.1
#: Intervals longer than this many nominal intervals are gaps (missing samples).
GAP_INTERVAL_FACTOR = 1.5


def plain(v: object) -> str:
    """A number as a person writes it, for every reader message (never a numpy repr such as
    ``np.float64(2.0)``): ``2209``, ``0.5``, ``1493.25``, ``1e+30``, ``inf``; a non-number as its repr."""
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return repr(v)
    if not np.isfinite(f):
        return str(f)
    return str(int(f)) if f == int(f) and abs(f) < 1e15 else f"{f:.12g}"


def line_of(row: int | np.integer, first_data_line: int) -> int:
    """1-based file line of 0-based data row ``row`` (the header is line ``first_data_line - 1``)."""
    return int(row) + first_data_line


def parse_stimulus_name(name: str | None) -> tuple[str | None, str | None, str | None, str | None]:
    """Split ``<artwork>_<method>`` (optionally with an image extension) into its parts.

    Returns ``(stimulus_id, artwork, category, method)``; artwork/category/method are
    ``None`` unless the artwork is one of the nine slugs of docs/formats.md section 1
    and the method is ``ours`` or ``pix2pix``.
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None, None, None, None
    sid = _IMAGE_EXT.sub("", str(name).strip())
    for method in METHODS:
        suffix = "_" + method
        if sid.endswith(suffix):
            art = sid[: -len(suffix)]
            if art in ARTWORK_CATEGORY:
                return sid, art, ARTWORK_CATEGORY[art], method
    return sid, None, None, None


# --------------------------------------------------------------------------- text input

def compression_of(path: Path) -> str | None:
    """``"gzip"`` for a ``.gz`` file (any case), else ``None``: every reader opens gzipped files
    (``.tsv.gz``, ``.csv.gz``, BIDS ``_physio.tsv.gz``) itself through this one test."""
    return "gzip" if Path(path).suffix.lower() == ".gz" else None



def read_head(path: Path, n_bytes: int = 65536) -> bytes:
    """First bytes of a file (decompressed for ``.gz``); InputError when unreadable."""
    try:
        if compression_of(path):
            with gzip.open(path, "rb") as fh:
                return fh.read(n_bytes)
        with open(path, "rb") as fh:
            return fh.read(n_bytes)
    except FileNotFoundError:
        raise InputError("file not found", file=path, fix="check the path") from None
    except IsADirectoryError:
        raise InputError("a folder was given where a file was expected", file=path,
                         fix="give the export file itself") from None
    except (EOFError, OSError, zlib.error) as exc:
        raise InputError(f"the gzip file is truncated or corrupt ({exc})", file=path,
                         expected="a complete gzip-compressed TSV",
                         fix="restore the file from the session's checksummed copy or re-export it") from None


def guess_encoding(head: bytes) -> str:
    """``utf-16`` with a UTF-16 BOM, ``utf-8-sig`` when the head decodes as UTF-8, else ``latin-1``."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
        return "utf-8-sig"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the head is still UTF-8
        if exc.start >= len(head) - 3:
            return "utf-8-sig"
        return "latin-1"


def head_lines(path: Path, max_lines: int = 200) -> tuple[list[str], str]:
    """The first lines of a text file (decoded) and the encoding used."""
    head = read_head(path)
    if not head.strip():
        raise InputError("the file is empty", file=path, expected="a header row and at least one sample row",
                         fix="export the recording again; the file has no data")
    enc = guess_encoding(head)
    text = head.decode(enc.replace("-sig", ""), errors="replace").lstrip("\ufeff")
    lines = text.splitlines()
    if len(head) >= 65536 and lines:
        lines = lines[:-1]  # possibly cut
    return lines[:max_lines], enc


def find_header(lines: Sequence[str], markers: Sequence[str]) -> int | None:
    """0-based index of the first line containing any of ``markers`` (case-insensitive)."""
    low = [m.lower() for m in markers]
    for i, line in enumerate(lines):
        ll = line.lower()
        if any(m in ll for m in low):
            return i
    return None


def sniff_delimiter(header: str) -> str:
    """Delimiter of a header line: tab, comma, semicolon or whitespace."""
    try:
        return csv.Sniffer().sniff(header, delimiters="\t,;").delimiter
    except csv.Error:
        for d in ("\t", ",", ";"):
            if d in header:
                return d
        return r"\s+"


_COMMA_NUM = re.compile(r"^-?\d+,\d+$")
_DOT_NUM = re.compile(r"^-?\d+\.\d+$")


def sniff_decimal(data_lines: Sequence[str], sep: str) -> str:
    """``","`` when numeric cells use a decimal comma (some Pro Lab locales), else ``"."``.

    Only meaningful when the delimiter is not a comma.
    """
    if sep == ",":
        return "."
    comma = dot = 0
    splitter = re.compile(sep) if sep == r"\s+" else None
    for line in data_lines[:200]:
        cells = splitter.split(line) if splitter else line.split(sep)
        for c in cells:
            c = c.strip()
            if _COMMA_NUM.match(c):
                comma += 1
            elif _DOT_NUM.match(c):
                dot += 1
    return "," if comma > dot else "."


def read_table(
    path: Path,
    *,
    sep: str,
    header_line: int | None,
    names: Sequence[str] | None = None,
    usecols: Sequence[str] | None = None,
    numeric: Sequence[str] = (),
    text: Sequence[str] = (),
    decimal: str = ".",
    encoding: str = "utf-8-sig",
    compression: str | None = "infer",
    na_values: Sequence[str] = ("", "n/a", "NaN", "nan", "NA"),
    quoting: int = csv.QUOTE_NONE,
) -> tuple[pd.DataFrame, int]:
    """Read a delimited table with the C engine and explicit dtypes.

    Parameters
    ----------
    header_line : int or None
        0-based index of the header line; ``None`` for headerless files (then ``names``).
    numeric, text : column names
        Parsed as float64 / str. A non-numeric cell raises an InputError naming its
        line and column (located by a second, string-typed pass only on failure).

    Returns
    -------
    (DataFrame, first_data_line)
        ``first_data_line`` is the 1-based file line of data row 0. Blank lines are kept
        as all-NaN rows so that row numbers map to file lines exactly.
    """
    both = decimal == "both"  # comma-separated file: quoted "10,00" and plain 17.0 cells side by side
    dtype: dict[str, Any] = {c: (object if both else "float64") for c in numeric}
    dtype.update({c: object for c in text})  # object, not the arrow-backed str: 2x faster to parse
    kwargs: dict[str, Any] = dict(
        sep=sep, engine="c", decimal="." if both else decimal, encoding=encoding,
        compression=compression, na_values=list(na_values), keep_default_na=False,
        skip_blank_lines=False, quoting=quoting, on_bad_lines="error", low_memory=False, index_col=False,
    )
    if header_line is None:
        kwargs.update(header=None, names=list(names or []))
        first = 1
    else:
        kwargs.update(header=0, skiprows=header_line)
        first = header_line + 2
    if usecols is not None:
        kwargs["usecols"] = list(usecols)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(path, dtype=dtype, **kwargs)
        if usecols is None and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            _raise_ragged(path, sep, header_line, names, encoding, compression)
    except pd.errors.EmptyDataError:
        raise InputError("the file is empty", file=path, expected="a header row and at least one sample row",
                         fix="export the recording again; the file has no data") from None
    except ValueError as exc:
        if isinstance(exc, pd.errors.ParserError) or "Expected" in str(exc) and "fields" in str(exc):
            _raise_parser_error(path, exc, first, header_line)
        if isinstance(exc, UnicodeDecodeError):
            raise InputError(f"the file is not valid {encoding} text ({exc.reason})", file=path,
                             expected="a UTF-8 (or Latin-1) text export",
                             fix="re-export the data as UTF-8 text") from None
        # locate the offending cell
        df = _read_as_text(path, kwargs, numeric, text)
        locate_non_numeric(df, numeric, path, first, decimal)
        raise InputError(f"could not read the table ({exc})", file=path,
                         fix="check the file is an unmodified export") from None
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(f"the gzip file is truncated or corrupt ({exc})", file=path,
                         expected="a complete gzip-compressed TSV",
                         fix="restore the file from the session's checksummed copy or re-export it") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"the file is not valid {encoding} text ({exc.reason})", file=path,
                         expected="a UTF-8 (or Latin-1) text export",
                         fix="re-export the data as UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"the file could not be read ({exc})", file=path,
                         fix="check the file is complete; restore or re-export it") from None
    if both and numeric:
        conv = {}
        for col in numeric:
            if col in df.columns:
                conv[col] = pd.to_numeric(df[col].str.strip().str.replace(",", ".", regex=False), errors="coerce")
        bad = [c for c, v in conv.items() if (v.isna() & df[c].notna()).any()]
        if bad:
            locate_non_numeric(df, bad, path, first, "both")
        for col, v in conv.items():
            df[col] = v.astype("float64")
    return df, first


#: Bytes per chunk of :func:`check_row_widths` (bounds its memory; the result does not depend on it).
ROW_CHECK_CHUNK_BYTES = 1 << 24


def check_row_widths(path: Path, *, sep: str, header_line: int, width: int, encoding: str, quoting: bool,
                     header: Sequence[str] = ()) -> None:
    """Every non-blank row after the header must have exactly ``width`` cells.

    A row with fewer or more cells than the header would be read shifted or cut (pandas fills
    missing cells with NaN and, with ``usecols``, ignores extra ones), so it is refused with its
    line. Counted on the raw bytes with numpy, in 16 MiB chunks (no loop over rows); with
    ``quoting``, delimiters inside double quotes (CSV quoting, e.g. ``"10,00"``) do not count.

    Raises
    ------
    InputError
        Naming the first offending line, its cell count, the header's and the column where the
        row stops matching the header.
    """
    if len(sep) != 1:
        return
    opener = gzip.open if compression_of(path) else open
    sep_b = ord(sep.encode())
    done = 0             # lines completed before the current chunk
    in_quote = False
    carry = b""
    try:
        with opener(path, "rb") as fh:  # type: ignore[operator]
            if encoding.startswith("utf-16"):
                chunks: Any = [fh.read().decode("utf-16").lstrip("\ufeff").encode("utf-8")]
            else:
                chunks = iter(lambda: fh.read(ROW_CHECK_CHUNK_BYTES), b"")
            for chunk in [*chunks, b"\n"]:
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                if cut == 0:
                    continue
                counts, blank, in_quote = _cells_per_line(np.frombuffer(data[:cut], dtype=np.uint8), sep_b,
                                                          quoting, in_quote)
                line = np.arange(done + 1, done + 1 + len(counts))
                wrong = (counts != width) & ~blank & (line > header_line + 1)
                if wrong.any():
                    k = int(np.flatnonzero(wrong)[0])
                    _raise_width(path, int(line[k]), int(counts[k]), width, header)
                done += len(counts)
    except (EOFError, OSError, zlib.error, UnicodeError):
        return  # the table reader reports unreadable files with its own message


def _cells_per_line(arr: np.ndarray, sep_b: int, quoting: bool, in_quote: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """Cells per ``\\n``-terminated line of ``arr``, which lines are blank, and the quote state at the end."""
    nl = np.flatnonzero(arr == 10)
    is_sep = arr == sep_b
    quote = arr == 34 if quoting else None
    if quote is not None and (in_quote or quote.any()):
        # quote parity by a wrapping uint8 cumsum (parity survives the wrap; 8x less memory than int64)
        q = np.cumsum(quote, dtype=np.uint8)
        if in_quote:
            q += 1
        is_sep &= (q & 1) == 0
        in_quote = bool(q[-1] & 1)
    starts = np.concatenate(([0], nl[:-1] + 1))
    counts = np.add.reduceat(is_sep, starts, dtype=np.int32) + 1 if len(nl) else np.zeros(0, dtype=np.int32)
    length = nl - starts
    crlf = (length > 0) & (arr[np.maximum(nl - 1, 0)] == 13)
    blank = (length - crlf) == 0
    return counts, blank, in_quote


def _raise_width(path: Path, line: int, cells: int, width: int, header: Sequence[str]) -> None:
    where = min(cells, width)  # the first column the row does not fill / the first extra cell
    col = header[where] if cells < width and where < len(header) else None
    if cells > width:
        problem = f"the row has {cells} cells, the header {width}: later cells would be read under the wrong columns"
    else:
        problem = (f"the row has {cells} cells, the header {width}: it ends before column "
                   f"{col!r}, so the row is cut or its cells are shifted")
    raise InputError(problem, file=path, line=line, column=col,
                     expected=f"{width} cells per row, as in the header",
                     fix="a cell holds an unquoted delimiter or the row was cut: quote cells that contain the "
                         "delimiter, remove the stray delimiter or re-export the file")


def _raise_ragged(path: Path, sep: str, header_line: int | None, names: Sequence[str] | None, encoding: str,
                  compression: str | None) -> None:
    """A row with more cells than the header/``Columns`` (pandas would silently drop them)."""
    opener = gzip.open if compression == "gzip" or compression_of(path) else open
    width = len(names or [])
    line_no = None
    with opener(path, "rt", encoding=encoding, errors="replace") as fh:  # type: ignore[operator]
        for k, text in enumerate(fh, start=1):
            cells = text.rstrip("\r\n").split(sep) if sep != r"\s+" else text.split()
            if header_line is not None and k == header_line + 1:
                width = len(cells)
            elif k > (header_line + 1 if header_line is not None else 0) and len(cells) > width:
                line_no = k
                break
    raise InputError("a row has more cells than the header", file=path, line=line_no,
                     expected=f"{width} cells per row", fix="remove the stray delimiters in that row or re-export the file")


def _raise_parser_error(path: Path, exc: Exception, first: int, header_line: int | None) -> None:
    msg = str(exc)
    m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
    line = None
    if m:
        # pandas counts lines after skiprows, 1-based, including the header line
        line = int(m.group(2)) + (header_line or 0)
    raise InputError("a row has more cells than the header" if m else f"the table is malformed ({msg.strip()})",
                     file=path, line=line,
                     expected=(f"{m.group(1)} cells per row" if m else "one header row and rows of equal width"),
                     fix="remove the stray delimiters in that row or re-export the file") from None


def _read_as_text(path: Path, kwargs: dict[str, Any], numeric: Sequence[str], text: Sequence[str]) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", pd.errors.ParserWarning)
            return pd.read_csv(path, dtype={c: str for c in (*numeric, *text)}, **kwargs)
    except (ValueError, OSError, EOFError, zlib.error) as exc:  # pragma: no cover - same file read twice
        raise InputError(f"could not read the table ({exc})", file=path,
                         fix="check the file is an unmodified export") from None


def locate_non_numeric(df: pd.DataFrame, columns: Sequence[str], path: Path, first: int, decimal: str) -> None:
    """Raise an InputError at the first cell of ``columns`` that is not a number (if any)."""
    for col in columns:
        if col not in df.columns:
            continue
        s = df[col]
        raw = s.astype(object)
        cleaned = s.str.strip()
        point = np.zeros(len(s), dtype=bool)
        if decimal == ",":
            # a decimal point in a decimal-comma file is ambiguous (1.493 may be a thousands separator)
            point = cleaned.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
            cleaned = cleaned.str.replace(",", ".", regex=False)
        elif decimal == "both":
            cleaned = cleaned.str.replace(",", ".", regex=False)
        num = pd.to_numeric(cleaned, errors="coerce")
        bad = (num.isna().to_numpy() & raw.notna().to_numpy()) | point
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            what = ("a decimal point in a file that uses a decimal comma" if point[row] else "not a number")
            raise InputError(f"{what}: {raw.iloc[row]!r}", file=path, line=line_of(row, first), column=col,
                             expected="a number" + (" with a decimal comma (e.g. 3,25)" if decimal == "," else ""),
                             fix="correct or empty the cell; empty cells are read as missing")


def normalised_text(series: pd.Series) -> np.ndarray:
    """Per-row ``str(cell).strip().lower()`` ("" for empty cells), computed on the distinct values only."""
    codes, uniques = pd.factorize(series.to_numpy(dtype=object), use_na_sentinel=True)
    table = np.array([str(u).strip().lower() for u in uniques] + [""], dtype=object)
    return table[codes]  # code -1 (missing) picks the trailing ""


#: Cell values read as "valid" / "invalid" in a validity column of 1/0 or words (any case; an empty
#: cell is invalid): plain tables and the SDK dumps (Titta ``*_valid``, tobii_research ``*_validity``).
TRUE_WORDS = frozenset({"1", "1.0", "true", "t", "valid", "yes", "y"})
FALSE_WORDS = frozenset({"0", "0.0", "false", "f", "invalid", "no", "n", ""})


def truth_column(df: pd.DataFrame, name: str, path: Path, lines: np.ndarray) -> np.ndarray:
    """:data:`TRUE_WORDS` -> True, :data:`FALSE_WORDS` -> False; another value is an error at its cell."""
    low = normalised_text(df[name])
    ok = np.isin(low, list(TRUE_WORDS | FALSE_WORDS))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        raise InputError(f"validity {str(df[name].iloc[i])!r} is not a truth value", file=path, line=int(lines[i]),
                         column=name, expected="1/0, true/false, valid/invalid or yes/no (empty = invalid)",
                         fix="correct the cell; the file was edited or is from another program")
    return np.isin(low, list(TRUE_WORDS))


def to_float(df: pd.DataFrame, col: str | None, n: int) -> np.ndarray:
    """Column as float64 array, or all-NaN when the column is absent."""
    if col is None or col not in df.columns:
        return np.full(n, np.nan)
    return df[col].to_numpy(dtype=np.float64, na_value=np.nan)


# --------------------------------------------------------------------------- validation

def check_timestamps(t: np.ndarray, path: Path, lines: np.ndarray, column: str) -> None:
    """Strictly increasing, finite timestamps; InputError at the first offending line."""
    if len(t) == 0:
        raise InputError("no gaze samples in the file", file=path, expected="at least one sample row",
                         fix="export the recording again with gaze data included")
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError("missing or non-finite timestamp", file=path, line=int(lines[i]), column=column,
                         expected="a timestamp on every sample row", fix="re-export the recording")
    d = np.diff(t)
    if len(d) and (d <= 0).any():
        i = int(np.flatnonzero(d <= 0)[0]) + 1
        kind = "duplicate" if d[i - 1] == 0 else "decreasing (non-monotonic)"
        raise InputError(f"{kind} timestamp {plain(t[i])} after {plain(t[i - 1])} (line {int(lines[i - 1])})",
                         file=path, line=int(lines[i]), column=column,
                         expected="strictly increasing timestamps, one row per sample",
                         fix="export a single recording per file, unsorted or merged exports are not supported; "
                             "remove duplicated rows")
    check_time_jumps(t, path, lines, column)


#: Longest plausible interval between two samples of one recording: one day. An eye-tracking
#: session lasts minutes to hours; a larger jump is a corrupt timestamp (e.g. ``1e308``), not a gap
#: (issue 11). (default: 86400 s)
MAX_INTERVAL_S = 86400.0


def check_time_jumps(t_s: np.ndarray, path: str | Path, lines: np.ndarray, column: str) -> None:
    """Refuse an interval longer than :data:`MAX_INTERVAL_S` between consecutive samples.

    Part of :func:`check_timestamps` and :func:`check_sampling`, so that every reader is protected
    (a jump of 1e308 s would overflow the gap count of :func:`check_sampling`).

    Parameters
    ----------
    t_s : array
        Timestamps in seconds, finite and increasing (checked before).
    path, lines, column :
        File, 1-based file line of each sample, and the timestamp column, for the message.

    Raises
    ------
    InputError
        At the line after the jump.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        d = np.diff(np.asarray(t_s, dtype=np.float64))
        big = ~(np.abs(d) <= MAX_INTERVAL_S)
    if big.any():
        i = int(np.flatnonzero(big)[0]) + 1
        raise InputError(f"the timestamp jumps by {float(d[i - 1]):.4g} s from line {int(lines[i - 1])}",
                         file=path, line=int(lines[i]), column=column,
                         expected=f"consecutive samples of one recording at most {MAX_INTERVAL_S:g} s (one day) apart",
                         fix="correct the timestamp; the cell is corrupt, or the file joins unrelated recordings")


def measured_rate(t_s: np.ndarray) -> float:
    """Sampling rate measured from timestamps (s): 1 / mean of the intervals below 1.5 x their median.

    The mean over ordinary intervals (gaps excluded) is exact on clocks rounded to whole
    milliseconds, where the median is not: a 300 Hz recording on a ms clock has intervals of
    3 and 4 ms, median 3 ms (333 Hz), mean 3.333 ms (300 Hz). NaN with fewer than two samples.
    """
    d = np.diff(np.asarray(t_s, dtype=np.float64))
    d = d[np.isfinite(d) & (d > 0)]
    if not len(d):
        return float("nan")
    ordinary = d[d < GAP_INTERVAL_FACTOR * float(np.median(d))]
    return 1.0 / float(ordinary.mean() if len(ordinary) else np.median(d))


def snap_rate(measured: float, known: Sequence[float] = KNOWN_RATES_HZ) -> float:
    """``measured`` snapped to the nearest rate of ``known`` within :data:`SNAP_TOLERANCE`, else unchanged."""
    k = np.asarray(known, dtype=np.float64)
    j = int(np.argmin(np.abs(k - measured)))
    return float(k[j]) if abs(k[j] - measured) / k[j] <= SNAP_TOLERANCE else float(measured)


def align_clock(fine_s: np.ndarray, coarse_s: np.ndarray) -> tuple[np.ndarray, dict[str, float]] | None:
    """Put the fine (tracker, µs) clock on the coarse (recording, ms) clock.

    Tobii Pro Lab and Studio exports give each sample on the recording clock rounded to whole
    ms (``Recording timestamp``, ``RecordingTimestamp``) and on the tracker's µs clock
    (``Eyetracker timestamp``, ``EyeTrackerTimestamp``). Sample timing uses the fine clock,
    mapped by a least-squares line onto the recording clock so that events and stimulus
    intervals, which the export gives on the recording clock only, stay aligned. Returns
    ``None`` when the fine clock is missing on a sample, not increasing, or the two clocks do
    not agree within 2 ms (beyond the coarse clock's rounding): then the coarse clock is used.

    Returns
    -------
    (time_s, info) or None
        ``info``: ``slope``, ``offset_s`` and ``max_residual_ms`` of the fit.
    """
    fine = np.asarray(fine_s, dtype=np.float64)
    coarse = np.asarray(coarse_s, dtype=np.float64)
    if len(fine) < 2 or not np.isfinite(fine).all() or not (np.diff(fine) > 0).all():
        return None
    f0 = fine[0]
    x = fine - f0
    A = np.vstack([x, np.ones_like(x)]).T
    ok = np.isfinite(coarse)
    if ok.sum() < 2:
        return None
    (slope, offset), *_ = np.linalg.lstsq(A[ok], coarse[ok], rcond=None)
    t = slope * x + offset
    resid = float(np.max(np.abs(t[ok] - coarse[ok]))) * 1000.0
    if not (0.99 < slope < 1.01) or resid > 2.0:
        return None
    return t, {"slope": float(slope), "offset_s": float(offset), "max_residual_ms": resid}


def index_clock(t_s: np.ndarray, nominal_hz: float) -> tuple[np.ndarray, dict[str, float]] | None:
    """Sample times rebuilt from the sample count at the nominal rate, aligned to a coarse clock.

    For exports that give only a clock rounded to whole ms (e.g. a Pro Lab or Studio export
    without the tracker's µs column): at 300 Hz its intervals alternate 3 and 4 ms, and
    velocities over them are off by up to a third. Each interval is counted in nominal
    sampling periods (``round(d * rate)``, at least 1, so gaps keep their length), the
    cumulative count times the period is a regular clock, and :func:`align_clock` maps it
    onto the coarse clock (refusing it when the two disagree by more than 2 ms anywhere).
    Returns ``None`` when the coarse clock is already finer than 1/4 of a period's rounding
    (nothing to gain) or the alignment fails.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if len(t) < 3 or not np.isfinite(nominal_hz) or nominal_hz <= 0:
        return None
    period_ms = 1000.0 / nominal_hz
    ms = t * 1000.0
    on_whole_ms = bool(np.all(np.abs(ms - np.round(ms)) < 1e-6))
    if not on_whole_ms or abs(period_ms - round(period_ms)) < 1e-9:
        return None
    steps = np.maximum(np.round(np.diff(t) * nominal_hz), 1.0)
    regular = np.concatenate(([0.0], np.cumsum(steps))) / nominal_hz
    return align_clock(regular, t)


def check_sampling(t_s: np.ndarray, declared_hz: float | None, path: Path, lines: np.ndarray,
                   column: str, known_rates: Sequence[float] = KNOWN_RATES_HZ) -> tuple[float, int]:
    """Check the sampling rate; return ``(nominal_rate_hz, estimated_missing_samples)``.

    Rules (docs/readers.md, "Sampling rate"):

    1. measured rate (:func:`measured_rate`: 1 / mean ordinary interval). With a declared
       rate, they must agree within :data:`RATE_TOLERANCE` (10 %). Without one, the nominal
       rate is the measured one, snapped within 2 % to ``known_rates`` (default
       :data:`KNOWN_RATES_HZ`; Tobii exports pass :data:`TOBII_NOMINAL_RATES_HZ`).
    2. intervals shorter than :data:`SHORT_INTERVAL_FRACTION` x the nominal interval
       are impossible at that rate; more than ``max(5, 1 %)`` of them mean a stretch
       at a different rate (e.g. a 120 Hz stretch in a 60 Hz file). A few are
       tolerated as clock jitter.
    3. intervals longer than :data:`GAP_INTERVAL_FACTOR` x nominal are gaps; the
       estimated number of missing samples ``sum(round(d / T) - 1)`` is returned.
    """
    check_time_jumps(t_s, path, lines, column)
    d = np.diff(t_s)
    if len(d) == 0:
        if declared_hz is None:
            raise InputError("one sample only: the sampling rate cannot be measured", file=path,
                             fix="give the sampling rate (rate_hz / --rate-hz)")
        return float(declared_hz), 0
    measured = measured_rate(t_s)
    if declared_hz is not None:
        if not np.isfinite(declared_hz) or declared_hz <= 0:
            raise InputError(f"declared sampling rate {plain(declared_hz)} is not a positive number", file=path,
                             fix="correct SamplingFrequency / --rate-hz")
        if abs(measured - declared_hz) / declared_hz > RATE_TOLERANCE:
            raise InputError(
                f"measured sampling rate {measured:.2f} Hz (median interval) differs from the declared "
                f"{declared_hz:g} Hz by more than {RATE_TOLERANCE:.0%}", file=path, column=column,
                expected=f"samples every {1000.0 / declared_hz:.3f} ms",
                fix="give the true rate (SamplingFrequency in the sidecar, or --rate-hz); check the timestamp unit")
    if declared_hz is not None:
        nominal = float(declared_hz)
    else:
        nominal = snap_rate(measured, known_rates)
    T = 1.0 / nominal
    short = d < SHORT_INTERVAL_FRACTION * T
    n_short = int(short.sum())
    if n_short > max(MAX_SHORT_INTERVALS_MIN, MAX_SHORT_INTERVALS_FRACTION * len(d)):
        i = int(np.flatnonzero(short)[0]) + 1
        raise InputError(
            f"mixed sampling rates: {n_short} of {len(d)} intervals are shorter than "
            f"{SHORT_INTERVAL_FRACTION:g} x the nominal {T * 1000:.3f} ms (first at this line, "
            f"interval {d[i - 1] * 1000:.3f} ms)", file=path, line=int(lines[i]), column=column,
            expected=f"one sampling rate ({nominal:g} Hz) for the whole file",
            fix="split the recording at the rate change and read the parts separately")
    long = d > GAP_INTERVAL_FACTOR * T
    missing = int(np.maximum(np.round(d[long] / T) - 1, 0).sum()) if long.any() else 0
    return nominal, missing


def mark_offscreen(x: np.ndarray, y: np.ndarray, valid: np.ndarray, screen_px: tuple[int, int], path: Path,
                   lines: np.ndarray, columns: tuple[str, str]) -> np.ndarray:
    """Valid samples that cannot be gaze on this display; refuse when most valid samples are off it.

    Rule (docs/readers.md, "Off-screen samples"): a valid sample further than
    :data:`COORD_TOLERANCE_SCREENS` screen widths/heights beyond the display edge (or infinite)
    is off-screen: real trackers report such positions when a participant looks down at the
    keyboard, and single glitch samples (x = 7778 px on a 1024 px display in a real 500 Hz
    recording). The caller marks them invalid and counts them. When more than
    :data:`OFFSCREEN_REFUSE_FRACTION` of the valid samples lie outside the display (with an
    :data:`OFFSCREEN_MARGIN` margin), the pattern says the resolution or the unit is wrong and the
    recording is refused.

    Returns
    -------
    numpy.ndarray of bool
        True for the valid samples to mark invalid.
    """
    w, h = float(screen_px[0]), float(screen_px[1])
    k = COORD_TOLERANCE_SCREENS
    m = OFFSCREEN_MARGIN
    with np.errstate(invalid="ignore"):
        far = valid & ((x < -k * w) | (x > (1 + k) * w) | (y < -k * h) | (y > (1 + k) * h) | np.isinf(x) | np.isinf(y))
        outside = valid & ((x < -m * w) | (x > (1 + m) * w) | (y < -m * h) | (y > (1 + m) * h) | far)
    n_valid = int(valid.sum())
    if n_valid and outside.sum() > OFFSCREEN_REFUSE_FRACTION * n_valid:
        i = int(np.flatnonzero(outside)[0])
        col = columns[0] if not (-m * w <= x[i] <= (1 + m) * w) else columns[1]
        raise InputError(
            f"{int(outside.sum())} of {n_valid} valid gaze samples ({outside.sum() / n_valid:.0%}) lie outside the "
            f"{int(w)}x{int(h)} px display (first at this line: {plain(x[i])}, {plain(y[i])} px): the resolution "
            "or the unit of the gaze columns seems wrong", file=path, line=int(lines[i]), column=col,
            expected=f"gaze mostly within 0..{int(w)} x 0..{int(h)} px",
            fix="give the recording's true resolution (--screen-px) and check that the columns hold pixels, "
                "not mm or normalised units")
    return far


def implausible_eye_position(ex: np.ndarray, ey: np.ndarray, ez: np.ndarray) -> np.ndarray:
    """Samples whose eye position (mm, display-area coordinates) cannot be a real eye.

    True where a coordinate is infinite, or the distance ``ez`` lies outside the plausible
    viewing distances of :data:`GEOMETRY_LIMITS` (150..3000 mm), or ``|ex|``/``|ey|`` exceed
    3000 mm. Readers set such positions to NaN (the filters then use the viewing distance) and
    count them; a missing (NaN) position is not implausible.
    """
    lo, hi = GEOMETRY_LIMITS["distance_mm"]
    with np.errstate(invalid="ignore"):
        bad = np.isinf(ex) | np.isinf(ey) | np.isinf(ez) | (np.abs(ex) > hi) | (np.abs(ey) > hi)
        bad |= np.isfinite(ez) & ((ez < lo) | (ez > hi))
    return bad


def fit_screen_mm(px: np.ndarray, mm: np.ndarray, size_px: float) -> tuple[float, float, bool] | None:
    """Display size (mm) along one axis from the same gaze points in pixels and in mm.

    Tobii exports give each gaze point both in display-area pixels and in display-area mm
    (Pro Lab ``Gaze point X [DACS px]``/``[DACS mm]``, Studio ``GazePointLeftX (ADCSpx)``/``(ADCSmm)``).
    Along each axis ``mm = a * px + b``: Pro Lab's DACS mm share the pixels' origin (top-left,
    ``b = 0``); Tobii Studio's ADCS mm have y pointing up from the bottom edge (``a < 0``,
    ``b`` = the display height; seen in real Studio 3.4 exports). ``a`` and ``b`` are fitted by
    least squares over the samples on the display that have both; the size is ``|a| * size_px``.
    The fit is refused unless the origin is one of the two corners (``b`` within 2 % of 0 or of
    the size) and the residual is below 1 % of the size, so a column in other units is not
    taken for millimetres.

    Returns
    -------
    (size_mm, rms_residual_mm, flipped) or None
        ``flipped``: the mm axis runs against the pixel axis (Studio's y up). ``None`` with
        fewer than 10 sample pairs, points spread over less than 5 % of the axis, or a fit
        that fails the checks above.
    """
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(px) & np.isfinite(mm) & (px >= 0) & (px <= size_px) & (np.abs(mm) < 1e4)
    if ok.sum() < 10:
        return None
    p, q = px[ok], mm[ok]
    if float(np.std(p)) < 0.05 * size_px / 4:
        return None
    pm, qm = float(p.mean()), float(q.mean())
    slope = float(np.dot(p - pm, q - qm) / np.dot(p - pm, p - pm))
    icept = qm - slope * pm
    size = abs(slope) * size_px
    resid = float(np.sqrt(np.mean((q - (slope * p + icept)) ** 2)))
    corner = min(abs(icept), abs(icept - size)) if slope > 0 else abs(icept - size)
    if not (size > 0 and np.isfinite(size)) or corner > 0.02 * size or resid > 0.01 * size:
        return None
    return size, resid, slope < 0


def median_distance_mm(ez: np.ndarray) -> float | None:
    """Viewing distance (mm): the median eye-to-display distance over the samples that have one.

    Tobii's eye position Z (Pro Lab ``Eye position left Z [DACS mm]``, Studio ``EyePosLeftZ
    (ADCSmm)``) is the eye's distance from the display plane (Tobii Pro Lab User Manual,
    "Coordinate systems"); the median over both eyes and all samples is the recording's
    viewing distance. ``None`` when no sample has one.
    """
    v = np.asarray(ez, dtype=np.float64)
    lo, hi = GEOMETRY_LIMITS["distance_mm"]
    v = v[np.isfinite(v) & (v >= lo) & (v <= hi)]
    return float(np.median(v)) if len(v) else None


# --------------------------------------------------------------------------- assembling

def build_samples(time_s: np.ndarray, eyes: dict[str, dict[str, np.ndarray]], geometry: Geometry) -> pd.DataFrame:
    """Assemble the normalised sample table.

    ``eyes[eye]`` has ``x``, ``y`` (px), ``valid`` (bool), optional ``pupil``, ``ex``,
    ``ey``, ``ez`` (mm). A sample is valid only when flagged valid **and** both
    coordinates are finite; coordinates of invalid samples become NaN (docs/formats.md
    section 3).
    """
    n = len(time_s)
    data: dict[str, np.ndarray] = {}
    for name, dtype in SAMPLE_DTYPES.items():
        data[name] = np.zeros(n, dtype=bool) if dtype == "bool" else np.full(n, np.nan)
    data["time_s"] = np.asarray(time_s, dtype=np.float64)
    w, h = geometry.screen_px
    for eye in EYES:
        e = eyes.get(eye)
        if e is None:
            continue
        x = np.asarray(e["x"], dtype=np.float64)
        y = np.asarray(e["y"], dtype=np.float64)
        valid = np.asarray(e["valid"], dtype=bool) & np.isfinite(x) & np.isfinite(y)
        x = np.where(valid, x, np.nan)
        y = np.where(valid, y, np.nan)
        data[f"{eye}_x_px"], data[f"{eye}_y_px"] = x, y
        data[f"{eye}_x_norm"], data[f"{eye}_y_norm"] = x / w, y / h
        data[f"{eye}_valid"] = valid
        for key, col in (("pupil", "pupil_mm"), ("ex", "eye_x_mm"), ("ey", "eye_y_mm"), ("ez", "eye_z_mm")):
            if key in e and e[key] is not None:
                data[f"{eye}_{col}"] = np.asarray(e[key], dtype=np.float64)
    # copy=False: one block per column, no consolidation copy of ~20 x n floats
    return pd.DataFrame(data, columns=list(SAMPLE_COLUMNS), copy=False)


def trials_from_runs(names: pd.Series, time_s: np.ndarray, rate_hz: float,
                     aoi: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Trials = maximal runs of the same non-empty stimulus name over the sample rows.

    ``onset_s`` is the first sample of the run, ``offset_s`` the last sample plus one
    nominal interval. ``aoi`` (optional per-row arrays ``left/top/right/bottom``) gives
    each trial's AOI from its first row.
    """
    vals = names.astype(object).where(names.notna(), None).to_numpy()
    codes, uniques = pd.factorize(vals, use_na_sentinel=True)
    if len(codes) == 0:
        return empty_trials_frame()
    change = np.r_[True, codes[1:] != codes[:-1]]
    starts = np.flatnonzero(change)
    stops = np.r_[starts[1:], len(codes)]
    rows = []
    k = 0
    for a, b in zip(starts, stops):
        if codes[a] < 0:
            continue
        name = uniques[codes[a]]
        if isinstance(name, str) and not name.strip():
            continue
        k += 1
        sid, art, cat, meth = parse_stimulus_name(name)
        row = {"trial": k, "stimulus_id": sid, "artwork": art, "category": cat, "method": meth,
               "onset_s": float(time_s[a]), "offset_s": float(time_s[b - 1]) + 1.0 / rate_hz,
               "aoi_left": np.nan, "aoi_top": np.nan, "aoi_right": np.nan, "aoi_bottom": np.nan}
        if aoi is not None:
            for side in ("left", "top", "right", "bottom"):
                row[f"aoi_{side}"] = float(aoi[side][a])
        rows.append(row)
    if not rows:
        return empty_trials_frame()
    return pd.DataFrame(rows).astype(TRIAL_DTYPES)[list(TRIAL_DTYPES)]


def empty_trials_frame() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in TRIAL_DTYPES.items()})


def finish_counts(samples: pd.DataFrame, **extra: int) -> dict[str, int]:
    """:func:`analysis.recording.count_samples` plus the reader's own counts."""
    counts = count_samples(samples)
    counts.update({k: int(v) for k, v in extra.items()})
    return counts


#: Plausible physical ranges for screen-based eye tracking (docs/readers.md, "Geometry checks").
#: Resolution: 16..32768 px per side. Display size: 50..5000 mm per side (a phone-sized screen up to a
#: projection wall). Viewing distance: 150..3000 mm (Tobii screen-based trackers track at 450-950 mm,
#: Tobii Pro Spectrum/T60 user manuals; the range is wide on purpose and only catches wrong units).
#: Pixel aspect (mm per px in x over y): 0.5..2 (square pixels are 1).
GEOMETRY_LIMITS = {"px": (16, 32768), "mm": (50.0, 5000.0), "distance_mm": (150.0, 3000.0), "aspect": (0.5, 2.0)}


def _plain_seq(values: object) -> str:
    """``(1280, 1024)`` in plain numbers; a value that is not a sequence as :func:`plain` writes it."""
    try:
        return "(" + ", ".join(plain(v) for v in values) + ")"  # type: ignore[union-attr]
    except TypeError:
        return plain(values)


def check_geometry(geometry: Geometry, *, file: str | Path | None = None, source: str = "the screen geometry",
                   fix: str = "check --screen-px, --screen-mm and --distance-mm") -> Geometry:
    """Refuse a geometry outside the plausible physical ranges of :data:`GEOMETRY_LIMITS`.

    Every reader and CLI passes its geometry (from flags, a sidecar or an export) through this one
    check, so NaN, infinite, zero, negative or absurd values (a distance of 1e-6 m, a 0 x 0 mm screen)
    are refused with the same message instead of yielding nonsense visual angles.

    Parameters
    ----------
    geometry : Geometry
        The geometry to check.
    file : path, optional
        The file the geometry came from, for the message (default: None, i.e. command-line flags).
    source : str
        Where the values came from, in words (default: "the screen geometry").
    fix : str
        How to fix it (default: the command-line flags).

    Returns
    -------
    Geometry
        ``geometry`` unchanged.

    Raises
    ------
    InputError
        When a value is missing, non-finite or outside its plausible range.
    """
    lo_px, hi_px = GEOMETRY_LIMITS["px"]
    lo_mm, hi_mm = GEOMETRY_LIMITS["mm"]
    lo_d, hi_d = GEOMETRY_LIMITS["distance_mm"]
    problems: list[str] = []
    try:
        px = [float(v) for v in geometry.screen_px]
        mm = [float(v) for v in geometry.screen_mm]
        dist = float(geometry.distance_mm)
    except (TypeError, ValueError):
        raise InputError(f"{source} is not numeric: screen_px {_plain_seq(geometry.screen_px)}, screen_mm "
                         f"{_plain_seq(geometry.screen_mm)}, distance_mm {plain(geometry.distance_mm)}", file=file,
                         expected="screen size in px and mm and a viewing distance in mm, as numbers", fix=fix) from None
    if len(px) != 2 or len(mm) != 2:
        problems.append("screen size must have a width and a height")
    else:
        for name, v in zip(("width", "height"), px):
            if not (np.isfinite(v) and lo_px <= v <= hi_px and v == int(v)):
                problems.append(f"resolution {name} {plain(v)} px is not a whole number in {lo_px}..{hi_px}")
        for name, v in zip(("width", "height"), mm):
            if not (np.isfinite(v) and lo_mm <= v <= hi_mm):
                problems.append(f"screen {name} {plain(v)} mm is outside {lo_mm:g}..{hi_mm:g} mm")
    if not (np.isfinite(dist) and lo_d <= dist <= hi_d):
        problems.append(f"viewing distance {plain(dist)} mm is outside {lo_d:g}..{hi_d:g} mm")
    if not problems:
        lo_a, hi_a = GEOMETRY_LIMITS["aspect"]
        aspect = (mm[0] / px[0]) / (mm[1] / px[1])
        if not lo_a <= aspect <= hi_a:
            problems.append(f"pixels would be {aspect:.2f} times wider than tall "
                            f"({plain(mm[0])} x {plain(mm[1])} mm over {plain(px[0])} x {plain(px[1])} px)")
    if problems:
        raise InputError(f"implausible values in {source}: " + "; ".join(problems), file=file,
                         expected=f"resolution {lo_px}..{hi_px} px, display size {lo_mm:g}..{hi_mm:g} mm per side, "
                                  f"viewing distance {lo_d:g}..{hi_d:g} mm, roughly square pixels",
                         fix=fix)
    return geometry


def geometry_from_args(geometry: Geometry | None) -> Geometry | None:
    """Validate a user-supplied geometry (:func:`check_geometry`); ``None`` passes through."""
    if geometry is None:
        return None
    return check_geometry(geometry)
