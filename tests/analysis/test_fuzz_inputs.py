"""Fuzz tests (issue 11): every reader and loader of the analysis package, fed mutated valid files,
either reads them or raises the documented :class:`~analysis.errors.InputError`; nothing else escapes.

Per input: the plain table (byte-wise and cell-wise), the BIDS physio file (cell-wise), its JSON
sidecar (key-wise: each key set to an odd JSON value or removed), the events file (cell-wise and
byte-wise) and the analysis config TOML (byte-wise and value-wise). A few mutated inputs also go
through the CLIs in a subprocess, which must exit 2 without a traceback.

The strategies can fail: run against the readers before issue 11 (commit da9618f) they find the
KeyError of a header with spaces (plain), the TypeError of ``"Units": ["us"]`` (sidecar) and the
UnicodeDecodeError of a non-UTF-8 config within the default number of examples.
"""

from __future__ import annotations

import gzip
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.config import load_config
from analysis.errors import InputError
from tests.analysis.messages import assert_plain_message
from analysis.io import read_recording
from analysis.recording import T60_GEOMETRY
from tests.analysis.bids_fixture import events_path, physio_path, simple_signal, write_bids_session, write_plain_table

ROOT = Path(__file__).resolve().parents[2]
FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                database=None)

#: Cell values that broke readers before (issue 11) or sit on a boundary of a check.
ODD_CELLS = ["", " ", "nan", "NaN", "inf", "-inf", "1e30", "-1e30", "1e308", "-1", "0", "-0", "0.5", "1.5",
             "abc", "1,5", '"', "n/a", "NA", "true", "9" * 40, "1e-300", "0x10", "\u00e9", "1 2", "+", "-", "."]
#: JSON values for sidecar keys.
ODD_JSON = [None, True, False, 0, -1, 1.5, 1e308, -1e308, float("nan"), float("inf"), "zero", "", "us", "ms",
            [], ["us"], [float("nan"), float("nan")], [0, 0], [-1280, 1024], [1e-6, 1e-6], [1, 2, 3],
            {}, {"Units": ["us"]}, {"Units": "s"}, {"Units": None}, "60", [60], [float("inf"), 1024],
            [1e308, 1024], [1280.5, 1024], [0.5, 0.4]]
#: Sidecar keys the BIDS reader uses (the key-wise fuzz picks among them).
READ_KEYS = ["Columns", "SamplingFrequency", "timestamp", "StartTime", "TimestampZero", "RecordedEye", "PhysioType",
             "ScreenResolution", "ScreenSize", "ScreenDistance", "AverageCalibrationError", "ValidationPrecisionRMS",
             "ManufacturersModelName"]
#: Ways a header cell is written by hand or by other programs.
HEADER_STYLES = ["{}", " {}", "{} ", '"{}"', ' "{}"', "{U}", " {U} "]
TOML_VALUES = ["nan", "inf", "-inf", "-1", "0", "1e400", "true", '"x"', "[]", "{}", "99999999999999999999",
               "1979-05-27", "0.5", "3", "4", '"median"', "'\u00e9'"]

TRIALS = [{"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
           "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None},
          {"stimulus_id": "thinker_pix2pix", "artwork": "thinker", "category": "sculpture", "method": "pix2pix",
           "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None}]


def _only_input_error(fn) -> None:
    try:
        fn()
    except InputError as exc:
        assert_plain_message(exc)


@pytest.fixture(scope="module")
def plain_bytes(tmp_path_factory) -> bytes:
    sig = {k: v[:30] for k, v in simple_signal().items()}
    return write_plain_table(tmp_path_factory.mktemp("plain") / "g.tsv", signal=sig)["path"].read_bytes()


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bids")
    return write_bids_session(root, trials=TRIALS, instructions_s=0.2, cross_s=0.1, blank_s=0.1)


def _copy_session(session: Path, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("mut") / "sub-01" / "ses-1"
    shutil.copytree(session, dst)
    return dst


def _sidecar(ses: Path) -> Path:
    p = physio_path(ses, "left")
    return p.with_name(p.name.replace(".tsv.gz", ".json"))


def _set_cells(text: str, edits, sep: str = "\t") -> str:
    lines = text.split("\n")
    for row_f, col_f, value in edits:
        i = int(row_f * len(lines))
        cells = lines[i].split(sep)
        cells[int(col_f * len(cells))] = value
        lines[i] = sep.join(cells)
    return "\n".join(lines)


_edits = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.floats(0, 1, exclude_max=True),
                            st.sampled_from(ODD_CELLS)), min_size=1, max_size=3)
_bytes = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=4)),
                  min_size=1, max_size=4)


def _mutate_bytes(data: bytes, edits) -> bytes:
    out = bytearray(data)
    for pos, new in edits:
        i = int(pos * len(out)) if out else 0
        out[i:i + (len(new) or 1)] = new
    return bytes(out)


# ------------------------------------------------------------------------------------------ plain


@FUZZ
@given(edits=_bytes, unit=st.sampled_from(["s", "ms", "us"]))
def test_plain_bytewise(tmp_path_factory, plain_bytes, edits, unit):
    p = tmp_path_factory.mktemp("pb") / "g.tsv"
    p.write_bytes(_mutate_bytes(plain_bytes, edits))
    _only_input_error(lambda: read_recording(p, "plain", geometry=T60_GEOMETRY, rate_hz=60.0, time_unit=unit))


@FUZZ
@given(edits=_edits, sep=st.sampled_from(["\t", ",", ";"]),
       header=st.lists(st.sampled_from(HEADER_STYLES), min_size=4, max_size=4), touch_cells=st.booleans())
def test_plain_cellwise(tmp_path_factory, plain_bytes, edits, sep, header, touch_cells):
    lines = plain_bytes.decode().replace("\t", sep).split("\n")
    names = lines[0].split(sep)
    lines[0] = sep.join(style.format(n, U=n.upper()) for style, n in zip(header, names))
    text = "\n".join(lines)
    p = tmp_path_factory.mktemp("pc") / "g.csv"
    p.write_text(_set_cells(text, edits, sep) if touch_cells else text, encoding="utf-8")
    _only_input_error(lambda: read_recording(p, "plain", geometry=T60_GEOMETRY, rate_hz=60.0))


# ------------------------------------------------------------------------------------------ BIDS


@FUZZ
@given(edits=_edits)
def test_bids_physio_cellwise(tmp_path_factory, session, edits):
    ses = _copy_session(session, tmp_path_factory)
    p = physio_path(ses, "left")
    text = gzip.decompress(p.read_bytes()).decode()
    p.write_bytes(gzip.compress(_set_cells(text, edits).encode()))
    _only_input_error(lambda: read_recording(ses))


@FUZZ
@given(key=st.sampled_from(READ_KEYS), value=st.sampled_from(ODD_JSON + ["<remove>"]), both=st.booleans())
def test_bids_sidecar_keywise(tmp_path_factory, session, key, value, both):
    ses = _copy_session(session, tmp_path_factory)
    for eye in ("left", "right") if both else ("left",):
        p = physio_path(ses, eye)
        sc = p.with_name(p.name.replace(".tsv.gz", ".json"))
        data = json.loads(sc.read_text())
        if value == "<remove>":
            del data[key]
        else:
            data[key] = value
        sc.write_text(json.dumps(data))  # NaN/Infinity as Python's json writes them
    _only_input_error(lambda: read_recording(ses))


@FUZZ
@given(edits=_bytes)
def test_bids_sidecar_bytewise(tmp_path_factory, session, edits):
    ses = _copy_session(session, tmp_path_factory)
    sc = _sidecar(ses)
    sc.write_bytes(_mutate_bytes(sc.read_bytes(), edits))
    _only_input_error(lambda: read_recording(ses))


@FUZZ
@given(edits=_edits, raw=_bytes, bytewise=st.booleans())
def test_bids_events(tmp_path_factory, session, edits, raw, bytewise):
    ses = _copy_session(session, tmp_path_factory)
    ev = events_path(ses)
    if bytewise:
        ev.write_bytes(_mutate_bytes(ev.read_bytes(), raw))
    else:
        ev.write_text(_set_cells(ev.read_text(), edits))
    _only_input_error(lambda: read_recording(ses))


# ------------------------------------------------------------------------------------------ config

CONFIG = """[ivt]
velocity_threshold_deg_s = 30.0
noise_reduction = "none"
noise_window_samples = 3
[idt]
dispersion_deg = 1.0
[quality]
min_trial_valid_fraction = 0.5
max_accuracy_deg = 1.0
[report]
seed = 20250925
alpha = 0.05
jobs = 0
algorithm = "ivt"
"""


@FUZZ
@given(edits=_bytes)
def test_config_bytewise(tmp_path_factory, edits):
    p = tmp_path_factory.mktemp("cfg") / "analysis.toml"
    p.write_bytes(_mutate_bytes(CONFIG.encode(), edits))
    _only_input_error(lambda: load_config(p))


@FUZZ
@given(line_f=st.floats(0, 1, exclude_max=True), value=st.sampled_from(TOML_VALUES))
def test_config_valuewise(tmp_path_factory, line_f, value):
    lines = CONFIG.splitlines()
    keyed = [i for i, line in enumerate(lines) if "=" in line]
    i = keyed[int(line_f * len(keyed))]
    lines[i] = lines[i].split("=")[0] + "= " + value
    p = tmp_path_factory.mktemp("cfgv") / "analysis.toml"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        cfg = load_config(p)
    except InputError:
        return
    for section in (cfg.ivt, cfg.idt, cfg.quality, cfg.report):  # what is accepted is usable
        for v in vars(section).values():
            assert not isinstance(v, float) or math.isfinite(v)


# ------------------------------------------------------------------------------------------ CLIs


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=cwd, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("case", ["sidecar_units_list", "events_trial_1e30", "config_latin1", "plain_cell"])
def test_mutated_inputs_exit_2_through_the_cli(tmp_path, session, case):
    ses = tmp_path / "raw" / "sub-01" / "ses-1"
    shutil.copytree(session.parent.parent, tmp_path / "raw")
    out = tmp_path / "fix.tsv"
    args = ["analysis.fixations", str(ses), "--out", str(out)]
    if case == "sidecar_units_list":
        sc = _sidecar(ses)
        data = json.loads(sc.read_text())
        data["timestamp"] = {"Units": ["us"]}
        sc.write_text(json.dumps(data))
    elif case == "events_trial_1e30":
        ev = events_path(ses)
        lines = ev.read_text().splitlines()
        col = lines[0].split("\t").index("trial")
        row = next(i for i, line in enumerate(lines) if "\tstimulus\t" in line)
        cells = lines[row].split("\t")
        cells[col] = "1e30"
        lines[row] = "\t".join(cells)
        ev.write_text("\n".join(lines) + "\n")
    elif case == "config_latin1":
        cfg = tmp_path / "analysis.toml"
        cfg.write_bytes("[ivt]\n# vélocité\nvelocity_threshold_deg_s = 30\n".encode("latin-1"))
        args += ["--config", str(cfg)]
    else:
        p = tmp_path / "g.csv"
        # most valid samples far off the display: a wrong unit, refused (one such glitch is only counted)
        p.write_text("time, x, y, valid\n0.0, 100, 100, 1\n0.1, 1e30, 100, 1\n0.2, 1e30, 100, 1\n")
        args = ["analysis.fixations", str(p), "--out", str(out), "--format", "plain", "--screen-px", "1280", "1024",
                "--screen-mm", "338", "270", "--distance-mm", "650", "--rate", "10"]
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.startswith("error: ")
    assert not out.exists()


# ------------------------------------------------------------------------------------------ AOI file

AOIS = "stimulus_id\taoi_name\tvertices\ndavid_ours\tface\t0.1,0.1 0.9,0.1 0.5,0.8\nthinker_ours\thead\t0,0 1,0 1,1 0,1\n"


@FUZZ
@given(edits=_bytes, cells=_edits, bytewise=st.booleans())
def test_aoi_file(tmp_path_factory, edits, cells, bytewise):
    from analysis.aoi import read_aois

    p = tmp_path_factory.mktemp("aoi") / "aois.tsv"
    if bytewise:
        p.write_bytes(_mutate_bytes(AOIS.encode(), edits))
    else:
        p.write_text(_set_cells(AOIS, cells), encoding="utf-8")
    _only_input_error(lambda: read_aois(p))


def test_aoi_file_that_is_a_folder_or_latin1(tmp_path):
    from analysis.aoi import read_aois

    with pytest.raises(InputError, match="folder"):
        read_aois(tmp_path)
    p = tmp_path / "aois.tsv"
    p.write_bytes(AOIS.replace("face", "visage café").encode("latin-1"))
    with pytest.raises(InputError) as err:
        read_aois(p)
    assert err.value.line == 2 and "not UTF-8" in err.value.problem


# ------------------------------------------------------------------------------------------ dataset files


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          database=None)
@given(which=st.sampled_from(["participants.tsv", "dataset_description.json"]), edits=_bytes)
def test_dataset_level_files(tmp_path_factory, session, which, edits):
    from analysis.batch import process_dataset

    root = tmp_path_factory.mktemp("dsmut") / "raw"
    shutil.copytree(session.parent.parent, root)
    p = root / which
    p.write_bytes(_mutate_bytes(p.read_bytes(), edits))
    _only_input_error(lambda: process_dataset(root, jobs=1, progress=False))


@pytest.mark.parametrize("which", ["participants.tsv", "dataset_description.json"])
def test_dataset_file_that_is_a_folder(tmp_path, session, which):
    from analysis.batch import process_dataset

    root = tmp_path / "raw"
    shutil.copytree(session.parent.parent, root)
    (root / which).unlink()
    (root / which).mkdir()
    with pytest.raises(InputError) as err:
        process_dataset(root, jobs=1, progress=False)
    assert err.value.file == root / which and "folder" in err.value.problem
