"""Helpers for the study tests (import as tests.study.study_fixtures): small manifests, fast configs."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

PAPER_ARTWORKS = {
    "last_supper": "painting", "night_watch": "painting", "virgin_of_the_rocks": "painting",
    "david": "sculpture", "thinker": "sculpture", "venus_de_milo": "sculpture",
    "terracotta_warriors": "craft", "tang_sancai": "craft", "blue_white_porcelain": "craft",
}


def write_manifest(folder: Path, artworks: dict[str, str], size=(80, 60)) -> Path:
    """Images (random RGB, distinct sizes per method) + manifest.csv in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    rows = []
    for art, cat in artworks.items():
        for method in ("ours", "pix2pix"):
            w, h = size if method == "ours" else (size[1], size[0])  # portrait pix2pix: tests aspect handling
            f = folder / f"{art}_{method}.png"
            Image.fromarray((rng.random((h, w, 3)) * 255).astype("uint8")).save(f)
            rows.append(dict(stimulus_id=f"{art}_{method}", artwork=art, category=cat, method=method, file=f.name,
                             sha256=hashlib.sha256(f.read_bytes()).hexdigest(), width_px=w, height_px=h,
                             checkpoint_id="test-0"))
    path = folder / "manifest.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        wr = csv.DictWriter(fh, fieldnames=list(rows[0]))
        wr.writeheader()
        wr.writerows(rows)
    return path


FAST_TOML = """
[study]
n_trials = 2
[timing]
fixation_s = 0.3
viewing_s = 1.0
iti_s = 0.2
practice_viewing_s = 0.3
drift_check_every = 1
drift_check_s = 0.4
calibration_point_s = 0.1
validation_point_s = 0.5
auto_response_s = 0.05
[tracker]
kind = "simulated"
calibration_points = 5
validation_points = 4
accuracy_threshold_deg = 3.0
max_calibration_attempts = 2
validation_settle_s = 0.25
[recorder]
flush_interval_s = 0.1
status_interval_s = 0.2
[screen]
fullscreen = false
[run]
presenter = "headless"
responder = "auto"
"""


