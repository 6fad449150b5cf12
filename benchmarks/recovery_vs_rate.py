"""How fixation recovery depends on the sampling rate -> docs/figures/recovery_vs_rate.png/.svg.

Not a test (it takes minutes). The question it answers: is the demo cohort's sample-level
kappa of about 0.79 (goal 0.9, docs/simulation.md) a fault of the pipeline or the noise
model, or a property of classifying 60 Hz samples with the Tobii I-VT filter?

The same participants (same seed, so the same scan paths, blinks and loss bursts) are
simulated with ``study.simulate`` (real protocol, recorder and BIDS finaliser) at the Tobii
rates 60, 120, 300 and 600 Hz, in two tracker conditions, and validated with
``analysis.validate`` (real reader, Tobii I-VT filter with the Pro Lab preset, metrics):

* ``ideal``: a perfect measurement of the simulated eye: no noise, no accuracy offset, no
  drift, no head movement, no data loss, no blinks, no timestamp jitter. What remains is
  the sampling itself and the filter's definition (20-ms velocity window, 30 deg/s,
  75-ms / 0.5-deg merge, 60-ms minimum; Olsen 2012).
* ``default``: the demo cohort's tracker model (0.3 deg RMS sample-to-sample precision per
  eye, 0.5-deg accuracy, drift, 3 % loss, 15 blinks/min), with the timestamp jitter
  scaled to the same fraction of the sampling interval as 300 us at 60 Hz (so the readers
  see one rate, ``study.oculomotor.max_jitter_us``).

Run from the repository root::

    python benchmarks/recovery_vs_rate.py [--participants 4] [--viewing-s 10] [--rates 60,120,300,600]
           [--work reports/recovery_vs_rate] [--out docs/figures/recovery_vs_rate]

Writes ``<out>.png``, ``<out>.svg`` and ``<work>/recovery_vs_rate.tsv``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from recovery_vs_noise import cohort_arguments, run_point, save_figure, work_and_manifest, write_rows  # noqa: E402

RATES = (60.0, 120.0, 300.0, 600.0)
DEFAULT_JITTER_US_AT_60HZ = 300.0
IDEAL = {"precision_rms_deg": 0.0, "accuracy_deg": 0.0, "drift_sd_deg": 0.0, "head_sd_mm": 0.0,
         "loss_fraction": 0.0, "blink_rate_per_min": 0.0, "jitter_us": 0.0}


def conditions(rate_hz: float) -> dict[str, dict[str, float]]:
    """Tracker parameter overrides of both conditions at one rate."""
    return {"ideal": dict(IDEAL), "default": {"jitter_us": DEFAULT_JITTER_US_AT_60HZ * 60.0 / rate_hz}}


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "artgaze-recovery-rate"
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for cond, style in (("ideal", "--"), ("default", "-")):
        rs = sorted((r for r in rows if r["condition"] == cond), key=lambda r: r["rate_hz"])
        x = [r["rate_hz"] for r in rs]
        axes[0].plot(x, [r["kappa"] for r in rs], "o" + style, label=f"kappa, {cond} tracker")
        axes[0].plot(x, [r["f1"] for r in rs], "s" + style, label=f"F1 (IoU >= 0.5), {cond} tracker")
        axes[1].plot(x, [100 * r["time_bias"] for r in rs], "o" + style, label=f"per-trial bias: time, {cond}")
        axes[1].plot(x, [100 * r["count_bias"] for r in rs], "s" + style, label=f"per-trial bias: count, {cond}")
    axes[0].axhline(0.9, color="grey", lw=0.8, ls=":", label="kappa goal 0.9")
    axes[1].axhline(3.0, color="grey", lw=0.8, ls=":", label="+-3 %")
    axes[1].axhline(-3.0, color="grey", lw=0.8, ls=":")
    axes[1].axhline(0.0, color="black", lw=0.5)
    for ax in axes:
        ax.set_xscale("log")
        ax.minorticks_off()
        ax.set_xticks(sorted({r["rate_hz"] for r in rows}))
        ax.set_xticklabels([f"{r:g}" for r in sorted({r["rate_hz"] for r in rows})])
        ax.set_xlabel("sampling rate (Hz)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("agreement with ground truth")
    axes[0].set_ylim(0.5, 1.02)
    axes[1].set_ylabel("detected vs true (%)")
    axes[0].legend(fontsize=7, loc="lower right")
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Recovery vs sampling rate: Tobii I-VT (Pro Lab preset) on the same simulated participants",
                 fontsize=10)
    save_figure(fig, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cohort_arguments(p, participants=4, name="recovery_vs_rate")
    p.add_argument("--rates", default=",".join(f"{r:g}" for r in RATES), help="comma-separated rates in Hz")
    args = p.parse_args(argv)
    work, manifest = work_and_manifest(args)
    rows = []
    for rate in (float(r) for r in args.rates.split(",")):
        for cond, ocu in conditions(rate).items():
            row = run_point(work, f"{cond}_{rate:g}hz", participants=args.participants, viewing_s=args.viewing_s,
                            seed=args.seed, manifest=manifest, rate_hz=rate, oculomotor=ocu)
            row = {"condition": cond, **row}
            rows.append(row)
            print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    write_rows(rows, work / "recovery_vs_rate.tsv")
    plot(rows, Path(args.out))
    print(f"wrote {args.out}.png/.svg and {work / 'recovery_vs_rate.tsv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
