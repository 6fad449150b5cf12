"""Assemble the report from a :class:`analysis.batch.DatasetResult`: tables, statistics, figures, files."""

from __future__ import annotations

import hashlib
import logging
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from analysis import figures as figs
from analysis.aggregate import (
    CATEGORY_NAMES,
    METHOD_NAMES,
    METHODS,
    artwork_name,
    compare_with_paper,
    included,
    participant_values,
    stimulus_name,
    table4,
)
from analysis.errors import InputError
from analysis.reference import (
    PLAUSIBILITY_PATH,
    TABLE4_PATH,
    TEXT_VALUES_PATH,
    check_reference,
    load_table4,
    load_text_values,
    max_plausible_mean_fixation_s,
)
from analysis.report.analyses import MEASURE_WORDS, Statistics, attach_glmm, compute_statistics, fit_count_model
from analysis.report.document import (
    Figure,
    Section,
    Table,
    format_frame,
    to_html,
    to_markdown,
    write_csv,
    write_latex,
    write_machine_csv,
)
from analysis.report.inputs import (
    aoi_rectangles,
    participant_accounting,
    check_stimuli,
    duplicate_content,
    load_manifest,
    simulation_targets,
    stimulus_images,
)

logger = logging.getLogger(__name__)

TITLE = "Eye-tracking replication of Wei Pu (2025), Table 4"
PACKAGES = ("numpy", "pandas", "scipy", "statsmodels", "pingouin", "matplotlib", "seaborn", "tqdm", "pillow")

DEFINITIONS = [
    "Fixation time of a participant for a stimulus: the total duration (s) of the fixations inside the "
    "stimulus AOI (its on-screen rectangle) during the trial (trial_metrics column total_fixation_s; "
    "Tobii Pro Lab 'Total duration of fixations'). Number of fixations: the count of those fixations.",
    "A Table 4 cell (artwork x method) is the MEAN over participants of these per-participant values, "
    "with SD, a t-based 95% CI and n (participants with an included trial).",
    "Category and Average rows: each participant's mean over the artworks of the category (or all nine), "
    "then the mean over participants; with complete data this equals the mean of the artwork rows, which "
    "is how the paper's 'Average' row is built.",
    "The paper defines its cells as 'the sum of all gaze durations ... by the 50 students' but its "
    "magnitudes (9-19 s, 5-92 fixations) and its own text ('the subjects' average gaze time reached 14.89s') "
    "only fit means per participant; the sums over participants are therefore given too (tables/table4.csv, "
    "columns fixation_time_s_sum and fixation_count_sum; category/Average rows: mean of the artwork sums).",
]


def _versions() -> pd.DataFrame:
    rows = [("python", platform.python_version())]
    import analysis

    rows.append(("analysis (artgaze)", analysis.__version__))
    rows.append(("artgaze git commit", _git_commit()))
    for p in PACKAGES:
        try:
            rows.append((p, metadata.version(p)))
        except metadata.PackageNotFoundError:
            rows.append((p, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _config_text(config: Any) -> str:
    d = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    lines = []
    for section, values in d.items():
        lines.append(f"[{section}]")
        for k, v in values.items():
            lines.append(f"{k} = {v!r}".replace("True", "true").replace("False", "false"))
        lines.append("")
    return "\n".join(lines).strip()


def _table4_display(t4: pd.DataFrame, cmp: pd.DataFrame,
                    sim_targets: pd.DataFrame | None) -> tuple[pd.DataFrame, dict[int, str], dict, list[str]]:
    """Table 4 in the paper's layout: one panel per method, grouped headers per measure.

    Returns the display frame, the panel rows, the footnote marks at cells and the
    footnotes: a cell whose simulated target differs from the paper's printed value
    (``derivatives/ground_truth/generating_parameters.tsv``) gets a letter at its
    difference column, so a deviation the simulator caused is not read as a failure to
    replicate.
    """
    cmp = cmp.set_index(["method", "category", "artwork"])
    changed: dict[tuple[str, str], pd.Series] = {}
    if sim_targets is not None and "artwork" in sim_targets and "method" in sim_targets:
        for _, r in sim_targets[sim_targets["target_handling"] != "as_paper"].iterrows():
            changed[(str(r["method"]), str(r["artwork"]))] = r
    elif sim_targets is not None:
        for _, r in sim_targets[sim_targets["target_handling"] != "as_paper"].iterrows():
            art, _, method = str(r["stimulus_id"]).rpartition("_")
            changed[(method, art)] = r
    T, C = "Total fixation time (s)", "Number of fixations"
    rows, panels, marks, notes = [], {}, {}, []
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    last_method = None
    for _, r in t4.iterrows():
        key = (r["method"], r["category"], r["artwork"])
        c = cmp.loc[key] if key in cmp.index else None
        if not rows or r["method"] != last_method:
            panels[len(rows)] = METHOD_NAMES.get(r["method"], r["method"])
        last_method = r["method"]
        if r["level"] == "artwork":
            name = artwork_name(r["artwork"])
        elif r["level"] == "category":
            name = f"{CATEGORY_NAMES.get(r['category'], r['category'])} (mean)"
        else:
            name = "Average"
        row = {("", "Artwork"): name}
        for m, group, dec in (("fixation_time_s", T, 2), ("fixation_count", C, 1)):
            row[(group, "M (SD)")] = (f"{r[f'{m}_mean']:.{dec}f} ({r[f'{m}_sd']:.{dec}f})"
                                      if np.isfinite(r[f"{m}_sd"]) else f"{r[f'{m}_mean']:.{dec}f}")
            row[(group, "95% CI")] = (f"[{r[f'{m}_ci_low']:.{dec}f}, {r[f'{m}_ci_high']:.{dec}f}]"
                                      if np.isfinite(r[f"{m}_ci_low"]) else "n/a")
            paper = c[f"{m}_paper"] if c is not None else np.nan
            row[(group, "Paper")] = f"{paper:.2f}".rstrip("0").rstrip(".") if np.isfinite(paper) else "n/a"
            diff = c[f"{m}_diff"] if c is not None else np.nan
            row[(group, "Difference")] = f"{diff:+.{dec}f}".replace("-", "\u2212") if np.isfinite(diff) else "n/a"
        n_t, n_c = int(r["fixation_time_s_n"]), int(r["fixation_count_n"])
        row[("", "n")] = str(n_t) if n_t == n_c else f"{n_t} / {n_c}"
        sim = changed.get((r["method"], r["artwork"])) if r["level"] == "artwork" else None
        if sim is not None:
            letter = next(letters)
            col = ((C, "Difference") if not np.isclose(float(sim["target_fixation_count"]),
                                                        float(sim["paper_fixation_count"])) else (T, "Difference"))
            marks[(len(rows), col)] = letter
            notes.append(f"{letter} The simulator did not use the paper's value for "
                         f"{stimulus_name(r['artwork'], r['method'])}: {sim['note']} (target "
                         f"{float(sim['target_fixation_time_s']):.2f} s, {float(sim['target_fixation_count']):.1f} "
                         "fixations), so this difference reflects the simulation, not a failure to replicate.")
        rows.append(row)
    cols = [("", "Artwork")] + [(g, lf) for g in (T, C) for lf in ("M (SD)", "95% CI", "Paper", "Difference")] \
        + [("", "n")]
    disp = pd.DataFrame(rows, dtype=object)[cols]
    disp.columns = cols
    return disp, panels, marks, notes


def _quality_tables(result: Any) -> list[Table]:
    tm = result.trial_metrics
    per = (tm.assign(_exc=tm["excluded"].astype(bool))
           .groupby("participant", sort=True)
           .agg(trials=("stimulus_id", "size"), excluded_trials=("_exc", "sum"),
                valid_fraction_mean=("valid_fraction", "mean"),
                precision_rms_deg_mean=("precision_rms_deg", "mean"))
           .reset_index()) if "precision_rms_deg" in tm else (
        tm.assign(_exc=tm["excluded"].astype(bool)).groupby("participant", sort=True)
        .agg(trials=("stimulus_id", "size"), excluded_trials=("_exc", "sum"),
             valid_fraction_mean=("valid_fraction", "mean")).reset_index())
    out = [Table("quality_trials", "Trial-level data quality per participant (all trials, before exclusions)", per)]
    rq = getattr(result, "recording_quality", None)
    if rq is not None and len(rq):
        keep = [c for c in rq.columns if c in ("participant", "session", "readable") or
                pd.api.types.is_numeric_dtype(rq[c])]
        out.append(Table("quality_recordings", "Recording-level data quality (per participant and session)",
                         rq[keep].reset_index(drop=True)))
    return out


def _git_commit() -> str:
    """The git commit of this artgaze checkout (with "+ uncommitted changes"), or why it is unknown."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return "unknown (not a git checkout)"
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({type(exc).__name__})"
    return head + (" + uncommitted changes" if dirty else "")


def _trial_onsets(data_dir: Path | None) -> pd.DataFrame | None:
    """Stimulus onset of every trial on the tracker clock, from the events files (or ``None``)."""
    if data_dir is None or not Path(data_dir).is_dir():
        return None
    from analysis.io.bids import read_events

    frames = []
    for ev in sorted(Path(data_dir).glob("sub-*/ses-*/beh/*_events.tsv")):
        try:
            tr = read_events(ev, None)
        except InputError as exc:  # no tracker_onset_us: these trials keep every fixation
            logger.info("no stimulus onsets for the heatmaps from %s: %s", ev, exc)
            continue
        frames.append(tr[["trial", "onset_s"]].assign(participant=ev.parents[2].name,
                                                      session=ev.parents[1].name.removeprefix("ses-")))
    return pd.concat(frames, ignore_index=True) if frames else None


#: Columns of ``Statistics.headline`` shown in the Summary (all of them are in tables/headline.csv).
HEADLINE_COLUMNS = ("measure", "effect", "estimate", "ci_low", "ci_high", "statistic_name", "statistic", "df",
                    "p_value", "singular", "participants", "artworks")


def headline(stats: Statistics) -> tuple[list[str], Table | None, str]:
    """The Summary's headline: the crossed random-effects model of each measure.

    Its sentences (``stats.sentences["headline_<measure>"]``, saying why when a model was
    not fitted), a compact table of ``stats.headline`` (:data:`HEADLINE_COLUMNS`; every
    column in ``tables/headline.csv``) and what they report.
    """
    sentences = [stats.sentences[f"headline_{m}"] for m in MEASURE_WORDS if f"headline_{m}" in stats.sentences]
    table = None
    h = stats.headline
    if h is not None and len(h):
        table = Table("headline", "Headline result per measure: the method effect (ours / Pix2Pix) in the "
                      "crossed random-effects model used (formulas, standard errors and fit details: "
                      "tables/headline.csv and Inferential statistics)", h,
                      display=format_frame(h[[c for c in HEADLINE_COLUMNS if c in h.columns]]))
    return sentences, table, "crossed random-effects model"


def _quality_summary(tm: pd.DataFrame, rq: pd.DataFrame | None) -> pd.DataFrame:
    """One row of dataset-level quality numbers (the per-participant tables are in the appendix)."""
    exc = tm["excluded"].astype(bool)
    row = {"participants": int(tm["participant"].nunique()), "trials": int(len(tm)),
           "excluded_trials": int(exc.sum())}
    if "valid_fraction" in tm:
        v = tm["valid_fraction"].astype(float)
        row["valid_fraction_median"] = float(v.median())
        row["valid_fraction_min"] = float(v.min())
    if "precision_rms_deg" in tm:
        row["precision_rms_deg_median"] = float(tm["precision_rms_deg"].astype(float).median())
    if rq is not None and "accuracy_deg" in rq and rq["accuracy_deg"].notna().any():
        row["accuracy_deg_median"] = float(rq["accuracy_deg"].astype(float).median())
    return pd.DataFrame([row])


def _secondary_tests(stats: Statistics, st: Section, tables: list[Table], miss: dict) -> None:
    """Tests beside the headline: by-participant assumption checks, per category and per artwork
    (Holm), by items with the paper's own rows, the RM-ANOVA and the sensitivity (docs/statistics.md)."""
    parts = [
        ("By-participant test: Wilcoxon and normality of the differences", ("primary_wilcoxon_", "normality_"),
         [("primary_wilcoxon", stats.wilcoxon, "Wilcoxon signed-rank tests on participant means, with the "
           "rank-biserial r"), ("normality", stats.normality, "Shapiro-Wilk tests of the paired differences")]),
        ("Per category and per artwork (paired, Holm-corrected within each measure)", (),
         [("by_category", stats.by_category, "Paired tests per category (family of 3 per measure, Holm)"),
          ("by_artwork", stats.by_artwork, "Paired tests per artwork (family of 9 per measure, Holm)")]),
        ("By items, this study and the paper's own Table 4 (n = artworks)", ("items_",),
         [("by_items", stats.by_items, "Paired tests by items (artwork means; this study and the paper's "
           "Table 4): the artwork is the unit, participants are treated as fixed")]),
        ("Two-way repeated-measures ANOVA (method x category)", ("anova_",),
         [("rm_anova", stats.anova, "Two-way RM-ANOVA on each participant's category means: F, uncorrected and "
           "Greenhouse-Geisser corrected p, epsilon, generalised eta squared, Mauchly's W and p")]),
        ("Sensitivity of the by-participant test", ("sensitivity_",),
         [("sensitivity", stats.sensitivity, "Smallest detectable d_z (paired t, two-sided)")]),
    ]
    n_c = int(miss["complete"])
    if n_c < 3:  # a by-participant test needs 2 complete participants, Shapiro-Wilk 3: listed in "Needs more data"
        parts = [p for p in parts if p[0].startswith(("By items", "Sensitivity"))] if n_c < 2 else \
            [(h, tuple(k for k in keys if k != "normality_"), [f for f in fr if f[0] != "normality"])
             for h, keys, fr in parts]
    shown = False
    for head, keys, frames in parts:
        frames = [f for f in frames if f[1] is not None and len(f[1])]
        if not frames:
            continue
        if not shown:
            st.blocks.append(("h3", "Further tests"))
            st.blocks.append(f"Listwise: {miss['complete']} participant(s) with complete data (the mixed models "
                             "use every included trial). These tests treat the artworks (or, by items, the "
                             "participants) as fixed; the headline does not.")
            shown = True
        st.blocks.append(("h3", head))
        sent = [stats.sentences[k] for k in stats.sentences if keys and k.startswith(keys)]
        if sent:
            st.blocks.append(sent)
        for name, df, cap in frames:
            t = Table(name, cap, df.reset_index(drop=True))
            st.blocks.append(t)
            tables.append(t)


def build_sections(result: Any, stats: Statistics, t4: pd.DataFrame, cmp: pd.DataFrame,
                   reference: pd.DataFrame, checks: pd.DataFrame, figures: list[Figure], *,
                   simulated: bool, data_dir: Path | None, manifest_path: Path | None,
                   dup_pairs: list[tuple[str, str]], config: Any) -> tuple[list[Section], list[Table]]:
    """The report's sections in the order a paper is read.

    Summary (headline), Table 4, inferential statistics, figures, data-quality summary,
    notes on the paper's values, then the appendix (collapsed in HTML): per-participant
    quality, exclusions and missing participants, reference checks, simulation targets,
    reproducibility (versions, git commit, configuration, input hashes).
    """
    tm = result.trial_metrics
    tables: list[Table] = []
    miss = stats.missing
    sim = "SIMULATED data. " if simulated else ""
    acc = participant_accounting(result)
    missing_reg = acc["missing"]
    n_reg = max(acc["registered"], acc["with_trials"] + len(missing_reg))
    sim_targets = simulation_targets(data_dir)

    # ---------------------------------------------------------------- Summary
    summary = Section("Summary", "summary")
    summary.blocks.append(
        f"{sim}Dataset: {data_dir if data_dir is not None else 'in-memory result'}; "
        f"{n_reg} participant(s) registered, {acc['with_trials']} with data"
        + (f" ({len(missing_reg)} missing: " + "; ".join(f"{r.participant}: {r.reason}"
                                                         for r in missing_reg.itertuples()) + ")"
           if len(missing_reg) else "")
        + (f"; with data but not in participants.tsv: {', '.join(acc['unregistered'])}" if acc["unregistered"]
           else "")
        + f"; {len(tm)} trial(s), {miss['excluded_trials']} excluded; "
        f"{miss['complete']} of {n_reg} participant(s) with complete data.")
    sentences, head_table, what = headline(stats)
    summary.blocks.append(("h3", f"Headline result ({what})"))
    summary.blocks.append(("headline", sentences or ["No headline test could be computed on these data."]))
    if head_table is not None:
        summary.blocks.append(head_table)
        if head_table.write:
            tables.append(head_table)
    avg = t4[t4["level"] == "overall"].set_index("method")
    ref_avg = reference[reference["artwork"] == "_average"].set_index("method")
    if len(avg):
        summary.blocks.append(
            "Average over the nine artworks (Table 4, 'Average' rows; the paper's value in brackets): "
            + "; ".join(f"{METHOD_NAMES.get(m, m)} {avg.at[m, 'fixation_time_s_mean']:.2f} s "
                        f"[{ref_avg.at[m, 'fixation_time_s']:g}] and {avg.at[m, 'fixation_count_mean']:.1f} "
                        f"fixations [{ref_avg.at[m, 'fixation_count']:g}]"
                        for m in avg.index if m in ref_avg.index) + ".")
    if stats.not_run:
        summary.blocks.append(("h3", "Needs more data"))
        summary.blocks.append(list(stats.not_run))

    # ---------------------------------------------------------------- Table 4
    sec4 = Section("Table 4, replicated", "table4")
    disp, panels, marks, notes = _table4_display(t4, cmp, sim_targets)
    t4_file = t4.copy()
    t4_file.insert(3, "name", [artwork_name(a) if lvl == "artwork" else ("Average" if lvl == "overall" else
                                                                           f"{CATEGORY_NAMES.get(c, c)} (mean)")
                               for a, c, lvl in zip(t4["artwork"], t4["category"], t4["level"])])
    t4_table = Table("table4", "Table 4 replicated: mean (SD) and 95% CI over participants per artwork, category "
                     "means and the average over the nine artworks, next to the paper's values (difference = "
                     "this study \u2212 paper; n = participants)", t4_file, disp, notes=notes, marks=marks,
                     panels=panels)
    sec4.blocks.append(t4_table)
    tables.append(t4_table)
    if sim_targets is not None:
        changed = sim_targets[sim_targets["target_handling"] != "as_paper"]
        sec4.blocks.append(
            f"{sim}The cohort was generated from the paper's Table 4 by python -m study.simulate: "
            f"{len(sim_targets) - len(changed)} of {len(sim_targets)} cells were simulated as printed"
            + (f"; {len(changed)} were not, because the paper's values imply a mean fixation duration above "
               f"{max_plausible_mean_fixation_s():g} s (data/reference/plausibility.toml), physiologically "
               "implausible (footnotes at the cells; 'Simulation targets' in the appendix)."
               if len(changed) else "."))
    sec4.blocks.append(("h3", "Definitions"))
    sec4.blocks.append(list(DEFINITIONS))
    t_cmp = Table("table4_vs_paper", "Replicated means next to the paper's Table 4 values", cmp)
    tables.append(t_cmp)

    # ---------------------------------------------------------------- inferential statistics
    st = Section("Inferential statistics", "statistics")
    if stats.inference:
        st.blocks.append(f"{sim}The headline is the crossed random-effects model; the by-participant test, the "
                         "by-items test and min F' are shown beside it (docs/statistics.md).")
        for name, caption, df in stats.inference:
            t = Table(name, caption, df.reset_index(drop=True))
            st.blocks.append(t)
            tables.append(t)
    else:
        st.blocks.append("No test of the method effect could run on these data: see \"Needs more data\" in the "
                         "Summary.")
    if stats.machine_tables:
        st.blocks.append("Machine-readable results, written verbatim (full precision, NA for missing): "
                         + ", ".join(f"tables/{n}.csv" for n in stats.machine_tables)
                         + ". model_terms.csv has every term of every model fitted (measure, model, formula, family, "
                         "term, estimate, std_error, df, statistic, p_value, ci_low, ci_high); its formula is in lme4 "
                         "syntax over the columns of trial_metrics.csv, so in R lmer(formula, data = "
                         "read.csv(\"tables/trial_metrics.csv\", comment.char = \"#\")) refits it (glmer with "
                         "family = poisson for the counts).")
    _secondary_tests(stats, st, tables, miss)

    # ---------------------------------------------------------------- figures
    fsec = Section("Figures", "figures")
    fsec.blocks += figures

    # ---------------------------------------------------------------- data quality (summary)
    quality = Section("Data quality", "data-quality")
    rq = getattr(result, "recording_quality", None)
    qs = Table("quality_summary", "Data quality of the whole dataset (medians over trials; recording accuracy "
               "over recordings)", _quality_summary(tm, rq))
    quality.blocks += [
        f"{sim}{miss['excluded_trials']} of {len(tm)} trials were excluded by the data-quality rules ([quality] in "
        f"the configuration) and removed before any aggregation. Missing data: a participant with any missing "
        f"trial is dropped listwise from the paired tests and the RM-ANOVA and kept in the mixed models. "
        f"Complete participants: {miss['complete']} of {n_reg}"
        + (f" (dropped from paired tests: {', '.join(miss['incomplete'])})" if miss["incomplete"] else "") + ".",
        ("Participants with no valid data (every trial excluded; in no analysis): "
         + (", ".join(miss["no_valid_data"]) if miss["no_valid_data"] else "none") + "."),
        ("Registered participants without data: "
         + ("; ".join(f"{r.participant} ({r.reason})" for r in missing_reg.itertuples())
            if len(missing_reg) else "none") + "."),
        ("WARNING: participants with identical trial metrics (copied data?), kept as given: "
         + "; ".join(f"{a} = {b}" for a, b in dup_pairs) + "." if dup_pairs else
         "No two participants have identical trial metrics (duplicate-data check)."),
        qs, "Per-participant and per-recording quality, every exclusion and its reason: see the appendix."]
    tables.append(qs)

    # ---------------------------------------------------------------- notes on the paper's values
    notes_sec = Section("Notes on the paper's reported values", "reference-notes")
    notes_sec.blocks.append("Computed by analysis.reference.check_reference from data/reference/paper_table4.csv "
                            "and data/reference/paper_text_values.csv; nothing is typed in by hand (all checks: "
                            "appendix).")
    bad = checks[~checks["consistent"]]
    notes_sec.blocks.append(list(bad["message"]) if len(bad) else ["No inconsistencies found."])

    # ---------------------------------------------------------------- appendix
    app_q = Section("Data quality per participant", "appendix-quality", appendix=True)
    for t in _quality_tables(result):
        app_q.blocks.append(t)
        tables.append(t)

    app_x = Section("Exclusions and missing participants", "exclusions", appendix=True)
    ex = result.exclusions if getattr(result, "exclusions", None) is not None else pd.DataFrame()
    tm_ex = tm[tm["excluded"].astype(bool)]
    reasons = (tm_ex.assign(reason=tm_ex["exclusion_reason"].astype(str))
               .groupby("reason", sort=True).size().rename("trials").reset_index())
    t_reasons = Table("exclusion_reasons", "Excluded trials by reason", reasons)
    t_ex = Table("exclusions", "Every exclusion (trial n/a = the whole participant)", ex.reset_index(drop=True))
    t_miss = Table("missing_participants", "Participants registered in participants.tsv without data in the "
                   "analysis, and why", missing_reg)
    app_x.blocks += [t_reasons, t_ex, t_miss]
    tables += [t_reasons, t_ex, t_miss]

    app_r = Section("Checks of the paper's reference values", "appendix-reference", appendix=True)
    quotes = load_text_values()[["value_id", "quote"]].drop_duplicates("quote")
    app_r.blocks.append(("h3", "Quoted sentences"))
    app_r.blocks.append([f"{r.value_id.split('_')[0]}: \u201c{r.quote}\u201d" for r in quotes.itertuples()])
    t = Table("reference_checks", "Consistency checks of the paper's reference values", checks)
    app_r.blocks.append(t)
    tables.append(t)
    appendix = [app_q, app_x, app_r]

    if sim_targets is not None:
        app_s = Section("Simulation targets", "appendix-simulation", appendix=True)
        t_sim = Table("simulation_targets", "Paper cell, simulated target and its handling per stimulus "
                      "(derivatives/ground_truth/generating_parameters.tsv)", sim_targets)
        app_s.blocks.append(t_sim)
        tables.append(t_sim)
        appendix.append(app_s)

    rep = Section("Reproducibility: versions, configuration, input hashes", "reproducibility", appendix=True)
    vers = Table("versions", "Package versions and the artgaze git commit", _versions())
    seed = getattr(getattr(config, "report", None), "seed", None)
    rep.blocks += [vers,
                   f"Seeds: report seed {seed} (configuration [report].seed). Figures: matplotlib Agg, "
                   "svg.hashsalt fixed, no dates in metadata.",
                   ("h3", "Configuration"), ("pre", _config_text(config))]
    refs = pd.DataFrame([(p.name, _sha256(p)) for p in (TABLE4_PATH, TEXT_VALUES_PATH, PLAUSIBILITY_PATH)]
                        + ([(f"manifest: {manifest_path}", _sha256(manifest_path))]
                           if manifest_path is not None and Path(manifest_path).is_file() else []),
                        columns=["file", "sha256"])
    t_ref = Table("reference_files", "Reference and manifest files", refs)
    inputs = getattr(result, "input_files", None)
    t_in = Table("input_files", "Input files read (path relative to the dataset root, bytes, SHA-256)",
                 inputs.reset_index(drop=True) if inputs is not None else pd.DataFrame(columns=["path", "sha256"]))
    desc = getattr(result, "dataset_description", {}) or {}
    rep.blocks += [("h3", "Dataset description"),
                   ("pre", "\n".join(f"{k}: {desc[k]}" for k in sorted(desc))), t_ref, t_in]
    tables += [vers, t_ref, t_in]
    appendix.append(rep)


    return [summary, sec4, st, fsec, quality, notes_sec, *appendix], tables


def build_report(result: Any, out_dir: str | Path, *, data_dir: str | Path | None = None,
                 manifest_path: str | Path | None = None, progress: bool = True,
                 timings: dict[str, float] | None = None, parallel: bool = True,
                 drop_onset_fixation: bool = True) -> dict[str, Any]:
    """Write the whole report for a processed dataset into ``out_dir``.

    Parameters
    ----------
    result : analysis.batch.DatasetResult
        Output of :func:`analysis.batch.process_dataset` (or an object with the same
        attributes: trial_metrics, fixations, recording_quality, exclusions,
        dataset_description, input_files, config).
    out_dir : path
        Output folder: ``report.html``, ``report.md``, ``tables/*.csv|tex``,
        ``figures/*.png|svg``.
    data_dir : path, optional
        The raw dataset (for the stimuli's on-screen rectangles in the heatmaps).
    manifest_path : path, optional
        Stimulus manifest; checked against the events, images drawn under heatmaps.
    progress : bool
        Show a tqdm bar over the stages.
    timings : dict, optional
        Filled with the wall time of each stage (seconds), for the benchmark.
    parallel : bool
        Fit the Poisson GLMM in a second process while the other statistics and the
        figures run (default). The result is the same either way.
    drop_onset_fixation : bool
        Heatmaps and scanpaths leave out the fixation already in progress at stimulus
        onset (begun on the fixation cross; default: True, stated in the captions). See
        :func:`analysis.figures.heatmap_fixations`.

    Returns
    -------
    dict
        ``html``, ``md``, ``tables``, ``figures`` paths, ``headline`` (the headline
        sentences of the Summary, for the terminal) and ``headline_kind`` (what they
        report, e.g. "crossed random-effects model").
    """
    out = Path(out_dir)
    config = result.config
    rcfg = config.report
    simulated = bool((getattr(result, "dataset_description", {}) or {}).get("Simulated", False))
    timings = timings if timings is not None else {}
    stages = ["validate", "table4", "statistics", "reference", "figures", "write"] + (["count model"] if parallel else [])
    bar = tqdm(total=len(stages), desc="report", unit="stage", disable=not progress)

    def stage(name: str):
        bar.set_postfix_str(name)
        return time.perf_counter()

    def done(name: str, t0: float) -> None:
        timings[name] = time.perf_counter() - t0
        bar.update(1)

    pool = None
    try:
        t0 = stage("validate")
        tm = result.trial_metrics
        if tm is None or len(tm) == 0:
            raise InputError("the dataset has no trials (empty dataset)", file=data_dir,
                             expected="sessions with trial_type == 'stimulus' events",
                             fix="record or simulate at least one participant")
        reference = load_table4()
        manifest_path = Path(manifest_path) if manifest_path is not None else None
        manifest = load_manifest(manifest_path)
        check_stimuli(tm, manifest, manifest_path=manifest_path, reference=reference)
        dup_pairs = duplicate_content(tm)
        if dup_pairs:
            logger.warning("participants with identical trial metrics: %s", dup_pairs)
        done("validate", t0)

        t0 = stage("table4")
        t4 = table4(tm)
        cmp = compare_with_paper(t4, reference)
        done("table4", t0)

        t0 = stage("statistics")
        # The Poisson GLMM and its dispersion check (the slowest analysis) run in a second process
        # while the other statistics and the figures are computed (2 cores); same result.
        pool = future = None
        if parallel:
            try:
                pool = ProcessPoolExecutor(max_workers=1)
                future = pool.submit(fit_count_model, tm, rcfg.seed)
            except (OSError, RuntimeError) as exc:  # no worker process available: fit in this process
                logger.info("fitting the GLMM in this process (%s)", exc)
                pool = future = None
        stats = compute_statistics(tm, alpha=rcfg.alpha, power=rcfg.power, seed=rcfg.seed, reference=reference,
                                   fit_glmm=future is None)
        done("statistics", t0)

        t0 = stage("reference")
        checks = check_reference(reference, load_text_values())
        done("reference", t0)

        t0 = stage("figures")
        fdir = out / "figures"
        made: list[Figure] = []

        def add(fig, name: str, caption: str) -> None:
            p = figs.save_figure(fig, fdir, name)
            made.append(Figure(name, caption, p["png"], p["svg"]))

        add(figs.artwork_means(t4, reference=reference, simulated=simulated), "artwork_means",
            "Per-artwork mean total fixation time and number of fixations with 95% CIs, both methods (filled "
            "circles), and the paper's Table 4 values (open diamonds).")
        incomplete = set(stats.missing["incomplete"])
        overall = participant_values(tm[~tm["participant"].astype(str).isin(incomplete)], "overall")
        add(figs.paired_lines(overall, simulated=simulated), "paired_lines",
            "Participant-level paired values (mean over the nine artworks per method), complete participants.")
        add(figs.interaction(t4, simulated=simulated), "interaction", "Method x category interaction (95% CIs).")
        fx = getattr(result, "fixations", None)
        stimuli = list(dict.fromkeys(t4.loc[t4["level"] == "artwork"].apply(
            lambda r: f"{r['artwork']}_{r['method']}", axis=1)))
        stimuli = [s for s in stimuli if s in set(tm["stimulus_id"])] or sorted(set(tm["stimulus_id"]))
        if fx is not None and len(fx):
            keys = [k for k in ("participant", "session", "trial") if k in fx.columns and k in tm.columns]
            inc_keys = included(tm)[keys].drop_duplicates()
            fx_inc = fx.assign(**{k: fx[k].astype(str) for k in keys}).merge(
                inc_keys.assign(**{k: inc_keys[k].astype(str) for k in keys}), on=keys)
            aois = aoi_rectangles(Path(data_dir) if data_dir else None, fx_inc, stimuli)
            onsets = _trial_onsets(Path(data_dir) if data_dir else None) if drop_onset_fixation else None
            shown, n_dropped = figs.heatmap_fixations(fx_inc, onsets, drop_onset_fixation=drop_onset_fixation)
            names = dict(zip(tm["stimulus_id"].astype(str), zip(tm["artwork"].astype(str), tm["method"].astype(str))))
            images = stimulus_images(manifest, manifest_path)
            if drop_onset_fixation and onsets is not None:
                onset_note = (f"The fixation already in progress at stimulus onset (begun on the fixation cross) is "
                              f"left out ({n_dropped} fixations; option --keep-onset-fixation keeps it).")
            elif drop_onset_fixation:
                onset_note = ("The fixation in progress at stimulus onset could NOT be left out: the events have no "
                              "stimulus onsets on the tracker clock (tracker_onset_us).")
            else:
                onset_note = "The fixation already in progress at stimulus onset is included (--keep-onset-fixation)."
            add(figs.heatmaps(shown, aois, images=images, names=names, simulated=simulated), "heatmaps",
                "Duration-weighted fixation heatmaps per stimulus over the image (or its on-screen rectangle): "
                "fixations inside the stimulus (the ones Table 4 counts), included trials of all participants; "
                "colour scale: share of each map's maximum (gamma 0.5). " + onset_note)
            who = sorted(set(included(tm)["participant"].astype(str)) - incomplete)[:3]
            add(figs.scanpaths(shown, aois, images=images, names=names, participants=who or None,
                               simulated=simulated), "scanpaths",
                "Scanpaths of the first three participants (in sort order) with complete data: the first 12 "
                "fixations inside the stimulus of each trial, numbered in temporal order, circle area proportional "
                "to duration. " + onset_note)
        add(figs.quality_overview(tm, getattr(result, "recording_quality", None), simulated=simulated),
            "quality", "Data quality per participant: valid-sample fraction of every trial and excluded trials.")
        done("figures", t0)

        if future is None and parallel:
            bar.update(1)  # the count model was fitted with the other statistics
        if future is not None:
            t0 = stage("count model (wait)")
            attach_glmm(stats, future.result())
            pool.shutdown()
            pool = None
            done("count model (wait)", t0)

        t0 = stage("write")
        sections, tables = build_sections(result, stats, t4, cmp, reference, checks, made, simulated=simulated,
                                          data_dir=Path(data_dir) if data_dir else None,
                                          manifest_path=manifest_path, dup_pairs=dup_pairs, config=config)
        tdir = out / "tables"
        written = []
        for t in tables:
            if t.write:
                written += [write_csv(t, tdir, simulated), write_latex(t, tdir, simulated)]
        for name, df in stats.machine_tables.items():
            written.append(write_machine_csv(name, df, tdir, simulated))
        title = TITLE + (" (SIMULATED DATA)" if simulated else "")
        html_path = out / "report.html"
        md_path = out / "report.md"
        html_path.write_text(to_html(title, sections, simulated=simulated,
                                     nav_extra=[("tab-table4", "Table 4 (the table itself)")]), encoding="utf-8")
        md_path.write_text(to_markdown(title, sections, simulated=simulated), encoding="utf-8")
        done("write", t0)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return {"html": html_path, "md": md_path, "tables": written,
            "figures": [p for f in made for p in (f.png, f.svg)], "headline": headline(stats)[0],
            "headline_kind": headline(stats)[2]}


__all__ = ["build_report", "build_sections", "DEFINITIONS", "MEASURE_WORDS", "METHODS", "format_frame"]
