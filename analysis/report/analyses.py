"""Every statistical analysis of the report, computed from trial metrics into tidy tables.

Missing data (docs/statistics.md, "Missing data"): excluded trials are removed first.
A participant with any missing (excluded or absent) trial is dropped listwise from the
paired tests, the by-category/by-artwork tests and the RM-ANOVA, and kept in the mixed
models (which use every included trial). The counts are in ``Statistics.missing``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.aggregate import CATEGORIES, METHODS, complete_participants, included, participant_values
from analysis.stats import (
    MixedResult,
    crossed_lmm,
    crossed_poisson_glmm,
    holm,
    paired_ttest,
    rm_anova_2way,
    sensitivity_dz,
    shapiro_wilk,
    wilcoxon_signed_rank,
)

logger = logging.getLogger(__name__)

MEASURE_SOURCES = {"fixation_time_s": "total_fixation_s", "fixation_count": "fixation_count"}
MEASURE_WORDS = {"fixation_time_s": "total fixation time", "fixation_count": "number of fixations"}
#: The paper's N, for the sensitivity analysis the issue asks for (n = 50).
PAPER_N = 50


@dataclass
class Statistics:
    """All results; every table is a tidy DataFrame (also written as CSV/LaTeX)."""

    primary: pd.DataFrame
    wilcoxon: pd.DataFrame
    normality: pd.DataFrame
    by_category: pd.DataFrame
    by_artwork: pd.DataFrame
    by_items: pd.DataFrame
    anova: pd.DataFrame
    lmm: MixedResult | None
    glmm: MixedResult | None
    sensitivity: pd.DataFrame
    missing: dict[str, object]
    sentences: dict[str, str] = field(default_factory=dict)
    model_errors: dict[str, str] = field(default_factory=dict)
    #: The headline inference, one row per measure (the crossed random-effects model; docs/statistics.md).
    #: ``sentences["headline_<measure>"]`` carries its APA sentence. None until computed.
    headline: pd.DataFrame | None = None
    #: Tidy inferential results shown in the report's "Inferential statistics" section, in order:
    #: (name, caption, table). The report renders each one as given.
    inference: list[tuple[str, str, pd.DataFrame]] = field(default_factory=list)
    #: Machine-readable tables written verbatim (no rounding) as ``tables/<name>.csv``
    #: (e.g. ``trial_metrics``, ``model_terms``).
    machine_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Analyses that could not run on these data and why (e.g. too few participants), in words.
    not_run: list[str] = field(default_factory=list)


def _p(p: float) -> str:
    """APA p-value: exact to three decimals without a leading zero, '< .001' below."""
    if not np.isfinite(p):
        return "p = n/a"
    if p < 0.001:
        return "p < .001"
    return "p = " + f"{p:.3f}".lstrip("0")


def _r(x: float, d: int = 2) -> str:
    """A correlation-like number without the leading zero (APA 7, 6.36)."""
    s = f"{x:.{d}f}"
    return s.replace("0.", ".", 1) if abs(x) < 1 else s


def apa_ttest(row: pd.Series, what: str) -> str:
    """APA sentence for a paired t-test row (:func:`analysis.stats.paired_ttest`) with d_z."""
    if not np.isfinite(row["t"]):
        return f"The paired t-test for {what} could not be computed (n = {int(row['n'])})."
    return (f"For {what}, ours (M = {row['mean_x']:.2f}) and Pix2Pix (M = {row['mean_y']:.2f}) differed by "
            f"M_diff = {row['mean_diff']:.2f}, 95% CI [{row['ci_low']:.2f}, {row['ci_high']:.2f}], "
            f"t({int(row['df'])}) = {row['t']:.2f}, {_p(row['p_val'])}, d_z = {row['d_z']:.2f}, "
            f"95% CI [{row['d_z_ci_low']:.2f}, {row['d_z_ci_high']:.2f}] (n = {int(row['n'])}).")


def apa_wilcoxon(row: pd.Series, what: str) -> str:
    """APA sentence for a Wilcoxon row with the rank-biserial correlation."""
    if not np.isfinite(row["W"]):
        return f"The Wilcoxon signed-rank test for {what} could not be computed."
    return (f"A Wilcoxon signed-rank test on {what} gave W = {row['W']:.1f}, {_p(row['p_val'])}, "
            f"r_rb = {_r(row['r_rb'])} (n = {int(row['n'])}, {int(row['n_zero'])} zero difference(s)).")


def apa_anova(aov: pd.DataFrame, what: str) -> str:
    """APA sentence for the two-way RM-ANOVA (Greenhouse-Geisser corrected where eps < 1)."""
    parts = []
    for _, r in aov.iterrows():
        eps = r.get("eps", np.nan)
        if np.isfinite(eps) and eps < 1:
            df1, df2 = r["ddof1"] * eps, r["ddof2"] * eps
            p = r["p_GG_corr"]
            gg = f", GG eps = {eps:.2f}"
        else:
            df1, df2, p, gg = r["ddof1"], r["ddof2"], r["p_unc"], ""
        dfs = f"{df1:.2f}, {df2:.2f}" if gg else f"{int(df1)}, {int(df2)}"
        parts.append(f"{r['Source']}: F({dfs}) = {r['F']:.2f}, {_p(p)}, "
                     f"eta_G^2 = {_r(r['ng2'], 3)}{gg}")
    n = int(aov["n"].iloc[0])
    return f"A 2 (method) x 3 (category) repeated-measures ANOVA on {what} (n = {n}) gave " + "; ".join(parts) + "."


def apa_mixed(res: MixedResult, what: str, *, model: str | None = None, ratio_word: str = "ratio") -> str:
    """APA-style sentence for the method coefficient of a mixed model."""
    fx = res.fixed if model is None else res.fixed[res.fixed["model"] == model]
    row = fx[fx["term"] == "method[ours - pix2pix]"]
    if row.empty:
        return f"The mixed model for {what} has no method term."
    r = row.iloc[0]
    conv = "converged" if res.converged else "did NOT report convergence (see warnings)"
    return (f"In the mixed model of {what} ({res.n_obs} trials, {res.n_participants} participants, "
            f"{res.n_artworks} artworks; the fit {conv}), ours vs Pix2Pix averaged over categories: "
            f"b = {r['estimate']:.3f}, 95% CI [{r['ci_low']:.3f}, {r['ci_high']:.3f}], "
            f"{ratio_word} = {r['ratio']:.2f} [{r['ratio_ci_low']:.2f}, {r['ratio_ci_high']:.2f}], "
            f"z = {r['z']:.2f}, {_p(r['p_val'])}.")


def _wide(values: pd.DataFrame, src: str, keys: list[str]) -> pd.DataFrame:
    return values.pivot_table(index=keys + ["participant"], columns="method", values=src, aggfunc="mean",
                              observed=True).reindex(columns=list(METHODS))


def _paired_family(values: pd.DataFrame, key: str, units: list[str], alpha: float) -> pd.DataFrame:
    rows = []
    for name, src in MEASURE_SOURCES.items():
        wide = _wide(values, src, [key])
        fam = []
        for unit in units:
            if unit not in wide.index.get_level_values(0):
                continue
            w = wide.loc[unit]
            t = paired_ttest(w["ours"], w["pix2pix"]).iloc[0]
            wx = wilcoxon_signed_rank(w["ours"], w["pix2pix"]).iloc[0]
            fam.append({"measure": name, key: unit, "n": int(t["n"]), "mean_ours": t["mean_x"],
                        "mean_pix2pix": t["mean_y"], "mean_diff": t["mean_diff"], "ci_low": t["ci_low"],
                        "ci_high": t["ci_high"], "t": t["t"], "df": t["df"], "p_val": t["p_val"],
                        "d_z": t["d_z"], "d_z_ci_low": t["d_z_ci_low"], "d_z_ci_high": t["d_z_ci_high"],
                        "W": wx["W"], "p_wilcoxon": wx["p_val"], "r_rb": wx["r_rb"]})
        if not fam:
            continue
        fam_df = pd.DataFrame(fam)
        fam_df["p_holm"] = holm(fam_df["p_val"], alpha=alpha)["p_holm"].to_numpy()
        fam_df["p_wilcoxon_holm"] = holm(fam_df["p_wilcoxon"], alpha=alpha)["p_holm"].to_numpy()
        rows.append(fam_df)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def compute_statistics(tm: pd.DataFrame, *, alpha: float = 0.05, power: float = 0.80, seed: int = 0,
                       reference: pd.DataFrame | None = None, zero_offset: float | None = None,
                       fit_glmm: bool = True) -> Statistics:
    """Run every analysis of the report on trial metrics (see the module docstring).

    ``fit_glmm=False`` leaves the Poisson GLMM out (``build_report`` fits it in a second
    process while the rest runs, then adds it with :func:`attach_glmm`).
    """
    complete, incomplete = complete_participants(tm)
    inc = included(tm)
    if inc.empty:
        from analysis.errors import InputError

        raise InputError("no valid trials remain after exclusions", expected="at least one included trial",
                         fix="check the data-quality thresholds ([quality] in the config) and the recordings")
    everyone = sorted(set(tm["participant"].astype(str)))
    no_valid = sorted(set(everyone) - set(inc["participant"].astype(str)))
    missing = {"participants": len(everyone), "complete": len(complete), "incomplete": incomplete,
               "no_valid_data": no_valid, "excluded_trials": int(tm["excluded"].astype(bool).sum()),
               "included_trials": int(len(inc))}
    sub = tm[tm["participant"].astype(str).isin(complete)]
    sentences: dict[str, str] = {}

    # primary: participant means over the nine artworks per method
    overall = participant_values(sub, "overall")
    prim, wil, norm = [], [], []
    for name, src in MEASURE_SOURCES.items():
        w = overall.pivot(index="participant", columns="method", values=src).reindex(columns=list(METHODS))
        if len(w) == 0:
            continue
        t = paired_ttest(w["ours"], w["pix2pix"]).assign(measure=name)
        wx = wilcoxon_signed_rank(w["ours"], w["pix2pix"]).assign(measure=name)
        sw = shapiro_wilk((w["ours"] - w["pix2pix"]).to_numpy(), alpha=alpha).assign(measure=name)
        prim.append(t)
        wil.append(wx)
        norm.append(sw)
        sentences[f"primary_t_{name}"] = apa_ttest(t.iloc[0], MEASURE_WORDS[name] + " (participant means)")
        sentences[f"primary_wilcoxon_{name}"] = apa_wilcoxon(wx.iloc[0], MEASURE_WORDS[name])
        s = sw.iloc[0]
        sentences[f"normality_{name}"] = (
            f"Shapiro-Wilk test of the paired differences in {MEASURE_WORDS[name]}: W = {s['W']:.3f}, "
            f"{_p(s['p_val'])} ({'no evidence against normality' if s['normal'] else 'normality doubtful: rely on the Wilcoxon test'}).")

    def front(df: pd.DataFrame) -> pd.DataFrame:
        if df.empty:
            return df
        return df[["measure"] + [c for c in df.columns if c != "measure"]]

    primary = front(pd.concat(prim, ignore_index=True)) if prim else pd.DataFrame()
    wilcoxon = front(pd.concat(wil, ignore_index=True)) if wil else pd.DataFrame()
    normality = front(pd.concat(norm, ignore_index=True)) if norm else pd.DataFrame()

    by_category = _paired_family(participant_values(sub, "category"), "category", list(CATEGORIES), alpha)
    art_vals = participant_values(sub, "artwork")
    arts = list(dict.fromkeys(art_vals.sort_values(["category", "artwork"])["artwork"]))
    from analysis.aggregate import ARTWORKS

    arts = [a for a in ARTWORKS if a in arts] + [a for a in arts if a not in ARTWORKS]
    by_artwork = _paired_family(art_vals, "artwork", arts, alpha)

    # by items (n = artworks): artwork means over all included participants, and the paper's own rows
    items = []
    all_art = participant_values(tm, "artwork")
    for name, src in MEASURE_SOURCES.items():
        means = all_art.groupby(["artwork", "method"])[src].mean().unstack("method").reindex(columns=list(METHODS))
        t = paired_ttest(means["ours"], means["pix2pix"]).iloc[0]
        wx = wilcoxon_signed_rank(means["ours"], means["pix2pix"]).iloc[0]
        items.append({"data": "this study", "measure": name, **{k: t[k] for k in t.index},
                      "W": wx["W"], "p_wilcoxon": wx["p_val"], "r_rb": wx["r_rb"]})
        sentences[f"items_{name}"] = ("By items (n = artworks, the paper's level of analysis): "
                                      + apa_ttest(t, MEASURE_WORDS[name] + " (artwork means)"))
        if reference is not None:
            ref = reference[reference["artwork"] != "_average"]
            rw = ref.pivot(index="artwork", columns="method", values=name).reindex(columns=list(METHODS))
            t = paired_ttest(rw["ours"], rw["pix2pix"]).iloc[0]
            wx = wilcoxon_signed_rank(rw["ours"], rw["pix2pix"]).iloc[0]
            items.append({"data": "paper Table 4", "measure": name, **{k: t[k] for k in t.index},
                          "W": wx["W"], "p_wilcoxon": wx["p_val"], "r_rb": wx["r_rb"]})
            sentences[f"items_paper_{name}"] = ("The paper's own Table 4 by items (n = 9 artworks): "
                                                + apa_ttest(t, MEASURE_WORDS[name]))
    by_items = pd.DataFrame(items)

    # RM-ANOVA on participant x method x category cell means (complete participants)
    aovs = []
    for name, src in MEASURE_SOURCES.items():
        try:
            a = rm_anova_2way(included(sub), src).assign(measure=name)
        except ValueError as exc:
            logger.warning("RM-ANOVA for %s not computed: %s", name, exc)
            continue
        aovs.append(a)
        sentences[f"anova_{name}"] = apa_anova(a, MEASURE_WORDS[name] + " (cell means)")
    anova = front(pd.concat(aovs, ignore_index=True)) if aovs else pd.DataFrame()

    # mixed models on every included trial (incomplete participants kept)
    errors: dict[str, str] = {}
    lmm = glmm = None
    try:
        lmm = crossed_lmm(inc, "total_fixation_s", zero_offset=zero_offset)
        sentences["lmm"] = apa_mixed(lmm, "log total fixation time", ratio_word="time ratio")
    except (ValueError, np.linalg.LinAlgError) as exc:
        errors["lmm"] = str(exc)
    if fit_glmm:
        try:
            glmm = crossed_poisson_glmm(inc, "fixation_count", seed=seed)
        except (ValueError, np.linalg.LinAlgError) as exc:
            errors["glmm"] = str(exc)

    n_now = len(complete)
    sens = [sensitivity_dz(PAPER_N, alpha=alpha, power=power).assign(design="paper (n = 50)")]
    if n_now >= 3 and n_now != PAPER_N:
        sens.append(sensitivity_dz(n_now, alpha=alpha, power=power).assign(design="this dataset (complete)"))
    sensitivity = pd.concat(sens, ignore_index=True)
    sensitivity = sensitivity[["design"] + [c for c in sensitivity.columns if c != "design"]]
    for _, s in sensitivity.iterrows():
        sentences[f"sensitivity_{s['design']}"] = (
            f"Sensitivity ({s['design']}): with n = {int(s['n'])}, alpha = {_r(s['alpha'])} (two-sided) and power "
            f"= {_r(s['power'])}, a paired t-test detects effects of d_z >= {s['d_z']:.3f} (noncentral t; "
            f"statsmodels TTestPower gives {s['d_z_statsmodels']:.3f}).")
    st = Statistics(primary=primary, wilcoxon=wilcoxon, normality=normality, by_category=by_category,
                    by_artwork=by_artwork, by_items=by_items, anova=anova, lmm=lmm, glmm=None,
                    sensitivity=sensitivity, missing=missing, sentences=sentences, model_errors=errors)
    if glmm is not None:
        attach_glmm(st, glmm)
    return st


def fit_count_model(tm: pd.DataFrame, seed: int) -> MixedResult | str:
    """The Poisson GLMM on the included trials, or the error text (runs in a worker process)."""
    try:
        return crossed_poisson_glmm(included(tm), "fixation_count", seed=seed)
    except (ValueError, np.linalg.LinAlgError) as exc:
        return str(exc)


def attach_glmm(st: Statistics, glmm: MixedResult | str) -> None:
    """Add the Poisson GLMM (or its error) and its APA sentences to ``st``."""
    if isinstance(glmm, str):
        st.model_errors["glmm"] = glmm
        return
    st.glmm = glmm
    st.sentences["glmm"] = apa_mixed(glmm, "fixation counts (Poisson, VB)", model="glmm_vb",
                                     ratio_word="rate ratio")
    st.sentences["glm"] = apa_mixed(glmm, "fixation counts (Poisson GLM, two-way clustered SEs)",
                                    model="glm_cluster2", ratio_word="rate ratio").replace(
        "the fit did NOT report convergence (see warnings)", "GLM cross-check").replace(
        "the fit converged", "GLM cross-check")
