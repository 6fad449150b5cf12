"""Fuzz the issue-10 readers: byte-wise and cell-wise mutations of valid files raise only InputError.

Each example mutates a small valid file (built by tests/analysis/formats_fixture.py) and reads it
with ``read_recording(..., format="auto")``; the reader must either return a Recording or raise
:class:`analysis.errors.InputError` (exit 2 in the CLIs), never another exception.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.errors import InputError
from tests.analysis.messages import assert_plain_message
from analysis.io import read_recording
from analysis.recording import Recording
from tests.analysis import formats_fixture as ff

GEOM = dict(screen_px=(1920, 1080), screen_mm=(509.2, 286.4), distance_mm=600.0)
WRITERS = {
    "studio_alldata": lambda p: ff.write_studio_alldata(p, n=80),
    "tobii_sdk": lambda p: ff.write_tobii_sdk(p, n=80),
    "titta": lambda p: ff.write_tobii_sdk(p, n=80, style="titta", sep="\t"),
    "tobii_raw": lambda p: ff.write_tobii_raw(p, n=120),
    "eprime": lambda p: ff.write_eprime(p, n=80),
}
NASTY = ["", "nan", "NaN", "inf", "-inf", "-1", "1e308", "-1e308", "abc", "(1,", "(1, 2, 3)", "()", '"', "'",
         "1,5", "0x10", "True", "4", "5", "-0", "1e-320", "\u00e9", "9" * 40, " ", "(nan, nan)", "None"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])


def _read_ok_or_input_error(path: Path) -> None:
    try:
        rec = read_recording(path, **GEOM)
    except InputError as exc:
        assert_plain_message(exc)  # a message, never empty, plain numbers
        return
    assert isinstance(rec, Recording)


@pytest.fixture(params=sorted(WRITERS))
def valid_file(request, tmp_path):
    suffix = ".gazedata" if request.param == "eprime" else ".tsv"
    path = tmp_path / f"valid{suffix}"
    WRITERS[request.param](path)
    return path


@SETTINGS
@given(data=st.data())
def test_bytewise_mutations(valid_file, data):
    raw = valid_file.read_bytes()
    ops = data.draw(st.lists(st.tuples(st.sampled_from(["replace", "insert", "delete", "truncate"]),
                                       st.integers(0, len(raw) - 1), st.binary(min_size=1, max_size=4)),
                             min_size=1, max_size=4))
    b = bytearray(raw)
    for op, pos, chunk in ops:
        pos = min(pos, max(len(b) - 1, 0))
        if op == "replace":
            b[pos:pos + len(chunk)] = chunk
        elif op == "insert":
            b[pos:pos] = chunk
        elif op == "delete":
            del b[pos:pos + len(chunk)]
        else:
            del b[pos:]
    mutated = valid_file.with_name("mutated" + valid_file.suffix)
    mutated.write_bytes(bytes(b))
    _read_ok_or_input_error(mutated)


@SETTINGS
@given(data=st.data())
def test_cellwise_mutations(valid_file, data):
    lines = valid_file.read_text(encoding="utf-8").splitlines()
    sep = "\t" if "\t" in lines[0] else ","
    n_cols = len(lines[0].split(sep))
    edits = data.draw(st.lists(st.tuples(st.integers(0, len(lines) - 1), st.integers(0, n_cols - 1),
                                         st.sampled_from(NASTY) | st.text(max_size=6)), min_size=1, max_size=5))
    for row, col, value in edits:
        cells = lines[row].split(sep)
        if col < len(cells):
            cells[col] = value
        lines[row] = sep.join(cells)
    if data.draw(st.booleans()):  # drop or duplicate a whole column
        col = data.draw(st.integers(0, n_cols - 1))
        dup = data.draw(st.booleans())
        new = []
        for line in lines:
            cells = line.split(sep)
            if col < len(cells):
                cells = cells[:col + 1] + cells[col:] if dup else cells[:col] + cells[col + 1:]
            new.append(sep.join(cells))
        lines = new
    mutated = valid_file.with_name("mutated" + valid_file.suffix)
    mutated.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _read_ok_or_input_error(mutated)


@pytest.mark.parametrize("kind", ["iohub", "titta"])
@SETTINGS
@given(data=st.data())
def test_hdf5_truncation_and_value_mutations(tmp_path, kind, data):
    """Truncated files (an interrupted copy) and corrupted sample values.

    Random bytes in the HDF5 *metadata* can crash the HDF5 C library itself (a "double free" abort
    seen with h5py 3.16 while fuzzing); no Python code can catch that, so metadata is not mutated here
    (docs/limitations.md). The sample values (ioHub's contiguous table) are.
    """
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("tables")
    path = tmp_path / f"valid_{kind}.h5"
    if not path.exists():
        (ff.write_iohub if kind == "iohub" else ff.write_titta_hdf5)(path, n=80)
    raw = path.read_bytes()
    if kind == "iohub" and data.draw(st.booleans()):
        with h5py.File(path, "r") as f:
            ds = f["data_collection/events/eyetracker/BinocularEyeSampleEvent"]
            lo, size = ds.id.get_offset(), ds.id.get_storage_size()
        pos = data.draw(st.integers(lo, lo + size - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=min(16, lo + size - pos)))
        b = raw[:pos] + chunk + raw[pos + len(chunk):]
    else:
        b = raw[:data.draw(st.integers(0, len(raw) - 1))]
    mutated = tmp_path / "mutated.h5"
    mutated.write_bytes(b)
    _read_ok_or_input_error(mutated)
