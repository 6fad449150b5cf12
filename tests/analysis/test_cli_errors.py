"""Issue 11: every analysis command gives a clear exit-2 message or a correct result.

Each case runs a CLI in a subprocess (or calls ``main`` through ``run_cli``) and checks the exit
code, that no traceback is printed, and the message's file, line/column and expectation.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from analysis.config import load_config
from analysis.errors import InputError, check_output_dir, check_output_file, run_cli
from tests.analysis.bids_fixture import simple_signal, write_bids_session, write_plain_table

ROOT = Path(__file__).resolve().parents[2]
TRIALS = [{"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
           "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None}]


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


def _exit2(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    return r.stderr


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ds") / "raw"
    write_bids_session(root, "sub-01", trials=TRIALS, instructions_s=0.2, cross_s=0.1, blank_s=0.1)
    return root


@pytest.fixture
def plain(tmp_path) -> Path:
    return write_plain_table(tmp_path / "g.tsv", signal=simple_signal())["path"]


# -------------------------------------------------------------------- outputs checked before the work


@pytest.mark.parametrize("command", ["analysis.report", "analysis.metrics"])
def test_out_naming_a_file_is_refused_before_any_work(tmp_path, dataset, command):
    target = tmp_path / "taken"
    target.write_text("a file the user keeps\n")
    args = [command, "--data", str(dataset), "--out", str(target), "--jobs", "1", "--no-progress"]
    err = _exit2(_cli(*args, cwd=tmp_path))
    assert "--out names a file, not a folder" in err and str(target) in err
    assert "sessions" not in err  # refused before the progress bar / processing started
    assert target.read_text() == "a file the user keeps\n"


def test_out_below_a_file_is_refused(tmp_path, dataset):
    (tmp_path / "f").write_text("x")
    err = _exit2(_cli("analysis.metrics", "--data", str(dataset), "--out", str(tmp_path / "f" / "deriv"),
                      "--no-progress", cwd=tmp_path))
    assert "is a file, not a folder" in err


def test_fixations_out_is_checked_first(tmp_path, plain):
    err = _exit2(_cli("analysis.fixations", str(plain), "--out", str(tmp_path), "--format", "plain",
                      "--screen-px", "1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "650",
                      "--rate", "60", cwd=tmp_path))
    assert "--out names a folder, not a file" in err


def test_check_output_helpers(tmp_path):
    assert check_output_dir(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing is created by the check
    assert check_output_file(tmp_path / "x.tsv") == tmp_path / "x.tsv"
    (tmp_path / "file").write_text("")
    with pytest.raises(InputError, match="names a file"):
        check_output_dir(tmp_path / "file")
    with pytest.raises(InputError, match="names a folder"):
        check_output_file(tmp_path, "--labels")


def test_data_naming_a_file(tmp_path):
    (tmp_path / "d").write_text("")
    for command in ("analysis.report", "analysis.metrics"):
        err = _exit2(_cli(command, "--data", str(tmp_path / "d"), "--out", str(tmp_path / "o"), cwd=tmp_path))
        assert "--data names a file, not the dataset folder" in err


# -------------------------------------------------------------------- geometry flags


@pytest.mark.parametrize("flags", [
    ["--screen-px", "0", "0", "--screen-mm", "0", "0", "--distance-mm", "0"],
    ["--screen-px", "1280", "1024", "--screen-mm", "nan", "nan", "--distance-mm", "650"],
    ["--screen-px", "1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "0.001"],
    ["--screen-px", "-1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "650"],
])
def test_geometry_flags_are_refused_like_sidecars(tmp_path, plain, flags):
    err = _exit2(_cli("analysis.fixations", str(plain), "--out", str(tmp_path / "f.tsv"), "--format", "plain",
                      "--rate", "60", *flags, cwd=tmp_path))
    assert "implausible values in the screen geometry" in err
    assert "expected: resolution 16..32768 px" in err
    assert not (tmp_path / "f.tsv").exists()


def test_partial_geometry_flags_are_checked(tmp_path, plain):
    from analysis.fixations.__main__ import main

    code = run_cli(main, [str(plain), "--out", str(tmp_path / "f.tsv"), "--screen-mm", "0", "0",
                          "--distance-mm", "0"])
    assert code == 2


def test_a_negative_resolution_is_named_as_such_not_as_a_gaze_coordinate(tmp_path, plain, capsys):
    from analysis.fixations.__main__ import main

    code = run_cli(main, [str(plain), "--out", str(tmp_path / "f.tsv"), "--format", "plain", "--rate", "60",
                          "--screen-px", "-1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "650"])
    err = capsys.readouterr().err
    assert code == 2 and "resolution width -1280 px" in err and "gaze coordinate" not in err


def test_plain_time_unit_flag_is_named(tmp_path):
    p = write_plain_table(tmp_path / "g.tsv", signal=simple_signal(), time_unit="ms")["path"]
    err = _exit2(_cli("analysis.fixations", str(p), "--out", str(tmp_path / "f.tsv"), "--format", "plain",
                      "--rate", "60", "--screen-px", "1280", "1024", "--screen-mm", "338", "270",
                      "--distance-mm", "650", cwd=tmp_path))
    assert "seem to be in milliseconds, not seconds" in err and "--time-unit ms" in err


# -------------------------------------------------------------------- analysis config


def _config(tmp_path, data: bytes) -> Path:
    p = tmp_path / "analysis.toml"
    p.write_bytes(data)
    return p


def test_latin1_config_names_line_and_column(tmp_path):
    p = _config(tmp_path, "[ivt]\n# vélocité\nvelocity_threshold_deg_s = 30\n".encode("latin-1"))
    with pytest.raises(InputError) as e:
        load_config(p)
    assert e.value.file == p and e.value.line == 2 and e.value.column == "4"
    assert "not UTF-8" in e.value.problem and "UTF-8" in e.value.fix


def test_latin1_config_through_the_report_cli(tmp_path):
    p = _config(tmp_path, "[report]\n# café\nseed = 1\n".encode("latin-1"))
    err = _exit2(_cli("analysis.report", "--config", str(p), "--out", str(tmp_path / "r"), cwd=tmp_path))
    assert f"{p}, line 2" in err


@pytest.mark.parametrize("text, column", [
    (b"[ivt]\nvelocity_threshold_deg_s = nan\n", "ivt.velocity_threshold_deg_s"),
    (b"[idt]\ndispersion_deg = inf\n", "idt.dispersion_deg"),
    (b"[report]\nseed = -1\n", "report.seed"),
    (b"[ivt]\nnoise_reduction = \"median\"\nnoise_window_samples = 4\n", "ivt.noise_window_samples"),
    (b"[ivt]\nmerge_max_angle_deg = -1.0\n", "ivt.merge_max_angle_deg"),
])
def test_config_values_are_checked_on_load_naming_the_file(tmp_path, text, column):
    p = _config(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_config(p)
    assert e.value.file == p and e.value.column == column


def test_config_syntax_error_has_line_and_column(tmp_path):
    p = _config(tmp_path, b"[ivt]\nvelocity_threshold_deg_s = = 3\n")
    with pytest.raises(InputError) as e:
        load_config(p)
    assert e.value.line == 2 and e.value.column is not None and "at line" not in e.value.problem


def test_config_folder(tmp_path):
    with pytest.raises(InputError, match="folder"):
        load_config(tmp_path)


def test_bad_input_table_lists_every_case():
    """docs/bad-input.md is generated from docs/make_bad_input_table.py: every case has its row."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_bad_input_table", ROOT / "docs" / "make_bad_input_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    table = (ROOT / "docs" / "bad-input.md").read_text(encoding="utf-8")
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| case")]
    assert len(rows) == len(mod.CASES)
    for (case, _), row in zip(mod.CASES, rows):
        assert row.startswith(f"| {mod._cell(case)} |")
        assert "Traceback" not in row and "np.float" not in row


def test_one_bad_input_case_runs_as_documented(tmp_path):
    """The generator's own runner on one case gives the documented exit code and message."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_bad_input_table", ROOT / "docs" / "make_bad_input_table.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    case, build = next(c for c in mod.CASES if "trial 1 twice" in c[0])
    command, code, message = mod.run_case(build)
    row = next(line for line in (ROOT / "docs" / "bad-input.md").read_text().splitlines()
               if line.startswith(f"| {mod._cell(case)} |"))
    assert code == 2 and f"| {code} | {mod._cell(message)} |" in row


# -------------------------------------------------------------------- report inputs


def test_manifest_that_is_not_utf8_or_malformed(tmp_path):
    from analysis.report.inputs import load_manifest

    p = tmp_path / "manifest.csv"
    p.write_bytes("stimulus_id,artwork,category,method,file\ndavid_ours,david,sculpture,ours,café.png\n"
                  .encode("latin-1"))
    with pytest.raises(InputError) as err:
        load_manifest(p)
    assert err.value.file == p and err.value.line == 2 and "not UTF-8" in err.value.problem
    p.write_text('stimulus_id,artwork,category,method,file\n"david_ours,david\n')
    with pytest.raises(InputError, match="malformed"):
        load_manifest(p)


def test_inconsistent_stimulus_labels_name_the_sessions():
    import pandas as pd

    from analysis.report.inputs import check_stimuli

    tm = pd.DataFrame({"participant": ["sub-01", "sub-02"], "session": ["1", "1"],
                       "stimulus_id": ["david_ours", "david_ours"], "artwork": ["david", "david"],
                       "category": ["sculpture", "sculpture"], "method": ["ours", "pix2pix"],
                       "total_fixation_s": [1.0, 1.0], "fixation_count": [3, 3], "excluded": [False, False]})
    with pytest.raises(InputError) as err:
        check_stimuli(tm, None)
    assert "first in sub-01/ses-1" in err.value.problem and "first in sub-02/ses-1" in err.value.problem


def test_metrics_out_into_the_raw_dataset_is_refused(tmp_path, dataset):
    import shutil

    root = tmp_path / "raw"
    shutil.copytree(dataset, root)
    before = (root / "dataset_description.json").read_bytes()
    for out in (root, root / "."):
        err = _exit2(_cli("analysis.metrics", "--data", str(root), "--out", str(out), "--no-progress", cwd=tmp_path))
        assert "--out is a raw dataset" in err
    assert (root / "dataset_description.json").read_bytes() == before
    # a derivatives folder of an earlier run may be written again
    r = _cli("analysis.metrics", "--data", str(root), "--out", str(tmp_path / "d"), "--jobs", "1", "--no-progress",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = _cli("analysis.metrics", "--data", str(root), "--out", str(tmp_path / "d"), "--jobs", "1", "--no-progress",
             cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_fixations_labels_and_out_must_differ(tmp_path, plain):
    from analysis.fixations.__main__ import main

    code = run_cli(main, [str(plain), "--out", str(tmp_path / "f.tsv"), "--labels", str(tmp_path / "f.tsv"),
                          "--format", "plain", "--rate", "60", "--screen-px", "1280", "1024", "--screen-mm", "338",
                          "270", "--distance-mm", "650"])
    assert code == 2 and not (tmp_path / "f.tsv").exists()


def test_report_manifest_folder(tmp_path, dataset):
    err = _exit2(_cli("analysis.report", "--data", str(dataset), "--manifest", str(tmp_path), "--out",
                      str(tmp_path / "r"), cwd=tmp_path))
    assert "--manifest names a folder" in err
