"""stimuli_gen.generate: the 18 stimuli, the manifest contract (docs/formats.md sec. 1),
artworks.toml validation, missing photos, the labelled demo stand-ins (no text in the
images), saliency maps, low-level matching and the grid filter."""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stimuli_gen import generate as gen
from stimuli_gen.errors import InputError, run_cli

REPO = Path(__file__).resolve().parents[2]
ARTWORKS = REPO / "data" / "artworks"
SIZE = 32


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Two tiny real checkpoints written with the project's own save_checkpoint."""
    from stimuli_gen.checkpoint import save_checkpoint
    from stimuli_gen.config import config_from_dict
    from stimuli_gen.networks import build_generators

    folder = tmp_path_factory.mktemp("ckpt")
    torch.manual_seed(0)
    ours_cfg = config_from_dict({"model": {"kind": "cyclegan_asym", "ngf": 4, "n_res_blocks": 1, "n_dense_blocks": 1,
                                           "dense_layers": 1, "growth_per_ngf": 1},
                                 "train": {"load_size": SIZE, "crop_size": SIZE}})
    p2p_cfg = config_from_dict({"model": {"kind": "pix2pix", "ngf": 4, "unet_downs": 5},
                                "train": {"load_size": SIZE, "crop_size": SIZE}})
    ours = save_checkpoint(folder / "tiny-ours.pt", ours_cfg, build_generators(ours_cfg.model), checkpoint_id="tiny-ours")
    p2p = save_checkpoint(folder / "tiny-p2p.pt", p2p_cfg, build_generators(p2p_cfg.model), checkpoint_id="tiny-p2p")
    return ours, p2p


def _parse(argv):
    parser = argparse.ArgumentParser()
    gen.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def _lab_folder(tmp_path: Path, skip: str | None = None) -> Path:
    """A copy of data/artworks with a (random) photo for every artwork except ``skip``."""
    folder = tmp_path / "artworks"
    folder.mkdir()
    shutil.copy(ARTWORKS / "artworks.toml", folder / "artworks.toml")
    rng = np.random.default_rng(1)
    for a in gen.load_artworks(folder):
        if a.slug == skip:
            continue
        p = folder / a.photo
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(p, format="JPEG")
    return folder


def _read_manifest(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == gen.MANIFEST_COLUMNS
        return list(reader)


def _check_manifest(out: Path) -> list[dict[str, str]]:
    rows = _read_manifest(out / "manifest.csv")
    assert len(rows) == 18
    assert len({r["stimulus_id"] for r in rows}) == 18
    assert sorted(p.name for p in out.glob("*.png")) == sorted(r["file"] for r in rows)
    for r in rows:
        assert r["stimulus_id"] == f"{r['artwork']}_{r['method']}"
        assert r["method"] in ("ours", "pix2pix") and r["category"] in ("painting", "sculpture", "craft")
        data = (out / r["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == r["sha256"]
        with Image.open(out / r["file"]) as im:
            assert im.size == (int(r["width_px"]), int(r["height_px"]))
            assert im.mode == "RGB"
            rgb = np.asarray(im)
        with Image.open(out / r["saliency_file"]) as sal:  # the contract of docs/formats.md sec. 1
            assert sal.mode == "L" and sal.size == (int(r["width_px"]), int(r["height_px"]))
            assert np.asarray(sal).max() == 255
        assert abs(float(r["mean_luminance"]) - (rgb.astype(float) @ [0.299, 0.587, 0.114]).mean() / 255) < 1e-4
        assert r["label"]
    assert [r["artwork"] for r in rows[::2]] == list(gen.PAPER_SLUGS)
    cats = {r["artwork"]: r["category"] for r in rows}
    assert cats["david"] == "sculpture" and cats["tang_sancai"] == "craft" and cats["night_watch"] == "painting"
    return rows


def test_shipped_artworks_toml_lists_the_papers_nine():
    arts = gen.load_artworks(ARTWORKS)
    assert [a.slug for a in arts] == list(gen.PAPER_SLUGS)
    by = {a.slug: a for a in arts}
    assert by["last_supper"].paper_name == "The last dinner" and by["last_supper"].title == "The Last Supper"
    assert by["night_watch"].paper_name == "Night tour" and by["night_watch"].title == "The Night Watch"
    assert by["thinker"].paper_name == "Thinkers"
    assert [a.category for a in arts] == ["painting"] * 3 + ["sculpture"] * 3 + ["craft"] * 3
    assert all("lab must fill" in a.photo_source and "lab must fill" in a.photo_licence for a in arts)
    assert len({a.demo_image for a in arts}) == 9


def test_generate_from_photos_writes_18_images_and_a_valid_manifest(tmp_path, checkpoints):
    folder = _lab_folder(tmp_path)
    out = tmp_path / "stimuli"
    ours, p2p = checkpoints
    assert gen.main(_parse(["--artworks", folder, "--ours", ours, "--pix2pix", p2p, "--out", out,
                            "--size", SIZE])) == 0
    rows = _check_manifest(out)
    # the reader on the other side of the contract (study) accepts it, hashes included
    from study.manifest import read_manifest

    assert len(read_manifest(out / "manifest.csv", verify=True)) == 18
    assert {r["checkpoint_id"] for r in rows if r["method"] == "ours"} == {"tiny-ours"}
    assert {r["checkpoint_id"] for r in rows if r["method"] == "pix2pix"} == {"tiny-p2p"}
    assert all((int(r["width_px"]), int(r["height_px"])) == (SIZE, 21) for r in rows)  # 60 x 40 photos, padded
    # the two methods really differ
    a = np.asarray(Image.open(out / "david_ours.png"))
    b = np.asarray(Image.open(out / "david_pix2pix.png"))
    assert not np.array_equal(a, b)


def test_demo_mode_labels_in_the_manifest_not_the_image(tmp_path, checkpoints):
    out = tmp_path / "demo"
    ours, p2p = checkpoints
    code = run_cli(lambda argv: gen.main(_parse(argv)),
                   ["--artworks", str(ARTWORKS), "--ours", str(ours), "--pix2pix", str(p2p), "--out", str(out),
                    "--demo", "--size", "128"])
    assert code == 0
    rows = _check_manifest(out)
    assert all(r["checkpoint_id"].startswith("demo-") for r in rows)
    assert {r["label"] for r in rows if r["artwork"] == "david"} == {"DEMO STAND-IN - not David"}
    # pad is the default: the stand-ins keep their aspect ratio (the Mona Lisa stand-in is portrait)
    mona = next(r for r in rows if r["artwork"] == "virgin_of_the_rocks")
    assert int(mona["height_px"]) == 128 and int(mona["width_px"]) < 100


def test_missing_photo_stops_with_exit_2_and_names_the_file(tmp_path, checkpoints, capsys):
    folder = _lab_folder(tmp_path, skip="venus_de_milo")
    out = tmp_path / "stimuli"
    ours, p2p = checkpoints
    code = run_cli(lambda argv: gen.main(_parse(argv)),
                   ["--artworks", str(folder), "--ours", str(ours), "--pix2pix", str(p2p), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert str(folder / "photos" / "venus_de_milo.jpg") in err
    assert "Venus de Milo" in err and "--demo" in err and "Traceback" not in err
    assert not out.exists() or not list(out.iterdir())  # nothing generated, no placeholder


def test_unreadable_photo_is_named(tmp_path, checkpoints):
    folder = _lab_folder(tmp_path)
    (folder / "photos" / "david.jpg").write_bytes(b"not an image")
    ours, p2p = checkpoints
    with pytest.raises(InputError) as err:
        gen.main(_parse(["--artworks", folder, "--ours", ours, "--pix2pix", p2p, "--out", tmp_path / "o",
                         "--size", SIZE]))
    assert "david.jpg" in str(err.value) and "cannot be read" in str(err.value)
    assert not (tmp_path / "o").exists()  # nothing half-written


def test_swapped_checkpoints_and_unsuitable_size_are_input_errors(tmp_path, checkpoints):
    ours, p2p = checkpoints
    with pytest.raises(InputError, match="swapped"):
        gen.main(_parse(["--ours", p2p, "--pix2pix", ours, "--out", tmp_path / "o", "--demo"]))
    with pytest.raises(InputError, match="multiple of 32"):
        gen.main(_parse(["--ours", ours, "--pix2pix", p2p, "--out", tmp_path / "o", "--demo", "--size", "48"]))


class _Identity(torch.nn.Module):
    def forward(self, x):
        return x


class _Invert(torch.nn.Module):
    def forward(self, x):
        return -x


def test_injected_generators_crop_and_pad(tmp_path):
    folder = tmp_path / "a"
    (folder / "photos").mkdir(parents=True)
    (folder / "artworks.toml").write_text(
        '[[artwork]]\nslug = "wide"\ncategory = "painting"\npaper_name = "W"\ntitle = "Wide"\n'
        'photo = "photos/wide.png"\nphoto_source = "own"\nphoto_licence = "CC0"\n', encoding="utf-8")
    photo = np.zeros((30, 90, 3), np.uint8)
    photo[:, :45] = 255  # left half white, right half black
    Image.fromarray(photo).save(folder / "photos" / "wide.png")
    arts = gen.load_artworks(folder)
    methods = {"ours": gen.Method(_Identity(), "id"), "pix2pix": gen.Method(_Invert(), "inv")}
    rows = gen.generate(arts, methods, tmp_path / "crop", artworks_dir=folder, size=24, fit="crop", degrid=0,
                        match="none", progress=False)
    ours = np.asarray(Image.open(tmp_path / "crop" / "wide_ours.png")).astype(int)
    inv = np.asarray(Image.open(tmp_path / "crop" / "wide_pix2pix.png")).astype(int)
    assert ours.shape == (24, 24, 3) and np.abs(ours + inv - 255).max() <= 1
    assert ours[:, :8].mean() > 250 and ours[:, -8:].mean() < 5  # centre crop keeps the edge in the middle
    rows = gen.generate(arts, methods, tmp_path / "pad", artworks_dir=folder, size=24, degrid=0, match="none",
                        progress=False)
    assert (rows[0]["width_px"], rows[0]["height_px"]) == (24, 8)  # aspect ratio 3:1 kept
    padded = np.asarray(Image.open(tmp_path / "pad" / "wide_ours.png")).astype(int)
    assert padded[:, :10].mean() > 250 and padded[:, -10:].mean() < 5


TOML_OK = ('version = 1\n\n[[artwork]]\nslug = "david"\ncategory = "sculpture"\npaper_name = "David"\n'
           'title = "David"\nphoto = "photos/david.jpg"\nphoto_source = "unknown — lab must fill"\n'
           'photo_licence = "unknown — lab must fill"\ndemo_image = "camera"\n')


@pytest.mark.parametrize("edit, message, line", [
    (lambda t: t.replace('category = "sculpture"', 'category = "statue"'), "category 'statue' is not allowed", 5),
    (lambda t: t.replace('slug = "david"', 'slug = "David!"'), "is not a valid slug", 4),
    (lambda t: t.replace('slug = "david"', 'slug = "david\\n"'), "is not a valid slug", 4),  # "$" matched before \n
    (lambda t: t.replace('photo_licence = "unknown — lab must fill"\n', ""), "missing key(s) ['photo_licence']", 3),
    (lambda t: t.replace('demo_image = "camera"', 'demo_imag = "camera"'), "unknown key(s) ['demo_imag']", 11),
    (lambda t: t.replace('demo_image = "camera"', 'demo_image = "lena"'), "not an image bundled", 11),
    (lambda t: t.replace('title = "David"', "title = 3"), "title must be a string", 7),
    (lambda t: t.replace('title = "David"', 'title = ""'), "title is empty", 7),
    (lambda t: t.replace('photo = "photos/david.jpg"', 'photo = "../../etc/david.jpg"'), "must stay inside", 8),
    (lambda t: t + t.split("\n\n", 1)[1], "listed twice", 13),
    (lambda t: t.replace('title = "David"', 'title = "David'), "invalid TOML", 7),
    (lambda t: "version = 2\n" + t.split("\n", 1)[1], "unsupported version", None),
    (lambda t: "version = 1\n", "no artworks listed", None),
])
def test_artworks_toml_errors_are_precise(tmp_path, edit, message, line):
    path = tmp_path / "artworks.toml"
    path.write_text(edit(TOML_OK), encoding="utf-8")
    with pytest.raises(InputError) as err:
        gen.load_artworks(tmp_path)
    assert message in str(err.value)
    assert str(path) in str(err.value)
    assert err.value.line == line


def test_valid_small_toml_loads_and_missing_file_is_an_error(tmp_path):
    (tmp_path / "artworks.toml").write_text(TOML_OK, encoding="utf-8")
    (a,) = gen.load_artworks(tmp_path / "artworks.toml")
    assert (a.slug, a.category, a.demo_image) == ("david", "sculpture", "camera")
    with pytest.raises(InputError, match="artworks list not found"):
        gen.load_artworks(tmp_path / "nowhere")


def _pair_folder(tmp_path: Path, size: int = 32) -> tuple[list, Path]:
    folder = tmp_path / "a"
    (folder / "photos").mkdir(parents=True)
    (folder / "artworks.toml").write_text(
        '[[artwork]]\nslug = "sq"\ncategory = "craft"\npaper_name = "S"\ntitle = "Square"\n'
        'photo = "photos/sq.png"\nphoto_source = "own"\nphoto_licence = "CC0"\n', encoding="utf-8")
    from scipy import ndimage

    rng = np.random.default_rng(3)
    smooth = ndimage.gaussian_filter(rng.standard_normal((size, size, 3)), (3, 3, 0)) * 400 + 128
    Image.fromarray(smooth.clip(0, 255).astype(np.uint8)).save(folder / "photos" / "sq.png")
    return gen.load_artworks(folder), folder


class _DarkFlat(torch.nn.Module):
    def forward(self, x):
        return 0.3 * x - 0.4


def test_match_pair_equalises_mean_luminance_and_rms_contrast(tmp_path):
    arts, folder = _pair_folder(tmp_path)
    methods = {"ours": gen.Method(_Identity(), "id"), "pix2pix": gen.Method(_DarkFlat(), "dark")}
    raw = gen.generate(arts, methods, tmp_path / "raw", artworks_dir=folder, size=32, degrid=0, match="none",
                       progress=False)
    assert abs(float(raw[0]["mean_luminance"]) - float(raw[1]["mean_luminance"])) > 0.1
    rows = gen.generate(arts, methods, tmp_path / "m", artworks_dir=folder, size=32, degrid=0, progress=False)
    for key in ("mean_luminance", "rms_contrast"):
        target = np.mean([float(r[key]) for r in raw])
        assert [float(r[key]) for r in rows] == pytest.approx([target, target], abs=0.003)


class _Grid(torch.nn.Module):
    """Identity plus a 4-px dot grid, the artefact of two stride-2 transposed convolutions."""

    def forward(self, x):
        g = torch.zeros_like(x)
        g[..., ::4, ::4] = 0.5
        return (x + g).clamp(-1, 1)


def test_degrid_removes_a_dot_grid_and_keeps_the_image(tmp_path):
    from stimuli_gen.stimulus_props import grid_peak_ratio

    arts, folder = _pair_folder(tmp_path, 128)
    methods = {"ours": gen.Method(_Grid(), "grid"), "pix2pix": gen.Method(_Identity(), "id")}
    off = gen.generate(arts, methods, tmp_path / "off", artworks_dir=folder, size=128, degrid=0, match="none",
                       progress=False)
    on = gen.generate(arts, methods, tmp_path / "on", artworks_dir=folder, size=128, match="none", progress=False)
    assert off[0]["sha256"] != on[0]["sha256"]
    grid_off = np.asarray(Image.open(tmp_path / "off" / "sq_ours.png"))
    grid_on = np.asarray(Image.open(tmp_path / "on" / "sq_ours.png"))
    plain = np.asarray(Image.open(tmp_path / "off" / "sq_pix2pix.png"))
    assert grid_peak_ratio(grid_off) > 5 * grid_peak_ratio(grid_on)
    def dev(img):  # the grid's mean (DC) stays: compare the images around their means
        return np.abs((img - img.mean()) - (plain - plain.mean())).mean()

    assert dev(grid_on.astype(float)) < dev(grid_off.astype(float)) / 2


def test_demo_image_may_be_a_file_and_a_missing_one_is_named(tmp_path):
    (tmp_path / "demo").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "demo" / "x.png")
    (tmp_path / "artworks.toml").write_text(TOML_OK.replace('"camera"', '"demo/x.png"'), encoding="utf-8")
    (a,) = gen.load_artworks(tmp_path)
    assert gen.demo_photo(a.demo_image, tmp_path).size == (8, 8)
    (tmp_path / "artworks.toml").write_text(TOML_OK.replace('"camera"', '"demo/gone.png"'), encoding="utf-8")
    (a,) = gen.load_artworks(tmp_path)  # only --demo needs the file
    with pytest.raises(InputError, match="gone.png"):
        gen.demo_photo(a.demo_image, tmp_path)
    (tmp_path / "artworks.toml").write_text(TOML_OK.replace('"camera"', '"../x.png"'), encoding="utf-8")
    with pytest.raises(InputError, match="must stay inside"):
        gen.load_artworks(tmp_path)


def test_shipped_demo_stimuli_match_their_manifest():
    """data/stimuli (committed) is a complete, labelled demo set the study can read."""
    out = REPO / "data" / "stimuli"
    rows = _check_manifest(out)
    assert all(r["checkpoint_id"].startswith("demo-") for r in rows)
    assert all(r["label"].startswith("DEMO STAND-IN - not ") for r in rows)
    assert "DEMO STAND-IN" in (out / "README.md").read_text(encoding="utf-8")
    for ours, p2p in zip(rows[::2], rows[1::2]):  # matched low-level properties per artwork
        assert (ours["width_px"], ours["height_px"]) == (p2p["width_px"], p2p["height_px"])
        assert abs(float(ours["mean_luminance"]) - float(p2p["mean_luminance"])) < 0.003
        assert abs(float(ours["rms_contrast"]) - float(p2p["rms_contrast"])) < 0.003
