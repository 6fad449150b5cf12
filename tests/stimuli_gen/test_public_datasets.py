"""Unpack-and-verify and resumable download of the public datasets, on archives built here.

No test touches the internet: downloads go to a throw-away HTTP server on 127.0.0.1
(or to a closed local port for the offline error).
"""

from __future__ import annotations

import argparse
import http.server
import io
import logging
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stimuli_gen import public_datasets as ds
from stimuli_gen.errors import InputError, run_cli

SMALL = {"trainA": 3, "trainB": 2, "testA": 1, "testB": 2}


def _png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _members(top: str, counts: dict[str, int]) -> dict[str, bytes]:
    files = {}
    for folder, n in counts.items():
        for i in range(n):
            files[f"{top}/{folder}/{i:03d}.png"] = _png_bytes(i + 10 * len(folder))
    return files


def _zip(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _targz(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _parse(argv):
    parser = argparse.ArgumentParser()
    ds.add_arguments(parser)
    return parser.parse_args(argv)


def test_unpack_zip_cyclegan_layout_and_counts(tmp_path, caplog):
    archive = _zip(tmp_path / "horse2zebra.zip", _members("horse2zebra", SMALL))
    root = tmp_path / "datasets"
    with caplog.at_level(logging.WARNING):
        counts = ds.unpack(archive, "horse2zebra", root)
    assert counts == SMALL
    for folder, n in SMALL.items():
        assert len(list((root / "horse2zebra" / folder).glob("*.png"))) == n
    # counts differ from the published archive: a warning, not an error
    assert "differs from the published archive" in caplog.text
    # no temporary folders left behind
    assert sorted(p.name for p in root.iterdir()) == ["horse2zebra"]


def test_unpack_strict_rejects_counts_that_differ(tmp_path):
    archive = _zip(tmp_path / "a.zip", _members("horse2zebra", SMALL))
    with pytest.raises(InputError, match="trainA: 3 images, published 1067"):
        ds.unpack(archive, "horse2zebra", tmp_path / "root", strict=True)
    assert not (tmp_path / "root" / "horse2zebra").exists()


def test_unpack_targz_pix2pix_layout(tmp_path):
    files = _members("facades", {"train": 2, "val": 1, "test": 1})
    archive = _targz(tmp_path / "facades.tar.gz", files)
    counts = ds.unpack(archive, "pix2pix_facades", tmp_path / "root")
    assert counts == {"train": 2, "val": 1, "test": 1}
    assert (tmp_path / "root" / "pix2pix_facades" / "val" / "000.png").is_file()


@pytest.mark.parametrize("bad", ["../evil.png", "/abs/evil.png", "horse2zebra/trainA/../../../evil.png"])
@pytest.mark.parametrize("fmt", ["zip", "tar"])
def test_path_traversal_is_rejected_before_writing(tmp_path, bad, fmt):
    files = _members("horse2zebra", SMALL)
    files[bad] = b"x"
    builder = _zip if fmt == "zip" else _targz
    archive = builder(tmp_path / f"evil.{fmt}", files)
    root = tmp_path / "a" / "b" / "root"
    with pytest.raises(InputError, match="unsafe path"):
        ds.unpack(archive, "horse2zebra", root)
    assert not list(tmp_path.rglob("evil.png"))
    assert not (root / "horse2zebra").exists()


def test_symlink_in_tar_is_rejected(tmp_path):
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, data in _members("horse2zebra", SMALL).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("horse2zebra/trainA/passwd.png")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tf.addfile(link)
    with pytest.raises(InputError, match="link or special file"):
        ds.unpack(archive, "horse2zebra", tmp_path / "root")


def test_symlink_in_zip_is_rejected(tmp_path):
    import stat

    archive = _zip(tmp_path / "link.zip", _members("horse2zebra", SMALL))
    with zipfile.ZipFile(archive, "a") as zf:
        info = zipfile.ZipInfo("horse2zebra/trainA/passwd.png")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(InputError, match="link or special file"):
        ds.unpack(archive, "horse2zebra", tmp_path / "root")


def test_missing_folder_and_unreadable_image_are_named(tmp_path):
    files = _members("horse2zebra", SMALL)
    no_testb = {k: v for k, v in files.items() if "/testB/" not in k}
    with pytest.raises(InputError, match="horse2zebra folders"):
        ds.unpack(_zip(tmp_path / "a.zip", no_testb), "horse2zebra", tmp_path / "r1")
    files["horse2zebra/testA/broken.png"] = b"not a png at all"
    with pytest.raises(InputError) as err:
        ds.unpack(_zip(tmp_path / "b.zip", files), "horse2zebra", tmp_path / "r2")
    assert "broken.png" in str(err.value) and "does not decode" in str(err.value)


def test_not_an_archive_and_existing_target(tmp_path):
    junk = tmp_path / "x.zip"
    junk.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match="not a zip or tar"):
        ds.unpack(junk, "facades", tmp_path / "root")
    archive = _zip(tmp_path / "f.zip", _members("facades", SMALL))
    ds.unpack(archive, "facades", tmp_path / "root")
    with pytest.raises(InputError, match="already exists"):
        ds.unpack(archive, "facades", tmp_path / "root")
    assert ds.unpack(archive, "facades", tmp_path / "root", overwrite=True) == SMALL


def test_unknown_dataset_name_lists_the_known_ones():
    with pytest.raises(InputError) as err:
        ds.get_spec("monet2picasso")
    assert "monet2photo" in str(err.value)


def test_urls_follow_the_reference_download_scripts():
    assert ds.DATASETS["monet2photo"].urls[0] == "https://efrosgans.eecs.berkeley.edu/cyclegan/datasets/monet2photo.zip"
    assert ds.DATASETS["pix2pix_facades"].urls[0] == "https://efrosgans.eecs.berkeley.edu/pix2pix/datasets/facades.tar.gz"
    assert set(ds.DATASETS) >= {"monet2photo", "horse2zebra", "summer2winter_yosemite", "facades"}


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    payload = b""
    cut_after: int | None = None  # first full response is cut here (simulated connection drop)
    requests: list = []

    def do_GET(self):  # noqa: N802
        rng = self.headers.get("Range")
        type(self).requests.append(rng)
        data = self.payload
        if rng:
            start = int(rng.split("=")[1].split("-")[0])
            body = data[start:]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not rng and type(self).cut_after is not None:
            self.wfile.write(body[: type(self).cut_after])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def local_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_download_resumes_from_part_file(tmp_path, local_server):
    payload = _zip(tmp_path / "src.zip", _members("horse2zebra", SMALL)).read_bytes()
    _RangeHandler.payload = payload
    _RangeHandler.cut_after = len(payload) // 3
    _RangeHandler.requests = []
    url = f"http://127.0.0.1:{local_server.server_port}/horse2zebra.zip"
    dest = tmp_path / "dl" / "horse2zebra.zip"
    with pytest.raises(InputError, match="rerun the same command"):
        ds.download(url, dest, progress=False)
    part = dest.with_name(dest.name + ".part")
    assert not dest.exists() and 0 < part.stat().st_size < len(payload)
    got = part.stat().st_size
    ds.download(url, dest, progress=False)
    assert dest.read_bytes() == payload and not part.exists()
    assert _RangeHandler.requests[-1] == f"bytes={got}-"
    assert ds.unpack(dest, "horse2zebra", tmp_path / "root") == SMALL


def test_offline_download_is_a_clear_error(tmp_path):
    # a closed local port stands in for "no network"
    with pytest.raises(InputError) as err:
        ds.download("http://127.0.0.1:9/monet2photo.zip", tmp_path / "m.zip", timeout=5, progress=False)
    text = str(err.value)
    assert "cannot reach http://127.0.0.1:9/monet2photo.zip" in text and "datasets unpack" in text


def test_cli_unpack_verify_and_exit_code_2(tmp_path, capsys):
    archive = _zip(tmp_path / "s.zip", _members("summer2winter_yosemite", SMALL))
    root = str(tmp_path / "root")
    assert ds.main(_parse(["unpack", str(archive), "--name", "summer2winter_yosemite", "--root", root])) == 0
    assert ds.main(_parse(["verify", "summer2winter_yosemite", "--root", root])) == 0
    assert "trainA 3" in capsys.readouterr().out
    code = run_cli(lambda a: ds.main(_parse(a)), ["verify", "monet2photo", "--root", root])
    assert code == 2
    err = capsys.readouterr().err
    assert "dataset folder not found" in err and "Traceback" not in err
