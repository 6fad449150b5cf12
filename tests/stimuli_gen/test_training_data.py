"""Training datasets: layouts, transforms, determinism, resumable order, rank sharding, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from stimuli_gen.config import TrainConfig
from stimuli_gen.training_data import AlignedDataset, UnalignedDataset, make_dataset
from stimuli_gen.errors import InputError

T = TrainConfig(load_size=20, crop_size=16, batch_size=1)


def _solid(path, colour, size=(24, 24)):
    Image.new("RGB", size, colour).save(path)


@pytest.fixture()
def unaligned(tmp_path):
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainB").mkdir()
    for i in range(3):
        _solid(tmp_path / "trainA" / f"a{i}.png", (255, 10 * i, 0))
    for i in range(5):
        _solid(tmp_path / "trainB" / f"b{i}.jpg", (0, 0, 255 - 10 * i))
    (tmp_path / "trainA" / "notes.txt").write_text("ignored")
    return tmp_path


def test_unaligned_items_shapes_range_and_domains(unaligned):
    ds = UnalignedDataset(unaligned, T, seed=0, n_iterations=10)
    assert ds.epoch_len == 5 and len(ds) == 10  # max(|A|, |B|)
    item = ds[0]
    assert item["A"].shape == (3, 16, 16) and item["B"].shape == (3, 16, 16)
    assert item["A"].min() >= -1 and item["A"].max() <= 1
    assert item["A"][0].mean() > 0.9 and item["B"][2].mean() > 0.6  # red photos, blue artworks
    assert item["A"][2].mean() == -1.0 and item["B"][0].mean() < -0.9  # (B is JPEG: near, not exactly, 0)


def test_epoch_visits_every_a_image_and_order_is_seeded(unaligned):
    ds = UnalignedDataset(unaligned, T, seed=3, n_iterations=5)
    greens = {round(float(ds[i]["A"][1].mean()), 3) for i in range(5)}
    assert len(greens) == 3  # all three A images seen within one epoch of 5 samples
    other = UnalignedDataset(unaligned, T, seed=4, n_iterations=5)
    assert [torch.equal(ds[i]["B"], other[i]["B"]) for i in range(5)] != [True] * 5


def test_stream_is_a_function_of_seed_and_iteration(unaligned):
    full = UnalignedDataset(unaligned, T, seed=0, n_iterations=12)
    resumed = UnalignedDataset(unaligned, T, seed=0, start_iteration=7, n_iterations=5)
    for i in range(5):
        assert torch.equal(full[7 + i]["A"], resumed[i]["A"]) and torch.equal(full[7 + i]["B"], resumed[i]["B"])


def test_ranks_read_disjoint_slices(tmp_path):
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainB").mkdir()
    for i in range(4):
        _solid(tmp_path / "trainA" / f"a{i}.png", (40 * i, 0, 0))
        _solid(tmp_path / "trainB" / f"b{i}.png", (0, 0, 40 * i))
    r0 = UnalignedDataset(tmp_path, T, seed=0, n_iterations=2, rank=0, world=2)
    r1 = UnalignedDataset(tmp_path, T, seed=0, n_iterations=2, rank=1, world=2)
    assert r0.iterations_per_epoch == 2
    seen = [round(float(d[i]["A"][0].mean()), 3) for d in (r0, r1) for i in range(2)]
    assert len(set(seen)) == 4  # one epoch split across the two ranks, no duplicates


def test_aligned_pairs_share_crop_and_flip(tmp_path):
    (tmp_path / "train").mkdir()
    ramp = np.tile(np.linspace(0, 255, 24, dtype=np.uint8), (24, 1))
    a = np.stack([ramp, ramp, ramp], -1)
    b = 255 - a
    Image.fromarray(np.concatenate([a, b], 1)).save(tmp_path / "train" / "p0.png")
    t = TrainConfig(load_size=24, crop_size=16)
    for seed in range(6):
        item = AlignedDataset(tmp_path, t, seed=seed, n_iterations=1)[0]
        assert torch.allclose(item["A"], -item["B"], atol=2 / 255)  # same crop and flip on both halves
    swapped = AlignedDataset(tmp_path, TrainConfig(load_size=24, crop_size=16, direction="BtoA"), 0, n_iterations=1)[0]
    assert torch.allclose(swapped["A"], AlignedDataset(tmp_path, t, 0, n_iterations=1)[0]["B"])


def test_flips_happen_and_can_be_disabled(tmp_path):
    (tmp_path / "train").mkdir()
    ramp = np.tile(np.linspace(0, 255, 16, dtype=np.uint8), (16, 1))
    img = np.stack([ramp] * 3, -1)
    Image.fromarray(np.concatenate([img, img], 1)).save(tmp_path / "train" / "p.png")
    slopes = set()
    for flip in (True, False):
        t = TrainConfig(load_size=16, crop_size=16, flip=flip)
        ds = AlignedDataset(tmp_path, t, seed=0, n_iterations=40)
        s = {bool(ds[i]["A"][0, 0, -1] > ds[i]["A"][0, 0, 0]) for i in range(40)}
        slopes.add((flip, len(s)))
    assert slopes == {(True, 2), (False, 1)}


def test_layout_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match="trainA folder not found") as e:
        make_dataset("cyclegan_asym", tmp_path, T, 0)
    assert "expected" in str(e.value) and "fix" in str(e.value)
    (tmp_path / "trainA").mkdir()
    (tmp_path / "trainB").mkdir()
    _solid(tmp_path / "trainA" / "a.png", (0, 0, 0))
    with pytest.raises(InputError, match="trainB folder holds no images"):
        make_dataset("cyclegan_asym", tmp_path, T, 0)
    (tmp_path / "trainB" / "b.png").write_bytes(b"not an image")
    ds = make_dataset("cyclegan_asym", tmp_path, T, 0, n_iterations=1)
    with pytest.raises(InputError, match="cannot read the image"):
        ds[0]
    with pytest.raises(InputError, match="train \\(aligned"):
        make_dataset("pix2pix", tmp_path, T, 0)


def test_config_chooses_the_domain_folders(tmp_path):
    """monet2photo ships A = paintings: [data] folder_a = "trainB" reads the photos as domain A."""
    for sub, colour in (("trainA", (255, 0, 0)), ("trainB", (0, 0, 255))):
        (tmp_path / sub).mkdir()
        _solid(tmp_path / sub / "x.png", colour)
    ds = make_dataset("cyclegan_asym", tmp_path, T, 0, ("trainB", "trainA"), n_iterations=1)
    item = ds[0]
    assert item["A"][2].mean() > 0.9 and item["A"][0].mean() < -0.9  # blue = the archive's trainB
    assert item["B"][0].mean() > 0.9
