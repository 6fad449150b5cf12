"""Figures: which fixations the heatmaps and scanpaths show, the colour scale, the paper overlay, the names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import figures as figs
from analysis.aggregate import ARTWORKS, artwork_name, stimulus_name, table4
from analysis.reference import load_table4

AOI = pd.DataFrame([{"stimulus_id": "david_ours", "aoi_left": 0.0, "aoi_top": 0.0, "aoi_right": 800.0,
                     "aoi_bottom": 600.0}])
NAMES = {"david_ours": ("david", "ours")}


def _fixations() -> pd.DataFrame:
    # trial 1 of sub-01 starts at 100.0 s: the first fixation began on the cross (99.8 s), one is off the image
    rows = [("sub-01", "1", 1, 99.8, 0.40, 400.0, 300.0, True),
            ("sub-01", "1", 1, 100.3, 0.25, 100.0, 100.0, True),
            ("sub-01", "1", 1, 100.6, 0.30, 900.0, 100.0, False),
            ("sub-01", "1", 1, 101.0, 0.50, 700.0, 500.0, True),
            ("sub-02", "1", 1, 50.1, 0.20, 200.0, 400.0, True),     # onset 50.0: not in progress at onset
            ("sub-02", "1", 1, 50.4, 0.80, 300.0, 200.0, pd.NA)]   # in_aoi unknown: not shown
    fx = pd.DataFrame(rows, columns=["participant", "session", "trial", "onset_s", "duration_s", "x_px", "y_px",
                                     "in_aoi"])
    fx["in_aoi"] = fx["in_aoi"].astype("boolean")
    fx["offset_s"] = fx["onset_s"] + fx["duration_s"]
    return fx.assign(stimulus_id="david_ours")


ONSETS = pd.DataFrame({"participant": ["sub-01", "sub-02"], "session": ["1", "1"], "trial": [1, 1],
                       "onset_s": [100.0, 50.0]})


def test_heatmap_fixations_drop_the_onset_fixation_and_keep_aoi_fixations_only():
    shown, dropped = figs.heatmap_fixations(_fixations(), ONSETS)
    assert dropped == 1
    assert shown["onset_s"].tolist() == [100.3, 101.0, 50.1]
    # the option off keeps the fixation begun on the cross; without onsets nothing can be dropped
    kept, dropped = figs.heatmap_fixations(_fixations(), ONSETS, drop_onset_fixation=False)
    assert dropped == 0 and kept["onset_s"].tolist() == [99.8, 100.3, 101.0, 50.1]
    assert figs.heatmap_fixations(_fixations(), None)[1] == 0
    # aoi_only=False also keeps the fixation off the image and the unknown one
    assert len(figs.heatmap_fixations(_fixations(), ONSETS, aoi_only=False)[0]) == 5


def test_heatmap_has_a_colour_scale_names_and_counts_what_it_shows():
    shown, _ = figs.heatmap_fixations(_fixations(), ONSETS)
    fig = figs.heatmaps(shown, AOI, names=NAMES)
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert any("fixation density" in lab for lab in labels)          # the colour bar
    title = fig.axes[0].get_title()
    assert title.startswith("David\nOurs (asymmetric CycleGAN)") and "(3 AOI fixations)" in title
    cbar = next(ax for ax in fig.axes if "fixation density" in ax.get_ylabel())
    assert cbar.get_ylim() == pytest.approx((0.0, 1.0))


def test_heatmap_is_centred_on_what_was_viewed_not_on_the_cross():
    # all the weight at (100, 100) once the 0.4 s onset fixation at the centre (400, 300) is dropped
    fx = _fixations().iloc[[0, 1]]
    shown, _ = figs.heatmap_fixations(fx, ONSETS)
    fig = figs.heatmaps(shown, AOI, names=NAMES)
    img = next(im for im in fig.axes[0].get_images())
    alpha = np.asarray(img.get_array())[..., 3]
    x0, x1, y1, y0 = img.get_extent()
    iy, ix = np.unravel_index(np.argmax(alpha), alpha.shape)
    x = x0 + (ix + 0.5) * (x1 - x0) / alpha.shape[1]
    y = y0 + (iy + 0.5) * (y1 - y0) / alpha.shape[0]
    assert abs(x - 100) < 20 and abs(y - 100) < 20


def test_scanpaths_number_the_fixations_in_order_and_size_them_by_duration():
    shown, _ = figs.heatmap_fixations(_fixations(), ONSETS)
    fig = figs.scanpaths(shown, AOI, names=NAMES, participants=["sub-01", "sub-02"], max_fixations=12)
    ax = fig.axes[0]
    numbers = [t.get_text() for t in ax.texts]
    assert numbers == ["1", "2", "1"]           # sub-01: two AOI fixations after onset, sub-02: one
    sizes = [c.get_sizes().tolist() for c in ax.collections]
    assert sizes[0] == pytest.approx([0.25 * 120, 0.50 * 120]) and sizes[1] == pytest.approx([0.20 * 120])
    first = ax.collections[0].get_offsets()
    assert np.asarray(first)[0].tolist() == [100.0, 100.0]
    capped = figs.scanpaths(shown, AOI, names=NAMES, participants=["sub-01"], max_fixations=1)
    assert [t.get_text() for t in capped.axes[0].texts] == ["1"]


def _tm(n: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    ref = load_table4()
    rows = []
    for p in range(n):
        for r in ref[ref["artwork"] != "_average"].itertuples():
            rows.append({"participant": f"sub-{p:02d}", "stimulus_id": f"{r.artwork}_{r.method}",
                         "artwork": r.artwork, "category": r.category, "method": r.method,
                         "total_fixation_s": r.fixation_time_s + rng.normal(0, 1),
                         "fixation_count": r.fixation_count + int(rng.integers(-3, 4)), "excluded": False})
    return pd.DataFrame(rows)


def test_artwork_means_overlay_the_papers_values_and_use_the_artwork_names():
    ref = load_table4()
    fig = figs.artwork_means(table4(_tm()), reference=ref)
    ax_time, ax_count = fig.axes[:2]
    for ax, col in ((ax_time, "fixation_time_s"), (ax_count, "fixation_count")):
        diamonds = [c for c in ax.collections if c.get_label().endswith("paper (Table 4)")]
        assert len(diamonds) == 2
        for coll, method in zip(diamonds, ("ours", "pix2pix")):
            want = ref[ref["method"] == method].set_index("artwork").loc[list(ARTWORKS), col].to_numpy(float)
            assert np.asarray(coll.get_offsets())[:, 1] == pytest.approx(want)
    ticks = [t.get_text() for t in ax_time.get_xticklabels()]
    assert ticks == [artwork_name(a, sep="\n") for a in ARTWORKS]


def test_names_are_the_common_title_and_the_papers_name_from_artworks_toml():
    assert artwork_name("last_supper") == "The Last Supper [paper: The last dinner]"
    assert artwork_name("david") == "David"                       # the same name: said once
    assert artwork_name("my_own_vase") == "my own vase"           # a lab's own artwork
    assert stimulus_name("thinker", "pix2pix") == "The Thinker [paper: Thinkers], Pix2Pix"
