"""Generate the study's stimuli (9 artworks x 2 methods) and the stimulus manifest.

``python -m stimuli_gen generate --artworks data/artworks --ours CKPT --pix2pix CKPT --out data/stimuli [--demo]``

For every artwork of ``<artworks>/artworks.toml`` (Wei Pu 2025, Table 3: three
paintings, three sculptures, three craft works) the photo is reconstructed by the
paper's asymmetric CycleGAN ("ours", generator G, photo -> art, direction ``AtoB``) and
by the Pix2Pix baseline, giving 18 PNG images ``<artwork>_<method>.png`` and
``manifest.csv`` as docs/formats.md sec. 1 specifies (stimulus_id, artwork, category,
method, file, sha256, width_px, height_px, checkpoint_id, and the optional label,
saliency_file, mean_luminance, rms_contrast), plus one saliency map per stimulus in
``saliency/<stimulus_id>.png``.

Input preparation (documented defaults)
---------------------------------------
- The photo is read with EXIF orientation applied and converted to RGB.
- ``--fit pad`` (default): the longer side is resized to ``--size`` (Lanczos), the image
  is mirror-padded to a square, passed through the generator, and the output is cropped
  back to the content, so the whole artwork is kept at its aspect ratio (a crop cuts
  half of The Last Supper and the heads or feet of statues). ``--fit crop``: the shorter
  side is resized to ``--size`` and the centre square is cut out, as the paper's 256x256
  images (sec. "Experimental datasets").
- Pixels are scaled to ``[-1, 1]`` (the generators' range, stimuli_gen.checkpoint).

Output post-processing (documented defaults, the same for both methods)
-----------------------------------------------------------------------
- ``--degrid 8`` (default; 0 = off): the square generator output is notch-filtered at
  the frequencies of an 8-px grid (multiples of 1/8 cycles/px, which include the 4-px
  and 2-px grids of stride-2 transposed convolutions; Odena et al. 2016), before it is
  cropped back (:func:`stimuli_gen.stimulus_props.remove_grid`; at 256 px 0.9 % of the
  spectrum). An under-trained generator's dot grid attracts gaze by itself and differs
  between the methods. On the clean stand-in photos the filter itself changes pixels by
  0.9-5.8 grey levels on average (PSNR 31-45 dB); ``--degrid 16`` also removes a 16-px
  grid (left weakly by the demo U-Net) at 2.6-9.3 levels (PSNR 27-37 dB).
- ``--match pair`` (default; ``none`` = off): the two methods' images of one artwork get
  the same mean luma and RMS contrast (Peli 1990), the means of the pair's values, by a
  gain/offset on R, G, B (:func:`stimuli_gen.stimulus_props.match_lowlevel`); both are
  the same size by construction. The achieved values are written per stimulus into the
  manifest (``mean_luminance``, ``rms_contrast``), so a lab that turns matching off
  still sees them.
- ``saliency/<stimulus_id>.png``: the spectral-residual saliency (Hou & Zhang 2007) of
  the final image, 8-bit grey, the stimulus's size, linear in saliency, max 255
  (:func:`stimuli_gen.stimulus_props.saliency_png`); the manifest's ``saliency_file``.

Demo mode (``--demo``)
----------------------
No photos of the real artworks ship with the project. ``--demo`` replaces each photo
by a freely licensed stand-in of the same category (``demo_image`` in artworks.toml: a
file in the artworks folder, see data/artworks/demo/README.md, or the name of an image
bundled with scikit-image). No text is drawn into the image: the manifest's ``label``
reads "DEMO STAND-IN - not <title>" and its checkpoint_id starts with ``demo-``. Demo
stimuli only show that the pipeline runs end to end; they are not the paper's stimuli.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import os
import re
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from stimuli_gen import stimulus_props as props
from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)

CATEGORIES = ("painting", "sculpture", "craft")
METHODS = ("ours", "pix2pix")
MANIFEST_COLUMNS = ("stimulus_id", "artwork", "category", "method", "file", "sha256",
                    "width_px", "height_px", "checkpoint_id", "label", "saliency_file", "mean_luminance",
                    "rms_contrast")
#: Slugs of docs/formats.md sec. 1 (paper Table 3, in the paper's order).
PAPER_SLUGS = ("last_supper", "night_watch", "virgin_of_the_rocks", "david", "thinker", "venus_de_milo",
               "terracotta_warriors", "tang_sancai", "blue_white_porcelain")
SLUG_RE = re.compile(r"[a-z][a-z0-9_]*")  # used with fullmatch: "$" would accept a trailing newline
UNFILLED = "lab must fill"
DEFAULT_SIZE = 256
FIT_MODES = ("pad", "crop")
MATCH_MODES = ("pair", "none")
DEFAULT_DEGRID = 8
DEMO_PREFIX = "DEMO STAND-IN"
SALIENCY_DIR = "saliency"

REQUIRED_KEYS = ("slug", "category", "paper_name", "title", "photo", "photo_source", "photo_licence")
OPTIONAL_KEYS = ("artist", "demo_image", "notes")


def _demo_loader(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        return getattr(data, name)()

    return load


#: Images bundled inside the scikit-image wheel (no download needed) usable as demo stand-ins.
DEMO_IMAGES: dict[str, Callable[[], np.ndarray]] = {
    name: _demo_loader(name)
    for name in ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "moon", "immunohistochemistry",
                 "hubble_deep_field", "retina", "brick", "grass", "gravel", "cell", "clock", "page", "text")
}


@dataclass(frozen=True)
class Artwork:
    """One row of artworks.toml (see data/artworks/README.md for the fields)."""

    slug: str
    category: str
    paper_name: str
    title: str
    photo: str
    photo_source: str
    photo_licence: str
    artist: str = ""
    demo_image: str = ""
    notes: str = ""


# --------------------------------------------------------------------------- artworks.toml


def _line_of(text: str, index: int, key: str | None) -> int | None:
    """1-based line of the ``index``-th ``[[artwork]]`` table (or of ``key`` inside it)."""
    lines = text.splitlines()
    headers = [i for i, ln in enumerate(lines) if re.match(r"^\s*\[\[\s*artwork\s*\]\]", ln)]
    if index >= len(headers):
        return None
    start = headers[index]
    if key is None:
        return start + 1
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    for i in range(start, end):
        if re.match(rf"^\s*{re.escape(key)}\s*=", lines[i]):
            return i + 1
    return start + 1


def load_artworks(folder_or_file: str | Path) -> list[Artwork]:
    """Read and validate ``artworks.toml`` (a folder containing it, or the file itself).

    Every problem raises :class:`InputError` naming the file, the line, the key, what
    was expected and how to fix it: TOML syntax, missing or unknown keys, wrong types,
    empty values, bad or duplicate slugs, unknown categories, unsafe photo paths, and
    unknown ``demo_image`` names. A set of slugs other than the paper's nine is allowed
    (a lab may extend the study) but logged as a warning.
    """
    path = Path(folder_or_file)
    if path.is_dir():
        path = path / "artworks.toml"
    if not path.is_file():
        raise InputError("artworks list not found", file=path, expected="an artworks.toml file",
                         fix="pass --artworks data/artworks (the folder that holds artworks.toml)")
    text = path.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(f"invalid TOML: {exc}", file=path, line=int(m.group(1)) if m else None,
                         fix="fix the syntax (strings need double quotes; each artwork starts with [[artwork]])") from None
    unknown_top = sorted(set(doc) - {"version", "artwork"})
    if unknown_top:
        raise InputError(f"unknown top-level key(s) {unknown_top}", file=path, expected="version and [[artwork]] tables",
                         fix="remove or rename them")
    if doc.get("version", 1) != 1:
        raise InputError(f"unsupported version {doc.get('version')!r}", file=path, column="version",
                         expected="version = 1", fix="set version = 1")
    tables = doc.get("artwork")
    if not isinstance(tables, list) or not tables:
        raise InputError("no artworks listed", file=path, expected="one [[artwork]] table per artwork",
                         fix="add [[artwork]] tables (see data/artworks/README.md)")
    artworks: list[Artwork] = []
    seen: dict[str, int] = {}
    photos: dict[str, str] = {}
    for i, tab in enumerate(tables):
        def err(problem: str, key: str | None = None, expected: str | None = None, fix: str | None = None) -> InputError:
            label = f"[[artwork]] #{i + 1}" + (f" ({tab.get('slug')!r})" if isinstance(tab.get("slug"), str) else "")
            return InputError(f"{label}: {problem}", file=path, line=_line_of(text, i, key), column=key,
                              expected=expected, fix=fix)

        missing = [k for k in REQUIRED_KEYS if k not in tab]
        if missing:
            raise err(f"missing key(s) {missing}", None, "keys " + ", ".join(REQUIRED_KEYS),
                      f"add {missing[0]} = \"...\" (photo_source/photo_licence may be \"unknown - {UNFILLED}\")")
        unknown = sorted(set(tab) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
        if unknown:
            raise err(f"unknown key(s) {unknown}", unknown[0], "keys " + ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS),
                      "fix the spelling or remove the key")
        for key, value in tab.items():
            if not isinstance(value, str):
                raise err(f"{key} must be a string, got {type(value).__name__}", key, "a quoted string",
                          f'write {key} = "..."')
            if key in REQUIRED_KEYS and not value.strip():
                raise err(f"{key} is empty", key, "a non-empty string",
                          f'fill it in, or write "unknown - {UNFILLED}" for photo_source/photo_licence')
        slug = tab["slug"]
        if not SLUG_RE.fullmatch(slug):
            raise err(f"slug {slug!r} is not a valid slug", "slug", "lower-case letters, digits and _, e.g. david",
                      "use the slugs of docs/formats.md sec. 1")
        if slug in seen:
            raise err(f"slug {slug!r} is listed twice (also in artwork #{seen[slug]})", "slug",
                      "unique slugs", "remove the duplicate")
        seen[slug] = i + 1
        if tab["category"] not in CATEGORIES:
            raise err(f"category {tab['category']!r} is not allowed", "category", " | ".join(CATEGORIES),
                      "use painting, sculpture or craft (paper Table 3)")
        photo = tab["photo"].replace("\\", "/")
        pp = PurePosixPath(photo)
        if pp.is_absolute() or ".." in pp.parts or (len(photo) > 1 and photo[1] == ":"):
            raise err(f"photo path {photo!r} must stay inside the artworks folder", "photo",
                      "a path relative to the folder of artworks.toml, e.g. photos/david.jpg",
                      "copy the photo into the artworks folder and give its relative path")
        if photo in photos:
            raise err(f"photo {photo!r} is also used by {photos[photo]!r}", "photo", "one photo per artwork",
                      "give each artwork its own photo")
        photos[photo] = slug
        demo = tab.get("demo_image", "")
        if demo and is_demo_file(demo):
            dp = PurePosixPath(demo.replace("\\", "/"))
            if dp.is_absolute() or ".." in dp.parts:
                raise err(f"demo_image path {demo!r} must stay inside the artworks folder", "demo_image",
                          "a file path relative to the folder of artworks.toml, e.g. demo/pieta.jpg",
                          "copy the file into the artworks folder and give its relative path")
        elif demo and demo not in DEMO_IMAGES:
            raise err(f"demo_image {demo!r} is not an image bundled with scikit-image", "demo_image",
                      "a file path like demo/pieta.jpg or one of " + ", ".join(DEMO_IMAGES),
                      "pick one of those names or give a file")
        artworks.append(Artwork(**{k: tab.get(k, "") for k in REQUIRED_KEYS + OPTIONAL_KEYS}))
    slugs = tuple(a.slug for a in artworks)
    if set(slugs) != set(PAPER_SLUGS):
        log.warning("%s lists %s; the paper's design has the nine artworks %s", path, ", ".join(slugs),
                    ", ".join(PAPER_SLUGS))
    return artworks


# --------------------------------------------------------------------------- images


def load_photo(path: Path) -> Image.Image:
    """Read a photo as RGB with its EXIF orientation applied; :class:`InputError` if unreadable."""
    try:
        with Image.open(path) as im:
            im.load()
            return ImageOps.exif_transpose(im).convert("RGB")
    except FileNotFoundError:
        raise InputError("photo not found", file=path, fix=f"add the photo at {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise InputError(f"photo cannot be read ({exc})", file=path, expected="a JPEG/PNG/TIFF image",
                         fix="re-export the photo as JPEG or PNG") from None


def is_demo_file(demo_image: str) -> bool:
    """True if ``demo_image`` names a file (has a suffix or a folder) rather than a scikit-image sample."""
    return "/" in demo_image or "\\" in demo_image or "." in demo_image


def demo_photo(name: str, folder: str | Path | None = None) -> Image.Image:
    """A demo stand-in as an RGB PIL image: a file relative to ``folder``, or ``skimage.data.<name>``."""
    if is_demo_file(name):  # a missing file is an InputError naming it (load_photo)
        return load_photo(Path(folder or ".") / name)
    arr = np.asarray(DEMO_IMAGES[name]())
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    if arr.ndim == 2:
        arr = np.stack([arr] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(arr[..., :3]).astype(np.uint8))


def prepare(photo: Image.Image, size: int, fit: str = "crop") -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """Square ``size x size`` uint8 RGB input for a generator, and the content box in it.

    Returns ``(array, (top, left, height, width))``; the box is the whole square for
    ``fit="crop"`` and the unpadded content for ``fit="pad"`` (see module docstring).
    """
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {FIT_MODES}")
    w, h = photo.size
    if fit == "crop":
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        im = photo.resize((nw, nh), Image.Resampling.LANCZOS)
        left, top = (nw - size) // 2, (nh - size) // 2
        arr = np.asarray(im.crop((left, top, left + size, top + size)))
        return arr, (0, 0, size, size)
    scale = size / max(w, h)
    nw, nh = max(1, min(size, round(w * scale))), max(1, min(size, round(h * scale)))
    arr = np.asarray(photo.resize((nw, nh), Image.Resampling.LANCZOS))
    top, left = (size - nh) // 2, (size - nw) // 2
    padded = np.pad(arr, ((top, size - nh - top), (left, size - nw - left), (0, 0)), mode="symmetric")
    return padded, (top, left, nh, nw)


def run_generator(net: Any, image: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Apply a generator (NCHW in [-1, 1] -> [-1, 1]) to one uint8 RGB image; returns uint8 RGB."""
    import torch

    x = torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div(127.5).sub(1.0)
    with torch.no_grad():
        y = net(x.unsqueeze(0).to(device))
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or y.shape[0] != 1 or y.shape[1] != 3:
        raise RuntimeError(f"generator returned {getattr(y, 'shape', type(y))}, expected 1x3xHxW")
    if tuple(y.shape[2:]) != image.shape[:2]:
        raise RuntimeError(f"generator changed the image size {image.shape[:2]} -> {tuple(y.shape[2:])}")
    y = y[0].detach().float().cpu()
    if not torch.isfinite(y).all():
        raise RuntimeError("generator produced NaN/inf values")
    out = ((y.clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return np.ascontiguousarray(out)


def demo_label(artwork: Artwork) -> str:
    """The manifest label of a demo stand-in (the text stays out of the image)."""
    return f"{DEMO_PREFIX} - not {artwork.title}"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --------------------------------------------------------------------------- pipeline


@dataclass
class Method:
    """A loaded generator for one method: the module and its checkpoint info."""

    net: Any
    checkpoint_id: str
    multiple: int = 4  # H and W must be divisible by this


def load_method(path: str | Path, kind_expected: str, direction: str = "AtoB", device: str = "cpu") -> Method:
    """Load a checkpoint through :func:`stimuli_gen.checkpoint.load_generator`.

    ``kind_expected`` ("cyclegan_asym" for ``--ours``, "pix2pix" for ``--pix2pix``) is
    checked so the two checkpoints cannot be swapped by mistake. A Pix2Pix checkpoint is
    used in the direction it was trained for.
    """
    from stimuli_gen.checkpoint import load_checkpoint, load_generator

    data, cfg = load_checkpoint(path)
    if data["kind"] != kind_expected:
        flag = "--ours" if kind_expected == "cyclegan_asym" else "--pix2pix"
        raise InputError(f"{flag} needs a {kind_expected} checkpoint, this one is {data['kind']}", file=path,
                         column="kind", expected=kind_expected, fix="check that --ours and --pix2pix are not swapped")
    if kind_expected == "pix2pix":
        direction = cfg.train.direction
        multiple = 2 ** cfg.model.unet_downs
    else:
        multiple = 4
    net, info = load_generator(path, direction=direction, device=device)
    return Method(net, str(info["checkpoint_id"]), multiple)


def generate(artworks: Sequence[Artwork], methods: dict[str, Method], out: str | Path, *,
             artworks_dir: str | Path | None = None, demo: bool = False, size: int = DEFAULT_SIZE,
             fit: str = "pad", degrid: int = DEFAULT_DEGRID, match: str = "pair", device: str = "cpu",
             progress: bool = True) -> list[dict[str, Any]]:
    """Write one PNG per artwork x method, its saliency map and ``manifest.csv`` into ``out``; returns the rows.

    Parameters
    ----------
    artworks : sequence of Artwork
        From :func:`load_artworks`.
    methods : dict
        ``{"ours": Method, "pix2pix": Method}`` (tests may inject any module).
    out : path
        Output folder (created); saliency maps go to ``out/saliency/``.
    artworks_dir : path, optional
        Folder the ``photo`` (and file ``demo_image``) paths are relative to; required unless ``demo``
        with scikit-image names only.
    demo : bool
        Use the ``demo_image`` stand-ins and label the rows as such (see module docstring).
    size, fit, device
        Generator input size (pixels; default: 256, the paper's), ``"pad"`` (default: the whole
        artwork) or ``"crop"``, torch device.
    degrid : int
        Period in px of the grid notched out of each generator output (default: 8; 0 = off).
    match : str
        ``"pair"`` (default): equal mean luma and RMS contrast for the two methods' images of
        one artwork; ``"none"``: leave them and only report them.

    Raises
    ------
    InputError
        A photo is missing or unreadable (checked for every artwork before anything is
        generated; the message names each file to add), ``demo_image`` is missing in demo
        mode, or ``size`` does not suit a generator.
    """
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise ValueError(f"methods must be a subset of {METHODS}, got {sorted(methods)}")
    if fit not in FIT_MODES or match not in MATCH_MODES or degrid < 0:
        raise ValueError(f"fit must be one of {FIT_MODES}, match one of {MATCH_MODES}, degrid >= 0")
    for name, m in methods.items():
        if size % m.multiple:
            raise InputError(f"--size {size} does not suit the {name} generator", column="--size",
                             expected=f"a multiple of {m.multiple}", fix=f"use e.g. --size {max(m.multiple, size - size % m.multiple)}")
    sources: list[Image.Image | Path] = []
    if demo:
        for a in artworks:
            if not a.demo_image:
                raise InputError(f"artwork {a.slug!r} has no demo_image", column="demo_image",
                                 expected="a file like demo/pieta.jpg or one of " + ", ".join(DEMO_IMAGES),
                                 fix="add demo_image = \"...\" to artworks.toml")
            sources.append(demo_photo(a.demo_image, artworks_dir))
    else:
        if artworks_dir is None:
            raise ValueError("artworks_dir is required unless demo=True")
        paths = [Path(artworks_dir) / a.photo for a in artworks]
        _check_photos(artworks, Path(artworks_dir))
        unfilled = [a.slug for a in artworks if UNFILLED in a.photo_source or UNFILLED in a.photo_licence]
        if unfilled:
            log.warning("photo_source/photo_licence not filled in for: %s (fill them in artworks.toml)",
                        ", ".join(unfilled))
        sources = paths
    # Read and prepare every photo first, then run every generator, and only then write:
    # a bad photo or a failing generator never leaves a half-updated stimuli folder.
    prepared = [prepare(src if isinstance(src, Image.Image) else load_photo(src), size, fit) for src in sources]
    jobs = [(a, prep, m) for a, prep in zip(artworks, prepared) for m in METHODS if m in methods]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="stimuli", unit="img")
    results: list[tuple[Artwork, str, np.ndarray, str]] = []
    try:
        for a, (arr, (top, left, hh, ww)), method in jobs:
            spec = methods[method]
            result = run_generator(spec.net, arr, device)
            if degrid:
                result = props.remove_grid(result, degrid)
            result = result[top : top + hh, left : left + ww]
            ckpt_id = spec.checkpoint_id
            if demo and not ckpt_id.startswith("demo-"):
                ckpt_id = "demo-" + ckpt_id
            results.append((a, method, result, ckpt_id))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    if match == "pair":
        results = _match_pairs(results)
    out = Path(out)
    (out / SALIENCY_DIR).mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for a, method, result, ckpt_id in results:
        sid = f"{a.slug}_{method}"
        fname = f"{sid}.png"
        sal_name = f"{SALIENCY_DIR}/{sid}.png"
        _atomic_write_bytes(out / fname, _png_bytes(Image.fromarray(result)))
        _atomic_write_bytes(out / sal_name, _png_bytes(props.saliency_png(result)))
        rows.append({"stimulus_id": sid, "artwork": a.slug, "category": a.category,
                     "method": method, "file": fname, "sha256": sha256_file(out / fname),
                     "width_px": result.shape[1], "height_px": result.shape[0], "checkpoint_id": ckpt_id,
                     "label": demo_label(a) if demo else a.title, "saliency_file": sal_name,
                     "mean_luminance": f"{props.mean_luminance(result):.4f}",
                     "rms_contrast": f"{props.rms_contrast(result):.4f}"})
    write_manifest(out / "manifest.csv", rows)
    listed = {r["file"] for r in rows}
    stale = sorted(p.name for p in out.glob("*.png") if p.name not in listed)
    if stale:
        log.warning("%s holds images not in the new manifest (left untouched): %s", out, ", ".join(stale))
    log.info("wrote %d stimuli, their saliency maps and %s", len(rows), out / "manifest.csv")
    return rows


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _match_pairs(results: list[tuple[Artwork, str, np.ndarray, str]]) -> list[tuple[Artwork, str, np.ndarray, str]]:
    """Give the images of each artwork the pair's mean luma and mean RMS contrast (see module docstring)."""
    by_art: dict[str, list[int]] = {}
    for i, (a, *_rest) in enumerate(results):
        by_art.setdefault(a.slug, []).append(i)
    out = list(results)
    for idx in by_art.values():
        if len(idx) < 2:
            continue
        mean = float(np.mean([props.mean_luminance(results[i][2]) for i in idx]))
        rms = float(np.mean([props.rms_contrast(results[i][2]) for i in idx]))
        for i in idx:
            a, method, img, ckpt = results[i]
            out[i] = (a, method, props.match_lowlevel(img, mean, rms), ckpt)
    return out


def write_manifest(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Write the stimulus manifest (docs/formats.md sec. 1) atomically."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r[k] for k in MANIFEST_COLUMNS})
    _atomic_write_bytes(Path(path), buf.getvalue().encode("utf-8"))


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m stimuli_gen generate``."""
    parser.description = ("Reconstruct each artwork photo with both generators and write the 18 stimuli "
                          "plus manifest.csv (docs/formats.md sec. 1).")
    parser.add_argument("--artworks", type=Path, default=Path("data/artworks"),
                        help="folder holding artworks.toml; photo paths are relative to it (default: %(default)s)")
    parser.add_argument("--ours", type=Path, required=True,
                        help="checkpoint of the asymmetric CycleGAN (kind cyclegan_asym), e.g. data/checkpoints/demo-ours.pt")
    parser.add_argument("--pix2pix", type=Path, required=True,
                        help="checkpoint of the Pix2Pix baseline (kind pix2pix), used in the direction it was trained for")
    parser.add_argument("--out", type=Path, default=Path("data/stimuli"),
                        help="output folder for the PNGs, their saliency/ maps and manifest.csv (default: %(default)s)")
    parser.add_argument("--demo", action="store_true",
                        help="use the freely licensed stand-ins named by demo_image in artworks.toml instead of the "
                             "artwork photos; the manifest label says 'DEMO STAND-IN - not <title>' and checkpoint ids "
                             "start with demo- (no text is drawn into the images)")
    parser.add_argument("--size", type=int, default=DEFAULT_SIZE,
                        help="generator input size in pixels (square; the paper uses 256; must suit both generators) "
                             "(default: %(default)s)")
    parser.add_argument("--fit", choices=FIT_MODES, default="pad",
                        help="pad: keep the whole artwork at its aspect ratio (mirror-padded for the generator, cropped "
                             "back after); crop: centre square (the paper's 256x256 images) (default: %(default)s)")
    parser.add_argument("--degrid", type=int, default=DEFAULT_DEGRID, metavar="PERIOD",
                        help="notch the frequencies of a PERIOD-px grid (checkerboard artefacts of transposed "
                             "convolutions) out of every generator output; 0 = off (default: %(default)s)")
    parser.add_argument("--match", choices=MATCH_MODES, default="pair",
                        help="pair: give both methods' images of an artwork the same mean luma and RMS contrast; "
                             "none: only report them in the manifest (default: %(default)s)")
    parser.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB",
                        help="direction of the CycleGAN generator: AtoB = G, photo -> art (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")


def main(args: argparse.Namespace) -> int:
    """Run ``python -m stimuli_gen generate``; returns the exit code."""
    if args.degrid < 0 or args.degrid == 1:
        raise InputError(f"--degrid {args.degrid} is not a grid period", column="--degrid",
                         expected="0 (off) or a period >= 2 px", fix="use --degrid 8 (the default) or 0")
    if args.size < 16:
        raise InputError(f"--size {args.size} is too small", column="--size", expected="at least 16 (paper: 256)",
                         fix="use --size 256")
    artworks = load_artworks(args.artworks)
    folder = args.artworks if Path(args.artworks).is_dir() else Path(args.artworks).parent
    if not args.demo:  # fail on missing photos before spending time on loading checkpoints
        _check_photos(artworks, folder)
    methods = {"ours": load_method(args.ours, "cyclegan_asym", args.direction, args.device),
               "pix2pix": load_method(args.pix2pix, "pix2pix", device=args.device)}
    rows = generate(artworks, methods, args.out, artworks_dir=folder, demo=args.demo, size=args.size,
                    fit=args.fit, degrid=args.degrid, match=args.match, device=args.device)
    print(f"wrote {len(rows)} stimuli and {Path(args.out) / 'manifest.csv'}")
    return 0


def _check_photos(artworks: Sequence[Artwork], folder: Path) -> None:
    missing = [(a, folder / a.photo) for a in artworks if not (folder / a.photo).is_file()]
    if missing:
        names = "\n".join(f"    {p}  ({a.title}, {a.category})" for a, p in missing)
        raise InputError(f"{len(missing)} artwork photo(s) missing; nothing was generated:\n{names}",
                         file=missing[0][1], expected="one photo per artwork at the path given by 'photo' in artworks.toml",
                         fix="add the photo file(s) listed above (see data/artworks/README.md), "
                             "or run with --demo for labelled stand-ins")
