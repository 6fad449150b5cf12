"""Coverage and type-I error of the report's 95 % intervals for the method effect -> docs/figures/coverage.png/.svg.

Not a test (it takes minutes). The question it answers: when the generating model has a
known ours - Pix2Pix effect, how often do the report's intervals contain it, and when the
true effect is zero, how often do they exclude zero? Goal (issue 13): the headline model's
coverage 93-97 % for time and count, its type-I error 3-7 %.

Each cohort is simulated **at the level of trial metrics** from the gaze model's own
generating model (:func:`study.oculomotor.trial_level_cohort`: participant random
intercepts and method slopes, trial effects, Poisson counts, lognormal fixation durations;
one implementation, the one :class:`study.oculomotor.GazeModel` plans its trials with).
Running the full gaze pipeline (samples, recorder, I-VT) for hundreds of cohorts is out of
reach on the project's CPUs (about 5 s per simulated participant); fixation detection
itself is checked by ``analysis.validate`` on the demo cohort. What this leaves out: the
fixation carried over from the cross, trials cut by the end of the viewing time, and the
detector's small biases.

Per cohort, artworks are drawn afresh (the crossed model treats them as random): 9
artworks, 3 per category; for each, a log Pix2Pix level ``log mean + sd_int * z`` (time
and count share ``z``) and a log ratio ours / Pix2Pix ``beta + sd_slope * z'`` (time and
count slopes correlated with ``rho``). ``mean``, ``sd_int``, ``sd_slope``, ``rho`` and
``beta`` are those of the paper's Table 4 after the simulator's target handling
(``study.simulate.build_targets``). Null cohorts make the methods exchangeable (the
artwork's log ratio ``sd_slope * z'`` split evenly, ``+/- 1/2``, between them), so the true
effect is exactly 0 on every scale (setting only ``beta = 0`` leaves a positive
difference of arithmetic means, ``E[T_pix](exp(sd_slope^2/2) - 1)``).

True effects of the effect cohorts (:func:`true_effects`): the LMM of log time estimates a
ratio of *geometric* means (derivation and Monte Carlo in :func:`geometric_time_effect`),
the Poisson GLMM the mean log rate ratio ``beta``, the paired t-tests the population mean
difference ``E[T_pix] (exp(beta + sd_slope^2 / 2) - 1)``.

Every cohort goes through the report's own statistics (:func:`report_statistics`: the
calls of ``analysis.report.build``): the headline is ``Statistics.headline``, i.e. the
crossed models the simplification rule actually selected (LMM of log time with
Satterthwaite df; Poisson GLMM by Laplace, t with between-within df); the offered alternatives are the
paired t on participant means, the paired t on artwork means (by items) and min F'
(Clark 1973; a test without an interval: type-I error and power only). Type-I error is
the share of null cohorts with p < 0.05.

Run from the repository root::

    python benchmarks/coverage.py [--cohorts 100] [--participants 20] [--seed 1]
           [--out docs/figures/coverage] [--work reports/coverage] [--progress FILE] [--full]

Writes ``<work>/coverage_intervals.tsv`` (every interval), ``<work>/coverage.tsv`` (the
summary) and the figure.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from study.oculomotor import OculomotorParams, trial_level_cohort  # noqa: E402
from study.simulate import ARTWORKS, build_targets, max_mean_fixation_s, read_targets, SimConfig  # noqa: E402

MEASURES = {"fixation_time_s": "total_fixation_s", "fixation_count": "fixation_count"}


def population(targets_file: Path) -> dict[str, float]:
    """Artwork population of the paper's Table 4 (after the simulator's target handling), log scale."""
    sim = SimConfig()
    cells = build_targets(read_targets(targets_file), sim.targets.handling, max_mean_fixation_s(sim.targets),
                          sim.oculomotor.viewing_s)
    t = pd.DataFrame([{"artwork": c.artwork, "method": c.method, "time": c.time_s, "count": c.count} for c in cells])
    w = t.pivot(index="artwork", columns="method")
    out = {}
    for m in ("time", "count"):
        lp = np.log(w[(m, "pix2pix")].astype(float))
        lr = np.log(w[(m, "ours")].astype(float)) - lp
        out[f"{m}_log_mean_pix"] = float(lp.mean())
        out[f"{m}_sd_int"] = float(lp.std(ddof=1))
        out[f"{m}_beta"] = float(lr.mean())
        out[f"{m}_sd_slope"] = float(lr.std(ddof=1))
    lr_t = np.log(w[("time", "ours")] / w[("time", "pix2pix")]).astype(float)
    lr_n = np.log(w[("count", "ours")] / w[("count", "pix2pix")]).astype(float)
    out["rho_slopes"] = float(np.corrcoef(lr_t, lr_n)[0, 1])
    return out


def draw_cells(pop: dict[str, float], null: bool, rng: np.random.Generator) -> tuple[dict, dict, dict]:
    """One cohort's 18 cells: ``stimulus_id -> (time, count)``, methods and artwork -> category."""
    cells, methods, cat = {}, {}, {}
    rho = pop["rho_slopes"]
    for category, arts in ARTWORKS.items():
        for art in arts:
            z = rng.normal()
            zt = rng.normal()
            zn = rho * zt + math.sqrt(max(0.0, 1 - rho * rho)) * rng.normal()
            t_pix = math.exp(pop["time_log_mean_pix"] + pop["time_sd_int"] * z)
            n_pix = math.exp(pop["count_log_mean_pix"] + pop["count_sd_int"] * z)
            if null:   # exchangeable methods: the slope split evenly, every scale's effect is exactly 0
                t_ours, t_pix = t_pix * math.exp(pop["time_sd_slope"] * zt / 2), t_pix * math.exp(-pop["time_sd_slope"] * zt / 2)
                n_ours, n_pix = n_pix * math.exp(pop["count_sd_slope"] * zn / 2), n_pix * math.exp(-pop["count_sd_slope"] * zn / 2)
            else:
                t_ours = t_pix * math.exp(pop["time_beta"] + pop["time_sd_slope"] * zt)
                n_ours = n_pix * math.exp(pop["count_beta"] + pop["count_sd_slope"] * zn)
            for method, tt, nn in (("ours", t_ours, n_ours), ("pix2pix", t_pix, n_pix)):
                sid = f"{art}_{method}"
                cells[sid] = (tt, max(nn, 1.0))
                methods[sid] = method
                cat[art] = category
    return cells, methods, cat


def true_effects(pop: dict[str, float], null: bool, geometric: dict[bool, float]) -> dict[tuple[str, str], float]:
    """``(model, measure) -> `` the population effect that model's interval should contain.

    Null cohorts: 0 everywhere (the methods are exchangeable in :func:`draw_cells`). Effect cohorts:

    * ``headline``, time: the log ratio of geometric means, ``geometric[null]``
      (:func:`geometric_time_effect`) -- what an LMM of log time estimates;
    * ``headline``, count: ``beta`` of the counts, the mean log rate ratio over artworks
      (the Poisson GLMM's conditional log rate ratio; the participant, trial and artwork
      log-normal effects enter both methods' means with the same ``-var/2`` correction,
      so marginal and conditional ratios coincide for the log link);
    * the paired t-tests (difference scale): the population mean difference
      ``E[T_pix] (exp(beta + sd_slope^2 / 2) - 1)`` with ``E[T_pix] = exp(m + sd_int^2 / 2)``
      (Pix2Pix level and log ratio independent, both normal on the log scale).
    """
    out = {}
    if null:   # ours and Pix2Pix exchangeable (draw_cells): 0 on every scale
        return {(model, measure): 0.0 for model in ("headline", "headline_vs_arithmetic", "by_participant_t",
                                                     "by_items_t", "min_F")
                for measure in ("fixation_time_s", "fixation_count")}
    for measure, m in (("fixation_time_s", "time"), ("fixation_count", "count")):
        beta = pop[f"{m}_beta"]
        mean_pix = math.exp(pop[f"{m}_log_mean_pix"] + pop[f"{m}_sd_int"] ** 2 / 2)
        diff = mean_pix * (math.exp(beta + pop[f"{m}_sd_slope"] ** 2 / 2) - 1)
        out[("headline", measure)] = geometric[False] if m == "time" else beta
        out[("headline_vs_arithmetic", measure)] = beta
        for model in ("by_participant_t", "by_items_t", "min_F"):
            out[(model, measure)] = diff
    return out


def geometric_time_effect(pop: dict[str, float], params: OculomotorParams, null: bool = False, draws: int = 300,
                          participants: int = 50, seed: int = 7) -> tuple[float, float]:
    """The population value of ``E log T_ours - E log T_pix`` (what an LMM of log time estimates), and its MC SE.

    Derivation. A trial's total time is ``T = sum_{i<=K} D_i`` with
    ``K = max(1, Poisson(N f_n))`` and ``D_i`` log-normal (log SD ``s``, clipped) with mean
    ``mu f_t / f_n``, ``mu = T_cell / N_cell`` (:func:`study.oculomotor.on_image_durations`),
    so ``E T = T_cell`` but ``E log T = log T_cell + J(N_cell, mu)`` where the Jensen gap
    ``J < 0`` shrinks (towards ``-s^2/2 / N``-like terms) as the count grows: a sum of many
    durations varies less, relative to its mean, than a sum of few. The LMM's method
    effect is the artwork-population mean of ``E log T_ours - E log T_pix``, i.e.

        ``beta + E_a[J(N_ours,a, mu_ours,a) - J(N_pix,a, mu_pix,a)]``,

    not ``beta`` (the log ratio of arithmetic cell means). Ours has about 3 times the
    fixations of Pix2Pix in Table 4, so its gap is smaller and the geometric ratio exceeds
    ``beta``. Under the null the two methods' artwork populations are identical, so it is
    0 in expectation.

    Computed by Monte Carlo with the generating model itself (``draws`` artwork sets x
    ``participants`` through :func:`study.oculomotor.trial_level_cohort`), with the
    exactly known part removed (variance reduction): per trial ``log T - log T_cell``,
    averaged per method, plus ``beta``. Returns ``(value, standard error)``.
    """
    rng = np.random.default_rng(seed)
    diffs = []
    beta = 0.0 if null else pop["time_beta"]
    for _ in range(draws):
        cells, methods, cat = draw_cells(pop, null, rng)
        df = pd.DataFrame(trial_level_cohort(cells, methods, participants, params, seed=int(rng.integers(2 ** 31))))
        gap = np.log(df["total_fixation_s"]) - np.log(df["stimulus_id"].map(lambda s: cells[s][0]))
        m = gap.groupby(df["stimulus_id"].map(methods)).mean()
        diffs.append(float(m["ours"] - m["pix2pix"]))
    d = np.asarray(diffs)
    return beta + float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d)))


def trial_frame(rows: list[dict], methods: dict[str, str], cat: dict[str, str]) -> pd.DataFrame:
    """The cohort's trial metrics in the shape the report's statistics read (analysis.metrics columns)."""
    from analysis.metrics import TRIAL_METRICS_COLUMNS

    df = pd.DataFrame(rows)
    df["artwork"] = df["stimulus_id"].str.rsplit("_", n=1).str[0]
    df["method"] = df["stimulus_id"].map(methods)
    df["category"] = df["artwork"].map(cat)
    df["session"] = "ses-1"
    df["trial"] = df.groupby("participant").cumcount() + 1
    df["excluded"] = False
    for c in TRIAL_METRICS_COLUMNS:
        if c not in df.columns:
            df[c] = np.nan
    return df[list(TRIAL_METRICS_COLUMNS)]


def report_statistics(tm: pd.DataFrame, seed: int, full: bool = False):
    """The report's statistics on one cohort: ``compute_statistics`` + ``fit_count_model`` + ``attach_glmm``.

    The same calls, in the same order, as ``analysis.report.build`` (the headline is
    ``Statistics.headline``: the crossed models actually selected by the simplification
    rule). Unless ``full``, two analyses that feed no interval of the method effect are
    switched off for speed: the power simulation (``_power``, about 70 s a cohort here)
    and the count-dispersion check (``count_dispersion``, negative-binomial refits).
    """
    from analysis.report import analyses as A

    if full:
        st = A.compute_statistics(tm, seed=seed, fit_glmm=False)
        A.attach_glmm(st, A.fit_count_model(tm, seed))
        return st
    saved = A._power, A.count_dispersion
    A._power = lambda *a, **k: None
    A.count_dispersion = lambda *a, **k: None
    try:
        st = A.compute_statistics(tm, seed=seed, fit_glmm=False)
        A.attach_glmm(st, A.fit_count_model(tm, seed))
    finally:
        A._power, A.count_dispersion = saved
    return st


MAXIMAL_RANDOM = "(1 + method_code | participant) + (1 + method_code | artwork)"


def cohort_rows(st) -> list[dict]:
    """One row per (model, measure): estimate, interval, SE, df, p and, for the headline, the model used."""
    from scipy import stats as sps

    rows = []
    h = st.headline if st.headline is not None else pd.DataFrame()
    for _, r in h.iterrows():
        rows.append({"model": "headline", "measure": r["measure"], "scale": "log_ratio",
                     "estimate": float(r["log_estimate"]), "ci_low": math.log(float(r["ci_low"])),
                     "ci_high": math.log(float(r["ci_high"])), "std_error": float(r["std_error"]),
                     "df": float(r["df"]), "p_value": float(r["p_value"]), "formula": r["formula"],
                     "maximal": str(r["formula"]).endswith(MAXIMAL_RANDOM), "singular": bool(r["singular"]),
                     "converged": bool(r["converged"])})
    for df, model in ((st.primary, "by_participant_t"), (st.by_items, "by_items_t")):
        if df is None or not len(df):
            continue
        if "data" in df.columns:
            df = df[df["data"] == "this study"]
        for _, r in df.iterrows():
            se = (float(r["ci_high"]) - float(r["ci_low"])) / (2 * sps.t.ppf(0.975, float(r["df"])))
            rows.append({"model": model, "measure": r["measure"], "scale": "difference",
                         "estimate": float(r["mean_diff"]), "ci_low": float(r["ci_low"]),
                         "ci_high": float(r["ci_high"]), "std_error": se, "df": float(r["df"]),
                         "p_value": float(r["p_val"])})
    mf = st.min_f
    if mf is not None and len(mf):
        for _, r in mf.iterrows():   # a test, no interval: type-I error (and power) only
            rows.append({"model": "min_F", "measure": r["measure"], "scale": "difference", "estimate": np.nan,
                         "ci_low": np.nan, "ci_high": np.nan, "std_error": np.nan, "df": float(r["df_den"]),
                         "p_value": float(r["p_value"])})
    return rows


def run(cohorts: int, participants: int, seed: int, work: Path, truth: dict[bool, dict], full: bool = False,
        progress: Path | None = None) -> pd.DataFrame:
    """Simulate and fit ``cohorts`` effect + ``cohorts`` null cohorts (interleaved), appending each to the TSV."""
    import logging
    import warnings

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    pop = population(REPO / "data" / "reference" / "paper_table4.csv")
    params = OculomotorParams()
    work.mkdir(parents=True, exist_ok=True)
    tsv = work / "coverage_intervals.tsv"
    tsv.unlink(missing_ok=True)
    out = []
    t0 = time.perf_counter()
    for k in range(cohorts):
        for condition in ("effect", "null"):
            null = condition == "null"
            rng = np.random.default_rng(np.random.SeedSequence([seed, int(null), k]))
            cells, methods, cat = draw_cells(pop, null, rng)
            rows = trial_level_cohort(cells, methods, participants, params, seed=int(rng.integers(2 ** 31)))
            tm = trial_frame(rows, methods, cat)
            iv = pd.DataFrame(cohort_rows(report_statistics(tm, seed=k, full=full)))
            iv.insert(0, "cohort", k)
            iv.insert(0, "condition", condition)
            iv["true_effect"] = [truth[null][(m, s)] for m, s in zip(iv["model"], iv["measure"])]
            iv["true_arithmetic"] = [truth[null][("headline_vs_arithmetic", s)] if m == "headline" else np.nan
                                     for m, s in zip(iv["model"], iv["measure"])]
            iv.to_csv(tsv, sep="\t", index=False, float_format="%.6f", mode="a", header=not tsv.exists())
            out.append(iv)
        msg = f"{2 * (k + 1)}/{2 * cohorts} cohorts, {time.perf_counter() - t0:.0f} s"
        print(msg, flush=True)
        if progress is not None:
            progress.write_text(msg + "\n")
    return pd.concat(out, ignore_index=True)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion (Wilson 1927)."""
    if n == 0:
        return float("nan"), float("nan")
    z = 1.959964
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


#: Residual df of the items for the diagnostic row ``headline_t_items``: 9 artworks - 3 categories.
ITEM_DF = 6


def with_item_df(res: pd.DataFrame, df: int = ITEM_DF) -> pd.DataFrame:
    """Add ``headline_t_items`` rows: the headline's Wald-z (GLMM) estimates and SEs with a t(``df``) reference.

    A diagnostic, not an offered model: it asks how much of the count model's miss is the
    normal reference with 9 artworks (the report itself uses z, as lme4's ``glmer``).
    """
    from scipy import stats as sps

    h = res[(res["model"] == "headline") & res["df"].isna()].copy()
    if h.empty:
        return res
    q = sps.t.ppf(0.975, df)
    h["model"] = "headline_t_items"
    h["df"] = float(df)
    h["ci_low"] = h["estimate"] - q * h["std_error"]
    h["ci_high"] = h["estimate"] + q * h["std_error"]
    h["p_value"] = 2 * sps.t.sf(np.abs(h["estimate"] / h["std_error"]), df)
    for c in ("maximal", "singular", "formula"):
        if c in h.columns:
            h[c] = np.nan
    return pd.concat([res, h], ignore_index=True)


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    """Coverage (effect cohorts) and type-I error (null cohorts, p < 0.05) per model and measure."""
    res = with_item_df(res)
    rows = []
    for (model, measure), g in res.groupby(["model", "measure"], sort=False):
        eff = g[g["condition"] == "effect"]
        nul = g[g["condition"] == "null"]
        has_ci = eff["ci_low"].notna().any()
        inside = ((eff["ci_low"] <= eff["true_effect"]) & (eff["true_effect"] <= eff["ci_high"])).to_numpy()
        reject = (nul["p_value"] < 0.05).to_numpy()
        cov_lo, cov_hi = wilson(int(inside.sum()), len(inside)) if has_ci else (np.nan, np.nan)
        t1_lo, t1_hi = wilson(int(reject.sum()), len(reject))
        row = {"model": model, "measure": measure, "scale": g["scale"].iloc[0],
               "cohorts_effect": len(eff), "coverage": float(inside.mean()) if has_ci and len(eff) else np.nan,
               "coverage_ci_low": cov_lo, "coverage_ci_high": cov_hi,
               "cohorts_null": len(nul), "type1_error": float(reject.mean()) if len(nul) else np.nan,
               "type1_ci_low": t1_lo, "type1_ci_high": t1_hi,
               "power": float((eff["p_value"] < 0.05).mean()) if len(eff) else np.nan,
               "true_effect": float(eff["true_effect"].iloc[0]) if len(eff) else np.nan,
               "mean_estimate": float(eff["estimate"].mean()), "sd_estimate": float(eff["estimate"].std()),
               "mean_se": float(eff["std_error"].mean()), "mean_df": float(eff["df"].mean())}
        if model in ("headline", "headline_t_items"):
            ar = eff["true_arithmetic"]
            row["coverage_of_arithmetic_ratio"] = float(((eff["ci_low"] <= ar) & (ar <= eff["ci_high"])).mean())
        if model == "headline":
            row["maximal_model_used"] = float(g["maximal"].astype(str).str.lower().eq("true").mean())
            row["singular"] = float(g["singular"].astype(str).str.lower().eq("true").mean())
        rows.append(row)
    return pd.DataFrame(rows)


LABELS = {"headline": "headline (crossed model)", "by_participant_t": "paired t, participants",
          "by_items_t": "paired t, artworks", "min_F": "min F'",
          "headline_t_items": f"count model, t({ITEM_DF})\n(diagnostic)"}


def save_figure(summary: pd.DataFrame, out: Path, participants: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{LABELS.get(r.model, r.model)}\n{'time' if r.measure == 'fixation_time_s' else 'count'}"
              for r in summary.itertuples()]
    x = np.arange(len(summary))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), sharex=True)
    for ax, col, lo, hi, band, title in (
            (axes[0], "coverage", "coverage_ci_low", "coverage_ci_high", (0.93, 0.97), "coverage of the true effect"),
            (axes[1], "type1_error", "type1_ci_low", "type1_ci_high", (0.03, 0.07), "type-I error (true effect 0)")):
        ax.axhspan(*band, color="tab:green", alpha=0.15, label=f"goal {band[0]:.0%}-{band[1]:.0%}")
        v = summary[col].to_numpy(float)
        ok = np.isfinite(v)
        ax.errorbar(x[ok], v[ok], yerr=[(v - summary[lo].to_numpy(float))[ok], (summary[hi].to_numpy(float) - v)[ok]],
                    fmt="o", capsize=3, color="tab:blue", label="estimate, Wilson 95 % CI")
        ax.set_title(title)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="center right")
    axes[0].set_ylabel("fraction of cohorts")
    n = int(summary["cohorts_effect"].max())
    m = int(summary["cohorts_null"].max())
    fig.suptitle(f"Report's tests of ours - Pix2Pix: {n} effect + {m} null cohorts of {participants} participants "
                 f"x 18 trials (trial-level model); min F' has no interval", fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    for ext in (".png", ".svg"):
        fig.savefig(out.with_suffix(ext), dpi=110, metadata={"Date": None} if ext == ".svg" else None)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cohorts", type=int, default=100, help="cohorts per condition (effect, null); default 100")
    ap.add_argument("--participants", type=int, default=20, help="participants per cohort (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    ap.add_argument("--work", default="reports/coverage", help="folder for the tables (default reports/coverage)")
    ap.add_argument("--out", default="docs/figures/coverage", help="figure path without suffix")
    ap.add_argument("--progress", default=None, help="file to overwrite with the progress line after each cohort")
    ap.add_argument("--full", action="store_true",
                    help="also run the power simulation and the dispersion check (no effect on the intervals; slow)")
    ap.add_argument("--summary-only", action="store_true", help="re-summarise <work>/coverage_intervals.tsv")
    args = ap.parse_args(argv)
    work = Path(args.work)
    t0 = time.perf_counter()
    if args.summary_only:
        res = pd.read_csv(work / "coverage_intervals.tsv", sep="\t", keep_default_na=False, na_values=[""])
    else:
        pop = population(REPO / "data" / "reference" / "paper_table4.csv")
        params = OculomotorParams()
        geo = {null: geometric_time_effect(pop, params, null=null) for null in (False, True)}
        print(f"time: log ratio of the cell means (beta) {pop['time_beta']:.4f}; log ratio of geometric means "
              f"(what the LMM of log time estimates) {geo[False][0]:.4f} (MC SE {geo[False][1]:.4f}); "
              f"under the null {geo[True][0]:.4f} (MC SE {geo[True][1]:.4f}); "
              f"count: beta {pop['count_beta']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        truth = {null: true_effects(pop, null, {n: geo[n][0] for n in geo}) for null in (False, True)}
        res = run(args.cohorts, args.participants, args.seed, work, truth, full=args.full,
                  progress=Path(args.progress) if args.progress else None)
    summary = summarise(res)
    summary.to_csv(work / "coverage.tsv", sep="\t", index=False, float_format="%.4f")
    save_figure(summary, Path(args.out), args.participants)
    pd.set_option("display.width", 250)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
