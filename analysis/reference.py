"""The paper's reference values and the inconsistency checks computed from them.

``data/reference/paper_table4.csv`` transcribes Table 4 of Wei Pu (2025);
``data/reference/paper_text_values.csv`` holds every number the paper's text and
conclusion state about Table 4, with the quoted sentence. :func:`check_reference`
recomputes, from these files only, everything the text claims and reports where the
paper contradicts itself (nothing in the findings is typed in by hand).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.aggregate import stimulus_name
from analysis.errors import InputError

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"
TABLE4_PATH = REFERENCE_DIR / "paper_table4.csv"
TEXT_VALUES_PATH = REFERENCE_DIR / "paper_text_values.csv"
#: Number of participants in the paper ("50 college students were randomly selected").
PAPER_N = 50
#: Physiological plausibility bounds shared with the simulator (one value each, with its source).
PLAUSIBILITY_PATH = REFERENCE_DIR / "plausibility.toml"


def load_plausibility(path: str | Path = PLAUSIBILITY_PATH) -> dict[str, tuple[float, str]]:
    """Read ``data/reference/plausibility.toml``: ``{key: (value, source)}``.

    The file holds each plausibility bound once (e.g. ``max_mean_fixation_s``), with its
    source under ``[source]``; ``study/simulate.py`` reads the same file, so the simulator
    and :func:`check_reference` cannot disagree.

    Raises
    ------
    InputError
        A missing or unreadable file, a value that is not a positive number, or a value
        without a source.
    """
    import tomllib

    path = Path(path)
    if not path.is_file():
        raise InputError("plausibility file not found", file=path, fix="restore it from the repository (git)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"plausibility file is not valid TOML ({exc})", file=path,
                         fix="restore it from the repository (git)") from None
    sources = raw.get("source", {})
    out: dict[str, tuple[float, str]] = {}
    for key, value in raw.items():
        if key in ("version", "source"):
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value) or value <= 0:
            raise InputError(f"{key} must be a positive number, got {value!r}", file=path, column=key,
                             expected="a positive number", fix="correct the value")
        if not str(sources.get(key, "")).strip():
            raise InputError(f"{key} has no source", file=path, column=f"source.{key}",
                             expected="a [source] entry citing where the value comes from", fix="add it")
        out[key] = (float(value), str(sources[key]))
    return out


def max_plausible_mean_fixation_s() -> float:
    """Mean fixation duration (s) above which a Table 4 row is flagged as not physiological.

    ``max_mean_fixation_s`` of ``data/reference/plausibility.toml`` (default: 0.6 s, about
    twice the 260-330 ms typical of scene viewing; Rayner, 1998, Table 1; Rayner, 2009;
    Henderson & Hollingworth, 1999), read when needed so that a missing file is a clear
    :class:`InputError` at use, not at import.
    """
    return load_plausibility()["max_mean_fixation_s"][0]
#: Fewer fixations than this per artwork viewing is incompatible with the multi-second,
#: free viewing the paper describes (used for the "sum over 50 students" reading).
MIN_PLAUSIBLE_FIXATIONS_PER_VIEWING = 2
TABLE4_COLUMNS = ("method", "category", "artwork", "paper_name", "fixation_time_s", "fixation_count")
TEXT_COLUMNS = ("value_id", "source", "method", "category", "quantity", "value", "decimals", "approximate",
                "quote")
_TABLE_DECIMALS = {"fixation_time_s": 2, "fixation_count": 0}
#: Words for the quantities and methods in the check messages (the columns keep the ids).
_WORDS = {"fixation_time_s": "fixation time (s)", "fixation_count": "number of fixations", "ours": "Ours",
          "pix2pix": "Pix2Pix"}


def _w(x: str) -> str:
    return _WORDS.get(str(x), str(x))


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise InputError("reference file not found", file=path, fix="restore it from the repository (git)")
    df = pd.read_csv(path, dtype={"category": str}, keep_default_na=False, na_values={"value": [""]})
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"reference file lacks column(s) {missing}", file=path, line=1,
                         expected=", ".join(columns), fix="restore the header")
    return df


def load_table4(path: str | Path = TABLE4_PATH) -> pd.DataFrame:
    """Load the paper's Table 4 (columns as in docs/formats.md section 5)."""
    df = _read(Path(path), TABLE4_COLUMNS)
    for col in ("fixation_time_s", "fixation_count"):
        bad = pd.to_numeric(df[col], errors="coerce").isna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{col} is not a number", file=path, line=i + 2, column=col,
                             expected="a number", fix="correct the value")
        df[col] = pd.to_numeric(df[col]).astype(float)
    return df


def load_text_values(path: str | Path = TEXT_VALUES_PATH) -> pd.DataFrame:
    """Load the values the paper's text and conclusion state (with their quotes)."""
    df = _read(Path(path), TEXT_COLUMNS)
    df["value"] = pd.to_numeric(df["value"]).astype(float)
    df["decimals"] = pd.to_numeric(df["decimals"]).astype(int)
    df["approximate"] = df["approximate"].astype(str).str.lower().eq("true")
    return df


def _fmt(x: float, decimals: int) -> str:
    return f"{x:.{decimals}f}"


def check_reference(table: pd.DataFrame | None = None, text: pd.DataFrame | None = None, *,
                    max_mean_fixation_s: float | None = None,
                    n_participants: int = PAPER_N) -> pd.DataFrame:
    """Check the paper's reference values against each other; one row per check.

    Checks (all computed from the two CSV files):

    1. ``average_row``: each printed "Average" row equals the mean of its nine rows,
       within rounding (half a unit of the printed last digit).
    2. ``text_vs_table``: every value in the text (overall and per-category averages)
       equals the mean of the corresponding table rows; values the text calls "about"
       are compared after rounding to the printed precision too, so "about 50" for a
       computed 56.7 fails.
    3. ``conclusion``: the conclusion's values against the table, and whether it gives
       the same values for both methods.
    4. ``implied_fixation_duration``: time / count per row is a mean fixation duration;
       rows above ``max_mean_fixation_s`` are not physiological (typical scene-viewing
       fixations last about 260-330 ms: Rayner, 1998; Rayner, 2009; Henderson &
       Hollingworth, 1999).
    5. ``sum_wording``: the paper defines the cells as sums over the 50 participants;
       dividing by 50 gives fewer than ``MIN_PLAUSIBLE_FIXATIONS_PER_VIEWING`` (2)
       fixations per participant and artwork, which contradicts multi-second viewing.

    Parameters
    ----------
    table, text : pandas.DataFrame, optional
        As returned by :func:`load_table4` / :func:`load_text_values` (loaded from the
        bundled files when omitted).
    max_mean_fixation_s : float
        Plausibility bound for a mean fixation duration (default: ``max_mean_fixation_s`` of
        ``data/reference/plausibility.toml``, 0.6 s).
    n_participants : int
        The paper's N (50).

    Returns
    -------
    pandas.DataFrame
        ``check``, ``method``, ``category``, ``artwork``, ``quantity``, ``stated``,
        ``computed``, ``consistent`` (bool) and ``message`` (a sentence built from the
        numbers).

    References
    ----------
    Henderson, J. M., & Hollingworth, A. (1999). High-level scene perception. *Annual
    Review of Psychology, 50*, 243-271.
    Rayner, K. (1998). Eye movements in reading and information processing: 20 years of
    research. *Psychological Bulletin, 124*(3), 372-422.
    Rayner, K. (2009). Eye movements and attention in reading, scene perception, and
    visual search. *Quarterly Journal of Experimental Psychology, 62*(8), 1457-1506.

    Examples
    --------
    >>> from analysis.reference import check_reference
    >>> checks = check_reference()
    >>> row = checks[(checks["check"] == "text_vs_table") & (checks["category"] == "craft")
    ...              & (checks["quantity"] == "fixation_count")].iloc[0]
    >>> round(float(row["computed"]), 1), float(row["stated"]), bool(row["consistent"])
    (56.7, 50.0, False)
    """
    table = load_table4() if table is None else table
    text = load_text_values() if text is None else text
    if max_mean_fixation_s is None:
        max_mean_fixation_s = max_plausible_mean_fixation_s()
    table = table.copy()
    table["category"] = table["category"].fillna("").astype(str)
    rows_ = table[table["artwork"] != "_average"]
    avg = table[table["artwork"] == "_average"].set_index("method")
    out: list[dict] = []

    def add(check, method, category, artwork, quantity, stated, computed, consistent, message):
        out.append({"check": check, "method": method, "category": category, "artwork": artwork,
                    "quantity": quantity, "stated": stated, "computed": computed,
                    "consistent": bool(consistent), "message": message})

    def computed_mean(method: str, category: str, quantity: str) -> tuple[float, list[float]]:
        sel = rows_[(rows_["method"] == method) & ((rows_["category"] == category) if category else True)]
        vals = sel[quantity].astype(float).tolist()
        return float(np.mean(vals)), vals

    # 1. printed Average rows
    for method in avg.index:
        for q, dec in _TABLE_DECIMALS.items():
            stated = float(avg.at[method, q])
            comp, vals = computed_mean(method, "", q)
            ok = abs(round(comp, dec) - stated) < 10 ** (-dec) / 2 + 1e-9
            add("average_row", method, "", "_average", q, stated, comp, ok,
                f"Table 4 {_w(method)} Average {_w(q)} = {_fmt(stated, dec)}; mean of the {len(vals)} rows = "
                f"{comp:.3f} -> {'matches' if ok else 'does NOT match'} after rounding to {dec} decimals.")
    # 2. and 3. text values
    for _, tv in text.iterrows():
        q, dec = tv["quantity"], int(tv["decimals"])
        comp, vals = computed_mean(tv["method"], tv["category"], q)
        ok = abs(round(comp, dec) - tv["value"]) < 10 ** (-dec) / 2 + 1e-9
        scope = f"{tv['category']} " if tv["category"] else ""
        check = "conclusion" if tv["value_id"].startswith("conclusion") else "text_vs_table"
        about = "about " if tv["approximate"] else ""
        vals_txt = ", ".join(_fmt(v, dec) for v in vals) if len(vals) <= 3 else f"{len(vals)} rows"
        add(check, tv["method"], tv["category"], "", q, float(tv["value"]), comp, ok,
            f"{tv['source'].split(' (')[0]} states {about}{_fmt(tv['value'], dec)} for {_w(tv['method'])} {scope}{_w(q)}; "
            f"the mean of the Table 4 rows ({vals_txt}) is {comp:.2f} -> "
            f"{'consistent' if ok else 'INCONSISTENT'} at the printed precision.")
    concl = text[text["value_id"].str.startswith("conclusion")]
    if not concl.empty:
        for q in _TABLE_DECIMALS:
            by_method = concl[concl["quantity"] == q].set_index("method")["value"]
            if {"ours", "pix2pix"} <= set(by_method.index):
                same = by_method["ours"] == by_method["pix2pix"]
                add("conclusion", "ours vs pix2pix", "", "", q, float(by_method["ours"]),
                    float(by_method["pix2pix"]), not same,
                    f"The conclusion gives {_w(q)} = {by_method['ours']:g} for Ours and {by_method['pix2pix']:g} for "
                    f"Pix2Pix{' -- the same value for both methods, yet calls ours higher' if same else ''}.")
    # 4. implied mean fixation duration
    for _, r in rows_.iterrows():
        dur = r["fixation_time_s"] / r["fixation_count"] if r["fixation_count"] > 0 else np.inf
        ok = dur <= max_mean_fixation_s
        add("implied_fixation_duration", r["method"], r["category"], r["artwork"], "mean_fixation_duration_s",
            max_mean_fixation_s, float(dur), ok,
            f"{stimulus_name(r['artwork'], r['method'])}: {r['fixation_time_s']:g} s / {r['fixation_count']:g} fixations = "
            f"{dur * 1000:.0f} ms per fixation"
            + ("" if ok else f" -- above {max_mean_fixation_s * 1000:.0f} ms (data/reference/plausibility.toml), "
                             "not physiological for scene viewing (typical 260-330 ms)") + ".")
    # 5. sum wording
    for method in avg.index:
        t = float(avg.at[method, "fixation_time_s"]) / n_participants
        c = float(avg.at[method, "fixation_count"]) / n_participants
        dur = float(avg.at[method, "fixation_time_s"]) / float(avg.at[method, "fixation_count"])
        ok = c >= MIN_PLAUSIBLE_FIXATIONS_PER_VIEWING
        add("sum_wording", method, "", "_average", "fixation_count_per_participant",
            float(avg.at[method, "fixation_count"]), c, ok,
            f"If the {_w(method)} Average cells were sums over {n_participants} participants (the paper's "
            f"definition), each participant would have fixated an artwork {c:.2f} times for {t:.2f} s in "
            f"total ({'fewer than' if not ok else 'at least'} {MIN_PLAUSIBLE_FIXATIONS_PER_VIEWING} fixations "
            f"per viewing); read as means over participants they give "
            f"{float(avg.at[method, 'fixation_count']):g} fixations and "
            f"{float(avg.at[method, 'fixation_time_s']):g} s, the reading the paper's own text uses "
            f"('the subjects' average gaze time') -- the cells are treated as means, sums are reported too.")
    return pd.DataFrame(out)
