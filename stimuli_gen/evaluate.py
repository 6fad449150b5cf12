"""Evaluate generated images the way Wei Pu (2025) does: Tables 1-2, Fig. 3 and the domain entropies.

``python -m stimuli_gen evaluate --real-a DIR --real-b DIR --out DIR [--generated LABEL=DIR ...] [--reference DIR]``
``python -m stimuli_gen evaluate --stimuli data/stimuli/manifest.csv --out DIR``

What is computed (each metric's source is in :mod:`stimuli_gen.image_metrics`):

- **Domain-classification accuracy** (paper Table 1, "The classification accuracy of
  images"). The paper does not describe its classifier; ours is a small, documented
  stand-in: an L2-regularised logistic regression (torch, CPU, full-batch L-BFGS) on
  standardised features of each image -- the image area-downsampled to
  ``--classifier-size`` squared RGB pixels plus 16-bin per-channel colour histograms --
  trained on real A (label 0) vs real B (label 1). The "Real image" row is its accuracy
  on held-out real images (``--test-a/--test-b``, else a seeded 20 % hold-out of
  ``--real-a/--real-b``); every generated set's row is the fraction of its images
  classified as the target domain (``--target``, default B).
- **SSIM and COSIN** (paper Table 2) between each generated image and its paired
  ground-truth image in ``--reference`` (matched by file name, see :func:`pair_key`).
- **Sharpness** (paper Fig. 3, "the clarity of the generated image"): variance of the
  Laplacian and Tenengrad, mean over each image set.
- **Domain entropy and entropy ratio** (paper's domain-entropy and entropy-ratio
  equations): mean grey-level Shannon entropy of real A and real B, their ratio
  (richer / poorer) and the directional ``H_A / H_B``.

With ``--stimuli MANIFEST`` the study stimuli themselves are measured instead (entropy and
sharpness per stimulus and per category x method, :func:`evaluate_stimuli`).

All images are brought to ``--size`` x ``--size`` (default 256, the paper's size) by a
shorter-side resize and a centre crop; ``--size 0`` keeps them as they are. Each table is
printed as Markdown, written as ``<name>.md`` and ``<name>.csv`` into ``--out``, and all
tables are collected in ``<out>/evaluation.md``.
"""

from __future__ import annotations

import argparse
import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stimuli_gen import image_metrics as im
from stimuli_gen import stimulus_props as sp
from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
HIST_BINS = 16
_PAIR_SUFFIX = re.compile(r"_(fake|real|rec|gen|generated|output|input|target)(_?[AB])?$", re.IGNORECASE)


# --------------------------------------------------------------------------- image loading


def list_images(folder: str | Path) -> list[Path]:
    """Image files directly in ``folder`` (by suffix), sorted; :class:`InputError` if none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("image folder not found", file=folder, fix="check the path")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError("no images in folder", file=folder, expected="files ending in " + ", ".join(IMAGE_SUFFIXES),
                         fix="point to the folder that holds the images (e.g. .../testA)")
    return files


def load_rgb(path: Path, size: int = 256) -> np.ndarray:
    """Read ``path`` as uint8 RGB; if ``size`` > 0, shorter-side resize + centre crop to ``size``."""
    try:
        with Image.open(path) as img:
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"image cannot be read ({exc})", file=path, fix="remove or re-export the file") from None
    if size and rgb.size != (size, size):
        rgb = ImageOps.fit(rgb, (size, size), method=Image.Resampling.LANCZOS)
    return np.asarray(rgb)


def classifier_features(rgb: np.ndarray, feat_size: int = 32) -> np.ndarray:
    """Feature vector of one image for the domain classifier.

    The image area-downsampled to ``feat_size`` x ``feat_size`` RGB in ``[0, 1]``
    (``3 * feat_size**2`` values), followed by ``HIST_BINS``-bin colour histograms per
    channel (fractions of pixels, ``3 * HIST_BINS`` values).
    """
    small = np.asarray(Image.fromarray(rgb).resize((feat_size, feat_size), Image.Resampling.BOX), dtype=np.float32)
    hist = [np.bincount(((rgb[..., c].astype(np.int64) * HIST_BINS) // 256).ravel(), minlength=HIST_BINS) for c in range(3)]
    hist = np.concatenate(hist).astype(np.float32) / (rgb.shape[0] * rgb.shape[1])
    return np.concatenate([small.ravel() / 255.0, hist])


@dataclass
class ImageSet:
    """Per-image measurements of one folder."""

    name: str
    folder: Path
    files: list[Path]
    entropy: np.ndarray
    laplacian_var: np.ndarray
    tenengrad: np.ndarray
    features: np.ndarray


def measure_folder(name: str, folder: str | Path, *, size: int = 256, feat_size: int = 32, max_images: int = 0,
                   files: Sequence[Path] | None = None, progress: bool = True) -> ImageSet:
    """Load every image of ``folder`` once and compute entropy, sharpness and classifier features."""
    folder = Path(folder)
    paths = list(files) if files is not None else list_images(folder)
    if max_images and len(paths) > max_images:
        paths = paths[:max_images]
    ent, lap, ten, feats = [], [], [], []
    it = paths
    if progress:
        from tqdm import tqdm

        it = tqdm(paths, desc=name, unit="img", leave=False)
    for p in it:
        rgb = load_rgb(p, size)
        ent.append(im.image_entropy(rgb))
        lap.append(im.laplacian_variance(rgb))
        ten.append(im.tenengrad(rgb))
        feats.append(classifier_features(rgb, feat_size))
    return ImageSet(name, folder, paths, np.array(ent), np.array(lap), np.array(ten), np.stack(feats))


# --------------------------------------------------------------------------- domain classifier


@dataclass
class DomainClassifier:
    """Logistic regression real A (0) vs real B (1) on standardised :func:`classifier_features`.

    Trained with full-batch L-BFGS on the mean logistic loss plus ``l2 * ||w||^2``
    (torch, CPU, deterministic for a given ``seed``).
    """

    l2: float = 1e-2
    max_iter: int = 200
    seed: int = 0
    mean: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    scale: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    weight: np.ndarray = field(default=None, repr=False)  # type: ignore[assignment]
    bias: float = 0.0

    def fit(self, x_a: np.ndarray, x_b: np.ndarray) -> DomainClassifier:
        import torch

        if len(x_a) < 1 or len(x_b) < 1:
            raise ValueError("the classifier needs at least one image per domain")
        x = np.concatenate([x_a, x_b]).astype(np.float64)
        y = np.concatenate([np.zeros(len(x_a)), np.ones(len(x_b))])
        self.mean = x.mean(axis=0)
        self.scale = x.std(axis=0) + 1e-6
        xt = torch.from_numpy((x - self.mean) / self.scale)
        yt = torch.from_numpy(y)
        # class weights so an unbalanced pair of domains (e.g. monet2photo) does not favour the larger one
        wt = torch.from_numpy(np.where(y == 1, len(y) / (2 * len(x_b)), len(y) / (2 * len(x_a))))
        gen = torch.Generator().manual_seed(self.seed)
        w = (torch.randn(x.shape[1], generator=gen, dtype=torch.float64) * 1e-3).requires_grad_()
        b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=self.max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            logits = xt @ w + b
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="none") * wt).mean()
            loss = loss + self.l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
        self.weight = w.detach().numpy().copy()
        self.bias = float(b.detach())
        return self

    def predict_proba_b(self, x: np.ndarray) -> np.ndarray:
        """Probability that each row belongs to domain B."""
        z = ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.weight + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted domain per row: 0 = A, 1 = B."""
        return (self.predict_proba_b(x) >= 0.5).astype(int)

    def accuracy(self, x: np.ndarray, label: int) -> float:
        """Fraction of rows classified as ``label`` (0 = A, 1 = B)."""
        return float((self.predict(x) == label).mean())


def holdout_split(n: int, fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train/test index split; at least one image on each side when ``n >= 2``."""
    if n < 2:
        raise ValueError("need at least two images to hold some out")
    order = np.random.default_rng(seed).permutation(n)
    k = min(n - 1, max(1, round(fraction * n)))
    return np.sort(order[k:]), np.sort(order[:k])


# --------------------------------------------------------------------------- pairing


def pair_key(path: Path) -> str:
    """File-name key for pairing a generated image with its reference.

    The stem, lower-cased, with one trailing ``_fake_B``/``_real_A``/``_rec``/``_output``...
    tag removed, so the reference code's ``12_fake_B.png`` pairs with ``12_real_B.png``
    or ``12.jpg``.
    """
    return _PAIR_SUFFIX.sub("", path.stem).lower()


def paired_quality(generated: Sequence[Path], reference_dir: Path, size: int, label: str = "") -> tuple[float, float, int]:
    """Mean SSIM and mean COSIN over generated/reference pairs; returns (ssim, cosin, n_pairs)."""
    refs = {}
    for p in list_images(reference_dir):
        refs.setdefault(pair_key(p), p)
    pairs = [(g, refs[pair_key(g)]) for g in generated if pair_key(g) in refs]
    if not pairs:
        which = f" of generated set {label!r}" if label else ""
        raise InputError(f"no generated image{which} has a reference image with a matching file name", file=reference_dir,
                         expected=f"names like {generated[0].name} (or the same stem with _real_X instead of _fake_X)",
                         fix="point --reference to the ground-truth images of the same test set")
    s, c = [], []
    for g, r in pairs:
        a, b = load_rgb(g, size), load_rgb(r, size)
        if a.shape != b.shape:
            raise InputError(f"image size {a.shape[1]}x{a.shape[0]} differs from its reference {b.shape[1]}x{b.shape[0]}",
                             file=g, fix="use --size 256 (or another size) to bring both to one size")
        s.append(im.ssim(a, b))
        c.append(im.cosine_similarity(a, b))
    unpaired = len(generated) - len(pairs)
    if unpaired:
        log.warning("%d generated image(s)%s have no reference and are left out of SSIM/COSIN", unpaired,
                    f" of {label!r}" if label else "")
    return float(np.mean(s)), float(np.mean(c)), len(pairs)


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A small result table: printed as Markdown, written as CSV."""

    name: str
    title: str
    columns: list[str]
    rows: list[list[object]]
    note: str = ""

    def markdown(self) -> str:
        def fmt(v: object) -> str:
            if isinstance(v, float):
                return "inf" if np.isinf(v) else f"{v:.3f}"
            return str(v)

        lines = [f"### {self.title}", "", "| " + " | ".join(self.columns) + " |",
                 "|" + "---|" * len(self.columns)]
        lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in self.rows]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines) + "\n"

    def write(self, out: Path) -> None:
        with open(out / f"{self.name}.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(self.columns)
            for row in self.rows:
                w.writerow([repr(v) if isinstance(v, float) else v for v in row])
        (out / f"{self.name}.md").write_text(self.markdown(), encoding="utf-8")


def parse_generated(spec: str) -> tuple[str, Path]:
    """``LABEL=DIR`` (or just ``DIR``, labelled by its folder name)."""
    if "=" in spec:
        label, _, folder = spec.partition("=")
        label = label.strip()
        if not label:
            raise InputError(f"--generated {spec!r} has an empty label", expected="LABEL=DIR, e.g. ours=results/fake_B",
                             fix="put a label before '='")
        return label, Path(folder)
    return Path(spec).name, Path(spec)


def evaluate(real_a: Path, real_b: Path, generated: Sequence[tuple[str, Path]] = (), *, out: Path,
             reference: Path | None = None, test_a: Path | None = None, test_b: Path | None = None,
             target: str = "B", dataset: str | None = None, size: int = 256, feat_size: int = 32,
             max_images: int = 0, seed: int = 0, progress: bool = True, baselines: bool = True,
             feature_weights: str | Path | None = None) -> list[Table]:
    """Compute every table and write them to ``out``; returns the tables (see module docstring).

    ``baselines`` (default on) adds the rows of :mod:`stimuli_gen.baselines` (identity,
    colour transfer, mean image of the target domain) computed from the test inputs
    (``test_a``, else the held-out real A images) to every table; ``feature_weights`` is the
    local VGG-19 file for the KID/FID table (fallback: hand-made features, stated in the table).
    """
    if (test_a is None) != (test_b is None):
        raise InputError("give both --test-a and --test-b, or neither", column="--test-a/--test-b",
                         fix="add the missing one (held-out real images of each domain)")
    labels = [g[0] for g in generated]
    dup = sorted({x for x in labels if labels.count(x) > 1} | ({"Real image"} & set(labels)))
    if dup:
        raise InputError(f"duplicate or reserved --generated label(s) {dup}", column="--generated",
                         fix="give each generated set its own LABEL=DIR")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    dataset = dataset or Path(real_a).resolve().parent.name or "dataset"
    kw = dict(size=size, feat_size=feat_size, max_images=max_images, progress=progress)
    set_a = measure_folder("real A", real_a, **kw)
    set_b = measure_folder("real B", real_b, **kw)
    if test_a is not None:
        held_a = measure_folder("test A", test_a, **kw).features
        held_b = measure_folder("test B", test_b, **kw).features
        train_a, train_b = set_a.features, set_b.features
    else:
        for s in (set_a, set_b):
            if len(s.files) < 2:
                raise InputError("need at least 2 images per real domain to hold some out for testing", file=s.folder,
                                 fix="add images or pass --test-a/--test-b")
        tr, te = holdout_split(len(set_a.files), seed=seed)
        train_a, held_a = set_a.features[tr], set_a.features[te]
        tr, te = holdout_split(len(set_b.files), seed=seed + 1)
        train_b, held_b = set_b.features[tr], set_b.features[te]
    clf = DomainClassifier(seed=seed).fit(train_a, train_b)
    real_acc = float(np.concatenate([clf.predict(held_a) == 0, clf.predict(held_b) == 1]).mean())
    n_real = len(held_a) + len(held_b)
    gen_sets = [measure_folder(label, folder, **kw) for label, folder in generated]
    if baselines and size:
        src, tgt = (set_a, set_b) if target == "B" else (set_b, set_a)
        inputs = list_images(test_a if target == "B" else test_b) if test_a is not None else \
            [src.files[i] for i in holdout_split(len(src.files), seed=seed + (0 if target == "B" else 1))[1]]
        from stimuli_gen.baselines import make_baselines

        folders = make_baselines([(p.name, load_rgb(p, size)) for p in inputs], [load_rgb(p, size) for p in tgt.files],
                                 out / "baselines")
        gen_sets += [measure_folder(label, folder, **kw) for label, folder in folders.items()]
    elif baselines:
        log.info("--size 0: the baselines (mean image needs one size) are skipped")
    target_label = 1 if target == "B" else 0
    acc_rows: list[list[object]] = [["Real image", real_acc, n_real]]
    acc_rows += [[g.name, clf.accuracy(g.features, target_label), len(g.files)] for g in gen_sets]
    tables = [Table("classification_accuracy", "The classification accuracy of images (layout of Wei Pu 2025, Table 1)",
                    ["Data set", dataset, "n_images"], acc_rows,
                    note=(f"Logistic-regression domain classifier trained on real A vs real B; 'Real image' = accuracy on "
                          f"held-out real images, generated rows = fraction classified as domain {target}."))]
    if reference is not None and gen_sets:
        q_rows: list[list[object]] = []
        for g in gen_sets:
            try:
                s, c, n = paired_quality(g.files, Path(reference), size, g.name)
            except InputError:
                if not g.name.startswith("baseline: "):
                    raise
                log.warning("%s: the test inputs do not pair with --reference by file name; row left out", g.name)
                continue
            q_rows.append([g.name, s, c, n])
        tables.append(Table("image_quality", "Image quality assessment (layout of Wei Pu 2025, Table 2)",
                            ["Algorithm", "SSIM", "COSIN", "n_pairs"], q_rows,
                            note="SSIM: Wang et al. 2004, 11x11 Gaussian window, sigma 1.5. COSIN: cosine similarity "
                                 "of the flattened RGB images in [0, 1]."))
    elif reference is None and gen_sets:
        log.info("no --reference given: SSIM/COSIN (Table 2) need paired ground truth and are skipped")
    sharp_rows: list[list[object]] = []
    for s in [set_a, set_b] + gen_sets:
        label = {"real A": "Real A", "real B": "Real B"}.get(s.name, s.name)
        sharp_rows.append([label, float(s.laplacian_var.mean()), float(s.tenengrad.mean()), len(s.files)])
    tables.append(Table("sharpness", "Sharpness of the images (cf. Wei Pu 2025, Fig. 3)",
                        ["Set", "Laplacian variance", "Tenengrad", "n_images"], sharp_rows,
                        note="Grey level in [0, 1]; higher = sharper. Laplacian variance: Pech-Pacheco et al. 2000; "
                             "Tenengrad: Tenenbaum 1970 / Krotkov 1987 (Sobel, no threshold)."))
    h_a, h_b = float(set_a.entropy.mean()), float(set_b.entropy.mean())
    ent_rows: list[list[object]] = [["Real A", h_a, len(set_a.files)], ["Real B", h_b, len(set_b.files)]]
    ent_rows += [[g.name, float(g.entropy.mean()), len(g.files)] for g in gen_sets]
    ent_rows += [["ratio H_A / H_B", h_a / h_b if h_b else float("inf"), ""],
                 ["entropy ratio (richer / poorer)", im.entropy_ratio(h_a, h_b), ""]]
    tables.append(Table("domain_entropy", f"Domain image entropy, {dataset} (Wei Pu 2025, domain-entropy equations)",
                        ["Domain", "Mean entropy (bits)", "n_images"], ent_rows,
                        note="Mean Shannon entropy of the 256-level grey histogram over a domain's images."))
    tables.append(distribution_table(set_a, set_b, gen_sets, target, size, feature_weights, seed))
    for t in tables:
        t.write(out)
    header = (f"# Evaluation: {dataset}\n\nreal A: {real_a}\nreal B: {real_b}\n"
              + "".join(f"generated {label}: {folder}\n" for label, folder in generated)
              + (f"reference: {reference}\n" if reference else "") + f"image size: {size or 'native'}\n\n")
    (out / "evaluation.md").write_text(header + "\n".join(t.markdown() for t in tables), encoding="utf-8")
    return tables


def distribution_table(set_a: ImageSet, set_b: ImageSet, gen_sets: Sequence[ImageSet], target: str, size: int,
                       feature_weights: str | Path | None, seed: int = 0) -> Table:
    """KID and FID of every set (and of the real source domain) to the real target domain (stimuli_gen.baselines)."""
    from stimuli_gen import baselines as bl

    feat, source = bl.feature_extractor(feature_weights)
    real_src, real_tgt = (set_a, set_b) if target == "B" else (set_b, set_a)

    def features(s: ImageSet) -> np.ndarray:
        return np.stack([feat(load_rgb(p, size)) for p in s.files])

    ref = features(real_tgt)
    rows: list[list[object]] = []
    for s in [real_src] + list(gen_sets):
        x = features(s)
        if len(x) < 2:
            rows.append([s.name, float("nan"), float("nan"), float("nan"), len(x)])
            continue
        k, k_sd = bl.kid(x, ref, seed=seed)
        rows.append([{"real A": "Real A", "real B": "Real B"}.get(s.name, s.name), k, k_sd, bl.fid(x, ref), len(x)])
    return Table("distribution_distance", f"Distance to the real domain {target} (KID, FID)",
                 ["Set", "KID", "KID std", "FID", "n_images"], rows,
                 note=(f"Features: {source}. KID: Binkowski et al. 2018 (unbiased MMD^2, cubic polynomial kernel, "
                       f"{bl.KID_SUBSETS} subsets); FID: Heusel et al. 2017 (biased for small sets). Lower = closer. "
                       "Not comparable with published Inception-based values."))


def evaluate_stimuli(manifest: str | Path, out: str | Path) -> list[Table]:
    """Per-stimulus and per-method entropy and sharpness of the study stimuli (``manifest.csv``).

    Reads the manifest of docs/formats.md sec. 1, checks each image's SHA-256 against it,
    and measures every image at its native size (no resize). Writes
    ``stimuli_metrics.csv/.md`` (one row per stimulus) and ``stimuli_by_method.csv/.md``
    (means per category x method and per method), with the low-level properties that drive
    gaze independently of the method (:mod:`stimuli_gen.stimulus_props`: mean luma, RMS
    contrast, and the largest spectral peak of a 16-px grid and its harmonics, about 1 without a grid).
    """
    manifest = Path(manifest)
    if not manifest.is_file():
        raise InputError("stimulus manifest not found", file=manifest,
                         fix="run `python -m stimuli_gen generate` first, or give the right path")
    with open(manifest, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("stimulus_id", "artwork", "category", "method", "file", "sha256")
                   if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"manifest lacks column(s) {missing}", file=manifest, line=1,
                             expected="the columns of docs/formats.md sec. 1", fix="regenerate the manifest")
        entries = list(reader)
    if not entries:
        raise InputError("manifest lists no stimuli", file=manifest, fix="regenerate the stimuli")
    from stimuli_gen.generate import sha256_file

    rows: list[list[object]] = []
    for line, e in enumerate(entries, start=2):
        path = manifest.parent / e["file"]
        if not path.is_file():
            raise InputError(f"image {e['file']!r} not found", file=manifest, line=line, column="file",
                             fix="restore the stimuli folder or regenerate it")
        if sha256_file(path) != e["sha256"].strip().lower():
            raise InputError(f"image {e['file']!r} does not match its SHA-256", file=manifest, line=line,
                             column="sha256", fix="regenerate the stimuli and their manifest")
        rgb = load_rgb(path, 0)
        h16, w16 = rgb.shape[0] // 16 * 16, rgb.shape[1] // 16 * 16
        grid = sp.grid_peak_ratio(rgb[:h16, :w16], 16) if h16 and w16 else float("nan")
        rows.append([e["stimulus_id"], e["artwork"], e["category"], e["method"], im.image_entropy(rgb),
                     im.laplacian_variance(rgb), im.tenengrad(rgb), sp.mean_luminance(rgb), sp.rms_contrast(rgb),
                     grid])
    per = Table("stimuli_metrics", f"Stimulus image metrics ({manifest})",
                ["stimulus_id", "artwork", "category", "method", "entropy_bits", "laplacian_var", "tenengrad",
                 "mean_luminance", "rms_contrast", "grid_peak_ratio"], rows,
                note="Native size; grey level in [0, 1]. Definitions: stimuli_gen.image_metrics, "
                     "stimuli_gen.stimulus_props (grid_peak_ratio: largest peak at multiples of 1/16 cycles/px).")
    groups: dict[tuple[str, str], list[list[object]]] = {}
    for r in rows:
        groups.setdefault((str(r[2]), str(r[3])), []).append(r)
        groups.setdefault(("all", str(r[3])), []).append(r)
    agg = [[cat, meth, float(np.mean([r[4] for r in g])), float(np.mean([r[5] for r in g])),
            float(np.mean([r[6] for r in g])), len(g)] for (cat, meth), g in groups.items()]
    order = {c: i for i, c in enumerate(("painting", "sculpture", "craft"))}
    agg.sort(key=lambda r: (order.get(str(r[0]), 9 if r[0] == "all" else 8), str(r[0]), str(r[1])))
    by = Table("stimuli_by_method", "Stimulus metrics by category and method (means)",
               ["category", "method", "entropy_bits", "laplacian_var", "tenengrad", "n"], agg)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for t in (per, by):
        t.write(out)
    return [by, per]


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m stimuli_gen evaluate``."""
    parser.description = ("Evaluate generated images: domain-classification accuracy (Table 1), SSIM/COSIN (Table 2), "
                          "sharpness (Fig. 3) and domain entropies; tables printed as Markdown and written as CSV.")
    parser.add_argument("--real-a", type=Path, help="folder of real domain-A images (e.g. trainA); required unless --stimuli")
    parser.add_argument("--real-b", type=Path, help="folder of real domain-B images (e.g. trainB); required unless --stimuli")
    parser.add_argument("--stimuli", type=Path, metavar="MANIFEST",
                        help="instead of a dataset, measure the study stimuli listed in this manifest.csv "
                             "(entropy and sharpness per stimulus and per category x method)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the .csv/.md tables and evaluation.md")
    parser.add_argument("--generated", action="append", default=[], metavar="LABEL=DIR",
                        help="a folder of generated images, labelled as a table row (repeatable), e.g. ours=out/fake_B")
    parser.add_argument("--reference", type=Path,
                        help="ground-truth images paired with the generated ones by file name, for SSIM/COSIN "
                             "(e.g. facades testB); without it Table 2 is skipped")
    parser.add_argument("--test-a", type=Path, help="held-out real A images for the classifier's 'Real image' row "
                                                    "(default: a seeded 20%% of --real-a)")
    parser.add_argument("--test-b", type=Path, help="held-out real B images (give with --test-a)")
    parser.add_argument("--target", choices=("A", "B"), default="B",
                        help="domain the generated images should belong to (default: %(default)s)")
    parser.add_argument("--dataset", help="dataset name for the table column (default: parent folder of --real-a)")
    parser.add_argument("--size", type=int, default=256,
                        help="bring every image to SIZE x SIZE (shorter-side resize + centre crop; the paper's images "
                             "are 256); 0 keeps the native size (default: %(default)s)")
    parser.add_argument("--classifier-size", type=int, default=32,
                        help="side of the downsampled image fed to the domain classifier (default: %(default)s)")
    parser.add_argument("--max-images", type=int, default=0,
                        help="use at most N images per folder, in file-name order (0 = all) (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the hold-out split and classifier (default: %(default)s)")
    parser.add_argument("--no-baselines", action="store_true",
                        help="leave out the trivial baselines (identity, colour transfer, mean image of the target "
                             "domain) that are otherwise added to every table")
    parser.add_argument("--feature-weights", type=Path, default=None,
                        help="local torchvision VGG-19 state dict for the KID/FID features (relu5_1); without it the "
                             "fallback features are the classifier's thumbnail + colour histograms")


def main(args: argparse.Namespace) -> int:
    """Run ``python -m stimuli_gen evaluate``; returns the exit code."""
    if args.size < 0 or (0 < args.size < 11):
        raise InputError(f"--size {args.size} is too small", column="--size",
                         expected="0 (native) or at least 11 (the SSIM window)", fix="use --size 256")
    if args.classifier_size < 2 or args.max_images < 0:
        raise InputError("--classifier-size must be >= 2 and --max-images >= 0", fix="use the defaults")
    if args.stimuli is not None:
        if args.real_a or args.real_b or args.generated:
            raise InputError("--stimuli cannot be combined with --real-a/--real-b/--generated",
                             fix="run the two evaluations separately")
        tables = evaluate_stimuli(args.stimuli, args.out)
        for t in tables:
            print(t.markdown())
        print(f"tables written to {args.out}")
        return 0
    if args.real_a is None or args.real_b is None:
        raise InputError("--real-a and --real-b are required (or use --stimuli MANIFEST)", column="--real-a/--real-b",
                         fix="give the folders of real domain-A and domain-B images, e.g. .../trainA and .../trainB")
    generated = [parse_generated(g) for g in args.generated]
    tables = evaluate(args.real_a, args.real_b, generated, out=args.out, reference=args.reference,
                      test_a=args.test_a, test_b=args.test_b, target=args.target, dataset=args.dataset,
                      size=args.size, feat_size=args.classifier_size, max_images=args.max_images, seed=args.seed,
                      baselines=not args.no_baselines, feature_weights=args.feature_weights)
    for t in tables:
        print(t.markdown())
    print(f"tables written to {args.out}")
    return 0
