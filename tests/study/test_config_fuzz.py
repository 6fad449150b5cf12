"""Fuzzing the study config loader: mutated files give a StudyConfig or a StudyError, nothing else."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study.config import CONFIG_DIR, GEOMETRY_LIMITS, StudyConfig, load_config
from study.errors import StudyError

DEFAULT = (CONFIG_DIR / "default.toml").read_bytes()
#: ``key = value`` lines of default.toml (the value cells a column-wise mutation replaces).
VALUE_LINES = [m for m in re.finditer(rb"(?m)^([a-z_]+) *= *(.*?)(?: +#.*)?$", DEFAULT)]
NASTY = [b"nan", b"inf", b"-inf", b"1e308", b"-1", b"0", b"0.0", b'""', b"[]", b"[1]", b"[nan, nan]", b"[0, 0]",
         b"[inf, 1.0]", b"true", b"9223372036854775807", b"-9223372036854775808", b'"' + b"x" * 300 + b'"',
         b"{a = 1}", b'"sub-01\\n"', b"[1e308, 1e308]", b"1e-300", b'["a", 1]', b"[[1]]", b"2025-01-01"]


def _load(data: bytes) -> StudyConfig | None:
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "fuzz.toml"
        p.write_bytes(data)
        try:
            return load_config(p)
        except StudyError as exc:
            text = str(exc)
            assert "np.float64" not in text and str(p) in text       # names the file, no numpy reprs
            return None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(DEFAULT) - 1), st.binary(min_size=0, max_size=3)), min_size=1,
                max_size=4))
def test_byte_mutations_raise_only_study_errors(edits):
    data = bytearray(DEFAULT)
    for pos, new in sorted(edits, reverse=True):
        data[pos:pos + 1] = new
    _load(bytes(data))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(range(len(VALUE_LINES))), st.sampled_from(NASTY)), min_size=1, max_size=3))
def test_value_mutations_raise_only_study_errors(edits):
    data = DEFAULT
    for i, value in sorted(dict(edits).items(), reverse=True):
        m = VALUE_LINES[i]
        data = data[:m.start(2)] + value + data[m.end(2):]
    cfg = _load(data)
    if cfg is not None:                       # what is accepted is physically plausible
        lo, hi = GEOMETRY_LIMITS["distance_mm"]
        assert lo <= cfg.screen.distance_mm <= hi
        assert all(GEOMETRY_LIMITS["mm"][0] <= v <= GEOMETRY_LIMITS["mm"][1] for v in cfg.screen.size_mm)
        assert 0 < cfg.timing.viewing_s <= 3600


def test_the_geometry_limits_are_the_analysis_readers_limits():
    from analysis.io._common import GEOMETRY_LIMITS as ANALYSIS_LIMITS

    assert GEOMETRY_LIMITS == ANALYSIS_LIMITS


@pytest.mark.parametrize("line, key", [
    ("[screen]\nsize_mm = [nan, nan]\n", "screen.size_mm"),
    ("[screen]\ndistance_mm = 1e-6\n", "screen.distance_mm"),
    ("[screen]\nresolution_px = [0, 0]\n", "screen.resolution_px"),
    ("[screen]\nsize_mm = [338.0, 2700.0]\n", "screen.size_mm"),
    ("[timing]\nviewing_s = inf\n", "timing.viewing_s"),
    ("[tracker]\nsampling_rate_hz = 59992.0\n", "tracker.sampling_rate_hz"),
    ("[tracker]\nvalidation_settle_s = nan\n", "tracker.validation_settle_s"),
])
def test_implausible_values_name_the_key(tmp_path, line, key):
    p = tmp_path / "c.toml"
    p.write_text(line)
    with pytest.raises(StudyError) as err:
        load_config(p)
    assert err.value.column == key
