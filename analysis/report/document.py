"""A tiny document model rendered to self-contained HTML, Markdown, CSV and LaTeX (booktabs).

The report is built once as a list of :class:`Section` objects; :func:`to_html` and
:func:`to_markdown` render the same content, so ``report.html`` and ``report.md`` never
diverge. No timestamps are written anywhere (re-running gives identical files).

Every table is rendered generically: a cell is formatted by the first rule of
:data:`FORMAT_RULES` that matches its column (p-values in APA style, counts as integers,
other numbers with three decimals), a column name is shown through :data:`HEADERS`
(words, not code names), and a cell whose whole text is a code value (a measure, method,
category or artwork id) is shown through :func:`display_value`. Wide tables scroll inside
their own box in HTML; in LaTeX tables wider than ``LANDSCAPE_COLUMNS`` columns are set
in landscape.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.aggregate import (
    ARTWORKS,
    CATEGORY_NAMES,
    MEASURE_NAMES,
    METHOD_NAMES,
    artwork_name,
)

SIMULATED_BANNER = ("SIMULATED DATA: this dataset declares \"Simulated\": true in dataset_description.json. "
                    "No result in this report describes real participants.")
NBSP = "\u00a0"


@dataclass
class Table:
    name: str                 # file stem in tables/
    caption: str
    data: pd.DataFrame        # full precision (CSV source)
    display: pd.DataFrame | None = None   # formatted strings for HTML/MD/LaTeX (default: formatted data)
    #: Footnotes below the table, in order; ``marks`` put their letter at cells.
    notes: list[str] = field(default_factory=list)
    #: ``{(display row index, display column): footnote letter}``.
    marks: dict[tuple[int, object], str] = field(default_factory=dict)
    #: Rows of ``display`` that open a panel (a full-width label row before them): ``{row: label}``.
    panels: dict[int, str] = field(default_factory=dict)
    #: Write ``tables/<name>.csv`` and ``.tex`` (False for tables already written under another name).
    write: bool = True


@dataclass
class Figure:
    name: str
    caption: str
    png: Path
    svg: Path


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list = field(default_factory=list)   # str (paragraph) | list[str] (bullets) | Table | Figure | ("pre", str)
    #: Part of the appendix: collapsed by default in HTML (``<details>``).
    appendix: bool = False


# ------------------------------------------------------------------ formatting rules

#: Column name -> header a reader knows. Columns not listed are shown with spaces for
#: underscores and a capital first letter.
HEADERS: dict[str, str] = {
    "measure": "Measure", "method": "Method", "category": "Category", "artwork": "Artwork",
    "participant": "Participant", "session": "Session", "trial": "Trial", "stimulus_id": "Stimulus",
    "n": "n", "n_zero": "Zero differences", "n_obs": "Observations", "mean_x": "Mean, ours",
    "mean_y": "Mean, Pix2Pix", "mean_ours": "Mean, ours", "mean_pix2pix": "Mean, Pix2Pix",
    "mean_diff": "Mean difference", "sd_diff": "SD of differences", "ci_low": "95% CI, lower",
    "ci_high": "95% CI, upper", "t": "t", "df": "df", "p_val": "p", "p": "p", "d_z": "Cohen's dz",
    "d_z_ci_low": "dz 95% CI, lower", "d_z_ci_high": "dz 95% CI, upper", "W": "W", "r_rb": "Rank-biserial r",
    "p_wilcoxon": "Wilcoxon p", "p_holm": "p (Holm)", "p_wilcoxon_holm": "Wilcoxon p (Holm)",
    "normal": "Normal at alpha", "Source": "Effect", "SS": "Sum of squares", "MS": "Mean square", "F": "F",
    "ddof1": "df, effect", "ddof2": "df, error", "p_unc": "p (uncorrected)", "p_GG_corr": "p (Greenhouse-Geisser)",
    "ng2": "Generalised eta squared", "eps": "Greenhouse-Geisser epsilon", "sphericity": "Sphericity holds",
    "W_spher": "Mauchly's W", "p_spher": "Mauchly's p", "model": "Model", "term": "Term", "formula": "Formula",
    "family": "Family", "estimate": "Estimate", "std_error": "Standard error", "se": "Standard error",
    "statistic": "Statistic", "z": "z", "ratio": "Ratio exp(b)", "ratio_ci_low": "Ratio 95% CI, lower",
    "ratio_ci_high": "Ratio 95% CI, upper", "sd": "SD", "group": "Grouping factor", "component": "Component",
    "alpha": "alpha", "power": "Power", "design": "Design", "d_z_statsmodels": "dz (statsmodels)",
    "data": "Data", "trials": "Trials", "excluded_trials": "Excluded trials",
    "valid_fraction_mean": "Valid samples (mean share)", "precision_rms_deg_mean": "Precision RMS (deg, mean)",
    "valid_fraction": "Valid samples (share)", "precision_rms_deg": "Precision RMS (deg)",
    "accuracy_deg": "Accuracy (deg)", "readable": "Readable", "reason": "Reason", "path": "File",
    "bytes": "Bytes", "sha256": "SHA-256", "package": "Package", "version": "Version", "file": "File",
    "check": "Check", "quantity": "Quantity", "stated": "Stated", "computed": "Computed",
    "consistent": "Consistent", "message": "Finding", "level": "Level", "paper_name": "Paper's name",
    "note": "Note", "target_handling": "Handling", "paper_fixation_time_s": "Paper time (s)",
    "paper_fixation_count": "Paper count", "paper_mean_fixation_s": "Paper mean fixation (s)",
    "target_fixation_time_s": "Simulated time (s)", "target_fixation_count": "Simulated count",
    "fixation_time_s_paper": "Paper time (s)", "fixation_time_s_mean": "Time mean (s)",
    "fixation_time_s_diff": "Time difference (s)", "fixation_count_paper": "Paper count",
    "fixation_count_mean": "Count mean", "fixation_count_diff": "Count difference",
    "converged": "Converged", "singular": "Singular fit", "participants": "Participants",
    "valid_fraction_median": "Valid samples (median share)", "valid_fraction_min": "Valid samples (lowest share)",
    "precision_rms_deg_median": "Precision RMS (deg, median)", "accuracy_deg_median": "Accuracy (deg, median)",
    "effect": "Effect", "statistic_name": "Test", "p_value": "p", "log_estimate": "Estimate (log scale)",
    "df_method": "df method", "observations": "Observations", "artworks": "Artworks",
}

#: Columns whose values are counts (shown as integers when integral).
COUNT_COLUMNS = frozenset({"n", "n_zero", "n_obs", "trials", "excluded_trials", "bytes", "ddof1", "ddof2", "df",
                           "paper_fixation_count", "fixation_count_paper", "included_trials", "participants"})


_P_WORD = re.compile(r"(^|[\s_])p($|[\s_(-])")
_DF_WORD = re.compile(r"(^|[\s_])df($|[\s_,])")


def is_p_column(col: str) -> bool:
    """p-value columns: ``p`` as a word of the name (``p``, ``p_holm``, ``p-unc``, ``LRT p``,
    ``p (overdispersion)``), case-sensitive."""
    return bool(_P_WORD.search(col))


def is_count_column(col: str) -> bool:
    """Counts and degrees of freedom (``n``, ``n_*``, ``*_n``, ``df`` as a word: ``df``, ``LRT df``)."""
    return col in COUNT_COLUMNS or col.startswith("n_") or col.endswith("_n") or col.startswith("df") \
        or bool(_DF_WORD.search(col))


def fmt_p(x: float) -> str:
    """APA p-value (APA 7, 6.36): no leading zero, three decimals, ``< .001``; never wraps."""
    if x < 0.001:
        return f"<{NBSP}.001"
    if x > 0.999:
        return f">{NBSP}.999"
    return f"{x:.3f}".lstrip("0")


def fmt_count(x: float) -> str:
    """A count as an integer; a fractional df (Satterthwaite, Greenhouse-Geisser) with two decimals."""
    return str(int(round(x))) if float(x).is_integer() else f"{x:.2f}"


def fmt_number(x: float) -> str:
    """Three decimals; one above 1000; two significant digits for tiny non-zero values."""
    a = abs(x)
    if a >= 1000:
        return f"{x:.1f}"
    if 0 < a < 0.001:
        return f"{x:.2g}"
    return f"{x:.3f}"


#: (column predicate, formatter of a finite float), first match wins.
FORMAT_RULES: list[tuple[Callable[[str], bool], Callable[[float], str]]] = [
    (is_p_column, fmt_p),
    (is_count_column, fmt_count),
    (lambda col: True, fmt_number),
]

_CODE_VALUES: dict[str, str] = {**MEASURE_NAMES, **METHOD_NAMES, **CATEGORY_NAMES}


def display_value(x: str) -> str:
    """A code value shown as words (measure, method, category, known artwork id); else as is."""
    if x in _CODE_VALUES:
        return _CODE_VALUES[x]
    if x in ARTWORKS:
        return artwork_name(x)
    return x


def fmt_value(col: str, x) -> str:
    """Format one cell for display by :data:`FORMAT_RULES` (``n/a`` for missing, yes/no for booleans)."""
    if x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and not np.isfinite(x)):
        return "n/a"
    if isinstance(x, (bool, np.bool_)):
        return "yes" if x else "no"
    if isinstance(x, (int, np.integer)):
        return fmt_p(float(x)) if is_p_column(col) else str(int(x))
    if isinstance(x, (float, np.floating)):
        for applies, fmt in FORMAT_RULES:
            if applies(col):
                return fmt(float(x))
    return display_value(str(x))


def header(col) -> str:
    """The header a reader sees for column ``col`` (see :data:`HEADERS`)."""
    if isinstance(col, tuple):
        return " ".join(str(c) for c in col if str(c))
    c = str(col)
    if c in HEADERS:
        return HEADERS[c]
    words = c.replace("_", " ").strip()
    return words if words.split(" ", 1)[0] == "p" else words[:1].upper() + words[1:]


def _ci_pairs(columns: list[str]) -> dict[str, str]:
    """``{lower column: upper column}`` for every ``*ci_low``/``*ci_high`` (or ``*CI low``/``*CI high``)
    pair, shown as one "[a, b]" column."""
    return {c: c[:-3] + "high" for c in columns
            if (c.endswith("ci_low") or c.endswith("CI low")) and c[:-3] + "high" in columns}


def format_frame(df: pd.DataFrame) -> pd.DataFrame:
    """All cells of ``df`` as display strings (see :func:`fmt_value`), headers as words.

    A confidence interval given as two columns (``ci_low``/``ci_high``, ``d_z_ci_low``/
    ``d_z_ci_high``, ...) is shown as one column "[lower, upper]" headed like the pair.
    """
    cols = [str(c) for c in df.columns]
    pairs = _ci_pairs(cols)
    uppers = set(pairs.values())
    out: dict[str, list[str]] = {}
    for c, orig in zip(cols, df.columns):
        if c in uppers:
            continue
        if c in pairs:
            lo = [fmt_value(c, v) for v in df[orig].tolist()]
            hi = [fmt_value(pairs[c], v) for v in df[pairs[c]].tolist()]
            head = header(c).removesuffix(", lower").removesuffix(" lower")
            out[head] = [f"[{a}, {b}]" if a != "n/a" or b != "n/a" else "n/a" for a, b in zip(lo, hi)]
        else:
            out[header(c)] = [fmt_value(c, v) for v in df[orig].tolist()]
    return pd.DataFrame(out, dtype=object)


def _display(t: Table) -> pd.DataFrame:
    return t.display if t.display is not None else format_frame(t.data)


def _is_text(col: pd.Series) -> bool:
    """A column of prose (a cell longer than 40 characters with spaces, no word over 30): it wraps."""
    cells = [str(v) for v in col.tolist()]
    return (any(len(v) > 40 and " " in v for v in cells)
            and max((len(w) for v in cells for w in v.split()), default=0) <= 30)


def _levels(d: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Group and leaf header of each column (group "" for single-level columns)."""
    groups, leaves = [], []
    for c in d.columns:
        if isinstance(c, tuple) and len(c) == 2:
            groups.append(str(c[0]))
            leaves.append(str(c[1]))
        else:
            groups.append("")
            leaves.append(str(c))
    return groups, leaves


def _runs(groups: list[str]) -> list[tuple[str, int, int]]:
    """Consecutive runs of equal group labels: (label, first column, span)."""
    out: list[tuple[str, int, int]] = []
    for i, g in enumerate(groups):
        if out and out[-1][0] == g:
            out[-1] = (g, out[-1][1], out[-1][2] + 1)
        else:
            out.append((g, i, 1))
    return out


# ------------------------------------------------------------------ files

def write_csv(t: Table, folder: Path, simulated: bool) -> Path:
    """``tables/<name>.csv``; a leading ``# SIMULATED DATA`` comment line when simulated
    (read with ``pandas.read_csv(path, comment="#")``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{t.name}.csv"
    text = t.data.to_csv(index=False, float_format="%.10g", lineterminator="\n", na_rep="n/a")
    if simulated:
        text = "# SIMULATED DATA (dataset_description.json \"Simulated\": true)\n" + text
    path.write_text(text, encoding="utf-8")
    return path


def write_machine_csv(name: str, df: pd.DataFrame, folder: Path, simulated: bool) -> Path:
    """``tables/<name>.csv`` written verbatim: every float at full (round-trip) precision, ``NA``
    for missing (R's default), the ``# SIMULATED DATA`` line as in :func:`write_csv`
    (R: ``read.csv(path, comment.char = "#")``)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    text = df.to_csv(index=False, lineterminator="\n", na_rep="NA")
    if simulated:
        text = "# SIMULATED DATA (dataset_description.json \"Simulated\": true)\n" + text
    path.write_text(text, encoding="utf-8")
    return path


_TEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
               NBSP: "~", "\u2018": "`", "\u2019": "'", "\u201c": "``", "\u201d": "''", "\u2212": "-",
               "\u2013": "--", "\u2014": "---", "\u00d7": r"$\times$", "\u2248": r"$\approx$",
               "\u2265": r"$\geq$", "\u2264": r"$\leq$", "<": r"\textless{}", ">": r"\textgreater{}",
               "\u03b1": r"$\alpha$", "\u03b2": r"$\beta$", "\u03b5": r"$\varepsilon$", "\u03b7": r"$\eta$",
               "\u03c3": r"$\sigma$", "\u03c7": r"$\chi$", "\u03bc": r"$\mu$", "\u00b2": r"$^2$",
               "\u2032": r"$'$", "\u00b1": r"$\pm$"}

#: Tables with more columns than this are set in landscape (``lscape``) in LaTeX.
LANDSCAPE_COLUMNS = 8


def tex_escape(s: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(s))


def to_latex(t: Table, simulated: bool) -> str:
    """A booktabs ``table`` with the display strings of ``t``: two header rows when columns are
    grouped, panel rows, footnotes, landscape when wider than :data:`LANDSCAPE_COLUMNS`.

    Needs ``\\usepackage{booktabs,graphicx,lscape,array}``; a table wider than the line
    even so is scaled down to the line width.
    """
    d = _display(t)
    groups, leaves = _levels(d)
    ncol = len(d.columns)
    text_cols = {j for j, c in enumerate(d.columns) if _is_text(d[c])}
    spec = "".join(r">{\raggedright\arraybackslash}p{5.5cm}" if j in text_cols else ("l" if j == 0 else "r")
                   for j in range(ncol))
    landscape = ncol > LANDSCAPE_COLUMNS
    caption = t.caption + (" Simulated data." if simulated else "")
    lines = [f"% {t.name}: generated by python -m analysis.report; "
             "needs \\usepackage{booktabs,graphicx,lscape,array}"]
    if simulated:
        lines.append("% SIMULATED DATA")
    if landscape:
        lines.append("\\begin{landscape}")
    lines += ["\\begin{table}[htbp]", "\\centering", "\\footnotesize" if landscape else "\\small",
              "\\setlength{\\tabcolsep}{3pt}" if landscape else "",
              f"\\caption{{{tex_escape(caption)}}}", f"\\label{{tab:{t.name}}}",
              # shrink to the line width only when wider (graphicx's \\width inside \\resizebox)
              "\\resizebox{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}{!}{%",
              f"\\begin{{tabular}}{{{spec}}}", "\\toprule"]
    lines = [x for x in lines if x != ""]
    if any(groups):
        cells, rules = [], []
        for g, start, span in _runs(groups):
            if g:
                cells.append(f"\\multicolumn{{{span}}}{{c}}{{{tex_escape(g)}}}")
                rules.append(f"\\cmidrule(lr){{{start + 1}-{start + span}}}")
            else:
                cells += [""] * span
        lines += [" & ".join(cells) + " \\\\", " ".join(rules)]
    lines += [" & ".join(tex_escape(c) for c in leaves) + " \\\\", "\\midrule"]
    for i, row in enumerate(d.itertuples(index=False)):
        if i in t.panels:
            if i > 0:
                lines.append("\\midrule")
            lines.append(f"\\multicolumn{{{ncol}}}{{l}}{{\\textit{{{tex_escape(t.panels[i])}}}}} \\\\")
        cells = []
        for c, v in zip(d.columns, row):
            mark = t.marks.get((i, c))
            cells.append(tex_escape(v) + (f"\\textsuperscript{{{tex_escape(mark)}}}" if mark else ""))
        lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}}"]
    if t.notes:
        lines.append("\\par\\smallskip\\parbox{\\linewidth}{\\raggedright\\footnotesize "
                     + " ".join(f"{tex_escape(n)}" for n in t.notes) + "}")
    lines += ["\\end{table}"]
    if landscape:
        lines.append("\\end{landscape}")
    lines.append("")
    return "\n".join(lines)


def write_latex(t: Table, folder: Path, simulated: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{t.name}.tex"
    path.write_text(to_latex(t, simulated), encoding="utf-8")
    return path


# ------------------------------------------------------------------ HTML

_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1200px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}section,details{margin:0 0 1.5em}
.wrap{overflow-x:auto;max-width:100%;margin:.6em 0 1.4em}table{border-collapse:collapse;font-size:.85em;min-width:min(100%,28em)}
table.wide{font-size:.74em}table.wide th,table.wide td{padding:.2em .3em}
th,td{border-bottom:1px solid #ccc;padding:.2em .5em;text-align:right;vertical-align:top}
td.num{white-space:nowrap}td.word{min-width:5em}td.text,th.text{text-align:left;min-width:14em;max-width:40em}
th{border-bottom:2px solid #444;font-weight:600;vertical-align:bottom}th.group{text-align:center;
border-bottom:1px solid #444}td:first-child,th:first-child{text-align:left}tr.panel td{text-align:left;
font-style:italic;font-weight:600;border-bottom:1px solid #444;padding-top:.6em}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}
p.note{font-size:.82em;color:#333;margin:.15em 0;max-width:60em}.sim{background:#b00020;color:#fff;
padding:.7em 1em;font-weight:700;border-radius:4px}figure{margin:1em 0;max-width:100%}img{max-width:100%;height:auto}
figcaption{font-size:.9em;color:#444}pre{background:#f5f5f5;padding:.6em;overflow:auto;font-size:.8em;
white-space:pre-wrap;word-break:break-all}nav{background:#f4f6f8;padding:.5em 1em;border-radius:4px}
nav ol{margin:.2em 0;columns:2}details>summary{cursor:pointer}details>summary h2{display:inline;font-size:1.25em}
sup{line-height:0}.headline{border-left:4px solid #1b6fb5;padding:.2em .8em;background:#f4f8fc}"""


#: HTML tables with more columns than this are set in a smaller font (they may still scroll in their box).
WIDE_COLUMNS = 11


_NUMERIC_CELL = re.compile(r"^[\s\u2212+\-<>\u00a0.\d\[\](),/]*\d[\s\u2212+\-<>\u00a0.\d\[\](),/e]*$|^n/a$")


def _cell_html(v: str, mark: str | None, text: bool) -> str:
    """A cell: long text wraps (class ``text``), numbers never break (class ``num``), words may."""
    sup = f"<sup>{html.escape(mark)}</sup>" if mark else ""
    cls = "text" if text else ("num" if _NUMERIC_CELL.match(str(v)) else "word")
    return f'<td class="{cls}">{html.escape(str(v))}{sup}</td>'


def _html_table(t: Table) -> str:
    d = _display(t)
    groups, leaves = _levels(d)
    text_cols = {c for c in d.columns if _is_text(d[c])}
    wide = " wide" if len(d.columns) > WIDE_COLUMNS else ""
    out = [f'<div class="wrap" id="wrap-{html.escape(t.name)}"><table id="tab-{html.escape(t.name)}"'
           f' class="{("tbl" + wide).strip()}"><caption>{html.escape(t.caption)}</caption><thead>']
    if any(groups):
        out.append("<tr>" + "".join(f'<th colspan="{span}" class="group">{html.escape(g)}</th>' if g else
                                    f'<th colspan="{span}"></th>' for g, _, span in _runs(groups)) + "</tr>")
    out.append("<tr>" + "".join(f'<th class="text">{html.escape(lf)}</th>' if c in text_cols else
                                f"<th>{html.escape(lf)}</th>" for c, lf in zip(d.columns, leaves))
               + "</tr></thead><tbody>")
    if d.empty:
        out.append(f'<tr><td class="word" colspan="{len(d.columns)}">none</td></tr>')
    for i, row in enumerate(d.itertuples(index=False)):
        if i in t.panels:
            out.append(f'<tr class="panel"><td colspan="{len(d.columns)}">{html.escape(t.panels[i])}</td></tr>')
        out.append("<tr>" + "".join(_cell_html(v, t.marks.get((i, c)), c in text_cols)
                                    for c, v in zip(d.columns, row)) + "</tr>")
    out.append("</tbody></table>")
    out += [f'<p class="note">{html.escape(n)}</p>' for n in t.notes]
    out.append("</div>")
    return "\n".join(out)


def _html_blocks(blocks: list) -> list[str]:
    parts = []
    for b in blocks:
        if isinstance(b, str):
            parts.append(f"<p>{html.escape(b)}</p>")
        elif isinstance(b, tuple) and b[0] == "h3":
            anchor = f' id="{html.escape(b[2])}"' if len(b) > 2 else ""
            parts.append(f"<h3{anchor}>{html.escape(b[1])}</h3>")
        elif isinstance(b, tuple) and b[0] == "pre":
            parts.append(f"<pre>{html.escape(b[1])}</pre>")
        elif isinstance(b, tuple) and b[0] == "headline":
            parts.append('<div class="headline"><ul>' + "".join(f"<li>{html.escape(i)}</li>" for i in b[1])
                         + "</ul></div>")
        elif isinstance(b, list):
            parts.append("<ul>" + "".join(f"<li>{html.escape(i)}</li>" for i in b) + "</ul>")
        elif isinstance(b, Table):
            parts.append(_html_table(b))
        elif isinstance(b, Figure):
            data = base64.b64encode(Path(b.png).read_bytes()).decode("ascii")
            parts.append(f'<figure id="fig-{html.escape(b.name)}"><img alt="{html.escape(b.caption)}" '
                         f'src="data:image/png;base64,{data}"><figcaption>{html.escape(b.caption)}'
                         "</figcaption></figure>")
    return parts


def to_html(title: str, sections: list[Section], *, simulated: bool, nav_extra: list[tuple[str, str]] = ()) -> str:
    """Self-contained HTML: inline CSS, figures embedded as base64 PNG, no scripts or external resources.

    Appendix sections are ``<details>`` elements, collapsed by default. ``nav_extra`` adds
    (anchor, label) links to the table of contents (e.g. straight to Table 4).
    """
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
             f"<h1>{html.escape(title)}</h1>"]
    if simulated:
        parts.append(f'<p class="sim">{html.escape(SIMULATED_BANNER)}</p>')
    links = [(s.anchor, ("Appendix: " if s.appendix else "") + s.title) for s in sections] + list(nav_extra)
    parts.append('<nav aria-label="Contents"><strong>Contents</strong><ol>'
                 + "".join(f'<li><a href="#{html.escape(a)}">{html.escape(label)}</a></li>' for a, label in links)
                 + "</ol></nav>")
    for s in sections:
        if s.appendix:
            parts.append(f'<details id="{s.anchor}" class="appendix"><summary><h2>Appendix: {html.escape(s.title)}'
                         "</h2></summary>")
            parts += _html_blocks(s.blocks)
            parts.append("</details>")
        else:
            parts.append(f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>')
            parts += _html_blocks(s.blocks)
            parts.append("</section>")
    if simulated:
        parts.append(f'<p class="sim">{html.escape(SIMULATED_BANNER)}</p>')
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


# ------------------------------------------------------------------ Markdown

def _md_cell(v: str) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def _md_table(t: Table) -> str:
    d = _display(t)
    groups, leaves = _levels(d)
    heads = [f"{g} {lf}".strip() for g, lf in zip(groups, leaves)]
    where = f" (`tables/{t.name}.csv`)" if t.write else ""
    lines = [f"**{t.caption}**{where}", "", "| " + " | ".join(_md_cell(c) for c in heads) + " |",
             "|" + "|".join("---" for _ in heads) + "|"]
    if d.empty:
        lines.append("| " + " | ".join(["none"] + [""] * (len(heads) - 1)) + " |")
    for i, row in enumerate(d.itertuples(index=False)):
        if i in t.panels:
            lines.append("| " + " | ".join([f"*{_md_cell(t.panels[i])}*"] + [""] * (len(heads) - 1)) + " |")
        cells = [_md_cell(v) + (f"<sup>{t.marks[(i, c)]}</sup>" if (i, c) in t.marks else "")
                 for c, v in zip(d.columns, row)]
        lines.append("| " + " | ".join(cells) + " |")
    if t.notes:
        lines += [""] + [f"<sub>{_md_cell(n)}</sub>  " for n in t.notes]
    return "\n".join(lines)


_SLUG_RE = re.compile(r"[^a-z0-9]+")


def to_markdown(title: str, sections: list[Section], *, simulated: bool, figure_dir: str = "figures") -> str:
    """The same content as :func:`to_html` in Markdown; figures link to ``figures/*.png``."""
    parts = [f"# {title}", ""]
    if simulated:
        parts += [f"> **{SIMULATED_BANNER}**", ""]
    for s in sections:
        parts += [f"## {'Appendix: ' if s.appendix else ''}{s.title}", ""]
        for b in s.blocks:
            if isinstance(b, str):
                parts += [b, ""]
            elif isinstance(b, tuple) and b[0] == "h3":
                parts += [f"### {b[1]}", ""]
            elif isinstance(b, tuple) and b[0] == "pre":
                parts += ["```", b[1], "```", ""]
            elif isinstance(b, tuple) and b[0] == "headline":
                parts += [f"> - {i}" for i in b[1]] + [""]
            elif isinstance(b, list):
                parts += [f"- {i}" for i in b] + [""]
            elif isinstance(b, Table):
                parts += [_md_table(b), ""]
            elif isinstance(b, Figure):
                parts += [f"![{b.caption}]({figure_dir}/{Path(b.png).name})", "", f"*{b.caption}*", ""]
    if simulated:
        parts += [f"> **{SIMULATED_BANNER}**", ""]
    return "\n".join(parts)
