"""Inputs of the report beyond the trial metrics: manifest, AOI rectangles, consistency checks.

Bad input never passes silently (issue "Bad input"): unknown stimulus ids, a manifest
that disagrees with the events, and duplicated participants raise
:class:`~analysis.errors.InputError`; a participant without valid data is kept in the
tables as excluded and named in the report.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.aggregate import ARTWORKS, CATEGORIES, METHODS, check_trial_metrics
from analysis.errors import InputError

logger = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("stimulus_id", "artwork", "category", "method", "file")
AOI_COLUMNS = ("aoi_left", "aoi_top", "aoi_right", "aoi_bottom")
DEMO_HINT = "python -m study.simulate --participants 50 --out data/demo"


def _read_text_table(path: Path, *, sep: str, what: str, fix: str, **kwargs) -> pd.DataFrame:
    """A small CSV/TSV read with pandas; unreadable, non-UTF-8 or malformed files are InputErrors."""
    kwargs.setdefault("dtype", str)
    try:
        return pd.read_csv(path, sep=sep, keep_default_na=False, encoding="utf-8", **kwargs)
    except UnicodeDecodeError:
        raw = path.read_bytes()
        try:  # pandas' error position is within its read buffer: find the byte in the file
            raw.decode("utf-8")
            start = 0
        except UnicodeDecodeError as exc:
            start = exc.start
        raise InputError(f"the {what} is not UTF-8 text (byte 0x{raw[start]:02x})", file=path,
                         line=raw[:start].count(b"\n") + 1, expected="UTF-8 text", fix=fix) from None
    except pd.errors.EmptyDataError:
        raise InputError(f"the {what} is empty", file=path, expected="a header row and one row per entry",
                         fix=fix) from None
    except pd.errors.ParserError as exc:
        raise InputError(f"the {what} is malformed ({str(exc).strip()})", file=path,
                         expected="rows with as many cells as the header", fix=fix) from None
    except OSError as exc:
        raise InputError(f"the {what} could not be read ({exc.strerror})", file=path, fix=fix) from None


def check_data_dir(data: Path, *, is_default: bool) -> None:
    """Raise a clear InputError when the dataset folder is missing (with the demo hint)."""
    if data.is_dir() and (data / "dataset_description.json").is_file():
        return
    if data.is_file():
        raise InputError("--data names a file, not the dataset folder", file=data,
                         expected="the root of an Eye-Tracking-BIDS dataset (docs/formats.md section 2)",
                         fix="give the folder that holds dataset_description.json with --data")
    if is_default:
        raise InputError("the bundled demo cohort is missing", file=data,
                         expected="a simulated Eye-Tracking-BIDS dataset in data/demo",
                         fix=f"create it with `{DEMO_HINT}`, or give your dataset with --data DIR")
    raise InputError("dataset folder not found or without dataset_description.json", file=data,
                     expected="the root of an Eye-Tracking-BIDS dataset (docs/formats.md section 2)",
                     fix="give the folder that holds dataset_description.json with --data")


def participant_accounting(result) -> dict:
    """Who was registered, who was analysed and who is missing, for the report.

    Parameters
    ----------
    result : analysis.batch.DatasetResult
        Uses ``registered_participants`` (``participants.tsv``), ``trial_metrics`` and
        ``missing_participants`` (participant, reason; docs/derivatives.md).

    Returns
    -------
    dict
        ``registered`` (int, rows of participants.tsv), ``with_trials`` (int, participants with at
        least one trial row), ``unregistered`` (list of participants with data but not in
        participants.tsv) and ``missing`` (DataFrame participant, reason). A report must count
        participants against ``max(registered, with_trials + len(missing))``, never only those with
        data (issue 11: "Complete participants: 3 of 3" when 4 were registered).
    """
    tm = result.trial_metrics
    with_trials = sorted(set(tm["participant"].astype(str))) if len(tm) else []
    registered = list(getattr(result, "registered_participants", ()) or ())
    missing = getattr(result, "missing_participants", None)
    if missing is None:
        missing = pd.DataFrame(columns=["participant", "reason"])
    return {"registered": len(registered), "with_trials": len(with_trials),
            "unregistered": [p for p in with_trials if registered and p not in registered],
            "missing": missing.reset_index(drop=True)}


def load_manifest(path: Path | None) -> pd.DataFrame | None:
    """Read the stimulus manifest (docs/formats.md section 1); ``None`` when absent."""
    if path is None or not Path(path).is_file():
        return None
    df = _read_text_table(Path(path), sep=",", what="stimulus manifest", fix="regenerate it with stimuli_gen")
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"manifest lacks column(s) {missing}", file=path, line=1,
                         expected=", ".join(MANIFEST_COLUMNS), fix="regenerate it with stimuli_gen")
    dup = df["stimulus_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"stimulus_id {df['stimulus_id'].iloc[i]!r} listed twice", file=path, line=i + 2,
                         column="stimulus_id", expected="unique stimulus ids", fix="remove the duplicate row")
    return df


def check_stimuli(tm: pd.DataFrame, manifest: pd.DataFrame | None, *, manifest_path: Path | None = None,
                  reference: pd.DataFrame | None = None) -> None:
    """Check every stimulus of the trial metrics against the manifest (or the paper's design).

    Raises
    ------
    InputError
        A stimulus id that is not in the manifest (or, without a manifest, whose artwork
        is not one of the paper's nine or whose category disagrees with the paper's
        Table 4); a manifest row whose artwork/category/method differs from the events;
        a stimulus id labelled inconsistently across sessions; duplicated participants.
    """
    check_trial_metrics(tm)
    keyed = tm.assign(session=tm["session"] if "session" in tm.columns else "n/a")
    keyed = keyed[["participant", "session", "stimulus_id", "artwork", "category", "method"]].astype(str)
    labels = keyed.drop_duplicates(["stimulus_id", "artwork", "category", "method"])
    multi = labels["stimulus_id"].duplicated(keep=False)
    if multi.any():
        sid = labels.loc[multi, "stimulus_id"].iloc[0]
        variants = [f"{r.artwork}/{r.category}/{r.method} (first in {r.participant}/ses-{r.session})"
                    for r in labels[labels["stimulus_id"] == sid].itertuples(index=False)]
        raise InputError(f"stimulus {sid!r} has different artwork/category/method in different events files: "
                         + "; ".join(variants), column="stimulus_id",
                         expected="one artwork, category and method per stimulus_id",
                         fix="correct the events files (or the study manifest they were written from)")
    if manifest is not None:
        man = manifest.set_index("stimulus_id")
        for _, row in labels.iterrows():
            sid = row["stimulus_id"]
            if sid not in man.index:
                raise InputError(f"stimulus {sid!r} in the events is not in the manifest", file=manifest_path,
                                 column="stimulus_id", expected="one of " + ", ".join(sorted(man.index)),
                                 fix="use the manifest the study ran with (--manifest) or correct the events")
            for col in ("artwork", "category", "method"):
                if man.at[sid, col] != row[col]:
                    raise InputError(f"manifest and events disagree on the {col} of {sid!r}: manifest "
                                     f"{man.at[sid, col]!r}, events {row[col]!r}", file=manifest_path,
                                     line=int(np.flatnonzero(man.index == sid)[0]) + 2, column=col,
                                     expected="the same value in both", fix="use the manifest the study ran with")
        return
    ref_cat = dict(zip(ARTWORKS, ["painting"] * 3 + ["sculpture"] * 3 + ["craft"] * 3))
    if reference is not None:
        r = reference[reference["artwork"] != "_average"]
        ref_cat = dict(zip(r["artwork"], r["category"]))
    for _, row in labels.iterrows():
        if row["artwork"] not in ref_cat:
            raise InputError(f"stimulus {row['stimulus_id']!r}: artwork {row['artwork']!r} is not one of the "
                             "paper's nine artworks and no manifest was found", column="artwork",
                             expected="one of " + ", ".join(ref_cat),
                             fix="give the study's stimulus manifest with --manifest")
        if ref_cat[row["artwork"]] != row["category"]:
            raise InputError(f"stimulus {row['stimulus_id']!r}: category {row['category']!r} disagrees with the "
                             f"paper ({row['artwork']} is {ref_cat[row['artwork']]!r})", column="category",
                             expected=ref_cat[row["artwork"]], fix="correct the events or give --manifest")
        if row["method"] not in METHODS or row["category"] not in CATEGORIES:
            raise InputError(f"stimulus {row['stimulus_id']!r} has an unknown method/category", column="method",
                             expected="method ours|pix2pix, category painting|sculpture|craft",
                             fix="correct the events")


def duplicate_content(tm: pd.DataFrame) -> list[tuple[str, str]]:
    """Pairs of different participant ids whose trial metrics are identical (copied data?)."""
    cols = ["stimulus_id", "total_fixation_s", "fixation_count"]
    sig: dict[tuple, str] = {}
    pairs = []
    for p, g in tm.sort_values(["participant", "stimulus_id"]).groupby("participant", sort=True):
        key = tuple(map(tuple, g[cols].astype(str).to_numpy()))
        if key in sig:
            pairs.append((sig[key], str(p)))
        else:
            sig[key] = str(p)
    return pairs


def aoi_rectangles(data: Path | None, fixations: pd.DataFrame, stimuli: list[str]) -> pd.DataFrame:
    """On-screen rectangle of each stimulus: median over the events files, else the fixations' extent."""
    rows = []
    if data is not None and Path(data).is_dir():
        frames = []
        for ev in sorted(Path(data).glob("sub-*/ses-*/beh/*_events.tsv")):
            try:
                df = pd.read_csv(ev, sep="\t", na_values=["n/a"], keep_default_na=False)
            except (OSError, ValueError, pd.errors.ParserError):
                continue  # only for drawing; the reader has already checked every events file
            if {"trial_type", "stimulus_id", *AOI_COLUMNS} <= set(df.columns):
                frames.append(df.loc[df["trial_type"] == "stimulus", ["stimulus_id", *AOI_COLUMNS]])
        if frames:
            ev = pd.concat(frames, ignore_index=True).dropna()
            med = ev.groupby("stimulus_id")[list(AOI_COLUMNS)].median()
            rows = [dict(stimulus_id=s, **med.loc[s].to_dict()) for s in stimuli if s in med.index]
    have = {r["stimulus_id"] for r in rows}
    for s in stimuli:
        if s in have:
            continue
        f = fixations[fixations["stimulus_id"] == s]
        if f.empty:
            continue
        rows.append({"stimulus_id": s, "aoi_left": float(f["x_px"].min()), "aoi_top": float(f["y_px"].min()),
                     "aoi_right": float(f["x_px"].max()), "aoi_bottom": float(f["y_px"].max())})
    out = pd.DataFrame(rows, columns=["stimulus_id", *AOI_COLUMNS])
    order = {s: i for i, s in enumerate(stimuli)}
    return out.sort_values("stimulus_id", key=lambda c: c.map(order)).reset_index(drop=True)


def stimulus_images(manifest: pd.DataFrame | None, manifest_path: Path | None) -> dict[str, Path]:
    """Image file per stimulus_id from the manifest (only files that exist)."""
    if manifest is None or manifest_path is None:
        return {}
    base = Path(manifest_path).parent
    out = {}
    for _, r in manifest.iterrows():
        f = base / r["file"]
        if r["file"] and f.is_file():
            out[r["stimulus_id"]] = f
    return out


SIMULATION_PARAMETERS = Path("derivatives") / "ground_truth" / "generating_parameters.tsv"
SIMULATION_COLUMNS = ("stimulus_id", "paper_fixation_time_s", "paper_fixation_count", "paper_mean_fixation_s",
                      "target_fixation_time_s", "target_fixation_count", "target_handling", "note")


def simulation_targets(data: Path | None) -> pd.DataFrame | None:
    """What a simulated cohort did with the paper's Table 4 targets, or ``None``.

    Reads ``<data>/derivatives/ground_truth/generating_parameters.tsv`` (written by
    ``python -m study.simulate``; docs/simulation.md): one row per stimulus with the
    paper's cell, the target actually simulated and ``target_handling`` (``as_paper``,
    or how an implausible cell was treated). A file without the documented columns is
    an :class:`InputError`, not a silent omission.
    """
    if data is None:
        return None
    path = Path(data) / SIMULATION_PARAMETERS
    if not path.is_file():
        return None
    table = _read_text_table(path, sep="\t", what="simulation parameters",
                             fix="regenerate the cohort with python -m study.simulate", na_values=["n/a"])
    missing = [c for c in SIMULATION_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"simulation parameters lack column(s) {missing}", file=path, line=1,
                         expected="the columns written by python -m study.simulate (docs/simulation.md)",
                         fix="regenerate the cohort with python -m study.simulate")
    return table.loc[:, list(SIMULATION_COLUMNS)].sort_values("stimulus_id").reset_index(drop=True)
