"""Fuzzing the Tobii readers and the agreement check: only InputError may escape (issue 11).

Valid small exports in the real programs' shapes (Pro Lab 24 TSV with µs clock, mm gaze, eye
positions and labels; Tobii Studio TSV; the comma-separated, quoted EyeT4Empathy excerpt; and
their gzipped copies) are mutated byte-wise (bytes replaced, inserted, deleted) and column-wise
(every cell of a column, or one cell, set to a hostile value), then read with no geometry flags
(so that geometry derivation, clock alignment, off-screen marking and labels all run) and passed
to the agreement check.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.agreement import compare
from analysis.errors import InputError
from tests.analysis.messages import assert_plain_message
from analysis.fixations.presets import PRESETS
from analysis.io import read_recording
from tests.analysis.bids_fixture import simple_signal, write_tobii_export
from tests.analysis.test_io_realquirks import DATA, prolab_export

HOSTILE = ["", "inf", "-inf", "nan", "NaN", "1e308", "-1e308", "9" * 40, "0", "-1", "1,5", "1.5", "1.5.5", "x",
           "Valid", "Invalid", '"', '"1,5"', "\t", ",", "1920 x 1080", "Fixation", "EyesNotFound", "Eye Tracker",
           "Eyetracker Calibration", "-0", "+3", "1e-300", "١٢٣"]


def _templates(tmp: Path) -> dict[str, tuple[bytes, str, str]]:
    """name -> (file bytes, suffix, delimiter)."""
    out: dict[str, tuple[bytes, str, str]] = {}
    p = prolab_export(tmp / "p.tsv", n=60, rate=120.0)
    out["prolab24"] = (p["path"].read_bytes(), ".tsv", "\t")
    sig = {k: v[:40] for k, v in simple_signal().items()}
    s = write_tobii_export(tmp / "s.tsv", "studio", signal=sig, stimuli=(("david_ours", 40),), events=())
    out["studio"] = (s["path"].read_bytes(), ".tsv", "\t")
    lines = gzip.decompress((DATA / "eyet4empathy_p60_t0_excerpt.csv.gz").read_bytes()).splitlines(keepends=True)
    out["eyet4empathy"] = (b"".join(lines[:61]), ".csv", ",")
    return out


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return _templates(tmp_path_factory.mktemp("fuzz_tpl"))


def _check(path: Path) -> None:
    """Read with no geometry flags and run the agreement check; only InputError may escape."""
    try:
        rec = read_recording(path)
    except InputError as exc:
        assert_plain_message(exc)
        return
    if rec.labels is not None:
        try:
            compare(rec, PRESETS["prolab"].config)
        except InputError as exc:
            assert_plain_message(exc)


def _write(tmp_path_factory, data: bytes, suffix: str, gz: bool) -> Path:
    d = tmp_path_factory.mktemp("fz")
    p = d / ("m" + suffix + (".gz" if gz else ""))
    p.write_bytes(gzip.compress(data) if gz else data)
    return p


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["prolab24", "studio", "eyet4empathy"]), gz=st.booleans(),
       edits=st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete"]), st.floats(0, 1, exclude_max=True),
                                st.binary(min_size=1, max_size=4)), min_size=1, max_size=4))
def test_bytewise_mutations_raise_only_input_error(tmp_path_factory, templates, kind, gz, edits):
    raw, suffix, _ = templates[kind]
    data = bytearray(raw)
    for op, pos, new in edits:
        i = int(pos * len(data))
        if op == "replace":
            data[i:i + len(new)] = new
        elif op == "insert":
            data[i:i] = new
        else:
            del data[i:i + len(new)]
    _check(_write(tmp_path_factory, bytes(data), suffix, gz))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["prolab24", "studio", "eyet4empathy"]), gz=st.booleans(),
       column=st.floats(0, 1, exclude_max=True), value=st.sampled_from(HOSTILE),
       row=st.one_of(st.none(), st.floats(0, 1, exclude_max=True)))
def test_columnwise_mutations_raise_only_input_error(tmp_path_factory, templates, kind, gz, column, value, row):
    raw, suffix, sep = templates[kind]
    text = raw.decode("utf-8-sig")
    lines = text.splitlines()
    header = lines[0].split(sep)
    # the quoted CSV: mutate only columns before the first quoted cell so the split stays right
    width = len(header) if sep == "\t" else 19
    j = int(column * width)
    rows = range(1, len(lines)) if row is None else [1 + int(row * (len(lines) - 1))]
    for r in rows:
        cells = lines[r].split(sep)
        if j < len(cells):
            cells[j] = value
            lines[r] = sep.join(cells)
    _check(_write(tmp_path_factory, ("\n".join(lines) + "\n").encode("utf-8"), suffix, gz))
