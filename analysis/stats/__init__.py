"""Statistics for the within-subject design: participants and artworks both sampled.

One public function per test, each returning a tidy :class:`pandas.DataFrame`
(pingouin style). See ``docs/statistics.md`` for every analysis, its source and how
missing data are handled.

========================  ==============================================================
function                  test
========================  ==============================================================
``paired_ttest``          paired t-test with mean difference CI and Cohen's d_z with CI
``wilcoxon_signed_rank``  Wilcoxon signed-rank test with matched-pairs rank-biserial r
``holm``                  Holm (1979) step-down adjustment of a family of p-values
``shapiro_wilk``          Shapiro-Wilk normality test (of paired differences)
``sensitivity_dz``        smallest detectable d_z for a paired t-test (noncentral t)
``rm_anova_2way``         two-way repeated-measures ANOVA with Mauchly and Greenhouse-Geisser
``crossed_lmm``           linear mixed model, crossed random effects (lmer, Satterthwaite df)
``crossed_poisson_glmm``  Poisson mixed model with the same crossed random effects (glmer, Laplace)
``count_dispersion``      Pearson dispersion ratio and Poisson vs negative-binomial GLMM
``min_f_prime``           Clark's (1973) min F' from by-participant and by-items F
``crossed_power``         simulated power of the crossed model over participants and artworks
``balanced_method_test``  the crossed model's method test in a balanced design, from the data
========================  ==============================================================
"""

from analysis.stats.anova import rm_anova_2way
from analysis.stats.holm import holm
from analysis.stats.minf import min_f_prime
from analysis.stats.mixed import MixedResult, count_dispersion, crossed_lmm, crossed_poisson_glmm
from analysis.stats.normality import shapiro_wilk
from analysis.stats.paired import paired_ttest
from analysis.stats.power import balanced_method_test, crossed_power, sensitivity_dz
from analysis.stats.wilcoxon import wilcoxon_signed_rank

__all__ = [
    "MixedResult",
    "balanced_method_test",
    "count_dispersion",
    "crossed_power",
    "min_f_prime",
    "crossed_lmm",
    "crossed_poisson_glmm",
    "holm",
    "paired_ttest",
    "rm_anova_2way",
    "sensitivity_dz",
    "shapiro_wilk",
    "wilcoxon_signed_rank",
]
