"""Areas of interest (AOIs): the stimulus rectangle and optional polygon AOIs.

The default AOI of a trial is the stimulus image's on-screen rectangle, taken from the
trial table (``aoi_left``, ``aoi_top``, ``aoi_right``, ``aoi_bottom``, screen pixels;
docs/formats.md section 2, ``_events.tsv``). This is the AOI the paper's Table 4
metrics refer to (Wei Pu, 2025, "Eye tracking data": fixation time and number of
fixations *on the reconstructed image*).

Optional polygon AOIs (e.g. a face, a hand) are read from a TSV file, one polygon per
row, with vertices in **image-relative coordinates** (0..1 of the image width/height,
origin at the image's top-left corner). They are mapped onto the trial's on-screen
rectangle, so one AOI file serves every screen layout and resolution. The format is
documented in ``docs/metrics.md`` ("Polygon AOI file").

Hit testing is vectorised over many points: a point is inside a rectangle when
``left <= x <= right`` and ``top <= y <= bottom`` (edges included; our convention, the
AOI rectangle is the image's pixel extent as drawn), and inside a polygon by the even-odd (crossing-number) rule (Shimrat, M.
(1962). Algorithm 112: Position of point relative to polygon. *Communications of the
ACM* 5(8), 434; Haines, E. (1994). Point in polygon strategies. *Graphics Gems IV*,
24-46). Points with NaN coordinates are never inside.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.errors import InputError

log = logging.getLogger(__name__)

#: Columns of a polygon AOI file, in order.
AOI_FILE_COLUMNS: tuple[str, ...] = ("stimulus_id", "aoi_name", "vertices")

#: Name of the default (whole-stimulus rectangle) AOI; reserved in AOI files.
STIMULUS_AOI = "stimulus"

_VERTICES_HELP = 'space-separated "x,y" pairs in image-relative coordinates 0..1, e.g. "0.1,0.1 0.9,0.1 0.5,0.8"'


@dataclass(frozen=True)
class PolygonAOI:
    """One polygon AOI of one stimulus.

    Parameters
    ----------
    stimulus_id : str
        Stimulus it belongs to (``stimulus_id`` of the manifest/trial table).
    aoi_name : str
        Name of the AOI, unique per stimulus.
    vertices : numpy.ndarray
        ``(n, 2)`` float array of ``(x, y)`` vertices, image-relative (0..1 of the
        image's width and height from its top-left corner), ``n >= 3``. The polygon is
        closed implicitly (last vertex joins the first).
    """

    stimulus_id: str
    aoi_name: str
    vertices: np.ndarray

    def on_screen(self, left: float, top: float, right: float, bottom: float) -> np.ndarray:
        """Vertices in screen pixels for an image shown in the rectangle ``left..right, top..bottom``."""
        return relative_to_screen(self.vertices, left, top, right, bottom)


def relative_to_screen(vertices: np.ndarray, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    """Map image-relative vertices (0..1) onto an on-screen rectangle (px).

    ``x_px = left + x_rel * (right - left)``, ``y_px = top + y_rel * (bottom - top)``.
    """
    v = np.asarray(vertices, dtype=np.float64)
    out = np.empty_like(v)
    out[:, 0] = left + v[:, 0] * (right - left)
    out[:, 1] = top + v[:, 1] * (bottom - top)
    return out


def points_in_rect(x, y, left, top, right, bottom) -> np.ndarray:
    """Vectorised point-in-rectangle test (edges inclusive).

    Parameters
    ----------
    x, y : array_like
        Point coordinates (px). NaN gives ``False``.
    left, top, right, bottom : array_like or float
        Rectangle edges (px, top-left origin, y down), broadcast against ``x``/``y``
        (e.g. one rectangle per point). A NaN edge (unknown AOI) gives ``False``.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> points_in_rect([5, 10, 11, np.nan], [5, 0, 5, 5], 0, 0, 10, 10).tolist()
    [True, True, False, False]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # comparisons with NaN are False, so NaN points or NaN edges are outside
    return (x >= left) & (x <= right) & (y >= top) & (y <= bottom)


def points_in_polygon(x, y, vertices) -> np.ndarray:
    """Vectorised point-in-polygon test by the even-odd (crossing-number) rule.

    A horizontal ray from each point to ``+inf`` is intersected with every edge; the
    point is inside when the number of crossings is odd (Shimrat, 1962; Haines, 1994,
    "crossings test"). Edges are half-open in y (an edge counts when
    ``min(y1, y2) <= y < max(y1, y2)``), so a ray through a vertex is counted once.
    Self-intersecting polygons follow the even-odd rule (overlaps of two lobes are
    outside). Points exactly on an edge may fall either side, as with any
    floating-point crossings test.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Point coordinates (same units as ``vertices``). NaN gives ``False``.
    vertices : array_like, shape (m, 2)
        Polygon vertices, ``m >= 3``; closed implicitly.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Examples
    --------
    >>> square = [(0, 0), (10, 0), (10, 10), (0, 10)]
    >>> points_in_polygon([5, 15, np.nan], [5, 5, 5], square).tolist()
    [True, False, False]
    """
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError("vertices must be an (m, 2) array with m >= 3")
    x1, y1 = v[:, 0], v[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    px = x[:, None]
    py = y[:, None]
    # edge straddles the ray's y (half-open), NaN compares False
    straddles = (y1 <= py) != (y2 <= py)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_cross = x1 + (py - y1) * (x2 - x1) / (y2 - y1)
    crossings = straddles & (px < x_cross)
    return (np.count_nonzero(crossings, axis=1) % 2) == 1


def _polygon_area(v: np.ndarray) -> float:
    """Unsigned shoelace area (used only to reject degenerate polygons)."""
    x, y = v[:, 0], v[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _parse_vertices(text: str, path: Path, line: int) -> np.ndarray:
    tokens = text.split()
    if len(tokens) < 3:
        raise InputError(f"polygon has {len(tokens)} vertices", file=path, line=line, column="vertices",
                         expected="at least 3 vertices: " + _VERTICES_HELP,
                         fix="list every corner of the polygon as x,y separated by spaces")
    pts = np.empty((len(tokens), 2))
    for i, tok in enumerate(tokens):
        parts = tok.split(",")
        if len(parts) != 2:
            raise InputError(f"vertex {i + 1} {tok!r} is not an x,y pair", file=path, line=line, column="vertices",
                             expected=_VERTICES_HELP, fix="write each vertex as x,y with no space around the comma")
        try:
            xv, yv = float(parts[0]), float(parts[1])
        except ValueError:
            raise InputError(f"vertex {i + 1} {tok!r} is not numeric", file=path, line=line, column="vertices",
                             expected=_VERTICES_HELP, fix="use decimal numbers with a dot, e.g. 0.25,0.5") from None
        if not (math.isfinite(xv) and math.isfinite(yv)):
            raise InputError(f"vertex {i + 1} {tok!r} is not finite", file=path, line=line, column="vertices",
                             expected=_VERTICES_HELP, fix="use finite numbers between 0 and 1")
        if not (0.0 <= xv <= 1.0 and 0.0 <= yv <= 1.0):
            raise InputError(f"vertex {i + 1} {tok!r} lies outside the image (0..1)", file=path, line=line,
                             column="vertices", expected=_VERTICES_HELP,
                             fix="give vertices as fractions of the image width/height (pixel x / image width_px)")
        pts[i] = xv, yv
    if _polygon_area(pts) <= 0.0:
        raise InputError("polygon has zero area (all vertices on one line)", file=path, line=line,
                         column="vertices", expected="a polygon enclosing an area",
                         fix="check the vertex order and values")
    return pts


def read_aois(path: str | Path) -> list[PolygonAOI]:
    """Read and validate a polygon AOI file.

    The file is UTF-8 TSV with a header row and exactly the columns
    :data:`AOI_FILE_COLUMNS`: ``stimulus_id``, ``aoi_name``, ``vertices``
    (space-separated ``x,y`` pairs in image-relative coordinates 0..1, at least 3,
    non-zero area). ``aoi_name`` must be unique per stimulus and may not be
    ``"stimulus"`` (reserved for the default rectangle AOI). Empty lines are ignored;
    lines starting with ``#`` are comments. See ``docs/metrics.md``.

    Parameters
    ----------
    path : str or Path
        The AOI file.

    Returns
    -------
    list of PolygonAOI
        In file order.

    Raises
    ------
    InputError
        Naming the file, the 1-based line (header = line 1), the column, what was
        expected and how to fix it.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError("a folder was given where the AOI file was expected", file=path,
                         expected="a TSV file with columns " + ", ".join(AOI_FILE_COLUMNS),
                         fix="give the AOI file itself (--aois FILE)")
    if not path.is_file():
        raise InputError("AOI file not found", file=path, expected="a TSV file with columns " +
                         ", ".join(AOI_FILE_COLUMNS), fix="give the path of an existing AOI file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raw = path.read_bytes()
        raise InputError(f"AOI file is not UTF-8 text (byte 0x{raw[exc.start]:02x})", file=path,
                         line=raw[: exc.start].count(b"\n") + 1, expected="UTF-8 text",
                         fix="save the file as UTF-8 TSV") from None
    except OSError as exc:
        raise InputError(f"AOI file could not be read ({exc.strerror})", file=path,
                         fix="check the file's permissions") from None
    lines = text.splitlines()
    header_no = next((i for i, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")), None)
    if header_no is None:
        raise InputError("AOI file is empty", file=path, line=1, expected="a header row: " + "\t".join(AOI_FILE_COLUMNS),
                         fix="add the header and one row per polygon")
    header = [h.strip() for h in lines[header_no].split("\t")]
    if tuple(header) != AOI_FILE_COLUMNS:
        missing = [c for c in AOI_FILE_COLUMNS if c not in header]
        problem = f"missing column(s) {missing}" if missing else f"unexpected header {header}"
        raise InputError(problem, file=path, line=header_no + 1, expected="tab-separated header: " +
                         "\t".join(AOI_FILE_COLUMNS), fix="use exactly these three tab-separated columns, in this order")
    aois: list[PolygonAOI] = []
    seen: dict[tuple[str, str], int] = {}
    for i in range(header_no + 1, len(lines)):
        raw = lines[i]
        lineno = i + 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        fields = raw.split("\t")
        if len(fields) != len(AOI_FILE_COLUMNS):
            raise InputError(f"row has {len(fields)} tab-separated fields", file=path, line=lineno,
                             expected=f"{len(AOI_FILE_COLUMNS)} fields: " + ", ".join(AOI_FILE_COLUMNS),
                             fix="separate the columns by single tabs; separate vertices by spaces")
        stim, name, verts = (f.strip() for f in fields)
        if not stim or stim == "n/a":
            raise InputError("empty stimulus_id", file=path, line=lineno, column="stimulus_id",
                             expected="a stimulus_id of the manifest, e.g. david_ours", fix="fill in the stimulus_id")
        if not name or name == "n/a":
            raise InputError("empty aoi_name", file=path, line=lineno, column="aoi_name",
                             expected="a name for the AOI, e.g. face", fix="fill in the aoi_name")
        if name == STIMULUS_AOI:
            raise InputError(f"aoi_name {STIMULUS_AOI!r} is reserved for the whole-image AOI", file=path,
                             line=lineno, column="aoi_name", expected="any other name",
                             fix="rename the AOI; the whole image is always analysed as the default AOI")
        key = (stim, name)
        if key in seen:
            raise InputError(f"duplicate AOI {name!r} for stimulus {stim!r} (first on line {seen[key]})", file=path,
                             line=lineno, column="aoi_name", expected="aoi_name unique per stimulus_id",
                             fix="rename or merge the duplicate rows")
        seen[key] = lineno
        aois.append(PolygonAOI(stim, name, _parse_vertices(verts, path, lineno)))
    if not aois:
        raise InputError("AOI file has a header but no polygons", file=path, line=header_no + 1,
                         expected="one row per polygon after the header", fix="add rows or omit --aois")
    log.info("read %d polygon AOIs for %d stimuli from %s", len(aois), len({a.stimulus_id for a in aois}), path)
    return aois


def check_aois_match(aois: list[PolygonAOI], stimulus_ids, source: str | Path | None = None) -> None:
    """Warn (log) about AOIs whose stimulus never appears in the data.

    Not an error: an AOI file may cover more stimuli than one dataset shows.
    """
    known = set(stimulus_ids)
    unknown = sorted({a.stimulus_id for a in aois} - known)
    if unknown:
        log.warning("AOI file %s names stimuli that no trial shows: %s", source or "", ", ".join(unknown))


def aois_frame(aois: list[PolygonAOI]) -> pd.DataFrame:
    """The AOIs as a DataFrame (stimulus_id, aoi_name, vertices as the file's text form)."""
    return pd.DataFrame({
        "stimulus_id": [a.stimulus_id for a in aois],
        "aoi_name": [a.aoi_name for a in aois],
        "vertices": [" ".join(f"{x:g},{y:g}" for x, y in a.vertices) for a in aois],
    }, columns=list(AOI_FILE_COLUMNS))
