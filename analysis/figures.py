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

from analysis.aggregate import (  # noqa: E402
    ARTWORKS,
    CATEGORIES,
    CATEGORY_NAMES,
    MEASURE_NAMES,
    METHOD_NAMES,
    METHODS,
    artwork_name,
)

logger = logging.getLogger(__name__)

METHOD_COLORS = {"ours": "#1b6fb5", "pix2pix": "#d9731a"}
METHOD_LABELS = METHOD_NAMES
MEASURE_LABELS = MEASURE_NAMES
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
    return artwork_name(a, sep="\n")


def artwork_means(table: pd.DataFrame, *, reference: pd.DataFrame | None = None, simulated: bool = False):
    """Per-artwork means with 95% CIs for both methods (two panels: time, count).

    ``table`` is :func:`analysis.aggregate.table4`; only ``level == "artwork"`` rows are
    drawn, in the paper's order, methods side by side. ``reference`` (the paper's Table 4,
    :func:`analysis.reference.load_table4`) adds the paper's value of each cell as an open
    diamond in the method's colour.
    """
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, 2, figsize=(11, 5.0), layout="constrained")
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
                            color=METHOD_COLORS[method], label=METHOD_LABELS[method] + ", this study")
                if reference is not None:
                    ref = reference[reference["method"] == method].set_index("artwork").reindex(order)
                    ax.scatter(x + (k - 0.5) * 0.3, ref[m].to_numpy(dtype=float), marker="D", s=28,
                               facecolors="none", edgecolors=METHOD_COLORS[method], linewidths=1.2, zorder=4,
                               label=METHOD_LABELS[method] + ", paper (Table 4)")
            ax.set_xticks(x, [_artwork_label(a) for a in order], rotation=60, ha="right", fontsize=7)
            ax.set_ylabel(MEASURE_LABELS[m] + ", mean and 95% CI")
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False, fontsize=7)
        fig.suptitle("Per-artwork means over participants (95% CI)"
                     + (" and the paper's values (open diamonds)" if reference is not None else ""))
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
            ax.set_xticks(x, [CATEGORY_NAMES.get(c, c) for c in cats])
            ax.set_ylabel(MEASURE_LABELS[m])
        axes[0].legend(frameon=False)
        fig.suptitle("Method x category (means of participant category means, 95% CI)")
        _sim_note(fig, simulated)
    return fig


def heatmap_fixations(fixations: pd.DataFrame, onsets: pd.DataFrame | None = None, *,
                      drop_onset_fixation: bool = True, aoi_only: bool = True) -> tuple[pd.DataFrame, int]:
    """The fixations a heatmap or scanpath shows, and how many were dropped at stimulus onset.

    Parameters
    ----------
    fixations : pandas.DataFrame
        :data:`analysis.batch.DATASET_FIXATION_COLUMNS` (``participant``, ``session``,
        ``trial``, ``onset_s``, ``in_aoi``, ...), already labelled with their trial.
    onsets : pandas.DataFrame, optional
        ``participant``, ``session``, ``trial``, ``onset_s``: each trial's stimulus onset on
        the fixations' clock (the events' ``tracker_onset_us``).
    drop_onset_fixation : bool
        Drop the fixation already in progress at stimulus onset (``onset_s`` before the
        trial's onset): it began on the fixation cross, so it lands in the centre of every
        image and says nothing about the image (default: True; the figure captions say so).
        Trials without a known onset keep all their fixations.
    aoi_only : bool
        Keep only fixations inside the stimulus AOI (``in_aoi``), the fixations Table 4
        counts (default: True).

    Returns
    -------
    (pandas.DataFrame, int)
        The kept fixations and the number dropped because they were in progress at onset.
    """
    fx = fixations
    if aoi_only and "in_aoi" in fx:
        fx = fx[fx["in_aoi"].fillna(False).astype(bool).to_numpy()]
    dropped = 0
    if drop_onset_fixation and onsets is not None and len(onsets) and len(fx):
        key = ["participant", "session", "trial"]
        on = onsets[key + ["onset_s"]].rename(columns={"onset_s": "_trial_onset_s"})
        on = on.assign(**{k: on[k].astype(str) for k in key})
        merged = fx.assign(**{k: fx[k].astype(str) for k in key}).merge(on, on=key, how="left")
        early = (merged["onset_s"].to_numpy(float) < merged["_trial_onset_s"].to_numpy(float))
        dropped = int(early.sum())
        fx = fx[~early]
    return fx.reset_index(drop=True), dropped


#: Longest side (pixels) a stimulus image is reduced to under a heatmap or scanpath panel: a
#: panel is about 250 px wide in the PNG (2.1 in at 120 dpi), so more detail is never seen and
#: only makes the report heavier.
PANEL_IMAGE_PX = 320


def _stimulus_axes(n: int, *, ncol: int = 6, extra_w: float = 0.0):
    nrow = max(1, int(np.ceil(n / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(2.1 * ncol + extra_w, 2.3 * nrow + 0.6),
                             constrained_layout=True, squeeze=False)
    for ax in axes.ravel():
        ax.set_axis_off()
    return fig, axes


def _draw_stimulus(ax, a: pd.Series, images: dict[str, Path]) -> tuple[float, float, float, float, bool]:
    """Draw the stimulus image (or its outline) in its on-screen rectangle; return the view box."""
    l, t, r, b = (float(a[k]) for k in ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom"))
    pad = 0.05 * max(r - l, b - t)
    img = images.get(a["stimulus_id"])
    drawn = False
    if img is not None:
        try:
            from PIL import Image

            with Image.open(img) as im:
                small = im.convert("RGB")
                small.thumbnail((PANEL_IMAGE_PX, PANEL_IMAGE_PX), Image.Resampling.LANCZOS)
                ax.imshow(np.asarray(small), extent=(l, r, b, t))
            drawn = True
        except OSError as exc:
            logger.warning("cannot read stimulus image %s: %s", img, exc)
    ax.add_patch(plt.Rectangle((l, t), r - l, b - t, fill=False, ec="k", lw=0.8))
    ax.set_xlim(l - pad, r + pad)
    ax.set_ylim(b + pad, t - pad)
    return l - pad, r + pad, t - pad, b + pad, drawn


def _stimulus_title(a: pd.Series, names: dict[str, tuple[str, str]], n: int, what: str) -> str:
    art, method = names.get(a["stimulus_id"], (a["stimulus_id"], ""))
    label = artwork_name(art, sep="\n") + ("\n" + METHOD_NAMES.get(method, method) if method else "")
    return f"{label}\n({n} {what})"


def heatmaps(fixations: pd.DataFrame, aois: pd.DataFrame, *, images: dict[str, Path] | None = None,
             names: dict[str, tuple[str, str]] | None = None, sigma_px: float = 38.0, bin_px: int = 8,
             gamma: float = 0.5, simulated: bool = False):
    """Duration-weighted fixation heatmap over each stimulus (all participants), with a colour scale.

    Fixation positions are binned at ``bin_px``, weighted by duration and smoothed with a
    Gaussian of ``sigma_px``; each map is divided by its maximum and shown through a
    power-law colour scale with exponent ``gamma`` (default 0.5, so the most-viewed region
    does not hide the rest; the colour bar shows the scale) and an opacity equal to its
    value (transparent where nobody looked). The default ``sigma_px`` = 38 px is 1 degree
    of visual angle on the T60 at 65 cm (0.264 mm/px), the foveal-size Gaussian
    recommended for fixation maps by Le Meur & Baccino (2013), *Behavior Research
    Methods, 45*(1), 251-266. The stimulus image is drawn in its on-screen
    rectangle when a file is given in ``images`` (from ``data/stimuli/manifest.csv``);
    otherwise the rectangle itself is outlined. Select the fixations with
    :func:`heatmap_fixations` (AOI fixations, without the one in progress at onset).

    Parameters
    ----------
    fixations : pandas.DataFrame
        ``stimulus_id``, ``x_px``, ``y_px``, ``duration_s`` (screen pixels).
    aois : pandas.DataFrame
        One row per stimulus: ``stimulus_id``, ``aoi_left``, ``aoi_top``, ``aoi_right``,
        ``aoi_bottom``.
    names : dict, optional
        ``{stimulus_id: (artwork, method)}`` for the panel titles (default: the id).
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import PowerNorm
    from scipy.ndimage import gaussian_filter

    images = images or {}
    names = names or {}
    cmap = plt.get_cmap("inferno")
    norm = PowerNorm(gamma, vmin=0.0, vmax=1.0)
    with plt.rc_context(_RC):
        fig, axes = _stimulus_axes(len(aois), extra_w=0.8)
        fx = fixations.dropna(subset=["x_px", "y_px", "duration_s"])
        for ax, (_, a) in zip(axes.ravel(), aois.iterrows()):
            x0, x1, y0, y1, drawn = _draw_stimulus(ax, a, images)
            sub = fx[fx["stimulus_id"] == a["stimulus_id"]]
            nx = max(2, int((x1 - x0) / bin_px))
            ny = max(2, int((y1 - y0) / bin_px))
            h, _, _ = np.histogram2d(sub["y_px"].to_numpy(float), sub["x_px"].to_numpy(float), bins=(ny, nx),
                                     range=((y0, y1), (x0, x1)), weights=sub["duration_s"].to_numpy(float))
            h = gaussian_filter(h, sigma_px / bin_px)
            if h.max() > 0:
                v = norm(h / h.max()).filled(0.0)
                rgba = cmap(v)
                rgba[..., 3] = v * (0.75 if drawn else 0.95)  # transparent where nobody looked
                ax.imshow(rgba, extent=(x0, x1, y1, y0), interpolation="bilinear")
            ax.set_xlim(x0, x1)
            ax.set_ylim(y1, y0)
            ax.set_title(_stimulus_title(a, names, len(sub), "AOI fixations"), fontsize=7)
        cb = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=axes.ravel().tolist(), shrink=0.6, pad=0.01)
        cb.set_label("duration-weighted fixation density\n(share of each map's maximum)", fontsize=7)
        fig.suptitle("Fixation heatmaps (duration-weighted, AOI fixations of all participants)")
        _sim_note(fig, simulated)
    return fig


def scanpaths(fixations: pd.DataFrame, aois: pd.DataFrame, *, images: dict[str, Path] | None = None,
              names: dict[str, tuple[str, str]] | None = None, participants: list[str] | None = None,
              max_fixations: int = 12, simulated: bool = False):
    """Scanpaths of a few participants over each stimulus: numbered fixations sized by duration.

    Each participant is one colour; fixations are circles whose area is proportional to
    their duration, joined in temporal order and numbered from 1 (the usual scanpath
    display: Noton & Stark, 1971, *Vision Research, 11*(9), 929-942; Holmqvist et al.,
    2011, *Eye Tracking: A Comprehensive Guide to Methods and Measures*, Oxford University
    Press). Only the first ``max_fixations`` fixations of each trial are drawn (default:
    12, a readability choice of this report, not a published value).

    Parameters
    ----------
    fixations : pandas.DataFrame
        ``participant``, ``stimulus_id``, ``onset_s``, ``x_px``, ``y_px``, ``duration_s``
        (select them with :func:`heatmap_fixations`).
    aois : pandas.DataFrame
        As in :func:`heatmaps`.
    participants : list of str, optional
        Whose scanpaths to draw (default: the first three participants in sort order).
    """
    images = images or {}
    names = names or {}
    fx = fixations.dropna(subset=["x_px", "y_px", "duration_s"])
    if participants is None:
        participants = sorted(set(fx["participant"].astype(str)))[:3]
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b"]
    with plt.rc_context(_RC):
        fig, axes = _stimulus_axes(len(aois))
        fx = fx[fx["participant"].astype(str).isin(participants)].sort_values(["participant", "onset_s"])
        for ax, (_, a) in zip(axes.ravel(), aois.iterrows()):
            _draw_stimulus(ax, a, images)
            sub = fx[fx["stimulus_id"] == a["stimulus_id"]]
            for k, p in enumerate(participants):
                f = sub[sub["participant"].astype(str) == p].head(max_fixations)
                if f.empty:
                    continue
                c = colors[k % len(colors)]
                x, y = f["x_px"].to_numpy(float), f["y_px"].to_numpy(float)
                ax.plot(x, y, color=c, lw=0.7, alpha=0.8)
                ax.scatter(x, y, s=f["duration_s"].to_numpy(float) * 120, color=c, alpha=0.45, ec=c, lw=0.6)
                for i, (xi, yi) in enumerate(zip(x, y), start=1):
                    ax.text(xi, yi, str(i), fontsize=5, ha="center", va="center", color="k")
            ax.set_title(_stimulus_title(a, names, len(participants), "participants"), fontsize=7)
        handles = [plt.Line2D([], [], marker="o", color=colors[k % len(colors)], lw=0.7, label=p)
                   for k, p in enumerate(participants)]
        handles.append(plt.scatter([], [], s=0.25 * 120, color="0.5", alpha=0.45, label="0.25 s fixation"))
        handles.append(plt.scatter([], [], s=1.0 * 120, color="0.5", alpha=0.45, label="1 s fixation"))
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), frameon=False, fontsize=7)
        fig.suptitle(f"Scanpaths: first {max_fixations} AOI fixations of {len(participants)} participants per "
                     "stimulus (numbered, area proportional to duration)")
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
