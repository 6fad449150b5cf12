import pytest

from study.errors import StudyError
from study.manifest import read_manifest
from study.session import run_session


def test_reads_and_verifies(manifest):
    stimuli = read_manifest(manifest)
    assert len(stimuli) == 6 and {s.method for s in stimuli} == {"ours", "pix2pix"}
    assert all(s.path.is_file() for s in stimuli)


def test_changed_image_is_refused_with_line_and_column(manifest):
    img = manifest.parent / "night_watch_pix2pix.png"
    img.write_bytes(img.read_bytes() + b"\0")          # one byte appended: the hash changes
    with pytest.raises(StudyError) as e:
        read_manifest(manifest)
    assert e.value.column == "sha256" and e.value.line == 5 and "night_watch_pix2pix.png" in str(e.value)


def test_session_refuses_to_start_on_hash_mismatch(manifest, fast_config, tmp_path):
    (manifest.parent / "david_ours.png").write_bytes(b"not the image")
    with pytest.raises(StudyError, match="changed"):
        run_session(fast_config, "sub-01", data_root=tmp_path / "raw", manifest=manifest)
    assert not (tmp_path / "raw").exists()              # nothing written


def test_missing_version_and_bad_column(manifest):
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:-1]) + "\n")  # drop tang_sancai_pix2pix
    with pytest.raises(StudyError, match="tang_sancai"):
        read_manifest(manifest)
    manifest.write_text(lines[0].replace("sha256", "hash") + "\n" + "\n".join(lines[1:]) + "\n")
    with pytest.raises(StudyError, match="lacks columns"):
        read_manifest(manifest)
