"""PsychoPy ioHub HDF5 eye-tracker sample tables (format ``iohub``)."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

from analysis.errors import InputError, run_cli
from analysis.io import detect_format, read_recording
from tests.analysis.formats_fixture import write_iohub

pytest.importorskip("h5py")  # the optional extra; the missing-package message is tested below
GEOM = dict(screen_px=(1920, 1080), screen_mm=(509.2, 286.4), distance_mm=600.0)


def test_binocular_table_pix_centre_origin_and_status(tmp_path):
    w = write_iohub(tmp_path / "events.hdf5")
    assert detect_format(w["path"]) == "iohub"
    rec = read_recording(w["path"], **GEOM)
    s = rec.samples
    assert rec.meta.sampling_rate_hz == 120.0
    ok = s["left_valid"].to_numpy()
    assert np.allclose(s["left_x_norm"][ok], w["xn"][ok], atol=1e-6)   # centre origin, y up -> top-left, y down
    assert np.allclose(s["left_y_norm"][ok], w["yn"][ok], atol=1e-6)
    assert list(np.flatnonzero(~ok)) == list(w["invalid_left"])        # status 20: left eye
    assert list(np.flatnonzero(~s["right_valid"].to_numpy())) == list(w["invalid_right"])   # status 2: right
    ev = rec.meta.extra["events"]
    assert list(ev["event"]) == ["TRIAL_START", "TRIAL_END"] and ev["time_s"].iloc[0] == s["time_s"].iloc[10]


def test_geometry_flags_are_named(tmp_path):
    w = write_iohub(tmp_path / "events.hdf5")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], screen_px=(1920, 1080))
    assert e.value.fix.startswith("pass --screen-mm W H --distance-mm D")


def test_norm_units_are_refused(tmp_path):
    w = write_iohub(tmp_path / "events.hdf5", units="norm")
    with pytest.raises(InputError) as e:
        read_recording(w["path"], **GEOM)
    assert "norm or height units" in e.value.problem


def test_no_sample_table_and_truncated_file(tmp_path):
    import h5py

    p = tmp_path / "empty.hdf5"
    with h5py.File(p, "w") as f:
        f.create_group("data_collection/events/experiment")
    with pytest.raises(InputError) as e:
        read_recording(p, **GEOM)
    assert "BinocularEyeSampleEvent" in e.value.expected
    w = write_iohub(tmp_path / "events.hdf5")
    data = w["path"].read_bytes()
    w["path"].write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        read_recording(w["path"], **GEOM)


def test_missing_h5py_gives_the_install_command(tmp_path, monkeypatch, capsys):
    from analysis.io.__main__ import main as io_main

    w = write_iohub(tmp_path / "events.hdf5")
    real_import = builtins.__import__

    def no_h5py(name, *args, **kwargs):
        if name == "h5py":
            raise ImportError("No module named 'h5py'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_h5py)
    args = [str(w["path"]), "--screen-px", "1920", "1080", "--screen-mm", "509", "286", "--distance-mm", "600"]
    assert run_cli(io_main, args) == 2
    err = capsys.readouterr().err
    assert 'pip install "artgaze[hdf5]"' in err and "Traceback" not in err


def test_cli(tmp_path, capsys):
    from analysis.fixations.__main__ import main as fix_main
    from analysis.io.__main__ import main as io_main

    w = write_iohub(tmp_path / "events.hdf5")
    args = ["--screen-px", "1920", "1080", "--screen-mm", "509.2", "286.4", "--distance-mm", "600"]
    assert run_cli(io_main, [str(w["path"]), *args]) == 0
    assert "format:      iohub" in capsys.readouterr().out
    out = tmp_path / "fix.tsv"
    assert run_cli(fix_main, [str(w["path"]), *args, "--out", str(out)]) == 0
    assert len(out.read_text(encoding="utf-8").splitlines()) > 5
