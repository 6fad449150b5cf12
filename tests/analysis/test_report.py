"""The report builds on a tiny synthetic BIDS cohort, contains every section, and is reproducible."""

from __future__ import annotations

import dataclasses
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from analysis.batch import process_dataset
from analysis.config import AnalysisConfig
from analysis.errors import EXIT_BAD_INPUT, InputError, run_cli
from analysis.report import build_report, compute_statistics
from analysis.report.__main__ import main as report_main
from analysis.report.inputs import check_stimuli, load_manifest
from tests.analysis.bids_fixture import ARTWORK_CATEGORY, write_bids_dataset

SECTIONS = ["Summary", "Table 4, replicated", "Inferential statistics", "Figures", "Data quality",
            "Notes on the paper's reported values", "Appendix: Data quality per participant",
            "Appendix: Exclusions and missing participants", "Appendix: Checks of the paper's reference values",
            "Appendix: Reproducibility: versions, configuration, input hashes"]
INFERENCE = ("method_tests", "random_effects_selection", "mixed_fixed_effects", "mixed_variance_components",
             "count_dispersion", "crossed_power")
FIGURES = ("artwork_means", "paired_lines", "interaction", "heatmaps", "scanpaths", "quality")


def _trials(duration_s: float = 1.5) -> list[dict]:
    return [{"stimulus_id": f"{a}_{m}", "artwork": a, "category": c, "method": m, "duration_s": duration_s,
             "aoi": (240.0, 112.0, 1040.0, 912.0), "gaze": None}
            for a, c in ARTWORK_CATEGORY.items() for m in ("ours", "pix2pix")]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("cohort") / "raw"
    write_bids_dataset(root, participants=("sub-01", "sub-02", "sub-03", "sub-04"), trials=_trials(), seed=3)
    return root, process_dataset(root, AnalysisConfig(), jobs=1, progress=False)


@pytest.fixture(scope="module")
def report(cohort, tmp_path_factory):
    root, result = cohort
    out = tmp_path_factory.mktemp("report")
    return out, build_report(result, out, data_dir=root, progress=False)


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.h2, self.tables, self.imgs, self._in_h2 = [], [], [], False
        self.external = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "h2":
            self._in_h2 = True
        if tag == "table":
            self.tables.append(a.get("id"))
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag in ("script", "link") or (tag == "img" and not a.get("src", "").startswith("data:")):
            self.external.append(tag)

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2.append(data.strip())


def test_html_parses_and_contains_every_section_table_and_figure(report):
    out, paths = report
    p = _Collector()
    p.feed(paths["html"].read_text(encoding="utf-8"))
    p.close()
    assert p.h2 == SECTIONS
    for t in ("tab-headline", "tab-table4", "tab-method_tests", "tab-random_effects_selection",
              "tab-mixed_fixed_effects", "tab-mixed_variance_components", "tab-count_dispersion", "tab-crossed_power",
              "tab-primary_wilcoxon", "tab-normality", "tab-by_category", "tab-by_artwork", "tab-by_items",
              "tab-rm_anova", "tab-sensitivity", "tab-reference_checks", "tab-input_files", "tab-exclusions",
              "tab-missing_participants", "tab-versions"):
        assert t in p.tables, t
    # the statistics' inference tables in their order, first in "Inferential statistics"
    order = [t for t in p.tables if t in {f"tab-{n}" for n in INFERENCE}]
    assert order == [f"tab-{n}" for n in INFERENCE]
    assert p.tables.index("tab-crossed_power") < p.tables.index("tab-primary_wilcoxon")
    assert len(p.imgs) == len(FIGURES) and all(s.startswith("data:image/png;base64,") for s in p.imgs)
    assert p.external == []


def test_every_output_says_simulated(report):
    out, paths = report
    assert "SIMULATED DATA" in paths["html"].read_text(encoding="utf-8")
    assert "SIMULATED DATA" in paths["md"].read_text(encoding="utf-8")
    for f in paths["tables"]:
        assert "SIMULATED DATA" in f.read_text(encoding="utf-8").splitlines()[0 if f.suffix == ".csv" else 1]


def test_markdown_has_the_same_sections_and_tables(report):
    out, paths = report
    md = paths["md"].read_text(encoding="utf-8")
    assert [line[3:] for line in md.splitlines() if line.startswith("## ")] == SECTIONS
    for name in ("headline", "table4", "method_tests", "mixed_fixed_effects", "rm_anova", "reference_checks"):
        assert f"tables/{name}.csv" in md
    assert "tables/trial_metrics.csv, tables/model_terms.csv" in md
    for stale in ("primary_ttest", "lmm_fixed", "glmm_fixed", "variational", "(VB)", "clustered", "glm_cluster"):
        assert stale not in md, stale


def test_table4_csv_and_latex(report, cohort):
    out, paths = report
    t4 = pd.read_csv(out / "tables" / "table4.csv", comment="#")
    assert len(t4) == 2 * (9 + 3 + 1)
    tm = cohort[1].trial_metrics
    sub = tm[(tm["stimulus_id"] == "david_ours") & ~tm["excluded"]]
    row = t4[(t4["method"] == "ours") & (t4["artwork"] == "david")].iloc[0]
    assert row["fixation_time_s_mean"] == pytest.approx(sub["total_fixation_s"].mean(), rel=1e-8)
    assert row["fixation_count_n"] == len(sub)
    assert row["name"] == "David" and t4.loc[t4["artwork"] == "last_supper", "name"].iloc[0] == \
        "The Last Supper [paper: The last dinner]"
    tex = (out / "tables" / "table4.tex").read_text(encoding="utf-8")
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    notes = pd.read_csv(out / "tables" / "reference_checks.csv", comment="#")
    assert (~notes["consistent"]).sum() >= 5


def test_figures_written_as_png_and_svg(report):
    out, paths = report
    names = {p.name for p in paths["figures"]}
    for stem in FIGURES:
        assert {f"{stem}.png", f"{stem}.svg"} <= names


def test_rerun_gives_byte_identical_outputs(report, cohort, tmp_path):
    out, paths = report
    root, result = cohort
    again = build_report(result, tmp_path, data_dir=root, progress=False)
    for f in paths["tables"] + [paths["md"], paths["html"]] + [p for p in paths["figures"] if p.suffix == ".svg"]:
        rel = f.relative_to(out)
        assert (tmp_path / rel).read_bytes() == f.read_bytes(), rel
    assert len(again["tables"]) == len(paths["tables"])


def test_participant_without_valid_data_is_named_and_kept_out(cohort):
    tm = cohort[1].trial_metrics.copy()
    tm.loc[tm["participant"] == "sub-04", "excluded"] = True
    st = compute_statistics(tm, seed=1)
    assert st.missing["no_valid_data"] == ["sub-04"] and st.missing["complete"] == 3
    assert st.primary["n"].tolist() == [3, 3]
    assert st.lmm is None or st.lmm.n_participants == 3


def test_bad_input_unknown_stimulus_and_manifest_disagreement(cohort, tmp_path):
    tm = cohort[1].trial_metrics
    bad = tm.assign(artwork=tm["artwork"].replace("david", "mona_lisa"))
    with pytest.raises(InputError, match="mona_lisa"):
        check_stimuli(bad, None)
    man = tm[["stimulus_id", "artwork", "category", "method"]].drop_duplicates().assign(file="x.png")
    path = tmp_path / "manifest.csv"
    man.assign(method=man["method"].where(man["stimulus_id"] != "david_ours", "pix2pix")).to_csv(path, index=False)
    with pytest.raises(InputError, match="disagree on the method of 'david_ours'"):
        check_stimuli(tm, load_manifest(path), manifest_path=path)
    man[man["stimulus_id"] != "thinker_ours"].to_csv(path, index=False)
    with pytest.raises(InputError, match="'thinker_ours' in the events is not in the manifest"):
        check_stimuli(tm, load_manifest(path), manifest_path=path)


def test_bad_input_duplicates_and_empty(cohort, tmp_path):
    root, result = cohort
    tm = result.trial_metrics
    dup = pd.concat([tm, tm[tm["participant"] == "sub-01"].assign(session="2")], ignore_index=True)
    with pytest.raises(InputError, match="more than once"):
        build_report(dataclasses.replace(result, trial_metrics=dup), tmp_path, progress=False)
    with pytest.raises(InputError, match="empty dataset"):
        build_report(dataclasses.replace(result, trial_metrics=tm.iloc[0:0]), tmp_path, progress=False)


def test_cli_without_demo_cohort_exits_2_with_the_fix(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_cli(report_main, []) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "demo cohort is missing" in err and "python -m study.simulate --participants 50 --out data/demo" in err
    assert "Traceback" not in err


def test_cli_builds_the_report(cohort, tmp_path, capsys):
    root, _ = cohort
    assert run_cli(report_main, ["--data", str(root), "--out", str(tmp_path / "r"), "--jobs", "1",
                                 "--no-progress"]) == 0
    assert (tmp_path / "r" / "report.html").is_file() and (tmp_path / "r" / "tables" / "table4.csv").is_file()
    out = capsys.readouterr().out                  # the headline result and where the report is
    assert "HEADLINE RESULT (crossed random-effects model) -- SIMULATED DATA" in out
    # the statistics' own headline sentences, one per measure, as in the Summary
    md = Path(tmp_path / "r" / "report.md").read_text(encoding="utf-8")
    for measure in ("total fixation time", "number of fixations"):
        line = [x for x in out.splitlines() if x.startswith(f"  - Ours vs Pix2Pix, {measure}, generalising")]
        assert len(line) == 1 and f"> - {line[0][4:]}" in md
    assert f"Report: {(tmp_path / 'r' / 'report.html').resolve()}" in out
    assert Path(tmp_path / "r" / "report.md").read_text(encoding="utf-8").count("## ") >= len(SECTIONS)


def test_cli_bad_data_and_bad_config_exit_2(tmp_path, capsys):
    assert run_cli(report_main, ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    assert "dataset folder not found" in capsys.readouterr().err
    cfg = tmp_path / "a.toml"
    cfg.write_text("[report]\nalpha = 'x'\n", encoding="utf-8")
    assert run_cli(report_main, ["--config", str(cfg), "--out", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "report.alpha" in err and "Traceback" not in err


def test_report_states_when_no_participant_is_complete(cohort, tmp_path):
    root, result = cohort
    tm = result.trial_metrics.copy()
    tm.loc[tm["stimulus_id"] == "david_ours", "excluded"] = True
    tm.loc[tm["stimulus_id"] == "david_ours", "exclusion_reason"] = "test"
    paths = build_report(dataclasses.replace(result, trial_metrics=tm), tmp_path, data_dir=root, progress=False,
                         parallel=False)
    md = paths["md"].read_text(encoding="utf-8")
    summary = md.split("## Summary", 1)[1].split("## Table 4", 1)[0]
    assert "### Needs more data" in summary
    assert "By-participant paired tests (and min F'): 0 participant(s) with complete data" in summary
    assert "Complete participants: 0 of 4" in md
    stats = md.split("## Inferential statistics", 1)[1].split("## Figures", 1)[0]
    assert "paired t, by participants" not in stats and "tables/by_category.csv" not in stats
    assert "crossed mixed model" in stats                  # the mixed models use every included trial


def _write_generating_parameters(root: Path, rows: list[dict]) -> Path:
    path = root / "derivatives" / "ground_truth" / "generating_parameters.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return path


def test_report_says_what_the_simulator_did_with_implausible_targets(cohort, tmp_path):
    root, result = cohort
    rows = [{"stimulus_id": "david_pix2pix", "paper_fixation_time_s": 8.69, "paper_fixation_count": 5,
             "paper_mean_fixation_s": 1.738, "target_fixation_time_s": 8.69, "target_fixation_count": 14.48,
             "target_handling": "capped_mean_fixation",
             "note": "paper mean fixation 1.738 s > 0.6 s: time kept, count raised to 14.48"},
            {"stimulus_id": "david_ours", "paper_fixation_time_s": 18.83, "paper_fixation_count": 92,
             "paper_mean_fixation_s": 0.2047, "target_fixation_time_s": 18.83, "target_fixation_count": 92,
             "target_handling": "as_paper", "note": "in manifest"}]
    sim_root = tmp_path / "raw"
    shutil.copytree(root, sim_root)
    _write_generating_parameters(sim_root, rows)
    paths = build_report(result, tmp_path / "out", data_dir=sim_root, progress=False)
    md = paths["md"].read_text(encoding="utf-8")
    assert "## Appendix: Simulation targets" in md
    assert "1 of 2 cells were simulated as printed" in md
    # the deviation the simulator caused is footnoted at the count difference of David, Pix2Pix ...
    david = [line for line in md.splitlines() if line.startswith("| David |")]
    assert len(david) == 2 and "<sup>" not in david[0]
    cells = [c.strip() for c in david[1].strip("|").split("|")]
    assert cells[8].endswith("<sup>a</sup>") and "<sup>" not in "".join(cells[:8])
    assert ("a The simulator did not use the paper's value for David, Pix2Pix: paper mean fixation 1.738 s > "
            "0.6 s: time kept, count raised to 14.48") in md
    # ... in the HTML and the LaTeX too
    html = paths["html"].read_text(encoding="utf-8")
    assert "<sup>a</sup></td>" in html and html.count("<sup>") == 1
    tex = (tmp_path / "out" / "tables" / "table4.tex").read_text(encoding="utf-8")
    assert tex.count("\\textsuperscript{a}") == 1 and "The simulator did not use" in tex
    assert (tmp_path / "out" / "tables" / "simulation_targets.csv").is_file()


def test_malformed_simulation_parameters_are_a_clear_error(cohort, tmp_path):
    root, result = cohort
    sim_root = tmp_path / "raw"
    shutil.copytree(root, sim_root)
    path = _write_generating_parameters(sim_root, [{"stimulus_id": "david_ours", "handling": "?"}])
    with pytest.raises(InputError) as err:
        build_report(result, tmp_path / "out", data_dir=sim_root, progress=False)
    assert str(path) in str(err.value) and "target_handling" in str(err.value)


class _Cells(HTMLParser):
    """Every table of an HTML page as (id, leaf headers, rows of cell texts)."""

    def __init__(self):
        super().__init__()
        self.tables, self._cell, self._row, self._in_thead = [], None, None, False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.tables.append({"id": a.get("id"), "head": [], "rows": []})
        elif tag == "thead":
            self._in_thead = True
        elif tag == "tr":
            self._row = []
        elif tag in ("th", "td"):
            self._cell = [] if a.get("class") != "group" and "colspan" not in a else None

    def handle_endtag(self, tag):
        if tag == "thead":
            self._in_thead = False
        elif tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
        elif tag == "tr" and self._row is not None and self.tables:
            if self._in_thead and self._row:
                self.tables[-1]["head"] = self._row
            elif not self._in_thead and self._row:
                self.tables[-1]["rows"].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def test_headers_are_words_counts_integers_and_p_values_apa(report):
    out, paths = report
    p = _Cells()
    p.feed(paths["html"].read_text(encoding="utf-8"))
    assert len(p.tables) >= 15
    apa = re.compile(r"^(n/a|<\u00a0\.001|>\u00a0\.999|\.\d{3})$")
    seen_p = seen_n = 0
    for t in p.tables:
        for h in t["head"]:
            assert "_" not in h and h.strip(), (t["id"], h)             # words, not code names
        for j, h in enumerate(t["head"]):
            col = [r[j] for r in t["rows"] if len(r) == len(t["head"])]
            if h == "p" or h.startswith("p (") or h.endswith(" p") or h.startswith("Wilcoxon p"):
                seen_p += 1
                assert all(apa.match(v) for v in col), (t["id"], h, col)
            if h in ("n", "Trials", "Excluded trials", "Zero differences", "df, effect", "df, error"):
                seen_n += 1
                assert all(re.fullmatch(r"\d+( / \d+)?|n/a", v) for v in col), (t["id"], h, col)
        for row in t["rows"]:                                              # no numpy reprs anywhere
            assert not any("np.float" in v or "nan" == v for v in row), (t["id"], row)
    assert seen_p >= 5 and seen_n >= 5


def test_summary_comes_first_with_the_headline_and_table4_right_after(report):
    out, paths = report
    md = paths["md"].read_text(encoding="utf-8")
    heads = [line for line in md.splitlines() if line.startswith("## ")]
    assert heads[:2] == ["## Summary", "## Table 4, replicated"]
    summary = md.split("## Summary", 1)[1].split("## Table 4", 1)[0]
    assert "### Headline result (crossed random-effects model)" in summary
    assert "Ours vs Pix2Pix, total fixation time, generalising over participants and artworks: time ratio" in summary
    assert "Ours vs Pix2Pix, number of fixations, generalising over participants and artworks: rate ratio" in summary
    assert "Average over the nine artworks" in summary and "(`tables/headline.csv`)" in summary
    assert "4 participant(s) registered, 4 with data" in summary
    head = pd.read_csv(out / "tables" / "headline.csv", comment="#")
    assert list(head["measure"]) == ["fixation_time_s", "fixation_count"] and set(head["scale"]) == {"ratio"}
    html = paths["html"].read_text(encoding="utf-8")
    assert html.index('id="tab-table4"') < html.index('id="tab-input_files"')
    assert html.count("<details") == sum(1 for h in SECTIONS if h.startswith("Appendix"))
    versions = pd.read_csv(out / "tables" / "versions.csv", comment="#")
    commit = versions.set_index("package").at["artgaze git commit", "version"]
    assert re.fullmatch(r"[0-9a-f]{40}( \+ uncommitted changes)?|unknown \(.*\)", commit)


def test_registered_participants_without_data_are_listed_with_the_reason(cohort, tmp_path):
    root, _ = cohort
    raw = tmp_path / "raw"
    shutil.copytree(root, raw)
    with (raw / "participants.tsv").open("a", encoding="utf-8") as f:
        f.write("sub-05" + "\tn/a" * (len((raw / "participants.tsv").read_text().splitlines()[0].split("\t")) - 1)
                + "\n")
    result = process_dataset(raw, AnalysisConfig(), jobs=1, progress=False)
    paths = build_report(result, tmp_path / "out", data_dir=raw, progress=False, parallel=False)
    md = paths["md"].read_text(encoding="utf-8")
    why = "no data: listed in participants.tsv but the folder sub-05/ is missing"
    assert f"5 participant(s) registered, 4 with data (1 missing: sub-05: {why})" in md
    assert "4 of 5 participant(s) with complete data" in md and "Complete participants: 4 of 5" in md
    assert f"Registered participants without data: sub-05 ({why})." in md
    missing = pd.read_csv(tmp_path / "out" / "tables" / "missing_participants.csv", comment="#")
    assert missing.to_dict("records") == [{"participant": "sub-05", "reason": why}]


def test_the_statistics_contract_headline_inference_machine_tables_and_not_run(cohort, tmp_path, monkeypatch):
    import analysis.report.build as build

    root, result = cohort
    terms = pd.DataFrame({"measure": ["fixation_time_s"], "term": ["methodours"], "estimate": [0.1 + 0.2],
                          "p_value": [0.0123456789012345]})

    def fake(tm, **kw):
        st = compute_statistics(tm, **kw)
        st.headline = pd.DataFrame({"measure": ["fixation_time_s"], "estimate": [0.4], "df": [12.34],
                                    "p_value": [0.00029]})
        st.sentences = {k: v for k, v in st.sentences.items() if not k.startswith("headline_")}
        st.sentences["headline_fixation_time_s"] = "HEADLINE SENTENCE t(12.3) = 5.04, p < .001."
        st.inference = [("crossed_models", "Crossed random-effects models (Satterthwaite df)", terms)]
        st.machine_tables = {"model_terms": terms}
        st.not_run = ["Power simulation: needs at least 2 artworks."]
        return st

    monkeypatch.setattr(build, "compute_statistics", fake)
    paths = build_report(result, tmp_path / "out", data_dir=root, progress=False, parallel=False)
    md = paths["md"].read_text(encoding="utf-8")
    summary = md.split("## Summary", 1)[1].split("## Table 4", 1)[0]
    assert "### Headline result (crossed random-effects model)" in summary and "HEADLINE SENTENCE" in summary
    assert "### Needs more data" in summary and "Power simulation: needs at least 2 artworks." in summary
    stats = md.split("## Inferential statistics", 1)[1].split("## Figures", 1)[0]
    assert "Crossed random-effects models (Satterthwaite df)" in stats and "primary_ttest" not in stats
    assert "| 12.34 |" in summary and "| < .001 |" in summary.replace("\u00a0", " ")
    # machine-readable tables verbatim: every digit kept
    text = (tmp_path / "out" / "tables" / "model_terms.csv").read_text(encoding="utf-8")
    assert "0.30000000000000004" in text and "0.0123456789012345" in text
    assert pd.read_csv(tmp_path / "out" / "tables" / "model_terms.csv", comment="#")["estimate"].iloc[0] == 0.1 + 0.2
    assert paths["headline"] == ["HEADLINE SENTENCE t(12.3) = 5.04, p < .001."]


def test_terminal_prints_the_headline_and_where_the_report_is(tmp_path):
    from analysis.report.__main__ import terminal_summary

    paths = {"html": tmp_path / "r" / "report.html", "md": tmp_path / "r" / "report.md", "tables": [1, 2],
             "figures": [1], "headline": ["Ours vs Pix2Pix, number of fixations, ..."],
             "headline_kind": "crossed random-effects model"}
    out = terminal_summary(paths, simulated=True)
    assert "HEADLINE RESULT (crossed random-effects model) -- SIMULATED DATA" in out
    assert "  - Ours vs Pix2Pix, number of fixations, ..." in out
    assert f"Report: {(tmp_path / 'r' / 'report.html').resolve()}" in out and "file://" in out


def _tex_rows(tex: str) -> tuple[int, list[str]]:
    spec = re.search(r"\\begin\{tabular\}\{(.*)\}\n", tex).group(1)
    bare = re.sub(r">\{[^}]*\}", "", spec)
    ncol = len(re.findall(r"p\{[^}]*\}", bare)) + len(re.sub(r"p\{[^}]*\}", "", bare))
    body = tex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    rows = [r for r in body.split("\\\\\n") if r.strip() and "\\multicolumn" not in r]
    return ncol, [r for r in rows if r.strip() != "\\midrule"]


def test_table4_tex_is_well_formed_booktabs_in_landscape(report):
    out, _ = report
    tex = (out / "tables" / "table4.tex").read_text(encoding="utf-8")
    for env in ("landscape", "table", "tabular"):
        assert tex.count(f"\\begin{{{env}}}") == tex.count(f"\\end{{{env}}}") == 1, env
    assert tex.index("\\toprule") < tex.index("\\midrule") < tex.index("\\bottomrule")
    assert "\\cmidrule(lr){2-5} \\cmidrule(lr){6-9}" in tex            # one header group per measure
    ncol, rows = _tex_rows(tex)
    assert ncol == 10 and len(rows) == 2 * 13
    for r in rows:
        assert r.replace("\\&", "").count("&") == ncol - 1, r
    assert "Ours (asymmetric CycleGAN)" in tex and "Pix2Pix" in tex          # the two panels


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine (apt-get install texlive-latex-base "
                                                            "texlive-latex-recommended)")
def test_every_tex_table_compiles_and_fits_the_page(report, tmp_path):
    import subprocess

    out, _ = report
    doc = tmp_path / "doc.tex"
    inputs = "".join(f"\\input{{{f.as_posix()}}}\\clearpage\n" for f in sorted((out / "tables").glob("*.tex")))
    assert "table4.tex" in inputs and inputs.count("\\input") >= 15
    doc.write_text("\\documentclass{article}\n\\usepackage{booktabs,graphicx,lscape,array}\n\\begin{document}\n"
                   + inputs + "\\end{document}\n", encoding="utf-8")
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-2000:]
    assert "Overfull \\hbox" not in log and "Overfull \\vbox" not in log        # nothing sticks out of the page
    assert (tmp_path / "doc.pdf").stat().st_size > 0


def test_heatmaps_count_the_fixations_table4_counts_less_the_onset_fixation(cohort):
    from analysis import figures as figs
    from analysis.aggregate import included
    from analysis.report.build import _trial_onsets

    root, result = cohort
    tm, fx = result.trial_metrics, result.fixations
    keys = ["participant", "session", "trial"]
    inc = included(tm)[keys].drop_duplicates().astype(str)
    fx = fx.assign(**{k: fx[k].astype(str) for k in keys}).merge(inc, on=keys)
    every, none_dropped = figs.heatmap_fixations(fx, None)
    counts = included(tm).groupby("stimulus_id")["fixation_count"].sum()
    assert none_dropped == 0
    assert every.groupby("stimulus_id").size().reindex(counts.index).tolist() == counts.tolist()
    onsets = _trial_onsets(root)                       # from the events' tracker_onset_us
    assert len(onsets) == len(inc)
    assert figs.heatmap_fixations(fx, onsets)[1] == 0  # the fixture ends each fixation with its segment
    # make the first fixation of every trial begin 0.1 s before the stimulus (carried over from the cross)
    fx = fx.sort_values(keys + ["onset_s"]).reset_index(drop=True)
    first = ~fx.duplicated(keys)
    on = fx[keys].merge(onsets.assign(**{k: onsets[k].astype(str) for k in keys}), on=keys, how="left")["onset_s"]
    fx.loc[first, "onset_s"] = on[first].to_numpy() - 0.1
    shown, dropped = figs.heatmap_fixations(fx, onsets)
    assert dropped == first.sum() == len(inc) and len(shown) == len(every) - dropped


_REFIT_R = r"""
suppressMessages({library(lme4); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(file.path(args[1], "trial_metrics.csv"), comment.char = "#")
mt <- read.csv(file.path(args[1], "model_terms.csv"), comment.char = "#")
for (m in c("fixation_time_s", "fixation_count")) {
  u <- mt[mt$measure == m & grepl("used", mt$model), ]
  f <- as.formula(u$formula[1])
  fit <- if (u$family[1] == "gaussian") lmerTest::lmer(f, data = d, REML = TRUE) else
    glmer(f, data = d, family = poisson)
  co <- summary(fit)$coefficients
  cat(m, sprintf("%.10g", co["method_code", 1]), sprintf("%.10g", co["method_code", 2]), "\n")
}
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R not installed (apt-get install r-base-core "
                                                             "r-cran-lme4 r-cran-lmertest)")
def test_model_terms_refit_in_r_from_the_written_csv_files(report, tmp_path):
    """The issue's contract: tables/model_terms.csv has the asked columns and its formula refits in lme4
    on tables/trial_metrics.csv (both with the '# SIMULATED DATA' first line) to the same estimate."""
    import subprocess

    out, _ = report
    terms = pd.read_csv(out / "tables" / "model_terms.csv", comment="#")
    assert list(terms.columns) == ["measure", "model", "formula", "family", "term", "estimate", "std_error", "df",
                                   "statistic", "p_value", "ci_low", "ci_high"]
    assert (out / "tables" / "trial_metrics.csv").read_text(encoding="utf-8").startswith("# SIMULATED DATA")
    script = tmp_path / "refit.R"
    script.write_text(_REFIT_R, encoding="utf-8")
    run = subprocess.run(["Rscript", str(script), str(out / "tables")], capture_output=True, text=True, timeout=300)
    if "there is no package called" in run.stderr:
        pytest.skip("R lacks lme4/lmerTest: " + run.stderr.strip().splitlines()[-1])
    assert run.returncode == 0, run.stderr
    got = {line.split()[0]: (float(line.split()[1]), float(line.split()[2])) for line in run.stdout.splitlines()}
    for measure, tol in (("fixation_time_s", 1e-6), ("fixation_count", 1e-4)):
        used = terms[(terms["measure"] == measure) & terms["model"].str.contains("used")
                     & (terms["term"] == "method_code")].iloc[0]
        est, se = got[measure]
        assert est == pytest.approx(used["estimate"], abs=tol) and se == pytest.approx(used["std_error"], rel=1e-3)
