"""Read the stimulus manifest (docs/formats.md §1) and verify every image's SHA-256.

The session refuses to start when a file is missing or its hash differs from the
manifest: the stimuli a participant sees must be exactly the ones the manifest (and
the generator checkpoint it names) describes.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from study.errors import StudyError

log = logging.getLogger(__name__)

COLUMNS = ("stimulus_id", "artwork", "category", "method", "file", "sha256", "width_px", "height_px", "checkpoint_id")
#: Optional column (docs/formats.md section 1, "Saliency maps"): the stimulus's saliency map, a path relative to
#: the manifest's folder to an 8-bit greyscale PNG of exactly width_px x height_px, linear in saliency, max 255.
SALIENCY_COLUMN = "saliency_file"
CATEGORIES = ("painting", "sculpture", "craft")
METHODS = ("ours", "pix2pix")


@dataclass(frozen=True)
class Stimulus:
    """One manifest row; ``path`` is the resolved image file."""

    stimulus_id: str
    artwork: str
    category: str
    method: str
    file: str
    sha256: str
    width_px: int
    height_px: int
    checkpoint_id: str
    path: Path
    #: Resolved saliency map (optional manifest column ``saliency_file``), or None.
    saliency_path: Path | None = None
    #: Manifest line of this stimulus (for messages).
    line: int = 0


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_manifest(path: str | Path, *, verify: bool = True) -> list[Stimulus]:
    """Read ``manifest.csv``, validate it and (``verify``) check every file's SHA-256.

    Raises
    ------
    StudyError
        Missing file or column, bad value (with line and column), duplicate stimulus,
        an artwork without both methods, a missing image or a hash mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise StudyError("stimulus manifest not found", file=path,
                         fix="generate the stimuli (python -m stimuli_gen ...) or set [stimuli] manifest in the config")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise StudyError(f"manifest lacks columns {missing}", file=path, line=1, expected=", ".join(COLUMNS))
        rows = list(reader)
    if not rows:
        raise StudyError("manifest has no stimuli", file=path, expected="one row per stimulus")
    out: list[Stimulus] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):
        for c in COLUMNS:
            if not (row.get(c) or "").strip():
                raise StudyError("empty value", file=path, line=i, column=c)
        if row["category"] not in CATEGORIES:
            raise StudyError(f"unknown category {row['category']!r}", file=path, line=i, column="category",
                             expected=" | ".join(CATEGORIES))
        if row["method"] not in METHODS:
            raise StudyError(f"unknown method {row['method']!r}", file=path, line=i, column="method",
                             expected=" | ".join(METHODS))
        try:
            w, h = int(row["width_px"]), int(row["height_px"])
        except ValueError:
            raise StudyError("image size is not an integer", file=path, line=i, column="width_px/height_px") from None
        if w <= 0 or h <= 0:
            raise StudyError("image size must be positive", file=path, line=i, column="width_px/height_px")
        sid = row["stimulus_id"]
        if sid in seen:
            raise StudyError(f"duplicate stimulus_id {sid!r}", file=path, line=i, column="stimulus_id")
        seen.add(sid)
        img = (path.parent / row["file"]).resolve()
        sal_name = (row.get(SALIENCY_COLUMN) or "").strip()
        sal = (path.parent / sal_name).resolve() if sal_name else None
        if sal is not None and not sal.is_file():
            raise StudyError(f"saliency map {sal_name!r} not found", file=path, line=i, column=SALIENCY_COLUMN,
                             expected="a PNG path relative to the manifest's folder, or an empty cell",
                             fix="regenerate the stimuli (python -m stimuli_gen generate) or empty the cell")
        out.append(Stimulus(sid, row["artwork"], row["category"], row["method"], row["file"],
                            row["sha256"].strip().lower(), w, h, row["checkpoint_id"], img, sal, i))
    by_art: dict[str, set[str]] = {}
    for s in out:
        by_art.setdefault(s.artwork, set()).add(s.method)
    incomplete = sorted(a for a, m in by_art.items() if m != set(METHODS))
    if incomplete:
        raise StudyError(f"artworks without exactly one 'ours' and one 'pix2pix' image: {incomplete}", file=path,
                         column="method", expected="each artwork in both versions")
    if sum(len([s for s in out if s.artwork == a]) for a in by_art) != 2 * len(by_art):
        raise StudyError("an artwork appears more than twice", file=path, column="artwork")
    if verify:
        verify_hashes(out, path)
    return out


def verify_hashes(stimuli: list[Stimulus], manifest: Path) -> None:
    """Refuse (StudyError) when an image is missing or its SHA-256 differs from the manifest."""
    for i, s in enumerate(stimuli, start=2):
        if not s.path.is_file():
            raise StudyError(f"image file {s.file!r} not found", file=manifest, line=i, column="file",
                             fix="restore the stimuli folder next to the manifest")
        digest = sha256_file(s.path)
        if digest != s.sha256:
            raise StudyError(
                f"image {s.file!r} changed: its SHA-256 is {digest}, the manifest says {s.sha256}",
                file=manifest, line=i, column="sha256", expected="the file the manifest describes",
                fix="restore the original image (or regenerate the stimuli and their manifest); refusing to run")
    log.info("verified SHA-256 of %d stimuli in %s", len(stimuli), manifest)


def read_saliency(stimulus: Stimulus, manifest: str | Path):
    """The stimulus's saliency map as a float array (rows x columns) in [0, 1], or None.

    The map must be an 8-bit greyscale PNG (mode ``L``) of exactly ``width_px x height_px``
    (docs/formats.md section 1, "Saliency maps"); values are divided by 255.

    Raises
    ------
    StudyError
        Unreadable file, wrong mode or wrong size (with the manifest line).
    """
    if stimulus.saliency_path is None:
        return None
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    fix = "write an 8-bit greyscale PNG of the stimulus's size (python -m stimuli_gen generate does)"
    try:
        with Image.open(stimulus.saliency_path) as im:
            mode, size = im.mode, im.size
            arr = np.asarray(im, dtype=np.float64) if mode == "L" else None
    except (OSError, UnidentifiedImageError) as exc:
        raise StudyError(f"cannot read the saliency map {stimulus.saliency_path.name!r}: {exc}", file=manifest,
                         line=stimulus.line, column=SALIENCY_COLUMN, fix=fix) from None
    if mode != "L":
        raise StudyError(f"saliency map {stimulus.saliency_path.name!r} has image mode {mode}", file=manifest,
                         line=stimulus.line, column=SALIENCY_COLUMN, expected="8-bit greyscale (PNG mode L)", fix=fix)
    if size != (stimulus.width_px, stimulus.height_px):
        raise StudyError(f"saliency map {stimulus.saliency_path.name!r} is {size[0]} x {size[1]} px",
                         file=manifest, line=stimulus.line, column=SALIENCY_COLUMN,
                         expected=f"{stimulus.width_px} x {stimulus.height_px} px (the stimulus's width_px x height_px)",
                         fix=fix)
    return arr / 255.0
