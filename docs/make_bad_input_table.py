"""Regenerate docs/bad-input.md by running every bad-input case through the real commands.

Run from the repository root: ``python docs/make_bad_input_table.py``. Each case builds a small
valid input in a temporary folder (with the test fixture writer, tests/analysis/bids_fixture.py),
breaks it in one way, runs the command in a subprocess and records the exit code and the first
line of the message, so the table always shows what the code does (issue 11).
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.analysis.bids_fixture import (  # noqa: E402  (after the path set-up)
    events_path,
    physio_path,
    simple_signal,
    write_bids_session,
    write_dataset_files,
    write_plain_table,
)

TRIALS = [{"stimulus_id": "david_ours", "artwork": "david", "category": "sculpture", "method": "ours",
           "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None},
          {"stimulus_id": "thinker_ours", "artwork": "thinker", "category": "sculpture", "method": "ours",
           "duration_s": 0.5, "aoi": (240, 112, 1040, 912), "gaze": None}]
GEOMETRY = ["--screen-px", "1280", "1024", "--screen-mm", "338", "270", "--distance-mm", "650"]
SES = "raw/sub-01/ses-1"


def _dataset(d: Path) -> Path:
    return write_bids_session(d / "raw", "sub-01", trials=TRIALS, instructions_s=0.2, cross_s=0.1, blank_s=0.1)


def _sidecars(ses: Path, fn: Callable[[dict], None]) -> None:
    for eye in ("left", "right"):
        p = physio_path(ses, eye)
        sc = p.with_name(p.name.replace(".tsv.gz", ".json"))
        data = json.loads(sc.read_text())
        fn(data)
        sc.write_text(json.dumps(data))


def _trials(ses: Path, values: list[str]) -> None:
    ev = events_path(ses)
    lines = ev.read_text().splitlines()
    col = lines[0].split("\t").index("trial")
    rows = [i for i, line in enumerate(lines) if "\tstimulus\t" in line]
    for i, v in zip(rows, values):
        cells = lines[i].split("\t")
        cells[col] = v
        lines[i] = "\t".join(cells)
    ev.write_text("\n".join(lines) + "\n")


def _plain(d: Path, name: str = "gaze.csv", **kw) -> Path:
    return write_plain_table(d / name, signal=simple_signal(), **kw)["path"]


def _fix(target: str, *extra: str) -> list[str]:
    return ["analysis.fixations", target, "--out", "fix.tsv", *extra]


def _plain_fix(*extra: str) -> list[str]:
    return _fix("gaze.csv", "--format", "plain", "--rate", "60", *extra)


def _c_header_spaces(d):
    (d / "gaze.csv").write_text("time, x, y, valid\n" + "".join(
        f"{i / 60:.6f}, {400 + i}, 300, 1\n" for i in range(60)))
    return _plain_fix(*GEOMETRY)


def _c_units_list(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("timestamp", {"Units": ["us"]}))
    return _fix(SES)


def _c_start_time(d):
    _sidecars(_dataset(d), lambda s: (s.pop("TimestampZero"), s.__setitem__("StartTime", "zero")))
    return _fix(SES)


def _c_events_folder(d):
    ev = events_path(_dataset(d))
    ev.unlink()
    ev.mkdir()
    return _fix(SES)


def _c_latin1_config(d):
    _dataset(d)
    (d / "analysis.toml").write_bytes("[ivt]\n# vélocité\nvelocity_threshold_deg_s = 30\n".encode("latin-1"))
    return ["analysis.metrics", "--data", "raw", "--out", "deriv", "--config", "analysis.toml"]


def _c_config_nan(d):
    _dataset(d)
    (d / "analysis.toml").write_text("[ivt]\nvelocity_threshold_deg_s = nan\n")
    return ["analysis.report", "--data", "raw", "--config", "analysis.toml"]


def _c_report_out_file(d):
    _dataset(d)
    (d / "report.html").write_text("an old report\n")
    return ["analysis.report", "--data", "raw", "--out", "report.html"]


def _c_metrics_out_file(d):
    _dataset(d)
    (d / "deriv.tsv").write_text("x\n")
    return ["analysis.metrics", "--data", "raw", "--out", "deriv.tsv"]


def _c_metrics_out_raw(d):
    _dataset(d)
    return ["analysis.metrics", "--data", "raw", "--out", "raw"]


def _c_fix_out_folder(d):
    _dataset(d)
    (d / "out").mkdir()
    return ["analysis.fixations", SES, "--out", "out"]


def _c_data_file(d):
    (d / "data.tsv").write_text("x\n")
    return ["analysis.metrics", "--data", "data.tsv", "--out", "deriv"]


def _c_screen_nan(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("ScreenSize", [float("nan"), float("nan")]))
    return _fix(SES)


def _c_distance_tiny(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("ScreenDistance", 1e-6))
    return _fix(SES)


def _c_negative_resolution(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("ScreenResolution", [-1280, 1024]))
    return _fix(SES)


def _c_flags_zero(d):
    _plain(d)
    return _plain_fix("--screen-px", "0", "0", "--screen-mm", "0", "0", "--distance-mm", "0")


def _c_flags_partial_zero(d):
    _plain(d, "export.tsv")
    return _fix("export.tsv", "--format", "plain", "--screen-mm", "0", "0", "--distance-mm", "0")


def _c_plain_ms(d):
    _plain(d, time_unit="ms")
    return _plain_fix(*GEOMETRY)


def _c_bids_units_ms(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("timestamp", {**s.get("timestamp", {}), "Units": "ms"}))
    return _fix(SES)


def _c_plain_jump(d):
    p = _plain(d)
    lines = p.read_text().splitlines()
    lines[-1] = "1e308" + lines[-1][lines[-1].index("\t"):]
    p.write_text("\n".join(lines) + "\n")
    return _plain_fix(*GEOMETRY)


def _c_trial_huge(d):
    _trials(_dataset(d), ["1e30"])
    return _fix(SES)


def _c_trial_duplicate(d):
    _trials(_dataset(d), ["1", "1"])
    return _fix(SES)


def _c_physio_cell(d):
    p = physio_path(_dataset(d), "left")
    lines = gzip.decompress(p.read_bytes()).decode().splitlines()
    cells = lines[9].split("\t")
    cells[1] = "abc"
    lines[9] = "\t".join(cells)
    p.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    return _fix(SES)


def _c_rate_mismatch(d):
    _sidecars(_dataset(d), lambda s: s.__setitem__("SamplingFrequency", 50))
    return _fix(SES)


def _c_onset_huge(d):
    ev = events_path(_dataset(d))
    lines = ev.read_text().splitlines()
    col = lines[0].split("\t").index("tracker_onset_us")
    row = next(i for i, line in enumerate(lines) if "\tstimulus\t" in line)
    cells = lines[row].split("\t")
    cells[col] = "1e30"
    lines[row] = "\t".join(cells)
    ev.write_text("\n".join(lines) + "\n")
    return _fix(SES)


def _c_aoi_inverted(d):
    ev = events_path(_dataset(d))
    lines = ev.read_text().splitlines()
    head = lines[0].split("\t")
    row = next(i for i, line in enumerate(lines) if "\tstimulus\t" in line)
    cells = lines[row].split("\t")
    cells[head.index("aoi_left")], cells[head.index("aoi_right")] = "1040", "240"
    lines[row] = "\t".join(cells)
    ev.write_text("\n".join(lines) + "\n")
    return _fix(SES)


def _c_participants_folder(d):
    _dataset(d)
    (d / "raw" / "participants.tsv").unlink()
    (d / "raw" / "participants.tsv").mkdir()
    return ["analysis.metrics", "--data", "raw", "--out", "deriv"]


def _c_registered_without_data(d):
    _dataset(d)
    write_dataset_files(d / "raw", ["sub-01", "sub-02"])
    return ["analysis.metrics", "--data", "raw", "--out", "deriv", "--jobs", "1"]


#: (case, how the input was broken, builder returning the command's arguments)
CASES: list[tuple[str, Callable[[Path], list[str]]]] = [
    ("plain CSV header `time, x, y, valid` (spaces)", _c_header_spaces),
    ("plain table in ms, read as s (the default)", _c_plain_ms),
    ("plain table: one timestamp 1e308", _c_plain_jump),
    ("geometry flags `--screen-px 0 0 --screen-mm 0 0 --distance-mm 0`", _c_flags_zero),
    ("geometry flags `--screen-mm 0 0 --distance-mm 0` (no `--screen-px`)", _c_flags_partial_zero),
    ('BIDS sidecar `"timestamp": {"Units": ["us"]}`', _c_units_list),
    ('BIDS sidecar `"Units": "ms"` over µs timestamps', _c_bids_units_ms),
    ('BIDS sidecar `"StartTime": "zero"`, no `TimestampZero`', _c_start_time),
    ("BIDS sidecar `ScreenSize [NaN, NaN]`", _c_screen_nan),
    ("BIDS sidecar `ScreenDistance 1e-6` (m)", _c_distance_tiny),
    ("BIDS sidecar `ScreenResolution [-1280, 1024]`", _c_negative_resolution),
    ("BIDS physio cell `abc`", _c_physio_cell),
    ("BIDS events.tsv is a folder", _c_events_folder),
    ("BIDS sidecar `SamplingFrequency 50` over 60 Hz timestamps", _c_rate_mismatch),
    ("BIDS events `tracker_onset_us` = `1e30`", _c_onset_huge),
    ("BIDS events `trial` = `1e30`", _c_trial_huge),
    ("BIDS events: trial 1 twice", _c_trial_duplicate),
    ("BIDS events: AOI left > right", _c_aoi_inverted),
    ("participants.tsv is a folder", _c_participants_folder),
    ("participants.tsv lists a participant without data", _c_registered_without_data),
    ("analysis config saved as Latin-1", _c_latin1_config),
    ("analysis config `velocity_threshold_deg_s = nan`", _c_config_nan),
    ("`report --out` names a file", _c_report_out_file),
    ("`metrics --out` names a file", _c_metrics_out_file),
    ("`metrics --out` is the raw dataset", _c_metrics_out_raw),
    ("`fixations --out` names a folder", _c_fix_out_folder),
    ("`metrics --data` names a file", _c_data_file),
]


def _first_line(stderr: str, stdout: str, code: int) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.startswith("error: ")]
    if lines:
        return lines[0].removeprefix("error: ")
    keep = [ln for ln in (stderr + "\n" + stdout).splitlines()
            if ln.startswith(("WARNING", "wrote", "warning", "INFO analysis.fixations")) or " session(s), " in ln]
    return keep[0] if keep else f"(exit {code}, no message)"


def run_case(build: Callable[[Path], list[str]]) -> tuple[str, int, str]:
    """Build the case in a fresh folder and run it; return (command, exit code, first message line)."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        args = build(d)
        env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
        r = subprocess.run([sys.executable, "-m", *args, "--no-progress"] if args[0] != "analysis.fixations"
                           else [sys.executable, "-m", *args], capture_output=True, text=True, cwd=d, env=env,
                           timeout=300)
        assert "Traceback" not in r.stderr, r.stderr
        real = str(d.resolve())
        message = _first_line(r.stderr, r.stdout, r.returncode).replace(real + "/", "").replace(str(d) + "/", "")
        return "python -m " + " ".join(args), r.returncode, message


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main() -> None:
    out = ["# Bad input: cases and messages", "",
           "Every analysis command answers bad input with exit code 2 and a message naming the file, the "
           "line/column, what was expected and the fix (README, \"Commands\"); never a traceback, never a "
           "silently wrong result. The table below is generated by `python docs/make_bad_input_table.py`, "
           "which builds each case in a temporary folder, runs the command and records what it printed "
           "(first line; the full message adds `expected:` and `fix:` lines). Paths are relative to that "
           "folder. Exit 0 rows are inputs that used to fail and are now read correctly, or are accounted "
           "for (registered participants without data: `missing_participants.tsv`, docs/derivatives.md).", "",
           "| case | command | exit | message (first line) |", "|---|---|---|---|"]
    for case, build in CASES:
        command, code, message = run_case(build)
        out.append(f"| {_cell(case)} | `{_cell(command)}` | {code} | {_cell(message)} |")
        print(f"{code}  {case}", file=sys.stderr)
    (REPO / "docs" / "bad-input.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
