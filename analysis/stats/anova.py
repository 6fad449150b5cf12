"""Two-way repeated-measures ANOVA (method x category) with sphericity handling."""

from __future__ import annotations

import logging

import pandas as pd

logger = logging.getLogger(__name__)


def rm_anova_2way(data: pd.DataFrame, dv: str, *, within: tuple[str, str] = ("method", "category"),
                  subject: str = "participant") -> pd.DataFrame:
    """Two-way within-subject ANOVA with Mauchly's test and Greenhouse-Geisser correction.

    The data may hold several observations per subject x cell (e.g. the three artworks
    of a category). They are **averaged per subject x cell first**, explicitly, because
    that is what a cell of a repeated-measures ANOVA is (and what
    :func:`pingouin.rm_anova` would do silently). Subjects lacking any cell are dropped
    listwise (logged; their number is in ``n_dropped``).

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per observation.
    dv : str
        Dependent variable column.
    within : (str, str)
        The two within-subject factors (default method, category).
    subject : str
        Subject identifier column.

    Returns
    -------
    pandas.DataFrame
        One row per effect: ``Source``, ``SS``, ``ddof1``, ``ddof2``, ``MS``, ``F``,
        ``p_unc``, ``p_GG_corr``, ``eps`` (Greenhouse-Geisser epsilon), ``ng2``
        (generalised eta squared, Olejnik & Algina, 2003; Bakeman, 2005), ``W_spher``
        and ``p_spher`` (Mauchly, 1940), plus ``n`` and ``n_dropped``.

    Notes
    -----
    Computed with :func:`pingouin.rm_anova` (Vallat, 2018). The Greenhouse & Geisser
    (1959) epsilon corrects both degrees of freedom; for a factor with two levels
    sphericity holds trivially (epsilon = 1).

    References
    ----------
    Greenhouse, S. W., & Geisser, S. (1959). On methods in the analysis of profile data.
    *Psychometrika, 24*(2), 95-112.
    Mauchly, J. W. (1940). Significance test for sphericity of a normal n-variate
    distribution. *Annals of Mathematical Statistics, 11*(2), 204-209.
    Bakeman, R. (2005). Recommended effect size statistics for repeated measures designs.
    *Behavior Research Methods, 37*(3), 379-384.
    Vallat, R. (2018). Pingouin: statistics in Python. *JOSS, 3*(31), 1026.

    Examples
    --------
    >>> import pandas as pd
    >>> from analysis.stats import rm_anova_2way
    >>> rows = [(s, m, c, 10 + (m == "ours") * 2 + i + 0.3 * ((s * 7 + i) % 4))
    ...         for s in range(6) for m in ("ours", "pix2pix")
    ...         for i, c in enumerate(("painting", "sculpture", "craft"))]
    >>> df = pd.DataFrame(rows, columns=["participant", "method", "category", "y"])
    >>> aov = rm_anova_2way(df, "y")
    >>> aov["Source"].tolist()
    ['method', 'category', 'method * category']
    """
    import pingouin as pg

    a, b = within
    cols = [subject, a, b, dv]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise KeyError(f"columns missing: {missing}")
    cells = (data[cols].dropna(subset=[dv])
             .groupby([subject, a, b], observed=True, sort=True)[dv].mean().reset_index())
    n_cells = cells[a].nunique() * cells[b].nunique()
    per_subject = cells.groupby(subject, observed=True)[dv].size()
    complete = per_subject.index[per_subject == n_cells]
    n_dropped = int(per_subject.size - complete.size)
    if n_dropped:
        logger.info("rm_anova_2way: %d subject(s) lack a cell and are dropped listwise", n_dropped)
    cells = cells[cells[subject].isin(complete)]
    if complete.size < 3:
        raise ValueError("rm_anova_2way needs at least 3 subjects with every cell")
    aov = pg.rm_anova(data=cells, dv=dv, within=[a, b], subject=subject, detailed=True)
    keep = ["Source", "SS", "ddof1", "ddof2", "MS", "F", "p_unc", "p_GG_corr", "eps", "ng2", "W_spher",
            "p_spher"]
    aov = aov[[c for c in keep if c in aov.columns]].copy()
    aov["Source"] = aov["Source"].astype(str)
    aov["n"] = int(complete.size)
    aov["n_dropped"] = n_dropped
    return aov.reset_index(drop=True)
