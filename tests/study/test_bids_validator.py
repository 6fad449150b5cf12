"""The datasets the study writes pass the BIDS schema validator (bids-validator-deno, the external oracle)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from analysis.io import read_recording
from study.session import run_session

#: What a lab fills in under [dataset] (test values; the defaults leave these keys out).
DATASET_TOML = """
[dataset]
authors = ["A. Author", "B. Author"]
license = "CC0-1.0"
funding = ["Test grant 1"]
ethics_approvals = ["Test ethics board, approval 1"]
cogatlas_id = "https://www.cognitiveatlas.org/task/id/trm_test"
cogpo_id = "http://www.cogpo.org/ontologies/CogPOver1.owl#COGPO_00000"
institution_name = "Test University"
institution_address = "1 Test Street, Test City"
institution_department = "Department of Testing"
head_stabilization = "chin-rest"
"""


def _validator() -> str:
    exe = shutil.which("bids-validator-deno") or str(Path(sys.executable).with_name("bids-validator-deno"))
    if not Path(exe).is_file():
        pytest.fail("bids-validator-deno is not installed: pip install -e '.[dev]' (docs/bids-validation.md)")
    return exe


def validate(root: Path) -> Counter:
    """Run the schema validator; issue counts by (severity, code, subCode)."""
    done = subprocess.run([_validator(), str(root), "--format", "json"], capture_output=True, text=True, timeout=300)
    report = json.loads(done.stdout)
    issues = report["issues"]["issues"]
    assert (done.returncode == 0) == (not any(i["severity"] == "error" for i in issues)), done.stderr
    return Counter((i["severity"], i["code"], i.get("subCode")) for i in issues)


def test_a_recorded_dataset_passes_the_validator_with_only_the_unavoidable_warning(fast_config, manifest, tmp_path):
    cfg = tmp_path / "lab.toml"
    cfg.write_text(fast_config.read_text() + DATASET_TOML)
    root = tmp_path / "raw"
    run_session(cfg, "sub-05", 1, data_root=root, manifest=manifest)
    run_session(cfg, "sub-06", 1, data_root=root, manifest=manifest)
    issues = validate(root)
    assert [k for k in issues if k[0] == "error"] == []
    # the one warning left: SourceDatasets, for datasets derived from other BIDS datasets (this one is not)
    assert set(issues) == {("warning", "JSON_KEY_RECOMMENDED", "SourceDatasets")}, issues
    dd = json.loads((root / "dataset_description.json").read_text())
    assert dd["Authors"] == ["A. Author", "B. Author"] and dd["License"] == "CC0-1.0" and dd["HEDVersion"] == "8.3.0"
    assert (root / ".bidsignore").read_text() == "*_checksums.sha256\n"
    assert (root / "README").read_text().startswith("Eye tracking of AI-reconstructed artworks")
    # every stim_file is a file under stimuli/, byte-identical to the presented image
    for sub in ("sub-05", "sub-06"):
        ev = pd.read_csv(next((root / sub / "ses-1" / "beh").glob("*_events.tsv")), sep="\t", dtype=str,
                         keep_default_na=False)
        names = set(ev["stim_file"]) - {"n/a"}
        assert "practice.png" in names and len(names) == 3
        for name in names - {"practice.png"}:
            assert (root / "stimuli" / name).read_bytes() == (manifest.parent / name).read_bytes()
        # the analysis still reads the new layout
        assert len(read_recording(root / sub / "ses-1", verify=True).trials) == 2


def test_the_default_metadata_leaves_only_warnings_a_lab_removes_in_its_config(fast_config, manifest, tmp_path):
    root = tmp_path / "raw"
    run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    issues = validate(root)
    assert [k for k in issues if k[0] == "error"] == []
    by_config = {("warning", "JSON_KEY_RECOMMENDED", "License"), ("warning", "NO_AUTHORS", "Authors"),
                 ("warning", "TOO_FEW_AUTHORS", None),
                 *{("warning", "SIDECAR_KEY_RECOMMENDED", k) for k in (
                     "CogAtlasID", "CogPOID", "InstitutionName", "InstitutionAddress", "InstitutionalDepartmentName")}}
    assert set(issues) == by_config | {("warning", "JSON_KEY_RECOMMENDED", "SourceDatasets")}, issues


def test_the_validator_finds_what_the_old_output_lacked(fast_config, manifest, tmp_path):
    """The oracle is not blind: removing each fix brings back the issue's error."""
    root = tmp_path / "raw"
    ses = run_session(fast_config, "sub-05", 1, data_root=root, manifest=manifest)
    ev_json = next((ses / "beh").glob("*_events.json"))
    meta = json.loads(ev_json.read_text())
    del meta["StimulusPresentation"]["ScreenOrigin"]
    ev_json.write_text(json.dumps(meta))
    (root / ".bidsignore").unlink()
    shutil.rmtree(root / "stimuli")
    errors = {k[1] for k in validate(root) if k[0] == "error"}
    assert errors == {"INCOMPLETE_STIMULUS_PRESENTATION", "NOT_INCLUDED", "STIMULUS_FILE_MISSING"}
