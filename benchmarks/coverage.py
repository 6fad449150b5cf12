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
(``study.simulate.build_targets``); the null condition sets ``beta = 0``. The true effect
is ``beta`` on the log scale, and on the difference scale the population mean
difference ``E[T_pix] (exp(beta + sd_slope^2 / 2) - 1)``. An LMM on log time estimates a
ratio of geometric means instead, which differs from ``beta`` when the methods differ in
their fixation counts (:func:`geometric_time_effect`); its coverage of that parameter is
reported too.

Every interval comes from ``analysis.validate.method_effect_intervals`` (the report's own
statistics): the headline crossed model and, for comparison, the paired t-tests on
participant means and on artwork means.

Run from the repository root::

    python benchmarks/coverage.py [--cohorts 100] [--participants 20] [--seed 1]
           [--out docs/figures/coverage] [--work reports/coverage]

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
            bt = 0.0 if null else pop["time_beta"]
            bn = 0.0 if null else pop["count_beta"]
            t_ours = t_pix * math.exp(bt + pop["time_sd_slope"] * zt)
            n_ours = n_pix * math.exp(bn + pop["count_sd_slope"] * zn)
            for method, tt, nn in (("ours", t_ours, n_ours), ("pix2pix", t_pix, n_pix)):
                sid = f"{art}_{method}"
                cells[sid] = (tt, max(nn, 1.0))
                methods[sid] = method
                cat[art] = category
    return cells, methods, cat


def true_effects(pop: dict[str, float], null: bool) -> dict[tuple[str, str], float]:
    """(measure, scale) -> the population effect the intervals should contain."""
    out = {}
    for measure, m in (("fixation_time_s", "time"), ("fixation_count", "count")):
        beta = 0.0 if null else pop[f"{m}_beta"]
        out[(measure, "log_ratio")] = beta
        mean_pix = math.exp(pop[f"{m}_log_mean_pix"] + pop[f"{m}_sd_int"] ** 2 / 2)
        out[(measure, "difference")] = mean_pix * (math.exp(beta + pop[f"{m}_sd_slope"] ** 2 / 2) - 1)
    return out


def geometric_time_effect(pop: dict[str, float], params: OculomotorParams, draws: int = 100,
                          participants: int = 300, seed: int = 7) -> float:
    """The parameter an LMM on log time estimates under the effect condition, by Monte Carlo.

    ``mean log T_ours - mean log T_pix`` (a ratio of geometric means) over artwork draws and
    participants of the same generating model. It differs from ``beta`` (the log ratio
    of the cell means) because a trial's total time is a sum of a Poisson number of
    lognormal durations: with fewer fixations (Pix2Pix) ``E log T`` lies further below
    ``log E T`` (Jensen). Under the null both are 0.
    """
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(draws):
        cells, methods, cat = draw_cells(pop, False, rng)
        df = pd.DataFrame(trial_level_cohort(cells, methods, participants, params, seed=int(rng.integers(2 ** 31))))
        df["method"] = df["stimulus_id"].map(methods)
        df["artwork"] = df["stimulus_id"].str.rsplit("_", n=1).str[0]
        m = np.log(df["total_fixation_s"]).groupby([df["artwork"], df["method"]]).mean().unstack()
        diffs.append(float((m["ours"] - m["pix2pix"]).mean()))
    return float(np.mean(diffs))


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


def run(cohorts: int, participants: int, seed: int, work: Path) -> pd.DataFrame:
    import logging
    import warnings

    from analysis.validate import method_effect_intervals

    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    pop = population(REPO / "data" / "reference" / "paper_table4.csv")
    params = OculomotorParams()
    out = []
    t0 = time.perf_counter()
    for condition in ("effect", "null"):
        null = condition == "null"
        truth = true_effects(pop, null)
        for k in range(cohorts):
            rng = np.random.default_rng(np.random.SeedSequence([seed, int(null), k]))
            cells, methods, cat = draw_cells(pop, null, rng)
            rows = trial_level_cohort(cells, methods, participants, params, seed=int(rng.integers(2 ** 31)))
            tm = trial_frame(rows, methods, cat)
            iv = method_effect_intervals(tm, seed=k)
            iv = iv[iv["scope"] == "overall"].copy()
            iv["condition"] = condition
            iv["cohort"] = k
            iv["true_effect"] = [truth[(m, s)] for m, s in zip(iv["measure"], iv["scale"])]
            out.append(iv)
            done = (k + 1) + (cohorts if null else 0)
            if done % 10 == 0:
                el = time.perf_counter() - t0
                print(f"{done}/{2 * cohorts} cohorts, {el:.0f} s", flush=True)
    res = pd.concat(out, ignore_index=True)
    work.mkdir(parents=True, exist_ok=True)
    res.to_csv(work / "coverage_intervals.tsv", sep="\t", index=False, float_format="%.6f")
    return res


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson 95 % interval of a proportion (Wilson 1927)."""
    if n == 0:
        return float("nan"), float("nan")
    z = 1.959964
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return c - h, c + h


def summarise(res: pd.DataFrame, geometric_time: float | None = None) -> pd.DataFrame:
    """Coverage and type-I error per model and measure (``geometric_time``: also coverage of that parameter)."""
    rows = []
    for (model, measure), g in res.groupby(["model", "measure"], sort=False):
        eff = g[g["condition"] == "effect"]
        nul = g[g["condition"] == "null"]
        inside = ((eff["ci_low"] <= eff["true_effect"]) & (eff["true_effect"] <= eff["ci_high"])).to_numpy()
        nul_inside = ((nul["ci_low"] <= nul["true_effect"]) & (nul["true_effect"] <= nul["ci_high"])).to_numpy()
        reject = ~nul_inside      # the true effect is zero on either scale
        cov_lo, cov_hi = wilson(int(inside.sum()), len(inside))
        t1_lo, t1_hi = wilson(int(reject.sum()), len(reject))
        rows.append({"model": model, "measure": measure, "scale": g["scale"].iloc[0],
                     "cohorts_effect": len(eff), "coverage": float(inside.mean()) if len(eff) else np.nan,
                     "coverage_ci_low": cov_lo, "coverage_ci_high": cov_hi,
                     "cohorts_null": len(nul), "type1_error": float(reject.mean()) if len(nul) else np.nan,
                     "type1_ci_low": t1_lo, "type1_ci_high": t1_hi,
                     "coverage_under_null": float(nul_inside.mean()) if len(nul) else np.nan,
                     "coverage_of_geometric_ratio": (
                         float(((eff["ci_low"] <= geometric_time) & (geometric_time <= eff["ci_high"])).mean())
                         if geometric_time is not None and measure == "fixation_time_s"
                         and g["scale"].iloc[0] == "log_ratio" else np.nan),
                     "mean_estimate": float(((eff["ci_low"] + eff["ci_high"]) / 2).mean()),
                     "sd_estimate": float(((eff["ci_low"] + eff["ci_high"]) / 2).std()),
                     "mean_se": float(((eff["ci_high"] - eff["ci_low"]) / (2 * 1.959964)).mean()),
                     "true_effect": float(eff["true_effect"].iloc[0]) if len(eff) else np.nan})
    return pd.DataFrame(rows)


def save_figure(summary: pd.DataFrame, out: Path, participants: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.model}\n{r.measure}" for r in summary.itertuples()]
    x = np.arange(len(summary))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, col, lo, hi, band, title in (
            (axes[0], "coverage", "coverage_ci_low", "coverage_ci_high", (0.93, 0.97), "coverage of the true effect"),
            (axes[1], "type1_error", "type1_ci_low", "type1_ci_high", (0.03, 0.07), "type-I error (true effect 0)")):
        ax.axhspan(*band, color="tab:green", alpha=0.15, label=f"goal {band[0]:.0%}-{band[1]:.0%}")
        v = summary[col].to_numpy(float)
        ax.errorbar(x, v, yerr=[v - summary[lo].to_numpy(float), summary[hi].to_numpy(float) - v], fmt="o",
                    capsize=3, color="tab:blue", label="estimate, Wilson 95 % CI")
        ax.set_title(title)
        ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel("fraction of cohorts")
    n = int(summary["cohorts_effect"].max())
    fig.suptitle(f"Report intervals for ours - Pix2Pix: {n} + {n} simulated cohorts of {participants} participants "
                 f"x 18 trials (trial-level model)", fontsize=10)
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
    ap.add_argument("--summary-only", action="store_true", help="re-summarise <work>/coverage_intervals.tsv")
    args = ap.parse_args(argv)
    work = Path(args.work)
    t0 = time.perf_counter()
    if args.summary_only:
        res = pd.read_csv(work / "coverage_intervals.tsv", sep="\t", keep_default_na=False, na_values=[""])
    else:
        res = run(args.cohorts, args.participants, args.seed, work)
    pop = population(REPO / "data" / "reference" / "paper_table4.csv")
    geo = geometric_time_effect(pop, OculomotorParams())
    print(f"log ratio of the cell means (beta): time {pop['time_beta']:.4f}; ratio of geometric means "
          f"(what an LMM on log time estimates, Monte Carlo): {geo:.4f}")
    summary = summarise(res, geo)
    summary.to_csv(work / "coverage.tsv", sep="\t", index=False, float_format="%.4f")
    save_figure(summary, Path(args.out), args.participants)
    pd.set_option("display.width", 200)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"done in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
