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
from analysis.aggregate import METHODS, compare_with_paper, included, participant_values, table4
from analysis.errors import InputError
from analysis.reference import TABLE4_PATH, TEXT_VALUES_PATH, check_reference, load_table4, load_text_values
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
)
from analysis.report.inputs import (
    aoi_rectangles,
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
    "only fit means per participant; the sums over participants are therefore given too (time sum, "
    "count sum; category/Average rows: mean of the artwork sums).",
]


def _versions() -> pd.DataFrame:
    rows = [("python", platform.python_version())]
    import analysis

    rows.append(("analysis (artgaze)", analysis.__version__))
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


def _table4_display(t4: pd.DataFrame, cmp: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    names = dict(zip(zip(reference["method"], reference["artwork"]), reference["paper_name"]))
    cmp = cmp.set_index(["method", "category", "artwork"])
    rows = []
    last_method = last_cat = None
    for _, r in t4.iterrows():
        key = (r["method"], r["category"], r["artwork"])
        c = cmp.loc[key] if key in cmp.index else None
        if r["level"] == "artwork":
            name = names.get((r["method"], r["artwork"]), r["artwork"])
        elif r["level"] == "category":
            name = f"{r['category']} mean"
        else:
            name = "Average"
        row = {"Method": r["method"] if r["method"] != last_method else "",
               "Category": r["category"] if (r["category"] != last_cat or r["method"] != last_method) else ""}
        last_method, last_cat = r["method"], r["category"]
        row["Name"] = name
        for m, lab, dec in (("fixation_time_s", "Time (s)", 2), ("fixation_count", "Count", 1)):
            row[f"{lab} M (SD)"] = (f"{r[f'{m}_mean']:.{dec}f} ({r[f'{m}_sd']:.{dec}f})"
                                    if np.isfinite(r[f"{m}_sd"]) else f"{r[f'{m}_mean']:.{dec}f}")
            row[f"{lab} 95% CI"] = (f"[{r[f'{m}_ci_low']:.{dec}f}, {r[f'{m}_ci_high']:.{dec}f}]"
                                    if np.isfinite(r[f"{m}_ci_low"]) else "n/a")
            row[f"{lab} n"] = str(int(r[f"{m}_n"]))
            paper = c[f"{m}_paper"] if c is not None else np.nan
            row[f"{lab} paper"] = f"{paper:.2f}".rstrip("0").rstrip(".") if np.isfinite(paper) else "n/a"
            diff = c[f"{m}_diff"] if c is not None else np.nan
            row[f"{lab} diff"] = f"{diff:+.{dec}f}" if np.isfinite(diff) else "n/a"
        row["Time sum (s)"] = f"{r['fixation_time_s_sum']:.2f}"
        row["Count sum"] = f"{r['fixation_count_sum']:.1f}"
        rows.append(row)
    return pd.DataFrame(rows, dtype=object)


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


def _vb_caution(res) -> str:
    """A warning when the VB interval of the method effect is much narrower than the GLM one."""
    fx = res.fixed[res.fixed["term"] == "method[ours - pix2pix]"].set_index("model")
    if not {"glmm_vb", "glm_cluster2"} <= set(fx.index):
        return ""
    w_vb = float(fx.at["glmm_vb", "ci_high"] - fx.at["glmm_vb", "ci_low"])
    w_glm = float(fx.at["glm_cluster2", "ci_high"] - fx.at["glm_cluster2", "ci_low"])
    if w_vb > 0 and w_glm / w_vb > 2:
        return (f"CAUTION: the VB interval of the method effect is {w_glm / w_vb:.1f} times narrower than the "
                "two-way clustered GLM interval. Mean-field variational Bayes is known to understate posterior "
                "uncertainty (Blei et al., 2017); read the GLM interval (or the LMM and paired tests) for "
                "inference on fixation counts, and the VB fit for the point estimate.")
    return ""


def _fixed_table(res, name: str, caption: str) -> Table:
    return Table(name, caption, res.fixed.reset_index(drop=True))


def build_sections(result: Any, stats: Statistics, t4: pd.DataFrame, cmp: pd.DataFrame,
                   reference: pd.DataFrame, checks: pd.DataFrame, figures: list[Figure], *,
                   simulated: bool, data_dir: Path | None, manifest_path: Path | None,
                   dup_pairs: list[tuple[str, str]], config: Any) -> tuple[list[Section], list[Table]]:
    tm = result.trial_metrics
    tables: list[Table] = []
    miss = stats.missing
    sim = "SIMULATED data. " if simulated else ""

    # summary
    summary = Section("Summary", "summary")
    summary.blocks.append(
        f"{sim}Dataset: {data_dir if data_dir is not None else 'in-memory result'}; "
        f"{miss['participants']} participant(s), {len(tm)} trial(s), {miss['excluded_trials']} excluded, "
        f"{miss['complete']} participant(s) with complete data.")
    summary.blocks.append([stats.sentences[k] for k in stats.sentences if k.startswith("primary_t_")])

    # data quality
    quality = Section("Data quality", "data-quality")
    quality.blocks.append(f"{sim}Per-participant valid-sample fractions and precision (trial metrics) and "
                          "the recording-level quality computed by analysis.quality.")
    if dup_pairs:
        quality.blocks.append("WARNING: participants with identical trial metrics (copied data?), kept as "
                              "given: " + "; ".join(f"{a} = {b}" for a, b in dup_pairs) + ".")
    else:
        quality.blocks.append("No two participants have identical trial metrics (duplicate-data check).")
    for t in _quality_tables(result):
        quality.blocks.append(t)
        tables.append(t)

    # exclusions
    excl = Section("Exclusions and missing data", "exclusions")
    ex = result.exclusions if getattr(result, "exclusions", None) is not None else pd.DataFrame()
    tm_ex = tm[tm["excluded"].astype(bool)]
    reasons = (tm_ex.assign(reason=tm_ex["exclusion_reason"].astype(str))
               .groupby("reason", sort=True).size().rename("trials").reset_index())
    t_reasons = Table("exclusion_reasons", "Excluded trials by reason", reasons)
    t_ex = Table("exclusions", "Every exclusion (trial n/a = the whole participant)", ex.reset_index(drop=True))
    excl.blocks += [
        f"{miss['excluded_trials']} of {len(tm)} trials were excluded by the data-quality rules "
        f"([quality] in the configuration) and removed before any aggregation.",
        f"Missing-data handling: a participant with any missing trial is dropped listwise from the paired "
        f"tests and the RM-ANOVA and kept in the mixed models. Complete participants: {miss['complete']} of "
        f"{miss['participants']}; dropped from paired tests: {len(miss['incomplete'])}"
        + (f" ({', '.join(miss['incomplete'])})" if miss["incomplete"] else "") + ".",
        ("Participants with no valid data (every trial excluded; in no analysis): "
         + (", ".join(miss["no_valid_data"]) if miss["no_valid_data"] else "none") + "."),
        t_reasons, t_ex]
    tables += [t_reasons, t_ex]

    # Table 4
    sec4 = Section("Table 4, replicated", "table4")
    sec4.blocks.append(("h3", "Definitions"))
    sec4.blocks.append(list(DEFINITIONS))
    disp = _table4_display(t4, cmp, reference)
    t4_table = Table("table4", "Table 4 replicated: mean (SD), 95% CI and n over participants per artwork x "
                     "method, category and overall averages, next to the paper's values (diff = this study - "
                     "paper)", t4, disp)
    t_cmp = Table("table4_vs_paper", "Replicated means next to the paper's Table 4 values", cmp)
    sec4.blocks += [t4_table, t_cmp]
    tables += [t4_table, t_cmp]

    # statistics
    st = Section("Statistics", "statistics")
    st.blocks.append(f"{sim}Participant is the unit of analysis (within-subject design); excluded trials removed "
                     f"first; paired tests and the RM-ANOVA use the {miss['complete']} complete participant(s).")
    if miss["complete"] == 0:
        st.blocks.append("NOT COMPUTED: no participant has complete data, so the paired tests, the per-category and "
                         "per-artwork tests and the RM-ANOVA (all listwise) were not computed; the mixed models "
                         "below use every included trial.")
    elif stats.anova.empty:
        st.blocks.append("NOT COMPUTED: the RM-ANOVA needs at least 3 complete participants.")
    st.blocks.append(("h3", "Primary: participant means over the nine artworks"))
    st.blocks.append([stats.sentences[k] for k in stats.sentences
                      if k.startswith(("primary_", "normality_"))])
    for name, df, cap in (("primary_ttest", stats.primary, "Paired t-tests with Cohen's d_z (noncentral-t CI)"),
                          ("primary_wilcoxon", stats.wilcoxon, "Wilcoxon signed-rank tests with rank-biserial r"),
                          ("normality", stats.normality, "Shapiro-Wilk tests of the paired differences")):
        t = Table(name, cap, df)
        st.blocks.append(t)
        tables.append(t)
    st.blocks.append(("h3", "Per category and per artwork (Holm-corrected within each measure)"))
    for name, df, cap in (("by_category", stats.by_category, "Paired tests per category (family of 3 per measure, "
                                                                "Holm)"),
                          ("by_artwork", stats.by_artwork, "Paired tests per artwork (family of 9 per measure, "
                                                              "Holm)")):
        t = Table(name, cap, df)
        st.blocks.append(t)
        tables.append(t)
    st.blocks.append(("h3", "By items (n = 9 artworks; the paper's level of analysis)"))
    st.blocks.append("BY ITEMS: the unit here is the artwork, not the participant; these tests ignore "
                     "between-participant variability and are shown only because the paper's Table 4 is at this "
                     "level (its own rows are analysed the same way).")
    st.blocks.append([stats.sentences[k] for k in stats.sentences if k.startswith("items_")])
    t = Table("by_items", "Paired tests by items (artwork means; this study and the paper's Table 4)", stats.by_items)
    st.blocks.append(t)
    tables.append(t)
    st.blocks.append(("h3", "Two-way repeated-measures ANOVA (method x category)"))
    st.blocks.append("Cells are each participant's mean over the three artworks of a category (aggregated "
                     "explicitly before pingouin.rm_anova); Mauchly's test and Greenhouse-Geisser correction.")
    st.blocks.append([stats.sentences[k] for k in stats.sentences if k.startswith("anova_")])
    t = Table("rm_anova", "Two-way RM-ANOVA (pingouin): F, uncorrected and GG-corrected p, epsilon, "
              "generalised eta squared, Mauchly W and p", stats.anova)
    st.blocks.append(t)
    tables.append(t)
    st.blocks.append(("h3", "Mixed models with crossed random effects (participants and artworks)"))
    for key, res, cap in (("lmm", stats.lmm, "Linear mixed model of log fixation time: fixed effects "
                                             "(ratio = exp(b))"),
                          ("glmm", stats.glmm, "Poisson mixed model of fixation counts (VB) and Poisson GLM "
                                               "with two-way clustered SEs: fixed effects (ratio = rate ratio)")):
        if res is None:
            st.blocks.append(f"The {key.upper()} could not be fitted: {stats.model_errors.get(key, 'unknown error')}")
            continue
        st.blocks.append(f"{res.model}. {res.note}. Converged: {'yes' if res.converged else 'NO'}. "
                         f"{res.n_obs} observations, {res.n_participants} participants, {res.n_artworks} artworks, "
                         f"{res.n_dropped} row(s) not used.")
        st.blocks.append(["Warnings during the fit: " + ("; ".join(res.warnings) if res.warnings else "none")])
        st.blocks.append([stats.sentences[k] for k in (key, "glm") if k in stats.sentences and
                          (key == "glmm" or k == key)])
        if key == "glmm":
            caution = _vb_caution(res)
            if caution:
                st.blocks.append(caution)
        t = _fixed_table(res, f"{key}_fixed", cap)
        v = Table(f"{key}_variance", f"{key.upper()}: standard deviations of the random effects", res.variance)
        st.blocks += [t, v]
        tables += [t, v]
    st.blocks.append(("h3", "Sensitivity"))
    st.blocks.append([stats.sentences[k] for k in stats.sentences if k.startswith("sensitivity_")])
    t = Table("sensitivity", "Smallest detectable d_z (paired t, two-sided)", stats.sensitivity)
    st.blocks.append(t)
    tables.append(t)

    # what a simulator did with the paper's targets (docs/simulation.md, "Targets")
    sim_targets = simulation_targets(data_dir)
    if sim_targets is not None:
        changed = sim_targets[sim_targets["target_handling"] != "as_paper"]
        sec4.blocks.append(("h3", "Simulation targets"))
        sec4.blocks.append(
            f"{sim}The cohort was generated from the paper's Table 4 by python -m study.simulate. "
            f"{len(sim_targets) - len(changed)} of {len(sim_targets)} cells were simulated as printed; "
            + (f"{len(changed)} cell(s) were not, because the paper's values imply a physiologically implausible "
               "mean fixation duration: " + "; ".join(f"{r.stimulus_id}: {r.note}" for r in changed.itertuples())
               + ". The 'paper' columns above still show the printed values."
               if len(changed) else "none was changed."))
        t_sim = Table("simulation_targets", "Paper cell, simulated target and its handling per stimulus "
                      "(derivatives/ground_truth/generating_parameters.tsv)", sim_targets)
        sec4.blocks.append(t_sim)
        tables.append(t_sim)

    # figures
    fsec = Section("Figures", "figures")
    fsec.blocks += figures

    # notes on reference values
    notes = Section("Notes on the reference values", "reference-notes")
    notes.blocks.append("Every statement below is computed by analysis.reference.check_reference from "
                        "data/reference/paper_table4.csv and data/reference/paper_text_values.csv; nothing is "
                        "typed in by hand.")
    bad = checks[~checks["consistent"]]
    notes.blocks.append(list(bad["message"]) if len(bad) else ["No inconsistencies found."])
    quotes = load_text_values()[["value_id", "quote"]].drop_duplicates("quote")
    notes.blocks.append(("h3", "Quoted sentences"))
    notes.blocks.append([f"{r.value_id.split('_')[0]}: \u201c{r.quote}\u201d" for r in quotes.itertuples()])
    t = Table("reference_checks", "Consistency checks of the paper's reference values", checks)
    notes.blocks.append(t)
    tables.append(t)

    # reproducibility
    rep = Section("Reproducibility", "reproducibility")
    vers = Table("versions", "Package versions", _versions())
    seed = getattr(getattr(config, "report", None), "seed", None)
    rep.blocks += [vers,
                   f"Seeds: report seed {seed} (configuration [report].seed; used by the variational-Bayes "
                   "fit of the Poisson mixed model). Figures: matplotlib Agg, svg.hashsalt fixed, no dates in "
                   "metadata.",
                   ("h3", "Configuration"), ("pre", _config_text(config))]
    refs = pd.DataFrame([(p.name, _sha256(p)) for p in (TABLE4_PATH, TEXT_VALUES_PATH)]
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

    return [summary, quality, excl, sec4, st, fsec, notes, rep], tables


def build_report(result: Any, out_dir: str | Path, *, data_dir: str | Path | None = None,
                 manifest_path: str | Path | None = None, progress: bool = True,
                 timings: dict[str, float] | None = None, parallel: bool = True) -> dict[str, Path]:
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

    Returns
    -------
    dict
        ``html``, ``md``, ``tables``, ``figures`` paths.
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
        # The Poisson GLMM (variational Bayes, the slowest analysis) runs in a second process
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

        add(figs.artwork_means(t4, simulated=simulated), "artwork_means",
            "Per-artwork mean total fixation time and number of fixations with 95% CIs, both methods.")
        complete = set(stats.missing["incomplete"])
        overall = participant_values(tm[~tm["participant"].astype(str).isin(complete)], "overall")
        add(figs.paired_lines(overall, simulated=simulated), "paired_lines",
            "Participant-level paired values (mean over the nine artworks per method), complete participants.")
        add(figs.interaction(t4, simulated=simulated), "interaction", "Method x category interaction (95% CIs).")
        fx = getattr(result, "fixations", None)
        stimuli = list(dict.fromkeys(t4.loc[t4["level"] == "artwork"].apply(
            lambda r: f"{r['artwork']}_{r['method']}", axis=1)))
        stimuli = [s for s in stimuli if s in set(tm["stimulus_id"])] or sorted(set(tm["stimulus_id"]))
        if fx is not None and len(fx):
            fx_inc = fx.merge(included(tm)[["participant", "trial"]].drop_duplicates(), on=["participant", "trial"])
            aois = aoi_rectangles(Path(data_dir) if data_dir else None, fx_inc, stimuli)
            add(figs.heatmaps(fx_inc, aois, images=stimulus_images(manifest, manifest_path), simulated=simulated),
                "heatmaps", "Duration-weighted fixation heatmaps per stimulus over the image (or its on-screen "
                "rectangle), included trials of all participants.")
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
            written += [write_csv(t, tdir, simulated), write_latex(t, tdir, simulated)]
        title = TITLE + (" (SIMULATED DATA)" if simulated else "")
        html_path = out / "report.html"
        md_path = out / "report.md"
        html_path.write_text(to_html(title, sections, simulated=simulated), encoding="utf-8")
        md_path.write_text(to_markdown(title, sections, simulated=simulated), encoding="utf-8")
        done("write", t0)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return {"html": html_path, "md": md_path, "tables": written,
            "figures": [p for f in made for p in (f.png, f.svg)]}


__all__ = ["build_report", "build_sections", "DEFINITIONS", "MEASURE_WORDS", "METHODS", "format_frame"]
