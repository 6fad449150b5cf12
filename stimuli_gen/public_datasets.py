"""Public CycleGAN / Pix2Pix training datasets: download, safe unpack and verify.

``python -m stimuli_gen datasets list``
``python -m stimuli_gen datasets download NAME [--root data/datasets]``
``python -m stimuli_gen datasets unpack ARCHIVE --name NAME [--root data/datasets]``
``python -m stimuli_gen datasets verify NAME [--root data/datasets]``

The paper (Wei Pu 2025, sec. "Experimental datasets") trains on the CycleGAN datasets
horse2zebra, summer2winter (``summer2winter_yosemite``) and monet2photo, and compares
algorithms on facades; all at 256x256. The archives are the ones the reference
implementation's download scripts fetch (junyanz/pytorch-CycleGAN-and-pix2pix,
``datasets/download_cyclegan_dataset.sh`` and ``datasets/download_pix2pix_dataset.sh``):

- CycleGAN (unpaired): ``https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/NAME.zip``
  (older mirror: ``https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/NAME.zip``),
  unpacking to ``NAME/{trainA,trainB,testA,testB}``.
- Pix2Pix (paired, A|B side by side): ``https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz``,
  unpacking to ``facades/{train,val,test}``; here it is called ``pix2pix_facades`` so it
  does not collide with CycleGAN's unpaired ``facades``.

Safety and robustness
---------------------
- Downloads stream to ``<root>/<archive>.part`` and resume from its size with an HTTP
  ``Range`` request; the archive gets its final name only when complete.
- Archives are checked member by member before anything is written: absolute paths,
  ``..`` components, links and device files are rejected (path-traversal defence).
- Unpacking goes into a temporary folder next to the target and is moved into place
  only after verification, so a half-unpacked dataset never looks complete.
- Verification checks the expected folders, that each holds at least one image, that
  every image decodes, and compares the counts with the published ones (a mismatch is a
  warning, or an error with ``--strict``). No checksums are published for these
  archives, so none are checked.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from PIL import Image, UnidentifiedImageError

from stimuli_gen.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_ROOT = Path("data/datasets")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
CHUNK = 1 << 20


@dataclass(frozen=True)
class DatasetSpec:
    """One public dataset: where it lives and what a complete copy contains.

    ``counts`` are the image counts per folder of the published archive (informational:
    a mismatch is reported; it is an error only with ``strict``).
    """

    name: str
    kind: str  # "cyclegan" (unpaired A/B) or "pix2pix" (paired A|B)
    urls: tuple[str, ...]
    archive_name: str
    top_dir: str  # folder name inside the archive
    folders: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)
    note: str = ""


_CG = "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/{}.zip"
_CG_OLD = "https://people.eecs.berkeley.edu/~taesung_park/CycleGAN/datasets/{}.zip"
_CG_FOLDERS = ("trainA", "trainB", "testA", "testB")


def _cyclegan(name: str, counts: dict[str, int], note: str) -> DatasetSpec:
    return DatasetSpec(name, "cyclegan", (_CG.format(name), _CG_OLD.format(name)), f"{name}.zip", name,
                       _CG_FOLDERS, counts, note)


#: The datasets the paper uses. Counts: the archives as published by the CycleGAN authors.
DATASETS: dict[str, DatasetSpec] = {
    "monet2photo": _cyclegan("monet2photo", {"trainA": 1072, "trainB": 6287, "testA": 121, "testB": 751},
                             "A = Monet paintings, B = Flickr landscape photos (paper, Table 1)"),
    "horse2zebra": _cyclegan("horse2zebra", {"trainA": 1067, "trainB": 1334, "testA": 120, "testB": 140},
                             "A = horses, B = zebras, ImageNet (paper, Table 1)"),
    "summer2winter_yosemite": _cyclegan(
        "summer2winter_yosemite", {"trainA": 1231, "trainB": 962, "testA": 309, "testB": 238},
        "A = summer, B = winter Yosemite photos, Flickr (paper's 'summer2winter', Table 1)"),
    "facades": _cyclegan("facades", {"trainA": 400, "trainB": 400, "testA": 106, "testB": 106},
                         "A = facade photos, B = label maps, CMP Facades, unpaired layout (paper, Table 2)"),
    "pix2pix_facades": DatasetSpec(
        "pix2pix_facades", "pix2pix", ("https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz",),
        "facades.tar.gz", "facades", ("train", "val", "test"), {"train": 400, "val": 100, "test": 106},
        "paired CMP Facades for Pix2Pix: each image is A|B side by side (paper, Table 2)"),
}


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` called ``name``; :class:`InputError` lists the known names."""
    try:
        return DATASETS[name]
    except KeyError:
        raise InputError(f"unknown dataset {name!r}", expected="one of " + ", ".join(DATASETS),
                         fix="run `python -m stimuli_gen datasets list` to see the datasets") from None


# --------------------------------------------------------------------------- download


def download(url: str, dest: Path, *, timeout: float = 60.0, progress: bool = True) -> Path:
    """Download ``url`` to ``dest``, resuming a previous partial download.

    Data go to ``dest`` + ``.part``; if that file exists, the request asks for the
    remaining bytes (HTTP ``Range``). A server that ignores the range (status 200)
    restarts the file. ``dest`` appears only when the transfer is complete (and, when
    the server sent a length, of that length).

    Raises
    ------
    InputError
        When the server cannot be reached (offline, DNS, refused) or answers an HTTP
        error; the message names the URL and how to download the archive by hand.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "artgaze-stimuli_gen"})
    if have:
        req.add_header("Range", f"bytes={have}-")
        log.info("resuming %s from byte %d", url, have)
    manual = (f"download {url} with a browser or `curl -C - -L -o {part} {url}`, then run "
              f"`python -m stimuli_gen datasets unpack {part} --name <NAME>` (after renaming it)")
    try:
        resp = urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # range not satisfiable: we already have every byte
            part.replace(dest)
            return dest
        raise InputError(f"download failed: HTTP {exc.code} {exc.reason} for {url}",
                         fix="check the dataset name and your network; or " + manual) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(f"cannot reach {url} ({reason}); are you offline?",
                         expected="a working internet connection",
                         fix="connect and rerun (the download resumes from the .part file); or " + manual) from None
    with resp:
        status = getattr(resp, "status", 200)
        if status == 206:
            mode = "ab"
            total = have + int(resp.headers.get("Content-Length", 0) or 0)
        else:
            mode, have = "wb", 0
            total = int(resp.headers.get("Content-Length", 0) or 0)
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total or None, initial=have, unit="B", unit_scale=True, desc=dest.name)
        try:
            with open(part, mode) as fh:
                while True:
                    try:
                        chunk = resp.read(CHUNK)
                    except OSError as exc:
                        raise InputError(f"connection lost while downloading {url} ({exc})",
                                         fix="rerun the same command: it resumes from " + str(part)) from None
                    if not chunk:
                        break
                    fh.write(chunk)
                    if bar is not None:
                        bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
    size = part.stat().st_size
    if total and size != total:
        raise InputError(f"incomplete download of {url}: {size} of {total} bytes",
                         fix="rerun the same command: it resumes from " + str(part))
    part.replace(dest)
    return dest


# --------------------------------------------------------------------------- safe unpack


def _check_member_name(name: str, archive: Path) -> PurePosixPath:
    """Reject absolute paths, drive letters and ``..`` components in an archive member."""
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in p.parts:
        raise InputError(f"unsafe path {name!r} in archive (it would be written outside the target folder)",
                         file=archive, expected="relative member paths without '..'",
                         fix="do not use this archive; download it again from the official URL")
    return p


def _safe_extract_zip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        for info in infos:
            _check_member_name(info.filename, archive)
            ftype = stat.S_IFMT(info.external_attr >> 16)  # 0 when the creator stored no Unix type
            if ftype and ftype not in (stat.S_IFREG, stat.S_IFDIR):
                raise InputError(f"archive member {info.filename!r} is a link or special file",
                                 file=archive, expected="regular files and folders only",
                                 fix="do not use this archive; download it again from the official URL")
        bad = zf.testzip()
        if bad is not None:
            raise InputError(f"corrupt member {bad!r} (CRC mismatch)", file=archive,
                             fix="delete the archive and download it again")
        for info in infos:
            zf.extract(info, target)


def _safe_extract_tar(archive: Path, target: Path) -> None:
    with tarfile.open(archive, "r:*") as tf:
        members = tf.getmembers()
        for m in members:
            _check_member_name(m.name, archive)
            if not (m.isfile() or m.isdir()):
                raise InputError(f"archive member {m.name!r} is a link or special file",
                                 file=archive, expected="regular files and folders only",
                                 fix="do not use this archive; download it again from the official URL")
        # The 'data' filter (PEP 706, Python >= 3.11.4) is a second line of defence after our own checks.
        if hasattr(tarfile, "data_filter"):
            tf.extractall(target, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4
            tf.extractall(target, members=members)


def open_archive_kind(archive: Path) -> str:
    """``"zip"`` or ``"tar"`` by content (not by name); :class:`InputError` otherwise."""
    if not archive.is_file():
        raise InputError("archive not found", file=archive, fix="check the path or run `datasets download` first")
    if zipfile.is_zipfile(archive):
        return "zip"
    try:
        if tarfile.is_tarfile(archive):
            return "tar"
    except OSError:
        pass
    raise InputError("not a zip or tar(.gz) archive (truncated download?)", file=archive,
                     expected="a .zip or .tar.gz archive",
                     fix="delete it and download again; a partial download keeps the .part suffix")


def _find_dataset_dir(tmp: Path, spec: DatasetSpec) -> Path:
    """Folder inside the unpacked tree that holds the expected sub-folders."""
    candidates = [tmp / spec.top_dir, tmp] + [p for p in tmp.iterdir() if p.is_dir()]
    for cand in candidates:
        if cand.is_dir() and all((cand / f).is_dir() for f in spec.folders):
            return cand
    found = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_dir())[:20]
    raise InputError(f"archive does not contain the {spec.name} folders", expected=
                     f"{spec.top_dir}/{{{','.join(spec.folders)}}}", fix=f"found folders {found}; "
                     "check that the archive is the right dataset")


def unpack(archive: Path, name: str, root: Path = DEFAULT_ROOT, *, strict: bool = False,
           overwrite: bool = False) -> dict[str, int]:
    """Safely unpack ``archive`` into ``root/name`` and verify it; returns image counts.

    The archive is checked for unsafe members first, unpacked into a temporary folder
    inside ``root``, verified with :func:`verify_dir`, and only then moved to
    ``root/name``. An existing ``root/name`` is an error unless ``overwrite``.
    """
    spec = get_spec(name)
    archive = Path(archive)
    root = Path(root)
    kind = open_archive_kind(archive)
    final = root / spec.name
    if final.exists() and not overwrite:
        raise InputError(f"{final} already exists", file=final,
                         fix="run `datasets verify` on it, or pass --overwrite to replace it")
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{spec.name}-unpack-", dir=root))
    try:
        log.info("unpacking %s into %s", archive, final)
        try:
            if kind == "zip":
                _safe_extract_zip(archive, tmp)
            else:
                _safe_extract_tar(archive, tmp)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
            raise InputError(f"cannot unpack archive ({exc})", file=archive,
                             fix="delete it and download again") from None
        src = _find_dataset_dir(tmp, spec)
        counts = verify_dir(src, spec, strict=strict)
        if final.exists():
            shutil.rmtree(final)
        os.replace(src, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return counts


# --------------------------------------------------------------------------- verify


def list_images(folder: Path) -> list[Path]:
    """Image files (by suffix, case-insensitive) directly in ``folder``, sorted."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def verify_dir(path: Path, spec: DatasetSpec | str, *, strict: bool = False, decode: bool = True) -> dict[str, int]:
    """Check that ``path`` is a complete copy of ``spec``; returns ``{folder: n_images}``.

    Errors (:class:`InputError`): a missing folder, a folder without images, an image
    that does not decode (each names the file). Counts that differ from the published
    ones are logged as warnings, or raised with ``strict=True``.
    """
    if isinstance(spec, str):
        spec = get_spec(spec)
    path = Path(path)
    if not path.is_dir():
        raise InputError("dataset folder not found", file=path,
                         fix=f"run `python -m stimuli_gen datasets download {spec.name}`")
    counts: dict[str, int] = {}
    mismatches = []
    for folder in spec.folders:
        sub = path / folder
        if not sub.is_dir():
            raise InputError(f"missing folder {folder!r}", file=path, expected=", ".join(spec.folders),
                             fix=f"re-download: `python -m stimuli_gen datasets download {spec.name} --overwrite`")
        images = list_images(sub)
        if not images:
            raise InputError("folder holds no images", file=sub, expected=f"{', '.join(IMAGE_SUFFIXES)} files",
                             fix=f"re-download: `python -m stimuli_gen datasets download {spec.name} --overwrite`")
        if decode:
            for img in images:
                try:
                    with Image.open(img) as im:
                        im.verify()
                except (UnidentifiedImageError, OSError, SyntaxError) as exc:
                    raise InputError(f"image does not decode ({exc})", file=img,
                                     fix="re-download the dataset; the archive is damaged") from None
        counts[folder] = len(images)
        want = spec.counts.get(folder)
        if want is not None and want != len(images):
            mismatches.append(f"{folder}: {len(images)} images, published {want}")
    if mismatches:
        msg = f"{spec.name} at {path} differs from the published archive: " + "; ".join(mismatches)
        if strict:
            raise InputError(msg, file=path, fix="re-download, or drop --strict if you changed the folders on purpose")
        log.warning(msg)
    log.info("%s verified: %s", spec.name, ", ".join(f"{k}={v}" for k, v in counts.items()))
    return counts


def fetch(name: str, root: Path = DEFAULT_ROOT, *, strict: bool = False, overwrite: bool = False,
          keep_archive: bool = False, progress: bool = True) -> dict[str, int]:
    """Download (resumable, trying each mirror), unpack safely and verify dataset ``name``."""
    spec = get_spec(name)
    root = Path(root)
    final = root / spec.name
    if final.exists() and not overwrite:
        log.info("%s already present; verifying", final)
        return verify_dir(final, spec, strict=strict)
    archive = root / spec.archive_name
    if not archive.exists():
        errors = []
        for url in spec.urls:
            try:
                download(url, archive, progress=progress)
                break
            except InputError as exc:
                log.warning("%s", exc.problem)
                errors.append(exc)
        else:
            raise errors[0]
    counts = unpack(archive, name, root, strict=strict, overwrite=overwrite)
    if not keep_archive:
        archive.unlink()
    return counts


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m stimuli_gen datasets``."""
    parser.description = ("Download, unpack and verify the public CycleGAN/Pix2Pix datasets the paper uses "
                          "(" + ", ".join(DATASETS) + ").")
    sub = parser.add_subparsers(dest="datasets_command", required=True, metavar="{list,download,unpack,verify}")
    sub.add_parser("list", help="list the known datasets, their URLs and expected folders")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                       help="folder that holds the datasets, one sub-folder per dataset (default: %(default)s)")
        p.add_argument("--strict", action="store_true",
                       help="treat image counts that differ from the published archive as an error "
                            "(default: a warning)")

    d = sub.add_parser("download", help="download (resumable), unpack safely and verify NAME")
    d.add_argument("name", metavar="NAME", help="dataset name: " + ", ".join(DATASETS))
    common(d)
    d.add_argument("--overwrite", action="store_true", help="replace an existing ROOT/NAME folder")
    d.add_argument("--keep-archive", action="store_true", help="keep the downloaded archive after unpacking")
    u = sub.add_parser("unpack", help="unpack and verify an archive you downloaded by hand")
    u.add_argument("archive", type=Path, metavar="ARCHIVE", help="the .zip or .tar.gz file")
    u.add_argument("--name", required=True, help="which dataset it is: " + ", ".join(DATASETS))
    common(u)
    u.add_argument("--overwrite", action="store_true", help="replace an existing ROOT/NAME folder")
    v = sub.add_parser("verify", help="check an unpacked dataset: folders, image counts, every image decodes")
    v.add_argument("name", metavar="NAME", help="dataset name: " + ", ".join(DATASETS))
    common(v)


def main(args: argparse.Namespace) -> int:
    """Run ``python -m stimuli_gen datasets ...``; returns the exit code."""
    cmd = args.datasets_command
    if cmd == "list":
        for spec in DATASETS.values():
            print(f"{spec.name:24s} {spec.kind:8s} {'/'.join(spec.folders):28s} {spec.note}")
            for url in spec.urls:
                print(f"{'':24s} {url}")
        return 0
    if cmd == "download":
        counts = fetch(args.name, args.root, strict=args.strict, overwrite=args.overwrite,
                       keep_archive=args.keep_archive)
    elif cmd == "unpack":
        counts = unpack(args.archive, args.name, args.root, strict=args.strict, overwrite=args.overwrite)
    elif cmd == "verify":
        counts = verify_dir(Path(args.root) / get_spec(args.name).name, args.name, strict=args.strict)
    else:  # pragma: no cover - argparse restricts the choices
        raise InputError(f"unknown datasets command {cmd!r}")
    print(f"{args.name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """Standalone entry point (the dispatcher in ``stimuli_gen.__main__`` is the usual one)."""
    from stimuli_gen.errors import run_cli

    def _main(a: Sequence[str] | None) -> int:
        parser = argparse.ArgumentParser(prog="python -m stimuli_gen datasets")
        add_arguments(parser)
        return main(parser.parse_args(a))

    return run_cli(_main, argv)
