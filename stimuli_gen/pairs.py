"""Build Pix2Pix training pairs for the photo -> art direction from unpaired photos and artworks.

``python -m stimuli_gen pairs --photos DIR --art DIR --out DIR [--size 256] [--max-art N]``

Pix2Pix needs aligned pairs (photo, the same scene as art), which do not exist for
photos of artworks. The paper's own paired comparison (Wei Pu 2025, Table 2) uses the
facades set instead (``stimuli_gen/configs/pix2pix_facades.toml``: label maps -> photos);
for the study's stimuli a lab needs a Pix2Pix that maps photo -> art. This command makes
the pairs with a *neutral* method that belongs to neither compared model: each photo's
target is its colour transfer (Reinhard et al. 2001, CIELAB variant,
:func:`stimuli_gen.baselines.colour_transfer`) to the pooled colour statistics of the art
domain. Pix2Pix trained on them learns the art domain's colours on the photo's own
structure; say so when reporting it (it is also the "colour transfer" baseline of
``evaluate``).

Output: ``OUT/train/<photo stem>.png``, the photo (shorter side resized to ``--size``,
centre crop; Lanczos) and its target side by side (A left), the layout
``python -m stimuli_gen train`` reads for ``kind = "pix2pix"`` (``direction = "AtoB"``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from PIL import Image

from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)


def build_pairs(photos: str | Path, art: str | Path, out: str | Path, size: int = 256, max_art: int = 500,
                progress: bool = True) -> list[Path]:
    """Write one A|B pair per photo (see module docstring); returns the written files.

    ``max_art`` caps the artworks read for the colour statistics (file-name order; default 500).
    """
    import numpy as np

    from stimuli_gen.baselines import colour_transfer, lab_statistics
    from stimuli_gen.evaluate import list_images, load_rgb

    photo_files = list_images(photos)
    art_files = list_images(art)[:max_art] if max_art else list_images(art)
    mean, std = lab_statistics([load_rgb(p, size) for p in art_files])
    folder = Path(out) / "train"
    folder.mkdir(parents=True, exist_ok=True)
    it = photo_files
    if progress:
        from tqdm import tqdm

        it = tqdm(photo_files, desc="pairs", unit="img")
    written = []
    for p in it:
        a = load_rgb(p, size)
        target = folder / f"{p.stem}.png"
        Image.fromarray(np.concatenate([a, colour_transfer(a, mean, std)], axis=1)).save(target)
        written.append(target)
    log.info("wrote %d pairs to %s (colour statistics of %d artworks)", len(written), folder, len(art_files))
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m stimuli_gen pairs``."""
    parser.add_argument("--photos", type=Path, required=True, help="folder of photos (domain A)")
    parser.add_argument("--art", type=Path, required=True, help="folder of artworks (domain B) for the colour statistics")
    parser.add_argument("--out", type=Path, required=True, help="dataset root to write; pairs go to OUT/train/")
    parser.add_argument("--size", type=int, default=256, help="side of each half in px (default: %(default)s, the paper's)")
    parser.add_argument("--max-art", type=int, default=500,
                        help="read at most N artworks for the statistics, 0 = all (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Run ``python -m stimuli_gen pairs``."""
    if args.size < 16 or args.max_art < 0:
        raise InputError("--size must be >= 16 and --max-art >= 0", column="--size/--max-art", fix="use the defaults")
    files = build_pairs(args.photos, args.art, args.out, args.size, args.max_art)
    print(f"wrote {len(files)} A|B pairs to {Path(args.out) / 'train'}")
    return 0
