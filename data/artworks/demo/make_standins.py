"""Rebuild the demo stand-in photos of this folder from Debian packages (run as root on Debian 12).

    python data/artworks/demo/make_standins.py [--work /tmp/standins] [--size 384]

Each stand-in is a freely licensed picture of a subject of the artwork's category (a
painting, a sculpture, a vessel), not the artwork itself; data/artworks/demo/README.md
lists every file with its package, path in the package and licence. The script
downloads the packages with ``apt-get download``, unpacks the needed members with
``dpkg-deb``, reads GCompris' Qt resource files (``.rcc``, a documented binary format:
Qt's ``rcc`` tool, tree of 22-byte nodes, zlib-compressed entries), reassembles the
GCompris "paintings" puzzles from their pieces (each board's QML gives the piece centres
as fractions of the 702 x 515 board), flattens transparency on white, and writes each
stand-in as a JPEG (quality 92) whose longer side is ``--size`` pixels (Lanczos).
"""

from __future__ import annotations

import argparse
import re
import struct
import subprocess
import zlib
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
PACKAGES = ("opencv-doc", "openclipart-png", "gcompris-qt-data")
RCC_DIR = "./usr/share/gcompris-qt/rcc/"
# stand-in file -> (package, source); source "rcc:NAME.rcc:PATH" is a file inside a Qt resource,
# "puzzle:TITLE" a GCompris paintings board reassembled from its pieces
STANDINS = {
    "harvesters.jpg": ("gcompris-qt-data", "puzzle:The Harvesters"),
    "mona_lisa.jpg": ("gcompris-qt-data", "puzzle:Mona Lisa"),
    "starry_night.jpg": ("opencv-doc", "./usr/share/doc/opencv-doc/examples/data/starry_night.jpg"),
    "pieta.jpg": ("gcompris-qt-data", "puzzle:Pieta"),
    "christ_the_redeemer.jpg": ("gcompris-qt-data",
                                "rcc:categorization.rcc:/gcompris/src/activities/categorization/resource/images/"
                                "monuments/christTheRedeemer.webp"),
    "statue_of_liberty.jpg": ("gcompris-qt-data",
                              "rcc:categorization.rcc:/gcompris/src/activities/categorization/resource/images/"
                              "monuments/statueOfLiberty.webp"),
    "teapot.jpg": ("openclipart-png", "./usr/share/openclipart/png/food/beverages/teapot_ganson.png"),
    "cup_of_tea.jpg": ("gcompris-qt-data",
                       "rcc:categorization.rcc:/gcompris/src/activities/categorization/resource/images/others/cup.webp"),
}


def read_rcc(path: Path) -> dict[str, bytes]:
    """All files of a Qt resource file (format versions 1-3), keyed by their resource path."""
    b = path.read_bytes()
    if b[:4] != b"qres":
        raise ValueError(f"{path} is not a Qt resource file")
    version, tree, data, names = struct.unpack(">iiii", b[4:20])
    node = 14 if version == 1 else 22

    def name(off: int) -> str:
        n = struct.unpack(">H", b[names + off:names + off + 2])[0]
        return b[names + off + 6:names + off + 6 + 2 * n].decode("utf-16-be")

    out: dict[str, bytes] = {}

    def walk(i: int, prefix: str) -> None:
        p = tree + i * node
        noff, flags = struct.unpack(">iH", b[p:p + 6])
        nm = name(noff) if i else ""
        if flags & 2:
            count, first = struct.unpack(">ii", b[p + 6:p + 14])
            for c in range(count):
                walk(first + c, f"{prefix}/{nm}" if nm else prefix)
            return
        doff = struct.unpack(">i", b[p + 10:p + 14])[0]
        size = struct.unpack(">I", b[data + doff:data + doff + 4])[0]
        raw = b[data + doff + 4:data + doff + 4 + size]
        out[f"{prefix}/{nm}"] = zlib.decompress(raw[4:]) if flags & 1 else raw

    walk(0, "")
    return out


def puzzle(files: dict[str, bytes], title: str) -> Image.Image:
    """Reassemble the GCompris paintings board whose instruction contains ``title``."""
    import io

    for path, raw in files.items():
        if not re.search(r"/board/board\d+_0\.qml$", path):
            continue
        qml = raw.decode("utf-8")
        if title not in qml:
            continue
        bw = int(re.search(r'"width": (\d+)', qml).group(1))
        bh = int(re.search(r'"height": (\d+)', qml).group(1))
        pieces = re.findall(r'"pixmapfile" : "image/([^"]+\.webp)",\s*"x" : "([\d.]+)",\s*"y" : "([\d.]+)"', qml)
        base = path.rsplit("/board/", 1)[0] + "/image/"
        canvas = Image.new("RGBA", (bw + 400, bh + 400), (255, 255, 255, 0))
        boxes = []
        for fname, x, y in pieces:
            im = Image.open(io.BytesIO(files[base + fname])).convert("RGBA")
            left = round(float(x) * bw - im.width / 2) + 200
            top = round(float(y) * bh - im.height / 2) + 200
            canvas.alpha_composite(im, (left, top))
            boxes.append((left, top, left + im.width, top + im.height))
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))
        return canvas.crop(box)
    raise KeyError(f"no paintings board titled {title!r}")


def flatten(im: Image.Image) -> Image.Image:
    """RGB on a white background."""
    im = im.convert("RGBA")
    bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
    bg.alpha_composite(im)
    return bg.convert("RGB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/standins"), help="download/unpack folder")
    ap.add_argument("--size", type=int, default=384, help="longer side of each stand-in in px (default 384)")
    ap.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    debs = {}
    for pkg in PACKAGES:
        found = sorted(a.work.glob(f"{pkg}_*.deb"))
        if not found:
            subprocess.run(["apt-get", "download", pkg], cwd=a.work, check=True)
            found = sorted(a.work.glob(f"{pkg}_*.deb"))
        debs[pkg] = found[-1]
    rcc_cache: dict[str, dict[str, bytes]] = {}
    for out_name, (pkg, src) in STANDINS.items():
        root = a.work / pkg
        root.mkdir(exist_ok=True)

        def member(path: str) -> Path:
            target = root / path
            if not target.exists():
                tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(debs[pkg])], check=True, capture_output=True)
                subprocess.run(["tar", "-x", "-C", str(root), path], input=tar.stdout, check=True)
            return target

        if src.startswith("puzzle:"):
            files = rcc_cache.setdefault("paintings.rcc", read_rcc(member(RCC_DIR + "paintings.rcc")))
            im = puzzle(files, src[len("puzzle:"):])
        elif src.startswith("rcc:"):
            _, rcc, inner = src.split(":", 2)
            files = rcc_cache.setdefault(rcc, read_rcc(member(RCC_DIR + rcc)))
            import io
            im = Image.open(io.BytesIO(files[inner]))
        else:
            im = Image.open(member(src))
        im = flatten(im)
        scale = a.size / max(im.size)
        if scale < 1:
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.Resampling.LANCZOS)
        im.save(a.out / out_name, quality=92, optimize=True)
        print(f"{out_name}: {im.width} x {im.height} from {pkg} {src}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
