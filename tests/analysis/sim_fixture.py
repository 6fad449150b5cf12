"""Test support: a tiny simulated cohort (study.simulate) on the quick protocol with stand-in stimuli."""

from __future__ import annotations

from pathlib import Path


def simulate_tiny(tmp: Path, *, participants: int, n_trials: int, viewing_s: float, seed: int,
                  oculomotor: dict[str, float] | None = None) -> Path:
    """Simulate ``participants`` x ``n_trials`` trials of ``viewing_s`` seconds; return the dataset root."""
    from study.simulate import fallback_manifest, simulate

    fallback_manifest(tmp / "stim", 64)
    ocu = "".join(f"{k} = {float(v)!r}\n" for k, v in (oculomotor or {}).items())
    cfg = tmp / "sim.toml"
    cfg.write_text(f"""
[simulation]
participants = {participants}
study_config = "quick"
manifest = "{(tmp / 'stim' / 'manifest.csv').as_posix()}"
[study_overrides.study]
n_trials = {n_trials}
practice = false
[study_overrides.timing]
viewing_s = {viewing_s}
[oculomotor]
{ocu}""", encoding="utf-8")
    return simulate(tmp / "data", config=cfg, seed=seed, progress=False)
