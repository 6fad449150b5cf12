"""stimuli_gen.evaluate on synthetic image domains built here."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from stimuli_gen import evaluate as ev
from stimuli_gen.errors import InputError, run_cli

N = 24
S = 32


def _domain_a(rng) -> np.ndarray:
    """Warm, two-level images: left half one colour, right half another (grey entropy 1 bit)."""
    img = np.empty((S, S, 3), np.uint8)
    img[:, : S // 2] = [200 + rng.integers(0, 40), 60 + rng.integers(0, 30), 20]
    img[:, S // 2 :] = [120 + rng.integers(0, 20), 20, 10 + rng.integers(0, 10)]
    return img


def _domain_b(rng) -> np.ndarray:
    """Cool images with four horizontal bands of distinct grey levels (entropy 2 bits)."""
    img = np.empty((S, S, 3), np.uint8)
    base = rng.integers(0, 10)
    for k in range(4):
        img[k * S // 4 : (k + 1) * S // 4] = [10 + base, 40 * k + 20, 120 + 40 * k]
    return img


def _write(folder: Path, images, names=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / (names[i] if names else f"{i:03d}.png"))
    return folder


@pytest.fixture()
def domains(tmp_path):
    rng = np.random.default_rng(0)
    a = [_domain_a(rng) for _ in range(N)]
    b = [_domain_b(rng) for _ in range(N)]
    return _write(tmp_path / "ds" / "trainA", a), _write(tmp_path / "ds" / "trainB", b), a, b


def test_classifier_separates_two_clearly_different_domains():
    rng = np.random.default_rng(3)
    fa = np.stack([ev.classifier_features(_domain_a(rng), 8) for _ in range(40)])
    fb = np.stack([ev.classifier_features(_domain_b(rng), 8) for _ in range(40)])
    clf = ev.DomainClassifier().fit(fa[:30], fb[:30])
    assert clf.accuracy(fa[30:], 0) == 1.0
    assert clf.accuracy(fb[30:], 1) == 1.0
    # and it is not trivially constant: B-like inputs are "not A"
    assert clf.accuracy(fb[30:], 0) == 0.0


def test_classifier_is_at_chance_on_indistinguishable_domains():
    rng = np.random.default_rng(4)
    fa = np.stack([ev.classifier_features(rng.integers(0, 255, (S, S, 3), dtype=np.uint8), 8) for _ in range(80)])
    fb = np.stack([ev.classifier_features(rng.integers(0, 255, (S, S, 3), dtype=np.uint8), 8) for _ in range(80)])
    clf = ev.DomainClassifier().fit(fa[:60], fb[:60])
    held = (np.sum(clf.predict(fa[60:]) == 0) + np.sum(clf.predict(fb[60:]) == 1)) / 40
    assert 0.2 <= held <= 0.8


def test_evaluate_tables_end_to_end(tmp_path, domains):
    real_a, real_b, a, b = domains
    rng = np.random.default_rng(9)
    good = [_domain_b(rng) for _ in range(10)]  # looks like the target domain B
    bad = [_domain_a(rng) for _ in range(10)]   # still looks like A
    names_fake = [f"{i}_fake_B.png" for i in range(10)]
    gen_good = _write(tmp_path / "good", good, names_fake)
    gen_bad = _write(tmp_path / "bad", bad, names_fake)
    ref = _write(tmp_path / "ref", good, [f"{i}_real_B.png" for i in range(10)])
    out = tmp_path / "out"
    tables = ev.evaluate(real_a, real_b, [("ours", gen_good), ("pix2pix", gen_bad)], out=out, reference=ref,
                         size=0, feat_size=8, progress=False)
    by = {t.name: t for t in tables}
    acc = {r[0]: r[1] for r in by["classification_accuracy"].rows}
    assert acc == {"Real image": 1.0, "ours": 1.0, "pix2pix": 0.0}
    assert by["classification_accuracy"].columns == ["Data set", "ds", "n_images"]
    q = {r[0]: r[1:] for r in by["image_quality"].rows}
    assert q["ours"][0] == pytest.approx(1.0) and q["ours"][1] == pytest.approx(1.0) and q["ours"][2] == 10
    assert q["pix2pix"][0] < 0.9 and q["pix2pix"][1] < 0.99
    ent = {r[0]: r[1] for r in by["domain_entropy"].rows}
    assert ent["Real A"] == pytest.approx(1.0) and ent["Real B"] == pytest.approx(2.0)
    assert ent["ratio H_A / H_B"] == pytest.approx(0.5)
    assert ent["entropy ratio (richer / poorer)"] == pytest.approx(2.0)
    # files: CSV in the paper's layout, Markdown, combined report
    with open(out / "image_quality.csv", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["Algorithm", "SSIM", "COSIN", "n_pairs"] and rows[1][0] == "ours"
    assert float(rows[1][1]) == pytest.approx(1.0)
    md = (out / "classification_accuracy.md").read_text()
    assert "| Data set | ds | n_images |" in md and "| Real image | 1.000 |" in md
    report = (out / "evaluation.md").read_text()
    for name in ("classification_accuracy", "image_quality", "sharpness", "domain_entropy"):
        assert (out / f"{name}.csv").is_file()
    assert "Table 2" in report and "SSIM" in report


def test_sharpness_table_ranks_sharp_above_blurred(tmp_path, domains):
    real_a, real_b, a, b = domains
    rng = np.random.default_rng(2)
    sharp = [rng.integers(0, 255, (S, S, 3), dtype=np.uint8) for _ in range(5)]
    blurred = [ndimage.gaussian_filter(x.astype(float), (1.5, 1.5, 0)).astype(np.uint8) for x in sharp]
    tables = ev.evaluate(real_a, real_b, [("sharp", _write(tmp_path / "s", sharp)),
                                          ("blurred", _write(tmp_path / "b", blurred))],
                         out=tmp_path / "o", size=0, feat_size=8, progress=False)
    sh = {r[0]: r[1:] for r in next(t for t in tables if t.name == "sharpness").rows}
    assert sh["sharp"][0] > sh["blurred"][0] and sh["sharp"][1] > sh["blurred"][1]
    assert not (tmp_path / "o" / "image_quality.csv").exists()  # no reference: no Table 2


def test_pair_key_matches_reference_code_names():
    assert ev.pair_key(Path("12_fake_B.png")) == ev.pair_key(Path("12_real_B.png")) == ev.pair_key(Path("12.jpg"))
    assert ev.pair_key(Path("cmp_b0001_fake.png")) == "cmp_b0001"


def _parse(argv):
    parser = argparse.ArgumentParser()
    ev.add_arguments(parser)
    return parser.parse_args([str(x) for x in argv])


def test_cli_writes_tables_and_bad_input_exits_2(tmp_path, domains, capsys):
    real_a, real_b, a, b = domains
    out = tmp_path / "cli"
    code = run_cli(lambda argv: ev.main(_parse(argv)),
                   ["--real-a", real_a, "--real-b", real_b, "--generated", f"ours={real_b}", "--out", out,
                    "--size", "0", "--classifier-size", "8", "--dataset", "synthetic"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "| Data set | synthetic | n_images |" in printed and "| Real B |" in printed
    code = run_cli(lambda argv: ev.main(_parse(argv)),
                   ["--real-a", tmp_path / "missing", "--real-b", real_b, "--out", out])
    assert code == 2
    err = capsys.readouterr().err
    assert "image folder not found" in err and "missing" in err and "Traceback" not in err
    with pytest.raises(InputError, match="no generated image of generated set .x. has a reference"):
        ev.evaluate(real_a, real_b, [("x", real_a)], out=out, reference=_write(tmp_path / "r", b[:2], ["zz.png", "yy.png"]),
                    size=0, feat_size=8, progress=False)
    with pytest.raises(InputError, match="empty label"):
        ev.parse_generated("=dir")
    with pytest.raises(InputError, match="both --test-a and --test-b"):
        ev.evaluate(real_a, real_b, out=out, test_a=real_a, progress=False)


def test_stimuli_mode_measures_the_manifest_images(tmp_path, capsys):
    import hashlib

    rng = np.random.default_rng(5)
    folder = tmp_path / "stimuli"
    folder.mkdir()
    lines = ["stimulus_id,artwork,category,method,file,sha256,width_px,height_px,checkpoint_id"]
    for art, cat in (("david", "sculpture"), ("tang_sancai", "craft")):
        sharp = rng.integers(0, 255, (S, S, 3), dtype=np.uint8)
        blurred = ndimage.gaussian_filter(sharp.astype(float), (2, 2, 0)).astype(np.uint8)
        for method, img in (("ours", sharp), ("pix2pix", blurred)):
            name = f"{art}_{method}.png"
            Image.fromarray(img).save(folder / name)
            digest = hashlib.sha256((folder / name).read_bytes()).hexdigest()
            lines.append(f"{art}_{method},{art},{cat},{method},{name},{digest},{S},{S},test")
    (folder / "manifest.csv").write_text("\n".join(lines) + "\n")
    code = run_cli(lambda argv: ev.main(_parse(argv)), ["--stimuli", folder / "manifest.csv", "--out", tmp_path / "o"])
    assert code == 0
    with open(tmp_path / "o" / "stimuli_by_method.csv", newline="") as fh:
        rows = {(r["category"], r["method"]): r for r in csv.DictReader(fh)}
    assert float(rows[("all", "ours")]["tenengrad"]) > float(rows[("all", "pix2pix")]["tenengrad"])
    assert float(rows[("all", "ours")]["laplacian_var"]) > float(rows[("all", "pix2pix")]["laplacian_var"])
    assert rows[("sculpture", "ours")]["n"] == "1" and rows[("all", "pix2pix")]["n"] == "2"
    with open(tmp_path / "o" / "stimuli_metrics.csv", newline="") as fh:
        per = {r["stimulus_id"]: r for r in csv.DictReader(fh)}
    sharp_rms = float(per["david_ours"]["rms_contrast"])
    assert sharp_rms > float(per["david_pix2pix"]["rms_contrast"]) > 0  # blurring lowers the RMS contrast
    assert 0.3 < float(per["david_ours"]["mean_luminance"]) < 0.7
    # a changed image is refused
    Image.fromarray(np.zeros((S, S, 3), np.uint8)).save(folder / "david_ours.png")
    capsys.readouterr()
    code = run_cli(lambda argv: ev.main(_parse(argv)), ["--stimuli", folder / "manifest.csv", "--out", tmp_path / "o"])
    assert code == 2 and "does not match its SHA-256" in capsys.readouterr().err
    # dataset mode without --real-a is a clear error too
    code = run_cli(lambda argv: ev.main(_parse(argv)), ["--out", tmp_path / "o"])
    assert code == 2 and "--real-a and --real-b are required" in capsys.readouterr().err


def test_baselines_and_distribution_table(tmp_path, domains):
    real_a, real_b, a, b = domains
    rng = np.random.default_rng(9)
    gen_good = _write(tmp_path / "good", [_domain_b(rng) for _ in range(10)])
    gen_bad = _write(tmp_path / "bad", [_domain_a(rng) for _ in range(10)])
    out = tmp_path / "out"
    tables = ev.evaluate(real_a, real_b, [("ours", gen_good), ("pix2pix", gen_bad)], out=out, size=S, feat_size=8,
                         progress=False)
    by = {t.name: t for t in tables}
    acc = {r[0]: r[1] for r in by["classification_accuracy"].rows}
    assert acc["baseline: identity"] == 0.0  # untranslated A images are not B
    assert acc["baseline: mean image"] == 1.0  # the mean B image is classified as B (the point of the baseline)
    assert {"baseline: identity", "baseline: colour transfer", "baseline: mean image"} <= set(acc)
    assert len(list((out / "baselines" / "colour_transfer").glob("*.png"))) == round(0.2 * N)
    dist = {r[0]: r[1:] for r in by["distribution_distance"].rows}
    assert dist["ours"][0] < dist["pix2pix"][0] and dist["ours"][2] < dist["pix2pix"][2]
    assert dist["Real A"][0] > dist["ours"][0]
    assert "fallback" in by["distribution_distance"].note
    assert (out / "distribution_distance.csv").is_file()


def test_kid_and_fid_against_closed_forms():
    from stimuli_gen.baselines import fid, kid

    rng = np.random.default_rng(0)
    x = rng.normal(0.0, 1.0, (4000, 3))
    y = rng.normal([1.0, 0.0, 2.0], [1.0, 2.0, 1.0], (4000, 3))
    # Gaussians with diagonal covariances: |mu1 - mu2|^2 + sum (s1 - s2)^2 = 1 + 4 + 1 = 6
    assert fid(x, y) == pytest.approx(6.0, abs=0.25)
    assert fid(x, rng.normal(0.0, 1.0, (4000, 3))) == pytest.approx(0.0, abs=0.05)
    # KID: the unbiased MMD^2 estimate is ~0 for one distribution, clearly positive for two
    same, _ = kid(x[:500], rng.normal(0.0, 1.0, (500, 3)), subsets=20, subset_size=200)
    diff, _ = kid(x[:500], y[:500], subsets=20, subset_size=200)
    assert abs(same) < 0.05 < diff
    # the vectorised estimator equals the definition written as explicit sums
    a, b = rng.normal(size=(5, 2)), rng.normal(size=(6, 2)) + 0.5
    k = lambda u, v: (u @ v / 2 + 1) ** 3  # noqa: E731
    m = 5
    rs = np.random.default_rng(3)  # the subsets kid() draws with seed 3
    ia, ib = rs.choice(5, 5, replace=False), rs.choice(6, 5, replace=False)
    a_s, b_s = a[ia], b[ib]
    direct = (sum(k(a_s[i], a_s[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
              + sum(k(b_s[i], b_s[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
              - 2 * sum(k(a_s[i], b_s[j]) for i in range(m) for j in range(m)) / m ** 2)
    assert kid(a, b, subsets=1, subset_size=5, seed=3)[0] == pytest.approx(direct)


def test_colour_transfer_matches_the_target_statistics():
    from skimage.color import rgb2lab

    from stimuli_gen.baselines import colour_transfer, lab_statistics

    rng = np.random.default_rng(1)
    src = (ndimage.gaussian_filter(rng.random((40, 40, 3)), (2, 2, 0)) * 255).astype(np.uint8)
    tgt = [np.full((8, 8, 3), [90, 120, 150], np.uint8), np.full((8, 8, 3), [110, 130, 170], np.uint8)]
    mean, std = lab_statistics(tgt)
    out = rgb2lab(colour_transfer(src, mean, std)).reshape(-1, 3)
    np.testing.assert_allclose(out.mean(axis=0), mean, atol=1.0)
    np.testing.assert_allclose(out.std(axis=0), std, atol=1.0)


def test_pairs_command_writes_aligned_photo_art_pairs(tmp_path, domains):
    from stimuli_gen.training_data import make_dataset
    from stimuli_gen.config import TrainConfig
    from stimuli_gen.pairs import build_pairs

    real_a, real_b, a, b = domains
    files = build_pairs(real_a, real_b, tmp_path / "p2p", size=S, progress=False)
    assert len(files) == N and files[0].parent == tmp_path / "p2p" / "train"
    with Image.open(files[0]) as im:
        pair = np.asarray(im)
    assert pair.shape == (S, 2 * S, 3)
    np.testing.assert_array_equal(pair[:, :S], a[0])  # A = the photo itself
    # B has the art domain's colours: bluer than the warm photo
    assert pair[:, S:, 2].mean() > pair[:, :S, 2].mean() + 50
    ds = make_dataset("pix2pix", tmp_path / "p2p", TrainConfig(load_size=S, crop_size=S, flip=False), 0,
                      n_iterations=1)
    assert ds[0]["A"].shape == (3, S, S)  # the layout train reads


def test_kid_features_from_a_local_vgg19_file(tmp_path):
    import torch

    from stimuli_gen.baselines import feature_extractor
    from stimuli_gen.vgg import VGG19Features

    torch.manual_seed(0)
    torch.save({f"features.{k}": v for k, v in VGG19Features().features.state_dict().items()}, tmp_path / "vgg.pth")
    feat, source = feature_extractor(tmp_path / "vgg.pth")
    rgb = np.random.default_rng(0).integers(0, 255, (S, S, 3), dtype=np.uint8)
    assert feat(rgb).shape == (512,) and "relu5_1" in source
    fallback, note = feature_extractor(None)
    assert fallback(rgb).shape == (240,) and "fallback" in note
    with pytest.raises(InputError, match="not found"):
        feature_extractor(tmp_path / "missing.pth")
