"""Figures of the report (matplotlib, Agg backend), saved as PNG and SVG deterministically.

Every function takes tidy tables produced by :mod:`analysis.aggregate` (or the
``DatasetResult`` tables) and returns a :class:`matplotlib.figure.Figure`;
:func:`save_figure` writes it as PNG and SVG with fixed metadata (no date) and a fixed
SVG hash salt, so re-running the report gives identical files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis.aggregate import ARTWORKS, CATEGORIES, METHODS  # noqa: E402

logger = logging.getLogger(__name__)

METHOD_COLORS = {"ours": "#1b6fb5", "pix2pix": "#d9731a"}
METHOD_LABELS = {"ours": "ours (asymmetric CycleGAN)", "pix2pix": "Pix2Pix"}
MEASURE_LABELS = {"fixation_time_s": "Total fixation time (s)", "fixation_count": "Number of fixations"}
_RC = {"svg.hashsalt": "artgaze-report", "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
       "axes.spines.right": False, "figure.dpi": 100}


def _sim_note(fig, simulated: bool) -> None:
    if simulated:
        fig.text(0.005, 0.995, "SIMULATED DATA", ha="left", va="top", fontsize=8, color="#b00020",
                 fontweight="bold")


def save_figure(fig, out_dir: str | Path, name: str, *, dpi: int = 120) -> dict[str, Path]:
    """Write ``fig`` as ``<name>.png`` and ``<name>.svg`` with deterministic metadata; close it."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"png": out_dir / f"{name}.png", "svg": out_dir / f"{name}.svg"}
    with plt.rc_context(_RC):
        fig.savefig(paths["png"], dpi=dpi, metadata={"Software": None})
        fig.savefig(paths["svg"], metadata={"Date": None, "Creator": None})
    plt.close(fig)
    return paths


def _artwork_label(a: str) -> str:
    return a.replace("_", " ")


def artwork_means(table: pd.DataFrame, *, simulated: bool = False):
    """Per-artwork means with 95% CIs for both methods (two panels: time, count).

    ``table`` is :func:`analysis.aggregate.table4`; only ``level == "artwork"`` rows are
    drawn, in the paper's order, methods side by side.
    """
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
        art = table[table["level"] == "artwork"]
        order = [a for a in ARTWORKS if a in set(art["artwork"])] + sorted(set(art["artwork"]) - set(ARTWORKS))
        x = np.arange(len(order))
        for ax, m in zip(axes, ("fixation_time_s", "fixation_count")):
            for k, method in enumerate(METHODS):
                sub = art[art["method"] == method].set_index("artwork").reindex(order)
                mean = sub[f"{m}_mean"].to_numpy(dtype=float)
                err = np.vstack([mean - sub[f"{m}_ci_low"].to_numpy(dtype=float),
                                 sub[f"{m}_ci_high"].to_numpy(dtype=float) - mean])
                ax.errorbar(x + (k - 0.5) * 0.3, mean, yerr=np.nan_to_num(err), fmt="o", capsize=3,
                            color=METHOD_COLORS[method], label=METHOD_LABELS[method])
            ax.set_xticks(x, [_artwork_label(a) for a in order], rotation=45, ha="right")
            ax.set_ylabel(MEASURE_LABELS[m] + ", mean and 95% CI")
        axes[0].legend(frameon=False, loc="best")
        fig.suptitle("Per-artwork means over participants (95% CI)")
        _sim_note(fig, simulated)
    return fig


def paired_lines(overall: pd.DataFrame, *, simulated: bool = False):
    """Participant-level paired lines: each participant's mean over the nine artworks per method.

    ``overall`` is :func:`analysis.aggregate.participant_values` at ``level="overall"``.
    """
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, 2, figsize=(8, 4), constrained_layout=True)
        for ax, (src, m) in zip(axes, (("total_fixation_s", "fixation_time_s"),
                                       ("fixation_count", "fixation_count"))):
            wide = overall.pivot(index="participant", columns="method", values=src).reindex(columns=list(METHODS))
            wide = wide.dropna()
            for _, row in wide.iterrows():
                ax.plot([0, 1], row.to_numpy(dtype=float), color="0.6", lw=0.7, alpha=0.7)
            for k, method in enumerate(METHODS):
                ax.scatter(np.full(len(wide), k), wide[method], s=10, color=METHOD_COLORS[method], zorder=3)
                ax.plot([k - 0.15, k + 0.15], [wide[method].mean()] * 2, color="k", lw=2)
            ax.set_xticks([0, 1], [METHOD_LABELS[mm] for mm in METHODS])
            ax.set_xlim(-0.4, 1.4)
            ax.set_ylabel(MEASURE_LABELS[m] + " (participant mean)")
        fig.suptitle(f"Participant-level paired values (n = {len(wide)} complete participants)")
        _sim_note(fig, simulated)
    return fig


def interaction(table: pd.DataFrame, *, simulated: bool = False):
    """Method x category interaction plot (category rows of Table 4, means and 95% CIs)."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.8), constrained_layout=True)
        cat = table[table["level"] == "category"]
        cats = [c for c in CATEGORIES if c in set(cat["category"])]
        x = np.arange(len(cats))
        for ax, m in zip(axes, ("fixation_time_s", "fixation_count")):
            for method in METHODS:
                sub = cat[cat["method"] == method].set_index("category").reindex(cats)
                mean = sub[f"{m}_mean"].to_numpy(dtype=float)
                err = np.vstack([mean - sub[f"{m}_ci_low"].to_numpy(dtype=float),
                                 sub[f"{m}_ci_high"].to_numpy(dtype=float) - mean])
                ax.errorbar(x, mean, yerr=np.nan_to_num(err), marker="o", capsize=3, color=METHOD_COLORS[method],
                            label=METHOD_LABELS[method])
            ax.set_xticks(x, cats)
            ax.set_ylabel(MEASURE_LABELS[m])
        axes[0].legend(frameon=False)
        fig.suptitle("Method x category (means of participant category means, 95% CI)")
        _sim_note(fig, simulated)
    return fig


def heatmaps(fixations: pd.DataFrame, aois: pd.DataFrame, *, images: dict[str, Path] | None = None,
             sigma_px: float = 38.0, bin_px: int = 8, simulated: bool = False):
    """Duration-weighted fixation heatmap over each stimulus (all participants).

    Fixation positions are binned at ``bin_px``, weighted by duration and smoothed with a
    Gaussian of ``sigma_px``; the map is shown with gamma 0.5 and an opacity equal to its
    value (transparent where nobody looked). The default ``sigma_px`` = 38 px is 1 degree
    of visual angle on the T60 at 65 cm (0.264 mm/px), the foveal-size Gaussian
    recommended for fixation maps by Le Meur & Baccino (2013), *Behavior Research
    Methods, 45*(1), 251-266. The stimulus image is drawn in its on-screen
    rectangle when a file is given in ``images`` (from ``data/stimuli/manifest.csv``);
    otherwise the rectangle itself is outlined.

    Parameters
    ----------
    fixations : pandas.DataFrame
        ``stimulus_id``, ``x_px``, ``y_px``, ``duration_s`` (screen pixels).
    aois : pandas.DataFrame
        One row per stimulus: ``stimulus_id``, ``aoi_left``, ``aoi_top``, ``aoi_right``,
        ``aoi_bottom``.
    """
    from scipy.ndimage import gaussian_filter

    images = images or {}
    stim = [s for s in aois["stimulus_id"]]
    ncol = 6
    nrow = max(1, int(np.ceil(len(stim) / ncol)))
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(2.1 * ncol, 1.9 * nrow + 0.5), constrained_layout=True,
                                 squeeze=False)
        for ax in axes.ravel():
            ax.set_axis_off()
        fx = fixations.dropna(subset=["x_px", "y_px", "duration_s"])
        for ax, (_, a) in zip(axes.ravel(), aois.iterrows()):
            l, t, r, b = (float(a[k]) for k in ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom"))
            pad = 0.05 * max(r - l, b - t)
            x0, x1, y0, y1 = l - pad, r + pad, t - pad, b + pad
            img = images.get(a["stimulus_id"])
            if img is not None:
                try:
                    from PIL import Image

                    with Image.open(img) as im:
                        ax.imshow(np.asarray(im.convert("RGB")), extent=(l, r, b, t))
                except OSError as exc:
                    logger.warning("cannot read stimulus image %s: %s", img, exc)
                    img = None
            ax.add_patch(plt.Rectangle((l, t), r - l, b - t, fill=False, ec="k", lw=0.8))
            sub = fx[fx["stimulus_id"] == a["stimulus_id"]]
            nx = max(2, int((x1 - x0) / bin_px))
            ny = max(2, int((y1 - y0) / bin_px))
            h, _, _ = np.histogram2d(sub["y_px"].to_numpy(float), sub["x_px"].to_numpy(float), bins=(ny, nx),
                                     range=((y0, y1), (x0, x1)), weights=sub["duration_s"].to_numpy(float))
            h = gaussian_filter(h, sigma_px / bin_px)
            if h.max() > 0:
                h = np.sqrt(h / h.max())  # gamma 0.5: the central first fixation does not hide the rest
                rgba = plt.get_cmap("inferno")(h)
                rgba[..., 3] = h * (0.75 if img is not None else 0.95)  # transparent where nobody looked
                ax.imshow(rgba, extent=(x0, x1, y1, y0), interpolation="bilinear")
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
            ax.set_title(f"{a['stimulus_id']}\n({len(sub)} fixations)", fontsize=7)
        fig.suptitle("Fixation heatmaps (duration-weighted, all participants)")
        _sim_note(fig, simulated)
    return fig


def quality_overview(trial_metrics: pd.DataFrame, recording_quality: pd.DataFrame | None = None, *,
                     simulated: bool = False):
    """Data quality per participant: valid-sample fraction per trial and excluded trials."""
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        parts = sorted(trial_metrics["participant"].astype(str).unique())
        pos = {p: i for i, p in enumerate(parts)}
        tm = trial_metrics.assign(_x=trial_metrics["participant"].astype(str).map(pos))
        vf = tm["valid_fraction"].to_numpy(dtype=float) if "valid_fraction" in tm else np.full(len(tm), np.nan)
        exc = tm["excluded"].astype(bool).to_numpy()
        axes[0].scatter(tm["_x"][~exc], vf[~exc], s=6, color="#1b6fb5", label="included trial")
        axes[0].scatter(tm["_x"][exc], vf[exc], s=10, marker="x", color="#b00020", label="excluded trial")
        axes[0].set_ylabel("valid-sample fraction per trial")
        axes[0].set_ylim(-0.02, 1.02)
        axes[0].legend(frameon=False, fontsize=7)
        n_exc = tm.groupby("_x")["excluded"].sum().reindex(range(len(parts)), fill_value=0)
        axes[1].bar(np.arange(len(parts)), n_exc.to_numpy(dtype=float), color="#b00020")
        axes[1].set_ylabel("excluded trials")
        for ax in axes:
            step = max(1, len(parts) // 25)
            ax.set_xticks(np.arange(len(parts))[::step], parts[::step], rotation=90, fontsize=6)
        fig.suptitle("Data quality per participant")
        _sim_note(fig, simulated)
    return fig
