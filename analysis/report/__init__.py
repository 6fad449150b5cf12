"""``python -m analysis.report``: Table 4 replicated, statistics, figures and notes, as HTML/MD/CSV/LaTeX.

See ``docs/report.md`` for the command, its options and every output file, and
``docs/statistics.md`` for the analyses.
"""

from analysis.report.analyses import Statistics, compute_statistics
from analysis.report.build import build_report

__all__ = ["Statistics", "build_report", "compute_statistics"]
