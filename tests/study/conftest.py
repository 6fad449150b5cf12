"""Fixtures for the study tests: a small stimulus manifest with real images and fast configs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.study.study_fixtures import FAST_TOML, write_manifest


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    """Three artworks x two versions (6 small images) and their manifest."""
    return write_manifest(tmp_path / "stimuli", {"david": "sculpture", "night_watch": "painting",
                                                 "tang_sancai": "craft"})


@pytest.fixture
def fast_config(tmp_path: Path) -> Path:
    """A 2-trial x 1-s simulated, headless config with short calibration (tests only)."""
    p = tmp_path / "fast.toml"
    p.write_text(FAST_TOML, encoding="utf-8")
    return p
