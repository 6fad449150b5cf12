"""Real-file check: read every export in a folder of real recordings and compare with Tobii's labels.

    python benchmarks/realdata_check.py [FOLDER] [--diagnose]

FOLDER defaults to ``../shared/realdata`` (real Tobii exports from public repositories,
described in that folder's README). Every file is read with ``format="auto"`` and no geometry
flags, as a new user would; the script prints the detected format, the sampling rate, the
geometry and where each value came from, the clock used, the sample counts, and, for files
that carry Tobii's own classification, the agreement of our I-VT with it for each preset of
:data:`analysis.fixations.presets.PRESETS` (``python -m analysis.agreement``). Files recorded
with a custom Tobii filter whose settings the file name states are also run with those
settings (:data:`FILE_FILTERS`). A file that cannot be read prints its error message, never a
traceback. Figures go to benchmarks/RESULTS.md ("Real exports").

``--diagnose`` also runs the diagnostic variants of :data:`DIAGNOSTICS` (not presets: they
test hypotheses about where Tobii's output differs from Olsen's description).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analysis.agreement import best_preset, compare, preset_score  # noqa: E402
from analysis.config import IVTConfig  # noqa: E402
from analysis.errors import InputError  # noqa: E402
from analysis.fixations.presets import PRESETS  # noqa: E402
from analysis.io import read_recording  # noqa: E402
from analysis.recording import Recording  # noqa: E402

#: Custom Tobii filters whose settings the exports' file names state (cemGr/Tobii-I-VT-Filter-
#: Reconstruction exports: "rightEye" = eye selection Right; "StrictAverage ... movingAverage" = eye
#: selection Strict average, noise reduction Moving average, window 3 samples: the preset
#: ``prolab_strict_ma``, which also takes Pro Lab 24's velocity window at gaps).
FILE_FILTERS: dict[str, IVTConfig] = {
    "cemGr_I-VT-rightEye": IVTConfig(eye_selection="right"),
    "cemGr_I-VT-StrictAverage_frequency120_movingAverage": PRESETS["prolab_strict_ma"].config,
}

#: Pro Lab 24.21 files: what ``velocity_window_at_gaps = "shift"`` changes on each (``--diagnose``).
SHIFT_DIAGNOSTIC: dict[str, IVTConfig] = {
    "cemGr_I-VT-normal": IVTConfig(velocity_window_at_gaps="shift"),
    "cemGr_I-VT-rightEye": IVTConfig(eye_selection="right", velocity_window_at_gaps="shift"),
    "cemGr_I-VT-StrictAverage_frequency120_movingAverage": IVTConfig(eye_selection="strict_average",
                                                                     noise_reduction="moving_average"),
    "EyeT4Empathy": dataclasses.replace(PRESETS["prolab_1x"].config, velocity_window_at_gaps="shift"),
}


def _same(rec: Recording) -> Recording:
    return rec


#: Diagnostic variants: name -> (recording transform, config). They test hypotheses about the rest
#: of the gap on the Pro Lab 1.145 export once its data-loss handling is reproduced (``prolab_1x``):
#: a velocity scale (angle over the 20 ms window length instead of the 16.7 ms the 120 Hz window spans
#: would be 30 x 20 / 16.7 = 36 deg/s), the threshold that fits best, a moving median (which removes
#: the one-sample jumps at one-eye samples) and a looser merge angle. None of these is a documented
#: Tobii setting of that file.
DIAGNOSTICS = {
    "prolab_1x at 33 deg/s": (_same, dataclasses.replace(PRESETS["prolab_1x"].config, velocity_threshold_deg_s=33.0)),
    "prolab_1x at 36 deg/s": (_same, dataclasses.replace(PRESETS["prolab_1x"].config, velocity_threshold_deg_s=36.0)),
    "prolab_1x + moving median 3": (_same, dataclasses.replace(PRESETS["prolab_1x"].config, noise_reduction="median")),
    "prolab_1x, merge angle 0.7 deg": (_same, dataclasses.replace(PRESETS["prolab_1x"].config, merge_max_angle_deg=0.7)),
}


def _fmt(r: dict) -> str:
    return (f"kappa {r['kappa']:.4f}, fixations ours {r['fixations_ours']} / Tobii {r['fixations_tobii']} "
            f"({r['count_diff_pct']:+.1f} %), mean duration ours {r['mean_duration_ms_ours']:.0f} / Tobii "
            f"{r['mean_duration_ms_tobii']:.0f} ms, disagreeing samples {r['disagree']} "
            f"({r['disagree_at_boundary']} at boundaries, {r['disagree_near_data_loss']} next to eye loss)")


def check_file(path: Path, diagnose: bool) -> None:
    print(f"== {path.name}")
    t0 = time.perf_counter()
    try:
        rec = read_recording(path)
    except InputError as exc:
        print("   NOT READ: " + str(exc).replace("\n", "\n   "))
        return
    m = rec.meta
    g = m.geometry
    print(f"   format {m.format} ({m.extra.get('column_style', '')}), rate {m.sampling_rate_hz:g} Hz, "
          f"read in {time.perf_counter() - t0:.2f} s")
    print(f"   geometry {g.screen_px[0]}x{g.screen_px[1]} px, {g.screen_mm[0]:g} x {g.screen_mm[1]:g} mm, "
          f"distance {g.distance_mm:g} mm")
    for k, v in m.extra.get("geometry_source", {}).items():
        print(f"     {k}: {v}")
    clock = m.extra.get("clock", "?")
    if "max_residual_ms" in m.extra:
        clock += f" (max residual {m.extra['max_residual_ms']:.2f} ms)"
    print(f"   clock {clock}")
    print("   counts " + ", ".join(f"{k}={v}" for k, v in rec.counts.items()))
    print(f"   trials {len(rec.trials)}: " + ", ".join(str(x) for x in rec.trials["stimulus_id"].tolist()[:5]))
    if rec.labels is None:
        print("   no Tobii labels in the file")
        return
    print(f"   labels {m.extra.get('labels_source')}")
    results = {name: compare(rec, p.config) for name, p in PRESETS.items()}
    for name, r in results.items():
        print(f"   {name:17s} {_fmt(r)}")
    best = best_preset(results)
    print(f"   best preset: {best} (score {preset_score(results[best]):.4f})")
    for key, cfg in FILE_FILTERS.items():
        if path.name.startswith(key):
            print(f"   {'file filter':17s} {_fmt(compare(rec, cfg))}  [{cfg.eye_selection}, noise {cfg.noise_reduction}]")
    if diagnose:
        for name, (transform, cfg) in DIAGNOSTICS.items():
            print(f"   diagnostic: {name}: {_fmt(compare(transform(rec), cfg))}")
        for key, cfg in SHIFT_DIAGNOSTIC.items():
            if path.name.startswith(key):
                print(f"   diagnostic: velocity window at gaps {cfg.velocity_window_at_gaps}: {_fmt(compare(rec, cfg))}")
        for key, cfg in FILE_FILTERS.items():
            if path.name.startswith(key):
                _near_threshold(rec, cfg)


def _near_threshold(rec: Recording, cfg: IVTConfig, band: float = 3.0) -> None:
    """How many disagreeing samples have our velocity within ``band`` deg/s of the threshold, and the
    threshold that would fit Tobii's labels best (a diagnostic: the file's threshold is what it is)."""
    import numpy as np

    from analysis.fixations._common import recording_arrays
    from analysis.fixations.ivt import ivt_filter

    a = recording_arrays(rec)
    out = ivt_filter(a["time_s"], a["left_x"], a["left_y"], a["right_x"], a["right_y"], a["left_valid"],
                     a["right_valid"], a["geometry"], a["eye_xyz"], cfg)
    tobii = rec.labels["movement"].to_numpy() == "fixation"
    ours = out.labels == 1
    v = out.velocity_deg_s
    dis = tobii != ours
    near = np.abs(v - cfg.velocity_threshold_deg_s) < band
    print(f"   diagnostic: {int(dis.sum())} disagreeing samples with the file's filter; {int((dis & near).sum())} "
          f"have our velocity within {band:g} deg/s of {cfg.velocity_threshold_deg_s:g}")
    fits = {}
    for th in (29.0, 30.0, 31.0, 32.0):
        fits[th] = compare(rec, dataclasses.replace(cfg, velocity_threshold_deg_s=th))
    print("   diagnostic: the file's filter at other thresholds: " + "; ".join(
        f"{th:g} deg/s kappa {r['kappa']:.4f} ({r['fixations_ours']} / {r['fixations_tobii']})" for th, r in fits.items()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", default=str(ROOT.parent / "shared" / "realdata"),
                   help="folder of real exports (default: ../shared/realdata)")
    p.add_argument("--diagnose", action="store_true", help="also run the diagnostic variants")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    files = sorted(f for f in folder.iterdir() if f.is_file() and f.name != "README.md") if folder.is_dir() else []
    if not files:
        print(f"no files in {folder}", file=sys.stderr)
        return 2
    for f in files:
        check_file(f, args.diagnose)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
