"""Mixed models with crossed random effects of participants and artworks (lme4 syntax, mixedlm).

Every model is fitted by the PyPI package ``mixedlm`` (pinned in ``pyproject.toml``), an
implementation of lme4's algorithms (penalised least squares for ``lmer``, PIRLS with the
Laplace approximation for ``glmer``) whose numbers are tested against R's lme4 and
lmerTest in ``tests/analysis/test_mixed_lme4.py``. Formulas are written in lme4 syntax over
numeric columns (:func:`design_columns`), so that anyone can refit a reported model in R
from ``tables/trial_metrics.csv`` without setting contrasts.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from analysis.stats._util import blas_single_thread

logger = logging.getLogger(__name__)

#: Method as a numeric column: +0.5 for ours, -0.5 for pix2pix (deviation coding), so
#: the coefficient is the difference ours - pix2pix and the intercept the grand mean
#: (Brehm & Alday, 2022, "Contrast coding choices in a decade of mixed models").
METHOD_CODE = "method_code"
#: Methods in the order of the contrast: (coded +0.5, coded -0.5).
METHOD_LEVELS = ("ours", "pix2pix")
#: Category columns are sum-to-zero coded ``category_<name>`` (+1 for the category, -1 for
#: the last category, 0 otherwise), so the method coefficient is the method effect averaged
#: over categories.
CATEGORY_PREFIX = "category_"
#: Tolerance of the singular-fit check: a random-effect covariance (relative to the
#: residual SD for LMMs, as lme4's ``theta``) with an eigenvalue below ``tol**2`` is
#: singular (lme4 ``isSingular``, default ``tol = 1e-4``).
SINGULAR_TOL = 1e-4
#: Level of the likelihood-ratio test that decides whether a simpler random-effects
#: structure is kept (Matuschek, Kliegl, Vasishth, Baayen & Bates, 2017: alpha_LRT = 0.20).
ALPHA_LRT = 0.20
#: Grouping factors of the crossed design, in formula order.
GROUPS = ("participant", "artwork")


@dataclass
class MixedResult:
    """Result of a crossed mixed-model analysis (the model actually used, and how it was chosen).

    Attributes
    ----------
    model : str
        Human-readable model description.
    fixed : pandas.DataFrame
        One row per fixed effect of the model used: ``model`` ("lmer" or "glmer"), ``term`` (name in the formula),
        ``label`` (in words), ``estimate``, ``std_error``, ``df``, ``statistic`` (t for
        LMMs, z for GLMMs), ``p_value``, ``ci_low``, ``ci_high``, ``ratio``,
        ``ratio_ci_low``, ``ratio_ci_high`` (exp of the estimate and CI: time ratio or
        rate ratio; NaN for an untransformed response).
    variance : pandas.DataFrame
        ``group``, ``component``, ``sd``, ``correlation`` (NaN unless the component is a
        correlation row) of the model used, residual last for LMMs.
    converged : bool
        The optimiser's convergence flag for the model used.
    warnings : list of str
        Every warning captured during all fits, prefixed with the step of the selection
        whose fit raised it (reported, never hidden).
    n_obs, n_participants, n_artworks, n_dropped : int
    note : str
        How zeros or other special cases were handled.
    formula : str
        The model used, lme4 syntax over the columns of ``data``.
    family : str
        ``gaussian`` or ``poisson`` (log link).
    singular : bool
        Whether the model used is a singular (boundary) fit.
    df_method : str
        How the degrees of freedom of the tests were obtained.
    steps : pandas.DataFrame
        The random-effects selection, one row per fitted candidate (see
        :func:`crossed_lmm`).
    terms : pandas.DataFrame
        Every term of every fitted candidate, in the ``model_terms`` format (``model``,
        ``formula``, ``family``, ``term``, ``estimate``, ``std_error``, ``df``,
        ``statistic``, ``p_value``, ``ci_low``, ``ci_high``).
    data : pandas.DataFrame or None
        The rows and columns the models were fitted to.
    loglik : float
        Log-likelihood of the model used (REML criterion for LMMs).
    fitted : numpy.ndarray or None
        Conditional fitted values of the model used (response scale), for diagnostics.
    """

    model: str
    fixed: pd.DataFrame
    variance: pd.DataFrame
    converged: bool
    warnings: list[str] = field(default_factory=list)
    n_obs: int = 0
    n_participants: int = 0
    n_artworks: int = 0
    n_dropped: int = 0
    note: str = ""
    formula: str = ""
    family: str = "gaussian"
    singular: bool = False
    df_method: str = ""
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    terms: pd.DataFrame = field(default_factory=pd.DataFrame)
    data: pd.DataFrame | None = None
    loglik: float = float("nan")
    fitted: np.ndarray | None = field(default=None, repr=False)


def design_columns(data: pd.DataFrame, categories: tuple[str, ...] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Add the numeric model columns: :data:`METHOD_CODE` and sum-coded ``category_<name>``.

    Parameters
    ----------
    data : pandas.DataFrame
        Trial level with columns ``method`` (ours|pix2pix) and ``category``.
    categories : tuple of str, optional
        Category order (default: :data:`analysis.aggregate.CATEGORIES` order of those
        present, then any others sorted). The last category is the one coded -1.

    Returns
    -------
    (pandas.DataFrame, list of str)
        A copy with the new columns, and the names of the category columns (empty with
        fewer than two categories).
    """
    from analysis.aggregate import CATEGORIES

    df = data.copy()
    method = df["method"].astype(str)
    df[METHOD_CODE] = np.where(method == METHOD_LEVELS[0], 0.5, np.where(method == METHOD_LEVELS[1], -0.5, np.nan))
    present = sorted(set(df["category"].astype(str)))
    order = [c for c in (categories or CATEGORIES) if c in present] + [c for c in present if c not in
                                                                       (categories or CATEGORIES)]
    cols = []
    cat = df["category"].astype(str).to_numpy()
    for c in order[:-1]:
        name = CATEGORY_PREFIX + c
        df[name] = np.where(cat == c, 1.0, np.where(cat == order[-1], -1.0, 0.0))
        cols.append(name)
    return df, cols


def fixed_formula(category_cols: list[str], *, method: bool = True) -> str:
    """Right-hand side of the fixed effects: method x category, expanded (lme4 syntax)."""
    terms = ([METHOD_CODE] if method else []) + list(category_cols)
    if method:
        terms += [f"{METHOD_CODE}:{c}" for c in category_cols]
    return " + ".join(terms) if terms else "1"


def _random_formula(structure: dict[str, str]) -> str:
    """``structure`` maps group -> "corr" | "zcp" | "intercept"."""
    parts = []
    for g, kind in structure.items():
        if kind == "corr":
            parts.append(f"(1 + {METHOD_CODE} | {g})")
        elif kind == "zcp":
            parts.append(f"(1 + {METHOD_CODE} || {g})")
        else:
            parts.append(f"(1 | {g})")
    return " + ".join(parts)


def _n_params(structure: dict[str, str]) -> int:
    return sum({"corr": 3, "zcp": 2, "intercept": 1}[k] for k in structure.values())


def _label(term: str) -> str:
    if term == "(Intercept)":
        return "intercept (grand mean)"
    out = []
    for part in term.split(":"):
        if part == METHOD_CODE:
            out.append("method (ours - Pix2Pix)")
        elif part.startswith(CATEGORY_PREFIX):
            out.append(f"category {part[len(CATEGORY_PREFIX):]} (vs mean)")
        else:
            out.append(part)
    return " x ".join(out)


def _variance_table(fit, lmm: bool) -> pd.DataFrame:
    vc = fit.VarCorr()
    rows = []
    for name, g in vc.groups.items():
        names = list(g.term_names)
        for t in names:
            rows.append({"group": name, "component": f"SD of {t}", "term": f"sd__{t}|{name}",
                         "sd": float(g.stddev[t]), "correlation": np.nan})
        corr = g.corr
        if corr is not None and len(names) > 1:
            c = np.asarray(corr, dtype=float)
            for i in range(len(names)):
                for j in range(i + 1, len(names)):
                    rows.append({"group": name, "component": f"correlation {names[i]}, {names[j]}",
                                 "term": f"cor__{names[i]}.{names[j]}|{name}", "sd": np.nan,
                                 "correlation": float(c[i, j])})
    if lmm:
        rows.append({"group": "Residual", "component": "SD of residual", "term": "sd__Observation|Residual",
                     "sd": float(fit.sigma), "correlation": np.nan})
    return pd.DataFrame(rows, columns=["group", "component", "term", "sd", "correlation"])


def _singular(fit, lmm: bool) -> bool:
    """lme4's isSingular: a (relative) random-effect covariance with eigenvalue < tol^2."""
    scale = float(fit.sigma) if lmm else 1.0
    for g in fit.VarCorr().groups.values():
        cov = np.atleast_2d(np.asarray(g.cov, dtype=float)) / (scale ** 2 if scale > 0 else 1.0)
        if np.min(np.linalg.eigvalsh(cov), initial=np.inf) < SINGULAR_TOL ** 2:
            return True
    return False


def _smallest_slope(fit, structure: dict[str, str], lmm: bool) -> str | None:
    """The group whose method-slope SD (relative for LMMs) is smallest, or None if no slope."""
    scale = float(fit.sigma) if lmm else 1.0
    best, best_sd = None, np.inf
    for g, kind in structure.items():
        if kind == "intercept":
            continue
        sd = float(fit.VarCorr().groups[g].stddev[METHOD_CODE]) / scale
        if sd < best_sd:
            best, best_sd = g, sd
    return best


#: Exceptions a fit may raise on degenerate data; they become a "fit failed" step (or, for the
#: maximal model, a ValueError naming the formula) instead of a traceback.
FIT_ERRORS = (ValueError, np.linalg.LinAlgError, RuntimeError, FloatingPointError, ZeroDivisionError,
              OverflowError, KeyError, IndexError)
_FAILURE_TEXTS = ("did not converge", "failed to converge", "optimization failed", "not converge")


def _fit(formula: str, df: pd.DataFrame, family: str):
    import mixedlm as ml

    with warnings.catch_warnings(record=True) as caught, blas_single_thread():
        warnings.simplefilter("always")
        if family == "gaussian":
            fit = ml.lmer(formula, df, REML=True)
        elif family == "poisson":
            from mixedlm.families import Poisson

            fit = ml.glmer(formula, df, family=Poisson())
        else:  # "negative binomial(theta)"
            from mixedlm.families import NegativeBinomial

            theta = float(family.split("(")[1].rstrip(")"))
            fit = ml.glmer(formula, df, family=NegativeBinomial(theta=theta))
    texts = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    failed = any(k in t.lower() for t in texts for k in _FAILURE_TEXTS)
    return fit, texts, bool(fit.converged) and not failed


def between_within_df(data: pd.DataFrame) -> int:
    """Between-within (containment) denominator df of the count model's fixed effects.

    df = number of artworks - number of artwork-level fixed parameters (intercept and
    category contrasts, i.e. the number of categories), for every fixed term: method varies
    within artwork, the factor that carries its random slope, and the intercept and
    category terms vary between artworks (SAS/STAT GLIMMIX ``DDFM=BETWITHIN``/``CONTAIN``;
    Li & Redden, 2015, BMC Med. Res. Methodol. 15:38, recommend between-within for
    small-sample GLMMs). Nine artworks in three categories give df = 6 (default: this rule
    for the Poisson GLMM; the LMM uses Satterthwaite). 0 or less when the design has no
    artwork replication within categories.
    """
    return int(data["artwork"].nunique() - data["category"].nunique())


def _fixed_terms(fit, lmm: bool, confidence: float, bw_df: int | None = None) -> tuple[pd.DataFrame, str]:
    fe = fit.fixef()
    names = list(fe)
    est = np.array([float(fe[n]) for n in names])
    se = np.sqrt(np.diag(np.asarray(fit.vcov(), dtype=float)))
    stat = est / se
    if lmm:
        import mixedlm as ml

        try:
            ddf = np.asarray(ml.satterthwaite_df(fit).df, dtype=float)
            method = "Satterthwaite (mixedlm, as lmerTest)"
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as exc:  # pragma: no cover - numerical
            logger.warning("Satterthwaite df failed (%s); using residual df", exc)
            ddf = np.full(len(names), float(fit.matrices.n_obs - len(names)))
            method = "residual df (Satterthwaite failed)"
        ddf = np.where(np.isfinite(ddf) & (ddf > 0), ddf, np.nan)
        p = 2 * stats.t.sf(np.abs(stat), ddf)
        crit = stats.t.ppf(0.5 + confidence / 2, ddf)
    elif bw_df is not None and bw_df >= 1:
        ddf = np.full(len(names), float(bw_df))
        p = 2 * stats.t.sf(np.abs(stat), ddf)
        crit = stats.t.ppf(0.5 + confidence / 2, ddf)
        method = "between-within"
    else:
        ddf = np.full(len(names), np.nan)
        p = 2 * stats.norm.sf(np.abs(stat))
        crit = np.full(len(names), stats.norm.ppf(0.5 + confidence / 2))
        method = ("none: Wald z (asymptotic, as lme4 glmer)" if bw_df is None
                  else "none: Wald z (between-within df would be 0: one artwork per category)")
    out = pd.DataFrame({"model": "lmer" if lmm else "glmer", "term": names, "label": [_label(n) for n in names],
                        "estimate": est, "std_error": se,
                        "df": ddf, "statistic": stat, "p_value": p, "ci_low": est - crit * se,
                        "ci_high": est + crit * se})
    return out, method


def _fit_crossed(df: pd.DataFrame, response: str, fixed_rhs: str, family: str, groups: list[str], *,
                 confidence: float, simplify: bool, alpha_lrt: float, start: str = "corr"):
    """Fit the maximal crossed model and simplify it by the documented rule (see crossed_lmm)."""
    lmm = family == "gaussian"
    structure = {g: start for g in groups}
    steps, all_terms, texts = [], [], []
    fits: dict[str, tuple] = {}

    def run(struct: dict[str, str], reason: str, *, required: bool = False) -> str | None:
        formula = f"{response} ~ {fixed_rhs} + {_random_formula(struct)}"
        name = f"step {len(steps) + 1}"
        try:
            fit, w, conv = _fit(formula, df, family)
            sing = _singular(fit, lmm)
            ll = float(fit.logLik().value)
            fx, dfm = _fixed_terms(fit, lmm, confidence, None if lmm else between_within_df(df))
            var = _variance_table(fit, lmm)
        except FIT_ERRORS as exc:
            if required:
                raise ValueError(f"the model {formula} could not be fitted ({type(exc).__name__}: {exc})") from exc
            texts.append(f"{name} ({_random_formula(struct)}): fit failed: {type(exc).__name__}: {exc}")
            steps.append({"step": len(steps) + 1, "formula": formula, "reason": reason, "converged": False,
                          "singular": False, "parameters": _n_params(struct), "log_likelihood": np.nan,
                          "lrt_chi2": np.nan, "lrt_df": np.nan, "lrt_p": np.nan,
                          "decision": f"fit failed ({type(exc).__name__})"})
            return None
        texts.extend(f"{name} ({_random_formula(struct)}): {t}" for t in w)
        steps.append({"step": len(steps) + 1, "formula": formula, "reason": reason, "converged": conv,
                      "singular": sing, "parameters": _n_params(struct), "log_likelihood": ll,
                      "lrt_chi2": np.nan, "lrt_df": np.nan, "lrt_p": np.nan, "decision": ""})
        fam = family.split("(")[0].strip()
        t = fx.drop(columns=["label", "model"]).assign(model=name, formula=formula, family=fam, df_method=dfm)
        r = var.rename(columns={"sd": "estimate"})
        r["estimate"] = r["estimate"].fillna(r["correlation"])
        r = r[["term", "estimate"]].assign(model=name, formula=formula, family=fam, df_method="")
        all_terms.append(pd.concat([t, r], ignore_index=True))
        fits[name] = (fit, struct, conv, sing, ll, fx, var, dfm, formula)
        return name

    cur = run(structure, "maximal: by-participant and by-artwork method slopes with their correlations "
                         "(Barr et al., 2013)", required=True)
    if simplify:
        # 1) while singular or not converged: drop correlations, then the smallest slope (Bates et al., 2015)
        while True:
            fit, struct, conv, sing, ll, *_ = fits[cur]
            if conv and not sing:
                break
            if any(k == "corr" for k in struct.values()):
                new = {g: ("zcp" if k == "corr" else k) for g, k in struct.items()}
                why = "previous fit singular" if sing else "previous fit did not converge"
                nxt = run(new, f"{why}: correlations removed (zero-correlation model, Bates et al., 2015)")
            else:
                g = _smallest_slope(fit, struct, lmm)
                if g is None:
                    break
                new = dict(struct, **{g: "intercept"})
                why = "previous fit singular" if sing else "previous fit did not converge"
                nxt = run(new, f"{why}: by-{g} method slope removed (smallest variance; Bates et al., 2015)")
            if nxt is None:  # the simpler fit failed: keep the current one (reported as it is)
                break
            steps[-2]["decision"] = "rejected (" + ("singular" if sing else "not converged") + ")"
            cur = nxt
        # 2) non-singular: backward LRT at alpha_LRT (Matuschek et al., 2017)
        while fits[cur][2] and not fits[cur][3]:
            fit, struct, conv, sing, ll, *_ = fits[cur]
            if any(k == "corr" for k in struct.values()):
                new = {g: ("zcp" if k == "corr" else k) for g, k in struct.items()}
                what = "correlations removed"
            else:
                g = _smallest_slope(fit, struct, lmm)
                if g is None:
                    break
                new = dict(struct, **{g: "intercept"})
                what = f"by-{g} method slope removed"
            cand = run(new, f"candidate: {what} (likelihood-ratio test, Matuschek et al., 2017)")
            if cand is None:
                break
            c_ll, c_conv = fits[cand][4], fits[cand][2] and not fits[cand][3]
            chi2 = max(0.0, 2.0 * (ll - c_ll))
            ddf = _n_params(struct) - _n_params(new)
            p = float(stats.chi2.sf(chi2, ddf))
            steps[-1].update(lrt_chi2=chi2, lrt_df=ddf, lrt_p=p)
            if p >= alpha_lrt and c_conv:
                steps[-2]["decision"] = f"simplified (LRT p = {p:.3f} >= {alpha_lrt:g})"
                cur = cand
            else:
                steps[-1]["decision"] = (f"rejected (LRT p = {p:.3f} < {alpha_lrt:g})" if c_conv
                                         else "rejected (singular or did not converge)")
                break
    for s in steps:
        if f"step {s['step']}" == cur:
            s["decision"] = "USED"
    fit, struct, conv, sing, ll, fx, var, dfm, formula = fits[cur]
    terms = pd.concat(all_terms, ignore_index=True)
    terms["model"] = terms["model"].map(lambda m: f"{m} (used)" if m == cur else m)
    return {"fit": fit, "converged": conv, "singular": sing, "loglik": ll, "fixed": fx, "variance": var,
            "df_method": dfm, "formula": formula, "steps": pd.DataFrame(steps), "terms": terms,
            "warnings": list(dict.fromkeys(texts))}


def _groups_ok(df: pd.DataFrame, what: str) -> list[str]:
    groups = [g for g in GROUPS if df[g].nunique() >= 2]
    if df["participant"].nunique() < 2 or df["artwork"].nunique() < 2:
        raise ValueError(f"{what} needs at least 2 participants and 2 artworks "
                         f"(these data have {df['participant'].nunique()} and {df['artwork'].nunique()})")
    if set(df["method"].astype(str)) != set(METHOD_LEVELS):
        raise ValueError(f"{what} needs trials of both methods ({', '.join(METHOD_LEVELS)})")
    return groups


def _prepare(data: pd.DataFrame, dv: str) -> pd.DataFrame:
    cols = ["participant", "artwork", "category", "method", dv]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"columns missing: {missing}")
    df = data.copy()
    for c in ("participant", "artwork", "category", "method"):
        df[c] = df[c].astype(str)
    return df


def _ratio_columns(fx: pd.DataFrame, on: bool) -> pd.DataFrame:
    for a, b in (("ratio", "estimate"), ("ratio_ci_low", "ci_low"), ("ratio_ci_high", "ci_high")):
        fx[a] = np.exp(fx[b]) if on else np.nan
    return fx


def _mixed_result(out: dict, df: pd.DataFrame, n_in: int, *, family: str, log: bool, note: str,
                  fitted: np.ndarray, model: str) -> MixedResult:
    """The :class:`MixedResult` of a fit by :func:`_fit_crossed` (shared by the LMM and the GLMM)."""
    return MixedResult(
        model=f"{model}: {out['formula']}", fixed=_ratio_columns(out["fixed"], log), variance=out["variance"],
        converged=out["converged"], warnings=out["warnings"], n_obs=len(df),
        n_participants=int(df["participant"].nunique()), n_artworks=int(df["artwork"].nunique()),
        n_dropped=n_in - len(df), note=note, formula=out["formula"], family=family,
        singular=out["singular"], df_method=out["df_method"], steps=out["steps"], terms=out["terms"], data=df,
        loglik=out["loglik"], fitted=fitted)


def crossed_lmm(data: pd.DataFrame, dv: str = "total_fixation_s", *, log: bool = True,
                zero_offset: float | None = None, confidence: float = 0.95, simplify: bool = True,
                alpha_lrt: float = ALPHA_LRT) -> MixedResult:
    """Linear mixed model with crossed random effects of participants and artworks (lmer).

    ``log(dv) ~ method * category + (1 + method | participant) + (1 + method | artwork)``,
    written over numeric columns (:func:`design_columns`: method +-0.5, category sum
    coded), fitted by REML with ``mixedlm.lmer`` (lme4's algorithm; numbers tested against
    lme4 1.1 in ``tests/analysis/test_mixed_lme4.py``). Tests of the fixed effects are t
    tests with Satterthwaite degrees of freedom (``mixedlm.satterthwaite_df``, as
    lmerTest's default; Kuznetsova, Brockhoff & Christensen, 2017), CIs are t-based with
    the same df.

    Random-effects structure, chosen by this rule (default ``simplify=True``):

    1. Fit the maximal model: by-participant and by-artwork random intercepts and method
       slopes with their correlations (Barr, Levy, Scheepers & Tily, 2013).
    2. While the fit is singular (lme4's ``isSingular``, tolerance :data:`SINGULAR_TOL`
       = 1e-4) or did not converge: remove the correlations (zero-correlation-parameter
       model), then the method slope with the smallest variance, one at a time (Bates,
       Kliegl, Vasishth & Baayen, 2015). Random intercepts are never removed; a model
       that is still singular is used and reported as singular.
    3. Once the fit is regular: try the next simpler structure (correlations, then the
       smallest slope) and keep it if a likelihood-ratio test does not reject it at
       ``alpha_lrt`` = 0.20 (Matuschek, Kliegl, Vasishth, Baayen & Bates, 2017); stop at
       the first rejection.

    Parameters
    ----------
    data : pandas.DataFrame
        Trial level, columns participant, artwork, category, method (ours|pix2pix) and
        ``dv``. Participants with missing trials are kept.
    dv : str
        Response column (default total fixation time in seconds).
    log : bool
        Model ``log(dv)`` (default; fixation times are right-skewed; effects are ratios).
    zero_offset : float or None
        ``None`` (default): rows with ``dv <= 0`` are dropped and counted. ``c > 0``:
        model ``log(dv + c)``.
    confidence : float
        Level of the CIs (default 0.95).
    simplify : bool
        Apply the simplification rule above (default True); False fits the maximal model only.
    alpha_lrt : float
        Level of the simplification LRT (default 0.20, Matuschek et al., 2017).

    Returns
    -------
    MixedResult
        The model used (``formula``, ``singular``, ``converged``), its fixed effects with
        Satterthwaite df, its random effects, the selection ``steps`` and every term of
        every candidate (``terms``); ``data`` holds the rows fitted with the response
        column ``log_<dv>`` (or ``dv``).

    References
    ----------
    Barr, D. J., Levy, R., Scheepers, C., & Tily, H. J. (2013). Random effects structure
    for confirmatory hypothesis testing: Keep it maximal. *JML, 68*(3), 255-278.
    Bates, D., Kliegl, R., Vasishth, S., & Baayen, H. (2015). Parsimonious mixed models.
    arXiv:1506.04967.
    Kuznetsova, A., Brockhoff, P. B., & Christensen, R. H. B. (2017). lmerTest package:
    Tests in linear mixed effects models. *J. Stat. Softw., 82*(13), 1-26.
    Matuschek, H., Kliegl, R., Vasishth, S., Baayen, H., & Bates, D. (2017). Balancing
    Type I error and power in linear mixed models. *JML, 94*, 305-315.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from analysis.stats import crossed_lmm
    >>> rng = np.random.default_rng(1)
    >>> arts = {"painting": "abc", "sculpture": "def", "craft": "ghi"}
    >>> rows = [(f"s{p}", a, c, m, float(np.exp(2.3 + 0.2 * (m == "ours") + rng.normal(0, .3))))
    ...         for p in range(8) for c, al in arts.items() for a in al for m in ("ours", "pix2pix")]
    >>> df = pd.DataFrame(rows, columns=["participant", "artwork", "category", "method", "total_fixation_s"])
    >>> res = crossed_lmm(df)
    >>> res.fixed["term"].iloc[1]
    'method_code'
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    df = _prepare(data, dv)
    n_in = len(df)
    df = df[np.isfinite(df[dv].to_numpy(dtype=float))]
    if log:
        if zero_offset is None:
            zeros = int((df[dv] <= 0).sum())
            df = df[df[dv] > 0]
            note = f"{zeros} row(s) with {dv} <= 0 dropped (log undefined)"
            y = np.log(df[dv].to_numpy(dtype=float))
        else:
            if zero_offset <= 0:
                raise ValueError("zero_offset must be positive")
            note = f"zero values kept: log_{dv} = log({dv} + {zero_offset:g})"
            y = np.log(df[dv].to_numpy(dtype=float) + zero_offset)
        response = f"log_{dv}"
    else:
        y = df[dv].to_numpy(dtype=float)
        response = dv
        note = f"{dv} untransformed"
    df = df.assign(**{response: y})
    groups = _groups_ok(df, "the crossed linear mixed model")
    df, cat_cols = design_columns(df)
    out = _fit_crossed(df, response, fixed_formula(cat_cols), "gaussian", groups, confidence=confidence,
                       simplify=simplify, alpha_lrt=alpha_lrt)
    fitted = np.asarray(out["fit"].fitted(), dtype=float)
    return _mixed_result(out, df, n_in, family="gaussian", log=log, note=note, fitted=np.exp(fitted) if log else fitted,
                         model="Linear mixed model (REML, lme4 algorithm via mixedlm)")


def crossed_poisson_glmm(data: pd.DataFrame, dv: str = "fixation_count", *, confidence: float = 0.95,
                         simplify: bool = True, alpha_lrt: float = ALPHA_LRT, seed: int | None = None) -> MixedResult:
    """Poisson mixed model of counts with crossed random effects (glmer, Laplace approximation).

    ``dv ~ method * category + (1 + method | participant) + (1 + method | artwork)``, log
    link, fitted by maximum likelihood with the Laplace approximation (``nAGQ = 1``, as
    lme4's ``glmer`` default; adaptive quadrature with more points is only defined for a
    single scalar random effect, which a crossed design is not; Bolker et al., 2009) with
    ``mixedlm.glmer``. The random-effects structure is chosen by the rule of
    :func:`crossed_lmm`. Estimates and SEs are lme4's (Laplace ML, Wald SEs); tests and
    CIs use a t reference with the between-within (containment) df of
    :func:`between_within_df` (default: df = artworks - categories, e.g. t(6) with 9
    artworks in 3 categories; SAS/STAT GLIMMIX ``DDFM=BETWITHIN``; Li & Redden, 2015,
    recommend it for small-sample GLMMs), not lme4's asymptotic Wald z, which covered
    only 87 % with a type-I error of 17 % at 9 artworks in the coverage benchmark, against
    92 % / 8 % for t(6) (docs/simulation.md). ``df_method`` = "between-within"; with one
    artwork per category (df 0) the Wald z is used and ``df`` is NaN. Rate ratios exp(b)
    are given with the same t-based CIs.

    This replaces the variational-Bayes fit used before (its method SE was about 20 times
    too small on the demo cohort) and the two-way clustered GLM cross-check (a
    sandwich estimator with 9 artwork clusters is unreliable; Cameron & Miller, 2015).

    Parameters
    ----------
    data : pandas.DataFrame
        Trial level, columns participant, artwork, category, method and ``dv``
        (non-negative integer counts).
    dv : str
        Count column (default fixation count).
    confidence : float
        Level of the t-based CIs (default 0.95).
    simplify, alpha_lrt
        As in :func:`crossed_lmm`.
    seed : ignored
        Kept for compatibility (the Laplace fit is deterministic).

    Returns
    -------
    MixedResult
        As :func:`crossed_lmm`, ``family`` = "poisson"; ``fitted`` holds the conditional
        means for :func:`count_dispersion`.

    References
    ----------
    Bolker, B. M., Brooks, M. E., Clark, C. J., Geange, S. W., Poulsen, J. R., Stevens,
    M. H. H., & White, J.-S. S. (2009). Generalized linear mixed models: a practical
    guide for ecology and evolution. *TREE, 24*(3), 127-135.
    Cameron, A. C., & Miller, D. L. (2015). A practitioner's guide to cluster-robust
    inference. *J. Human Resources, 50*(2), 317-372.
    Li, P., & Redden, D. T. (2015). Comparing denominator degrees of freedom
    approximations for the generalized linear mixed model in analyzing binary outcome in
    small sample cluster-randomized trials. *BMC Medical Research Methodology, 15*, 38.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from analysis.stats import crossed_poisson_glmm
    >>> rng = np.random.default_rng(2)
    >>> arts = {"painting": "abc", "sculpture": "def", "craft": "ghi"}
    >>> rows = [(f"s{p}", a, c, m, int(rng.poisson(20 + 10 * (m == "ours"))))
    ...         for p in range(6) for c, al in arts.items() for a in al for m in ("ours", "pix2pix")]
    >>> df = pd.DataFrame(rows, columns=["participant", "artwork", "category", "method", "fixation_count"])
    >>> res = crossed_poisson_glmm(df)
    >>> res.family, res.fixed["term"].iloc[1]
    ('poisson', 'method_code')
    """
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    df = _prepare(data, dv)
    n_in = len(df)
    vals = df[dv].to_numpy(dtype=float)
    df = df[np.isfinite(vals)]
    vals = df[dv].to_numpy(dtype=float)
    if np.any(vals < 0) or np.any(vals != np.round(vals)):
        raise ValueError(f"{dv} must hold non-negative integer counts")
    df = df.assign(**{dv: vals.astype(np.int64)})
    groups = _groups_ok(df, "the crossed Poisson mixed model")
    df, cat_cols = design_columns(df)
    out = _fit_crossed(df, dv, fixed_formula(cat_cols), "poisson", groups, confidence=confidence,
                       simplify=simplify, alpha_lrt=alpha_lrt)
    return _mixed_result(out, df, n_in, family="poisson", log=True, note="log link; Laplace approximation",
                         fitted=np.asarray(out["fit"].fitted(), dtype=float),
                         model="Poisson mixed model (ML, Laplace, lme4 algorithm via mixedlm)")


#: Upper bound of the negative-binomial size theta (variance mu + mu^2 / theta): an estimate
#: at this bound means no overdispersion (the NB reduces to the Poisson).
THETA_MAX = 1e6


def theta_ml(y, mu) -> float:
    """Maximum-likelihood negative-binomial size ``theta`` for counts ``y`` with means ``mu``.

    Maximises sum log NB(y; mu, theta) (variance mu + mu^2 / theta) over log theta in
    [1e-3, :data:`THETA_MAX`], the step ``MASS::theta.ml`` performs inside lme4's
    ``glmer.nb`` (Venables & Ripley, 2002, 7.4).
    """
    from scipy import special

    y = np.asarray(y, dtype=float)
    mu = np.asarray(mu, dtype=float)

    def negll(lt: float) -> float:
        th = np.exp(lt)
        return -float(np.sum(special.gammaln(th + y) - special.gammaln(th) + th * np.log(th / (th + mu))
                             + y * np.log(mu / (th + mu))))

    res = optimize.minimize_scalar(negll, bounds=(np.log(1e-3), np.log(THETA_MAX)), method="bounded",
                                   options={"xatol": 1e-6, "maxiter": 500})
    return float(np.exp(res.x))


def count_dispersion(glmm: MixedResult, *, negbin: str = "auto", alpha: float = 0.05, max_refits: int = 3,
                     step: float = 0.25, tol: float = 0.02) -> pd.DataFrame:
    """Dispersion check of a Poisson GLMM: Pearson ratio and a negative-binomial refit.

    1. Pearson dispersion ratio: sum of squared Pearson residuals / residual df (df = n -
       number of fixed effects - number of covariance parameters), with a chi-squared
       test of overdispersion (Bolker et al., GLMM FAQ, ``overdisp_fun``).
    2. Negative-binomial GLMM (NB2: variance mu + mu^2/theta; glmmTMB ``nbinom2``) with the
       same formula. ``negbin="auto"`` (default) fits it only when step 1 flags
       overdispersion (p < ``alpha``, default .05): an NB GLMM fit costs about six
       Poisson fits in mixedlm 1.3, and with no Pearson overdispersion the NB cannot
       change the conclusion. ``"always"`` fits it whenever the ratio exceeds 1 (an NB
       cannot describe underdispersion); ``"never"`` skips it. theta maximises the Laplace
       log-likelihood of the NB GLMM (as lme4's ``glmer.nb`` and glmmTMB's ``nbinom2``):
       starting from the ML theta given the Poisson GLMM's conditional means
       (:func:`theta_ml`, the start ``glmer.nb`` uses), fit the GLMM at fixed theta
       (``glmer(family = negative.binomial(theta))``) at log theta +- ``step`` (default 0.25)
       and at the vertex of the parabola through the three log-likelihoods; repeat with the
       three best points, at most ``max_refits`` (default 3) times, until the vertex is
       within ``tol`` (default 0.02) of the best point on the log theta scale
       (``theta_converged``). An NB GLMM fit costs several Poisson fits in mixedlm 1.3,
       hence the few evaluations.
    3. Likelihood-ratio test Poisson vs NB; theta = infinity is on the boundary, so the p
       value is halved (chi-bar-squared 50:50 mixture; Self & Liang, 1987). AIC of both.

    Returns
    -------
    pandas.DataFrame
        One row: ``pearson_chi2``, ``residual_df``, ``dispersion_ratio``, ``p_overdispersion``,
        ``theta`` (inf when not fitted or at the upper bound), ``loglik_poisson``,
        ``loglik_negbin``, ``lrt_chi2``, ``lrt_p``,
        ``aic_poisson``, ``aic_negbin``, ``preferred`` ("poisson" unless the LRT p < alpha),
        ``negbin_fitted`` (NB columns are NaN when it was not fitted), ``theta_converged``,
        ``negbin_method_estimate``, ``negbin_method_std_error``, ``negbin_formula``.
    """
    if glmm.data is None or glmm.fitted is None or glmm.family != "poisson":
        raise ValueError("count_dispersion needs a Poisson result of crossed_poisson_glmm")
    df = glmm.data
    response = glmm.formula.split("~")[0].strip()
    y = df[response].to_numpy(dtype=float)
    mu = glmm.fitted
    n_cov = int((glmm.variance["group"] != "Residual").sum())
    n_par = len(glmm.fixed) + n_cov
    pearson = float(np.sum((y - mu) ** 2 / mu))
    rdf = len(y) - n_par
    ratio = pearson / rdf if rdf > 0 else np.nan
    p_over = float(stats.chi2.sf(pearson, rdf)) if rdf > 0 else np.nan
    rhs = glmm.formula.split("~", 1)[1].strip()
    nb_formula = f"{response} ~ {rhs}"
    theta, nb_fit, theta_converged = np.inf, None, False
    if negbin not in ("auto", "always", "never"):
        raise ValueError("negbin must be 'auto', 'always' or 'never'")
    want = negbin == "always" or (negbin == "auto" and np.isfinite(p_over) and p_over < alpha)
    if want and np.isfinite(ratio) and ratio > 1.0:  # an NB cannot describe underdispersion
        theta0 = theta_ml(y, mu)
        if theta0 < THETA_MAX * 0.99:
            fits: dict[float, tuple[float, object]] = {}

            def at(lt: float) -> float:
                lt = round(float(lt), 6)
                if lt not in fits:
                    f, _w, _c = _fit(nb_formula, df, f"negbin({float(np.exp(lt))!r})")
                    fits[lt] = (float(f.logLik().value), f)
                return fits[lt][0]

            l0 = np.log(theta0)
            pts = [l0 - step, l0, l0 + step]
            for _ in range(max_refits):
                vals = [at(x) for x in pts]
                # vertex of the parabola through the three points (log-likelihood vs log theta)
                x1, x2, x3 = pts
                y1, y2, y3 = vals
                den = (x1 - x2) * (x1 - x3) * (x2 - x3)
                a_ = (x3 * (y2 - y1) + x2 * (y1 - y3) + x1 * (y3 - y2)) / den
                b_ = (x3 ** 2 * (y1 - y2) + x2 ** 2 * (y3 - y1) + x1 ** 2 * (y2 - y3)) / den
                best = max(fits, key=lambda k: fits[k][0])
                vertex = -b_ / (2 * a_) if a_ < 0 else best + (step if best == max(pts) else -step)
                vertex = float(np.clip(vertex, best - 2 * step, best + 2 * step))
                at(vertex)
                if abs(vertex - best) < tol:
                    theta_converged = True
                    break
                pts = sorted(sorted(fits, key=lambda k: -fits[k][0])[:3])
            best = max(fits, key=lambda k: fits[k][0])
            theta, nb_fit = float(np.exp(best)), fits[best][1]
    if nb_fit is not None:
        ll_nb = float(nb_fit.logLik().value)
        fe = nb_fit.fixef()
        se = np.sqrt(np.diag(np.asarray(nb_fit.vcov(), dtype=float)))
        names = list(fe)
        nb_est = float(fe[METHOD_CODE]) if METHOD_CODE in fe else np.nan
        nb_se = float(se[names.index(METHOD_CODE)]) if METHOD_CODE in fe else np.nan
    else:
        ll_nb, nb_est, nb_se = np.nan, np.nan, np.nan
    fitted_nb = nb_fit is not None
    chi2 = max(0.0, 2.0 * (ll_nb - glmm.loglik)) if fitted_nb else np.nan
    p = (0.5 * float(stats.chi2.sf(chi2, 1)) if chi2 > 0 else 1.0) if fitted_nb else np.nan
    k = n_par
    return pd.DataFrame([{
        "pearson_chi2": pearson, "residual_df": int(rdf), "dispersion_ratio": ratio, "p_overdispersion": p_over,
        "theta": theta, "loglik_poisson": glmm.loglik, "loglik_negbin": ll_nb, "lrt_chi2": chi2, "lrt_p": p,
        "aic_poisson": -2 * glmm.loglik + 2 * k, "aic_negbin": -2 * ll_nb + 2 * (k + 1) if fitted_nb else np.nan,
        "preferred": "negative binomial" if fitted_nb and p < alpha else "poisson",
        "negbin_fitted": fitted_nb, "theta_converged": theta_converged,
        "negbin_method_estimate": nb_est, "negbin_method_std_error": nb_se,
        "negbin_formula": f"glmer.nb({response} ~ {rhs})"}])
