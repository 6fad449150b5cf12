"""Trial metrics -> participant-level values and the paper's Table 4 (replicated).

Definitions (docs/report.md, "Definitions"):

* A participant's **fixation time** for a stimulus is the total duration (s) of the
  fixations inside the stimulus AOI during that trial (``total_fixation_s``); the
  **number of fixations** is the count of those fixations (``fixation_count``).
* A Table 4 **cell** (artwork x method) is the **mean over participants** of these
  values, with SD, a t-based 95% CI and n. The paper's text calls the cells "the sum of
  all gaze durations by the 50 students", which contradicts its magnitudes (a sum over
  50 viewers of 10-19 s per viewer would be 500-950 s); the sums are therefore given
  too (``*_sum`` columns) so either reading can be compared.
* **Category** and **overall** rows: each participant's mean over the artworks of the
  category (or all nine), then mean/SD/CI over participants. With complete data this
  equals the mean of the artwork rows, which is how the paper's "Average" row is built.

Excluded trials (``excluded == True``) are removed before anything is aggregated.
"""

from __future__ import annotations

import functools
import logging
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from analysis.errors import InputError

logger = logging.getLogger(__name__)

METHODS = ("ours", "pix2pix")
CATEGORIES = ("painting", "sculpture", "craft")
#: Paper Table 3/4 order of the artworks (docs/formats.md, section 1).
ARTWORKS = ("last_supper", "night_watch", "virgin_of_the_rocks", "david", "thinker", "venus_de_milo",
            "terracotta_warriors", "tang_sancai", "blue_white_porcelain")

# ---------------------------------------------------------------- display names
#: The artworks' names: ``title`` (the usual English title) and ``paper_name`` (as printed in
#: the paper's Table 3) of each ``[[artwork]]`` in this file, the one place they are kept.
ARTWORKS_TOML = Path(__file__).resolve().parent.parent / "data" / "artworks" / "artworks.toml"
#: Display names of the methods (the paper calls its own method "this paper's model").
METHOD_NAMES = {"ours": "Ours (asymmetric CycleGAN)", "pix2pix": "Pix2Pix"}
#: Display names of the categories.
CATEGORY_NAMES = {"painting": "Painting", "sculpture": "Sculpture", "craft": "Craft"}
#: Display names of the two Table 4 measures.
MEASURE_NAMES = {"fixation_time_s": "Total fixation time (s)", "fixation_count": "Number of fixations",
                 "total_fixation_s": "Total fixation time (s)"}


@functools.lru_cache(maxsize=1)
def _artwork_records() -> dict[str, tuple[str, str]]:
    """``{slug: (title, paper_name)}`` from :data:`ARTWORKS_TOML` (empty when it is missing)."""
    try:
        raw = tomllib.loads(ARTWORKS_TOML.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        logger.warning("artwork names not available (%s); slugs are shown instead", exc)
        return {}
    return {str(a["slug"]): (str(a.get("title") or a["slug"]), str(a.get("paper_name") or ""))
            for a in raw.get("artwork", []) if "slug" in a}


def artwork_name(slug: str, *, sep: str = " ") -> str:
    """The name of an artwork in every table, figure and file of the report.

    The common title followed by the paper's name when that differs, e.g.
    ``"The Last Supper [paper: The last dinner]"``; ``"David"`` when both agree. A slug
    that is not in ``data/artworks/artworks.toml`` (a lab's own artwork) is shown with
    spaces for underscores. ``sep`` joins the two parts (``"\n"`` for figure labels).
    """
    title, paper = _artwork_records().get(str(slug), (str(slug).replace("_", " "), ""))
    if not paper or paper.casefold() == title.casefold():
        return title
    return f"{title}{sep}[paper: {paper}]"


def stimulus_name(artwork: str, method: str, *, sep: str = ", ") -> str:
    """Display name of a stimulus: artwork name and method, e.g. ``"David, Pix2Pix"``."""
    return f"{artwork_name(artwork)}{sep}{METHOD_NAMES.get(str(method), str(method))}"
MEASURES = {"total_fixation_s": "fixation_time_s", "fixation_count": "fixation_count"}
REQUIRED_COLUMNS = ("participant", "stimulus_id", "artwork", "category", "method", "total_fixation_s",
                    "fixation_count", "excluded")


def check_trial_metrics(tm: pd.DataFrame, *, source: str = "trial metrics") -> None:
    """Raise :class:`InputError` unless ``tm`` has the documented trial-metrics columns and values."""
    missing = [c for c in REQUIRED_COLUMNS if c not in tm.columns]
    if missing:
        raise InputError(f"trial metrics lack column(s) {missing}", file=source,
                         expected="the columns of docs/formats.md section 4 (trial_metrics.tsv)",
                         fix="produce the metrics with analysis.batch.process_dataset")
    if tm.empty:
        raise InputError("the dataset has no trials", file=source,
                         expected="at least one participant with stimulus trials",
                         fix="check that the events files contain trial_type == 'stimulus' rows")
    for col, allowed in (("method", METHODS), ("category", CATEGORIES)):
        bad = sorted(set(tm[col].dropna().astype(str)) - set(allowed))
        if bad:
            raise InputError(f"unknown {col} value(s) {bad}", file=source, column=col,
                             expected="one of " + ", ".join(allowed), fix="correct the events/manifest")
    dup = tm.duplicated(["participant", "stimulus_id"], keep=False)
    if dup.any():
        first = tm.loc[dup, ["participant", "stimulus_id"]].iloc[0]
        raise InputError(f"participant {first['participant']} saw stimulus {first['stimulus_id']} more than "
                         f"once ({int(dup.sum())} duplicated rows in all)", file=source,
                         expected="one trial per participant and stimulus (within-subject design)",
                         fix="remove the duplicated participant/session or rename the participant")


def included(tm: pd.DataFrame) -> pd.DataFrame:
    """Trials that are not excluded (the analysis set)."""
    keep = ~tm["excluded"].astype(bool).to_numpy()
    return tm.loc[keep].reset_index(drop=True)


def complete_participants(tm: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Participants with every stimulus present (after exclusions), and those without.

    The full design is the set of ``stimulus_id`` values present in ``tm`` (18 for the
    paper). Paired tests and the RM-ANOVA use complete participants only (listwise
    deletion); mixed models use every trial.
    """
    inc = included(tm)
    design = set(tm["stimulus_id"].astype(str))
    seen = inc.groupby("participant", sort=True)["stimulus_id"].agg(lambda s: set(s.astype(str)))
    everyone = sorted(set(tm["participant"].astype(str)))
    complete = sorted(p for p in everyone if p in seen.index and seen[p] >= design)
    return complete, sorted(set(everyone) - set(complete))


def _summ(values: np.ndarray, confidence: float) -> tuple[float, float, float, float, int, float]:
    v = values[np.isfinite(values)]
    n = v.size
    if n == 0:
        return (np.nan, np.nan, np.nan, np.nan, 0, np.nan)
    mean = float(v.mean())
    sd = float(v.std(ddof=1)) if n > 1 else np.nan
    if n > 1:
        h = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / np.sqrt(n)
        lo, hi = mean - h, mean + h
    else:
        lo = hi = np.nan
    return mean, sd, lo, hi, n, float(v.sum())


def participant_values(tm: pd.DataFrame, level: str) -> pd.DataFrame:
    """Per-participant values at ``level`` = ``artwork`` | ``category`` | ``overall``.

    Returns long data with participant, method, category (``""`` for overall), artwork
    (``"_category"`` / ``"_average"`` for the higher levels) and the two measures
    (mean over the participant's included trials in that unit).
    """
    inc = included(tm)
    cols = list(MEASURES)
    if level == "artwork":
        out = inc.groupby(["participant", "method", "category", "artwork"], sort=True)[cols].mean()
        return out.reset_index()
    if level == "category":
        out = inc.groupby(["participant", "method", "category"], sort=True)[cols].mean().reset_index()
        out["artwork"] = "_category"
        return out
    if level == "overall":
        out = inc.groupby(["participant", "method"], sort=True)[cols].mean().reset_index()
        out["category"] = ""
        out["artwork"] = "_average"
        return out
    raise ValueError(f"unknown level {level!r}")


def table4(tm: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Replicate the paper's Table 4 from trial metrics: one row per method x unit.

    Layout as in the paper: method block (ours, then pix2pix); within it the three
    categories in the paper's order, each artwork row followed by ... the category row;
    the overall "Average" row closes each block.

    Parameters
    ----------
    tm : pandas.DataFrame
        Trial metrics (docs/formats.md section 4). Excluded trials are removed first.
    confidence : float
        Level of the CI of each mean (default .95): ``mean +- t(1 - a/2, n - 1) * SD /
        sqrt(n)``, Student's t interval (Student, 1908; Cumming & Finch, 2005,
        *American Psychologist, 60*(2), 170-180, on reading such CIs in figures).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``category``, ``artwork``, ``level`` (artwork | category |
        overall) and for each measure ``m`` in (fixation_time_s, fixation_count):
        ``m_mean``, ``m_sd``, ``m_ci_low``, ``m_ci_high``, ``m_n`` (participants),
        ``m_sum`` (sum over participants; for category/overall rows the mean of the
        artwork sums, like the paper's "Average").

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.aggregate import table4
    >>> tm = pd.DataFrame({"participant": ["s1", "s2"] * 2, "stimulus_id": ["david_ours"] * 2 + ["david_pix2pix"] * 2,
    ...     "artwork": "david", "category": "sculpture", "method": ["ours"] * 2 + ["pix2pix"] * 2,
    ...     "total_fixation_s": [10.0, 12.0, 6.0, 8.0], "fixation_count": [40, 44, 20, 22], "excluded": False})
    >>> t = table4(tm)
    >>> t.loc[t["level"] == "artwork", ["method", "fixation_time_s_mean", "fixation_count_sum"]].to_numpy().tolist()
    [['ours', 11.0, 84.0], ['pix2pix', 7.0, 42.0]]
    """
    check_trial_metrics(tm)
    levels = {lvl: participant_values(tm, lvl) for lvl in ("artwork", "category", "overall")}
    art_order = {a: i for i, a in enumerate(ARTWORKS)}
    present = levels["artwork"][["category", "artwork"]].drop_duplicates()
    present = present.assign(_c=present["category"].map({c: i for i, c in enumerate(CATEGORIES)}),
                             _a=present["artwork"].map(lambda a: art_order.get(a, len(art_order))))
    present = present.sort_values(["_c", "_a", "artwork"])
    rows = []

    def add(method: str, category: str, artwork: str, level: str, sub: pd.DataFrame, sums=None) -> None:
        row = {"method": method, "category": category, "artwork": artwork, "level": level}
        for src, name in MEASURES.items():
            mean, sd, lo, hi, n, total = _summ(sub[src].to_numpy(dtype=float), confidence)
            row.update({f"{name}_mean": mean, f"{name}_sd": sd, f"{name}_ci_low": lo, f"{name}_ci_high": hi,
                        f"{name}_n": n, f"{name}_sum": total if sums is None else sums[name]})
        rows.append(row)

    art = levels["artwork"]
    for method in METHODS:
        block_sums: dict[str, list[float]] = {m: [] for m in MEASURES.values()}
        for category in CATEGORIES:
            cat_sums: dict[str, list[float]] = {m: [] for m in MEASURES.values()}
            arts = present.loc[present["category"] == category, "artwork"]
            if arts.empty:
                continue
            for artwork in arts:
                sub = art[(art["method"] == method) & (art["artwork"] == artwork)]
                add(method, category, artwork, "artwork", sub)
                for m in MEASURES.values():
                    cat_sums[m].append(rows[-1][f"{m}_sum"])
                    block_sums[m].append(rows[-1][f"{m}_sum"])
            cat = levels["category"]
            add(method, category, "_category", "category",
                cat[(cat["method"] == method) & (cat["category"] == category)],
                sums={m: float(np.mean(v)) for m, v in cat_sums.items()})
        ov = levels["overall"]
        add(method, "", "_average", "overall", ov[ov["method"] == method],
            sums={m: float(np.mean(v)) if v else np.nan for m, v in block_sums.items()})
    return pd.DataFrame(rows)


def compare_with_paper(table: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Side by side: replicated Table 4 means next to the paper's values, with differences.

    Category rows of the replication are compared with the category averages of the
    paper's rows (the paper prints only the overall "Average"; its text states the
    category averages, see :mod:`analysis.reference`).

    Returns
    -------
    pandas.DataFrame
        ``method``, ``category``, ``artwork``, ``level``, ``paper_name``, and for each
        measure: ``<m>_paper``, ``<m>_mean`` (ours), ``<m>_diff`` (= ours - paper).
    """
    ref = reference.copy()
    ref["category"] = ref["category"].fillna("").astype(str)
    arts = ref[ref["artwork"] != "_average"]
    cat = (arts.groupby(["method", "category"], sort=False)[["fixation_time_s", "fixation_count"]].mean()
           .reset_index().assign(artwork="_category", paper_name=lambda d: d["category"] + " (mean of rows)"))
    ref_all = pd.concat([ref, cat], ignore_index=True)
    ref_all = ref_all.rename(columns={"fixation_time_s": "fixation_time_s_paper",
                                      "fixation_count": "fixation_count_paper"})
    out = table[["method", "category", "artwork", "level", "fixation_time_s_mean", "fixation_count_mean"]].merge(
        ref_all[["method", "category", "artwork", "paper_name", "fixation_time_s_paper", "fixation_count_paper"]],
        on=["method", "category", "artwork"], how="left", validate="many_to_one")
    for m in MEASURES.values():
        out[f"{m}_diff"] = out[f"{m}_mean"] - out[f"{m}_paper"]
    cols = ["method", "category", "artwork", "level", "paper_name"]
    for m in MEASURES.values():
        cols += [f"{m}_paper", f"{m}_mean", f"{m}_diff"]
    return out[cols]
