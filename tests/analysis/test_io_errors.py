"""analysis.io: every documented bad input gives an InputError naming file, line and column."""

from __future__ import annotations

import gzip
import json
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import InputError
from analysis.io import detect_format, read_recording
from analysis.recording import T60_GEOMETRY
from tests.analysis.bids_fixture import physio_path, write_bids_session, write_plain_table, write_tobii_export


def _replace_cell(path, line, column, value, sep="\t"):
    """Set the cell of 1-based ``line`` in the column named ``column`` (header on line 1)."""
    lines = path.read_text().splitlines()
    col = lines[0].split(sep).index(column)
    cells = lines[line - 1].split(sep)
    cells[col] = value
    lines[line - 1] = sep.join(cells)
    path.write_text("\n".join(lines) + "\n")


def _edit_physio(path, fn):
    lines = gzip.open(path, "rt").read().splitlines()
    lines = fn(lines)
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def _set_physio_cell(path, line, column, value):
    """Set one cell of a physio file: 1-based ``line`` of the file, 0-based ``column``."""
    def edit(ls):
        cells = ls[line - 1].split("\t")
        cells[column] = value
        ls[line - 1] = "\t".join(cells)
        return ls
    _edit_physio(path, edit)


def _sidecar(ses, eye):
    p = physio_path(ses, eye)
    return p.with_name(p.name.replace(".tsv.gz", ".json"))


# ---------------------------------------------------------------- missing columns / unknown style

def test_prolab_missing_validity_column(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    lines = w["path"].read_text().splitlines()
    idx = lines[0].split("\t").index("Validity right")
    w["path"].write_text("\n".join("\t".join(c for i, c in enumerate(l.split("\t")) if i != idx)
                                   for l in lines) + "\n")
    with pytest.raises(InputError) as err:
        read_recording(w["path"], geometry=T60_GEOMETRY)
    e = err.value
    assert e.file == w["path"] and e.line == 1 and e.column == "Validity right"
    assert "re-export" in e.fix


def test_studio_missing_gaze_columns(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "studio")
    lines = w["path"].read_text().splitlines()
    header = lines[0].split("\t")
    drop = {i for i, c in enumerate(header) if c.startswith("GazePoint")}
    w["path"].write_text("\n".join("\t".join(c for i, c in enumerate(l.split("\t")) if i not in drop)
                                   for l in lines) + "\n")
    with pytest.raises(InputError) as err:
        read_recording(w["path"])
    assert err.value.column.startswith("GazePointLeftX")


def test_unknown_column_style(tmp_path):
    p = tmp_path / "weird.tsv"
    p.write_text("stamp\tgx\tgy\n1\t2\t3\n")
    with pytest.raises(InputError) as err:
        detect_format(p)
    assert err.value.line == 1 and "unknown column style" in str(err.value)
    with pytest.raises(InputError, match="unknown column style"):
        read_recording(p)


def test_plain_missing_column(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("time,x,y\n0,1,1\n")
    with pytest.raises(InputError) as err:
        read_recording(p, format="plain", geometry=T60_GEOMETRY, rate_hz=60.0)
    assert err.value.column == "valid" and err.value.line == 1


# ---------------------------------------------------------------- timestamps

def test_non_monotonic_timestamp_names_first_offending_line(tmp_path):
    w = write_plain_table(tmp_path / "g.tsv")
    # sample 50 (line 52) goes back in time
    _replace_cell(w["path"], 52, "time", "0.1")
    with pytest.raises(InputError) as err:
        read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=60.0)
    e = err.value
    assert e.line == 52 and e.column == "time" and "non-monotonic" in e.problem and "line 51" in e.problem


def test_duplicate_timestamp(tmp_path):
    ses = write_bids_session(tmp_path)
    _edit_physio(physio_path(ses, "left"), lambda ls: ls[:10] + [ls[9]] + ls[11:])
    with pytest.raises(InputError) as err:
        read_recording(ses)
    e = err.value
    assert e.line == 11 and e.column == "timestamp" and "duplicate" in e.problem
    assert e.file == physio_path(ses, "left")


def test_prolab_timestamp_order_ignores_event_rows(tmp_path):
    # event rows share their sample's timestamp: not a duplicate
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    rec = read_recording(w["path"], geometry=T60_GEOMETRY)
    assert rec.counts["event_rows"] == 2


# ---------------------------------------------------------------- empty / truncated

def test_empty_file(tmp_path):
    p = tmp_path / "empty.tsv"
    p.write_text("")
    with pytest.raises(InputError, match="empty") as err:
        read_recording(p, format="prolab", geometry=T60_GEOMETRY)
    assert err.value.file == p


def test_header_only_export(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    w["path"].write_text(w["path"].read_text().splitlines()[0] + "\n")
    with pytest.raises(InputError, match="no rows"):
        read_recording(w["path"], geometry=T60_GEOMETRY)


def test_empty_physio(tmp_path):
    ses = write_bids_session(tmp_path)
    with gzip.open(physio_path(ses, "left"), "wt") as fh:
        fh.write("")
    with pytest.raises(InputError, match="empty"):
        read_recording(ses)


def test_truncated_gzip(tmp_path):
    ses = write_bids_session(tmp_path)
    p = physio_path(ses, "right")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.file == p and "truncated or corrupt" in err.value.problem


def test_not_gzip(tmp_path):
    ses = write_bids_session(tmp_path)
    p = physio_path(ses, "right")
    p.write_bytes(b"this is not gzip at all\n")
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_recording(ses)


# ---------------------------------------------------------------- cells

def test_impossible_coordinates(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab")
    # sample 20 is on line 23 (line 2 is an event row); 1280 px wide: > 2 * 1280 is off-screen, a glitch:
    # exports mark it invalid and count it (docs/readers.md, "Off-screen samples"), they do not refuse
    _replace_cell(w["path"], 23, "Gaze point right X", "2600.5")
    rec = read_recording(w["path"], geometry=T60_GEOMETRY)
    assert not rec.samples["right_valid"].iloc[20] and rec.counts["offscreen_samples"] == 1
    # one screen beyond the edge is tolerated (looking past the screen)
    _replace_cell(w["path"], 23, "Gaze point right X", "2500")
    assert read_recording(w["path"], geometry=T60_GEOMETRY).samples["right_x_px"].iloc[20] == 2500.0


def test_offscreen_glitch_bids_marked_and_counted(tmp_path):
    """One rule for every reader (docs/readers.md section 6): a sample more than one screen off the
    display is a glitch, marked invalid and counted, not a reason to refuse the session."""
    ses = write_bids_session(tmp_path)
    before = read_recording(ses)
    _set_physio_cell(physio_path(ses, "left"), 5, 2, "-5000")
    rec = read_recording(ses)
    row = int(np.flatnonzero(rec.samples["time_s"].to_numpy() == before.samples["time_s"].iloc[4])[0])
    assert not rec.samples["left_valid"].iloc[row] and rec.samples["right_valid"].iloc[row] == \
        before.samples["right_valid"].iloc[row]
    assert rec.counts["offscreen_samples"] == 1 and before.counts["offscreen_samples"] == 0
    assert rec.counts["invalid_left"] == before.counts["invalid_left"] + int(before.samples["left_valid"].iloc[row])


def test_offscreen_pattern_bids_refused(tmp_path):
    """Most valid samples off the display: the unit or resolution is wrong, so the session is refused
    at the first such sample, naming the column."""
    ses = write_bids_session(tmp_path)

    def scale_y(ls):
        for k, line in enumerate(ls):
            cells = line.split("\t")
            if len(cells) > 2 and cells[2] not in ("", "n/a"):
                cells[2] = str(float(cells[2]) * 10 + 5000)
                ls[k] = "\t".join(cells)
        return ls
    _edit_physio(physio_path(ses, "left"), scale_y)
    with pytest.raises(InputError, match="resolution or the unit") as err:
        read_recording(ses)
    assert err.value.column == "y_coordinate" and err.value.line >= 1


def test_offscreen_plain_same_rule(tmp_path):
    """The plain reader follows the same rule: one glitch counted, a wrong unit refused."""
    ok = write_plain_table(tmp_path / "ok.tsv")
    lines = ok["path"].read_text().splitlines()
    head = lines[0].split("\t")
    cells = lines[5].split("\t")
    cells[head.index("x")] = "9000"
    lines[5] = "\t".join(cells)
    glitch = tmp_path / "glitch.tsv"
    glitch.write_text("\n".join(lines) + "\n")
    rec = read_recording(glitch, format="plain", geometry=T60_GEOMETRY, rate_hz=60.0)
    assert rec.counts["offscreen_samples"] == 1 and not rec.samples["left_valid"].iloc[4]
    from analysis.quality import recording_quality
    assert recording_quality(rec)["offscreen_samples"] == 1   # the quality output shows the count
    mm = tmp_path / "mm.tsv"
    rows = [lines[0]]
    for line in lines[1:]:
        c = line.split("\t")
        if c[head.index("x")]:
            c[head.index("x")] = str(float(c[head.index("x")]) * 10)
        rows.append("\t".join(c))
    mm.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="resolution or the unit") as err:
        read_recording(mm, format="plain", geometry=T60_GEOMETRY, rate_hz=60.0)
    assert err.value.column == "x"


def test_non_numeric_cell_prolab(tmp_path):
    w = write_tobii_export(tmp_path / "r.tsv", "prolab", decimal=",")
    _replace_cell(w["path"], 30, "Pupil diameter left", "3,1x")
    with pytest.raises(InputError) as err:
        read_recording(w["path"], geometry=T60_GEOMETRY)
    e = err.value
    assert e.line == 30 and e.column == "Pupil diameter left" and "3,1x" in e.problem


def test_non_numeric_cell_bids(tmp_path):
    ses = write_bids_session(tmp_path)

    _set_physio_cell(physio_path(ses, "right"), 100, 1, "left")
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.line == 100 and err.value.column == "x_coordinate"


def test_row_with_extra_cells(tmp_path):
    w = write_plain_table(tmp_path / "g.tsv")
    lines = w["path"].read_text().splitlines()
    lines[6] += "\t7\t8"
    w["path"].write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as err:
        read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=60.0)
    assert err.value.line == 7


def test_bids_validity_must_be_binary(tmp_path):
    ses = write_bids_session(tmp_path)

    _set_physio_cell(physio_path(ses, "left"), 3, 4, "2")
    with pytest.raises(InputError) as err:
        read_recording(ses)
    assert err.value.line == 3 and err.value.column == "validity"
    assert err.value.problem == "validity 2 is not 0 or 1"  # a plain number, not np.float64(2.0)


def test_bids_columns_do_not_match_sidecar(tmp_path):
    ses = write_bids_session(tmp_path)
    sc = _sidecar(ses, "left")
    d = json.loads(sc.read_text())
    d["Columns"] = d["Columns"][:5]
    sc.write_text(json.dumps(d))
    with pytest.raises(InputError, match="do not belong together") as err:
        read_recording(ses)
    assert err.value.line == 1


# ---------------------------------------------------------------- sampling rate

def test_mixed_rates_between_eye_sidecars(tmp_path):
    ses = write_bids_session(tmp_path, sidecar_overrides={"right": {"SamplingFrequency": 120.0}})
    with pytest.raises(InputError) as err:
        read_recording(ses)
    e = err.value
    assert "mixed sampling rates" in e.problem and e.column == "SamplingFrequency" and e.file == _sidecar(ses, "right")


def test_declared_rate_disagrees_with_timestamps(tmp_path):
    ses = write_bids_session(tmp_path, sidecar_overrides={"left": {"SamplingFrequency": 50.0},
                                                         "right": {"SamplingFrequency": 50.0}})
    with pytest.raises(InputError) as err:
        read_recording(ses)
    # the sidecar's key is at fault (the timestamps are in the declared unit), so the sidecar is named
    assert "SamplingFrequency 50 Hz disagrees with the timestamps" in err.value.problem
    assert "they are 60 Hz" in err.value.problem
    assert err.value.column == "SamplingFrequency" and err.value.file == _sidecar(ses, "left")
    with pytest.raises(InputError) as err:
        read_recording(ses, rate_hz=120.0)
    assert err.value.column == "rate_hz" and err.value.file is None
    assert read_recording(ses, rate_hz=60.0).meta.sampling_rate_hz == 60.0


def test_a_faster_stretch_inside_a_file_is_mixed_rates(tmp_path):
    ses = write_bids_session(tmp_path)

    def faster(ls):
        # samples 200..259 at 120 Hz: timestamps halve their interval, then continue at 60 Hz
        ts = np.array([int(l.split("\t")[0]) for l in ls])
        new = ts.copy()
        new[200:260] = ts[200] + np.round(np.arange(60) * 1e6 / 120).astype(np.int64)
        new[260:] = new[259] + (ts[260:] - ts[259])
        return ["\t".join([str(t)] + l.split("\t")[1:]) for t, l in zip(new, ls)]

    _edit_physio(physio_path(ses, "left"), faster)
    with pytest.raises(InputError) as err:
        read_recording(ses)
    e = err.value
    assert "mixed sampling rates" in e.problem and e.line == 202 and e.column == "timestamp"


def test_a_few_jittered_intervals_are_tolerated(tmp_path):
    w = write_plain_table(tmp_path / "g.tsv")
    _replace_cell(w["path"], 41, "time", "0.64")  # sample 39 early by 10 ms: a short interval
    _replace_cell(w["path"], 81, "time", "1.305")  # sample 79 early by 11.7 ms: one short interval
    rec = read_recording(w["path"], geometry=T60_GEOMETRY, rate_hz=60.0)
    assert rec.counts["total"] == 120


def test_gaps_are_counted_as_missing_samples(tmp_path):
    ses = write_bids_session(tmp_path)
    _edit_physio(physio_path(ses, "left"), lambda ls: ls[:100] + ls[110:])
    _edit_physio(physio_path(ses, "right"), lambda ls: ls[:100] + ls[110:])
    rec = read_recording(ses)
    assert rec.counts["missing_samples"] == 10 and rec.counts["total"] == 531


# ---------------------------------------------------------------- property: only InputError

_TEMPLATES: dict[str, bytes] = {}


def _templates(tmp_path_factory):
    if not _TEMPLATES:
        d = tmp_path_factory.mktemp("tpl")
        sig = {k: v[:40] for k, v in __import__("tests.analysis.bids_fixture", fromlist=["x"]).simple_signal().items()}
        _TEMPLATES["prolab"] = write_tobii_export(d / "p.tsv", "prolab", signal=sig,
                                                  stimuli=(("david_ours", 40),), events=((5, "X"),))["path"].read_bytes()
        _TEMPLATES["studio"] = write_tobii_export(d / "s.tsv", "studio", signal=sig, style="classic",
                                                  stimuli=(("david_ours", 40),), events=())["path"].read_bytes()
        _TEMPLATES["plain"] = write_plain_table(d / "g.tsv", signal=sig)["path"].read_bytes()
    return _TEMPLATES


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return _templates(tmp_path_factory)


def _read_any(path):
    try:
        read_recording(path, geometry=T60_GEOMETRY, rate_hz=60.0)
    except InputError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["prolab", "studio", "plain"]),
       edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.binary(min_size=0, max_size=4)),
                      min_size=1, max_size=4))
def test_mutated_exports_raise_only_input_error(tmp_path_factory, templates, kind, edits):
    data = bytearray(templates[kind])
    for pos, new in edits:
        i = int(pos * len(data))
        data[i:i + len(new) or i + 1] = new
    d = tmp_path_factory.mktemp("mut")
    p = d / "m.tsv"
    p.write_bytes(bytes(data))
    _read_any(p)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(min_size=0, max_size=300), fmt=st.sampled_from(["auto", "prolab", "studio", "plain"]))
def test_random_bytes_raise_only_input_error(tmp_path_factory, blob, fmt):
    p = tmp_path_factory.mktemp("rnd") / "r.tsv"
    p.write_bytes(blob)
    try:
        read_recording(p, fmt, geometry=T60_GEOMETRY, rate_hz=60.0)
    except InputError:
        pass


@pytest.fixture(scope="module")
def bids_template(tmp_path_factory):
    root = tmp_path_factory.mktemp("bidstpl")
    trials = [{"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
               "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None}]
    return write_bids_session(root, trials=trials, instructions_s=0.2, cross_s=0.1, blank_s=0.1)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(["physio_raw", "physio_text", "sidecar", "events"]),
       pos=st.floats(0, 1, exclude_max=True), new=st.binary(min_size=1, max_size=3))
def test_mutated_bids_raises_only_input_error(tmp_path_factory, bids_template, which, pos, new):
    ses = tmp_path_factory.mktemp("bidsmut") / "sub-01" / "ses-1"
    shutil.copytree(bids_template, ses)
    if which.startswith("physio"):
        p = physio_path(ses, "left")
        raw = p.read_bytes() if which == "physio_raw" else gzip.decompress(p.read_bytes())
    elif which == "sidecar":
        p = _sidecar(ses, "left")
        raw = p.read_bytes()
    else:
        p = next((ses / "beh").glob("*_events.tsv"))
        raw = p.read_bytes()
    data = bytearray(raw)
    i = int(pos * len(data))
    data[i:i + len(new)] = new
    out = bytes(data) if which != "physio_text" else gzip.compress(bytes(data))
    p.write_bytes(out)
    try:
        read_recording(ses)
    except InputError:
        pass


# ---------------------------------------------------------------- issue 11: plain tables


def test_plain_csv_header_with_spaces_reads_the_values(tmp_path):
    p = tmp_path / "g.csv"
    p.write_text("time, x, y, valid\n0.0, 100, 200, 1\n0.1, 101, 201, 1\n0.2, 102, 202, 0\n0.3, 103, 203, 1\n")
    rec = read_recording(p, geometry=T60_GEOMETRY, rate_hz=10.0)
    assert rec.samples["left_x_px"].tolist()[:2] == [100.0, 101.0]
    assert rec.samples["left_valid"].tolist() == [True, True, False, True]


@pytest.mark.parametrize("written, declared, seems", [("ms", "s", "milliseconds, not seconds"),
                                                      ("s", "ms", "seconds, not milliseconds"),
                                                      ("us", "s", "microseconds, not seconds")])
def test_plain_time_unit_mismatch_names_the_unit(tmp_path, written, declared, seems):
    p = write_plain_table(tmp_path / "g.tsv", time_unit=written)["path"]
    with pytest.raises(InputError) as err:
        read_recording(p, geometry=T60_GEOMETRY, rate_hz=60.0, time_unit=declared)
    assert f"seem to be in {seems}" in err.value.problem and err.value.column == "time"
    assert f"--time-unit {written}" in err.value.fix
    assert read_recording(p, geometry=T60_GEOMETRY, rate_hz=60.0, time_unit=written).n_samples == 120


def test_plain_timestamp_jump_is_refused_at_its_line(tmp_path):
    p = write_plain_table(tmp_path / "g.tsv")["path"]
    _replace_cell(p, 121, "time", "1e308")
    with pytest.raises(InputError) as err:
        read_recording(p, geometry=T60_GEOMETRY, rate_hz=60.0)
    assert err.value.line == 121 and "jumps" in err.value.problem


def test_plain_reader_checks_the_geometry_it_is_given(tmp_path):
    from analysis.io.plain import read_plain
    from analysis.recording import Geometry

    p = write_plain_table(tmp_path / "g.tsv")["path"]
    with pytest.raises(InputError, match="resolution width -1280 px"):
        read_plain(p, geometry=Geometry((-1280, 1024), (338.0, 270.0), 650.0), rate_hz=60.0)


# ---------------------------------------------------------------- plain numbers in every message

def _bad_input_messages(tmp_path):
    """Messages of the shared checks fed numpy scalars/arrays (where reprs such as np.float64(...) leak)."""
    from analysis.io import _common, units
    from analysis.recording import Geometry

    lines = np.arange(2, 12)
    t = np.arange(10, dtype=np.float64) / 60.0
    p = tmp_path / "x.tsv"
    cases = [
        lambda: _common.check_timestamps(np.r_[t[:5], t[4], t[6:]], p, lines, "time"),
        lambda: _common.check_timestamps(np.r_[t[:5], t[3], t[6:]], p, lines, "time"),
        lambda: _common.check_timestamps(np.r_[t[:5], np.nan, t[6:]], p, lines, "time"),
        lambda: _common.check_timestamps(np.r_[t[:5], 1e300, 2e300, 3e300, 4e300, 5e300], p, lines, "time"),
        lambda: _common.check_sampling(t, np.float64(120.0), p, lines, "time"),
        lambda: _common.check_sampling(t, np.float64(-1.0), p, lines, "time"),
        lambda: _common.check_sampling(np.r_[t[:1]], None, p, lines, "time"),
        lambda: units.check_time_unit(t * 1e-3, "ms", p, "time", stated=True),
        lambda: units.check_time_unit(t * 1e3, "s", p, "time", declared_hz=np.float64(60.0)),
        lambda: units.check_time_unit(np.r_[0.0, np.cumsum(np.full(9, 1e-9))], "s", p, "time"),
        lambda: _common.mark_offscreen(np.full(10, 1e4 + 0.5), np.full(10, 5.25), np.ones(10, bool),
                                       (np.int64(1280), np.int64(1024)), p, lines, ("x", "y")),
        lambda: _common.check_geometry(Geometry((np.int64(1280), np.int64(0)), (np.float64(338.5), np.float64(270.0)),
                                                np.float64(1e-6))),
        lambda: _common.check_geometry(Geometry((np.float64(1280.5), np.int64(1024)), ("a", "b"), np.float64(650))),
        lambda: read_recording(write_plain_table(tmp_path / "g.tsv")["path"], "plain", geometry=T60_GEOMETRY,
                               rate_hz=np.float64(-60.0)),
    ]
    out = []
    for case in cases:
        with pytest.raises(InputError) as err:
            case()
        out.append(err.value)
    return out


def test_messages_show_plain_numbers_not_numpy_reprs(tmp_path):
    from tests.analysis.messages import NUMPY_REPR, assert_plain_message

    assert NUMPY_REPR.search(repr(np.float64(2.0)) if np.__version__ >= "2" else "np.float64(2.0)")  # the scan works
    msgs = _bad_input_messages(tmp_path)
    for exc in msgs:
        assert_plain_message(exc)
    text = " | ".join(str(e) for e in msgs)
    assert "10000.5" in text and "1e+300" in text  # the values themselves, as written


def test_rate_flag_is_rate_hz_in_every_command_with_rate_as_alias():
    """``--rate-hz`` in analysis.io, analysis.fixations (and the agreement command), ``--rate`` kept as an alias."""
    from analysis.fixations.__main__ import build_parser as fixations_parser
    from analysis.io.__main__ import build_parser as io_parser

    for parser, dest in ((io_parser(), "rate_hz"), (fixations_parser(), "rate")):
        base = ["x.tsv", "--out", "o.tsv"] if "--out" in parser.format_help() else ["x.tsv"]
        for flag in ("--rate-hz", "--rate"):
            assert getattr(parser.parse_args([*base, flag, "60"]), dest) == 60.0
        assert "--rate-hz" in parser.format_help()


def test_check_sampling_refuses_huge_jumps_itself(tmp_path):
    """The jump check is part of the shared path: check_sampling called alone (without check_timestamps)
    gives the exit-2 message, not an OverflowError from its gap count."""
    from analysis.io._common import MAX_INTERVAL_S, check_sampling

    t = np.r_[np.arange(5) / 60.0, 1.7e308, 1.79e308]
    with pytest.raises(InputError, match="jumps by") as err:
        check_sampling(t, None, tmp_path / "x.tsv", np.arange(2, 9), "time")
    assert err.value.line == 7 and err.value.column == "time"
    # a long but plausible gap (one hour) is still a gap, counted as missing samples
    t = np.r_[np.arange(5) / 60.0, 4 / 60.0 + 3600.0 + np.arange(5) / 60.0]
    assert 3600.0 < MAX_INTERVAL_S
    nominal, missing = check_sampling(t, None, tmp_path / "x.tsv", np.arange(2, 12), "time")
    assert nominal == 60.0 and missing == 3600 * 60 - 1
