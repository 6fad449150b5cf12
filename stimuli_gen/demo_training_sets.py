"""Tiny offline training sets for the DEMO checkpoints (not the paper's data).

``python -m stimuli_gen.demo_training_sets --out DIR [--n 40] [--size 72] [--seed 0]`` writes

* ``DIR/unaligned/trainA``: random crops of photos bundled with scikit-image
  (``skimage.data``: astronaut, chelsea, rocket, the left motorcycle view, hubble);
* ``DIR/unaligned/trainB``: a hand-made "painterly" filter applied to crops of *other*
  bundled photos (coffee, the right motorcycle view, immunohistochemistry, retina);
* ``DIR/aligned/train``: ``A|B`` pairs, a domain-A crop and its painterly version.

The painterly filter (our stand-in for an art domain): 5x5 median smoothing, colour
posterisation to 6 levels, a warm sepia blend (30 %), dark "ink" strokes where the
Sobel gradient is strong, and a faint canvas texture. These sets exist so the demo
checkpoints (``data/checkpoints/``) can be trained offline in minutes on a CPU; the
paper trained on monet2photo/horse2zebra/summer2winter and artwork photos at 256 px.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

log = logging.getLogger(__name__)

PHOTO_SOURCES = ("astronaut", "chelsea", "rocket", "motorcycle_left", "hubble_deep_field")
ART_SOURCES = ("coffee", "motorcycle_right", "immunohistochemistry", "retina")


def _bundled(name: str) -> np.ndarray:
    from skimage import data

    if name.startswith("motorcycle_"):
        left, right, _ = data.stereo_motorcycle()
        img = left if name.endswith("left") else right
    else:
        img = getattr(data, name)()
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    return np.ascontiguousarray(img[..., :3]).astype(np.uint8)


def painterly(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Deterministic painterly stylisation of an H x W x 3 uint8 image (see module docstring)."""
    img = ndimage.median_filter(rgb, size=(5, 5, 1)).astype(np.float32) / 255.0
    img = np.round(img * 5.0) / 5.0
    grey = img @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    sepia = np.stack([grey * 1.07, grey * 0.74, grey * 0.43], axis=-1)
    img = 0.7 * img + 0.3 * np.clip(sepia, 0, 1)
    g = ndimage.gaussian_filter(grey, 1.0)
    mag = np.hypot(ndimage.sobel(g, 0), ndimage.sobel(g, 1))
    ink = np.clip(mag / (np.percentile(mag, 95) + 1e-6), 0, 1)
    img = img * (1.0 - 0.75 * ink[..., None])
    rs = np.random.default_rng(seed)
    canvas = ndimage.gaussian_filter(rs.standard_normal(grey.shape).astype(np.float32), 1.5)
    img = img * (1.0 + 0.15 * canvas[..., None])
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)


def _crops(sources: tuple[str, ...], n: int, size: int, rs: np.random.Generator) -> list[np.ndarray]:
    images = [_bundled(s) for s in sources]
    out = []
    for i in range(n):
        img = images[i % len(images)]
        h, w = img.shape[:2]
        side = int(rs.integers(min(h, w) // 3, min(h, w) + 1))
        y, x = int(rs.integers(0, h - side + 1)), int(rs.integers(0, w - side + 1))
        crop = Image.fromarray(img[y:y + side, x:x + side]).resize((size, size), Image.Resampling.LANCZOS)
        out.append(np.asarray(crop))
    return out


def build(out: str | Path, n: int = 40, size: int = 72, seed: int = 0) -> Path:
    """Write the unaligned and aligned demo sets under ``out`` (see module docstring); returns ``out``."""
    out = Path(out)
    rs = np.random.default_rng(seed)
    photos = _crops(PHOTO_SOURCES, n, size, rs)
    art_src = _crops(ART_SOURCES, n, size, rs)
    for sub in ("unaligned/trainA", "unaligned/trainB", "aligned/train"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for i, (p, q) in enumerate(zip(photos, art_src)):
        Image.fromarray(p).save(out / "unaligned/trainA" / f"photo_{i:03d}.png")
        Image.fromarray(painterly(q, seed + i)).save(out / "unaligned/trainB" / f"art_{i:03d}.png")
        pair = np.concatenate([p, painterly(p, seed + 10_000 + i)], axis=1)
        Image.fromarray(pair).save(out / "aligned/train" / f"pair_{i:03d}.png")
    log.info("wrote %d photos, %d painterly images and %d A|B pairs under %s", n, n, n, out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m stimuli_gen.demo_training_sets", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="output folder (unaligned/ and aligned/ are created)")
    p.add_argument("--n", type=int, default=40, help="images per domain (default 40)")
    p.add_argument("--size", type=int, default=72, help="square image size in px (default 72 = load size for 64 px crops)")
    p.add_argument("--seed", type=int, default=0, help="seed of the crops and the canvas texture (default 0)")
    a = p.parse_args(argv)
    if a.n < 1 or a.size < 8:
        p.error("--n must be >= 1 and --size >= 8")
    build(a.out, a.n, a.size, a.seed)
    return 0


if __name__ == "__main__":
    from stimuli_gen.errors import run_cli

    raise SystemExit(run_cli(main))
