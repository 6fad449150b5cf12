"""How fixation recovery degrades with tracker noise and data loss -> docs/figures/recovery_vs_noise.png/.svg.

Not a test (it takes minutes). For each grid point a small cohort is simulated with
``study.simulate`` (real protocol, recorder and BIDS finaliser) with one tracker
parameter changed, and validated with ``analysis.validate`` (the real reader, Tobii
I-VT filter and metrics):

* precision (RMS sample-to-sample, per eye) 0.1 ... 1.0 deg at the default data loss (3 %);
* data loss (samples lost outside blinks) 0 ... 30 % at the default precision (0.3 deg).

Run from the repository root::

    python benchmarks/recovery_vs_noise.py [--participants 3] [--viewing-s 10] [--seed 20250925]
           [--work reports/recovery_vs_noise] [--out docs/figures/recovery_vs_noise]

Writes ``<out>.png``, ``<out>.svg`` and ``<work>/recovery_vs_noise.tsv`` (the numbers).
Byte-stable figures: fixed SVG hash salt, no dates in the metadata.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PRECISIONS = (0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
LOSSES = (0.0, 0.05, 0.1, 0.2, 0.3)
DEFAULT_PRECISION = 0.3
DEFAULT_LOSS = 0.03


def _config(path: Path, *, participants: int, viewing_s: float, manifest: Path | None, rate_hz: float,
            oculomotor: dict[str, float]) -> Path:
    man = f'manifest = "{manifest.as_posix()}"\n' if manifest is not None else ""
    ocu = "".join(f"{k} = {float(v)!r}\n" for k, v in oculomotor.items())
    path.write_text(f"""[simulation]
participants = {participants}
{man}
[study_overrides.tracker]
kind = "simulated"
sampling_rate_hz = {float(rate_hz)!r}
[study_overrides.timing]
viewing_s = {viewing_s}

[oculomotor]
{ocu}""", encoding="utf-8")
    return path


def run_point(work: Path, name: str, *, participants: int, viewing_s: float, seed: int, manifest: Path | None,
              rate_hz: float = 60.0, oculomotor: dict[str, float] | None = None) -> dict:
    """Simulate one small cohort (``oculomotor`` overrides the model's defaults) and validate it.

    Returns one row: the point's name, rate and tracker parameters, kappa (all views), F1,
    the worst per-stimulus errors and the mean per-trial biases.
    """
    from analysis.validate import validate_dataset
    from study.oculomotor import OculomotorParams
    from study.simulate import simulate

    # every participant at the grid point's precision and loss (no between-participant spread)
    ocu = {"precision_between_log_sd": 0.0, "loss_between_log_sd": 0.0, **(oculomotor or {})}
    params = OculomotorParams(**ocu)
    d = work / name
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    cfg = _config(d / "sim.toml", participants=participants, viewing_s=viewing_s, manifest=manifest,
                  rate_hz=rate_hz, oculomotor=ocu)
    root = simulate(d / "data", config=cfg, seed=seed, progress=False)
    res = validate_dataset(root, jobs=0, effects=False, progress=False)
    t4 = res.table4
    bias = res.bias.set_index("metric")["relative_bias"]
    out = {"point": name, "rate_hz": float(rate_hz), "precision_deg": params.precision_rms_deg,
           "loss_fraction": params.loss_fraction, "kappa": res.measures["kappa_vs_truth"],
           "kappa_valid_gaze_only": res.kappa_views["valid_gaze_only"],
           "kappa_boundary_tolerant": res.kappa_views["boundary_tolerant"], "f1": res.measures["event_f1"],
           "kappa_perfect": res.measures["kappa_perfect"],
           "worst_time_error": float(t4["time_rel_error"].abs().max()),
           "worst_count_error": float(t4["count_rel_error"].abs().max()),
           "time_bias": float(bias.loc["total_fixation_s"]), "count_bias": float(bias.loc["fixation_count"])}
    shutil.rmtree(d / "data")
    return out


def write_rows(rows: list[dict], path: Path) -> None:
    """The numbers as a TSV (floats with 6 decimals)."""
    cols = list(rows[0])
    lines = ["\t".join(cols)] + ["\t".join(f"{r[c]:.6f}" if isinstance(r[c], float) else str(r[c]) for c in cols)
                                 for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def plot(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "artgaze-recovery"
    prec = sorted((r for r in rows if r["point"].startswith("prec")), key=lambda r: r["precision_deg"])
    loss = sorted((r for r in rows if r["point"].startswith("loss")), key=lambda r: r["loss_fraction"])
    fig, axes = plt.subplots(2, 2, figsize=(10, 7), sharey="row")
    for col, (series, key, label, scale) in enumerate((
            (prec, "precision_deg", "RMS sample-to-sample precision per eye (deg)\n(data loss 3 %)", 1.0),
            (loss, "loss_fraction", "data loss outside blinks (%)\n(precision 0.3 deg)", 100.0))):
        x = [r[key] * scale for r in series]
        ax = axes[0, col]
        ax.plot(x, [r["kappa"] for r in series], "o-", label="sample-level Cohen's kappa")
        ax.plot(x, [r["kappa_valid_gaze_only"] for r in series], "o:", label="kappa, samples with gaze only")
        ax.plot(x, [r["f1"] for r in series], "s-", label="event-level F1 (IoU >= 0.5)")
        ax.axhline(0.9, color="grey", lw=0.8, ls="--", label="kappa goal 0.9")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax = axes[1, col]
        ax.plot(x, [100 * r["worst_time_error"] for r in series], "o-", label="worst |error| of a per-stimulus mean: time")
        ax.plot(x, [100 * r["worst_count_error"] for r in series], "s-", label="worst |error|: fixation count")
        ax.plot(x, [100 * r["time_bias"] for r in series], "o:", label="mean per-trial bias: time")
        ax.plot(x, [100 * r["count_bias"] for r in series], "s:", label="mean per-trial bias: count")
        ax.axhline(3.0, color="grey", lw=0.8, ls="--", label="cell goal 3 %")
        ax.axhline(0.0, color="black", lw=0.5)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("agreement with ground truth")
    axes[1, 0].set_ylabel("detected vs true (%)")
    axes[0, 1].legend(fontsize=7, loc="lower left")
    axes[1, 1].legend(fontsize=7, loc="upper left")
    fig.suptitle("Recovery of simulated ground truth by the Tobii I-VT pipeline (study.simulate -> analysis.validate)",
                 fontsize=10)
    save_figure(fig, out)


def save_figure(fig, out: Path) -> None:
    """``<out>.png`` and ``<out>.svg`` without dates or software versions (byte-stable)."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out.with_suffix(".png"), dpi=120, metadata={"Software": None})
    fig.savefig(out.with_suffix(".svg"), metadata={"Date": None, "Creator": None})
    plt.close(fig)


def cohort_arguments(p: argparse.ArgumentParser, *, participants: int, name: str) -> None:
    """The options both recovery benchmarks share (cohort size, seed, manifest, output paths)."""
    p.add_argument("--participants", type=int, default=participants,
                   help=f"participants per grid point (default {participants})")
    p.add_argument("--viewing-s", type=float, default=10.0, help="stimulus viewing time per trial, s (default 10)")
    p.add_argument("--seed", type=int, default=20250925, help="cohort seed, the same at every grid point")
    p.add_argument("--manifest", default=None, help="stimulus manifest (default: the study config's, else stand-ins)")
    p.add_argument("--work", default=f"reports/{name}", help="scratch folder and the numbers TSV")
    p.add_argument("--out", default=f"docs/figures/{name}", help="figure path without suffix")


def work_and_manifest(args: argparse.Namespace) -> tuple[Path, Path | None]:
    """Create the scratch folder; the manifest to simulate with (stand-ins when none exists)."""
    from study.simulate import fallback_manifest

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    manifest = Path(args.manifest) if args.manifest else None
    if manifest is None and not (REPO / "data" / "stimuli" / "manifest.csv").is_file():
        manifest = fallback_manifest(work / "stimuli", 256)
    return work, manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cohort_arguments(p, participants=3, name="recovery_vs_noise")
    args = p.parse_args(argv)
    from tqdm import tqdm

    work, manifest = work_and_manifest(args)
    grid = [(f"prec_{v:g}", v, DEFAULT_LOSS) for v in PRECISIONS] + [(f"loss_{v:g}", DEFAULT_PRECISION, v) for v in LOSSES]
    rows = []
    for name, prec, loss in tqdm(grid, desc="grid points"):
        rows.append(run_point(work, name, participants=args.participants, viewing_s=args.viewing_s, seed=args.seed,
                              manifest=manifest, oculomotor={"precision_rms_deg": prec, "loss_fraction": loss}))
        print(rows[-1], flush=True)
    write_rows(rows, work / "recovery_vs_noise.tsv")
    plot(rows, Path(args.out))
    print(f"wrote {args.out}.png/.svg and {work / 'recovery_vs_noise.tsv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
