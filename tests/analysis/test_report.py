"""The report builds on a tiny synthetic BIDS cohort, contains every section, and is reproducible."""

from __future__ import annotations

import dataclasses
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
    for t in ("tab-table4", "tab-primary_ttest", "tab-primary_wilcoxon", "tab-by_category", "tab-by_artwork",
              "tab-by_items", "tab-rm_anova", "tab-lmm_fixed", "tab-glmm_fixed", "tab-sensitivity",
              "tab-reference_checks", "tab-input_files", "tab-exclusions", "tab-versions"):
        assert t in p.tables
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
    for name in ("table4", "primary_ttest", "rm_anova", "lmm_fixed", "reference_checks"):
        assert f"tables/{name}.csv" in md


def test_table4_csv_and_latex(report, cohort):
    out, paths = report
    t4 = pd.read_csv(out / "tables" / "table4.csv", comment="#")
    assert len(t4) == 2 * (9 + 3 + 1)
    tm = cohort[1].trial_metrics
    sub = tm[(tm["stimulus_id"] == "david_ours") & ~tm["excluded"]]
    row = t4[(t4["method"] == "ours") & (t4["artwork"] == "david")].iloc[0]
    assert row["fixation_time_s_mean"] == pytest.approx(sub["total_fixation_s"].mean(), rel=1e-8)
    assert row["fixation_count_n"] == len(sub)
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
    assert Path(tmp_path / "r" / "report.md").read_text(encoding="utf-8").count("## ") >= len(SECTIONS)


def test_cli_bad_data_and_bad_config_exit_2(tmp_path, capsys):
    assert run_cli(report_main, ["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    assert "dataset folder not found" in capsys.readouterr().err
    cfg = tmp_path / "a.toml"
    cfg.write_text("[report]\nalpha = 'x'\n", encoding="utf-8")
    assert run_cli(report_main, ["--config", str(cfg), "--out", str(tmp_path / "r")]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "report.alpha" in err and "Traceback" not in err


def test_vb_caution_when_vb_interval_is_much_narrower():
    from analysis.report.build import _vb_caution
    from analysis.stats import MixedResult

    def res(w_vb, w_glm):
        fixed = pd.DataFrame({"model": ["glmm_vb", "glm_cluster2"], "term": ["method[ours - pix2pix]"] * 2,
                              "ci_low": [1.0 - w_vb / 2, 1.0 - w_glm / 2], "ci_high": [1.0 + w_vb / 2, 1.0 + w_glm / 2]})
        return MixedResult(model="m", fixed=fixed, variance=pd.DataFrame(), converged=True)

    assert "10.0 times narrower" in _vb_caution(res(0.05, 0.5))
    assert _vb_caution(res(0.4, 0.5)) == ""


def test_report_states_when_no_participant_is_complete(cohort, tmp_path):
    root, result = cohort
    tm = result.trial_metrics.copy()
    tm.loc[tm["stimulus_id"] == "david_ours", "excluded"] = True
    tm.loc[tm["stimulus_id"] == "david_ours", "exclusion_reason"] = "test"
    paths = build_report(dataclasses.replace(result, trial_metrics=tm), tmp_path, data_dir=root, progress=False,
                         parallel=False)
    md = paths["md"].read_text(encoding="utf-8")
    assert "NOT COMPUTED: no participant has complete data" in md
    assert "Complete participants: 0 of 4" in md


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
